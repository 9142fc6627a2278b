"""A uniform plate under a point force: constant lam and mu from finite-difference data, at two grids.

No plane wave: the data are the records of ``pinnlite.simulate`` (an
independent method) for an aluminium plate in mm, us, GPa and g/cm^3 (lam 51,
mu 26.3, rho 2.7; shear and pressure speeds 3.12 and 6.19 mm/us) under a Ricker
point force of 0.5 MHz 6 mm outside a 20 x 20 mm window, recorded every 2 mm
over 12 us (121 sensors, 32 frames), with 1% noise. Each run is ``Config()``
with the guesses lam 70, mu 20 (37% and 24% off), rho fixed. It is run on the
records of a grid of spacing ``h`` and of ``h / 2``: what moves between the two
is the simulator's own error (4th order in space, 2nd in time), what stays is
pinnlite's. Prints, per grid and seed, the relative errors of lam and mu with
their error bars (1 sigma) and z = error / sigma, the epochs and the wall time.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/point_source.py --seeds 0 1 --threads 2
"""

import argparse
import io
import math
import time
import warnings

import numpy as np

from pinnlite import Config, Trainer
from pinnlite.simulate import Grid, PointForce, simulate, uniform
from pinnlite.training.progress import Progress

TRUTH = (51.0, 26.3, 2.7)  # lam, mu (GPa), rho (g/cm^3)
GUESS = (70.0, 20.0)


def records(h, noise, seed):
    """The TrainingData of the window on a grid of spacing ``h`` mm (sensors every 2 mm, frames every 0.38 us)."""
    n = int(round(60.0 / h)) + 1
    grid = Grid(nx=n, ny=n, h=h, origin=(-30.0, -30.0))
    stride, every = int(round(2.0 / h)), int(round(5.0 / h))  # the same sensors and frames on every grid
    rec = simulate(uniform(grid, *TRUTH), duration=12.0,
                   sources=[PointForce(position=(-16.0, 3.0), direction=(0.6, 0.8), f0=0.5)],
                   window=((-10.0, 10.0), (-10.0, 10.0)), window_stride=(stride, stride), record_every=every)
    return rec.to_training_data(noise=noise, rng=np.random.default_rng(seed))


def run_one(data, seed, threads):
    cfg = Config()
    m = cfg.material
    m.lam, m.mu, m.rho, m.optimize_rho = *GUESS, TRUTH[2], False
    cfg.units.length, cfg.units.time, cfg.units.modulus = "mm", "us", "GPa"
    cfg.training.seed, cfg.training.threads = seed, threads
    start = time.perf_counter()
    trainer = Trainer(None, cfg.validate(), progress=Progress(cfg.training.epochs, stream=io.StringIO()))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train(data)
    std = (trainer.state.uncertainty or {}).get("std", {})
    out = {"epochs": trainer.state.epoch, "wall": time.perf_counter() - start,
           "warnings": sorted({w.category.__name__ for w in caught})}
    for name, truth in zip(("lam", "mu"), TRUTH):
        err = trainer.material[name] / truth - 1
        out[name] = (err, std.get(name, math.nan) / truth)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", nargs="*", type=int, default=[0])
    ap.add_argument("--h", nargs="*", type=float, default=[0.25, 0.125], help="grid spacings in mm")
    ap.add_argument("--noise", type=float, default=0.01)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    print(f"{'h mm':>6s} {'seed':>4s} {'lam err':>9s} {'+- sigma':>9s} {'z':>6s} {'mu err':>9s} {'+- sigma':>9s} "
          f"{'z':>6s} {'epochs':>6s} {'wall s':>6s}  warnings")
    for h in args.h:
        for seed in args.seeds:
            r = run_one(records(h, args.noise, seed), seed, args.threads)
            cells = "".join(f" {100 * e:8.4f}% {100 * s:8.4f}% {e / s:6.2f}" for e, s in (r["lam"], r["mu"]))
            print(f"{h:6g} {seed:4d}{cells} {r['epochs']:6d} {r['wall']:6.1f}  {', '.join(r['warnings']) or '-'}",
                  flush=True)


if __name__ == "__main__":
    main()
