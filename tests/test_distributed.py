"""Data-parallel training under mpiexec -n 2 and -n 3 against one process.

These tests need mpi4py and an ``mpiexec`` (the ``mpi`` extra installs both:
mpi4py and the mpich wheel); where they are missing the tests are skipped with
that reason. .ci/run installs the extra, so they run in CI.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mpi_worker  # noqa: E402

MPIEXEC = shutil.which("mpiexec") or shutil.which("mpiexec", path=os.path.dirname(sys.executable))
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mpi4py") is None or MPIEXEC is None,
    reason="needs mpi4py and mpiexec: python -m pip install '.[mpi]'",
)


def mpirun(n, scenario, out, timeout=240):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(HERE), HERE]), OMP_NUM_THREADS="1")
    return subprocess.run(
        [MPIEXEC, "-n", str(n), sys.executable, os.path.join(HERE, "mpi_worker.py"), scenario, str(out)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


def single(scenario_config, epochs_data=True):
    from pinnlite import Trainer

    tr = Trainer(None, scenario_config, progress=mpi_worker.quiet(1))
    tr.train(mpi_worker.data())
    return tr


@pytest.mark.parametrize("ranks", [2, 3])
def test_sharded_gradient_equals_single_process(tmp_path, ranks):
    proc = mpirun(ranks, "gradient", tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = np.load(tmp_path / "gradient.npz")
    tr = single(mpi_worker.config(epochs=0))
    res, g = tr.evaluate(got["x"], tr._full_prep())
    # the same global points, only the summation order differs
    assert abs(float(got["total"]) - res.total) <= 1e-12 * abs(res.total)
    assert np.max(np.abs(got["g"] - g)) <= 1e-12 * np.max(np.abs(g))
    names = [str(n) for n in got["names"]]
    assert names == sorted(res.terms)
    np.testing.assert_allclose(got["terms"], [res.terms[t] for t in names], rtol=1e-12)
    # every term is present: PDE, traction, initial displacement and velocity, data
    assert {"pde", "traction", "initial", "initial_velocity", "data"} <= set(names)


@pytest.mark.parametrize("ranks", [2, 3])
def test_short_training_run_recovers_the_same_material(tmp_path, ranks):
    proc = mpirun(ranks, "training", tmp_path)
    assert proc.returncode == 0, proc.stderr
    got = np.load(tmp_path / "training.npz")
    tr = single(mpi_worker.config(epochs=12, optimizer__second_order="lbfgs", optimizer__switch_after=10, training__batch_size=128))
    # Adam keeps the rounding-level differences of the summation order at ~1e-15;
    # each L-BFGS iteration amplifies them about tenfold (measured), hence only two here
    assert abs(float(got["lam"]) / tr.material["lam"] - 1) <= 1e-12
    assert abs(float(got["mu"]) / tr.material["mu"] - 1) <= 1e-12
    np.testing.assert_allclose(got["loss"][:10], tr.metrics["loss"][:10], rtol=1e-14)
    np.testing.assert_allclose(got["loss"], tr.metrics["loss"], rtol=1e-12)
    # training moved the parameters: the comparison is not between two starting points
    assert abs(tr.material["lam"] - 4.0) > 1e-3


@pytest.mark.parametrize("ranks", [2, 3])
def test_resume_with_the_same_ranks_is_exact(tmp_path, ranks):
    proc = mpirun(ranks, "resume", tmp_path)
    assert proc.returncode == 0, proc.stderr
    with open(tmp_path / "resume.json") as f:
        got = json.load(f)
    assert got == {"same_x": True, "same_metrics": True, "epochs": 10, "world_size": ranks}
    # only rank 0 wrote: one set of files
    names = sorted(os.listdir(tmp_path / "ckpt"))
    assert "latest" in names and any(n.startswith("ckpt-") for n in names)


def test_resume_with_other_ranks_warns_and_continues(tmp_path):
    from pinnlite import Trainer

    proc = mpirun(2, "resume", tmp_path)
    assert proc.returncode == 0, proc.stderr
    with pytest.warns(RuntimeWarning, match="re-sharded"):
        tr = Trainer.load_checkpoint(tmp_path / "ckpt", progress=mpi_worker.quiet(20))
    tr.config = tr.config.replace(**{"training.epochs": 12})
    tr.train()
    assert tr.state.epoch == 12


def test_an_error_on_one_rank_stops_all(tmp_path):
    t0 = time.perf_counter()
    proc = mpirun(3, "failure", tmp_path, timeout=120)
    assert proc.returncode != 0
    assert "deliberate failure on the last rank" in proc.stderr
    assert "rank 2 of 3 failed" in proc.stderr
    assert time.perf_counter() - t0 < 100
