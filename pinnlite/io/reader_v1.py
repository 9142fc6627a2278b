"""Reading version 1.x containers, which pinnlite wrote before 2.0 (``docs/FORMAT.md`` appendix A).

A 1.x file is checked as a whole: its trailer digest covers every byte, so
the reader reads it completely into one 64-byte aligned buffer
(:func:`pinnlite.io.sources.read_whole`) and :func:`decode` checks it in the
order of appendix A, step A.8. Its arrays are views into that buffer. The
header is decoded by the same code as in 2.0 files (:mod:`pinnlite.io.header`),
under the same limit of 2^18 values.
"""

import zlib

from pinnlite.io import header as headers
from pinnlite.io.errors import ChecksumError, CheckpointError, SizeError, StructureError, TruncatedError
from pinnlite.io.hashing import crc32s, digest_of
from pinnlite.io.reader import ArrayInfo, Container, check_length
from pinnlite.io.spec import (
    DTYPES,
    MAX_ARRAY_NBYTES,
    V1_MAX_HEADER_SIZE,
    V1_MIN_FILE_SIZE,
    V1_PREAMBLE_SIZE,
    V1_TRAILER_SIZE,
    key_path,
    section_layout,
)


def parse_preamble(head, available):
    """H, header CRC, L of a 1.x file (steps A.3 and A.4, after the magic and version); ``available``: data length."""
    if len(head) < V1_PREAMBLE_SIZE:
        raise TruncatedError(f"data end at byte {available}, inside the preamble (bytes 0-{V1_PREAMBLE_SIZE - 1})")
    for offset, marker, what in ((29, 0xCF, "header length"), (38, 0xCE, "header CRC-32"), (43, 0xCF, "file length")):
        if head[offset] != marker:
            raise StructureError(f"{what} field at byte {offset}: expected msgpack marker {marker:02x}, "
                                 f"found {head[offset]:02x}")
    hlen = int.from_bytes(head[30:38], "big")
    hcrc = int.from_bytes(head[39:43], "big")
    length = int.from_bytes(head[44:52], "big")
    if length < V1_MIN_FILE_SIZE:
        raise StructureError(f"file length field (byte 43): {length} is below the minimum of "
                             f"{V1_MIN_FILE_SIZE} bytes")
    return hlen, hcrc, length


def check_lengths(available, hlen, length):
    """Raise unless ``available`` data bytes hold exactly the declared L and H fits in it (step A.4)."""
    check_length(available, length)
    if hlen > min(V1_MAX_HEADER_SIZE, length - V1_PREAMBLE_SIZE - V1_TRAILER_SIZE):
        raise SizeError(f"header length field (byte 29): {hlen} bytes exceeds the {length}-byte file "
                        f"or the limit of {V1_MAX_HEADER_SIZE} bytes")


def _layout(buf, found, hlen, length):
    """Check the array sections against the table (step A.7); the ArrayInfo of each."""
    end = length - V1_TRAILER_SIZE
    sections, stop = section_layout(V1_PREAMBLE_SIZE + hlen, [e.nbytes for e in found.entries], crc=False)
    infos = []
    for path, entry, (pos, data) in zip(found.paths, found.entries, sections):
        where = key_path("tree", path)
        if entry.nbytes > MAX_ARRAY_NBYTES or data + entry.nbytes > end:
            raise SizeError(f"{where}: {entry.dtype} array of shape {entry.shape} claims {entry.nbytes} bytes at "
                            f"offset {data}, past the end of the array sections at byte {end} "
                            f"(or the {MAX_ARRAY_NBYTES}-byte limit)")
        pad = data - pos - 7
        if buf[pos] != 0xC4 or buf[pos + 1] != pad or buf[pos + 2:pos + 2 + pad].any():
            raise StructureError(f"{where}: padding at offset {pos} must be c4 {pad:02x} and {pad} zero bytes")
        if buf[pos + 2 + pad] != 0xC6 or int.from_bytes(buf[pos + 3 + pad:data], "big") != entry.nbytes:
            raise StructureError(f"{where}: data at offset {pos + 2 + pad} must start with c6 "
                                 f"{entry.nbytes.to_bytes(4, 'big').hex(' ')} (bin32 of {entry.nbytes} bytes)")
        infos.append(ArrayInfo(path, entry.dtype, entry.shape, entry.nbytes, data, crc32=entry.crc32))
    if stop != end:
        raise StructureError(f"array sections end at byte {stop}, but the trailer starts at byte {end}")
    return infos


def _structure(buf, version, hlen, length):
    found = headers.parse(memoryview(buf[V1_PREAMBLE_SIZE:V1_PREAMBLE_SIZE + hlen]), version)
    return found, _layout(buf, found, hlen, length)


def _diagnose(buf, version, hlen, hcrc, length):
    """Raise the ChecksumError that names what is damaged (the trailer digest failed)."""
    head = "trailer digest mismatch: the checkpoint is damaged"
    if zlib.crc32(buf[V1_PREAMBLE_SIZE:V1_PREAMBLE_SIZE + hlen]) != hcrc:
        raise ChecksumError(f"{head} in the header (bytes {V1_PREAMBLE_SIZE}-{V1_PREAMBLE_SIZE + hlen - 1}, "
                            "CRC-32 mismatch); restore it from another copy", damaged=("header",))
    try:
        infos = _structure(buf, version, hlen, length)[1]
    except CheckpointError as exc:
        raise ChecksumError(f"{head}; the array layout is unreadable: {exc}", damaged=("layout",)) from None
    bad = [a.key for a in infos if zlib.crc32(buf[a.offset:a.offset + a.nbytes]) != a.crc32]
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        raise ChecksumError(f"{head} in {len(bad)} array(s) (CRC-32 mismatch): {shown}", damaged=bad)
    raise ChecksumError(f"{head}, but the header and every array match their CRC-32: the damage is in the "
                        f"preamble or the trailer (last {V1_TRAILER_SIZE} bytes)", damaged=("trailer",))


def decode(buf, version, check_crcs=False, digest=None, only=None):
    """The :class:`Container` of a 1.x file held whole in a 64-byte aligned, writeable uint8 buffer.

    ``check_crcs``: also recompute the header's and every array's CRC-32
    (which the trailer digest already covers; a mismatch means the writer
    stored a wrong one).
    ``digest``: the trailer digest of ``buf[:L-34]`` if the caller already
    computed it while reading. ``only``: None, or the top-level keys whose
    arrays are returned (the others stand as their :class:`ArrayInfo`).
    """
    available = buf.size
    hlen, hcrc, length = parse_preamble(buf[:V1_PREAMBLE_SIZE].tobytes(), available)
    check_lengths(available, hlen, length)
    if buf[length - V1_TRAILER_SIZE] != 0xC4 or buf[length - V1_TRAILER_SIZE + 1] != 0x20:
        raise ChecksumError(f"trailer at byte {length - V1_TRAILER_SIZE}: expected c4 20 + the 32-byte digest, "
                            f"found {buf[length - V1_TRAILER_SIZE:length - V1_TRAILER_SIZE + 2].tobytes().hex(' ')}",
                            damaged=("trailer",))
    if digest is None:
        digest = digest_of(buf[:length - V1_TRAILER_SIZE])
    if digest != buf[length - 32:length].tobytes():
        _diagnose(buf, version, hlen, hcrc, length)
    if check_crcs and zlib.crc32(buf[V1_PREAMBLE_SIZE:V1_PREAMBLE_SIZE + hlen]) != hcrc:
        raise ChecksumError(f"header CRC-32 (byte 38) {hcrc:08x} does not match the header "
                            f"({zlib.crc32(buf[V1_PREAMBLE_SIZE:V1_PREAMBLE_SIZE + hlen]):08x}) although the "
                            "trailer digest matches: the writer stored a wrong CRC", damaged=("header",))
    found, infos = _structure(buf, version, hlen, length)
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
        wanted = only is None or (info.path and info.path[0] in only)
        arrays.append(data.view(DTYPES[info.dtype]).reshape(info.shape) if wanted else info)
    for index, _, holder, key in found.refs:
        holder[key] = arrays[index]
    return Container(tree=found.box[0], meta=found.meta, version=version, extra=found.extra, arrays=tuple(infos),
                     digest=digest, file_length=length)
