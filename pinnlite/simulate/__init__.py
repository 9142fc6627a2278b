"""Simulated data: a 2D elastic finite-difference forward solver (velocity-stress, staggered grid).

An independent numerical method that produces sensor data for heterogeneous
media (material maps), which no analytic plane wave gives: for tests,
benchmarks, demos and for planning experiments. The scheme, the grid layout and
the tests' reference solutions are in ``docs/SIMULATE.md``.

- :mod:`~pinnlite.simulate.medium`: the grid, the material maps and phantoms
  (:func:`uniform`, :func:`disc`, :func:`layers`);
- :mod:`~pinnlite.simulate.sources`: point forces with a Ricker wavelet, the
  interpolation stencils;
- :mod:`~pinnlite.simulate.kernels`: the Numba kernels of the scheme;
- :mod:`~pinnlite.simulate.solver`: :class:`Simulation` (effective media, CFL,
  sponge, stepping);
- :mod:`~pinnlite.simulate.recording`: :func:`simulate` and :class:`Recording`
  (records, ``to_training_data``).
"""

from pinnlite.simulate.medium import Grid, Medium, disc, layers, points_per_wavelength, uniform
from pinnlite.simulate.recording import Recording, simulate, window_nodes
from pinnlite.simulate.solver import DispersionWarning, Simulation, effective_media, max_dt
from pinnlite.simulate.sources import PointForce, lagrange_weights, ricker

__all__ = [
    "Grid", "Medium", "uniform", "disc", "layers", "points_per_wavelength",
    "PointForce", "ricker", "lagrange_weights",
    "Simulation", "DispersionWarning", "max_dt", "effective_media",
    "simulate", "Recording", "window_nodes",
]
