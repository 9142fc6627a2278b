"""Tests of the ``pinnlite`` command line: ``demo`` and ``train`` write a complete run
directory and refuse one that holds a run, a config taken from a run cannot touch it,
``resume`` finds its checkpoint three ways and says what to do when it cannot go on,
``export``/``inspect``/``config`` write and show what they promise, the help, the version
and the options behave as documented, the progress line fits a real 60-column terminal,
and bad input exits with status 2 and a message."""

import argparse
import hashlib
import importlib.util
import json
import math
import os
import pathlib
import pty
import re
import select
import shutil
import struct
import subprocess
import sys
import termios

import fcntl
import pytest

from pinnlite.cli import build_parser, demo_config, main
from pinnlite.io import checkpoint
from pinnlite.training.config import Config
from pinnlite.training.data import TrainingData
from pinnlite.training.problems import DEFAULT_WAVES, plane_waves
from pinnlite.training.trainer import Trainer

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
SMALL = (
    'name = "small"\n'
    "[architecture]\nhidden = [8, 8]\n"
    "[training]\nepochs = 7\nseed = 3\nlog_every = 2\nhold_material = false\n"
    "[optimizer]\nlr = 0.003\nswitch_after = 5\nsecond_order = \"lbfgs\"\n"
    "[loss_weights]\npde = 0.01\n"
    "[material]\nlam = 3.0\nmu = 0.7\n"
    "[sampling]\nn_collocation = 40\n"
)


def pinnlite(*args, cwd, **kwargs):
    """Run ``python -m pinnlite ARGS`` in a fresh process; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "pinnlite", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300, **kwargs)


def tree_hash(directory):
    """Dict relative path -> SHA-256 of every file under ``directory``."""
    out = {}
    for p in sorted(pathlib.Path(directory).rglob("*")):
        if p.is_file():
            out[str(p.relative_to(directory))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A directory with a small config and data, and a finished run of them in ``run``."""
    root = tmp_path_factory.mktemp("small")
    data, _ = plane_waves(2.0, 1.0, 1.0, n_sensors=80, rng=2)
    data.save_npz(root / "data.npz")
    (root / "run.toml").write_text(SMALL)
    proc = pinnlite("train", "run.toml", "--data", "data.npz", "--out", "run", "--threads", 1, cwd=root)
    assert proc.returncode == 0, proc.stderr
    return root, proc


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("demo")
    # 30 epochs: a held material would not move yet (training.hold_material), and these tests
    # read the trained result and its error bars; test_a_demo_too_short_to_learn_the_sensors_says_so
    # runs the defaults
    proc = pinnlite("demo", "--epochs", 30, "--out", "run", "--threads", 1, "--set", "training.hold_material=false",
                    cwd=cwd)
    return proc, cwd / "run"


# -- demo ----------------------------------------------------------------------------------------------


def test_demo_prints_its_settings_and_reports_lam_and_mu_not_the_fixed_rho(demo_run):
    proc, out = demo_run
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "pinnlite demo: recover lam and mu from displacement measurements"
    settings = dict(re.findall(r"^  (\w[\w ]*?)\s{2,}(.*)$", proc.stdout, re.M))
    assert settings["truth"] == "lam = 2, mu = 1, rho = 1"
    assert settings["trained"] == "lam from 4, mu from 0.5; fixed: rho = 1"
    assert settings["data"] == "2000 displacement sensors, noise 0%, seed 0"
    assert Config().optimizer.switch_after == 0
    assert settings["optimizer"] == "dense SSBroyden for 30 epochs (no first-order warm-up)"
    assert settings["threads"] == "1"
    assert settings["writing to"] == "run/ (config, data, checkpoints, metrics, summary)"
    # architecture.hidden = "auto" with a constant material: three layers of 24
    assert settings["network"] == "hidden layers 24 x 24 x 24 (tanh), 2000 collocation points (lhs)"
    assert max(len(ln) for ln in lines[:9]) < 80  # the settings fit an 80-column terminal
    with open(out / "summary.json") as f:
        summary = json.load(f)
    for name, truth in (("lam", 2.0), ("mu", 1.0)):
        m = re.search(rf"^\s*{name} = (\S+)(?:\s+\+- (\S+) \(1 sigma\))?\s+\(truth (\S+), relative error ([+-]\d+\.\d+)%\)$",
                      proc.stdout, re.M)
        assert m, proc.stdout
        value, printed_truth, err = float(m.group(1)), float(m.group(3)), float(m.group(4))
        # the error bar printed is the one in the summary
        assert float(m.group(2)) == pytest.approx(summary["uncertainty"]["std"][name], rel=0.05)
        assert printed_truth == truth
        assert value == pytest.approx(summary["material"][name], rel=1e-5)
        assert err == pytest.approx(100 * (summary["material"][name] / truth - 1), abs=1e-3)
    assert re.search(r"^ rho = 1\s+\(fixed, not trained\)$", proc.stdout, re.M)
    assert "relative error" not in [ln for ln in lines if ln.startswith(" rho")][0]
    assert "30 epochs" in proc.stdout and "run written to run" in proc.stdout


@pytest.mark.parametrize("changes, expected", [
    ({"optimizer.switch_after": 20}, "Adam (lr 0.003) for 20 epochs, then dense SSBroyden to epoch 10000"),
    ({"optimizer.switch_after": 20, "training.epochs": 20}, "Adam (lr 0.003) for 20 epochs"),  # no switch
    ({"optimizer.second_order": "none"}, "Adam (lr 0.003) for 10000 epochs"),
    ({"optimizer.second_order": "lbfgs"}, "L-BFGS for 10000 epochs (no first-order warm-up)"),
    ({"optimizer.kind": "bfgs"}, "dense SSBroyden for 10000 epochs"),
])
def test_the_demo_names_its_optimizer_phases(changes, expected):
    from pinnlite.cli.run import _demo_rows

    data, _ = plane_waves(n_sensors=10, rng=0)
    args = argparse.Namespace(noise=0.0, seed=0, out="run")
    rows = dict(_demo_rows(Config().replace(**changes), data, args, 1))
    assert rows["optimizer"] == expected


def test_demo_writes_the_run_directory(demo_run):
    proc, out = demo_run
    assert proc.returncode == 0, proc.stderr
    # the demo's config with the fixture's --set, without the machine's thread count and the run's own directory
    expected = demo_config(30, 0, None).replace(**{"training.hold_material": False})
    assert Config.load(out / "config.json").to_dict() == expected.to_dict()
    with open(out / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["epoch"] == list(range(1, 31)) and all(type(e) is int for e in metrics["epoch"])
    assert len(metrics["lam"]) == 30 and len(metrics["mu"]) == 30 and len(metrics["loss"]) == 30
    assert metrics["truth"] == {"lam": 2.0, "mu": 1.0, "rho": 1.0}
    assert metrics["boundary"] == [None] * 30  # absent terms are null
    csv = (out / "metrics.csv").read_text().splitlines()
    assert len(csv) == 31 and csv[1].startswith("1,1,")
    with open(out / "summary.json") as f:
        summary = json.load(f)
    assert summary["epochs"] == 30 and summary["stop_reason"] == "epochs" and summary["status"] == "finished"
    assert summary["material"]["lam"] == metrics["lam"][-1] and summary["material"]["mu"] == metrics["mu"][-1]
    assert summary["final_loss"] == metrics["loss"][-1]
    assert summary["free"] == ["lam", "mu"] and summary["fixed"] == ["rho"]
    assert set(summary["relative_error"]) == {"lam", "mu"}  # a fixed rho is not "recovered"
    for name in ("lam", "mu"):
        assert summary["relative_error"][name] == pytest.approx(summary["material"][name] / summary["truth"][name] - 1,
                                                                rel=1e-12, abs=1e-15)
    # what reproduces the run
    import numba
    import numpy

    import pinnlite

    v = summary["versions"]
    assert (v["pinnlite"], v["numpy"], v["numba"]) == (pinnlite.__version__, numpy.__version__, numba.__version__)
    assert v["python"] == ".".join(map(str, sys.version_info[:3]))
    assert summary["command"][-9:] == ["demo", "--epochs", "30", "--out", "run", "--threads", "1", "--set",
                                       "training.hold_material=false"]
    assert summary["threads"] == 1 and summary["ranks"] == 1 and summary["host"]
    (session,) = summary["sessions"]
    assert session["epochs"] == [0, 30] and session["exit"] == 0 and session["start"] <= session["end"]
    assert summary["wall_time_s"] == session["wall_time_s"] > 0
    assert [w["kind"] for w in summary["problem"]["waves"]] == ["P", "S"]
    assert summary["problem"]["truth"] == {"lam": 2.0, "mu": 1.0, "rho": 1.0}
    # the data are the demo's problem: 2000 noise-free sensors drawn with seed 0
    data = TrainingData.from_npz(out / "data.npz")
    assert data == plane_waves(2.0, 1.0, 1.0, n_sensors=2000, noise=0.0, rng=0)[0]
    ckpt = out / "checkpoints"
    name = (ckpt / "latest").read_text().strip()
    assert name == "ckpt-00000030.pinnlite" and (ckpt / name).is_file()


def test_the_summary_keeps_the_warnings_the_run_gave_and_the_result_names_them(demo_run):
    # 30 epochs do not fit the sensors: the run warns half way and at the end (diagnostics.fit)
    proc, out = demo_run
    summary = json.loads((out / "summary.json").read_text())
    shown = re.findall(r"^WARNING pinnlite: (.*) \((\w+)\)$", proc.stderr, re.M)
    assert [w["warning"] for w in summary["warnings"]] == ["FitWarning", "FitWarning"]
    assert [(w["message"], w["warning"]) for w in summary["warnings"]] == shown
    assert summary["warnings"][0]["message"].startswith("half way (epoch 15): the network fits the sensor data only")
    assert summary["sessions"][-1]["warnings"] == summary["warnings"]
    caveat = [ln for ln in proc.stdout.splitlines() if "error bars assume" in ln]
    assert caveat == ["      (the error bars assume a run that fitted its data; this one warned: FitWarning)"]


def test_a_result_without_warnings_prints_no_caveat(capsys):
    from pinnlite.cli.run import print_summary

    summary = {"material": {"lam": 2.0, "mu": 1.0, "rho": 1.0}, "free": ["lam", "mu"], "final_loss": 1e-6,
               "epochs": 10, "stop_reason": "epochs", "wall_time_s": 1.0, "warnings": [],
               "uncertainty": {"std": {"lam": 1e-3, "mu": 1e-3}}}
    print_summary(summary)
    assert "warned" not in capsys.readouterr().out
    summary["warnings"] = [{"warning": "MaterialWarning", "message": "lam moved"}, {"warning": "FitWarning", "message": "x"}]
    print_summary(summary)
    assert "this one warned: FitWarning, MaterialWarning)" in capsys.readouterr().out
    del summary["uncertainty"]  # no error bars: nothing to qualify
    print_summary(summary)
    assert "warned" not in capsys.readouterr().out


def test_a_resumed_demo_keeps_its_waves_and_sums_its_wall_time(demo_run, tmp_path):
    _, out = demo_run
    import shutil

    copy = tmp_path / "demo"
    shutil.copytree(out, copy)
    assert main(["resume", str(copy), "--epochs", "32", "-q"]) == 0
    summary = json.loads((copy / "summary.json").read_text())
    assert summary["problem"]["waves"] == [dict(w.__dict__, direction=list(w.direction)) for w in DEFAULT_WAVES]
    assert [s["epochs"] for s in summary["sessions"]] == [[0, 30], [30, 32]]
    assert summary["wall_time_s"] == pytest.approx(sum(s["wall_time_s"] for s in summary["sessions"]), rel=1e-12)
    assert summary["start"] == summary["sessions"][0]["start"] and summary["epochs"] == 32


def test_readme_lists_the_training_fields_a_resume_may_change():
    from pinnlite.cli.run import RESUMABLE_TRAINING

    text = " ".join((ROOT / "README.md").read_text().split())
    listed = re.search(r"`training\.([\w/]+)`, not what the state", text)
    assert listed and listed.group(1).split("/") == list(RESUMABLE_TRAINING)


def test_demo_defaults_match_the_readme_synopsis():
    line = next(ln for ln in (ROOT / "README.md").read_text().splitlines() if ln.startswith("pinnlite demo ["))
    shown = dict(re.findall(r"\[--([\w-]+) ([^\]\s]+)\]", line))
    parser = subparser("demo")
    defaults = {a.option_strings[-1][2:]: a.default for a in parser._actions if a.option_strings}
    checked = 0
    for option, text in shown.items():
        if text.isupper():  # a placeholder such as N or DIR
            continue
        assert str(defaults[option]) in (text, text + ".0"), option
        checked += 1
    assert checked >= 3  # seed, epochs, out; the noise's default depends on --inclusion (SIGMA)
    assert defaults["noise"] is None and shown["noise"] == "SIGMA"


def test_a_demo_too_short_to_learn_the_sensors_says_so(tmp_path):
    # the defaults hold the material at its guesses while the network is random
    # (pinnlite.training.hold): in 5 epochs it still is, and the result must not pass for trained
    proc = pinnlite("demo", "--epochs", 5, "--out", "run", "--threads", 1, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^\s*lam = 4\s+\(truth 2, relative error \+100\.0+%\)$", proc.stdout, re.M), proc.stdout
    assert re.search(r"^\s*mu = 0\.5\s+\(truth 1, relative error -50\.0+%\)$", proc.stdout, re.M), proc.stdout
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    held = [w["message"] for w in summary["warnings"] if w["warning"] == "MaterialWarning"]
    assert held == ["lam, mu kept their initial guesses for all 5 epochs of this run: the network did not yet fit "
                    "the sensors better than a field of zeros (training.hold_material). Train longer "
                    "(training.epochs), or set training.hold_material = false to train the material from the "
                    "first epoch"]
    assert summary["uncertainty"] is None  # no error bars of a material that was not trained


# -- train and run directories ----------------------------------------------------------------------


def test_train_from_a_toml_config(small):
    root, proc = small
    out = root / "run"
    assert re.search(r"lam = \S+\s+(\+- \S+ \(1 sigma\)\s+)?\(truth 2, relative error", proc.stdout)
    assert re.search(r"mu = \S+\s+(\+- \S+ \(1 sigma\)\s+)?\(truth 1, relative error", proc.stdout)
    assert "7 epochs" in proc.stdout
    # the run's config is the file's, portable: no checkpoint directory, no thread count
    assert Config.load(out / "config.json") == Config.load(root / "run.toml")
    with open(out / "metrics.json") as f:
        metrics = json.load(f)
    assert len(metrics["loss"]) == 7
    assert metrics["phase"] == [0] * 5 + [1] * 2
    assert metrics["lam"][0] != 3.0 and all(math.isfinite(v) for v in metrics["lam"])
    assert TrainingData.from_npz(out / "data.npz") == TrainingData.from_npz(root / "data.npz")
    assert (out / "checkpoints" / "latest").read_text().strip() == "ckpt-00000007.pinnlite"
    # progress lines every log_every epochs on the (non-terminal) stderr, with the phase
    assert re.findall(r"^(Adam|L-BFGS)  epoch (\d+)/7", proc.stderr, re.M) == [
        ("Adam", "2"), ("Adam", "4"), ("L-BFGS", "6"), ("L-BFGS", "7")]


def test_an_out_that_holds_a_run_is_refused_and_left_byte_identical(small):
    root, _ = small
    before = tree_hash(root / "run")
    proc = pinnlite("train", "run.toml", "--data", "data.npz", "--out", "run", "--threads", 1, cwd=root)
    assert proc.returncode == 2
    msg = proc.stderr.strip()
    assert msg.startswith("pinnlite train: RunExists: run already holds a run (")
    for way in ("'pinnlite resume run'", "another --out", "--overwrite"):
        assert way in msg
    assert "checkpoints/" in msg and "summary.json" in msg
    assert tree_hash(root / "run") == before


def test_a_folder_of_inputs_alone_is_not_called_a_run(small, tmp_path, capsys):
    """config.json and data.npz alone (a user's inputs) would be written over, but there is no run
    to resume: the message says so instead of advising 'pinnlite resume', which would fail."""
    root, _ = small
    here = tmp_path / "inputs"
    here.mkdir()
    Config.load(root / "run.toml").save(here / "config.json")
    shutil.copy(root / "data.npz", here / "data.npz")
    before = tree_hash(here)
    assert main(["train", str(here / "config.json"), "--data", str(here / "data.npz"), "--out", str(here)]) == 2
    err = capsys.readouterr().err
    assert f"{here} holds files that a run writes (config.json, data.npz); nothing was changed" in err
    assert "resume" not in err and tree_hash(here) == before


def test_overwrite_removes_the_old_run_first_and_nothing_else(small, tmp_path):
    root, _ = small
    import shutil

    out = tmp_path / "again"
    shutil.copytree(root / "run", out)
    (out / "notes.txt").write_text("mine")
    (out / "checkpoints" / "ckpt-00000099.pinnlite").write_bytes(b"an old run's")
    assert main(["train", str(root / "run.toml"), "--data", str(root / "data.npz"), "--out", str(out),
                 "--overwrite", "--set", "training.epochs=3", "--set", "optimizer.switch_after=2", "-q"]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert [e for e, _ in checkpoint.list_checkpoints(out / "checkpoints")] == [3]
    assert json.loads((out / "summary.json").read_text())["epochs"] == 3


def test_a_config_taken_from_a_run_leaves_that_run_byte_identical(small, tmp_path, capsys):
    root, _ = small
    run2 = root / "run"
    before = tree_hash(run2)
    assert main(["export", str(run2), "--config", str(tmp_path / "exported.toml")]) == 0
    hand = tmp_path / "hand.toml"  # a config that names the run's own checkpoint directory
    hand.write_text(SMALL + f'[checkpoint]\ndirectory = "{run2 / "checkpoints"}"\n')
    for k, config in enumerate((run2 / "config.json", tmp_path / "exported.toml", hand)):
        out = tmp_path / f"run3-{k}"
        assert main(["train", str(config), "--data", str(run2 / "data.npz"), "--out", str(out), "-q",
                     "--set", "training.epochs=2", "--set", "optimizer.switch_after=1"]) == 0
        assert [e for e, _ in checkpoint.list_checkpoints(out / "checkpoints")] == [2]
        assert tree_hash(run2) == before, config
    err = capsys.readouterr().err
    assert f"checkpoint.directory = '{run2 / 'checkpoints'}' in {hand} is not used" in err
    assert "(--out decides)" in err


def test_export_writes_toml_that_reads_back_to_the_run_config(small, tmp_path):
    root, _ = small
    path = tmp_path / "c.toml"
    assert main(["export", str(root / "run"), "--config", str(path), "--metrics", str(tmp_path / "m.csv")]) == 0
    text = path.read_text()
    tree = tomllib.loads(text)  # TOML, not JSON in a .toml file
    assert tree["name"] == "small" and tree["architecture"]["hidden"] == [8, 8]
    stored = Config.from_dict(checkpoint.read(checkpoint.latest(root / "run" / "checkpoints"))["config"])
    assert Config.load(path) == stored.replace(**{"checkpoint.directory": None, "training.threads": None})
    assert "directory" not in tree.get("checkpoint", {}) and "threads" not in tree["training"]
    assert (tmp_path / "m.csv").read_text().splitlines()[0].startswith("epoch,step,loss,")


def test_config_json_is_the_config_the_run_ran_with(small, tmp_path):
    # dense BFGS over more than bfgs_max_size values becomes L-BFGS in the run's own config: config.json
    # must say so, or a run trained from it (or read by a user) would not be the run that was made
    root, _ = small
    out = tmp_path / "fallback"
    assert main(["train", str(root / "run.toml"), "--data", str(root / "data.npz"), "--out", str(out), "-q",
                 "--set", "training.epochs=3", "--set", "optimizer.second_order=bfgs",
                 "--set", "optimizer.switch_after=1", "--set", "optimizer.bfgs_max_size=10"]) == 0
    cfg = Config.load(out / "config.json")
    assert (cfg.optimizer.second_order, cfg.optimizer.bfgs_max_size) == ("lbfgs", 10)
    summary = json.loads((out / "summary.json").read_text())
    assert any(w["warning"] == "DenseSizeWarning" for s in summary["sessions"] for w in s.get("warnings", []))
    assert Trainer.load_checkpoint(out / "checkpoints").config.optimizer.second_order == "lbfgs"


def test_set_overrides_fields_and_names_a_bad_one(small, tmp_path, capsys):
    root, _ = small
    out = tmp_path / "set"
    assert main(["train", str(root / "run.toml"), "--data", str(root / "data.npz"), "--out", str(out), "-q",
                 "--set", "training.epochs=3", "--set", "architecture.hidden=[6]", "--set", "optimizer.second_order=none",
                 "--set", 'name="renamed"']) == 0
    cfg = Config.load(out / "config.json")
    assert (cfg.training.epochs, cfg.architecture.hidden, cfg.optimizer.second_order, cfg.name) == (3, [6], "none", "renamed")
    for bad, fragment in (("training.epocs=3", "unknown key training.epocs"), ("epochs", "--set: expected SECTION.FIELD=VALUE"),
                          ("training.epochs=-1", "training.epochs: expected an integer >= 0, found -1")):
        assert main(["train", str(root / "run.toml"), "--data", str(root / "data.npz"), "--out", str(tmp_path / "x"),
                     "--set", bad]) == 2
        assert fragment in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    # a bad value names where it came from: --set over the config, or the config file itself
    assert main(["train", str(root / "run.toml"), "--data", str(root / "data.npz"), "--out", str(tmp_path / "x"),
                 "--set", "optimizer.second_order=newton"]) == 2
    err = capsys.readouterr().err
    assert "optimizer.second_order: expected one of 'lbfgs', 'bfgs', 'lm', 'none', found 'newton'" in err
    assert f"(in --set, over {root / 'run.toml'})" in err
    bad_file = tmp_path / "bad.toml"
    bad_file.write_text('[optimizer]\nsecond_order = "newton"\n')
    assert main(["train", str(bad_file), "--data", str(root / "data.npz"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert f"found 'newton' (in {bad_file})" in err and "--set" not in err


# -- resume ---------------------------------------------------------------------------------------------


@pytest.fixture
def interrupted(small, tmp_path):
    """A copy of a run stopped at epoch 4 of 7 (before its L-BFGS switch after epoch 5)."""
    root, _ = small
    out = tmp_path / "r"
    assert main(["train", str(root / "run.toml"), "--data", str(root / "data.npz"), "--out", str(out), "-q",
                 "--set", "checkpoint.interval=1", "--set", "checkpoint.keep_last=10"]) == 0
    for e, path in checkpoint.list_checkpoints(out / "checkpoints"):
        if e > 4:
            os.unlink(path)
    (out / "checkpoints" / "latest").write_text("ckpt-00000004.pinnlite\n")
    return out


@pytest.mark.parametrize("how", ["run directory", "checkpoint directory", "checkpoint file"])
def test_resume_takes_a_run_directory_a_checkpoint_directory_or_a_file(interrupted, capsys, how):
    target = {"run directory": interrupted, "checkpoint directory": interrupted / "checkpoints",
              "checkpoint file": interrupted / "checkpoints" / "ckpt-00000003.pinnlite"}[how]
    assert main(["resume", str(target), "-q"]) == 0
    out = capsys.readouterr().out
    epoch = 3 if how == "checkpoint file" else 4
    name = os.path.join(str(interrupted / "checkpoints"), f"ckpt-{epoch:08d}.pinnlite")
    assert out.splitlines()[0] == f"resuming {name} at epoch {epoch} of 7"
    assert "7 epochs (epochs)" in out
    assert checkpoint.read(checkpoint.latest(interrupted / "checkpoints"))["epoch"] == 7
    summary = json.loads((interrupted / "summary.json").read_text())
    assert [s["epochs"] for s in summary["sessions"]] == [[0, 7], [epoch, 7]]


@pytest.mark.parametrize("how", ["checkpoint directory", "checkpoint file"])
def test_resume_outside_a_run_directory_writes_only_checkpoints(interrupted, tmp_path, capsys, how):
    """A checkpoint directory not named checkpoints/ is not part of a run: the directory above it
    holds the user's files, which a resume once replaced by its config.json, summary.json and metrics."""
    proj = tmp_path / "proj"
    shutil.copytree(interrupted / "checkpoints", proj / "ckpts")
    for name in ("config.json", "summary.json", "metrics.json", "metrics.csv", "notes.txt"):
        (proj / name).write_text(f"the user's own {name}\n")
    mine = {k: v for k, v in tree_hash(proj).items() if not k.startswith("ckpts")}
    target = proj / "ckpts" if how == "checkpoint directory" else proj / "ckpts" / "ckpt-00000004.pinnlite"
    assert main(["resume", str(target), "-q"]) == 0
    out = capsys.readouterr().out
    assert {k: v for k, v in tree_hash(proj).items() if not k.startswith("ckpts")} == mine
    assert sorted(os.listdir(proj)) == ["ckpts", "config.json", "metrics.csv", "metrics.json", "notes.txt",
                                        "summary.json"]
    assert checkpoint.read(checkpoint.latest(proj / "ckpts"))["epoch"] == 7
    assert f"checkpoints written to {proj / 'ckpts'}; it is not the checkpoints/ of a run directory" in out
    assert main(["resume", str(proj / "ckpts")]) == 0  # finished: says so, names what it was given
    assert capsys.readouterr().out.startswith(f"{proj / 'ckpts'} is finished: epoch 7 of 7")


def test_resume_of_a_finished_run_says_so_and_how_to_extend_it(small, capsys):
    root, _ = small
    before = tree_hash(root / "run")
    assert main(["resume", str(root / "run")]) == 0
    assert capsys.readouterr().out.strip() == (
        f"{root / 'run'} is finished: epoch 7 of 7, stopped: epochs. "
        f"To train further: pinnlite resume {root / 'run'} --epochs N, with N > 7.")
    assert tree_hash(root / "run") == before


def test_fewer_epochs_than_the_lbfgs_switch_say_what_to_do(interrupted, capsys):
    assert main(["resume", str(interrupted), "--epochs", "5"]) == 0  # the switch is after epoch 5: fine
    capsys.readouterr()
    out2 = interrupted.parent / "r2"
    os.rename(interrupted, out2)
    assert main(["resume", str(out2 / "checkpoints" / "ckpt-00000004.pinnlite"), "--epochs", "4"]) == 2
    assert "the run is at epoch 4; give more than 4 epochs" in capsys.readouterr().err


def test_an_extension_before_the_switch_says_that_it_stays_first_order(small, tmp_path, capsys):
    root, _ = small
    out = tmp_path / "s"
    cfg = SMALL.replace("epochs = 7", "epochs = 9").replace("switch_after = 5", "switch_after = 8")
    (tmp_path / "s.toml").write_text(cfg)
    assert main(["train", str(tmp_path / "s.toml"), "--data", str(root / "data.npz"), "--out", str(out), "-q",
                 "--set", "checkpoint.interval=2", "--set", "training.patience=1",
                 "--set", "training.target_loss=100"]) == 0  # stops at once: the target is reached
    capsys.readouterr()
    assert main(["resume", str(out), "--epochs", "6", "--set", "training.target_loss=none",
                 "--set", "training.patience=none"]) == 0
    err = capsys.readouterr().err
    assert "--epochs 6: the run stays first-order, it switches to lbfgs after epoch 8" in err
    assert "give --epochs 9 or more" in err and "--set optimizer.switch_after=" in err
    tree = checkpoint.read(checkpoint.latest(out / "checkpoints"))
    assert tree["epoch"] == 6 and set(tree["metrics"]["phase"].tolist()) == {0}
    # switching now is what the message offers
    assert main(["resume", str(out), "--epochs", "8", "--set", "optimizer.switch_after=6", "-q"]) == 0
    tree = checkpoint.read(checkpoint.latest(out / "checkpoints"))
    assert tree["epoch"] == 8 and tree["metrics"]["phase"].tolist()[-2:] == [1, 1]


def test_resume_of_an_early_stopped_run_says_to_change_the_patience(small, tmp_path, capsys):
    root, _ = small
    out = tmp_path / "early"
    assert main(["train", str(root / "run.toml"), "--data", str(root / "data.npz"), "--out", str(out), "-q",
                 "--set", "training.patience=1", "--set", "optimizer.lr=0.5"]) == 0
    stopped = json.loads((out / "summary.json").read_text())
    assert stopped["stop_reason"].startswith("early stop") and stopped["epochs"] < 7
    capsys.readouterr()
    assert main(["resume", str(out)]) == 0
    msg = capsys.readouterr().out
    assert msg.startswith(f"{out} is finished: epoch {stopped['epochs']} of 7, stopped: early stop: ")
    assert f"pinnlite resume {out} --set training.patience=N (more than 1) or --set training.patience=none" in msg
    assert main(["resume", str(out), "--set", "training.patience=none", "-q"]) == 0
    assert json.loads((out / "summary.json").read_text())["epochs"] == 7


def test_resume_refuses_to_change_what_the_state_holds(interrupted, capsys):
    assert main(["resume", str(interrupted), "--set", "architecture.hidden=[4]"]) == 2
    err = capsys.readouterr().err
    assert "--set architecture.hidden: cannot change in a resumed run" in err and "pinnlite train" in err
    # a misspelt key is unknown, not frozen, and the closest key is named
    assert main(["resume", str(interrupted), "--set", "training.epoch=12"]) == 2
    assert "unknown key training.epoch (did you mean training.epochs?) (in --set)" in capsys.readouterr().err


def test_misspelt_and_foreign_keys_are_named_with_the_field_meant(small, tmp_path, capsys):
    root, _ = small
    assert main(["train", str(root / "run.toml"), "--data", str(root / "data.npz"), "--out", str(tmp_path / "r"),
                 "--set", "optimizer.learning_rate=1e-3"]) == 2
    assert "unknown key optimizer.learning_rate (did you mean optimizer.lr?)" in capsys.readouterr().err
    (tmp_path / "c.toml").write_text("[training]\nepoch = 5\n[architecture]\nlayers = [8]\n")
    assert main(["config", str(tmp_path / "c.toml")]) == 2
    err = capsys.readouterr().err
    assert "training.epoch (did you mean training.epochs?)" in err and "architecture.layers (did you mean " \
        "architecture.hidden?)" in err
    assert not (tmp_path / "r").exists()


# -- inspect, export, config ----------------------------------------------------------------------------


def test_inspect_states_the_unit_system_and_the_terms_add_up(small, capsys):
    root, _ = small
    assert main(["inspect", str(root / "run")]) == 0
    out = capsys.readouterr().out
    head = re.search(r"loss of the last epoch, dimensionless \(each term divided by its scale\): total (\S+)", out)
    assert head
    rows = re.findall(r"^  (pde|data)\s+(\S+)\s+(\S+)\s+(\S+)$", out, re.M)
    assert [r[0] for r in rows] == ["pde", "data"]
    assert sum(float(r[3]) for r in rows) == pytest.approx(float(head.group(1)), rel=1e-4)
    for _, normalised, weight, weighted in rows:
        assert float(normalised) * float(weight) == pytest.approx(float(weighted), rel=1e-4)
    assert main(["inspect", str(root / "run"), "--json"]) == 0
    report = strict_json(capsys.readouterr().out)
    assert report["epoch"] == 7 and report["kind"] == "training"
    assert [t["term"] for t in report["loss_terms"]] == ["pde", "data"]
    assert sum(t["weighted"] for t in report["loss_terms"]) == pytest.approx(report["last"]["loss"], rel=1e-12)
    assert report["file"].endswith("ckpt-00000007.pinnlite")
    assert {a["path"] for a in report["arrays"]} >= {"params/W0", "metrics/loss"}
    assert report["last"]["boundary"] is None  # a term this run has not: NaN in the file, null in JSON
    assert main(["export", str(root / "run")]) == 0  # the summary, the same strict JSON
    assert strict_json(capsys.readouterr().out)["last"] == report["last"]


def strict_json(text):
    """``json.loads`` that refuses NaN and Infinity, as JavaScript's JSON.parse does."""
    def refuse(token):
        raise ValueError(f"not JSON: {token}")
    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("command", ["inspect", "export", "resume", "convert"])
def test_a_file_that_is_no_checkpoint_is_named_by_every_command(tmp_path, capsys, command):
    """The reader's message said what was wrong but not of which file (convert A B: which one?)."""
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    argv = [command, str(bad)] + ([str(tmp_path / "new.pinnlite")] if command == "convert" else [])
    assert main(argv) == 1
    assert capsys.readouterr().err.startswith(f"pinnlite {command}: MagicError: {bad}: not a pinnlite-checkpoint file")
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


def test_inspect_into_a_closed_pipe_exits_quietly(small):
    root, _ = small
    proc = subprocess.Popen([sys.executable, "-m", "pinnlite", "inspect", "run"], cwd=root, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # like `| head` that has read enough
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "BrokenPipeError" not in err and "Traceback" not in err and err == ""
    assert proc.returncode == 141


def test_config_defaults_print_every_field_with_its_comment(capsys):
    assert main(["config", "--defaults"]) == 0
    text = capsys.readouterr().out
    assert Config.from_toml(text) == Config()
    assert "# Number of epochs (passes over the collocation points); integer >= 0.\nepochs = 10000\n" in text
    assert "every_seconds = 600.0" in text and "# batch_size = None" in text


def test_config_of_a_file_fills_in_the_defaults(small, capsys):
    root, _ = small
    assert main(["config", str(root / "run.toml"), "--set", "training.patience=9"]) == 0
    cfg = Config.from_toml(capsys.readouterr().out)
    assert cfg == Config.load(root / "run.toml").replace(**{"training.patience": 9})
    assert main(["config"]) == 2
    assert "expected either --defaults or a config file" in capsys.readouterr().err


# -- the parser ---------------------------------------------------------------------------------------


def subparser(name):
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def test_no_arguments_print_the_help(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: pinnlite")
    for command in ("demo", "train", "resume", "plot", "inspect", "verify", "export", "config", "example"):
        assert re.search(rf"^    {command}\s+\S", out, re.M), command


def test_version(capsys):
    import numpy

    import pinnlite

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"pinnlite {pinnlite.__version__} (Python ") and f"NumPy {numpy.__version__}" in out


def test_every_command_has_a_description_and_shows_its_defaults():
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in action.choices.items():
        assert parser.description and len(parser.description) > 40, name
        text = parser.format_help()
        for a in parser._actions:
            if a.option_strings and a.nargs != 0 and all(a.default is not v for v in (None, False, argparse.SUPPRESS)):
                assert f"(default: {a.default})" in " ".join(text.split()), (name, a.dest)
    demo = " ".join(subparser("demo").format_help().split())
    assert f"(default: {Config().training.epochs})" in demo and "e.g. 0.01 (default: 0, or 0.01 with --inclusion)" in demo and "sampling (default: 0)" in demo
    assert "(default: pinnlite-demo)" in " ".join(subparser("demo").format_help().split())


def test_verbosity_goes_before_or_after_the_command(small, tmp_path, capsys):
    root, _ = small
    args = ["train", str(root / "run.toml"), "--data", str(root / "data.npz"), "--set", "training.epochs=2",
            "--set", "optimizer.switch_after=1"]
    assert main([*args, "--out", str(tmp_path / "a"), "-v"]) == 0
    err = capsys.readouterr().err
    assert "INFO pinnlite: training small:" in err and "epoch 2/2" in err
    assert main(["-v", *args, "--out", str(tmp_path / "b"), "-q"]) == 0
    err = capsys.readouterr().err
    assert "INFO pinnlite: training small:" in err and "epoch 2/2" not in err  # -q: no progress
    assert main(["-q", *args, "--out", str(tmp_path / "c")]) == 0
    assert capsys.readouterr().err == ""


def test_the_identifiability_warning_shows_once_through_the_command_line(small, tmp_path, capsys):
    root, _ = small
    assert main(["train", str(root / "run.toml"), "--data", str(root / "data.npz"), "--out", str(tmp_path / "w"), "-q",
                 "--set", "material.optimize_rho=true", "--set", "training.epochs=1",
                 "--set", "optimizer.switch_after=1"]) == 0
    err = capsys.readouterr().err
    assert err.count("lam, mu and rho are all free") == 1
    assert "WARNING pinnlite: lam, mu and rho are all free" in err and "(IdentifiabilityWarning)" in err


# -- the progress line on a real terminal ----------------------------------------------------------------


def test_the_progress_line_fits_a_60_column_terminal(small, tmp_path):
    root, _ = small
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 60, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "pinnlite", "train", str(root / "run.toml"), "--data",
                             str(root / "data.npz"), "--out", str(tmp_path / "tty"), "--set", "training.epochs=60",
                             "--threads", "1"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            break
        try:
            data = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    text = b"".join(chunks).decode()
    # a warning (here: the short run does not fit its data) clears the line and takes a line of
    # its own; the progress line is drawn again below it
    pieces = [d for d in re.split(r"\r\x1b\[K|\r\n", text) if d.strip()]
    warnings_ = [d for d in pieces if d.startswith("WARNING pinnlite:")]
    draws = [d for d in pieces if not d.startswith("WARNING pinnlite:")]
    assert draws and all(re.match(r"(Adam|L-BFGS)?\s*epoch \d+/60  loss ", d) or d.startswith("epoch") for d in draws)
    for d in draws:
        assert len(d) <= 59, repr(d)
    assert draws[-1].startswith("epoch 60/60") or draws[-1].startswith("L-BFGS  epoch 60/60")
    assert text.count("\n") == 1 + len(warnings_)  # one progress line in all, ended when training ends
    assert all(f"\r\x1b[K{w}\r\n" in text or f"\r\n{w}\r\n" in text for w in warnings_)  # never mid-line


# -- bad input (in-process: the exit status and the message) ----------------------------------------------


def test_plot_without_matplotlib_says_how_to_get_it(demo_run, monkeypatch, capsys):
    _, out = demo_run
    monkeypatch.setitem(sys.modules, "pinnlite.plotting", None)  # import fails as without matplotlib
    assert main(["plot", str(out)]) == 2
    err = capsys.readouterr().err
    assert "pinnlite plot needs matplotlib" in err and "pip install 'pinnlite[plot]'" in err
    assert not (out / "plots").exists()


def test_example_checks_the_gradient(tmp_path):
    proc = pinnlite("example", "--points", 256, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"max relative error (\S+)$", proc.stdout, re.M)
    assert m and float(m.group(1)) < 1e-6
    terms = dict(re.findall(r"(\w+) = ([-+.\deE]+)", proc.stdout.splitlines()[1]))
    assert set(terms) == {"pde", "data"}
    total = float(re.search(r"total = (\S+),", proc.stdout).group(1))
    assert total == pytest.approx(float(terms["pde"]) + float(terms["data"]), rel=1e-5)


def test_missing_config_file_exits_2(tmp_path, capsys):
    assert main(["train", str(tmp_path / "none.toml"), "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "pinnlite train:" in err and "none.toml" in err


def test_a_toml_syntax_error_names_the_file(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[training]\nepochs = \n")
    assert main(["train", str(bad), "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert f"pinnlite train: ConfigError: TOML file {bad}: " in err and "line 2" in err


def test_missing_data_file_exits_2(tmp_path, capsys):
    Config(name="x").save(tmp_path / "c.json")
    assert main(["train", str(tmp_path / "c.json"), "--data", str(tmp_path / "nowhere.npz"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "InputError" in err and "nowhere.npz" in err and "not found" in err


def test_invalid_config_exits_2_naming_the_field(tmp_path, capsys):
    (tmp_path / "c.toml").write_text("[training]\nepochs = -3\n")
    plane_waves(n_sensors=5, rng=0)[0].save_npz(tmp_path / "d.npz")
    assert main(["train", str(tmp_path / "c.toml"), "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "ConfigError" in err and "training.epochs" in err


def test_sensors_outside_the_domain_and_missing_sensors_exit_2(small, tmp_path, capsys):
    root, _ = small
    data = TrainingData.from_npz(root / "data.npz")
    arrays = data.to_arrays()
    arrays["sensor_points"] = arrays["sensor_points"] * [10, 1, 1]  # x in mm for a domain in cm
    import numpy as np

    np.savez(tmp_path / "mm.npz", **arrays)
    assert main(["train", str(root / "run.toml"), "--data", str(tmp_path / "mm.npz"), "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "sensor_points: expected points inside the domain x in [0.0, 1.0]" in err and " in row " in err
    del arrays["sensor_points"], arrays["sensor_values"]
    np.savez(tmp_path / "none.npz", **arrays)
    assert main(["train", str(root / "run.toml"), "--data", str(tmp_path / "none.npz"), "--out", str(tmp_path / "b")]) == 2
    assert "material: lam and mu are free, but the data hold no sensor displacements" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_unknown_command_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2


@pytest.mark.parametrize("argv, message", [
    (["demo", "--seed", "-1"], "argument --seed: expected an integer >= 0, found '-1'"),
    (["demo", "--threads", "0"], "argument --threads: expected an integer >= 1, found '0'"),
    (["demo", "--threads", "2.5"], "argument --threads: expected an integer >= 1, found '2.5'"),
    (["demo", "--noise", "-0.01"], "argument --noise: expected a number >= 0, found '-0.01'"),
    (["demo", "--noise", "nan"], "argument --noise: expected a number >= 0, found 'nan'"),
    (["demo", "--epochs", "many"], "argument --epochs: expected an integer >= 0, found 'many'"),
    (["example", "--points", "0"], "argument --points: expected an integer >= 1, found '0'"),
    (["resume", "run", "--epochs", "-5"], "argument --epochs: expected an integer >= 0, found '-5'"),
    (["train", "run.toml", "--data", "d.npz", "--threads", "-2"], "argument --threads: expected an integer >= 1"),
])
def test_a_bad_number_on_the_command_line_names_its_option(argv, message, capsys, tmp_path):
    # refused by the parser (exit status 2) before anything runs or is written
    with pytest.raises(SystemExit) as e:
        main(argv + (["--out", str(tmp_path / "never")] if argv[0] == "demo" else []))
    assert e.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
