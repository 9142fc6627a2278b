"""The stop rule, replayed: where each setting of the settle rule would stop every family's runs.

The settle rule (:mod:`pinnlite.training.stopping`) only ends a run; it never
changes its trajectory. So each family, noise level and seed of
``benchmarks/families.py`` is trained once with the rule off
(``training.settle_epochs = 0``) up to a budget, its metrics are kept, and
each setting (window, tolerance, share of the run, budget) is replayed on
them by :func:`pinnlite.training.stopping.settled` itself: the value at the
replayed stop is the value the real run would end with, bit for bit. The
table gives, per family and noise level, the largest error noise-free and
the rms error over the Cramer-Rao bound with noise (lam / mu / rho), and the
mean stop epoch. The recordings take about 20 minutes on two cores (two
processes, one thread each); the replays a few seconds.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/stop_rule.py record --dir RUNS
    python benchmarks/stop_rule.py replay --dir RUNS
    python benchmarks/stop_rule.py replay --dir RUNS --rule 50 1e-5 0 10000   # settle_epochs tolerance fraction budget
"""

import argparse
import glob
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
NOISE = {"sparse": (0.0, 0.03), "sparse_steel": (0.0, 0.03), "sparse_six": (0.0, 0.03)}  # the noise levels of a family (default: noise-free and 1%)
RULES = [  # (settle_epochs, settle_tolerance, settle_fraction, budget, label)
    (50, 1e-4, 0.0, 3000, "50 epochs, 1e-4, budget 3000 (pinnlite before 2026-12-03)"),
    (50, 1e-5, 0.0, 10000, "50 epochs, 1e-5, budget 10000"),
    (50, 1e-4, 0.1, 10000, "a tenth of the run while the loss falls, 1e-4, 10000"),
    (50, 1e-4, 0.15, 10000, "0.15 of the run, 1e-4, 10000"),
    (50, 5e-5, 0.1, 10000, "a tenth of the run, 5e-5, 10000"),
    (50, 1e-4, 0.2, 3000, "a fifth of the run, 1e-4, budget 3000"),
    (50, 1e-4, 0.2, 10000, "a fifth of the run, 1e-4, 10000 (the default)"),
]


def record_one(family, noise, seed, budget, out):
    """Train one run with the rule off; save its metrics and what the rule needs (npz)."""
    import warnings

    sys.path.insert(0, HERE)
    from inverse import bound, train

    changes = {"training.threads": 1, "training.epochs": budget, "training.settle_epochs": 0,
               "training.error_bars": False}
    with warnings.catch_warnings():  # the runs that end unfitted or unsettled warn: the replay judges them
        warnings.simplefilter("ignore")
        trainer, data, exact, free, _ = train(family, noise, seed, changes)
    crb = (bound(data, exact, noise, free)[0] if noise > 0 else None) or {}
    arrays = dict(trainer.metrics.to_arrays(), truth=np.array(data.truth), free=np.array(free),
                  released=-1 if trainer.state.released is None else trainer.state.released,
                  displacement=trainer.scales.displacement, crb=np.array([crb.get(k, np.nan) for k in free]))
    np.savez(out, **arrays)


def record(args):
    sys.path.insert(0, HERE)
    from families import FAMILIES

    os.makedirs(args.dir, exist_ok=True)
    jobs = [(f, n, s) for f in FAMILIES for n in NOISE.get(f, (0.0, 0.01)) for s in range(args.seeds)]

    def run(job):
        family, noise, seed = job
        out = os.path.join(args.dir, f"{family}_{noise:g}_{seed}.npz")
        cmd = [sys.executable, __file__, "one", family, str(noise), str(seed), str(args.budget), out]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        print(f"{family} {noise:g} {seed}: " + ("recorded" if proc.returncode == 0 else proc.stderr[-2000:]),
              flush=True)

    with ThreadPoolExecutor(args.processes) as pool:
        list(pool.map(run, jobs))


class Prefix:
    """The first ``n`` epochs of recorded metrics, as :func:`pinnlite.training.stopping.settled` reads them."""

    def __init__(self, arrays, n):
        self.arrays, self.n = arrays, n

    def __len__(self):
        return self.n

    def tail(self, column, k):
        return self.arrays[column][max(self.n - k, 0):self.n]


def stop(run, epochs, tolerance, fraction, budget):
    """The epoch (1-based) at which the rule would end the recorded ``run``, and the stop reason."""
    from pinnlite.training.diagnostics import FIT_THRESHOLD
    from pinnlite.training.stopping import settled

    n = min(len(run["epoch"]), budget)
    since = int(run["released"])
    misfit = np.sqrt(run["data"]) / float(run["displacement"])
    names = [str(x) for x in run["free"]]
    for e in range(1, n + 1):
        why = settled(Prefix(run, e), names, epochs, tolerance, fitted=misfit[e - 1] <= FIT_THRESHOLD,
                      since=None if since < 0 else since, fraction=fraction)
        if why:
            return e, why
    return n, "budget"


def replay(args):
    runs = {}
    for path in sorted(glob.glob(os.path.join(args.dir, "*.npz"))):
        family, noise, seed = os.path.basename(path)[:-4].rsplit("_", 2)
        runs[(family, float(noise), int(seed))] = dict(np.load(path))
    rules = [tuple(args.rule[:4]) + ("--rule",)] if args.rule else RULES
    groups = sorted({k[:2] for k in runs})
    for epochs, tol, fraction, budget, label in rules:
        epochs, budget = int(epochs), int(budget)
        print(f"{label}: settle_epochs {epochs}, tolerance {tol:g}, fraction {fraction:g}, budget {budget}")
        for family, noise in groups:
            keys = sorted(k for k in runs if k[:2] == (family, noise))
            errs, stops = [], []
            for k in keys:
                r = runs[k]
                e, _ = stop(r, epochs, float(tol), float(fraction), budget)
                truth = dict(zip(("lam", "mu", "rho"), r["truth"]))
                errs.append([r[str(name)][e - 1] / truth[str(name)] - 1 for name in r["free"]])
                stops.append(e)
            errs = np.abs(np.array(errs))
            if noise == 0:
                text = "max " + " / ".join(f"{100 * v:.4f}%" for v in errs.max(axis=0))
                ok = bool(np.all(errs.max(axis=0) <= 2e-4))
            else:
                ratio = np.sqrt(np.mean(errs**2, axis=0)) / runs[keys[0]]["crb"]
                ok = not np.any(ratio > 2)  # NaN: no bound
                text = "rms/CRB " + " / ".join("n/a" if math.isnan(v) else f"{v:.2f}" for v in ratio)
            print(f"  {family:10s} {noise:<5g} {text:34s} {'ok' if ok else 'MISSED':6s} "
                  f"epochs {int(round(np.mean(stops)))} ({min(stops)}-{max(stops)})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    rec = sub.add_parser("record", help="train every run with the rule off")
    rec.add_argument("--dir", required=True)
    rec.add_argument("--seeds", type=int, default=3)
    rec.add_argument("--budget", type=int, default=10000)
    rec.add_argument("--processes", type=int, default=2)
    rep = sub.add_parser("replay", help="replay the rules on the recordings")
    rep.add_argument("--dir", required=True)
    rep.add_argument("--rule", nargs=4, type=float, metavar=("EPOCHS", "TOLERANCE", "FRACTION", "BUDGET"))
    one = sub.add_parser("one")
    one.add_argument("family")
    one.add_argument("noise", type=float)
    one.add_argument("seed", type=int)
    one.add_argument("budget", type=int)
    one.add_argument("out")
    args = ap.parse_args()
    if args.what == "one":
        record_one(args.family, args.noise, args.seed, args.budget, args.out)
    else:
        (record if args.what == "record" else replay)(args)


if __name__ == "__main__":
    main()
