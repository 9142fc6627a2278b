"""Argument checks shared by the numeric modules: each returns the clean value or
raises :class:`~pinnlite.errors.InputError` naming the argument, the rule and the
value found."""

import inspect
import math
import numbers

import numpy as np

from pinnlite.errors import InputError, describe


def is_real(value):
    """A real number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_int(value):
    """An integer that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def real(name, value, *, low=None, low_open=False, high=None, high_open=False):
    """``value`` as a finite float inside the given bounds."""
    rule = "a finite real number"
    if low is not None:
        rule += f" {'>' if low_open else '>='} {low}"
    if high is not None:
        rule += f"{' and' if low is not None else ''} {'<' if high_open else '<='} {high}"
    if not is_real(value) or not math.isfinite(value):
        raise InputError(f"{name}: expected {rule}, found {value!r}")
    value = float(value)
    if low is not None and (value < low or (low_open and value == low)):
        raise InputError(f"{name}: expected {rule}, found {value!r}")
    if high is not None and (value > high or (high_open and value == high)):
        raise InputError(f"{name}: expected {rule}, found {value!r}")
    return value


def integer(name, value, *, low=0):
    """``value`` as an int >= ``low``."""
    if not is_int(value) or value < low:
        raise InputError(f"{name}: expected an integer >= {low}, found {value!r}")
    return int(value)


def box(name, value):
    """``((x_lo, x_hi), (y_lo, y_hi), (t_lo, t_hi))`` as float pairs, finite with lo < hi."""
    try:
        d = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name}: expected ((x_lo, x_hi), (y_lo, y_hi), (t_lo, t_hi)), found {describe(value)}") from None
    if d.shape != (3, 2):
        raise InputError(f"{name}: expected shape (3, 2), found {d.shape}")
    for axis, (lo, hi) in zip("xyt", d):
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise InputError(f"{name}[{axis}]: expected finite lo < hi, found ({float(lo)}, {float(hi)})")
    return tuple((float(lo), float(hi)) for lo, hi in d)


def build(kind, table, name, kwargs):
    """``table[name](**kwargs)``, naming an unknown ``name``, unknown or missing arguments."""
    if name not in table:
        raise InputError(f"name: expected one of {sorted(table)}, found {name!r}")
    params = inspect.signature(table[name]).parameters
    for key in kwargs:
        if key not in params:
            raise InputError(f"{key}: not a parameter of {kind} {name!r} (expected one of {list(params)})")
    for key, p in params.items():
        if p.default is inspect.Parameter.empty and key not in kwargs:
            raise InputError(f"{key}: required by {kind} {name!r}, found nothing")
    return table[name](**kwargs)
