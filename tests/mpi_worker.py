"""Scenarios run under ``mpiexec -n K`` by tests/test_distributed.py; rank 0 writes the results.

    mpiexec -n K python tests/mpi_worker.py SCENARIO OUT_DIR
"""

import io
import json
import os
import sys

import numpy as np

from pinnlite import Config, Trainer
from pinnlite.training import distributed
from pinnlite.training import problems
from pinnlite.training.progress import Progress


def config(epochs=8, **changes):
    c = Config()
    c.architecture.hidden = [12, 12]
    c.training.epochs = epochs
    c.training.threads = 1
    c.training.log_every = 1000
    c.sampling.n_collocation = 301  # not divisible by 2 or 3: uneven shards
    c.material.lam, c.material.mu = 4.0, 0.5
    c.loss_weights.pde = 0.01
    c.optimizer.lr = 3e-3
    c.training.hold_material = False  # the material moves from the first epoch: the ranks' results differ if wrong
    for key, value in changes.items():
        section, field = key.split("__")
        setattr(getattr(c, section), field, value)
    return c.validate()


def data():
    d, _ = problems.plane_waves(2.0, 1.0, 1.0, n_sensors=157, boundary="traction", n_boundary=61, n_initial=29, rng=3)
    return d


def quiet(epochs):
    return Progress(epochs, stream=io.StringIO())


def gradient(comm, out):
    """Loss terms and gradient on the same global points, data parallel."""
    cfg = config(epochs=0)
    tr = Trainer(None, cfg, progress=quiet(1), comm=comm)
    tr.train(data())
    x = tr.state.x.copy()
    x[:] += 0.01 * np.sin(np.arange(x.size))  # a generic point, not the initial one
    res, g = tr.evaluate(x, tr._full_prep())
    if comm.Get_rank() == 0:
        np.savez(os.path.join(out, "gradient.npz"), x=x, g=g, total=res.total,
                 terms=np.array([res.terms.get(t, np.nan) for t in sorted(res.terms)]), names=np.array(sorted(res.terms)))


def training(comm, out):
    """A short run: Adam with mini-batches, then two L-BFGS iterations."""
    cfg = config(epochs=12, optimizer__second_order="lbfgs", optimizer__switch_after=10, training__batch_size=128)
    tr = Trainer(None, cfg, progress=quiet(12), comm=comm)
    tr.train(data())
    if comm.Get_rank() == 0:
        np.savez(os.path.join(out, "training.npz"), x=tr.state.x, lam=tr.material["lam"], mu=tr.material["mu"],
                 loss=tr.metrics["loss"])


def resume(comm, out):
    """Stop at epoch 5 with a checkpoint, resume (same K), compare with a straight run."""
    d = data()
    straight = Trainer(None, config(epochs=10, training__batch_size=100), progress=quiet(10), comm=comm)
    straight.train(d)
    ckdir = os.path.join(out, "ckpt")
    first = Trainer(None, config(epochs=10, training__batch_size=100, checkpoint__directory=ckdir), progress=quiet(10), comm=comm)
    first.add_callback(lambda tr, row: tr.state.epoch == 5)
    first.train(d)
    comm.Barrier()  # rank 0 has written the checkpoint
    again = Trainer.load_checkpoint(ckdir, comm=comm, progress=quiet(10))
    again.train()
    if comm.Get_rank() == 0:
        same = bool(np.array_equal(again.state.x, straight.state.x))
        cols = [c for c in ("loss", "pde", "data", "lam", "mu") if True]
        same_metrics = all(np.array_equal(again.metrics[c], straight.metrics[c], equal_nan=True) for c in cols)
        with open(os.path.join(out, "resume.json"), "w") as f:
            json.dump({"same_x": same, "same_metrics": same_metrics, "epochs": again.state.epoch,
                       "world_size": comm.Get_size()}, f)


def failure(comm, out):
    """An error on the last rank must stop every rank (not hang them in the next collective)."""
    with distributed.abort_on_error(comm):
        if comm.Get_rank() == comm.Get_size() - 1:
            raise RuntimeError("deliberate failure on the last rank")
        tr = Trainer(None, config(epochs=50), progress=quiet(50), comm=comm)
        tr.train(data())


def main():
    scenario, out = sys.argv[1], sys.argv[2]
    comm = distributed.world()
    with distributed.abort_on_error(comm):
        {"gradient": gradient, "training": training, "resume": resume, "failure": failure}[scenario](comm, out)


if __name__ == "__main__":
    main()
