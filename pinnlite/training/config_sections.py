"""The sections of the run configuration: each field's default, meaning and rule.

Each section is a small mutable dataclass; the comment on each field is the
user's reference for it (meaning, default and allowed values).
:class:`~pinnlite.training.config.Config` is the tree of these sections and holds
the rules that span fields; this module holds the rules of single fields.

A field's rule is ``metadata["check"]``, a function ``(path, value) -> clean
value`` made from a :mod:`pinnlite.core.checks` function with
``error=ConfigError``, so a config error has the one message format of the
package, ``<dotted field>: expected <rule>, found <value>``. A field whose
value is a whole section has ``metadata["section"]`` (its class) instead.

The base of every section (per-field validation, building from a dict,
refusing misspelt names) is :mod:`pinnlite.training.section`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

from pinnlite.core import checks
from pinnlite.core.activations import ACTIVATIONS
from pinnlite.engine.terms import PENALTIES
from pinnlite.optim.schedules import SCHEDULES, check_milestones
from pinnlite.training.section import ConfigError, Section, section_field

SECOND_ORDER = ("lbfgs", "bfgs", "lm")  # optimizers of the second phase (they take the objective)

__all__ = [
    "ConfigError",
    "Section",
    "section_field",
    "ArchitectureConfig",
    "TrainingConfig",
    "OptimizerConfig",
    "ScheduleConfig",
    "LossWeightsConfig",
    "MaterialConfig",
    "SamplingConfig",
    "ScalesConfig",
    "CheckpointConfig",
    "UnitsConfig",
]


# -- field rules --------------------------------------------------------------------


def _field(default, check):
    """A dataclass field with its rule (lists get a fresh copy per instance)."""
    meta = {"check": check}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def _int(default, low=None, optional=False):
    return _field(default, partial(checks.integer, low=low, optional=optional, error=ConfigError))


def _real(default, low=None, high=None, *, low_open=False, high_open=False, optional=False):
    check = partial(checks.real, low=low, low_open=low_open, high=high, high_open=high_open,
                    optional=optional, error=ConfigError)
    return _field(default, check)


def _positive(default, optional=False):
    return _real(default, 0.0, low_open=True, optional=optional)


def _bool(default):
    return _field(default, partial(checks.boolean, error=ConfigError))


def _string(default, optional=False):
    check = partial(checks.string, nonempty=True, optional=optional, error=ConfigError)
    return _field(default, check)


def _choice(default, options, optional=False):
    return _field(default, partial(checks.choice, options=tuple(options), optional=optional,
                                   error=ConfigError))


def _milestones(path, value):
    return list(check_milestones(path, value, error=ConfigError))


def _hidden(path, value):
    if isinstance(value, str) and value == "auto":
        return value
    try:
        return checks.integers(path, value, low=1, error=ConfigError)
    except ConfigError:  # the same rule, with the other value it may take
        pass
    checks.fail(path, '"auto" or a non-empty list of integers >= 1', value, ConfigError)


def _auto_bool(path, value):
    if value == "auto" or isinstance(value, bool):
        return value
    checks.fail(path, '"auto", true or false', value, ConfigError)


def _bounds(path, value):
    # A pair rather than two fields so that an unbounded parameter is one None;
    # the bounds are taken in log space by the trainer, hence lo > 0.
    if value is None:
        return None
    ok = (isinstance(value, (list, tuple)) and len(value) == 2
          and all(checks.is_real(v) and math.isfinite(v) for v in value)
          and 0 < value[0] < value[1])
    if not ok:
        checks.fail(path, "a list [lo, hi] of finite numbers with 0 < lo < hi", value, ConfigError,
                    optional=True)
    return [float(v) for v in value]


# -- the sections -----------------------------------------------------------------------


@dataclass
class ArchitectureConfig(Section):
    """The fully connected network (x, y, t) -> (u_x, u_y), or (u_x, u_y, p) with a pressure output."""

    #: Widths of the hidden layers, input to output: a non-empty list of integers >= 1, or
    #: "auto": [24, 24, 24] with a constant material, [32, 32, 32] with a material map
    #: (material.field = "network"), where the narrower network does not fit the field that
    #: the map scatters; with few sensors all three narrower, to at most two weights per
    #: sensor value but not below 12 (100 sensors: [12, 12, 12]), so that the network does not
    #: pass through their noise (pinnlite.training.model.hidden_widths).
    hidden: list | str = _field("auto", _hidden)
    #: Hidden-layer activation: a name of the activation table
    #: pinnlite.core.activations.ACTIVATIONS ("tanh", "sin").
    activation: str = _choice("tanh", ACTIVATIONS)
    #: Floating-point type of the weights and of the forward pass: "float64" or "float32".
    dtype: str = _choice("float64", ("float64", "float32"))
    #: Weight initialisation (Glorot & Bengio 2010): "glorot_normal" or "glorot_uniform".
    init: str = _choice("glorot_normal", ("glorot_normal", "glorot_uniform"))
    #: A third output, the pressure p = lam div u, and the mixed displacement-pressure form
    #: of the wave equation (pinnlite.engine.physics.residual_mixed), which a nearly
    #: incompressible body needs: true, false, or "auto" (true when material.lam >= 20
    #: material.mu, a Poisson ratio of at least 0.476, with a constant material or a map).
    pressure: str | bool = _field("auto", _auto_bool)


@dataclass
class TrainingConfig(Section):
    """The training loop."""

    #: Number of epochs (passes over the collocation points); integer >= 0.
    epochs: int = _int(10000, low=0)
    #: Collocation points per step; None: full batch; else an integer >= 1.
    batch_size: int | None = _int(None, low=1, optional=True)
    #: Seed of every random choice of the run (initialisation, sampling, batches); integer >= 0.
    seed: int = _int(0, low=0)
    #: Epochs between two log lines; integer >= 1.
    log_every: int = _int(100, low=1)
    #: Worker threads of the engine per loss evaluation; None: the first of the environment
    #: variables PINNLITE_NUM_THREADS, NUMBA_NUM_THREADS, OPENBLAS_NUM_THREADS,
    #: MKL_NUM_THREADS, OMP_NUM_THREADS that is set, else the CPUs available
    #: (pinnlite.core.cpus.resolve_threads); else an integer >= 1.
    threads: int | None = _int(None, low=1, optional=True)
    #: Stop as soon as the total loss falls below this; None: never; else a number > 0.
    target_loss: float | None = _positive(None, optional=True)
    #: At the end, estimate the standard deviation of each free material parameter from the
    #: Gauss-Newton matrix and the data misfit (pinnlite.training.uncertainty); networks of
    #: up to 5,000 parameters.
    error_bars: bool = _bool(True)
    #: Share of the sensors held out for validation, drawn once from the seed; their misfit
    #: (the data term at them, user units) is the metrics column "validation"; in [0, 1), 0: none.
    validation_fraction: float = _real(0.0, 0.0, 1.0, high_open=True)
    #: What "best" means, for best.pinnlite and for patience: "loss" (the optimised total) or
    #: "validation" (needs validation_fraction > 0); None: "validation" when
    #: validation_fraction > 0, else "loss".
    monitor: str | None = _choice(None, ("loss", "validation"), optional=True)
    #: Early stopping: stop after this many epochs without a new best (see monitor);
    #: None: never; else an integer >= 1.
    patience: int | None = _int(None, low=1, optional=True)
    #: Stop when every free material parameter has changed by less than settle_tolerance
    #: (relative) over this many epochs of one phase, or over settle_fraction of the epochs
    #: so far while the loss still falls: the answer no longer moves
    #: (pinnlite.training.stopping). 0: never; else an integer >= 1.
    settle_epochs: int = _int(50, low=0)
    #: The relative change below which a parameter counts as settled; a number > 0.
    settle_tolerance: float = _positive(1e-4)
    #: While the loss still falls (by more than 0.5% over settle_epochs), the window of the
    #: settle rule is this share of the epochs so far if that is longer than settle_epochs,
    #: so that a slow creep of the material is not taken for settled (doubled, up to 0.5, after
    #: a few-sensors release: hold_material); in [0, 1), 0: always settle_epochs.
    settle_fraction: float = _real(0.2, 0.0, 1.0, high_open=True)
    #: Keep the free material parameters (or the material field) at their initial guesses
    #: while the network is random: until it fits the sensors better than a field of zeros
    #: (misfit below their rms; below 0.1 of it where the sensors hold fewer values than the
    #: run trains), or its misfit has fallen by less than 10% in 50 epochs
    #: (pinnlite.training.hold); false: train them from the first epoch. Where the sensors hold
    #: fewer values than the run trains, once released, the PDE weight is multiplied by the
    #: collocation points over the sensors and settle_fraction doubled (up to 0.5); not with false.
    hold_material: bool = _bool(True)


@dataclass
class OptimizerConfig(Section):
    """The optimizer: a first-order warm-up (none by default), then a second-order optimizer (pinnlite.optim)."""

    #: Optimizer of the first phase: "sgd", "adam", "adamw" (decoupled weight decay), or a
    #: second-order one ("lbfgs", "bfgs", "lm") for the whole run. The first phase lasts
    #: switch_after epochs (0 by default: the run is second_order's from the start).
    kind: str = _choice("adam", ("sgd", "adam", "adamw") + SECOND_ORDER)
    #: Base learning rate of the network weights (the schedule multiplies it); > 0.
    lr: float = _positive(3e-3)
    #: Learning rate of the material parameters; None: the same as lr; else > 0.
    material_lr: float | None = _positive(None, optional=True)
    #: SGD momentum coefficient, in [0, 1).
    momentum: float = _real(0.0, 0.0, 1.0, high_open=True)
    #: SGD Nesterov momentum (Sutskever et al. 2013); true requires momentum > 0.
    nesterov: bool = _bool(False)
    #: Adam first-moment decay rate (Kingma & Ba 2015), in [0, 1).
    b1: float = _real(0.9, 0.0, 1.0, high_open=True)
    #: Adam second-moment decay rate, in [0, 1).
    b2: float = _real(0.999, 0.0, 1.0, high_open=True)
    #: Adam denominator offset; > 0.
    eps: float = _positive(1e-8)
    #: Decoupled weight decay (Loshchilov & Hutter 2019), >= 0; only used by "adamw".
    weight_decay: float = _real(0.0, 0.0)
    #: The optimizer after the first-order warm-up: "bfgs" (dense self-scaled Broyden, for
    #: networks of a few thousand parameters), "lbfgs" (limited memory, any size), "lm"
    #: (Levenberg-Marquardt on the residuals' Jacobian) or "none" (no switch). Not used
    #: when kind is itself a second-order optimizer. (pinnlite 0.1 had lbfgs_after
    #: instead: files that give it read as second_order "lbfgs" or "none".) A null
    #: (``--set optimizer.second_order=none`` parses as one) reads as "none".
    second_order: str = _field("bfgs", lambda path, value: checks.choice(
        path, "none" if value is None else value, SECOND_ORDER + ("none",), error=ConfigError))
    #: Epochs of the first-order warm-up before the switch to second_order; an integer >= 0
    #: (a run of at most this many epochs does not switch). 0: second_order from the first
    #: epoch, the default: a warm-up of 20 Adam epochs made runs 11% longer at the same
    #: accuracy (benchmarks/README.md, "first-order warm-up").
    switch_after: int = _int(0, low=0)
    #: L-BFGS memory: number of (s, y) correction pairs kept; integer >= 1, and at most what
    #: a checkpoint array holds (history x trained values x 8 bytes, 4 in float32, <= 2**32 - 1;
    #: checked when training starts).
    lbfgs_history: int = _int(20, low=1)
    #: Most function evaluations of one L-BFGS strong-Wolfe line search; integer >= 1.
    lbfgs_max_linesearch: int = _int(25, low=1)
    #: L-BFGS stops when the largest gradient component is at most this; >= 0.
    lbfgs_tolerance_grad: float = _real(1e-9, 0.0)
    #: L-BFGS stops when the step or the loss change is at most this; >= 0.
    lbfgs_tolerance_change: float = _real(1e-12, 0.0)
    #: Dense quasi-Newton update (Urban et al. 2024): "ssbroyden", "ssbfgs" or "bfgs".
    bfgs_variant: str = _choice("ssbroyden", ("ssbroyden", "ssbfgs", "bfgs"))
    #: First trial step of each BFGS line search: "quadratic" (1, or shorter when the last
    #: step's decrease says 1 overshoots: Nocedal & Wright eq. 3.60) or "unit" (always 1,
    #: as before pinnlite 0.2: more evaluations for the same result).
    bfgs_initial_step: str = _choice("quadratic", ("quadratic", "unit"))
    #: Most function evaluations of one BFGS strong-Wolfe line search; integer >= 1.
    bfgs_max_linesearch: int = _int(25, low=1)
    #: BFGS stops when the largest gradient component is at most this; >= 0.
    bfgs_tolerance_grad: float = _real(1e-12, 0.0)
    #: BFGS stops when the step or the loss change is at most this; >= 0.
    bfgs_tolerance_change: float = _real(1e-15, 0.0)
    #: Most trained values (network, material field, free constants) for dense BFGS, whose
    #: inverse Hessian takes 4 n (n + 1) bytes (100 MB at the default 5000); a larger run that asks
    #: for "bfgs" gets "lbfgs" instead, with a DenseSizeWarning; an integer >= 1.
    bfgs_max_size: int = _int(5000, low=1)
    #: Levenberg-Marquardt: initial damping relative to diag(J'J); > 0.
    lm_damping: float = _positive(1e-3)
    #: Levenberg-Marquardt: most trial steps per iteration; integer >= 1.
    lm_max_tries: int = _int(30, low=1)
    #: Levenberg-Marquardt stops when the largest gradient component is at most this; >= 0.
    lm_tolerance_grad: float = _real(1e-14, 0.0)
    #: Levenberg-Marquardt stops when the step or the loss change is at most this; >= 0.
    lm_tolerance_change: float = _real(1e-15, 0.0)


@dataclass
class ScheduleConfig(Section):
    """The learning-rate schedule (a function of the step) and reduce-on-plateau on top.

    The fields of a schedule are named after the keyword arguments of its
    constructor in :mod:`pinnlite.optim.schedules` (``lr`` is ``optimizer.lr``),
    so the schedule is built from its name and those fields alone.
    """

    #: Schedule, a name of pinnlite.optim.schedules.get_schedule: "constant", "exponential"
    #: (decay_rate, decay_steps, staircase), "step" (step_size, gamma), "multistep"
    #: (milestones, gamma) or "cosine" (warmup_steps, total_steps, final_lr).
    kind: str = _choice("constant", SCHEDULES)
    #: exponential: lr * decay_rate ** (step / decay_steps); in (0, 1].
    decay_rate: float = _real(0.9, 0.0, 1.0, low_open=True)
    #: exponential: steps per factor decay_rate; integer >= 1.
    decay_steps: int = _int(1000, low=1)
    #: exponential: round the exponent down (piecewise-constant decay).
    staircase: bool = _bool(False)
    #: step: multiply by gamma every step_size steps; integer >= 1.
    step_size: int = _int(1000, low=1)
    #: multistep: multiply by gamma at each of these steps (the drop takes effect at the
    #: step itself); a non-empty list of strictly increasing integers >= 1.
    milestones: list = _field([1000], _milestones)
    #: step and multistep: the factor applied at each drop; in (0, 1].
    gamma: float = _real(0.5, 0.0, 1.0, low_open=True)
    #: cosine: linear warmup from 0 over this many steps; integer >= 0, and at most
    #: total_steps (pinnlite.training.config.first_order_steps when total_steps is None).
    warmup_steps: int = _int(0, low=0)
    #: cosine: optimizer step at which final_lr is reached (Loshchilov & Hutter 2017);
    #: None: the run's first-order steps (epochs before the L-BFGS switch times
    #: mini-batches per epoch); else an integer >= 1.
    total_steps: int | None = _int(None, low=1, optional=True)
    #: cosine: learning rate from total_steps on; >= 0.
    final_lr: float = _real(0.0, 0.0)
    #: Reduce the learning rate by plateau_factor when the loss stops improving.
    plateau: bool = _bool(False)
    #: Reduce-on-plateau: factor applied on each reduction; in (0, 1).
    plateau_factor: float = _real(0.5, 0.0, 1.0, low_open=True, high_open=True)
    #: Reduce-on-plateau: epochs without improvement before a reduction; integer >= 0.
    plateau_patience: int = _int(100, low=0)
    #: Reduce-on-plateau: relative decrease of the best loss that counts as improvement; >= 0.
    plateau_threshold: float = _real(1e-4, 0.0)
    #: Reduce-on-plateau: epochs after a reduction during which no new one happens; >= 0.
    plateau_cooldown: int = _int(0, low=0)
    #: Reduce-on-plateau: the accumulated factor never goes below this; in (0, 1].
    plateau_min_factor: float = _real(1e-4, 0.0, 1.0, low_open=True)


def _weight():
    return _real(1.0, 0.0)


@dataclass
class LossWeightsConfig(Section):
    """Weight of each loss term in the total loss; each a finite number >= 0."""

    #: Residual of the elastic wave equation at the collocation points.
    pde: float = _weight()
    #: Prescribed displacement on the boundary (Dirichlet).
    boundary: float = _weight()
    #: Prescribed traction on the boundary (Neumann).
    traction: float = _weight()
    #: Initial displacement at t = 0.
    initial: float = _weight()
    #: Initial velocity at t = 0.
    initial_velocity: float = _weight()
    #: Misfit to the measured displacements.
    data: float = _weight()
    #: Learning-rate annealing of the weights (Wang, Teng & Perdikaris 2021, Alg. 1).
    adaptive: bool = _bool(False)
    #: Annealing: steps between two weight updates; integer >= 1.
    adaptive_every: int = _int(100, low=1)
    #: Annealing: moving-average coefficient of the new weight; in (0, 1].
    adaptive_alpha: float = _real(0.1, 0.0, 1.0, low_open=True)


@dataclass
class MaterialConfig(Section):
    """Lamé parameters and density: initial guesses of the inversion, or fixed values."""

    #: First Lamé parameter lambda, in the user's units; > 0.
    lam: float = _positive(1.0)
    #: Shear modulus mu, in the user's units; > 0.
    mu: float = _positive(1.0)
    #: Density rho, in the user's units; > 0.
    rho: float = _positive(1.0)
    #: Train lambda (true) or keep it fixed (false).
    optimize_lam: bool = _bool(True)
    #: Train mu (true) or keep it fixed (false).
    optimize_mu: bool = _bool(True)
    #: Train rho (true) or keep it fixed (false).
    optimize_rho: bool = _bool(False)
    #: None (unbounded) or [lo, hi] with 0 < lo < hi containing lam.
    lam_bounds: list | None = _field(None, _bounds)
    #: None (unbounded) or [lo, hi] with 0 < lo < hi containing mu.
    mu_bounds: list | None = _field(None, _bounds)
    #: None (unbounded) or [lo, hi] with 0 < lo < hi containing rho.
    rho_bounds: list | None = _field(None, _bounds)
    #: "constant": one value of each parameter for the whole body; "network": the free ones
    #: of lam and mu are maps lam(x, y), mu(x, y) of a second network, starting uniform at
    #: the guesses above (pinnlite.core.field_arch; rho fixed, no bounds).
    field: str = _choice("constant", ("constant", "network"))
    #: Widths of the material network's hidden layers; a non-empty list of integers >= 1.
    field_hidden: list = _field([16, 16], partial(checks.integers, low=1, error=ConfigError))
    #: Activation of the material network's hidden layers.
    field_activation: str = _choice("tanh", ACTIVATIONS)
    #: Penalty on the maps' log-gradients (pinnlite.engine.field.penalty): "none", "smooth"
    #: (mean squared gradient) or "tv" (total variation: keeps sharp edges).
    field_penalty: str = _choice("none", PENALTIES)
    #: Weight of the penalty in the total loss (the other terms are O(1)); >= 0. A penalty
    #: needs both a kind and a weight > 0, with field "network": a run warns at its start
    #: of one that does nothing (pinnlite.training.config.ignored_settings).
    field_penalty_weight: float = _real(0.0, 0.0)


@dataclass
class SamplingConfig(Section):
    """Collocation points and their adaptive refinement."""

    #: Sampling of the collocation points: "uniform", "lhs" (Latin hypercube) or "halton".
    strategy: str = _choice("lhs", ("uniform", "lhs", "halton"))
    #: Number of collocation points; integer >= 0.
    n_collocation: int = _int(2000, low=0)
    #: Adaptive refinement: None (fixed points), "rar" (residual-based adaptive refinement,
    #: Lu et al. 2021) or "rad" (residual-based adaptive distribution, Wu et al. 2023), in
    #: either phase (a second-order method then evaluates anew at the new points); not with
    #: collocation points given by the data.
    adaptive: str | None = _choice(None, ("rar", "rad"), optional=True)
    #: Epochs between two refinements; integer >= 1.
    adaptive_every: int = _int(1000, low=1)
    #: Candidate points drawn per refinement; integer >= 1 (and >= rar_k with "rar").
    n_candidates: int = _int(20000, low=1)
    #: RAR: candidates with the largest residual added per refinement; integer >= 1.
    rar_k: int = _int(100, low=1)
    #: RAD: exponent k of the density residual**k / mean(residual**k) + c; >= 0.
    rad_k: float = _real(1.0, 0.0)
    #: RAD: offset c of the density; >= 0.
    rad_c: float = _real(1.0, 0.0)


@dataclass
class ScalesConfig(Section):
    """Nondimensionalisation scales in the user's units; None: derived from the domain,
    the data and the material guesses; else a number > 0."""

    #: Length scale of x and y.
    length: float | None = _positive(None, optional=True)
    #: Time scale of t.
    time: float | None = _positive(None, optional=True)
    #: Displacement scale of u_x and u_y.
    displacement: float | None = _positive(None, optional=True)
    #: Modulus scale of lambda and mu.
    modulus: float | None = _positive(None, optional=True)
    #: Density scale of rho.
    density: float | None = _positive(None, optional=True)


@dataclass
class CheckpointConfig(Section):
    """Saving the training state."""

    #: Directory of the checkpoints; None: no checkpoints; else a non-empty path. The command
    #: line always uses RUN_DIR/checkpoints (--out) and saves run configs without it.
    directory: str | None = _string(None, optional=True)
    #: Epochs between automatic saves; 0: only at the end and on interrupt; integer >= 0.
    interval: int = _int(0, low=0)
    #: Wall-clock seconds between automatic saves, besides interval, so that a killed run
    #: loses at most this much work; 0: no saves on time; a number >= 0.
    every_seconds: float = _real(600.0, 0.0)
    #: A failed save warns and training goes on; after this many failures in a row the
    #: run stops with an error; integer >= 1.
    max_failures: int = _int(3, low=1)
    #: Number of most recent checkpoints kept on disk; integer >= 1.
    keep_last: int = _int(3, low=1)
    #: Also keep best.pinnlite, the model of the best epoch so far (see training.monitor).
    keep_best: bool = _bool(True)


def _unit():
    return _string(None, optional=True)


@dataclass
class UnitsConfig(Section):
    """Names of the user's units, for labels of plots and reports only (nothing is converted);
    each None (no unit shown) or a non-empty string such as "mm", "us", "GPa", "g/cm^3"."""

    #: Unit of x and y.
    length: str | None = _unit()
    #: Unit of t.
    time: str | None = _unit()
    #: Unit of the displacements u_x, u_y.
    displacement: str | None = _unit()
    #: Unit of lambda and mu.
    modulus: str | None = _unit()
    #: Unit of rho.
    density: str | None = _unit()
