"""Training checkpoints and model files: reading, checking, predicting, directories, the CLI.

The container format itself is tested in ``test_container.py``; exact resume
in ``test_state.py``. Here: the checkpoint layer on real training files
(damage of every kind is detected, arrays are checked against the
architecture), the NumPy-only reader (in a process where Numba cannot be
imported), model files, retention / ``latest`` / ``best.pinnlite``, failed
saves, the committed golden checkpoint and the ``pinnlite`` commands that
read checkpoints.
"""

import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tracemalloc
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinnlite.core.arch import Architecture
from pinnlite.errors import InputError
from pinnlite.io import atomic, checkpoint
from pinnlite import cli
from pinnlite.io import container
from pinnlite.io.checkpoint import ChecksumError, CheckpointError, ShapeError, StructureError
from pinnlite.training.config import Config, ConfigError
from pinnlite.training.metrics import COLUMNS
from pinnlite.training.model import ElasticPINN2D
from pinnlite.training.problems import plane_waves
from pinnlite.training.trainer import Trainer

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
GOLDENS = [(DATA / f"golden_training_v{v}.pinnlite", DATA / f"golden_training_v{v}.json", version)
           for v, version in (("1_0", (1, 0)), ("2_0", (2, 0)))]
FORMAT_MD = ROOT / "docs" / "FORMAT.md"
EPOCHS, KEEP = 9, 3


def numpy_forward(arrays, bounds, scale, X, sigma=np.tanh):
    """The network of FORMAT.md section 12.1, written out independently of pinnlite."""
    lo, hi = np.array(bounds, dtype=float).T
    h = 2.0 * (X - lo) / (hi - lo) - 1.0
    for l in range(0, len(arrays), 2):
        h = h @ arrays[l].T.astype(float) + arrays[l + 1]
        if l + 2 < len(arrays):
            h = sigma(h)
    return h * np.asarray(scale)


def small_config(**changes):
    cfg = Config(name="ckpt-test")
    cfg.architecture.hidden = [6]
    cfg.training.epochs = EPOCHS
    cfg.training.threads = 1
    cfg.sampling.n_collocation = 60
    cfg.optimizer.lr = 1.0  # large on purpose: the loss goes up and down, the best epoch is an early one
    cfg.optimizer.switch_after = 20  # Adam throughout: its loss goes up and down
    cfg.checkpoint.interval = 1
    cfg.checkpoint.keep_last = KEEP
    cfg.training.hold_material = False  # the material moves in these few epochs (test_hold.py holds it)
    return cfg.validate().replace(**changes)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A finished run with a checkpoint directory, and the optimised vector at the end of every epoch."""
    directory = tmp_path_factory.mktemp("run") / "checkpoints"
    data, _ = plane_waves(n_sensors=100, rng=0)
    trainer = Trainer(None, small_config(**{"checkpoint.directory": str(directory)}))
    xs = {}
    trainer.add_callback(lambda t, row: xs.__setitem__(t.state.epoch, t.state.x.copy()))
    trainer.train(data)
    return trainer, directory, xs


@pytest.fixture
def run_copy(run, tmp_path):
    directory = tmp_path / "checkpoints"
    shutil.copytree(run[1], directory)
    return directory


# ---------------------------------------------------------------- reading and checking


def test_read_and_verify_a_training_checkpoint(run):
    trainer, directory, xs = run
    path = checkpoint.latest(directory)
    raw = Path(path).read_bytes()
    tree = checkpoint.read(path)
    assert tree["kind"] == "training" and tree["epoch"] == EPOCHS
    n = trainer.model.n_params
    flat = np.concatenate([tree["params"][e.name].ravel() for e in trainer.model.layout.entries])
    assert np.array_equal(np.concatenate([flat, tree["material"]["theta"]]), xs[EPOCHS])
    assert flat.size == n
    report = checkpoint.verify(path)
    assert report.file_length == len(raw) == os.path.getsize(path)
    assert report.version == (2, 0)
    # the head digest covers the preamble and the header, the file digest every byte but itself
    assert raw[head_end(raw) + 2:][:32] == hashlib.sha256(raw[:head_end(raw)]).digest()
    assert report.sha256 == hashlib.sha256(raw[:-32]).hexdigest() == raw[-32:].hex()
    # RFC 3339, the one timestamp format of FORMAT.md section 1
    assert report.meta["pinnlite_version"] and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d",
                                                            report.meta["created"])
    keys = {info.path: info for info in report.arrays}
    W0 = keys[("params", "W0")]
    assert W0.shape == (6, 3) and W0.dtype == "float64" and W0.nbytes == 144
    assert W0.crc32 == zlib.crc32(tree["params"]["W0"].tobytes())
    assert ("optimizer", "state", "mu") in keys and ("data", "sensor_points") in keys
    # bytes and file objects give the same tree
    for source in (raw, bytearray(raw), io.BytesIO(raw)):
        again = checkpoint.read(source)
        assert np.array_equal(again["optimizer"]["state"]["nu"], tree["optimizer"]["state"]["nu"])
    assert checkpoint.verify(raw).sha256 == checkpoint.verify(io.BytesIO(raw)).sha256 == report.sha256


def head_end(raw):
    """Offset of the head digest of a 2.0 file: the preamble (47 bytes) and the header (FORMAT.md section 3)."""
    return 47 + int.from_bytes(raw[30:38], "big")


def report_fields(report):
    return (report.version, report.meta, report.extra, report.arrays, report.file_length, report.sha256, str(report))


def test_checkpoint_verify_is_container_verify_and_the_architecture_check(run):
    path = checkpoint.latest(run[1])
    raw = Path(path).read_bytes()
    for source in (lambda: path, lambda: raw, lambda: io.BytesIO(raw)):  # a file object is read once: a new one each
        ours, theirs = checkpoint.verify(source()), container.verify(source())
        assert report_fields(ours) == report_fields(theirs)
        assert ours.file_length == len(raw) and ours.sha256 == hashlib.sha256(raw[:-32]).hexdigest()
        # both reports carry the whole decoded tree: it encodes back to the very same file
        assert container.dumps(ours.tree, ours.meta) == container.dumps(theirs.tree, theirs.meta) == raw
    # a container that verifies but whose arrays do not fit its architecture
    data = container.dumps(model_tree(**{"params.W1": np.ones((4, 3))}))
    assert container.verify(data).tree["kind"] == "model"
    with pytest.raises(ShapeError, match=r"params\.W1: expected shape \(3, 4\)"):
        checkpoint.verify(data)


@pytest.fixture(scope="module")
def small_model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "m.pinnlite"
    ElasticPINN2D([2], rng=0).save(path)
    return path.read_bytes()


def test_every_single_bit_flip_of_a_model_file_is_detected(small_model_file):
    data = small_model_file
    assert checkpoint.read(data)["kind"] == "model"
    buf = bytearray(data)

    def detected(b):
        try:
            checkpoint.read(b)
        except CheckpointError:
            return True
        return False

    def verified(b):
        try:
            checkpoint.verify(bytes(b))
        except CheckpointError:
            return False
        return True

    undetected = []
    for i in range(len(buf)):
        for bit in range(8):
            buf[i] ^= 1 << bit
            if verified(buf):
                undetected.append((i, bit))
            if i < len(buf) - 34:  # a read reads all but the file digest, which only verify checks
                assert detected(buf), (i, bit)
            else:
                assert container.same_tree(checkpoint.read(buf), checkpoint.read(data))
            buf[i] ^= 1 << bit
    assert undetected == [] and bytes(buf) == data


def test_truncation_and_appended_bytes_are_detected(small_model_file):
    data = small_model_file
    for end in range(len(data)):
        with pytest.raises(CheckpointError):
            checkpoint.read(data[:end])
    for tail in (b"\x00", b"\n", data):
        with pytest.raises(container.TrailingDataError):
            checkpoint.read(data + tail)
        with pytest.raises(container.TrailingDataError):
            checkpoint.read(io.BytesIO(data + tail))


def model_tree(**changes):
    tree = {
        "kind": "model",
        "architecture": {"hidden": [4, 3], "activation": "tanh", "bounds": [[0.0, 1.0], [0.0, 2.0], [0.0, 1.0]],
                         "output_scale": [1.0, 2.0], "dtype": "float64"},
        "params": {"W0": np.ones((4, 3)), "b0": np.zeros(4), "W1": np.ones((3, 4)), "b1": np.zeros(3),
                   "W2": np.ones((2, 3)), "b2": np.zeros(2)},
        "material": None,
        "extra": {},
    }
    for path, value in changes.items():
        node = tree
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[key]
        if value is KeyError:
            del node[keys[-1]]
        else:
            node[keys[-1]] = value
    return tree


@pytest.mark.parametrize("changes, match", [
    ({"params.W1": np.ones((4, 3))}, r"params\.W1: expected shape \(3, 4\)"),
    ({"params.b2": np.zeros(3)}, r"params\.b2: expected shape \(2,\)"),
    ({"params.b0": KeyError}, r"params\.b0: missing"),
    ({"params.W3": np.ones((2, 2))}, r"W3"),
    ({"params.W0": np.ones((4, 3), np.float32)}, r"params\.W0: expected dtype float64"),
    ({"params.W0": [[1.0] * 3] * 4}, r"params\.W0: missing"),
    ({"architecture.hidden": [4, 5]}, r"params\.W1: expected shape \(5, 4\)"),
])
def test_arrays_that_do_not_fit_the_architecture(tmp_path, changes, match):
    path = tmp_path / "bad.pinnlite"
    container.save_file(path, model_tree(**changes))
    for reader in (checkpoint.read, checkpoint.verify, ElasticPINN2D.load,
                   lambda p: checkpoint.predict(p, np.zeros((1, 3)))):
        with pytest.raises(ShapeError, match=match):
            reader(path)


@pytest.mark.parametrize("changes, match", [
    ({"kind": "optimizer"}, r"kind: expected one of \('training', 'model'\), found 'optimizer'"),
    ({"kind": KeyError}, "missing key 'kind'"),
    ({"kind": 1}, "kind: expected str"),
    ({"architecture": KeyError}, "missing key 'architecture'"),
    ({"architecture.hidden": []}, "hidden"),
    ({"architecture.hidden": [4, True]}, "hidden"),
    ({"architecture.activation": "relu"}, "activation"),
    ({"architecture.dtype": "float16"}, "dtype"),
    ({"architecture.bounds": [[0.0, 1.0]] * 2}, "bounds: expected 3 entries"),
    ({"architecture.bounds": [[0.0, 1.0], [1.0, 1.0], [0.0, 1.0]]}, "bounds"),
    ({"architecture.bounds": [[0.0, 1.0], [0.0, math.nan], [0.0, 1.0]]}, "bounds"),
    ({"architecture.bounds": [[0.0, 1.0], ["a", "b"], [0.0, 1.0]]}, "bounds"),
    ({"architecture.bounds": [[0.0, 1.0], [0.0, 2**2000], [0.0, 1.0]]}, "bounds"),
    ({"architecture.output_scale": [1.0, -1.0]}, "output_scale"),
    ({"architecture.output_scale": [1.0, math.inf]}, "output_scale"),
    ({"params": [np.ones(2)]}, "params: expected dict"),
])
def test_malformed_trees_are_structure_errors(changes, match):
    data = container.dumps(model_tree(**changes))
    for reader in (checkpoint.read, checkpoint.verify, lambda d: checkpoint.predict(d, np.zeros((1, 3)))):
        with pytest.raises(StructureError, match=match):
            reader(data)
    with pytest.raises(StructureError, match="expected a map"):
        checkpoint.read(container.dumps([1, 2]))


def test_predict_is_the_documented_network():
    rng = np.random.default_rng(5)
    tree = model_tree()
    tree["params"] = {k: rng.standard_normal(v.shape) for k, v in tree["params"].items()}
    X = rng.uniform([0, 0, 0], [1, 2, 1], (7, 3))
    arch = tree["architecture"]
    expected = numpy_forward(list(tree["params"].values()), arch["bounds"], arch["output_scale"], X)
    np.testing.assert_allclose(checkpoint.predict(tree, X), expected, rtol=1e-13, atol=1e-15)
    arch["activation"] = "sin"
    expected = numpy_forward(list(tree["params"].values()), arch["bounds"], arch["output_scale"], X, np.sin)
    np.testing.assert_allclose(checkpoint.predict(container.dumps(tree), X), expected, rtol=1e-13, atol=1e-15)
    with pytest.raises(InputError, match=r"^X: expected an array of shape \(n, 3\) and dtype float, found array of "
                                         r"shape \(2, 2\)"):
        checkpoint.predict(tree, np.zeros((2, 2)))
    # a NaN point, or a network that diverged, gave NaN displacements without a word
    bad = X.copy()
    bad[4, 1] = np.nan
    with pytest.raises(InputError, match=r"^X: expected finite values, found nan at row 4, column 1"):
        checkpoint.predict(tree, bad)
    with pytest.raises(InputError, match=r"^X: expected points \(n, 3\) of x, y, t, found \[\['a'"):
        checkpoint.predict(tree, [["a", "b", "c"]])
    np.testing.assert_array_equal(checkpoint.predict(tree, X.tolist()), checkpoint.predict(tree, X))  # lists: fine
    tree["params"]["W1"][0, 0] = np.inf
    with pytest.raises(checkpoint.StructureError, match=r"^params.W1: expected finite weights, found 1 that are not"):
        checkpoint.predict(tree, X)


def expect_fast_rejection(exc_type, data, match):
    tracemalloc.start()
    try:
        with pytest.raises(exc_type, match=match):
            checkpoint.read(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10e6 + 3 * len(data), f"peak {peak} bytes"


def test_hostile_training_files_are_rejected_with_little_memory(run):
    tree = checkpoint.read(checkpoint.latest(run[1]))
    # widths claiming exabytes of parameters, with the small arrays of the real file
    tree["architecture"]["hidden"] = [2**62, 2**62]
    expect_fast_rejection(ShapeError, container.dumps(tree), r"params\.W0: expected shape \(4611686018427387904, 3\)")
    tree["architecture"]["hidden"] = [2**80]  # beyond int64: an ext-type integer
    expect_fast_rejection(ShapeError, container.dumps(tree), "params.W0")
    # a plausible architecture with ten thousand layers and no arrays for them
    tree["architecture"]["hidden"] = [6] * 10_000
    expect_fast_rejection(ShapeError, container.dumps(tree), r"params.W1: expected shape \(6, 6\)")


# ---------------------------------------------------------------- the reader without Numba


READER_SCRIPT = """
import sys
import numpy as np
import pinnlite.io.checkpoint as checkpoint
try:
    import pinnlite.training.trainer
except ImportError as e:
    assert "no numba here" in str(e), e
else:
    raise SystemExit("the fake numba package is not in effect")
path, points, out = sys.argv[1:]
tree = checkpoint.read(path)
assert tree["kind"] == "training"
checkpoint.verify(path)
np.save(out, checkpoint.predict(path, np.load(points)))
assert "numba" not in {m.split(".")[0] for m in sys.modules if sys.modules[m] is not None}
"""


def test_reader_works_without_numba(run, tmp_path):
    fake = tmp_path / "fake" / "numba"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no numba here')\n")
    path = checkpoint.latest(run[1])
    X = np.random.default_rng(3).uniform(0, 1, (50, 3))
    np.save(tmp_path / "X.npy", X)
    env = dict(os.environ, PYTHONPATH=str(tmp_path / "fake"))
    proc = subprocess.run([sys.executable, "-c", READER_SCRIPT, path, tmp_path / "X.npy", tmp_path / "u.npy"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    u = np.load(tmp_path / "u.npy")
    expected = ElasticPINN2D.load(path).predict(X)
    assert u.shape == (50, 2)
    assert np.max(np.abs(u - expected)) <= 1e-12 * np.max(np.abs(expected))


# ---------------------------------------------------------------- reading only the weights


def bytes_read():
    """Bytes this process has read through system calls so far (Linux: rchar of /proc/self/io)."""
    with open("/proc/self/io") as f:
        return int(next(line for line in f if line.startswith("rchar:")).split()[1])


@pytest.fixture
def heavy_file(run, tmp_path):
    """A real training checkpoint with 24 MB more of sensor data, which a prediction has no use for."""
    tree = checkpoint.read(checkpoint.latest(run[1]))
    tree["data"]["sensor_points"] = np.random.default_rng(0).uniform(0, 1, (1_000_000, 3))
    path = tmp_path / "heavy.pinnlite"
    container.save_file(path, tree, checkpoint.meta())
    return tree, path


@pytest.mark.skipif(not os.path.exists("/proc/self/io"), reason="bytes read are counted with Linux's /proc/self/io")
def test_predict_and_model_load_read_only_the_weights(heavy_file):
    tree, path = heavy_file
    X = np.random.default_rng(1).uniform(0, 1, (20, 3))
    size = os.path.getsize(path)
    weights = sum(a.nbytes for a in tree["params"].values())
    head = min(info.section for info in checkpoint.verify(path).arrays)
    for read in (lambda: checkpoint.predict(path, X), lambda: ElasticPINN2D.load(path), lambda: checkpoint.read_model(path)):
        before = bytes_read()
        read()
        used = bytes_read() - before
        # the head, the weights with their section headers, and /proc/self/io itself
        assert used <= head + weights + 64 * len(tree["params"]) + 4096, used
    before = bytes_read()
    checkpoint.read(path)
    assert bytes_read() - before >= size > 20 * (head + weights)  # a full read reads it all: the meter works


def test_damage_outside_the_weights_does_not_stop_a_prediction(heavy_file):
    tree, path = heavy_file
    table = {i.path: i for i in checkpoint.verify(path).arrays}
    info, w0 = table[("data", "sensor_points")], table[("params", "W0")]
    data = bytearray(path.read_bytes())
    data[info.offset + 12345] ^= 0x04
    path.write_bytes(bytes(data))
    X = np.random.default_rng(1).uniform(0, 1, (20, 3))
    expected = numpy_forward([tree["params"][e.name] for e in ElasticPINN2D.load(path).layout.entries],
                             tree["architecture"]["bounds"], tree["architecture"]["output_scale"], X)
    np.testing.assert_allclose(checkpoint.predict(path, X), expected, rtol=1e-12, atol=1e-14)
    model_tree = checkpoint.read_model(path)
    assert isinstance(model_tree["data"]["sensor_points"], container.ArrayInfo)  # not read: its table row
    with pytest.raises(container.ChecksumError) as caught:
        checkpoint.read(path)  # reading everything finds the damage and names it
    assert caught.value.damaged == ("tree['data']['sensor_points']",)
    # damage in the weights is found by every reader
    data[w0.offset] ^= 0x01
    path.write_bytes(bytes(data))
    for read in (lambda: checkpoint.predict(path, X), lambda: ElasticPINN2D.load(path)):
        with pytest.raises(container.ChecksumError, match=re.escape("tree['params']['W0']")):
            read()


# ---------------------------------------------------------------- model files


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_model_file_round_trip(tmp_path, dtype):
    model = ElasticPINN2D([5, 3], "sin", ((0.0, 2.0), (-1.0, 1.0), (0.0, 3.0)), (0.5, 2.0), dtype, rng=4)
    path = tmp_path / "m.pinnlite"
    model.save(path, material={"lam": 2.5, "mu": 1.25, "rho": 1.0}, extra={"note": "round trip", "epoch": 3})
    again = ElasticPINN2D.load(path)
    assert again.arch == model.arch and again.params.dtype == np.dtype(dtype)
    assert again.params.tobytes() == model.params.tobytes()
    X = np.random.default_rng(0).uniform([0, -1, 0], [2, 1, 3], (9, 3))
    X = X.astype(dtype)  # the model evaluates in its own dtype
    assert np.array_equal(again.predict(X), model.predict(X))
    tree = checkpoint.read(path)
    assert tree["kind"] == "model" and tree["material"] == {"lam": 2.5, "mu": 1.25, "rho": 1.0}
    assert tree["extra"] == {"note": "round trip", "epoch": 3}
    assert all(tree["params"][e.name].dtype == np.dtype(dtype) for e in model.layout.entries)
    expected = numpy_forward(model.to_arrays(), model.arch.bounds, model.arch.output_scale, X, np.sin)
    rtol = 1e-13 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(checkpoint.predict(path, X), expected, rtol=rtol, atol=rtol)
    # bytes and file objects
    data = path.read_bytes()
    assert checkpoint.read(data)["extra"] == tree["extra"]
    assert checkpoint.dumps(checkpoint.loads(data).tree, checkpoint.loads(data).meta) == data
    from_file_object = checkpoint.read(io.BytesIO(data))
    assert from_file_object["params"]["W2"].tobytes() == tree["params"]["W2"].tobytes()
    assert np.array_equal(checkpoint.predict(io.BytesIO(data), X), checkpoint.predict(data, X))
    buf = io.BytesIO()
    container.dump(tree, buf)
    assert ElasticPINN2D.from_arch(model.arch, list(checkpoint.read(buf.getvalue())["params"].values())).params.tobytes() == model.params.tobytes()


@settings(max_examples=30, deadline=None)
@given(
    hidden=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    activation=st.sampled_from(["tanh", "sin"]),
    dtype=st.sampled_from(["float64", "float32"]),
    lo=st.lists(st.floats(-5, 5), min_size=3, max_size=3),
    width=st.lists(st.floats(0.1, 10), min_size=3, max_size=3),
    scale=st.tuples(st.floats(1e-3, 1e3), st.floats(1e-3, 1e3)),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_model_round_trips_through_a_file(hidden, activation, dtype, lo, width, scale, seed):
    bounds = tuple((a, a + w) for a, w in zip(lo, width))
    model = ElasticPINN2D(hidden, activation, bounds, scale, dtype, rng=seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.pinnlite")
        model.save(path)
        again = ElasticPINN2D.load(path)
        data = Path(path).read_bytes()
    assert again.arch == model.arch and again.params.tobytes() == model.params.tobytes()
    X = np.random.default_rng(seed).uniform([b[0] for b in bounds], [b[1] for b in bounds], (5, 3))
    expected = numpy_forward(model.to_arrays(), bounds, model.arch.output_scale, X, np.tanh if activation == "tanh" else np.sin)
    np.testing.assert_allclose(checkpoint.predict(data, X), expected, rtol=1e-12, atol=1e-12 * np.max(np.abs(expected)))


def test_model_file_material_from_a_material_object(tmp_path):
    from pinnlite.engine.terms import Material

    ElasticPINN2D([2], rng=0).save(tmp_path / "m.pinnlite", material=Material(3.0, 0.5, 2.0))
    assert checkpoint.read(tmp_path / "m.pinnlite")["material"] == {"lam": 3.0, "mu": 0.5, "rho": 2.0}
    ElasticPINN2D([2], rng=0).save(tmp_path / "n.pinnlite")
    assert checkpoint.read(tmp_path / "n.pinnlite")["material"] is None


def test_model_loads_from_a_training_checkpoint(run):
    trainer, directory, xs = run
    for epoch, path in checkpoint.list_checkpoints(directory):
        model = ElasticPINN2D.load(path)
        assert model.arch == trainer.model.arch
        assert model.params.tobytes() == xs[epoch][: trainer.model.n_params].tobytes()


# ---------------------------------------------------------------- directories


def test_keep_last_latest_and_best(run):
    trainer, directory, xs = run
    names = sorted(os.listdir(directory))
    assert names == ["best.pinnlite"] + [f"ckpt-{e:08d}.pinnlite" for e in range(EPOCHS - KEEP + 1, EPOCHS + 1)] + ["latest"]
    assert (directory / "latest").read_text() == f"ckpt-{EPOCHS:08d}.pinnlite\n"
    assert checkpoint.latest(directory) == str(directory / f"ckpt-{EPOCHS:08d}.pinnlite")
    # the pointer itself is no checkpoint, and reading it says what it is and what to read
    with pytest.raises(container.MagicError, match=r"b'ckpt-.*the `latest` pointer of a checkpoint directory.*"
                                                   r"checkpoint\.latest\(directory\)"):
        checkpoint.predict(directory / "latest", np.zeros((1, 3)))
    for epoch, path in checkpoint.list_checkpoints(directory):
        assert checkpoint.read(path)["epoch"] == epoch
    loss = trainer.metrics["loss"]
    best = int(np.argmin(loss)) + 1
    assert best < EPOCHS - KEEP + 1  # the best epoch's checkpoint is gone: best.pinnlite is its own copy
    tree = checkpoint.read(directory / "best.pinnlite")
    assert tree["kind"] == "model" and tree["extra"] == {"epoch": best}
    n = trainer.model.n_params
    assert ElasticPINN2D.load(directory / "best.pinnlite").params.tobytes() == xs[best][:n].tobytes()
    assert tree["material"] == {k: trainer.metrics[k][best - 1] for k in ("lam", "mu", "rho")}
    last = checkpoint.read(checkpoint.latest(directory))
    assert last["best"] == {"loss": float(loss[best - 1]), "epoch": best}


def test_keep_last_one_and_an_explicit_directory(tmp_path):
    data, _ = plane_waves(n_sensors=50, rng=1)
    trainer = Trainer(None, small_config(**{"checkpoint.keep_last": 1, "checkpoint.interval": 2, "training.epochs": 5,
                                            "checkpoint.keep_best": False}))
    trainer.train(data)  # no directory configured: nothing is written
    with pytest.raises(ConfigError, match="checkpoint.directory"):
        trainer.save_checkpoint()
    path = trainer.save_checkpoint(directory=tmp_path)
    assert path == str(tmp_path / "ckpt-00000005.pinnlite") and sorted(os.listdir(tmp_path)) == [os.path.basename(path), "latest"]
    trainer.save_checkpoint(epoch=7, directory=tmp_path)  # the name only; the state is the current one
    assert sorted(os.listdir(tmp_path)) == ["ckpt-00000007.pinnlite", "latest"]
    assert checkpoint.read(checkpoint.latest(tmp_path))["epoch"] == 5


def damage_an_array(path, key=("optimizer", "state", "mu")):
    info = {i.path: i for i in checkpoint.verify(path).arrays}[key]
    data = bytearray(Path(path).read_bytes())
    data[info.offset + 3] ^= 0x20
    Path(path).write_bytes(bytes(data))


def test_latest_checks_the_file_it_returns_and_falls_back_with_a_warning(run_copy):
    directory = run_copy
    newest, older = (str(directory / f"ckpt-{e:08d}.pinnlite") for e in (EPOCHS, EPOCHS - 1))
    assert (directory / "latest").read_text() == f"ckpt-{EPOCHS:08d}.pinnlite\n"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about
        assert checkpoint.latest(directory) == newest
    damage_an_array(newest)  # a damaged latest: a load of it would raise
    with pytest.raises(ChecksumError):
        checkpoint.read(newest)
    with pytest.warns(container.CheckpointWarning, match=re.escape(newest) + r": CRC-32 mismatch.*"
                      + re.escape(f"using {older}, the newest good checkpoint")):
        assert checkpoint.latest(directory) == older
    with pytest.warns(container.CheckpointWarning, match=re.escape(newest)):
        trainer = Trainer.load_checkpoint(directory)  # resumes from the good one
    assert trainer.state.epoch == EPOCHS - 1 and trainer.last_checkpoint == older
    # the file digest alone is not what a load checks: a file damaged only there is still returned
    data = bytearray(Path(older).read_bytes())
    data[-1] ^= 1
    Path(older).write_bytes(bytes(data))
    (directory / "latest").unlink()
    with pytest.warns(container.CheckpointWarning, match=re.escape(newest)):
        assert checkpoint.latest(directory) == older
    with pytest.raises(ChecksumError, match="file digest"):
        checkpoint.verify(older)


def test_latest_survives_a_missing_or_stale_pointer(run_copy):
    directory = run_copy
    newest = str(directory / f"ckpt-{EPOCHS:08d}.pinnlite")
    (directory / "latest").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no pointer (a lost first save): the newest good file, silently
        assert checkpoint.latest(directory) == newest
    for text in (b"ckpt-00000999.pinnlite\n", b"", b"../../etc/passwd\n", b"\xff\xfe"):
        (directory / "latest").write_bytes(text)  # stale, empty or garbage
        with pytest.warns(container.CheckpointWarning, match="names no checkpoint file"):
            assert checkpoint.latest(directory) == newest
    for _, path in checkpoint.list_checkpoints(directory):
        damage_an_array(path)
    with pytest.raises(container.MissingFileError, match=r"no good checkpoint in .*CRC-32 mismatch"):
        checkpoint.latest(directory)
    for _, path in checkpoint.list_checkpoints(directory):
        os.unlink(path)
    with pytest.raises(container.MissingFileError, match="no good checkpoint"):
        checkpoint.latest(directory)
    with pytest.raises(container.MissingFileError):
        Trainer.load_checkpoint(directory)


def snapshot_directory(directory):
    return {name: (directory / name).read_bytes() for name in sorted(os.listdir(directory))}


@pytest.mark.parametrize("fail", ["save_file", "file_fsync", "directory_fsync"])
def test_a_failed_save_leaves_earlier_checkpoints_and_latest(run, tmp_path, monkeypatch, fail):
    directory = tmp_path / "checkpoints"
    shutil.copytree(run[1], directory)
    trainer = Trainer.load_checkpoint(directory)
    trainer.config = trainer.config.replace(**{"checkpoint.directory": str(directory), "training.epochs": EPOCHS + 1})
    trainer.train()
    before = snapshot_directory(directory)
    assert "ckpt-00000010.pinnlite" in before
    calls = []

    def boom(*args, **kwargs):
        calls.append(args)
        raise OSError("disk full")

    if fail == "save_file":
        monkeypatch.setattr(checkpoint, "save_file", boom)
    else:
        real_fsync = os.fsync
        # the two fsync calls of a save: the new file, then the directory once both renames are done
        failing_call = {"file_fsync": 1, "directory_fsync": 2}[fail]

        def fsync(fd):
            calls.append(fd)
            if len(calls) == failing_call:
                raise OSError("disk full")
            return real_fsync(fd)

        monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="disk full"):
        trainer.save_checkpoint(epoch=EPOCHS + 2)
    after = snapshot_directory(directory)
    new = f"ckpt-{EPOCHS + 2:08d}.pinnlite"
    if fail == "directory_fsync":  # the new file and `latest` are in place, not yet durable
        assert after.pop("latest") == (new + "\n").encode() and before.pop("latest")
    for name, content in before.items():
        assert after[name] == content, name  # every earlier file (and `latest`), byte for byte
    extra = set(after) - set(before)
    assert extra == ({new} if fail == "directory_fsync" else set())  # the new, complete file, no temp files
    for name in extra:
        checkpoint.verify(directory / name)
    assert len(calls) == (1 if fail == "save_file" else {"file_fsync": 1, "directory_fsync": 2}[fail])
    expected = new if fail == "directory_fsync" else "ckpt-00000010.pinnlite"
    assert checkpoint.latest(directory) == str(directory / expected)
    monkeypatch.undo()
    trainer.save_checkpoint(epoch=EPOCHS + 2)  # the next save works and applies retention
    assert [e for e, _ in checkpoint.list_checkpoints(directory)] == [EPOCHS, EPOCHS + 1, EPOCHS + 2]


def test_latest_is_replaced_by_the_atomic_write_of_the_checkpoints(run, tmp_path, monkeypatch):
    directory = tmp_path / "checkpoints"
    shutil.copytree(run[1], directory)
    tree = checkpoint.read(checkpoint.latest(directory))
    before = snapshot_directory(directory)
    new = f"ckpt-{EPOCHS + 1:08d}.pinnlite"
    real = atomic.write_file
    written = []

    def write_file(path, fill, **flags):
        written.append(os.path.basename(path))
        if os.path.basename(path) != checkpoint.LATEST:
            return real(path, fill, **flags)

        def fill_then_fail(write, sync):
            fill(write, sync)  # the new pointer is in the temporary file when the save fails
            raise OSError("injected failure")

        return real(path, fill_then_fail, **flags)

    monkeypatch.setattr(atomic, "write_file", write_file)
    with pytest.raises(OSError, match="injected failure"):
        checkpoint.save_in_directory(directory, EPOCHS + 1, tree, KEEP)
    assert written == [new, checkpoint.LATEST]  # the checkpoint and `latest`, through the one helper
    after = snapshot_directory(directory)
    assert after.pop(new) == container.dumps(tree, container.load_file(directory / new).meta)
    assert after == before  # `latest` still names the old checkpoint, and no temporary file is left
    assert checkpoint.latest(directory) == str(directory / f"ckpt-{EPOCHS:08d}.pinnlite")


KILLED_SAVE = """
import os, signal, sys
import numpy as np
from pinnlite.io import checkpoint

directory, epoch, keep_last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
real = checkpoint.prune


def prune(where, keep_last, keep=None):
    if keep is not None and os.path.basename(keep) == os.path.basename(checkpoint.checkpoint_path(where, epoch)):
        os.kill(os.getpid(), signal.SIGKILL)  # `latest` names the new file; the surplus is still there
    return real(where, keep_last, keep)


checkpoint.prune = prune
checkpoint.save_in_directory(directory, epoch, {"epoch": epoch, "w": np.arange(3.0) * epoch}, keep_last)
"""


def test_retention_holds_when_every_save_is_killed_before_it_prunes(tmp_path):
    keep_last = 2
    counts = []
    for epoch in range(1, 7):
        proc = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(tmp_path), str(epoch), str(keep_last)],
                              capture_output=True, text=True)
        assert proc.returncode == -9, proc.stderr
        files = checkpoint.list_checkpoints(tmp_path)
        counts.append(len(files))
        assert files[-1][0] == epoch and checkpoint.latest(tmp_path) == files[-1][1]
        assert container.load_file(files[-1][1]).tree["epoch"] == epoch
    assert counts == [1, 2, 3, 3, 3, 3]  # never more than keep_last + 1
    checkpoint.save_in_directory(tmp_path, 7, {"epoch": 7}, keep_last)  # a save that completes
    assert [e for e, _ in checkpoint.list_checkpoints(tmp_path)] == [6, 7]
    assert sorted(os.listdir(tmp_path)) == ["ckpt-00000006.pinnlite", "ckpt-00000007.pinnlite", "latest"]


def test_prune_keeps_the_newest_and_the_file_named(tmp_path):
    for epoch in (1, 2, 5, 9):
        (tmp_path / f"ckpt-{epoch:08d}.pinnlite").write_bytes(b"x")
    (tmp_path / "other.pinnlite").write_bytes(b"y")
    assert checkpoint.prune(tmp_path, 2, keep=tmp_path / "ckpt-00000002.pinnlite") == [
        str(tmp_path / "ckpt-00000001.pinnlite"), str(tmp_path / "ckpt-00000005.pinnlite")]
    assert sorted(os.listdir(tmp_path)) == ["ckpt-00000002.pinnlite", "ckpt-00000009.pinnlite", "other.pinnlite"]
    assert checkpoint.prune(tmp_path, 1) == [str(tmp_path / "ckpt-00000002.pinnlite")]
    assert checkpoint.prune(tmp_path, 1, keep="ckpt-00000009.pinnlite") == []


def test_a_resumed_trainer_prunes_what_killed_saves_left(run, tmp_path):
    directory = tmp_path / "checkpoints"
    shutil.copytree(run[1], directory)
    tree = checkpoint.read(checkpoint.latest(directory))
    for epoch in (1, 2):  # older surplus, as killed saves of an earlier run leave it
        container.save_file(directory / f"ckpt-{epoch:08d}.pinnlite", tree)
    assert len(checkpoint.list_checkpoints(directory)) == KEEP + 2
    trainer = Trainer.load_checkpoint(directory)
    assert trainer.state.epoch == EPOCHS
    assert [e for e, _ in checkpoint.list_checkpoints(directory)] == list(range(EPOCHS - KEEP + 1, EPOCHS + 1))


# ---------------------------------------------------------------- the golden file


@pytest.mark.parametrize("golden, sidecar, version", GOLDENS, ids=["v1_0", "v2_0"])
def test_golden_training_checkpoint(golden, sidecar, version):
    expected = json.loads(sidecar.read_text())
    assert golden.stat().st_size < 64_000 and expected["file"] == golden.name
    tree = checkpoint.read(golden)
    report = checkpoint.verify(golden)
    assert report.version == version
    assert tree["kind"] == "training" and tree["epoch"] == expected["epoch"]
    assert tree["material"]["values"] == expected["material"]
    assert float(tree["metrics"]["loss"][-1]) == expected["final_loss"]
    X = np.array(expected["points"])
    U = np.array(expected["displacements"])
    scale = np.max(np.abs(U))
    for predicted in (checkpoint.predict(golden, X), ElasticPINN2D.load(golden).predict(X)):
        assert np.max(np.abs(predicted - U)) <= 1e-12 * scale
    arch = tree["architecture"]
    independent = numpy_forward(list(tree["params"].values()), arch["bounds"], arch["output_scale"], X)
    assert np.max(np.abs(independent - U)) <= 1e-12 * scale
    trainer = Trainer.load_checkpoint(path=golden)
    assert trainer.material == expected["material"] and trainer.state.epoch == expected["epoch"]
    assert trainer.state.released == 0  # written before the material hold: trained from the first epoch
    assert trainer.config.checkpoint.directory is None  # resuming it writes nothing next to the file
    trainer.config = trainer.config.replace(**{"training.epochs": expected["epoch"] + 2})
    metrics = trainer.train()
    assert trainer.state.epoch == expected["epoch"] + 2 and len(metrics) == expected["epoch"] + 2
    assert metrics["loss"][: expected["epoch"]].tobytes() == tree["metrics"]["loss"].tobytes()
    # the kernels may round differently on another machine; two steps keep that far below 1e-9
    assert metrics.final_loss() == pytest.approx(expected["resumed_loss"], rel=1e-9)


def test_the_converted_1_0_golden_checkpoint_holds_the_same_values(tmp_path):
    golden, sidecar, _ = GOLDENS[0]
    out = tmp_path / "converted.pinnlite"
    version, report = container.convert_file(golden, out)
    assert version == (1, 0) and report.version == (2, 0)
    assert container.same_tree(checkpoint.read(out), checkpoint.read(golden))
    assert report.meta == checkpoint.verify(golden).meta  # the writer's version and the creation time are kept
    expected = json.loads(sidecar.read_text())
    X, U = np.array(expected["points"]), np.array(expected["displacements"])
    assert np.max(np.abs(checkpoint.predict(out, X) - U)) <= 1e-12 * np.max(np.abs(U))


# ---------------------------------------------------------------- the command line


def test_cli_verify(run, run_copy, capsys):
    paths = [p for _, p in checkpoint.list_checkpoints(run[1])] + [str(run[1] / "best.pinnlite")]
    assert cli.main(["verify", *paths]) == 0
    out = capsys.readouterr().out
    assert out.count("ok ") == len(paths) and "FAILED" not in out
    for path, line in zip(paths, out.splitlines()):  # the digest that sha256sum prints (FORMAT.md section 3.3)
        raw = Path(path).read_bytes()
        assert line.startswith(f"ok      {path} (") and line.endswith(f"SHA-256 {hashlib.sha256(raw[:-32]).hexdigest()})")
    path = run_copy / f"ckpt-{EPOCHS:08d}.pinnlite"
    data = bytearray(path.read_bytes())
    offset = next(i.offset for i in checkpoint.verify(path).arrays if i.path == ("optimizer", "state", "nu"))
    data[offset + 3] ^= 0x10
    path.write_bytes(bytes(data))
    assert cli.main(["verify", paths[0], str(path)]) == 1
    out = capsys.readouterr().out
    assert out.count("ok ") == 1
    line = next(l for l in out.splitlines() if l.startswith("FAILED"))
    assert str(path) in line and "ChecksumError" in line and "nu" in line
    path.write_bytes(bytes(data[:-1]))
    assert cli.main(["verify", str(path)]) == 1
    assert "TruncatedError" in capsys.readouterr().out
    assert cli.main(["verify", str(run_copy / "missing.pinnlite")]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_cli_verify_of_every_file_of_a_directory_passes_its_latest_pointer(run_copy, capsys):
    """`pinnlite verify DIR/*` names the pointer too: it is checked as a pointer, not as a checkpoint."""
    paths = sorted(str(p) for p in run_copy.iterdir())
    assert str(run_copy / "latest") in paths
    assert cli.main(["verify", *paths]) == 0
    out = capsys.readouterr().out
    assert f"ok      {run_copy / 'latest'} (the pointer to {Path(checkpoint.pointer(run_copy)).name})" in out
    assert out.count("ok ") == len(paths) and "FAILED" not in out
    (run_copy / "latest").write_text("ckpt-99999999.pinnlite\n")  # names no checkpoint there
    assert cli.main(["verify", *paths]) == 1
    line = next(l for l in capsys.readouterr().out.splitlines() if l.startswith("FAILED"))
    assert str(run_copy / "latest") in line and "names no ckpt-* file" in line
    (run_copy / "latest").write_bytes((run_copy / f"ckpt-{EPOCHS:08d}.pinnlite").read_bytes())  # a checkpoint so named
    assert cli.main(["verify", str(run_copy / "latest")]) == 0
    assert "SHA-256" in capsys.readouterr().out


def test_cli_inspect(run, capsys):
    trainer, directory, _ = run
    path = checkpoint.latest(directory)
    assert cli.main(["inspect", str(directory)]) == 0  # a directory: its latest checkpoint
    assert f"file: {path}" in capsys.readouterr().out
    assert cli.main(["inspect", path]) == 0
    out = capsys.readouterr().out
    assert "kind training" in out and f"epoch {EPOCHS}, step {EPOCHS}" in out
    assert f"lam = {trainer.material['lam']:.6g}" in out and "free: lam, mu" in out
    lines = out.splitlines()
    for info in checkpoint.verify(path).arrays:  # one row per array: its key path, shape, size and CRC-32
        assert any(all(str(k) in l for k in info.path) and f"{info.crc32:x}" in l.split()
                   and str(info.nbytes) in l.split() for l in lines), info


def test_cli_export(run, tmp_path, capsys):
    trainer, directory, _ = run
    path = checkpoint.latest(directory)
    config, metrics = tmp_path / "config.json", tmp_path / "metrics.json"
    assert cli.main(["export", path, "--config", str(config), "--metrics", str(metrics)]) == 0
    # the run's config without what belongs to its machine and its directory
    portable = trainer.config.replace(**{"checkpoint.directory": None, "training.threads": None})
    assert Config.from_dict(json.loads(config.read_text())) == portable
    table = json.loads(metrics.read_text())
    assert sorted(table) == sorted(COLUMNS + ("truth",))  # the same file as a run's metrics.json
    for column in COLUMNS:
        expected = [None if math.isnan(v) else v for v in trainer.metrics[column].tolist()]
        assert table[column] == expected, column
    assert table["traction"] == [None] * EPOCHS and table["epoch"] == list(range(1, EPOCHS + 1))
    assert cli.main(["export", path]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["kind"] == "training" and summary["epoch"] == EPOCHS
    assert summary["last"]["loss"] == trainer.metrics.final_loss()
    # a model file has no config
    assert cli.main(["export", str(directory / "best.pinnlite"), "--config", str(config)]) == 2
    assert "a model file holds no config" in capsys.readouterr().err


def test_cli_resume_continues(run, run_copy, capsys):
    trainer, _, _ = run
    assert cli.main(["resume", str(run_copy), "--epochs", str(EPOCHS + 3)]) == 0
    tree = checkpoint.read(checkpoint.latest(run_copy))
    assert tree["epoch"] == EPOCHS + 3
    assert tree["metrics"]["loss"][:EPOCHS].tobytes() == trainer.metrics["loss"].tobytes()
    assert [e for e, _ in checkpoint.list_checkpoints(run_copy)] == list(range(EPOCHS + 1, EPOCHS + 4))
    summary = json.loads((run_copy.parent / "summary.json").read_text())
    assert summary["epochs"] == EPOCHS + 3 and summary["stop_reason"] == "epochs"
    assert summary["material"] == tree["material"]["values"]
    assert cli.main(["resume", str(run_copy.parent / "nothing-here")]) == 1
    assert "MissingFileError" in capsys.readouterr().err


def test_cli_convert(tmp_path, capsys):
    golden, sidecar, _ = GOLDENS[0]
    out = tmp_path / "converted.pinnlite"
    assert cli.main(["convert", str(golden), str(out)]) == 0
    line = capsys.readouterr().out
    assert f"converted {golden} (format 1.0) to {out} (format 2.0" in line and "read back identical" in line
    assert checkpoint.verify(out).version == (2, 0)
    assert container.same_tree(checkpoint.read(out), checkpoint.read(golden))
    damaged = tmp_path / "damaged.pinnlite"
    data = bytearray(golden.read_bytes())
    data[len(data) // 2] ^= 0x20
    damaged.write_bytes(bytes(data))
    assert cli.main(["convert", str(damaged), str(tmp_path / "never.pinnlite")]) == 1  # a failed check, as verify
    assert "ChecksumError" in capsys.readouterr().err
    assert cli.main(["convert", str(tmp_path / "missing.pinnlite"), str(tmp_path / "never.pinnlite")]) == 1
    assert "MissingFileError" in capsys.readouterr().err
    assert not (tmp_path / "never.pinnlite").exists()
    # an existing DESTINATION is refused (SOURCE and DESTINATION swapped would overwrite the source),
    # SOURCE itself is converted in place, --overwrite replaces
    victim = tmp_path / "notes.txt"
    victim.write_text("mine\n")
    assert cli.main(["convert", str(golden), str(victim)]) == 2
    assert "DESTINATION: " + str(victim) + " already exists; nothing was changed" in capsys.readouterr().err
    assert victim.read_text() == "mine\n"
    assert cli.main(["convert", str(golden), str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err
    assert cli.main(["convert", str(golden), str(victim), "--overwrite"]) == 0
    assert container.same_tree(checkpoint.read(victim), checkpoint.read(golden))
    assert cli.main(["convert", str(out), str(out)]) == 0


# ---------------------------------------------------------------- the specification


def doc_keys(heading):
    """First-column keys of the table under ``heading`` in FORMAT.md section 12."""
    text = FORMAT_MD.read_text()
    section = text.split(heading, 1)[1].split("\n### ", 1)[0]
    keys = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            keys.update(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return keys


def tree_keys(tree, descend):
    out = set()
    for key, value in tree.items():
        if key in descend and isinstance(value, dict):
            out.update(f"{key}.{sub}" for sub in value)
        else:
            out.add(key)
    return out


def test_format_md_lists_every_key_of_both_trees(run):
    trainer, directory, _ = run
    optional = {"architecture.pressure"}  # written only when true: a network with a pressure output
    common = doc_keys("### 12.1 ")
    assert optional <= common
    training = tree_keys(checkpoint.read(checkpoint.latest(directory)),
                         {"architecture", "material", "optimizer", "schedule", "adaptive_weights", "sampler", "best", "scales"})
    assert (common | doc_keys("### 12.2 ")) - optional == training
    model = tree_keys(checkpoint.read(directory / "best.pinnlite"), {"architecture"})
    assert (common | doc_keys("### 12.3 ")) - optional == model
    with_p = Architecture((3,), "tanh", ((0, 1),) * 3, (1.0, 1.0, 2.0), pressure=True)
    assert tree_keys({"architecture": with_p.to_dict()}, {"architecture"}) - common == set()


@pytest.mark.parametrize("golden", [g for g, _, _ in GOLDENS])
def test_read_only_some_keys_of_a_training_file(golden):
    """read(only=('metrics',)) failed on every file ('params.W0: missing': the unread weights were
    taken for absent ones), and an unknown key failed the same way."""
    whole = checkpoint.read(golden)
    some = checkpoint.read(golden, only=("metrics",))
    assert some["metrics"]["loss"].tobytes() == whole["metrics"]["loss"].tobytes()
    if checkpoint.verify(golden).version[0] >= 2:  # a 1.x file is read whole whatever is asked
        assert isinstance(some["params"]["W0"], container.ArrayInfo)
        assert some["params"]["W0"].shape == whole["params"]["W0"].shape
    with pytest.raises(InputError, match=r"^only: \['nope'\] are not top-level keys of this checkpoint, whose keys "
                                         r"are \['adaptive_weights', 'architecture'"):
        checkpoint.read(golden, only=("metrics", "nope"))
    with container.open(golden) as f:  # a lone string was taken for its characters here
        with pytest.raises(InputError, match=r"^only: expected a collection of top-level keys, such as \('params',\)"):
            f.read("params")


def test_unread_weights_of_the_wrong_shape_are_still_refused():
    tree = model_tree()
    tree["params"]["W0"] = np.zeros((3, 3))
    data = container.dumps(tree)
    with pytest.raises(checkpoint.ShapeError, match=r"^params.W0: expected shape \(\d+, 3\) for hidden widths"):
        checkpoint.read(data, only=("architecture",))
