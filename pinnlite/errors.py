"""Exception types shared by every pinnlite module.

Every error raised for bad input is a :class:`ValueError` subclass whose message
names the argument (or config field), the value that was expected and the value
that was found, so that a user can act on it without reading the source.
"""


class PinnliteError(Exception):
    """Base class of every error pinnlite raises on purpose."""


class InputError(PinnliteError, ValueError):
    """An argument has the wrong shape, dtype, value or is missing."""


def describe(value):
    """A short description of ``value`` for error messages (shape and dtype for arrays)."""
    shape = getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if shape is not None and dtype is not None:
        return f"array of shape {tuple(shape)} and dtype {dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
