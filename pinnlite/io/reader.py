"""Decoding a container from a buffer, with every check of ``docs/FORMAT.md`` section 8.

:func:`decode` takes the whole file in a 64-byte aligned, writeable buffer
(:mod:`pinnlite.io.sources` makes one) and returns a :class:`Container` whose
arrays are views into that buffer. Checks run in the order of section 8, and
each malformed field raises the one :class:`~pinnlite.io.errors.CheckpointError`
subclass that names it. Nothing read from the file is evaluated, and no
allocation is sized by a length field before that field has been checked
against the data.
"""

import zlib
from dataclasses import dataclass

import msgpack

from pinnlite.errors import describe
from pinnlite.io.errors import (
    ChecksumError,
    CheckpointError,
    DTypeError,
    MagicError,
    SizeError,
    StructureError,
    TrailingDataError,
    TruncatedError,
    VersionError,
)
from pinnlite.io.hashing import crc32s, digest_of
from pinnlite.io.spec import (
    ALIGNMENT,
    DTYPES,
    ENTRY_FIELDS,
    EXT_ARRAY,
    EXT_BIGINT,
    FORMAT_NAME,
    HEADER_FIELDS,
    INT_END,
    INT_MIN,
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
    bigint_bytes,
    key_path,
)


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
        return key_path("tree", self.path)


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


def parse_preamble(head, available):
    """(major, minor), H, header CRC, L from the first bytes (section 8, steps 1 to 3); ``available`` = data length."""
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


def check_lengths(available, hlen, length):
    """Raise unless ``available`` data bytes hold exactly the declared L and H fits in it (section 8, step 4)."""
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
            if INT_MIN <= value < INT_END or data != bigint_bytes(value):
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
                raise StructureError(f"{key_path(root, path + (key,))}: nesting deeper than {MAX_DEPTH} containers")
            _walk(item, root, path + (key,), depth + 1, refs)
        elif kind is _ArrayRef:
            if refs is None:
                raise StructureError(f"{key_path(root, path + (key,))}: array reference outside the tree")
            refs.append((item.index, path + (key,), value, key))
        elif kind is msgpack.Timestamp:
            raise StructureError(f"{key_path(root, path + (key,))}: msgpack timestamp (ext -1) is not allowed")


def _check_entry(i, entry, newer_minor):
    where = f"header['arrays'][{i}]"
    if type(entry) is not dict:
        raise StructureError(f"{where}: expected a map, found {describe(entry)}")
    for field in ENTRY_FIELDS:
        if field not in entry:
            raise StructureError(f"{where}: missing field {field!r}")
    if not newer_minor and len(entry) != len(ENTRY_FIELDS):
        raise StructureError(f"{where}: unknown fields {sorted(set(entry) - set(ENTRY_FIELDS))}")
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
    elif type(root) is _ArrayRef:
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

    infos = []
    pos = PREAMBLE_SIZE + hlen
    end = length - TRAILER_SIZE
    for i, entry in enumerate(entries):
        name, shape, nbytes, crc = _check_entry(i, entry, newer_minor)
        where = key_path("tree", paths[i])
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


def decode(buf, check_crcs=False, digest=None):
    """(Container, DIGEST) from a 64-byte aligned, writeable uint8 buffer of the whole file.

    ``check_crcs``: also recompute every array's CRC-32 (which the DIGEST
    already covers; a mismatch means the writer stored a wrong one).
    ``digest``: the DIGEST of ``buf[:L-34]`` if the caller already computed it
    (while reading the file, say); computed here otherwise.
    """
    available = buf.size
    version, hlen, hcrc, length = parse_preamble(buf[:PREAMBLE_SIZE].tobytes(), available)
    check_lengths(available, hlen, length)
    if buf[length - TRAILER_SIZE] != 0xC4 or buf[length - TRAILER_SIZE + 1] != 0x20:
        raise ChecksumError(f"trailer at byte {length - TRAILER_SIZE}: expected c4 20 + the 32-byte digest, found "
                            f"{buf[length - TRAILER_SIZE:length - TRAILER_SIZE + 2].tobytes().hex(' ')}",
                            damaged=("trailer",))
    if digest is None:
        digest = digest_of(buf[:length - TRAILER_SIZE])
    if digest != buf[length - 32:length].tobytes():
        _diagnose(buf, version, hlen, hcrc, length)
    box, meta, extra, infos, refs = _read_structure(buf, version, hlen, length)
    datas = [buf[info.offset:info.offset + info.nbytes] for info in infos]
    crcs = crc32s(datas) if check_crcs else None
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

