"""Decoding and checking a container header: ``docs/FORMAT.md`` sections 4 and 7, section 8 step 6.

Both major versions share this code (their array entries differ, appendix A).
A header is decoded only once it is known to hold at most
:data:`~pinnlite.io.spec.MAX_HEADER_VALUES` msgpack values, so that decoding
it allocates at most about 160 bytes per value plus the string and byte
contents (section 7). Every value takes at least one byte, so a header of at
most that many bytes passes unseen; a longer one is first walked by
:func:`scan`, which counts its values without building any. When msgpack
refuses a header, :func:`scan` also names the problem (a length beyond the
header, a value cut off, deep nesting, bytes left over).
"""

from dataclasses import dataclass

import msgpack

from pinnlite.errors import describe
from pinnlite.io.errors import CheckpointError, DTypeError, SizeError, StructureError
from pinnlite.io.spec import (
    DTYPES,
    ENTRY_FIELDS,
    EXT_ARRAY,
    EXT_BIGINT,
    HEADER_FIELDS,
    INT_END,
    INT_MIN,
    MAX_ARRAY_NBYTES,
    MAX_DEPTH,
    MAX_HEADER_VALUES,
    MAX_NDIM,
    V1_ENTRY_FIELDS,
    VERSION,
    bigint_bytes,
    key_path,
    shape_bytes,
)


def _marker_table():
    """For each msgpack marker byte: (bytes to skip, width of its length field, items it opens), None for c1.

    https://github.com/msgpack/msgpack/blob/master/spec.md. With a length
    field, the items are ``length * items`` (array: 1, map: 2 per entry), or
    if ``items`` is 0 the length counts bytes to skip after the ``skip`` ones
    (ext: its type byte). Without one, ``items`` is the count itself (fixmap,
    fixarray).
    """
    table = [None] * 256
    for m in range(256):
        if m < 0x80 or m >= 0xE0:  # positive and negative fixint
            table[m] = (0, 0, 0)
        elif m < 0x90:  # fixmap
            table[m] = (0, 0, 2 * (m & 0x0F))
        elif m < 0xA0:  # fixarray
            table[m] = (0, 0, m & 0x0F)
        elif m < 0xC0:  # fixstr
            table[m] = (m & 0x1F, 0, 0)
    fixed = {0xC0: 0, 0xC2: 0, 0xC3: 0, 0xCA: 4, 0xCB: 8, 0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8,
             0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8, 0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17}
    for m, size in fixed.items():
        table[m] = (size, 0, 0)
    for m, width in {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}.items():  # bin, str
        table[m] = (0, width, 0)
    for m, width in {0xC7: 1, 0xC8: 2, 0xC9: 4}.items():  # ext: the length, then a type byte
        table[m] = (1, width, 0)
    for m, (width, per) in {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}.items():  # array, map
        table[m] = (0, width, per)
    return table


_MARKERS = _marker_table()
# the header map, an array entry and its shape lie above the 64 levels of tree and meta;
# deeper nesting is left to _walk(), whose message names the path
_SCAN_DEPTH = MAX_DEPTH + 3


def scan(view, max_values=MAX_HEADER_VALUES):
    """Check that ``view`` holds exactly one msgpack value within the limits of section 7; build nothing.

    Every msgpack object counts as one value (a map entry as two, a container
    as one besides its items). Raises :class:`SizeError` for more than
    ``max_values`` values or a length or count that cannot fit in the header,
    :class:`StructureError` for a malformed or cut-off value, deep nesting, or
    bytes left after the value. Returns the number of values.
    """
    n = len(view)
    pos = values = 0
    pending = [1]  # values still to read in each open container, innermost last
    markers = _MARKERS
    while pending:
        if not pending[-1]:
            pending.pop()
            continue
        pending[-1] -= 1
        if pos >= n:
            raise StructureError(f"header: a msgpack value is cut off by the end of the {n}-byte header")
        values += 1
        if values > max_values:
            raise SizeError(f"header: more than {max_values} msgpack values (limit of the format); "
                            "store long lists of numbers as arrays")
        entry = markers[view[pos]]
        if entry is None:  # 0xc1, the one byte msgpack never uses
            raise StructureError(f"header: malformed msgpack, byte c1 at offset {pos}")
        pos += 1
        skip, width, count = entry
        if width:
            if pos + width > n:
                raise StructureError(f"header: a msgpack value is cut off by the end of the {n}-byte header")
            length = int.from_bytes(view[pos:pos + width], "big")
            pos += width
            if count:
                count *= length
            else:
                pos += length + skip
        else:
            pos += skip
        if pos > n or count > n - pos:  # every item takes at least one byte
            raise SizeError(f"header: a msgpack length or count at offset {pos} exceeds the {n}-byte header")
        if count:
            if len(pending) >= _SCAN_DEPTH:
                raise StructureError(f"header: nesting deeper than {MAX_DEPTH} containers")
            pending.append(count)
    if pos != n:
        raise StructureError(f"header: the msgpack value ends at byte {pos}, before the declared {n} header bytes")
    return values


class ArrayRef:
    """An ext type 2 value: the index of an entry of ``header["arrays"]``."""

    __slots__ = ("index",)

    def __init__(self, index):
        self.index = index


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
            if INT_MIN <= value < INT_END or data != bigint_bytes(value):
                shown = data[:16].hex() + ("..." if len(data) > 16 else "")
                raise StructureError(f"header: ext type 1 (big integer) holds {len(data)} bytes {shown}, not the "
                                     "shortest two's-complement form of an integer outside [-2**63, 2**64)")
            return value
        if code == EXT_ARRAY:
            if len(data) != 4:
                raise StructureError(f"header: ext type 2 (array reference) must hold 4 bytes, found {len(data)}")
            return ArrayRef(int.from_bytes(data, "big"))
        if code < 0 or not newer_minor:
            raise StructureError(f"header: ext type {code} is not defined by this format version "
                                 "and the file is not from a newer minor version")
        return msgpack.ExtType(code, data)

    return hook


def _unpack(view, newer_minor):
    """The one msgpack value in ``view``, decoded within the limits of section 7."""
    limit = len(view)
    if limit > MAX_HEADER_VALUES:  # it may hold more values than allowed: count them first
        scan(view)
    try:
        return msgpack.unpackb(
            view, raw=False, use_list=True, strict_map_key=False, timestamp=0,
            object_pairs_hook=_pairs_hook, ext_hook=_ext_hook_for(newer_minor),
            max_str_len=limit, max_bin_len=limit, max_array_len=limit, max_map_len=limit, max_ext_len=limit,
        )
    except CheckpointError:
        raise
    except UnicodeDecodeError as exc:
        raise StructureError(f"header: a string is not valid UTF-8 ({exc.reason})") from None
    except ValueError as exc:  # msgpack's errors, its StackError included
        scan(view)  # raises the error that names the problem
        raise StructureError(f"header: malformed msgpack in {limit} bytes ({exc or type(exc).__name__})") from None


def _walk(value, root, path, depth, refs):
    """Check nesting and leaves in place; record (index, path, container, key) of array refs."""
    items = value.items() if type(value) is dict else enumerate(value)
    for key, item in items:
        kind = type(item)
        if kind is dict or kind is list:
            if depth + 1 >= MAX_DEPTH:
                raise StructureError(f"{key_path(root, path + (key,))}: nesting deeper than {MAX_DEPTH} containers")
            _walk(item, root, path + (key,), depth + 1, refs)
        elif kind is ArrayRef:
            if refs is None:
                raise StructureError(f"{key_path(root, path + (key,))}: array reference outside the tree")
            refs.append((item.index, path + (key,), value, key))
        elif kind is msgpack.Timestamp:
            raise StructureError(f"{key_path(root, path + (key,))}: msgpack timestamp (ext -1) is not allowed")


@dataclass(frozen=True)
class Entry:
    """A checked entry of ``header["arrays"]``."""

    dtype: str
    shape: tuple
    nbytes: int
    crc32: int  # 1.x files: the stored CRC-32; 2.0 files keep it after the data (None here)


def _check_entry(i, entry, major, newer_minor):
    where = f"header['arrays'][{i}]"
    fields = V1_ENTRY_FIELDS if major == 1 else ENTRY_FIELDS
    if type(entry) is not dict:
        raise StructureError(f"{where}: expected a map, found {describe(entry)}")
    for field in fields:
        if field not in entry:
            raise StructureError(f"{where}: missing field {field!r}")
    if not newer_minor and len(entry) != len(fields):
        raise StructureError(f"{where}: unknown fields {sorted(set(entry) - set(fields))}")
    name, shape = entry["dtype"], entry["shape"]
    if type(name) is not str:
        raise StructureError(f"{where}['dtype']: expected a str, found {describe(name)}")
    if name not in DTYPES:
        raise DTypeError(f"{where}['dtype']: {describe(name)} is not one of {', '.join(DTYPES)}")
    if type(shape) is not list or len(shape) > MAX_NDIM or any(type(d) is not int or d < 0 for d in shape):
        raise StructureError(f"{where}['shape']: expected a list of at most {MAX_NDIM} non-negative ints, "
                             f"found {describe(shape)}")
    nbytes = shape_bytes(shape, DTYPES[name].itemsize)
    if nbytes is None:  # checked before any arithmetic that NumPy or the layout would do with the dimensions
        raise SizeError(f"{where}['shape']: {describe(shape)} exceeds the limits of the format: each dimension "
                        f"and the product of the non-zero ones times the item size at most {MAX_ARRAY_NBYTES}")
    crc = None
    if major == 1:  # 1.x: the CRC-32 as an int in the entry
        crc = entry["crc32"]
        if type(crc) is not int or not 0 <= crc < 2**32:
            raise StructureError(f"{where}['crc32']: expected an int in [0, 2**32), found {describe(crc)}")
    return Entry(name, tuple(shape), nbytes, crc)


@dataclass(frozen=True, eq=False)
class Header:
    """A decoded, checked header.

    ``box[0]`` is the tree with :class:`ArrayRef` leaves; ``refs`` lists
    ``(index, path, container, key)`` of each, so that the caller can put the
    arrays in place (``container[key] = array``); ``paths[i]`` is the key path
    of array ``i``.
    """

    box: list
    meta: dict
    extra: dict
    entries: tuple  # of Entry, in file order
    paths: tuple
    refs: list


def parse(view, version):
    """The :class:`Header` in ``view`` (exactly H bytes) of a file of ``version`` = (major, minor)."""
    newer_minor = version[1] > (VERSION[1] if version[0] == VERSION[0] else 0)
    header = _unpack(view, newer_minor)
    if type(header) is not dict:
        raise StructureError(f"header: expected a msgpack map, found {describe(header)}")
    for field in HEADER_FIELDS:
        if field not in header:
            raise StructureError(f"header: missing field {field!r}")
    extra = {k: v for k, v in header.items() if k not in HEADER_FIELDS}
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
    elif type(root) is ArrayRef:
        refs.append((root.index, (), box, 0))
    elif type(root) is msgpack.Timestamp:
        raise StructureError("tree: msgpack timestamp (ext -1) is not allowed")

    paths = [None] * len(entries)
    for index, path, _, _ in refs:
        if index >= len(entries):
            raise StructureError(f"{key_path('tree', path)}: array reference {index} but the table has "
                                 f"{len(entries)} entries")
        if paths[index] is not None:
            raise StructureError(f"{key_path('tree', path)}: array {index} is already referenced at "
                                 f"{key_path('tree', paths[index])}")
        paths[index] = path
    for index, path in enumerate(paths):
        if path is None:
            raise StructureError(f"header['arrays'][{index}] is not referenced from the tree")
    checked = tuple(_check_entry(i, e, version[0], newer_minor) for i, e in enumerate(entries))
    return Header(box, meta, extra, checked, tuple(paths), refs)
