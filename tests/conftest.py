import signal

import numpy as np
import pytest

from pinnlite.core.arch import Architecture, init_params
from pinnlite.engine import physics
from pinnlite.engine.terms import Material, PointSets

BOUNDS = ((0.0, 2.0), (-1.0, 1.0), (0.0, 3.0))


@pytest.fixture(autouse=True, scope="session")
def _sigint_as_in_a_terminal():
    """Python's SIGINT handler for the whole session (module fixtures included), as in a terminal.

    A suite started in the background by a non-interactive shell (``pytest &``
    in a script) inherits SIGINT ignored, and pinnlite leaves an ignored signal
    ignored (tests/test_signals.py), so the tests that stop a run with SIGINT
    would see nothing happen. SIGTERM is not ignored that way.
    """
    if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
        yield
        return
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def random_points(rng, n, bounds=BOUNDS, dtype=np.float64):
    lo = [b[0] for b in bounds]
    hi = [b[1] for b in bounds]
    return rng.uniform(lo, hi, (n, 3)).astype(dtype)


def random_problem(rng, dtype=np.float64, bounds=BOUNDS, sizes=(7, 4, 5, 3, 3, 6), force=True):
    """PointSets with every term present, random targets (a well-defined, non-trivial loss)."""
    npde, nb, ntr, ni, nv, nd = sizes
    ang = rng.uniform(0, 2 * np.pi, ntr)
    t = lambda a: a.astype(dtype)  # noqa: E731
    return PointSets(
        collocation=random_points(rng, npde, bounds, dtype),
        body_force=t(rng.standard_normal((npde, 2))) if force else None,
        boundary=random_points(rng, nb, bounds, dtype),
        boundary_values=t(rng.standard_normal((nb, 2))),
        traction=random_points(rng, ntr, bounds, dtype),
        traction_normals=t(np.stack([np.cos(ang), np.sin(ang)], 1)),
        traction_values=t(rng.standard_normal((ntr, 2))),
        initial=random_points(rng, ni, bounds, dtype),
        initial_values=t(rng.standard_normal((ni, 2))),
        initial_velocity=random_points(rng, nv, bounds, dtype),
        initial_velocity_values=t(rng.standard_normal((nv, 2))),
        data=random_points(rng, nd, bounds, dtype),
        data_values=t(rng.standard_normal((nd, 2))),
    )


def random_model(rng, hidden=(6, 5, 4), activation="tanh", dtype="float64", bounds=BOUNDS, output_scale=(0.7, 1.3),
                 pressure=False):
    """An architecture and parameters perturbed away from the Glorot start (non-zero biases); with
    ``pressure`` a third output of scale 2.1."""
    if pressure:
        output_scale = tuple(output_scale) + (2.1,)
    arch = Architecture(hidden, activation, bounds, output_scale, dtype, pressure)
    p = init_params(arch, rng)
    p += (0.2 * rng.standard_normal(p.size)).astype(dtype)
    return arch, p


@pytest.fixture
def material():
    return Material(lam=2.0, mu=1.0, rho=1.3, optimize_lam=True, optimize_mu=True, optimize_rho=True)


def p_and_s_waves(X, lam, mu, rho, oblique=True):
    """Channels (8, n, 2) of an exact P + S plane-wave field at X (n, 3): it solves the wave equation."""
    if oblique:
        return physics.plane_wave(X, "P", lam, mu, rho, 0.8, (1.0, 2.0), 3.1, 0.4) + physics.plane_wave(
            X, "S", lam, mu, rho, 1.3, (-0.5, 0.7), 4.2, 1.1)
    return physics.plane_wave(X, "P", lam, mu, rho, 1.0, (0.3, 1.0), 2.0) + physics.plane_wave(
        X, "S", lam, mu, rho, 0.5, (1.0, -0.2), 3.0)
