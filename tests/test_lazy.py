"""Tests of pinnlite.io.lazy: ``container.open``, whose arrays are read and checked on first access.

What is read is counted on a seekable stream and, for paths, checked against
the bytes of the sections the spec lays out (docs/FORMAT.md section 3.2);
values are compared with a whole load of the same file.
"""

import tracemalloc
import zlib
from collections.abc import Mapping, Sequence

import numpy as np
import pytest

import pinnlite.io.container as ct
from pinnlite.errors import InputError
from pinnlite.io.container import ChecksumError

from test_container import Counting, NonSeekable, assert_same, build1, header_of_v1, ref


def sample():
    rng = np.random.default_rng(4)
    tree = {"params": {"W0": rng.standard_normal((30, 3)), "b0": np.arange(30.0)},
            "moments": [rng.standard_normal(40_000), np.arange(7, dtype=np.int16)],
            "flags": np.array([True, False]), "epoch": 12, "name": "run", "nested": {"deep": [1, {"x": None}]}}
    return tree, ct.dumps(tree, {"created": "t"})


def test_the_head_is_read_at_open_and_each_array_when_first_looked_up():
    tree, data = sample()
    infos = {info.path: info for info in ct.verify(data).arrays}
    head = min(info.section for info in infos.values())
    stream = Counting(data)
    with ct.open(stream) as f:
        assert stream.read_bytes == head  # the head alone
        assert f.version == (2, 0) and f.meta == {"created": "t"} and f.file_length == len(data)
        assert [a.path for a in f.arrays] == list(infos) and all(a.crc32 is None for a in f.arrays)
        assert f.tree["epoch"] == 12 and f.tree["name"] == "run" and stream.read_bytes == head
        W0 = f.tree["params"]["W0"]
        info = infos[("params", "W0")]
        assert stream.read_bytes == head + info.offset + info.nbytes + 6 - info.section  # its section, once
        assert_same(tree["params"]["W0"], W0)
        assert f.tree["params"]["W0"] is W0 and stream.read_bytes == head + info.offset + info.nbytes + 6 - info.section
        assert W0.flags.writeable and W0.ctypes.data % 64 == 0
        assert f.arrays[0].crc32 == zlib.crc32(tree["params"]["W0"].tobytes())  # known once read
        assert "read" in repr(f) and "open" in repr(f)
    assert f.closed and "closed" in repr(f)
    assert f.tree["params"]["W0"] is W0  # read before closing: still there
    with pytest.raises(ValueError, match=r"tree\['params'\]\['b0'\]: the container is closed"):
        f.tree["params"]["b0"]


def test_the_lazy_tree_is_a_read_only_mapping_of_the_same_values():
    tree, data = sample()
    with ct.open(data) as f:
        root = f.tree
        assert isinstance(root, Mapping) and isinstance(root["moments"], Sequence)
        assert list(root) == list(tree) and len(root) == len(tree) and "epoch" in root and "nope" not in root
        assert root["params"] is root["params"]  # the same node each time
        moments = root["moments"]
        assert len(moments) == 2 and moments[-1] is moments[1]
        assert_same(tree["moments"][1], moments[-1])
        assert [a.dtype for a in moments[:]] == [np.dtype(np.float64), np.dtype(np.int16)]
        with pytest.raises(IndexError):
            moments[2]
        with pytest.raises(KeyError):
            root["nope"]
        with pytest.raises(TypeError):
            root["epoch"] = 3  # read-only
        assert root["nested"]["deep"][1]["x"] is None
        assert_same(tree["nested"], root["nested"].to_plain())
        assert_same(tree, root.to_plain())
        assert_same(tree, f.read().tree)
        some = f.read(only=["params"]).tree
        assert_same(tree["params"], some["params"]) and some["epoch"] == 12
        assert [type(a) for a in some["moments"]] == [ct.ArrayInfo, ct.ArrayInfo]  # read, but not asked for


def test_damage_is_found_in_the_arrays_looked_up_and_only_there(tmp_path):
    tree, data = sample()
    infos = {info.path: info for info in ct.verify(data).arrays}
    bad = bytearray(data)
    hit = infos[("moments", 0)]
    bad[hit.offset + 1000] ^= 0x08
    path = tmp_path / "bad.pinnlite"
    path.write_bytes(bytes(bad))
    with ct.open(path) as f:
        assert_same(tree["params"], f.tree["params"].to_plain())  # the others read and check fine
        assert_same(tree["moments"][1], f.tree["moments"][1])
        with pytest.raises(ChecksumError) as info:
            f.tree["moments"][0]
        assert info.value.damaged == (hit.key,)
        with pytest.raises(ChecksumError):
            f.tree["moments"][0]  # not cached: asked again, checked again
        with pytest.raises(ChecksumError):
            f.read()
    # the head is checked at open
    bad = bytearray(data)
    bad[60] ^= 1
    with pytest.raises(ChecksumError, match="head digest"):
        ct.open(bytes(bad))


def test_opening_costs_the_head_not_the_arrays(tmp_path):
    big = {"w": np.zeros(3, np.float32), "data": np.ones((2_000_000, 3))}  # 48 MB never read
    path = tmp_path / "big.pinnlite"
    ct.save_file(path, big)
    tracemalloc.start()
    try:
        with ct.open(path) as f:
            w = f.tree["w"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_same(big["w"], w)
    assert peak < 256 * 1024, peak  # the head and 12 bytes of data, not 48 MB


def test_open_takes_paths_bytes_and_seekable_files_and_reads_1x_files_whole(tmp_path):
    tree, data = sample()
    path = tmp_path / "s.pinnlite"
    path.write_bytes(data)
    with open(path, "rb") as handle:
        for source in (path, str(path), data, bytearray(data), memoryview(data), handle):
            with ct.open(source) as f:
                assert_same(tree, f.read().tree)
    with pytest.raises(InputError, match="not seekable.*load()"):
        ct.open(NonSeekable(data))
    w = np.arange(6.0).reshape(2, 3)
    v1 = build1(header_of_v1({"w": ref(0), "k": [ref(1), 5]}, [w, w[0]]), [w.tobytes(), w[0].tobytes()])
    with ct.open(v1) as f:
        assert f.version == (1, 0) and f.arrays[0].crc32 == zlib.crc32(w.tobytes())
        assert_same(w, f.tree["w"]) and f.tree["k"][1] == 5
        assert_same({"w": w, "k": [w[0], 5]}, f.read().tree)
        assert type(f.read(only=["k"]).tree["w"]) is ct.ArrayInfo
    assert_same(w, f.tree["w"])  # a 1.x file is read whole at open: nothing is left to read


def test_a_root_that_is_an_array_or_a_plain_value():
    arr = np.arange(4, dtype=np.uint8)
    with ct.open(ct.dumps(arr)) as f:
        assert_same(arr, f.tree)
        assert f.arrays[0].path == ()
    with ct.open(ct.dumps(7)) as f:
        assert f.tree == 7 and f.arrays == ()
