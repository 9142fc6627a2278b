"""Checkpoints and model files: reading, checking and predicting without Numba.

This module imports only the standard library, NumPy, msgpack and the
container format (:mod:`pinnlite.container`, spec in ``docs/FORMAT.md``), so a
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
is all :func:`predict` needs.

A checkpoint directory holds ``ckpt-<epoch, 8 digits>.pinnlite`` files, a
``latest`` file naming the newest one (replaced atomically, like the
checkpoints themselves), and ``best.pinnlite`` (a model file of the epoch with
the lowest loss).
"""

import math
import os
import re
import time

import numpy as np

from pinnlite import __version__
from pinnlite.io.container import (  # noqa: F401  (re-exported: one place for the errors)
    ChecksumError,
    CheckpointError,
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
from pinnlite.io import container

SUFFIX = ".pinnlite"
LATEST = "latest"
BEST = "best" + SUFFIX
KINDS = ("training", "model")
_CKPT = re.compile(r"\Ackpt-(\d{8})" + re.escape(SUFFIX) + r"\Z")
_ACTIVATIONS = {"tanh": np.tanh, "sin": np.sin}


def meta():
    """File metadata written with every checkpoint."""
    return {"pinnlite_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


# ---------------------------------------------------------------- reading


def _tree(source):
    if isinstance(source, dict):
        return source
    if isinstance(source, (bytes, bytearray, memoryview)):
        return loads(source).tree
    if hasattr(source, "read"):
        return load(source).tree
    return container.load_file(source).tree


def read(source):
    """The plain Python/NumPy tree of a checkpoint (path, bytes or binary file object).

    The container's checksums are verified and the arrays checked against the
    architecture (:func:`check`).
    """
    tree = _tree(source)
    check(tree)
    return tree


def verify(source):
    """Check every checksum and that the arrays fit the architecture.

    ``source`` is a path, bytes or a binary file object, read once. Returns the
    container's :class:`~pinnlite.container.VerifyReport`; raises a
    :class:`CheckpointError` subclass naming the problem.
    """
    # one read, as container.verify does it, so that the report and the checked tree are the same bytes
    if isinstance(source, (bytes, bytearray, memoryview)):
        buf, digest = container._private_copy(source), None
    elif hasattr(source, "read"):
        container._check_binary(source)
        buf, digest = container._read_stream(source)
    else:
        with container._open(source) as fileobj:
            buf, digest = container._read_stream(fileobj)
    found, digest = container._decode(buf, check_crcs=True, digest=digest)
    check(found.tree)
    return container.VerifyReport(version=found.version, meta=found.meta, extra=found.extra, arrays=found.arrays,
                                  file_length=buf.size, sha256=digest.hex())


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


def layer_shapes(arch):
    """[(name, shape)] of the parameter arrays of an architecture dict."""
    widths = [3] + list(arch["hidden"]) + [2]
    out = []
    for l in range(len(widths) - 1):
        out.append((f"W{l}", (widths[l + 1], widths[l])))
        out.append((f"b{l}", (widths[l + 1],)))
    return out


def check(tree):
    """Raise unless ``tree`` is a known kind whose arrays fit its architecture."""
    if not isinstance(tree, dict):
        raise StructureError(f"checkpoint: expected a map at the top, found {type(tree).__name__}")
    kind = _require(tree, "kind", str)
    if kind not in KINDS:
        raise StructureError(f"checkpoint.kind: expected one of {KINDS}, found {kind!r}")
    arch = _require(tree, "architecture", dict)
    hidden = _require(arch, "hidden", list, "architecture")
    if not hidden or not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in hidden):
        raise StructureError(f"architecture.hidden: expected positive integer widths, found {hidden!r}")
    act = _require(arch, "activation", str, "architecture")
    if act not in _ACTIVATIONS:
        raise StructureError(f"architecture.activation: expected one of {sorted(_ACTIVATIONS)}, found {act!r}")
    dtype = _require(arch, "dtype", str, "architecture")
    if dtype not in ("float64", "float32"):
        raise StructureError(f"architecture.dtype: expected float64 or float32, found {dtype!r}")
    for key, n in (("bounds", 3), ("output_scale", 2)):
        value = _require(arch, key, list, "architecture")
        if len(value) != n:
            raise StructureError(f"architecture.{key}: expected {n} entries, found {len(value)}")
    # predict() computes with these numbers: a checksummed file may still hold anything
    bounds = arch["bounds"]
    if not all(isinstance(b, list) and len(b) == 2 and _finite(b[0]) and _finite(b[1]) and b[0] < b[1] for b in bounds):
        raise StructureError(f"architecture.bounds: expected three [lo, hi] pairs of finite numbers, lo < hi, found {bounds!r:.200}")
    scale = arch["output_scale"]
    if not all(_finite(s) and s > 0 for s in scale):
        raise StructureError(f"architecture.output_scale: expected two finite positive numbers, found {scale!r:.200}")
    params = _require(tree, "params", dict)
    expected = layer_shapes(arch)
    names = [n for n, _ in expected]
    extra = sorted(set(params) - set(names))
    if extra:
        raise ShapeError(f"params: arrays {extra} do not belong to an architecture with hidden widths {hidden}")
    for name, shape in expected:
        a = params.get(name)
        if not isinstance(a, np.ndarray):
            raise ShapeError(f"params.{name}: missing (hidden widths {hidden} need shape {shape})")
        if a.shape != shape:
            raise ShapeError(f"params.{name}: expected shape {shape} for hidden widths {hidden}, found {a.shape}")
        if a.dtype != np.dtype(dtype):
            raise ShapeError(f"params.{name}: expected dtype {dtype}, found {a.dtype}")


def model_arrays(tree):
    """(architecture dict, [W0, b0, ..., WL, bL]) of a checked tree."""
    arch = tree["architecture"]
    return arch, [tree["params"][name] for name, _ in layer_shapes(arch)]


def predict(source, X):
    """Displacements (n, 2) at points X (n, 3) from a checkpoint, in plain NumPy.

    ``source`` is a path, bytes, a binary file object or a tree from
    :func:`read`. Value channel only: ``u = S (W_L h + b_L)`` with
    ``h = sigma(W_l h + b_l)`` and the inputs mapped from the bounds onto [-1, 1].
    """
    tree = _tree(source)
    check(tree)
    arch, arrays = model_arrays(tree)
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 3:
        raise ValueError(f"X: expected shape (n, 3), found {X.shape}")
    lo = np.array([b[0] for b in arch["bounds"]], dtype=np.float64)
    hi = np.array([b[1] for b in arch["bounds"]], dtype=np.float64)
    h = (X - (hi + lo) / 2) * (2 / (hi - lo))
    sigma = _ACTIVATIONS[arch["activation"]]
    n_layers = len(arrays) // 2
    for l in range(n_layers):
        W, b = arrays[2 * l].astype(np.float64), arrays[2 * l + 1].astype(np.float64)
        h = h @ W.T + b
        if l < n_layers - 1:
            h = sigma(h)
    return h * np.asarray(arch["output_scale"], dtype=np.float64)


def summary(tree):
    """A short dict for ``pinnlite inspect``: kind, versions, epoch, losses, material."""
    out = {"kind": tree.get("kind"), "architecture": tree.get("architecture")}
    for key in ("epoch", "step", "material", "stop_reason", "best"):
        if key in tree:
            out[key] = tree[key]
    metrics = tree.get("metrics")
    if isinstance(metrics, dict) and isinstance(metrics.get("loss"), np.ndarray) and metrics["loss"].size:
        out["last"] = {k: float(v[-1]) for k, v in metrics.items() if isinstance(v, np.ndarray) and v.ndim == 1 and v.size == metrics["loss"].size}
    return out


# ---------------------------------------------------------------- directories


def checkpoint_path(directory, epoch):
    return os.path.join(os.fspath(directory), f"ckpt-{int(epoch):08d}{SUFFIX}")


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


def _write_text_atomic(path, text):
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.tmp-{os.urandom(8).hex()}")
    try:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    container._fsync_directory(directory)


def latest(directory):
    """Path of the newest checkpoint: the one ``latest`` names, else the newest that verifies.

    Raises :class:`MissingFileError` when the directory holds none.
    """
    directory = os.fspath(directory)
    pointer = os.path.join(directory, LATEST)
    try:
        with open(pointer) as f:
            name = f.read().strip()
        path = os.path.join(directory, name)
        if _CKPT.match(name) and os.path.exists(path):
            return path
    except OSError:
        pass
    for _, path in reversed(list_checkpoints(directory)):
        try:
            container.verify(path)
            return path
        except CheckpointError:
            continue
    raise MissingFileError(f"no checkpoint in {directory!r}")


def save_in_directory(directory, epoch, tree, keep_last):
    """Write ``tree`` as the checkpoint of ``epoch``, point ``latest`` at it, apply retention.

    Order: the new file is committed (temp file, fsync, rename, directory
    fsync), then ``latest`` is replaced the same way, then checkpoints beyond the
    newest ``keep_last`` are deleted, then stale temporary files are removed. A
    failure at any point leaves every earlier checkpoint and a valid ``latest``.
    """
    os.makedirs(directory, exist_ok=True)
    path = checkpoint_path(directory, epoch)
    save_file(path, tree, meta())
    _write_text_atomic(os.path.join(os.fspath(directory), LATEST), os.path.basename(path) + "\n")
    for _, old in list_checkpoints(directory)[:-keep_last]:
        if old != path:
            try:
                os.unlink(old)
            except FileNotFoundError:
                pass
    clean_stale_temps(directory)
    return path
