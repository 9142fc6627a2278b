"""The training state, and its checkpoint tree (exact resume).

:class:`TrainState` is everything that changes during a run. :func:`to_tree`
turns it, with the run's config, data, scales and metrics, into the tree of a
``"training"`` checkpoint, and :func:`from_tree` turns such a tree back into
plain values (:class:`Restored`); neither knows the trainer, which assembles
itself from them (:meth:`pinnlite.training.trainer.Trainer.load_checkpoint`).

The tree (``docs/FORMAT.md`` lists every key):

- ``kind``, ``world_size`` (MPI ranks of the run), ``epoch``, ``step``,
  ``stop_reason``, ``elapsed``
- ``config`` (the whole :class:`~pinnlite.training.config.Config` as a dict),
  ``architecture``, ``params`` (W0, b0, ..., WL, bL)
- ``material``: ``values`` (lam, mu, rho in user units), ``initial`` (p0),
  ``free`` (names), ``theta`` (the trained log(p / p0), model dtype),
  ``parametrisation`` (``"log(p/p0)"``), ``released`` (the epoch from which the
  material was trained, 0 from the start; nil while :mod:`pinnlite.training.hold`
  holds it)
- ``optimizer``: ``kind`` (``sgd``/``adam``/``adamw``/``lbfgs``/``bfgs``/``lm``, the
  optimizer of the current ``phase``), ``phase`` (``first_order``/``second_order``;
  files of pinnlite 0.1 say ``lbfgs`` for the second), ``switch_after``,
  ``hyperparams`` (the numbers and strings among its constructor's arguments),
  ``state`` (every field of the optimizer's state: step count, moments or
  L-BFGS history and counters)
- ``schedule``: ``kind`` and ``plateau`` (reduce-on-plateau state or None)
- ``adaptive_weights``: ``weights`` and ``count``
- ``rng``: the bit generator's state (``numpy.random.Generator.bit_generator.state``;
  PCG64's 128-bit integers are stored exactly)
- ``sampler``: ``collocation`` (current points or None), ``perm``, ``batch_pos``,
  ``acc`` (position inside an interrupted epoch)
- ``field``: nil, or with a material field (``config.material.field = "network"``)
  ``architecture`` (:meth:`pinnlite.core.field_arch.FieldArchitecture.to_dict`)
  and ``params`` (its W0, b0, ..., WL, bL, model dtype); ``material.theta`` then
  holds the free scalar parameters only (none: lam and mu are maps, rho fixed)
- ``uncertainty``: the error bars of the free material parameters at the end of
  the last run (``std``: name -> standard deviation in user units,
  ``noise_sigma``, ``dof``, ``n_data``; :mod:`pinnlite.training.uncertainty`), or nil
- ``best``: ``loss``, ``epoch``; ``scales``; ``metrics`` (every column of every
  epoch); ``data`` (the :class:`~pinnlite.training.data.TrainingData` arrays), so a run
  resumes from its directory alone.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from pinnlite import optim
from pinnlite.core import checks
from pinnlite.core.field_arch import FieldArchitecture
from pinnlite.engine.terms import TERMS
from pinnlite.errors import InputError, describe
from pinnlite.io.checkpoint import StructureError, check, model_arrays
from pinnlite.optim import schedules
from pinnlite.training import weighting
from pinnlite.training.config import Config
from pinnlite.training.config_sections import SECOND_ORDER as SECOND_ORDER_KINDS
from pinnlite.training.data import TrainingData
from pinnlite.training.metrics import Metrics, new_accumulator
from pinnlite.training.objective import THETA_LIMIT
from pinnlite.training.scaling import Scales, check_scales

FIRST_ORDER, SECOND_ORDER = 0, 1
PHASES = ("first_order", "second_order")  # their names in the tree, indexed by phase
_OLD_PHASES = {"lbfgs": SECOND_ORDER}  # the name pinnlite 0.1 wrote for the second phase
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


@dataclass
class TrainState:
    """Everything that changes during a run."""

    epoch: int  # completed epochs
    step: int  # optimizer steps taken
    x: np.ndarray  # the optimised vector: network parameters + log-material parameters
    phase: int  # FIRST_ORDER or SECOND_ORDER
    opt_state: tuple  # NamedTuple of the current phase's optimizer
    plateau: tuple  # schedules.PlateauState or None
    adaptive: weighting.AdaptiveState
    rng: np.random.Generator
    collocation: np.ndarray  # current collocation points (float64), None when explicit
    perm: np.ndarray  # this epoch's permutation of the collocation points, None between epochs
    batch_pos: int  # next batch of ``perm``
    acc: np.ndarray  # running sums over this epoch's batches (metrics.new_accumulator)
    best_loss: float
    best_epoch: int
    elapsed: float  # wall time of earlier train() calls
    stop_reason: str
    uncertainty: dict = None  # error bars at the end of the last train() (Uncertainty fields), or None
    released: int = 0  # the epoch the material was released at (pinnlite.training.hold); None while held


class Restored(NamedTuple):
    """The plain values of a ``"training"`` tree (:func:`from_tree`)."""

    state: TrainState
    config: Config
    architecture: dict  # as stored (Architecture.to_dict())
    params: list  # [W0, b0, ..., WL, bL]
    data: TrainingData
    scales: Scales
    metrics: Metrics
    world_size: int
    field: tuple = None  # (FieldArchitecture, flat parameters) of a material field, or None


def second_order_kind(config):
    """The optimizer of a run's second phase: ``optimizer.kind`` if it is second-order, else ``second_order``."""
    o = config.optimizer
    return o.kind if o.kind in SECOND_ORDER_KINDS else o.second_order


def to_tree(state, *, config, arch, material, optimizer, scales, metrics, data, world_size):
    """The checkpoint tree of a run.

    Parameters
    ----------
    state : TrainState
    config : Config
    arch : Architecture
        Its layout cuts ``state.x`` into the stored arrays.
    material : Objective
        Gives the initial guesses, the free names and the current values.
    optimizer : Optimizer
        The current phase's optimizer (its ``hyperparams`` are stored).
    scales, metrics, data, world_size
        The run's :class:`Scales`, :class:`Metrics`, :class:`TrainingData` and MPI ranks.
    """
    n, nf = arch.n_params, material.nf
    params = {e.name: state.x[e.offset : e.offset + e.size].reshape(e.shape).copy() for e in arch.layout.entries}
    field = None
    if material.field_arch is not None:
        fx = state.x[n : n + nf]
        field = {"architecture": material.field_arch.to_dict(),
                 "params": {e.name: fx[e.offset : e.offset + e.size].reshape(e.shape).copy()
                            for e in material.field_arch.layout.entries}}
    kind = second_order_kind(config) if state.phase == SECOND_ORDER else config.optimizer.kind
    return {
        "kind": "training",
        "world_size": world_size,
        "epoch": state.epoch,
        "step": state.step,
        "stop_reason": state.stop_reason,
        "elapsed": float(state.elapsed),
        "config": config.to_dict(),
        "architecture": arch.to_dict(),
        "params": params,
        "material": {
            "values": material.values(state.x),
            "initial": dict(material.p0),
            "free": list(material.free),
            "theta": state.x[n + nf :].copy(),
            "parametrisation": "log(p/p0)",
            "released": state.released,
        },
        "field": field,
        "optimizer": {
            "kind": kind,
            "phase": PHASES[state.phase],
            "switch_after": config.optimizer.switch_after,
            "hyperparams": {k: v for k, v in optimizer.hyperparams.items() if isinstance(v, (int, float, str, bool))},
            "state": optim.state_to_dict(state.opt_state),
        },
        "schedule": {
            "kind": config.schedule.kind,
            "plateau": None if state.plateau is None else dict(state.plateau._asdict()),
        },
        "adaptive_weights": {"weights": state.adaptive.weights.copy(), "count": state.adaptive.count},
        "rng": state.rng.bit_generator.state,
        "sampler": {
            "collocation": state.collocation,
            "perm": state.perm,
            "batch_pos": state.batch_pos,
            "acc": state.acc.copy(),
        },
        "best": {"loss": float(state.best_loss), "epoch": state.best_epoch},
        "uncertainty": state.uncertainty,
        "scales": dict(scales._asdict()),
        "metrics": metrics.to_arrays(),
        "data": data.to_arrays(),
    }


def _count(name, value):
    """A stored counter (epoch, step, ...): an integer >= 0, never a bool."""
    return checks.integer(name, value, low=0, error=StructureError)


def _weights(value):
    """The stored adaptive loss weights: one finite number >= 0 per term."""
    w = checks.array("adaptive_weights.weights", value, (len(TERMS),), error=StructureError)
    if np.any(w < 0):
        checks.fail("adaptive_weights.weights", "values >= 0", w.tolist(), StructureError)
    return w


def _points(name, value):
    """Stored collocation points: nil (the data's own) or finite (n, 3) floats."""
    return None if value is None else checks.array(name, value, (None, 3), error=StructureError)


def _scales(value):
    """The stored :class:`Scales`: a finite number > 0 for each of its fields (each divides a term)."""
    if not isinstance(value, dict) or set(value) != set(Scales._fields):
        checks.fail("scales", f"a map of {', '.join(Scales._fields)}", value, StructureError)
    scales = Scales(**{k: checks.real(f"scales.{k}", value[k], low=0, low_open=True, error=StructureError)
                       for k in Scales._fields})
    return check_scales(scales, "scales", StructureError)


def _rng(state):
    if not isinstance(state, dict) or state.get("bit_generator") not in _BIT_GENERATORS:
        raise StructureError(f"rng: expected the state of one of {_BIT_GENERATORS}, found {describe(state)}")
    bg = getattr(np.random, state["bit_generator"])()
    try:
        bg.state = state
    except (TypeError, ValueError, LookupError, ArithmeticError) as e:  # NumPy raises all four on bad states
        raise StructureError(f"rng: the bit generator state does not load ({type(e).__name__}: {e})") from None
    return np.random.Generator(bg)


def _released(value, epoch):
    """The stored epoch of the material's release (absent before pinnlite 0.2: 0), checked."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= epoch):
        return value
    raise StructureError(f"material.released: expected nil or an epoch from 0 to {epoch}, found {describe(value)}")


def _uncertainty(value):
    """The stored error bars (absent in files of pinnlite 0.1), checked: a dict of numbers or None."""
    if value is None:
        return None
    ok = (isinstance(value, dict) and set(value) == {"std", "noise_sigma", "dof", "n_data"}
          and isinstance(value["std"], dict) and all(isinstance(v, float) for v in value["std"].values()))
    if not ok:
        raise StructureError(f"uncertainty: expected std, noise_sigma, dof and n_data, found {describe(value)}")
    return dict(value)


def from_tree(tree):
    """The plain values of a ``"training"`` tree; :class:`StructureError` naming what is wrong."""
    check(tree)
    if tree["kind"] != "training":
        raise StructureError(f"checkpoint.kind: expected 'training' to resume a run, found {describe(tree['kind'])}")
    try:
        config = Config.from_dict(tree["config"])
        arch, arrays = model_arrays(tree)
        world = tree.get("world_size", 1)
        if isinstance(world, bool) or not isinstance(world, int) or world < 1:
            raise StructureError(f"world_size: expected a positive integer, found {describe(world)}")
        mat, opt, smp = tree["material"], tree["optimizer"], tree["sampler"]
        field = _field(tree.get("field"), config, arch, arrays[0].dtype)
        mapped = () if field is None else field[0].names
        n_free = sum(bool(getattr(config.material, "optimize_" + name)) and name not in mapped
                     for name in ("lam", "mu", "rho"))
        theta = checks.array("material.theta", mat["theta"], (n_free,), arrays[0].dtype, error=StructureError)
        if np.any(np.abs(theta) > THETA_LIMIT):  # no run goes there: the loss is infinite beyond it
            checks.fail("material.theta", f"values within +-{THETA_LIMIT:g} (log(p / p0))", theta, StructureError)
        if opt["phase"] in ("second_order", "lbfgs") and second_order_kind(config) == "none":
            raise StructureError("optimizer.phase: the state is in the second-order phase, but its config has "
                                 "optimizer.second_order = 'none'")
        data = TrainingData.from_arrays(tree["data"])
        plateau = tree["schedule"]["plateau"]
        epoch = _count("epoch", tree["epoch"])
        state = TrainState(
            epoch=epoch,
            step=_count("step", tree["step"]),
            x=np.concatenate([a.ravel() for a in arrays] + ([] if field is None else [field[1]]) + [theta]),
            phase=_OLD_PHASES[opt["phase"]] if opt["phase"] in _OLD_PHASES else PHASES.index(opt["phase"]),
            # the tree's arrays, not copies: a checkpoint just read is nobody else's (Trainer.from_tree)
            opt_state=optim.state_from_dict(opt["kind"], opt["state"], copy=False),
            plateau=None if plateau is None else schedules.PlateauState(**plateau),
            adaptive=weighting.AdaptiveState(_weights(tree["adaptive_weights"]["weights"]),
                                             _count("adaptive_weights.count", tree["adaptive_weights"]["count"])),
            rng=_rng(tree["rng"]),
            collocation=_points("sampler.collocation", smp["collocation"]),
            perm=smp["perm"],
            batch_pos=_count("sampler.batch_pos", smp["batch_pos"]),
            # NaN where a term is absent from the run
            acc=checks.array("sampler.acc", smp["acc"], new_accumulator().shape, finite=False, error=StructureError),
            best_loss=float(tree["best"]["loss"]),
            best_epoch=_count("best.epoch", tree["best"]["epoch"]),
            elapsed=float(tree["elapsed"]),
            stop_reason=str(tree["stop_reason"]),
            uncertainty=_uncertainty(tree.get("uncertainty")),
            released=_released(mat.get("released", 0), epoch),
        )
        try:  # sizes the first update would otherwise trip over, after the file has been accepted
            optim.check_state_fits(state.opt_state, state.x)
        except InputError as e:
            raise StructureError(f"optimizer.{e}") from None
        if state.perm is not None:
            points = data.collocation if data.collocation is not None else state.collocation
            n = -1 if points is None else len(points)
            if not isinstance(state.perm, np.ndarray) or state.perm.dtype.kind not in "iu" or state.perm.shape != (n,):
                raise StructureError(f"sampler.perm: expected a permutation of the {n} collocation points, "
                                     f"found {describe(state.perm)}")
        metrics = Metrics.from_arrays(tree["metrics"])
        scales = _scales(tree["scales"])
    except (LookupError, TypeError, ValueError, ArithmeticError) as e:  # e.g. int(inf): OverflowError
        raise StructureError(f"checkpoint: training state does not load ({type(e).__name__}: {e})") from None
    return Restored(state, config, arch, arrays, data, scales, metrics, world, field)


def _field(value, config, arch, dtype):
    """The stored material field as (FieldArchitecture, flat params), or None; checked against the config."""
    network = config.material.field == "network"
    if value is None:
        if network:
            raise StructureError("field: the config has material.field = 'network' but the file holds no field")
        return None
    if not network:
        raise StructureError("field: the file holds a material field but its config has material.field = 'constant'")
    try:
        farch = FieldArchitecture.from_dict(value["architecture"])
    except InputError as e:
        raise StructureError(f"field.architecture: {e}") from None
    if farch.dtype != str(dtype) or farch.bounds != tuple(tuple(b) for b in arch["bounds"][:2]):
        raise StructureError(f"field.architecture: expected dtype {dtype} and the network's x, y bounds, "
                             f"found {farch.dtype} and {farch.bounds}")
    arrays = []
    for e in farch.layout.entries:
        a = value["params"].get(e.name) if isinstance(value.get("params"), dict) else None
        if not isinstance(a, np.ndarray) or a.shape != e.shape or a.dtype != dtype or not np.isfinite(a).all():
            raise StructureError(f"field.params.{e.name}: expected a finite {dtype} array of shape {e.shape}, "
                                 f"found {a!r:.80}")
        arrays.append(a.ravel())
    return farch, np.concatenate(arrays)
