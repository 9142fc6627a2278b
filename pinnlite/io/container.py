"""Checkpoint container: a versioned, checksummed MessagePack file format.

A container stores one *tree* (nested ``dict`` / ``list`` / ``tuple`` of
``None``, ``bool``, ``int`` of any size, ``float``, ``str``, ``bytes`` and
``numpy.ndarray``) plus a ``meta`` dict; :mod:`pinnlite.io.checkpoint` maps
training states and models to such trees. The bytes, the checks and the
limits are specified in ``docs/FORMAT.md`` and only there. pinnlite writes
version 2.0 and reads 2.x and 1.x.

This module is the public interface: write with :func:`dumps`, :func:`dump`
or :func:`save_file` (atomic), read with :func:`loads`, :func:`load` or
:func:`load_file` (all arrays, or with ``only=`` just those under some
top-level keys; ``verify=True`` also checks the file digest), open a file for
lazy reading with :func:`open`, check every byte with :func:`verify`, rewrite
an older file as 2.0 with :func:`convert_file`. Its parts:
:mod:`~pinnlite.io.spec` (the constants), :mod:`~pinnlite.io.writer`,
:mod:`~pinnlite.io.header` (decoding a header within its limits),
:mod:`~pinnlite.io.reader` (2.x), :mod:`~pinnlite.io.reader_v1` (1.x),
:mod:`~pinnlite.io.lazy` (the open container), :mod:`~pinnlite.io.sources`
(bytes, streams and paths), :mod:`~pinnlite.io.hashing` (CRC-32 and SHA-256
beside the reads and writes) and :mod:`~pinnlite.io.atomic` (the atomic file
write).
"""

import io
import struct
from dataclasses import dataclass

import numpy as np

from pinnlite.errors import InputError, describe
from pinnlite.io import atomic, reader, reader_v1, sources
from pinnlite.io.lazy import OpenContainer, TreeList, TreeMap
from pinnlite.io.atomic import TEMP_PATTERN, clean_stale_temps
from pinnlite.io.errors import (
    ChecksumError,
    CheckpointError,
    CheckpointWarning,
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
from pinnlite.io.reader import ArrayInfo, Container
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
    MAX_HEADER_VALUES,
    MAX_NDIM,
    MIN_FILE_SIZE,
    PREAMBLE_SIZE,
    SUPPORTED_MAJORS,
    TRAILER_SIZE,
    V1_PREAMBLE_SIZE,
    VERSION,
)
from pinnlite.io.writer import emit, encode

__all__ = [
    # writing and reading
    "dumps", "dump", "save_file", "loads", "load", "load_file", "open", "check", "verify", "convert_file", "same_tree",
    "clean_stale_temps",
    # results
    "Container", "ArrayInfo", "VerifyReport", "OpenContainer", "TreeMap", "TreeList",
    # constants of the format
    "FORMAT_NAME", "MAGIC", "VERSION", "SUPPORTED_MAJORS", "DTYPES", "EXT_BIGINT", "EXT_ARRAY", "ALIGNMENT",
    "MAX_DEPTH", "MAX_NDIM", "MAX_ARRAY_NBYTES", "MAX_HEADER_SIZE", "MAX_HEADER_VALUES", "PREAMBLE_SIZE",
    "MIN_FILE_SIZE", "TRAILER_SIZE", "TEMP_PATTERN",
    # errors
    "CheckpointError", "CheckpointWarning", "ChecksumError", "DTypeError", "MagicError", "MissingFileError",
    "ShapeError", "SizeError", "StructureError", "TrailingDataError", "TruncatedError", "VersionError",
]


@dataclass(frozen=True, eq=False)
class VerifyReport:
    """Result of :func:`verify`: every check passed."""

    version: tuple
    meta: dict
    extra: dict
    arrays: tuple  # of ArrayInfo
    file_length: int
    sha256: str  # hex of the file digest, stored and matching: 2.x the SHA-256 of bytes [0, L - 32), 1.x the trailer
    tree: object  # the decoded tree, so that a caller can check its content without a second read

    def __str__(self):
        rows = [("key path", "dtype", "shape", "nbytes", "crc32")]
        rows += [(a.key, a.dtype, str(a.shape), str(a.nbytes), f"{a.crc32:08x}") for a in self.arrays]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        what = "SHA-256" if self.version[0] >= 2 else "trailer digest"
        lines = [f"{FORMAT_NAME} {self.version[0]}.{self.version[1]}, {self.file_length} bytes, "
                 f"{what} {self.sha256}", f"meta: {self.meta!r}"]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        return "\n".join(lines)


# ---------------------------------------------------------------- writing


def dumps(tree, meta=None):
    """Encode ``tree`` (and the ``meta`` dict) as a version 2.0 container.

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
    out = []
    emit(encode(tree, meta), out.append)
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
    emit(encode(tree, meta), lambda b: _write_all(fileobj.write, b))


def save_file(path, tree, meta=None, sync_dir=True):
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
    sync_dir : bool
        ``fsync`` the directory after the rename (the default), so that the
        new name survives a power loss; a caller that syncs the directory
        afterwards anyway (a checkpoint directory's save) passes False.
    """
    plan = encode(tree, meta)  # encoding errors surface before any file is touched
    atomic.write_file(path, lambda write, sync: emit(plan, write, sync), sync_dir=sync_dir)


# ---------------------------------------------------------------- reading


def _start(source):
    """(first bytes, version) of a source: section 8, steps 1 and 2."""
    first = bytearray(V1_PREAMBLE_SIZE)  # the longer of the two preambles
    got = source.read_into(0, first)
    first = bytes(first[:got])
    return first, reader.parse_version(first, source.size if source.size is not None else got)


def _read_v1(source, first, version, only, verify):
    available = source.size if source.size is not None else len(first)
    hlen, _, length = reader_v1.parse_preamble(first, available)
    if source.size is not None:
        reader_v1.check_lengths(source.size, hlen, length)
    buf, digest = sources.read_whole(source, first, length)
    if len(buf) < length:
        reader_v1.check_lengths(len(buf), hlen, length)
    return reader_v1.decode(buf, version, check_crcs=verify, digest=digest, only=only)


def _read(source, only=None, verify=False):
    """The :class:`Container` in a :class:`~pinnlite.io.sources.Source`, any supported version; closes it."""
    with source:
        only = reader.check_only(only)
        first, version = _start(source)
        if version[0] >= 2:
            return reader.read(source, first, version, only, verify)
        return _read_v1(source, first, version, only, verify)


def loads(data, only=None, verify=False):
    """Decode a container from a bytes-like object.

    The arrays are copied out of ``data`` into private 64-byte aligned
    buffers, so they are writeable and do not alias ``data``.

    Parameters
    ----------
    data : bytes, bytearray or memoryview
        The whole file.
    only : None or a collection of str (or int)
        Read only the arrays under these top-level keys of the tree (the
        first element of their key path); every other array stands in the
        tree as its :class:`ArrayInfo`, unread and unchecked. None: all.
    verify : bool
        Also check every byte of the file, the file digest (a SHA-256 of all
        but its last 32 bytes) included, as :func:`verify` does. Off by
        default: the head digest and the CRC-32 of each array returned
        already detect any accidental damage to what is returned, and the
        SHA-256 costs about three times a load (it runs on one core). Turn
        it on to compare the file with a digest from a trusted place, or to
        find damage outside what is read.

    Returns
    -------
    Container
    """
    return _read(sources.BytesSource(data), only, verify)


def load(fileobj, only=None, verify=False):
    """Decode a container from a binary file object (file, BytesIO, socket file).

    Reads from the current position; the stream must end where the container
    does (:class:`TrailingDataError` otherwise). A seekable stream is read
    only where needed (with ``only``, just the head and those arrays); a
    non-seekable one is read to its end, skipping what is not wanted.
    ``only`` and ``verify`` as in :func:`loads`.
    """
    sources.check_binary(fileobj)
    return _read(sources.StreamSource(fileobj), only, verify)


def load_file(path, only=None, verify=False):
    """Decode the container stored at ``path``; see :func:`loads`.

    With ``only``, a 2.0 file is read only where needed: its head and the
    arrays asked for (a 1.x file is always read whole, as its one digest
    covers every byte). For more control, :func:`open` reads arrays one by
    one as they are looked up.

    Raises
    ------
    MissingFileError
        ``path`` does not exist (also a FileNotFoundError).
    CheckpointError
        The specific subclass for any other problem with the file.
    """
    return _read(sources.open_path(path), only, verify)


def open(source):  # noqa: A001  (the module's reader of files, as io.open and gzip.open)
    """Open a container for lazy reading: its head is read and checked now, each array when first looked up.

    Parameters
    ----------
    source : str, os.PathLike, seekable binary file object, bytes, bytearray or memoryview
        A non-seekable stream cannot be read lazily: use :func:`load`.

    Returns
    -------
    OpenContainer
        A context manager; ``.tree`` is a read-only mapping (or sequence)
        whose arrays are read, checked (section structure, CRC-32) and cached
        on first access; ``.read(only)`` gives a :class:`Container` of plain
        values. Close it (or leave the ``with`` block) to release the file;
        arrays already read stay valid. See :mod:`pinnlite.io.lazy`.

    Example
    -------
    >>> with container.open("run/checkpoints/ckpt-00000100.pinnlite") as f:  # doctest: +SKIP
    ...     W0 = f.tree["params"]["W0"]      # the head and this array only
    """
    src = sources.source_of(source)
    try:
        if src.sequential:
            raise InputError(f"source: expected a path, bytes or a seekable binary file object, found "
                             f"{describe(source)} (not seekable); read it whole with load()")
        first, version = _start(src)
        if version[0] >= 2:
            return OpenContainer(src, reader.read_head(src, first, version))
        found = _read_v1(src, first, version, None, False)
    except BaseException:
        src.close()
        raise
    src.close()
    return OpenContainer.of_container(found)


def check(source):
    """Check what loading the whole container would check, keeping no array; return None.

    The head, then each array's section and CRC-32, small arrays in groups
    of 8 MiB and large ones in pieces of 1 MiB: whatever the file's size,
    this needs about 9 MiB plus the head (a 1.x file is read whole, as its
    one digest covers every byte). A file that
    passes loads, barring damage between the two reads; :func:`verify` also
    checks the file digest.

    Raises
    ------
    CheckpointError
        The specific subclass for the first problem found.
    """
    with sources.source_of(source) as src:
        first, version = _start(src)
        if version[0] >= 2:
            reader.check_arrays(src, reader.read_head(src, first, version))
        else:
            _read_v1(src, first, version, None, False)


def verify(source):
    """Check every byte of a container, the file digest included, and describe the file.

    Parameters
    ----------
    source : str, os.PathLike, binary file object, bytes, bytearray or memoryview
        Read once (a file object from its current position to its end).

    Returns
    -------
    VerifyReport
        Version, meta, the array table (key path, dtype, shape, nbytes,
        crc32, ...), the file digest and the decoded tree; ``str(report)``
        renders all but the tree as text.

    Raises
    ------
    CheckpointError
        The specific subclass for the first problem found.
    """
    found = _read(sources.source_of(source), verify=True)
    return VerifyReport(version=found.version, meta=found.meta, extra=found.extra, arrays=found.arrays,
                        file_length=found.file_length, sha256=found.digest.hex(), tree=found.tree)


# ---------------------------------------------------------------- conversion


def same_tree(a, b):
    """Whether two trees hold the same values bit for bit (array dtypes, shapes and bytes; float bits)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.dtype == b.dtype
                and a.shape == b.shape and a.tobytes() == b.tobytes())
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return struct.pack("<d", a) == struct.pack("<d", b)
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_tree(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_tree(x, y) for x, y in zip(a, b))
    return a == b


def convert_file(source, path):
    """Rewrite the container ``source`` (any version this reader reads) as version 2.0 at ``path``.

    ``source`` is verified first (every checksum); the new file holds the same
    tree and meta, is written atomically (``path`` may be ``source`` itself),
    and is read back and compared value for value before this returns.

    Returns
    -------
    (tuple, VerifyReport)
        The source's version and the report of the new file.

    Raises
    ------
    CheckpointError
        ``source`` fails a check, or holds fields of a newer minor version that
        2.0 cannot store (:class:`StructureError`); ``path`` is then untouched.
    """
    old = verify(source)
    if old.extra:
        raise StructureError(f"header fields {sorted(old.extra)} of format version {old.version[0]}."
                             f"{old.version[1]} have no place in a {VERSION[0]}.{VERSION[1]} file")
    save_file(path, old.tree, old.meta)
    new = verify(path)
    if not (same_tree(old.tree, new.tree) and same_tree(old.meta, new.meta)):
        raise ChecksumError(f"{path}: the converted file does not read back the values of the original",
                            damaged=("tree",))
    return old.version, new
