"""Tests of pinnlite.training.signals and of stopping a real ``pinnlite train`` process with
SIGTERM, SIGINT and a double SIGINT: the exit status (143, 130), the message naming the
checkpoint, no traceback, and that the named checkpoint resumes bit for bit (compared with
an uninterrupted run of the same length)."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from pinnlite.io import checkpoint
from pinnlite.training import signals
from pinnlite.training.config import Config
from pinnlite.training.data import TrainingData
from pinnlite.training.metrics import COLUMNS
from pinnlite.training.problems import plane_waves
from pinnlite.training.trainer import Trainer

SLOW_SAVE = pathlib.Path(__file__).with_name("slow_save.py")
CONFIG = (
    'name = "sig"\n'
    "[architecture]\nhidden = [8, 8]\n"
    "[training]\nepochs = 100000\nseed = 2\nlog_every = 1\n"
    "[optimizer]\nlr = 0.003\nswitch_after = 3\nsecond_order = \"lbfgs\"\n"
    "[loss_weights]\npde = 0.01\n"
    "[material]\nlam = 3.0\nmu = 0.7\n"
    "[sampling]\nn_collocation = 40\n"
)


# -- the module ------------------------------------------------------------------------------------


def test_exit_status_and_names():
    assert signals.exit_status(signal.SIGINT) == 130 and signals.exit_status(signal.SIGTERM) == 143
    assert signals.name(signal.SIGTERM) == "SIGTERM" and signals.name(999) == "signal 999"
    assert issubclass(signals.Interrupted, KeyboardInterrupt)


def test_first_signal_is_recorded_the_second_raises_and_handlers_come_back():
    before = {s: signal.getsignal(s) for s in signals.SIGNALS}
    seen = []
    with signals.StopSignals(on_first=seen.append) as stop:
        assert all(signal.getsignal(s) == stop._handler for s in signals.SIGNALS)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)
        assert stop.received == signal.SIGTERM and seen == [signal.SIGTERM]
        with pytest.raises(signals.Interrupted) as info:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        assert info.value.signum == signal.SIGINT
    assert {s: signal.getsignal(s) for s in signals.SIGNALS} == before


def test_an_ignored_signal_stays_ignored():
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with signals.StopSignals() as stop:
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.01)
            assert stop.received is None
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_outside_the_main_thread_nothing_is_installed():
    result = {}

    def body():
        with signals.StopSignals() as stop, signals.interrupt_at_once():
            result["handler"] = signal.getsignal(signal.SIGINT)
            result["stop"] = stop

    before = signal.getsignal(signal.SIGINT)
    t = threading.Thread(target=body)
    t.start()
    t.join()
    assert result["handler"] is before and result["stop"].received is None


# -- a real process -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def problem(tmp_path_factory):
    root = tmp_path_factory.mktemp("signals")
    data, _ = plane_waves(2.0, 1.0, 1.0, n_sensors=60, rng=5)
    data.save_npz(root / "data.npz")
    (root / "run.toml").write_text(CONFIG)
    return root


def start(root, out, *extra, slow=False):
    """``pinnlite train`` in a new process with SIGINT at its default (a background shell ignores it)."""
    script = [str(SLOW_SAVE)] if slow else ["-m", "pinnlite"]
    return subprocess.Popen(
        [sys.executable, *script, "train", "run.toml", "--data", "data.npz", "--out", out, "--threads", "1", *extra],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for(proc, pattern, lines, timeout=120):
    """Read stderr lines into ``lines`` until one contains ``pattern``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            raise AssertionError(f"the process ended before {pattern!r}: {''.join(lines)}")
        lines.append(line)
        if pattern in line:
            return line
    raise AssertionError(f"no {pattern!r} within {timeout} s")


def finish(proc, lines):
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, "".join(lines) + err


def assert_resumes_bit_for_bit(root, path, epoch):
    """The checkpoint at ``path`` (epoch ``epoch``) continued 3 epochs equals a run of epoch + 3 from scratch."""
    trainer = Trainer.load_checkpoint(path=path, progress=False)
    assert trainer.state.epoch == epoch
    trainer.config = trainer.config.replace(**{"training.epochs": epoch + 3})
    resumed = trainer.train()
    cfg = Config.load(root / "run.toml").replace(**{"training.epochs": epoch + 3, "training.threads": 1})
    reference = Trainer(None, cfg, progress=False)
    expected = reference.train(TrainingData.from_npz(root / "data.npz"))
    for c in COLUMNS:
        if c != "time":
            np.testing.assert_array_equal(resumed[c], expected[c], err_msg=c)
    np.testing.assert_array_equal(trainer.state.x, reference.state.x)


@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_saves_a_checkpoint_names_it_and_exits_128_plus_its_number(problem, sig, status):
    out = f"run-{signals.name(sig)}"
    proc, lines = start(problem, out), []
    wait_for(proc, "epoch 6/100000", lines)
    proc.send_signal(sig)
    code, stdout, stderr = finish(proc, lines)
    name = signals.name(sig)
    assert code == status, stderr
    assert f"{name}: stopping after the current step, saving a checkpoint" in stderr
    assert "Traceback" not in stderr and "Traceback" not in stdout
    last = [ln for ln in stdout.splitlines() if ln.startswith("interrupted by")]
    assert len(last) == 1, stdout
    epoch = int(last[0].split(" at epoch ")[1].split()[0])
    path = os.path.join(out, "checkpoints", f"ckpt-{epoch:08d}.pinnlite")
    assert last[0] == (f"interrupted by {name} at epoch {epoch} of 100000; saved {path}; "
                       f"continue with: pinnlite resume {out}")
    assert epoch >= 6 and checkpoint.latest(problem / out / "checkpoints") == str(problem / path)
    assert f"{epoch} epochs (interrupted by {name})" in stdout
    summary = (problem / out / "summary.json").read_text()
    assert '"status": "interrupted"' in summary and f'"exit": {status}' in summary
    assert_resumes_bit_for_bit(problem, problem / path, epoch)


def test_a_second_sigint_while_saving_exits_at_once_naming_the_last_good_checkpoint(problem):
    out = "run-double"
    proc, lines = start(problem, out, "--set", "checkpoint.interval=1", slow=True), []
    wait_for(proc, "epoch 5/100000", lines)
    proc.send_signal(signal.SIGINT)
    wait_for(proc, "SIGINT: stopping after the current step", lines)
    time.sleep(0.1)  # inside a checkpoint write (each takes 0.3 s)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    code, stdout, stderr = finish(proc, lines)
    assert time.monotonic() - sent < 10  # at once, not after the save and the epochs
    assert code == 130, stderr
    assert "Traceback" not in stderr and "Traceback" not in stdout
    final = stderr.strip().splitlines()[-1]
    prefix = "pinnlite train: stopped at once by a second SIGINT; the last good checkpoint is "
    assert final.startswith(prefix), stderr
    path = final[len(prefix):]
    directory = problem / out / "checkpoints"
    assert problem / path == pathlib.Path(checkpoint.latest(directory))
    # nothing half-written is left, and every checkpoint verifies
    assert not [n for n in os.listdir(directory) if ".tmp-" in n]
    for _, p in checkpoint.list_checkpoints(directory):
        checkpoint.verify(p)
    epoch = checkpoint.read(problem / path)["epoch"]
    # the run's files say it was interrupted (they said "running", with no metrics)
    summary = json.loads((problem / out / "summary.json").read_text())
    assert (summary["status"], summary["sessions"][-1]["exit"]) == ("interrupted", 130)
    assert len(json.loads((problem / out / "metrics.json").read_text())["epoch"]) >= epoch
    assert_resumes_bit_for_bit(problem, problem / path, epoch)
