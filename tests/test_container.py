"""Tests of pinnlite.io.container against the format specification (docs/FORMAT.md).

The reference values come from the spec, not from the module: files are also
built byte by byte by the independent writer of the conformance files
(``tests/data/make_conformance.py``, written from docs/FORMAT.md and not
importing pinnlite), checksums are recomputed with zlib / hashlib (the file
digest over the byte range section 3.3 states, the 1.x trailer's tree digest
by ``spec_tree_digest``, written from appendix A), the example reader
printed in the spec is run as is, and the conformance files are read as their
manifest says. Version 1.x files (appendix A) are built the same way.
Malformed input in bulk, and the memory it costs, are in test_container_fuzz.py.
"""

import dataclasses
import enum
import hashlib
import importlib.util
import io
import json
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
from pinnlite.io import atomic, hashing
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
DATA = ROOT / "tests" / "data"
GOLDEN_V1 = DATA / "golden_container_v1_0.ckpt"
GOLDEN_V2 = DATA / "golden_container_v2_0.pinnlite"
CONFORMANCE = DATA / "conformance"
FORMAT_MD = ROOT / "docs" / "FORMAT.md"

# the container's own threads (the engine's "pinnlite-worker" pool of earlier tests may live on)
IO_THREADS = ("pinnlite-checksum", "pinnlite-sha256", "pinnlite-crc32")


def _load_builder():
    spec = importlib.util.spec_from_file_location("make_conformance", DATA / "make_conformance.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


spec_files = _load_builder()  # the independent writer: build2 (2.0), build1 (1.x), entry, entry1, ref
build2, build1, ref = spec_files.build2, spec_files.build1, spec_files.ref

# written out from the spec, not imported from the module
SPEC_MAGIC = b"\x89pinnlite-checkpoint\r\n\x1a\n"
SPEC_DTYPES = {
    "bool": "?", "int8": "i1", "int16": "<i2", "int32": "<i4", "int64": "<i8", "uint8": "u1",
    "uint16": "<u2", "uint32": "<u4", "uint64": "<u8", "float16": "<f2", "float32": "<f4",
    "float64": "<f8", "complex64": "<c8", "complex128": "<c16",
}
SPEC_CHUNK = 4 * 1024 * 1024  # the 1.x tree digest's chunk size, appendix A
MiB = 1 << 20


# ---------------------------------------------------------------- helpers


def float_from_bits(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def bits_of(x):
    return struct.pack("<d", x)


def spec_tree_digest(data, chunk=SPEC_CHUNK):
    """Appendix A: SHA-256 over the SHA-256 digests of the consecutive ``chunk``-byte chunks."""
    data = bytes(data)
    digests = b""
    start = 0
    while start < len(data):
        digests += hashlib.sha256(data[start:start + chunk]).digest()
        start += chunk
    return hashlib.sha256(digests).digest()


def header_of(tree, arrays=(), meta=None):
    return {"arrays": [spec_files.entry(np.asarray(a)) for a in arrays], "meta": meta or {}, "tree": tree}


def header_of_v1(tree, arrays=(), meta=None):
    return {"arrays": [spec_files.entry1(np.asarray(a)) for a in arrays], "meta": meta or {}, "tree": tree}


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
    elif isinstance(expected, msgpack.ExtType):
        assert type(actual) is msgpack.ExtType and actual == expected, where
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
    """(start, end) of the header of a 2.0 file."""
    hlen = struct.unpack(">Q", data[30:38])[0]
    return 47, 47 + hlen


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


class NonSeekable(io.RawIOBase):
    """A pipe-like stream: no seek, no size."""

    def __init__(self, data):
        self._f = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, b):
        return self._f.readinto(b)


class Counting(io.RawIOBase):
    """A seekable stream over bytes that counts the bytes read from it."""

    def __init__(self, data):
        self._f = io.BytesIO(data)
        self.read_bytes = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, pos, whence=0):
        return self._f.seek(pos, whence)

    def tell(self):
        return self._f.tell()

    def readinto(self, b):
        n = self._f.readinto(b)
        self.read_bytes += n
        return n


# ---------------------------------------------------------------- layout and spec


def test_constants_follow_the_spec():
    assert ct.MAGIC == SPEC_MAGIC and len(SPEC_MAGIC) == 24
    assert ct.FORMAT_NAME == "pinnlite-checkpoint"
    assert ct.VERSION == (2, 0) and ct.SUPPORTED_MAJORS == (1, 2)
    assert {name: dt.str for name, dt in ct.DTYPES.items()} == {
        name: np.dtype(code).newbyteorder("<").str for name, code in SPEC_DTYPES.items()}
    assert (ct.PREAMBLE_SIZE, ct.MIN_FILE_SIZE, ct.TRAILER_SIZE) == (47, 116, 34)
    assert (ct.MAX_HEADER_SIZE, ct.MAX_HEADER_VALUES) == (4 * MiB, 2**18)


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
    expected = build2(header_of(spec_tree, arrays, spec_meta), [a.tobytes() for a in arrays])
    assert ct.dumps(tree, meta) == expected


def documented_files():
    """The hex dumps of section 11, as bytes."""
    text = FORMAT_MD.read_text()
    section = text[text.index("## 11."):text.index("## 12.")]
    out = []
    for block in section.split("```text")[1:]:
        block = block.split("```", 1)[0]
        rows = re.findall(r"^(\d+)\s+((?:[0-9a-f]{2} ?)+)", block, flags=re.M)
        data = b""
        for offset, hexes in rows:
            assert int(offset) == len(data)  # the offset column is right
            data += bytes.fromhex(hexes)
        out.append(data)
    return out


def test_the_documented_small_files():
    small, one_array = documented_files()
    assert len(small) == 139 and len(one_array) == 248
    w = np.array([1.0, -2.0])
    for data, tree in ((small, {"a": 1}), (one_array, {"w": w})):
        # the documented bytes are self-consistent with the spec's definitions ...
        assert data[:24] == SPEC_MAGIC and data[24:29] == bytes.fromhex("92cc02cc00")
        hlen, length = struct.unpack(">Q", data[30:38])[0], struct.unpack(">Q", data[39:47])[0]
        assert length == len(data) and data[47 + hlen:49 + hlen] == b"\xc4\x20"
        assert hashlib.sha256(data[:47 + hlen]).digest() == data[49 + hlen:81 + hlen]
        assert data[-34:-32] == b"\xc4\x20" and hashlib.sha256(data[:-32]).digest() == data[-32:]
        # ... and are what dumps writes
        assert ct.dumps(tree) == data
    header = msgpack.unpackb(small[47:71])
    assert header == {"arrays": [], "meta": {}, "tree": {"a": 1}}
    header = msgpack.unpackb(one_array[47:99])
    assert header["arrays"] == [{"dtype": "float64", "shape": [2]}]
    assert one_array[133:135] == b"\xc4\x34" and not any(one_array[135:187])
    assert one_array[187:192] == b"\xc6\x00\x00\x00\x10" and one_array[192:208] == w.tobytes()
    assert one_array[208:214] == b"\xc4\x04" + zlib.crc32(w.tobytes()).to_bytes(4, "big")


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


def test_arrays_are_aligned_and_writeable_private_copies():
    tree = {"a": np.arange(3, dtype=np.int8), "b": np.ones((2, 3)), "c": np.float16(1.5),
            "d": np.arange(5, dtype=np.uint16)}
    data = ct.dumps(tree)
    report = ct.verify(data)
    assert all(info.offset % 64 == 0 for info in report.arrays)
    for loaded in (ct.loads(data), ct.load(io.BytesIO(data)), ct.load(NonSeekable(data))):
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
    assert loaded.version == (2, 0) and loaded.extra == {}
    # streams give the same, and dumps is deterministic
    assert_same(tree, ct.load(io.BytesIO(data)).tree)
    assert_same(tree, ct.load(Trickle(data)).tree)
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
    big = rng.standard_normal((700, 1000))  # 5.6 MB: hashed on a worker thread, in pieces
    tree = {"w": big, "c": (big[:10, :10] + 1j).astype(np.complex64)}
    path = tmp_path / "big.ckpt"
    ct.save_file(path, tree)
    data = path.read_bytes()
    assert data == ct.dumps(tree)
    assert_same(tree, ct.load_file(path).tree)
    with open(path, "rb") as f:
        assert_same(tree, ct.load(f).tree)
    report = ct.verify(path)
    assert report.arrays[0].crc32 == zlib.crc32(big.tobytes())
    assert report.sha256 == hashlib.sha256(data[:-32]).hexdigest() == data[-32:].hex()
    assert_same(tree, report.tree)
    assert_same(tree, ct.load_file(path, verify=True).tree)


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


def test_header_limits_hold_on_write_and_read():
    # {"arrays": [], "meta": {}, "tree": [...]}: 7 values besides the list's items
    at_limit = [None] * (ct.MAX_HEADER_VALUES - 7)
    data = ct.dumps(at_limit)
    assert ct.loads(data).tree == at_limit
    with pytest.raises(SizeError, match="more than 262144 msgpack values.*as arrays"):
        ct.dumps(at_limit + [None])
    over = build2(header_bytes=msgpack.packb({"arrays": [], "meta": {}, "tree": at_limit + [None]}))
    expect(SizeError, over, match="more than 262144")
    # the header length: 4 MiB is the most a header may hold
    blob = bytes(ct.MAX_HEADER_SIZE - len(EMPTY_HEADER_PREFIX) - 5)  # a bin32 after the tree key
    data = ct.dumps(blob)
    assert header_region(data)[1] - 47 == ct.MAX_HEADER_SIZE
    assert ct.loads(data).tree == blob
    with pytest.raises(SizeError, match="4194305 bytes exceeds the limit of 4194304"):
        ct.dumps(blob + b"\x00")
    expect(SizeError, build2(header_bytes=msgpack.packb(bytes(ct.MAX_HEADER_SIZE))), match="limit of 4194304")


# ---------------------------------------------------------------- damage


def test_every_single_bit_flip_is_detected():
    """Section 3.4: a load detects every flip that could change a value it returns, verify every flip."""
    tree, data = small_file()
    assert 300 <= len(data) <= 4000
    report = ct.verify(data)
    start, end = header_region(data)
    owner = {}
    for info in report.arrays:
        for offset in range(info.section, info.offset + info.nbytes + 6):
            owner[offset] = info
    model = {info.key for info in report.arrays if info.path[0] == "model"}
    assert len(model) == 2 and len(report.arrays) == 3
    counts = {}
    for offset in range(len(data)):
        for bit in range(8):
            bad = bytearray(data)
            bad[offset] ^= 1 << bit
            with pytest.raises(CheckpointError) as info:
                ct.verify(bytes(bad))
            err = info.value
            if offset >= len(data) - 34:  # the file digest: only verify reads it
                assert_same(tree, ct.loads(bad).tree)
                if offset >= len(data) - 32:
                    assert type(err) is ChecksumError and err.damaged == ("file digest",), offset
                else:
                    assert type(err) is StructureError and "file digest" in str(err), offset
                continue
            with pytest.raises(CheckpointError) as info:
                ct.loads(bad)
            assert type(info.value) is type(err) and str(info.value) == str(err), offset  # the same first problem
            if offset < 24:
                assert type(err) is MagicError
            elif start <= offset < end + 34:  # header and head digest
                assert type(err) is ChecksumError and err.damaged == ("header",), offset
            elif offset in owner and owner[offset].offset <= offset < owner[offset].offset + owner[offset].nbytes:
                assert type(err) is ChecksumError and err.damaged == (owner[offset].key,), offset  # array data
                assert owner[offset].key in str(err)
            elif offset in owner and offset >= owner[offset].offset + owner[offset].nbytes + 2:  # its CRC-32
                assert type(err) is ChecksumError and err.damaged == (owner[offset].key,), offset
            elif offset in owner:  # padding, bin32 header and CRC marker of a section
                assert type(err) is StructureError and owner[offset].key in str(err), offset
            if offset in owner and owner[offset].key not in model:  # reading only the model
                assert_same(tree["model"], ct.loads(bad, only=["model"]).tree["model"])
            else:
                with pytest.raises(CheckpointError):
                    ct.loads(bad, only=["model"])
            counts[type(err).__name__] = counts.get(type(err).__name__, 0) + 1
    assert counts["MagicError"] == 24 * 8
    assert counts["ChecksumError"] > 8 * (end - start + sum(info.nbytes + 4 for info in report.arrays))


def test_truncation_at_every_offset_is_detected(tmp_path):
    _, data = small_file()
    for cut in range(len(data)):
        with pytest.raises(TruncatedError):
            ct.loads(data[:cut])
    path = tmp_path / "t.ckpt"
    for cut in (0, 10, 30, 46, 47, 52, 60, len(data) // 2, len(data) - 1):
        path.write_bytes(data[:cut])
        with pytest.raises(TruncatedError):
            ct.load_file(path)
        with pytest.raises(TruncatedError):
            ct.load(io.BytesIO(data[:cut]))
        with pytest.raises(TruncatedError):
            ct.load(Trickle(data[:cut]))
        with pytest.raises(TruncatedError):
            ct.load(Trickle(data[:cut]), only=["step"])  # a stream is read to its end, wanted or not


@pytest.mark.parametrize("extra", [b"\x00", b"x" * 1000, "copy"])
def test_appended_bytes_are_detected(extra, tmp_path):
    tree, data = small_file()
    extra = data if extra == "copy" else extra
    with pytest.raises(TrailingDataError, match=f"checkpoint at byte {len(data)}"):
        ct.loads(data + extra)
    path = tmp_path / "a.ckpt"
    path.write_bytes(data + extra)
    for read in (ct.load_file, ct.verify, lambda p: ct.load_file(p, only=["step"])):
        with pytest.raises(TrailingDataError):
            read(path)
    with pytest.raises(TrailingDataError):
        ct.load(Trickle(data + extra))
    assert_same(tree, ct.loads((data + extra)[:len(data)]).tree)  # the advice in the message works


def test_checksum_error_names_every_damaged_array():
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
    # the head digest itself
    start, end = header_region(data)
    bad = bytearray(data)
    bad[end + 33] ^= 0x80
    err = expect(ChecksumError, bytes(bad), match="head digest")
    assert err.damaged == ("header",)


def test_a_wrong_file_digest_passes_load_but_fails_verify_and_load_with_verify(tmp_path):
    arr = np.arange(4.0)
    data = build2(header_of({"a": ref(0)}, [arr]), [arr.tobytes()], file_digest=bytes(31) + b"\x01")
    assert np.array_equal(ct.loads(data).tree["a"], arr)  # loading checks the CRC-32, not the SHA-256
    path = tmp_path / "f.pinnlite"
    path.write_bytes(data)
    for read in (ct.verify, lambda d: ct.loads(d, verify=True), lambda d: ct.load(io.BytesIO(d), verify=True),
                 lambda d: ct.load(NonSeekable(d), verify=True), lambda d: ct.load_file(path, verify=True),
                 lambda d: ct.loads(d, only=(), verify=True)):
        with pytest.raises(ChecksumError, match=r"file digest mismatch") as info:
            read(data)
        assert info.value.damaged == ("file digest",)
    # a wrong stored CRC-32 under a right head digest fails the load itself
    with pytest.raises(ChecksumError, match="CRC-32 mismatch"):
        ct.loads(build2(header_of({"a": ref(0)}, [arr]), [arr.tobytes()], crcs=[0]))


def test_the_file_digest_is_the_sha256_that_head_and_sha256sum_compute(tmp_path):
    """Section 3.3: the shell commands, and their equivalent over the stated byte range, against verify."""
    rng = np.random.default_rng(7)
    tree = {"w": rng.standard_normal((600, 1000)), "b": np.arange(5, dtype=np.int8), "n": 3}  # 4.8 MB: threaded
    path = tmp_path / "ckpt-00000100.pinnlite"
    ct.save_file(path, tree)
    data = path.read_bytes()
    report = ct.verify(path)
    assert report.sha256 == hashlib.sha256(data[:len(data) - 32]).hexdigest() == data[-32:].hex()
    assert data[-34:-32] == b"\xc4\x20" and report.file_length == len(data)
    text = FORMAT_MD.read_text()
    block = text[text.index("### 3.3"):].split("```sh\n", 1)[1].split("```", 1)[0]
    # the documented commands (POSIX sh and coreutils), as they stand, print the digest twice
    script = block.replace("f=ckpt-00000100.pinnlite", f"f='{path}'")
    assert script != block
    lines = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True).stdout.split("\n")
    assert lines[0].split()[0] == report.sha256 and lines[1] == report.sha256


# ---------------------------------------------------------------- reading only some arrays


def lazy_file():
    rng = np.random.default_rng(1)
    tree = {"params": {"W": rng.standard_normal((30, 20)), "b": np.arange(30.0)},
            "moments": [rng.standard_normal(50_000), rng.standard_normal(50_000)],
            "note": "x", "step": 3}
    return tree, ct.dumps(tree, {"m": 1})


def test_only_reads_the_arrays_asked_for(tmp_path):
    tree, data = lazy_file()
    report = ct.verify(data)
    moments = [a for a in report.arrays if a.path[0] == "moments"]
    bad = bytearray(data)
    bad[moments[1].offset + 100] ^= 1  # damage an array that is not asked for
    path = tmp_path / "lazy.pinnlite"
    path.write_bytes(bad)
    for loaded in (ct.load_file(path, only=["params"]), ct.loads(bytes(bad), only=("params", "nothing")),
                   ct.load(io.BytesIO(bad), only={"params"}), ct.load(NonSeekable(bytes(bad)), only=["params"])):
        assert_same(tree["params"], loaded.tree["params"])
        assert loaded.tree["note"] == "x" and loaded.tree["step"] == 3 and loaded.meta == {"m": 1}
        for info, stand_in in zip(moments, loaded.tree["moments"]):
            # unread: its table row, whose CRC-32 (stored after the data) is not known
            assert stand_in == dataclasses.replace(info, crc32=None) and type(stand_in) is ct.ArrayInfo
            assert stand_in.shape == (50_000,) and stand_in.dtype == "float64"
    with pytest.raises(ChecksumError) as info:
        ct.load_file(path)  # a full load finds the damage
    assert info.value.damaged == (moments[1].key,)
    with pytest.raises(ChecksumError):
        ct.load_file(path, only=["moments"])
    # nothing asked for: the head alone, every array stands in as its row
    assert ct.load_file(path, only=()).tree["params"]["W"] == dataclasses.replace(report.arrays[0], crc32=None)
    with pytest.raises(InputError, match=r"only: expected a collection of top-level keys, such as \('params',\)"):
        ct.load_file(path, only="params")


def test_only_reads_just_the_head_and_those_arrays():
    tree, data = lazy_file()
    report = ct.verify(data)
    head = report.arrays[0].section  # the first section starts where the head ends
    wanted = [a for a in report.arrays if a.path[0] == "params"]
    stream = Counting(data)
    ct.load(stream, only=["params"])
    # what is read: the head and each wanted section (padding, bin32 header, data, CRC-32)
    expected = head + sum(a.offset + a.nbytes + 6 - a.section for a in wanted)
    assert stream.read_bytes == expected < len(data) / 10
    stream = Counting(data)
    ct.load(stream)
    assert stream.read_bytes == len(data) - 34  # a full load reads each byte once, but the file digest
    stream = Counting(data)
    ct.load(stream, verify=True)
    assert stream.read_bytes == len(data)


def test_only_on_a_1x_file_reads_it_whole_and_stands_in_the_rest():
    w, u = np.arange(6.0).reshape(2, 3), np.arange(5, dtype=np.uint8)
    data = build1(header_of_v1({"params": {"w": ref(0)}, "u": ref(1)}, [w, u]), [w.tobytes(), u.tobytes()])
    loaded = ct.loads(data, only=["params"])
    assert loaded.version == (1, 0)
    assert_same(w, loaded.tree["params"]["w"])
    assert type(loaded.tree["u"]) is ct.ArrayInfo and loaded.tree["u"].shape == (5,)
    bad = bytearray(data)
    bad[-40] ^= 1  # in u's data: the trailer digest covers it, so even this read fails
    with pytest.raises(ChecksumError):
        ct.loads(bytes(bad), only=["params"])


# ---------------------------------------------------------------- checksums and the file digest


@settings(max_examples=60, deadline=None)
@given(a=st.binary(max_size=300), b=st.binary(max_size=300))
def test_crc32_combine_is_the_crc_of_the_concatenation(a, b):
    assert hashing.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=400), cuts=st.lists(st.integers(0, 400), max_size=8), threads=st.integers(1, 4),
       threaded=st.booleans())
def test_checksums_match_the_definitions_however_the_bytes_are_cut(data, cuts, threads, threaded):
    bounds = sorted({0, len(data), *(c for c in cuts if c < len(data))})
    pieces = [np.frombuffer(data[x:y], np.uint8) for x, y in zip(bounds, bounds[1:])]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(hashing, "_CRC_THREAD_MIN", 1)  # every piece on a worker thread
        mp.setattr(hashing, "_SMALL", 16)  # pieces both batched and hashed in place
        mp.setattr(hashing, "_LAG", 2)
        mp.setenv("PINNLITE_NUM_THREADS", str(threads))
        with hashing.CRCs(len(data) * hashing.PIECE) as crcs, hashing.FileDigest(threaded) as sha:
            for piece in pieces:
                crcs.add("x", piece)
                sha.update(piece)
            crc, digest = crcs.result("x"), sha.digest()
    assert crc == zlib.crc32(data) and digest == hashlib.sha256(data).digest()


@pytest.fixture(scope="module")
def multi_chunk():
    """A 22 MiB file: 'a' holds 5 MiB, 'b' 8 MiB (a whole number of 1 MiB pieces), 'c' 9 MiB of zeros."""
    rng = np.random.default_rng(11)
    tree = {"step": 3, "a": rng.standard_normal(5 * MiB // 8),
            "b": rng.standard_normal(8 * MiB // 4).astype(np.float32), "c": np.zeros(9 * MiB, np.uint8)}
    data = ct.dumps(tree, meta={"created": "t"})
    report = ct.verify(data)
    return tree, data, {info.key: info for info in report.arrays}


def test_large_arrays_carry_their_crc32_and_the_file_its_plain_sha256(multi_chunk, tmp_path):
    tree, data, arrays = multi_chunk
    for name in ("a", "b", "c"):
        info = arrays[f"tree['{name}']"]
        stored = data[info.offset + info.nbytes:info.offset + info.nbytes + 6]
        assert stored == b"\xc4\x04" + zlib.crc32(tree[name].tobytes()).to_bytes(4, "big")
        assert info.crc32 == zlib.crc32(tree[name].tobytes())
    assert ct.verify(data).sha256 == hashlib.sha256(data[:-32]).hexdigest()
    path = tmp_path / "m.ckpt"
    ct.save_file(path, tree, meta={"created": "t"})
    assert path.read_bytes() == data
    read_checkpoint, _ = spec_reader()
    for loaded in (ct.loads(data).tree, ct.load_file(path).tree, ct.load(NonSeekable(data)).tree,
                   ct.load_file(path, verify=True).tree, ct.load(NonSeekable(data), verify=True).tree,
                   read_checkpoint(data)[0]):
        assert_same(tree, loaded)


@pytest.mark.parametrize("where", ["a, first byte", "a, second MiB", "b, last byte", "c, ninth MiB"])
def test_a_flipped_bit_in_a_large_array_is_detected_and_named(where, multi_chunk, tmp_path):
    tree, data, arrays = multi_chunk
    name, offset = {"a, first byte": ("a", 0), "a, second MiB": ("a", MiB + 1000),
                    "b, last byte": ("b", 8 * MiB - 1), "c, ninth MiB": ("c", 8 * MiB + 5)}[where]
    info = arrays[f"tree['{name}']"]
    bad = bytearray(data)
    bad[info.offset + offset] ^= 0x10
    err = expect(ChecksumError, bytes(bad))
    assert err.damaged == (info.key,) and info.key in str(err)
    path = tmp_path / "bad.ckpt"
    path.write_bytes(bad)
    for read in (ct.load_file, ct.verify, lambda p: ct.load(NonSeekable(p.read_bytes())),
                 lambda p: ct.load_file(p, only=[name]), ct.check, lambda p: ct.open(p).tree[name]):
        with pytest.raises(ChecksumError) as caught:
            read(path)
        assert caught.value.damaged == (info.key,)
    others = [k for k in ("a", "b", "c") if k != name]
    assert_same({k: tree[k] for k in others}, {k: ct.load_file(path, only=others).tree[k] for k in others})


def test_checksums_do_not_depend_on_the_number_of_threads(multi_chunk, tmp_path, monkeypatch):
    tree, data, arrays = multi_chunk
    used = []
    real = hashing._crc_part

    def recording(piece):
        used[-1].add(threading.current_thread().name)
        return real(piece)

    monkeypatch.setattr(hashing, "_crc_part", recording)
    bad = bytearray(data)
    bad[arrays["tree['b']"].offset + 3 * MiB] ^= 1
    for threads in (1, 2, 3, 8):
        monkeypatch.setenv("PINNLITE_NUM_THREADS", str(threads))
        used.append(set())
        path = tmp_path / f"t{threads}.ckpt"
        ct.save_file(path, tree, meta={"created": "t"})
        assert path.read_bytes() == data
        assert ct.dumps(tree, meta={"created": "t"}) == data
        assert ct.verify(path).sha256 == ct.verify(data).sha256
        assert_same(tree, ct.load_file(path).tree)
        with pytest.raises(ChecksumError) as info:
            ct.loads(bytes(bad))
        assert info.value.damaged == ("tree['b']",)
        # a load's CRC-32s: the caller and at most `threads` - 1 worker threads (none on one thread)
        assert len(used[-1]) in (range(0, 1) if threads == 1 else range(1, threads))
        assert all(name.startswith("pinnlite-crc32") for name in used[-1])
    assert not [t for t in threading.enumerate() if t.name.startswith(IO_THREADS)]


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
    assert not [t for t in threading.enumerate() if t.name.startswith(IO_THREADS)]


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


@pytest.mark.parametrize("major", [3, 255, 0])
def test_other_major_versions_raise_version_error(major):
    data = build2(header_of(1), version=(major, 0))
    err = expect(VersionError, data, match=r"supports versions 1\.x, 2\.x")
    assert f"{major}.0" in str(err)
    if major > 2:
        assert "newer" in str(err)


def test_unknown_dtype_name():
    header = header_of({"a": ref(0)})
    header["arrays"] = [dict(spec_files.entry(np.zeros(2, np.float16)), dtype="bfloat16")]
    expect(DTypeError, build2(header, [b"\x00" * 4]), match="bfloat16")


@pytest.mark.parametrize("shape, match", [
    ([10**6], re.escape("tree['a']: float64 array of shape (1000000,) claims 8000000 bytes")),
    ([2**29 - 1], re.escape("tree['a']: float64 array of shape (536870911,) claims 4294967288 bytes")),
    ([2**40], re.escape("header['arrays'][0]['shape']: [1099511627776] exceeds the limits")),
    ([2**20, 2**20, 2**20], "exceeds the limits"),
    ([2**29], "exceeds the limits"),  # 2**32 bytes: one over the limit
])
def test_array_claiming_more_bytes_than_the_file(shape, match):
    header = header_of({"a": ref(0)})
    header["arrays"] = [dict(spec_files.entry(np.zeros(0)), shape=shape)]
    expect(SizeError, build2(header, [b""]), match=match)


def test_file_claiming_gigabytes(tmp_path):
    _, data = small_file()
    huge = data[:39] + struct.pack(">Q", 2**40) + data[47:]
    expect(TruncatedError, huge, match=str(2**40))
    path = tmp_path / "huge.ckpt"
    path.write_bytes(huge)
    for read in (lambda: ct.load_file(path), lambda: ct.load(Trickle(huge))):
        tracemalloc.start()
        try:
            with pytest.raises(CheckpointError):  # a stream finds the head digest wrong (L is in the head)
                read()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 10e6
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
    data = build2(header_bytes=EMPTY_HEADER_PREFIX + claim + b"\x00" * 64)
    expect(SizeError, data, match="exceeds the")


def nested_lists(levels):
    """A file whose tree is ``levels`` lists inside each other around nil."""
    return build2(header_bytes=EMPTY_HEADER_PREFIX + b"\x91" * levels + b"\xc0")


def test_deep_nesting():
    expect(StructureError, nested_lists(100_000), match="nesting")
    # just above the format's limit: the message names the path
    expect(StructureError, nested_lists(65), match=re.escape("tree" + "[0]" * 64) + ": nesting deeper than 64")
    ok = nested_lists(64)
    depth, value = 0, ct.loads(ok).tree
    while isinstance(value, list):
        depth, value = depth + 1, value[0]
    assert depth == 64 and value is None
    meta_header = b"\x83\xa6arrays\x90\xa4tree\xc0\xa4meta\x81\xa1m" + b"\x91" * 64 + b"\xc0"
    expect(StructureError, build2(header_bytes=meta_header), match=re.escape("meta['m']"))


def test_duplicate_and_non_str_keys():
    def tree_bytes(raw):
        return build2(header_bytes=EMPTY_HEADER_PREFIX + raw)

    expect(StructureError, tree_bytes(b"\x82\xa1a\x01\xa1a\x02"), match="duplicate map key 'a'")
    expect(StructureError, build2(header_bytes=b"\x84\xa6arrays\x90\xa4meta\x80\xa4meta\x80\xa4tree\xc0"),
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
    expect(StructureError, build2(header_of(tree, arrays), [a.tobytes() for a in arrays]), match=match)


def test_negative_ext_types_are_rejected():
    # fixext1 of type -5 (msgpack reserves negative types)
    expect(StructureError, build2(header_bytes=EMPTY_HEADER_PREFIX + b"\x81\xa1a\xd4\xfbx"), match="ext type -5")


def test_malformed_header_fields():
    arr = np.zeros(2)
    good = header_of({"a": ref(0)}, [arr])
    e = good["arrays"][0]
    cases = [
        ([1, 2], "expected a msgpack map"),
        ({"arrays": [], "meta": {}}, "missing field 'tree'"),
        ({**good, "extra": 1}, "unknown fields"),
        ({**good, "arrays": {"x": 1}}, "expected a list"),
        ({**good, "meta": [1]}, "expected a map"),
        ({**good, "meta": {"r": ref(0)}}, "outside the tree"),
        ({**good, "arrays": [{**e, "shape": [-2]}]}, "non-negative"),
        ({**good, "arrays": [{**e, "shape": [True, 2]}]}, "non-negative"),
        ({**good, "arrays": [{**e, "shape": [1] * 65}]}, "at most 64"),
        ({**good, "arrays": [{**e, "shape": [2.0]}]}, "non-negative ints"),
        ({**good, "arrays": [{**e, "crc32": zlib.crc32(arr.tobytes())}]}, r"unknown fields \['crc32'\]"),
        ({**good, "arrays": [{"dtype": "float64"}]}, "missing field 'shape'"),
        ({**good, "arrays": [{**e, "note": 1}]}, "unknown fields"),
        ({**good, "arrays": [{**e, "dtype": 5}]}, "expected a str"),
        ({**good, "arrays": [5]}, "expected a map"),
    ]
    for header, match in cases:
        expect(StructureError, build2(header, [arr.tobytes()]), match=match)
    # a header that ends early: a msgpack value shorter than H
    expect(StructureError, build2(header_bytes=msgpack.packb(good) + b"\xc0"), match="ends at byte")
    expect(StructureError, build2(header_bytes=EMPTY_HEADER_PREFIX + b"\x92\xc4\x00"), match="cut off")
    expect(SizeError, build2(header_bytes=msgpack.packb(good)[:-3]), match="exceeds the")
    expect(StructureError, build2(header_bytes=EMPTY_HEADER_PREFIX + b"\xa2\xff\xfe"), match="UTF-8")
    expect(StructureError, build2(header_bytes=EMPTY_HEADER_PREFIX + b"\xc1"), match="malformed")


def test_malformed_sections():
    arr = np.arange(3, dtype=np.uint8)
    header = header_of({"a": ref(0)}, [arr])
    good = build2(header, [arr.tobytes()])
    info = ct.verify(good).arrays[0]
    assert info.offset - info.section > 7  # the section has padding
    bad = bytearray(good)
    bad[info.section + 2] = 1
    expect(StructureError, bytes(bad), match="padding")
    bad = bytearray(good)
    bad[info.section + 1] ^= 1
    expect(StructureError, bytes(bad), match="padding")
    bad = bytearray(good)
    bad[info.offset - 1] ^= 1  # the bin32 length
    expect(StructureError, bytes(bad), match="bin32")
    # bytes left between the last section and L
    expect(StructureError, build2(header, [arr.tobytes()], tail=b"\x00\x00"), match="sections end")
    # a boolean byte other than 00 / 01, under matching checksums
    odd = np.array([1, 2], np.uint8)
    bools = header_of({"a": ref(0)})
    bools["arrays"] = [dict(spec_files.entry(odd), dtype="bool")]
    expect(StructureError, build2(bools, [odd.tobytes()]), match="bool")
    # L below the smallest possible file, and the preamble markers
    expect(StructureError, good[:39] + struct.pack(">Q", 50) + good[47:], match="minimum")
    expect(StructureError, good[:25] + b"\xcd" + good[26:], match="version field")
    expect(StructureError, good[:29] + b"\xce" + good[30:], match="header length field")
    expect(StructureError, good[:38] + b"\xce" + good[39:], match="file length field")


def test_newer_minor_version_fields_are_kept_and_ignored():
    arr = np.arange(3, dtype=np.int32)
    header = header_of({"a": ref(0), "future": msgpack.ExtType(9, b"\x01\x02")}, [arr])
    header["arrays"][0]["compression_hint"] = "none"
    header["provenance"] = {"host": "x", "n": msgpack.ExtType(1, bytes.fromhex("01" + "00" * 10))}  # 2**80
    data = build2(header, [arr.tobytes()], version=(2, 3))
    loaded = ct.loads(data)
    assert loaded.version == (2, 3)
    assert loaded.extra == {"provenance": {"host": "x", "n": 2**80}}
    assert np.array_equal(loaded.tree["a"], arr)
    assert loaded.tree["future"] == msgpack.ExtType(9, b"\x01\x02")
    with pytest.raises(StructureError, match="newer format version"):
        ct.dumps(loaded.tree)  # opaque values are not re-written
    # the same fields in a 2.0 file are errors
    with pytest.raises(StructureError):
        ct.loads(build2(header, [arr.tobytes()], version=(2, 0)))


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
    for only in (None, ["model"]):
        f = io.BytesIO(b"prefix" + data + b"!")
        f.seek(6)
        f.truncate(6 + len(data))
        assert_same(tree["model"], ct.load(f, only=only).tree["model"])
        assert f.tell() == 6 + len(data)  # left after the container, as a read to its end would


@pytest.mark.skipif(not hasattr(os, "preadv"), reason="files are read with os.preadv where the OS has it")
def test_short_reads_of_a_file_are_continued(tmp_path, monkeypatch):
    tree, data = small_file()
    path = tmp_path / "short.pinnlite"
    path.write_bytes(data)
    real, calls = os.preadv, []

    def preadv(fd, buffers, offset):  # at most 5 bytes a call, as a signal or a network file system may return
        views = [memoryview(b).cast("B") for b in buffers]
        calls.append(offset)
        first = next((v for v in views if len(v)), None)
        return 0 if first is None else real(fd, [first[:5]], offset)

    monkeypatch.setattr(os, "preadv", preadv)
    assert_same(tree, ct.load_file(path).tree)
    assert_same(tree, ct.verify(path).tree)
    with ct.open(path) as f:
        assert_same(tree["model"], f.tree["model"].to_plain())
    assert len(calls) > len(data) / 5  # it was cut every 5 bytes
    path.write_bytes(data[:-40])
    with pytest.raises(TruncatedError):
        ct.load_file(path)


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
    assert report.version == (2, 0) and report.meta == {"created": "t0"}
    assert report.file_length == len(data)
    assert report.sha256 == hashlib.sha256(data[:-32]).hexdigest() == data[-32:].hex()
    rows = [(a.key, a.dtype, a.shape, a.nbytes, a.crc32) for a in report.arrays]
    w, b, m = tree["model"]["W"], tree["model"]["b"], tree["mask"]
    assert rows == [
        ("tree['model']['W']", "float64", (3, 4), 96, zlib.crc32(w.tobytes())),
        ("tree['model']['b']", "int32", (3,), 12, zlib.crc32(b.tobytes())),
        ("tree['mask']", "bool", (2,), 2, zlib.crc32(m.tobytes())),
    ]
    text = str(report)
    assert "tree['model']['W']" in text and "(3, 4)" in text and f"{zlib.crc32(w.tobytes()):08x}" in text
    assert f"SHA-256 {report.sha256}" in text


def test_save_file_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "c.ckpt"
    ct.save_file(path, {"v": 1})
    ct.save_file(str(path), {"v": 2})
    assert ct.load_file(path).tree == {"v": 2}
    assert sorted(os.listdir(tmp_path)) == ["c.ckpt"]
    with pytest.raises(FileNotFoundError, match="directory does not exist"):
        ct.save_file(tmp_path / "missing" / "c.ckpt", {"v": 3})


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


def _recording_range_flush(calls, result=0):
    """A stand-in for libc's sync_file_range that records (fd, offset, nbytes, flags) and returns ``result``."""

    def sync_file_range(fd, offset, nbytes, flags):
        calls.append((fd, offset, nbytes, flags))
        return result

    return sync_file_range


def test_a_large_save_asks_for_the_write_back_of_every_byte_in_order(tmp_path, monkeypatch):
    # each request covers what was written since the one before, from byte 0 to all but the file digest,
    # 8 MiB or more apart, so that the disk writes the file while the rest is hashed
    calls = []
    monkeypatch.setattr(atomic, "_sync_file_range", lambda: _recording_range_flush(calls))
    tree = {"a": np.arange(3_000_000.0), "b": np.arange(500_000, dtype=np.int32), "c": np.arange(2_000_000.0)}
    path = tmp_path / "big.ckpt"
    ct.save_file(path, tree)
    size = path.stat().st_size
    assert len(calls) >= 4
    assert {flags for _, _, _, flags in calls} == {2}  # SYNC_FILE_RANGE_WRITE: start, do not wait
    ends = np.cumsum([nbytes for _, _, nbytes, _ in calls])
    assert [offset for _, offset, _, _ in calls] == [0, *ends[:-1]]
    assert ends[-1] == size - 34  # everything but the digest field, written after the last request
    assert all(nbytes >= 8 << 20 for _, _, nbytes, _ in calls[:-1])
    loaded = ct.load_file(path, verify=True).tree
    assert all(np.array_equal(loaded[k], tree[k]) for k in tree)


def test_where_write_back_requests_fail_a_background_fdatasync_takes_over(tmp_path, monkeypatch):
    calls, datasyncs = [], []
    real = getattr(os, "fdatasync", os.fsync)
    monkeypatch.setattr(atomic, "_sync_file_range", lambda: _recording_range_flush(calls, result=-1))
    monkeypatch.setattr(os, "fdatasync", lambda fd: (datasyncs.append(fd), real(fd))[1], raising=False)
    tree = {"a": np.arange(4_000_000.0)}
    path = tmp_path / "big.ckpt"
    ct.save_file(path, tree)
    assert len(calls) == 1  # refused once: not asked again for this file
    assert datasyncs  # the file was flushed on the helper thread instead
    assert np.array_equal(ct.load_file(path, verify=True).tree["a"], tree["a"])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="sync_file_range(2) is Linux's")
def test_linux_gives_libc_sync_file_range(tmp_path):
    function = atomic._sync_file_range()
    assert function is not None
    with open(tmp_path / "f", "wb") as f:
        f.write(b"x" * 8192)
        f.flush()
        assert function(f.fileno(), 0, 8192, 2) == 0


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


# ---------------------------------------------------------------- golden files and the spec's reader


def golden_meta(version):
    return {"created": "2025-01-01T00:00:00+00:00", "writer": "pinnlite 0.1.0", "note": f"golden file, format {version}"}


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


def spec_header_v1(tree):
    """The 1.0 header of ``tree`` (appendix A) and its arrays in file order, built from the spec alone."""
    arrays = []

    def walk(value):
        if isinstance(value, np.ndarray):
            arrays.append(value)
            return ref(len(arrays) - 1)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [walk(v) for v in value]
        if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
            size = (value if value >= 0 else ~value).bit_length() // 8 + 1
            return msgpack.ExtType(1, value.to_bytes(size, "big", signed=True))
        return value

    spec_tree = walk(tree)
    return header_of_v1(spec_tree, arrays), [a.tobytes() for a in arrays]


@pytest.mark.parametrize("path, version", [(GOLDEN_V1, (1, 0)), (GOLDEN_V2, (2, 0))])
def test_golden_files_read_back_every_value(path, version):
    data = path.read_bytes()
    assert data[:29] == SPEC_MAGIC + bytes([0x92, 0xCC, version[0], 0xCC, version[1]])
    meta = golden_meta(f"{version[0]}.{version[1]}")
    for loaded in (ct.loads(data), ct.load_file(path), ct.load(NonSeekable(data))):
        assert loaded.version == version and loaded.meta == meta and loaded.extra == {}
        assert_same(golden_tree(), loaded.tree)
        # the NaN payloads really are there
        assert loaded.tree["nan_payload"].view(np.uint64)[0] == 0x7FF8_0000_0000_0123
        assert bits_of(loaded.tree["float_bits"][0]) == struct.pack("<Q", 0x7FF8_0000_0000_0123)
    report = ct.verify(path)
    assert report.file_length == len(data) and report.version == version


def test_golden_bytes_are_what_the_spec_says():
    # 2.0: what dumps writes today; 1.0: what an independent writer of appendix A writes
    assert ct.dumps(golden_tree(), golden_meta("2.0")) == GOLDEN_V2.read_bytes()
    header, datas = spec_header_v1(golden_tree())
    header["meta"] = golden_meta("1.0")
    assert build1(header, datas) == GOLDEN_V1.read_bytes()


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
    gold_tree, gold_meta = read_checkpoint(GOLDEN_V2.read_bytes())
    assert_same(golden_tree(), gold_tree)
    assert gold_meta == golden_meta("2.0")
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    with pytest.raises(ValueError, match="damaged head"):
        read_checkpoint(bytes(data))
    data[100] ^= 1
    data[ct.verify(path).arrays[0].offset] ^= 1
    with pytest.raises(ValueError, match="damaged array"):
        read_checkpoint(bytes(data))


# ---------------------------------------------------------------- version 1.x files (appendix A)


def small_file_v1():
    tree, _ = small_file()
    header, datas = spec_header_v1(tree)
    header["meta"] = {"created": "t0"}
    return tree, build1(header, datas)


def test_1x_files_read_back_every_value_from_every_source(tmp_path):
    tree, data = small_file_v1()
    path = tmp_path / "v1.ckpt"
    path.write_bytes(data)
    for loaded in (ct.loads(data), ct.load_file(path), ct.load(io.BytesIO(data)), ct.load(Trickle(data))):
        assert loaded.version == (1, 0) and loaded.meta == {"created": "t0"}
        assert_same(tree, loaded.tree)
    report = ct.verify(path)
    assert report.sha256 == data[-32:].hex() and "trailer digest" in str(report)
    assert [a.crc32 for a in report.arrays] == [zlib.crc32(a) for a in spec_header_v1(tree)[1]]


def test_every_single_bit_flip_of_a_1x_file_is_detected():
    tree, data = small_file_v1()
    report = ct.verify(data)
    hlen = struct.unpack(">Q", data[30:38])[0]
    owner = {o: info.key for info in report.arrays for o in range(info.offset, info.offset + info.nbytes)}
    for offset in range(len(data)):
        for bit in range(8):
            bad = bytearray(data)
            bad[offset] ^= 1 << bit
            with pytest.raises(CheckpointError) as info:
                ct.loads(bad)
            err = info.value
            if offset < 24:
                assert type(err) is MagicError
            elif 52 <= offset < 52 + hlen:
                assert type(err) is ChecksumError and err.damaged == ("header",), offset
            elif offset in owner:
                assert type(err) is ChecksumError and err.damaged == (owner[offset],), offset


def test_truncated_and_extended_1x_files():
    tree, data = small_file_v1()
    for cut in range(len(data)):
        with pytest.raises(TruncatedError):
            ct.loads(data[:cut])
    for cut in (0, 30, 51, 52, len(data) - 1):
        with pytest.raises(TruncatedError):
            ct.load(Trickle(data[:cut]))
    with pytest.raises(TrailingDataError):
        ct.loads(data + b"\x00")
    with pytest.raises(TrailingDataError):
        ct.load(Trickle(data + b"\x00"))


def test_a_wrong_stored_crc_in_a_1x_file_passes_load_but_fails_verify():
    arr = np.arange(4.0)
    header = header_of_v1({"a": ref(0)}, [arr])
    header["arrays"][0]["crc32"] ^= 1
    data = build1(header, [arr.tobytes()])
    assert np.array_equal(ct.loads(data).tree["a"], arr)  # the trailer digest alone is checked on load
    with pytest.raises(ChecksumError, match=re.escape("tree['a']") + ".*wrong CRC"):
        ct.verify(data)


def test_the_1x_trailer_digest_over_file_chunks(tmp_path):
    rng = np.random.default_rng(11)
    a, b = rng.standard_normal(5 * MiB // 8), rng.standard_normal(8 * MiB // 4).astype(np.float32)
    data = build1(header_of_v1({"step": 3, "a": ref(0), "b": ref(1)}, [a, b]), [a.tobytes(), b.tobytes()])
    body = data[:-34]
    sha = lambda x: hashlib.sha256(x).digest()  # noqa: E731
    c = SPEC_CHUNK
    assert data[-32:] == sha(b"".join(sha(body[i:i + c]) for i in range(0, len(body), c))) != sha(sha(body))
    # the documented test vector of the tree digest: 9 MiB of zeros
    vector = re.search(r"for (\d+) zero bytes.*?`([0-9a-f]{64})`", FORMAT_MD.read_text(), flags=re.S)
    assert int(vector.group(1)) == 9 * MiB
    by_hand = sha(sha(bytes(c)) * 2 + sha(bytes(MiB)))
    assert bytes.fromhex(vector.group(2)) == by_hand == hashing.digest_of(bytes(9 * MiB)) == spec_tree_digest(
        bytes(9 * MiB))
    path = tmp_path / "v1.ckpt"
    path.write_bytes(data)
    for loaded in (ct.load_file(path).tree, ct.load(NonSeekable(data)).tree):
        assert_same({"step": 3, "a": a, "b": b}, loaded)
    report = ct.verify(path)
    info = {i.key: i for i in report.arrays}["tree['b']"]
    bad = bytearray(data)
    bad[info.offset + 5 * MiB] ^= 1
    err = expect(ChecksumError, bytes(bad))
    assert err.damaged == ("tree['b']",)
    # the same chunks in another order do not match
    swapped = data[:c] + data[2 * c:3 * c] + data[c:2 * c] + data[3 * c:]
    assert expect(ChecksumError, swapped).damaged == ("layout",)


def test_hostile_1x_files():
    expect(SizeError, build1(header_bytes=EMPTY_HEADER_PREFIX + b"\xdd\xff\xff\xff\xff" + bytes(64)),
           match="exceeds the")
    expect(StructureError, build1(header_bytes=EMPTY_HEADER_PREFIX + b"\x91" * 100_000 + b"\xc0"), match="nesting")
    too_many = msgpack.packb({"arrays": [], "meta": {}, "tree": [None] * (ct.MAX_HEADER_VALUES - 6)})
    expect(SizeError, build1(header_bytes=too_many), match="more than 262144")
    arr = np.arange(3, dtype=np.uint8)
    header = header_of_v1({"a": ref(0)}, [arr])
    expect(StructureError, build1(header, [arr.tobytes()], between=b"\x00\x00"), match="trailer starts")
    expect(SizeError, build1(header, [arr.tobytes()], hlen=2**40), match="header length")
    expect(StructureError, build1({**header, "more": 1}, [arr.tobytes()]), match="unknown fields")
    newer = build1({**header, "more": 1}, [arr.tobytes()], version=(1, 4))
    assert ct.loads(newer).extra == {"more": 1}


# ---------------------------------------------------------------- conversion


def test_convert_rewrites_a_1x_file_as_2_0_with_the_same_values(tmp_path):
    out = tmp_path / "golden.pinnlite"
    version, report = ct.convert_file(GOLDEN_V1, out)
    assert version == (1, 0) and report.version == (2, 0)
    loaded = ct.load_file(out)
    assert loaded.meta == golden_meta("1.0")
    assert_same(golden_tree(), loaded.tree)
    assert out.read_bytes() == ct.dumps(golden_tree(), golden_meta("1.0"))
    # converting a 2.0 file rewrites the same bytes; a file may be converted in place
    copy = tmp_path / "copy.ckpt"
    copy.write_bytes(GOLDEN_V1.read_bytes())
    ct.convert_file(copy, copy)
    assert copy.read_bytes() == out.read_bytes()
    ct.convert_file(out, out)
    assert copy.read_bytes() == out.read_bytes()
    assert sorted(os.listdir(tmp_path)) == ["copy.ckpt", "golden.pinnlite"]


def test_convert_refuses_damaged_files_and_fields_2_0_cannot_hold(tmp_path):
    bad = bytearray(GOLDEN_V1.read_bytes())
    bad[-1] ^= 1
    src, out = tmp_path / "bad.ckpt", tmp_path / "out.pinnlite"
    src.write_bytes(bad)
    with pytest.raises(ChecksumError):
        ct.convert_file(src, out)
    assert not out.exists()
    arr = np.arange(3.0)
    newer = build1({**header_of_v1({"a": ref(0)}, [arr]), "more": 1}, [arr.tobytes()], version=(1, 2))
    src.write_bytes(newer)
    with pytest.raises(StructureError, match=r"\['more'\] of format version 1\.2"):
        ct.convert_file(src, out)
    assert not out.exists()


def test_same_tree_compares_bits():
    a = {"x": [1.0, np.arange(3.0)], "y": b"z"}
    assert ct.same_tree(a, {"x": [1.0, np.arange(3.0)], "y": b"z"})
    assert not ct.same_tree(a, {"x": [1.0, np.arange(3.0).astype(np.float32)], "y": b"z"})
    assert not ct.same_tree({"x": 0.0}, {"x": -0.0})
    assert not ct.same_tree({"x": 1}, {"x": True})
    assert not ct.same_tree({"x": 1, "y": 2}, {"y": 2, "x": 1})  # order is part of a map
    assert ct.same_tree({"n": float("nan")}, {"n": float("nan")})


# ---------------------------------------------------------------- conformance files (appendix B)


def decode_expected(value):
    """The manifest's JSON encoding of a value (docs/FORMAT.md appendix B), decoded."""
    if not isinstance(value, dict):
        return value
    (kind, body), = value.items()
    if kind == "$int":
        return int(body)
    if kind == "$float":
        return struct.unpack(">d", bytes.fromhex(body))[0]
    if kind == "$bytes":
        return bytes.fromhex(body)
    if kind == "$ext":
        return msgpack.ExtType(body[0], bytes.fromhex(body[1]))
    if kind == "$array":
        dtype, shape, raw = body
        return np.frombuffer(bytes.fromhex(raw), SPEC_DTYPES[dtype]).reshape(shape)
    if kind == "$list":
        return [decode_expected(v) for v in body]
    if kind == "$map":
        return {k: decode_expected(v) for k, v in body}
    raise AssertionError(kind)


MANIFEST = json.loads((CONFORMANCE / "manifest.json").read_text())


def outcome(read, data):
    try:
        return "ok", read(data)
    except CheckpointError as exc:
        return type(exc).__name__, None


@pytest.mark.parametrize("row", MANIFEST, ids=[row["file"] for row in MANIFEST])
def test_conformance_file(row):
    data = (CONFORMANCE / row["file"]).read_bytes()
    got, loaded = outcome(ct.loads, data)
    assert got == row["load"], row["what"]
    assert outcome(ct.verify, data)[0] == row["verify"], row["what"]
    assert outcome(lambda d: ct.load(NonSeekable(d)), data)[0] == row["load"], row["what"]
    assert outcome(ct.check, data)[0] == row["load"], row["what"]
    assert outcome(lambda d: ct.open(d).read(), data)[0] == row["load"], row["what"]
    assert outcome(lambda d: ct.loads(d, verify=True), data)[0] == row["verify"], row["what"]
    if loaded is not None:
        assert_same(decode_expected(row["tree"]), loaded.tree)
        assert_same(decode_expected(row["meta"]), loaded.meta, "meta")


def test_the_conformance_files_cover_the_rules_and_are_what_the_generator_writes(tmp_path):
    written = spec_files.main(str(tmp_path))
    assert written == MANIFEST
    for row in MANIFEST:
        assert (tmp_path / row["file"]).read_bytes() == (CONFORMANCE / row["file"]).read_bytes(), row["file"]
    assert sorted(os.listdir(CONFORMANCE)) == sorted([row["file"] for row in MANIFEST] + ["manifest.json"])
    errors = {row["load"] for row in MANIFEST} | {row["verify"] for row in MANIFEST}
    assert errors == {"ok", "MagicError", "TruncatedError", "TrailingDataError", "VersionError", "StructureError",
                      "SizeError", "ChecksumError", "DTypeError"}
    assert {row["file"][:2] for row in MANIFEST} == {"v1", "v2"}


def test_the_spec_lists_every_conformance_file_as_the_manifest_does():
    text = FORMAT_MD.read_text()
    table = text[text.index("<!-- conformance-table"):]
    rows = re.findall(r"^\| `([^`]+)` \| (.+) \| (\w+) \| (\w+) \|$", table, flags=re.M)
    assert rows == [(r["file"], r["what"], r["load"], r["verify"]) for r in MANIFEST]
