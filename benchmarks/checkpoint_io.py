"""Checkpoint I/O throughput and latency of :mod:`pinnlite.container`.

Compares, in the same run and on the same arrays:

- a large state (default 288 MB: three 2048x2048 float64 weights with Adam's
  two moments) saved with ``save_file`` (temp file, fsync, rename, directory
  fsync) against ``np.save`` of every array into one file + ``fsync``, and
  loaded with ``load_file`` (reads and verifies the SHA-256) against
  ``np.load``; printed as throughput and as the ratio container / NumPy
  (targets: >= 0.5 for both);
- the latency of a small state: a 31k-parameter network (3 -> 100 -> 100 ->
  100 -> 100 -> 2) with Adam's two moments, against ``np.savez`` + ``fsync``.

Usage::

    python benchmarks/checkpoint_io.py [--mb 288] [--repeat 3] [--dir DIR]

Best-of-``repeat`` timings; files are written to a temporary directory
(under ``--dir`` if given) and removed afterwards. Reads come from the page
cache for both libraries.
"""

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from pinnlite.container import load_file, save_file, verify


def big_state(megabytes, rng):
    """Weights + Adam moments of float64 2048-column layers totalling ``megabytes``."""
    rows = 2048
    n_layers = max(1, round(megabytes * 1e6 / (3 * rows * 2048 * 8)))
    weights = [rng.standard_normal((rows, 2048)) for _ in range(n_layers)]
    return {
        "model": {"layers": weights},
        "adam": {"m": [0.1 * w for w in weights], "v": [w * w for w in weights], "step": 1000},
    }


def small_state(rng):
    """The 31k-parameter network 3-100-100-100-100-2 with Adam's moments (27 arrays)."""
    sizes = [3, 100, 100, 100, 100, 2]
    layers = [
        {"W": rng.standard_normal((a, b)), "b": rng.standard_normal(b)} for a, b in zip(sizes[:-1], sizes[1:])
    ]
    moment = lambda: [{k: rng.standard_normal(v.shape) for k, v in layer.items()} for layer in layers]  # noqa: E731
    return {"model": layers, "adam": {"m": moment(), "v": moment(), "step": 10}}


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


def best(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def median_ms(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=288.0, help="size of the large state in MB")
    parser.add_argument("--repeat", type=int, default=3, help="timings per measurement (best is kept)")
    parser.add_argument("--dir", default=None, help="directory for the temporary files")
    args = parser.parse_args()
    rng = np.random.default_rng(0)

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        ckpt, npy = os.path.join(tmp, "state.ckpt"), os.path.join(tmp, "state.npy")

        state = big_state(args.mb, rng)
        arrays = list(leaves(state))
        nbytes = sum(a.nbytes for a in arrays)
        t_save = best(lambda: save_file(ckpt, state), args.repeat)
        t_npsave = best(lambda: np_save_fsync(npy, arrays), args.repeat)
        t_load = best(lambda: load_file(ckpt), args.repeat)
        t_npload = best(lambda: np_load_all(npy, len(arrays)), args.repeat)
        t_verify = best(lambda: verify(ckpt), args.repeat)
        gbs = lambda t: nbytes / t / 1e9  # noqa: E731
        print(f"large state: {len(arrays)} arrays, {nbytes / 1e6:.0f} MB (best of {args.repeat})")
        print(f"  save_file (fsync)      {t_save:7.3f} s  {gbs(t_save):5.2f} GB/s")
        print(f"  np.save + fsync        {t_npsave:7.3f} s  {gbs(t_npsave):5.2f} GB/s   "
              f"ratio {t_npsave / t_save:.2f} (target >= 0.5)")
        print(f"  load_file (sha256)     {t_load:7.3f} s  {gbs(t_load):5.2f} GB/s")
        print(f"  np.load                {t_npload:7.3f} s  {gbs(t_npload):5.2f} GB/s   "
              f"ratio {t_npload / t_load:.2f} (target >= 0.5)")
        print(f"  verify (sha256+crc32)  {t_verify:7.3f} s  {gbs(t_verify):5.2f} GB/s")
        del state, arrays

        state = small_state(rng)
        arrays = list(leaves(state))
        n_params = sum(a.size for a in state_arrays(state["model"]))
        reps = max(20, 10 * args.repeat)
        print(f"small state: {n_params} parameters x 3 (Adam), {len(arrays)} arrays "
              f"(median of {reps})")
        print(f"  save_file (fsync)      {median_ms(lambda: save_file(ckpt, state), reps):7.2f} ms")
        print(f"  np.savez + fsync       {median_ms(lambda: np_savez_fsync(npy, arrays), reps):7.2f} ms")
        print(f"  load_file              {median_ms(lambda: load_file(ckpt), reps):7.2f} ms")
        print(f"  np.load (npz, all)     {median_ms(lambda: dict(np.load(npy)), reps):7.2f} ms")


def state_arrays(tree):
    return list(leaves(tree))


if __name__ == "__main__":
    main()
