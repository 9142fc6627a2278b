"""Run directories: where one run keeps everything, and ``summary.json``.

A run directory (``pinnlite train ... --out DIR``) holds::

    config.json      the run's config, portable (no checkpoint directory, no thread count)
    data.npz         the training data
    checkpoints/     the run's checkpoints (ckpt-*.pinnlite, latest, best.pinnlite)
    metrics.json     the per-epoch history, one line per column
    metrics.csv      the same, one line per epoch
    summary.json     what the run found and what reproduces it (:func:`summary`)
    plots/           what ``pinnlite plot`` writes

Checkpoints always live in the run directory's ``checkpoints/``: a config
saved by a run carries no checkpoint directory (:func:`portable`), so a later
run started from it cannot write into this one. :func:`locate` finds the
checkpoint to continue from a run directory, a checkpoint directory or a
checkpoint file.

``summary.json`` is written when a run starts (``status`` ``"running"``) and
again when it ends; each ``train``/``demo``/``resume`` is one entry of its
``sessions`` (command line, host, threads, MPI ranks, start and end time,
wall time, the warnings it gave), and a resume keeps the earlier ones and the ``problem`` (the
waves and truth of a synthetic problem, which ``pinnlite plot`` needs). Its
``warnings`` are those of the session that wrote it, each ``{"warning": class
name, "message": text}``: a result that warned is not to be trusted as it
stands, and its error bars assume a fitted run. Every
file is replaced atomically (:func:`pinnlite.io.atomic.write_file`).
"""

import datetime
import importlib.metadata
import json
import math
import os
import platform
import shutil
import socket
import sys

import numpy as np

from pinnlite import __version__
from pinnlite.io import atomic, checkpoint
from pinnlite.io.errors import MissingFileError
from pinnlite.training import resolution
from pinnlite.training.validation import monitored

CONFIG, DATA, SUMMARY, METRICS_JSON, METRICS_CSV = "config.json", "data.npz", "summary.json", "metrics.json", "metrics.csv"
RESOLUTION_CELLS = 8  # cells along each side of the window in the summary's resolution
CHECKPOINTS, PLOTS = "checkpoints", "plots"
# what makes a directory a run directory, and what --overwrite removes
RUN_FILES = (CONFIG, DATA, SUMMARY, METRICS_JSON, METRICS_CSV, CHECKPOINTS, PLOTS)


def run_files(directory):
    """The names of :data:`RUN_FILES` present in ``directory`` (empty when it holds no run)."""
    return [name for name in RUN_FILES if os.path.lexists(os.path.join(directory, name))]


def clear(directory):
    """Remove the run files of ``directory`` (other files in it stay); returns their names."""
    names = run_files(directory)
    for name in names:
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.unlink(path)
    return names


def checkpoint_dir(directory):
    return os.path.join(directory, CHECKPOINTS)


def portable(config):
    """``config`` without what belongs to one machine or one run: checkpoint directory, thread count."""
    return config.replace(**{"checkpoint.directory": None, "training.threads": None})


def locate(path):
    """``(run directory, checkpoint directory, checkpoint file)`` to continue from ``path``.

    ``path`` is a run directory (it has ``checkpoints/``), a checkpoint directory
    (its latest checkpoint) or a checkpoint file. The run directory of a
    checkpoint directory named ``checkpoints`` is the directory above it; any
    other checkpoint directory has none (None): the directory above it is not
    a run's, and a resumed run must not write its files over what it holds.
    """
    p = os.fspath(path)
    if os.path.isfile(p):
        ckdir, file = os.path.dirname(p) or os.curdir, p
    elif os.path.isdir(checkpoint_dir(p)):
        ckdir = checkpoint_dir(p)
        file = checkpoint.latest(ckdir)
    elif os.path.isdir(p):
        if not checkpoint.list_checkpoints(p) and not os.path.exists(os.path.join(p, checkpoint.LATEST)):
            raise MissingFileError(f"{p}: neither a run directory (no {CHECKPOINTS}/ in it) nor a checkpoint "
                                   f"directory (no ckpt-*{checkpoint.SUFFIX} files in it)")
        ckdir, file = p, checkpoint.latest(p)
    else:
        raise MissingFileError(f"{p}: no such run directory, checkpoint directory or checkpoint file")
    if os.path.basename(os.path.abspath(ckdir)) != CHECKPOINTS:
        return None, ckdir, file
    run = os.path.dirname(os.path.abspath(ckdir))
    return (run if os.path.isabs(p) else os.path.relpath(run)), ckdir, file


# ---------------------------------------------------------------- files


def write_text(path, text):
    """Replace ``path`` by ``text`` (UTF-8) atomically."""
    data = text.encode("utf-8")
    atomic.write_file(path, lambda write, sync: write(data))


def write_json(path, obj):
    """Replace ``path`` by ``obj`` as JSON (:func:`json_text`)."""
    write_text(path, json_text(obj))


def json_text(obj):
    """``obj`` as strict JSON text (a final newline): NaN and infinities become null (JSON has neither),
    arrays lists; any other value its str."""
    return json.dumps(_plain(obj), indent=1, allow_nan=False, default=str) + "\n"


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def read_summary(directory):
    """The ``summary.json`` of a run directory as a dict, or None when there is none (or it is unreadable)."""
    try:
        with open(os.path.join(directory, SUMMARY), encoding="utf-8") as f:
            out = json.load(f)
    except (OSError, ValueError):
        return None
    return out if isinstance(out, dict) else None


def write_metrics(directory, metrics):
    """``metrics.json`` and ``metrics.csv`` of a :class:`~pinnlite.training.metrics.Metrics`."""
    write_text(os.path.join(directory, METRICS_JSON), metrics.to_json())
    write_text(os.path.join(directory, METRICS_CSV), metrics.to_csv())


# ---------------------------------------------------------------- summary


def _now():
    return datetime.datetime.now(datetime.timezone.utc).astimezone().isoformat(timespec="seconds")


def versions():
    """Versions of what computes a run: pinnlite, Python, NumPy, Numba, msgpack, and the platform."""
    out = {"pinnlite": __version__, "python": platform.python_version(), "numpy": np.__version__}
    for dist in ("numba", "msgpack"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a broken install
            out[dist] = None
    out["platform"] = platform.platform()
    return out


def new_session(threads, ranks, epoch=0, argv=None):
    """One entry of ``summary["sessions"]``: this process, started now at ``epoch``."""
    return {
        "command": list(sys.argv if argv is None else argv),
        "host": socket.gethostname(),
        "threads": threads,
        "ranks": ranks,
        "start": _now(),
        "end": None,
        "wall_time_s": None,
        "epochs": [epoch, None],
        "exit": None,
        "warnings": [],
    }


def end_session(session, wall, epoch, exit_status):
    session.update(end=_now(), wall_time_s=float(wall), exit=exit_status)
    session["epochs"][1] = epoch


def summary(*, name, sessions, problem=None, trainer=None, status="running"):
    """The ``summary.json`` dict of a run.

    Parameters
    ----------
    name : str
    sessions : list of dict
        Every session so far (:func:`new_session`), the current one last.
    problem : dict, optional
        What describes a synthetic problem (its ``kind``, ``waves``, ``truth``), kept across resumes.
    trainer : Trainer, optional
        The run's trainer once it has trained: epochs, stop reason, losses and material.
    status : str
        ``"running"``, ``"finished"``, ``"interrupted"`` or ``"failed"``.
    """
    current = sessions[-1]
    walls = [s["wall_time_s"] for s in sessions if s.get("wall_time_s") is not None]
    out = {
        "name": name,
        "status": status,
        "versions": versions(),
        "command": current["command"],
        "host": current["host"],
        "threads": current["threads"],
        "ranks": current["ranks"],
        "start": sessions[0]["start"],
        "end": current["end"],
        "wall_time_s": float(sum(walls)),
        "sessions": sessions,
        # what this session warned of (FitWarning, MaterialWarning, ...): the result's caveats
        "warnings": list(current.get("warnings") or []),
    }
    if problem is not None:
        out["problem"] = problem
    if trainer is None or trainer.state is None:
        return out
    st, metrics = trainer.state, trainer.metrics
    last = metrics.last()
    mat = trainer.material
    out.update(
        epochs=st.epoch,
        epochs_planned=trainer.config.training.epochs,
        stop_reason=st.stop_reason,
        final_loss=metrics.final_loss(),
        training_time_s=float(st.elapsed),
        material=mat,
        free=list(trainer.free),
        fixed=[n for n in ("lam", "mu", "rho") if n not in trainer.free],
        checkpoint=trainer.last_checkpoint,
        uncertainty=st.uncertainty,
    )
    if last and math.isfinite(last["validation"]):
        out["validation"] = last["validation"]
    out["best"] = {"epoch": st.best_epoch, "value": st.best_loss, "monitor": monitored(trainer.config)}
    truth = trainer.data.truth if trainer.data is not None else None
    mapped = trainer.objective.mapped if trainer.objective is not None else ()
    if truth is not None:
        out["truth"] = dict(zip(("lam", "mu", "rho"), truth))
        # none for a true value of 0 (lam may be): the error is then not relative to anything
        out["relative_error"] = {n: mat[n] / out["truth"][n] - 1 for n in trainer.free
                                 if n not in mapped and out["truth"][n] != 0}
    if mapped:
        out["maps"] = map_summary(trainer)
    return out


def map_summary(trainer):
    """Dict mapped name -> mean, min, max of its map over the 32 x 32 grid of the domain, its
    resolution (:func:`resolution_summary`; left out when the weights are not finite) and, when
    the data hold true maps, the relative L2 error over their grid nodes."""
    obj, data = trainer.objective, trainer.data
    out = {}
    values = trainer.material_maps(obj.mean_points)
    truth_grid = None
    if data is not None and data.truth_map is not None:
        X, Y = np.meshgrid(data.truth_map_x, data.truth_map_y)
        truth_grid = np.stack([X.ravel(), Y.ravel()], axis=1)
        on_grid, true = trainer.material_maps(truth_grid), data.truth_at(truth_grid)
    # a diagnostic: a run that failed with non-finite weights gets its summary without it
    regions = trainer.map_resolution(RESOLUTION_CELLS) if np.isfinite(trainer.state.x).all() else {}
    for name, v in values.items():
        entry = {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}
        if truth_grid is not None:
            entry["relative_l2_error"] = float(np.linalg.norm(on_grid[name] - true[name]) / np.linalg.norm(true[name]))
        if name in regions:
            entry["resolution"] = resolution_summary(regions[name])
        out[name] = entry
    return out



def resolution_summary(res):
    """The summary's view of a :class:`~pinnlite.training.resolution.Resolution`: its cells (rows from
    y0 up), the median and largest ambiguity over the cells and how many have a share under
    :data:`~pinnlite.training.resolution.UNDETERMINED` (NaN and inf are written as null)."""
    amb, share = res.ambiguity[np.isfinite(res.ambiguity)], res.share
    return {
        "x_edges": res.x_edges.tolist(), "y_edges": res.y_edges.tolist(),
        "share": share.tolist(), "ambiguity": res.ambiguity.tolist(),
        "median_ambiguity": float(np.median(amb)) if amb.size else math.inf,
        "max_ambiguity": float(np.max(res.ambiguity[~np.isnan(res.ambiguity)], initial=-math.inf)),
        "median_share": float(np.nanmedian(share)) if np.any(np.isfinite(share)) else math.nan,
        "undetermined_cells": int(np.sum(~(share >= resolution.UNDETERMINED))),
    }
