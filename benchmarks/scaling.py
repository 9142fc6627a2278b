"""Step throughput against the thread count (strong scaling of one step).

For each configuration and dtype, one process per thread count runs the
loss+gradient step (``benchmarks/step.py``'s problem) with that many worker
threads and prints steps per second and the scaling efficiency
``(t_1 / t_T) / T`` against the one-thread run. Thread counts above the CPUs
of the machine are skipped.

    python benchmarks/scaling.py                               # 1, 2, 4, 8, 16 threads
    python benchmarks/scaling.py --threads 1 2 --configs 100,4,4096
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def one(H, L, N, dtype, threads, repeat):
    sys.path.insert(0, HERE)
    from step import median_ms, problem

    from pinnlite import LossWeights, engine

    model, points, material = problem(H, L, N, dtype)
    prep = engine.prepare(model.arch, points)
    ws = engine.Workspace(threads)
    grad = np.empty_like(model.params)
    w = LossWeights()
    ms = median_ms(lambda: engine.evaluate(model.arch, model.params, prep, material, w, ws, grad), repeat)
    return {"ms": ms, "checksum": float(np.sum(np.abs(grad)))}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", nargs="*", type=int, default=[1, 2, 4, 8, 16])
    ap.add_argument("--configs", nargs="*", default=["100,4,4096", "100,4,16384"])
    ap.add_argument("--dtypes", nargs="*", default=["float64", "float32"])
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--one", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        H, L, N, dt, T = args.one
        print(json.dumps(one(int(H), int(L), int(N), dt, int(T), args.repeat)))
        return
    cpus = os.cpu_count()
    print(f"machine: {cpus} CPUs; {time.strftime('%Y-%m-%d')}; median of {args.repeat} steps per point")
    print(f"{'config':>14} {'dtype':>8} {'threads':>7} {'ms/step':>9} {'steps/s':>8} {'speed-up':>8} {'efficiency':>10}")
    for spec in args.configs:
        H, L, N = (int(v) for v in spec.split(","))
        for dt in args.dtypes:
            base = checksum = None
            for T in args.threads:
                if T > cpus:
                    print(f"{spec:>14} {dt:>8} {T:>7}  skipped: only {cpus} CPUs")
                    continue
                out = subprocess.run([sys.executable, __file__, "--one", str(H), str(L), str(N), dt, str(T),
                                      "--repeat", str(args.repeat)], capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                base = base or r["ms"]
                checksum = checksum if checksum is not None else r["checksum"]
                same = "" if r["checksum"] == checksum else "  (gradient differs from 1 thread!)"
                print(f"{spec:>14} {dt:>8} {T:>7} {r['ms']:9.2f} {1e3 / r['ms']:8.2f} {base / r['ms']:8.2f} "
                      f"{base / r['ms'] / T:10.2f}{same}")


if __name__ == "__main__":
    main()
