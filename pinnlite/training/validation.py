"""Validation sensors: a held-out share of the measurements, and what "best" means.

With ``training.validation_fraction = f > 0`` a run sets aside
``round(f * m)`` of its ``m`` sensors, chosen once from ``training.seed`` by
a generator of its own (so the run's other random choices are those of the
same run without validation). It trains on the others and reports, after
every epoch, the data term at the held-out ones (:class:`Misfit`: the same
mean squared displacement misfit as the ``data`` column, user units) as the
metrics column ``validation``. The split is recomputed from the seed on
resume, so checkpoints need not store it.

``training.monitor`` (:func:`monitored`) says which column defines the best
epoch: the best model file ``best.pinnlite`` and the early stop after
``training.patience`` epochs without a new best both follow it.
"""

import math

import numpy as np

from pinnlite import engine
from pinnlite.engine.terms import TERMS, LossWeights, PointSets
from pinnlite.training.config import ConfigError
from pinnlite.training.data import TrainingData

# spawn key of the validation split's generator, apart from the run's main one
_SPLIT_KEY = (11,)


def monitored(config):
    """The metrics column that defines the best epoch: ``"loss"`` or ``"validation"``."""
    t = config.training
    if t.monitor is not None:
        return t.monitor
    return "validation" if t.validation_fraction > 0 else "loss"


def track(state, value, monitor, patience):
    """Record ``value`` of the monitored column for the epoch just completed.

    Updates ``state.best_loss`` and ``state.best_epoch`` (a TrainState) when ``value``
    is lower than the best so far (NaN never is). Returns ``(improved, stop reason or
    None)``: the early stop after ``patience`` epochs (None: never) without a new best.
    """
    improved = value < state.best_loss
    if improved:
        state.best_loss, state.best_epoch = float(value), state.epoch
    if patience is None or state.epoch - state.best_epoch < patience:
        return improved, None
    what = "validation misfit" if monitor == "validation" else "loss"
    return improved, (f"early stop: no lower {what} in {patience} epochs "
                      f"(best {state.best_loss:.6g} at epoch {state.best_epoch})")


def held_out(n_sensors, fraction, seed):
    """Sorted indices of the held-out sensors among ``n_sensors`` (an int64 array)."""
    if fraction == 0:
        return np.zeros(0, np.int64)
    n_val = int(round(fraction * n_sensors))
    if n_val < 1 or n_val > n_sensors - 1:
        raise ConfigError(
            f"training.validation_fraction: expected a share that keeps at least one of the {n_sensors} "
            f"sensors for training and one for validation, found {fraction!r} ({n_val} held out)")
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=_SPLIT_KEY))
    return np.sort(rng.choice(n_sensors, size=n_val, replace=False)).astype(np.int64)


def split(data, fraction, seed):
    """``(training data, (points (k, 3), values (k, 2)) or None)``: the sensors held out of ``data``.

    The training data are ``data`` itself when ``fraction`` is 0.
    """
    if fraction == 0:
        return data, None
    if data.sensor_points is None:
        raise ConfigError(
            f"training.validation_fraction: expected 0 for data without sensors, found {fraction!r}")
    idx = held_out(len(data.sensor_points), fraction, seed)
    keep = np.ones(len(data.sensor_points), bool)
    keep[idx] = False
    arrays = data.to_arrays()
    arrays["sensor_points"] = data.sensor_points[keep]
    arrays["sensor_values"] = data.sensor_values[keep]
    return TrainingData.from_arrays(arrays), (data.sensor_points[idx], data.sensor_values[idx])


class Misfit:
    """The data term at fixed sensors: ``mean over sensors of |u(X) - d|^2`` (user units).

    Evaluated by the engine exactly as the training ``data`` term, on every rank
    alike (all ranks hold the same sensors), with a workspace of its own.

    Parameters
    ----------
    arch : Architecture
    points : (k, 3) float64 array
    values : (k, 2) float64 array
    threads : int
    """

    _WEIGHTS = LossWeights(**{t: float(t == "data") for t in TERMS})

    def __init__(self, arch, points, values, threads):
        self.arch = arch
        dt = arch.np_dtype
        pts = PointSets(data=np.ascontiguousarray(points, dt), data_values=np.ascontiguousarray(values, dt))
        self.prep = engine.prepare(arch, pts)
        self.workspace = engine.Workspace(threads)
        self.n = len(points)

    def __call__(self, params, material):
        """The misfit of the network ``params`` (flat) with ``material`` (a Material)."""
        res = engine.evaluate(self.arch, params, self.prep, material, self._WEIGHTS, self.workspace)
        return float(res.terms.get("data", math.nan))
