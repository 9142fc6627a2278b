"""The ``pinnlite`` command line.

    pinnlite demo [--noise 0.01] [--seed 0] [--epochs N] [--out DIR]
    pinnlite train CONFIG --data DATA.npz [--out DIR]      (also under mpiexec -n K)
    pinnlite resume DIR [--epochs N]
    pinnlite plot RUN_DIR
    pinnlite inspect CKPT
    pinnlite verify CKPT [CKPT ...]
    pinnlite export CKPT [--config FILE] [--metrics FILE]
    pinnlite example

Every command that trains takes ``--threads N``. Exit status 0 on success, 1
on a failed check (``verify``), 2 on bad input.
"""

import argparse
import json
import logging
import os
import sys
import time

DEMO_TRUTH = (2.0, 1.0, 1.0)


def demo_config(epochs=2500, seed=0, threads=None):
    """The built-in inverse problem's configuration (see ``pinnlite demo --help``)."""
    from pinnlite.training.config import Config

    cfg = Config(name="demo")
    cfg.architecture.hidden = [48, 48, 48]
    cfg.training.epochs = epochs
    cfg.training.seed = seed
    cfg.training.threads = threads
    cfg.training.log_every = 250
    cfg.optimizer.lr = 3e-3
    cfg.optimizer.lbfgs_after = min(1000, epochs)
    cfg.loss_weights.pde = 0.01  # the data fix the field first; the PDE then fixes lam, mu
    cfg.material.lam, cfg.material.mu, cfg.material.rho = 4.0, 0.5, 1.0  # guesses off by 2x
    cfg.material.optimize_rho = False
    cfg.sampling.n_collocation = 2000
    cfg.sampling.strategy = "lhs"
    return cfg.validate()


def _write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")


def _finish_run(trainer, metrics, out, wall):
    """Write config, metrics and a summary to ``out``; return the summary."""
    os.makedirs(out, exist_ok=True)
    trainer.config.save(os.path.join(out, "config.json"))
    metrics.to_json(os.path.join(out, "metrics.json"))
    mat = trainer.material
    summary = {
        "name": trainer.config.name,
        "epochs": trainer.state.epoch,
        "stop_reason": trainer.state.stop_reason,
        "final_loss": metrics.final_loss(),
        "material": mat,
        "wall_time_s": wall,
    }
    truth = trainer.data.truth
    if truth is not None:
        summary["truth"] = dict(zip(("lam", "mu", "rho"), truth))
        summary["relative_error"] = {k: mat[k] / t - 1 for k, t in zip(("lam", "mu", "rho"), truth)}
    _write_json(os.path.join(out, "summary.json"), summary)
    return summary


def _print_summary(summary):
    mat, err = summary["material"], summary.get("relative_error", {})
    for name in ("lam", "mu", "rho"):
        line = f"{name:>4} = {mat[name]:.6g}"
        if name in err:
            line += f"   (truth {summary['truth'][name]:.6g}, relative error {100 * err[name]:+.3f}%)"
        print(line)
    print(f"final loss {summary['final_loss']:.4e}, {summary['epochs']} epochs ({summary['stop_reason']}), "
          f"wall time {summary['wall_time_s']:.1f} s")


def cmd_demo(args):
    from pinnlite.training.problems import DEFAULT_WAVES, plane_waves
    from pinnlite.training.trainer import Trainer

    lam, mu, rho = DEMO_TRUTH
    data, _ = plane_waves(lam, mu, rho, n_sensors=2000, noise=args.noise, rng=args.seed)
    cfg = demo_config(args.epochs, args.seed, args.threads)
    cfg.checkpoint.directory = os.path.join(args.out, "checkpoints")
    data.save_npz(os.path.join(_mkdir(args.out), "data.npz"))
    print(f"pinnlite demo: P + S plane waves in the unit square, t in [0, 1], lam={lam}, mu={mu}, rho={rho} (fixed);")
    print(f"{len(data.sensor_points)} displacement sensors, noise {100 * args.noise:g}%, "
          f"starting from lam={cfg.material.lam}, mu={cfg.material.mu}")
    t0 = time.perf_counter()
    trainer = Trainer(None, cfg)
    metrics = trainer.train(data)
    summary = _finish_run(trainer, metrics, args.out, time.perf_counter() - t0)
    summary["waves"] = [dict(w.__dict__) for w in DEFAULT_WAVES]
    _write_json(os.path.join(args.out, "summary.json"), summary)
    _print_summary(summary)
    print(f"run written to {args.out}")
    return 0


def _mkdir(path):
    os.makedirs(path, exist_ok=True)
    return path


def _comm(args):
    """MPI.COMM_WORLD when started by an MPI launcher (or --mpi), else None."""
    from pinnlite.training import distributed

    if args.mpi or distributed.launched_by_mpi():
        return distributed.world()
    return None


def cmd_train(args):
    from pinnlite.training import distributed
    from pinnlite.training.config import Config
    from pinnlite.training.data import TrainingData
    from pinnlite.training.trainer import Trainer

    comm = _comm(args)
    root = comm is None or comm.Get_rank() == 0
    with distributed.abort_on_error(comm):
        cfg = Config.load(args.config)
        if args.threads is not None:
            cfg = cfg.replace(**{"training.threads": args.threads})
        if cfg.checkpoint.directory is None:
            cfg = cfg.replace(**{"checkpoint.directory": os.path.join(args.out, "checkpoints")})
        data = TrainingData.from_npz(args.data)
        if root:
            data.save_npz(os.path.join(_mkdir(args.out), "data.npz"))
        t0 = time.perf_counter()
        trainer = Trainer(None, cfg, comm=comm)
        metrics = trainer.train(data)
        if root:
            _print_summary(_finish_run(trainer, metrics, args.out, time.perf_counter() - t0))
    return 0


def cmd_resume(args):
    from pinnlite.training import distributed
    from pinnlite.training.trainer import Trainer

    comm = _comm(args)
    with distributed.abort_on_error(comm):
        trainer = Trainer.load_checkpoint(args.directory, comm=comm)
        if args.epochs is not None:
            trainer.config = trainer.config.replace(**{"training.epochs": args.epochs})
        if args.threads is not None:
            from pinnlite.engine.loss import Workspace

            trainer._ws = Workspace(args.threads)
        t0 = time.perf_counter()
        metrics = trainer.train()
        if comm is None or comm.Get_rank() == 0:
            out = os.path.dirname(os.path.abspath(args.directory.rstrip(os.sep)))
            _print_summary(_finish_run(trainer, metrics, out, time.perf_counter() - t0))
    return 0


def _checkpoint_file(path):
    """A checkpoint file, or the latest one when ``path`` is a checkpoint directory."""
    from pinnlite.io import checkpoint

    return checkpoint.latest(path) if os.path.isdir(path) else path


def cmd_inspect(args):
    import numpy as np

    from pinnlite.io import checkpoint

    args.checkpoint = _checkpoint_file(args.checkpoint)
    report = checkpoint.verify(args.checkpoint)
    tree = checkpoint.read(args.checkpoint)
    s = checkpoint.summary(tree)
    print(f"file: {args.checkpoint}")
    print(f"format {'.'.join(map(str, report.version))}, written by pinnlite {report.meta.get('pinnlite_version')} "
          f"at {report.meta.get('created')}, kind {s['kind']}")
    a = s["architecture"]
    print(f"architecture: hidden {a['hidden']}, {a['activation']}, {a['dtype']}, bounds {a['bounds']}, "
          f"output scale {a['output_scale']}")
    if "epoch" in s:
        print(f"epoch {s['epoch']}, step {s['step']}" + (f", stopped: {s['stop_reason']}" if s.get("stop_reason") else ""))
    if "last" in s:
        last = s["last"]
        terms = ", ".join(f"{k} {last[k]:.4e}" for k in ("pde", "boundary", "traction", "initial", "initial_velocity", "data")
                          if k in last and np.isfinite(last[k]))
        print(f"loss {last['loss']:.6e} ({terms})")
    mat = tree.get("material")
    if isinstance(mat, dict):
        vals = mat.get("values", mat)
        print("material: " + ", ".join(f"{k} = {vals[k]:.6g}" for k in ("lam", "mu", "rho") if k in vals)
              + (f" (free: {', '.join(mat['free'])})" if "free" in mat else ""))
    print(f"{'array':<40} {'dtype':>9} {'shape':>16} {'bytes':>10} {'crc32':>10}")
    for info in report.arrays:
        print(f"{'/'.join(map(str, info.path)):<40} {info.dtype:>9} {str(tuple(info.shape)):>16} {info.nbytes:>10} {info.crc32:>10x}")
    return 0


def cmd_verify(args):
    from pinnlite.io import checkpoint

    failed = 0
    for path in args.checkpoints:
        try:
            path = _checkpoint_file(path)
            report = checkpoint.verify(path)
            print(f"ok      {path} ({len(report.arrays)} arrays, {report.file_length} bytes)")
        except (checkpoint.CheckpointError, OSError) as e:
            failed += 1
            print(f"FAILED  {path}: {type(e).__name__}: {e}")
    return 1 if failed else 0


def cmd_convert(args):
    """Rewrite a checkpoint of any readable format version as the current one (same tree and meta)."""
    from pinnlite.io import container

    old, report = container.convert_file(args.source, args.destination)
    print(f"converted {args.source} (format {old[0]}.{old[1]}) to {args.destination} (format "
          f"{report.version[0]}.{report.version[1]}, {len(report.arrays)} arrays, {report.file_length} bytes); "
          f"the values read back identical, head digest {report.sha256}")
    return 0


def cmd_export(args):
    from pinnlite.io import checkpoint
    from pinnlite.training.metrics import COLUMNS

    tree = checkpoint.read(_checkpoint_file(args.checkpoint))
    if args.config:
        if "config" not in tree:
            raise SystemExit(f"{args.checkpoint}: a {tree['kind']} file holds no config")
        _write_json(args.config, tree["config"])
    if args.metrics:
        m = tree.get("metrics")
        if not isinstance(m, dict):
            raise SystemExit(f"{args.checkpoint}: a {tree['kind']} file holds no metrics")
        _write_json(args.metrics, {c: [None if v != v else v for v in m[c].tolist()] for c in COLUMNS if c in m})
    if not (args.config or args.metrics):
        json.dump(checkpoint.summary(tree), sys.stdout, indent=1, default=str)
        print()
    return 0


def cmd_plot(args):
    try:
        from pinnlite.plotting import plot_run
    except ImportError as e:
        print(f"pinnlite plot needs matplotlib ({e}); install it with: python -m pip install 'pinnlite[plot]'",
              file=sys.stderr)
        return 2
    for path in plot_run(args.run_dir):
        print(path)
    return 0


def cmd_example(args):
    """Evaluate the loss and its gradient on exact plane waves, and check the gradient."""
    import numpy as np

    from pinnlite.training.model import ElasticPINN2D
    from pinnlite.training.problems import plane_waves
    from pinnlite.engine.terms import Material, PointSets
    from pinnlite.testing import check_grads

    data, exact = plane_waves(n_sensors=args.points // 8, rng=args.seed)
    rng = np.random.default_rng(args.seed)
    X = rng.uniform(0, 1, (args.points, 3))
    points = PointSets(collocation=X, data=data.sensor_points, data_values=data.sensor_values)
    model = ElasticPINN2D([32, 32, 32], rng=rng)
    material = Material(lam=4.0, mu=0.5, rho=1.0)
    res = model.loss_and_grad(points, material)
    print(f"model: {model}")
    print("loss terms: " + ", ".join(f"{k} = {v:.6g}" for k, v in res.terms.items()))
    print(f"total = {res.total:.6g}, |grad| = {np.linalg.norm(res.grad):.6g}, "
          f"dL/dlam = {res.grad_material['lam']:.6g}, dL/dmu = {res.grad_material['mu']:.6g}")
    f = lambda p: ElasticPINN2D.from_arch(model.arch, p).loss_and_grad(points, material, need_grad=False).total  # noqa: E731
    err = check_grads(f, model.params, res.grad, directions=3, rng=rng)
    print(f"gradient vs finite differences along 3 random directions: max relative error {err:.2e}")
    return 0


def build_parser():
    ap = argparse.ArgumentParser(prog="pinnlite", description="Physics-informed neural networks for 2D elastic waves.")
    ap.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("demo", help="recover lam and mu from plane-wave displacement data")
    p.add_argument("--noise", type=float, default=0.0, help="relative noise level of the sensor data (e.g. 0.01)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=2500, help="epochs (Adam for the first 1000, then L-BFGS)")
    p.add_argument("--out", default="pinnlite-demo", help="run directory (default ./pinnlite-demo)")
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("train", help="train from a config file and a data file")
    p.add_argument("config", help="config file (.toml or .json)")
    p.add_argument("--data", required=True, help="TrainingData .npz file")
    p.add_argument("--out", default="run", help="run directory (default ./run)")
    p.add_argument("--threads", type=int, default=None, help="threads per process (per MPI rank)")
    p.add_argument("--mpi", action="store_true", help="train data-parallel over MPI ranks (automatic under mpiexec/srun)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("resume", help="continue a run from its latest checkpoint")
    p.add_argument("directory", help="checkpoint directory")
    p.add_argument("--epochs", type=int, default=None, help="train to this many epochs instead")
    p.add_argument("--threads", type=int, default=None, help="threads per process (per MPI rank)")
    p.add_argument("--mpi", action="store_true", help="resume data-parallel over MPI ranks (automatic under mpiexec/srun)")
    p.set_defaults(func=cmd_resume)

    p = sub.add_parser("plot", help="PNG plots of a run (needs the 'plot' extra)")
    p.add_argument("run_dir")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("inspect", help="version, epoch, losses, material and arrays of a checkpoint")
    p.add_argument("checkpoint", help="a checkpoint file, or a directory (its latest checkpoint)")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("verify", help="check checkpoints; non-zero exit on any problem")
    p.add_argument("checkpoints", nargs="+", help="checkpoint files or directories (their latest checkpoint)")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("convert", help="rewrite a checkpoint (format 1.x or 2.x) in the current format 2.0")
    p.add_argument("source", help="the checkpoint file to read; it is verified first")
    p.add_argument("destination", help="the file to write (may be the source: it is replaced atomically)")
    p.set_defaults(func=cmd_convert)

    p = sub.add_parser("export", help="write a checkpoint's config and/or metrics as JSON")
    p.add_argument("checkpoint")
    p.add_argument("--config", help="write the config to this JSON file")
    p.add_argument("--metrics", help="write the metrics history to this JSON file")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("example", help="evaluate the loss and its gradient once")
    p.add_argument("--points", type=int, default=2048)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_example)
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=(logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    from pinnlite.errors import PinnliteError

    try:
        return args.func(args)
    except (PinnliteError, OSError) as e:  # OSError: a file named on the command line is missing or unreadable
        print(f"pinnlite {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        return 1 if args.command in ("verify", "inspect", "resume", "export") else 2


if __name__ == "__main__":
    sys.exit(main())
