"""Tests of pinnlite.io.container against the format specification (docs/FORMAT.md).

The reference values come from the spec, not from the module: files are also
built byte by byte by an independent writer (``spec_build``) written from
docs/FORMAT.md, checksums are recomputed with zlib / hashlib (the trailer
digest by ``spec_digest``, written from section 3.3), and the example reader
printed in the spec is run as is.
"""

import enum
import hashlib
import io
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import zlib
from pathlib import Path

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pinnlite.io.container as ct
from pinnlite.io import hashing
from pinnlite.io.container import (
    ChecksumError,
    CheckpointError,
    DTypeError,
    MagicError,
    MissingFileError,
    SizeError,
    StructureError,
    TrailingDataError,
    TruncatedError,
    VersionError,
)
from pinnlite.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "golden_container_v1_0.ckpt"
FORMAT_MD = ROOT / "docs" / "FORMAT.md"

# written out from the spec, not imported from the module
SPEC_MAGIC = b"\x89pinnlite-checkpoint\r\n\x1a\n"
SPEC_DTYPES = {
    "bool": "?", "int8": "i1", "int16": "<i2", "int32": "<i4", "int64": "<i8", "uint8": "u1",
    "uint16": "<u2", "uint32": "<u4", "uint64": "<u8", "float16": "<f2", "float32": "<f4",
    "float64": "<f8", "complex64": "<c8", "complex128": "<c16",
}
SPEC_CHUNK = 4 * 1024 * 1024  # the trailer digest's chunk size, section 3.3
MiB = 1 << 20


# ---------------------------------------------------------------- helpers


def float_from_bits(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def bits_of(x):
    return struct.pack("<d", x)


def spec_digest(body, chunk=SPEC_CHUNK):
    """Section 3.3: SHA-256 over the SHA-256 digests of the consecutive ``chunk``-byte chunks."""
    body = bytes(body)
    digests = b""
    start = 0
    while start < len(body):
        digests += hashlib.sha256(body[start:start + chunk]).digest()
        start += chunk
    return hashlib.sha256(digests).digest()


def ref(index):
    """The spec's ext type 2 (array reference)."""
    return msgpack.ExtType(2, struct.pack(">I", index))


def spec_build(header=None, arrays=(), *, header_bytes=None, version=(1, 0), hlen=None, hcrc=None,
               length=None, between=b"", sha=None):
    """A file laid out as docs/FORMAT.md section 3 says, with optional lies.

    ``arrays``: the DATA bytes of each section, in order; ``between``: bytes
    inserted after the last section (a hole); ``sha``: a digest to store
    instead of the right one.
    """
    hb = msgpack.packb(header, use_bin_type=True) if header_bytes is None else header_bytes
    body = b""
    pos = 52 + len(hb)
    for data in arrays:
        k = next(k for k in range(64) if (pos + 2 + k + 5) % 64 == 0)
        body += b"\xc4" + bytes([k]) + b"\x00" * k + b"\xc6" + struct.pack(">I", len(data)) + data
        pos += 2 + k + 5 + len(data)
    body += between
    total = 52 + len(hb) + len(body) + 34
    out = (SPEC_MAGIC + bytes([0x92, 0xCC, version[0], 0xCC, version[1]])
           + b"\xcf" + struct.pack(">Q", len(hb) if hlen is None else hlen)
           + b"\xce" + struct.pack(">I", zlib.crc32(hb) if hcrc is None else hcrc)
           + b"\xcf" + struct.pack(">Q", total if length is None else length)
           + hb + body)
    return out + b"\xc4\x20" + (spec_digest(out) if sha is None else sha)


def entry(array):
    return {"dtype": array.dtype.name, "shape": list(array.shape), "crc32": zlib.crc32(array.tobytes())}


def header_of(tree, arrays=(), meta=None):
    return {"arrays": [entry(a) for a in arrays], "meta": meta or {}, "tree": tree}


def assert_same(expected, actual, where="tree"):
    """Bit-exact comparison; tuples read back as lists, NumPy scalars as 0-d arrays."""
    if isinstance(expected, (np.ndarray, np.generic)):
        expected = np.asarray(expected)
        assert type(actual) is np.ndarray, where
        assert actual.dtype == expected.dtype.newbyteorder("<"), where
        assert actual.shape == expected.shape, where
        assert actual.tobytes() == expected.astype(expected.dtype.newbyteorder("<")).tobytes(), where
    elif expected is None or isinstance(expected, bool):
        assert actual is expected, where
    elif isinstance(expected, int):
        assert type(actual) is int and actual == expected, where
    elif isinstance(expected, float):
        assert type(actual) is float and bits_of(actual) == bits_of(expected), where
    elif isinstance(expected, str):
        assert type(actual) is str and actual == expected, where
    elif isinstance(expected, (bytes, bytearray)):
        assert type(actual) is bytes and actual == bytes(expected), where
    elif isinstance(expected, (list, tuple)):
        assert type(actual) is list and len(actual) == len(expected), where
        for i, (e, a) in enumerate(zip(expected, actual)):
            assert_same(e, a, f"{where}[{i}]")
    elif isinstance(expected, dict):
        assert type(actual) is dict and list(actual) == list(expected), where
        for k in expected:
            assert_same(expected[k], actual[k], f"{where}[{k!r}]")
    else:
        raise AssertionError(f"{where}: unexpected type {type(expected)}")


def small_file():
    tree = {
        "model": {"W": np.linspace(-1, 1, 12).reshape(3, 4), "b": np.array([1, 2, 3], dtype=np.int32)},
        "step": 7,
        "seed": 2**100 + 3,
        "tags": ["a", b"\x01"],
        "mask": np.array([True, False]),
    }
    return tree, ct.dumps(tree, meta={"created": "t0"})


def header_region(data):
    hlen = struct.unpack(">Q", data[30:38])[0]
    return 52, 52 + hlen


def expect(exc_type, data, match=None):
    """loads(data) raises exc_type, using little memory; returns the exception."""
    tracemalloc.start()
    try:
        with pytest.raises(exc_type, match=match) as info:
            ct.loads(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6 + 2 * len(data), f"peak {peak} bytes"
    return info.value


# ---------------------------------------------------------------- layout and spec


def test_constants_follow_the_spec():
    assert ct.MAGIC == SPEC_MAGIC and len(SPEC_MAGIC) == 24
    assert ct.FORMAT_NAME == "pinnlite-checkpoint"
    assert ct.VERSION == (1, 0) and ct.SUPPORTED_MAJOR == 1
    assert {name: dt.str for name, dt in ct.DTYPES.items()} == {
        name: np.dtype(code).newbyteorder("<").str for name, code in SPEC_DTYPES.items()}


def test_crc32_is_the_zlib_crc():
    # check value of CRC-32/ISO-HDLC, quoted in the spec
    assert zlib.crc32(b"123456789") == 0xCBF43926


def test_dumps_matches_an_independent_writer_of_the_spec():
    w = np.arange(12, dtype=np.float64).reshape(3, 4)
    b = np.array([1, -2, 3], dtype=np.int16)
    e = np.zeros((0, 5), dtype=np.complex64)
    s = np.array(3.5, dtype=np.float32)
    u = np.arange(7, dtype=np.uint8)  # odd byte counts move the next section's padding
    tree = {"layers": [{"W": w, "b": b}], "e": e, "s": s, "u": u, "tail": u[::-1] * 2,
            "n": -(2**64) - 1, "f": 0.1, "t": (None, True, "x", b"y")}
    meta = {"created": "2025-01-01", "big": 2**70}
    arrays = [w, b, e, s, u, u[::-1] * 2]
    spec_tree = {"layers": [{"W": ref(0), "b": ref(1)}], "e": ref(2), "s": ref(3), "u": ref(4), "tail": ref(5),
                 "n": msgpack.ExtType(1, bytes.fromhex("feffffffffffffffff")), "f": 0.1, "t": [None, True, "x", b"y"]}
    spec_meta = {"created": "2025-01-01", "big": msgpack.ExtType(1, bytes.fromhex("400000000000000000"))}
    expected = spec_build(header_of(spec_tree, arrays, spec_meta), [a.tobytes() for a in arrays])
    assert ct.dumps(tree, meta) == expected


def test_the_documented_110_byte_file():
    text = FORMAT_MD.read_text()
    block = text[text.index("## 11."):]
    block = block[block.index("```text"):]
    rows = re.findall(r"^(\d+)\s+((?:[0-9a-f]{2} ?)+)", block, flags=re.M)
    data = b"".join(bytes.fromhex(hexes) for _, hexes in rows)
    assert [int(offset) for offset, _ in rows] == [0, 16, 24, 29, 38, 43, 52, 68, 76, 92, 108]
    assert len(data) == 110
    # the documented bytes are self-consistent with the spec's definitions ...
    assert data[:24] == SPEC_MAGIC
    assert zlib.crc32(data[52:76]) == struct.unpack(">I", data[39:43])[0]
    # one chunk: the digest is the SHA-256 of the SHA-256 of bytes 0-75
    assert hashlib.sha256(hashlib.sha256(data[:76]).digest()).digest() == data[78:]
    assert msgpack.unpackb(data[52:76]) == {"arrays": [], "meta": {}, "tree": {"a": 1}}
    # ... and are what dumps writes
    assert ct.dumps({"a": 1}) == data


@pytest.mark.parametrize("value, payload", [
    (2**64, "010000000000000000"),
    (-(2**64) - 1, "feffffffffffffffff"),
    (2**71, "00800000000000000000"),
    (-(2**71), "800000000000000000"),
    (-(2**63) - 1, "ff7fffffffffffffff"),
    (-(2**72) - 1, "feffffffffffffffffff"),
])
def test_big_integers_use_shortest_big_endian_twos_complement(value, payload):
    data = ct.dumps(value)
    start, end = header_region(data)
    expected = msgpack.packb({"arrays": [], "meta": {}, "tree": msgpack.ExtType(1, bytes.fromhex(payload))})
    assert data[start:end] == expected
    assert ct.loads(data).tree == value


@pytest.mark.parametrize("value", [2**64 - 1, -(2**63), 0, -1, 2**63])
def test_integers_of_64_bits_are_plain_msgpack_ints(value):
    data = ct.dumps(value)
    start, end = header_region(data)
    assert data[start:end] == msgpack.packb({"arrays": [], "meta": {}, "tree": value})
    assert ct.loads(data).tree == value


def test_arrays_are_aligned_and_writeable_views():
    tree = {"a": np.arange(3, dtype=np.int8), "b": np.ones((2, 3)), "c": np.float16(1.5),
            "d": np.arange(5, dtype=np.uint16)}
    data = ct.dumps(tree)
    report = ct.verify(data)
    assert all(info.offset % 64 == 0 for info in report.arrays)
    for loaded in (ct.loads(data), ct.load(io.BytesIO(data))):
        for key, arr in loaded.tree.items():
            assert arr.ctypes.data % 64 == 0, key
            assert arr.flags.writeable and arr.flags.c_contiguous
    # loads copies: writing to an array does not touch the caller's buffer
    buf = bytearray(data)
    loaded = ct.loads(buf)
    loaded.tree["b"][0, 0] = 42.0
    assert bytes(buf) == data


# ---------------------------------------------------------------- round trips

DTYPE_NAMES = list(SPEC_DTYPES)


@st.composite
def raw_arrays(draw):
    """Arrays of every table dtype with arbitrary bit patterns (NaN payloads, -0.0, ...)."""
    dtype = np.dtype(SPEC_DTYPES[draw(st.sampled_from(DTYPE_NAMES))])
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    count = int(np.prod(shape, dtype=np.int64))
    raw = draw(st.binary(min_size=count * dtype.itemsize, max_size=count * dtype.itemsize))
    if dtype == np.bool_:
        raw = bytes(byte & 1 for byte in raw)
    arr = np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if draw(st.booleans()) and arr.ndim == 0:
        return arr[()]  # a NumPy scalar
    return arr


BIG_INTS = st.one_of(
    st.integers(),
    st.integers(min_value=-(2**300), max_value=2**300),
    st.sampled_from([2**64, 2**64 - 1, -(2**63), -(2**63) - 1, 2**127 + 5, -(2**64), -(2**71)]),
)
LEAVES = st.one_of(
    st.none(), st.booleans(), BIG_INTS,
    st.integers(0, 2**64 - 1).map(float_from_bits),
    st.sampled_from([-0.0, float("nan"), float("inf"), float_from_bits(0x7FF0_0000_0000_0001)]),
    st.text(max_size=10), st.binary(max_size=10), raw_arrays(),
)
TREES = st.recursive(
    LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(st.text(max_size=6), children, max_size=4),
    ),
    max_leaves=25,
)


@settings(max_examples=50, deadline=None)
@given(tree=TREES, meta=st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=5), BIG_INTS), max_size=3))
def test_round_trip_is_bit_exact(tree, meta):
    data = ct.dumps(tree, meta)
    loaded = ct.loads(data)
    assert_same(tree, loaded.tree)
    assert_same(meta, loaded.meta, "meta")
    assert loaded.version == (1, 0) and loaded.extra == {}
    # a stream gives the same, and dumps is deterministic
    assert_same(tree, ct.load(io.BytesIO(data)).tree)
    assert ct.dumps(tree, meta) == data


@settings(max_examples=25, deadline=None)
@given(arr=raw_arrays(), order=st.sampled_from(["<", ">"]), step=st.sampled_from([1, 2, -1]))
def test_big_endian_and_strided_arrays_are_stored_as_c_order_little_endian(arr, order, step):
    arr = np.asarray(arr)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    source = arr.astype(arr.dtype.newbyteorder(order))
    view = source[::step]
    loaded = ct.loads(ct.dumps({"a": view})).tree["a"]
    expected = np.ascontiguousarray(arr[::step])
    assert loaded.dtype == arr.dtype.newbyteorder("<")
    assert loaded.shape == expected.shape and loaded.tobytes() == expected.tobytes()


def test_few_megabyte_array_through_a_file(tmp_path):
    rng = np.random.default_rng(3)
    big = rng.standard_normal((700, 1000))  # 5.6 MB: two chunks, hashed on worker threads
    tree = {"w": big, "c": (big[:10, :10] + 1j).astype(np.complex64)}
    path = tmp_path / "big.ckpt"
    ct.save_file(path, tree)
    data = path.read_bytes()
    assert data == ct.dumps(tree)
    assert data[-32:] == spec_digest(data[:-34])
    assert_same(tree, ct.load_file(path).tree)
    with open(path, "rb") as f:
        assert_same(tree, ct.load(f).tree)
    report = ct.verify(path)
    assert report.arrays[0].crc32 == zlib.crc32(big.tobytes())
    assert_same(tree, report.tree)


def test_pcg64_state_round_trips_and_restores_the_stream():
    rng = np.random.default_rng(12345)
    rng.random(3)
    state = rng.bit_generator.state
    assert state["state"]["state"] >= 2**64  # the 128-bit case is exercised
    loaded = ct.loads(ct.dumps({"rng": state})).tree["rng"]
    assert loaded == state
    other = np.random.Generator(np.random.PCG64())
    other.bit_generator.state = loaded
    assert np.array_equal(other.random(5), rng.random(5))


def test_conversions_on_write():
    class Level(enum.IntEnum):
        HIGH = 3

    odd_bool = np.array([0, 2, 1], dtype=np.uint8).view(np.bool_)
    tree = {"t": (1, (2,)), "ba": bytearray(b"ab"), "mv": memoryview(b"cd"), "e": Level.HIGH,
            "f32": np.float32(0.1), "i64": np.int64(-5), "flag": np.bool_(True), "odd": odd_bool}
    out = ct.loads(ct.dumps(tree)).tree
    assert out["t"] == [1, [2]]
    assert out["ba"] == b"ab" and type(out["ba"]) is bytes and out["mv"] == b"cd"
    assert out["e"] == 3 and type(out["e"]) is int
    assert out["f32"].shape == () and out["f32"].dtype == np.float32 and out["f32"] == np.float32(0.1)
    assert out["i64"].dtype == np.int64 and out["i64"] == -5
    assert out["flag"].dtype == np.bool_ and bool(out["flag"]) is True
    assert out["odd"].view(np.uint8).tolist() == [0, 1, 1]  # a non-0/1 bool byte is stored as 1


@pytest.mark.parametrize("bad", [
    np.array([object()], dtype=object),
    np.array(["ab"]),
    np.array(["2020-01-01"], dtype="datetime64[D]"),
    np.zeros(2, dtype=[("x", "<f8"), ("y", "<i4")]),
    np.str_("text"),
    np.timedelta64(3, "s"),
])
def test_unsupported_dtypes_raise_dtype_error_naming_the_path(bad):
    with pytest.raises(DTypeError, match=re.escape("tree['a'][1]")):
        ct.dumps({"a": [0, bad]})


def test_longdouble_is_refused_unless_it_is_float64():
    arr = np.full(2, 1.5, dtype=np.longdouble)
    if np.dtype(np.longdouble) == np.dtype(np.float64):  # platforms where long double is a double
        assert ct.loads(ct.dumps(arr)).tree.dtype == np.float64
    else:
        with pytest.raises(DTypeError, match="float128|float96|longdouble"):
            ct.dumps(arr)


def test_structure_errors_on_write():
    nested = []
    deepest = nested
    for _ in range(ct.MAX_DEPTH - 1):  # 64 containers in all: allowed
        deepest.append([])
        deepest = deepest[0]
    assert_same(nested, ct.loads(ct.dumps(nested)).tree)
    deepest.append([])  # 65
    with pytest.raises(StructureError, match="deeper than 64"):
        ct.dumps(nested)
    cycle = []
    cycle.append(cycle)
    with pytest.raises(StructureError, match="deeper"):
        ct.dumps(cycle)
    with pytest.raises(StructureError, match=re.escape("tree['x']") + ".*keys must be str"):
        ct.dumps({"x": {1: 2}})
    with pytest.raises(StructureError, match="set"):
        ct.dumps({"s": {1, 2}})
    with pytest.raises(StructureError, match="complex"):
        ct.dumps([1j])
    with pytest.raises(StructureError, match="UTF-8"):
        ct.dumps("\ud800")
    with pytest.raises(StructureError, match=re.escape("meta['w']") + ".*no arrays"):
        ct.dumps({}, meta={"w": np.zeros(2)})
    with pytest.raises(StructureError, match="mask"):
        ct.dumps(np.ma.masked_array([1.0, 2.0], mask=[0, 1]))
    with pytest.raises(InputError, match="meta"):
        ct.dumps({}, meta=["not", "a", "dict"])


# ---------------------------------------------------------------- damage


def test_every_single_bit_flip_is_detected():
    tree, data = small_file()
    assert 300 <= len(data) <= 4000
    report = ct.verify(data)
    start, end = header_region(data)
    owner = {}
    for info in report.arrays:
        for offset in range(info.offset, info.offset + info.nbytes):
            owner[offset] = info.key
    counts = {}
    for offset in range(len(data)):
        for bit in range(8):
            bad = bytearray(data)
            bad[offset] ^= 1 << bit
            with pytest.raises(CheckpointError) as info:
                ct.loads(bad)
            err = info.value
            if offset < 24:
                assert type(err) is MagicError
            elif start <= offset < end:
                assert type(err) is ChecksumError and err.damaged == ("header",), offset
            elif offset in owner:
                assert type(err) is ChecksumError and err.damaged == (owner[offset],), offset
                assert owner[offset] in str(err)
            counts[type(err).__name__] = counts.get(type(err).__name__, 0) + 1
    assert counts["MagicError"] == 24 * 8
    assert counts["ChecksumError"] > 8 * (end - start + sum(info.nbytes for info in report.arrays))


def test_truncation_at_every_offset_is_detected(tmp_path):
    _, data = small_file()
    for cut in range(len(data)):
        with pytest.raises(TruncatedError):
            ct.loads(data[:cut])
    path = tmp_path / "t.ckpt"
    for cut in (0, 10, 30, 51, 52, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(TruncatedError):
            ct.load_file(path)
        with pytest.raises(TruncatedError):
            ct.load(io.BytesIO(data[:cut]))
        with pytest.raises(TruncatedError):
            ct.load(Trickle(data[:cut]))


@pytest.mark.parametrize("extra", [b"\x00", b"x" * 1000, "copy"])
def test_appended_bytes_are_detected(extra, tmp_path):
    tree, data = small_file()
    extra = data if extra == "copy" else extra
    with pytest.raises(TrailingDataError, match=f"checkpoint at byte {len(data)}"):
        ct.loads(data + extra)
    path = tmp_path / "a.ckpt"
    path.write_bytes(data + extra)
    with pytest.raises(TrailingDataError):
        ct.load_file(path)
    with pytest.raises(TrailingDataError):
        ct.verify(path)
    with pytest.raises(TrailingDataError):
        ct.load(Trickle(data + extra))
    assert_same(tree, ct.loads((data + extra)[:len(data)]).tree)  # the advice in the message works


def test_checksum_error_names_the_damaged_arrays():
    tree, data = small_file()
    report = ct.verify(data)
    w, b = report.arrays[0], report.arrays[1]
    assert (w.key, b.key) == ("tree['model']['W']", "tree['model']['b']")
    bad = bytearray(data)
    bad[w.offset + 5] ^= 0xFF
    bad[b.offset] ^= 0x01
    err = expect(ChecksumError, bytes(bad))
    assert err.damaged == (w.key, b.key)
    assert w.key in str(err) and b.key in str(err)
    # damage to the trailer itself
    bad = bytearray(data)
    bad[-1] ^= 0x80
    err = expect(ChecksumError, bytes(bad), match="trailer")
    assert err.damaged == ("trailer",)


def test_wrong_stored_crc_passes_load_but_fails_verify():
    arr = np.arange(4.0)
    header = header_of({"a": ref(0)}, [arr])
    header["arrays"][0]["crc32"] ^= 1
    data = spec_build(header, [arr.tobytes()])
    assert np.array_equal(ct.loads(data).tree["a"], arr)  # the trailer digest alone is checked on load
    with pytest.raises(ChecksumError, match=re.escape("tree['a']") + ".*wrong CRC"):
        ct.verify(data)


# ---------------------------------------------------------------- trailer digest over 4 MiB chunks


@pytest.fixture(scope="module")
def multi_chunk():
    """A 13 MiB file: chunk 1 holds the end of 'a' and the start of 'b', chunks 2 and 3 lie in 'b'."""
    rng = np.random.default_rng(11)
    tree = {"step": 3, "a": rng.standard_normal(5 * MiB // 8),
            "b": rng.standard_normal(8 * MiB // 4).astype(np.float32)}
    data = ct.dumps(tree, meta={"created": "t"})
    report = ct.verify(data)
    return tree, data, {info.key: info for info in report.arrays}


class NonSeekable(io.RawIOBase):
    """A pipe-like stream: no seek, no size."""

    def __init__(self, data):
        self._f = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, b):
        return self._f.readinto(b)


def test_digest_of_a_multi_chunk_file_is_sha256_over_the_chunk_digests(multi_chunk, tmp_path):
    tree, data, arrays = multi_chunk
    body = data[:-34]
    assert 3 * SPEC_CHUNK < len(body) < 4 * SPEC_CHUNK
    sha = lambda b: hashlib.sha256(b).digest()  # noqa: E731
    c = SPEC_CHUNK
    expected = sha(sha(body[:c]) + sha(body[c:2 * c]) + sha(body[2 * c:3 * c]) + sha(body[3 * c:]))
    assert data[-34:] == b"\xc4\x20" + expected
    assert expected == spec_digest(body) != sha(body)
    path = tmp_path / "m.ckpt"
    ct.save_file(path, tree, meta={"created": "t"})
    assert path.read_bytes() == data
    report = ct.verify(path)
    assert report.sha256 == expected.hex() and report.file_length == len(data)
    assert [(a.key, a.crc32) for a in report.arrays] == [
        ("tree['a']", zlib.crc32(tree["a"].tobytes())), ("tree['b']", zlib.crc32(tree["b"].tobytes()))]
    for loaded in (ct.loads(data).tree, ct.load_file(path).tree, ct.load(NonSeekable(data)).tree):
        assert_same(tree, loaded)
    read_checkpoint, _ = spec_reader()
    assert_same(tree, read_checkpoint(data)[0])
    # the plain SHA-256 of the body (a single-hash trailer) is not accepted
    err = expect(ChecksumError, body + b"\xc4\x20" + sha(body))
    assert err.damaged == ("trailer",)


def test_the_documented_digest_test_vector():
    text = FORMAT_MD.read_text()
    section = text[text.index("### 3.3"):text.index("## 4.")]
    match = re.search(r"for (\d+) zero bytes.*?`([0-9a-f]{64})`", section, flags=re.S)
    count, documented = int(match.group(1)), bytes.fromhex(match.group(2))
    assert count == 9 * MiB
    zeros = bytes(count)
    c = SPEC_CHUNK
    by_hand = hashlib.sha256(hashlib.sha256(bytes(c)).digest() * 2 + hashlib.sha256(bytes(MiB)).digest()).digest()
    assert documented == by_hand == spec_digest(zeros) == hashing.digest_of(zeros)
    assert ct.CHUNK == SPEC_CHUNK


@pytest.mark.parametrize("where", ["a in chunk 1", "b in chunk 1", "first byte of chunk 1",
                                   "last byte of chunk 0", "b in chunk 2"])
def test_a_flipped_bit_in_a_later_chunk_is_detected_and_named(where, multi_chunk, tmp_path):
    # chunks count from 0: chunk 1 is the second one
    tree, data, arrays = multi_chunk
    a, b = arrays["tree['a']"], arrays["tree['b']"]
    assert a.offset < SPEC_CHUNK < a.offset + a.nbytes < b.offset < 2 * SPEC_CHUNK  # the layout described above
    offset, key = {
        "a in chunk 1": (SPEC_CHUNK + 1000, a.key),
        "b in chunk 1": (b.offset + 3, b.key),
        "first byte of chunk 1": (SPEC_CHUNK, a.key),
        "last byte of chunk 0": (SPEC_CHUNK - 1, a.key),
        "b in chunk 2": (2 * SPEC_CHUNK + 12345, b.key),
    }[where]
    bad = bytearray(data)
    bad[offset] ^= 0x10
    err = expect(ChecksumError, bytes(bad))
    assert err.damaged == (key,) and key in str(err)
    path = tmp_path / "bad.ckpt"
    path.write_bytes(bad)
    for reader in (ct.load_file, ct.verify, lambda p: ct.load(NonSeekable(p.read_bytes()))):
        with pytest.raises(ChecksumError) as info:
            reader(path)
        assert info.value.damaged == (key,)


def test_swapped_chunks_are_detected(multi_chunk):
    # the chunk digests are hashed in order: the same chunks in another order do not match
    _, data, arrays = multi_chunk
    c = SPEC_CHUNK
    swapped = data[:c] + data[2 * c:3 * c] + data[c:2 * c] + data[3 * c:]
    assert len(swapped) == len(data) and swapped != data
    err = expect(ChecksumError, swapped)
    assert err.damaged == ("layout",)  # chunk 1 holds the section header of 'b', now moved


def file_with_body_length(body_length):
    """dumps output whose bytes [0, L - 34) are exactly ``body_length`` long (one uint8 array)."""
    n = body_length - 200
    for _ in range(10):
        data = ct.dumps({"x": np.full(n, 7, dtype=np.uint8)})
        if len(data) - 34 == body_length:
            return data
        n += body_length - (len(data) - 34)
    raise AssertionError(f"no file with a body of {body_length} bytes")


@pytest.mark.parametrize("extra, chunks", [(-1, 2), (0, 2), (1, 3)])
def test_chunk_count_at_the_boundaries(extra, chunks):
    data = file_with_body_length(2 * SPEC_CHUNK + extra)
    body = data[:-34]
    c = SPEC_CHUNK
    pieces = [body[i * c:(i + 1) * c] for i in range(chunks)]
    assert b"".join(pieces) == body and all(pieces)  # no empty chunk, even at an exact multiple
    assert data[-32:] == hashlib.sha256(b"".join(hashlib.sha256(p).digest() for p in pieces)).digest()
    assert ct.loads(data).tree["x"].size > 0


def test_the_digest_does_not_depend_on_the_number_of_hashing_threads(multi_chunk, tmp_path, monkeypatch):
    tree, data, _ = multi_chunk
    used = []
    real = hashing._sha256_of

    def recording(pieces):
        used[-1].add(threading.current_thread().name)
        return real(pieces)

    monkeypatch.setattr(hashing, "_sha256_of", recording)
    bad = bytearray(data)
    bad[3 * SPEC_CHUNK + 5] ^= 1
    for threads in (1, 2, 3, 8):
        monkeypatch.setenv("PINNLITE_NUM_THREADS", str(threads))
        used.append(set())
        path = tmp_path / f"t{threads}.ckpt"
        ct.save_file(path, tree, meta={"created": "t"})
        assert path.read_bytes() == data
        assert ct.dumps(tree, meta={"created": "t"}) == data
        assert ct.verify(path).sha256 == data[-32:].hex()
        assert_same(tree, ct.load_file(path).tree)
        assert ct.verify(data).sha256 == data[-32:].hex()
        with pytest.raises(ChecksumError) as info:
            ct.loads(bytes(bad))
        assert info.value.damaged == ("tree['b']",)
        # at most `threads` hashing threads, none of them the caller
        assert len(used[-1]) in range(1, threads + 1)
        assert all(name.startswith("pinnlite-sha256") for name in used[-1])
    assert not [t for t in threading.enumerate() if t.name.startswith(("pinnlite-sha256", "pinnlite-crc32"))]


@settings(max_examples=40, deadline=None)
@given(data=st.binary(min_size=1, max_size=300), chunk=st.integers(1, 64), threads=st.integers(1, 4),
       cuts=st.lists(st.integers(0, 300), max_size=8))
def test_streamed_digest_matches_the_definition_for_any_split(data, chunk, threads, cuts):
    # the writer feeds the file in pieces that do not line up with the chunks
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hashing, "CHUNK", chunk)
        mp.setenv("PINNLITE_NUM_THREADS", str(threads))
        digest = hashing.Digest(len(data))
        bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
        for lo, hi in zip(bounds, bounds[1:]):
            digest.update(data[lo:hi])
        assert digest.digest() == spec_digest(data, chunk)


def test_wrong_crc_of_a_large_array_is_named_by_verify(monkeypatch):
    monkeypatch.setenv("PINNLITE_NUM_THREADS", "2")  # CRCs of large arrays on two threads
    arrs = [np.arange(2 * MiB // 8, dtype=np.float64) * k for k in (1, 2, 3)]
    header = header_of({"a": ref(0), "b": ref(1), "c": ref(2)}, arrs)
    header["arrays"][1]["crc32"] ^= 1 << 7
    data = spec_build(header, [a.tobytes() for a in arrs])
    assert len(data) > SPEC_CHUNK
    assert np.array_equal(ct.loads(data).tree["b"], arrs[1])
    with pytest.raises(ChecksumError, match=re.escape("tree['b']") + ".*wrong CRC") as info:
        ct.verify(data)
    assert info.value.damaged == ("tree['b']",)


def test_a_failed_multi_chunk_save_stops_its_hashing_threads(multi_chunk, tmp_path, monkeypatch):
    tree, data, _ = multi_chunk
    path = tmp_path / "c.ckpt"
    ct.save_file(path, {"v": 1})
    before = path.read_bytes()
    monkeypatch.setenv("PINNLITE_NUM_THREADS", "3")
    monkeypatch.setattr(os, "write", _fail_after(6 * MiB))
    with pytest.raises(OSError, match="No space"):
        ct.save_file(path, tree)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["c.ckpt"]
    assert not [t for t in threading.enumerate() if t.name.startswith(("pinnlite-sha256", "pinnlite-crc32"))]


# ---------------------------------------------------------------- hostile files

EMPTY_HEADER_PREFIX = b"\x83\xa6arrays\x90\xa4meta\x80\xa4tree"  # {"arrays": [], "meta": {}, "tree": ...


def test_wrong_magic():
    err = expect(MagicError, b"\x00" * 200, match="magic")
    assert "pinnlite-checkpoint" in str(err)
    buf = io.BytesIO()
    np.save(buf, np.zeros(30))
    expect(MagicError, buf.getvalue(), match="NumPy")
    _, data = small_file()
    expect(MagicError, data.replace(b"\r\n", b"\n", 1), match="text mode")


@pytest.mark.parametrize("major", [2, 255, 0])
def test_other_major_versions_raise_version_error(major):
    data = spec_build(header_of(1), version=(major, 0))
    err = expect(VersionError, data, match=r"supports versions 1\.x")
    assert f"{major}.0" in str(err)
    if major > 1:
        assert "newer" in str(err)


def test_unknown_dtype_name():
    header = header_of({"a": ref(0)})
    header["arrays"] = [{"dtype": "bfloat16", "shape": [2], "crc32": 0}]
    expect(DTypeError, spec_build(header, [b"\x00" * 4]), match="bfloat16")


@pytest.mark.parametrize("shape", [[10**6], [2**40], [2**20, 2**20, 2**20]])
def test_array_claiming_more_bytes_than_the_file(shape):
    header = header_of({"a": ref(0)})
    header["arrays"] = [{"dtype": "float64", "shape": shape, "crc32": 0}]
    expect(SizeError, spec_build(header, [b""]), match=re.escape("tree['a']"))


def test_file_claiming_gigabytes(tmp_path):
    _, data = small_file()
    huge = data[:44] + struct.pack(">Q", 2**40) + data[52:]
    expect(TruncatedError, huge, match=str(2**40))
    path = tmp_path / "huge.ckpt"
    path.write_bytes(huge)
    for reader in (lambda: ct.load_file(path), lambda: ct.load(Trickle(huge))):
        tracemalloc.start()
        try:
            with pytest.raises(TruncatedError):
                reader()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 50e6
    # a header length beyond the file
    expect(SizeError, data[:30] + struct.pack(">Q", 2**40) + data[38:], match="header length")


@pytest.mark.parametrize("claim", [
    b"\xdf\xff\xff\xff\xff",  # map32 of 2**32 - 1 pairs
    b"\xdd\xff\xff\xff\xff",  # array32
    b"\xdb\xff\xff\xff\xff",  # str32
    b"\xc6\xff\xff\xff\xff",  # bin32
    b"\xc9\xff\xff\xff\xff\x05",  # ext32
])
def test_huge_claimed_msgpack_lengths(claim):
    data = spec_build(header_bytes=EMPTY_HEADER_PREFIX + claim + b"\x00" * 64)
    expect(SizeError, data, match="exceeds the")


def nested_lists(levels):
    """A file whose tree is ``levels`` lists inside each other around nil."""
    return spec_build(header_bytes=EMPTY_HEADER_PREFIX + b"\x91" * levels + b"\xc0")


def test_deep_nesting():
    expect(StructureError, nested_lists(100_000), match="nesting")
    # below msgpack's own stack limit, above the format's
    expect(StructureError, nested_lists(65), match="deeper than 64")
    ok = nested_lists(64)
    depth, value = 0, ct.loads(ok).tree
    while isinstance(value, list):
        depth, value = depth + 1, value[0]
    assert depth == 64 and value is None
    meta_header = b"\x83\xa6arrays\x90\xa4tree\xc0\xa4meta\x81\xa1m" + b"\x91" * 64 + b"\xc0"
    expect(StructureError, spec_build(header_bytes=meta_header), match=re.escape("meta['m']"))


def test_duplicate_and_non_str_keys():
    def tree_bytes(raw):
        return spec_build(header_bytes=EMPTY_HEADER_PREFIX + raw)

    expect(StructureError, tree_bytes(b"\x82\xa1a\x01\xa1a\x02"), match="duplicate map key 'a'")
    expect(StructureError, spec_build(header_bytes=b"\x84\xa6arrays\x90\xa4meta\x80\xa4meta\x80\xa4tree\xc0"),
           match="duplicate map key 'meta'")
    expect(StructureError, tree_bytes(b"\x81\x01\x02"), match="keys must be str")  # {1: 2}
    expect(StructureError, tree_bytes(b"\x81\xc4\x01a\x02"), match="keys must be str")  # {b"a": 2}


@pytest.mark.parametrize("tree, arrays, match", [
    ({"a": ref(1)}, [np.zeros(1)], "reference 1 but the table has 1"),
    ({"a": ref(0), "b": ref(0)}, [np.zeros(1)], "already referenced"),
    ({"a": 1}, [np.zeros(1)], "not referenced"),
    ({"a": msgpack.ExtType(2, b"\x00\x00\x00")}, [], "4 bytes"),
    ({"a": msgpack.ExtType(1, b"\x05")}, [], "shortest"),
    ({"a": msgpack.ExtType(1, bytes.fromhex("00010000000000000000"))}, [], "shortest"),
    ({"a": msgpack.ExtType(7, b"x")}, [], "ext type 7"),
    ({"a": msgpack.Timestamp(1, 0)}, [], "timestamp"),
])
def test_malformed_references_and_ext_values(tree, arrays, match):
    expect(StructureError, spec_build(header_of(tree, arrays), [a.tobytes() for a in arrays]), match=match)


def test_negative_ext_types_are_rejected():
    # fixext1 of type -5 (msgpack reserves negative types)
    expect(StructureError, spec_build(header_bytes=EMPTY_HEADER_PREFIX + b"\x81\xa1a\xd4\xfbx"), match="ext type -5")


def test_malformed_header_fields():
    arr = np.zeros(2)
    good = header_of({"a": ref(0)}, [arr])
    cases = [
        ([1, 2], "expected a msgpack map"),
        ({"arrays": [], "meta": {}}, "missing field 'tree'"),
        ({**good, "extra": 1}, "unknown fields"),
        ({**good, "arrays": {"x": 1}}, "expected a list"),
        ({**good, "meta": [1]}, "expected a map"),
        ({**good, "meta": {"r": ref(0)}}, "outside the tree"),
        ({**good, "arrays": [{**good["arrays"][0], "shape": [-2]}]}, "non-negative"),
        ({**good, "arrays": [{**good["arrays"][0], "shape": [True, 2]}]}, "non-negative"),
        ({**good, "arrays": [{**good["arrays"][0], "shape": [1] * 65}]}, "at most 64"),
        ({**good, "arrays": [{**good["arrays"][0], "crc32": 2**32}]}, "crc32"),
        ({**good, "arrays": [{"dtype": "float64", "shape": [2]}]}, "missing field 'crc32'"),
        ({**good, "arrays": [{**good["arrays"][0], "note": 1}]}, "unknown fields"),
        ({**good, "arrays": [{**good["arrays"][0], "dtype": 5}]}, "expected a str"),
    ]
    for header, match in cases:
        expect(StructureError, spec_build(header, [arr.tobytes()]), match=match)
    # a header that ends early: a msgpack value shorter than H
    expect(StructureError, spec_build(header_bytes=msgpack.packb(good) + b"\xc0"), match="ends before")
    expect(StructureError, spec_build(header_bytes=EMPTY_HEADER_PREFIX + b"\xa2\xff\xfe"), match="UTF-8")
    expect(StructureError, spec_build(header_bytes=EMPTY_HEADER_PREFIX + b"\xc1"), match="malformed")


def test_malformed_sections():
    arr = np.arange(3, dtype=np.uint8)
    header = header_of({"a": ref(0)}, [arr])
    good = spec_build(header, [arr.tobytes()])
    start, end = header_region(good)
    # padding byte not zero (k = 64 - ... > 0 here)
    pad = good[end + 1]
    assert pad > 0
    bad = bytearray(good[:-34])
    bad[end + 2] = 1
    bad = bytes(bad) + b"\xc4\x20" + spec_digest(bad)
    expect(StructureError, bad, match="padding")
    # bin32 length that disagrees with the entry
    header2 = header_of({"a": ref(0)}, [np.arange(4, dtype=np.uint8)])
    expect(StructureError, spec_build(header2, [b"\x00\x01\x02"], between=b"\x00"), match="bin32")
    # bytes left between the last section and the trailer
    expect(StructureError, spec_build(header, [arr.tobytes()], between=b"\x00\x00"), match="trailer starts")
    # a boolean byte other than 00 / 01
    bools = header_of({"a": ref(0)}, [np.array([True, True])])
    expect(StructureError, spec_build(bools, [b"\x01\x02"]), match="bool")
    # the trailer marker
    expect(ChecksumError, good[:-34] + b"\xc5\x20" + good[-32:], match="trailer")
    # L below the smallest possible file
    expect(StructureError, good[:44] + struct.pack(">Q", 50) + good[52:], match="minimum")
    # version and preamble markers
    expect(StructureError, good[:25] + b"\xcd" + good[26:], match="version field")
    expect(StructureError, good[:38] + b"\xcf" + good[39:], match="header CRC-32 field")


def test_newer_minor_version_fields_are_kept_and_ignored():
    arr = np.arange(3, dtype=np.int32)
    header = header_of({"a": ref(0), "future": msgpack.ExtType(9, b"\x01\x02")}, [arr])
    header["arrays"][0]["compression_hint"] = "none"
    header["provenance"] = {"host": "x", "n": msgpack.ExtType(1, bytes.fromhex("01" + "00" * 10))}  # 2**80
    data = spec_build(header, [arr.tobytes()], version=(1, 3))
    loaded = ct.loads(data)
    assert loaded.version == (1, 3)
    assert loaded.extra == {"provenance": {"host": "x", "n": 2**80}}
    assert np.array_equal(loaded.tree["a"], arr)
    assert loaded.tree["future"] == msgpack.ExtType(9, b"\x01\x02")
    with pytest.raises(StructureError, match="newer format version"):
        ct.dumps(loaded.tree)  # opaque values are not re-written
    # the same fields in a 1.0 file are errors
    with pytest.raises(StructureError):
        ct.loads(spec_build(header, [arr.tobytes()], version=(1, 0)))


def test_empty_and_non_bytes_input(tmp_path):
    expect(TruncatedError, b"", match="0 bytes")
    with pytest.raises(InputError, match="data"):
        ct.loads("not bytes")
    path = tmp_path / "x.ckpt"
    ct.save_file(os.fsencode(path), [1])  # bytes paths work too
    with open(path) as text, pytest.raises(InputError, match="'rb'"):
        ct.load(text)
    with open(tmp_path / "y", "w") as text, pytest.raises(InputError, match="binary"):
        ct.dump([1], text)
    assert ct.load_file(os.fsencode(path)).tree == [1]


# ---------------------------------------------------------------- streams


class Trickle(io.RawIOBase):
    """A non-seekable stream that returns at most 7 bytes per read."""

    def __init__(self, data):
        self._data, self._pos = data, 0

    def readable(self):
        return True

    def readinto(self, b):
        n = min(7, len(b), len(self._data) - self._pos)
        b[:n] = self._data[self._pos:self._pos + n]
        self._pos += n
        return n


class Dribble(io.RawIOBase):
    """A raw sink that accepts at most 5 bytes per write."""

    def __init__(self):
        self.data = bytearray()

    def writable(self):
        return True

    def write(self, b):
        chunk = bytes(b[:5])
        self.data += chunk
        return len(chunk)


def test_streams_with_partial_reads_and_writes():
    tree, data = small_file()
    sink = Dribble()
    ct.dump(tree, sink, meta={"created": "t0"})
    assert bytes(sink.data) == data
    assert_same(tree, ct.load(Trickle(data)).tree)
    # a stream holding a container after other data: load reads from the current position
    f = io.BytesIO(b"prefix" + data)
    f.seek(6)
    assert_same(tree, ct.load(f).tree)


# ---------------------------------------------------------------- files


def test_missing_file(tmp_path):
    path = tmp_path / "nope.ckpt"
    with pytest.raises(MissingFileError, match="not found") as info:
        ct.load_file(path)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, CheckpointError)
    assert info.value.filename == str(path)
    (tmp_path / ".nope.ckpt.tmp-0123456789abcdef").write_bytes(b"partial")
    with pytest.raises(MissingFileError, match="interrupted saves"):
        ct.verify(path)


def test_verify_report(tmp_path):
    tree, data = small_file()
    path = tmp_path / "r.ckpt"
    ct.save_file(path, tree, meta={"created": "t0"})
    report = ct.verify(path)
    assert report.version == (1, 0) and report.meta == {"created": "t0"}
    assert report.file_length == len(data)
    assert report.sha256 == hashlib.sha256(hashlib.sha256(data[:-34]).digest()).hexdigest() == data[-32:].hex()
    rows = [(a.key, a.dtype, a.shape, a.nbytes, a.crc32) for a in report.arrays]
    w, b, m = tree["model"]["W"], tree["model"]["b"], tree["mask"]
    assert rows == [
        ("tree['model']['W']", "float64", (3, 4), 96, zlib.crc32(w.tobytes())),
        ("tree['model']['b']", "int32", (3,), 12, zlib.crc32(b.tobytes())),
        ("tree['mask']", "bool", (2,), 2, zlib.crc32(m.tobytes())),
    ]
    text = str(report)
    assert "tree['model']['W']" in text and "(3, 4)" in text and f"{zlib.crc32(w.tobytes()):08x}" in text


def test_save_file_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "c.ckpt"
    ct.save_file(path, {"v": 1})
    ct.save_file(str(path), {"v": 2})
    assert ct.load_file(path).tree == {"v": 2}
    assert sorted(os.listdir(tmp_path)) == ["c.ckpt"]
    with pytest.raises(FileNotFoundError, match="directory does not exist"):
        ct.save_file(tmp_path / "missing" / "c.ckpt", {"v": 3})


def _fail_after(limit):
    real = os.write
    state = {"written": 0}

    def write(fd, data):
        if state["written"] >= limit:
            raise OSError(28, "No space left on device")
        n = real(fd, bytes(data)[: max(1, min(len(data), limit - state["written"]))])
        state["written"] += n
        return n

    return write


@pytest.mark.parametrize("failure", ["fsync", "write", "replace", "interrupt", "encode"])
def test_failed_save_leaves_the_previous_file_and_no_temp(failure, tmp_path, monkeypatch):
    path = tmp_path / "c.ckpt"
    ct.save_file(path, {"v": np.arange(10.0)})
    before = path.read_bytes()
    new = {"v": np.arange(100_000.0)}
    expected = OSError
    if failure == "fsync":
        monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(5, "I/O error")))
    elif failure == "write":
        monkeypatch.setattr(os, "write", _fail_after(1000))
    elif failure == "replace":
        monkeypatch.setattr(os, "replace", lambda a, b: (_ for _ in ()).throw(PermissionError(13, "denied")))
    elif failure == "interrupt":
        calls = []

        def write(fd, data):
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return os.writev(fd, [data])

        monkeypatch.setattr(os, "write", write)
        expected = KeyboardInterrupt
    else:
        new = {"v": np.arange(3.0), "bad": object()}
        expected = StructureError
    with pytest.raises(expected):
        ct.save_file(path, new)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.ckpt"]


def test_clean_stale_temps_removes_only_temp_files(tmp_path):
    names = {
        ".c.ckpt.tmp-0123456789abcdef": True,
        ".other name.bin.tmp-fedcba9876543210": True,
        "c.ckpt": False,
        ".c.ckpt.tmp-0123456789ABCDEF": False,  # upper case: not ours
        ".c.ckpt.tmp-0123": False,
        "c.ckpt.tmp-0123456789abcdef": False,  # no leading dot
        ".c.ckpt.tmp-0123456789abcdef.keep": False,
    }
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / ".d.tmp-00000000000000aa").mkdir()  # a directory is never removed
    removed = ct.clean_stale_temps(tmp_path)
    expected = sorted(str(tmp_path / n) for n, gone in names.items() if gone)
    assert removed == expected
    left = set(os.listdir(tmp_path))
    assert left == {n for n, gone in names.items() if not gone} | {".d.tmp-00000000000000aa"}
    assert ct.clean_stale_temps(tmp_path) == []


CHILD = r"""
import sys
import numpy as np
from pinnlite.io.container import save_file

def state(k):
    n = 1000 + 7000 * (k % 40)
    return {"step": k, "w": np.arange(n, dtype=np.float64) * k, "note": "x" * (k % 50)}

path = sys.argv[1]
k = int(sys.argv[2])
save_file(path, state(k))
print("ready", flush=True)
while True:
    k += 1
    save_file(path, state(k))
"""


def test_sigkill_during_saves_never_loses_the_checkpoint(tmp_path):
    path = tmp_path / "run.ckpt"
    rng = np.random.default_rng(20240611)
    start = 0
    for delay in rng.uniform(0.0, 0.08, size=24):
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(start)],
                                stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(delay)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            proc.stdout.close()
        report = ct.verify(path)  # exists and verifies
        tree = ct.load_file(path).tree
        k = tree["step"]
        assert k >= start
        n = 1000 + 7000 * (k % 40)
        assert np.array_equal(tree["w"], np.arange(n, dtype=np.float64) * k)
        assert report.meta == {}
        for stale in ct.clean_stale_temps(tmp_path):
            assert ".run.ckpt.tmp-" in stale
        assert os.listdir(tmp_path) == ["run.ckpt"]
        start = k + 1


# ---------------------------------------------------------------- import hygiene


def test_import_works_where_numba_cannot_be_imported(tmp_path):
    blocker = tmp_path / "numba"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('numba is blocked in this test')\n")
    path = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=path)
    blocked = subprocess.run([sys.executable, "-c", "import numba"], env=env, capture_output=True, text=True,
                             timeout=60)
    assert blocked.returncode != 0 and "blocked" in blocked.stderr  # the blocker is effective
    code = ("import numpy as np, pinnlite.io.container as c\n"
            "t = c.loads(c.dumps({'a': np.arange(3), 'n': 2**70})).tree\n"
            "assert t['a'].tolist() == [0, 1, 2] and t['n'] == 2**70\n"
            "print('ok')")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_importing_the_container_does_not_import_numba():
    code = "import sys, pinnlite.io.container; print(sorted(m for m in sys.modules if m.split('.')[0] == 'numba'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------- golden file and the spec's reader

GOLDEN_META = {"created": "2025-01-01T00:00:00+00:00", "writer": "pinnlite 0.1.0", "note": "golden file, format 1.0"}


def golden_tree():
    # the same tree as tests/data/make_golden_container.py, written out again on purpose
    nan_payload = float_from_bits(0x7FF8_0000_0000_0123)
    return {
        "model": {
            "layers": [
                {"W": np.array([[-0.5, -0.375, -0.25, -0.125], [0.0, 0.125, 0.25, 0.375], [0.5, 0.625, 0.75, 0.875]]),
                 "b": np.array([-0.0, 1.5, np.inf], dtype=np.float32)},
                {"W": np.array([[-0.0, -2, -4], [-6, -8, -10]], dtype=np.float16),
                 "b": np.array([0.25 + 1j, -3 - 0.5j], dtype=np.complex64)},
            ],
            "activation": "tanh",
        },
        "adam": {"step": 1234, "lr": 1e-3, "betas": [0.9, 0.999],
                 "m": np.array([[1, 3], [-2, -4]], dtype=np.int64),
                 "z": np.array([complex(float("nan"), 2.0)], dtype=np.complex128)},
        "ints": [np.array([-3, -2, -1, 0, 1, 2], dtype=np.int8), np.array([-32768, 32767], dtype=np.int16),
                 np.array([-(2**31), 7], dtype=np.int32), np.array([255], dtype=np.uint8),
                 np.array([65535], dtype=np.uint16), np.array([2**32 - 1], dtype=np.uint32),
                 np.array([0, 2**64 - 1], dtype=np.uint64)],
        "flags": np.array([True, False, True]),
        "nan_payload": np.array([nan_payload, -0.0]),
        "scalar": np.array(0.25, dtype=np.float32),
        "empty": np.zeros((0, 2), dtype=np.int8),
        "rng": {"bit_generator": "PCG64", "state": {"state": 2**127 + 12345, "inc": 2**100 + 1},
                "has_uint32": 0, "uinteger": 0},
        "big_negative": -(2**80) - 7,
        "history": [0.5, 0.25, [1, 2, None], {"nested": True}],
        "blob": b"\x00\xff\x10",
        "float_bits": [nan_payload, -0.0, 5e-324],
    }


def test_golden_file_reads_back_every_value():
    data = GOLDEN.read_bytes()
    assert data[:29] == SPEC_MAGIC + bytes.fromhex("92cc01cc00")
    loaded = ct.loads(data)
    assert loaded.version == (1, 0) and loaded.meta == GOLDEN_META and loaded.extra == {}
    assert_same(golden_tree(), loaded.tree)
    # the NaN payloads really are there
    assert loaded.tree["nan_payload"].view(np.uint64)[0] == 0x7FF8_0000_0000_0123
    assert bits_of(loaded.tree["float_bits"][0]) == struct.pack("<Q", 0x7FF8_0000_0000_0123)
    assert ct.verify(GOLDEN).file_length == len(data)


def test_golden_file_bytes_are_reproduced_by_dumps():
    assert ct.dumps(golden_tree(), GOLDEN_META) == GOLDEN.read_bytes()


def spec_reader():
    text = FORMAT_MD.read_text()
    start = text.index("<!-- example-reader")
    code = text[start:].split("```python\n", 1)[1].split("```", 1)[0]
    namespace = {}
    exec(compile(code, str(FORMAT_MD), "exec"), namespace)  # the documented reader, verbatim
    return namespace["read_checkpoint"], code


def test_the_example_reader_in_the_spec_reads_save_file_output(tmp_path):
    read_checkpoint, code = spec_reader()
    assert "import pinnlite" not in code and "from pinnlite" not in code
    assert len(code.strip().splitlines()) <= 60
    rng = np.random.default_rng(0)
    tree = {"model": [{"W": rng.standard_normal((4, 3)), "b": np.zeros(3, np.float32)}],
            "opt": {"m": np.arange(6, dtype=np.int16).reshape(2, 3), "t": np.uint64(2**64 - 1)},
            "rng": np.random.default_rng(5).bit_generator.state, "neg": -(2**90), "ok": True,
            "empty": np.zeros((2, 0), np.complex128), "raw": b"\x00"}
    path = tmp_path / "spec.ckpt"
    ct.save_file(path, tree, meta={"created": "now"})
    doc_tree, doc_meta = read_checkpoint(path.read_bytes())
    assert doc_meta == {"created": "now"}
    assert_same(ct.load_file(path).tree, doc_tree)
    assert_same(tree, doc_tree)
    gold_tree, gold_meta = read_checkpoint(GOLDEN.read_bytes())
    assert_same(golden_tree(), gold_tree)
    assert gold_meta == GOLDEN_META
    with pytest.raises(ValueError, match="damaged"):
        data = bytearray(path.read_bytes())
        data[100] ^= 1
        read_checkpoint(bytes(data))
