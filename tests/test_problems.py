"""Tests of pinnlite.training.problems: the plane-wave inverse problem against closed-form plane
waves written out in this file, finite differences of the exact field, the wave
equation, the traction formula and the stated noise level; the Cramer-Rao bound
against finite differences of the model, bounds derived by hand, its scaling
laws, and the spread of least-squares fits (tests/naive.py)."""

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinnlite.engine import physics
from pinnlite.errors import InputError
from pinnlite.training.problems import (
    DEFAULT_WAVES,
    ExactField,
    Wave,
    cramer_rao,
    noise_std,
    plane_wave_jacobian,
    plane_waves,
)

import naive

DOMAIN = ((0.0, 2.0), (-1.0, 1.0), (0.5, 1.5))


def reference_field(X, waves, lam, mu, rho):
    """u(X) of a superposition of plane waves, from the closed form (not from pinnlite).

    P wave: A d cos(k d.x - k c_p t + phase); S wave: A d_perp cos(k d.x - k c_s t + phase),
    with d the unit direction, d_perp = (-d_y, d_x), c_p = sqrt((lam + 2 mu) / rho),
    c_s = sqrt(mu / rho).
    """
    u = np.zeros((X.shape[0], 2))
    for w in waves:
        d = np.array(w.direction, dtype=float)
        d /= np.hypot(*d)
        if w.kind == "P":
            c, pol = math.sqrt((lam + 2 * mu) / rho), d
        else:
            c, pol = math.sqrt(mu / rho), np.array([-d[1], d[0]])
        theta = w.wavenumber * (X[:, 0] * d[0] + X[:, 1] * d[1] - c * X[:, 2]) + w.phase
        u += w.amplitude * np.cos(theta)[:, None] * pol[None, :]
    return u


def fd_channels_first(f, X, axis, h):
    """d f / d X[:, axis] by the fourth-order central difference."""

    def shift(s):
        Y = X.copy()
        Y[:, axis] += s
        return f(Y)

    return (-shift(2 * h) + 8 * shift(h) - 8 * shift(-h) + shift(-2 * h)) / (12 * h)


def fd_channels(f, X, h=1e-3):
    """(8, n, 2) value, x, y, t, xx, yy, tt, xy derivatives of ``f`` by fourth-order differences."""
    out = np.empty((8, X.shape[0], 2))
    out[0] = f(X)

    def shift(axis, s):
        Y = X.copy()
        Y[:, axis] += s
        return f(Y)

    for axis in range(3):
        out[1 + axis] = (-shift(axis, 2 * h) + 8 * shift(axis, h) - 8 * shift(axis, -h) + shift(axis, -2 * h)) / (12 * h)
        out[4 + axis] = (
            -shift(axis, 2 * h) + 16 * shift(axis, h) - 30 * out[0] + 16 * shift(axis, -h) - shift(axis, -2 * h)
        ) / (12 * h * h)

    def d_dx_shifted(sy):
        Y = X.copy()
        Y[:, 1] += sy
        return fd_channels_first(f, Y, 0, h)

    out[7] = (-d_dx_shifted(2 * h) + 8 * d_dx_shifted(h) - 8 * d_dx_shifted(-h) + d_dx_shifted(-2 * h)) / (12 * h)
    return out


def random_points(rng, n, domain=DOMAIN):
    lo = [a for a, _ in domain]
    hi = [b for _, b in domain]
    return rng.uniform(lo, hi, (n, 3))


# -- the exact field ----------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    lam=st.floats(0.2, 5.0),
    mu=st.floats(0.2, 3.0),
    rho=st.floats(0.5, 2.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_exact_field_matches_closed_form(lam, mu, rho, seed):
    X = random_points(np.random.default_rng(seed), 50)
    exact = ExactField(DEFAULT_WAVES, lam, mu, rho)
    np.testing.assert_allclose(exact(X), reference_field(X, DEFAULT_WAVES, lam, mu, rho), rtol=0, atol=1e-12)


def test_exact_channels_match_finite_differences():
    waves = DEFAULT_WAVES + (Wave("P", 0.3, (0.0, 1.0), 3.0, 1.0),)
    exact = ExactField(waves, 2.0, 1.0, 1.3)
    X = random_points(np.random.default_rng(1), 40)
    C = exact.channels(X)
    F = fd_channels(lambda Y: reference_field(Y, waves, 2.0, 1.0, 1.3), X)
    # second derivatives reach (k c_p)^2 ~ 100: compare relative to each channel's scale
    for c in range(8):
        scale = np.abs(F[c]).max()
        np.testing.assert_allclose(C[c], F[c], rtol=0, atol=1e-6 * scale, err_msg=physics.CHANNEL_NAMES[c])


@pytest.mark.parametrize("lam, mu, rho", [(2.0, 1.0, 1.0), (7.5, 0.3, 2.5), (0.1, 4.0, 0.7)])
def test_exact_channels_satisfy_the_wave_equation(lam, mu, rho):
    exact = ExactField(DEFAULT_WAVES, lam, mu, rho)
    C = exact.channels(random_points(np.random.default_rng(2), 300))
    scale = np.abs(rho * C[6]).max()  # the size of each term of the equation
    assert scale > 1.0
    r = physics.residual(C, lam, mu, rho)
    assert np.abs(r).max() <= 1e-12 * scale
    # the check has teeth: a 5% wrong density leaves a residual of 5% of the terms
    wrong = physics.residual(C, lam, mu, 1.05 * rho)
    assert np.abs(wrong).max() > 0.01 * scale


# -- sensors ------------------------------------------------------------------------------


def test_sensor_values_equal_the_exact_field_without_noise():
    data, exact = plane_waves(2.0, 1.0, 1.0, domain=DOMAIN, n_sensors=400, rng=3)
    assert data.sensor_points.shape == (400, 3)
    for axis, (lo, hi) in enumerate(DOMAIN):
        assert data.sensor_points[:, axis].min() >= lo and data.sensor_points[:, axis].max() <= hi
    np.testing.assert_array_equal(data.sensor_values, exact(data.sensor_points))
    ref = reference_field(data.sensor_points, DEFAULT_WAVES, 2.0, 1.0, 1.0)
    np.testing.assert_allclose(data.sensor_values, ref, rtol=0, atol=1e-12)
    assert data.truth == (2.0, 1.0, 1.0)
    assert data.domain == DOMAIN
    assert (exact.lam, exact.mu, exact.rho) == (2.0, 1.0, 1.0)


@pytest.mark.parametrize("noise", [0.01, 0.1])
def test_noise_has_the_stated_relative_std(noise):
    data, exact = plane_waves(n_sensors=20000, noise=noise, rng=4)
    clean = exact(data.sensor_points)
    err = data.sensor_values - clean
    rms = math.sqrt(np.mean(clean**2))
    # 40000 Gaussian samples: the sample std is within 1% (3 standard errors) of sigma
    assert abs(err.std() / (noise * rms) - 1) < 0.015
    assert abs(err.mean()) < 4 * noise * rms / math.sqrt(err.size)
    # independent per component: no correlation between u and v noise
    assert abs(np.corrcoef(err[:, 0], err[:, 1])[0, 1]) < 0.03


def test_grid_sensors_include_the_box_corners():
    data, exact = plane_waves(domain=DOMAIN, sensor_grid=(3, 4, 5), rng=0)
    P = data.sensor_points
    assert P.shape == (60, 3)
    rows = {tuple(p) for p in P.tolist()}
    assert len(rows) == 60
    for x in DOMAIN[0]:
        for y in DOMAIN[1]:
            for t in DOMAIN[2]:
                assert (x, y, t) in rows
    np.testing.assert_allclose(np.unique(P[:, 0]), [0.0, 1.0, 2.0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(np.unique(P[:, 2]), [0.5, 0.75, 1.0, 1.25, 1.5], rtol=0, atol=1e-15)
    np.testing.assert_array_equal(data.sensor_values, exact(P))


def test_same_seed_same_problem_and_different_seed_differs():
    a, _ = plane_waves(n_sensors=50, noise=0.05, boundary="dirichlet", n_boundary=20, rng=7)
    b, _ = plane_waves(n_sensors=50, noise=0.05, boundary="dirichlet", n_boundary=20, rng=np.random.default_rng(7))
    c, _ = plane_waves(n_sensors=50, noise=0.05, boundary="dirichlet", n_boundary=20, rng=8)
    assert a == b
    assert not np.array_equal(a.sensor_points, c.sensor_points)


# -- boundary and initial conditions ---------------------------------------------------------


def _outward_normal(p, domain):
    (x0, x1), (y0, y1), _ = domain
    if p[0] == x0:
        return (-1.0, 0.0)
    if p[0] == x1:
        return (1.0, 0.0)
    if p[1] == y0:
        return (0.0, -1.0)
    if p[1] == y1:
        return (0.0, 1.0)
    raise AssertionError(f"point {p} is on no edge")


def test_dirichlet_boundary_values_are_the_exact_displacement():
    data, exact = plane_waves(domain=DOMAIN, boundary="dirichlet", n_boundary=120, rng=5)
    assert data.traction_points is None
    assert data.boundary_points.shape == (120, 3)
    for p in data.boundary_points:
        _outward_normal(p, DOMAIN)  # every point lies on an edge
    np.testing.assert_array_equal(data.boundary_values, exact(data.boundary_points))
    np.testing.assert_allclose(data.boundary_values, reference_field(data.boundary_points, DEFAULT_WAVES, 2.0, 1.0, 1.0),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("lam, mu", [(2.0, 1.0), (0.5, 3.0)])
def test_traction_values_are_sigma_dot_outward_normal(lam, mu):
    data, exact = plane_waves(lam, mu, 1.2, domain=DOMAIN, boundary="traction", n_boundary=200, rng=6)
    assert data.boundary_points is None
    P, N, T = data.traction_points, data.traction_normals, data.traction_values
    assert P.shape == N.shape[:1] + (3,) and T.shape == (200, 2)
    expected_normals = np.array([_outward_normal(p, DOMAIN) for p in P])
    np.testing.assert_array_equal(N, expected_normals)
    assert set(map(tuple, N.tolist())) == {(-1.0, 0.0), (1.0, 0.0), (0.0, -1.0), (0.0, 1.0)}
    # plane-strain Hooke's law written out, gradients by finite differences of the closed form
    G = fd_channels(lambda Y: reference_field(Y, DEFAULT_WAVES, lam, mu, 1.2), P)
    ux, uy, vx, vy = G[1, :, 0], G[2, :, 0], G[1, :, 1], G[2, :, 1]
    sxx = (lam + 2 * mu) * ux + lam * vy
    syy = lam * ux + (lam + 2 * mu) * vy
    sxy = mu * (uy + vx)
    ref = np.stack([sxx * N[:, 0] + sxy * N[:, 1], sxy * N[:, 0] + syy * N[:, 1]], axis=1)
    np.testing.assert_allclose(T, ref, rtol=0, atol=1e-7 * np.abs(ref).max())
    # and the same as pinnlite.engine.physics on the exact channels
    np.testing.assert_allclose(T, physics.traction(exact.channels(P), N, lam, mu), rtol=0, atol=1e-12)


def test_initial_conditions_are_the_exact_displacement_and_velocity():
    data, exact = plane_waves(2.0, 1.0, 1.0, domain=DOMAIN, n_initial=80, rng=9)
    P = data.initial_points
    assert P.shape == (80, 3)
    assert np.all(P[:, 2] == DOMAIN[2][0])
    np.testing.assert_allclose(data.initial_displacement, reference_field(P, DEFAULT_WAVES, 2.0, 1.0, 1.0),
                               rtol=0, atol=1e-12)
    h = 1e-3
    f = lambda dt: reference_field(P + np.array([0.0, 0.0, dt]), DEFAULT_WAVES, 2.0, 1.0, 1.0)  # noqa: E731
    v_fd = (-f(2 * h) + 8 * f(h) - 8 * f(-h) + f(-2 * h)) / (12 * h)
    assert np.abs(v_fd).max() > 1.0
    np.testing.assert_allclose(data.initial_velocity, v_fd, rtol=0, atol=1e-7 * np.abs(v_fd).max())
    np.testing.assert_array_equal(data.initial_velocity, exact.channels(P)[3])


def test_without_options_only_sensors_are_given():
    data, _ = plane_waves(n_sensors=10, rng=0)
    for key in ("boundary_points", "traction_points", "initial_points", "collocation"):
        assert getattr(data, key) is None


# -- bad arguments --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(waves=()), "waves"),
        (dict(noise=-0.01), "noise"),
        (dict(noise=math.nan), "noise"),
        (dict(noise=math.inf), "noise"),
        (dict(boundary="neumann"), "boundary"),
        (dict(waves=[("X", 1.0)]), "kind"),
        (dict(waves=[("P", 1.0, (0.0, 0.0))]), "direction"),
        (dict(domain=((1.0, 0.0), (0.0, 1.0), (0.0, 1.0))), "domain"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, fragment):
    with pytest.raises(InputError, match=fragment):
        plane_waves(n_sensors=5, rng=0, **kwargs)


# -- the Cramer-Rao bound -------------------------------------------------------------------

CRB_WAVES = DEFAULT_WAVES + (Wave("P", 0.4, (0.3, -2.0), 4.0, 1.1), Wave("S", 0.7, (1.0, 1.0), 5.0, -0.4))
ALL_WAVE_PARAMS = ("amplitude", "angle", "wavenumber", "phase")


def _perturbed(exact, name, h):
    """``exact`` with one parameter ("lam", "mu", "rho" or "<wave parameter>[i]") moved by h."""
    if name in ("lam", "mu", "rho"):
        return dataclasses.replace(exact, **{name: getattr(exact, name) + h})
    field, i = name[:-1].split("[")
    waves = list(exact.waves)
    w = waves[int(i)]
    if field == "angle":
        a = math.atan2(w.direction[1], w.direction[0]) + h
        r = math.hypot(*w.direction)  # the model ignores the norm; keep it to show that
        waves[int(i)] = dataclasses.replace(w, direction=(r * math.cos(a), r * math.sin(a)))
    else:
        waves[int(i)] = dataclasses.replace(w, **{field: getattr(w, field) + h})
    return dataclasses.replace(exact, waves=tuple(waves))


def test_jacobian_matches_central_differences_of_the_model():
    exact = ExactField(CRB_WAVES, 2.0, 1.0, 1.3)
    X = random_points(np.random.default_rng(10), 60)
    J, names = plane_wave_jacobian(exact, X, free=("lam", "mu", "rho"), wave_params=ALL_WAVE_PARAMS)
    assert J.shape == (60, 2, 3 + 4 * len(CRB_WAVES))
    assert names[:3] == ("lam", "mu", "rho") and names[3:7] == tuple(f"{p}[0]" for p in ALL_WAVE_PARAMS)
    h = 1e-5
    for j, name in enumerate(names):
        fd = (_perturbed(exact, name, h)(X) - _perturbed(exact, name, -h)(X)) / (2 * h)
        scale = np.abs(fd).max()
        assert scale > 1e-3, name  # every column moves the field
        # central differences: error ~ h^2 |u'''| / 6 ~ 1e-10 times the column's scale
        np.testing.assert_allclose(J[:, :, j], fd, rtol=0, atol=1e-7 * scale, err_msg=name)


def test_jacobian_keeps_only_the_requested_parameters_in_order():
    exact = ExactField(CRB_WAVES, 2.0, 1.0, 1.3)
    X = random_points(np.random.default_rng(11), 20)
    full, names = plane_wave_jacobian(exact, X, free=("lam", "mu", "rho"), wave_params=ALL_WAVE_PARAMS)
    J, sub = plane_wave_jacobian(exact, X, free=("mu",), wave_params=("phase", "amplitude"))
    assert sub == ("mu", "phase[0]", "amplitude[0]", "phase[1]", "amplitude[1]", "phase[2]", "amplitude[2]",
                   "phase[3]", "amplitude[3]")
    np.testing.assert_array_equal(J, full[:, :, [names.index(n) for n in sub]])


def _one_s_wave(A=0.8, k=5.0, phase=0.3, mu=1.5, rho=1.2, grid=(7, 6, 9)):
    wave = Wave("S", A, (0.6, 0.8), k, phase)
    data, exact = plane_waves(2.0, mu, rho, waves=(wave,), sensor_grid=grid, rng=0)
    X = data.sensor_points
    c = math.sqrt(mu / rho)
    theta = k * (0.6 * X[:, 0] + 0.8 * X[:, 1] - c * X[:, 2]) + phase
    return data, exact, X[:, 2], np.sin(theta)


def test_bound_of_mu_alone_from_one_s_wave_equals_the_hand_derivation():
    # u = A e cos(k (d.x - c_s t) + phase), |e| = 1, c_s = sqrt(mu / rho), so
    # du/dmu = A k t (dc_s/dmu) e sin theta with dc_s/dmu = 1 / (2 sqrt(rho mu)), and
    # with everything else known F = sum |du/dmu|^2 / sigma^2 (both components):
    # std(mu) = 2 sigma sqrt(rho mu) / (A k sqrt(sum t^2 sin^2 theta))
    A, k, mu, rho, sigma = 0.8, 5.0, 1.5, 1.2, 0.03
    data, exact, t, s = _one_s_wave(A=A, k=k, mu=mu, rho=rho)
    r = cramer_rao(data, exact, sigma, free=("mu",), wave_params=())
    expected = 2 * sigma * math.sqrt(rho * mu) / (A * k * math.sqrt(np.sum(t**2 * s**2)))
    assert r.names == ("mu",)
    assert r.std["mu"] == pytest.approx(expected, rel=1e-12)
    assert r.relative["mu"] == pytest.approx(expected / mu, rel=1e-12)
    assert r.cov.shape == (1, 1) and r.cov[0, 0] * r.fisher[0, 0] == pytest.approx(1.0, rel=1e-12)


def test_unknown_phase_inflates_the_bound_as_derived_by_hand():
    # With the phase unknown too, du/dphase = -A e sin theta and, with C = A k / (2 sqrt(rho mu)),
    # F = [[C^2 S_tt, -C A S_t], [-C A S_t, A^2 S_1]] / sigma^2, S_tt = sum t^2 sin^2,
    # S_t = sum t sin^2, S_1 = sum sin^2, so var(mu) = (F^-1)_11 = sigma^2 / (C^2 (S_tt - S_t^2 / S_1)).
    A, k, mu, rho, sigma = 0.8, 5.0, 1.5, 1.2, 0.03
    data, exact, t, s = _one_s_wave(A=A, k=k, mu=mu, rho=rho)
    C = A * k / (2 * math.sqrt(rho * mu))
    s2 = s**2
    expected = sigma / (C * math.sqrt(np.sum(t**2 * s2) - np.sum(t * s2) ** 2 / np.sum(s2)))
    r = cramer_rao(data, exact, sigma, free=("mu",), wave_params=("phase",))
    assert r.std["mu"] == pytest.approx(expected, rel=1e-10)
    alone = cramer_rao(data, exact, sigma, free=("mu",), wave_params=()).std["mu"]
    assert r.std["mu"] > 1.5 * alone  # the check has teeth: ignoring the nuisance would be far off


def test_every_added_unknown_can_only_raise_the_bound():
    data, exact = plane_waves(2.0, 1.0, 1.0, waves=CRB_WAVES, n_sensors=300, rng=12)
    previous = None
    for n in range(len(ALL_WAVE_PARAMS) + 1):
        std = cramer_rao(data, exact, 0.01, wave_params=ALL_WAVE_PARAMS[:n]).std
        if previous is not None:
            assert std["lam"] >= previous["lam"] * (1 - 1e-12) and std["mu"] >= previous["mu"] * (1 - 1e-12)
        previous = std


def test_bound_scales_as_sigma_and_as_one_over_root_n():
    data, exact = plane_waves(2.0, 1.0, 1.0, sensor_grid=(6, 6, 6), rng=0)
    r = cramer_rao(data, exact, 0.01)
    for q in ("lam", "mu"):
        assert cramer_rao(data, exact, 0.03).std[q] == pytest.approx(3 * r.std[q], rel=1e-12)
    # every sensor repeated 4 times: 4 times the information, exactly half the bound
    X4 = np.repeat(data.sensor_points, 4, axis=0)
    twice = dataclasses.replace(data, sensor_points=X4, sensor_values=np.repeat(data.sensor_values, 4, axis=0))
    for q in ("lam", "mu"):
        assert cramer_rao(twice, exact, 0.01).std[q] == pytest.approx(r.std[q] / 2, rel=1e-9)
    # finer grids: the information is n times a mean over the box that converges (a Riemann sum,
    # error O(1/m) with m points per axis), so std * sqrt(n) settles while n grows 64-fold
    scaled = []
    for m in (10, 20, 40):
        d, e = plane_waves(2.0, 1.0, 1.0, sensor_grid=(m, m, m), rng=0)
        std = cramer_rao(d, e, 0.01).std
        scaled.append(np.array([std["lam"], std["mu"]]) * math.sqrt(m**3))
    np.testing.assert_allclose(scaled[1], scaled[2], rtol=0.05)
    np.testing.assert_allclose(scaled[0], scaled[2], rtol=0.15)
    assert np.all(np.abs(scaled[1] / scaled[2] - 1) <= np.abs(scaled[0] / scaled[2] - 1) + 1e-3)


def test_least_squares_fits_of_the_exact_model_attain_the_bound():
    # the maximum-likelihood estimate (least squares, all 10 parameters free) started at the truth,
    # over 400 noisy draws: its sample std has a standard error of 1/sqrt(2 * 400) = 3.5%
    data, exact = plane_waves(2.0, 1.0, 1.0, sensor_grid=(5, 5, 6), rng=0)
    X, clean = data.sensor_points, exact(data.sensor_points)
    sigma = noise_std(exact, X, 0.02)
    r = cramer_rao(data, exact, sigma)
    kinds = [w.kind for w in exact.waves]
    material = dict(lam=2.0, mu=1.0, rho=1.0)
    truth = [2.0, 1.0]
    for w in exact.waves:
        truth += [w.amplitude, math.atan2(w.direction[1], w.direction[0]), w.wavenumber, w.phase]
    truth = np.array(truth)
    assert np.abs(naive.plane_wave_model(X, kinds, truth, material, ("lam", "mu")) - clean).max() < 1e-12
    rng = np.random.default_rng(13)
    fits = []
    for _ in range(400):
        y = clean + rng.normal(0.0, sigma, clean.shape)
        p = naive.gauss_newton(lambda p: (naive.plane_wave_model(X, kinds, p, material, ("lam", "mu")) - y).ravel(),
                               truth)
        fits.append(p[:2])
    fits = np.array(fits)
    for j, q in enumerate(("lam", "mu")):
        assert abs(fits[:, j].std(ddof=1) / r.std[q] - 1) < 0.15, (q, fits[:, j].std(ddof=1), r.std[q])
        assert abs(fits[:, j].mean() - truth[j]) < 4 * r.std[q] / math.sqrt(len(fits))  # unbiased
    # the bound's covariance of (lam, mu), not only its diagonal
    corr_fit = np.corrcoef(fits.T)[0, 1]
    corr_crb = r.cov[0, 1] / math.sqrt(r.cov[0, 0] * r.cov[1, 1])
    assert abs(corr_fit - corr_crb) < 0.15


def test_noise_std_is_the_sigma_plane_waves_draws_with():
    a, exact = plane_waves(n_sensors=3000, noise=0.0, rng=14)
    b, _ = plane_waves(n_sensors=3000, noise=0.05, rng=14)
    sigma = noise_std(exact, a.sensor_points, 0.05)
    assert sigma == pytest.approx(0.05 * math.sqrt(np.mean(a.sensor_values**2)), rel=1e-12)
    assert abs((b.sensor_values - a.sensor_values).std() / sigma - 1) < 0.05  # 6000 samples: SE 0.9%


@pytest.mark.parametrize(
    "waves, free, fragment",
    [
        (DEFAULT_WAVES, ("lam", "mu", "rho"), r"\+1 lam \+0.5 mu \+0.5 rho"),  # only lam/rho, mu/rho
        ((Wave("P", 1.0, (1.0, 0.5)),), ("lam", "mu"), r"\+1 lam -0.5 mu"),  # a P wave fixes lam + 2 mu
        ((Wave("S", 1.0, (1.0, 0.5)),), ("lam",), r"lam"),  # an S wave does not see lam
    ],
)
def test_undetermined_parameters_are_named(waves, free, fragment):
    data, exact = plane_waves(2.0, 1.0, 1.0, waves=waves, n_sensors=200, rng=15)
    with pytest.raises(InputError, match="singular Fisher information.*" + fragment):
        cramer_rao(data, exact, 0.01, free=free)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(sigma=0.0), "sigma"),
        (dict(sigma=-1.0), "sigma"),
        (dict(sigma=math.nan), "sigma"),
        (dict(free=("lam", "kappa")), "free"),
        (dict(free=("mu", "mu")), "free"),
        (dict(free=()), "free"),
        (dict(free="mu"), "free"),
        (dict(wave_params=("speed",)), "wave_params"),
        (dict(wave_params="phase"), "wave_params"),
    ],
)
def test_bad_bound_arguments_are_rejected(kwargs, fragment):
    data, exact = plane_waves(n_sensors=30, rng=0)
    kwargs = {"sigma": 0.01, **kwargs}
    with pytest.raises(InputError, match=fragment):
        cramer_rao(data, exact, **kwargs)


def test_bound_needs_sensors():
    data, exact = plane_waves(n_sensors=30, rng=0)
    with pytest.raises(InputError, match="data: expected TrainingData with sensor_points"):
        cramer_rao(dataclasses.replace(data, sensor_points=None, sensor_values=None), exact, 0.01)


@pytest.mark.parametrize("kwargs, match", [
    ({"n_sensors": 10.5}, r"^n_sensors: expected an integer >= 0, found 10.5"),
    ({"n_sensors": True}, r"^n_sensors: expected an integer >= 0, found True"),
    ({"lam": "2"}, r"^lam: expected a finite real number > 0, found '2'"),
    ({"mu": 0.0}, r"^mu: expected a finite real number > 0, found 0.0"),
    ({"mu": -1}, r"^mu: expected a finite real number > 0"),  # was math.sqrt's 'math domain error'
    ({"rho": 0}, r"^rho: expected a finite real number > 0"),  # was a ZeroDivisionError
    ({"lam": float("nan")}, r"^lam: expected a finite real number > 0, found nan"),  # was blamed on sensor_values
    ({"noise": None}, r"^noise: expected a finite real number >= 0, found None"),  # was a TypeError
    ({"sensor_grid": (2, 2)}, r"^sensor_grid: expected three integers >= 1"),  # was an IndexError
    ({"sensor_grid": (0, 2, 2)}, r"^sensor_grid: expected three integers >= 1"),  # was 0 sensors, silently
    ({"n_boundary": -1, "boundary": "dirichlet"}, r"^n_boundary: expected an integer >= 0, found -1"),
    ({"waves": {"kind": "P"}}, r"^waves: expected a sequence of Wave"),
])
def test_plane_waves_names_each_bad_argument(kwargs, match):
    with pytest.raises(InputError, match=match):
        plane_waves(**kwargs)
