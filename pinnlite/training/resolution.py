"""How well the wave equation pins a material map down, region by region.

A map is determined only where the waves load it: with no shear motion in a
region, ``mu`` there changes nothing in the equation, and with ``div u = 0``
(a shear wave in near-incompressible tissue) ``lam`` changes nothing. For a
trained run, on the cells of a grid over the map's window and the points
``X_i`` in each cell R (all times), with the fitted channels of (u, v), the
residual ``r`` left there and ``g_i = p(X_i) d r / d p`` (the change of the
residual per relative change of p, uniform near the point;
:func:`pinnlite.engine.physics.material_sensitivity`)::

    share(R)     = |g|_R / |div sigma|_R      (dimensionless, 0 to about 1)
    ambiguity(R) = |r|_R / |g|_R              (a relative change of p)

with ``|a|_R`` the root sum of squares over the points of R and both
components. ``share`` is the part of the local force balance that p
carries: for a constant material ``lam d r/d lam + mu d r/d mu = -div sigma``,
so the shares of a plane P wave are ``lam / (lam + 2 mu)`` and ``2 mu / (lam +
2 mu)``, and a shear wave gives mu a share of 1 and lam none. ``ambiguity`` is
the relative change of p, uniform over R, whose effect on the residual equals
the residual left there (a map that is off by a uniform factor ``1 + e`` in R
leaves exactly ``|e| / (1 + e)``): where it is small the equation rules out
larger changes; where the share is small it is large, and the map there is the
prior's, not the data's. It is a sensitivity, not a standard deviation: it
holds the fitted displacement fixed and ignores that the data themselves are
noisy, so it is a lower bound on what the data allow only in its order of
magnitude.
"""

from typing import NamedTuple

import numpy as np

from pinnlite.core import checks
from pinnlite.engine import physics

# a cell where the parameter carries less of the force balance than this is reported as undetermined:
# the map there follows the prior (smoothness, the initial guess) more than the waves
UNDETERMINED = 0.1


class Resolution(NamedTuple):
    """``share`` and ``ambiguity`` (ny, nx) of one mapped parameter on the cells between
    ``x_edges`` (nx + 1,) and ``y_edges`` (ny + 1,); ``points`` (ny, nx) counts the points
    of each cell (NaN where a cell holds none or, for ``share``, no motion)."""

    x_edges: np.ndarray
    y_edges: np.ndarray
    share: np.ndarray
    ambiguity: np.ndarray
    points: np.ndarray


def grid_points(bounds, times, cells=8, per_cell=4, n_times=16):
    """Space-time points on a regular grid, and the cell of each.

    Parameters
    ----------
    bounds : ((x0, x1), (y0, y1))
        The map's window.
    times : (t0, t1)
        The time span; ``n_times`` times at the centres of equal intervals.
    cells : int or (nx, ny)
        Cells along x and y.
    per_cell : int
        Points per cell along each axis, at the centres of equal sub-cells.

    Returns
    -------
    X : (n, 3) float64
        The points, ``n = nx ny per_cell^2 n_times``.
    x_edges, y_edges : (nx + 1,), (ny + 1,)
    """
    (x0, x1), (y0, y1) = checks.box("bounds", bounds, axes="xy")
    ((t0, t1),) = checks.box("times", [times], axes="t")
    nx, ny = (cells, cells) if not isinstance(cells, (tuple, list)) else cells
    nx, ny = checks.integer("cells[x]", nx, low=1), checks.integer("cells[y]", ny, low=1)
    per_cell = checks.integer("per_cell", per_cell, low=1)
    n_times = checks.integer("n_times", n_times, low=1)

    def centres(a, b, n):
        return a + (b - a) * (np.arange(n) + 0.5) / n

    xs, ys, ts = centres(x0, x1, nx * per_cell), centres(y0, y1, ny * per_cell), centres(t0, t1, n_times)
    X, Y, T = np.meshgrid(xs, ys, ts, indexing="ij")
    return np.stack([X.ravel(), Y.ravel(), T.ravel()], axis=1), *edges(bounds, (nx, ny))


def edges(bounds, cells):
    """Cell edges ``x_edges`` (nx + 1,), ``y_edges`` (ny + 1,) of ``cells`` = (nx, ny) over ``bounds``."""
    (x0, x1), (y0, y1) = checks.box("bounds", bounds, axes="xy")
    return np.linspace(x0, x1, cells[0] + 1), np.linspace(y0, y1, cells[1] + 1)


def cell_of(X, x_edges, y_edges):
    """Flat cell index ``iy * nx + ix`` (n,) of the points X (n, >= 2); -1 outside the grid."""
    nx, ny = len(x_edges) - 1, len(y_edges) - 1
    ix = np.searchsorted(x_edges, X[:, 0], side="right") - 1
    iy = np.searchsorted(y_edges, X[:, 1], side="right") - 1
    ix[X[:, 0] == x_edges[-1]] = nx - 1  # the far edges belong to the last cells
    iy[X[:, 1] == y_edges[-1]] = ny - 1
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    return np.where(inside, iy * nx + ix, -1)


def region_resolution(C, maps, residual, cell, x_edges, y_edges, names):
    """Dict name -> :class:`Resolution` from the fitted channels and the residual left.

    Parameters
    ----------
    C : (8, n, 2)
        Channels of (u, v) at the points (:func:`pinnlite.engine.channels`).
    maps : dict
        ``"lam"`` and ``"mu"`` -> (n, 3) ``[p, p_x, p_y]`` at the points
        (:func:`pinnlite.engine.material_maps` with the material).
    residual : (n, 2)
        The wave equation's residual at the points (body force included).
    cell : (n,) int
        Flat cell index of each point (:func:`cell_of`); -1 leaves a point out.
    names : iterable of str
        The parameters to report (``"lam"``, ``"mu"``).
    """
    nx, ny = len(x_edges) - 1, len(y_edges) - 1
    inside = cell >= 0
    idx = cell[inside]

    def per_cell(a):
        a = np.asarray(a, np.float64)[inside]
        return np.bincount(idx, weights=np.sum(a * a, axis=1), minlength=nx * ny)

    counts = np.bincount(idx, minlength=nx * ny).astype(np.float64)
    force = per_cell(physics.residual_divergence(C, maps["lam"], maps["mu"], 0.0))  # -div sigma
    left = per_cell(residual)
    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for name in names:
            g = per_cell(maps[name][:, :1] * physics.material_sensitivity(C, name))
            share = np.sqrt(g / force)
            ambiguity = np.where(g > 0, np.sqrt(left / g), np.inf)
            empty = counts == 0
            share[empty | ~(force > 0)] = np.nan
            ambiguity[empty] = np.nan
            out[name] = Resolution(x_edges, y_edges, share.reshape(ny, nx), ambiguity.reshape(ny, nx),
                                   counts.reshape(ny, nx))
    return out
