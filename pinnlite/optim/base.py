"""What every optimizer shares: the :class:`Optimizer` pair and the argument checks.

See :mod:`pinnlite.optim` for the interface.
"""

import math
from typing import Any, Callable, NamedTuple

import numpy as np

from pinnlite.core.checks import is_real as _is_real
from pinnlite.core.checks import real as _real
from pinnlite.errors import InputError, describe


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


def _learning_rate(value, *, positive=False):
    """A constant or a schedule, as a callable ``count -> float``."""
    if callable(value):
        return value
    lr = _real("learning_rate", value, low=0.0, low_open=positive)
    return lambda count: lr


def _lr_at(schedule, count, *, positive=False):
    lr = schedule(count)
    if not _is_real(lr) or not math.isfinite(lr) or lr < 0 or (positive and lr == 0):
        rule = "> 0" if positive else ">= 0"
        raise InputError(
            f"learning_rate: expected the schedule to return a finite number {rule} "
            f"at step {count}, found {lr!r}"
        )
    return float(lr)


def _lr_factor(value, *, positive=False):
    return _real("lr_factor", value, low=0.0, low_open=positive)


def _lr_scale(value):
    """``lr_scale`` as a read-only float64 copy, or None."""
    if value is None:
        return None
    arr = np.array(value, dtype=np.float64) if _is_real_array(value) else None
    if arr is None or arr.ndim != 1 or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InputError(
            f"lr_scale: expected a 1-D array of finite reals >= 0, found {describe(value)}"
        )
    arr.setflags(write=False)
    return arr


def _is_real_array(value):
    try:
        arr = np.asarray(value)
    except Exception:
        return False
    return arr.dtype.kind in "fiu"


def _check_params(params, name="params"):
    if not isinstance(params, np.ndarray) or params.ndim != 1:
        raise InputError(f"{name}: expected a 1-D numpy array, found {describe(params)}")
    if params.dtype not in (np.float32, np.float64):
        raise InputError(f"{name}: expected dtype float32 or float64, found {params.dtype}")
    return params


def _check_vector(name, value, like):
    """``value`` must be a 1-D array with the shape and dtype of ``like`` (no casting)."""
    if (
        not isinstance(value, np.ndarray)
        or value.shape != like.shape
        or value.dtype != like.dtype
    ):
        raise InputError(
            f"{name}: expected an array of shape {like.shape} and dtype {like.dtype} "
            f"(matching the optimizer state), found {describe(value)}"
        )
    return value


def _check_state(state, cls):
    if not isinstance(state, cls):
        raise InputError(f"state: expected a {cls.__name__}, found {type(state).__name__}")
    return state


def _scale_for(lr_scale, n):
    if lr_scale is None:
        return np.ones(n)
    if lr_scale.shape[0] != n:
        raise InputError(
            f"lr_scale: expected length {n} (the number of parameters), "
            f"found length {lr_scale.shape[0]}"
        )
    return lr_scale
