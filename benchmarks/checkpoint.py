"""Checkpoint latency and throughput: training checkpoints against plain NumPy files.

Two measurements, each compared in the same run with NumPy on the same arrays:

- **latency** of a real training checkpoint: a :class:`~pinnlite.training.trainer.Trainer`
  with hidden layers [100, 100, 100, 100] (31k parameters) and Adam's two
  moments, after one epoch on a small plane-wave problem.
  ``save_checkpoint`` (state tree, temp file, fsync, rename, directory fsync,
  ``latest``, retention), ``load_checkpoint`` (read, SHA-256, checks, rebuild
  the trainer) and ``checkpoint.verify`` (also every CRC-32), against
  ``np.savez`` of the same arrays + fsync and ``np.load`` of all of them;
- **throughput** of a large training state (default 288 MB of arrays: three
  hidden layers of width ~2450 with Adam's moments, built from the small
  trainer's tree): ``checkpoint.save_in_directory`` against ``np.save`` of
  every array into one file + fsync, and ``checkpoint.read`` /
  ``checkpoint.verify`` against ``np.load``; printed as ratios NumPy time /
  pinnlite time (targets: save >= 0.5, load + verify >= 0.5).

Usage::

    python benchmarks/checkpoint.py [--mb 288] [--repeat 3] [--dir DIR]

Throughput: best of ``repeat``; latency: median of ``max(20, 10 * repeat)``.
Files go to a temporary directory (under ``--dir`` if given) and are removed
afterwards; reads come from the page cache for both libraries.
"""

import argparse
import math
import os
import statistics
import tempfile
import time

import numpy as np

from pinnlite.io import checkpoint
from pinnlite.training.config import Config
from pinnlite.training.problems import plane_waves
from pinnlite.training.trainer import Trainer


def small_trainer(directory):
    """The (100, 4) network with Adam's state after one epoch, saving into ``directory``."""
    cfg = Config(name="bench")
    cfg.architecture.hidden = [100] * 4
    cfg.training.epochs = 1
    cfg.training.threads = 1
    cfg.sampling.n_collocation = 64
    cfg.checkpoint.directory = directory
    cfg.checkpoint.keep_best = False
    data, _ = plane_waves(n_sensors=64, rng=0)
    trainer = Trainer(None, cfg.validate(), progress=_Quiet())
    trainer.train(data)
    return trainer


class _Quiet:
    def update(self, epoch, row):
        pass

    def close(self):
        pass


def large_tree(tree, megabytes, rng):
    """``tree`` with three hidden layers wide enough for ``megabytes`` of weights and Adam moments."""
    width = max(2, round(math.sqrt(megabytes * 1e6 / (3 * 2 * 8))))  # 3 copies of ~2 width^2 float64
    hidden = [width] * 3
    widths = [3] + hidden + [2]
    params = {}
    for l in range(len(widths) - 1):
        params[f"W{l}"] = rng.standard_normal((widths[l + 1], widths[l])) / math.sqrt(widths[l])
        params[f"b{l}"] = np.zeros(widths[l + 1])
    n = sum(a.size for a in params.values()) + tree["material"]["theta"].size
    big = dict(tree, params=params, architecture=dict(tree["architecture"], hidden=hidden))
    big["config"] = dict(tree["config"], architecture=dict(tree["config"]["architecture"], hidden=hidden))
    state = dict(tree["optimizer"]["state"], mu=rng.standard_normal(n) * 1e-3, nu=rng.random(n) * 1e-6)
    big["optimizer"] = dict(tree["optimizer"], state=state)
    return big


def leaves(tree):
    if isinstance(tree, dict):
        for value in tree.values():
            yield from leaves(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from leaves(value)
    elif isinstance(tree, np.ndarray):
        yield tree


def np_save_fsync(path, arrays):
    with open(path, "wb") as f:
        for a in arrays:
            np.save(f, a)
        f.flush()
        os.fsync(f.fileno())


def np_load_all(path, count):
    with open(path, "rb") as f:
        return [np.load(f) for _ in range(count)]


def np_savez_fsync(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, *arrays)
        f.flush()
        os.fsync(f.fileno())


def np_load_npz(path):
    with np.load(path) as f:
        return [f[k] for k in f.files]


def timings(fn, repeat):
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=288.0, help="size of the large state's arrays in MB")
    parser.add_argument("--repeat", type=int, default=3, help="timings per throughput measurement (best is kept)")
    parser.add_argument("--dir", default=None, help="directory for the temporary files")
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        ckpts, npz, npy = os.path.join(tmp, "ckpts"), os.path.join(tmp, "state.npz"), os.path.join(tmp, "state.npy")

        trainer = small_trainer(ckpts)
        tree = trainer.to_tree()
        arrays = list(leaves(tree))
        reps = max(20, 10 * args.repeat)
        path = trainer.save_checkpoint()
        ms = lambda fn: 1e3 * statistics.median(timings(fn, reps))  # noqa: E731
        t_save = ms(trainer.save_checkpoint)
        t_load = ms(lambda: Trainer.load_checkpoint(ckpts, progress=_Quiet()))
        t_verify = ms(lambda: checkpoint.verify(path))
        t_both = ms(lambda: (Trainer.load_checkpoint(ckpts, progress=_Quiet()), checkpoint.verify(path)))
        t_npsave = ms(lambda: np_savez_fsync(npz, arrays))
        t_npload = ms(lambda: np_load_npz(npz))
        print(f"training checkpoint, hidden [100]*4 + Adam: {trainer.model.n_params} parameters, {len(arrays)} arrays, "
              f"{os.path.getsize(path) / 1e3:.0f} kB (median of {reps})")
        print(f"  save_checkpoint (4 fsyncs)      {t_save:8.2f} ms    np.savez + fsync  {t_npsave:8.2f} ms")
        print(f"  load_checkpoint                 {t_load:8.2f} ms    np.load (npz)     {t_npload:8.2f} ms")
        print(f"  checkpoint.verify               {t_verify:8.2f} ms")
        print(f"  load_checkpoint + verify        {t_both:8.2f} ms")

        big = large_tree(tree, args.mb, rng)
        arrays = list(leaves(big))
        nbytes = sum(a.nbytes for a in arrays)
        big_dir = os.path.join(tmp, "big")
        best = lambda fn: min(timings(fn, args.repeat))  # noqa: E731
        # both sides write a new file each time (replacing or truncating a large file
        # first frees its blocks, which would charge one side for the other's cleanup)
        counter = iter(range(1, 10**6))
        t_save = best(lambda: checkpoint.save_in_directory(big_dir, next(counter), big, 10**6))
        path = checkpoint.latest(big_dir)
        npy_names = iter(os.path.join(tmp, f"state-{k}.npy") for k in range(10**6))
        t_npsave = best(lambda: np_save_fsync(next(npy_names), arrays))
        npy = os.path.join(tmp, "state-0.npy")
        t_read = best(lambda: checkpoint.read(path))
        t_verify = best(lambda: checkpoint.verify(path))
        t_npload = best(lambda: np_load_all(npy, len(arrays)))
        gbs = lambda t: nbytes / t / 1e9  # noqa: E731
        print(f"large training state: hidden {big['architecture']['hidden']} + Adam, {len(arrays)} arrays, "
              f"{nbytes / 1e6:.0f} MB (best of {args.repeat})")
        print(f"  save (save_in_directory)        {t_save:7.3f} s  {gbs(t_save):5.2f} GB/s")
        print(f"  np.save + fsync                 {t_npsave:7.3f} s  {gbs(t_npsave):5.2f} GB/s   "
              f"ratio {t_npsave / t_save:.2f} (target >= 0.5)")
        print(f"  load (checkpoint.read: sha256)  {t_read:7.3f} s  {gbs(t_read):5.2f} GB/s")
        print(f"  load + verify (checkpoint.verify) {t_verify:5.3f} s  {gbs(t_verify):5.2f} GB/s")
        print(f"  np.load                         {t_npload:7.3f} s  {gbs(t_npload):5.2f} GB/s   "
              f"ratio read {t_npload / t_read:.2f}, verify {t_npload / t_verify:.2f} (target >= 0.5)")


if __name__ == "__main__":
    main()
