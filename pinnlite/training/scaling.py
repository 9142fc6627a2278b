"""Nondimensionalisation: the scales that make every loss term O(1).

Users give lengths, times, displacements, moduli and densities in their own
units (mm, us, GPa, g/cm^3; or m, s, kPa, kg/m^3). The network already sees
inputs mapped onto [-1, 1] (the domain bounds) and outputs scaled by the
displacement scale U. The loss terms are divided by their natural magnitudes::

    pde                 (M U / L^2)^2     elastic force density
    boundary, initial,
    data                U^2
    initial_velocity    (U / T)^2
    traction            (M U / L)^2       stress

with L the length scale, T the time scale, U the displacement scale and M the
modulus scale. Each scale is taken from ``config.scales`` when given, else
derived: L = the larger spatial extent of the domain, T = the time extent,
U = the RMS of the known displacements (sensors, else boundary, else initial
values), M = lam0 + 2 mu0 (the initial guess of the P-wave modulus), and the
density scale R = rho0. Material parameters are trained as
theta = log(p / p0) (positive by construction) and reported in user units.
"""

from typing import NamedTuple


class Scales(NamedTuple):
    length: float
    time: float
    displacement: float
    modulus: float
    density: float

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


def derive_scales(config, data):
    """The :class:`Scales` of a run from its config and its :class:`TrainingData`."""
    given = config.scales
    (x0, x1), (y0, y1), (t0, t1) = data.domain
    m = config.material
    return Scales(
        length=given.length or max(x1 - x0, y1 - y0),
        time=given.time or (t1 - t0),
        displacement=given.displacement or data.displacement_scale(),
        modulus=given.modulus or (m.lam + 2 * m.mu),
        density=given.density or m.rho,
    )

