"""Encoding a tree as a version 2.0 container (``docs/FORMAT.md`` sections 3 to 5).

:func:`encode` checks every value and lays the file out before anything is
written: the header holds no checksums, so the whole head, and every array's
offset, is known up front. :func:`emit` then writes the file in order through
any ``write(buffer)``, reading each array once: piece by piece, its CRC-32 is
computed in the calling thread and the file's SHA-256 on a worker thread while
the piece is written. Arrays are never copied unless they must be converted
(byte order, layout, stray bool bytes); small pieces are gathered into one
buffer so that a small file takes a single ``write``.
"""

import hashlib
import zlib

import msgpack
import numpy as np

from pinnlite.core.cpus import resolve_threads
from pinnlite.errors import InputError, describe
from pinnlite.io.errors import DTypeError, SizeError, StructureError
from pinnlite.io.hashing import CRCs, PIECE, FileDigest
from pinnlite.io.header import scan
from pinnlite.io.spec import (
    CRC_FIELD,
    DTYPES,
    EXT_ARRAY,
    EXT_BIGINT,
    HEAD_OVERHEAD,
    INT_END,
    INT_MIN,
    MAGIC,
    MAX_ARRAY_NBYTES,
    MAX_DEPTH,
    MAX_HEADER_SIZE,
    MAX_HEADER_VALUES,
    NAME_OF,
    SECTION_PREFIX,
    TRAILER_SIZE,
    VERSION,
    bigint_bytes,
    key_path,
    section_layout,
)


def _utf8(text, root, path):
    """``text`` as a plain str, checked to encode as UTF-8 (no lone surrogates); the key path only on failure."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise StructureError(f"{key_path(root, path)}: strings must be valid UTF-8, found {describe(text)} "
                                 f"({exc.reason})") from None
    return str(text)


def _prepare_array(value, root, path):
    """Contiguous little-endian copy-or-view of ``value`` with a table dtype."""
    if isinstance(value, np.ma.MaskedArray):
        raise StructureError(f"{key_path(root, path)}: masked arrays are not storable (the mask would be lost); "
                             "store .data and .mask as two arrays")
    arr = np.asarray(value)
    name = NAME_OF.get(arr.dtype)
    if name is None:
        raise DTypeError(f"{key_path(root, path)}: dtype {arr.dtype} is not storable; "
                         f"expected one of {', '.join(DTYPES)}")
    arr = np.asarray(arr, dtype=DTYPES[name], order="C")  # keeps 0-d (ascontiguousarray would not)
    if arr.nbytes > MAX_ARRAY_NBYTES:
        raise SizeError(f"{key_path(root, path)}: array of {arr.nbytes} bytes exceeds the limit of "
                        f"{MAX_ARRAY_NBYTES} bytes per array; split it into several arrays")
    if name == "bool" and arr.size and arr.view(np.uint8).max() > 1:
        # a bool byte other than 0/1 (from .view(bool)) is stored as True = 1
        arr = arr.view(np.uint8) != 0
    return arr


def _encode_value(value, root, path, depth, arrays):
    """msgpack-ready copy of ``value``; arrays go to ``arrays`` (None: forbidden)."""
    kind = type(value)
    if value is None or value is True or value is False or kind is float:
        return value
    if kind is str:
        return _utf8(value, root, path)
    if kind is int and INT_MIN <= value < INT_END:
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        if arrays is None:
            raise StructureError(f"{key_path(root, path)}: {root} is stored in the header and holds no arrays, "
                                 f"found {describe(value)}; put arrays in the tree")
        arrays.append(_prepare_array(value, root, path))
        return msgpack.ExtType(EXT_ARRAY, (len(arrays) - 1).to_bytes(4, "big"))
    if isinstance(value, int):
        value = int(value)
        if INT_MIN <= value < INT_END:
            return value
        return msgpack.ExtType(EXT_BIGINT, bigint_bytes(value))
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return _utf8(value, root, path)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, msgpack.ExtType):  # a tuple subclass: test first
        raise StructureError(f"{key_path(root, path)}: opaque ext value (type {value.code}) from a newer format "
                             "version cannot be re-written by this version")
    if isinstance(value, (dict, list, tuple)):
        if depth >= MAX_DEPTH:
            raise StructureError(f"{key_path(root, path)}: nesting deeper than {MAX_DEPTH} containers "
                                 "(does a container hold itself?)")
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    raise StructureError(f"{key_path(root, path)}: map keys must be str, found key {describe(key)}")
                key = _utf8(key, root, path + (key,))
                out[key] = _encode_value(item, root, path + (key,), depth + 1, arrays)
            return out
        return [_encode_value(item, root, path + (i,), depth + 1, arrays) for i, item in enumerate(value)]
    raise StructureError(f"{key_path(root, path)}: unsupported type {type(value).__name__} ({describe(value)}); "
                         "expected None, bool, int, float, str, bytes, list, tuple, dict or a numpy array")


def _data_view(arr):
    """The bytes of a contiguous array as a flat uint8 array (no copy)."""
    return arr.reshape(-1).view(np.uint8)


class Plan:
    """A checked, laid-out file: the head, the arrays and their sections.

    ``length`` is L; ``start`` the offset of the first array section (the
    head's length); ``sections[i]`` the (section, data) offsets of array i.
    """

    def __init__(self, tree, meta):
        if meta is None:
            meta = {}
        if not isinstance(meta, dict):
            raise InputError(f"meta: expected a dict with str keys or None, found {describe(meta)}")
        self.arrays = []
        header = {
            "arrays": None,
            "meta": _encode_value(meta, "meta", (), 0, None),
            "tree": _encode_value(tree, "tree", (), 0, self.arrays),
        }
        header["arrays"] = [{"dtype": NAME_OF[a.dtype], "shape": list(a.shape)} for a in self.arrays]
        packed = msgpack.packb(header, use_bin_type=True, strict_types=True, datetime=False)
        if len(packed) > MAX_HEADER_SIZE:
            raise SizeError(f"header: {len(packed)} bytes exceeds the limit of {MAX_HEADER_SIZE} bytes; "
                            "store long lists of numbers and long byte strings as arrays")
        if len(packed) > MAX_HEADER_VALUES:  # shorter headers cannot hold more values than that
            scan(packed)  # the limit on values, the same check as the readers'
        self.hlen = len(packed)
        self.start = HEAD_OVERHEAD + self.hlen
        self.sections, end = section_layout(self.start, [a.nbytes for a in self.arrays])
        self.length = end + TRAILER_SIZE
        top = (MAGIC + bytes([0x92, 0xCC, VERSION[0], 0xCC, VERSION[1]])
               + b"\xcf" + self.hlen.to_bytes(8, "big") + b"\xcf" + self.length.to_bytes(8, "big") + packed)
        self.head = top + b"\xc4\x20" + hashlib.sha256(top).digest()

    @property
    def nbytes(self):
        """The bytes of array data."""
        return sum(a.nbytes for a in self.arrays)

    def sections_of(self):
        """``(section prefix, data)`` of each array, in file order: PAD and bin32 header, then the flat uint8 data."""
        for arr, (section, data) in zip(self.arrays, self.sections):
            pad = data - section - SECTION_PREFIX
            yield b"\xc4" + bytes([pad]) + bytes(pad) + b"\xc6" + arr.nbytes.to_bytes(4, "big"), _data_view(arr)


def encode(tree, meta):
    """The :class:`Plan` of ``tree`` and ``meta``.

    Raises the :class:`~pinnlite.io.errors.CheckpointError` subclass naming the
    first value that cannot be stored, or :class:`InputError` for a ``meta``
    that is not a dict.
    """
    return Plan(tree, meta)


_FLUSH_EVERY = 8 << 20  # emit asks for the disk to start writing after this many bytes


class _Gather:
    """Small writes gathered into one buffer; large pieces go through directly (after what is gathered)."""

    def __init__(self, write):
        self._write = write
        self._buf = bytearray()

    def __call__(self, data):
        if len(data) < PIECE // 4:
            self._buf += memoryview(data)  # not data: a NumPy array would add elementwise
            if len(self._buf) >= PIECE:
                self.flush()
        else:
            self.flush()
            self._write(data)

    def flush(self):
        if self._buf:
            self._write(self._buf)
            self._buf = bytearray()


def emit(plan, write, sync=None):
    """Write the file of ``plan`` in order through ``write(buffer)``; return its 32-byte file digest.

    Each piece of an array is handed to the SHA-256 worker, then its CRC-32
    is computed (here with two threads, :func:`pinnlite.core.cpus.resolve_threads`,
    else on workers), then it is written, so the three read it while it is
    in cache. ``sync()``, if given, starts writing what is written to disk
    without waiting (:func:`pinnlite.io.atomic.write_file`); it is called
    after every 8 MiB and once all but the file digest is written, so that
    the disk writes while the rest is hashed and written. A file of a few
    pieces is hashed in this thread, without workers.
    """
    out = _Gather(write)
    large = plan.length > 4 * PIECE
    flushed = 0
    # two cores: this thread computes the CRC-32s and writes, the worker hashes, about equal shares;
    # with more, the CRC-32s go to workers of their own
    inline = not large or resolve_threads() <= 2
    with FileDigest(threaded=large) as sha, CRCs(plan.nbytes, threaded=not inline) as crcs:
        sha.update(plan.head)
        out(plan.head)
        for i, ((prefix, data), (section, _)) in enumerate(zip(plan.sections_of(), plan.sections)):
            sha.update(prefix)
            out(prefix)
            crc = 0
            for start in range(0, len(data), PIECE):
                piece = data[start:start + PIECE]
                sha.update(piece)
                if inline:
                    crc = zlib.crc32(piece, crc)
                else:
                    crcs.add(i, piece)
                out(piece)
                if sync is not None and section + start - flushed >= _FLUSH_EVERY:
                    sync()
                    flushed = section + start
            if not inline:
                crc = crcs.result(i)
            field = CRC_FIELD + crc.to_bytes(4, "big")
            sha.update(field)
            out(field)
        sha.update(b"\xc4\x20")
        if sync is not None and large:
            out.flush()
            sync()
        digest = sha.digest()
    out(b"\xc4\x20" + digest)
    out.flush()
    return digest
