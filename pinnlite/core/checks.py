"""The argument checks of every pinnlite module: one vocabulary, one message format.

Each check returns the clean value (a Python ``float``, ``int``, ``bool`` or
``str``, or the array itself: arrays are never cast or copied) or raises
``error`` (default :class:`~pinnlite.errors.InputError`; the config passes
:class:`~pinnlite.training.config.ConfigError`) with the one message format::

    <name>: expected <rule>, found <value>

``name`` is the argument or the dotted config field, ``rule`` what is accepted
and ``value`` what was given (:func:`~pinnlite.errors.describe`: the repr of a
scalar, the shape and dtype of an array). With ``optional=True`` a check also
accepts None (and says so in its rule).

Integers are never bools: ``True`` is rejected where an integer or a real is
expected, and ``2.0`` where an integer is.
"""

import functools
import inspect
import math
import numbers

import numpy as np

from pinnlite.errors import InputError, describe


def fail(name, rule, value, error=InputError, optional=False):
    """Raise ``error`` with the message ``<name>: expected <rule>, found <value>``."""
    raise error(f"{name}: expected {'None or ' if optional else ''}{rule}, found {describe(value)}")


def is_real(value):
    """A real number that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_int(value):
    """An integer that is not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _bounds_text(low, low_open, high, high_open):
    # integers in full (99999999, not 1e+08, which would read as a bound of 100000000)
    show = lambda v: str(v) if is_int(v) else f"{v:g}"  # noqa: E731
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {show(low)}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {show(high)}")
    return " and ".join(parts)


def _finite(value):
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond the float range
        return False


def real(name, value, *, low=None, low_open=False, high=None, high_open=False, optional=False, error=InputError):
    """``value`` as a finite float inside the given bounds."""
    if optional and value is None:
        return None
    # float and int first: is_real's abstract-class test is most of a config's validation
    ok = (type(value) is float or type(value) is int or is_real(value)) and _finite(value)
    v = float(value) if ok else value
    if not ok or (low is not None and (v < low or (low_open and v == low))) or (
        high is not None and (v > high or (high_open and v == high))
    ):
        bounds = _bounds_text(low, low_open, high, high_open)  # the rule is written only when it is broken
        fail(name, "a finite real number" + (f" {bounds}" if bounds else ""), v, error, optional)
    return v


def integer(name, value, *, low=None, high=None, optional=False, error=InputError):
    """``value`` as an int inside ``[low, high]`` (bools rejected)."""
    if optional and value is None:
        return None
    ok = type(value) is int or is_int(value)
    if not ok or (low is not None and value < low) or (high is not None and value > high):
        bounds = _bounds_text(low, False, high, False)
        fail(name, "an integer" + (f" {bounds}" if bounds else ""), value, error, optional)
    return int(value)


def integers(name, value, *, low=None, nonempty=True, error=InputError):
    """``value`` (a list or tuple) as a list of ints >= ``low``."""
    rule = f"a {'non-empty ' if nonempty else ''}list of integers" + (f" >= {low}" if low is not None else "")
    if not isinstance(value, (list, tuple)) or (nonempty and not value):
        fail(name, rule, value, error)
    if not all(is_int(v) and (low is None or v >= low) for v in value):
        fail(name, rule, list(value), error)
    return [int(v) for v in value]


def boolean(name, value, *, error=InputError):
    """``value`` as a bool (Python or NumPy bools only: no 0 / 1)."""
    if not isinstance(value, (bool, np.bool_)):
        fail(name, "True or False", value, error)
    return bool(value)


def string(name, value, *, nonempty=False, optional=False, error=InputError):
    """``value`` as a str of Unicode characters (no lone surrogates, which UTF-8 cannot hold)."""
    if optional and value is None:
        return None
    rule = "a non-empty string" if nonempty else "a string"
    if not isinstance(value, str) or (nonempty and not value):
        fail(name, rule, value, error, optional)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        fail(name, rule + " of Unicode characters (no lone surrogates)", value, error, optional)
    return str(value)


def choice(name, value, options, *, optional=False, error=InputError):
    """``value``, which must be one of the strings ``options``."""
    if optional and value is None:
        return None
    if not isinstance(value, str) or value not in options:
        fail(name, "one of " + ", ".join(repr(o) for o in options), value, error, optional)
    return str(value)


def array(name, value, shape, dtype=None, *, finite=True, error=InputError):
    """``value``, which must be a NumPy array of ``shape`` (None: any length) and ``dtype``.

    ``dtype`` None accepts any floating-point dtype. Nothing is cast, so an
    array of the wrong dtype is an error rather than a silent copy. With
    ``finite`` every value must be finite; the first bad one is named with its
    index.
    """
    want = "(" + ", ".join("n" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"
    kind = "float" if dtype is None else str(np.dtype(dtype))
    rule = f"an array of shape {want} and dtype {kind}"
    if (
        not isinstance(value, np.ndarray)
        or value.ndim != len(shape)
        or any(d is not None and d != s for d, s in zip(shape, value.shape))
        or (dtype is None and value.dtype.kind != "f")
        or (dtype is not None and value.dtype != np.dtype(dtype))
    ):
        fail(name, rule, value, error)
    if finite and not np.isfinite(value).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(value))[0])
        where = f"row {bad[0]}, column {bad[1]}" if len(bad) == 2 else f"index {bad}" if len(bad) != 1 else f"index {bad[0]}"
        raise error(f"{name}: expected finite values, found {value[bad].item()!r} at {where}")
    return value


def box(name, value, *, axes="xyt", error=InputError):
    """One ``(lo, hi)`` float pair per axis of ``axes``, finite with lo < hi: by default
    ``((x_lo, x_hi), (y_lo, y_hi), (t_lo, t_hi))``, with ``axes="xy"`` a rectangle of the plane."""
    pairs = "(" + ", ".join(f"({a}_lo, {a}_hi)" for a in axes) + ")"
    try:
        d = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        fail(name, pairs, value, error)
    if d.shape != (len(axes), 2):
        fail(name, f"{pairs} of shape ({len(axes)}, 2)", d, error)
    for axis, (lo, hi) in zip(axes, d):
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            fail(f"{name}[{axis}]", "finite lo < hi", (float(lo), float(hi)), error)
    return tuple((float(lo), float(hi)) for lo, hi in d)


def generator(name, value, *, error=InputError):
    """``value``, which must be a :class:`numpy.random.Generator`."""
    if not isinstance(value, np.random.Generator):
        fail(name, "a numpy.random.Generator", value, error)
    return value


@functools.lru_cache(maxsize=None)
def parameters(fn):
    """``inspect.signature(fn).parameters``, cached: the registries' constructors are a fixed set, and
    inspecting them again at each build was a fifth of building a trainer from a small checkpoint."""
    return inspect.signature(fn).parameters


def build(kind, table, name, kwargs, *, error=InputError):
    """``table[name](**kwargs)``, naming an unknown ``name``, unknown or missing arguments."""
    if name not in table:
        fail("name", f"a {kind} name, one of {sorted(table)}", name, error)
    params = parameters(table[name])
    for key in kwargs:
        if key not in params:
            fail(key, f"a parameter of {kind} {name!r} ({', '.join(params)})", key, error)
    for key, p in params.items():
        if p.default is inspect.Parameter.empty and key not in kwargs:
            fail(key, f"a value (required by {kind} {name!r})", None, error)
    return table[name](**kwargs)
