"""The 2D elastic finite-difference solver: velocity-stress, staggered grid, 4th order in space.

Equations (plane strain, the same as :mod:`pinnlite.engine.physics`)::

    rho vx_t = sxx_x + sxy_y + f_x          sxx_t = (lam + 2 mu) vx_x + lam vy_y
    rho vy_t = sxy_x + syy_y + f_y          syy_t = lam vx_x + (lam + 2 mu) vy_y
                                            sxy_t = mu (vx_y + vy_x)

on the staggered grid of Virieux (1986) with the 4th-order differences of
Levander (1988) and the 2nd-order leapfrog in time: velocities at half steps
``t_{n+1/2}``, stresses and displacements at integer steps ``t_n = n dt``::

    v^{n+1/2} = v^{n-1/2} + dt b (D sigma^n + f(t_n))
    u^{n+1}   = u^n + dt v^{n+1/2}
    sigma^{n+1} = sigma^n + dt C D v^{n+1/2}

so ``sigma^n = C D u^n`` holds exactly at every step and the displacement is
the time integral of the leapfrog's velocity: the scheme is the
displacement leapfrog ``u^{n+1} - 2 u^n + u^{n-1} = dt^2 b (D C D u^n + f^n)``.

Effective media on the staggered grid (Moczo, Kristek, Vavrycuk, Archuleta &
Halada 2002, BSSA 92(8):3042): the material maps sit at the normal-stress
nodes; the density at a velocity node is the arithmetic mean of its two
neighbours (``b = 1 / rho_eff``), the shear modulus at a shear-stress node the
harmonic mean of its four. An interface halfway between two rows of nodes is
then represented exactly (``docs/SIMULATE.md``).

Stability (CFL; Levander 1988) for this scheme in 2D::

    dt <= h / (sqrt(2) (|C1| + |C2|) vp_max),  vp = sqrt((lam + 2 mu) / rho)

and numerical dispersion stays small with at least 5 nodes per minimum shear
wavelength at the sources' highest significant frequency (2.5 f0 for a Ricker
wavelet): below that a :class:`DispersionWarning` is issued.

Boundaries, per axis: ``"periodic"``, or ``"absorbing"``: a sponge of
``absorb_width`` nodes (Cerjan, Kosloff, Kosloff & Reshef 1985, Geophysics
50(4):705) multiplies velocities and stresses at each step by
``exp(-q (d / absorb_width)^2)``, d the depth in nodes into the layer and
``q = absorb_strength * vp_max dt / h`` (so the attenuation across the layer
does not depend on dt); outside the grid the fields are zero. Sensors and
sources must lie in the interior, clear of the sponge.
"""

import math
import warnings

import numpy as np

from pinnlite.core import checks
from pinnlite.errors import InputError
from pinnlite.simulate import kernels
from pinnlite.simulate.kernels import C1, C2, PAD
from pinnlite.simulate.medium import Medium, points_per_wavelength
from pinnlite.simulate.sources import RICKER_HIGHEST, PointForce, ricker, stencil

#: Position of each field relative to node (x_i, y_j), in units of h.
OFFSETS = {"vx": (0.5, 0.0), "vy": (0.0, 0.5), "ux": (0.5, 0.0), "uy": (0.0, 0.5),
           "sxx": (0.0, 0.0), "syy": (0.0, 0.0), "sxy": (0.5, 0.5)}
FIELDS = tuple(OFFSETS)
BOUNDARIES = ("periodic", "absorbing")
#: Fewer nodes than this per minimum shear wavelength (at 2.5 f0) warns.
MIN_POINTS_PER_WAVELENGTH = 5.0
#: The sponge's defaults: the best strength of a scan at this width (benchmarks/simulate.py --sponge).
ABSORB_WIDTH = 30
ABSORB_STRENGTH = 0.13
#: The time step chosen when none is given, as a fraction of the CFL limit.
DEFAULT_COURANT = 0.8


class DispersionWarning(UserWarning):
    """The grid has fewer than 5 nodes per minimum shear wavelength at 2.5 f0."""


def max_dt(medium):
    """The largest stable time step h / (sqrt(2) (|C1| + |C2|) vp_max) of ``medium``."""
    return medium.grid.h / (math.sqrt(2.0) * (abs(C1) + abs(C2)) * float(np.max(medium.vp)))


def _neighbour(a, axis, periodic):
    """``a`` shifted by one node towards -axis: the value at the next node (the last node repeats at an edge)."""
    if periodic:
        return np.roll(a, -1, axis=axis)
    return np.concatenate([a[1:], a[-1:]]) if axis == 0 else np.concatenate([a[:, 1:], a[:, -1:]], axis=1)


def effective_media(medium, periodic):
    """Padded (ny + 4, nx + 4) arrays of the coefficients at their staggered positions.

    ``bx``, ``by``: 1 / (arithmetic mean of rho at the two nodes beside the
    velocity node); ``lam``, ``lam2mu``: at the nodes; ``muxy``: harmonic mean
    of mu at the four nodes around the shear-stress node (Moczo et al. 2002).
    ``periodic`` = (periodic in x, periodic in y); at an absorbing edge the
    outermost node counts as its own neighbour.
    """
    px, py = periodic
    rho, mu = medium.rho, medium.mu
    rho_x = 0.5 * (rho + _neighbour(rho, 1, px))
    rho_y = 0.5 * (rho + _neighbour(rho, 0, py))
    inv = 1.0 / mu
    inv_x = _neighbour(inv, 1, px)
    muxy = 4.0 / (inv + inv_x + _neighbour(inv, 0, py) + _neighbour(inv_x, 0, py))
    out = {}
    for name, a in (("bx", 1.0 / rho_x), ("by", 1.0 / rho_y), ("lam", medium.lam),
                    ("lam2mu", medium.lam + 2.0 * mu), ("muxy", muxy)):
        out[name] = np.zeros((a.shape[0] + 2 * PAD, a.shape[1] + 2 * PAD))
        out[name][PAD:-PAD, PAD:-PAD] = a
    return out


def sponge_profile(n, width, edge, periodic):
    """Padded sponge factors (n + 4,) along one axis: exp(-edge (d / width)^2) at depth d nodes into the layer."""
    g = np.ones(n + 2 * PAD)
    if not periodic and width > 0:
        k = np.arange(n)
        d = np.maximum(0, np.maximum(width - k, k - (n - 1 - width)))
        g[PAD:-PAD] = np.exp(-edge * (d / width) ** 2)
    return g


def _boundary(value):
    """(periodic in x, periodic in y) from "periodic", "absorbing" or a pair of them."""
    pair = (value, value) if isinstance(value, str) else value
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        checks.fail("boundary", "'periodic', 'absorbing' or a pair of them (x, y)", value)
    return tuple(checks.choice(f"boundary[{k}]", b, BOUNDARIES) == "periodic" for k, b in enumerate(pair))


def _initial(name, value, grid):
    """The initial field ``value`` as (u on the vx nodes, v on the vy nodes), each (ny, nx)."""
    if callable(value):
        out = []
        for k, offset in enumerate(((0.5, 0.0), (0.0, 0.5))):
            X, Y = grid.nodes(offset)
            try:
                f = value(X, Y)
                if len(f) != 2:
                    raise ValueError
                comp = np.broadcast_to(np.asarray(f[k], dtype=np.float64), grid.shape)
            except (TypeError, ValueError, IndexError):
                raise InputError(f"{name}: expected a function (x, y) -> (u, v) of arrays of shape "
                                 f"{grid.shape}, which it did not return") from None
            out.append(checks.array(f"{name}[{k}]", np.array(comp), grid.shape, np.float64))
        return out
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        checks.fail(name, "a function (x, y) -> (u, v) or a pair of arrays (u, v)", value)
    out = []
    for k, a in enumerate(value):
        if not isinstance(a, np.ndarray) or a.dtype.kind not in "fi":
            checks.fail(f"{name}[{k}]", f"a float array of shape {grid.shape} (ny, nx)", a)
        out.append(checks.array(f"{name}[{k}]", np.asarray(a, dtype=np.float64), grid.shape, np.float64))
    return out


class Simulation:
    """One run of the scheme: padded fields, effective media, sources; :meth:`step` advances.

    ``medium``: a :class:`~pinnlite.simulate.medium.Medium`; ``dt``: the time step
    (default ``0.8 *`` :func:`max_dt`); ``sources``: :class:`PointForce` s;
    ``initial_displacement`` / ``initial_velocity``: a function ``(X, Y) -> (u, v)``
    evaluated at each component's own nodes, or a pair of (ny, nx) arrays sampled
    there (u at ``OFFSETS["ux"]``, v at ``OFFSETS["uy"]``); ``boundary``:
    ``"periodic"``, ``"absorbing"`` or a pair (x, y) of them; ``absorb_width``
    (nodes, inside the grid) and ``absorb_strength``: the sponge (module docstring).

    After ``n`` steps (:attr:`steps`), :meth:`field` gives ``vx``, ``vy`` at
    t_{n-1/2}, stresses and displacements at t_n = n dt.
    """

    def __init__(self, medium, dt=None, *, sources=(), initial_displacement=None, initial_velocity=None,
                 boundary="absorbing", absorb_width=ABSORB_WIDTH, absorb_strength=ABSORB_STRENGTH):
        if not isinstance(medium, Medium):
            checks.fail("medium", "a pinnlite.simulate.Medium", medium)
        self.medium = medium
        grid = medium.grid
        self.periodic = _boundary(boundary)
        self.absorb_width = checks.integer("absorb_width", absorb_width, low=0)
        self.absorb_strength = checks.real("absorb_strength", absorb_strength, low=0.0)
        for axis, n in enumerate((grid.nx, grid.ny)):
            if not self.periodic[axis] and n - 2 * self.absorb_width < 4:
                checks.fail("absorb_width", f"at most {(n - 4) // 2} (leaving 4 of the {n} nodes along "
                            f"{'xy'[axis]} outside the sponge)", self.absorb_width)
        limit = max_dt(medium)
        if dt is None:
            dt = DEFAULT_COURANT * limit
        dt = checks.real("dt", dt, low=0.0, low_open=True)
        if dt > limit:
            checks.fail("dt", f"a time step <= {limit:.6g}, the CFL limit h / (sqrt(2) (9/8 + 1/24) vp_max) "
                        f"for h = {grid.h:g} and vp_max = {float(np.max(medium.vp)):g}", dt)
        self.dt = dt
        self.steps = 0
        self.coefficients = effective_media(medium, self.periodic)
        # per step, so that the attenuation across the layer does not depend on dt
        edge = self.absorb_strength * dt * float(np.max(medium.vp)) / grid.h
        self._gx = sponge_profile(grid.nx, self.absorb_width, edge, self.periodic[0])
        self._gy = sponge_profile(grid.ny, self.absorb_width, edge, self.periodic[1])
        self._fields = {k: np.zeros((grid.ny + 2 * PAD, grid.nx + 2 * PAD)) for k in FIELDS}
        self._sources(sources)
        self._start(initial_displacement, initial_velocity)

    # ---------------------------------------------------------------- setup

    @property
    def interior(self):
        """``((x_lo, x_hi), (y_lo, y_hi))``: where sensors and sources may lie (the period, or inside the sponge)."""
        g = self.medium.grid
        out = []
        for axis, n in enumerate((g.nx, g.ny)):
            o = g.origin[axis]
            if self.periodic[axis]:
                out.append((o, o + n * g.h))
            else:
                out.append((o + self.absorb_width * g.h, o + (n - 1 - self.absorb_width) * g.h))
        return tuple(out)

    def stencils(self, positions, name="positions"):
        """Interpolation stencils of the displacement at ``positions`` (m, 2), for :meth:`displacement_at`.

        One pair of 1D cubic Lagrange stencils per component, each on its own
        staggered nodes. Every position must lie in :attr:`interior`.
        """
        try:
            P = np.asarray(positions, dtype=np.float64)
        except (TypeError, ValueError):
            checks.fail(name, "a float array of shape (m, 2) (columns x, y)", positions)
        P = checks.array(name, np.ascontiguousarray(P), (None, 2), np.float64)
        box = self.interior
        for axis, (lo, hi) in enumerate(box):
            tol = 1e-9 * (hi - lo)
            bad = (P[:, axis] < lo - tol) | (P[:, axis] > hi + tol)
            if bad.any():
                r = int(np.argmax(bad))
                where = "the periodic box" if self.periodic[axis] else f"the grid inside its {self.absorb_width}-node sponge"
                raise InputError(f"{name}: expected points inside {where}, {'xy'[axis]} in [{lo!r}, {hi!r}], "
                                 f"found {'xy'[axis]} = {float(P[r, axis])!r} in row {r}")
        g = self.medium.grid
        out = []
        for comp in ("ux", "uy"):
            ox, oy = OFFSETS[comp]
            cols, wx = stencil(P[:, 0], g.origin[0] + ox * g.h, g.h, g.nx, self.periodic[0], PAD)
            rows, wy = stencil(P[:, 1], g.origin[1] + oy * g.h, g.h, g.ny, self.periodic[1], PAD)
            out.append((rows, cols, wy, wx))
        return tuple(out)

    def _sources(self, sources):
        if isinstance(sources, PointForce):
            sources = (sources,)
        if not isinstance(sources, (tuple, list)) or not all(isinstance(s, PointForce) for s in sources):
            checks.fail("sources", "a list of pinnlite.simulate.PointForce", sources)
        self.sources = tuple(sources)
        if not self.sources:
            self._src = None
            return
        ppw = points_per_wavelength(self.medium, RICKER_HIGHEST * max(s.f0 for s in self.sources))
        if ppw < MIN_POINTS_PER_WAVELENGTH:
            warnings.warn(DispersionWarning(
                f"{ppw:.3g} nodes per minimum shear wavelength at {RICKER_HIGHEST} f0 (fewer than "
                f"{MIN_POINTS_PER_WAVELENGTH:g}): the records will be dispersed; use a finer grid or a lower f0"),
                stacklevel=3)
        self._src = self.stencils(np.array([s.position for s in self.sources]), name="sources (positions)")
        self._src_table = np.array([[s.amplitude, s.f0, s.t0] for s in self.sources]).T  # (3, nsrc)
        self._src_dir = np.array([s.direction for s in self.sources])  # (nsrc, 2)

    def _start(self, u0, v0):
        """u^0, sigma^0 = C D u^0 and v^{-1/2} = v^0 - (dt / 2) b D sigma^0 (a Taylor start, 2nd order)."""
        F, grid = self._fields, self.medium.grid
        inside = (slice(PAD, -PAD), slice(PAD, -PAD))
        if u0 is not None:
            F["ux"][inside], F["uy"][inside] = _initial("initial_displacement", u0, grid)
            self._wrap("ux", "uy")
            c = self.coefficients
            kernels.update_stress(F["sxx"], F["syy"], F["sxy"], F["ux"], F["uy"], c["lam2mu"], c["lam"],
                                  c["muxy"], self._gx, self._gy, 1.0 / grid.h)
        if v0 is not None:
            F["vx"][inside], F["vy"][inside] = _initial("initial_velocity", v0, grid)
        if u0 is not None:
            self._velocity(-0.5 * self.dt, 0.0)

    # ---------------------------------------------------------------- stepping

    @property
    def time(self):
        """t_n = n dt after n steps."""
        return self.steps * self.dt

    def field(self, name):
        """The interior (ny, nx) view of field ``name`` (one of :data:`FIELDS`); see :data:`OFFSETS`."""
        checks.choice("name", name, FIELDS)
        return self._fields[name][PAD:-PAD, PAD:-PAD]

    def _wrap(self, *names):
        for name in names:
            if self.periodic[0]:
                kernels.wrap_x(self._fields[name])
            if self.periodic[1]:
                kernels.wrap_y(self._fields[name])

    def _velocity(self, dt, dtu):
        F, c = self._fields, self.coefficients
        self._wrap("sxx", "syy", "sxy")
        kernels.update_velocity(F["vx"], F["vy"], F["ux"], F["uy"], F["sxx"], F["syy"], F["sxy"],
                                c["bx"], c["by"], self._gx, self._gy, dt / self.medium.grid.h, dtu)

    def step(self, count=1):
        """Advance ``count`` steps: sigma^n, v^{n-1/2}, u^n -> sigma^{n+1}, v^{n+1/2}, u^{n+1}."""
        count = checks.integer("count", count, low=0)
        F, c, h, dt = self._fields, self.coefficients, self.medium.grid.h, self.dt
        for _ in range(count):
            if self._src is not None:
                amp, f0, t0 = self._src_table
                # the delta's weights are per unit area, hence 1 / h^2
                w = (dt / (h * h)) * amp * ricker(self.time, f0, t0)
                for k, (comp, b) in enumerate((("vx", "bx"), ("vy", "by"))):
                    rows, cols, wy, wx = self._src[k]
                    kernels.spread(F[comp], c[b], rows, cols, wy, wx, np.ascontiguousarray(w * self._src_dir[:, k]))
            self._velocity(dt, dt)
            self._wrap("vx", "vy")
            kernels.update_stress(F["sxx"], F["syy"], F["sxy"], F["vx"], F["vy"], c["lam2mu"], c["lam"],
                                  c["muxy"], self._gx, self._gy, dt / h)
            self.steps += 1

    def displacement_at(self, stencils):
        """The displacement (m, 2) at t_n, interpolated with :meth:`stencils`."""
        out = np.empty((stencils[0][0].shape[0], 2))
        for k, comp in enumerate(("ux", "uy")):
            rows, cols, wy, wx = stencils[k]
            col = np.empty(rows.shape[0])
            kernels.gather(self._fields[comp], rows, cols, wy, wx, col)
            out[:, k] = col
        return out
