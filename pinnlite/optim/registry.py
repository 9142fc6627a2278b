"""Optimizers by name, and their states as plain dicts (for checkpoints).

:func:`get_optimizer` builds any optimizer of this package from its name and
keyword arguments; :func:`state_to_dict` / :func:`state_from_dict` turn a state
NamedTuple into a dict of arrays and numbers and back, bit for bit.
"""

import math
import numbers

import numpy as np

from pinnlite.core import checks
from pinnlite.errors import InputError, describe
from pinnlite.optim.first_order import AdamState, SgdState, adam, adamw, sgd
from pinnlite.optim.broyden import BfgsState, bfgs
from pinnlite.optim.gauss_newton import LmState, levenberg_marquardt
from pinnlite.optim.quasi_newton import LbfgsState, lbfgs

_STATE_TYPES = {"sgd": SgdState, "adam": AdamState, "adamw": AdamState, "lbfgs": LbfgsState, "bfgs": BfgsState,
                "lm": LmState}
_STATE_CLASSES = tuple(set(_STATE_TYPES.values()))

OPTIMIZERS = {"sgd": sgd, "adam": adam, "adamw": adamw, "lbfgs": lbfgs, "bfgs": bfgs, "lm": levenberg_marquardt}


def get_optimizer(name, **hyperparams):
    """Build an optimizer from its name (a key of :data:`OPTIMIZERS`: ``"sgd"``, ``"adam"``,
    ``"adamw"``, ``"lbfgs"``, ``"bfgs"``, ``"lm"``) and its constructor's keyword arguments."""
    return checks.build("optimizer", OPTIMIZERS, name, hyperparams)


def objective_changed(state):
    """``state`` for an objective that changed at the same params (new collocation points).

    What a second-order state caches of the objective at its params is
    dropped, so that its next update evaluates anew: the value (and with it
    the gradient, L-BFGS's and LM's too), BFGS's product ``H g`` and its last
    decrease (the quadratic first trial then tries 1). The curvature it has
    gathered (H with its pending update, L-BFGS's pairs, LM's damping) is
    kept: a warm start for the new sample of the same residual. A first-order
    state caches nothing and is returned as it is.
    """
    if isinstance(state, BfgsState):
        return state._replace(value=math.nan, Hg=np.full_like(state.Hg, np.nan), decrease=math.nan)
    if isinstance(state, (LbfgsState, LmState)):
        return state._replace(value=math.nan)
    if isinstance(state, _STATE_CLASSES):
        return state
    raise InputError(f"state: expected an optimizer state, found {type(state).__name__}")


def state_to_dict(state):
    """A plain dict ``field -> array | int | float`` of an optimizer state (arrays copied)."""
    if not isinstance(state, _STATE_CLASSES):
        raise InputError(f"state: expected an optimizer state, found {type(state).__name__}")
    return {
        key: (value.copy() if isinstance(value, np.ndarray) else value)
        for key, value in state._asdict().items()
    }


def state_from_dict(name, fields, copy=True):
    """The state of optimizer ``name`` from a dict made by :func:`state_to_dict`.

    Arrays are copied with their dtype kept (``copy=False``: taken as they are,
    for a dict nobody else holds, such as a checkpoint just read; every
    optimizer makes new arrays at each update and never writes into its
    state's); ints and floats become Python ints and floats, so the restored
    state continues bit for bit. A field that a state type gained later (one
    with a default, such as ``BfgsState.decrease``) may be missing and takes its
    default.
    """
    if name not in _STATE_TYPES:
        raise InputError(f"name: expected one of {sorted(_STATE_TYPES)}, found {name!r}")
    cls = _STATE_TYPES[name]
    if not isinstance(fields, dict):
        raise InputError(f"fields: expected a dict, found {describe(fields)}")
    expected = list(cls._fields)
    # a field with a default was added after states were first saved: older states lack it
    if not set(expected) - set(cls._field_defaults) <= set(fields) <= set(expected):
        raise InputError(
            f"fields: expected exactly the keys {expected} for optimizer {name!r}, "
            f"found {sorted(fields)}"
        )
    out = {}
    for key, kind in cls.__annotations__.items():
        if key not in fields:
            continue  # its default
        value = fields[key]
        if kind is np.ndarray:
            if not isinstance(value, np.ndarray) or value.dtype not in (np.float32, np.float64):
                raise InputError(
                    f"{key}: expected a float32 or float64 numpy array, found {describe(value)}"
                )
            out[key] = value.copy() if copy else value
        elif kind is int:
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise InputError(f"{key}: expected an integer, found {value!r}")
            out[key] = int(value)
        else:
            if not checks.is_real(value):
                raise InputError(f"{key}: expected a real number, found {value!r}")
            out[key] = float(value)
    return cls(**out)


def _array_shapes(state, n):
    """Field -> the shapes each array of ``state`` may have for ``n`` parameters (the sizes of each
    optimizer's ``init``; BFGS states of older files hold the full H and no pending update)."""
    if isinstance(state, SgdState):
        return {"trace": [(n,)]}
    if isinstance(state, AdamState):
        return {"mu": [(n,)], "nu": [(n,)]}
    if isinstance(state, LbfgsState):
        h = state.s.shape[0] if state.s.ndim == 2 else -1  # the history length is the state's own
        return {"grad": [(n,)], "s": [(h, n)], "y": [(h, n)], "rho": [(h,)]}
    if isinstance(state, BfgsState):
        return {"grad": [(n,)], "H": [(n * (n + 1) // 2,), (n, n)], "Hg": [(n,)], "pending": [(0,), (2 * n + 4,)]}
    return {"grad": [(n,)], "A": [(n, n)]}  # LmState


# the arrays that have the parameters' dtype (those each update compares them with, base.check_vector,
# and those checked against these); the others are float64 whatever the parameters' dtype
_LIKE_PARAMS = {SgdState: ("trace",), AdamState: ("mu", "nu"), LbfgsState: ("grad", "s", "y", "rho"),
                BfgsState: ("grad",)}
_FLOAT64 = {BfgsState: ("H", "Hg", "pending"), LmState: ("grad", "A")}
# the arrays that are finite in every state an optimizer makes (BFGS's Hg is NaN before its first update)
_FINITE = {SgdState: ("trace",), AdamState: ("mu", "nu"), LbfgsState: ("grad", "s", "y", "rho"),
           BfgsState: ("grad", "H", "pending"), LmState: ("grad", "A")}


def check_state_fits(state, params):
    """``state`` (of :func:`state_from_dict`), checked to continue from ``params`` (n,).

    Every array must have the shape and dtype the optimizer's ``init`` gives it
    for n parameters (those the updates compare with the parameters: their
    dtype) and be finite where every state the optimizer makes is, every
    counter must be >= 0 and an L-BFGS ring buffer within its history: a state
    that passes cannot fail the first update on its sizes or values. Raises
    :class:`InputError` naming the field.
    """
    n = params.shape[0]
    for key, shapes in _array_shapes(state, n).items():
        value = getattr(state, key)
        if value.shape not in shapes:
            checks.fail(f"state.{key}", " or ".join(f"shape {s}" for s in shapes) + f" (for {n} parameters)", value)
    for keys, dtype in ((_LIKE_PARAMS.get(type(state), ()), params.dtype), (_FLOAT64.get(type(state), ()), np.float64)):
        for key in keys:
            if getattr(state, key).dtype != dtype:
                checks.fail(f"state.{key}", f"dtype {np.dtype(dtype)}" + (" (the parameters')" if dtype is params.dtype
                                                                           else ""), getattr(state, key))
    for key in _FINITE.get(type(state), ()):
        if not np.isfinite(getattr(state, key)).all():
            checks.fail(f"state.{key}", "finite values", "NaN or infinite ones")
    for key, kind in type(state).__annotations__.items():
        if kind is int and getattr(state, key) < 0:
            checks.fail(f"state.{key}", "an integer >= 0", getattr(state, key))
    if math.isinf(getattr(state, "value", 0.0)):  # the objective at the params: NaN before the first update
        checks.fail("state.value", "a finite number or NaN", state.value)
    if isinstance(state, LbfgsState) and not (state.size <= state.s.shape[0] and state.head < max(state.s.shape[0], 1)):
        checks.fail("state.size, state.head", f"at most the history of {state.s.shape[0]} pairs",
                    (state.size, state.head))
    return state
