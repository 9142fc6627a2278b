"""Encoding a tree as a container (``docs/FORMAT.md`` sections 3 to 5).

:func:`encode` turns a tree and its meta into the buffers of the file but the
trailer, checking every value before anything is written; :func:`emit` writes
them and the trailer through any ``write(buffer)``. Arrays are never copied
unless they must be converted (byte order, layout, stray bool bytes).
"""

import zlib

import msgpack
import numpy as np

from pinnlite.errors import InputError, describe
from pinnlite.io.errors import DTypeError, SizeError, StructureError
from pinnlite.io.hashing import Digest, crc32s
from pinnlite.io.spec import (
    ALIGNMENT,
    DTYPES,
    EXT_ARRAY,
    EXT_BIGINT,
    INT_END,
    INT_MIN,
    MAGIC,
    MAX_ARRAY_NBYTES,
    MAX_DEPTH,
    MAX_HEADER_SIZE,
    NAME_OF,
    PREAMBLE_SIZE,
    TRAILER_SIZE,
    VERSION,
    bigint_bytes,
    key_path,
)


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
    name = NAME_OF.get(arr.dtype)
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
        where = key_path(root, path)
        if arrays is None:
            raise StructureError(f"{where}: {root} is stored in the header and holds no arrays, "
                                 f"found {describe(value)}; put arrays in the tree")
        arrays.append(_prepare_array(value, where))
        paths.append(path)
        return msgpack.ExtType(EXT_ARRAY, (len(arrays) - 1).to_bytes(4, "big"))
    if isinstance(value, int):
        value = int(value)
        if INT_MIN <= value < INT_END:
            return value
        return msgpack.ExtType(EXT_BIGINT, bigint_bytes(value))
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return _utf8(value, key_path(root, path))
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
                key = _utf8(key, key_path(root, path + (key,)))
                out[key] = _encode_value(item, root, path + (key,), depth + 1, arrays, paths)
            return out
        return [_encode_value(item, root, path + (i,), depth + 1, arrays, paths) for i, item in enumerate(value)]
    raise StructureError(f"{key_path(root, path)}: unsupported type {type(value).__name__} ({describe(value)}); "
                         "expected None, bool, int, float, str, bytes, list, tuple, dict or a numpy array")


def _data_view(arr):
    """The bytes of a contiguous array as a flat uint8 array (no copy)."""
    return arr.reshape(-1).view(np.uint8)


def encode(tree, meta):
    """Everything but the trailer, as a list of buffers, and the file length L.

    Raises the :class:`~pinnlite.io.errors.CheckpointError` subclass naming the
    first value that cannot be stored, or :class:`InputError` for a ``meta``
    that is not a dict.
    """
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
    crcs = crc32s([_data_view(a) for a in arrays])
    header["arrays"] = [
        {"dtype": NAME_OF[a.dtype], "shape": list(a.shape), "crc32": crc} for a, crc in zip(arrays, crcs)
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


def emit(parts, write, length, sync=None):
    """Write ``parts`` (from :func:`encode`) and the trailer through ``write(buffer)``.

    ``sync()``, if given, is called once all of ``parts`` are written when
    worker threads hash them, so that flushing them to disk overlaps the
    hashing of the last chunks (a single-chunk file is hashed by then: no call).
    """
    digest = Digest(length - TRAILER_SIZE)
    try:
        for part in parts:
            digest.update(part)
            write(part)
        if sync is not None and digest.threaded:
            sync()
        write(b"\xc4\x20" + digest.digest())
    finally:
        digest.close()
