"""What every optimizer shares: the :class:`Optimizer` tuple and the argument checks.

See :mod:`pinnlite.optim` for the interface. The checks are built on
:mod:`pinnlite.core.checks`, so their messages have the package's one format.
"""

import math
from typing import Any, Callable, NamedTuple

import numpy as np

from pinnlite.core import checks


class Optimizer(NamedTuple):
    """An optimizer: ``init(params) -> state`` and ``update(...) -> (params, state)``.

    ``hyperparams`` holds the constructor's arguments (floats, ints, the
    learning-rate schedule, and read-only copies of ``lr_scale`` / ``decay_mask``);
    ``state_type`` is the NamedTuple class of the state (restore a saved state
    with ``state_type(**fields)`` or :func:`state_from_dict`).
    """

    name: str
    init: Callable
    update: Callable
    hyperparams: dict
    state_type: Any


def as_schedule(value, *, positive=False):
    """A learning rate given as a number (>= 0, or > 0 with ``positive``) or a schedule,
    as a callable ``count -> float``."""
    if callable(value):
        return value
    lr = checks.real("learning_rate", value, low=0.0, low_open=positive)
    return lambda count: lr


def lr_at(schedule, count, *, positive=False):
    """``schedule(count)``, which must be a finite number >= 0 (> 0 with ``positive``)."""
    lr = schedule(count)
    if not checks.is_real(lr) or not math.isfinite(lr) or lr < 0 or (positive and lr == 0):
        checks.fail("learning_rate", f"the schedule to return a finite number {'> 0' if positive else '>= 0'} "
                    f"at step {count}", lr)
    return float(lr)


def check_lr_factor(value, *, positive=False):
    """The reduce-on-plateau multiplier ``lr_factor`` as a float >= 0 (> 0 with ``positive``)."""
    return checks.real("lr_factor", value, low=0.0, low_open=positive)


def check_lr_scale(value):
    """``lr_scale`` (n,) as a read-only float64 copy of finite reals >= 0, or None."""
    if value is None:
        return None
    try:
        arr = np.array(value, dtype=np.float64) if np.asarray(value).dtype.kind in "fiu" else None
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.ndim != 1 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        checks.fail("lr_scale", "a 1-D array of finite reals >= 0", value)
    arr.setflags(write=False)
    return arr


def check_params(params, name="params"):
    """``params``, a 1-D float32 or float64 NumPy array (never cast)."""
    if not isinstance(params, np.ndarray) or params.ndim != 1 or params.dtype not in (np.float32, np.float64):
        checks.fail(name, "a 1-D numpy array of dtype float32 or float64", params)
    return params


def check_vector(name, value, like):
    """``value``, an array with the shape and dtype of ``like`` (no casting)."""
    if not isinstance(value, np.ndarray) or value.shape != like.shape or value.dtype != like.dtype:
        checks.fail(name, f"an array of shape {like.shape} and dtype {like.dtype} (matching the optimizer state)", value)
    return value


def check_state_type(state, cls):
    """``state``, an instance of the state NamedTuple ``cls``."""
    if not isinstance(state, cls):
        checks.fail("state", f"a {cls.__name__}", type(state).__name__)
    return state


def scale_for(lr_scale, n):
    """The per-element learning-rate multipliers (n,): ``lr_scale`` checked against n, or ones."""
    if lr_scale is None:
        return np.ones(n)
    if lr_scale.shape[0] != n:
        checks.fail("lr_scale", f"length {n} (the number of parameters)", f"length {lr_scale.shape[0]}")
    return lr_scale
