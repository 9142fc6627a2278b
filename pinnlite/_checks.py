"""Argument checks shared by the numeric modules: each returns the clean value or
raises :class:`~pinnlite.errors.InputError` naming the argument, the rule and the
value found."""

import math
import numbers

from .errors import InputError


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
