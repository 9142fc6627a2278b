"""Error bars (pinnlite.training.uncertainty) against the statistics of linear least squares.

For a linear model the Gauss-Newton sandwich covariance is exact: with only data
rows it is the ordinary least-squares covariance sigma^2 (X'X)^-1, the
effective degrees of freedom are the number of parameters and the noise
estimate is the unbiased one; with a second, penalty term the covariance of
the penalised estimator is H^-1 X'X H^-1 sigma^2 (checked by Monte Carlo).
"""

import numpy as np
import pytest

from pinnlite.training.uncertainty import material_uncertainty


def blocks(X, y, P=None, a2=1.0, b2=1.0):
    """H, Ad, rss at the penalised least-squares optimum of a2 |X p - y|^2 + b2 |P p|^2."""
    A = a2 * X.T @ X + (0 if P is None else b2 * P.T @ P)
    p = np.linalg.solve(A, a2 * X.T @ y)
    r = X @ p - y
    return A, a2 * X.T @ X, float(r @ r), p


def test_data_only_gives_the_ols_covariance_and_the_unbiased_noise():
    rng = np.random.default_rng(0)
    n, k, sigma = 400, 4, 0.3
    X = rng.normal(size=(n, k))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + sigma * rng.normal(size=n)
    H, Ad, rss, p = blocks(X, y, a2=0.01)  # the weight of the rows must not matter
    # treat the last two parameters as log-material: values 1, so std = std(theta)
    u = material_uncertainty(H, Ad, 0.01, rss, n, [2, 3], {"lam": 1.0, "mu": 1.0, "rho": 1.0}, ("lam", "mu"))
    s2 = rss / (n - k)
    cov = s2 * np.linalg.inv(X.T @ X)
    assert u.dof == pytest.approx(k, rel=1e-10)
    assert u.noise_sigma == pytest.approx(np.sqrt(s2), rel=1e-12)
    assert u.std["lam"] == pytest.approx(np.sqrt(cov[2, 2]), rel=1e-9)
    assert u.std["mu"] == pytest.approx(np.sqrt(cov[3, 3]), rel=1e-9)
    assert u.n_data == n


def test_std_of_p_is_p_times_std_of_theta():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 2))
    y = X @ [0.2, 0.1] + 0.1 * rng.normal(size=100)
    H, Ad, rss, _ = blocks(X, y)
    one = material_uncertainty(H, Ad, 1.0, rss, 100, [0, 1], {"lam": 1.0, "mu": 1.0, "rho": 1.0}, ("lam", "mu"))
    scaled = material_uncertainty(H, Ad, 1.0, rss, 100, [0, 1], {"lam": 7.0, "mu": 0.5, "rho": 1.0}, ("lam", "mu"))
    assert scaled.std["lam"] == pytest.approx(7.0 * one.std["lam"], rel=1e-14)
    assert scaled.std["mu"] == pytest.approx(0.5 * one.std["mu"], rel=1e-14)


def test_penalised_estimator_covariance_matches_monte_carlo():
    """With a penalty (the analogue of the PDE term, which the truth satisfies) the sandwich is the
    estimator's real covariance."""
    rng = np.random.default_rng(2)
    n, k, sigma = 60, 5, 0.2
    X = rng.normal(size=(n, k))
    P = rng.normal(size=(3, k))
    truth = rng.normal(size=k)
    truth -= np.linalg.pinv(P) @ (P @ truth)  # the truth satisfies the penalty, as a true field the PDE
    draws, stds = [], []
    for _ in range(3000):
        y = X @ truth + sigma * rng.normal(size=n)
        H, Ad, rss, p = blocks(X, y, P, a2=1.0, b2=100.0)
        draws.append(p[:2])
        u = material_uncertainty(H, Ad, 1.0, rss, n, [0, 1], {"lam": 1.0, "mu": 1.0, "rho": 1.0}, ("lam", "mu"))
        stds.append([u.std["lam"], u.std["mu"]])
    sample = np.std(np.array(draws), axis=0)
    predicted = np.mean(np.array(stds), axis=0)
    np.testing.assert_allclose(predicted, sample, rtol=0.05)
    # the Bayesian (Laplace) sigma^2 H^-1 would overstate it: the test can tell the two apart
    laplace = sigma * np.sqrt(np.diag(np.linalg.inv(H))[:2])
    assert np.all(np.abs(laplace / sample - 1) > 0.1)


def test_nothing_to_report_without_data_or_free_parameters():
    H = np.eye(3)
    assert material_uncertainty(H, H, 1.0, 1.0, 0, [2], {"lam": 1.0}, ("lam",)) is None
    assert material_uncertainty(H, H, 1.0, 1.0, 10, [], {}, ()) is None
