"""Tests of pinnlite.engine.physics on its own: the residual of the elastic wave
equation vanishes on superposed exact P and S plane waves (and does not with a
wrong Lamé parameter), and the traction is the plane-strain stress times the
normal, written out by hand here at every point."""

import numpy as np
import pytest
from conftest import p_and_s_waves, random_points

from pinnlite.engine import physics


@pytest.mark.parametrize("lam,mu,rho", [(2.0, 1.0, 1.0), (5.3, 0.4, 2.7), (-0.5, 1.2, 0.8), (120.0, 80.0, 7.8)])
def test_residual_vanishes_on_exact_plane_waves(lam, mu, rho):
    rng = np.random.default_rng(7)
    n = 50
    X = random_points(rng, n)
    C = p_and_s_waves(X, lam, mu, rho)
    scale = (abs(rho) + abs(lam) + 2 * abs(mu)) * np.abs(C[4:]).max()
    assert np.abs(physics.residual(C, lam, mu, rho)).max() <= 1e-13 * scale
    # a wrong parameter leaves a residual: the check can fail
    assert np.abs(physics.residual(C, lam * 1.01 + 0.01, mu, rho)).max() > 1e-5 * scale


def test_traction_is_stress_times_normal():
    rng = np.random.default_rng(8)
    n, lam, mu = 20, 3.0, 1.5
    X = random_points(rng, n)
    C = p_and_s_waves(X, lam, mu, 1.0, oblique=False)
    ang = rng.uniform(0, 2 * np.pi, n)
    normals = np.stack([np.cos(ang), np.sin(ang)], 1)
    t_exact = physics.traction(C, normals, lam, mu)
    # by hand at every point: sigma . n
    ux, uy, vx, vy = C[1, :, 0], C[2, :, 0], C[1, :, 1], C[2, :, 1]
    sxx, syy, sxy = (lam + 2 * mu) * ux + lam * vy, lam * ux + (lam + 2 * mu) * vy, mu * (uy + vx)
    nx, ny = normals[:, 0], normals[:, 1]
    by_hand = np.stack([sxx * nx + sxy * ny, sxy * nx + syy * ny], axis=1)
    assert np.abs(by_hand).max() > 1.0
    np.testing.assert_allclose(t_exact, by_hand, rtol=1e-14, atol=1e-14 * np.abs(by_hand).max())
