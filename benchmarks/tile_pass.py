"""A tile's pass in one compiled call against one call per product and kernel, in one process.

Since the commit "engine: a tile's forward and backward passes are one compiled
call each", :mod:`pinnlite.engine.tile_kernels` runs a tile's layers inside
Numba, the products through NumPy's BLAS (:mod:`pinnlite.engine.blas`) and tanh
by its own vectorised kernel. Before, the tile loop called, per layer, a NumPy
product, NumPy's ``np.tanh`` on the value channel and a Numba kernel for the
other channels: about 25 calls per tile, each releasing the GIL and taking it
back. This script keeps that per-call pass (below) as the baseline and times
both on the same points, weights and workspace, alternating round by round so
that the machine's state cancels; it prints the median of the per-round ratios
new / old, and checks first that both give the same loss and gradient (to the
rounding of the two tanh).

``--contention`` times instead what two threads cost each other: one
single-threaded evaluation alone, beside a thread that runs a GIL-free
compiled loop, and beside a thread that evaluates the same problem too (the
two threads of an evaluation on two threads compete for the GIL like that),
with the per-call pass or (``--contention --fused``) the engine's.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/tile_pass.py
    python benchmarks/tile_pass.py --config 100 4 4096 float64 --sensors 512 --threads 1 2
    python benchmarks/tile_pass.py --contention [--fused]
"""

import argparse
import sys
import threading
import time

import numpy as np

import pinnlite.engine.loss as E
from pinnlite import ElasticPINN2D, LossWeights, Material, PointSets
from pinnlite.core.activations import get_activation
from pinnlite.core.jit import kernel
from pinnlite.engine import kernels

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from step import median_ms  # noqa: E402


def percall_forward(buf, flat, scale, tile):
    """The forward pass of one tile as the engine ran it before (same interface as ``_Buffers.forward``)."""
    shaped = buf.shaped(tile.n, tile.c)
    z0, H, Z, U, _, _ = shaped
    arch, n, c = buf.arch, tile.n, tile.c
    act = get_activation(arch.activation)
    views = arch.layout.views(flat)
    kernels.first_value(tile.xi, views["W0"], views["b0"], z0)
    act.sigma(z0, out=H[0][:, :n])
    kernels.first_forward(views["W0"], scale, z0, H[0], n, c, act.code)
    for l in range(1, len(arch.hidden)):
        np.matmul(views[f"W{l}"], H[l - 1], out=Z[l])
        kernels.add_bias(Z[l], views[f"b{l}"], n)
        act.sigma(Z[l][:, :n], out=H[l][:, :n])
        kernels.hidden_forward(Z[l], H[l], n, c, act.code)
    np.matmul(views[f"W{len(arch.hidden)}"], H[-1], out=U)
    return shaped


def percall_backward(buf, flat, scale, tile, out, add):
    """The backward pass of one tile as the engine ran it before (same interface as ``_Buffers.backward``)."""
    z0, H, Z, _, GU, adj = buf.shaped(tile.n, tile.c)
    arch, n, c, nh = buf.arch, tile.n, tile.c, len(buf.arch.hidden)
    code = get_activation(arch.activation).code
    views = arch.layout.views(flat)
    g = arch.layout.views(buf.grad if add else out)
    np.matmul(GU, H[-1].T, out=g[f"W{nh}"])
    kernels.value_sums(GU, n, g[f"b{nh}"])
    np.matmul(views[f"W{nh}"].T, GU, out=adj[nh - 1])
    for l in range(nh - 1, 0, -1):
        kernels.hidden_backward(adj[l], Z[l], H[l], n, c, code, g[f"b{l}"])
        np.matmul(Z[l], H[l - 1].T, out=g[f"W{l}"])
        np.matmul(views[f"W{l}"].T, Z[l], out=adj[l - 1])
    kernels.first_backward(adj[0], z0, H[0], views["W0"], scale, tile.xi, n, c, code, g["W0"], g["b0"])
    if add:
        out += buf.grad


FUSED = (E._Buffers.forward, E._Buffers.backward)
PERCALL = (percall_forward, percall_backward)


def use(variant):
    E._Buffers.forward, E._Buffers.backward = variant


def problem(hidden, layers, n_pde, n_sensors, dtype):
    """(model, prepared points, material, weights) of random points and weights."""
    rng = np.random.default_rng(0)
    model = ElasticPINN2D([hidden] * layers, dtype=dtype, rng=rng)
    points = PointSets(collocation=rng.uniform(0, 1, (n_pde, 3)).astype(dtype),
                       data=rng.uniform(0, 1, (n_sensors, 3)).astype(dtype),
                       data_values=rng.standard_normal((n_sensors, 2)).astype(dtype))
    return model, E.prepare(model.arch, points), Material(2.0, 1.0, 1.0), LossWeights()


@kernel
def _spin(n):
    s = 0.0
    for i in range(n):
        s += np.sqrt(i * 1.0)
    return s


def contention(hidden, layers, n_pde, n_sensors, dtype, rounds, variant):
    """Median ms of a one-thread evaluation alone, beside a GIL-free loop, beside a second evaluation."""
    model, prep, material, weights = problem(hidden, layers, n_pde, n_sensors, dtype)
    _spin(10)
    use(variant)

    def evaluator():
        ws, grad = E.Workspace(1), np.empty_like(model.params)
        return lambda: E.evaluate(model.arch, model.params, prep, material, weights, ws, grad)

    mine, other = evaluator(), evaluator()
    try:
        alone = median_ms(mine, rounds, warmup=3)
        stop = threading.Event()

        def until_stopped(fn):
            while not stop.is_set():
                fn()

        out = {}
        for name, fn in (("beside a GIL-free loop", lambda: _spin(20_000_000)), ("beside a second evaluation", other)):
            stop.clear()
            thread = threading.Thread(target=until_stopped, args=(fn,))
            thread.start()
            try:
                out[name] = median_ms(mine, rounds, warmup=3)
            finally:
                stop.set()
                thread.join()
    finally:
        use(FUSED)
    label = "one call per tile" if variant is FUSED else "one call per product and kernel"
    print(f"({hidden}, {layers}, {n_pde} PDE points, {n_sensors} sensors) {dtype}, {label}, one-thread evaluations: "
          f"alone {alone:.2f} ms, " + ", ".join(f"{k} {v:.2f} ms" for k, v in out.items())
          + f"; two evaluating threads do {2 * alone / out['beside a second evaluation']:.2f} times the work of one",
          flush=True)


def compare(hidden, layers, n_pde, n_sensors, dtype, threads, rounds, per_round):
    model, prep, material, weights = problem(hidden, layers, n_pde, n_sensors, dtype)
    ws = E.Workspace(threads)
    variants = {"old": PERCALL, "new": FUSED}
    results, times = {}, {k: [] for k in variants}
    try:
        for name, variant in variants.items():
            use(variant)
            grad = np.empty_like(model.params)
            res = E.evaluate(model.arch, model.params, prep, material, weights, ws, grad)
            results[name] = (res.total, grad)
        for _ in range(rounds):
            for name, variant in variants.items():
                use(variant)
                grad = np.empty_like(model.params)
                t0 = time.perf_counter()
                for _ in range(per_round):
                    E.evaluate(model.arch, model.params, prep, material, weights, ws, grad)
                times[name].append((time.perf_counter() - t0) / per_round)
    finally:
        use(FUSED)
    (f_old, g_old), (f_new, g_new) = results["old"], results["new"]
    loss_diff = abs(f_new - f_old) / abs(f_old)
    grad_diff = float(np.max(np.abs(g_new - g_old)) / np.max(np.abs(g_old)))
    ratio = np.array(times["new"]) / np.array(times["old"])
    q1, med, q3 = np.quantile(ratio, [0.25, 0.5, 0.75])
    print(f"({hidden}, {layers}, {n_pde} PDE points, {n_sensors} sensors) {dtype}, {threads} thread(s): "
          f"per call {1e3 * np.median(times['old']):.2f} ms, per tile {1e3 * np.median(times['new']):.2f} ms, "
          f"new/old {med:.3f} (quartiles {q1:.3f}-{q3:.3f}); loss differs by {loss_diff:.1e}, "
          f"gradient by {grad_diff:.1e} (relative)", flush=True)
    tolerance = 1e-11 if dtype == "float64" else 1e-4
    if not (loss_diff < tolerance and grad_diff < tolerance):
        raise SystemExit("the two passes disagree: the comparison is void")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", nargs=4, metavar=("H", "L", "N", "DTYPE"), default=["24", "3", "2000", "float64"],
                    help="hidden width, layers, PDE points, dtype (default: the demo's network and points)")
    ap.add_argument("--sensors", type=int, default=2000, help="data points (default: the demo's 2000)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--per-round", type=int, default=3)
    ap.add_argument("--contention", action="store_true", help="time what two threads cost each other instead")
    ap.add_argument("--fused", action="store_true", help="with --contention: the engine's pass, not the per-call one")
    args = ap.parse_args()
    H, L, N, dtype = int(args.config[0]), int(args.config[1]), int(args.config[2]), args.config[3]
    if args.contention:
        return contention(H, L, N, args.sensors, dtype, 10 * args.rounds, FUSED if args.fused else PERCALL)
    for threads in args.threads:
        compare(H, L, N, args.sensors, dtype, threads, args.rounds, args.per_round)


if __name__ == "__main__":
    main()
