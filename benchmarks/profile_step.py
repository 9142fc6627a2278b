"""Where the time of one loss+gradient step goes, by category, on one thread.

Runs the engine's tile pipeline for one configuration single-threaded, timing
every call by category: matrix products (BLAS), activation kernels (Numba,
forward and backward), the activation's ufunc on the value channels (NumPy),
loss kernels, sums (the output bias gradient's kernel, the partial-gradient
reduction) and the rest (Python: the loop, views, dispatch). The categories
add up to the measured step.

    python benchmarks/profile_step.py                  # (100, 4, 4096) float64
    python benchmarks/profile_step.py 100 4 16384 float32
"""

import sys
import time
from collections import defaultdict

import numpy as np

import pinnlite.engine.loss as E
from pinnlite.core import activations
from pinnlite.engine import kernels, term_kernels

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

    # instrument: matmul, kernels, numpy helpers
    real_np = E.np
    shim = type("np_shim", (), {})()
    for name in dir(real_np):
        if not name.startswith("__"):
            setattr(shim, name, getattr(real_np, name))
    shim.matmul = Timed(real_np.matmul, "matrix products (BLAS)")
    shim.sum = Timed(real_np.sum, "sums / reductions")
    E.np = shim
    saved = {}
    for module, name, cat in (
        (kernels, "first_value", "activation kernels"),
        (kernels, "add_bias", "activation kernels"),
        (kernels, "first_forward", "activation kernels"),
        (kernels, "hidden_forward", "activation kernels"),
        (kernels, "hidden_backward", "activation kernels"),
        (kernels, "first_backward", "activation kernels"),
        (kernels, "value_sums", "sums / reductions"),
        (term_kernels, "pde_term", "loss kernels"),
        (term_kernels, "misfit_term", "loss kernels"),
        (term_kernels, "traction_term", "loss kernels"),
    ):
        saved[module, name] = getattr(module, name)
        setattr(module, name, Timed(saved[module, name], cat))
    arch = model.arch
    act = activations.ACTIVATIONS[arch.activation]
    activations.ACTIVATIONS[arch.activation] = act._replace(sigma=Timed(act.sigma, "activation ufunc (NumPy)"))
    try:
        step()
        Timed.totals.clear()
        t0 = time.perf_counter()
        for _ in range(reps):
            step()
        total = (time.perf_counter() - t0) / reps
    finally:
        activations.ACTIVATIONS[arch.activation] = act
        E.np = real_np
        for (module, name), fn in saved.items():
            setattr(module, name, fn)
    shares = {k: v / reps for k, v in Timed.totals.items()}
    shares["Python and the rest"] = total - sum(shares.values())
    print(f"({H}, {L}, {N}) {dt}, 1 thread: step {1e3 * plain:.2f} ms "
          f"(instrumented {1e3 * total:.2f} ms), {len(prep.tiles)} tiles")
    for k, v in sorted(shares.items(), key=lambda kv: -kv[1]):
        print(f"  {k:<28} {1e3 * v:8.2f} ms  {100 * v / total:5.1f}%")


if __name__ == "__main__":
    main()
