"""Inverse problems with exact solutions, for tests, demos and benchmarks.

:func:`plane_waves` superposes P and S plane waves (``pinnlite.engine.physics.plane_wave``),
which satisfy the elastic wave equation exactly, and measures them at sensors.
"""

import math
from dataclasses import dataclass

import numpy as np

from pinnlite.engine import physics
from pinnlite.training import sampling
from pinnlite.training.data import TrainingData
from pinnlite.errors import InputError


@dataclass(frozen=True)
class Wave:
    """One plane wave: kind "P" or "S", amplitude, direction (2-vector), wavenumber, phase."""

    kind: str
    amplitude: float = 1.0
    direction: tuple = (1.0, 0.0)
    wavenumber: float = 2 * math.pi
    phase: float = 0.0


DEFAULT_WAVES = (
    Wave("P", 1.0, (1.0, 0.5), 2 * math.pi, 0.0),
    Wave("S", 1.0, (-0.5, 1.0), 2 * math.pi, math.pi / 3),
)


@dataclass(frozen=True)
class ExactField:
    """The exact displacement field of a superposition of plane waves."""

    waves: tuple
    lam: float
    mu: float
    rho: float

    def channels(self, X):
        """(8, n, 2) exact value, x, y, t, xx, yy, tt, xy derivatives at X (n, 3)."""
        X = np.asarray(X, dtype=np.float64)
        out = np.zeros((8, X.shape[0], 2))
        for w in self.waves:
            out += physics.plane_wave(X, w.kind, self.lam, self.mu, self.rho, w.amplitude, w.direction, w.wavenumber, w.phase)
        return out

    def __call__(self, X):
        """(n, 2) exact displacement at X (n, 3)."""
        return self.channels(X)[0]


def _grid(domain, shape):
    axes = [np.linspace(lo, hi, n) for (lo, hi), n in zip(domain, shape)]
    g = np.meshgrid(*axes, indexing="ij")
    return np.stack([a.ravel() for a in g], axis=1)


def plane_waves(
    lam=2.0,
    mu=1.0,
    rho=1.0,
    domain=((0.0, 1.0), (0.0, 1.0), (0.0, 1.0)),
    waves=DEFAULT_WAVES,
    n_sensors=1000,
    sensor_grid=None,
    noise=0.0,
    boundary=None,
    n_boundary=400,
    n_initial=0,
    rng=None,
):
    """A plane-wave inverse problem and its exact solution.

    Parameters
    ----------
    lam, mu, rho : float
        True material parameters.
    domain : ((x0, x1), (y0, y1), (t0, t1))
    waves : sequence of :class:`Wave`
        The superposed waves (default: one P and one S wave, oblique, one
        wavelength per unit length; both lam and mu are identifiable).
    n_sensors : int
        Sensors drawn uniformly at random in space-time (ignored when
        ``sensor_grid`` is given).
    sensor_grid : (nx, ny, nt), optional
        Sensors on a regular grid including the box faces.
    noise : float
        Relative noise level: Gaussian noise of standard deviation
        ``noise * rms(clean sensor values)`` is added to every sensor value.
    boundary : None, "dirichlet" or "traction"
        Add ``n_boundary`` boundary points on the four edges with exact
        displacement or traction (outward normals).
    n_initial : int
        Initial points at t0 with exact displacement and velocity (0: none).
    rng : numpy.random.Generator or int

    Returns
    -------
    (TrainingData, ExactField)
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    waves = tuple(w if isinstance(w, Wave) else Wave(*w) for w in waves)
    if not waves:
        raise InputError("waves: expected at least one wave, found none")
    if not (noise >= 0 and math.isfinite(noise)):
        raise InputError(f"noise: expected a finite level >= 0, found {noise!r}")
    exact = ExactField(waves, float(lam), float(mu), float(rho))
    if sensor_grid is not None:
        sensors = _grid(domain, sensor_grid)
    else:
        sensors = sampling.interior(rng, int(n_sensors), domain, "uniform")
    values = exact(sensors)
    if noise > 0:
        sigma = noise * float(np.sqrt(np.mean(values * values)))
        values = values + rng.normal(0.0, sigma, values.shape)
    kwargs = dict(domain=domain, sensor_points=sensors, sensor_values=values, truth=(lam, mu, rho))
    if boundary is not None:
        pts, normals, _ = sampling.boundary(rng, int(n_boundary), domain, "uniform")
        C = exact.channels(pts)
        if boundary == "dirichlet":
            kwargs.update(boundary_points=pts, boundary_values=C[0])
        elif boundary == "traction":
            kwargs.update(traction_points=pts, traction_normals=normals, traction_values=physics.traction(C, normals, lam, mu))
        else:
            raise InputError(f"boundary: expected None, 'dirichlet' or 'traction', found {boundary!r}")
    if n_initial:
        pts = sampling.initial(rng, int(n_initial), domain, "uniform")
        C = exact.channels(pts)
        kwargs.update(initial_points=pts, initial_displacement=C[0], initial_velocity=C[3])
    return TrainingData(**kwargs), exact
