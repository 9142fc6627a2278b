"""Tests of the ``pinnlite`` command line: ``demo`` and ``train`` write a complete run
directory, ``plot`` without matplotlib explains how to get it, ``example`` checks a
gradient, and bad input exits with status 2 and a message."""

import importlib.util
import json
import math
import os
import re
import subprocess
import sys

import pytest

from pinnlite.cli import demo_config, main
from pinnlite.training.config import Config
from pinnlite.training.data import TrainingData
from pinnlite.training.problems import plane_waves

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def pinnlite(*args, cwd):
    """Run ``python -m pinnlite ARGS`` in a fresh process; returns the CompletedProcess."""
    return subprocess.run([sys.executable, "-m", "pinnlite", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("demo")
    proc = pinnlite("demo", "--epochs", 30, "--out", "run", "--threads", 1, cwd=cwd)
    return proc, cwd / "run"


def test_demo_exits_0_and_reports_lam_and_mu_with_relative_errors(demo_run):
    proc, out = demo_run
    assert proc.returncode == 0, proc.stderr
    with open(out / "summary.json") as f:
        summary = json.load(f)
    for name, truth in (("lam", 2.0), ("mu", 1.0)):
        m = re.search(rf"^\s*{name} = (\S+)(?: \+- (\S+) \(1 sigma\))?\s+\(truth (\S+), relative error ([+-]\d+\.\d+)%\)$",
                      proc.stdout, re.M)
        assert m, proc.stdout
        value, printed_truth, err = float(m.group(1)), float(m.group(3)), float(m.group(4))
        # the error bar printed is the one in the summary
        assert float(m.group(2)) == pytest.approx(summary["uncertainty"]["std"][name], rel=0.05)
        assert printed_truth == truth
        assert value == pytest.approx(summary["material"][name], rel=1e-5)
        assert err == pytest.approx(100 * (summary["material"][name] / truth - 1), abs=1e-3)
    assert "30 epochs" in proc.stdout
    assert "run written to run" in proc.stdout


def test_demo_writes_the_run_directory(demo_run):
    proc, out = demo_run
    assert proc.returncode == 0, proc.stderr
    cfg = Config.load(out / "config.json")
    assert cfg.training.epochs == 30 and cfg.training.threads == 1
    # the demo's configuration, with the run's checkpoint directory
    expected = demo_config(30, 0, 1).replace(**{"checkpoint.directory": os.path.join("run", "checkpoints")})
    assert cfg.to_dict() == expected.to_dict()

    with open(out / "metrics.json") as f:
        metrics = json.load(f)
    assert metrics["epoch"] == [float(e) for e in range(1, 31)]
    assert len(metrics["lam"]) == 30 and len(metrics["mu"]) == 30 and len(metrics["loss"]) == 30
    assert metrics["truth"] == {"lam": 2.0, "mu": 1.0, "rho": 1.0}
    assert metrics["boundary"] == [None] * 30  # absent terms are null

    with open(out / "summary.json") as f:
        summary = json.load(f)
    assert summary["epochs"] == 30 and summary["stop_reason"] == "epochs"
    assert summary["material"]["lam"] == metrics["lam"][-1] and summary["material"]["mu"] == metrics["mu"][-1]
    assert summary["final_loss"] == metrics["loss"][-1]
    for name in ("lam", "mu", "rho"):
        assert summary["relative_error"][name] == pytest.approx(summary["material"][name] / summary["truth"][name] - 1,
                                                                rel=1e-12, abs=1e-15)
    assert [w["kind"] for w in summary["waves"]] == ["P", "S"]

    # the data are the demo's problem: 2000 noise-free sensors drawn with seed 0
    data = TrainingData.from_npz(out / "data.npz")
    assert data == plane_waves(2.0, 1.0, 1.0, n_sensors=2000, noise=0.0, rng=0)[0]

    ckpt = out / "checkpoints"
    name = (ckpt / "latest").read_text().strip()
    assert name == "ckpt-00000030.pinnlite" and (ckpt / name).is_file()


def test_train_from_a_toml_config(tmp_path):
    data, _ = plane_waves(2.0, 1.0, 1.0, n_sensors=80, rng=2)
    data.save_npz(tmp_path / "data.npz")
    (tmp_path / "run.toml").write_text(
        'name = "small"\n'
        "[architecture]\nhidden = [8, 8]\n"
        "[training]\nepochs = 7\nseed = 3\nlog_every = 2\n"
        "[optimizer]\nlr = 0.003\nswitch_after = 5\nsecond_order = \"lbfgs\"\n"
        "[loss_weights]\npde = 0.01\n"
        "[material]\nlam = 3.0\nmu = 0.7\n"
        "[sampling]\nn_collocation = 40\n"
    )
    proc = pinnlite("train", "run.toml", "--data", "data.npz", "--out", "out", "--threads", 1, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    assert re.search(r"lam = \S+( \+- \S+ \(1 sigma\))?\s+\(truth 2, relative error", proc.stdout)
    assert re.search(r"mu = \S+( \+- \S+ \(1 sigma\))?\s+\(truth 1, relative error", proc.stdout)
    assert "7 epochs" in proc.stdout
    cfg = Config.load(out / "config.json")
    given = Config.load(tmp_path / "run.toml")
    assert cfg.to_dict() == given.replace(**{"training.threads": 1,
                                             "checkpoint.directory": os.path.join("out", "checkpoints")}).to_dict()
    with open(out / "metrics.json") as f:
        metrics = json.load(f)
    assert len(metrics["loss"]) == 7
    assert metrics["phase"] == [0.0] * 5 + [1.0] * 2
    assert metrics["lam"][0] != 3.0 and all(math.isfinite(v) for v in metrics["lam"])
    assert TrainingData.from_npz(out / "data.npz") == data
    assert (out / "checkpoints" / "latest").read_text().strip() == "ckpt-00000007.pinnlite"
    # progress lines every log_every epochs on the (non-terminal) stderr
    assert re.findall(r"epoch (\d+)/7", proc.stderr) == ["2", "4", "6", "7"]


def test_plot(demo_run):
    proc, out = demo_run
    assert proc.returncode == 0, proc.stderr
    plot = pinnlite("plot", out, cwd=out.parent)
    if not HAS_MATPLOTLIB:
        assert plot.returncode == 2
        assert "pinnlite plot needs matplotlib" in plot.stderr
        assert "pip install 'pinnlite[plot]'" in plot.stderr
        assert not list(out.glob("*.png"))
    else:  # pragma: no cover - matplotlib is not a test dependency
        assert plot.returncode == 0, plot.stderr
        for name in ("loss.png", "material.png", "field.png"):
            assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_example_checks_the_gradient(tmp_path):
    proc = pinnlite("example", "--points", 256, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    m = re.search(r"max relative error (\S+)$", proc.stdout, re.M)
    assert m and float(m.group(1)) < 1e-6
    terms = dict(re.findall(r"(\w+) = ([-+.\deE]+)", proc.stdout.splitlines()[1]))
    assert set(terms) == {"pde", "data"}
    total = float(re.search(r"total = (\S+),", proc.stdout).group(1))
    assert total == pytest.approx(float(terms["pde"]) + float(terms["data"]), rel=1e-5)


# -- bad input (in-process: the exit status and the message) ------------------------------------


def test_missing_config_file_exits_2(tmp_path, capsys):
    assert main(["train", str(tmp_path / "none.toml"), "--data", str(tmp_path / "d.npz"), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "pinnlite train:" in err and "none.toml" in err


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


def test_bad_demo_noise_exits_2(tmp_path, capsys):
    assert main(["demo", "--noise", "-0.5", "--epochs", "1", "--out", str(tmp_path / "r")]) == 2
    assert "noise" in capsys.readouterr().err


def test_unknown_command_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
