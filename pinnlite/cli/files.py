"""The commands that read files: ``inspect``, ``verify``, ``export``, ``config``, ``plot``, ``example``."""

import os
import sys

from pinnlite.io.errors import naming
from pinnlite.training.config import Config, ConfigError

TERM_ORDER = ("pde", "boundary", "traction", "initial", "initial_velocity", "data")


def _checkpoint_file(path):
    """A checkpoint file: ``path`` itself, or the latest one of a run or checkpoint directory."""
    from pinnlite.training import rundir

    return rundir.locate(path)[2] if os.path.isdir(path) else path


def loss_table(tree):
    """Rows (term, normalised value, weight, weighted value) of the last epoch of a training tree.

    One unit system: each term divided by its scale (:mod:`pinnlite.training.scaling`), so
    every value is dimensionless and the weighted values add up to the optimised total
    (exactly for a full-batch epoch; for mini-batches the epoch's means).
    """
    import numpy as np

    from pinnlite.training.scaling import Scales

    metrics, scales, config = tree.get("metrics"), tree.get("scales"), tree.get("config")
    if not (isinstance(metrics, dict) and isinstance(scales, dict) and isinstance(config, dict)):
        return []
    loss = metrics.get("loss")
    if not isinstance(loss, np.ndarray) or loss.size == 0:
        return []
    norm = Scales(**scales).normalisers()
    weights = config.get("loss_weights", {})
    adaptive = np.asarray(tree.get("adaptive_weights", {}).get("weights", np.ones(len(TERM_ORDER))), dtype=float)
    rows = []
    for i, term in enumerate(TERM_ORDER):
        values = metrics.get(term)
        if not isinstance(values, np.ndarray) or not np.isfinite(values[-1]):
            continue
        w = float(weights.get(term, 1.0)) * float(adaptive[i])
        normalised = float(values[-1]) / norm[term]
        rows.append((term, normalised, w, w * normalised))
    return rows


def cmd_inspect(args):
    import numpy as np

    from pinnlite.io import checkpoint
    from pinnlite.training import rundir
    from pinnlite.training.scaling import Scales

    path = _checkpoint_file(args.checkpoint)
    with naming(path):
        report = checkpoint.verify(path)
    tree = report.tree
    s = checkpoint.summary(tree)
    if args.json:
        out = dict(s, file=path, format=".".join(map(str, report.version)), meta=report.meta,
                   loss_terms=[dict(zip(("term", "normalised", "weight", "weighted"), r)) for r in loss_table(tree)],
                   arrays=[{"path": "/".join(map(str, a.path)), "dtype": a.dtype, "shape": list(a.shape),
                            "bytes": a.nbytes, "crc32": a.crc32} for a in report.arrays])
        sys.stdout.write(rundir.json_text(out))
        return 0
    print(f"file: {path}")
    print(f"format {'.'.join(map(str, report.version))}, written by pinnlite {report.meta.get('pinnlite_version')} "
          f"at {report.meta.get('created')}, kind {s['kind']}")
    a = s["architecture"]
    print(f"architecture: hidden {a['hidden']}, {a['activation']}, {a['dtype']}, bounds {a['bounds']}, "
          f"output scale {a['output_scale']}" + (" (u, v, p: with a pressure output)" if a.get("pressure") else ""))
    if "epoch" in s:
        epochs = tree.get("config", {}).get("training", {}).get("epochs")
        of = f" (training to epoch {epochs})" if epochs is not None else ""
        print(f"epoch {s['epoch']}, step {s['step']}" + (f", stopped: {s['stop_reason']}" if s.get("stop_reason") else "")
              + of)
    rows = loss_table(tree)
    if rows:
        total = float(tree["metrics"]["loss"][-1])
        print(f"loss of the last epoch, dimensionless (each term divided by its scale): total {total:.6e}")
        print(f"  {'term':<18}{'normalised':>14}{'weight':>12}{'weighted':>14}")
        for term, normalised, w, weighted in rows:
            print(f"  {term:<18}{normalised:>14.4e}{w:>12.4g}{weighted:>14.4e}")
        validation = tree["metrics"].get("validation")
        if isinstance(validation, np.ndarray) and np.isfinite(validation[-1]):
            norm = Scales(**tree["scales"]).normalisers()["data"]
            print(f"  {'validation':<18}{float(validation[-1]) / norm:>14.4e}   (held-out sensors, not trained on)")
    mat = tree.get("material")
    if isinstance(mat, dict):
        vals = mat.get("values", mat)
        print("material: " + ", ".join(f"{k} = {vals[k]:.6g}" for k in ("lam", "mu", "rho") if k in vals)
              + (f" (free: {', '.join(mat['free']) or 'none'})" if "free" in mat else "") + _units(tree))
    unc = tree.get("uncertainty")
    if isinstance(unc, dict) and isinstance(unc.get("std"), dict):
        print("error bars (1 sigma, Gauss-Newton): " + ", ".join(f"{k} +- {v:.3g}" for k, v in unc["std"].items())
              + f"; noise {unc['noise_sigma']:.3g} per sensor component, {unc['dof']:.0f} effective parameters")
    print(f"{'array':<40} {'dtype':>9} {'shape':>16} {'bytes':>10} {'crc32':>10}")
    for info in report.arrays:
        print(f"{'/'.join(map(str, info.path)):<40} {info.dtype:>9} {str(tuple(info.shape)):>16} {info.nbytes:>10} "
              f"{info.crc32:>10x}")
    return 0


def _units(tree):
    units = tree.get("config", {}).get("units") or {}
    parts = [f"{q} in {units[q]}" for q in ("modulus", "density") if units.get(q)]
    return f" ({', '.join(parts)})" if parts else ""


def _is_pointer(path):
    """Whether ``path`` is a readable file that does not start as a checkpoint does (a ``latest`` pointer)."""
    from pinnlite.io.spec import MAGIC

    try:
        with open(path, "rb") as f:
            return f.read(1) != MAGIC[:1]
    except OSError:
        return False


def cmd_verify(args):
    from pinnlite.io import checkpoint

    failed = 0
    for path in args.checkpoints:
        if os.path.basename(path) == checkpoint.LATEST and _is_pointer(path):
            # the pointer of a checkpoint directory (a `DIR/*` glob names it): one line naming a checkpoint there
            target = checkpoint.pointer(os.path.dirname(path) or ".")
            if target is None:
                failed += 1
                print(f"FAILED  {path}: the pointer names no ckpt-* file of its directory (a reader then takes "
                      "the newest good checkpoint, with a warning)")
            else:
                print(f"ok      {path} (the pointer to {os.path.basename(target)})")
            continue
        try:
            path = _checkpoint_file(path)
            report = checkpoint.verify(path)
            what = "SHA-256" if report.version[0] >= 2 else "trailer digest"  # docs/FORMAT.md 3.3, appendix A
            print(f"ok      {path} ({len(report.arrays)} arrays, {report.file_length} bytes, {what} {report.sha256})")
        except (checkpoint.CheckpointError, OSError) as e:
            failed += 1
            print(f"FAILED  {path}: {type(e).__name__}: {e}")
    return 1 if failed else 0


def cmd_convert(args):
    """Rewrite a checkpoint of any readable format version as the current one (same tree and meta)."""
    from pinnlite.io import container

    dest = args.destination
    if os.path.isdir(dest):
        raise ConfigError(f"DESTINATION: {dest} is a directory; name the file to write")
    same = os.path.exists(args.source) and os.path.exists(dest) and os.path.samefile(args.source, dest)
    if os.path.lexists(dest) and not same and not args.overwrite:  # SOURCE and DESTINATION swapped would lose one
        raise ConfigError(f"DESTINATION: {dest} already exists; nothing was changed. Name a new file, give SOURCE "
                          "itself to convert in place, or add --overwrite to replace it")
    with naming(args.source):
        old, report = container.convert_file(args.source, dest)
    print(f"converted {args.source} (format {old[0]}.{old[1]}) to {args.destination} (format "
          f"{report.version[0]}.{report.version[1]}, {len(report.arrays)} arrays, {report.file_length} bytes); "
          f"the values read back identical, SHA-256 {report.sha256}")
    return 0


def cmd_export(args):
    from pinnlite.io import checkpoint
    from pinnlite.training import rundir
    from pinnlite.training.metrics import Metrics

    path = _checkpoint_file(args.checkpoint)
    with naming(path):
        tree = checkpoint.read(path)
    if args.config:
        if "config" not in tree:
            raise ConfigError(f"{args.checkpoint}: a {tree['kind']} file holds no config")
        rundir.portable(Config.from_dict(tree["config"])).save(args.config)
    if args.metrics:
        if not isinstance(tree.get("metrics"), dict):
            raise ConfigError(f"{args.checkpoint}: a {tree['kind']} file holds no metrics")
        metrics = Metrics.from_arrays(tree["metrics"])
        suffix = os.path.splitext(args.metrics)[1].lower()
        if suffix not in (".json", ".csv"):
            raise ConfigError(f"--metrics: expected a .json or .csv file name, found {args.metrics!r}")
        (metrics.to_csv if suffix == ".csv" else metrics.to_json)(args.metrics)
    if not (args.config or args.metrics):
        sys.stdout.write(rundir.json_text(checkpoint.summary(tree)))
    return 0


def cmd_config(args):
    from pinnlite.cli.run import overrides
    from pinnlite.training.config_docs import commented_toml

    if args.defaults == (args.file is not None):
        raise ConfigError("config: expected either --defaults or a config file, found "
                          + ("both" if args.defaults else "neither"))
    cfg = Config() if args.defaults else Config.load(args.file)
    sys.stdout.write(commented_toml(cfg.replace(**overrides(args.set))))
    return 0


def cmd_plot(args):
    try:
        from pinnlite.plotting import plot_run
    except ImportError as e:
        print(f"pinnlite plot needs matplotlib ({e}); install it with: python -m pip install 'pinnlite[plot]'",
              file=sys.stderr)
        return 2
    with naming(args.run_dir):
        paths = plot_run(args.run_dir, out=args.out, fmt=args.format, times=args.times)
    for path in paths:
        print(path)
    return 0


def cmd_example(args):
    """Evaluate the loss and its gradient on exact plane waves, and check the gradient."""
    import numpy as np

    from pinnlite.engine.terms import Material, PointSets
    from pinnlite.testing import check_grads
    from pinnlite.training.model import ElasticPINN2D
    from pinnlite.training.problems import plane_waves

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
