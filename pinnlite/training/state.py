"""A trainer's full state as a checkpoint tree, and back (exact resume).

The tree of a ``"training"`` checkpoint (``docs/FORMAT.md`` lists every key):

- ``kind``, ``world_size`` (MPI ranks of the run), ``epoch``, ``step``,
  ``stop_reason``, ``elapsed``
- ``config`` (the whole :class:`~pinnlite.config.Config` as a dict),
  ``architecture``, ``params`` (W0, b0, ..., WL, bL)
- ``material``: ``values`` (lam, mu, rho in user units), ``initial`` (p0),
  ``free`` (names), ``theta`` (the trained log(p / p0), model dtype),
  ``parametrisation`` (``"log(p/p0)"``)
- ``optimizer``: ``kind`` (``sgd``/``adam``/``adamw``/``lbfgs``, the optimizer of
  the current ``phase``), ``phase`` (``first_order``/``lbfgs``), ``lbfgs_after``,
  ``hyperparams``, ``state`` (every field of the optimizer's state: step count,
  moments or L-BFGS history and counters)
- ``schedule``: ``kind`` and ``plateau`` (reduce-on-plateau state or None)
- ``adaptive_weights``: ``weights`` and ``count``
- ``rng``: the bit generator's state (``numpy.random.Generator.bit_generator.state``;
  PCG64's 128-bit integers are stored exactly)
- ``sampler``: ``collocation`` (current points or None), ``perm``, ``batch_pos``,
  ``acc`` (position inside an interrupted epoch)
- ``best``: ``loss``, ``epoch``; ``scales``; ``metrics`` (every column of every
  epoch); ``data`` (the :class:`~pinnlite.data.TrainingData` arrays), so a run
  resumes from its directory alone.
"""

import numpy as np

from pinnlite import optim
from pinnlite.optim import schedules
from pinnlite.training import weighting
from pinnlite.io.checkpoint import StructureError, check, model_arrays
from pinnlite.training.config import Config
from pinnlite.training.data import TrainingData
from pinnlite.training.metrics import Metrics
from pinnlite.training.model import ElasticPINN2D
from pinnlite.engine.terms import TERMS
from pinnlite.training.scaling import Scales

_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")
_PHASES = ("first_order", "lbfgs")


def state_tree(trainer):
    """The checkpoint tree of ``trainer`` (which must have started training)."""
    from pinnlite.training.trainer import LBFGS

    st = trainer.state
    if st is None:
        raise StructureError("trainer: nothing to save before training has started")
    arch = trainer.model.arch
    n = arch.n_params
    params = {e.name: st.x[e.offset : e.offset + e.size].reshape(e.shape).copy() for e in arch.layout.entries}
    cfg = trainer.config
    kind = "lbfgs" if st.phase == LBFGS else cfg.optimizer.kind
    return {
        "kind": "training",
        "world_size": trainer.world_size,
        "epoch": st.epoch,
        "step": st.step,
        "stop_reason": st.stop_reason,
        "elapsed": float(st.elapsed),
        "config": cfg.to_dict(),
        "architecture": arch.to_dict(),
        "params": params,
        "material": {
            "values": trainer.material_values(),
            "initial": trainer._p0(),
            "free": list(trainer.free),
            "theta": st.x[n:].copy(),
            "parametrisation": "log(p/p0)",
        },
        "optimizer": {
            "kind": kind,
            "phase": _PHASES[st.phase],
            "lbfgs_after": cfg.optimizer.lbfgs_after,
            "hyperparams": {k: v for k, v in trainer._optimizer(st.phase).hyperparams.items() if isinstance(v, (int, float, str, bool))},
            "state": optim.state_to_dict(st.opt_state),
        },
        "schedule": {
            "kind": cfg.schedule.kind,
            "plateau": None if st.plateau is None else dict(st.plateau._asdict()),
        },
        "adaptive_weights": {"weights": st.adaptive.weights.copy(), "count": st.adaptive.count},
        "rng": st.rng.bit_generator.state,
        "sampler": {
            "collocation": st.collocation,
            "perm": st.perm,
            "batch_pos": st.batch_pos,
            "acc": st.acc.copy(),
        },
        "best": {"loss": float(st.best_loss), "epoch": st.best_epoch},
        "scales": dict(trainer.scales._asdict()),
        "metrics": trainer.metrics.to_arrays(),
        "data": trainer.data.to_arrays(),
    }


def _rng(state):
    if not isinstance(state, dict) or state.get("bit_generator") not in _BIT_GENERATORS:
        raise StructureError(f"rng: expected the state of one of {_BIT_GENERATORS}, found {state!r:.80}")
    bg = getattr(np.random, state["bit_generator"])()
    try:
        bg.state = state
    except (TypeError, ValueError, LookupError, ArithmeticError) as e:  # NumPy raises all four on bad states
        raise StructureError(f"rng: the bit generator state does not load ({type(e).__name__}: {e})") from None
    return np.random.Generator(bg)


def restore(tree, progress=None, comm=None):
    """A :class:`~pinnlite.trainer.Trainer` ready to continue from a ``"training"`` tree."""
    from pinnlite.training.trainer import FIRST_ORDER, LBFGS, Trainer, TrainState

    check(tree)
    if tree["kind"] != "training":
        raise StructureError(f"checkpoint.kind: expected 'training' to resume a run, found {tree['kind']!r}")
    try:
        config = Config.from_dict(tree["config"])
        arch, arrays = model_arrays(tree)
        model = ElasticPINN2D(
            arch["hidden"], arch["activation"], arch["bounds"], arch["output_scale"], arch["dtype"], params=arrays
        )
        trainer = Trainer(model, config, progress=progress, comm=comm)
        world = tree.get("world_size", 1)
        if isinstance(world, bool) or not isinstance(world, int) or world < 1:
            raise StructureError(f"world_size: expected a positive integer, found {world!r:.80}")
        mat, opt, smp = tree["material"], tree["optimizer"], tree["sampler"]
        theta = np.asarray(mat["theta"])
        if theta.shape != (len(trainer.free),) or theta.dtype != model.params.dtype:
            raise StructureError(f"material.theta: expected {len(trainer.free)} values of {model.params.dtype}, found {theta.shape} {theta.dtype}")
        phase = _PHASES.index(opt["phase"])
        trainer.data = TrainingData.from_arrays(tree["data"])
        trainer.scales = Scales(**tree["scales"])
        plateau = tree["schedule"]["plateau"]
        trainer.state = TrainState(
            epoch=int(tree["epoch"]),
            step=int(tree["step"]),
            x=np.concatenate([model.params, theta]),
            phase=FIRST_ORDER if phase == 0 else LBFGS,
            opt_state=optim.state_from_dict(opt["kind"], opt["state"]),
            plateau=None if plateau is None else schedules.PlateauState(**plateau),
            adaptive=weighting.AdaptiveState(np.asarray(tree["adaptive_weights"]["weights"]), int(tree["adaptive_weights"]["count"])),
            rng=_rng(tree["rng"]),
            collocation=smp["collocation"],
            perm=smp["perm"],
            batch_pos=int(smp["batch_pos"]),
            acc=np.asarray(smp["acc"]),
            best_loss=float(tree["best"]["loss"]),
            best_epoch=int(tree["best"]["epoch"]),
            elapsed=float(tree["elapsed"]),
            stop_reason=str(tree["stop_reason"]),
        )
        st = trainer.state
        if st.acc.shape != (len(TERMS) + 2,) or st.adaptive.weights.shape != (len(TERMS),):
            raise StructureError(f"sampler.acc / adaptive_weights.weights: expected {len(TERMS) + 2} and {len(TERMS)} values, "
                                 f"found {st.acc.shape} and {st.adaptive.weights.shape}")
        if st.perm is not None:
            n = len(trainer._collocation()[0]) if st.collocation is not None or trainer.data.collocation is not None else -1
            if not isinstance(st.perm, np.ndarray) or st.perm.dtype.kind not in "iu" or st.perm.shape != (n,):
                raise StructureError(f"sampler.perm: expected a permutation of the {n} collocation points, found {st.perm!r:.80}")
        trainer.metrics = Metrics.from_arrays(tree["metrics"])
    except (LookupError, TypeError, ValueError, ArithmeticError) as e:  # e.g. int(inf): OverflowError
        raise StructureError(f"checkpoint: training state does not load ({type(e).__name__}: {e})") from None
    return trainer
