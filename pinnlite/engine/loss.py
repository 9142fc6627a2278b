"""Loss and exact gradient of the elastic PINN: the functional API.

One evaluation (``docs/ENGINE.md`` has the equations):

1. the points of every loss term are normalised and cut into tiles of at most
   640 columns (:func:`pinnlite.engine.tiles.prepare`), each tile holding one term's points with
   only the channels that term needs;
2. worker threads (:mod:`pinnlite.engine.threads`) take tiles one after another and
   run, per tile, three compiled calls: the forward pass through every layer
   (:func:`pinnlite.engine.tile_kernels.forward`: per layer one matrix product,
   BLAS single-threaded, and the activation's rules of :mod:`pinnlite.engine.kernels`);
   the loss kernel of the tile's term, which gives the term, the
   material-parameter gradients and the adjoint of the output; the backward
   pass (:func:`pinnlite.engine.tile_kernels.backward`: per layer the
   activation's adjoint, one product for the weight gradient and one for the
   adjoint of the layer below);
3. the partial sums of consecutive tiles ("units") are kept apart and added in
   unit order, so the result is the same for any number of threads.

Nothing here keeps global state: :func:`loss_and_grad` allocates its scratch
memory unless a :class:`Workspace` is passed (one per concurrent caller), so it
can be called from several threads at once.
"""

import threading
from typing import NamedTuple

import numpy as np

from pinnlite.core.activations import get_activation
from pinnlite.core.arch import Architecture
from pinnlite.engine import blas, field, field_kernels, physics, term_kernels, tile_kernels
from pinnlite.core import checks
from pinnlite.engine.terms import MATERIAL_NAMES, POINTS_FIELD, TERMS, LossWeights, MaterialField, PointSets, check_material
from pinnlite.core.cpus import resolve_threads
from pinnlite.engine.threads import run_tasks
from pinnlite.engine.tiles import prepare


# One row of scalars per unit of tiles: each term's value (in TERMS order), then
# the weighted gradient of the total with respect to lam, mu and rho.
_D_LAM, _D_MU, _D_RHO = len(TERMS), len(TERMS) + 1, len(TERMS) + 2
N_SCALARS = len(TERMS) + 3


class LossResult(NamedTuple):
    """Result of one evaluation.

    ``terms`` holds every present term's unweighted value; ``total`` is
    ``sum(weight * term)`` plus the weighted penalty of a material field;
    ``grad`` the gradient of ``total`` in the layout of the parameters (None
    when not asked for); ``grad_material`` d total / d p for each free material
    parameter p (constant material only); ``penalty`` the material field's
    unweighted penalty (0 without one) and ``grad_field`` the gradient of
    ``total`` over the field's parameters (None without one or when not asked).
    """

    total: float
    terms: dict
    grad: np.ndarray
    grad_material: dict
    penalty: float = 0.0
    grad_field: np.ndarray = None


class _Buffers:
    """One thread's scratch memory for one tile: one flat array, its regions viewed per tile shape.

    The regions are those of :mod:`pinnlite.engine.tile_kernels` (``z0``, ``U``,
    ``GU``, the adjoint scratch, each ``H_l``, each ``Z_l``), each sized for
    ``tile_columns`` columns; the kernels and the views of :meth:`shaped` see
    the same memory.
    """

    def __init__(self, arch, tile_columns):
        dt = arch.np_dtype
        self.arch = arch
        self.tile_columns = tile_columns
        self.regions, size = tile_kernels.region_table(arch.hidden, arch.n_outputs, tile_columns)
        self.flat = np.empty(size, dt)
        self.layers = tile_kernels.layer_table(arch.layout, arch.n_layers)
        self.gemm = blas.gemm(dt)
        self.code = get_activation(arch.activation).code
        self.grad = np.empty(arch.n_params, dt)
        self._shaped = {}

    def _region(self, r, rows, cols):
        a = int(self.regions[r])
        return self.flat[a : a + rows * cols].reshape(rows, cols)

    def shaped(self, n, c):
        """C-contiguous views ``(z0, [H_l], [Z_l], U, GU, [adjoint scratch per width])`` for a tile
        of n points and c channels."""
        key = (n, c)
        views = self._shaped.get(key)
        if views is None:
            cols = n * c
            hidden, k, nh = self.arch.hidden, self.arch.n_outputs, len(self.arch.hidden)
            T = tile_kernels
            views = (
                self._region(T.Z0, hidden[0], n),
                [self._region(4 + l, w, cols) for l, w in enumerate(hidden)],
                [self._region(4 + nh + l, w, cols) for l, w in enumerate(hidden)],
                self._region(T.U, k, cols),
                self._region(T.GU, k, cols),
                [self._region(T.ADJ, w, cols) for w in hidden],
            )
            if len(self._shaped) > 8:
                self._shaped.clear()
            self._shaped[key] = views
        return views

    def forward(self, flat, scale, tile):
        """The forward pass of ``tile`` (:func:`pinnlite.engine.tile_kernels.forward`); returns its
        :meth:`shaped` views, the raw output U (n_outputs, c*n) at index 3."""
        tile_kernels.forward(self.gemm, flat, self.layers, tile.xi, scale, self.flat, self.regions, tile.n, tile.c,
                             self.code)
        return self.shaped(tile.n, tile.c)

    def backward(self, flat, scale, tile, out, add):
        """The backward pass of ``tile`` from GU: its gradient written into ``out`` (P,), or added to it."""
        tile_kernels.backward(self.gemm, flat, self.layers, tile.xi, scale, self.flat, self.regions, tile.n, tile.c,
                              self.code, out, self.grad, add)


class Workspace:
    """Scratch memory of evaluations and the number of threads they use.

    Each worker thread keeps its own tile buffers (a few MB); the workspace also
    holds the per-unit partial sums. Not to be used by two evaluations at the
    same time: give each concurrent caller its own workspace.

    Parameters
    ----------
    threads : int, optional
        Threads per evaluation (default: :func:`pinnlite.core.cpus.resolve_threads`).
    """

    def __init__(self, threads=None):
        self.threads = resolve_threads(threads)
        self._local = threading.local()
        self._parts = None

    def buffers(self, arch, tile_columns):
        buf = getattr(self._local, "buf", None)
        if buf is None or buf.arch != arch or buf.tile_columns != tile_columns:
            buf = self._local.buf = _Buffers(arch, tile_columns)
        return buf

    def partials(self, n_units, n_params, dtype):
        p = self._parts
        if p is None or p[0].shape != (n_units, n_params) or p[0].dtype != dtype:
            p = self._parts = (np.empty((n_units, n_params), dtype), np.empty((n_units, N_SCALARS)))
        return p


def as_flat(arch, params):
    """``params`` as a flat vector of the architecture's layout (checked, never cast)."""
    layout = arch.layout
    if isinstance(params, (list, tuple)):
        flat = layout.flatten(params, arch.np_dtype)
    else:
        flat = checks.array("params", params, (layout.size,), arch.np_dtype, finite=False)
    if not np.isfinite(flat).all():
        i = int(np.argmin(np.isfinite(flat)))
        name = next(e.name for e in layout.entries if e.offset <= i < e.offset + e.size)
        checks.fail("params", f"finite values (one is not, in {name})", flat[i].item())
    return flat


def _loss_tile(tile, U, GU, inv, so, bias, zero, material, wt, local=None):
    """One tile's share of its term: value and (lam, mu, rho) gradient; writes GU.

    ``local``: ``(L, M, GL, GM)`` rows of the tile's points when lam and mu are
    maps (:mod:`pinnlite.engine.field_kernels`; no material gradient then). A network with a
    pressure output (``so`` of three) has the mixed PDE and traction terms; its other terms see (u, v) only.
    """
    GU.fill(0)
    lam, mu, rho = material.lam, material.mu, material.rho
    n = tile.n
    if local is not None:
        L, M, GL, GM = local
        if so.shape[0] == 3:
            if tile.term == "pde":
                val = field_kernels.pde_term_field_mixed(U, GU, n, inv, so, bias[2], L, M, rho, tile.force, wt, GL, GM)
            else:
                val = field_kernels.traction_term_field_mixed(U, GU, n, inv, so, bias[2], M, tile.normals, tile.target,
                                                              wt, GL, GM)
        elif tile.term == "pde":
            val = field_kernels.pde_term_field(U, GU, n, inv, so, L, M, rho, tile.force, wt, GL, GM)
        else:
            val = field_kernels.traction_term_field(U, GU, n, inv, so, L, M, tile.normals, tile.target, wt, GL, GM)
        return val, 0.0, 0.0, 0.0
    if tile.term == "pde" and so.shape[0] == 3:
        return term_kernels.pde_term_mixed(U, GU, n, inv, so, bias[2], lam, mu, rho, tile.force, wt)
    if tile.term == "pde":
        val, gl, gm, gr = term_kernels.pde_term(U, GU, n, inv, so, lam, mu, rho, tile.force, wt)
        return val, gl, gm, gr
    if tile.term == "traction" and so.shape[0] == 3:
        val, gm = term_kernels.traction_term_mixed(U, GU, n, inv, so, bias[2], mu, tile.normals, tile.target, wt)
        return val, 0.0, gm, 0.0
    if tile.term == "traction":
        val, gl, gm = term_kernels.traction_term(U, GU, n, inv, so, lam, mu, tile.normals, tile.target, wt)
        return val, gl, gm, 0.0
    if tile.term == "initial_velocity":
        return term_kernels.misfit_term(U, GU, 3 * n, n, inv, so, zero, tile.target, wt), 0.0, 0.0, 0.0
    return term_kernels.misfit_term(U, GU, 0, n, inv, so, bias, tile.target, wt), 0.0, 0.0, 0.0


_MATERIAL_TERMS = ("pde", "traction")  # the terms whose residual sees lam and mu


class _FieldPoints(NamedTuple):
    """The material maps at the points of the tiles that see the material."""

    jet: object  # field.FieldJet at all those points, in tile order
    rows: dict  # tile index -> (a, b): its rows of the (N, 3) arrays below
    channels: dict  # name -> (N, 3) [p, p_x, p_y]: a mapped parameter, or a constant with zero gradient
    adjoints: dict  # name -> (N, 3): what the loss kernels write


def _field_points(prep, mf, material, dtype):
    """Evaluate the field ``mf`` (a MaterialField) once at every PDE and traction point of ``prep``."""
    k_tiles = [k for k, t in enumerate(prep.tiles) if t.term in _MATERIAL_TERMS]
    sizes = [prep.tiles[k].n for k in k_tiles]
    starts = np.cumsum([0] + sizes)
    xi = np.concatenate([prep.tiles[k].xi[:2] for k in k_tiles], axis=1) if k_tiles else np.zeros((2, 0), dtype)
    jet = field.forward(mf.arch, mf.params, xi, prep.scale[:2])
    channels = field.material_channels(jet, mf.arch)
    for name in ("lam", "mu"):
        if name not in channels:
            c = np.zeros((xi.shape[1], 3), dtype)
            c[:, 0] = getattr(material, name)
            channels[name] = c
    rows = {k: (int(starts[i]), int(starts[i + 1])) for i, k in enumerate(k_tiles)}
    adjoints = {name: np.zeros((xi.shape[1], 3), dtype) for name in ("lam", "mu")}
    return _FieldPoints(jet, rows, channels, adjoints)


def evaluate(arch, flat, prep, material, weights, ws, grad=None, mf=None, field_grad=None):
    """Loss (and gradient into ``grad`` when given) on prepared points; no input checks.

    Tiles are processed by ``ws.threads`` threads; the partial sums of each unit
    of tiles are kept apart and added in unit order, so the result is the same
    for any thread count. With a :class:`~pinnlite.engine.terms.MaterialField`
    ``mf`` the mapped parameters come from its network (evaluated once, before
    the tiles) and ``field_grad`` receives the gradient over its parameters
    (after them, in one backward pass, so also independent of the threads).
    """
    layout = arch.layout
    views = layout.views(flat)
    dt = arch.np_dtype
    so = np.asarray(arch.output_scale, dtype=dt)
    bias = views[f"b{len(arch.hidden)}"]
    zero = np.zeros(2, dt)
    w = weights.as_tuple()
    need_grad = grad is not None
    n_units = len(prep.units)
    parts, scal = ws.partials(n_units, layout.size if need_grad else 0, dt)
    fp = None if mf is None else _field_points(prep, mf, material, dt)

    def local(k):
        if fp is None or k not in fp.rows:
            return None
        a, b = fp.rows[k]
        c, g = fp.channels, fp.adjoints
        return c["lam"][a:b], c["mu"][a:b], g["lam"][a:b], g["mu"][a:b]

    def unit(u):
        buf = ws.buffers(arch, prep.tile_columns)
        first, stop = prep.units[u]
        row = scal[u]
        row.fill(0)
        for k in range(first, stop):
            tile = prep.tiles[k]
            shaped = buf.forward(flat, prep.scale, tile)
            wt = w[tile.index]
            val, gl, gm, gr = _loss_tile(tile, shaped[3], shaped[4], 1.0 / prep.counts[tile.term], so, bias, zero,
                                         material, wt, local(k))
            row[tile.index] += val
            row[_D_LAM] += wt * gl
            row[_D_MU] += wt * gm
            row[_D_RHO] += wt * gr
            if need_grad:
                buf.backward(flat, prep.scale, tile, parts[u], k != first)

    run_tasks(unit, n_units, ws.threads)
    sums = scal.sum(axis=0)
    if need_grad:
        np.sum(parts, axis=0, out=grad)
    terms = {t: float(sums[i]) for i, t in enumerate(TERMS) if t in prep.counts}
    if fp is None:
        gmat = {n: float(sums[_D_LAM + i]) for i, n in enumerate(MATERIAL_NAMES) if n in material.free}
        return LossResult(weights.total(terms), terms, grad, gmat)
    # the field's penalty is taken over the PDE points only: they sample the domain
    pde_rows = [fp.rows[k] for k, t in enumerate(prep.tiles) if t.term == "pde"]
    n_pde = pde_rows[-1][1] if pde_rows else 0
    pde_jet = fp.jet._replace(a=fp.jet.a[:, :n_pde], ax=fp.jet.ax[:, :n_pde], ay=fp.jet.ay[:, :n_pde])
    pen, pgx, pgy = field.penalty(pde_jet, mf.penalty, prep.counts.get("pde", 0))
    total = weights.total(terms, pen, mf.penalty_weight)
    if field_grad is not None:
        ga, gax, gay = field.chain(fp.jet, mf.arch, fp.channels, fp.adjoints)
        gax[:, :n_pde] += mf.penalty_weight * pgx
        gay[:, :n_pde] += mf.penalty_weight * pgy
        field.backward(mf.arch, mf.params, fp.jet, ga, gax, gay, out=field_grad)
    return LossResult(total, terms, grad, {}, pen, field_grad)


def loss_and_grad(params, arch, points, material, weights=None, *, workspace=None, need_grad=True, field=None):
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
        Scratch memory to reuse across calls and the thread count (one
        workspace per concurrent caller; default: a new one).
    need_grad : bool
        False: only the loss (``grad`` is None).
    field : MaterialField, optional
        Maps of lam and/or mu (the others from ``material``); the result's
        ``grad_field`` is the gradient over its parameters.

    Returns
    -------
    LossResult
    """
    if not isinstance(arch, Architecture):
        checks.fail("arch", "an Architecture", arch)
    flat = as_flat(arch, params)
    check_material(material, arch)
    weights = LossWeights.coerce(weights)
    if field is not None:
        check_field(field, arch)
    prep = prepare(arch, points, weights)
    if prep.n_points == 0:
        checks.fail("points", "at least one point set with points", "none")
    grad = np.empty_like(flat) if need_grad else None
    fgrad = np.empty_like(field.params) if need_grad and field is not None else None
    return evaluate(arch, flat, prep, material, weights, workspace or Workspace(), grad, field, fgrad)


def check_field(mf, arch):
    """``mf`` must be a MaterialField of the network's dtype over its spatial bounds."""
    if not isinstance(mf, MaterialField):
        checks.fail("field", "a MaterialField or None", mf)
    if mf.arch.dtype != arch.dtype:
        checks.fail("field.arch.dtype", f"the network's dtype {arch.dtype!r}", mf.arch.dtype)
    if tuple(mf.arch.bounds) != tuple(arch.bounds[:2]):
        checks.fail("field.arch.bounds", f"the network's x and y bounds {arch.bounds[:2]}", mf.arch.bounds)


def channels(arch, params, X, n_channels=8, workspace=None):
    """All derivative channels of the outputs, (u, v) or (u, v, p), at points ``X`` (n, 3).

    Returns an array of shape (n_channels, n, arch.n_outputs): value, then d/dx,
    d/dy, d/dt, then d2/dx2, d2/dy2, d2/dt2, d2/dxdy, with respect to the
    physical inputs.
    """
    if n_channels not in (1, 4, 8):
        checks.fail("n_channels", "1, 4 or 8", n_channels)
    flat = as_flat(arch, params)
    checks.array("points", X, (None, 3), arch.np_dtype)
    n = X.shape[0]
    n_out = arch.n_outputs
    out = np.empty((n_channels, n, n_out), arch.np_dtype)
    if n == 0:
        return out
    term = {1: "data", 4: "traction", 8: "pde"}[n_channels]
    prep = prepare(arch, PointSets(**{POINTS_FIELD[term]: X}), check=False)
    starts = np.cumsum([0] + [t.n for t in prep.tiles])
    ws = workspace or Workspace()
    views = arch.layout.views(flat)
    so = np.asarray(arch.output_scale, arch.np_dtype)
    bias = views[f"b{len(arch.hidden)}"]

    def task(k):
        tile = prep.tiles[k]
        buf = ws.buffers(arch, prep.tile_columns)
        U = buf.forward(flat, prep.scale, tile)[3]
        C = U.reshape(n_out, tile.c, tile.n).transpose(1, 2, 0)
        a, b = starts[k], starts[k + 1]
        out[0, a:b] = so * (C[0] + bias)
        out[1:, a:b] = so * C[1:]

    run_tasks(task, len(prep.tiles), ws.threads)
    return out


def predict(arch, params, X, workspace=None):
    """Displacements (n, 2) at points ``X`` (n, 3): the value channel of u and v only."""
    return channels(arch, params, X, 1, workspace)[0, :, :2]


def pde_residual(arch, params, X, material, body_force=None, field=None):
    """The residual (r_u, r_v) (n, 2) of the wave equation at points ``X`` (n, 3).

    With a MaterialField ``field`` the mapped parameters vary in space and the
    residual is the divergence form (:func:`pinnlite.engine.physics.residual_divergence`);
    a network with a pressure output gives (r_u, r_v) of the mixed form
    (:func:`pinnlite.engine.physics.residual_mixed`, with a field
    :func:`pinnlite.engine.physics.residual_mixed_divergence`).
    """
    check_material(material, arch)
    if field is not None:
        check_field(field, arch)
    C = channels(arch, params, X, 8)
    if body_force is not None:
        checks.array("body_force", body_force, (X.shape[0], 2), arch.np_dtype)
    if field is None:
        if arch.pressure:
            return physics.residual_mixed(C, material.lam, material.mu, material.rho, body_force)[:, :2]
        return physics.residual(C, material.lam, material.mu, material.rho, body_force)
    maps = material_maps(field, X[:, :2], material)
    if arch.pressure:
        return physics.residual_mixed_divergence(C, maps["lam"], maps["mu"], material.rho, body_force)[:, :2]
    return physics.residual_divergence(C, maps["lam"], maps["mu"], material.rho, body_force)


def material_maps(mf, X, material=None):
    """Dict lam, mu -> (n, 3) ``[p, p_x, p_y]`` at physical points ``X`` (n, 2) (or (n, 3): t ignored).

    The mapped parameters come from the field; the others are ``material``'s
    constants with zero gradient (only the mapped ones without ``material``).
    """
    if not isinstance(mf, MaterialField):
        checks.fail("field", "a MaterialField", mf)
    if not isinstance(X, np.ndarray) or X.ndim != 2 or X.shape[1] not in (2, 3):
        checks.fail("points", "an array of shape (n, 2) or (n, 3)", X)
    X = checks.array("points", X, (None, X.shape[1]), mf.arch.np_dtype)
    s, c = mf.arch.input_transform()
    xi = ((X[:, :2] - c) * s).T.astype(mf.arch.np_dtype)
    maps = field.material_channels(field.forward(mf.arch, mf.params, xi, s), mf.arch)
    if material is not None:
        for name in ("lam", "mu"):
            if name not in maps:
                m = np.zeros((X.shape[0], 3), mf.arch.np_dtype)
                m[:, 0] = getattr(material, name)
                maps[name] = m
    return maps
