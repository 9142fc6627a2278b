"""Checkpoint latency, throughput, lazy reads and the memory of rejecting hostile files.

Four measurements, each against NumPy on the same arrays in the same run:

- **latency** of a real training checkpoint: a :class:`~pinnlite.training.trainer.Trainer`
  with hidden layers [100, 100, 100, 100] (31k parameters) and Adam's two
  moments, after one epoch on a small plane-wave problem.
  ``save_checkpoint`` (state tree, temp file, fsync, rename, ``latest``,
  directory fsync, retention), ``load_checkpoint`` (the newest good file,
  read once: head digest and CRC-32s, checks, rebuild the trainer),
  ``checkpoint.verify`` (also the file's SHA-256) and ``checkpoint.read_model``
  (the head and the weights only), against ``np.savez`` of the same arrays +
  fsync and ``np.load`` of all of them; also the time of one fsync of a small
  file on this disk, and each side's CPU part (encoding and decoding in
  memory), which the disk does not affect;
- **throughput** of a large training checkpoint (default 288 MB of arrays:
  the same network and Adam state with 288 MB of training data, as a run on
  many sensors saves): ``checkpoint.save_in_directory`` against ``np.save``
  of every array into one file + fsync, ``checkpoint.read`` (CRC-32s) and
  ``checkpoint.verify`` (the SHA-256 of every byte too) against ``np.load``;
  printed as ratios NumPy time / pinnlite time, with the targets;
- **lazy weights** from that file: ``checkpoint.read_model`` and
  ``container.open(path).tree["params"]``, time and peak traced memory
  against the weights' bytes, and ``np.load`` of the weights alone;
- **hostile files**: the peak memory (``tracemalloc``) of rejecting the
  costliest headers within the format's limits and files that claim
  gigabytes they do not hold (bound: 48 MiB, docs/FORMAT.md section 7).

Also printed: the load average when the run starts, and the rates of
SHA-256 and CRC-32 on one core, which bound verify and the load.

Usage::

    python benchmarks/checkpoint.py [--mb 288] [--repeat 3] [--dir DIR] [--skip-hostile]

Throughput and lazy reads: best of ``repeat``, the two sides interleaved;
latency: median of ``max(20, 10 * repeat)``. Files go to a temporary
directory (under ``--dir`` if given) and are removed afterwards; reads come
from the page cache for both libraries.
"""

import argparse
import glob
import hashlib
import importlib.util
import os
import statistics
import tempfile
import time
import tracemalloc
import warnings
import zlib

import numpy as np

from pinnlite.core.cpus import resolve_threads
from pinnlite.io import checkpoint, container
from pinnlite.training.config import Config
from pinnlite.training.diagnostics import FitWarning
from pinnlite.training.problems import plane_waves
from pinnlite.training.trainer import Trainer


def small_trainer(directory):
    """The (100, 4) network with Adam's state after one epoch, saving into ``directory``."""
    cfg = Config(name="bench")
    cfg.architecture.hidden = [100] * 4
    cfg.training.epochs = 1
    cfg.optimizer.switch_after = 20  # the epoch is Adam's: the state is its two moments
    cfg.training.hold_material = False  # one epoch: the material trains too (a held run would warn)
    cfg.training.threads = 1
    cfg.sampling.n_collocation = 64
    cfg.checkpoint.directory = directory
    cfg.checkpoint.keep_best = False
    data, _ = plane_waves(n_sensors=64, rng=0)
    trainer = Trainer(None, cfg.validate(), progress=_Quiet())
    with warnings.catch_warnings():  # one epoch has not fitted its data, as FitWarning says: it needs a state only
        warnings.simplefilter("ignore", FitWarning)
        trainer.train(data)
    return trainer


class _Quiet:
    def update(self, epoch, row):
        pass

    def close(self):
        pass


def large_tree(tree, megabytes, rng):
    """``tree`` with ``megabytes`` of training data: collocation points and sensors (the weights stay small)."""
    n = int(megabytes * 1e6 / 8)  # float64 values in all: a third collocation (m, 3), the rest sensors (k, 3 + 2)
    m, k = n // 9, (n - 3 * (n // 9)) // 5
    data = dict(tree["data"], collocation=rng.uniform(0, 1, (m, 3)), sensor_points=rng.uniform(0, 1, (k, 3)),
                sensor_values=rng.standard_normal((k, 2)))
    return dict(tree, data=data)


def sha_and_crc_rates(nbytes=64 * 2**20):
    """GB/s of SHA-256 and CRC-32 on one core (best of three), over ``nbytes`` of random data."""
    buf = np.random.default_rng(1).integers(0, 256, nbytes, dtype=np.uint8)
    rate = lambda fn: nbytes / min(timings(lambda: fn(buf), 3)) / 1e9  # noqa: E731
    return rate(lambda b: hashlib.sha256(b).digest()), rate(zlib.crc32)


def fsync_ms(directory, reps):
    """Median milliseconds of writing 4 kB to a file and fsync-ing it."""
    path = os.path.join(directory, "fsync-probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    try:
        return 1e3 * statistics.median(timings(lambda: (os.pwrite(fd, bytes(4096), 0), os.fsync(fd)), reps))
    finally:
        os.close(fd)
        os.unlink(path)


def peak_and_time(fn):
    """(peak traced bytes, seconds) of one call of ``fn``."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1], time.perf_counter() - start
    finally:
        tracemalloc.stop()


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
    parser.add_argument("--mb", type=float, default=288.0, help="size of the large checkpoint's arrays in MB")
    parser.add_argument("--repeat", type=int, default=3, help="timings per throughput measurement (best is kept)")
    parser.add_argument("--dir", default=None, help="directory for the temporary files")
    parser.add_argument("--skip-hostile", action="store_true", help="leave out the hostile-file measurements")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min), {os.cpu_count()} CPUs, "
          f"{resolve_threads()} threads")
    sha, crc = sha_and_crc_rates()
    print(f"one core: SHA-256 {sha:.2f} GB/s, CRC-32 {crc:.2f} GB/s")

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        ckpts, npz = os.path.join(tmp, "ckpts"), os.path.join(tmp, "state.npz")

        trainer = small_trainer(ckpts)
        tree = trainer.to_tree()
        arrays = list(leaves(tree))
        reps = max(20, 10 * args.repeat)
        path = trainer.save_checkpoint()
        raw = open(path, "rb").read()
        ms = lambda fn: 1e3 * statistics.median(timings(fn, reps))  # noqa: E731
        t_sync = fsync_ms(tmp, reps)
        t_save = ms(trainer.save_checkpoint)
        t_load = ms(lambda: Trainer.load_checkpoint(ckpts, progress=_Quiet()))
        t_verify = ms(lambda: checkpoint.verify(path))
        t_model = ms(lambda: checkpoint.read_model(path))
        t_npsave = ms(lambda: np_savez_fsync(npz, arrays))
        t_npload = ms(lambda: np_load_npz(npz))
        t_dumps = ms(lambda: container.dumps(trainer.to_tree(), checkpoint.meta()))
        t_loads = ms(lambda: Trainer.from_tree(container.loads(raw).tree, progress=_Quiet()))
        print(f"training checkpoint, hidden [100]*4 + Adam: {trainer.model.n_params} parameters, {len(arrays)} arrays, "
              f"{len(raw) / 1e3:.0f} kB (median of {reps}); one fsync of 4 kB here: {t_sync:.2f} ms")
        print(f"  save_checkpoint (2 fsyncs)      {t_save:8.2f} ms    np.savez + fsync  {t_npsave:8.2f} ms   "
              f"(target < 3 ms); in memory (to_tree + dumps) {t_dumps:.2f} ms")
        print(f"  load_checkpoint                 {t_load:8.2f} ms    np.load (npz)     {t_npload:8.2f} ms   "
              f"(target < 3 ms); in memory (loads + from_tree) {t_loads:.2f} ms")
        print(f"  checkpoint.verify               {t_verify:8.2f} ms")
        print(f"  checkpoint.read_model           {t_model:8.2f} ms")

        big = large_tree(tree, args.mb, rng)
        arrays = list(leaves(big))
        nbytes = sum(a.nbytes for a in arrays)
        big_dir = os.path.join(tmp, "big")
        best = lambda fn: min(timings(fn, 1))  # noqa: E731
        # the files read: written once and read once untimed (the first read of a freshly written
        # file is several times slower here, for either library)
        path = checkpoint.save_in_directory(os.path.join(tmp, "read"), 1, big, 1)
        npy = os.path.join(tmp, "state.npy")
        np_save_fsync(npy, arrays)
        checkpoint.read(path), np_load_all(npy, len(arrays))
        # both sides write a new file each time (replacing or truncating a large file
        # first frees its blocks, which would charge one side for the other's cleanup)
        counter = iter(range(1, 10**6))
        npy_names = iter(os.path.join(tmp, f"state-{k}.npy") for k in range(10**6))
        ours, theirs = {"save": [], "read": [], "verify": []}, {"save": [], "load": []}
        for _ in range(args.repeat):  # interleaved: a change in the machine's load hits both sides
            # keep_last large: deleting the previous file (blocks freed, discarded) stays out of the timing
            ours["save"].append(best(lambda: checkpoint.save_in_directory(big_dir, next(counter), big, 10**6)))
            theirs["save"].append(best(lambda: np_save_fsync(next(npy_names), arrays)))
            ours["read"].append(best(lambda: checkpoint.read(path)))
            theirs["load"].append(best(lambda: np_load_all(npy, len(arrays))))
            ours["verify"].append(best(lambda: checkpoint.verify(path)))
            for old in glob.glob(os.path.join(tmp, "state-*.npy")):
                os.unlink(old)
            checkpoint.prune(big_dir, 1)
        t_save, t_read, t_verify = min(ours["save"]), min(ours["read"]), min(ours["verify"])
        t_npsave, t_npload = min(theirs["save"]), min(theirs["load"])
        gbs = lambda t: nbytes / t / 1e9  # noqa: E731
        print(f"large training checkpoint: hidden [100]*4 + Adam and {nbytes / 1e6:.0f} MB of data, {len(arrays)} "
              f"arrays (best of {args.repeat}, interleaved)")
        print(f"  save (save_in_directory)        {t_save:7.3f} s  {gbs(t_save):5.2f} GB/s")
        print(f"  np.save + fsync                 {t_npsave:7.3f} s  {gbs(t_npsave):5.2f} GB/s   "
              f"ratio {t_npsave / t_save:.2f} (target >= 0.9)")
        print(f"  load (checkpoint.read: crc32)   {t_read:7.3f} s  {gbs(t_read):5.2f} GB/s")
        print(f"  verify (checkpoint.verify)      {t_verify:7.3f} s  {gbs(t_verify):5.2f} GB/s")
        print(f"  np.load                         {t_npload:7.3f} s  {gbs(t_npload):5.2f} GB/s   "
              f"ratio load {t_npload / t_read:.2f} (target >= 0.7), verify {t_npload / t_verify:.2f} "
              f"(target >= 0.35; SHA-256 alone: {nbytes / (sha * 1e9) * 1e3:.0f} ms on one core)")

        weights = {i for i, a in enumerate(arrays) if any(a is p for p in big["params"].values())}
        wbytes = sum(a.nbytes for a in big["params"].values())

        def lazily():
            with container.open(path) as f:
                return {k: f.tree["params"][k] for k in f.tree["params"]}

        rows = []
        for name, fn in (("checkpoint.read_model", lambda: checkpoint.read_model(path)),
                         ("container.open: params", lazily),
                         ("np.load of the weights", lambda: np_load_some(npy, len(arrays), weights))):
            runs = [peak_and_time(fn) for _ in range(max(5, args.repeat))]
            rows.append((name, min(t for _, t in runs), max(p for p, _ in runs)))
        print(f"lazy weights: {wbytes / 1e3:.0f} kB of {nbytes / 1e6:.0f} MB (best time, largest peak of "
              f"{max(5, args.repeat)}; target < 10 ms, peak <= 2x the weights)")
        for name, t, peak in rows:
            print(f"  {name:28s} {1e3 * t:7.2f} ms   peak {peak / 1e3:7.0f} kB = {peak / wbytes:.2f}x the weights")

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
