"""The ``pinnlite`` command line: its parser and :func:`main`.

    pinnlite demo [--inclusion] [--noise 0] [--seed 0] [--epochs 10000] [--out pinnlite-demo] [--overwrite]
    pinnlite train CONFIG --data DATA.npz [--out run] [--overwrite]      (also under mpiexec -n K)
    pinnlite resume RUN_DIR | CHECKPOINT_DIR | CHECKPOINT [--epochs N]
    pinnlite plot RUN_DIR [--out DIR] [--format png|pdf|svg] [--times T ...]
    pinnlite inspect CHECKPOINT [--json]
    pinnlite verify CHECKPOINT [CHECKPOINT ...]
    pinnlite convert SOURCE DESTINATION
    pinnlite export CHECKPOINT [--config FILE.toml|.json] [--metrics FILE.json|.csv]
    pinnlite config --defaults | CONFIG
    pinnlite example

Every command that trains takes ``--threads N`` and ``--set SECTION.FIELD=VALUE``
(repeatable). ``-v``/``-q`` go before or after the command. Exit status: 0 on
success, 1 on a failed check (``verify``, ``convert``) or a failure while running, 2 on bad
input, 128 + the signal number after SIGINT (130) or SIGTERM (143), 141 when
the output pipe was closed (``pinnlite inspect CKPT | head``).
"""

import argparse
import logging
import os
import sys
import warnings

from pinnlite import __version__
from pinnlite.cli import files, maps, run
from pinnlite.training import signals
from pinnlite.training.config import Config, ConfigError

log = logging.getLogger("pinnlite")


class _Formatter(argparse.HelpFormatter):
    """Every option with a default shows it."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" in text or not action.option_strings or action.nargs == 0 or any(
                action.default is v for v in (None, False, argparse.SUPPRESS)):  # "is": 0 == False
            return text
        return text + " (default: %(default)s)"


def _version():
    from pinnlite.training.rundir import versions

    v = versions()
    return (f"pinnlite {__version__} (Python {v['python']}, NumPy {v['numpy']}, Numba {v['numba']}, "
            f"msgpack {v['msgpack']})")


class _VersionAction(argparse.Action):
    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(_version())
        parser.exit()


def _number(kind, low):
    """An argparse type: a ``kind`` (int or float) >= ``low``, refused with the option's name and the value."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not value >= low or value != value or value in (float("inf"), float("-inf")):
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'} >= {low:g}, "
                                             f"found {text!r}")
        return value
    parse.__name__ = kind.__name__  # argparse names the type in its own messages
    return parse


def _verbosity(parser, dest_suffix=""):
    parser.add_argument("-v", "--verbose", action="count", default=0, dest="verbose" + dest_suffix,
                        help="more log output (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", dest="quiet" + dest_suffix,
                        help="no progress display (warnings and results are still shown)")


def _training_options(p, out_default):
    p.add_argument("--out", default=out_default, metavar="DIR",
                   help="run directory; it holds the checkpoints too and must not hold a run already")
    p.add_argument("--overwrite", action="store_true", help="remove the run already in --out first")
    p.add_argument("--threads", type=_number(int, 1), default=None, metavar="N",
                   help="threads per process (per MPI rank); default: $PINNLITE_NUM_THREADS, else all CPUs")
    p.add_argument("--set", action="append", metavar="SECTION.FIELD=VALUE",
                   help="change one config field, e.g. --set optimizer.lr=1e-3 (repeatable; see pinnlite config "
                        "--defaults)")


def _demo(args):
    """``pinnlite demo``: the plane-wave problem, or with ``--inclusion`` the map of :mod:`pinnlite.cli.maps`."""
    return (maps.cmd_demo_inclusion if args.inclusion else run.cmd_demo)(args)


def build_parser():
    ap = argparse.ArgumentParser(
        prog="pinnlite", formatter_class=_Formatter,
        description="Physics-informed neural networks for 2D elastic-wave inverse problems: measure the "
                    "displacements of a vibrating body, get its Lame parameters back.",
        epilog="Run 'pinnlite COMMAND --help' for the options of a command.")
    ap.add_argument("--version", action=_VersionAction, help="print the versions of pinnlite and its dependencies")
    _verbosity(ap)
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    _verbosity(common, "_after")

    def command(name, summary, description, func):
        p = sub.add_parser(name, help=summary, description=description, parents=[common], formatter_class=_Formatter)
        p.set_defaults(func=func)
        return p

    p = command("demo", "recover lam and mu from plane-wave displacement data",
                "Train the built-in inverse problem: P and S plane waves in the unit square over t in [0, 1] "
                "with lam = 2, mu = 1 and rho = 1 (fixed), 2000 displacement sensors, starting guesses off by "
                "a factor of two, solved with Config()'s defaults (a dense self-scaled Broyden method with a "
                "strong-Wolfe line search). Prints the settings, the recovered lam and mu with their error bars and "
                "relative errors, and writes a run directory.", _demo)
    p.add_argument("--inclusion", action="store_true",
                   help="instead, recover a map of mu: soft tissue with a stiff disc, shear waves simulated by "
                        "pinnlite.simulate, 1%% noise (lam and rho known)")
    p.add_argument("--noise", type=_number(float, 0.0), default=None,
                   help="relative noise level of the sensor data, e.g. 0.01 (default: 0, or 0.01 with --inclusion)")
    p.add_argument("--seed", type=_number(int, 0), default=0, help="seed of the data, the network and the sampling")
    p.add_argument("--epochs", type=_number(int, 0), default=Config().training.epochs,
                   help="most epochs of the dense self-scaled Broyden method (after optimizer.switch_after epochs of "
                        "Adam, 0 by default); the run stops earlier once lam and mu have settled")
    _training_options(p, "pinnlite-demo")

    p = command("train", "train from a config file and a data file",
                "Train a network and the material parameters on measured data. CONFIG is a .toml or .json "
                "file (all fields: pinnlite config --defaults); DATA is a TrainingData .npz file. Under "
                "mpiexec or srun the run is data-parallel over the ranks.", run.cmd_train)
    p.add_argument("config", help="config file (.toml or .json)")
    p.add_argument("--data", required=True, metavar="DATA.npz", help="TrainingData .npz file")
    _training_options(p, "run")
    p.add_argument("--mpi", action="store_true", help="train data-parallel over MPI ranks (automatic under mpiexec/srun)")

    p = command("resume", "continue a run from its latest checkpoint",
                "Continue a run exactly where it stopped. PATH is a run directory, a checkpoint directory "
                "(its latest checkpoint) or a checkpoint file. A finished run says so; extend it with "
                "--epochs.", run.cmd_resume)
    p.add_argument("path", metavar="PATH", help="run directory, checkpoint directory or checkpoint file")
    p.add_argument("--epochs", type=_number(int, 0), default=None, metavar="N", help="train to epoch N instead")
    p.add_argument("--threads", type=_number(int, 1), default=None, metavar="N",
                   help="threads per process (per MPI rank); default: $PINNLITE_NUM_THREADS, else all CPUs")
    p.add_argument("--set", action="append", metavar="SECTION.FIELD=VALUE",
                   help="change a field of the " + ", ".join(s for s in run.RESUMABLE if s != "checkpoint")
                        + " or checkpoint sections (but checkpoint.directory), or training."
                        + "/".join(run.RESUMABLE_TRAINING) + " (repeatable)")
    p.add_argument("--mpi", action="store_true", help="resume data-parallel over MPI ranks (automatic under mpiexec/srun)")

    p = command("plot", "plots of a run (needs the 'plot' extra)",
                "Plot a run: the losses, the material parameters and their relative errors, and the "
                "displacement field at several times (next to the exact field and the error for a "
                "synthetic problem), with the sensors.", files.cmd_plot)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory, its checkpoints/ or one of their files")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="where to write the plots (default: RUN_DIR/plots; needed for checkpoints outside a run)")
    p.add_argument("--format", default="png", choices=("png", "pdf", "svg"), help="file format")
    p.add_argument("--times", type=float, nargs="+", default=None, metavar="T",
                   help="times of the field plots, in the run's time unit (default: three across the domain)")

    p = command("inspect", "version, epoch, losses, material and arrays of a checkpoint",
                "Show what a checkpoint holds: its format, the epoch, the loss of the last epoch term by "
                "term (dimensionless), the material, and every array with its checksum.", files.cmd_inspect)
    p.add_argument("checkpoint", help="a checkpoint file, or a run or checkpoint directory (its latest checkpoint)")
    p.add_argument("--json", action="store_true", help="print it as JSON")

    p = command("verify", "check checkpoints; non-zero exit on any problem",
                "Check every checksum and the structure of checkpoint files; exit status 1 if any fails.",
                files.cmd_verify)
    p.add_argument("checkpoints", nargs="+", metavar="CHECKPOINT",
                   help="checkpoint files (a `latest` pointer among them is checked as a pointer) or "
                        "run/checkpoint directories (their latest checkpoint)")

    p = command("convert", "rewrite a checkpoint (format 1.x or 2.x) in the current format 2.0",
                "Read a checkpoint of any readable format version, verify it, write the same tree and meta "
                "in the current format (atomically: DESTINATION may be SOURCE) and read it back to compare "
                "every value bit for bit.", files.cmd_convert)
    p.add_argument("source", metavar="SOURCE", help="the checkpoint file to read; it is verified first")
    p.add_argument("destination", metavar="DESTINATION",
                   help="the file to write (may be the source: it is replaced atomically); a new file "
                        "unless --overwrite")
    p.add_argument("--overwrite", action="store_true", help="replace DESTINATION if it exists")

    p = command("export", "write a checkpoint's config and/or metrics",
                "Write the config of a checkpoint (TOML or JSON by the suffix; without the checkpoint "
                "directory and thread count, so that it can start a new run) and its metrics (JSON or "
                "CSV); with neither, print a summary as JSON.", files.cmd_export)
    p.add_argument("checkpoint", help="a checkpoint file, or a run or checkpoint directory")
    p.add_argument("--config", metavar="FILE", help="write the config to this .toml or .json file")
    p.add_argument("--metrics", metavar="FILE", help="write the metrics history to this .json or .csv file")

    p = command("config", "print a config with every field's meaning",
                "Print a config as TOML with the comment of every field: the defaults (--defaults), or "
                "a config file with its defaults filled in.", files.cmd_config)
    p.add_argument("file", nargs="?", metavar="CONFIG", help="a .toml or .json config file")
    p.add_argument("--defaults", action="store_true", help="print the default config")
    p.add_argument("--set", action="append", metavar="SECTION.FIELD=VALUE", help="change one field (repeatable)")

    p = command("example", "evaluate the loss and its gradient once",
                "Evaluate the loss and its exact gradient on plane waves and compare the gradient with "
                "finite differences.", files.cmd_example)
    p.add_argument("--points", type=_number(int, 1), default=2048, help="collocation points")
    p.add_argument("--seed", type=_number(int, 0), default=0, help="random seed")
    return ap


def _show_warning(message, category, filename, lineno, file=None, line=None):
    log.warning("%s (%s)", message, category.__name__)


def _exit_code(command, error):
    from pinnlite.io.errors import CheckpointError
    from pinnlite.training.autosave import SaveError

    if isinstance(error, SaveError) or (isinstance(error, CheckpointError) and command != "train"):
        return 1
    if command == "convert" and isinstance(error, ConfigError):  # its arguments refused before anything was read
        return 2
    return 1 if command in ("verify", "convert") else 2


def _interrupted(command, e):
    """The message of a program stopped at once by a signal."""
    where = f"; the last good checkpoint is {e.checkpoint}" if e.checkpoint else ""
    if command in ("train", "demo", "resume"):
        what = "stopped at once by a second " if e.checkpoint or command == "resume" else "stopped by "
        return f"pinnlite {command}: {what}{signals.name(e.signum)}{where or '; no checkpoint was written'}"
    return f"pinnlite {command}: stopped by {signals.name(e.signum)}"


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    args.verbose = args.verbose + args.verbose_after
    args.quiet = args.quiet or args.quiet_after
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    level = (logging.WARNING, logging.INFO, logging.DEBUG)[min(args.verbose, 2)]
    saved = log.level, log.propagate, warnings.showwarning
    log.addHandler(handler)
    log.setLevel(level)
    log.propagate = False
    warnings.showwarning = _show_warning
    from pinnlite.errors import PinnliteError

    try:
        with signals.interrupt_at_once():
            status = args.func(args)
            sys.stdout.flush()
        return status
    except signals.Interrupted as e:
        print(_interrupted(args.command, e), file=sys.stderr)
        return signals.exit_status(e.signum)
    except BrokenPipeError:  # the reader of stdout went away (pinnlite inspect CKPT | head)
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 141
    except (PinnliteError, OSError) as e:  # OSError: a file named on the command line is missing or unreadable
        print(f"pinnlite {args.command}: {type(e).__name__}: {e}", file=sys.stderr)
        return _exit_code(args.command, e)
    finally:
        log.removeHandler(handler)
        log.setLevel(saved[0])
        log.propagate = saved[1]
        warnings.showwarning = saved[2]
