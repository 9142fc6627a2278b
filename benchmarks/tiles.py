"""One evaluation's time against the tile size, as ratios to the default tile.

A tile's arrays should stay in a core's L2 between its matrix product and
its elementwise kernel, and the rows of those arrays should not lie a power
of two of bytes apart, where they fall into the same cache sets
(``docs/ENGINE.md``, "Layout"). For each network (widths x layers, PDE
points N, N/8 sensors) this times ``engine.evaluate`` (loss and gradient) at
each tile size, the sizes interleaved over several rounds, and prints the
best median of each over the round's median at
:data:`pinnlite.engine.tiles.TILE_COLUMNS`.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/tiles.py
    python benchmarks/tiles.py --threads 2 --columns 512 640 1024 --nets 24x3:2000
"""

import argparse
import os
import time

import numpy as np

import pinnlite.engine.loss as E
from pinnlite import ElasticPINN2D, LossWeights, Material, PointSets
from pinnlite.engine.tiles import TILE_COLUMNS


def network(spec):
    """``"24x3:2000"`` -> (width 24, 3 layers, 2000 PDE points)."""
    shape, _, n = spec.partition(":")
    width, _, layers = shape.partition("x")
    return int(width), int(layers), int(n)


def evaluation_ms(width, layers, n, threads, columns, rounds, rng):
    """``{columns: best over rounds of the median ms of one evaluation}``."""
    model = ElasticPINN2D([width] * layers, rng=rng)
    points = PointSets(collocation=rng.uniform(0, 1, (n, 3)), data=rng.uniform(0, 1, (n // 8, 3)),
                       data_values=rng.standard_normal((n // 8, 2)))
    material, weights, ws = Material(2.0, 1.0, 1.0, True, True, False), LossWeights(), E.Workspace(threads)
    reps = max(5, int(2e8 / (width * width * layers * n)))
    preps = {c: E.prepare(model.arch, points, weights, tile_columns=c) for c in columns}
    g = np.empty_like(model.params)
    best = {}
    for _ in range(rounds):
        for c, prep in preps.items():
            E.evaluate(model.arch, model.params, prep, material, weights, ws, g)
            ts = []
            for _ in range(reps):
                t = time.perf_counter()
                E.evaluate(model.arch, model.params, prep, material, weights, ws, g)
                ts.append(time.perf_counter() - t)
            best[c] = min(best.get(c, np.inf), 1e3 * float(np.median(ts)))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nets", nargs="+", default=["24x3:2000", "24x3:4096", "32x3:2000", "32x3:4096", "100x4:4096"],
                    help="networks as WIDTHxLAYERS:POINTS")
    ap.add_argument("--columns", nargs="+", type=int, default=[512, 640, 768, 1024, 1088])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args()
    columns = sorted(set(args.columns) | {TILE_COLUMNS})
    print(f"one evaluation (loss and gradient), {args.threads} thread(s), best of {args.rounds} interleaved rounds; "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print("| network | PDE points | " + " | ".join(f"{c} columns" for c in columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for spec in args.nets:
        width, layers, n = network(spec)
        ms = evaluation_ms(width, layers, n, args.threads, columns, args.rounds, np.random.default_rng(0))
        base = ms[TILE_COLUMNS]
        cells = [f"{ms[c]:.2f} ms ({ms[c] / base:.2f})" for c in columns]
        print(f"| {width} x {layers} | {n} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
