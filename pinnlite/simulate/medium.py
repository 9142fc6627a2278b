"""The simulation grid, the material maps on it, and phantom maps.

A :class:`Grid` is ``nx`` by ``ny`` nodes of spacing ``h`` (one spacing for both
axes), node ``(i, j)`` at ``(x0 + i h, y0 + j h)``. Every map on it is a float64
array of shape ``(ny, nx)``, indexed ``[j, i]``: rows are y, columns are x, as
an image with y growing downwards in memory (``a[j, i]`` is the value at
``(x_i, y_j)``).

A :class:`Medium` is a grid with the Lamé parameters ``lam``, ``mu`` and the
density ``rho`` at its nodes. The solver
(:mod:`pinnlite.simulate.solver`) puts the normal stresses at these nodes and
derives the values at the other staggered positions by effective-media
averaging (Moczo et al. 2002; ``docs/SIMULATE.md``).

Units are the user's: any consistent set works (m, s, Pa, kg m^-3, or mm, us,
GPa, g cm^-3: then velocities are in mm/us = km/s). Nothing here converts.

Phantoms: :func:`uniform`, :func:`disc` (an inclusion, optionally smoothed by a
tanh profile) and :func:`layers` (horizontal interfaces at given y).
"""

from dataclasses import dataclass

import numpy as np

from pinnlite.core import checks
from pinnlite.errors import InputError


@dataclass(frozen=True)
class Grid:
    """``nx`` by ``ny`` nodes of spacing ``h``; node ``(i, j)`` at ``(origin[0] + i h, origin[1] + j h)``."""

    nx: int
    ny: int
    h: float
    origin: tuple = (0.0, 0.0)

    def __post_init__(self):
        object.__setattr__(self, "nx", checks.integer("nx", self.nx, low=4))
        object.__setattr__(self, "ny", checks.integer("ny", self.ny, low=4))
        object.__setattr__(self, "h", checks.real("h", self.h, low=0.0, low_open=True))
        o = self.origin
        if not isinstance(o, (tuple, list)) or len(o) != 2:
            checks.fail("origin", "a pair (x0, y0)", o)
        object.__setattr__(self, "origin", (checks.real("origin[0]", o[0]), checks.real("origin[1]", o[1])))

    @property
    def shape(self):
        """``(ny, nx)``: the shape of every map."""
        return (self.ny, self.nx)

    @property
    def x(self):
        """Node x coordinates (nx,)."""
        return self.origin[0] + self.h * np.arange(self.nx)

    @property
    def y(self):
        """Node y coordinates (ny,)."""
        return self.origin[1] + self.h * np.arange(self.ny)

    @property
    def extent(self):
        """``((x_first, x_last), (y_first, y_last))``: the first and last nodes."""
        x0, y0 = self.origin
        return ((x0, x0 + (self.nx - 1) * self.h), (y0, y0 + (self.ny - 1) * self.h))

    def nodes(self, offset=(0.0, 0.0)):
        """``(X, Y)``, each (ny, nx): the nodes shifted by ``offset`` (in units of h).

        ``offset=(0.5, 0)`` gives the positions of the x-velocity, ``(0, 0.5)`` those
        of the y-velocity, ``(0.5, 0.5)`` those of the shear stress.
        """
        x = self.origin[0] + self.h * (np.arange(self.nx) + offset[0])
        y = self.origin[1] + self.h * (np.arange(self.ny) + offset[1])
        return np.meshgrid(x, y)


def _check_map(name, value, grid):
    """``value`` as a finite float64 array of shape ``grid.shape`` (lists and ints converted)."""
    if not isinstance(value, np.ndarray) or value.dtype.kind not in "fi":
        checks.fail(name, f"a float array of shape {grid.shape} (ny, nx)", value)
    return checks.array(name, np.ascontiguousarray(value, dtype=np.float64), grid.shape, np.float64)


def _first_bad(name, bad, a, rule, grid):
    j, i = (int(k) for k in np.argwhere(bad)[0])
    raise InputError(f"{name}: expected {rule}, found {float(a[j, i])!r} at node [j={j}, i={i}] "
                     f"(x = {float(grid.x[i])!r}, y = {float(grid.y[j])!r}; {int(bad.sum())} bad nodes)")


@dataclass(frozen=True)
class Medium:
    """Lamé parameters and density, each (ny, nx), at the nodes of ``grid``.

    ``mu > 0``, ``rho > 0`` and ``lam + mu > 0`` at every node (a positive-definite
    plane-strain energy, so the scheme conserves a positive energy): anything
    else is an :class:`~pinnlite.errors.InputError` naming the node.
    """

    grid: Grid
    lam: np.ndarray
    mu: np.ndarray
    rho: np.ndarray

    def __post_init__(self):
        if not isinstance(self.grid, Grid):
            checks.fail("grid", "a pinnlite.simulate.Grid", self.grid)
        for name in ("lam", "mu", "rho"):
            a = _check_map(name, getattr(self, name), self.grid)
            a.setflags(write=False)
            object.__setattr__(self, name, a)
        if (self.mu <= 0).any():
            _first_bad("mu", self.mu <= 0, self.mu, "values > 0", self.grid)
        if (self.rho <= 0).any():
            _first_bad("rho", self.rho <= 0, self.rho, "values > 0", self.grid)
        if (self.lam + self.mu <= 0).any():
            _first_bad("lam", self.lam + self.mu <= 0, self.lam, "values > -mu (lam + mu > 0)", self.grid)

    @property
    def vp(self):
        """P-wave speed sqrt((lam + 2 mu) / rho) at the nodes (ny, nx)."""
        return np.sqrt((self.lam + 2 * self.mu) / self.rho)

    @property
    def vs(self):
        """S-wave speed sqrt(mu / rho) at the nodes (ny, nx)."""
        return np.sqrt(self.mu / self.rho)

    def material_at(self, points):
        """``(lam, mu, rho)``, each (n,), bilinearly interpolated at ``points`` (n, 2) (columns x, y).

        Bilinear interpolation stays within the range of the four surrounding nodes,
        so a sharp phantom does not ring. Every point must lie between the first and
        the last node on each axis.
        """
        P = _check_points("points", points, self.grid.extent)
        g = self.grid
        sx = np.clip((P[:, 0] - g.origin[0]) / g.h, 0.0, g.nx - 1)
        sy = np.clip((P[:, 1] - g.origin[1]) / g.h, 0.0, g.ny - 1)
        i = np.minimum(np.floor(sx).astype(np.int64), g.nx - 2)
        j = np.minimum(np.floor(sy).astype(np.int64), g.ny - 2)
        ax, ay = sx - i, sy - j

        def bilinear(a):
            return ((1 - ay) * ((1 - ax) * a[j, i] + ax * a[j, i + 1])
                    + ay * ((1 - ax) * a[j + 1, i] + ax * a[j + 1, i + 1]))

        return bilinear(self.lam), bilinear(self.mu), bilinear(self.rho)


def _check_points(name, points, extent):
    """``points`` as a float64 (n, 2) array inside ``extent`` (to rounding)."""
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        checks.fail(name, "a float array of shape (n, 2) (columns x, y)", points)
    P = checks.array(name, np.ascontiguousarray(arr), (None, 2), np.float64)
    for axis, (lo, hi) in enumerate(extent):
        tol = 1e-9 * (hi - lo)
        bad = (P[:, axis] < lo - tol) | (P[:, axis] > hi + tol)
        if bad.any():
            r = int(np.argmax(bad))
            raise InputError(f"{name}: expected points with {'xy'[axis]} in [{lo!r}, {hi!r}], "
                             f"found {'xy'[axis]} = {float(P[r, axis])!r} in row {r}")
    return P


# ---------------------------------------------------------------------------- phantoms


def _triple(name, value):
    """``value`` as a (lam, mu, rho) tuple of floats."""
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        checks.fail(name, "a triple (lam, mu, rho)", value)
    return tuple(checks.real(f"{name}[{k}]", v) for k, v in enumerate(value))


def uniform(grid, lam, mu, rho):
    """A homogeneous :class:`Medium` on ``grid``."""
    if not isinstance(grid, Grid):
        checks.fail("grid", "a pinnlite.simulate.Grid", grid)
    lam, mu, rho = _triple("(lam, mu, rho)", (lam, mu, rho))
    return Medium(grid, np.full(grid.shape, lam), np.full(grid.shape, mu), np.full(grid.shape, rho))


def disc(grid, centre, radius, inside, outside, width=0.0):
    """A disc of material ``inside`` (lam, mu, rho) in a background ``outside``.

    With ``width`` 0 a node is inside when its distance r to ``centre`` is at most
    ``radius``; with ``width`` > 0 every parameter blends as
    ``outside + (inside - outside) (1 - tanh((r - radius) / width)) / 2``.
    """
    if not isinstance(grid, Grid):
        checks.fail("grid", "a pinnlite.simulate.Grid", grid)
    if not isinstance(centre, (tuple, list, np.ndarray)) or len(centre) != 2:
        checks.fail("centre", "a pair (x, y)", centre)
    cx, cy = checks.real("centre[0]", centre[0]), checks.real("centre[1]", centre[1])
    radius = checks.real("radius", radius, low=0.0, low_open=True)
    width = checks.real("width", width, low=0.0)
    a, b = np.array(_triple("inside", inside)), np.array(_triple("outside", outside))
    X, Y = grid.nodes()
    r = np.hypot(X - cx, Y - cy)
    w = (r <= radius).astype(np.float64) if width == 0 else 0.5 * (1 - np.tanh((r - radius) / width))
    maps = [b[k] + (a[k] - b[k]) * w for k in range(3)]
    return Medium(grid, *maps)


def layers(grid, interfaces, values):
    """Horizontal layers: ``values[k]`` (lam, mu, rho) between ``interfaces[k-1]`` and ``interfaces[k]``.

    ``interfaces`` are increasing y values; ``values`` has one more entry than
    ``interfaces``, from the smallest y up. A node with y >= ``interfaces[k]`` lies
    above that interface. (To put an interface exactly where the scheme sees it,
    place it halfway between two rows of nodes: ``docs/SIMULATE.md``.)
    """
    if not isinstance(grid, Grid):
        checks.fail("grid", "a pinnlite.simulate.Grid", grid)
    if not isinstance(interfaces, (tuple, list)):
        checks.fail("interfaces", "a list of increasing y values", interfaces)
    ys = [checks.real(f"interfaces[{k}]", y) for k, y in enumerate(interfaces)]
    if any(b <= a for a, b in zip(ys, ys[1:])):
        checks.fail("interfaces", "strictly increasing y values", list(interfaces))
    if not isinstance(values, (tuple, list)) or len(values) != len(ys) + 1:
        checks.fail("values", f"a list of {len(ys) + 1} triples (lam, mu, rho), one per layer", values)
    table = np.array([_triple(f"values[{k}]", v) for k, v in enumerate(values)])
    layer = np.searchsorted(np.array(ys), grid.y, side="right")  # rows at or above an interface lie above it
    rows = table[layer]  # (ny, 3)
    maps = [np.repeat(rows[:, k:k + 1], grid.nx, axis=1) for k in range(3)]
    return Medium(grid, *maps)


def points_per_wavelength(medium, frequency):
    """Nodes per minimum shear wavelength at ``frequency``: min(vs) / (frequency h)."""
    frequency = checks.real("frequency", frequency, low=0.0, low_open=True)
    return float(np.min(medium.vs)) / (frequency * medium.grid.h)

