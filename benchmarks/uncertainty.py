"""Calibration of the error bars: how often the truth lies within two standard deviations.

For each noise level (default 1% and 3%) and ``--datasets`` seeds (default 20;
the seed draws the sensors, the noise and the network's initial weights), one
run of a family (default the demo's, ``benchmarks/families.py``) with
``Config()``; the run's error bars (:mod:`pinnlite.training.uncertainty`) give
``z = (estimate - truth) / sigma`` for each free parameter. A calibrated
estimate has |z| <= 2 in about 95% of the cases; the target is 90-98%. The
table also gives the rms of z (1 for a calibrated sigma) and the mean sigma
against the rms error.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/uncertainty.py
    python benchmarks/uncertainty.py --datasets 20 --noise 0.01 0.03 --family two_waves
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = (0.90, 0.98)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--family", default="two_waves")
    ap.add_argument("--noise", nargs="*", type=float, default=[0.01, 0.03])
    ap.add_argument("--datasets", type=int, default=20)
    ap.add_argument("--first-seed", type=int, default=100, help="seeds first-seed .. first-seed + datasets - 1")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    inverse = os.path.join(HERE, "inverse.py")
    print(f"family {args.family}, {args.datasets} data sets per noise level, Config() defaults")
    summary = []
    for noise in args.noise:
        z = {}
        for seed in range(args.first_seed, args.first_seed + args.datasets):
            cmd = [sys.executable, inverse, "--one", args.family, str(noise), str(seed)]
            cmd += [] if args.threads is None else ["--threads", str(args.threads)]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"noise {noise} seed {seed}: FAILED\n{proc.stderr[-2000:]}", flush=True)
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            if not r["err"] or not r["std"]:
                print(f"noise {noise:g} seed {seed}: no estimate or no error bars ({r.get('stop')}); not counted",
                      flush=True)
                continue
            line = []
            for k, e in r["err"].items():
                s = r["std"].get(k)
                if s:
                    z.setdefault(k, []).append((e, s))
                    line.append(f"{k} {100 * e:+.4f}% +- {100 * s:.4f}% (z {e / s:+.2f})")
            print(f"noise {noise:g} seed {seed}: " + ", ".join(line) + f"; {r['wall_s']:.1f} s", flush=True)
        for k, pairs in z.items():
            e, s = np.array(pairs).T
            zs = e / s
            inside = float(np.mean(np.abs(zs) <= 2))
            summary.append((noise, k, len(zs), inside, float(np.sqrt(np.mean(zs**2))), float(np.sqrt(np.mean(e**2))),
                            float(np.mean(s))))
    print()
    print(f"{'noise':>6s} {'param':>5s} {'runs':>5s} {'|z|<=2':>7s} {'rms z':>6s} {'rms err':>9s} {'mean sigma':>11s}  target")
    for noise, k, n, inside, rz, rms, ms in summary:
        ok = "ok" if TARGET[0] <= inside <= TARGET[1] else "MISSED"
        print(f"{noise:6g} {k:>5s} {n:5d} {100 * inside:6.1f}% {rz:6.2f} {100 * rms:8.4f}% {100 * ms:10.4f}%  "
              f"{100 * TARGET[0]:g}-{100 * TARGET[1]:g}%: {ok}")


if __name__ == "__main__":
    main()
