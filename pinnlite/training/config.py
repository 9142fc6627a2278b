"""Run configuration: one tree of dataclasses, validated, lossless in JSON and TOML.

A :class:`Config` holds everything a training run needs besides the problem data:
the network architecture, the training loop, the optimizer and its learning-rate
schedule, the loss weights, the material parameters to invert for, the
collocation sampling, the nondimensionalisation scales and the checkpointing.
Each section is a small mutable dataclass; the comment on each field below is the
user's reference for it (meaning, default and allowed values).

Workflow::

    cfg = Config.load("run.toml")                     # or Config.from_dict({...})
    cfg = cfg.replace(**{"optimizer.lr": 1e-4})       # a new, validated Config
    cfg.save("run.json")

:meth:`Config.validate` checks every field strictly (an integer field rejects
``2.5`` and ``True``; a float field accepts an int and stores it as a float; a
list field accepts a tuple and stores a list) and the cross-field rules, and
raises :class:`ConfigError` naming the dotted field, the rule and the value found.
It never repairs a bad value silently.

Both file formats are lossless: floats are written with ``repr`` (the shortest
string that reads back to the same double) and every optional field defaults to
None, so omitting a key (TOML has no null) reads back as None.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import json
import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np

from pinnlite.errors import InputError, describe

try:  # Python >= 3.11
    import tomllib as _toml
except ModuleNotFoundError:  # pragma: no cover - depends on the interpreter
    try:
        import tomli as _toml
    except ModuleNotFoundError:
        _toml = None

__all__ = [
    "ConfigError",
    "ArchitectureConfig",
    "TrainingConfig",
    "OptimizerConfig",
    "ScheduleConfig",
    "LossWeightsConfig",
    "MaterialConfig",
    "SamplingConfig",
    "ScalesConfig",
    "CheckpointConfig",
    "Config",
]


class ConfigError(InputError):
    """A configuration value, key or file is invalid; the message names the dotted field."""


# -- field rules ------------------------------------------------------------------
#
# Each field carries its rule in ``metadata["rule"]``; ``rule.check(path, value)``
# returns the normalised value (plain int / float / bool / str / list) or raises.


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _range_text(low, low_open, high, high_open):
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    return " and ".join(parts)


class _Rule:
    """Base rule: ``what`` describes the accepted values for error messages."""

    what = "a value"

    def __init__(self, *, optional=False):
        self.optional = optional

    def check(self, path, value):
        if value is None and self.optional:
            return None
        return self._check(path, value)

    def _fail(self, path, value, what=None):
        what = self.what if what is None else what
        if self.optional:
            what = "None or " + what
        raise ConfigError(f"{path}: expected {what}, found {describe(value)}")

    def _check(self, path, value):  # pragma: no cover - overridden
        raise NotImplementedError


class _Int(_Rule):
    def __init__(self, low=None, **kw):
        super().__init__(**kw)
        self.low = low
        self.what = "an integer" + (f" >= {low}" if low is not None else "")

    def _check(self, path, value):
        if not _is_int(value):
            self._fail(path, value)
        value = int(value)
        if self.low is not None and value < self.low:
            raise ConfigError(f"{path}: expected >= {self.low}, found {value!r}")
        return value


class _Real(_Rule):
    def __init__(self, low=None, high=None, *, low_open=False, high_open=False, **kw):
        super().__init__(**kw)
        self.bounds = (low, low_open, high, high_open)
        self.range = _range_text(low, low_open, high, high_open)
        self.what = "a finite real number" + (f" {self.range}" if self.range else "")

    def _check(self, path, value):
        if not _is_real(value) or not math.isfinite(value):
            self._fail(path, value)
        value = float(value)
        low, low_open, high, high_open = self.bounds
        below = low is not None and (value <= low if low_open else value < low)
        above = high is not None and (value >= high if high_open else value > high)
        if below or above:
            raise ConfigError(f"{path}: expected {self.range}, found {value!r}")
        return value


class _Bool(_Rule):
    what = "true or false"

    def _check(self, path, value):
        if not isinstance(value, (bool, np.bool_)):
            self._fail(path, value)
        return bool(value)


class _Str(_Rule):
    def __init__(self, nonempty=False, **kw):
        super().__init__(**kw)
        self.nonempty = nonempty
        self.what = "a non-empty string" if nonempty else "a string"

    def _check(self, path, value):
        if not isinstance(value, str) or (self.nonempty and not value):
            self._fail(path, value)
        try:
            # Both file formats are UTF-8; a lone surrogate could not be written.
            value.encode("utf-8")
        except UnicodeEncodeError:
            self._fail(path, value, "a string of Unicode characters (no lone surrogates)")
        return str(value)


class _Choice(_Rule):
    def __init__(self, *options, **kw):
        super().__init__(**kw)
        self.options = options
        self.what = "one of " + ", ".join(repr(o) for o in options)

    def _check(self, path, value):
        if not isinstance(value, str) or value not in self.options:
            self._fail(path, value)
        return str(value)


class _Widths(_Rule):
    what = "a non-empty list of integers >= 1"

    def _check(self, path, value):
        if not isinstance(value, (list, tuple)) or len(value) == 0:
            self._fail(path, value)
        if not all(_is_int(w) and w >= 1 for w in value):
            self._fail(path, value)
        return [int(w) for w in value]


class _Bounds(_Rule):
    what = "a list [lo, hi] of finite numbers with 0 < lo < hi"

    def _check(self, path, value):
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            self._fail(path, value)
        if not all(_is_real(v) and math.isfinite(v) for v in value):
            self._fail(path, value)
        lo, hi = float(value[0]), float(value[1])
        if not 0.0 < lo < hi:
            self._fail(path, value)
        return [lo, hi]


def _field(default, rule):
    """A dataclass field with its validation rule (lists get a fresh copy per instance)."""
    meta = {"rule": rule}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def _int(default, low=None, optional=False):
    return _field(default, _Int(low, optional=optional))


def _real(default, low=None, high=None, *, low_open=False, high_open=False, optional=False):
    return _field(default, _Real(low, high, low_open=low_open, high_open=high_open, optional=optional))


def _positive(default=None, optional=False):
    return _real(default, 0.0, low_open=True, optional=optional)


def _bool(default):
    return _field(default, _Bool())


def _choice(default, *options, optional=False):
    return _field(default, _Choice(*options, optional=optional))


# -- sections ----------------------------------------------------------------------


class _Section:
    """Mixin of the section dataclasses: per-field validation and building from a dict."""

    def _validate(self, prefix):
        for f in fields(self):
            path = f"{prefix}.{f.name}" if prefix else f.name
            setattr(self, f.name, f.metadata["rule"].check(path, getattr(self, f.name)))
        return self

    @classmethod
    def _build(cls, data, prefix, unknown):
        """An unvalidated instance from ``data``; unknown keys are appended to ``unknown``."""
        if not isinstance(data, Mapping):
            what = f"a table of {prefix} settings" if prefix else "a table of settings"
            raise ConfigError(f"{prefix or 'config'}: expected {what}, found {describe(data)}")
        names = {f.name: f for f in fields(cls)}
        kwargs = {}
        for key, value in data.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key not in names:
                unknown.append((path, [f"{prefix}.{n}" if prefix else n for n in names]))
            elif key in _SECTIONS and cls is Config:
                kwargs[key] = _SECTIONS[key]._build(value, path, unknown)
            else:
                # Copy so that the Config never aliases the caller's lists.
                kwargs[key] = copy.deepcopy(value)
        return cls(**kwargs)


@dataclass
class ArchitectureConfig(_Section):
    """The fully connected network (x, y, t) -> (u_x, u_y)."""

    #: Widths of the hidden layers, input to output; a non-empty list of integers >= 1.
    hidden: list = _field([64, 64, 64, 64], _Widths())
    #: Hidden-layer activation: "tanh" or "sin".
    activation: str = _choice("tanh", "tanh", "sin")
    #: Floating-point type of the weights and of the forward pass: "float64" or "float32".
    dtype: str = _choice("float64", "float64", "float32")
    #: Weight initialisation (Glorot & Bengio 2010): "glorot_normal" or "glorot_uniform".
    init: str = _choice("glorot_normal", "glorot_normal", "glorot_uniform")


@dataclass
class TrainingConfig(_Section):
    """The training loop."""

    #: Number of epochs (passes over the collocation points); integer >= 0.
    epochs: int = _int(5000, low=0)
    #: Collocation points per step; None: full batch; else an integer >= 1.
    batch_size: int | None = _int(None, low=1, optional=True)
    #: Seed of every random choice of the run (initialisation, sampling, batches); integer >= 0.
    seed: int = _int(0, low=0)
    #: Epochs between two log lines; integer >= 1.
    log_every: int = _int(100, low=1)
    #: Numba threads; None: from the environment (NUMBA_NUM_THREADS); else an integer >= 1.
    threads: int | None = _int(None, low=1, optional=True)
    #: Stop as soon as the total loss falls below this; None: never; else a number > 0.
    target_loss: float | None = _positive(None, optional=True)


@dataclass
class OptimizerConfig(_Section):
    """The optimizer, and an optional switch to L-BFGS part way through."""

    #: Optimizer: "sgd", "adam", "adamw" (decoupled weight decay) or "lbfgs".
    kind: str = _choice("adam", "sgd", "adam", "adamw", "lbfgs")
    #: Base learning rate of the network weights (the schedule multiplies it); > 0.
    lr: float = _positive(1e-3)
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
    #: Switch from the first-order optimizer to L-BFGS after this many epochs; None: never;
    #: else an integer in [0, training.epochs]; must be None when kind is "lbfgs".
    lbfgs_after: int | None = _int(None, low=0, optional=True)
    #: L-BFGS memory: number of (s, y) correction pairs kept; integer >= 1.
    lbfgs_history: int = _int(20, low=1)
    #: Most function evaluations of one L-BFGS strong-Wolfe line search; integer >= 1.
    lbfgs_max_linesearch: int = _int(25, low=1)
    #: L-BFGS stops when the largest gradient component is at most this; >= 0.
    lbfgs_tolerance_grad: float = _real(1e-9, 0.0)
    #: L-BFGS stops when the step or the loss change is at most this; >= 0.
    lbfgs_tolerance_change: float = _real(1e-12, 0.0)


@dataclass
class ScheduleConfig(_Section):
    """The learning-rate schedule (a function of the step) and reduce-on-plateau on top."""

    #: Schedule: "constant", "exponential", "step" or "cosine".
    kind: str = _choice("constant", "constant", "exponential", "step", "cosine")
    #: exponential: lr * decay_rate ** (step / decay_steps); in (0, 1].
    decay_rate: float = _real(0.9, 0.0, 1.0, low_open=True)
    #: exponential: steps per factor decay_rate; integer >= 1.
    decay_steps: int = _int(1000, low=1)
    #: exponential: round the exponent down (piecewise-constant decay).
    staircase: bool = _bool(False)
    #: step: multiply by gamma every step_size steps; integer >= 1.
    step_size: int = _int(1000, low=1)
    #: step: the factor applied every step_size steps; in (0, 1].
    gamma: float = _real(0.5, 0.0, 1.0, low_open=True)
    #: cosine: linear warmup from 0 over this many steps; integer >= 0 (and <= total_steps).
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
class LossWeightsConfig(_Section):
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
class MaterialConfig(_Section):
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
    lam_bounds: list | None = _field(None, _Bounds(optional=True))
    #: None (unbounded) or [lo, hi] with 0 < lo < hi containing mu.
    mu_bounds: list | None = _field(None, _Bounds(optional=True))
    #: None (unbounded) or [lo, hi] with 0 < lo < hi containing rho.
    rho_bounds: list | None = _field(None, _Bounds(optional=True))


@dataclass
class SamplingConfig(_Section):
    """Collocation points and their adaptive refinement."""

    #: Sampling of the collocation points: "uniform", "lhs" (Latin hypercube) or "halton".
    strategy: str = _choice("lhs", "uniform", "lhs", "halton")
    #: Number of collocation points; integer >= 0.
    n_collocation: int = _int(4000, low=0)
    #: Adaptive refinement: None (fixed points), "rar" (residual-based adaptive refinement,
    #: Lu et al. 2021) or "rad" (residual-based adaptive distribution, Wu et al. 2023).
    adaptive: str | None = _choice(None, "rar", "rad", optional=True)
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
class ScalesConfig(_Section):
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
class CheckpointConfig(_Section):
    """Saving the training state."""

    #: Directory of the checkpoints; None: no checkpoints; else a non-empty path.
    directory: str | None = _field(None, _Str(nonempty=True, optional=True))
    #: Epochs between automatic saves; 0: only at the end and on interrupt; integer >= 0.
    interval: int = _int(0, low=0)
    #: Number of most recent checkpoints kept on disk; integer >= 1.
    keep_last: int = _int(3, low=1)
    #: Also keep the checkpoint with the lowest loss seen so far.
    keep_best: bool = _bool(True)


_SECTIONS = {
    "architecture": ArchitectureConfig,
    "training": TrainingConfig,
    "optimizer": OptimizerConfig,
    "schedule": ScheduleConfig,
    "loss_weights": LossWeightsConfig,
    "material": MaterialConfig,
    "sampling": SamplingConfig,
    "scales": ScalesConfig,
    "checkpoint": CheckpointConfig,
}


# -- the whole tree -----------------------------------------------------------------


@dataclass
class Config(_Section):
    """The configuration of one run: a name and one dataclass per section.

    Build it with keyword arguments, :meth:`from_dict`, :meth:`load` (``.json`` or
    ``.toml``) or :meth:`replace`; check it with :meth:`validate` (done by every
    constructor from data and by every writer).
    """

    #: Name of the run (used in logs and checkpoint file names); a non-empty string.
    name: str = _field("run", _Str(nonempty=True))
    #: The network.
    architecture: ArchitectureConfig = field(default_factory=ArchitectureConfig)
    #: The training loop.
    training: TrainingConfig = field(default_factory=TrainingConfig)
    #: The optimizer.
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    #: The learning-rate schedule.
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    #: The loss weights.
    loss_weights: LossWeightsConfig = field(default_factory=LossWeightsConfig)
    #: The material parameters.
    material: MaterialConfig = field(default_factory=MaterialConfig)
    #: The collocation sampling.
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    #: The nondimensionalisation.
    scales: ScalesConfig = field(default_factory=ScalesConfig)
    #: The checkpointing.
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)

    # -- validation ---------------------------------------------------------------

    def validate(self):
        """Check every field and the cross-field rules; normalise values in place.

        Returns
        -------
        Config
            ``self`` (ints in float fields become floats, tuples become lists).

        Raises
        ------
        ConfigError
            On the first violation, naming the dotted field, the rule and the value.
        """
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _SECTIONS:
                cls = _SECTIONS[f.name]
                if not isinstance(value, cls):
                    raise ConfigError(
                        f"{f.name}: expected an instance of {cls.__name__}, found {describe(value)}")
                value._validate(f.name)
            else:
                setattr(self, f.name, f.metadata["rule"].check(f.name, value))
        self._check_cross()
        return self

    def _check_cross(self):
        opt, train, sched, mat, samp = (
            self.optimizer, self.training, self.schedule, self.material, self.sampling)
        if opt.nesterov and opt.momentum <= 0:
            raise ConfigError(
                "optimizer.nesterov: expected optimizer.momentum > 0 when nesterov is true, "
                f"found optimizer.momentum = {opt.momentum!r}")
        if opt.lbfgs_after is not None:
            if opt.kind == "lbfgs":
                raise ConfigError(
                    "optimizer.lbfgs_after: expected None when optimizer.kind is 'lbfgs', "
                    f"found {opt.lbfgs_after!r}")
            if opt.lbfgs_after > train.epochs:
                raise ConfigError(
                    f"optimizer.lbfgs_after: expected <= training.epochs = {train.epochs}, "
                    f"found {opt.lbfgs_after!r}")
        if sched.kind == "cosine":
            # The cosine schedule warms up over warmup_steps and decays until total
            # steps, so the warmup cannot end after the decay (pinnlite.schedules.Cosine).
            if sched.total_steps is None:
                total, what = train.epochs, f"training.epochs = {train.epochs}"
            else:
                total, what = sched.total_steps, f"schedule.total_steps = {sched.total_steps}"
            if sched.warmup_steps > total:
                raise ConfigError(
                    f"schedule.warmup_steps: expected <= {what} for a cosine schedule, "
                    f"found {sched.warmup_steps!r}")
        for name in ("lam", "mu", "rho"):
            bounds, value = getattr(mat, name + "_bounds"), getattr(mat, name)
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                raise ConfigError(
                    f"material.{name}_bounds: expected [lo, hi] containing material.{name} = "
                    f"{value!r}, found {bounds!r}")
        if samp.adaptive == "rar" and samp.rar_k > samp.n_candidates:
            # RAR picks rar_k distinct candidates (pinnlite.sampling.rar).
            raise ConfigError(
                f"sampling.rar_k: expected <= sampling.n_candidates = {samp.n_candidates} "
                f"with adaptive 'rar', found {samp.rar_k!r}")

    # -- dict ---------------------------------------------------------------------

    def to_dict(self):
        """The validated tree as a nested dict of JSON types (None kept).

        Validates ``self`` first (normalising it in place, see :meth:`validate`), so
        an invalid tree raises instead of being written.

        Returns
        -------
        dict
            ``{"name": str, "<section>": {"<field>": value, ...}, ...}``.
        """
        return dataclasses.asdict(self.validate())

    @classmethod
    def from_dict(cls, data):
        """A validated Config from a nested mapping; missing keys take their defaults.

        Raises
        ------
        ConfigError
            For keys unknown at any level (all named, with their dotted path) or
            any invalid value.
        """
        unknown = []
        cfg = cls._build(data, "", unknown)
        if unknown:
            names = []
            for path, known in unknown:
                close = difflib.get_close_matches(path, known, n=1)
                names.append(path + (f" (did you mean {close[0]}?)" if close else ""))
            plural = "s" if len(names) > 1 else ""
            raise ConfigError(f"unknown key{plural} " + ", ".join(names))
        return cfg.validate()

    # -- JSON ---------------------------------------------------------------------

    def to_json(self, path=None):
        """The config as JSON text (written to ``path`` too when given)."""
        # json writes floats with float.__repr__, which round-trips exactly.
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False, ensure_ascii=False) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_json(cls, path_or_text):
        """A validated Config from JSON text or a JSON file.

        A ``str`` that starts with ``{`` or contains a newline is text, any other
        ``str`` or a path-like object is a file name.
        """
        text = _read_source(path_or_text, "JSON")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"JSON: {exc}") from None
        return cls.from_dict(data)

    # -- TOML ---------------------------------------------------------------------

    def to_toml(self, path=None):
        """The config as TOML text (written to ``path`` too when given).

        ``name`` comes first, then one ``[section]`` table per section; None fields
        are omitted (TOML has no null; they read back as their default, None) and
        lists are written inline.
        """
        data = self.to_dict()
        lines = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
        for section, values in data.items():
            if isinstance(values, dict):
                lines += ["", f"[{section}]"]
                lines += [f"{k} = {_toml_value(v)}" for k, v in values.items() if v is not None]
        text = "\n".join(lines) + "\n"
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_toml(cls, path_or_text):
        """A validated Config from TOML text or a TOML file.

        A ``str`` that contains a newline or ``=``, starts with ``[`` or ``#`` or is
        blank is text; any other ``str`` or a path-like object is a file name.
        Reading needs Python >= 3.11 (``tomllib``) or the ``tomli`` package.
        """
        if _toml is None:
            raise ImportError(
                "reading TOML needs Python >= 3.11 (tomllib) or the tomli package; "
                "neither is available (use a .json config instead)")
        text = _read_source(path_or_text, "TOML")
        try:
            data = _toml.loads(text)
        except _toml.TOMLDecodeError as exc:
            raise ConfigError(f"TOML: {exc}") from None
        return cls.from_dict(data)

    # -- files ----------------------------------------------------------------------

    @classmethod
    def load(cls, path):
        """A validated Config from a ``.json`` or ``.toml`` file (chosen by the suffix)."""
        kind = _format_of(path)
        return cls.from_json(Path(path)) if kind == "json" else cls.from_toml(Path(path))

    def save(self, path):
        """Write the config to a ``.json`` or ``.toml`` file (chosen by the suffix)."""
        kind = _format_of(path)
        if kind == "json":
            self.to_json(path)
        else:
            self.to_toml(path)

    # -- edits ----------------------------------------------------------------------

    def replace(self, **changes):
        """A new validated Config with some fields changed; ``self`` is left untouched.

        Parameters
        ----------
        **changes
            ``"section.field": value`` (pass them as ``**{"optimizer.lr": 1e-4}``),
            ``name=value``, or ``section=<section dataclass>`` to swap a whole section.

        Returns
        -------
        Config
        """
        top, nested, unknown = {}, {}, []
        for key, value in changes.items():
            section, dot, name = key.partition(".")
            value = copy.deepcopy(value)
            if not dot and section in self.__dataclass_fields__:
                top[section] = value
            elif dot and section in _SECTIONS and name in _SECTIONS[section].__dataclass_fields__:
                nested.setdefault(section, {})[name] = value
            else:
                unknown.append(key)
        if unknown:
            plural = "s" if len(unknown) > 1 else ""
            raise ConfigError(f"unknown key{plural} " + ", ".join(unknown))
        new = dataclasses.replace(copy.deepcopy(self), **top)
        for section, values in nested.items():
            setattr(new, section, dataclasses.replace(getattr(new, section), **values))
        return new.validate()


# -- file helpers ---------------------------------------------------------------------


def _format_of(path):
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"path: expected a file name, found {describe(path)}")
    suffix = Path(path).suffix.lower()
    if suffix not in (".json", ".toml"):
        raise ConfigError(f"path: expected a .json or .toml suffix, found {suffix!r} in {str(path)!r}")
    return suffix[1:]


def _looks_like_text(source, kind):
    stripped = source.strip()
    if "\n" in source:
        return True
    if kind == "JSON":
        return stripped.startswith(("{", "["))
    return "=" in source or not stripped or stripped.startswith(("[", "#"))


def _read_source(source, kind):
    """The text of ``source``: a path-like object, a file name or the text itself."""
    if isinstance(source, os.PathLike):
        return Path(source).read_text(encoding="utf-8")
    if isinstance(source, bytes):
        source = source.decode("utf-8")
    if not isinstance(source, str):
        raise ConfigError(f"path_or_text: expected {kind} text or a file name, found {describe(source)}")
    if _looks_like_text(source, kind):
        return source
    path = Path(source)
    if not path.is_file():
        raise ConfigError(
            f"path_or_text: expected {kind} text or the name of an existing file, found {source!r}")
    return path.read_text(encoding="utf-8")


_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
                 "\f": "\\f", "\r": "\\r"}


def _toml_string(text):
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch in _TOML_ESCAPES:
            out.append(_TOML_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value):
    """A TOML value for this tree's types: bool, int, float, str and flat lists of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # repr is the shortest string that reads back to the same double, and its
        # forms (1.0, 1e-08, 1.5e+300) are all valid TOML floats; validation has
        # already rejected inf and nan.
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML form for {describe(value)}")  # pragma: no cover - validated tree
