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
    # a class such as np.float32 has shape and dtype too, as descriptors: only instances are arrays
    shape = None if isinstance(value, type) else getattr(value, "shape", None)
    dtype = getattr(value, "dtype", None)
    if isinstance(shape, tuple) and dtype is not None:
        return f"array of shape {shape} and dtype {dtype}"
    try:
        text = repr(value)
    except ValueError:  # an integer beyond Python's int-to-str limit, possibly inside a container
        if isinstance(value, int):
            return f"an integer of {value.bit_length()} bits"
        return f"a {type(value).__name__} holding an integer too long to show"
    return text if len(text) <= 80 else text[:77] + "..."
