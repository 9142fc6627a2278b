"""Time one loss+gradient evaluation against the matrix-product floor.

For each (H, L, N) and dtype: a model with L hidden layers of width H, N
collocation points (PDE term, 8 channels) and N/8 sensor points (data term).
The floor is the three products per hidden-to-hidden layer that no
implementation of the step can avoid, timed alone with NumPy on the same shapes:
forward ``W @ A``, backward ``G @ A.T`` and ``W.T @ G`` with A, G of shape
(H, 8N). Each configuration runs in a fresh process so its peak RSS is its own.

    python benchmarks/step.py                # all configurations
    python benchmarks/step.py --repeat 30    # more repetitions
    python benchmarks/step.py --one 100 4 4096 float64   # one row (used internally)
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

CONFIGS = [(50, 3, 2000), (100, 4, 4096), (100, 4, 16384)]
DTYPES = ["float64", "float32"]


def median_ms(fn, repeat, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def floor_ms(H, L, N, dtype, repeat):
    rng = np.random.default_rng(0)
    W = rng.standard_normal((H, H)).astype(dtype)
    A = rng.standard_normal((H, 8 * N)).astype(dtype)
    G = rng.standard_normal((H, 8 * N)).astype(dtype)
    out = np.empty_like(A)
    dW = np.empty_like(W)
    per_layer = (
        median_ms(lambda: np.matmul(W, A, out=out), repeat)
        + median_ms(lambda: np.matmul(G, A.T, out=dW), repeat)
        + median_ms(lambda: np.matmul(W.T, G, out=out), repeat)
    )
    return (L - 1) * per_layer


def problem(H, L, N, dtype, seed=0):
    from pinnlite import ElasticPINN2D, Material, PointSets

    rng = np.random.default_rng(seed)
    model = ElasticPINN2D([H] * L, dtype=dtype, rng=rng)
    nd = N // 8
    points = PointSets(
        collocation=rng.uniform(0, 1, (N, 3)).astype(dtype),
        data=rng.uniform(0, 1, (nd, 3)).astype(dtype),
        data_values=rng.standard_normal((nd, 2)).astype(dtype),
    )
    return model, points, Material(2.0, 1.0, 1.0)


def one(H, L, N, dtype, repeat):
    from pinnlite import LossWeights, engine

    t0 = time.perf_counter()
    model, points, material = problem(H, L, N, dtype)
    prep = engine.prepare(model.arch, points)
    ws = engine.Workspace()
    grad = np.empty_like(model.params)
    weights = LossWeights()

    def step():
        engine.evaluate(model.arch, model.params, prep, material, weights, ws, grad)

    step()
    first = time.perf_counter() - t0
    step_ms = median_ms(step, repeat)
    api_ms = median_ms(lambda: engine.loss_and_grad(model.params, model.arch, points, material, workspace=ws), repeat)
    fl = floor_ms(H, L, N, dtype, repeat)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return dict(H=H, L=L, N=N, dtype=dtype, step_ms=step_ms, api_ms=api_ms, floor_ms=fl,
                ratio=step_ms / fl, first_step_s=first, peak_rss_mb=rss)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--one", nargs=4, metavar=("H", "L", "N", "DTYPE"))
    args = ap.parse_args()
    if args.one:
        H, L, N, dt = args.one
        print(json.dumps(one(int(H), int(L), int(N), dt, args.repeat)))
        return
    import numba

    print(f"threads: numba {numba.get_num_threads()}, cpus {os.cpu_count()}")
    print(f"{'H':>4} {'L':>2} {'N':>6} {'dtype':>8} {'step ms':>9} {'api ms':>9} {'floor ms':>9} "
          f"{'step/floor':>10} {'first s':>8} {'peak RSS MB':>11}")
    for H, L, N in CONFIGS:
        for dt in DTYPES:
            out = subprocess.run([sys.executable, __file__, "--one", str(H), str(L), str(N), dt,
                                  "--repeat", str(args.repeat)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{H:>4} {L:>2} {N:>6} {dt:>8} {r['step_ms']:>9.2f} {r['api_ms']:>9.2f} {r['floor_ms']:>9.2f} "
                  f"{r['ratio']:>10.2f} {r['first_step_s']:>8.2f} {r['peak_rss_mb']:>11.0f}")


if __name__ == "__main__":
    main()
