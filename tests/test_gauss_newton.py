"""Levenberg-Marquardt (pinnlite.optim.gauss_newton) against a plain reference and known minimisers.

Iterates must equal those of the textbook algorithm written out in
tests/naive.py on a small nonlinear least-squares problem (an exponential
fit), the method must solve a linear least-squares problem and Rosenbrock's
problem in least-squares form, and its damping must follow Nielsen's rule.
"""

import numpy as np
from naive import levenberg_marquardt as reference

from pinnlite import optim


def problem_exp():
    t = np.linspace(0, 2, 25)
    y = 2.5 * np.exp(-1.3 * t) + 0.3 * np.sin(3 * t)
    residual = lambda p: p[0] * np.exp(p[1] * t) + p[2] * np.sin(3 * t) - y  # noqa: E731
    jacobian = lambda p: np.stack([np.exp(p[1] * t), p[0] * t * np.exp(p[1] * t), np.sin(3 * t)], 1)  # noqa: E731
    return residual, jacobian, np.array([2.5, -1.3, 0.3])


def run(opt, residual, jacobian, x0, steps):
    fun = lambda p: float(residual(p) @ residual(p))  # noqa: E731

    def normal(p):
        r, J = residual(p), jacobian(p)
        return float(r @ r), J.T @ r, J.T @ J

    x, state, path = x0.copy(), opt.init(x0), []
    for _ in range(steps):
        x, state = opt.update(np.zeros_like(x), state, x, fun=fun, normal=normal)
        path.append(x.copy())
        if state.converged:
            break
    return x, state, path


def test_iterates_equal_the_reference():
    residual, jacobian, truth = problem_exp()
    x0 = np.array([1.0, -0.2, 0.0])
    x, state, path = run(optim.levenberg_marquardt(tolerance_change=0.0, tolerance_grad=0.0), residual, jacobian, x0, 12)
    ref = reference(residual, jacobian, x0, 12)
    for k, (a, b) in enumerate(zip(path, ref)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"iterate {k + 1}")


def test_recovers_the_exact_parameters_of_a_consistent_problem():
    residual, jacobian, truth = problem_exp()
    x, state, _ = run(optim.levenberg_marquardt(), residual, jacobian, np.array([1.0, -0.2, 0.0]), 100)
    np.testing.assert_allclose(x, truth, rtol=1e-10)
    assert state.converged and state.value < 1e-20


def test_linear_least_squares_is_solved_in_a_few_steps():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    y = rng.normal(size=40)
    x, state, path = run(optim.levenberg_marquardt(), lambda p: X @ p - y, lambda p: X, np.zeros(5), 20)
    np.testing.assert_allclose(x, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-9)
    assert len(path) < 15


def test_rosenbrock_in_least_squares_form():
    residual = lambda p: np.array([10 * (p[1] - p[0] ** 2), 1 - p[0]])  # noqa: E731
    jacobian = lambda p: np.array([[-20 * p[0], 10.0], [-1.0, 0.0]])  # noqa: E731
    x, state, _ = run(optim.levenberg_marquardt(), residual, jacobian, np.array([-1.2, 1.0]), 200)
    np.testing.assert_allclose(x, [1.0, 1.0], atol=1e-10)


def test_a_rejected_step_doubles_the_damping_growth():
    """Nielsen's rule: after a rejected trial mu *= nu and nu doubles; an accepted one resets nu to 2."""
    residual, jacobian, _ = problem_exp()
    opt = optim.levenberg_marquardt(damping=1e-8)
    calls = []
    fun = lambda p: calls.append(1) or (np.inf if len(calls) <= 2 else float(residual(p) @ residual(p)))  # noqa: E731

    def normal(p):
        r, J = residual(p), jacobian(p)
        return float(r @ r), J.T @ r, J.T @ J

    x0 = np.array([1.0, -0.2, 0.0])
    _, st = opt.update(np.zeros(3), opt.init(x0), x0, fun=fun, normal=normal)
    assert len(calls) == 3 and st.nu == 2.0
    # two rejections: mu = 1e-8 * 2 * 4, then the accepted step scales it by a factor in [1/3, 2)
    assert 1e-8 * 8 / 3 <= st.mu < 1e-8 * 8 * 2
