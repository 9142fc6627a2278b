"""The loss as least squares: the weighted residual vector and its exact Jacobian.

Every loss term is a mean of squared 2-vector residuals, so the weighted total
is one sum of squares (``docs/ENGINE.md``, "Residuals and their Jacobian")::

    L = sum_t (w_t / N_t) sum_i |r_t,i|^2 = |rho|^2,   rho = [sqrt(w_t / N_t) r_t,i,c]

with one row per point and component (c = u, v; and r_p for the mixed PDE term of
a network with a pressure output), terms in TERMS order, tiles in order, and in
a tile the u rows, then the v rows (then the r_p rows). Then ``grad L = 2 J^T rho``
and ``2 J^T J`` is the Gauss-Newton matrix, with ``J = d rho / d params``.

The rows of ``J`` come from the engine's backward pass without its last
reduction: the points of a tile share no column (every layer acts on each
column alone), so seeding the output with the derivative of every point's
residual at once and keeping each point's share of the weight gradients gives
every point's Jacobian row in one pass per component: ``J_W[i] = sum_k Z[:, k,
i] H[:, k, i]^T`` over the point's channels k. The derivatives of ``rho`` with
respect to lam, mu and rho come from the residual formulas directly.
"""

from typing import NamedTuple

import numpy as np

from pinnlite.core.activations import get_activation
from pinnlite.engine import kernels
from pinnlite.engine.terms import MATERIAL_NAMES, TERMS
from pinnlite.engine.threads import run_tasks


class Residuals(NamedTuple):
    """The least-squares form of one evaluation.

    ``values`` (m,) are the weighted residuals rho (float64), ``jac`` (m, n_params)
    ``d rho / d params`` in the layout of the parameters (float64, None when not
    asked for; (m, columns) with columns past n_params left to the caller, see
    :func:`residuals`), ``dmat`` (m, 3) ``d rho / d (lam, mu, rho)``, ``blocks`` the
    ``(term, first row, stop row)`` of each present term.
    """

    values: np.ndarray
    jac: np.ndarray
    dmat: np.ndarray
    blocks: tuple


def _components(tile, arch):
    """Residual components per point of a tile: 3 for the mixed PDE term (r_u, r_v, r_p), else 2."""
    return 3 if tile.term == "pde" and arch.pressure else 2


def _pressure_rows(tile, U, so, bias, lam, a, r, seeds, dmat):
    """The mixed PDE term's rows from the displacement form's with lam = 0 (``r`` (2, n), unscaled):
    ``- grad p`` in (r_u, r_v), and r_p = kappa (div u - p / lam) as a third component
    (:func:`pinnlite.engine.term_kernels.pde_term_mixed`). Returns what :func:`_rows` does."""
    n, c = tile.n, tile.c
    su, sv, sp = so
    kappa = sp / np.sqrt(su * sv)
    ch = lambda o, k: U[o, k * n : (k + 1) * n].astype(np.float64)  # noqa: E731
    p = sp * (ch(2, 0) + float(bias[2]))
    rp = kappa * (su * ch(0, 1) + sv * ch(1, 2) - p / lam)
    r = np.concatenate([r - sp * np.stack([ch(2, 1), ch(2, 2)]), rp[None]])
    seeds[0][2, n : 2 * n] = -a * sp
    seeds[1][2, 2 * n : 3 * n] = -a * sp
    seeds.append(np.zeros((3, c * n), U.dtype))
    for o, k, d in ((0, 1, kappa * su), (1, 2, kappa * sv), (2, 0, -kappa * sp / lam)):
        seeds[2][o, k * n : (k + 1) * n] = a * d
    dmat[:, :, 0] = 0.0  # lam is in r_p only
    dmat = np.concatenate([dmat, np.zeros((1, n, 3))])
    dmat[2, :, 0] = kappa * p / lam**2
    return a * r, seeds, a * dmat


def _rows(tile, U, so, bias, material, a):
    """Residuals (q, n), their seeds [dr_0/dU, ...] (each (n_outputs, c*n)) and d r / d(lam, mu, rho) (q, n, 3).

    q is :func:`_components` (2: u and v; 3 for the mixed PDE term). Everything
    is multiplied by ``a = sqrt(w_t / N_t)``. U is the tile's raw output
    (n_outputs, c*n), channel-major; the physical field is ``so * (U + b)`` on
    the value channel and ``so * U`` on the derivative channels.
    """
    n, c = tile.n, tile.c
    su, sv = so[0], so[1]
    lam, mu, rho = material.lam, material.mu, material.rho
    seeds = [np.zeros((len(so), c * n), U.dtype), np.zeros((len(so), c * n), U.dtype)]
    dmat = np.zeros((2, n, 3))
    ch = lambda o, k: U[o, k * n : (k + 1) * n].astype(np.float64)  # noqa: E731
    if tile.term == "pde":
        mixed = len(so) == 3  # a pressure output: the mixed form, the displacement form's with lam = 0 plus p
        lam_s = 0.0 if mixed else lam
        lp2m, lpm = lam_s + 2 * mu, lam_s + mu
        uxx, uyy, utt, uxy = (su * ch(0, k) for k in (4, 5, 6, 7))
        vxx, vyy, vtt, vxy = (sv * ch(1, k) for k in (4, 5, 6, 7))
        r = np.stack([rho * utt - lp2m * uxx - mu * uyy - lpm * vxy,
                      rho * vtt - mu * vxx - lp2m * vyy - lpm * uxy])
        if tile.force.shape[0]:
            r -= tile.force.T
        for k, d in ((4, -lp2m * su), (5, -mu * su), (6, rho * su)):
            seeds[0][0, k * n : (k + 1) * n] = a * d
        seeds[0][1, 7 * n : 8 * n] = -a * lpm * sv
        for k, d in ((4, -mu * sv), (5, -lp2m * sv), (6, rho * sv)):
            seeds[1][1, k * n : (k + 1) * n] = a * d
        seeds[1][0, 7 * n : 8 * n] = -a * lpm * su
        dmat[0] = np.stack([-(uxx + vxy), -(2 * uxx + uyy + vxy), utt], axis=1)
        dmat[1] = np.stack([-(vyy + uxy), -(vxx + 2 * vyy + uxy), vtt], axis=1)
        if mixed:
            return _pressure_rows(tile, U, so, bias, lam, a, r, seeds, dmat)
    elif tile.term == "traction":
        # the mixed form's stress (a pressure output) is the displacement form's with lam = 0, plus p I
        mixed = len(so) == 3
        lam_s = 0.0 if mixed else lam
        lp2m = lam_s + 2 * mu
        ux, uy = su * ch(0, 1), su * ch(0, 2)
        vx, vy = sv * ch(1, 1), sv * ch(1, 2)
        p = so[2] * (ch(2, 0) + float(bias[2])) if mixed else 0.0
        nx, ny = tile.normals[:, 0].astype(np.float64), tile.normals[:, 1].astype(np.float64)
        sxx, syy, sxy = lp2m * ux + lam_s * vy + p, lam_s * ux + lp2m * vy + p, mu * (uy + vx)
        r = np.stack([sxx * nx + sxy * ny, sxy * nx + syy * ny]) - tile.target.T
        # d(rx, ry) / d(ux, uy, vx, vy, p), ux = su U0_x and so on
        for q, (dux, duy, dvx, dvy, dp) in enumerate(((lp2m * nx, mu * ny, mu * ny, lam_s * nx, nx),
                                                      (lam_s * ny, mu * nx, mu * nx, lp2m * ny, ny))):
            seeds[q][0, n : 2 * n] = a * su * dux
            seeds[q][0, 2 * n : 3 * n] = a * su * duy
            seeds[q][1, n : 2 * n] = a * sv * dvx
            seeds[q][1, 2 * n : 3 * n] = a * sv * dvy
            if mixed:
                seeds[q][2, :n] = a * so[2] * dp
        if not mixed:  # lam is in the stress of the displacement form only
            dmat[0, :, 0], dmat[1, :, 0] = (ux + vy) * nx, (ux + vy) * ny
        dmat[0, :, 1], dmat[1, :, 1] = 2 * ux * nx + (uy + vx) * ny, (uy + vx) * nx + 2 * vy * ny
    else:
        k = 3 if tile.term == "initial_velocity" else 0  # the t channel, else the value
        shift = np.zeros(2) if k else bias.astype(np.float64)
        r = np.stack([so[o] * (ch(o, k) + shift[o]) for o in range(2)]) - tile.target.T
        for o in range(2):
            seeds[o][o, k * n : (k + 1) * n] = a * so[o]
    return a * r, seeds, a * dmat


def _backward_rows(arch, views, code, scale, tile, shaped, seed, Z_saved, J, row0, layout):
    """Jacobian rows ``J[row0 : row0 + n]`` of one component of a tile from its seed (n_outputs, c*n)."""
    z0, H, Z, _, _, adj = shaped
    n, c, nh = tile.n, tile.c, len(arch.hidden)
    rows = J[row0 : row0 + n]
    ent = {e.name: e for e in layout.entries}

    def put(name, values):  # values (n, *shape) -> the entry's columns
        e = ent[name]
        rows[:, e.offset : e.offset + e.size] = values.reshape(n, -1)

    put(f"W{nh}", np.einsum("okn,bkn->nob", seed.reshape(-1, c, n), H[-1].reshape(-1, c, n)))
    put(f"b{nh}", seed[:, :n].T)
    np.matmul(views[f"W{nh}"].T, seed, out=adj[nh - 1])
    db = np.empty(max(arch.hidden), adj[0].dtype)
    for l in range(nh - 1, 0, -1):
        Z[l][...] = Z_saved[l]  # the backward kernel overwrites the pre-activations
        w = Z[l].shape[0]
        kernels.hidden_backward(adj[l], Z[l], H[l], n, c, code, db[:w])
        put(f"W{l}", np.einsum("akn,bkn->nab", Z[l].reshape(w, c, n), H[l - 1].reshape(-1, c, n)))
        put(f"b{l}", Z[l][:, :n].T)
        np.matmul(views[f"W{l}"].T, Z[l], out=adj[l - 1])
    w0 = arch.hidden[0]
    gW0 = np.empty((n, w0, 3), adj[0].dtype)
    gb0 = np.empty((n, w0), adj[0].dtype)
    kernels.first_backward_points(adj[0], z0, H[0], views["W0"], scale, tile.xi, n, c, code, gW0, gb0)
    put("W0", gW0)
    put("b0", gb0)


def residuals(arch, flat, prep, material, weights, ws, jacobian=True, columns=None):
    """The weighted residuals of prepared points and (when asked for) their Jacobian.

    Parameters
    ----------
    arch, flat, prep, material, weights, ws
        As in :func:`pinnlite.engine.loss.evaluate` (no input checks here).
    jacobian : bool
        False: only ``values`` and ``dmat`` (``jac`` is None).
    columns : int, optional
        The width of ``jac`` (default, and at least, n_params): a caller that
        appends columns of its own (the material's) gets the matrix it fills
        instead of a copy of a matrix of several tens of MB. The columns past
        n_params are not written here.

    Returns
    -------
    Residuals
        ``|values|^2`` is the weighted total of :func:`~pinnlite.engine.loss.evaluate`.
        Terms of weight zero contribute no rows.
    """
    layout = arch.layout
    views = layout.views(flat)
    act = get_activation(arch.activation)
    code = act.code
    dt = arch.np_dtype
    so = np.asarray(arch.output_scale, dtype=np.float64)
    bias = views[f"b{len(arch.hidden)}"]
    w = weights.as_tuple()
    tiles = [t for t in prep.tiles if w[t.index] > 0]
    starts = np.cumsum([0] + [_components(t, arch) * t.n for t in tiles])
    m = int(starts[-1])
    values = np.empty(m)
    dmat = np.empty((m, 3))
    J = np.empty((m, max(layout.size, columns or 0))) if jacobian else None

    def task(k):
        tile = tiles[k]
        buf = ws.buffers(arch, prep.tile_columns)
        shaped = buf.forward(flat, prep.scale, tile)
        U = shaped[3]
        a = float(np.sqrt(w[tile.index] / prep.counts[tile.term]))
        r, seeds, dm = _rows(tile, U, so, bias, material, a)
        row0, n, q_count = int(starts[k]), tile.n, len(seeds)
        values[row0 : row0 + q_count * n] = r.ravel()
        dmat[row0 : row0 + q_count * n] = dm.reshape(q_count * n, 3)
        if jacobian:
            Z_saved = [z.copy() for z in shaped[2]]
            for q in range(q_count):
                _backward_rows(arch, views, code, prep.scale, tile, shaped, seeds[q].astype(dt, copy=False),
                               Z_saved, J, row0 + q * n, layout)

    run_tasks(task, len(tiles), ws.threads)
    blocks, row = [], 0
    for t in TERMS:
        rows = sum(_components(tile, arch) * tile.n for tile in tiles if tile.term == t)
        if rows:
            blocks.append((t, row, row + rows))
            row += rows
    return Residuals(values, J, dmat, tuple(blocks))


def material_columns(res, material):
    """``d rho / d p`` (m, k) for the free material parameters p, in the order lam, mu, rho."""
    idx = [MATERIAL_NAMES.index(n) for n in material.free]
    return res.dmat[:, idx]
