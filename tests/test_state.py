"""Exact resume: a run continued from a checkpoint in a fresh process is the uninterrupted run, bit for bit.

Every variant trains run A for 2K epochs straight, and run B, with a
checkpoint directory, for K epochs (a callback stops it; the trainer saves on
the way out). One subprocess then loads each B checkpoint with
``Trainer.load_checkpoint`` and calls ``train()`` with no data. Its final
optimised vector, material, optimizer state, RNG, collocation points,
adaptive weights, plateau state and every metrics column but ``time`` must
equal run A's byte for byte. Also here: a checkpoint taken inside an epoch
(a real SIGINT between mini-batches), the tree <-> state round trip, broken
training states, and a training process killed with SIGKILL over and over.
"""

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from pinnlite.io import checkpoint
from pinnlite import optim
from pinnlite.io.checkpoint import StructureError
from pinnlite.training import state as state_module
from pinnlite.training.config import Config
from pinnlite.io.container import TEMP_PATTERN, load_file, save_file
from pinnlite.training.metrics import COLUMNS
from pinnlite.training.problems import plane_waves
from pinnlite.training.trainer import Trainer

TESTS = Path(__file__).resolve().parent
K = 6  # epochs before the checkpoint; run A trains 2K


def dataset():
    # sensors, Dirichlet boundary and the PDE: three loss terms for the adaptive weights
    data, _ = plane_waves(2.0, 1.0, 1.0, n_sensors=200, boundary="dirichlet", n_boundary=40, rng=0)
    return data


def base_config(**changes):
    cfg = Config(name="resume-test")
    cfg.architecture.hidden = [8, 8]
    cfg.training.epochs = 2 * K
    cfg.training.threads = 1
    cfg.training.seed = 7
    cfg.sampling.n_collocation = 300
    cfg.optimizer.lr = 1e-2
    cfg.optimizer.switch_after = 20  # the variants of the first-order optimizers stay first-order
    cfg.material.lam, cfg.material.mu = 3.0, 0.7
    cfg.training.hold_material = False  # the material trains from the first epoch: its state resumes too
    return cfg.validate().replace(**changes)


# name -> (config changes, K, mid-epoch interrupt at batch index or None)
VARIANTS = {
    "sgd_momentum": ({"optimizer.kind": "sgd", "optimizer.momentum": 0.9, "optimizer.nesterov": True}, K, None),
    "adam": ({}, K, None),
    "adamw": ({"optimizer.kind": "adamw", "optimizer.weight_decay": 0.05}, K, None),
    "lbfgs": ({"optimizer.kind": "lbfgs"}, K, None),
    "bfgs": ({"optimizer.kind": "bfgs"}, K, None),
    "lm": ({"optimizer.kind": "lm"}, K, None),
    # the default second phase: dense self-scaled Broyden after the warm-up
    "switch_to_bfgs": ({"optimizer.switch_after": K - 2}, K, None),
    # the switch happens at the start of epoch 7: the checkpoint holds Adam's state
    "switch_at_checkpoint": ({"optimizer.second_order": "lbfgs", "optimizer.switch_after": K}, K, None),
    # the checkpoint holds L-BFGS history after the switch at epoch 4
    "switch_before_checkpoint": ({"optimizer.second_order": "lbfgs", "optimizer.switch_after": K - 2}, K, None),
    "minibatch": ({"training.batch_size": 64}, K, None),
    "rar": ({"sampling.adaptive": "rar", "sampling.adaptive_every": 4, "sampling.n_candidates": 400,
             "sampling.rar_k": 16, "training.batch_size": 128}, K, None),
    "rad": ({"sampling.adaptive": "rad", "sampling.adaptive_every": 4, "sampling.n_candidates": 400}, K, None),
    # the default second-order phase from the first epoch resamples too, at epochs 5 and 9
    "rad_bfgs": ({"optimizer.switch_after": 0, "sampling.adaptive": "rad", "sampling.adaptive_every": 4,
                  "sampling.n_candidates": 400}, K, None),
    "adaptive_weights": ({"loss_weights.adaptive": True, "loss_weights.adaptive_every": 2}, K, None),
    "plateau": ({"schedule.plateau": True, "schedule.plateau_patience": 0, "schedule.plateau_threshold": 0.5,
                 "schedule.kind": "cosine", "optimizer.lr": 3e-2}, K, None),
    "float32": ({"architecture.dtype": "float32"}, K, None),
    # interrupted after batch 3 of 5 in epoch K + 1, adaptive weights updated every 3 steps
    "mid_epoch": ({"training.batch_size": 64, "loss_weights.adaptive": True, "loss_weights.adaptive_every": 3}, K, 2),
}


def snapshot(trainer):
    """Every number of a trainer's state that the continued run must reproduce (npz-able arrays)."""
    st = trainer.state
    out = {
        "x": st.x,
        "material": np.array([trainer.material[k] for k in ("lam", "mu", "rho")]),
        "model_params": trainer.model.params,
        "counters": np.array([st.epoch, st.step, st.phase, st.batch_pos, st.adaptive.count, st.best_epoch]),
        "best_loss": np.array(st.best_loss),
        "adaptive_weights": st.adaptive.weights,
        "acc": st.acc,
        "rng": np.array(json.dumps(st.rng.bit_generator.state, sort_keys=True)),
        "opt_kind": np.array(type(st.opt_state).__name__),
    }
    if st.collocation is not None:
        out["collocation"] = st.collocation
    if st.plateau is not None:
        out.update({f"plateau.{k}": np.array(v) for k, v in st.plateau._asdict().items()})
    for key, value in optim.state_to_dict(st.opt_state).items():
        out[f"opt.{key}"] = np.asarray(value)
    for key, value in trainer.metrics.to_arrays().items():
        if key != "time":
            out[f"metrics.{key}"] = value
    return out


RESUME_SCRIPT = """
import sys
import numpy as np
sys.path.insert(0, {tests!r})
from test_state import snapshot
from pinnlite.training.trainer import Trainer

for directory, out in zip(sys.argv[1::2], sys.argv[2::2]):
    trainer = Trainer.load_checkpoint(directory)
    trainer.train()
    np.savez(out, **snapshot(trainer))
"""


def run_subprocess(code, *args, env=None, timeout=300):
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def interrupt_inside_epoch(trainer, epoch, batch):
    """Send a real SIGINT while batch ``batch`` of epoch ``epoch + 1`` is being computed."""
    objective = trainer.evaluate

    def wrapped(x, prep, weights=None):
        st = trainer.state
        if weights is None and st.epoch == epoch and st.batch_pos == batch:
            os.kill(os.getpid(), signal.SIGINT)
        return objective(x, prep, weights)

    trainer.evaluate = wrapped


def assert_bits_equal(a, b, name):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, f"{name}: {a.dtype}{a.shape} != {b.dtype}{b.shape}"
    if a.dtype.kind in "US":
        assert a.tolist() == b.tolist(), name
    else:
        assert a.tobytes() == b.tobytes(), f"{name}: not bit-identical, max |diff| {np.nanmax(np.abs(a - b))}"


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """name -> (snapshot of run A, snapshot of the resumed run B, tree of B's checkpoint)."""
    tmp = tmp_path_factory.mktemp("resume")
    data = dataset()
    straight, trees, args = {}, {}, []
    for name, (changes, k, batch) in VARIANTS.items():
        a = Trainer(None, base_config(**changes))
        a.train(data)
        straight[name] = snapshot(a)
        directory = tmp / name
        b = Trainer(None, base_config(**changes, **{"checkpoint.directory": str(directory)}))
        if batch is None:
            b.add_callback(lambda trainer, row, k=k: trainer.state.epoch == k)
        else:
            interrupt_inside_epoch(b, k, batch)
        b.train(data)
        trees[name] = checkpoint.read(checkpoint.latest(directory))
        args += [directory, tmp / f"{name}.npz"]
    run_subprocess(RESUME_SCRIPT.format(tests=str(TESTS)), *args)
    out = {}
    for name in VARIANTS:
        with np.load(tmp / f"{name}.npz") as f:
            out[name] = (straight[name], dict(f), trees[name])
    return out


@pytest.mark.parametrize("name", list(VARIANTS))
def test_resume_in_a_fresh_process_is_bit_identical(resumed, name):
    a, b, tree = resumed[name]
    assert tree["epoch"] == VARIANTS[name][1]
    assert sorted(a) == sorted(b)
    for key in a:
        assert_bits_equal(b[key], a[key], key)
    # the continued run did real work: the parameters moved after the checkpoint
    n = tree["material"]["theta"].size
    assert not np.array_equal(a["x"][:-n], np.concatenate([v.ravel() for v in tree["params"].values()]))
    assert a["counters"][0] == 2 * K and len(a["metrics.loss"]) == 2 * K
    assert sorted(k for k in a if k.startswith("metrics.")) == sorted([f"metrics.{c}" for c in COLUMNS if c != "time"] + ["metrics.truth"])


def test_each_variant_exercises_its_feature_after_the_checkpoint(resumed):
    a, _, tree = resumed["sgd_momentum"]
    assert a["opt_kind"] == "SgdState" and np.any(a["opt.trace"] != 0)
    assert resumed["adamw"][0]["opt_kind"] == "AdamState"
    a, _, tree = resumed["lbfgs"]
    assert a["opt_kind"] == "LbfgsState" and tree["optimizer"]["state"]["size"] > 0
    a, _, tree = resumed["switch_at_checkpoint"]
    assert tree["optimizer"]["phase"] == "first_order" and tree["optimizer"]["kind"] == "adam"
    assert a["metrics.phase"].tolist() == [0] * K + [1] * K and a["opt_kind"] == "LbfgsState"
    a, _, tree = resumed["switch_before_checkpoint"]
    assert tree["optimizer"]["phase"] == "second_order" and tree["optimizer"]["state"]["size"] > 0
    assert a["metrics.phase"].tolist() == [0] * (K - 2) + [1] * (K + 2)
    a, _, _ = resumed["minibatch"]
    assert a["counters"][1] == 2 * K * 5  # ceil(300 / 64) = 5 steps per epoch
    a, _, tree = resumed["rar"]
    # resampled at the start of epochs 5 and 9, 16 points added each time
    assert tree["sampler"]["collocation"].shape == (316, 3) and a["collocation"].shape == (332, 3)
    a, _, tree = resumed["rad"]
    assert a["collocation"].shape == (300, 3) and not np.array_equal(a["collocation"], tree["sampler"]["collocation"])
    a, _, tree = resumed["rad_bfgs"]
    assert a["opt_kind"] == "BfgsState" and a["metrics.phase"].tolist() == [1] * (2 * K)
    assert a["collocation"].shape == (300, 3) and not np.array_equal(a["collocation"], tree["sampler"]["collocation"])
    a, _, tree = resumed["adaptive_weights"]
    assert tree["adaptive_weights"]["count"] == K // 2 and a["counters"][4] == K
    assert not np.array_equal(a["adaptive_weights"], tree["adaptive_weights"]["weights"])
    a, _, tree = resumed["plateau"]
    assert a["plateau.factor"] < tree["schedule"]["plateau"]["factor"]
    a, _, tree = resumed["float32"]
    assert a["x"].dtype == np.float32 and tree["material"]["theta"].dtype == np.float32
    a, _, tree = resumed["mid_epoch"]
    smp = tree["sampler"]
    assert tree["stop_reason"] == "interrupted by SIGINT" and tree["epoch"] == K and smp["batch_pos"] == 3
    assert tree["step"] == 5 * K + 3 and smp["acc"][-1] == 3
    assert np.array_equal(np.sort(smp["perm"]), np.arange(300))


# ---------------------------------------------------------------- in-process round trip


def test_state_tree_round_trip_mid_epoch_continues_identically():
    """restore(state_tree(t)) taken between mini-batches continues exactly like t itself."""
    data = dataset()
    cfg = base_config(**{"training.batch_size": 64, "sampling.adaptive": "rad", "sampling.adaptive_every": 2,
                         "sampling.n_candidates": 400, "training.epochs": 5})
    t = Trainer(None, cfg)
    interrupt_inside_epoch(t, 3, 1)
    t.train(data)
    assert (t.state.epoch, t.state.batch_pos) == (3, 2)
    tree = t.to_tree()
    copy = Trainer.from_tree(checkpoint.loads(checkpoint.dumps(tree)).tree)
    again = copy.to_tree()
    assert again["sampler"]["batch_pos"] == tree["sampler"]["batch_pos"] == 2
    assert_bits_equal(again["sampler"]["perm"], tree["sampler"]["perm"], "perm")
    assert_bits_equal(again["sampler"]["acc"], tree["sampler"]["acc"], "acc")
    t.train()
    copy.train()
    sa, sb = snapshot(t), snapshot(copy)
    for key in sa:
        assert_bits_equal(sb[key], sa[key], key)
    assert sa["counters"][0] == 5


def test_from_tree_gives_back_the_plain_values():
    """state.from_tree inverts the tree field by field, with no trainer involved."""
    data = dataset()
    t = Trainer(None, base_config(**{"training.epochs": 3, "schedule.plateau": True}))
    t.train(data)
    r = state_module.from_tree(checkpoint.loads(checkpoint.dumps(t.to_tree())).tree)
    for field in ("epoch", "step", "phase", "batch_pos", "best_loss", "best_epoch", "elapsed", "stop_reason", "plateau"):
        assert getattr(r.state, field) == getattr(t.state, field), field
    assert_bits_equal(r.state.x, t.state.x, "x")
    assert_bits_equal(r.state.acc, t.state.acc, "acc")
    assert_bits_equal(r.state.collocation, t.state.collocation, "collocation")
    assert r.state.rng.bit_generator.state == t.state.rng.bit_generator.state
    for key, value in optim.state_to_dict(t.state.opt_state).items():
        assert_bits_equal(getattr(r.state.opt_state, key), value, key)
    assert r.config.to_dict() == t.config.to_dict() and r.data == t.data and r.scales == t.scales
    assert r.architecture == t.model.arch.to_dict() and r.world_size == 1
    for a, b in zip(r.params, t.model.to_arrays()):
        assert_bits_equal(a, b, "params")
    assert r.metrics.to_arrays().keys() == t.metrics.to_arrays().keys()


@pytest.mark.parametrize("kind", ["sgd", "adam", "adamw", "lbfgs", "bfgs", "lm"])
def test_a_resumed_run_takes_the_trees_optimizer_arrays_and_never_writes_into_them(kind):
    # from_tree takes the optimizer state's arrays of the tree as they are (no copy: a checkpoint
    # just read is nobody else's); that is sound only if no optimizer writes into its state's arrays
    data = dataset()
    t = Trainer(None, base_config(**{"training.epochs": 3, "optimizer.kind": kind}))
    t.train(data)
    tree = checkpoint.loads(checkpoint.dumps(t.to_tree())).tree
    stored = tree["optimizer"]["state"]
    before = {k: v.copy() for k, v in stored.items() if isinstance(v, np.ndarray)}
    assert before  # every kind keeps arrays
    resumed = Trainer.from_tree(tree)
    for key in before:
        assert getattr(resumed.state.opt_state, key) is stored[key], key
    resumed.config = resumed.config.replace(**{"training.epochs": 6})
    resumed.train()
    assert resumed.state.epoch == 6 and resumed.state.opt_state.count > getattr(t.state.opt_state, "count")
    for key, value in before.items():
        assert_bits_equal(stored[key], value, key)


def test_state_tree_holds_the_trainer_state():
    data = dataset()
    t = Trainer(None, base_config(**{"training.epochs": 3, "schedule.plateau": True}))
    t.train(data)
    tree = t.to_tree()
    n = t.model.n_params
    flat = np.concatenate([tree["params"][e.name].ravel() for e in t.model.layout.entries])
    assert_bits_equal(np.concatenate([flat, tree["material"]["theta"]]), t.state.x, "x")
    mat = tree["material"]
    assert mat["free"] == ["lam", "mu"] and mat["initial"] == {"lam": 3.0, "mu": 0.7, "rho": 1.0}
    # values = p0 * exp(theta) for the free parameters (the documented parametrisation)
    assert mat["values"]["lam"] == 3.0 * math.exp(float(t.state.x[n])) and mat["values"]["rho"] == 1.0
    assert mat["parametrisation"] == "log(p/p0)"
    assert tree["optimizer"]["hyperparams"]["b1"] == 0.9 and tree["optimizer"]["switch_after"] == 20
    assert tree["schedule"] == {"kind": "constant", "plateau": dict(t.state.plateau._asdict())}
    assert tree["rng"] == t.state.rng.bit_generator.state
    assert checkpoint.loads(checkpoint.dumps(tree)).tree["rng"] == tree["rng"]  # 128-bit integers kept
    assert tree["best"] == {"loss": float(np.min(t.metrics["loss"])), "epoch": int(np.argmin(t.metrics["loss"])) + 1}
    assert tree["data"].keys() == data.to_arrays().keys()
    assert Config.from_dict(tree["config"]) == t.config


def test_trainer_without_state_cannot_be_saved():
    with pytest.raises(StructureError, match="before training"):
        Trainer(None, base_config()).to_tree()


# ---------------------------------------------------------------- broken training states


@pytest.fixture(scope="module")
def training_tree():
    t = Trainer(None, base_config(**{"training.epochs": 2}))
    t.train(dataset())
    return t.to_tree()


def broken(tree, path, value):
    """A deep copy of ``tree`` (through the file format) with ``path`` set to ``value``."""
    copy = checkpoint.loads(checkpoint.dumps(tree)).tree
    node = copy
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return copy


@pytest.mark.parametrize("value", [
    {"bit_generator": "NotAGenerator"},
    "PCG64",
    {"bit_generator": "PCG64", "state": {"state": 2**200, "inc": 1}, "has_uint32": 0, "uinteger": 0},
    {"bit_generator": "PCG64", "state": {"state": -1, "inc": 1}, "has_uint32": 0, "uinteger": 0},
    {"bit_generator": "PCG64", "state": 5, "has_uint32": 0, "uinteger": 0},
    {"bit_generator": "MT19937", "state": {"key": [1, 2, 3], "pos": 0}},
])
def test_bad_rng_state_is_a_structure_error(training_tree, value, tmp_path):
    tree = broken(training_tree, ["rng"], value)
    with pytest.raises(StructureError, match="rng"):
        Trainer.from_tree(tree)
    save_file(tmp_path / "c.pinnlite", tree)
    with pytest.raises(StructureError, match="rng"):
        Trainer.load_checkpoint(path=tmp_path / "c.pinnlite")


@pytest.mark.parametrize("path, value, match", [
    (["material", "theta"], np.zeros(5), "theta"),
    (["material", "theta"], np.zeros(2, np.float32), "theta"),
    (["optimizer", "phase"], "third_order", "phase|training state"),
    (["optimizer", "state"], {"count": 1}, "training state"),
    (["epoch"], float("inf"), "epoch: expected an integer >= 0"),
    (["config", "training", "epochs"], -1, "training state"),
    (["config", "architecture", "hidden"], [9, 9], "training state"),
    (["data"], {"domain": np.zeros((3, 2))}, "training state"),
    (["schedule", "plateau"], {"best": 1.0}, "training state"),
    # each of these loaded before and failed only at the first epoch of the resumed run, with a
    # TypeError, ZeroDivisionError, OverflowError, an AttributeError, a broadcast ValueError or a
    # message naming no field of the file
    (["step"], -5, r"^step: expected an integer >= 0, found -5"),
    (["best", "epoch"], True, "best.epoch: expected an integer"),
    (["sampler", "batch_pos"], -1, "sampler.batch_pos"),
    (["adaptive_weights", "count"], -1, "adaptive_weights.count"),
    (["material", "theta"], np.array([np.nan, 0.0]), "material.theta: expected finite values, found nan at index 0"),
    (["material", "theta"], np.array([60.0, 0.0]), r"material.theta: expected values within \+-50"),  # exp overflowed
    (["scales", "time"], None, "scales.time: expected a finite real number"),
    (["scales", "length"], 0.0, "scales.length: expected a finite real number > 0, found 0.0"),
    (["scales", "modulus"], -1e-300, "scales.modulus"),
    (["scales", "displacement"], float("inf"), "scales.displacement"),
    (["scales"], {"length": 1.0}, "scales: expected a map of length, time"),
    (["scales", "modulus"], 1e300, "scales: expected scales whose squares and the terms' normalisers"),
    (["scales", "time"], 1e-300, "scales: expected scales whose squares and the terms' normalisers"),
    (["metrics"], "epochs", "metrics: expected a dict of columns"),
    (["metrics", "loss"], np.zeros(1), "metrics.loss: expected a column of 2 values"),
    (["sampler", "collocation"], np.zeros(6), r"sampler.collocation: expected an array of shape \(n, 3\)"),
    (["sampler", "collocation"], np.full((4, 3), np.inf), "sampler.collocation: expected finite values"),
    (["adaptive_weights", "weights"], -np.ones(6), "adaptive_weights.weights: expected values >= 0"),
    (["adaptive_weights", "weights"], np.ones(5), "adaptive_weights.weights"),
    (["optimizer", "state", "mu"], np.zeros(123), r"optimizer.state.mu: expected shape \(124,\) \(for 124"),
    (["optimizer", "state", "nu"], np.zeros(124, np.float32), "optimizer.state.nu: expected dtype float64"),
    (["optimizer", "state", "count"], -2, "optimizer.state.count: expected an integer >= 0"),
])
def test_bad_training_state_is_a_structure_error(training_tree, path, value, match):
    with pytest.raises(StructureError, match=match):
        Trainer.from_tree(broken(training_tree, path, value))


def test_a_second_order_state_needs_a_second_order_optimizer_in_its_config():
    """optimizer.second_order = 'none' beside a state in the second phase raised KeyError('none')."""
    t = Trainer(None, base_config(**{"training.epochs": 2, "optimizer.switch_after": 0}))
    t.train(dataset())
    tree = t.to_tree()
    assert tree["optimizer"]["phase"] == "second_order"
    with pytest.raises(StructureError, match=r"^optimizer.phase: the state is in the second-order phase, but its "
                                             r"config has optimizer.second_order = 'none'"):
        Trainer.from_tree(broken(tree, ["config", "optimizer", "second_order"], "none"))


def test_the_fixture_of_the_bad_states_resumes(training_tree):
    """The tree that the cases above break loads and trains on: what they reject is their change."""
    trainer = Trainer.from_tree(broken(training_tree, ["epoch"], training_tree["epoch"]))
    trainer.config.training.epochs = training_tree["epoch"] + 1
    assert trainer.train()["epoch"][-1] == training_tree["epoch"] + 1


def test_a_model_file_cannot_be_resumed(tmp_path):
    from pinnlite.training.model import ElasticPINN2D

    ElasticPINN2D([2], rng=0).save(tmp_path / "m.pinnlite")
    with pytest.raises(StructureError, match="'training'") as e:
        Trainer.load_checkpoint(path=tmp_path / "m.pinnlite")
    assert str(e.value).startswith(f"{tmp_path / 'm.pinnlite'}: checkpoint.kind")  # which file, as the CLI says


# ---------------------------------------------------------------- SIGKILL


KILL_SCRIPT = """
import sys
from pinnlite.io import checkpoint
from pinnlite.training.config import Config
from pinnlite.training.problems import plane_waves
from pinnlite.training.trainer import Trainer

directory, extra = sys.argv[1], int(sys.argv[2])
try:
    trainer, data = Trainer.load_checkpoint(directory), None
except checkpoint.MissingFileError:
    cfg = Config(name="killed")
    cfg.architecture.hidden = [4]
    cfg.training.epochs = 10**6
    cfg.training.threads = 1
    cfg.training.log_every = 10**6
    cfg.optimizer.second_order = "none"  # Adam throughout: a converged BFGS phase would end the run early
    cfg.sampling.n_collocation = 40
    cfg.checkpoint.directory = directory
    cfg.checkpoint.interval = 1
    cfg.checkpoint.keep_last = 2
    trainer = Trainer(None, cfg)
    data, _ = plane_waves(n_sensors=40, rng=0)
if extra:
    trainer.config = trainer.config.replace(**{"training.epochs": trainer.state.epoch + extra})


def ready(trainer, row, said=[]):
    if not said:  # the kernels are loaded and the loop runs: the parent may kill from now on
        said.append(print("ready", flush=True))


trainer.add_callback(ready)
trainer.train(data)
"""


def test_sigkill_at_random_moments_leaves_loadable_checkpoints(tmp_path):
    directory = tmp_path / "ckpts"
    rng = np.random.default_rng(20240611)
    keep_last, last_epoch, kills_after_a_checkpoint = 2, 0, 0
    stale = directory / ".ckpt-00000001.pinnlite.tmp-0123456789abcdef"
    for i in range(18):
        proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT, str(directory), "0"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(rng.uniform(0.0, 0.3))
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
            proc.stdout.close()
        assert proc.returncode == -signal.SIGKILL
        if i == 5 and directory.exists():
            stale.write_bytes(b"half a checkpoint")  # a save killed before its rename
        files = checkpoint.list_checkpoints(directory)
        assert len(files) <= keep_last + 1, files
        for _, path in files:
            checkpoint.verify(path)
        if not files:
            continue
        kills_after_a_checkpoint += 1
        latest = checkpoint.latest(directory)
        trainer = Trainer.load_checkpoint(directory)
        assert os.path.basename(latest) == f"ckpt-{trainer.state.epoch:08d}.pinnlite"
        assert trainer.state.epoch >= last_epoch  # the latest checkpoint never goes back
        assert len(trainer.metrics) == trainer.state.epoch
        last_epoch = trainer.state.epoch
    assert kills_after_a_checkpoint >= 12 and last_epoch > 0
    # a run that ends normally cleans every stale temporary file and keeps keep_last checkpoints
    stale.write_bytes(b"half a checkpoint")
    run_subprocess(KILL_SCRIPT, directory, 3)
    assert not [n for n in os.listdir(directory) if TEMP_PATTERN.match(n)]
    files = checkpoint.list_checkpoints(directory)
    assert [e for e, _ in files] == [last_epoch + 2, last_epoch + 3]
    assert checkpoint.latest(directory) == files[-1][1]
    assert load_file(files[-1][1]).tree["epoch"] == last_epoch + 3
