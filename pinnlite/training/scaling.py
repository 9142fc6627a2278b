"""Nondimensionalisation: the scales that make every loss term O(1) for any wave field.

Users give lengths, times, displacements, moduli and densities in their own
units (mm, us, GPa, g/cm^3; or m, s, kPa, kg/m^3). The network sees inputs
mapped onto [-1, 1] (the domain bounds) and outputs scaled by the displacement
scale U. The loss terms are divided by their natural magnitudes::

    pde                 (M U / L^2)^2     elastic force density of the field
    boundary, initial,
    data                U^2
    initial_velocity    (U / T)^2
    traction            (M U / L)^2       stress

with L the length scale, T the time scale, U the displacement scale and M the
modulus scale. For a wave field the derivatives are set by its wavenumbers and
frequencies, not by the domain: a field of wavenumber k and frequency omega has
``|rho u_tt| ~ rho U omega^2`` and ``|div sigma| ~ M U k^2``, which are ``(k
D)^2`` times ``M U / D^2`` for a domain of size D. So L and T come from the
data's spectrum (:func:`wave_scales`): ``L = 1 / k_rms``, ``T = 1 / omega_rms``,
the power-weighted root-mean-square wavenumber and angular frequency of the
measured displacements, each at most the domain's extent, and the modulus
scale is the stiffness of the measured waves, ``M = R (L / T)^2`` (rho times
their phase speed squared): shear waves in soft tissue get the shear modulus,
not the bulk modulus a first guess of lam would give. Then the PDE normaliser
is the inertial force ``(R U / T^2)^2`` of the measured field. Without data of
a wave field (fewer than 20 sensors, or no signal) the scales fall back to the
domain: L = its larger spatial extent, T = its time extent, M = lam0 + 2 mu0.
Each scale is taken from ``config.scales`` when given; U = the RMS of the
known displacements (sensors, else boundary, else initial values), R = rho0.
Material parameters are trained as theta = log(p / p0) and reported in user
units.
"""

import math
from typing import NamedTuple

import numpy as np

from pinnlite.training.section import ConfigError

_MAX_POINTS = 1500  # samples used for the spectrum: enough for its peaks, cheap for any data set
_FLOOR = 0.5  # bins below half the peak power: side lobes and the leakage of scattered sampling


class Scales(NamedTuple):
    length: float
    time: float
    displacement: float
    modulus: float
    density: float

    def output_scale(self, pressure=False):
        """The network's output scales: (U, U), and with a pressure output also the stress scale
        M U / L (a modulus times the strain scale), so that every output is O(1)."""
        U = self.displacement
        return (U, U, self.modulus * U / self.length) if pressure else (U, U)

    def normalisers(self):
        """Dict term -> the squared magnitude each term is divided by."""
        L, T, U, M = self.length, self.time, self.displacement, self.modulus
        return {
            "pde": (M * U / (L * L)) ** 2,
            "boundary": U * U,
            "traction": (M * U / L) ** 2,
            "initial": U * U,
            "initial_velocity": (U / T) ** 2,
            "data": U * U,
        }


def _axis(extent, n_per_axis):
    """Angular wavenumbers (bins,) of one axis: steps of the fundamental ``2 pi / extent`` up to
    1.5 times the samples' resolution ``pi n_per_axis / extent``."""
    half = int(math.ceil(0.75 * n_per_axis))
    return np.arange(-half, half + 1) * (2 * math.pi / extent)


def spectrum(points, values, domain):
    """Power of the displacement field on a grid of (kx, ky, omega), from scattered samples.

    The non-uniform discrete Fourier transform of each component,
    ``F(k, w) = sum_j (u_j - mean u) exp(-i (kx x_j + ky y_j - w t_j))``, summed
    as ``|F_u|^2 + |F_v|^2``; omega >= 0 only (a real field's spectrum is
    symmetric). The grid steps by the fundamental ``2 pi / extent`` of each axis
    up to 1.5 times the samples' resolution ``pi n^(1/3) / extent`` (random
    sampling aliases incoherently, so a little beyond it is still seen).

    Parameters
    ----------
    points : (n, 3) x, y, t;  values : (n, 2);  domain : ((x0, x1), (y0, y1), (t0, t1))

    Returns
    -------
    (kx (a,), ky (b,), omega (c,), power (a, b, c))
    """
    if len(points) > _MAX_POINTS:  # evenly spaced rows: deterministic and representative
        idx = np.linspace(0, len(points) - 1, _MAX_POINTS).round().astype(int)
        points, values = points[idx], values[idx]
    n = len(points)
    per_axis = max(2.0, n ** (1 / 3))
    extents = [hi - lo for lo, hi in domain]
    kx, ky, om = (_axis(e, per_axis) for e in extents)
    om = om[om >= 0]
    centred = points - np.array([(lo + hi) / 2 for lo, hi in domain])
    ex = np.exp(-1j * np.outer(centred[:, 0], kx))  # (n, a)
    ey = np.exp(-1j * np.outer(centred[:, 1], ky))  # (n, b)
    et = np.exp(1j * np.outer(centred[:, 2], om))  # (n, c)
    power = np.zeros((kx.size, ky.size, om.size))
    for c in range(2):
        u = values[:, c] - values[:, c].mean()
        xy = (u[:, None, None] * ex[:, :, None] * ey[:, None, :]).reshape(n, -1)  # (n, a*b)
        power += np.abs((xy.T @ et).reshape(kx.size, ky.size, om.size)) ** 2
    return kx, ky, om, power


def _has_waves(points, values):
    """Whether sensor data can give a spectrum: at least 20 samples, not all the same."""
    return points is not None and len(points) >= 20 and bool(np.any(values != values.mean(axis=0)))


def wave_scales(points, values, domain):
    """``(L, T)`` = ``(1 / k_rms, 1 / omega_rms)`` of measured displacements, each capped by the domain.

    ``k_rms`` and ``omega_rms`` are the power-weighted root-mean-square spatial
    wavenumber and angular frequency over the bins of :func:`spectrum` whose
    power is at least half the peak's (below it lie the side lobes of each peak
    and the leakage of scattered sampling, which with a hundred sensors already
    reaches a tenth of the peak). None when there are fewer than 20 samples or
    no signal.
    """
    if not _has_waves(points, values):
        return None
    kx, ky, om, power = spectrum(points, values, domain)
    keep = power >= _FLOOR * power.max()
    p = np.where(keep, power, 0.0)
    k2 = (kx[:, None, None] ** 2 + ky[None, :, None] ** 2) * np.ones_like(p)
    w2 = (om[None, None, :] ** 2) * np.ones_like(p)
    total = p.sum()
    k_rms, w_rms = math.sqrt((p * k2).sum() / total), math.sqrt((p * w2).sum() / total)
    (x0, x1), (y0, y1), (t0, t1) = domain
    length = max(x1 - x0, y1 - y0)
    return (min(1 / k_rms, length) if k_rms > 0 else length,
            min(1 / w_rms, t1 - t0) if w_rms > 0 else t1 - t0)


def _square(x):
    """``x ** 2``, infinite beyond the float range (where ``**`` raises): :func:`check_scales` names it."""
    try:
        return x**2
    except OverflowError:
        return math.inf


def derive_scales(config, data):
    """The :class:`Scales` of a run from its config and its :class:`TrainingData`."""
    given = config.scales
    (x0, x1), (y0, y1), (t0, t1) = data.domain
    m = config.material
    length, time = max(x1 - x0, y1 - y0), t1 - t0
    density = given.density or m.rho
    modulus = m.lam + 2 * m.mu
    waves = wave_scales(data.sensor_points, data.sensor_values, data.domain)
    if waves is not None:
        # the data's own phase speed c = L / T: the stiffness rho c^2 of the waves they carry
        length, time = waves
        modulus = density * _square(length / time)
    length, time = given.length or length, given.time or time
    if waves is not None and (given.length or given.time):
        modulus = density * _square(length / time)
    scales = Scales(
        length=length,
        time=time,
        displacement=given.displacement or data.displacement_scale(),
        modulus=given.modulus or modulus,
        density=density,
    )
    return check_scales(scales, "scales (from the config's scales, material and the data)", ConfigError,
                        "set scales.length, time, displacement, modulus and density to the problem's magnitudes, "
                        "or state it in other units")


def check_scales(scales, name, error, advice=""):
    """``scales``, checked to divide the loss: each scale, the output scales and every term's
    normaliser (:meth:`Scales.normalisers`) a finite float64 > 0; else ``error`` naming ``name``.

    A scale may be a fine number and its square not: 1e300 squares to infinity, 1e-200 to zero,
    and the term divided by it to nonsense or a division by zero at the first epoch.
    """
    try:
        values = list(scales) + list(scales.output_scale(pressure=True)) + list(scales.normalisers().values())
        ok = all(isinstance(v, float) and 0 < v < math.inf for v in values)
    except (ArithmeticError, TypeError):  # a float power beyond the range; a value that is no number
        ok = False
    if not ok:
        shown = ", ".join(f"{k} {v!r}" for k, v in scales._asdict().items())
        raise error(f"{name}: expected scales whose squares and the terms' normalisers ((M U / L^2)^2, (U / T)^2, "
                    f"...) are finite float64 numbers > 0, found {shown}" + (f"; {advice}" if advice else ""))
    return scales


def measured_speed(config, data, scales):
    """The phase speed ``L / T`` of the waves the sensors measured, from the :class:`Scales` of the run.

    None where the scales did not come from the sensors' spectrum (fewer than
    20 sensors or no signal, a scale the config sets, or a wavelength or period
    capped at the domain's extent): then ``L / T`` says nothing about the waves.
    """
    (x0, x1), (y0, y1), (t0, t1) = data.domain
    if config.scales.length or config.scales.time or not _has_waves(data.sensor_points, data.sensor_values):
        return None
    if scales.length >= max(x1 - x0, y1 - y0) or scales.time >= t1 - t0:
        return None
    return scales.length / scales.time
