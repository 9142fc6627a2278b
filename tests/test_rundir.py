"""Tests of pinnlite.training.rundir: what makes a directory a run and what --overwrite
removes, the portable config, where to resume from (a run directory, a checkpoint
directory, a file, the current directory), JSON without NaN, and the summary of a run
over several sessions."""

import json
import math
import os
import shutil

import pytest

from pinnlite.io import checkpoint
from pinnlite.io.errors import MissingFileError
from pinnlite.training import rundir
from pinnlite.training.config import Config
from pinnlite.training.problems import plane_waves
from pinnlite.training.trainer import Trainer


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished 4-epoch run whose checkpoints are in RUN/checkpoints."""
    run = tmp_path_factory.mktemp("rundir") / "run"
    cfg = Config(name="rd").replace(**{
        "architecture.hidden": [6], "training.epochs": 4, "training.threads": 1, "sampling.n_collocation": 30,
        "material.lam": 3.0, "checkpoint.directory": str(rundir.checkpoint_dir(run)), "checkpoint.interval": 2})
    trainer = Trainer(None, cfg, progress=False)
    trainer.train(plane_waves(2.0, 1.0, 1.0, n_sensors=40, rng=1)[0])
    return run, trainer


def test_run_files_and_clear_remove_only_the_run(tmp_path):
    assert rundir.run_files(tmp_path) == []
    for name in ("summary.json", "config.json", "notes.txt"):
        (tmp_path / name).write_text("x")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "ckpt-00000001.pinnlite").write_bytes(b"x")
    assert rundir.run_files(tmp_path) == ["config.json", "summary.json", "checkpoints"]
    assert rundir.clear(tmp_path) == ["config.json", "summary.json", "checkpoints"]
    assert sorted(os.listdir(tmp_path)) == ["notes.txt"]


def test_portable_config_drops_the_directory_and_the_threads_only():
    cfg = Config().replace(**{"checkpoint.directory": "/scratch/me/run/checkpoints", "training.threads": 64,
                              "optimizer.lr": 0.25, "checkpoint.interval": 7})
    p = rundir.portable(cfg)
    assert p.checkpoint.directory is None and p.training.threads is None
    assert p == cfg.replace(**{"checkpoint.directory": None, "training.threads": None})
    assert cfg.checkpoint.directory == "/scratch/me/run/checkpoints"  # the original is untouched


def test_locate_from_a_run_a_checkpoint_directory_or_a_file(trained, monkeypatch):
    run, _ = trained
    ckdir = rundir.checkpoint_dir(run)
    latest = checkpoint.checkpoint_path(ckdir, 4)
    assert rundir.locate(run) == (str(run), ckdir, latest)
    assert rundir.locate(ckdir) == (str(run), ckdir, latest)
    two = checkpoint.checkpoint_path(ckdir, 2)
    assert rundir.locate(two) == (str(run), ckdir, two)
    monkeypatch.chdir(ckdir)  # relative paths stay relative, "." is the checkpoint directory
    assert rundir.locate(".") == ("..", ".", os.path.join(".", "ckpt-00000004.pinnlite"))
    assert rundir.locate("ckpt-00000002.pinnlite") == ("..", ".", "ckpt-00000002.pinnlite")


def test_checkpoints_outside_a_run_directory_have_no_run_directory(trained, tmp_path):
    run, _ = trained
    loose = tmp_path / "saved"
    shutil.copytree(rundir.checkpoint_dir(run), loose)
    latest = checkpoint.checkpoint_path(str(loose), 4)
    assert rundir.locate(loose) == (None, str(loose), latest)
    assert rundir.locate(latest) == (None, str(loose), latest)


def test_locate_names_what_is_missing(tmp_path):
    with pytest.raises(MissingFileError, match=r"neither a run directory \(no checkpoints/ in it\) nor a checkpoint"):
        rundir.locate(tmp_path)
    with pytest.raises(MissingFileError, match="no such run directory, checkpoint directory or checkpoint file"):
        rundir.locate(tmp_path / "nothing")


def test_json_without_nan_and_atomic(tmp_path):
    path = tmp_path / "s.json"
    rundir.write_json(path, {"a": math.nan, "b": [1.5, math.inf], "c": {"d": -math.inf, "e": 2}})
    assert json.loads(path.read_text()) == {"a": None, "b": [1.5, None], "c": {"d": None, "e": 2}}
    assert os.listdir(tmp_path) == ["s.json"]  # no temporary file left
    assert rundir.read_summary(tmp_path) is None  # not a summary.json
    (tmp_path / "summary.json").write_text("{broken")
    assert rundir.read_summary(tmp_path) is None


def test_a_true_value_of_zero_has_no_relative_error(trained):
    # lam may be 0 in a solid (lam + mu > 0): its error is not relative to anything, the others are
    import dataclasses

    run, trainer = trained
    real = trainer.data
    try:
        trainer.data = dataclasses.replace(real, truth=(0.0, 1.0, 1.0))
        s = rundir.summary(name="rd", sessions=[rundir.new_session(threads=1, ranks=1, epoch=0, argv=["x"])],
                           problem=None, trainer=trainer, status="finished")
    finally:
        trainer.data = real
    assert s["truth"] == {"lam": 0.0, "mu": 1.0, "rho": 1.0}
    assert s["relative_error"] == {"mu": trainer.material["mu"] - 1}


def test_summary_over_two_sessions(trained):
    run, trainer = trained
    first = rundir.new_session(threads=2, ranks=1, epoch=0, argv=["pinnlite", "train"])
    rundir.end_session(first, 10.5, 2, 0)
    second = rundir.new_session(threads=4, ranks=2, epoch=2, argv=["pinnlite", "resume", "run"])
    rundir.end_session(second, 2.25, 4, 0)
    s = rundir.summary(name="rd", sessions=[first, second], problem={"kind": "x"}, trainer=trainer, status="finished")
    assert s["wall_time_s"] == 12.75 and s["start"] == first["start"] and s["end"] == second["end"]
    assert (s["command"], s["threads"], s["ranks"]) == (["pinnlite", "resume", "run"], 4, 2)
    assert first["epochs"] == [0, 2] and second["epochs"] == [2, 4]
    assert s["epochs"] == 4 and s["epochs_planned"] == 4 and s["stop_reason"] == "epochs" and s["status"] == "finished"
    assert s["free"] == ["lam", "mu"] and s["fixed"] == ["rho"] and s["problem"] == {"kind": "x"}
    assert s["material"] == trainer.material and s["truth"] == {"lam": 2.0, "mu": 1.0, "rho": 1.0}
    assert s["relative_error"] == {"lam": trainer.material["lam"] / 2 - 1, "mu": trainer.material["mu"] - 1}
    assert s["best"]["monitor"] == "loss" and s["best"]["epoch"] == trainer.state.best_epoch
    assert s["checkpoint"] == trainer.last_checkpoint and "validation" not in s
    assert set(s["versions"]) >= {"pinnlite", "python", "numpy", "numba", "msgpack"}
    # before training: only what the sessions say
    start = rundir.summary(name="rd", sessions=[first])
    assert start["status"] == "running" and "epochs" not in start and "material" not in start
