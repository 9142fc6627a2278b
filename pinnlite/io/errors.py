"""The errors of checkpoint files: one class per way a file can be wrong.

Every class derives from :class:`CheckpointError`; ``docs/FORMAT.md`` says which
check raises which.
"""

import contextlib
import os

from pinnlite.errors import PinnliteError


class CheckpointError(PinnliteError):
    """Base class of every error about a checkpoint file or its content."""


class MissingFileError(CheckpointError, FileNotFoundError):
    """The checkpoint file does not exist."""


class TruncatedError(CheckpointError):
    """The data end before the length the preamble declares."""


class TrailingDataError(CheckpointError):
    """Bytes follow the end of the checkpoint."""


class MagicError(CheckpointError):
    """The data do not start with the pinnlite-checkpoint magic bytes."""


class CheckpointWarning(UserWarning):
    """A checkpoint was passed over: :func:`pinnlite.io.checkpoint.latest` fell back to an older good one."""


class ChecksumError(CheckpointError):
    """A digest or a CRC-32 does not match; ``damaged`` names what (the header, arrays' key paths, ...)."""

    def __init__(self, message, damaged=()):
        super().__init__(message)
        self.damaged = tuple(damaged)


class VersionError(CheckpointError):
    """The file's major version is not one this reader supports."""


class DTypeError(CheckpointError):
    """An array dtype is not in :data:`DTYPES`."""


class SizeError(CheckpointError):
    """A length exceeds the file or a documented limit."""


class StructureError(CheckpointError):
    """A malformed field, bad nesting, duplicate or non-str key, bad reference."""


class ShapeError(CheckpointError):
    """Arrays do not fit the architecture (raised by the checkpoint layer)."""


@contextlib.contextmanager
def naming(path):
    """A :class:`CheckpointError` raised in the block names ``path``, the file it is about (same class).

    The readers' messages say what is wrong with the bytes; a program that
    reads several files (``pinnlite convert A B``) wraps each read so that the
    message also says which file.
    """
    try:
        yield
    except CheckpointError as e:
        where = os.fspath(path)
        if where in str(e):
            raise
        raise type(e)(f"{where}: {e}") from None
