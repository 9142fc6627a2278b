"""The demo's inverse problem in pinnlite and in DeepXDE: time to 0.1% on lam and mu, 1 thread each.

The problem is ``pinnlite demo``'s: P + S plane waves in the unit square over
t in [0, 1], lam = 2, mu = 1, rho = 1 (fixed), 2000 noise-free sensors
(``problems.plane_waves(2, 1, 1, n_sensors=2000, noise=0, rng=seed)``),
guesses lam = 4, mu = 0.5.

- pinnlite runs ``cli.demo_config(seed=seed, threads=1)`` as it is, so this
  script follows the demo's settings when they change.
- DeepXDE (PyTorch backend, float64) solves the same problem written as its
  documentation teaches: ``dde.Variable`` for the material (trained as
  theta = log(p / p0), p = p0 exp(theta), the parametrisation pinnlite uses),
  a ``PointSetBC`` for the sensors, the plane-strain elastic wave residual
  from ``dde.grad.hessian``, an ``FNN`` with the demo's widths and activation,
  pinnlite's input map onto [-1, 1] and output scale as feature / output
  transforms, the same collocation points (as anchors), sensors and initial
  weights, the loss weights of pinnlite's run (its configured weights over the
  scaling's normalisers), Adam with the demo's learning rate for the demo's
  Adam epochs, then DeepXDE's L-BFGS (torch.optim.LBFGS, strong Wolfe, the
  demo's history size and tolerances).

Before racing, one process builds both at the initial weights and prints the
relative difference of the PDE residual, of every loss term and of the
gradient (and checks pinnlite's loss against the trainer's own first
evaluation), so the race is between the same problems, and another runs three
pinnlite epochs so that Numba's cache holds every kernel (on a fresh install
the first run would otherwise compile them, seconds of its time). Then runs alternate
(pinnlite, DeepXDE, pinnlite, ...), each in a fresh process with one thread
(``torch.set_num_threads(1)``, OMP/MKL/OpenBLAS/Numba/pinnlite thread variables
set to 1). Each records (time since training started, iteration, lam, mu) at
every accepted iterate: pinnlite after every ``--every`` epochs (default 1),
DeepXDE after every Adam step (from its PDE function, which each step
evaluates once) and after every line search of its L-BFGS (torch's
``_strong_wolfe``, wrapped: the accepted point is the search's start plus the
step it returns times the direction). The run ends by an exception from there
once the target is reached or the time is up, so DeepXDE's L-BFGS runs in its
default steps of 1000 iterations with no callback between them. The script prints
the trajectories, per run the time at which max(|err lam|, |err mu|) first
reaches 0.1% (``--target``) and the time from which it stays there, and the
medians over runs and their ratio DeepXDE / pinnlite; then the same times
measured from each one's first recorded iterate, which leaves out the one-time
start that lands in each first iterate (Numba's type registries and cache
loads for pinnlite, 0.2-0.4 s; torch's first autograd pass for DeepXDE, whose
import and compile come before its clock).

The problem on both sides and the workers are in ``peers_workers.py``; this
file races them and reports.

Needs the ``peers`` extra (``pip install '.[peers]'``: deepxde and torch==2.13.0).
Run it on a quiet machine with the BLAS variables unset::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/peers.py --repeat 3
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/peers.py --check-only
    python benchmarks/peers.py --repeat 1 --epochs 60 --dde-max-time 20   # a quick look that it runs
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from peers_workers import ONE_THREAD, WORKERS, relative_errors


# ------------------------------------------------------------------ the driver


def run_worker(name, args, seed):
    """Run one worker in a fresh one-thread process; returns its JSON result."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", name, "--seed", str(seed), "--out", out,
               "--every", str(args.every), "--target", str(args.target), "--dde-max-time", str(args.dde_max_time)]
        for flag, value in (("--epochs", args.epochs), ("--dde-adam", args.dde_adam), ("--dde-lbfgs", args.dde_lbfgs)):
            if value is not None:
                cmd += [flag, str(value)]
        cmd += ["--stop-at-target"] * args.stop_at_target + ["--own-init"] * args.own_init
        env = dict(os.environ, **ONE_THREAD, DDE_BACKEND="pytorch")
        p = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if p.returncode != 0:
            sys.stdout.write(p.stdout[-4000:] + p.stderr[-4000:])
            raise SystemExit(f"peers.py: the {name} worker failed (exit {p.returncode})")
        with open(out) as f:
            return json.load(f)


def reach(rows, target):
    """``(first, epoch, stays, best)``: time and epoch first within target (None), time from which it stays,
    (best error, its time)."""
    errs = [max(abs(e) for e in relative_errors(lam, mu)) for _, _, lam, mu in rows]
    i_first = next((i for i, e in enumerate(errs) if e <= target), None)
    first, epoch = (None, None) if i_first is None else (rows[i_first][0], int(rows[i_first][1]))
    stays = None
    for i in range(len(errs) - 1, -1, -1):
        if errs[i] > target:
            break
        stays = rows[i][0]
    best = min(range(len(errs)), key=errs.__getitem__)
    return first, epoch, stays, (errs[best], rows[best][0])


def phase_speeds(r):
    """``(s per warm-up epoch, s per later epoch)`` from a run's trajectory (None where it has no rows)."""
    rows, warm = r["rows"], r["warmup"]
    first = [row for row in rows if row[1] <= warm]
    later = [row for row in rows if row[1] > warm]
    a = first[-1][0] / first[-1][1] if first else None
    b = (later[-1][0] - first[-1][0]) / (later[-1][1] - first[-1][1]) if first and later else None
    return a, b


def print_trajectory(name, seed, rows, n_lines):
    print(f"\n{name}, seed {seed}: time s, epoch, lam, err lam, mu, err mu")
    keep = set(np.unique(np.linspace(0, len(rows) - 1, min(n_lines, len(rows))).round().astype(int)).tolist())
    for i, (t, step, lam, mu) in enumerate(rows):
        if i in keep:
            el, em = relative_errors(lam, mu)
            print(f"  {t:8.2f} {int(step):6d} {lam:10.6f} {el:+9.4%} {mu:10.6f} {em:+9.4%}")


def fmt_time(t):
    return "not reached" if t is None else f"{t:.1f} s"


def machine():
    try:
        load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        load = "?"
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    return cpu, os.cpu_count(), load


def versions():
    out = {}
    code = ("import deepxde, torch, numpy, numba, pinnlite; print(deepxde.__version__, torch.__version__, "
            "numpy.__version__, numba.__version__, pinnlite.__version__)")
    p = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, DDE_BACKEND="pytorch"),
                       capture_output=True, text=True)
    if p.returncode == 0:
        out = dict(zip(("deepxde", "torch", "numpy", "numba", "pinnlite"), p.stdout.split()[-5:]))
    code = "import os, pinnlite; print(os.path.dirname(os.path.dirname(pinnlite.__file__)))"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    where = p.stdout.strip()
    git = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True, cwd=where or None)
    out["pinnlite from"] = f"{where} ({git.stdout.strip() if git.returncode == 0 else 'not a git checkout'})"
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each implementation, alternated (default 3)")
    ap.add_argument("--seed", type=int, default=0, help="seed of run 1; run i uses seed + i - 1 (default 0)")
    ap.add_argument("--epochs", type=int, default=None, help="pinnlite's epochs (default: the demo's)")
    ap.add_argument("--every", type=int, default=1,
                    help="record pinnlite's trajectory every N epochs (default 1; DeepXDE's: at every evaluation)")
    ap.add_argument("--target", type=float, default=1e-3, help="max(|err lam|, |err mu|) to reach (default 1e-3)")
    ap.add_argument("--dde-adam", type=int, default=None, help="DeepXDE's Adam epochs (default: the demo's)")
    ap.add_argument("--dde-lbfgs", type=int, default=None,
                    help="DeepXDE's L-BFGS iterations at most (default: 4x pinnlite's L-BFGS epochs)")
    ap.add_argument("--dde-max-time", type=float, default=600.0, help="stop a DeepXDE run after this many s (600)")
    ap.add_argument("--stop-at-target", action="store_true", help="stop each run once it reaches the target")
    ap.add_argument("--own-init", action="store_true", help="DeepXDE's own Glorot init instead of pinnlite's weights")
    ap.add_argument("--lines", type=int, default=25, help="trajectory lines printed per run (default 25)")
    ap.add_argument("--check-only", action="store_true", help="only compare the two problems")
    ap.add_argument("--json", default=None, help="also write every trajectory to this file")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        result = WORKERS[args.worker](args)
        with open(args.out, "w") as f:
            json.dump(result, f)
        return

    cpu, ncpu, load = machine()
    ver = versions()
    print(f"peers.py: the demo problem in pinnlite and DeepXDE, 1 thread each; {time.strftime('%Y-%m-%d %H:%M')}")
    print(f"  machine: {cpu}, {ncpu} CPUs; {load}")
    print(f"  versions: {', '.join(f'{k} {v}' for k, v in ver.items() if k != 'pinnlite from')}")
    print(f"  pinnlite from {ver.get('pinnlite from', '?')}")
    print(f"  OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')} "
          f"OPENBLAS_L2_SIZE={os.environ.get('OPENBLAS_L2_SIZE', '(unset)')}")

    chk = run_worker("check", args, args.seed)
    meta = chk["meta"]
    print(f"\nthe same problem: network {meta['hidden']} {meta['activation']} ({meta['n_params']} parameters), "
          f"{meta['n_collocation']} collocation points, {meta['n_sensors']} sensors, loss weights pde "
          f"{meta['weights']['pde']:.6g} data {meta['weights']['data']:.6g}, Adam lr {meta['lr']:g}")
    warm, second = meta["schedule"]
    print(f"  pinnlite: the demo's {meta['epochs']} epochs, Adam for {warm} then {second or 'nothing'}; "
          f"DeepXDE: Adam for {warm if args.dde_adam is None else args.dde_adam} then L-BFGS")
    for item in meta["not_mirrored"]:
        print(f"  note: pinnlite's {item} is not reproduced in the DeepXDE model")
    print("at pinnlite's initial weights and guesses (relative difference DeepXDE vs pinnlite, and the value):")
    worst = 0.0
    for name, (d, value) in chk["check"].items():
        print(f"  {name:36s} {d:9.2e}   ({value:.6g})")
        worst = max(worst, d)
    if worst > 1e-9:
        raise SystemExit(f"peers.py: the two problems differ (largest relative difference {worst:.2e}); not racing")
    warmed = run_worker("warm", args, args.seed)["seconds"]
    print(f"  three pinnlite epochs filled Numba's cache in {warmed:.1f} s (a fresh install compiles its kernels "
          "once; every later run loads them)")
    if args.check_only:
        return

    results = {"pinnlite": [], "deepxde": []}
    for i in range(args.repeat):
        for name in ("pinnlite", "deepxde"):
            seed = args.seed + i
            r = run_worker(name, args, seed)
            r["seed"] = seed
            r["first"], r["first_epoch"], r["stays"], r["best"] = reach(r["rows"], args.target)
            results[name].append(r)
            r["load"] = os.getloadavg()[0]
            at_epoch = "" if r["first"] is None else f" (epoch {r['first_epoch']})"
            print(f"run {i + 1}/{args.repeat} {name:8s} seed {seed}: {args.target:.2%} first at "
                  f"{fmt_time(r['first'])}{at_epoch}, stays from {fmt_time(r['stays'])}; "
                  f"best {r['best'][0]:.4%} at {r['best'][1]:.1f} s; "
                  f"{r['epochs']} epochs in {r['wall']:.1f} s ({r['stop']}); load after {r['load']:.2f}", flush=True)

    for name in ("pinnlite", "deepxde"):
        for r in results[name]:
            print_trajectory(name, r["seed"], r["rows"], args.lines)

    print(f"\nsummary over {args.repeat} alternated run(s) each, target max(|err lam|, |err mu|) <= {args.target:.2%}:")
    print("| impl | run | first s | at epoch | stays from s | best error | at s | epochs | wall s | ms/epoch Adam "
          "| ms/epoch after |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name in ("pinnlite", "deepxde"):
        for i, r in enumerate(results[name]):
            f = lambda t: "not reached" if t is None else f"{t:.1f}"  # noqa: E731
            ms = lambda t: "" if t is None else f"{1e3 * t:.0f}"  # noqa: E731
            a, b = phase_speeds(r)
            print(f"| {name} | {i + 1} | {f(r['first'])} | {r['first_epoch'] or ''} | {f(r['stays'])} | {r['best'][0]:.4%} | "
                  f"{r['best'][1]:.1f} | {r['epochs']} | {r['wall']:.1f} | {ms(a)} | {ms(b)} |")
    med = {}
    for name in ("pinnlite", "deepxde"):
        firsts = [r["first"] for r in results[name]]
        reached = [t for t in firsts if t is not None]
        med[name] = statistics.median(reached) if len(reached) == len(firsts) else None
        print(f"{name}: median time to {args.target:.2%}: "
              + (fmt_time(med[name]) if med[name] is not None else f"not reached in {len(firsts) - len(reached)} run(s)"))
    if med["pinnlite"] and med["deepxde"]:
        ratios = [d["first"] / p["first"] for p, d in zip(results["pinnlite"], results["deepxde"])]
        print(f"DeepXDE / pinnlite time to {args.target:.2%}: {med['deepxde'] / med['pinnlite']:.1f}x "
              f"(ratio of medians; per pair: {', '.join(f'{x:.1f}' for x in ratios)})")
    elif med["pinnlite"]:
        lower = min(r["wall"] for r in results["deepxde"]) / med["pinnlite"]
        print(f"DeepXDE / pinnlite: DeepXDE did not reach the target in every run; at least {lower:.1f}x")
    # Each clock starts where its training starts, so pinnlite's first iterate carries Numba's one-time start
    # (its type registries, the kernels loaded from the cache: 0.2-0.4 s) and DeepXDE's its first autograd
    # pass, while torch's import and DeepXDE's compile happen before its clock. The same race measured from
    # each one's first recorded iterate leaves both starts out.
    after = {name: [r["first"] - r["rows"][0][0] for r in results[name] if r["first"] is not None]
             for name in results}
    if all(len(after[n]) == len(results[n]) > 0 for n in after):
        mp, md = statistics.median(after["pinnlite"]), statistics.median(after["deepxde"])
        starts = {n: statistics.median(r["rows"][0][0] for r in results[n]) for n in results}
        print(f"measured from each one's first iterate (at {starts['pinnlite']:.2f} s for pinnlite, "
              f"{starts['deepxde']:.2f} s for DeepXDE; medians): pinnlite {mp:.2f} s, DeepXDE {md:.1f} s, "
              f"ratio {md / mp:.1f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"check": chk, "results": results, "versions": ver, "load": load}, f, indent=1)


if __name__ == "__main__":
    main()
