"""Reading a version 2.0 container from a :class:`~pinnlite.io.sources.Source`, with every check of section 8.

:func:`read_head` reads and checks the preamble, the header and its digest
(steps 1 to 7): it costs at most the head itself, 4 MiB + 81 bytes, plus what
decoding a header of at most 2^18 values allocates (``docs/FORMAT.md``
section 7), whatever the file claims. :func:`read_arrays` then reads the
arrays the caller asks for, each into its own 64-byte aligned buffer, checking
its section header and its CRC-32 (and, for :func:`~pinnlite.io.container.verify`,
its SHA-256 tree digest) on worker threads while the next bytes are read.
Arrays nobody asked for are never read. Each malformed field raises the one
:class:`~pinnlite.io.errors.CheckpointError` subclass that names it; nothing
read from the file is evaluated.
"""

import hashlib
from dataclasses import dataclass

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
from pinnlite.io.hashing import ArrayChecksums
from pinnlite.io.sources import aligned_empty, read_growing
from pinnlite.io.spec import (
    CHUNK,
    DTYPES,
    FORMAT_NAME,
    HEAD_OVERHEAD,
    MAGIC,
    MAX_ARRAY_NBYTES,
    MAX_HEADER_SIZE,
    MIN_FILE_SIZE,
    PREAMBLE_SIZE,
    SUPPORTED_MAJORS,
    VERSION,
    key_path,
    section_layout,
)


@dataclass(frozen=True)
class ArrayInfo:
    """One row of the array table: where an array sits and its checksums.

    In a tree read with ``only=...``, an array that was not read stands in
    its place as its ArrayInfo.
    """

    path: tuple  # keys (str) and list indices (int) from the tree root
    dtype: str
    shape: tuple
    nbytes: int
    crc32: int
    offset: int  # file offset of the first data byte
    sha256: bytes = None  # the 32-byte tree digest of the data; None in 1.x files
    section: int = None  # file offset of the section (its padding); None in 1.x files

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
    their values; ``digest`` is the file's digest (2.0: the head digest, 1.x:
    the trailer digest).
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
    if hlen > min(MAX_HEADER_SIZE, length - HEAD_OVERHEAD):
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


def _read_exactly(source, offset, view, length):
    got = source.read_into(offset, view)
    if got < len(view):
        raise TruncatedError(f"checkpoint is truncated: the data end at byte {offset + got}, but its preamble "
                             f"declares {length} (interrupted copy or download?)")


def check_end(source, length):
    """For a stream of unknown size: skip to byte ``length`` and make sure the data end there."""
    if not source.sequential:
        return  # the size was checked against L before anything else
    if source.position < length:
        _read_exactly(source, length - 1, bytearray(1), length)
    if source.read_into(length, bytearray(1)):
        raise TrailingDataError(f"the stream continues after the end of the checkpoint at byte {length}")


@dataclass(frozen=True, eq=False)
class Head:
    """What :func:`read_head` found: the version, the file length, the decoded header, the array table."""

    version: tuple
    length: int
    header: headers.Header
    infos: tuple  # of ArrayInfo, in file order
    digest: bytes


def read_head(source, first, version):
    """Read and check the head of a 2.0 file (steps 3 to 7); ``first``: its first bytes, already read."""
    hlen, length = parse_preamble(first, source.size)
    head = bytearray(HEAD_OVERHEAD + hlen)
    got = min(len(first), len(head))
    head[:got] = first[:got]
    _read_exactly(source, got, memoryview(head)[got:], length)
    end = PREAMBLE_SIZE + hlen
    digest = hashlib.sha256(memoryview(head)[:end]).digest()
    if head[end:end + 2] != b"\xc4\x20" or head[end + 2:] != digest:
        raise ChecksumError(f"head digest mismatch: the checkpoint is damaged in its first {len(head)} bytes "
                            "(preamble, header or head digest); restore it from another copy", damaged=("header",))
    found = headers.parse(memoryview(head)[PREAMBLE_SIZE:end], version)
    sections, stop = section_layout(len(head), [e.nbytes for e in found.entries])
    infos = []
    for path, entry, (section, data) in zip(found.paths, found.entries, sections):
        if entry.nbytes > MAX_ARRAY_NBYTES or data + entry.nbytes > length:
            raise SizeError(f"{key_path('tree', path)}: {entry.dtype} array of shape {entry.shape} claims "
                            f"{entry.nbytes} bytes at offset {data}, past the end of the file at byte {length} "
                            f"(or the {MAX_ARRAY_NBYTES}-byte limit)")
        infos.append(ArrayInfo(path, entry.dtype, entry.shape, entry.nbytes, entry.crc32, data, entry.sha256,
                               section))
    if stop != length:
        raise StructureError(f"array sections end at byte {stop}, but the file length field declares {length}")
    return Head(version, length, found, tuple(infos), digest)


def _check_section(info, prefix):
    """Step 8: the PAD and bin32 header before the array's data (``prefix`` holds those bytes)."""
    pad = len(prefix) - 7
    if prefix[0] != 0xC4 or prefix[1] != pad or any(prefix[2:2 + pad]):
        raise StructureError(f"{info.key}: padding at offset {info.section} must be c4 {pad:02x} and {pad} zero bytes")
    if prefix[2 + pad] != 0xC6 or int.from_bytes(prefix[3 + pad:], "big") != info.nbytes:
        raise StructureError(f"{info.key}: data at offset {info.section + 2 + pad} must start with c6 "
                             f"{info.nbytes.to_bytes(4, 'big').hex(' ')} (bin32 of {info.nbytes} bytes)")


def _shown(keys):
    return ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")


def read_arrays(source, head, wanted, verify=False):
    """``{index: array}`` of the arrays ``wanted`` (indices into ``head.infos``), each checked (step 8).

    The section header and the CRC-32 of every array read are checked; with
    ``verify`` also its SHA-256 tree digest. Checksums run on worker threads
    while the next pieces are read; a mismatch raises one
    :class:`ChecksumError` naming every damaged array.
    """
    wanted = sorted(wanted)
    infos = [head.infos[i] for i in wanted]
    total = sum(info.nbytes for info in infos)
    bufs = []
    with ArrayChecksums(total, sha=verify) as sums:
        for index, info in zip(wanted, infos):
            prefix = bytearray(info.offset - info.section)
            _read_exactly(source, info.section, memoryview(prefix), head.length)
            _check_section(info, prefix)
            if source.size is None:  # an unchecked length: memory follows the data that arrive
                buf = read_growing(source, info.offset, info.nbytes)
                if len(buf) < info.nbytes:
                    _read_exactly(source, info.offset + len(buf), bytearray(1), head.length)
                sums.add_array(index, buf)
            else:
                buf = aligned_empty(info.nbytes)
                for start in range(0, info.nbytes, CHUNK):
                    piece = buf[start:start + CHUNK]
                    _read_exactly(source, info.offset + start, piece, head.length)
                    sums.add(index, piece)
            bufs.append(buf)
        results = [sums.result(index) for index in wanted]
    bad = [info.key for info, (crc, _) in zip(infos, results) if crc != info.crc32]
    if bad:
        raise ChecksumError(f"CRC-32 mismatch: the checkpoint is damaged in {len(bad)} array(s): {_shown(bad)}; "
                            "restore it from another copy", damaged=bad)
    if verify:
        bad = [info.key for info, (_, sha) in zip(infos, results) if sha != info.sha256]
        if bad:
            raise ChecksumError(f"SHA-256 mismatch in {len(bad)} array(s) whose CRC-32 matches: {_shown(bad)}; "
                                "damage the CRC-32 missed, or a writer that stored a wrong digest", damaged=bad)
    out = {}
    for index, info, buf in zip(wanted, infos, bufs):
        if info.dtype == "bool" and buf.size and buf.max() > 1:
            raise StructureError(f"{info.key}: bool array holds bytes other than 0 and 1")
        out[index] = buf.view(DTYPES[info.dtype]).reshape(info.shape)
    return out


def read(source, first, version, only=None, verify=False):
    """The :class:`Container` of a 2.0 file; ``only``: None, or the top-level keys whose arrays are read."""
    head = read_head(source, first, version)
    found = head.header
    wanted = [i for i, info in enumerate(head.infos) if only is None or (info.path and info.path[0] in only)]
    arrays = read_arrays(source, head, wanted, verify)
    check_end(source, head.length)
    for index, _, holder, key in found.refs:
        holder[key] = arrays.get(index, head.infos[index])
    return Container(tree=found.box[0], meta=found.meta, version=version, extra=found.extra, arrays=head.infos,
                     digest=head.digest, file_length=head.length)
