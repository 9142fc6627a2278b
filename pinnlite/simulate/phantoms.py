"""Phantoms: heterogeneous bodies, their simulated records and the inverse problem they pose.

Each phantom is a physical problem in its own units: a background medium, the
inclusions or layers that differ from it, a point force outside the recorded
window and the window's sensor grid. :func:`make` simulates it
(:func:`pinnlite.simulate.simulate`) and returns the :class:`TrainingData` of
the window (with the true maps for reports) and a :class:`Phantom` saying what
a user would know: the fixed parameters and a starting guess of the mapped one.

================ ==============================================================
phantom          body
================ ==============================================================
``inclusion``    soft tissue in mm, ms, kPa and g/cm^3 (so speeds are in m/s): a
                 16 x 16 mm window, background mu 3 kPa, a disc of radius 3 mm
                 three times stiffer, lam = 2 nu / (1 - 2 nu) mu of the
                 background with nu = 0.49 (147 kPa, known), rho 1 (known), a
                 200 Hz Ricker shear wave from a force 5 mm left of the window,
                 sensors every 1 mm, frames every 1 ms from 8 to 25 ms
``soft``         the same tissue with a disc half as stiff (mu 1.5 kPa)
``two``          the same tissue with two discs of different contrast
                 (mu 6 and 1.5 kPa, radius 2.5 mm)
``plate``        an aluminium-like plate in mm, us, GPa and g/cm^3: two layers
                 (mu 26 GPa below y = 8.25 mm, 18 GPa above; lam 51 GPa and rho
                 2.7 known), a 350 kHz shear wave, a 16 x 16 mm window, frames
                 every 0.6 us from 5.5 to 17 us
================ ==============================================================

The guess of the mapped parameter is 1.5 times the background (a user knows
the tissue only roughly); nothing here is a solver setting.
"""

import math
from typing import NamedTuple

import numpy as np

from pinnlite.core import checks
from pinnlite.simulate.medium import Grid, Medium
from pinnlite.simulate.recording import simulate
from pinnlite.simulate.sources import PointForce

PHANTOMS = ("inclusion", "soft", "two", "plate")
NU_TISSUE = 0.49  # a near-incompressible Poisson ratio


class Phantom(NamedTuple):
    """What :func:`make` built and what a user of the problem knows.

    ``name``; ``units`` (length, time, modulus, density labels); ``lam``, ``rho``
    the known (fixed) values; ``mu_background`` the true background shear
    modulus and ``mu_guess`` the starting guess; ``discs`` ((cx, cy), radius,
    mu) of each inclusion (empty for layers); ``spacing`` the sensors' spacing.
    """

    name: str
    units: dict
    lam: float
    rho: float
    mu_background: float
    mu_guess: float
    discs: tuple
    spacing: float


def _tissue(discs, name):
    mu_b, rho = 3.0, 1.0
    lam = 2 * NU_TISSUE / (1 - 2 * NU_TISSUE) * mu_b
    return dict(name=name, units={"length": "mm", "time": "ms", "modulus": "kPa", "density": "g/cm^3"},
                lam=lam, rho=rho, mu_background=mu_b, discs=discs, layers=None, L=16.0, h=0.25, f0=0.2,
                source=(-5.0, 8.0), times=(8.0, 25.0), frame=1.0, spacing=1.0)


def _spec(name):
    if name == "inclusion":
        return _tissue((((8.5, 7.5), 3.0, 9.0),), name)
    if name == "soft":
        return _tissue((((8.5, 7.5), 3.0, 1.5),), name)
    if name == "two":
        return _tissue((((5.5, 10.5), 2.5, 6.0), ((10.5, 5.0), 2.5, 1.5)), name)
    if name == "plate":
        # mm, us, GPa, g/cm^3: speeds in km/s (mm/us); c_s = sqrt(26 / 2.7) = 3.1 km/s
        return dict(name=name, units={"length": "mm", "time": "us", "modulus": "GPa", "density": "g/cm^3"},
                    lam=51.0, rho=2.7, mu_background=26.0, discs=(), layers=(8.25, 18.0), L=16.0, h=0.25,
                    f0=0.35, source=(-5.0, 8.0), times=(5.5, 17.0), frame=0.6, spacing=1.0)
    checks.fail("phantom", f"one of {PHANTOMS}", name)


def maps(spec, grid):
    """The true (lam, mu, rho) maps (ny, nx) of a phantom's spec on ``grid``."""
    X, Y = np.meshgrid(grid.x, grid.y)
    mu = np.full(grid.shape, spec["mu_background"])
    for (cx, cy), r, value in spec["discs"]:
        mu[np.hypot(X - cx, Y - cy) <= r] = value
    if spec["layers"] is not None:
        y_interface, mu_above = spec["layers"]
        mu[Y >= y_interface] = mu_above
    return np.full(grid.shape, spec["lam"]), mu, np.full(grid.shape, spec["rho"])


def make(name="inclusion", noise=0.01, seed=0, frame=None, spacing=None):
    """``(data, phantom)``: the simulated window's TrainingData (noise relative to the rms
    displacement, drawn from ``seed``) and its :class:`Phantom`.

    ``frame`` and ``spacing`` record the same body at another interval between
    frames (the phantom's time unit) or between sensors (its length unit; a
    multiple of the simulation's grid step of 0.25), to plan an experiment;
    None keeps the phantom's own (the table above). The maps' report then
    leaves a margin of the new spacing.
    """
    s = _spec(name)
    noise = checks.real("noise", noise, low=0.0)
    L, h = s["L"], s["h"]
    if frame is not None:
        s["frame"] = checks.real("frame", frame, low=0.0, low_open=True, high=s["times"][1] - s["times"][0])
    if spacing is not None:
        spacing = checks.real("spacing", spacing, low=h, high=L)
        if abs(round(spacing / h) * h - spacing) > 1e-9 * spacing:
            checks.fail("spacing", f"a multiple of the grid step {h:g} {s['units']['length']}", spacing)
        s["spacing"] = spacing
    # the window, the source 5 mm to its left, and room for the sponge (30 nodes) all round
    margin = 8.0 + 30 * h
    n = int(round((L + 2 * margin) / h)) + 1
    grid = Grid(nx=n, ny=n, h=h, origin=(-margin, -margin))
    medium = Medium(grid, *maps(s, grid))
    source = PointForce(position=s["source"], direction=(0.0, 1.0), f0=s["f0"])
    dt_stable = 0.8 * h / (math.sqrt(2) * (9 / 8 + 1 / 24) * math.sqrt((medium.lam + 2 * medium.mu).max() / medium.rho.min()))
    every = max(1, int(round(s["frame"] / dt_stable)))
    dt = s["frame"] / every  # frames exactly every s["frame"]
    stride = int(round(s["spacing"] / h))
    rec = simulate(medium, s["times"][1] + dt, dt=dt, sources=[source], window=((0.0, L), (0.0, L)),
                   window_stride=(stride, stride), record_every=every)
    rec = rec.between(s["times"][0] - 1e-9 * s["frame"], s["times"][1] + 1e-9 * s["frame"])
    data = rec.to_training_data(noise, np.random.default_rng(seed))
    phantom = Phantom(name, s["units"], s["lam"], s["rho"], s["mu_background"], 1.5 * s["mu_background"],
                      tuple(s["discs"]), s["spacing"])
    return data, phantom


class MapReport(NamedTuple):
    """How a recovered mu map compares with a phantom's (:func:`report`).

    ``l2``: ||mu - mu_true|| / ||mu_true|| over the grid nodes of the window
    without a margin of one sensor spacing; ``background``: (recovered, true)
    mean of mu where the truth is the background; ``discs``: per inclusion
    ((recovered, true) mean of mu inside it, recovered centre (x, y), its
    distance to the true centre, recovered radius, true radius); ``layers``:
    (recovered, true) mean of mu in each layer (empty without layers).
    """

    l2: float
    background: tuple
    discs: tuple
    layers: tuple


def report(phantom, data, mu_at):
    """Compare the map ``mu_at(points (m, 2)) -> (m,)`` with the phantom of ``data`` (its truth maps).

    A recovered inclusion is the set of nodes within twice the true radius of
    the centre whose mu lies on the inclusion's side of the midpoint between
    the background and the inclusion; its centre is their centroid and its
    radius ``sqrt(area / pi)``.
    """
    gx, gy = data.truth_map_x, data.truth_map_y
    X, Y = np.meshgrid(gx, gy)
    P = np.stack([X.ravel(), Y.ravel()], axis=1)
    m = phantom.spacing
    (x0, x1), (y0, y1) = data.domain[:2]
    inner = (P[:, 0] >= x0 + m) & (P[:, 0] <= x1 - m) & (P[:, 1] >= y0 + m) & (P[:, 1] <= y1 - m)
    true = data.truth_map[1].ravel()
    got = np.asarray(mu_at(P), dtype=np.float64)
    l2 = float(np.linalg.norm((got - true)[inner]) / np.linalg.norm(true[inner]))
    bg = inner & np.isclose(true, phantom.mu_background)
    background = (float(got[bg].mean()), phantom.mu_background)
    cell = (gx[1] - gx[0]) * (gy[1] - gy[0])
    discs = []
    for (cx, cy), r, value in phantom.discs:
        d = np.hypot(P[:, 0] - cx, P[:, 1] - cy)
        inside = d <= r
        mid = 0.5 * (value + phantom.mu_background)
        near = d <= 2 * r
        found = near & ((got > mid) if value > phantom.mu_background else (got < mid))
        if found.any():
            centre = (float(P[found, 0].mean()), float(P[found, 1].mean()))
            radius = math.sqrt(found.sum() * cell / math.pi)
        else:
            centre, radius = (math.nan, math.nan), 0.0
        discs.append(((float(got[inside].mean()), value), centre, math.hypot(centre[0] - cx, centre[1] - cy),
                      radius, r))
    layers = ()
    if phantom.name == "plate":
        y_int = _spec("plate")["layers"][0]
        below, above = inner & (P[:, 1] < y_int), inner & (P[:, 1] >= y_int)
        layers = tuple((float(got[s].mean()), float(true[s].mean())) for s in (below, above))
    return MapReport(l2, background, tuple(discs), layers)
