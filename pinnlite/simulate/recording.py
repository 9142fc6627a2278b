"""Running the solver and recording the displacement: :func:`simulate` and :class:`Recording`.

:func:`simulate` runs a :class:`~pinnlite.simulate.solver.Simulation` for a
duration and records the displacement ``(u, v)`` every ``record_every`` steps,
at sensor positions and/or on a window of grid nodes (every ``kx``, ``ky``
nodes). Each component is interpolated from its own staggered nodes with
cubic Lagrange stencils (4th order), so the interpolation is not the dominant
error.

A :class:`Recording` holds the records and the true medium;
:meth:`Recording.to_training_data` turns them into the sensor data of a
:class:`~pinnlite.training.data.TrainingData`.
"""

import math
from dataclasses import dataclass

import numpy as np

from pinnlite.core import checks
from pinnlite.errors import InputError
from pinnlite.simulate.medium import Medium
from pinnlite.simulate.solver import ABSORB_STRENGTH, ABSORB_WIDTH, Simulation
from pinnlite.training.data import TrainingData


@dataclass(frozen=True)
class Recording:
    """Displacement records and the medium that made them.

    ``times`` (nt,), ``positions`` (m, 2) (columns x, y), ``traces`` (nt, m, 2):
    ``traces[k, p]`` is (u, v) at ``positions[p]`` and ``times[k]``; ``medium``
    the true :class:`~pinnlite.simulate.medium.Medium` (grid and maps).
    :attr:`points` (nt m, 3) (columns x, y, t) and :attr:`displacements`
    (nt m, 2) are the same records as rows, time-major.
    """

    times: np.ndarray
    positions: np.ndarray
    traces: np.ndarray
    medium: Medium

    @property
    def points(self):
        """Sensor points (nt m, 3), columns x, y, t: row k m + p is position p at time k."""
        nt, m = len(self.times), len(self.positions)
        out = np.empty((nt, m, 3))
        out[:, :, :2] = self.positions[None, :, :]
        out[:, :, 2] = self.times[:, None]
        return out.reshape(nt * m, 3)

    @property
    def displacements(self):
        """Displacements (nt m, 2), the rows of :attr:`points`."""
        return self.traces.reshape(-1, 2)

    @property
    def box(self):
        """``((x_lo, x_hi), (y_lo, y_hi), (t_lo, t_hi))``: the records' space-time bounding box."""
        P = self.positions
        return ((float(P[:, 0].min()), float(P[:, 0].max())), (float(P[:, 1].min()), float(P[:, 1].max())),
                (float(self.times[0]), float(self.times[-1])))

    def material_at(self, points):
        """The true ``(lam, mu, rho)``, each (n,), at ``points`` (n, 2) (bilinear in the maps)."""
        return self.medium.material_at(points)

    def between(self, t0, t1):
        """The records at times in [t0, t1] (a new :class:`Recording`): the window in time
        that holds the waves, without the quiet start."""
        t0, t1 = checks.real("t0", t0), checks.real("t1", t1)
        keep = (self.times >= t0) & (self.times <= t1)
        if keep.sum() < 1:
            raise InputError(f"between: no record between t0 = {t0!r} and t1 = {t1!r} (records from "
                             f"{self.times[0]!r} to {self.times[-1]!r})")
        return Recording(self.times[keep], self.positions, self.traces[keep], self.medium)

    def to_training_data(self, noise=0.0, rng=None, domain=None):
        """A :class:`TrainingData` with these records as its sensors.

        ``noise``: Gaussian noise of standard deviation ``noise`` times the rms of
        the displacements, drawn from ``rng`` (a :class:`numpy.random.Generator`,
        required when ``noise`` > 0). ``domain``: the space-time box, by default
        :attr:`box` (which must have extent on every axis). No boundary or initial
        conditions; ``truth`` is the (lam, mu, rho) at the centre of the domain,
        and ``truth_map_x/_y``, ``truth_map`` the medium's grid nodes inside the
        domain and its maps there (for reports on recovered maps).
        """
        noise = checks.real("noise", noise, low=0.0)
        values = self.displacements
        if noise > 0:
            rng = checks.generator("rng", rng)
            rms = float(np.sqrt(np.mean(values * values)))
            values = values + (noise * rms) * rng.standard_normal(values.shape)
        elif rng is not None:
            checks.generator("rng", rng)
        if domain is None:
            domain = self.box
            for axis, (lo, hi) in enumerate(domain):
                if not hi > lo:
                    raise InputError(f"domain: the records span no extent in {'xyt'[axis]} ({lo!r} to {hi!r}); "
                                     "record more sensors or times, or pass domain=")
        domain = checks.box("domain", domain)
        centre = np.array([[0.5 * (domain[0][0] + domain[0][1]), 0.5 * (domain[1][0] + domain[1][1])]])
        truth = tuple(float(a[0]) for a in self.medium.material_at(centre))
        g = self.medium.grid
        ix = np.nonzero((g.x >= domain[0][0]) & (g.x <= domain[0][1]))[0]
        iy = np.nonzero((g.y >= domain[1][0]) & (g.y <= domain[1][1]))[0]
        maps = {}
        if ix.size >= 2 and iy.size >= 2:
            m = self.medium
            maps = dict(truth_map_x=g.x[ix], truth_map_y=g.y[iy],
                        truth_map=np.stack([a[np.ix_(iy, ix)] for a in (m.lam, m.mu, m.rho)]))
        return TrainingData(domain=domain, sensor_points=self.points, sensor_values=np.array(values), truth=truth,
                            **maps)


def window_nodes(grid, window, stride):
    """Positions (m, 2) of the nodes inside ``window`` ((x_lo, x_hi), (y_lo, y_hi)), every ``stride`` (kx, ky)."""
    if not isinstance(window, (tuple, list)) or len(window) != 2:
        checks.fail("window", "((x_lo, x_hi), (y_lo, y_hi))", window)
    if not isinstance(stride, (tuple, list)) or len(stride) != 2:
        checks.fail("window_stride", "a pair of integers (kx, ky) >= 1", stride)
    coords = []
    for axis, (nodes, pair, k) in enumerate(zip((grid.x, grid.y), window, stride)):
        name = f"window[{'xy'[axis]}]"
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            checks.fail(name, "a pair (lo, hi)", pair)
        lo, hi = checks.real(f"{name}[0]", pair[0]), checks.real(f"{name}[1]", pair[1])
        k = checks.integer(f"window_stride[{axis}]", k, low=1)
        tol = 1e-9 * grid.h
        sel = nodes[(nodes >= lo - tol) & (nodes <= hi + tol)][::k]
        if not sel.size:
            checks.fail(name, f"a range holding at least one node (nodes every {grid.h:g})", (lo, hi))
        coords.append(sel)
    X, Y = np.meshgrid(*coords)
    return np.stack([X.ravel(), Y.ravel()], axis=1)


def simulate(medium, duration, *, dt=None, sources=(), sensors=None, window=None, window_stride=(1, 1),
             record_every=1, initial_displacement=None, initial_velocity=None, boundary="absorbing",
             absorb_width=ABSORB_WIDTH, absorb_strength=ABSORB_STRENGTH):
    """Run the solver for ``duration`` and return a :class:`Recording`.

    ``sensors``: positions (m, 2); ``window``: ((x_lo, x_hi), (y_lo, y_hi)) of grid
    nodes to record, every ``window_stride`` = (kx, ky) nodes (sensors first, then
    the window's nodes row by row); at least one of the two. Records are taken at
    steps 0, k, 2k, ... (k = ``record_every``) up to the first at or after
    ``duration``. The other arguments are those of
    :class:`~pinnlite.simulate.solver.Simulation`.
    """
    sim = Simulation(medium, dt, sources=sources, initial_displacement=initial_displacement,
                     initial_velocity=initial_velocity, boundary=boundary, absorb_width=absorb_width,
                     absorb_strength=absorb_strength)
    duration = checks.real("duration", duration, low=0.0, low_open=True)
    k = checks.integer("record_every", record_every, low=1)
    parts = []
    if sensors is not None:
        try:
            S = np.asarray(sensors, dtype=np.float64)
        except (TypeError, ValueError):
            checks.fail("sensors", "a float array of shape (m, 2) (columns x, y)", sensors)
        parts.append(checks.array("sensors", np.ascontiguousarray(S), (None, 2), np.float64))
        sim.stencils(parts[-1], name="sensors")
    if window is not None:
        parts.append(window_nodes(medium.grid, window, window_stride))
        sim.stencils(parts[-1], name="window")
    if not sum(len(p) for p in parts):
        raise InputError("sensors: expected sensor positions (m, 2) or a window to record, found neither")
    positions = np.ascontiguousarray(np.concatenate(parts))
    st = sim.stencils(positions)
    n_records = 1 + max(1, math.ceil(duration / (k * sim.dt) - 1e-9))
    traces = np.empty((n_records, len(positions), 2))
    traces[0] = sim.displacement_at(st)
    for r in range(1, n_records):
        sim.step(k)
        traces[r] = sim.displacement_at(st)
    times = sim.dt * k * np.arange(n_records)
    return Recording(times=times, positions=positions, traces=traces, medium=medium)
