"""The activation's value by NumPy's ufunc against a scalar ``exp`` inside the kernels, in one process.

Since commit 2aae1e2 every layer's value channel goes through the activation
table's ufunc (``np.tanh``, vectorised by NumPy) and the forward kernels take
sigma' and sigma'' from h = sigma(z). Before, the kernels evaluated tanh as
(1 - e) / (1 + e) with e = exp(-2|z|), a scalar call inside their loops. This
script keeps that old forward pass (below) as the baseline and times both on
the same points, weights and workspace, alternating round by round so that
the machine's state cancels; it prints the median of the per-round ratios
new / old, and checks first that both give the same loss and gradient.

``--contention`` times instead what two threads cost each other: one
single-threaded evaluation alone, beside a thread that runs a GIL-free
compiled loop, and beside a thread that evaluates the same problem too (the
two threads of an evaluation on two threads compete for the GIL like that).

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/activation.py
    python benchmarks/activation.py --config 100 4 4096 float64 --sensors 512 --threads 1 2
    python benchmarks/activation.py --contention
"""

import argparse
import sys
import threading
import time

import numpy as np

import pinnlite.engine.loss as E
from pinnlite import ElasticPINN2D, LossWeights, Material, PointSets
from pinnlite.core.activations import TANH
from pinnlite.core.jit import inline, kernel
from pinnlite.engine.kernels import _forward_channels, check_code, first_channels

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from step import median_ms  # noqa: E402


@inline
def _scalar_tanh_jet(code, z, one):
    """The old per-element rule: sigma, sigma', sigma'' with tanh from one scalar exp."""
    two = one + one
    if code == TANH:
        e = np.exp(-two * abs(z))
        s = (one - e) / (one + e)
        if z < 0:
            s = -s
        s1 = one - s * s
        return s, s1, -two * s * s1
    s = np.sin(z)
    return s, np.cos(z), -s


@kernel
def _old_first_forward(xi, W0, b0, scale, z0, H, n, c, code):
    check_code(code)
    one = H.dtype.type(1)
    s1r = np.empty(n, H.dtype)
    s2r = np.empty(n, H.dtype)
    for j in range(W0.shape[0]):
        a0, a1, a2, bj = W0[j, 0], W0[j, 1], W0[j, 2], b0[j]
        for i in range(n):
            z = a0 * xi[0, i] + a1 * xi[1, i] + a2 * xi[2, i] + bj
            z0[j, i] = z
            s, s1, s2 = _scalar_tanh_jet(code, z, one)
            H[j, i] = s
            s1r[i] = s1
            s2r[i] = s2
        if c >= 4:
            first_channels(W0, scale, H, j, n, c, s1r, s2r)


@kernel
def _old_hidden_forward(Z, b, H, n, c, code):
    check_code(code)
    one = H.dtype.type(1)
    s1r = np.empty(n, H.dtype)
    s2r = np.empty(n, H.dtype)
    for j in range(Z.shape[0]):
        bj = b[j]
        for i in range(n):
            z = Z[j, i] + bj
            Z[j, i] = z
            s, s1, s2 = _scalar_tanh_jet(code, z, one)
            H[j, i] = s
            s1r[i] = s1
            s2r[i] = s2
        _forward_channels(Z, H, j, n, c, s1r, s2r)


def old_forward_tile(arch, views, act, scale, tile, shaped):
    """The engine's forward pass of one tile before 2aae1e2 (same signature as ``loss._forward_tile``)."""
    z0, H, Z, U, _, _ = shaped
    n, c, code = tile.n, tile.c, act.code
    _old_first_forward(tile.xi, views["W0"], views["b0"], scale, z0, H[0], n, c, code)
    for l in range(1, len(arch.hidden)):
        np.matmul(views[f"W{l}"], H[l - 1], out=Z[l])
        _old_hidden_forward(Z[l], views[f"b{l}"], H[l], n, c, code)
    np.matmul(views[f"W{len(arch.hidden)}"], H[-1], out=U)
    return U


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


def contention(hidden, layers, n_pde, n_sensors, dtype, rounds):
    """Median ms of a one-thread evaluation alone, beside a GIL-free loop, beside a second evaluation."""
    model, prep, material, weights = problem(hidden, layers, n_pde, n_sensors, dtype)
    _spin(10)

    def evaluator():
        ws, grad = E.Workspace(1), np.empty_like(model.params)
        return lambda: E.evaluate(model.arch, model.params, prep, material, weights, ws, grad)

    mine, other = evaluator(), evaluator()
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
    print(f"({hidden}, {layers}, {n_pde} PDE points, {n_sensors} sensors) {dtype}, one-thread evaluations: "
          f"alone {alone:.2f} ms, " + ", ".join(f"{k} {v:.2f} ms" for k, v in out.items())
          + f"; two evaluating threads do {2 * alone / out['beside a second evaluation']:.2f} times the work of one",
          flush=True)


def compare(hidden, layers, n_pde, n_sensors, dtype, threads, rounds, per_round):
    model, prep, material, weights = problem(hidden, layers, n_pde, n_sensors, dtype)
    ws = E.Workspace(threads)
    new = E._forward_tile
    variants = {"old": old_forward_tile, "new": new}
    results, times = {}, {k: [] for k in variants}
    try:
        for name, fn in variants.items():
            E._forward_tile = fn
            grad = np.empty_like(model.params)
            res = E.evaluate(model.arch, model.params, prep, material, weights, ws, grad)
            results[name] = (res.total, grad)
        for _ in range(rounds):
            for name, fn in variants.items():
                E._forward_tile = fn
                grad = np.empty_like(model.params)
                t0 = time.perf_counter()
                for _ in range(per_round):
                    E.evaluate(model.arch, model.params, prep, material, weights, ws, grad)
                times[name].append((time.perf_counter() - t0) / per_round)
    finally:
        E._forward_tile = new
    (f_old, g_old), (f_new, g_new) = results["old"], results["new"]
    loss_diff = abs(f_new - f_old) / abs(f_old)
    grad_diff = float(np.max(np.abs(g_new - g_old)) / np.max(np.abs(g_old)))
    ratio = np.array(times["new"]) / np.array(times["old"])
    q1, med, q3 = np.quantile(ratio, [0.25, 0.5, 0.75])
    print(f"({hidden}, {layers}, {n_pde} PDE points, {n_sensors} sensors) {dtype}, {threads} thread(s): "
          f"old {1e3 * np.median(times['old']):.2f} ms, new {1e3 * np.median(times['new']):.2f} ms, "
          f"new/old {med:.3f} (quartiles {q1:.3f}-{q3:.3f}); loss differs by {loss_diff:.1e}, "
          f"gradient by {grad_diff:.1e} (relative)", flush=True)
    tolerance = 1e-12 if dtype == "float64" else 1e-4
    if not (loss_diff < tolerance and grad_diff < tolerance):
        raise SystemExit("the two forward passes disagree: the comparison is void")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", nargs=4, metavar=("H", "L", "N", "DTYPE"), default=["24", "3", "2000", "float64"],
                    help="hidden width, layers, PDE points, dtype (default: the demo's network and points)")
    ap.add_argument("--sensors", type=int, default=2000, help="data points (default: the demo's 2000)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--per-round", type=int, default=3)
    ap.add_argument("--contention", action="store_true", help="time what two threads cost each other instead")
    args = ap.parse_args()
    H, L, N, dtype = int(args.config[0]), int(args.config[1]), int(args.config[2]), args.config[3]
    if args.contention:
        return contention(H, L, N, args.sensors, dtype, 10 * args.rounds)
    for threads in args.threads:
        compare(H, L, N, args.sensors, dtype, threads, args.rounds, args.per_round)


if __name__ == "__main__":
    main()
