"""Inverse problems with exact solutions, for tests, demos and benchmarks.

:func:`plane_waves` superposes P and S plane waves (``pinnlite.engine.physics.plane_wave``),
which satisfy the elastic wave equation exactly, and measures them at sensors.
:func:`cramer_rao` gives the smallest standard deviation with which any unbiased
estimator can recover the material parameters from those sensors under that
exact model; :func:`noise_std` the noise level ``plane_waves(noise=...)`` adds.
"""

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from pinnlite.core import checks
from pinnlite.engine import physics
from pinnlite.training import sampling
from pinnlite.training.data import TrainingData
from pinnlite.errors import InputError, describe


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
        ``noise * rms(clean sensor values)`` (:func:`noise_std`) is added to
        every sensor value, independently per point and component.
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
    lam, mu, rho = (checks.real(name, v, low=0, low_open=True) for name, v in (("lam", lam), ("mu", mu), ("rho", rho)))
    if isinstance(waves, (Wave, dict, str)):  # one wave, not a sequence of them
        raise InputError(f"waves: expected a sequence of Wave (or of their fields as tuples), found {describe(waves)}")
    waves = tuple(w if isinstance(w, Wave) else Wave(*w) for w in waves)
    if not waves:
        raise InputError("waves: expected at least one wave, found none")
    noise = checks.real("noise", noise, low=0)
    n_sensors = checks.integer("n_sensors", n_sensors, low=0)
    n_boundary = checks.integer("n_boundary", n_boundary, low=0)
    n_initial = checks.integer("n_initial", n_initial, low=0)
    exact = ExactField(waves, lam, mu, rho)
    if sensor_grid is not None:
        if not isinstance(sensor_grid, (tuple, list)) or len(sensor_grid) != 3 or not all(
                checks.is_int(n) and n >= 1 for n in sensor_grid):
            raise InputError(f"sensor_grid: expected three integers >= 1 (nx, ny, nt), found {describe(sensor_grid)}")
        sensors = _grid(domain, sensor_grid)
    else:
        sensors = sampling.interior(rng, n_sensors, domain, "uniform")
    values = exact(sensors)
    if noise > 0:
        values = values + rng.normal(0.0, noise_std(exact, sensors, noise), values.shape)
    kwargs = dict(domain=domain, sensor_points=sensors, sensor_values=values, truth=(lam, mu, rho))
    if boundary is not None:
        pts, normals, _ = sampling.boundary(rng, n_boundary, domain, "uniform")
        C = exact.channels(pts)
        if boundary == "dirichlet":
            kwargs.update(boundary_points=pts, boundary_values=C[0])
        elif boundary == "traction":
            kwargs.update(traction_points=pts, traction_normals=normals, traction_values=physics.traction(C, normals, lam, mu))
        else:
            raise InputError(f"boundary: expected None, 'dirichlet' or 'traction', found {boundary!r}")
    if n_initial:
        pts = sampling.initial(rng, n_initial, domain, "uniform")
        C = exact.channels(pts)
        kwargs.update(initial_points=pts, initial_displacement=C[0], initial_velocity=C[3])
    return TrainingData(**kwargs), exact


def noise_std(exact, points, noise):
    """The noise standard deviation ``plane_waves(noise=noise)`` adds at ``points`` (n, 3).

    ``sigma = noise * sqrt(mean(u_i^2 + v_i^2) / 2)``: ``noise`` times the root mean
    square of the clean sensor values, both components pooled. Pass the sensors of
    the data (``data.sensor_points``) to get the sigma the data were drawn with.
    """
    values = exact(points)
    return float(noise) * float(np.sqrt(np.mean(values * values)))


# -- the Cramer-Rao bound of the plane-wave model ---------------------------------------------

MATERIAL = ("lam", "mu", "rho")
WAVE_PARAMS = ("amplitude", "angle", "wavenumber", "phase")


class CramerRao(NamedTuple):
    """The Cramer-Rao bound of :func:`cramer_rao`.

    ``std`` and ``relative`` map each free material parameter to its bound (user
    units, and divided by the true value); ``names`` (p,) orders the rows of
    ``cov`` (p, p), the inverse of the Fisher information ``fisher`` (p, p):
    the free material parameters first, then ``"<wave parameter>[<wave index>]"``.
    """

    std: dict
    relative: dict
    names: tuple
    cov: np.ndarray
    fisher: np.ndarray


def _parameter_names(free, wave_params):
    for name, names in (("free", free), ("wave_params", wave_params)):
        if not isinstance(names, (tuple, list)):
            checks.fail(name, "a tuple of names", names)
    free = tuple(checks.choice("free", f, MATERIAL) for f in free)
    wave_params = tuple(checks.choice("wave_params", w, WAVE_PARAMS) for w in wave_params)
    for name, names in (("free", free), ("wave_params", wave_params)):
        if len(set(names)) != len(names):
            checks.fail(name, "distinct names", names)
    if not free:
        checks.fail("free", f"at least one of {MATERIAL}", free)
    return free, wave_params


def plane_wave_jacobian(exact, X, free=("lam", "mu"), wave_params=WAVE_PARAMS):
    """Jacobian (n, 2, p) of the plane-wave displacement at X (n, 3) and its parameter names (p,).

    With wave w of amplitude A, direction angle a (d = (cos a, sin a),
    d' = dd/da = (-sin a, cos a)), wavenumber k, phase phi, speed c (c_p for P,
    c_s for S), polarisation e = d (P) or d' (S), s = d.x - c t and
    theta = k s + phi, the field is u = sum_w A e cos theta, so per wave::

        du/dA   = e cos theta
        du/da   = A (de/da cos theta - k (d'.x) e sin theta),   de/da = d' (P), -d (S)
        du/dk   = -A s e sin theta
        du/dphi = -A e sin theta
        du/dq   = A k t (dc/dq) e sin theta   for q in lam, mu, rho (summed over waves)

    with dc_p/d(lam, mu, rho) = (1, 2, -c_p^2) / (2 rho c_p) and
    dc_s/d(lam, mu, rho) = (0, 1, -c_s^2) / (2 rho c_s). The derivatives are
    written out rather than taken by the complex step: the model is a closed
    form, so they are exact and cost one pass over the points, and a complex
    step would need a second, complex-valued copy of the model
    (``physics.plane_wave`` takes real square roots of the speeds).
    """
    free, wave_params = _parameter_names(free, wave_params)
    X = checks.array("X", X, (None, 3), np.float64)
    x, y, t = X[:, 0], X[:, 1], X[:, 2]
    lam, mu, rho = exact.lam, exact.mu, exact.rho
    cp, cs = physics.wave_speeds(lam, mu, rho)
    dc = {
        "P": {"lam": 1 / (2 * rho * cp), "mu": 1 / (rho * cp), "rho": -cp / (2 * rho)},
        "S": {"lam": 0.0, "mu": 1 / (2 * rho * cs), "rho": -cs / (2 * rho)},
    }
    material = {q: np.zeros((X.shape[0], 2)) for q in free}
    columns, names = [], []
    for i, w in enumerate(exact.waves):
        checks.choice(f"waves[{i}].kind", w.kind, ("P", "S"))
        a = math.atan2(w.direction[1], w.direction[0])
        d, dp = np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])
        e, de = (d, dp) if w.kind == "P" else (dp, -d)
        c, k, A = (cp if w.kind == "P" else cs), w.wavenumber, w.amplitude
        s = d[0] * x + d[1] * y - c * t
        theta = k * s + w.phase
        cos, sin = np.cos(theta)[:, None], np.sin(theta)[:, None]
        for q in free:
            material[q] += A * k * dc[w.kind][q] * t[:, None] * sin * e
        rules = {
            "amplitude": lambda: cos * e,
            "angle": lambda: A * (cos * de - k * (dp[0] * x + dp[1] * y)[:, None] * sin * e),
            "wavenumber": lambda: -A * s[:, None] * sin * e,
            "phase": lambda: -A * sin * e,
        }
        for name in wave_params:
            columns.append(rules[name]())
            names.append(f"{name}[{i}]")
    J = np.stack([material[q] for q in free] + columns, axis=-1)
    return J, free + tuple(names)


def cramer_rao(data, exact, sigma, free=("lam", "mu"), wave_params=WAVE_PARAMS):
    """Cramer-Rao bound of the free material parameters from the sensors of ``data``.

    The measurements are y_i = u(x_i; p) + e_i at the sensors x_i
    (``data.sensor_points``, n rows), both components, with i.i.d. Gaussian noise
    e_i ~ N(0, sigma^2) and u the exact plane-wave model of ``exact`` (an
    :class:`ExactField`), all of whose parameters p are unknown: the free
    material parameters (``free``, from lam, mu, rho; the others fixed at their
    true values) and, for every wave, its ``wave_params`` (amplitude, direction
    angle, wavenumber, phase; the kind is known). With J (2n, p) the Jacobian
    du/dp at the true parameters (:func:`plane_wave_jacobian`), the Fisher
    information and the bound are (Kay 1993, Fundamentals of Statistical Signal
    Processing I, Sec. 3.7 and the general Gaussian case of Sec. 3.9)::

        F = J^T J / sigma^2,    cov(p_hat) >= F^-1,    CRB(p_j) = sqrt((F^-1)_jj)

    The unknown wave parameters are nuisance parameters: the bound of lam and mu
    takes the material rows of the full inverse (never the inverse of the
    material block alone, which would assume the waves known). The inverse comes
    from the SVD of J with unit-norm columns, which avoids squaring J's
    condition number. The bound is evaluated at the true parameters; a
    maximum-likelihood (least-squares) fit attains it as the noise goes to zero.

    Parameters
    ----------
    data : TrainingData
        Its ``sensor_points`` (n, 3) are used (its values are not).
    exact : ExactField
    sigma : float
        Noise standard deviation per component (see :func:`noise_std` for the
        sigma of ``plane_waves(noise=...)``).
    free : tuple of "lam", "mu", "rho"
    wave_params : tuple of "amplitude", "angle", "wavenumber", "phase"
        The unknown parameters of every wave (default: all of them).

    Returns
    -------
    CramerRao
        ``std[q]`` is the bound of q in user units, ``relative[q]`` = std / q.

    Raises :class:`~pinnlite.errors.InputError` when F is singular (the sensors
    do not determine the parameters, e.g. lam, mu and rho all free, or one P wave
    only), naming the undetermined combination.
    """
    sigma = checks.real("sigma", sigma, low=0, low_open=True)
    if getattr(data, "sensor_points", None) is None:
        checks.fail("data", "TrainingData with sensor_points", data)
    J, names = plane_wave_jacobian(exact, data.sensor_points, free, wave_params)
    J = J.reshape(-1, len(names))
    scale = np.linalg.norm(J, axis=0)
    scale[scale == 0] = 1.0  # a zero column is singular and reported below
    _, s, Vt = np.linalg.svd(J / scale, full_matrices=False)
    if not s[-1] > max(J.shape) * np.finfo(float).eps * s[0]:
        v = Vt[-1] / scale
        v /= v[np.argmax(np.abs(v))]  # the sign of a null vector is arbitrary: make the largest +1
        combo = " ".join(f"{c:+.3g} {n}" for c, n in zip(v, names) if abs(c) > 1e-3)
        raise InputError(f"free: expected parameters that the sensors determine, found a singular Fisher "
                         f"information (undetermined combination: {combo})")
    cov = sigma**2 * ((Vt.T / s**2) @ Vt) / np.outer(scale, scale)
    fisher = J.T @ J / sigma**2
    truth = {"lam": exact.lam, "mu": exact.mu, "rho": exact.rho}
    std = {q: float(np.sqrt(cov[j, j])) for j, q in enumerate(names[: len(free)])}
    return CramerRao(std, {q: v / abs(truth[q]) for q, v in std.items()}, names, cov, fisher)
