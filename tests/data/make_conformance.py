"""Write the conformance files of the container format into tests/data/conformance/.

Each file tests one rule of docs/FORMAT.md (sections 3 to 8, appendix A);
``manifest.json`` says what a reader must do with it (appendix B). The files
are built byte by byte by the small writer below, written from the
specification alone: it does not import pinnlite, so the files test pinnlite's
reader instead of agreeing with its writer. Everything is deterministic, so
running the script again rewrites the same bytes (tests/test_container.py
checks that it does)::

    python tests/data/make_conformance.py [OUT_DIR]
"""

import hashlib
import json
import os
import struct
import sys
import zlib

import msgpack
import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conformance")
MAGIC = b"\x89pinnlite-checkpoint\r\n\x1a\n"
CHUNK = 4 * 1024 * 1024
MAX_VALUES = 2**18


def tree_digest(data):
    """Appendix A (the 1.x trailer): SHA-256 over the SHA-256 digests of the 4 MiB chunks."""
    chunks = [data[i:i + CHUNK] for i in range(0, len(data), CHUNK)]
    return hashlib.sha256(b"".join(hashlib.sha256(c).digest() for c in chunks)).digest()


def ref(index):
    return msgpack.ExtType(2, struct.pack(">I", index))


def entry(array, **changes):
    """A 2.0 array entry for ``array``."""
    out = {"dtype": array.dtype.name, "shape": list(array.shape)}
    out.update(changes)
    return out


def sections(start, datas, pad_byte=0, crc=True, crcs=None, crc_marker=b"\xc4\x04"):
    """The array sections of section 3.2 from offset ``start`` (1.x: ``crc=False``, no CRC-32 field).

    ``crcs``: CRC-32 values to store instead of the right ones (None: the right one).
    """
    out = b""
    pos = start
    for i, data in enumerate(datas):
        k = (-(pos + 7)) % 64
        out += b"\xc4" + bytes([k]) + bytes([pad_byte]) * k + b"\xc6" + struct.pack(">I", len(data)) + data
        pos += 7 + k + len(data)
        if crc:
            value = zlib.crc32(data) if crcs is None or crcs[i] is None else crcs[i]
            out += crc_marker + struct.pack(">I", value)
            pos += 6
    return out


def build2(header=None, datas=(), *, header_bytes=None, version=(2, 0), hlen=None, length=None,
           digest=None, tail=b"", cut=None, pad_byte=0, crcs=None, crc_marker=b"\xc4\x04",
           file_digest=None, trailer_marker=b"\xc4\x20"):
    """A 2.0 file (section 3) with optional lies: header length, L, head digest, CRC-32 fields,
    bytes after the sections (``tail``), the file digest and its marker."""
    hb = msgpack.packb(header, use_bin_type=True) if header_bytes is None else header_bytes
    body = sections(81 + len(hb), datas, pad_byte, crcs=crcs, crc_marker=crc_marker) + tail
    total = 81 + len(hb) + len(body) + 34
    top = (MAGIC + bytes([0x92, 0xCC, version[0], 0xCC, version[1]])
           + b"\xcf" + struct.pack(">Q", len(hb) if hlen is None else hlen)
           + b"\xcf" + struct.pack(">Q", total if length is None else length) + hb)
    data = top + b"\xc4\x20" + (hashlib.sha256(top).digest() if digest is None else digest) + body + trailer_marker
    data += hashlib.sha256(data).digest() if file_digest is None else file_digest
    return data if cut is None else data[:cut]


def build1(header=None, datas=(), *, header_bytes=None, version=(1, 0), hlen=None, hcrc=None, length=None,
           between=b"", trailer=None):
    """A 1.x file (appendix A) with optional lies; ``header`` entries carry their CRC-32 as an int.

    ``between``: bytes after the last section (a hole); ``trailer``: a digest
    to store instead of the right one.
    """
    hb = msgpack.packb(header, use_bin_type=True) if header_bytes is None else header_bytes
    body = sections(52 + len(hb), datas, crc=False) + between
    total = 52 + len(hb) + len(body) + 34
    out = (MAGIC + bytes([0x92, 0xCC, version[0], 0xCC, version[1]])
           + b"\xcf" + struct.pack(">Q", len(hb) if hlen is None else hlen)
           + b"\xce" + struct.pack(">I", zlib.crc32(hb) if hcrc is None else hcrc)
           + b"\xcf" + struct.pack(">Q", total if length is None else length) + hb + body)
    return out + b"\xc4\x20" + (tree_digest(out) if trailer is None else trailer)


def entry1(array, **changes):
    out = {"dtype": array.dtype.name, "shape": list(array.shape), "crc32": zlib.crc32(array.tobytes())}
    out.update(changes)
    return out


def header(tree, arrays=(), meta=None, entries=None):
    return {"arrays": [entry(a) for a in arrays] if entries is None else entries, "meta": meta or {}, "tree": tree}


def encode_expected(value):
    """The manifest's JSON encoding of a value (appendix B)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, msgpack.ExtType):
        return {"$ext": [value.code, value.data.hex()]}
    if isinstance(value, int):
        return {"$int": str(value)}
    if isinstance(value, float):
        return {"$float": struct.pack(">d", value).hex()}
    if isinstance(value, bytes):
        return {"$bytes": value.hex()}
    if isinstance(value, np.ndarray):
        return {"$array": [value.dtype.name, list(value.shape), value.tobytes().hex()]}
    if isinstance(value, list):
        return {"$list": [encode_expected(v) for v in value]}
    if isinstance(value, dict):
        return {"$map": [[k, encode_expected(v)] for k, v in value.items()]}
    raise TypeError(type(value))


def bits(hex16):
    return struct.unpack(">d", bytes.fromhex(hex16))[0]


def cases():
    """[(name, what, bytes, load, verify, tree, meta)]; tree and meta only for files that load."""
    out = []

    def ok(name, what, data, tree, meta=None, verify="ok"):
        out.append((name, what, data, "ok", verify, tree, meta or {}))

    def bad(name, what, data, load, verify=None):
        out.append((name, what, data, load, verify or load, None, None))

    w = np.array([[0.5, -1.5, 2.0], [np.inf, -0.0, 1e-300]])
    every = [np.array([True, False, True]), np.array([-128, 0, 127], np.int8), np.array([-32768, 1], np.int16),
             np.array([-(2**31), 2**31 - 1], np.int32), np.array([-(2**63), 2**63 - 1], np.int64),
             np.array([0, 255], np.uint8), np.array([65535], np.uint16), np.array([2**32 - 1], np.uint32),
             np.array([2**64 - 1, 1], np.uint64), np.array([1.5, -0.0, np.inf], np.float16),
             np.array([3.25, np.nan], np.float32), np.array([np.pi, bits("7ff8000000000123")]),
             np.array([1 + 2j], np.complex64), np.array([-1.5 - 0.25j, np.nan * 1j], np.complex128)]
    names = [a.dtype.name for a in every]
    tree = {name: ref(i) for i, name in enumerate(names)}
    ok("v2-every-dtype", "one array of each dtype of section 5", build2(header(tree, every), [a.tobytes() for a in every]),
       dict(zip(names, every)))
    ok("v2-small-file", "dumps({'a': 1}) of section 11", build2(header({"a": 1})), {"a": 1})
    ok("v2-no-arrays-none-tree", "a file of only a head: tree nil", build2(header(None)), None)
    zero_d, empty = np.array(7.5, np.float32), np.zeros((0, 3), np.int16)
    shapes = {"w": ref(0), "scalar": ref(1), "empty": ref(2), "after": ref(3)}
    after = np.arange(5, dtype=np.uint8)
    ok("v2-shapes", "a 2-d, a 0-d, an empty array, then one more: each section's padding",
       build2(header(shapes, [w, zero_d, empty, after]), [w.tobytes(), zero_d.tobytes(), b"", after.tobytes()]),
       {"w": w, "scalar": zero_d, "empty": empty, "after": after})
    values = {"big": 2**64, "neg": -(2**64) - 1, "i64": -(2**63), "u64": 2**64 - 1, "nan": bits("7ff8000000000123"),
              "negzero": -0.0, "inf": float("inf"), "text": "Lamé µ ∂ 😀", "raw": b"\x00\xff", "none": None,
              "flags": [True, False], "nested": {"a": [1, [2, {"b": None}]]}}
    packed = dict(values, big=msgpack.ExtType(1, bytes.fromhex("010000000000000000")),
                  neg=msgpack.ExtType(1, bytes.fromhex("feffffffffffffffff")))
    ok("v2-values", "every kind of header value of section 4.1, big integers as ext type 1",
       build2(header(packed, meta={"created": "2025-01-01", "n": 3})), values, {"created": "2025-01-01", "n": 3})
    wide = (b"\x83\xa6arrays\x90\xa4meta\x80\xa4tree"
            + b"\xde\x00\x03" + b"\xd9\x01a" + b"\xcf" + struct.pack(">Q", 1)  # map16, str8, uint64 for small values
            + b"\xa1b" + b"\xca" + struct.pack(">f", 0.5)  # float 32
            + b"\xa1c" + b"\xdc\x00\x01\xd0\xff")  # array16 of int8 -1
    ok("v2-wide-encodings", "non-minimal msgpack encodings and float 32 in the header (readers MUST accept them)",
       build2(header_bytes=wide), {"a": 1, "b": 0.5, "c": [-1]})
    order = {"tree": {"x": ref(0)}, "meta": {}, "arrays": [dict(reversed(list(entry(after).items())))]}
    ok("v2-key-order", "header and entry keys in another order", build2(order, [after.tobytes()]), {"x": after})
    ok("v2-array-root", "the tree is an array", build2(header(ref(0), [w]), [w.tobytes()]), w)
    deep = b"\x83\xa6arrays\x90\xa4meta\x80\xa4tree" + b"\x91" * 64 + b"\xc0"
    nested = None
    for _ in range(64):
        nested = [nested]
    ok("v2-depth-64", "64 nested lists: the deepest allowed", build2(header_bytes=deep), nested)
    newer = header({"a": ref(0), "future": msgpack.ExtType(9, b"\x01\x02")}, entries=[entry(after, note="none")])
    newer["provenance"] = {"host": "x"}
    ok("v2-newer-minor", "a 2.7 file: unknown header key, entry key and ext type are ignored",
       build2(newer, [after.tobytes()], version=(2, 7)), {"a": after, "future": msgpack.ExtType(9, b"\x01\x02")})
    ok("v2-wrong-file-digest", "a file digest that does not match: only verify, which reads every byte, sees it",
       build2(header({"a": ref(0)}, [w]), [w.tobytes()], file_digest=bytes(32)), {"a": w}, verify="ChecksumError")
    ok("v2-file-digest-marker", "the file digest without its c4 20 marker: only verify sees it",
       build2(header({"a": ref(0)}, [w]), [w.tobytes()], trailer_marker=b"\xc4\x21"), {"a": w},
       verify="StructureError")

    small = build2(header({"a": ref(0)}, [w]), [w.tobytes()])
    bad("v2-bad-magic", "not the magic bytes", b"\x89PNG\r\n\x1a\n" + small[8:], "MagicError")
    bad("v2-text-mode", "CR LF converted to LF", small.replace(b"\r\n", b"\n", 1), "MagicError")
    bad("v2-empty", "no bytes at all", b"", "TruncatedError")
    bad("v2-cut-in-head", "cut inside the header", small[:60], "TruncatedError")
    bad("v2-cut-in-array", "cut inside the array data", small[:-45], "TruncatedError")
    bad("v2-cut-in-digest", "cut inside the file digest", small[:-5], "TruncatedError")
    bad("v2-trailing-byte", "one byte after L", small + b"\x00", "TrailingDataError")
    bad("v2-major-3", "major version 3", build2(header({"a": 1}), version=(3, 0)), "VersionError")
    bad("v2-version-marker", "version field not 92 cc MAJOR cc MINOR", small[:25] + b"\xcd" + small[26:], "StructureError")
    bad("v2-length-marker", "L field without its cf marker", small[:38] + b"\xce" + small[39:], "StructureError")
    bad("v2-length-below-minimum", "L = 50", build2(header({"a": 1}), length=50), "StructureError")
    bad("v2-header-too-long", "H claims 2^40 bytes", build2(header({"a": 1}), hlen=2**40), "SizeError")
    bad("v2-head-digest", "a head digest that does not match", build2(header({"a": 1}), digest=bytes(32)),
        "ChecksumError")
    flipped = bytearray(small)
    flipped[60] ^= 0x01
    bad("v2-header-bit-flip", "one flipped bit in the header", bytes(flipped), "ChecksumError")
    bad("v2-header-ends-early", "the header value ends before H",
        build2(header_bytes=msgpack.packb(header({"a": 1})) + b"\xc0"), "StructureError")
    prefix = b"\x83\xa6arrays\x90\xa4meta\x80\xa4tree"
    bad("v2-duplicate-key", "a map with a key twice", build2(header_bytes=prefix + b"\x82\xa1a\x01\xa1a\x02"),
        "StructureError")
    bad("v2-int-key", "a map key that is not a str", build2(header_bytes=prefix + b"\x81\x01\x02"), "StructureError")
    bad("v2-unknown-header-key", "an unknown header key in a 2.0 file", build2(dict(header(1), more=1)),
        "StructureError")
    bad("v2-unknown-ext", "ext type 9 in a 2.0 file", build2(header({"a": msgpack.ExtType(9, b"x")})), "StructureError")
    bad("v2-timestamp", "msgpack timestamp (ext -1)", build2(header({"a": msgpack.Timestamp(1, 0)})), "StructureError")
    bad("v2-bigint-not-shortest", "ext type 1 holding a 64-bit integer",
        build2(header({"a": msgpack.ExtType(1, b"\x05")})), "StructureError")
    bad("v2-ref-out-of-range", "an array reference past the table", build2(header({"a": ref(1)}, [w]), [w.tobytes()]),
        "StructureError")
    bad("v2-ref-twice", "one array referenced twice", build2(header({"a": ref(0), "b": ref(0)}, [w]), [w.tobytes()]),
        "StructureError")
    bad("v2-unreferenced", "an array no reference points to", build2(header({"a": 1}, [w]), [w.tobytes()]),
        "StructureError")
    bad("v2-unknown-dtype", "dtype bfloat16",
        build2(header({"a": ref(0)}, entries=[entry(after, dtype="bfloat16", shape=[2, 2])]), [after.tobytes()[:4]]),
        "DTypeError")
    bad("v2-crc-as-int", "a 1.x entry (with its crc32) in a 2.0 file",
        build2(header({"a": ref(0)}, entries=[entry(w, crc32=zlib.crc32(w.tobytes()))]), [w.tobytes()]), "StructureError")
    bad("v2-sha256-entry", "an unknown entry key (sha256) in a 2.0 file",
        build2(header({"a": ref(0)}, entries=[entry(w, sha256=bytes(32))]), [w.tobytes()]), "StructureError")
    bad("v2-zero-size-huge-dim", "shape [2^63, 0]: no bytes, but a dimension beyond the limit",
        build2(header({"a": ref(0)}, entries=[entry(w, shape=[2**63, 0])]), [b""]), "SizeError")
    bad("v2-zero-size-huge-product", "shape [2^31, 2^31, 0]: each dimension fits, their product does not",
        build2(header({"a": ref(0)}, entries=[entry(w, shape=[2**31, 2**31, 0])]), [b""]), "SizeError")
    bad("v2-dim-of-4000-digits", "a dimension of 4000 decimal digits (ext type 1) and a zero",
        build2(header({"a": ref(0)}, entries=[entry(w, shape=[msgpack.ExtType(1, (10**3999).to_bytes(1661, "big")),
                                                               0])]), [b""]), "SizeError")
    # the header map, its three keys, [], {} and the list: 7 values besides the list's items
    too_many = prefix + b"\xdd" + struct.pack(">I", MAX_VALUES - 6) + b"\xc0" * (MAX_VALUES - 6)
    bad("v2-values-over-limit", f"{MAX_VALUES + 1} values in the header", build2(header_bytes=too_many), "SizeError")
    bad("v2-depth-65", "65 nested lists", build2(header_bytes=prefix + b"\x91" * 65 + b"\xc0"), "StructureError")
    bad("v2-huge-count", "an array32 claiming 2^32 - 1 items",
        build2(header_bytes=prefix + b"\xdd\xff\xff\xff\xff" + bytes(64)), "SizeError")
    bad("v2-c1", "the byte c1, which msgpack never uses", build2(header_bytes=prefix + b"\xc1"), "StructureError")
    bad("v2-bad-utf8", "a str that is not UTF-8", build2(header_bytes=prefix + b"\xa2\xff\xfe"), "StructureError")
    padded = build2(header({"a": ref(0)}, [w]), [w.tobytes()], pad_byte=1)
    assert padded.count(b"\x01" * 8) and padded != small  # the section has padding to damage
    bad("v2-pad-not-zero", "a padding byte that is not zero", padded, "StructureError")
    lie = bytearray(small)
    data_end = len(small) - 34 - 6  # the data, then the CRC-32 field, then the file digest
    lie[data_end - len(w.tobytes()) - 4:data_end - len(w.tobytes())] = struct.pack(">I", len(w.tobytes()) - 1)
    bad("v2-bin32-mismatch", "a bin32 length that disagrees with the table", bytes(lie), "StructureError")
    bad("v2-crc-marker", "the CRC-32 field without its c4 04 marker",
        build2(header({"a": ref(0)}, [w]), [w.tobytes()], crc_marker=b"\xc4\x05"), "StructureError")
    bad("v2-wrong-crc", "a stored CRC-32 that does not match the data",
        build2(header({"a": ref(0)}, [w]), [w.tobytes()], crcs=[zlib.crc32(w.tobytes()) ^ 1]), "ChecksumError")
    bad("v2-bytes-after-sections", "two bytes between the last section and L",
        build2(header({"a": ref(0)}, [w]), [w.tobytes()], tail=b"\x00\x00"), "StructureError")
    past = header({"a": ref(0)}, entries=[entry(w, shape=[1000])])
    bad("v2-array-past-end", "an array claiming more bytes than the file", build2(past, [w.tobytes()]), "SizeError")
    damaged = bytearray(small)
    damaged[data_end - 3] ^= 0x40
    bad("v2-array-bit-flip", "one flipped bit in the array data", bytes(damaged), "ChecksumError")
    odd = np.array([1, 2], np.uint8)
    bools = header({"a": ref(0)}, entries=[entry(odd, dtype="bool")])
    bad("v2-bool-byte", "a bool byte 02 (with matching checksums)", build2(bools, [odd.tobytes()]), "StructureError")

    h1 = {"arrays": [entry1(w), entry1(after)], "meta": {"created": "t"}, "tree": {"w": ref(0), "u": [ref(1), 2**70]}}
    h1["tree"]["u"][1] = msgpack.ExtType(1, (2**70).to_bytes(9, "big", signed=True))
    one = build1(h1, [w.tobytes(), after.tobytes()])
    ok("v1-small", "a 1.0 file with two arrays and a big integer", one, {"w": w, "u": [after, 2**70]}, {"created": "t"})
    bad("v1-trailer-digest", "a 1.0 file whose trailer digest does not match",
        build1(h1, [w.tobytes(), after.tobytes()], trailer=bytes(32)), "ChecksumError")
    wrong = {"arrays": [entry1(w, crc32=zlib.crc32(w.tobytes()) ^ 1)], "meta": {}, "tree": {"w": ref(0)}}
    ok("v1-wrong-stored-crc", "a 1.0 file with a wrong stored CRC-32 under a right digest: only verify sees it",
       build1(wrong, [w.tobytes()]), {"w": w}, verify="ChecksumError")
    newer1 = {"arrays": [entry1(w, hint=1)], "meta": {}, "tree": {"w": ref(0)}, "later": True}
    ok("v1-newer-minor", "a 1.3 file with an unknown header key and entry key", build1(newer1, [w.tobytes()], version=(1, 3)),
       {"w": w})
    bad("v1-cut", "a 1.0 file cut short", one[:-1], "TruncatedError")
    hcrc = zlib.crc32(msgpack.packb(h1, use_bin_type=True)) ^ 1
    ok("v1-wrong-header-crc", "a 1.0 file with a wrong header CRC-32 under a right digest: only verify sees it",
       build1(h1, [w.tobytes(), after.tobytes()], hcrc=hcrc), {"w": w, "u": [after, 2**70]}, {"created": "t"},
       verify="ChecksumError")
    long_crc = {"arrays": [entry1(w, crc32=msgpack.ExtType(1, (10**3999).to_bytes(1661, "big")))], "meta": {},
                "tree": {"w": ref(0)}}
    bad("v1-crc-of-4000-digits", "a 1.0 entry whose crc32 is an integer of 4000 decimal digits",
        build1(long_crc, [w.tobytes()]), "StructureError")
    bad("v1-2.0-entry", "a 2.0 entry (no crc32) in a 1.0 file",
        build1({"arrays": [entry(w)], "meta": {}, "tree": {"w": ref(0)}}, [w.tobytes()]), "StructureError")
    return out


def costliest_headers():
    """{name: header bytes}: the headers within the limits of section 7 that cost a reader the most to decode.

    Each lacks the "meta" key, so a reader decodes all of it before it can
    reject it. Found by measuring many families of values; they are too large
    (up to 4 MiB) to be conformance files, and are built on demand.
    """
    prefix = b"\x82\xa6arrays\x90\xa4tree"  # {"arrays": [], "tree": ...}
    count = MAX_VALUES - 5  # the map, its two keys, [] and the list or map itself are values too
    room = 2**22 - 32

    def fill(item, size):
        n = min(count, room // size)
        return prefix + b"\xdd" + struct.pack(">I", n) + b"".join(item(i) for i in range(n))

    def map_of(value, size):
        n = min(count // 2, room // (6 + size))
        keys = (b"\xa5" + (b"%05d" % i if i < 100_000 else b"k%04x" % (i - 100_000)) for i in range(n))
        return prefix + b"\xdf" + struct.pack(">I", n) + b"".join(k + value(i) for i, k in enumerate(keys))

    return {
        "2^18 empty maps": fill(lambda i: b"\x80", 1),
        "2^18 ext values of 16 bytes": fill(lambda i: b"\xd8\x09" + i.to_bytes(16, "big"), 18),
        "strings of 3 emoji": fill(lambda i: b"\xac" + (chr(0x1F600 + i % 64) * 3).encode(), 13),
        "one 4 MiB string of emoji": prefix + b"\xdb" + struct.pack(">I", 2**22 - 64) + "\U0001F600".encode() * (2**20 - 16),
        "a map of 2^17 keys to 16-byte ext values": map_of(lambda i: b"\xd8\x09" + i.to_bytes(16, "big"), 18),
    }


def main(out_dir=HERE):
    os.makedirs(out_dir, exist_ok=True)
    manifest = []
    for name, what, data, load, verify, tree, meta in cases():
        fname = name + ".pinnlite"
        with open(os.path.join(out_dir, fname), "wb") as f:
            f.write(data)
        row = {"file": fname, "what": what, "load": load, "verify": verify}
        if load == "ok":
            row["tree"], row["meta"] = encode_expected(tree), encode_expected(meta)
        manifest.append(row)
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return manifest


if __name__ == "__main__":
    rows = main(*sys.argv[1:])
    print(f"wrote {len(rows)} conformance files and manifest.json")
