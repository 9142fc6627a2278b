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

import numpy as np
from step import median_ms, problem  # the step benchmark's problem: N PDE points, N/8 sensors

import pinnlite.engine.loss as E
from pinnlite import LossWeights
from pinnlite.engine.tiles import TILE_COLUMNS


def network(spec):
    """``"24x3:2000"`` -> (width 24, 3 layers, 2000 PDE points)."""
    shape, _, n = spec.partition(":")
    width, _, layers = shape.partition("x")
    return int(width), int(layers), int(n)


def evaluation_ms(width, layers, n, threads, columns, rounds):
    """``{columns: best over rounds of the median ms of one evaluation}``."""
    model, points, material = problem(width, layers, n, "float64")
    weights, ws = LossWeights(), E.Workspace(threads)
    reps = max(5, int(2e8 / (width * width * layers * n)))
    preps = {c: E.prepare(model.arch, points, weights, tile_columns=c) for c in columns}
    g = np.empty_like(model.params)
    best = {}
    for _ in range(rounds):
        for c, prep in preps.items():
            ms = median_ms(lambda: E.evaluate(model.arch, model.params, prep, material, weights, ws, g), reps, 1)
            best[c] = min(best.get(c, np.inf), ms)
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
        ms = evaluation_ms(width, layers, n, args.threads, columns, args.rounds)
        base = ms[TILE_COLUMNS]
        cells = [f"{ms[c]:.2f} ms ({ms[c] / base:.2f})" for c in columns]
        print(f"| {width} x {layers} | {n} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
