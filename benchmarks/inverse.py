"""Accuracy of the built-in inverse problem, and the wall time of ``pinnlite demo``.

The problem is the demo's: P and S plane waves in the unit square over t in [0, 1]
with lam = 2, mu = 1, rho = 1 (fixed), 2000 displacement sensors
(``problems.plane_waves(2, 1, 1, n_sensors=2000)``), trained with
``cli.demo_config`` from guesses off by a factor of two (lam 4, mu 0.5). For
noise levels 0 and 1% and seeds 0 .. seeds-1 (the seed draws the sensors, the
noise and the network's initial weights) it prints the recovered lam and mu,
their relative errors and the wall time; then per noise level the mean and
largest |relative error| and the spread (standard deviation over seeds) of each
parameter's error; then the wall time of one ``pinnlite demo`` in a fresh
process. Targets are printed next to the figures:

- noise-free: |relative error| <= 0.5% for lam and mu;
- 1% noise: |relative error| <= 1%;
- ``pinnlite demo`` with its default settings: <= 120 s on 2 cores.

    python benchmarks/inverse.py                       # 3 seeds, the demo's 2500 epochs
    python benchmarks/inverse.py --seeds 5 --threads 2
    python benchmarks/inverse.py --epochs 20 --seeds 1 # a quick check that it runs
"""

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

TRUTH = (2.0, 1.0, 1.0)
NOISE_LEVELS = (0.0, 0.01)
TARGETS = {0.0: 0.005, 0.01: 0.01}  # largest |relative error| of lam and mu
DEMO_TARGET_S = 120.0
DEFAULT_EPOCHS = 2500  # the demo's default (pinnlite demo --help)


def run_one(noise, seed, epochs, threads):
    """Train the demo problem once; returns dict lam, mu, err_lam, err_mu, wall_s."""
    from pinnlite.cli import demo_config
    from pinnlite.training.problems import plane_waves
    from pinnlite.training.progress import Progress
    from pinnlite.training.trainer import Trainer

    t0 = time.perf_counter()
    data, _ = plane_waves(*TRUTH, n_sensors=2000, noise=noise, rng=seed)
    trainer = Trainer(None, demo_config(epochs, seed, threads), progress=Progress(epochs, stream=io.StringIO()))
    trainer.train(data)
    wall = time.perf_counter() - t0
    mat = trainer.material
    return dict(lam=mat["lam"], mu=mat["mu"], err_lam=mat["lam"] / TRUTH[0] - 1, err_mu=mat["mu"] / TRUTH[1] - 1,
                wall_s=wall, stop=trainer.state.stop_reason)


def time_demo(epochs, threads):
    """Wall time of ``python -m pinnlite demo`` in a fresh process, and its training time."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "demo")
        cmd = [sys.executable, "-m", "pinnlite", "demo", "--out", out]
        if epochs is not None:
            cmd += ["--epochs", str(epochs)]
        if threads is not None:
            cmd += ["--threads", str(threads)]
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        with open(os.path.join(out, "summary.json")) as f:
            summary = json.load(f)
    return wall, summary["wall_time_s"], summary["relative_error"]


def verdict(ok):
    return "ok" if ok else "MISSED"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=None,
                    help=f"epochs per run (default: the demo's {DEFAULT_EPOCHS}; the targets assume the default)")
    ap.add_argument("--seeds", type=int, default=3, help="seeds per noise level (default 3)")
    ap.add_argument("--threads", type=int, default=None, help="threads per run (default: all CPUs)")
    args = ap.parse_args()
    if args.seeds < 1 or (args.epochs is not None and args.epochs < 0):
        ap.error("--seeds must be >= 1 and --epochs >= 0")
    epochs = DEFAULT_EPOCHS if args.epochs is None else args.epochs

    from pinnlite.core.cpus import available_cpus, resolve_threads

    print(f"pinnlite inverse benchmark: plane waves, lam={TRUTH[0]:g} mu={TRUTH[1]:g} rho={TRUTH[2]:g} (fixed), "
          f"2000 sensors, guesses lam=4 mu=0.5")
    print(f"{epochs} epochs per run, {args.seeds} seed(s) per noise level, "
          f"threads {resolve_threads(args.threads)}, CPUs {available_cpus()}")
    if epochs != DEFAULT_EPOCHS:
        print(f"note: the targets are for the default {DEFAULT_EPOCHS} epochs")
    print()
    print(f"{'noise':>6} {'seed':>4} {'lam':>10} {'err lam':>9} {'mu':>10} {'err mu':>9} {'wall s':>8}  stop")
    results = {}
    for noise in NOISE_LEVELS:
        rows = results[noise] = []
        for seed in range(args.seeds):
            r = run_one(noise, seed, epochs, args.threads)
            rows.append(r)
            print(f"{100 * noise:>5g}% {seed:>4} {r['lam']:>10.6f} {100 * r['err_lam']:>+8.3f}% "
                  f"{r['mu']:>10.6f} {100 * r['err_mu']:>+8.3f}% {r['wall_s']:>8.1f}  {r['stop']}", flush=True)

    print()
    all_ok = True
    for noise, rows in results.items():
        errs = {p: np.array([r["err_" + p] for r in rows]) for p in ("lam", "mu")}
        both = np.abs(np.concatenate(list(errs.values())))
        ok = both.max() <= TARGETS[noise]
        all_ok &= bool(ok)
        spread = ", ".join(f"{p} {100 * e.std(ddof=1):.3f}%" if len(e) > 1 else f"{p} n/a (one seed)"
                           for p, e in errs.items())
        print(f"noise {100 * noise:g}%: |relative error| of lam and mu: mean {100 * both.mean():.3f}%, "
              f"max {100 * both.max():.3f}% (target <= {100 * TARGETS[noise]:g}%: {verdict(ok)}); "
              f"spread over seeds (std): {spread}; mean wall {np.mean([r['wall_s'] for r in rows]):.1f} s")

    wall, train_s, err = time_demo(args.epochs, args.threads)
    ok = wall <= DEMO_TARGET_S
    print(f"pinnlite demo ({epochs} epochs{'' if epochs == DEFAULT_EPOCHS else ', not the default'}): "
          f"{wall:.1f} s wall in a fresh process, {train_s:.1f} s training "
          f"(target <= {DEMO_TARGET_S:g} s on 2 cores: {verdict(ok)}); "
          f"relative errors lam {100 * err['lam']:+.3f}%, mu {100 * err['mu']:+.3f}%")
    return 0 if all_ok and ok else 1


if __name__ == "__main__":
    sys.exit(main())
