"""Reading a version 2.0 container from a :class:`~pinnlite.io.sources.Source`, with every check of section 8.

:func:`read_head` reads and checks the preamble, the header and its digest
(steps 1 to 7): it costs at most the head itself, 4 MiB + 81 bytes, plus what
decoding a header of at most 2^18 values allocates (``docs/FORMAT.md``
section 7), whatever the file claims. :func:`read_arrays` then reads the
arrays the caller asks for, each into its own 64-byte aligned buffer, in
batches of at most 1 MiB (one ``preadv`` each), checking each section's
structure and CRC-32 on worker threads (and in the reading thread when they
fall behind) while the next bytes are read; with
``verify`` it reads every byte and also computes the file digest, the plain
SHA-256 of bytes ``[0, L - 32)``, on a worker thread of its own. Arrays
nobody asked for are never read. Each malformed field raises the one
:class:`~pinnlite.io.errors.CheckpointError` subclass that names it; nothing
read from the file is evaluated.
"""

import hashlib
import zlib
from dataclasses import dataclass

from pinnlite.errors import InputError, describe
from pinnlite.io import header as headers
from pinnlite.io.errors import (
    ChecksumError,
    MagicError,
    SizeError,
    StructureError,
    TrailingDataError,
    TruncatedError,
    VersionError,
)
from pinnlite.io.hashing import CRCs, FileDigest, PIECE
from pinnlite.io.sources import aligned_empty, read_growing
from pinnlite.io.spec import (
    CRC_FIELD,
    CRC_FIELD_SIZE,
    DIGEST_SIZE,
    DTYPES,
    FORMAT_NAME,
    HEAD_OVERHEAD,
    MAGIC,
    MAX_HEADER_SIZE,
    MIN_FILE_SIZE,
    PREAMBLE_SIZE,
    SECTION_PREFIX,
    SUPPORTED_MAJORS,
    TRAILER_SIZE,
    VERSION,
    key_path,
    section_layout,
)

_MAX_VIEWS = 512  # buffers per preadv (Linux allows 1024)


def check_only(only):
    """``only`` of the readers: None (everything), or a collection of top-level keys as a frozenset."""
    if isinstance(only, (str, bytes)):  # a lone key would be taken for its characters
        raise InputError(f"only: expected a collection of top-level keys, such as ({only!r},), found {describe(only)}")
    return None if only is None else frozenset(only)


@dataclass(frozen=True)
class ArrayInfo:
    """One row of the array table: where an array sits and, once it has been read, its CRC-32.

    In a tree read with ``only=...``, an array that was not read stands in
    its place as its ArrayInfo.
    """

    path: tuple  # keys (str) and list indices (int) from the tree root
    dtype: str
    shape: tuple
    nbytes: int
    offset: int  # file offset of the first data byte
    section: int = None  # file offset of the section (its padding); None in 1.x files
    crc32: int = None  # the CRC-32 of the data: stored after them (2.0, known once read) or in the entry (1.x)

    @property
    def key(self):
        return key_path("tree", self.path)


@dataclass(frozen=True, eq=False)
class Container:
    """A decoded checkpoint.

    ``tree`` holds the arrays as writeable, 64-byte aligned arrays (each in
    its own buffer in a 2.0 file; views into one private buffer in a 1.x
    file), and an :class:`ArrayInfo` in place of each array that was not
    read. ``extra`` maps header fields added by a newer minor version to
    their values; ``digest`` is the file digest where it was checked (2.0:
    read with ``verify``, the SHA-256 of bytes ``[0, L - 32)``; 1.x: always,
    the trailer's tree digest), else None.
    """

    tree: object
    meta: dict
    version: tuple
    extra: dict
    arrays: tuple  # of ArrayInfo, in file order
    digest: bytes = None
    file_length: int = None


def _magic_hint(head):
    hints = (
        (b"\x93NUMPY", "a NumPy .npy file: use numpy.load"),
        (b"PK\x03\x04", "a ZIP archive (a NumPy .npz or a PyTorch checkpoint)"),
        (b"\x89HDF", "an HDF5 file"),
        (b"\x80", "a Python pickle, which pinnlite never reads (it can run code)"),
        (b"ckpt-", "the `latest` pointer of a checkpoint directory, a line naming its newest checkpoint: "
                   "read the file it names, or the one pinnlite.io.checkpoint.latest(directory) returns"),
    )
    for prefix, text in hints:
        if head.startswith(prefix):
            return f"; it looks like {text}"
    if head.startswith(MAGIC[:20]) and head[20:23] == b"\n\x1a\n":
        return "; CR LF was converted to LF: the file was copied in text mode"
    return ""


def parse_version(head, available):
    """(major, minor) from the first bytes: section 8, steps 1 and 2, the same in every version."""
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
    if version[0] not in SUPPORTED_MAJORS:
        newer = " (written by a newer pinnlite: upgrade to read it)" if version[0] > VERSION[0] else ""
        raise VersionError(f"file format version {version[0]}.{version[1]} is not supported{newer}; this reader "
                           f"supports versions {', '.join(f'{m}.x' for m in SUPPORTED_MAJORS)} and writes "
                           f"{VERSION[0]}.{VERSION[1]}")
    return version


def parse_preamble(head, available):
    """(H, L) of a 2.0 file from its first bytes (steps 3 and 4); ``available``: the data length, or None."""
    shown = len(head) if available is None else available
    if len(head) < PREAMBLE_SIZE:
        raise TruncatedError(f"data end at byte {shown}, inside the preamble (bytes 0-{PREAMBLE_SIZE - 1})")
    for offset, what in ((29, "header length"), (38, "file length")):
        if head[offset] != 0xCF:
            raise StructureError(f"{what} field at byte {offset}: expected msgpack marker cf, "
                                 f"found {head[offset]:02x}")
    hlen = int.from_bytes(head[30:38], "big")
    length = int.from_bytes(head[39:47], "big")
    if length < MIN_FILE_SIZE:
        raise StructureError(f"file length field (byte 38): {length} is below the minimum of {MIN_FILE_SIZE} bytes")
    if available is not None:
        check_length(available, length)
    if hlen > min(MAX_HEADER_SIZE, length - HEAD_OVERHEAD - TRAILER_SIZE):
        raise SizeError(f"header length field (byte 29): {hlen} bytes exceeds the {length}-byte file "
                        f"or the limit of {MAX_HEADER_SIZE} bytes")
    return hlen, length


def check_length(available, length):
    """Raise unless ``available`` data bytes are exactly the declared L (step 4)."""
    if available < length:
        raise TruncatedError(f"checkpoint is truncated: {available} bytes, but its preamble declares {length} "
                             "(interrupted copy or download?); save_file never leaves partial files, so "
                             "restore this one from another copy")
    if available > length:
        raise TrailingDataError(f"{available - length} bytes follow the end of the checkpoint at byte {length} "
                                f"(data are {available} bytes: appended or concatenated files?); the first "
                                f"{length} bytes may be intact: check them with loads(data[:{length}])")


def _truncated(offset, length):
    return TruncatedError(f"checkpoint is truncated: the data end at byte {offset}, but its preamble "
                          f"declares {length} (interrupted copy or download?)")


def _read_exactly(source, offset, views, length):
    want = sum(len(v) for v in views)
    got = source.read_many(offset, views)
    if got < want:
        raise _truncated(offset + got, length)


def check_end(source, length):
    """For a stream of unknown size: skip to byte ``length`` and make sure the data end there."""
    if not source.sequential:
        return  # the size was checked against L before anything else
    if source.position < length:
        _read_exactly(source, length - 1, [bytearray(1)], length)
    if source.read_into(length, bytearray(1)):
        raise TrailingDataError(f"the stream continues after the end of the checkpoint at byte {length}")


@dataclass(frozen=True, eq=False)
class Head:
    """What :func:`read_head` found: the version, the file length, the head's bytes, the header, the array table."""

    version: tuple
    length: int
    raw: bytes  # bytes [0, 81 + H): preamble, header and head digest
    header: headers.Header
    infos: tuple  # of ArrayInfo (crc32 None), in file order


def read_head(source, first, version):
    """Read and check the head of a 2.0 file (steps 3 to 7); ``first``: its first bytes, already read."""
    hlen, length = parse_preamble(first, source.size)
    head = bytearray(HEAD_OVERHEAD + hlen)
    got = min(len(first), len(head))
    head[:got] = first[:got]
    _read_exactly(source, got, [memoryview(head)[got:]], length)
    end = PREAMBLE_SIZE + hlen
    if head[end:end + 2] != b"\xc4\x20" or head[end + 2:] != hashlib.sha256(memoryview(head)[:end]).digest():
        raise ChecksumError(f"head digest mismatch: the checkpoint is damaged in its first {len(head)} bytes "
                            "(preamble, header or head digest); restore it from another copy", damaged=("header",))
    found = headers.parse(memoryview(head)[PREAMBLE_SIZE:end], version)
    sections, stop = section_layout(len(head), [e.nbytes for e in found.entries])
    body = length - TRAILER_SIZE
    infos = []
    for path, entry, (section, data) in zip(found.paths, found.entries, sections):
        if data + entry.nbytes + CRC_FIELD_SIZE > body:
            raise SizeError(f"{key_path('tree', path)}: {entry.dtype} array of shape {entry.shape} claims "
                            f"{entry.nbytes} bytes at offset {data}, past the end of the array sections at byte "
                            f"{body} (the file digest starts there)")
        infos.append(ArrayInfo(path, entry.dtype, entry.shape, entry.nbytes, data, section))
    if stop != body:
        raise StructureError(f"array sections end at byte {stop}, but the file digest starts at byte {body} "
                             f"(L - {TRAILER_SIZE})")
    return Head(version, length, bytes(head), found, tuple(infos))


def _check_section(info, prefix, field):
    """Step 8: the PAD and bin32 header before the array's data, the CRC-32 field after them."""
    pad = len(prefix) - SECTION_PREFIX
    if prefix[0] != 0xC4 or prefix[1] != pad or any(prefix[2:2 + pad]):
        raise StructureError(f"{info.key}: padding at offset {info.section} must be c4 {pad:02x} and {pad} zero bytes")
    if prefix[2 + pad] != 0xC6 or int.from_bytes(prefix[3 + pad:], "big") != info.nbytes:
        raise StructureError(f"{info.key}: data at offset {info.section + 2 + pad} must start with c6 "
                             f"{info.nbytes.to_bytes(4, 'big').hex(' ')} (bin32 of {info.nbytes} bytes)")
    if field[:2] != CRC_FIELD:
        raise StructureError(f"{info.key}: the CRC-32 field at offset {info.offset + info.nbytes} must start with "
                             f"c4 04, found {bytes(field[:2]).hex(' ')}")
    return int.from_bytes(field[2:], "big")


def _shown(keys):
    return ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


class _Section:
    """The buffers one array section is read into: its prefix, its data (aligned) and its CRC-32 field."""

    __slots__ = ("index", "info", "prefix", "data", "field")

    def __init__(self, index, info, data):
        self.index, self.info, self.data = index, info, data
        self.prefix = bytearray(info.offset - info.section)
        self.field = bytearray(CRC_FIELD_SIZE)

    def segments(self):
        """``(offset, buffer, is data)`` in file order, the data cut into pieces of at most PIECE bytes."""
        info = self.info
        yield info.section, self.prefix, False
        for start in range(0, len(self.data), PIECE):
            yield info.offset + start, self.data[start:start + PIECE], True
        yield info.offset + len(self.data), self.field, False


def _batches(sections):
    """Runs of contiguous segments of the sections, each of at most PIECE bytes (or one larger buffer) and
    _MAX_VIEWS buffers: ``(offset, [(buffer, is data, array index)])``, in file order."""
    batch, start, size = [], None, 0
    for s in sections:
        for offset, buf, is_data in s.segments():
            if batch and (offset != start + size or size + len(buf) > PIECE or len(batch) == _MAX_VIEWS):
                yield start, batch
                batch, size = [], 0
            if not batch:
                start = offset
            batch.append((buf, is_data, s.index))
            size += len(buf)
    if batch:
        yield start, batch


def _read_sized(source, head, sections, crcs, sha):
    """Fill the sections from a source of known size, one batch per system call, feeding the checksums."""
    for start, batch in _batches(sections):
        _read_exactly(source, start, [buf for buf, _, _ in batch], head.length)
        for buf, is_data, index in batch:
            if sha is not None:
                sha.update(buf)
            if is_data:
                crcs.add(index, buf)


def _read_stream(source, head, wanted, crcs, sha):
    """Read the sections from a stream of unknown size: memory follows the data that arrive."""
    sections = []
    for index in wanted:
        info = head.infos[index]
        prefix = bytearray(info.offset - info.section)
        _read_exactly(source, info.section, [prefix], head.length)
        buf = read_growing(source, info.offset, info.nbytes)
        if len(buf) < info.nbytes:
            raise _truncated(info.offset + len(buf), head.length)
        section = _Section(index, info, buf)
        section.prefix = prefix
        _read_exactly(source, info.offset + info.nbytes, [section.field], head.length)
        for offset, piece, is_data in section.segments():
            if sha is not None:
                sha.update(piece)
            if is_data:
                crcs.add(index, piece)
        sections.append(section)
    return sections


def read_arrays(source, head, wanted, verify=False):
    """``({index: array}, file digest)`` of the arrays ``wanted`` (indices into ``head.infos``), each checked.

    Step 8: the section structure and the CRC-32 of every array read; with
    ``verify`` (``wanted`` must then be every array) also step 9, the file
    digest over every byte, returned (None without ``verify``). A CRC-32
    mismatch raises one :class:`ChecksumError` naming every damaged array.
    """
    wanted = sorted(wanted)
    if verify and len(wanted) != len(head.infos):
        raise ValueError("verify reads every array")
    total = sum(head.infos[i].nbytes for i in wanted)
    # verifying: the SHA-256 takes one core, the reads and the CRC-32s (in this thread) the other
    sha = FileDigest(threaded=total > 4 * PIECE) if verify else _nothing()
    with CRCs(total, threaded=not verify) as crcs, sha as sha:
        if sha is not None:
            sha.update(head.raw)
        if source.size is None:
            sections = _read_stream(source, head, wanted, crcs, sha)
        else:
            sections = [_Section(i, head.infos[i], aligned_empty(head.infos[i].nbytes)) for i in wanted]
            _read_sized(source, head, sections, crcs, sha)
        trailer = None
        if verify:
            trailer = bytearray(TRAILER_SIZE)
            _read_exactly(source, head.length - TRAILER_SIZE, [trailer], head.length)
            sha.update(trailer[:2])
        stored = [_check_section(s.info, s.prefix, s.field) for s in sections]
        found = [crcs.result(s.index) for s in sections]
        digest = sha.digest() if verify else None
    bad = [s.info.key for s, a, b in zip(sections, stored, found) if a != b]
    if bad:
        raise ChecksumError(f"CRC-32 mismatch: the checkpoint is damaged in {len(bad)} array(s): {_shown(bad)}; "
                            "restore it from another copy", damaged=bad)
    for s in sections:  # still step 8, then step 9
        if s.info.dtype == "bool" and s.data.size and s.data.max() > 1:
            raise StructureError(f"{s.info.key}: bool array holds bytes other than 0 and 1")
    if verify:
        if trailer[:2] != b"\xc4\x20":
            raise StructureError(f"file digest at byte {head.length - TRAILER_SIZE}: expected c4 20 and the "
                                 f"32-byte SHA-256, found {bytes(trailer[:2]).hex(' ')}")
        if trailer[2:] != digest:
            raise ChecksumError(f"file digest mismatch: the SHA-256 of bytes [0, {head.length - DIGEST_SIZE}) is "
                                f"{digest.hex()}, the file stores {bytes(trailer[2:]).hex()}; the head and every "
                                "array's CRC-32 match, so the damage is in the stored digest or escaped the CRC-32s",
                                damaged=("file digest",))
    return {s.index: (s.data.view(DTYPES[s.info.dtype]).reshape(s.info.shape), crc)
            for s, crc in zip(sections, found)}, digest


_CHECK_GROUP = 8 * PIECE  # check_arrays reads small arrays in groups of this many bytes


def check_arrays(source, head):
    """Read every array of a 2.0 file and check it as a load does (step 8), keeping none of them.

    Arrays of up to 1 MiB are read in groups of up to 8 MiB, as a load reads
    them, and dropped; a larger one is read piece by piece through one 1 MiB
    buffer, its CRC-32 computed in the calling thread. Memory: about 9 MiB,
    whatever the file's size. Raises as :func:`read_arrays` does (a
    :class:`ChecksumError` names the damaged arrays of one group).
    """
    group, size = [], 0
    for index, info in enumerate(head.infos):
        if info.nbytes <= PIECE:
            group.append(index)
            size += info.nbytes
            if size >= _CHECK_GROUP:
                read_arrays(source, head, group)
                group, size = [], 0
        else:
            _check_large(source, head, info)
    if group:
        read_arrays(source, head, group)
    check_end(source, head.length)


def _check_large(source, head, info):
    scratch = aligned_empty(PIECE)
    prefix, field = bytearray(info.offset - info.section), bytearray(CRC_FIELD_SIZE)
    _read_exactly(source, info.section, [prefix], head.length)
    crc, wrong_bool = 0, False
    for start in range(0, info.nbytes, PIECE):
        piece = scratch[:min(PIECE, info.nbytes - start)]
        _read_exactly(source, info.offset + start, [piece], head.length)
        crc = zlib.crc32(piece, crc)
        wrong_bool = wrong_bool or (info.dtype == "bool" and piece.max() > 1)
    _read_exactly(source, info.offset + info.nbytes, [field], head.length)
    if _check_section(info, prefix, field) != crc:
        raise ChecksumError(f"CRC-32 mismatch: the checkpoint is damaged in 1 array(s): {info.key}; "
                            "restore it from another copy", damaged=(info.key,))
    if wrong_bool:
        raise StructureError(f"{info.key}: bool array holds bytes other than 0 and 1")


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        pass


def read(source, first, version, only=None, verify=False):
    """The :class:`Container` of a 2.0 file; ``only``: None, or the top-level keys whose arrays are returned.

    ``verify``: read and check every byte, the file digest included (the
    arrays outside ``only`` are read, checked and dropped).
    """
    head = read_head(source, first, version)
    found = head.header
    wanted = [i for i, info in enumerate(head.infos) if only is None or (info.path and info.path[0] in only)]
    arrays, digest = read_arrays(source, head, range(len(head.infos)) if verify else wanted, verify)
    check_end(source, head.length)
    infos = list(head.infos)
    for index, (_, crc) in arrays.items():
        i = infos[index]
        infos[index] = ArrayInfo(i.path, i.dtype, i.shape, i.nbytes, i.offset, i.section, crc)
    keep = set(wanted)
    for index, _, holder, key in found.refs:
        holder[key] = arrays[index][0] if index in keep else infos[index]
    return Container(tree=found.box[0], meta=found.meta, version=version, extra=found.extra, arrays=tuple(infos),
                     digest=digest, file_length=head.length)
