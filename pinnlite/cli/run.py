"""The commands that train: ``demo``, ``train`` and ``resume``.

Each writes one run directory (:mod:`pinnlite.training.rundir`): ``--out``
decides where (a config's own ``checkpoint.directory`` never does), a
directory that already holds a run is refused unless ``--overwrite`` removes
it first, and ``summary.json`` is written when training starts and again when
it ends. SIGINT and SIGTERM stop after the current step with a checkpoint and
exit status 130 or 143 (:mod:`pinnlite.training.signals`).
"""

import contextlib
import logging
import math
import os
import sys
import time
import warnings

from pinnlite.training import distributed, resolution, rundir, signals
from pinnlite.training.config import RESUMABLE, RESUMABLE_TRAINING, Config, ConfigError, switches
from pinnlite.training.config_format import parse_value
from pinnlite.training.model import hidden_widths, uses_pressure

log = logging.getLogger("pinnlite")

DEMO_TRUTH = (2.0, 1.0, 1.0)


def demo_config(epochs=None, seed=0, threads=None):
    """The built-in inverse problem's configuration: ``Config()`` and what the problem states.

    The solver settings are the defaults; the demo adds only the initial guesses
    (off by a factor of two), that rho is known, the seed, the threads and, when
    given, the number of epochs.
    """
    cfg = Config(name="demo")
    if epochs is not None:
        cfg.training.epochs = epochs
    cfg.training.seed = seed
    cfg.training.threads = threads
    cfg.material.lam, cfg.material.mu, cfg.material.rho = 4.0, 0.5, 1.0  # guesses off by 2x
    cfg.material.optimize_rho = False
    return cfg.validate()


# ---------------------------------------------------------------- options


def overrides(items):
    """Dict dotted key -> value of ``--set SECTION.FIELD=VALUE`` options (values read by parse_value)."""
    out = {}
    for item in items or ():
        key, eq, text = item.partition("=")
        key = key.strip()
        if not eq or not key or ("." not in key and key != "name"):
            raise ConfigError(f"--set: expected SECTION.FIELD=VALUE (e.g. optimizer.lr=1e-3), found {item!r}")
        out[key] = parse_value(text.strip())
    return out


def configured(cfg, changes, source):
    """``cfg`` with ``changes`` (--set, --threads); ``source`` names the config in errors."""
    try:
        return cfg.replace(**changes)
    except ConfigError as e:
        raise ConfigError(f"{e} (in {source})") from None


def _comm(args):
    """MPI.COMM_WORLD when started by an MPI launcher (or --mpi), else None."""
    if args.mpi or distributed.launched_by_mpi():
        return distributed.world()
    return None


def _root(comm):
    return comm is None or comm.Get_rank() == 0


def _progress(args):
    return False if args.quiet else None


class RunExists(ConfigError):
    """``--out`` names a directory that already holds a run."""


def _claim(out, overwrite, command, comm):
    """Refuse ``out`` when it holds a run, or clear it with --overwrite (rank 0 decides for all)."""
    message = None
    if _root(comm):
        found = rundir.run_files(out)
        if found and not overwrite:
            names = ", ".join(n + "/" if os.path.isdir(os.path.join(out, n)) else n for n in found)
            if rundir.SUMMARY in found or rundir.CHECKPOINTS in found:
                message = (f"{out} already holds a run ({names}); nothing was changed. Continue it with "
                           f"'pinnlite resume {out}', choose another --out, or add --overwrite to remove "
                           f"the old run first.")
            else:  # e.g. the user's own config.json and data.npz: no run to resume
                message = (f"{out} holds files that a run writes ({names}); nothing was changed. Choose another "
                           f"--out (a new directory), or add --overwrite to replace them.")
        elif found:
            rundir.clear(out)
            log.warning("--overwrite: removed the old run in %s (%s)", out, ", ".join(found))
    message = distributed.broadcast(comm, message)
    if message is not None:
        raise RunExists(message)


def _own_checkpoints(cfg, out, source):
    """``cfg`` with the run's checkpoints in ``out/checkpoints``, whatever it named."""
    here = rundir.checkpoint_dir(out)
    given = cfg.checkpoint.directory
    if given is not None and os.path.abspath(given) != os.path.abspath(here):
        log.warning("checkpoint.directory = %r in %s is not used: the run's checkpoints go to %s (--out decides)",
                    given, source, here)
    return cfg.replace(**{"checkpoint.directory": here})


# ---------------------------------------------------------------- one session


class Session:
    """One process's part of a run: its summary entry, the files at the start and at the end."""

    def __init__(self, out, name, comm, threads, trainer_epoch=0, problem=None, previous=None, files=True):
        # files False: out is a checkpoint directory outside a run directory; nothing but the
        # checkpoints is written (the summary is still made, for the lines printed at the end)
        self.out, self.name, self.comm, self.files = out, name, comm, files
        self.root = _root(comm)
        ranks = 1 if comm is None else comm.Get_size()
        earlier = (previous or {}).get("sessions") or []
        self.problem = problem if problem is not None else (previous or {}).get("problem")
        self.sessions = [s for s in earlier if isinstance(s, dict)] + [rundir.new_session(threads, ranks, trainer_epoch)]
        self.t0 = time.perf_counter()

    def start(self, config, data=None, trainer=None):
        if not self.root or not self.files:
            return
        os.makedirs(self.out, exist_ok=True)
        rundir.portable(config).save(os.path.join(self.out, rundir.CONFIG))
        if data is not None:
            data.save_npz(os.path.join(self.out, rundir.DATA))
        self._write(trainer, "running")

    @contextlib.contextmanager
    def recording(self):
        """Keep every warning shown while the block runs in this session's summary entry (and still show it)."""
        shown, record = warnings.showwarning, self.sessions[-1].setdefault("warnings", [])

        def show(message, category, *args, **kwargs):
            record.append({"warning": category.__name__, "message": str(message)})
            shown(message, category, *args, **kwargs)

        warnings.showwarning = show
        try:
            yield
        finally:
            warnings.showwarning = shown

    def end(self, trainer, status, exit_status):
        if not self.root:
            return None
        epoch = trainer.state.epoch if trainer.state is not None else None
        rundir.end_session(self.sessions[-1], time.perf_counter() - self.t0, epoch, exit_status)
        # the config the run ran with: the trainer may have changed its own (dense BFGS over
        # optimizer.bfgs_max_size values becomes L-BFGS, with a DenseSizeWarning)
        if self.files:
            rundir.portable(trainer.config).save(os.path.join(self.out, rundir.CONFIG))
            rundir.write_metrics(self.out, trainer.metrics)
        return self._write(trainer, status)

    def _write(self, trainer, status):
        s = rundir.summary(name=self.name, sessions=self.sessions, problem=self.problem, trainer=trainer, status=status)
        if self.files:
            rundir.write_json(os.path.join(self.out, rundir.SUMMARY), s)
        return s


def _train(trainer, session, data=None):
    """Train, then write the run's files and print what it found; returns the exit status."""
    try:
        with session.recording():
            trainer.train(data)
    except signals.Interrupted as e:
        e.checkpoint = e.checkpoint or trainer.last_checkpoint
        if trainer.state is not None:  # the run's files say where it stopped, not "running" (a few ms)
            try:
                session.end(trainer, "interrupted", signals.exit_status(e.signum))
            except (OSError, signals.Interrupted):  # a failing disk, or a third signal: the message matters
                pass
        raise
    except BaseException:
        if trainer.state is not None:
            try:
                session.end(trainer, "failed", 1)
            except OSError:  # e.g. the disk that failed the checkpoints: the original error matters
                pass
        raise
    sig = trainer.stop_signal
    status = 0 if sig is None else signals.exit_status(sig)
    summary = session.end(trainer, "interrupted" if sig is not None else "finished", status)
    if summary is not None:
        print_summary(summary)
        if sig is not None:
            print(f"interrupted by {signals.name(sig)} at epoch {trainer.state.epoch} of "
                  f"{trainer.config.training.epochs}; saved {trainer.last_checkpoint}; "
                  f"continue with: pinnlite resume {session.out}")
        elif session.files:
            print(f"run written to {session.out}")
        else:
            print(f"checkpoints written to {session.out}; it is not the {rundir.CHECKPOINTS}/ of a run directory, "
                  f"so no {rundir.CONFIG}, {rundir.SUMMARY} or metrics were written beside it "
                  f"('pinnlite export' reads them from a checkpoint)")
    return status


def print_summary(summary):
    """The material found (relative errors of the free parameters when the truth is known), loss, time."""
    mat, truth, err = summary["material"], summary.get("truth", {}), summary.get("relative_error", {})
    std = (summary.get("uncertainty") or {}).get("std", {})
    for name in ("lam", "mu", "rho"):
        line = f"{name:>4} = {mat[name]:<10.6g}" + (f" +- {std[name]:.2g} (1 sigma)" if name in std else "")
        if name not in summary["free"]:
            line += "   (fixed, not trained)"
        elif name in summary.get("maps", {}):
            m = summary["maps"][name]
            line += f"   (mean of the map, from {m['min']:.4g} to {m['max']:.4g})"
            if m.get("resolution"):
                line += "\n" + resolution_line(name, m["resolution"])
        elif name in err:
            line += f"   (truth {truth[name]:.6g}, relative error {100 * err[name]:+.3f}%)"
        print(line)
    caveats = sorted({w["warning"] for w in summary.get("warnings", ())})
    if caveats and std:
        print(f"      (the error bars assume a run that fitted its data; this one warned: {', '.join(caveats)})")
    extra = f", validation misfit {summary['validation']:.4e}" if "validation" in summary else ""
    print(f"final loss {summary['final_loss']:.4e}{extra}, {summary['epochs']} epochs ({summary['stop_reason']}), "
          f"wall time {summary['wall_time_s']:.1f} s")


def resolution_line(name, res):
    """How well the waves determine the map ``name``, from its summary's ``resolution`` entry (two lines)."""
    cells = f"{len(res['x_edges']) - 1} x {len(res['y_edges']) - 1}"
    text = (f"       ambiguity {_percent(res['median_ambiguity'])} per cell (median of {cells}, worst "
            f"{_percent(res['max_ambiguity'])}): a change of {name} that large,\n"
            f"       uniform over a cell, changes the PDE residual there as much as the fit leaves")
    if res["undetermined_cells"]:
        text += (f";\n       {res['undetermined_cells']} cells undetermined ({name} carries under "
                 f"{resolution.UNDETERMINED:g} of their force balance)")
    return text


def _percent(value):
    if value is None or not math.isfinite(value):
        return "unbounded"
    return f"{100 * value:.0f}%" if value >= 1 else f"{100 * value:.2g}%"  # 1500%, not 1.5e+03%


# ---------------------------------------------------------------- the commands


def cmd_demo(args):
    from pinnlite.training.problems import DEFAULT_WAVES, plane_waves

    args.noise = 0.0 if args.noise is None else args.noise
    lam, mu, rho = DEMO_TRUTH
    data, _ = plane_waves(lam, mu, rho, n_sensors=2000, noise=args.noise, rng=args.seed)
    problem = {"kind": "plane_waves", "waves": [dict(w.__dict__) for w in DEFAULT_WAVES],
               "truth": dict(zip(("lam", "mu", "rho"), DEMO_TRUTH))}
    _, status = run_demo(args, demo_config(args.epochs, args.seed, args.threads), data, problem,
                         "pinnlite demo: recover lam and mu from displacement measurements",
                         lambda cfg, threads: _demo_rows(cfg, data, args, threads))
    return status


def run_demo(args, cfg, data, problem, title, rows):
    """A demo's run: ``cfg`` with ``--set``, checkpoints in ``--out``, the data checked before the run
    directory is claimed, ``title`` and ``rows(cfg, threads)`` (label, text) printed, then training;
    returns ``(trainer, exit status)``."""
    from pinnlite.training.trainer import Trainer

    cfg = configured(cfg, overrides(args.set), "the demo")
    cfg = _own_checkpoints(cfg, args.out, "the demo's config")
    trainer = Trainer(None, cfg, progress=_progress(args))
    trainer.check_data(data)
    _claim(args.out, args.overwrite, "demo", None)
    session = Session(args.out, cfg.name, None, trainer.threads, problem=problem)
    print(title)
    for key, value in rows(cfg, trainer.threads):
        print(f"  {key:<12}{value}")
    session.start(cfg, data)
    return trainer, _train(trainer, session, data)


def _demo_rows(cfg, data, args, threads):
    m, o, a = cfg.material, cfg.optimizer, cfg.architecture
    lam, mu, rho = DEMO_TRUTH
    free = [n for n in ("lam", "mu", "rho") if getattr(m, "optimize_" + n)]
    fixed = [f"{n} = {getattr(m, n):g}" for n in ("lam", "mu", "rho") if n not in free]
    variants = {"ssbroyden": "SSBroyden", "ssbfgs": "SSBFGS", "bfgs": "BFGS"}  # self-scaled Broyden / BFGS
    names = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "lbfgs": "L-BFGS",
             "bfgs": f"dense {variants[o.bfgs_variant]}", "lm": "Levenberg-Marquardt"}
    epochs = cfg.training.epochs
    widths = " x ".join(map(str, hidden_widths(cfg, data.n_sensor_values())))
    if switches(cfg) and o.switch_after == 0 < epochs:
        phases = f"{names[o.second_order]} for {epochs} epochs (no first-order warm-up)"
    elif switches(cfg) and o.switch_after < epochs:
        phases = f"{names[o.kind]} (lr {o.lr:g}) for {o.switch_after} epochs, then {names[o.second_order]} to epoch {epochs}"
    else:
        phases = f"{names[o.kind]}" + (f" (lr {o.lr:g})" if o.kind in ("sgd", "adam", "adamw") else "") + f" for {epochs} epochs"
    rows = [
        ("problem", "P and S plane waves in the unit square, t in [0, 1]"),
        ("truth", f"lam = {lam:g}, mu = {mu:g}, rho = {rho:g}"),
        ("trained", ", ".join(f"{n} from {getattr(m, n):g}" for n in free) + (f"; fixed: {', '.join(fixed)}" if fixed else "")),
        ("data", f"{len(data.sensor_points)} displacement sensors, noise {100 * args.noise:g}%, seed {args.seed}"),
        ("network", f"hidden layers {widths} ({a.activation}), "
                    f"{cfg.sampling.n_collocation} collocation points ({cfg.sampling.strategy})"),
        ("optimizer", phases),
        ("threads", str(threads)),
        ("writing to", f"{args.out}/ (config, data, checkpoints, metrics, summary)"),
    ]
    return rows


def cmd_train(args):
    from pinnlite.training.data import TrainingData
    from pinnlite.training.trainer import Trainer

    comm = _comm(args)
    with distributed.abort_on_error(comm):
        cfg = Config.load(args.config)
        changes = overrides(args.set)
        if args.threads is not None:
            changes["training.threads"] = args.threads
        # the file has loaded (its own errors name it): what fails now came from --set
        cfg = _own_checkpoints(configured(cfg, changes, f"--set, over {args.config}"), args.out, args.config)
        data = TrainingData.from_npz(args.data)
        trainer = Trainer(None, cfg, progress=_progress(args), comm=comm)
        trainer.check_data(data)  # before anything is written
        try:
            _claim(args.out, args.overwrite, "train", comm)
        except RunExists as e:  # every rank has it (rank 0 decided for all): no MPI abort needed
            if _root(comm):
                print(f"pinnlite train: RunExists: {e}", file=sys.stderr)
            return 2
        session = Session(args.out, cfg.name, comm, trainer.threads)
        if session.root:
            print(f"pinnlite train: {cfg.name} from {args.config} on {args.data}, writing to {args.out}/")
            if uses_pressure(cfg):
                print(f"  mixed form (lam / mu = {cfg.material.lam / cfg.material.mu:.3g}): the network "
                      f"also outputs the pressure")
        session.start(cfg, data)
        return _train(trainer, session, data)


def _finished_message(run, trainer):
    st, t = trainer.state, trainer.config.training
    reason = st.stop_reason
    msg = f"{run} is finished: epoch {st.epoch} of {t.epochs}, stopped: {reason}. To train further: "
    if reason.startswith("early stop"):
        return msg + (f"pinnlite resume {run} --set training.patience=N (more than {t.patience}) or "
                      f"--set training.patience=none, with --epochs N to go beyond epoch {t.epochs}.")
    if reason.startswith("target loss"):
        return msg + (f"pinnlite resume {run} --set training.target_loss=X (below {t.target_loss:g}) or "
                      f"--set training.target_loss=none, with --epochs N to go beyond epoch {t.epochs}.")
    if reason.startswith("settled"):
        return msg + (f"pinnlite resume {run} --set training.settle_tolerance=X (below {t.settle_tolerance:g}) or "
                      f"--set training.settle_epochs=0, with --epochs N to go beyond epoch {t.epochs}.")
    hint = " (its optimizer has converged: more epochs will change little)" if "converged" in reason else ""
    return msg + f"pinnlite resume {run} --epochs N, with N > {st.epoch}{hint}."


def _resume_changes(args, trainer):
    """The config of the resumed run, with --set and --epochs, or an error that says what to do."""
    changes = overrides(args.set)
    configured(trainer.config, changes, "--set")  # an unknown key is named as such (with the closest), not as frozen
    for key in changes:
        section, _, name = key.partition(".")
        ok = section in RESUMABLE or (section == "training" and name in RESUMABLE_TRAINING)
        if not ok or key == "checkpoint.directory":
            raise ConfigError(
                f"--set {key}: cannot change in a resumed run (the network, material, sampling, scales, "
                f"units and validation split are part of its state); allowed: "
                f"{', '.join(s + '.*' for s in RESUMABLE if s != 'checkpoint')}, checkpoint.* but directory, "
                f"training.{{{','.join(RESUMABLE_TRAINING)}}}. Start a new run with 'pinnlite train' instead.")
    st, cfg = trainer.state, trainer.config
    if args.epochs is not None:
        if args.epochs <= st.epoch:
            raise ConfigError(f"--epochs {args.epochs}: the run is at epoch {st.epoch}; give more than "
                              f"{st.epoch} epochs to extend it")
        changes["training.epochs"] = args.epochs
    new = cfg.replace(**changes)
    switch, epochs = new.optimizer.switch_after, new.training.epochs
    if switches(new) and epochs <= switch and st.epoch < switch:
        log.warning("--epochs %d: the run stays first-order, it switches to %s after epoch %d; give --epochs %d "
                    "or more to get there, or --set optimizer.switch_after=%d to switch now",
                    epochs, new.optimizer.second_order, switch, switch + 1, st.epoch)
    return new


def cmd_resume(args):
    from pinnlite.training.trainer import Trainer

    comm = _comm(args)
    with distributed.abort_on_error(comm):
        run, ckdir, path = rundir.locate(args.path)
        trainer = Trainer.load_checkpoint(path=path, progress=_progress(args), comm=comm)  # names the file
        st = trainer.state
        finished = st.stop_reason and not st.stop_reason.startswith("interrupted")
        if (finished or st.epoch >= trainer.config.training.epochs) and args.epochs is None and not args.set:
            if _root(comm):
                print(_finished_message(args.path if run is None else run, trainer))
            return 0
        trainer.config = _resume_changes(args, trainer)
        trainer.set_threads(args.threads)
        previous = rundir.read_summary(run) if _root(comm) and run is not None else None
        session = Session(ckdir if run is None else run, trainer.config.name, comm, trainer.threads, st.epoch,
                          previous=previous, files=run is not None)
        if session.root:
            print(f"resuming {path} at epoch {st.epoch} of {trainer.config.training.epochs}")
        session.start(trainer.config, trainer=trainer)
        return _train(trainer, session)
