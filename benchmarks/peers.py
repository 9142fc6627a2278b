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

Needs the ``peers`` extra (``pip install '.[peers]'``: deepxde and torch==2.13.0).
Run it on a quiet machine with the BLAS variables unset::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/peers.py --repeat 3
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/peers.py --check-only
    python benchmarks/peers.py --repeat 1 --epochs 60 --dde-max-time 20   # a quick look that it runs
"""

import argparse
import io
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

TRUTH = (2.0, 1.0, 1.0)
N_SENSORS = 2000
ONE_THREAD = {v: "1" for v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS",
                               "PINNLITE_NUM_THREADS")}


# ------------------------------------------------------------------ the problem, both ways


def problem(seed):
    from pinnlite.training.problems import plane_waves

    data, _ = plane_waves(*TRUTH, n_sensors=N_SENSORS, noise=0.0, rng=seed)
    return data


def config(epochs, seed):
    from pinnlite.cli import demo_config

    cfg = demo_config(seed=seed, threads=1) if epochs is None else demo_config(epochs, seed, threads=1)
    m = cfg.material
    if not (m.optimize_lam and m.optimize_mu and not m.optimize_rho):
        raise SystemExit("peers.py: the demo now frees other material parameters than lam and mu; update deepxde_model")
    return cfg


def not_mirrored(cfg):
    """Settings of pinnlite's config that the DeepXDE model does not reproduce (a list of strings)."""
    out = []
    checks = [
        ("loss_weights.adaptive", getattr(cfg.loss_weights, "adaptive", False), False),
        ("sampling.adaptive", getattr(cfg.sampling, "adaptive", None), None),
        ("training.batch_size", getattr(cfg.training, "batch_size", None), None),
        ("schedule.kind", getattr(cfg.schedule, "kind", "constant"), "constant"),
        ("schedule.plateau", getattr(cfg.schedule, "plateau", False), False),
        ("optimizer.material_lr", getattr(cfg.optimizer, "material_lr", None), None),
        ("training.validation_fraction", getattr(cfg.training, "validation_fraction", 0.0), 0.0),
    ]
    for name, value, plain in checks:
        if value != plain:
            out.append(f"{name} = {value!r}")
    return out


def schedule(cfg):
    """``(warm-up epochs, second-order optimizer name or None)`` of pinnlite's config.

    Reads ``optimizer.switch_after`` / ``second_order`` or, in pinnlite 0.1,
    ``optimizer.lbfgs_after``; DeepXDE runs Adam for the same warm-up, then L-BFGS.
    """
    o, epochs = cfg.optimizer, cfg.training.epochs
    if o.kind not in ("sgd", "adam", "adamw"):
        return 0, o.kind
    if hasattr(o, "switch_after"):
        after, second = o.switch_after, o.second_order
    else:
        after, second = o.lbfgs_after, "lbfgs"
    if after is None or second == "none" or after >= epochs:
        return epochs, None
    return after, second


def pinnlite_start(cfg, data):
    """``(trainer, collocation (n, 3), LossWeights)`` exactly as pinnlite's run starts.

    Uses the trainer's own start-up (initial weights from the seed, collocation
    points, scales) and the weights its objective is evaluated with, so DeepXDE
    gets what pinnlite trains on even when scaling or sampling change. These are
    the trainer's private methods: if they are renamed, this is the one place.
    """
    from pinnlite.training.progress import Progress
    from pinnlite.training.trainer import Trainer

    trainer = Trainer(None, cfg, progress=Progress(cfg.training.epochs, stream=io.StringIO()))
    trainer._check_data(data)
    trainer._start(data)
    colloc = data.collocation if data.collocation is not None else trainer.state.collocation
    return trainer, colloc, trainer.weights()


def deepxde_model(cfg, data, arch, params, colloc, weights, own_init=False, on_evaluation=None):
    """``(model, (theta_lam, theta_mu), pde)``: the problem in DeepXDE, compiled for Adam.

    ``on_evaluation(lam, mu)``, when given, is called with the material (floats) at every evaluation of the
    PDE residual, i.e. of the loss: the trajectory, recorded at no cost to the optimizer.
    """
    import deepxde as dde
    import torch

    dde.config.set_default_float("float64")
    m = cfg.material
    rho = float(m.rho)
    theta_lam, theta_mu = dde.Variable(0.0), dde.Variable(0.0)  # p = p0 exp(theta), positive

    def pde(x, y):
        lam, mu = m.lam * torch.exp(theta_lam), m.mu * torch.exp(theta_mu)
        if on_evaluation is not None:
            on_evaluation(float(lam), float(mu))
        u_xx = dde.grad.hessian(y, x, component=0, i=0, j=0)
        u_yy = dde.grad.hessian(y, x, component=0, i=1, j=1)
        u_tt = dde.grad.hessian(y, x, component=0, i=2, j=2)
        u_xy = dde.grad.hessian(y, x, component=0, i=0, j=1)
        v_xx = dde.grad.hessian(y, x, component=1, i=0, j=0)
        v_yy = dde.grad.hessian(y, x, component=1, i=1, j=1)
        v_tt = dde.grad.hessian(y, x, component=1, i=2, j=2)
        v_xy = dde.grad.hessian(y, x, component=1, i=0, j=1)
        r_u = rho * u_tt - (lam + 2 * mu) * u_xx - mu * u_yy - (lam + mu) * v_xy
        r_v = rho * v_tt - mu * v_xx - (lam + 2 * mu) * v_yy - (lam + mu) * u_xy
        return [r_u, r_v]

    (x0, x1), (y0, y1), (t0, t1) = data.domain
    geom = dde.geometry.GeometryXTime(dde.geometry.Rectangle([x0, y0], [x1, y1]), dde.geometry.TimeDomain(t0, t1))
    sensors = dde.icbc.PointSetBC(data.sensor_points, data.sensor_values, component=[0, 1])
    pde_data = dde.data.PDE(geom, pde, [sensors], num_domain=0, num_boundary=0, anchors=colloc)

    net = dde.nn.FNN([3] + list(arch.hidden) + [2], arch.activation, "Glorot normal")
    s, c = (torch.as_tensor(a, dtype=torch.float64) for a in arch.input_transform())
    S = torch.as_tensor(arch.output_scale, dtype=torch.float64)
    net.apply_feature_transform(lambda X: (X - c) * s)
    net.apply_output_transform(lambda X, Y: Y * S)
    if not own_init:  # pinnlite's initial weights: W_l is (fan_out, fan_in), as torch.nn.Linear's
        arrays = arch.layout.unflatten(params)
        with torch.no_grad():
            for layer, (W, b) in zip(net.linears, zip(arrays[0::2], arrays[1::2])):
                layer.weight.copy_(torch.as_tensor(W))
                layer.bias.copy_(torch.as_tensor(b))

    model = dde.Model(pde_data, net)
    # the PDE term is mean(r_u^2 + r_v^2) = MSE(r_u) + MSE(r_v); the data term is a mean over the sensors
    # of |u - d|^2 while DeepXDE's MSE averages over both components: twice the weight
    model.compile("adam", lr=cfg.optimizer.lr, loss_weights=[weights.pde, weights.pde, 2 * weights.data],
                  external_trainable_variables=[theta_lam, theta_mu])
    return model, (theta_lam, theta_mu), pde


# ------------------------------------------------------------------ workers (each in its own process)


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def worker_check(args):
    """Both implementations at pinnlite's initial weights: residual, loss terms and gradient."""
    import deepxde as dde
    import torch

    from pinnlite import Material, PointSets, loss_and_grad

    torch.set_num_threads(1)
    data = problem(args.seed)
    cfg = config(args.epochs, args.seed)
    trainer, colloc, weights = pinnlite_start(cfg, data)
    model0 = trainer.model
    m = cfg.material
    mat = Material(m.lam, m.mu, m.rho, True, True, False)
    pts = PointSets(collocation=colloc, data=data.sensor_points, data_values=data.sensor_values)
    res = loss_and_grad(model0.params, model0.arch, pts, mat, weights)
    own, _ = trainer.evaluate(trainer.state.x, trainer._full_prep())  # the trainer's first evaluation

    model, (th_lam, th_mu), pde = deepxde_model(cfg, data, model0.arch, model0.params, colloc, weights)
    X = torch.as_tensor(colloc, dtype=torch.float64).requires_grad_()
    r_dde = torch.cat(pde(X, model.net(X)), dim=1).detach().numpy()
    dde.grad.clear()
    r_pl = model0.residual(colloc, mat)
    X_train, y_train, aux = model.data.train_next_batch()
    _, losses = model.outputs_losses_train(X_train, y_train, aux)
    total = losses.sum()
    total.backward()
    g_dde = np.concatenate([p.grad.detach().numpy().ravel() for layer in model.net.linears
                            for p in (layer.weight, layer.bias)])
    g_theta = np.array([th_lam.grad.item(), th_mu.grad.item()])
    g_theta_pl = [m.lam * res.grad_material["lam"], m.mu * res.grad_material["mu"]]  # dL/dtheta = p dL/dp
    lw = losses.detach().numpy()
    out = {
        "pde residual": (rel(r_dde, r_pl), float(np.abs(r_pl).max())),
        "pde term (weighted)": (rel(lw[0] + lw[1], weights.pde * res.terms["pde"]), weights.pde * res.terms["pde"]),
        "data term (weighted)": (rel(lw[2], weights.data * res.terms["data"]), weights.data * res.terms["data"]),
        "total loss": (rel(lw.sum(), res.total), res.total),
        "gradient over the weights": (rel(g_dde, res.grad), float(np.abs(res.grad).max())),
        "gradient over theta (lam, mu)": (rel(g_theta, g_theta_pl), float(np.abs(g_theta).max())),
        "pinnlite loss vs the trainer's own": (rel(res.total, own.total), own.total),
    }
    meta = {"n_params": model0.arch.n_params, "hidden": list(model0.arch.hidden), "activation": model0.arch.activation,
            "n_collocation": len(colloc), "n_sensors": len(data.sensor_points), "weights": {"pde": weights.pde,
            "data": weights.data}, "lr": cfg.optimizer.lr, "material_lr": getattr(cfg.optimizer, "material_lr", None),
            "schedule": schedule(cfg), "epochs": cfg.training.epochs, "not_mirrored": not_mirrored(cfg)}
    return {"check": out, "meta": meta}


def worker_warm(args):
    """A short pinnlite run, in a process like the raced ones, that fills Numba's cache.

    Numba compiles a kernel on its first use ever and keeps it in its cache:
    a fresh install's first run spends seconds compiling (4.5 and 8.5 s to
    0.1% against 1.5 s for the runs after it). Three epochs use every kernel
    the race does (evaluation, BFGS, line search), so each raced run loads
    them as every run after a user's first does. It runs without torch and
    DeepXDE imported, as the raced runs do. (The check worker's evaluations
    did not fill the cache for them: DeepXDE imports SciPy, and until pinnlite
    looked for NumPy's own BLAS first it then found SciPy's OpenBLAS, whose
    gemm takes 32-bit integers: other kernel signatures, other cache entries.)
    """
    from pinnlite.training.progress import Progress
    from pinnlite.training.trainer import Trainer

    t0 = time.perf_counter()
    cfg = config(3, args.seed)
    cfg.training.error_bars = False
    with warnings.catch_warnings():  # three epochs have not fitted the data, as pinnlite warns: no matter here
        warnings.simplefilter("ignore")
        Trainer(None, cfg, progress=Progress(3, stream=io.StringIO())).train(problem(args.seed))
    return {"seconds": time.perf_counter() - t0}


def _errors(lam, mu):
    return lam / TRUTH[0] - 1, mu / TRUTH[1] - 1


def worker_pinnlite(args):
    from pinnlite.training.progress import Progress
    from pinnlite.training.trainer import Trainer

    data = problem(args.seed)
    cfg = config(args.epochs, args.seed)
    rows = []

    def record(trainer, row):
        el, em = _errors(row["lam"], row["mu"])
        rows.append((row["time"], row["epoch"], row["lam"], row["mu"]))
        return args.stop_at_target and max(abs(el), abs(em)) <= args.target

    trainer = Trainer(None, cfg, progress=Progress(cfg.training.epochs, stream=io.StringIO()))
    trainer.add_callback(record, every=args.every)
    t0 = time.perf_counter()
    trainer.train(data)
    wall = time.perf_counter() - t0
    if not rows or rows[-1][1] != trainer.state.epoch:  # the last epoch, when not a multiple of --every
        mat = trainer.material
        rows.append((trainer.state.elapsed, trainer.state.epoch, mat["lam"], mat["mu"]))
    return {"rows": rows, "wall": wall, "stop": trainer.state.stop_reason, "epochs": trainer.state.epoch,
            "warmup": schedule(cfg)[0]}


def worker_deepxde(args):
    import deepxde as dde
    import torch

    torch.set_num_threads(1)
    data = problem(args.seed)
    cfg = config(args.epochs, args.seed)
    trainer, colloc, weights = pinnlite_start(cfg, data)
    rows, clock = [], {"stop": None}

    class Stop(Exception):
        """Raised where an iterate is recorded, to end training: the target is reached or the time is up."""

    def record(lam, mu):
        """Adds an accepted iterate; raises Stop at the target or the time limit."""
        t = time.perf_counter() - clock["t0"]
        rows.append((t, len(rows) + 1, lam, mu))
        el, em = _errors(lam, mu)
        if t > args.dde_max_time:
            clock["stop"] = "time limit"
        elif args.stop_at_target and max(abs(el), abs(em)) <= args.target:
            clock["stop"] = "target"
        if clock["stop"]:
            raise Stop

    def on_evaluation(lam, mu):
        """Adam evaluates its loss at each iterate, and accepts every one (L-BFGS's are recorded by its search)."""
        if "t0" in clock and not isinstance(getattr(model, "opt", None), torch.optim.LBFGS):
            record(lam, mu)

    model, (th_lam, th_mu), _ = deepxde_model(cfg, data, trainer.model.arch, trainer.model.params, colloc, weights,
                                              own_init=args.own_init, on_evaluation=on_evaluation)
    m = cfg.material
    import torch.optim.lbfgs as torch_lbfgs

    search = torch_lbfgs._strong_wolfe

    def searched(obj_func, x, t, d, *rest, **kw):
        """torch's line search, then the accepted iterate's lam and mu (x, the search's start, is a list of
        the parameters as the optimizer holds them; d the flat direction)."""
        out = search(obj_func, x, t, d, *rest, **kw)
        clock["searches"] = clock.get("searches", 0) + 1
        step, offset, theta = float(out[2]), 0, {}
        for p, p0 in zip(model.opt.param_groups[0]["params"], x):
            for name, var in (("lam", th_lam), ("mu", th_mu)):
                if p is var:
                    theta[name] = float(p0) + step * float(d[offset])
            offset += p.numel()
        record(m.lam * math.exp(theta["lam"]), m.mu * math.exp(theta["mu"]))
        return out

    torch_lbfgs._strong_wolfe = searched  # torch's LBFGS.step looks it up in its module at each iteration

    class Start(dde.callbacks.Callback):
        """Starts the clock when training begins."""

        def on_train_begin(self):
            clock.setdefault("t0", time.perf_counter())

    o = cfg.optimizer
    n_adam = schedule(cfg)[0] if args.dde_adam is None else args.dde_adam
    n_lbfgs = args.dde_lbfgs if args.dde_lbfgs is not None else 4 * max(cfg.training.epochs - n_adam, 500)
    try:
        if n_adam > 0:
            model.train(iterations=n_adam, display_every=n_adam, callbacks=[Start()], verbose=0)
        if n_lbfgs > 0:
            # the demo's L-BFGS settings where it has them, else DeepXDE's defaults (steps of 1000 iterations)
            dde.optimizers.set_LBFGS_options(maxcor=getattr(o, "lbfgs_history", 100),
                                             ftol=getattr(o, "lbfgs_tolerance_change", 0.0),
                                             gtol=getattr(o, "lbfgs_tolerance_grad", 1e-8), maxiter=n_lbfgs)
            model.compile("L-BFGS", loss_weights=[weights.pde, weights.pde, 2 * weights.data],
                          external_trainable_variables=[th_lam, th_mu])
            model.train(callbacks=[Start()], verbose=0)
    except Stop:
        pass
    if n_lbfgs > 0 and clock["stop"] is None and not clock.get("searches"):
        raise SystemExit("peers.py: torch's LBFGS ran without calling torch.optim.lbfgs._strong_wolfe, "
                         "which records DeepXDE's iterates; update worker_deepxde for this torch")
    wall = time.perf_counter() - clock["t0"]
    return {"rows": rows, "wall": wall, "stop": clock["stop"] or "iterations",
            "epochs": int(rows[-1][1]) if rows else 0, "warmup": n_adam, "lbfgs_iters": n_lbfgs}


WORKERS = {"check": worker_check, "warm": worker_warm, "pinnlite": worker_pinnlite, "deepxde": worker_deepxde}


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
    errs = [max(abs(e) for e in _errors(lam, mu)) for _, _, lam, mu in rows]
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
            el, em = _errors(lam, mu)
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
