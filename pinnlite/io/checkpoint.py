"""Checkpoints and model files: reading, checking and predicting without Numba.

This module imports only the standard library, NumPy, msgpack, the container
format (:mod:`pinnlite.io.container`, spec in ``docs/FORMAT.md``) and the
NumPy-only architecture and activation table of :mod:`pinnlite.core`, so a
user who only wants to inspect a checkpoint or make predictions needs neither
Numba nor a config file.

Two kinds of files share the container format (``tree["kind"]``):

``"training"``
    everything a run needs to continue bit for bit (written by
    :meth:`pinnlite.Trainer.save_checkpoint`, layout in ``docs/FORMAT.md``);
``"model"``
    the architecture, the weights and the material parameters, for inference
    (:meth:`pinnlite.ElasticPINN2D.save`).

Both hold ``architecture`` (widths, activation, bounds, output scale, dtype)
and ``params`` (one array per weight and bias, ``W0, b0, ..., WL, bL``), which
is all :func:`predict` needs: from a version 2.0 file it (and
:func:`read_model`) reads only the head and the ``params`` arrays, not the
optimizer state, metrics or data.

A checkpoint directory holds ``ckpt-<epoch, 8 digits>.pinnlite`` files, a
``latest`` file naming the newest one, and ``best.pinnlite`` (a model file of
the epoch with the lowest loss). Each is replaced by the one atomic write,
:func:`pinnlite.io.atomic.write_file`. :func:`save_in_directory` writes a
checkpoint and applies the retention (:func:`prune`, before and after, so
that interrupted saves never leave more than ``keep_last`` + 1);
:func:`latest` and :func:`read_latest` find the newest checkpoint that loads,
warning about any they pass over (``docs/FORMAT.md`` section 12.4).
"""

import datetime
import math
import os
import re
import warnings

import numpy as np

from pinnlite import __version__
from pinnlite.core import checks
from pinnlite.core.activations import ACTIVATIONS
from pinnlite.core.arch import Architecture
from pinnlite.errors import InputError, describe
from pinnlite.io import atomic, container
from pinnlite.io.container import (  # noqa: F401  (re-exported: one place for the errors)
    ChecksumError,
    CheckpointError,
    CheckpointWarning,
    DTypeError,
    MagicError,
    MissingFileError,
    ShapeError,
    SizeError,
    StructureError,
    TrailingDataError,
    TruncatedError,
    VersionError,
    clean_stale_temps,
    dumps,
    load,
    loads,
    save_file,
)

SUFFIX = ".pinnlite"
LATEST = "latest"
BEST = "best" + SUFFIX
KINDS = ("training", "model")
MODEL_ARRAYS = ("params",)  # the top-level keys whose arrays a prediction reads
_CKPT = re.compile(r"\Ackpt-(\d{8})" + re.escape(SUFFIX) + r"\Z")
# the stored architecture's keys and their msgpack types (others are ignored)
_ARCH_FIELDS = (("hidden", list), ("activation", str), ("dtype", str), ("bounds", list), ("output_scale", list))


def meta():
    """File metadata written with every checkpoint: the version and the local time (RFC 3339, FORMAT.md section 1)."""
    created = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    return {"pinnlite_version": __version__, "created": created}


# ---------------------------------------------------------------- reading


def _tree(source, only=None, verify=False):
    if isinstance(source, dict):
        return source
    if isinstance(source, (str, os.PathLike)):
        return container.load_file(source, only, verify).tree
    if hasattr(source, "read"):
        return load(source, only, verify).tree
    return loads(source, only, verify).tree


def read(source, only=None, verify=False):
    """The plain Python/NumPy tree of a checkpoint (path, bytes or binary file object).

    The container's checks run on everything read (head digest, each array's
    CRC-32) and the arrays are checked against the architecture
    (:func:`check`). ``only``: None (every array), or the top-level keys whose
    arrays are read; the others stand in the tree as their
    :class:`~pinnlite.io.container.ArrayInfo`, unread. ``verify``: also check
    every byte and the file digest (:func:`pinnlite.io.container.loads`; off
    by default, as it costs about three loads).
    """
    tree = _tree(source, only, verify)
    check(tree)
    unknown = sorted(set(only or ()) - set(tree))
    if unknown:
        raise InputError(f"only: {unknown} are not top-level keys of this checkpoint, whose keys are {sorted(tree)}")
    return tree


def read_model(source):
    """:func:`read` of the parameter arrays only: what :func:`predict` and ``ElasticPINN2D.load`` need."""
    return read(source, MODEL_ARRAYS)


def verify(source):
    """:func:`pinnlite.io.container.verify`, then :func:`check` on the tree it decoded.

    ``source`` is a path, bytes or a binary file object, read once. Returns the
    container's :class:`~pinnlite.io.container.VerifyReport`; raises a
    :class:`CheckpointError` subclass naming the problem.
    """
    report = container.verify(source)
    check(report.tree)
    return report


def _require(tree, key, kind, where="checkpoint"):
    if not isinstance(tree, dict) or key not in tree:
        raise StructureError(f"{where}: missing key {key!r}")
    value = tree[key]
    if not isinstance(value, kind):
        raise StructureError(f"{where}.{key}: expected {getattr(kind, '__name__', kind)}, found {type(value).__name__}")
    return value


def _finite(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond the float range
        return False


def _architecture(tree):
    """The :class:`~pinnlite.core.arch.Architecture` stored in a checkpoint tree.

    Raises :class:`StructureError` naming the field (``architecture.hidden``,
    ...) when a key is missing or holds a value no architecture has.
    """
    stored = _require(tree, "architecture", dict)
    fields = {key: _require(stored, key, kind, "architecture") for key, kind in _ARCH_FIELDS}
    if "pressure" in stored:  # optional (pinnlite 0.2): a third output p; absent means false
        fields["pressure"] = _require(stored, "pressure", bool, "architecture")
    bounds, scale = fields["bounds"], fields["output_scale"]
    for key, n in (("bounds", 3), ("output_scale", 3 if fields.get("pressure") else 2)):
        if len(fields[key]) != n:
            raise StructureError(f"architecture.{key}: expected {n} entries, found {len(fields[key])}")
    # Architecture converts with float(), which takes bools and numeric strings and
    # overflows on integers beyond the float range: a file must store the numbers themselves
    if not all(isinstance(b, list) and len(b) == 2 and _finite(b[0]) and _finite(b[1]) for b in bounds):
        raise StructureError("architecture.bounds: expected three [lo, hi] pairs of finite numbers, lo < hi, "
                             f"found {describe(bounds)}")
    if not all(_finite(s) for s in scale):
        raise StructureError("architecture.output_scale: expected finite positive numbers, "
                             f"found {describe(scale)}")
    try:
        return Architecture(**fields)
    except InputError as exc:  # its messages start with the argument's name: here a key of the tree
        raise StructureError(f"architecture.{exc}") from None


def check(tree):
    """Raise unless ``tree`` is a known kind whose arrays fit its architecture; return that architecture."""
    if not isinstance(tree, dict):
        raise StructureError(f"checkpoint: expected a map at the top, found {type(tree).__name__}")
    kind = _require(tree, "kind", str)
    if kind not in KINDS:
        raise StructureError(f"checkpoint.kind: expected one of {KINDS}, found {describe(kind)}")
    arch = _architecture(tree)
    params = _require(tree, "params", dict)
    hidden = list(arch.hidden)
    entries = arch.layout.entries
    extra = sorted(set(params) - set(arch.layout.names))
    if extra:
        raise ShapeError(f"params: arrays {extra} do not belong to an architecture with hidden widths {hidden}")
    for name, _, shape in entries:
        a = params.get(name)
        if isinstance(a, container.ArrayInfo):  # not read (read(only=...)): its entry says what it holds
            found_shape, found_dtype = tuple(a.shape), str(a.dtype)
        elif isinstance(a, np.ndarray):
            found_shape, found_dtype = a.shape, str(a.dtype)
        else:
            raise ShapeError(f"params.{name}: missing (hidden widths {hidden} need shape {shape})")
        if found_shape != shape:
            raise ShapeError(f"params.{name}: expected shape {shape} for hidden widths {hidden}, found {found_shape}")
        if found_dtype != arch.dtype:
            raise ShapeError(f"params.{name}: expected dtype {arch.dtype}, found {found_dtype}")
    return arch


def _params(tree, arch):
    """[W0, b0, ..., WL, bL]: the parameter arrays in layout order (the file may store them in any order)."""
    return [tree["params"][name] for name in arch.layout.names]


def model_arrays(tree):
    """(architecture dict, [W0, b0, ..., WL, bL]) of a checked tree."""
    return tree["architecture"], _params(tree, _architecture(tree))


def predict(source, X):
    """Displacements (n, 2) at points X (n, 3) from a checkpoint, in plain NumPy.

    ``source`` is a path, bytes, a binary file object or a tree from
    :func:`read` (of a file, only the parameter arrays are read). Value channel only: ``u = S (W_L h + b_L)`` with
    ``h = sigma(W_l h + b_l)`` and the inputs mapped from the bounds onto
    [-1, 1] (``docs/FORMAT.md`` section 12.1); computed in float64 whatever
    the stored dtype.
    """
    tree = _tree(source, MODEL_ARRAYS)
    arch = check(tree)
    arrays = _params(tree, arch)
    for name, a in zip(arch.layout.names, arrays):
        if not np.isfinite(a).all():
            raise StructureError(f"params.{name}: expected finite weights, found {np.count_nonzero(~np.isfinite(a))} "
                                 "that are not (NaN or infinite): a run that diverged?")
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):  # strings, ragged lists
        raise InputError(f"X: expected points (n, 3) of x, y, t, found {describe(X)}") from None
    checks.array("X", X, (None, 3))  # finite: a NaN point would come back as a NaN displacement
    s, c = arch.input_transform()
    h = (X - c) * s
    sigma = ACTIVATIONS[arch.activation].sigma
    for l in range(arch.n_layers):
        W, b = arrays[2 * l].astype(np.float64), arrays[2 * l + 1].astype(np.float64)
        h = h @ W.T + b
        if l < arch.n_layers - 1:
            h = sigma(h)
    return h[:, :2] * np.asarray(arch.output_scale[:2], dtype=np.float64)  # (u, v): a pressure output is left out


def summary(tree):
    """A short dict for ``pinnlite inspect``: kind, versions, epoch, losses, material."""
    out = {"kind": tree.get("kind"), "architecture": tree.get("architecture")}
    for key in ("epoch", "step", "material", "stop_reason", "best", "uncertainty"):
        if key in tree:
            out[key] = tree[key]
    metrics = tree.get("metrics")
    if isinstance(metrics, dict) and isinstance(metrics.get("loss"), np.ndarray) and metrics["loss"].size:
        out["last"] = {k: float(v[-1]) for k, v in metrics.items() if isinstance(v, np.ndarray) and v.ndim == 1 and v.size == metrics["loss"].size}
    return out


# ---------------------------------------------------------------- directories


def check_epoch(epoch):
    """``epoch`` as an int, checked to name a checkpoint: an integer from 0 to 99999999 (8 digits)."""
    if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or not 0 <= epoch < 10**8:
        raise InputError(f"epoch: expected an integer from 0 to 99999999 (a checkpoint's name holds 8 digits), "
                         f"found {describe(epoch)}")
    return int(epoch)


def checkpoint_path(directory, epoch):
    """``directory/ckpt-EEEEEEEE.pinnlite``: the file of ``epoch`` (:func:`check_epoch`)."""
    return os.path.join(os.fspath(directory), f"ckpt-{check_epoch(epoch):08d}{SUFFIX}")


def list_checkpoints(directory):
    """[(epoch, path)] of the checkpoint files in ``directory``, oldest first."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        m = _CKPT.match(name)
        if m:
            found.append((int(m.group(1)), os.path.join(os.fspath(directory), name)))
    return sorted(found)


def pointer(directory):
    """The path that ``latest`` names when it names an existing ``ckpt-*`` file, else None; nothing is checked."""
    directory = os.fspath(directory)
    try:
        with open(os.path.join(directory, LATEST), "rb") as f:
            name = f.read(256).decode("utf-8", "replace").strip()
    except OSError:
        return None
    path = os.path.join(directory, name)
    return path if _CKPT.match(name) and os.path.isfile(path) else None


def latest(directory):
    """Path of the newest good checkpoint of ``directory``.

    The file ``latest`` names is checked as a load would check it (its head
    and every array's CRC-32, :func:`pinnlite.io.container.check`: what it
    returns loads); if ``latest`` is missing or names a missing file, or that
    file fails the check, the ``ckpt-*`` files are checked newest first and the
    first good one is returned, with a :class:`CheckpointWarning` naming every
    file passed over and why. It never deletes anything (a read-only command
    locates checkpoints with it too): retention is applied by the saves and
    by a resumed trainer (:func:`prune`).

    Raises :class:`MissingFileError` when the directory holds no good checkpoint.
    """
    return _newest_good(directory, container.check)[0]


def read_latest(directory):
    """``(path, tree)`` of the newest good checkpoint: :func:`latest` and :func:`read` in one read of the file.

    A file is good when :func:`read` succeeds on it (which also checks the
    arrays against the architecture); the fallback and its warning are those
    of :func:`latest`.
    """
    return _newest_good(directory, read)


def _newest_good(directory, attempt):
    """``(path, attempt(path))`` for the first file, ``latest``'s then the newest, on which ``attempt`` succeeds."""
    directory = os.fspath(directory)
    named = pointer(directory)
    passed = []
    if named is not None:
        try:
            return named, attempt(named)
        except CheckpointError as exc:
            passed.append((named, exc))
    elif os.path.exists(os.path.join(directory, LATEST)):
        passed.append((os.path.join(directory, LATEST), "it names no checkpoint file of this directory"))
    for _, path in reversed(list_checkpoints(directory)):
        if path == named:
            continue
        try:
            found = attempt(path)
        except CheckpointError as exc:
            passed.append((path, exc))
            continue
        if passed:
            what = "; ".join(f"{p}: {e}" for p, e in passed)
            warnings.warn(f"{what}; using {path}, the newest good checkpoint", CheckpointWarning, stacklevel=3)
        return path, found
    found = "; ".join(f"{p}: {e}" for p, e in passed)
    raise MissingFileError(f"no good checkpoint in {directory!r}" + (f" ({found})" if found else ""))


def prune(directory, keep_last, keep=None):
    """Delete the ``ckpt-*`` files of ``directory`` beyond ``keep_last``, never ``keep``; the paths deleted.

    The newest ``keep_last`` by epoch stay; when ``keep`` (a path in the
    directory) is not one of them, ``keep`` and the newest ``keep_last`` - 1
    stay. So at most ``keep_last`` remain, whatever earlier saves were
    interrupted.
    """
    files = [path for _, path in list_checkpoints(directory)]
    stay = files[-keep_last:]
    if keep is not None:
        keep = os.path.join(os.fspath(directory), os.path.basename(os.fspath(keep)))
        if keep in files and keep not in stay:
            stay = stay[1:] + [keep]
    removed = []
    for path in files:
        if path not in stay:
            try:
                os.unlink(path)
                removed.append(path)
            except FileNotFoundError:
                pass
    return removed


def save_in_directory(directory, epoch, tree, keep_last):
    """Write ``tree`` as the checkpoint of ``epoch``, point ``latest`` at it, apply retention.

    Order (``docs/FORMAT.md`` section 12.4): checkpoints beyond ``keep_last``
    are deleted (never the one ``latest`` names), the new file is committed
    (temp file, fsync, rename), ``latest`` is replaced by the same atomic
    write and the directory is fsynced once for both renames, then
    checkpoints beyond ``keep_last`` are deleted again (never the new one),
    then stale temporary files are removed. A failure or a kill at any point
    leaves every earlier checkpoint but the surplus, ``latest`` naming a
    complete one, and at most ``keep_last`` + 1 checkpoints.
    """
    os.makedirs(directory, exist_ok=True)
    path = checkpoint_path(directory, epoch)
    prune(directory, keep_last, keep=pointer(directory))
    save_file(path, tree, meta(), sync_dir=False)
    text = (os.path.basename(path) + "\n").encode("utf-8")
    # no fsync of its own: a lost or stale pointer costs latest() a scan, not a checkpoint
    atomic.write_file(os.path.join(os.fspath(directory), LATEST), lambda write, sync: write(text), sync_file=False)
    prune(directory, keep_last, keep=path)
    clean_stale_temps(directory)
    return path
