"""Checkpoint latency, throughput and the memory of rejecting hostile files.

Three measurements; the first two compared in the same run with NumPy on the
same arrays:

- **latency** of a real training checkpoint: a :class:`~pinnlite.training.trainer.Trainer`
  with hidden layers [100, 100, 100, 100] (31k parameters) and Adam's two
  moments, after one epoch on a small plane-wave problem.
  ``save_checkpoint`` (state tree, temp file, fsync, rename, directory fsync,
  ``latest``, retention), ``load_checkpoint`` (read, head digest and CRC-32s,
  checks, rebuild the trainer), ``checkpoint.verify`` (also every SHA-256)
  and ``checkpoint.read_model`` (the head and the weights only), against
  ``np.savez`` of the same arrays + fsync and ``np.load`` of all of them;
- **throughput** of a large training state (default 288 MB of arrays: three
  hidden layers of width ~2450 with Adam's moments, built from the small
  trainer's tree): ``checkpoint.save_in_directory`` against ``np.save`` of
  every array into one file + fsync, ``checkpoint.read`` (CRC-32s) and
  ``checkpoint.verify`` (SHA-256s too) against ``np.load``, and
  ``checkpoint.read_model`` against ``np.load`` of the weights alone; printed
  as ratios NumPy time / pinnlite time (targets: save >= 0.5, load >= 0.5);
- **hostile files**: the peak memory (``tracemalloc``) of rejecting the
  costliest headers within the format's limits and files that claim
  gigabytes they do not hold (bound: 48 MiB, docs/FORMAT.md section 7).

Usage::

    python benchmarks/checkpoint.py [--mb 288] [--repeat 3] [--dir DIR] [--skip-hostile]

Throughput: best of ``repeat``; latency: median of ``max(20, 10 * repeat)``.
Files go to a temporary directory (under ``--dir`` if given) and are removed
afterwards; reads come from the page cache for both libraries.
"""

import argparse
import importlib.util
import math
import os
import statistics
import tempfile
import time
import tracemalloc

import numpy as np

from pinnlite.io import checkpoint, container
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


def np_load_some(path, count, wanted):
    """The arrays at positions ``wanted`` of an np.save stream of ``count`` arrays (the others are skipped)."""
    out = []
    with open(path, "rb") as f:
        for i in range(count):
            if i in wanted:
                out.append(np.load(f))
            else:
                fmt = np.lib.format
                version = fmt.read_magic(f)
                header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
                shape, _, dtype = header(f)
                f.seek(int(np.prod(shape)) * dtype.itemsize, os.SEEK_CUR)
    return out


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
    parser.add_argument("--skip-hostile", action="store_true", help="leave out the hostile-file measurements")
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
        t_model = ms(lambda: checkpoint.read_model(path))
        t_npsave = ms(lambda: np_savez_fsync(npz, arrays))
        t_npload = ms(lambda: np_load_npz(npz))
        print(f"training checkpoint, hidden [100]*4 + Adam: {trainer.model.n_params} parameters, {len(arrays)} arrays, "
              f"{os.path.getsize(path) / 1e3:.0f} kB (median of {reps})")
        print(f"  save_checkpoint (4 fsyncs)      {t_save:8.2f} ms    np.savez + fsync  {t_npsave:8.2f} ms")
        print(f"  load_checkpoint                 {t_load:8.2f} ms    np.load (npz)     {t_npload:8.2f} ms")
        print(f"  checkpoint.verify               {t_verify:8.2f} ms")
        print(f"  load_checkpoint + verify        {t_both:8.2f} ms")
        print(f"  checkpoint.read_model           {t_model:8.2f} ms")

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
        weights = {i for i, a in enumerate(arrays) if any(a is p for p in big["params"].values())}
        t_model = best(lambda: checkpoint.read_model(path))
        t_npweights = best(lambda: np_load_some(npy, len(arrays), weights))
        wbytes = sum(a.nbytes for a in big["params"].values())
        gbs = lambda t: nbytes / t / 1e9  # noqa: E731
        print(f"large training state: hidden {big['architecture']['hidden']} + Adam, {len(arrays)} arrays, "
              f"{nbytes / 1e6:.0f} MB (best of {args.repeat})")
        print(f"  save (save_in_directory)        {t_save:7.3f} s  {gbs(t_save):5.2f} GB/s")
        print(f"  np.save + fsync                 {t_npsave:7.3f} s  {gbs(t_npsave):5.2f} GB/s   "
              f"ratio {t_npsave / t_save:.2f} (target >= 0.5)")
        print(f"  load (checkpoint.read: crc32)   {t_read:7.3f} s  {gbs(t_read):5.2f} GB/s")
        print(f"  verify (checkpoint.verify)      {t_verify:7.3f} s  {gbs(t_verify):5.2f} GB/s")
        print(f"  np.load                         {t_npload:7.3f} s  {gbs(t_npload):5.2f} GB/s   "
              f"ratio read {t_npload / t_read:.2f} (target >= 0.5), verify {t_npload / t_verify:.2f}")
        print(f"  read_model (weights: {wbytes / 1e6:.0f} MB)   {t_model:7.3f} s   np.load of the weights "
              f"{t_npweights:7.3f} s   ratio {t_npweights / t_model:.2f}; against the whole np.load "
              f"{t_npload / t_model:.2f}")

    if not args.skip_hostile:
        hostile()


def hostile():
    """Peak memory of rejecting the costliest headers and files that claim what they do not hold."""
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "make_conformance.py")
    spec = importlib.util.spec_from_file_location("make_conformance", here)
    files = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(files)
    cases = {name: files.build2(header_bytes=h, version=(2, 1)) for name, h in files.costliest_headers().items()}
    cases["a file claiming 2^62 bytes"] = files.build2({"arrays": [], "meta": {}, "tree": 1}, length=2**62)
    cases["a header claiming 2^32 - 1 items"] = files.build2(
        header_bytes=b"\x83\xa6arrays\x90\xa4meta\x80\xa4tree\xdd\xff\xff\xff\xff" + bytes(100))
    cases["2^18 + 1 values"] = files.build2(header_bytes=b"\x83\xa6arrays\x90\xa4meta\x80\xa4tree\xdd"
                                            + (2**18 - 6).to_bytes(4, "big") + b"\xc0" * (2**18 - 6))
    print("rejecting hostile files (peak traced memory, bound 48 MiB):")
    for name, data in cases.items():
        tracemalloc.start()
        try:
            container.loads(data)
            outcome = "read?!"
        except container.CheckpointError as exc:
            outcome = type(exc).__name__
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"  {name:44s} {len(data) / 2**20:6.2f} MiB file   peak {peak / 2**20:6.2f} MiB   {outcome}")


if __name__ == "__main__":
    main()
