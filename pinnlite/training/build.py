"""From a config to the objects a run steps with: optimizers, schedules, the plateau controller.

Everything is looked up by name in the registries of :mod:`pinnlite.optim`
(:func:`~pinnlite.optim.get_optimizer`, :func:`~pinnlite.optim.schedules.get_schedule`)
and given the config fields whose names are the constructor's keyword names, so
a new optimizer or schedule needs a registry entry and config fields, and no
change here:

- a schedule ``kind`` takes ``lr = optimizer.lr`` and the ``schedule`` fields of
  its other parameters (cosine's ``total_steps`` None: the run's first-order
  steps, :func:`pinnlite.training.config.first_order_steps`);
- a first-order ``optimizer.kind`` takes the schedule as ``learning_rate``, the
  ``optimizer`` fields of its parameters, the per-element ``lr_scale`` (network 1,
  material ``material_lr / lr``) and, for AdamW, the decay mask of the weight
  matrices;
- a second-order optimizer ``kind`` (L-BFGS, dense BFGS, Levenberg-Marquardt)
  takes the ``optimizer.<kind>_<parameter>`` fields (``lbfgs_history``,
  ``bfgs_variant``, ``lm_damping``, ...) and, where it has a ``tasks``
  parameter (dense BFGS), the engine's worker threads with the run's
  ``training.threads``; a dense BFGS too large for its matrix becomes L-BFGS
  (:func:`limit_dense`), and an L-BFGS history a checkpoint cannot hold is
  refused (:func:`check_history`).
"""

import functools

from pinnlite import optim
from pinnlite.core import checks
from pinnlite.core.cpus import resolve_threads
from pinnlite.engine.threads import run_tasks
from pinnlite.io.spec import MAX_ARRAY_NBYTES
from pinnlite.optim import schedules
from pinnlite.optim.registry import OPTIMIZERS
from pinnlite.training.config import ConfigError, switches


def _fields(section, fn, prefix="", skip=()):
    """The ``section`` fields named ``prefix + p`` for the parameters p of ``fn``."""
    out = {}
    for p in checks.parameters(fn):
        if p not in skip and hasattr(section, prefix + p):
            out[p] = getattr(section, prefix + p)
    return out


def schedule(config, first_order_steps):
    """The learning-rate schedule ``step -> lr`` of the first-order phase."""
    kind = config.schedule.kind
    kwargs = _fields(config.schedule, schedules.SCHEDULES[kind], skip=("lr",))
    if kind == "cosine" and kwargs.get("total_steps") is None:
        kwargs["total_steps"] = first_order_steps
    return schedules.get_schedule(kind, lr=config.optimizer.lr, **kwargs)


def first_order(config, objective, first_order_steps):
    """The first-order optimizer of ``config.optimizer.kind`` over the objective's vector."""
    o = config.optimizer
    kwargs = _fields(o, OPTIMIZERS[o.kind], skip=("learning_rate", "lr_scale", "decay_mask"))
    ratio = 1.0 if o.material_lr is None else o.material_lr / o.lr
    kwargs["lr_scale"] = objective.lr_scale(ratio)
    if "decay_mask" in checks.parameters(OPTIMIZERS[o.kind]):
        kwargs["decay_mask"] = objective.decay_mask()
    return optim.get_optimizer(o.kind, learning_rate=schedule(config, first_order_steps), **kwargs)


def second_order(config, kind):
    """The second-order optimizer ``kind`` ("lbfgs", "bfgs", "lm") with its ``optimizer.<kind>_*`` fields."""
    kwargs = _fields(config.optimizer, OPTIMIZERS[kind], prefix=kind + "_")
    if "tasks" in checks.parameters(OPTIMIZERS[kind]):
        kwargs["tasks"] = functools.partial(run_tasks, threads=resolve_threads(config.training.threads))
    return optim.get_optimizer(kind, **kwargs)


def _switches_to(config, kind):
    """True when the run reaches a second-order phase of ``kind`` (``switch_after < training.epochs``)."""
    o = config.optimizer
    return switches(config) and o.second_order == kind and o.switch_after < config.training.epochs


class DenseSizeWarning(UserWarning):
    """Dense BFGS was asked for more values than ``optimizer.bfgs_max_size``: the run uses L-BFGS."""


def limit_dense(config, n):
    """Set a dense BFGS over more than ``optimizer.bfgs_max_size`` of ``n`` values to L-BFGS, in ``config``.

    Its inverse Hessian (the upper triangle of an (n, n) matrix) would take
    4 n (n + 1) bytes (3.8 GB for a 4 x 100 network) and exceed the 4 GiB a
    checkpoint array may hold from n = 32,768.
    ``optimizer.kind`` counts, and ``second_order`` when the run reaches its switch
    (``switch_after < training.epochs``): the trainer asks when training starts and
    again at the switch (a resumed run given more epochs). Returns the message of
    the :class:`DenseSizeWarning` to give, or None when nothing changed.
    """
    o = config.optimizer
    field = "kind" if o.kind == "bfgs" else "second_order" if _switches_to(config, "bfgs") else None
    if field is None or n <= o.bfgs_max_size:
        return None
    setattr(o, field, "lbfgs")
    return (f"optimizer.{field}: 'bfgs' over {n} trained values needs an inverse Hessian of {4 * n * (n + 1) / 1e9:.2g} "
            f"GB, more than optimizer.bfgs_max_size = {o.bfgs_max_size} allows; this run uses 'lbfgs' (raise "
            "optimizer.bfgs_max_size to keep dense BFGS)")


def check_history(config, n, itemsize):
    """ConfigError where the run's L-BFGS would keep more pairs than a checkpoint can hold.

    Its state holds the last ``optimizer.lbfgs_history`` steps and gradient
    changes as two (history, n) arrays of ``itemsize``-byte values
    (:func:`pinnlite.optim.quasi_newton.lbfgs`), and a checkpoint array holds at
    most :data:`pinnlite.io.spec.MAX_ARRAY_NBYTES` bytes: a longer history could
    not be saved, and would not fit most memories either. Call it after
    :func:`limit_dense`, which may turn a dense BFGS into L-BFGS (the trainer
    calls it wherever it builds an optimizer).
    """
    o = config.optimizer
    if not (o.kind == "lbfgs" or _switches_to(config, "lbfgs")):
        return
    most = MAX_ARRAY_NBYTES // (n * itemsize)
    if o.lbfgs_history > most:
        checks.fail("optimizer.lbfgs_history",
                    f"<= {most} for {n} trained values (two ({o.lbfgs_history}, {n}) arrays of {itemsize}-byte "
                    f"values, {2 * o.lbfgs_history * n * itemsize / 1e9:.3g} GB, where a checkpoint array holds at "
                    f"most {MAX_ARRAY_NBYTES} bytes; 20 pairs are the default)", o.lbfgs_history, ConfigError)


def plateau(config):
    """The reduce-on-plateau controller of ``config.schedule`` (used when ``schedule.plateau``)."""
    c = config.schedule
    return schedules.reduce_on_plateau(
        c.plateau_factor, c.plateau_patience, c.plateau_threshold, "rel", c.plateau_cooldown, c.plateau_min_factor
    )
