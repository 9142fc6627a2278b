"""Checkpoint container: a versioned, checksummed MessagePack file format.

A container stores one *tree* (nested ``dict`` / ``list`` / ``tuple`` of
``None``, ``bool``, ``int`` of any size, ``float``, ``str``, ``bytes`` and
``numpy.ndarray``) plus a ``meta`` dict; :mod:`pinnlite.io.checkpoint` maps
training states and models to such trees. The format is specified in
``docs/FORMAT.md``, the one description of its bytes.

This module is the public interface: write with
:func:`dumps`, :func:`dump` or :func:`save_file` (atomic), read with
:func:`loads`, :func:`load` or :func:`load_file`, check every checksum with
:func:`verify`. Its parts: :mod:`~pinnlite.io.spec` (the constants),
:mod:`~pinnlite.io.writer`, :mod:`~pinnlite.io.reader`,
:mod:`~pinnlite.io.sources` (bytes, streams and paths into memory),
:mod:`~pinnlite.io.hashing` (threaded SHA-256 and CRC-32) and
:mod:`~pinnlite.io.atomic` (the atomic file write).
"""

import io
from dataclasses import dataclass

from pinnlite.io import atomic, sources
from pinnlite.io.atomic import TEMP_PATTERN, clean_stale_temps
from pinnlite.io.errors import (
    ChecksumError,
    CheckpointError,
    DTypeError,
    MagicError,
    MissingFileError,
    ShapeError,
    SizeError,
    StructureError,
    TrailingDataError,
    TruncatedError,
    VersionError,
)
from pinnlite.io.hashing import CHUNK
from pinnlite.io.reader import ArrayInfo, Container, decode
from pinnlite.io.spec import (
    ALIGNMENT,
    DTYPES,
    EXT_ARRAY,
    EXT_BIGINT,
    FORMAT_NAME,
    MAGIC,
    MAX_ARRAY_NBYTES,
    MAX_DEPTH,
    MAX_HEADER_SIZE,
    MAX_NDIM,
    MIN_FILE_SIZE,
    PREAMBLE_SIZE,
    SUPPORTED_MAJOR,
    TRAILER_SIZE,
    VERSION,
)
from pinnlite.io.writer import emit, encode

__all__ = [
    # writing and reading
    "dumps", "dump", "save_file", "loads", "load", "load_file", "verify", "clean_stale_temps",
    # results
    "Container", "ArrayInfo", "VerifyReport",
    # constants of the format
    "FORMAT_NAME", "MAGIC", "VERSION", "SUPPORTED_MAJOR", "DTYPES", "EXT_BIGINT", "EXT_ARRAY", "ALIGNMENT",
    "MAX_DEPTH", "MAX_NDIM", "MAX_ARRAY_NBYTES", "MAX_HEADER_SIZE", "PREAMBLE_SIZE", "TRAILER_SIZE",
    "MIN_FILE_SIZE", "CHUNK", "TEMP_PATTERN",
    # errors
    "CheckpointError", "ChecksumError", "DTypeError", "MagicError", "MissingFileError", "ShapeError",
    "SizeError", "StructureError", "TrailingDataError", "TruncatedError", "VersionError",
]


@dataclass(frozen=True, eq=False)
class VerifyReport:
    """Result of :func:`verify`: every check passed."""

    version: tuple
    meta: dict
    extra: dict
    arrays: tuple  # of ArrayInfo
    file_length: int
    sha256: str  # hex of the trailer DIGEST (SHA-256 over the chunk digests), stored and matching
    tree: object  # the decoded tree, so that a caller can check its content without a second read

    def __str__(self):
        rows = [("key path", "dtype", "shape", "nbytes", "crc32")]
        rows += [(a.key, a.dtype, str(a.shape), str(a.nbytes), f"{a.crc32:08x}") for a in self.arrays]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = [f"{FORMAT_NAME} {self.version[0]}.{self.version[1]}, {self.file_length} bytes, "
                 f"trailer digest {self.sha256}", f"meta: {self.meta!r}"]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        return "\n".join(lines)


# ---------------------------------------------------------------- writing


def dumps(tree, meta=None):
    """Encode ``tree`` (and the ``meta`` dict) as a container.

    Parameters
    ----------
    tree : dict, list, tuple, scalar or numpy.ndarray
        Nested data; arrays of any shape with a dtype in :data:`DTYPES`
        (non-contiguous or big-endian arrays are stored as their C-order,
        little-endian equivalent; NumPy scalars as 0-d arrays).
    meta : dict or None
        File-level metadata (str keys; no arrays), e.g. creation time. Nothing
        is added automatically, so the output is a pure function of the input.

    Returns
    -------
    bytes
        The whole file; ``dumps(t, m) == dumps(t, m)`` byte for byte.
    """
    parts, length = encode(tree, meta)
    out = []
    emit(parts, out.append, length)
    return b"".join(out)


def _write_all(write, data):
    """Write all of ``data`` through a file object's ``write``, continuing partial writes."""
    view = memoryview(data).cast("B")
    while view.nbytes:
        n = write(view)
        if n is None:
            if isinstance(getattr(write, "__self__", None), io.RawIOBase):  # non-blocking raw stream: nothing written
                raise BlockingIOError(f"fileobj: non-blocking stream accepted no data ({view.nbytes} bytes left)")
            return  # simple file-likes return None after writing everything
        if n <= 0:
            raise OSError(f"write returned {n} with {view.nbytes} bytes left to write")
        view = view[n:]


def dump(tree, fileobj, meta=None):
    """Write the container of ``tree`` to the binary file object ``fileobj``.

    Partial writes (raw files, sockets) are continued; the stream is not
    flushed or closed. See :func:`dumps` for the parameters.
    """
    sources.check_binary(fileobj)
    parts, length = encode(tree, meta)
    emit(parts, lambda b: _write_all(fileobj.write, b), length)


def save_file(path, tree, meta=None):
    """Atomically write the container of ``tree`` to ``path``.

    The file is written through :func:`pinnlite.io.atomic.write_file`
    (temporary file, ``fsync``, ``os.replace``, directory ``fsync``). On any
    failure, encoding included, ``path`` is left as it was and no temporary
    file remains; after a power loss or SIGKILL a stale temporary file may
    remain (see :func:`clean_stale_temps`).

    Parameters
    ----------
    path : str, bytes or os.PathLike
        Target file; its directory must exist (:class:`FileNotFoundError` otherwise).
    tree, meta
        As in :func:`dumps`.
    """
    parts, length = encode(tree, meta)  # encoding errors surface before any file is touched
    # a large body is flushed while its last chunks are hashed; the final
    # fsync then only has the 34-byte trailer to write
    atomic.write_file(path, lambda write, sync: emit(parts, write, length, sync))


# ---------------------------------------------------------------- reading


def loads(data):
    """Decode a container from a bytes-like object.

    The data are copied once into a private 64-byte aligned buffer, so the
    returned arrays are writeable and do not alias ``data``.

    Parameters
    ----------
    data : bytes, bytearray or memoryview
        The whole file.

    Returns
    -------
    Container
    """
    return decode(sources.private_copy(data))[0]


def load(fileobj):
    """Decode a container from a binary file object (file, BytesIO, socket file).

    Reads from the current position to the end of the stream, which must be
    the end of the container (:class:`TrailingDataError` otherwise). Data are
    read straight into a private aligned buffer (no further copy).
    """
    sources.check_binary(fileobj)
    buf, digest = sources.read_stream(fileobj)
    return decode(buf, digest=digest)[0]


def load_file(path):
    """Decode the container stored at ``path``; see :func:`load`.

    Raises
    ------
    MissingFileError
        ``path`` does not exist (also a FileNotFoundError).
    CheckpointError
        The specific subclass for any other problem with the file.
    """
    buf, digest = sources.read_path(path)
    return decode(buf, digest=digest)[0]


def verify(source):
    """Check everything, including every array's CRC-32, and describe the file.

    Parameters
    ----------
    source : str, os.PathLike, binary file object, bytes, bytearray or memoryview
        Read once (a file object from its current position to its end).

    Returns
    -------
    VerifyReport
        Version, meta, the array table (key path, dtype, shape, nbytes,
        crc32) and the decoded tree; ``str(report)`` renders all but the tree
        as text.

    Raises
    ------
    CheckpointError
        The specific subclass for the first problem found.
    """
    buf, digest = sources.read_any(source)
    found, digest = decode(buf, check_crcs=True, digest=digest)
    return VerifyReport(version=found.version, meta=found.meta, extra=found.extra, arrays=found.arrays,
                        file_length=buf.size, sha256=digest.hex(), tree=found.tree)
