"""Loss and exact gradient of the elastic PINN: the functional API.

One evaluation (``docs/ENGINE.md`` has the equations):

1. the points of every loss term are normalised and laid out as column blocks
   (:func:`prepare`), each with the channels its term needs;
2. forward: per layer one matrix product over all columns (NumPy/BLAS) and one
   fused activation kernel (:mod:`pinnlite.kernels`);
3. the loss kernels compute every term, the material-parameter gradients and
   the adjoint of the network output;
4. backward: per layer one fused activation-adjoint kernel, one product for the
   weight gradient and one for the adjoint of the layer below.

Nothing here keeps global state: :func:`loss_and_grad` allocates its scratch
arrays unless a :class:`Workspace` is passed (one per thread), so it can be
called from several threads at once.
"""

from typing import NamedTuple

import numpy as np

from . import kernels
from .activations import get_activation
from .arch import Architecture
from .errors import InputError, describe
from .problem import (
    CHANNELS,
    MATERIAL_NAMES,
    TERMS,
    LossWeights,
    PointSets,
    check_array,
    check_material,
    check_points,
)

_POINTS_FIELD = {
    "pde": "collocation",
    "boundary": "boundary",
    "traction": "traction",
    "initial": "initial",
    "initial_velocity": "initial_velocity",
    "data": "data",
}
_TARGET_FIELD = {
    "boundary": "boundary_values",
    "traction": "traction_values",
    "initial": "initial_values",
    "initial_velocity": "initial_velocity_values",
    "data": "data_values",
}


class Block(NamedTuple):
    """One column block: ``n`` points of one term, ``c`` channels each."""

    term: str
    poff: int  # first point (column of xi)
    coff: int  # first column of the layer matrices
    n: int
    c: int
    target: np.ndarray  # (n, 2) target of the term, or (0, 2)
    extra: np.ndarray  # (n, 2) body force (pde) / normals (traction), or (0, 2)


class Prepared(NamedTuple):
    """Point sets laid out for the kernels (see :mod:`pinnlite.kernels`)."""

    blocks: tuple
    groups: np.ndarray  # (G, 5) int64: term index, poff, coff, n, c
    counts: dict  # term -> number of points
    xi: np.ndarray  # (3, P) normalised points
    scale: np.ndarray  # (3,) input scale s (xi = s (X - c)), model dtype
    n_points: int  # P
    n_columns: int  # M


class LossResult(NamedTuple):
    """Result of one evaluation.

    ``terms`` holds every present term's unweighted value; ``total`` is
    ``sum(weight * term)``; ``grad`` the gradient of ``total`` in the layout of
    the parameters (None when not asked for); ``grad_material`` d total / d p
    for each free material parameter p.
    """

    total: float
    terms: dict
    grad: np.ndarray
    grad_material: dict


def _empty(dtype):
    return np.zeros((0, 2), dtype=dtype)


def prepare(arch, points, weights=None, block_size=None, check=True):
    """Validate ``points`` and lay them out as column blocks.

    Parameters
    ----------
    arch : Architecture
    points : PointSets
    weights : LossWeights, dict or None
        Only used to reject empty point sets of terms with non-zero weight.
    block_size : int or None
        Split each term into blocks of at most this many points (None: one
        block per term). The result does not depend on it beyond rounding.
    """
    dtype = arch.np_dtype
    if check:
        check_points(points, dtype, LossWeights.coerce(weights))
    s, c = arch.input_transform()
    blocks, pts, counts = [], [], {}
    poff = coff = 0
    for k, term in enumerate(TERMS):
        X = getattr(points, _POINTS_FIELD[term])
        if X is None or X.shape[0] == 0:
            continue
        n_all = X.shape[0]
        counts[term] = n_all
        target = getattr(points, _TARGET_FIELD[term]) if term in _TARGET_FIELD else None
        extra = points.body_force if term == "pde" else (points.traction_normals if term == "traction" else None)
        step = n_all if block_size is None else int(block_size)
        for a in range(0, n_all, step):
            b = min(a + step, n_all)
            ch = CHANNELS[k]
            blocks.append(
                Block(
                    term,
                    poff,
                    coff,
                    b - a,
                    ch,
                    _empty(dtype) if target is None else np.ascontiguousarray(target[a:b]),
                    _empty(dtype) if extra is None else np.ascontiguousarray(extra[a:b]),
                )
            )
            pts.append(X[a:b])
            poff += b - a
            coff += ch * (b - a)
    X = np.concatenate(pts) if pts else np.zeros((0, 3), dtype)
    xi = np.ascontiguousarray(((X - c.astype(dtype)) * s.astype(dtype)).T)
    groups = np.array(
        [(TERMS.index(b.term), b.poff, b.coff, b.n, b.c) for b in blocks], dtype=np.int64
    ).reshape(-1, 5)
    return Prepared(tuple(blocks), groups, counts, xi, s.astype(dtype), poff, coff)


class Workspace:
    """Scratch arrays of one evaluation, reused while the shapes stay the same.

    Holds, for P points in M columns: the first layer's value pre-activations
    (w0, P), each hidden layer's activations H_l and pre-activations Z_l (w_l, M),
    the output U and its adjoint (2, M), and one adjoint buffer (max w, M).
    Not thread-safe: use one per thread.
    """

    def __init__(self):
        self.key = None

    def ensure(self, arch, n_points, n_columns):
        key = (arch.hidden, arch.dtype, n_points, n_columns)
        if key == self.key:
            return self
        dt, M = arch.np_dtype, n_columns
        self.z0 = np.empty((arch.hidden[0], n_points), dt)
        self.H = [np.empty((w, M), dt) for w in arch.hidden]
        self.Z = [None] + [np.empty((w, M), dt) for w in arch.hidden[1:]]
        self.U = np.empty((2, M), dt)
        self.GU = np.empty((2, M), dt)
        self.adj = np.empty((max(arch.hidden), M), dt)
        self.key = key
        return self


def as_flat(arch, params):
    """``params`` as a flat vector of the architecture's layout (checked, never cast)."""
    layout = arch.layout
    if isinstance(params, np.ndarray):
        if params.ndim != 1 or params.shape[0] != layout.size:
            raise InputError(f"params: expected shape ({layout.size},), found {params.shape}")
        if params.dtype != arch.np_dtype:
            raise InputError(f"params: expected dtype {arch.dtype}, found {params.dtype}")
        flat = params
    elif isinstance(params, (list, tuple)):
        flat = layout.flatten(params, arch.np_dtype)
    else:
        raise InputError(f"params: expected a flat array or a list of arrays, found {describe(params)}")
    if not np.isfinite(flat).all():
        i = int(np.argmin(np.isfinite(flat)))
        name = next(e.name for e in layout.entries if e.offset <= i < e.offset + e.size)
        raise InputError(f"params: expected finite values, found {flat[i]!r} in {name}")
    return flat


def forward(arch, views, prep, ws):
    """Fill the workspace with every layer's channels and the raw output U (2, M)."""
    code = get_activation(arch.activation).code
    nh = len(arch.hidden)
    W0 = views["W0"]
    np.matmul(W0, prep.xi, out=ws.z0)
    zk = np.ascontiguousarray(W0 * prep.scale)
    kernels.first_forward(ws.z0, views["b0"], zk, ws.H[0], prep.groups, code)
    for l in range(1, nh):
        np.matmul(views[f"W{l}"], ws.H[l - 1], out=ws.Z[l])
        kernels.hidden_forward(ws.Z[l], views[f"b{l}"], ws.H[l], prep.groups, code)
    np.matmul(views[f"W{nh}"], ws.H[nh - 1], out=ws.U)
    return zk


def output_terms(arch, views, prep, ws, material, weights):
    """Every loss term from U; writes the weighted output adjoint into ``ws.GU``.

    Returns ``(terms, total, dmat)`` with ``dmat`` the gradient of the total with
    respect to (lam, mu, rho).
    """
    dt = arch.np_dtype
    so = np.asarray(arch.output_scale, dtype=dt)
    bias = views[f"b{len(arch.hidden)}"]
    zero = np.zeros(2, dt)
    w = dict(zip(TERMS, weights.as_tuple()))
    lam, mu, rho = material.lam, material.mu, material.rho
    ws.GU.fill(0)
    terms = {t: 0.0 for t in TERMS if t in prep.counts}
    dmat = np.zeros(3)
    for b in prep.blocks:
        inv = 1.0 / prep.counts[b.term]
        wt = w[b.term]
        if b.term == "pde":
            val, gl, gm, gr = kernels.pde_term(ws.U, ws.GU, b.coff, b.n, inv, so, lam, mu, rho, b.extra, wt)
            dmat += wt * np.array([gl, gm, gr])
        elif b.term == "traction":
            val, gl, gm = kernels.traction_term(ws.U, ws.GU, b.coff, b.n, inv, so, lam, mu, b.extra, b.target, wt)
            dmat += wt * np.array([gl, gm, 0.0])
        elif b.term == "initial_velocity":
            val = kernels.misfit_term(ws.U, ws.GU, b.coff + 3 * b.n, b.n, inv, so, zero, b.target, wt)
        else:
            val = kernels.misfit_term(ws.U, ws.GU, b.coff, b.n, inv, so, bias, b.target, wt)
        terms[b.term] += val
    total = sum(w[t] * v for t, v in terms.items())
    return terms, total, dmat


def backward(arch, views, grad_views, prep, ws, zk):
    """Gradient of the total loss with respect to every weight and bias.

    Reads the forward pass's arrays and ``ws.GU``; writes into ``grad_views``.
    """
    code = get_activation(arch.activation).code
    nh = len(arch.hidden)
    groups = prep.groups
    np.matmul(ws.GU, ws.H[nh - 1].T, out=grad_views[f"W{nh}"])
    kernels.value_bias_grad(ws.GU, groups, grad_views[f"b{nh}"])
    adj = ws.adj[: arch.hidden[nh - 1]]
    np.matmul(views[f"W{nh}"].T, ws.GU, out=adj)
    for l in range(nh - 1, 0, -1):
        kernels.hidden_backward(adj, ws.Z[l], ws.H[l], groups, code, grad_views[f"b{l}"])
        np.matmul(ws.Z[l], ws.H[l - 1].T, out=grad_views[f"W{l}"])
        adj = ws.adj[: arch.hidden[l - 1]]
        np.matmul(views[f"W{l}"].T, ws.Z[l], out=adj)
    dzk = np.empty((arch.hidden[0], 3), arch.np_dtype)
    kernels.first_backward(adj, ws.z0, ws.H[0], zk, groups, code, ws.z0, dzk, grad_views["b0"])
    gW0 = grad_views["W0"]
    np.matmul(ws.z0, prep.xi.T, out=gW0)
    gW0 += dzk * prep.scale


def evaluate(arch, flat, prep, material, weights, ws, grad=None):
    """Loss (and gradient into ``grad`` when given) on prepared points; no input checks."""
    views = arch.layout.views(flat)
    zk = forward(arch, views, prep, ws)
    terms, total, dmat = output_terms(arch, views, prep, ws, material, weights)
    if grad is not None:
        backward(arch, views, arch.layout.views(grad), prep, ws, zk)
    gmat = {n: float(dmat[i]) for i, n in enumerate(MATERIAL_NAMES) if n in material.free}
    return LossResult(float(total), terms, grad, gmat)


def loss_and_grad(params, arch, points, material, weights=None, *, workspace=None, need_grad=True):
    """Total loss, each term, and the exact gradient.

    Parameters
    ----------
    params : (n_params,) array or list of arrays
        Network parameters in the layout of ``arch`` (``W0, b0, ..., WL, bL``),
        in the architecture's dtype.
    arch : Architecture
    points : PointSets
        Points and targets of each loss term, in the architecture's dtype.
    material : Material
        lam, mu, rho and which of them are free.
    weights : LossWeights, dict or None
        Weight of each term (default 1).
    workspace : Workspace, optional
        Scratch arrays to reuse across calls (one per thread).
    need_grad : bool
        False: only the loss (``grad`` is None).

    Returns
    -------
    LossResult
    """
    if not isinstance(arch, Architecture):
        raise InputError(f"arch: expected an Architecture, found {describe(arch)}")
    flat = as_flat(arch, params)
    check_material(material)
    weights = LossWeights.coerce(weights)
    prep = prepare(arch, points, weights)
    if prep.n_points == 0:
        raise InputError("points: expected at least one point set with points, found none")
    ws = (workspace or Workspace()).ensure(arch, prep.n_points, prep.n_columns)
    grad = np.empty_like(flat) if need_grad else None
    return evaluate(arch, flat, prep, material, weights, ws, grad)


def channels(arch, params, X, n_channels=8, workspace=None):
    """All derivative channels of (u, v) at points ``X`` (n, 3).

    Returns an array of shape (n_channels, n, 2): value, then d/dx, d/dy, d/dt,
    then d2/dx2, d2/dy2, d2/dt2, d2/dxdy, with respect to the physical inputs.
    """
    if n_channels not in (1, 4, 8):
        raise InputError(f"n_channels: expected 1, 4 or 8, found {n_channels!r}")
    flat = as_flat(arch, params)
    check_array("points", X, arch.np_dtype, 3)
    n = X.shape[0]
    out = np.empty((n_channels, n, 2), arch.np_dtype)
    if n == 0:
        return out
    term = {1: "data", 4: "traction", 8: "pde"}[n_channels]
    prep = prepare(arch, PointSets(**{_POINTS_FIELD[term]: X}), check=False)
    ws = (workspace or Workspace()).ensure(arch, n, n_channels * n)
    views = arch.layout.views(flat)
    forward(arch, views, prep, ws)
    so = np.asarray(arch.output_scale, arch.np_dtype)
    U = ws.U.reshape(2, n_channels, n).transpose(1, 2, 0)
    out[...] = U * so
    out[0] += views[f"b{len(arch.hidden)}"] * so
    return out


def predict(arch, params, X, chunk=65536):
    """Displacements (n, 2) at points ``X`` (n, 3): the value channel only."""
    flat = as_flat(arch, params)
    check_array("points", X, arch.np_dtype, 3)
    out = np.empty((X.shape[0], 2), arch.np_dtype)
    ws = Workspace()
    for a in range(0, X.shape[0], chunk):
        out[a : a + chunk] = channels(arch, flat, X[a : a + chunk], 1, ws)[0]
    return out


def pde_residual(arch, params, X, material, body_force=None):
    """The residual (r_u, r_v) (n, 2) of the wave equation at points ``X`` (n, 3)."""
    check_material(material)
    C = channels(arch, params, X, 8)
    u, v = C[..., 0], C[..., 1]
    lam, mu, rho = material.lam, material.mu, material.rho
    ru = rho * u[6] - (lam + 2 * mu) * u[4] - mu * u[5] - (lam + mu) * v[7]
    rv = rho * v[6] - mu * v[4] - (lam + 2 * mu) * v[5] - (lam + mu) * u[7]
    r = np.stack([ru, rv], axis=1)
    if body_force is not None:
        check_array("body_force", body_force, arch.np_dtype, 2, rows=X.shape[0])
        r -= body_force
    return r
