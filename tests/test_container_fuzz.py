"""The container's readers on damaged and hostile input: fuzzing, and the memory that rejecting a file costs.

Three kinds of input (docs/FORMAT.md sections 3.4, 7 and 8):

- *damaged* files: valid files with bytes flipped, overwritten, cut, inserted
  or removed. Every change must raise a :class:`CheckpointError` subclass when
  the whole file is read (every byte is checked, section 3.4), and reading
  only some arrays must either fail the same way or return exactly the
  arrays asked for;
- *hostile* files: a header of random msgpack, or a valid header with its
  bytes changed, then sealed with a correct head digest (a 1.x file: correct
  header CRC-32 and trailer digest), so that the checks behind the digest are
  the ones that must hold. The reader must return or raise a
  :class:`CheckpointError`, never anything else, within the memory bound;
- the *costliest* headers within the limits, and files that claim more than
  they hold: rejecting them must stay within the documented bound of 48 MiB
  (section 7), measured with ``tracemalloc`` (NumPy reports its allocations
  to it), whatever the file claims.
"""

import hashlib
import importlib.util
import io
import struct
import tracemalloc
import zlib
from pathlib import Path

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pinnlite.io.container as ct
from pinnlite.io import checkpoint
from pinnlite.io import header as ct_header
from pinnlite.io.container import CheckpointError

DATA = Path(__file__).resolve().parent / "data"
_spec = importlib.util.spec_from_file_location("make_conformance", DATA / "make_conformance.py")
spec_files = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(spec_files)  # the independent writer of the conformance files

MiB = 1 << 20
BOUND = 48 * MiB  # docs/FORMAT.md section 7: what rejecting any 2.0 file may cost


def peak_of(fn):
    """(result or the CheckpointError raised, peak traced bytes) of ``fn()``."""
    tracemalloc.start()
    try:
        try:
            out = fn()
        except CheckpointError as exc:
            out = exc
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


class NonSeekable(io.RawIOBase):
    def __init__(self, data):
        self._f = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, b):
        return self._f.readinto(b)


# ---------------------------------------------------------------- damaged files

ARRAYS = st.sampled_from([
    np.arange(5, dtype=np.float64), np.array([[1, -2], [3, 4]], np.int16), np.zeros(0, np.uint8),
    np.array(2.5, np.float32), np.array([True, False, True]), np.arange(300, dtype=np.uint8),
])
TREES = st.dictionaries(
    st.sampled_from(["params", "moments", "a", "b", "step"]),
    st.one_of(ARRAYS, st.integers(-(2**70), 2**70), st.text(max_size=5), st.lists(ARRAYS, max_size=3)),
    min_size=1, max_size=5,
)
MUTATIONS = st.lists(st.tuples(st.sampled_from(["flip", "set", "cut", "insert", "delete"]),
                               st.floats(0, 1), st.integers(0, 255)), min_size=1, max_size=3)


def mutate(data, mutations):
    out = bytearray(data)
    for kind, where, value in mutations:
        pos = min(int(where * len(out)), max(len(out) - 1, 0))
        if kind == "flip" and out:
            out[pos] ^= 1 << (value % 8)
        elif kind == "set" and out:
            out[pos] = value
        elif kind == "cut":
            del out[pos:]
        elif kind == "insert":
            out[pos:pos] = bytes([value]) * (1 + value % 4)
        elif kind == "delete":
            del out[pos:pos + 1 + value % 4]
    return bytes(out)


def leaves(tree, path=()):
    if isinstance(tree, np.ndarray):
        yield path, tree
    elif isinstance(tree, dict):
        for k, v in tree.items():
            yield from leaves(v, path + (k,))
    elif isinstance(tree, list):
        for i, v in enumerate(tree):
            yield from leaves(v, path + (i,))


def at(tree, path):
    for key in path:
        tree = tree[key]
    return tree


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=TREES, mutations=MUTATIONS, v1=st.booleans())
def test_any_damage_to_a_file_is_detected_when_it_is_read_whole(tree, mutations, v1):
    if v1:  # a 1.x file, from the independent writer
        arrays = []

        def walk(value):
            if isinstance(value, np.ndarray):
                arrays.append(value)
                return spec_files.ref(len(arrays) - 1)
            if isinstance(value, dict):
                return {k: walk(v) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v) for v in value]
            if isinstance(value, int) and not -(2**63) <= value < 2**64:
                size = (value if value >= 0 else ~value).bit_length() // 8 + 1
                return msgpack.ExtType(1, value.to_bytes(size, "big", signed=True))
            return value

        header = {"meta": {}, "tree": walk(tree)}
        header["arrays"] = [spec_files.entry1(a) for a in arrays]
        data = spec_files.build1(header, [a.tobytes() for a in arrays])
    else:
        data = ct.dumps(tree)
    bad = mutate(data, mutations)
    if bad == data:
        return
    with pytest.raises(CheckpointError):
        ct.verify(bad)  # every byte
    for read in (ct.loads, lambda d: ct.load(NonSeekable(d))):
        try:
            found = read(bad).tree
        except CheckpointError:
            continue
        # a load reads all but the file digest (2.0): damage there alone leaves every value as written
        assert not v1 and len(bad) == len(data) and bad[:-34] == data[:-34], mutations
        assert ct.same_tree(found, ct.loads(data).tree)
    # reading some arrays: the damage is found, or what is returned is exactly what was written
    try:
        found = ct.loads(bad, only=["params", "a"]).tree
    except CheckpointError:
        found = None
    for path, arr in leaves(tree) if found is not None else ():
        got = at(found, path)
        if path[0] in ("params", "a"):
            assert got.dtype == arr.dtype and got.shape == arr.shape and got.tobytes() == arr.tobytes()
        else:
            assert isinstance(got, ct.ArrayInfo)
    # and lazily, array by array: the head is refused at open, or each lookup raises or gives the array written
    try:
        opened = ct.open(bad)
    except CheckpointError:
        return
    with opened:
        for path, arr in leaves(tree):
            try:
                got = at(opened.tree, path)
            except CheckpointError:
                continue
            assert got.dtype == arr.dtype and got.shape == arr.shape and got.tobytes() == arr.tobytes()


# ---------------------------------------------------------------- hostile files


def seal2(header_bytes, datas=(), version=(2, 0)):
    """A 2.0 file around ``header_bytes`` with a correct head digest and L (the writer of the conformance files)."""
    return spec_files.build2(header_bytes=header_bytes, datas=datas, version=version)


def seal1(header_bytes, datas=(), version=(1, 0)):
    return spec_files.build1(header_bytes=header_bytes, datas=datas, version=version)


def msgpack_values(depth_leaves=st.none()):
    leaf = st.one_of(
        st.none(), st.booleans(), st.integers(-(2**64), 2**64 - 1), st.floats(allow_nan=True), st.text(max_size=8),
        st.binary(max_size=8), st.builds(msgpack.ExtType, st.integers(0, 127), st.binary(max_size=6)),
        st.sampled_from([msgpack.ExtType(2, b"\x00\x00\x00\x00"), msgpack.ExtType(2, b"\x00\x00\x00\x01"),
                         msgpack.ExtType(1, b"\x01" + bytes(8)), "arrays", "meta", "tree", "dtype", "shape",
                         "crc32", "sha256", "float64", "bool", [2], [1, 1]]),
    )
    return st.recursive(leaf, lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(["arrays", "meta", "tree", "dtype", "shape", "crc32", "sha256"]),
                                  st.text(max_size=4), st.integers(0, 3)), children, max_size=5),
    ), max_leaves=30)


def hostile_header(draw_value, draw_entries):
    return msgpack.packb({"arrays": draw_entries, "meta": {}, "tree": draw_value}, use_bin_type=True)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=msgpack_values(), entries=st.lists(msgpack_values(), max_size=3), raw=st.booleans(),
       datas=st.lists(st.binary(max_size=40), max_size=3), minor=st.sampled_from([0, 0, 5]), v1=st.booleans())
def test_random_headers_behind_a_valid_digest_are_read_or_rejected_cleanly(value, entries, raw, datas, minor, v1):
    try:
        header = msgpack.packb(value, use_bin_type=True) if raw else hostile_header(value, entries)
    except (OverflowError, ValueError, TypeError):  # not encodable by msgpack: nothing to test
        return
    data = seal1(header, datas, (1, minor)) if v1 else seal2(header, datas, (2, minor))
    for read in (ct.loads, ct.verify, lambda d: ct.loads(d, only=["a"]), lambda d: ct.load(NonSeekable(d))):
        out, peak = peak_of(lambda: read(data))
        assert peak < BOUND + 4 * len(data)
        assert isinstance(out, (CheckpointError, ct.Container, ct.VerifyReport))


def real_header():
    tree = {"params": {"W": np.ones((3, 2)), "b": np.zeros(3, np.float32)}, "epoch": 4, "flags": np.array([True]),
            "rng": {"state": 2**100, "inc": 7}, "name": "run"}
    data = ct.dumps(tree, {"created": "t"})
    hlen = struct.unpack(">Q", data[30:38])[0]
    report = ct.verify(data)
    datas = [data[a.offset:a.offset + a.nbytes] for a in report.arrays]
    return data[47:47 + hlen], datas


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations=MUTATIONS, v1=st.booleans())
def test_a_changed_real_header_behind_a_valid_digest_is_read_or_rejected_cleanly(mutations, v1):
    header, datas = real_header()
    bad = mutate(header, mutations)
    if v1:  # a 2.0 header in a 1.x file fails on its entries; mutations reach the rest all the same
        data = seal1(bad, datas)
    else:
        data = seal2(bad, datas)
    for read in (ct.loads, ct.verify, lambda d: ct.loads(d, only=["params"])):
        out, peak = peak_of(lambda: read(data))
        assert peak < BOUND + 4 * len(data)
        assert isinstance(out, (CheckpointError, ct.Container, ct.VerifyReport))
        if isinstance(out, ct.Container) and bad == header:
            assert out.tree["epoch"] == 4


# ---------------------------------------------------------------- the memory bound

PREFIX = b"\x82\xa6arrays\x90\xa4tree"  # {"arrays": [], "tree": ...}: no "meta", so decoded, then rejected
COSTLIEST = spec_files.costliest_headers()  # the headers within the limits that cost the most to decode


@pytest.mark.parametrize("name", list(COSTLIEST))
def test_rejecting_the_costliest_headers_stays_within_the_bound(name):
    header = COSTLIEST[name]
    assert len(header) <= ct.MAX_HEADER_SIZE
    data = seal2(header, version=(2, 1))  # a newer minor: ext values of unknown types are kept
    out, peak = peak_of(lambda: ct.loads(data))
    assert isinstance(out, ct.StructureError) and "missing field 'meta'" in str(out)
    assert peak < BOUND, f"{name}: {peak / MiB:.1f} MiB"


def test_one_value_too_many_is_rejected_before_any_is_decoded():
    over = PREFIX + b"\xdd" + struct.pack(">I", ct.MAX_HEADER_VALUES) + b"\xc0" * ct.MAX_HEADER_VALUES
    data = seal2(over)
    out, peak = peak_of(lambda: ct.loads(data))
    assert isinstance(out, ct.SizeError) and "more than 262144" in str(out)
    assert peak < len(over) + MiB  # the head, and nothing decoded from it


def test_claims_beyond_the_data_cost_nothing(tmp_path):
    w = np.arange(4.0)
    header = {"arrays": [spec_files.entry(w, shape=[2**29 - 1])], "meta": {}, "tree": {"a": spec_files.ref(0)}}
    start = 81 + len(msgpack.packb(header, use_bin_type=True))  # the one section's offset (section 3.2)
    data_at = start + 7 + (-(start + 7)) % 64
    length = data_at + 8 * (2**29 - 1) + 6 + 34  # the data, its CRC-32 field, the file digest
    claim = bytearray(spec_files.build2(header, [w.tobytes()], length=length))  # says 4 GiB, holds 300 bytes
    claim[data_at - 4:data_at] = struct.pack(">I", 8 * (2**29 - 1))  # and so does its section
    claim = bytes(claim)
    path = tmp_path / "claim.pinnlite"
    path.write_bytes(claim)
    for read in (lambda: ct.loads(claim), lambda: ct.load_file(path), lambda: ct.load(NonSeekable(claim)),
                 lambda: ct.verify(path)):
        out, peak = peak_of(read)
        assert isinstance(out, ct.TruncatedError)
        assert peak < 2 * MiB  # a stream's buffer starts at 1 MiB and grows only with the data that arrive
    # a header length, a file length and msgpack counts claiming gigabytes
    hugeish = spec_files.build2(header_bytes=PREFIX + b"\xdd\xff\xff\xff\xff" + bytes(100))
    for data in (spec_files.build2({"arrays": [], "meta": {}, "tree": 1}, hlen=2**40), hugeish,
                 spec_files.build2({"arrays": [], "meta": {}, "tree": 1}, length=2**62)):
        out, peak = peak_of(lambda: ct.loads(data))
        assert isinstance(out, CheckpointError) and peak < MiB


def test_a_1x_file_costs_at_most_itself_and_the_bound():
    data = seal1(COSTLIEST["a map of 2^17 keys to 16-byte ext values"], version=(1, 1))
    out, peak = peak_of(lambda: ct.loads(data))
    assert isinstance(out, ct.StructureError)
    assert peak < BOUND + len(data), f"{peak / MiB:.1f} MiB"


# ---------------------------------------------------------------- hostile files, one by one
#
# Each of these once got through as another exception, cost far more than the
# bound, or was not caught at all; each must raise the CheckpointError subclass
# named, from every reader.

REF = spec_files.ref(0)


def readers(data, path):
    path.write_bytes(data)
    return {"loads": lambda: ct.loads(data), "verify": lambda: ct.verify(data), "load_file": lambda: ct.load_file(path),
            "stream": lambda: ct.load(NonSeekable(data)), "check": lambda: ct.check(path),
            "open": lambda: ct.open(path).read(), "read": lambda: checkpoint.read(path),
            "read_model": lambda: checkpoint.read_model(path)}


@pytest.mark.parametrize("shape", [[2**63, 0], [2**31, 2**31, 0], [0, 2**64 - 1], [2**32, 0], [0] + [2**32 - 1] * 3])
def test_zero_size_shapes_with_huge_dimensions_are_size_errors(shape, tmp_path):
    header = {"arrays": [{"dtype": "float64", "shape": shape}], "meta": {}, "tree": {"a": REF}}
    entry1 = {"dtype": "float64", "shape": shape, "crc32": 0}
    for data in (spec_files.build2(header, [b""]), spec_files.build1(dict(header, arrays=[entry1]), [b""])):
        for name, read in readers(data, tmp_path / "z.pinnlite").items():
            with pytest.raises(ct.SizeError, match=r"\['shape'\]: .* exceeds the limits of the format"):
                read()


def test_the_largest_allowed_zero_size_shape_reads_as_an_empty_array():
    data = spec_files.build2({"arrays": [{"dtype": "uint8", "shape": [2**32 - 1, 0]}], "meta": {}, "tree": REF},
                             [b""])
    arr = ct.loads(data).tree
    assert arr.shape == (2**32 - 1, 0) and arr.size == 0 and arr.dtype == np.uint8


def test_latest_passes_over_a_checkpoint_with_a_huge_zero_size_shape(tmp_path):
    good = np.arange(3.0)
    container_file = tmp_path / "ckpt-00000001.pinnlite"
    ct.save_file(container_file, {"w": good})
    header = {"arrays": [{"dtype": "float64", "shape": [2**63, 0]}], "meta": {}, "tree": {"w": REF}}
    (tmp_path / "ckpt-00000002.pinnlite").write_bytes(spec_files.build2(header, [b""]))
    (tmp_path / "latest").write_text("ckpt-00000002.pinnlite\n")
    with pytest.warns(ct.CheckpointWarning, match=r"ckpt-00000002.pinnlite: header\['arrays'\]\[0\]\['shape'\]"):
        assert checkpoint.latest(tmp_path) == str(container_file)


def test_integers_of_thousands_of_digits_in_structural_fields_are_reported_not_formatted(tmp_path):
    huge = 10**5000  # beyond Python's 4300-digit limit of int-to-str conversion
    ext = msgpack.ExtType(1, spec_files_bigint(huge))
    cases = [
        (ct.SizeError, spec_files.build2({"arrays": [{"dtype": "int8", "shape": [ext]}], "meta": {}, "tree": REF},
                                         [b""])),
        (ct.SizeError, spec_files.build2({"arrays": [{"dtype": "int8", "shape": [ext, 0]}], "meta": {}, "tree": REF},
                                         [b""])),
        (ct.StructureError, spec_files.build1({"arrays": [{"dtype": "int8", "shape": [1], "crc32": ext}], "meta": {},
                                               "tree": REF}, [b"\x00"])),
        (ct.SizeError, spec_files.build1({"arrays": [{"dtype": "int8", "shape": [ext], "crc32": 0}], "meta": {},
                                          "tree": REF}, [b"\x00"])),
    ]
    for error, data in cases:
        for name, read in readers(data, tmp_path / "d.pinnlite").items():
            with pytest.raises(error, match=r"an integer of 16610 bits|a list holding an integer too long") as info:
                read()
            assert len(str(info.value)) < 400, name
    # a value of the tree that a checkpoint check formats: the architecture's bounds
    tree = {"kind": "model", "architecture": {"hidden": [2], "activation": "tanh", "dtype": "float64",
                                              "bounds": [[0.0, huge], [0.0, 1.0], [0.0, 1.0]],
                                              "output_scale": [1.0, 1.0]}, "params": {}}
    with pytest.raises(ct.StructureError, match="architecture.bounds: .* found a list holding an integer too long"):
        checkpoint.read(ct.dumps(tree))


def spec_files_bigint(value):
    """Section 4.1's ext type 1 payload: the shortest big-endian two's complement."""
    return value.to_bytes((value if value >= 0 else ~value).bit_length() // 8 + 1, "big", signed=True)


def test_verify_refuses_a_wrong_header_checksum_under_a_matching_file_digest():
    w = np.arange(4.0)
    # 2.0: the head digest is wrong, the file digest computed over the file as it is
    header = {"arrays": [{"dtype": "float64", "shape": [4]}], "meta": {}, "tree": {"w": REF}}
    data = spec_files.build2(header, [w.tobytes()], digest=bytes(32))
    assert hashlib.sha256(data[:-32]).digest() == data[-32:]
    for read in (ct.verify, ct.loads, ct.check, ct.open):
        with pytest.raises(ct.ChecksumError, match="head digest mismatch") as info:
            read(data)
        assert info.value.damaged == ("header",)
    # 1.x: the header's CRC-32 is wrong, the trailer digest right; a load relies on the digest alone
    h1 = {"arrays": [spec_files.entry1(w)], "meta": {}, "tree": {"w": REF}}
    data = spec_files.build1(h1, [w.tobytes()], hcrc=zlib.crc32(msgpack.packb(h1, use_bin_type=True)) ^ 0x80)
    assert np.array_equal(ct.loads(data).tree["w"], w)
    with pytest.raises(ct.ChecksumError, match=r"header CRC-32 \(byte 38\)") as info:
        ct.verify(data)
    assert info.value.damaged == ("header",)


@pytest.mark.parametrize("count, what", [(2 * MiB, "more than 262144 msgpack values"),
                                         (2**18 - 10, "malformed msgpack, byte c1")])
def test_a_header_of_empty_lists_ending_in_one_bad_byte_costs_little(count, what, monkeypatch):
    """2 MiB of empty lists (or just under the value limit), then c1: rejected by the scan, nothing decoded."""
    header = b"\x83\xa6arrays\x90\xa4meta\x80\xa4tree\xdd" + struct.pack(">I", count + 1) + b"\x90" * count + b"\xc1"
    data = seal2(header)
    assert len(data) > count

    def never(*args, **kwargs):
        raise AssertionError("the header was decoded")

    monkeypatch.setattr(ct_header.msgpack, "unpackb", never)  # the scan must reject it first
    out, peak = peak_of(lambda: ct.loads(data))
    assert type(out) is (ct.SizeError if count > 2**18 else ct.StructureError) and what in str(out)
    assert peak < 2 * len(data) + MiB, f"{peak / MiB:.1f} MiB"  # the head and a copy of it, no Python objects
