"""Where the time of one loss+gradient step goes, by category, on one thread.

Runs the engine's tile pipeline for one configuration single-threaded and
times every call of the tile loop by category: the tiles' compiled forward and
backward passes (:mod:`pinnlite.engine.tile_kernels`), the loss kernels, the
partial-gradient reduction (NumPy) and the rest (Python: the loop, views,
dispatch); the categories add up to the measured step. The matrix products run
inside the compiled passes, so their share is measured by difference: the same
step once more with a ``gemm`` that returns at once (the values are then
meaningless, the time of everything else is not), and the products are what
the passes lose.

    python benchmarks/profile_step.py                  # (100, 4, 4096) float64
    python benchmarks/profile_step.py 100 4 16384 float32
"""

import sys
import time
from collections import defaultdict

import numba
import numpy as np

import pinnlite.engine.loss as E
from pinnlite.engine import blas

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from step import problem  # noqa: E402


class Timed:
    """Wrap a callable so its wall time is added to ``totals[category]``."""

    totals = defaultdict(float)

    def __init__(self, fn, category):
        self.fn, self.category = fn, category

    def __call__(self, *a, **k):
        t0 = time.perf_counter()
        out = self.fn(*a, **k)
        Timed.totals[self.category] += time.perf_counter() - t0
        return out


def _no_gemm(dtype):
    real = numba.float64 if dtype == "float64" else numba.float32
    sig = blas._loops_signature(real)
    return numba.cfunc(sig)(lambda order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc: None).ctypes


def timed_step(step, reps):
    """Seconds per step and per category of the instrumented tile loop."""
    saved = (E._Buffers.forward, E._Buffers.backward, E._loss_tile, E.np)
    shim = type("np_shim", (), {})()
    for name in dir(np):
        if not name.startswith("__"):
            setattr(shim, name, getattr(np, name))
    shim.sum = Timed(np.sum, "partial-gradient reduction (NumPy)")
    fwd, bwd = Timed(saved[0], "tile forward passes (compiled)"), Timed(saved[1], "tile backward passes (compiled)")
    E._Buffers.forward = lambda self, *a: fwd(self, *a)
    E._Buffers.backward = lambda self, *a: bwd(self, *a)
    E._loss_tile, E.np = Timed(saved[2], "loss kernels"), shim
    try:
        step()
        Timed.totals.clear()
        t0 = time.perf_counter()
        for _ in range(reps):
            step()
        total = (time.perf_counter() - t0) / reps
    finally:
        E._Buffers.forward, E._Buffers.backward, E._loss_tile, E.np = saved
    shares = {k: v / reps for k, v in Timed.totals.items()}
    shares["Python and the rest"] = total - sum(shares.values())
    return total, shares


def main():
    H, L, N, dt = 100, 4, 4096, "float64"
    if len(sys.argv) == 5:
        H, L, N, dt = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    model, points, material = problem(H, L, N, dt)
    prep = E.prepare(model.arch, points)
    ws = E.Workspace(1)
    grad = np.empty_like(model.params)
    w = E.LossWeights()

    def step():
        E.evaluate(model.arch, model.params, prep, material, w, ws, grad)

    step()
    reps = 10
    t0 = time.perf_counter()
    for _ in range(reps):
        step()
    plain = (time.perf_counter() - t0) / reps
    total, shares = timed_step(step, reps)
    buf = ws.buffers(model.arch, prep.tile_columns)
    real_gemm, buf.gemm = buf.gemm, _no_gemm(dt)
    try:
        _, without = timed_step(step, reps)
    finally:
        buf.gemm = real_gemm
    passes = [k for k in shares if k.startswith("tile ")]
    products = sum(shares[k] - without[k] for k in passes)
    rows = {k: v for k, v in shares.items() if k not in passes}
    rows["matrix products (BLAS, inside the passes)"] = products
    rows["the passes without their products (activation, channels)"] = sum(without[k] for k in passes)
    print(f"({H}, {L}, {N}) {dt}, 1 thread: step {1e3 * plain:.2f} ms "
          f"(instrumented {1e3 * total:.2f} ms), {len(prep.tiles)} tiles")
    for k, v in sorted(rows.items(), key=lambda kv: -kv[1]):
        print(f"  {k:<58} {1e3 * v:8.2f} ms  {100 * v / total:5.1f}%")


if __name__ == "__main__":
    main()
