"""Material maps on the phantoms of pinnlite.simulate: what the defaults recover, and in what time.

Each run is what ``pinnlite demo --inclusion`` does for the inclusion phantom
(``pinnlite.cli.maps.inclusion_config``: Config() plus the problem's fixed
parameters, the map and the units), on data simulated by the finite-difference
solver (an independent method), with the phantom's noise and a seed. Prints,
per phantom and seed, the relative L2 error of the mu map, the background and
inclusion (or layer) means against the truth, the recovered centre and radius,
the map's median ambiguity per cell (``pinnlite.training.resolution``) with how
many of the 8 x 8 cells have an rms error of mu within it (and within twice it)
and the rank correlation of the two over the cells, and the wall time; then the
mean over seeds.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/maps.py \\
        --phantoms inclusion soft two plate --seeds 0 1 --epochs 4000 --threads 2

Options: ``--frame`` and ``--spacing`` record the phantoms at another interval
between frames or between sensors (``pinnlite.simulate.phantoms.make``);
``--set section.field=value`` changes the config of every run (e.g.
``material.field_penalty=tv`` ``material.field_penalty_weight=1e-4``);
``--blur 0.25 0.5 1`` first prints the report of each phantom's true map
blurred by a Gaussian of each standard deviation (in the phantom's length
unit), with no training: what a map of that resolution scores.
"""

import argparse
import dataclasses
import math
import time
import warnings

import numpy as np

from pinnlite.cli.maps import inclusion_config
from pinnlite.cli.run import configured, overrides
from pinnlite.simulate import phantoms
from pinnlite.training.trainer import Trainer


def run_one(name, seed, noise, epochs, threads, changes, frame=None, spacing=None):
    data, phantom = phantoms.make(name, noise=noise, seed=seed, frame=frame, spacing=spacing)
    cfg = configured(inclusion_config(phantom, epochs, seed, threads), changes, "--set")
    trainer = Trainer(None, cfg, progress=False)
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train(data)
    wall = time.perf_counter() - t0
    rep = phantoms.report(phantom, data, lambda P: trainer.material_maps(P)["mu"])
    warned = sorted({type(w.message).__name__ for w in caught})
    return rep, wall, trainer.state.epoch, warned, ambiguity_check(trainer, data)


def ambiguity_check(trainer, data, cells=8, per_side=10):
    """The map's ambiguity per cell (pinnlite.training.resolution) against the cell's rms relative error
    of mu: (median ambiguity, fraction of cells with error <= ambiguity, <= 2 ambiguity, rank correlation)."""
    res = trainer.map_resolution(cells)["mu"]
    err = np.empty((cells, cells))
    for iy in range(cells):
        for ix in range(cells):
            X, Y = np.meshgrid(np.linspace(*res.x_edges[ix:ix + 2], per_side), np.linspace(*res.y_edges[iy:iy + 2], per_side))
            P = np.stack([X.ravel(), Y.ravel()], axis=1)
            err[iy, ix] = np.sqrt(np.mean((trainer.material_maps(P)["mu"] / data.truth_at(P)["mu"] - 1) ** 2))
    a, e = res.ambiguity.ravel(), err.ravel()
    rank = lambda v: np.argsort(np.argsort(v))  # noqa: E731
    return float(np.median(a)), float(np.mean(e <= a)), float(np.mean(e <= 2 * a)), float(np.corrcoef(rank(a), rank(e))[0, 1])


def blurred(data, sigma):
    """``mu_at`` of the data's true mu map convolved with a Gaussian of standard deviation ``sigma``
    (separable, on the map's grid, edges extended)."""
    h = data.truth_map_x[1] - data.truth_map_x[0]
    offsets = np.arange(-int(math.ceil(4 * sigma / h)), int(math.ceil(4 * sigma / h)) + 1) * h
    kernel = np.exp(-0.5 * (offsets / sigma) ** 2)
    kernel /= kernel.sum()
    m, pad = data.truth_map.copy(), len(offsets) // 2
    for axis in (1, 2):
        wide = np.pad(m[1], [(pad, pad) if a == axis - 1 else (0, 0) for a in (0, 1)], mode="edge")
        m[1] = np.apply_along_axis(lambda v: np.convolve(v, kernel, mode="valid"), axis - 1, wide)
    smooth = dataclasses.replace(data, truth_map=m)
    return lambda P: smooth.truth_at(P)["mu"]


def row(name, seed, rep, wall, epochs, warned, ambiguity=None):
    bg, true_bg = rep.background
    parts = [f"{name:<10}{seed:>5}{100 * rep.l2:>8.1f}%{100 * (bg / true_bg - 1):>+9.1f}%"]
    for (got, true), _, off, radius, r in rep.discs:
        parts.append(f"  disc {got:.3g}/{true:g} ({100 * (got / true - 1):+.0f}%) off {off:.2f} "
                     f"r {radius:.2f}/{r:g}")
    for got, true in rep.layers:
        parts.append(f"  layer {got:.4g}/{true:g} ({100 * (got / true - 1):+.1f}%)")
    if ambiguity is not None:
        med, within, within2, corr = ambiguity
        parts.append(f"  ambiguity {100 * med:.0f}% (cells within it {100 * within:.0f}%, within 2x "
                     f"{100 * within2:.0f}%, rank corr {corr:+.2f})")
    parts.append(f"  {epochs} epochs {wall:.0f} s" + (f"  warned: {', '.join(warned)}" if warned else ""))
    return "".join(parts)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phantoms", nargs="+", default=["inclusion", "soft", "two", "plate"],
                    choices=phantoms.PHANTOMS)
    ap.add_argument("--seeds", nargs="*", type=int, default=[0], help="none: no training (with --blur)")
    ap.add_argument("--noise", type=float, default=0.01)
    ap.add_argument("--epochs", type=int, default=None, help="default: Config()'s")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE")
    ap.add_argument("--blur", nargs="*", type=float, default=[], metavar="SIGMA")
    ap.add_argument("--frame", type=float, default=None, help="interval between frames (default: the phantom's)")
    ap.add_argument("--spacing", type=float, default=None, help="sensor spacing, a multiple of 0.25 (default: "
                    "the phantom's)")
    args = ap.parse_args(argv)
    changes = overrides(args.set)
    print(f"noise {100 * args.noise:g}%, epochs {args.epochs or 'default'}, changes {args.set or 'none'}")
    print(f"{'phantom':<10}{'seed':>5}{'L2':>9}{'bg mean':>10}")
    for name in args.phantoms if args.blur else ():
        data, phantom = phantoms.make(name, noise=0.0)
        for sigma in args.blur:
            print(row(name, "blur", phantoms.report(phantom, data, blurred(data, sigma)), 0.0, 0, [])
                  .replace(" 0 epochs 0 s", f" the truth blurred by sigma {sigma:g} {phantom.units['length']}"))
    summary = {}
    for name in args.phantoms:
        for seed in args.seeds:
            rep, wall, epochs, warned, ambiguity = run_one(name, seed, args.noise, args.epochs, args.threads, changes,
                                                           args.frame, args.spacing)
            print(row(name, seed, rep, wall, epochs, warned, ambiguity), flush=True)
            summary.setdefault(name, []).append((rep.l2, wall))
    for name, runs in summary.items():
        l2, wall = np.array(runs).T
        print(f"{name:<10} mean over {len(runs)} seeds: L2 {100 * l2.mean():.1f}% "
              f"(max {100 * l2.max():.1f}%), {wall.mean():.0f} s" + ("" if math.isfinite(l2.mean()) else " (failed)"))


if __name__ == "__main__":
    main()
