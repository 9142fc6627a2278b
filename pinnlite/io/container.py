"""Checkpoint container: a versioned, checksummed MessagePack file format.

A container stores one *tree* (nested ``dict`` / ``list`` / ``tuple`` of
``None``, ``bool``, ``int`` of any size, ``float``, ``str``, ``bytes`` and
``numpy.ndarray``) plus a ``meta`` dict. :mod:`pinnlite.checkpoint` maps a
training state to such a tree; this module only knows the file format. The
normative specification, with a reader of under 50 lines that needs only
``msgpack``, ``hashlib`` and ``numpy``, is ``docs/FORMAT.md``; the summary
below is kept in step with it. The key words MUST, MUST NOT, SHOULD are used
as in RFC 2119. All multi-byte integers of the layout are big-endian
(MessagePack's order); array data are little-endian.

Layout of version 1.0 (``L`` is the file length, ``H`` the header length)::

    offset    size  content
    0         24    MAGIC = 89 'pinnlite-checkpoint' 0d 0a 1a 0a
    24        5     VERSION: 92 cc MAJOR cc MINOR   (msgpack [uint8, uint8])
    29        9     cf + uint64 H          header length in bytes
    38        5     ce + uint32            CRC-32 of the H header bytes
    43        9     cf + uint64 L          file length in bytes, trailer included
    52        H     HEADER: msgpack map {"arrays": [...], "meta": {...}, "tree": ...}
    52+H      ...   one ARRAY SECTION per entry of header["arrays"], in order:
                      PAD   c4 k + k zero bytes, k in 0..63 chosen so that the
                            data below starts at a multiple of 64
                      DATA  c6 + uint32 nbytes + nbytes bytes (C order, little-endian)
    L-34      34    TRAILER: c4 20 + DIGEST of bytes [0, L-34)

DIGEST is the SHA-256 over the SHA-256 digests of 4 MiB chunks: bytes
``[0, L-34)`` are cut into consecutive chunks of exactly :data:`CHUNK` =
4194304 bytes (the last one may be shorter and may be the only one), and
DIGEST = SHA-256(SHA-256(chunk 0) || SHA-256(chunk 1) || ...). Any standard
SHA-256 computes it, and the chunks can be hashed on several threads:
hashlib releases the GIL, so this module hashes chunks on
:func:`pinnlite.parallel.resolve_threads` worker threads while it writes or
reads the file.

Bytes 0-28 (magic and version) keep this meaning in every future version. A
reader MUST read any file of its own major version; fields and ext types that a
newer *minor* version adds are ignored (returned in :attr:`Container.extra` or
as opaque ``msgpack.ExtType`` leaves) and MUST be rejected in files whose minor
version is not newer than the reader's. A newer major raises
:class:`VersionError`.

Each ``header["arrays"]`` entry is ``{"dtype": name, "shape": [d0, ...],
"crc32": c}`` with ``name`` a key of :data:`DTYPES` and ``c`` the CRC-32
(``zlib.crc32``) of the array's data bytes. In the tree, an array is the ext
value of type 2 whose 4 data bytes are the uint32 index of its entry; every
entry is referenced exactly once. Integers outside ``[-2**63, 2**64)`` are
ext type 1 holding the shortest big-endian two's-complement bytes of the value.
Limits: :data:`MAX_DEPTH` nested containers, :data:`MAX_NDIM` dimensions,
:data:`MAX_ARRAY_NBYTES` bytes per array, :data:`MAX_HEADER_SIZE` header bytes.

Reading checks, in this order: magic, version, preamble fields, file length
against ``L`` (truncation, appended bytes), the trailer DIGEST, then the
header and layout. Per-array CRCs are only recomputed when the DIGEST fails (to
name the damaged array) and by :func:`verify`.
"""

import contextlib
import errno
import hashlib
import io
import os
import re
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import msgpack
import numpy as np

from pinnlite.errors import InputError, describe
from pinnlite.io.errors import (  # noqa: F401  (re-exported)
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
from pinnlite.core.cpus import resolve_threads

FORMAT_NAME = "pinnlite-checkpoint"
# PNG-style: a high byte catches 7-bit transports, CR LF / LF catch newline
# translation, ^Z stops `type` on Windows.
MAGIC = b"\x89" + FORMAT_NAME.encode("ascii") + b"\r\n\x1a\n"
VERSION = (1, 0)
SUPPORTED_MAJOR = VERSION[0]

DTYPES = {
    name: np.dtype(code)
    for name, code in (
        ("bool", "|b1"), ("int8", "|i1"), ("int16", "<i2"), ("int32", "<i4"),
        ("int64", "<i8"), ("uint8", "|u1"), ("uint16", "<u2"), ("uint32", "<u4"),
        ("uint64", "<u8"), ("float16", "<f2"), ("float32", "<f4"),
        ("float64", "<f8"), ("complex64", "<c8"), ("complex128", "<c16"),
    )
}
# dtype -> table name, for both byte orders (big-endian input is converted)
_NAME_OF = {dt.newbyteorder(order): name for name, dt in DTYPES.items() for order in "<>"}

EXT_BIGINT = 1
EXT_ARRAY = 2
ALIGNMENT = 64
MAX_DEPTH = 64
MAX_NDIM = 64
MAX_ARRAY_NBYTES = 2**32 - 1  # msgpack bin32
MAX_HEADER_SIZE = 2**30
PREAMBLE_SIZE = 52
TRAILER_SIZE = 34
MIN_FILE_SIZE = PREAMBLE_SIZE + 1 + TRAILER_SIZE
CHUNK = 4194304  # 4 MiB: the trailer DIGEST hashes bytes [0, L-34) in chunks of this size
_CRC_THREAD_MIN = 1 << 20  # arrays from 1 MiB get their CRC-32 on a worker thread
TEMP_PATTERN = re.compile(r"\A\..+\.tmp-[0-9a-f]{16}\Z", re.DOTALL)

_HEADER_FIELDS = ("arrays", "meta", "tree")
_ENTRY_FIELDS = ("dtype", "shape", "crc32")
_INT_MIN, _INT_END = -(2**63), 2**64  # range msgpack stores natively


# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class ArrayInfo:
    """One row of the array table: where an array sits and its checksum."""

    path: tuple  # keys (str) and list indices (int) from the tree root
    dtype: str
    shape: tuple
    nbytes: int
    crc32: int
    offset: int  # file offset of the first data byte

    @property
    def key(self):
        return _fmt("tree", self.path)


@dataclass(frozen=True, eq=False)
class Container:
    """A decoded checkpoint.

    ``tree`` holds the arrays as writeable, 64-byte aligned views into one
    private buffer per file (the buffer lives as long as any of its arrays).
    ``extra`` maps header fields added by a newer minor version to their values.
    """

    tree: object
    meta: dict
    version: tuple
    extra: dict
    arrays: tuple  # of ArrayInfo, in file order


@dataclass(frozen=True, eq=False)
class VerifyReport:
    """Result of :func:`verify`: every check passed."""

    version: tuple
    meta: dict
    extra: dict
    arrays: tuple  # of ArrayInfo
    file_length: int
    sha256: str  # hex of the trailer DIGEST (SHA-256 over the chunk digests), stored and matching

    def __str__(self):
        rows = [("key path", "dtype", "shape", "nbytes", "crc32")]
        rows += [(a.key, a.dtype, str(a.shape), str(a.nbytes), f"{a.crc32:08x}") for a in self.arrays]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = [f"{FORMAT_NAME} {self.version[0]}.{self.version[1]}, {self.file_length} bytes, "
                 f"trailer digest {self.sha256}", f"meta: {self.meta!r}"]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        return "\n".join(lines)


def _fmt(root, path):
    return root + "".join(f"[{k!r}]" for k in path)


# ---------------------------------------------------------------- writing


def _bigint_bytes(value):
    """Shortest big-endian two's-complement bytes of ``value`` (Java's toByteArray)."""
    magnitude = value if value >= 0 else ~value
    return value.to_bytes(magnitude.bit_length() // 8 + 1, "big", signed=True)


def _utf8(text, where):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise StructureError(f"{where}: strings must be valid UTF-8, found {describe(text)} ({exc.reason})") from None
    return str(text)


def _prepare_array(value, where):
    """Contiguous little-endian copy-or-view of ``value`` with a table dtype."""
    if isinstance(value, np.ma.MaskedArray):
        raise StructureError(f"{where}: masked arrays are not storable (the mask would be lost); "
                             "store .data and .mask as two arrays")
    arr = np.asarray(value)
    name = _NAME_OF.get(arr.dtype)
    if name is None:
        raise DTypeError(f"{where}: dtype {arr.dtype} is not storable; expected one of {', '.join(DTYPES)}")
    arr = np.asarray(arr, dtype=DTYPES[name], order="C")  # keeps 0-d (ascontiguousarray would not)
    if arr.nbytes > MAX_ARRAY_NBYTES:
        raise SizeError(f"{where}: array of {arr.nbytes} bytes exceeds the limit of {MAX_ARRAY_NBYTES} bytes "
                        "per array; split it into several arrays")
    if name == "bool" and arr.size and arr.view(np.uint8).max() > 1:
        # a bool byte other than 0/1 (from .view(bool)) is stored as True = 1
        arr = arr.view(np.uint8) != 0
    return arr


def _encode_value(value, root, path, depth, arrays, paths):
    """msgpack-ready copy of ``value``; arrays go to ``arrays`` (None: forbidden)."""
    if value is None or value is True or value is False:
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        where = _fmt(root, path)
        if arrays is None:
            raise StructureError(f"{where}: {root} is stored in the header and holds no arrays, "
                                 f"found {describe(value)}; put arrays in the tree")
        arrays.append(_prepare_array(value, where))
        paths.append(path)
        return msgpack.ExtType(EXT_ARRAY, (len(arrays) - 1).to_bytes(4, "big"))
    if isinstance(value, int):
        value = int(value)
        if _INT_MIN <= value < _INT_END:
            return value
        return msgpack.ExtType(EXT_BIGINT, _bigint_bytes(value))
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return _utf8(value, _fmt(root, path))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, msgpack.ExtType):  # a tuple subclass: test first
        raise StructureError(f"{_fmt(root, path)}: opaque ext value (type {value.code}) from a newer format "
                             "version cannot be re-written by this version")
    if isinstance(value, (dict, list, tuple)):
        if depth >= MAX_DEPTH:
            raise StructureError(f"{_fmt(root, path)}: nesting deeper than {MAX_DEPTH} containers "
                                 "(does a container hold itself?)")
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise StructureError(f"{_fmt(root, path)}: map keys must be str, found key {describe(key)}")
                key = _utf8(key, _fmt(root, path + (key,)))
                out[key] = _encode_value(item, root, path + (key,), depth + 1, arrays, paths)
            return out
        return [_encode_value(item, root, path + (i,), depth + 1, arrays, paths) for i, item in enumerate(value)]
    raise StructureError(f"{_fmt(root, path)}: unsupported type {type(value).__name__} ({describe(value)}); "
                         "expected None, bool, int, float, str, bytes, list, tuple, dict or a numpy array")


def _data_view(arr):
    """The bytes of a contiguous array as a flat uint8 array (no copy)."""
    return arr.reshape(-1).view(np.uint8)


def _encode(tree, meta):
    """Everything but the trailer, as a list of buffers, and the file length."""
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise InputError(f"meta: expected a dict with str keys or None, found {describe(meta)}")
    arrays, paths = [], []
    header = {
        "arrays": None,
        "meta": _encode_value(meta, "meta", (), 0, None, None),
        "tree": _encode_value(tree, "tree", (), 0, arrays, paths),
    }
    crcs = _crc32s([_data_view(a) for a in arrays])
    header["arrays"] = [
        {"dtype": _NAME_OF[a.dtype], "shape": list(a.shape), "crc32": crc} for a, crc in zip(arrays, crcs)
    ]
    head = msgpack.packb(header, use_bin_type=True, strict_types=True, datetime=False)
    if len(head) > MAX_HEADER_SIZE:
        raise SizeError(f"header: {len(head)} bytes exceeds the limit of {MAX_HEADER_SIZE} bytes; "
                        "store long lists of numbers as arrays")
    parts = [None, head]
    pos = PREAMBLE_SIZE + len(head)
    for arr in arrays:
        pad = -(pos + 7) % ALIGNMENT
        parts.append(b"\xc4" + bytes([pad]) + bytes(pad) + b"\xc6" + arr.nbytes.to_bytes(4, "big"))
        parts.append(_data_view(arr))
        pos += 7 + pad + arr.nbytes
    length = pos + TRAILER_SIZE
    parts[0] = (MAGIC + bytes([0x92, 0xCC, VERSION[0], 0xCC, VERSION[1]])
                + b"\xcf" + len(head).to_bytes(8, "big")
                + b"\xce" + zlib.crc32(head).to_bytes(4, "big")
                + b"\xcf" + length.to_bytes(8, "big"))
    return parts, length


def _sha256_of(pieces):
    sha = hashlib.sha256()
    for piece in pieces:
        sha.update(piece)
    return sha.digest()


class _Digest:
    """The trailer DIGEST of ``size`` bytes fed in order through :meth:`update`.

    DIGEST = SHA-256(SHA-256(chunk 0) || SHA-256(chunk 1) || ...) over the
    consecutive :data:`CHUNK`-byte chunks (docs/FORMAT.md section 3.3). Each
    chunk is hashed on a worker thread as soon as it is complete (hashlib
    releases the GIL), so hashing runs on several cores and overlaps the
    caller's reads or writes; a single-chunk input is hashed in the calling
    thread, where threads would only add overhead. The buffers fed are hashed
    in place: they must stay unchanged until :meth:`digest` returns.
    """

    def __init__(self, size):
        chunks = -(-size // CHUNK)
        workers = min(resolve_threads(), chunks) if chunks > 1 else 0
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="pinnlite-sha256") if workers else None
        self._done = []  # per chunk: its digest, or the future computing it
        self._pieces = []  # views making up the current, incomplete chunk
        self._filled = 0

    @property
    def threaded(self):
        return self._pool is not None

    def update(self, data):
        view = memoryview(data).cast("B")
        while view.nbytes:
            take = min(view.nbytes, CHUNK - self._filled)
            self._pieces.append(view[:take])
            self._filled += take
            view = view[take:]
            if self._filled == CHUNK:
                self._hash_chunk()

    def _hash_chunk(self):
        pieces, self._pieces, self._filled = self._pieces, [], 0
        if self._pool is None:
            self._done.append(_sha256_of(pieces))
        else:
            self._done.append(self._pool.submit(_sha256_of, pieces))

    def digest(self):
        """The 32-byte DIGEST of everything fed (the last chunk may be short)."""
        if self._filled:
            self._hash_chunk()
        digests = [d if type(d) is bytes else d.result() for d in self._done]
        self.close()
        return hashlib.sha256(b"".join(digests)).digest()

    def close(self):
        """Stop the workers; after an error, chunks not yet started are dropped."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def _digest_of(data):
    """The trailer DIGEST of a whole bytes-like object (hashed in place)."""
    digest = _Digest(memoryview(data).nbytes)
    try:
        digest.update(data)
        return digest.digest()
    finally:
        digest.close()


def _crc32s(buffers):
    """``zlib.crc32`` of each buffer; the large ones on worker threads.

    zlib releases the GIL, so CRCs of different arrays run on different cores;
    the small ones are computed in the calling thread meanwhile.
    """
    out = [None] * len(buffers)
    big = sorted((i for i, b in enumerate(buffers) if b.nbytes >= _CRC_THREAD_MIN), key=lambda i: -buffers[i].nbytes)
    workers = min(resolve_threads(), len(big)) if len(big) > 1 else 0
    if not workers:
        return [zlib.crc32(b) for b in buffers]
    with ThreadPoolExecutor(workers, thread_name_prefix="pinnlite-crc32") as pool:
        futures = {i: pool.submit(zlib.crc32, buffers[i]) for i in big}  # largest first: balanced finish
        for i, b in enumerate(buffers):
            if i not in futures:
                out[i] = zlib.crc32(b)
        for i, future in futures.items():
            out[i] = future.result()
    return out


def _emit(parts, write, length, sync=None):
    """Write ``parts`` and the trailer through ``write(buffer)``.

    ``sync()``, if given, is called once all of ``parts`` are written when
    worker threads hash them, so that flushing them to disk overlaps the
    hashing of the last chunks (a single-chunk file is hashed by then: no call).
    """
    digest = _Digest(length - TRAILER_SIZE)
    try:
        for part in parts:
            digest.update(part)
            write(part)
        if sync is not None and digest.threaded:
            sync()
        write(b"\xc4\x20" + digest.digest())
    finally:
        digest.close()


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
    parts, length = _encode(tree, meta)
    out = []
    _emit(parts, out.append, length)
    return b"".join(out)


def _write_all(write, data):
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
    _check_binary(fileobj)
    parts, length = _encode(tree, meta)
    _emit(parts, lambda b: _write_all(fileobj.write, b), length)


def _fsync_directory(directory):
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (PermissionError, IsADirectoryError, NotADirectoryError):
        return  # e.g. Windows, which has no directory handles here
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # filesystems without directory fsync
            raise
    finally:
        os.close(fd)


def save_file(path, tree, meta=None):
    """Atomically write the container of ``tree`` to ``path``.

    The data go to ``.<name>.tmp-<16 hex digits>`` in the same directory,
    which is written unbuffered, ``fsync``-ed, renamed onto ``path`` with ``os.replace``;
    then the directory is ``fsync``-ed. On any failure (encoding included) the
    temporary file is removed, ``path`` is left as it was and the exception is
    re-raised, so a crash never leaves a partial or missing checkpoint; after a
    power loss or SIGKILL a stale temporary file may remain (see
    :func:`clean_stale_temps`).

    Parameters
    ----------
    path : str or os.PathLike
        Target file; its directory must exist.
    tree, meta
        As in :func:`dumps`.
    """
    path = os.fsdecode(path)
    parts, length = _encode(tree, meta)  # encoding errors surface before any file is touched
    directory, name = os.path.split(os.path.abspath(path))
    temp = os.path.join(directory, f".{name[:200]}.tmp-{os.urandom(8).hex()}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(temp, flags, 0o666)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "cannot save the checkpoint: its directory does not exist",
                                directory) from None
    try:
        try:
            # a large body is flushed while its last chunks are hashed; the
            # second fsync then only has the 34-byte trailer to write
            _emit(parts, lambda b: _write_all(lambda v: os.write(fd, v), b), length, sync=lambda: os.fsync(fd))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_directory(directory)


def clean_stale_temps(directory):
    """Remove temporary files left by interrupted :func:`save_file` calls.

    Only regular files named ``.<name>.tmp-<16 lowercase hex digits>`` are
    removed. Call it when no other process is saving into ``directory``: a
    running save would lose its temporary file and fail (its target stays
    intact).

    Returns
    -------
    list of str
        The removed paths, sorted.
    """
    directory = os.fspath(directory)
    removed = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if TEMP_PATTERN.match(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(entry.path)
    return sorted(removed)


# ---------------------------------------------------------------- reading


class _ArrayRef:
    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


def _magic_hint(head):
    hints = (
        (b"\x93NUMPY", "a NumPy .npy file: use numpy.load"),
        (b"PK\x03\x04", "a ZIP archive (a NumPy .npz or a PyTorch checkpoint)"),
        (b"\x89HDF", "an HDF5 file"),
        (b"\x80", "a Python pickle, which pinnlite never reads (it can run code)"),
    )
    for prefix, text in hints:
        if head.startswith(prefix):
            return f"; it looks like {text}"
    if head.startswith(MAGIC[:20]) and head[20:23] == b"\n\x1a\n":
        return "; CR LF was converted to LF: the file was copied in text mode"
    return ""


def _parse_preamble(head, available):
    """(major, minor), H, header CRC, L from the first bytes; ``available`` = data length."""
    n = len(head)
    if n < len(MAGIC) or head[: len(MAGIC)] != MAGIC:
        if head == MAGIC[:n]:
            raise TruncatedError(f"data are only {available} bytes long, a checkpoint has at least "
                                 f"{MIN_FILE_SIZE} (empty file or interrupted copy?)")
        raise MagicError(f"not a {FORMAT_NAME} file: expected the magic bytes {MAGIC!r} at offset 0, "
                         f"found {bytes(head[:len(MAGIC)])!r}{_magic_hint(bytes(head))}")
    if n < 29:
        raise TruncatedError(f"data end at byte {available}, inside the version field (bytes 24-28)")
    if head[24] != 0x92 or head[25] != 0xCC or head[27] != 0xCC:
        raise StructureError(f"version field (bytes 24-28): expected 92 cc MAJOR cc MINOR, "
                             f"found {bytes(head[24:29]).hex(' ')}")
    version = (head[26], head[28])
    if version[0] != SUPPORTED_MAJOR:
        newer = " (written by a newer pinnlite: upgrade to read it)" if version[0] > SUPPORTED_MAJOR else ""
        raise VersionError(f"file format version {version[0]}.{version[1]} is not supported{newer}; this reader "
                           f"supports versions {SUPPORTED_MAJOR}.x and writes {VERSION[0]}.{VERSION[1]}")
    if n < PREAMBLE_SIZE:
        raise TruncatedError(f"data end at byte {available}, inside the preamble (bytes 0-{PREAMBLE_SIZE - 1})")
    for offset, marker, what in ((29, 0xCF, "header length"), (38, 0xCE, "header CRC-32"), (43, 0xCF, "file length")):
        if head[offset] != marker:
            raise StructureError(f"{what} field at byte {offset}: expected msgpack marker {marker:02x}, "
                                 f"found {head[offset]:02x}")
    hlen = int.from_bytes(head[30:38], "big")
    hcrc = int.from_bytes(head[39:43], "big")
    length = int.from_bytes(head[44:52], "big")
    if length < MIN_FILE_SIZE:
        raise StructureError(f"file length field (byte 43): {length} is below the minimum of {MIN_FILE_SIZE} bytes")
    return version, hlen, hcrc, length


def _check_lengths(available, hlen, length):
    if available < length:
        raise TruncatedError(f"checkpoint is truncated: {available} bytes, but its preamble declares {length} "
                             "(interrupted copy or download?); save_file never leaves partial files, so "
                             "restore this one from another copy")
    if available > length:
        raise TrailingDataError(f"{available - length} bytes follow the end of the checkpoint at byte {length} "
                                f"(data are {available} bytes: appended or concatenated files?); the first "
                                f"{length} bytes may be intact: check them with loads(data[:{length}])")
    if hlen > min(MAX_HEADER_SIZE, length - PREAMBLE_SIZE - TRAILER_SIZE):
        raise SizeError(f"header length field (byte 29): {hlen} bytes exceeds the {length}-byte file "
                        f"or the limit of {MAX_HEADER_SIZE} bytes")


def _pairs_hook(pairs):
    out = {}
    for key, value in pairs:
        if type(key) is not str:
            raise StructureError(f"header: map keys must be str, found key {describe(key)}")
        if key in out:
            raise StructureError(f"header: duplicate map key {key!r}")
        out[key] = value
    return out


def _ext_hook_for(newer_minor):
    def hook(code, data):
        if code == EXT_BIGINT:
            value = int.from_bytes(data, "big", signed=True)
            if _INT_MIN <= value < _INT_END or data != _bigint_bytes(value):
                raise StructureError(f"header: ext type 1 (big integer) holds {data.hex()!r}, not the shortest "
                                     "two's-complement form of an integer outside [-2**63, 2**64)")
            return value
        if code == EXT_ARRAY:
            if len(data) != 4:
                raise StructureError(f"header: ext type 2 (array reference) must hold 4 bytes, found {len(data)}")
            return _ArrayRef(int.from_bytes(data, "big"))
        if code < 0 or not newer_minor:
            raise StructureError(f"header: ext type {code} is not defined by format version "
                                 f"{VERSION[0]}.{VERSION[1]} and the file is not from a newer minor version")
        return msgpack.ExtType(code, data)

    return hook


def _unpack_header(view, newer_minor):
    limit = len(view)
    try:
        return msgpack.unpackb(
            view, raw=False, use_list=True, strict_map_key=False, timestamp=0,
            object_pairs_hook=_pairs_hook, ext_hook=_ext_hook_for(newer_minor),
            max_str_len=limit, max_bin_len=limit, max_array_len=limit, max_map_len=limit, max_ext_len=limit,
        )
    except CheckpointError:
        raise
    except msgpack.StackError:
        raise StructureError(f"header: nesting deeper than msgpack's stack (limit {MAX_DEPTH} containers)") from None
    except msgpack.ExtraData:
        raise StructureError(f"header: the msgpack value ends before the declared {limit} header bytes") from None
    except UnicodeDecodeError as exc:
        raise StructureError(f"header: a string is not valid UTF-8 ({exc.reason})") from None
    except ValueError as exc:
        if "exceeds max_" in str(exc) or "incomplete" in str(exc):
            raise SizeError(f"header: a msgpack length or count exceeds the {limit}-byte header ({exc})") from None
        raise StructureError(f"header: malformed msgpack in {limit} bytes ({exc or type(exc).__name__})") from None


def _walk(value, root, path, depth, refs):
    """Check nesting and leaves in place; record (index, path, container, key) of array refs."""
    items = value.items() if type(value) is dict else enumerate(value)
    for key, item in items:
        kind = type(item)
        if kind is dict or kind is list:
            if depth + 1 >= MAX_DEPTH:
                raise StructureError(f"{_fmt(root, path + (key,))}: nesting deeper than {MAX_DEPTH} containers")
            _walk(item, root, path + (key,), depth + 1, refs)
        elif kind is _ArrayRef:
            if refs is None:
                raise StructureError(f"{_fmt(root, path + (key,))}: array reference outside the tree")
            refs.append((item.index, path + (key,), value, key))
        elif kind is msgpack.Timestamp:
            raise StructureError(f"{_fmt(root, path + (key,))}: msgpack timestamp (ext -1) is not allowed")


def _check_entry(i, entry, newer_minor):
    where = f"header['arrays'][{i}]"
    if type(entry) is not dict:
        raise StructureError(f"{where}: expected a map, found {describe(entry)}")
    for field in _ENTRY_FIELDS:
        if field not in entry:
            raise StructureError(f"{where}: missing field {field!r}")
    if not newer_minor and len(entry) != len(_ENTRY_FIELDS):
        raise StructureError(f"{where}: unknown fields {sorted(set(entry) - set(_ENTRY_FIELDS))}")
    name, shape, crc = entry["dtype"], entry["shape"], entry["crc32"]
    if type(name) is not str:
        raise StructureError(f"{where}['dtype']: expected a str, found {describe(name)}")
    if name not in DTYPES:
        raise DTypeError(f"{where}['dtype']: {name!r} is not one of {', '.join(DTYPES)}")
    if type(shape) is not list or len(shape) > MAX_NDIM or any(type(d) is not int or d < 0 for d in shape):
        raise StructureError(f"{where}['shape']: expected a list of at most {MAX_NDIM} non-negative ints, "
                             f"found {describe(shape)}")
    if type(crc) is not int or not 0 <= crc < 2**32:
        raise StructureError(f"{where}['crc32']: expected an int in [0, 2**32), found {describe(crc)}")
    nbytes = DTYPES[name].itemsize
    for d in shape:
        nbytes *= d
    return name, tuple(shape), nbytes, crc


def _read_structure(buf, version, hlen, length):
    """Parse and validate header and layout (no checksums); returns the pieces."""
    newer_minor = version[1] > VERSION[1]
    header = _unpack_header(memoryview(buf[PREAMBLE_SIZE:PREAMBLE_SIZE + hlen]), newer_minor)
    if type(header) is not dict:
        raise StructureError(f"header: expected a msgpack map, found {describe(header)}")
    for field in _HEADER_FIELDS:
        if field not in header:
            raise StructureError(f"header: missing field {field!r}")
    extra = {k: v for k, v in header.items() if k not in _HEADER_FIELDS}
    if extra and not newer_minor:
        raise StructureError(f"header: unknown fields {sorted(extra)} in a version {version[0]}.{version[1]} file")
    entries, meta = header["arrays"], header["meta"]
    if type(entries) is not list:
        raise StructureError(f"header['arrays']: expected a list, found {describe(entries)}")
    if type(meta) is not dict:
        raise StructureError(f"header['meta']: expected a map, found {describe(meta)}")
    _walk(meta, "meta", (), 0, None)
    _walk(extra, "header", (), -1, None)
    box = [header["tree"]]  # the root may itself be an array or a container
    refs = []
    root = box[0]
    if type(root) is dict or type(root) is list:
        _walk(root, "tree", (), 0, refs)
    elif type(root) is _ArrayRef:
        refs.append((root.index, (), box, 0))
    elif type(root) is msgpack.Timestamp:
        raise StructureError("tree: msgpack timestamp (ext -1) is not allowed")

    paths = [None] * len(entries)
    for index, path, _, _ in refs:
        if index >= len(entries):
            raise StructureError(f"{_fmt('tree', path)}: array reference {index} but the table has "
                                 f"{len(entries)} entries")
        if paths[index] is not None:
            raise StructureError(f"{_fmt('tree', path)}: array {index} is already referenced at "
                                 f"{_fmt('tree', paths[index])}")
        paths[index] = path
    for index, path in enumerate(paths):
        if path is None:
            raise StructureError(f"header['arrays'][{index}] is not referenced from the tree")

    infos = []
    pos = PREAMBLE_SIZE + hlen
    end = length - TRAILER_SIZE
    for i, entry in enumerate(entries):
        name, shape, nbytes, crc = _check_entry(i, entry, newer_minor)
        where = _fmt("tree", paths[i])
        pad = -(pos + 7) % ALIGNMENT
        data = pos + 7 + pad
        if nbytes > MAX_ARRAY_NBYTES or data + nbytes > end:
            raise SizeError(f"{where}: {name} array of shape {shape} claims {nbytes} bytes at offset {data}, "
                            f"past the end of the array sections at byte {end} (or the {MAX_ARRAY_NBYTES}-byte limit)")
        if buf[pos] != 0xC4 or buf[pos + 1] != pad or buf[pos + 2:pos + 2 + pad].any():
            raise StructureError(f"{where}: padding at offset {pos} must be c4 {pad:02x} and {pad} zero bytes")
        if buf[pos + 2 + pad] != 0xC6 or int.from_bytes(buf[pos + 3 + pad:data], "big") != nbytes:
            raise StructureError(f"{where}: data at offset {pos + 2 + pad} must start with c6 "
                                 f"{nbytes.to_bytes(4, 'big').hex(' ')} (bin32 of {nbytes} bytes)")
        infos.append(ArrayInfo(paths[i], name, shape, nbytes, crc, data))
        pos = data + nbytes
    if pos != end:
        raise StructureError(f"array sections end at byte {pos}, but the trailer starts at byte {end}")
    return box, meta, extra, infos, refs


def _diagnose(buf, version, hlen, hcrc, length):
    """Raise the ChecksumError that names what is damaged (the trailer digest failed)."""
    head = "trailer digest mismatch: the checkpoint is damaged"
    if zlib.crc32(buf[PREAMBLE_SIZE:PREAMBLE_SIZE + hlen]) != hcrc:
        raise ChecksumError(f"{head} in the header (bytes {PREAMBLE_SIZE}-{PREAMBLE_SIZE + hlen - 1}, "
                            "CRC-32 mismatch); restore it from another copy", damaged=("header",))
    try:
        infos = _read_structure(buf, version, hlen, length)[3]
    except CheckpointError as exc:
        raise ChecksumError(f"{head}; the array layout is unreadable: {exc}", damaged=("layout",)) from None
    bad = [a.key for a in infos if zlib.crc32(buf[a.offset:a.offset + a.nbytes]) != a.crc32]
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise ChecksumError(f"{head} in {len(bad)} array(s) (CRC-32 mismatch): {shown}", damaged=bad)
    raise ChecksumError(f"{head}, but the header and every array match their CRC-32: the damage is in the "
                        f"preamble or the trailer (last {TRAILER_SIZE} bytes)", damaged=("trailer",))


def _decode(buf, check_crcs=False, digest=None):
    """Container (and digest) from a 64-byte aligned, writeable uint8 buffer.

    ``digest``: the DIGEST of ``buf[:L-34]`` if the caller already computed it.
    """
    available = buf.size
    version, hlen, hcrc, length = _parse_preamble(buf[:PREAMBLE_SIZE].tobytes(), available)
    _check_lengths(available, hlen, length)
    if buf[length - TRAILER_SIZE] != 0xC4 or buf[length - TRAILER_SIZE + 1] != 0x20:
        raise ChecksumError(f"trailer at byte {length - TRAILER_SIZE}: expected c4 20 + the 32-byte digest, found "
                            f"{buf[length - TRAILER_SIZE:length - TRAILER_SIZE + 2].tobytes().hex(' ')}",
                            damaged=("trailer",))
    if digest is None:
        digest = _digest_of(buf[:length - TRAILER_SIZE])
    if digest != buf[length - 32:length].tobytes():
        _diagnose(buf, version, hlen, hcrc, length)
    box, meta, extra, infos, refs = _read_structure(buf, version, hlen, length)
    datas = [buf[info.offset:info.offset + info.nbytes] for info in infos]
    crcs = _crc32s(datas) if check_crcs else None
    arrays = []
    for i, (info, data) in enumerate(zip(infos, datas)):
        if info.dtype == "bool" and data.size and data.max() > 1:
            raise StructureError(f"{info.key}: bool array holds bytes other than 0 and 1")
        if check_crcs and crcs[i] != info.crc32:
            raise ChecksumError(f"{info.key}: stored CRC-32 {info.crc32:08x} does not match the data "
                                f"({crcs[i]:08x}) although the trailer digest matches: the writer stored "
                                "a wrong CRC", damaged=(info.key,))
        arrays.append(data.view(DTYPES[info.dtype]).reshape(info.shape))
    for index, _, holder, key in refs:
        holder[key] = arrays[index]
    container = Container(tree=box[0], meta=meta, version=version, extra=extra, arrays=tuple(infos))
    return container, digest


def _aligned_empty(n):
    raw = np.empty(n + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + n]


def _readinto(fileobj, view):
    """Fill ``view`` from ``fileobj`` until full or end of data; bytes read."""
    readinto = getattr(fileobj, "readinto", None)
    got = 0
    while got < len(view):
        if readinto is not None:
            n = readinto(view[got:])
        else:
            chunk = fileobj.read(len(view) - got)
            n = None if chunk is None else len(chunk)
            if n:
                view[got:got + n] = chunk
        if n is None:
            raise BlockingIOError(f"fileobj: a non-blocking stream had no data after {got} bytes; "
                                  "pass a blocking stream")
        if n == 0:
            break
        got += n
    return got


def _stream_size(fileobj):
    """Bytes from the current position to the end, or None if not seekable."""
    try:
        if not fileobj.seekable():
            return None
        start = fileobj.tell()
        end = fileobj.seek(0, os.SEEK_END)
        fileobj.seek(start)
    except (AttributeError, OSError):
        return None
    return end - start


def _read_stream(fileobj):
    """The container's bytes in an aligned buffer, never allocating past the data."""
    size = _stream_size(fileobj)
    head = bytearray(PREAMBLE_SIZE)
    got = _readinto(fileobj, memoryview(head))
    available = size if size is not None else got
    version, hlen, hcrc, length = _parse_preamble(bytes(head[:got]), available)
    digest = None
    if size is not None:
        _check_lengths(size, hlen, length)
        buf = _aligned_empty(length)
        buf[:PREAMBLE_SIZE] = np.frombuffer(head, np.uint8)
        body = length - TRAILER_SIZE
        hasher = _Digest(body)
        try:
            # read up to each chunk boundary, so that workers hash every chunk
            # while the next ones are read
            hashed = 0
            while got < length:
                n = _readinto(fileobj, memoryview(buf[got:min(length, (got // CHUNK + 1) * CHUNK)]))
                if n == 0:
                    break
                got += n
                end = min(got, body)
                if end > hashed:
                    hasher.update(buf[hashed:end])
                    hashed = end
            if got == length:
                digest = hasher.digest()
        finally:
            hasher.close()
    else:
        # unknown size: grow geometrically so a false length cannot make us allocate much
        cap = min(length, 1 << 24)
        buf = _aligned_empty(cap)
        buf[:PREAMBLE_SIZE] = np.frombuffer(head, np.uint8)
        while True:
            got += _readinto(fileobj, memoryview(buf[got:]))
            if got < cap or cap == length:
                break
            cap = min(length, cap * 4)
            bigger = _aligned_empty(cap)
            bigger[:got] = buf[:got]
            buf = bigger
    if got < length:
        _check_lengths(got, hlen, length)
    if size is None and fileobj.read(1):
        raise TrailingDataError(f"the stream continues after the end of the checkpoint at byte {length}")
    return buf[:got], digest


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
    return _decode(_private_copy(data))[0]


def _private_copy(data):
    try:
        view = memoryview(data).cast("B")
    except TypeError:
        raise InputError(f"data: expected bytes, bytearray or a C-contiguous memoryview, "
                         f"found {describe(data)}") from None
    buf = _aligned_empty(view.nbytes)
    buf[:] = np.frombuffer(view, np.uint8)
    return buf


def load(fileobj):
    """Decode a container from a binary file object (file, BytesIO, socket file).

    Reads from the current position to the end of the stream, which must be
    the end of the container (:class:`TrailingDataError` otherwise). Data are
    read straight into a private aligned buffer (no further copy).
    """
    _check_binary(fileobj)
    buf, digest = _read_stream(fileobj)
    return _decode(buf, digest=digest)[0]


def _check_binary(fileobj):
    if isinstance(fileobj, io.TextIOBase):
        raise InputError(f"fileobj: expected a binary file object, found text stream {describe(fileobj)}; "
                         "open the file with mode 'rb' / 'wb'")


def _open(path):
    path = os.fsdecode(path)
    try:
        return open(path, "rb", buffering=0)
    except FileNotFoundError:
        directory, name = os.path.split(os.path.abspath(path))
        stale = []
        with contextlib.suppress(OSError):
            prefix = f".{name[:200]}.tmp-"
            stale = sorted(f for f in os.listdir(directory) if f.startswith(prefix) and TEMP_PATTERN.match(f))
        hint = f"; temporary files of interrupted saves exist: {stale}" if stale else ""
        raise MissingFileError(errno.ENOENT, f"checkpoint file not found (check the path){hint}", path) from None


def load_file(path):
    """Decode the container stored at ``path``; see :func:`load`.

    Raises
    ------
    MissingFileError
        ``path`` does not exist (also a FileNotFoundError).
    CheckpointError
        The specific subclass for any other problem with the file.
    """
    with _open(path) as fileobj:
        buf, digest = _read_stream(fileobj)
    return _decode(buf, digest=digest)[0]


def read(path):
    """The tree stored at ``path`` (``load_file(path).tree``)."""
    return load_file(path).tree


def verify(path_or_bytes):
    """Check everything, including every array's CRC-32, and describe the file.

    Parameters
    ----------
    path_or_bytes : str, os.PathLike, bytes, bytearray or memoryview

    Returns
    -------
    VerifyReport
        Version, meta and the array table (key path, dtype, shape, nbytes,
        crc32); ``str(report)`` renders it as text.

    Raises
    ------
    CheckpointError
        The specific subclass for the first problem found.
    """
    digest = None
    if isinstance(path_or_bytes, (str, os.PathLike)):
        with _open(path_or_bytes) as fileobj:
            buf, digest = _read_stream(fileobj)
    else:
        buf = _private_copy(path_or_bytes)
    container, digest = _decode(buf, check_crcs=True, digest=digest)
    return VerifyReport(version=container.version, meta=container.meta, extra=container.extra,
                        arrays=container.arrays, file_length=buf.size, sha256=digest.hex())
