"""The two sides of ``benchmarks/peers.py``: the demo problem in pinnlite and in DeepXDE, and the workers
that the driver runs, each in a fresh one-thread process (``peers.py --worker NAME``).

``problem``, ``config`` and ``pinnlite_start`` give both sides the same data,
settings, collocation points, initial weights and loss weights;
``deepxde_model`` writes the problem as DeepXDE's documentation does. The
workers: ``check`` (both at the initial weights, term by term), ``warm``
(fills Numba's cache), ``pinnlite`` and ``deepxde`` (one raced run each,
every accepted iterate recorded). ``peers.py``'s docstring says what is
measured and how.
"""

import io
import math
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


def relative_errors(lam, mu):
    """``(lam / lam_true - 1, mu / mu_true - 1)``."""
    return lam / TRUTH[0] - 1, mu / TRUTH[1] - 1


def worker_pinnlite(args):
    from pinnlite.training.progress import Progress
    from pinnlite.training.trainer import Trainer

    data = problem(args.seed)
    cfg = config(args.epochs, args.seed)
    rows = []

    def record(trainer, row):
        el, em = relative_errors(row["lam"], row["mu"])
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
        el, em = relative_errors(lam, mu)
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
