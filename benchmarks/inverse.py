"""Accuracy against the limit: errors of lam, mu (rho) over problem families, next to the Cramer-Rao bound.

Every run uses ``Config()`` as it is, with only what the problem states: the
initial guesses, which parameters are free and the known density
(``benchmarks/families.py``). For each family, noise level and seed (the seed
draws the sensors, the noise and the network's initial weights) a fresh
process trains and reports the recovered parameters, the error bars and the
wall time. Per family and noise level the table gives:

- the rms and the largest relative error of each free parameter over the seeds;
- for noisy data, the Cramer-Rao bound of each parameter under the exact
  plane-wave model with all its parameters unknown
  (:func:`pinnlite.training.problems.cramer_rao`), and pinnlite's rms error over
  that bound (the target is <= 2);
- the mean wall time of a run.

Targets: noise-free within 0.02% on every free parameter; at 1% noise an rms
error within 2x the bound.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/inverse.py
    python benchmarks/inverse.py --families two_waves steel --seeds 5 --noise 0 0.01
    python benchmarks/inverse.py --epochs 20 --seeds 1          # a quick check that it runs
    python benchmarks/inverse.py --set optimizer.bfgs_initial_step=unit   # another setting
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET_NOISE_FREE = 2e-4
TARGET_CRB_RATIO = 2.0


def train(family, noise, seed, changes=None):
    """``(trainer, data, exact, free, wall seconds)`` of one run of ``family`` in this process, with
    ``Config()``, what the problem states, the seed, and ``changes`` (dotted keys) on top."""
    import io

    sys.path.insert(0, HERE)
    from families import make

    from pinnlite import Config, Trainer
    from pinnlite.training.progress import Progress

    data, exact, stated, free = make(family, noise, seed)
    cfg = Config().replace(**dict(stated, **{"training.seed": seed}, **(changes or {})))
    t0 = time.perf_counter()
    trainer = Trainer(None, cfg, progress=Progress(cfg.training.epochs, stream=io.StringIO()))
    trainer.train(data)
    return trainer, data, exact, free, time.perf_counter() - t0


def bound(data, exact, noise, free):
    """``(relative Cramer-Rao bound per free name, None)``, or ``(None, why)`` where the sensors give none."""
    from pinnlite.errors import InputError
    from pinnlite.training.problems import cramer_rao, noise_std

    try:
        return cramer_rao(data, exact, noise_std(exact, data.sensor_points, noise), free=free).relative, None
    except InputError as e:  # the bound uses the sensors only: traction data that fix rho are not in it
        return None, str(e)


def run_one(family, noise, seed, epochs, threads, changed=()):
    """One training run in this process; a dict of the results. ``changed``: "section.field=value"
    strings applied on top of the family's config (for comparing settings)."""
    from pinnlite.cli.run import overrides

    changes = {} if epochs is None else {"training.epochs": epochs}
    if threads is not None:
        changes["training.threads"] = threads
    changes.update(overrides(list(changed)))
    trainer, data, exact, free, wall = train(family, noise, seed, changes)
    truth = dict(zip(("lam", "mu", "rho"), data.truth))
    mat = trainer.material
    out = dict(family=family, noise=noise, seed=seed, wall_s=wall, epochs=trainer.state.epoch,
               stop=trainer.state.stop_reason, err={k: mat[k] / truth[k] - 1 for k in free},
               std={k: v / truth[k] for k, v in ((trainer.state.uncertainty or {}).get("std") or {}).items()})
    if noise > 0:
        crb, missing = bound(data, exact, noise, free)
        out.update({"crb": crb} if crb is not None else {"crb_missing": missing})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--families", nargs="*", default=None, help="default: all of benchmarks/families.py")
    ap.add_argument("--noise", nargs="*", type=float, default=[0.0, 0.01])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=None, help="override training.epochs (default: Config()'s)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                    help="change a config field of every run (repeatable), e.g. to compare settings")
    ap.add_argument("--one", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], float(args.one[1]), int(args.one[2]), args.epochs, args.threads,
                                 args.set)))
        return
    sys.path.insert(0, HERE)
    from families import FAMILIES

    families = args.families or list(FAMILIES)
    results = []
    for family in families:
        for noise in args.noise:
            if family.startswith("sparse") and noise == 0.01:
                noise = 0.03  # the family is defined at 3% noise
            for seed in range(args.seeds):
                cmd = [sys.executable, __file__, "--one", family, str(noise), str(seed)]
                cmd += [] if args.epochs is None else ["--epochs", str(args.epochs)]
                cmd += [] if args.threads is None else ["--threads", str(args.threads)]
                cmd += [a for change in args.set for a in ("--set", change)]
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode != 0:
                    print(f"{family} noise {noise} seed {seed}: FAILED\n{proc.stderr[-2000:]}", flush=True)
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                results.append(r)
                errs = ", ".join(f"{k} {100 * e:+.4f}%" + (f" (+- {100 * r['std'][k]:.4f}%)" if k in r["std"] else "")
                                 for k, e in r["err"].items())
                print(f"{family:10s} noise {noise:<5g} seed {seed}: {errs}; {r['epochs']} epochs, {r['wall_s']:.1f} s",
                      flush=True)
    print()
    print(f"{'family':10s} {'noise':>6s} {'param':>5s} {'rms err':>10s} {'max err':>10s} {'CRB':>10s} "
          f"{'rms/CRB':>8s} {'mean std':>10s} {'wall s':>7s}  target")
    for family in families:
        for noise in sorted({r["noise"] for r in results if r["family"] == family}):
            rows = [r for r in results if r["family"] == family and r["noise"] == noise]
            for k in rows[0]["err"]:
                e = np.array([r["err"][k] for r in rows])
                rms, mx = float(np.sqrt(np.mean(e**2))), float(np.abs(e).max())
                crb = rows[0].get("crb", {}).get(k)
                ratio = rms / crb if crb else float("nan")
                stds = [r["std"][k] for r in rows if k in r["std"]]
                wall = float(np.mean([r["wall_s"] for r in rows]))
                if noise == 0:
                    ok = "ok" if mx <= TARGET_NOISE_FREE else "MISSED"
                    target = f"max <= {100 * TARGET_NOISE_FREE:g}%: {ok}"
                elif not crb:  # e.g. traction with rho free: the sensors leave lam, mu, rho scaled together
                    target = "n/a: no bound (the plane-wave model does not determine this parameter from the sensors)"
                else:
                    ok = "ok" if ratio <= TARGET_CRB_RATIO else "MISSED"
                    target = f"rms/CRB <= {TARGET_CRB_RATIO:g}: {ok}"
                print(f"{family:10s} {noise:6g} {k:>5s} {100 * rms:9.4f}% {100 * mx:9.4f}% "
                      + (f"{100 * crb:9.4f}% {ratio:8.2f}" if crb else f"{'':>10s} {'':>8s}")
                      + (f" {100 * np.mean(stds):9.4f}%" if stds else f" {'':>10s}")
                      + f" {wall:7.1f}  {target}")


if __name__ == "__main__":
    main()
