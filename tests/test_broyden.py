"""Dense quasi-Newton methods (pinnlite.optim.broyden) against the update formulas and known minimisers.

The update kernel is compared with the Broyden-family formula written out with
outer products (tests/naive.py), the SSBroyden coefficients with their
formulas branch by branch, every accepted update with the secant condition
``H+ y = s``; each variant minimises a convex quadratic and Rosenbrock's
function to their known minimisers.
"""

import math

import numpy as np
import pytest
from naive import broyden_inverse_update, quadratic, rosen_start, rosenbrock, spd_matrix, ssbroyden_coefficients
from test_quasi_newton import run  # the same driver: updates until converged

from pinnlite import optim
from pinnlite.errors import InputError
from pinnlite.optim import broyden as bfgs_module




def test_update_kernel_is_the_broyden_formula():
    rng = np.random.default_rng(0)
    n = 7
    H = spd_matrix(n, 30.0, rng)
    H = (H + H.T) / 2  # exactly symmetric, as the optimizer's H always is
    s, y = rng.normal(size=n), rng.normal(size=n)
    y += 2 * s  # make y's > 0
    Hy = H @ y
    yHy, sy = y @ Hy, s @ y
    for phi, tau in ((1.0, 1.0), (1.0, 0.37), (0.3, 1.8), (-0.2, 0.9)):
        new = bfgs_module._update(H, s, Hy, 1 / tau, (phi - 1) / (tau * yHy), -phi / (tau * sy),
                                  phi * yHy / (tau * sy * sy) + 1 / sy)
        np.testing.assert_allclose(new, broyden_inverse_update(H, s, y, phi, tau), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(new @ y, s, rtol=1e-10, atol=1e-12)  # the secant condition
        assert np.array_equal(new, new.T)


@pytest.mark.parametrize("first", [True, False])
def test_ssbroyden_coefficients_follow_their_formulas(first):
    rng = np.random.default_rng(1)
    refused = 0
    for _ in range(200):
        sy, yHy, b = rng.uniform(0.1, 3, 3)
        want = ssbroyden_coefficients(sy, yHy, b, first, 50)
        got = bfgs_module._coefficients("ssbroyden", sy, yHy, b, first, 50)
        if want[1] > 0:
            assert got == pytest.approx(want, rel=1e-12)
        else:  # a negative scaling would make H indefinite: the update is refused
            assert got is None
            refused += 1
    assert refused < 100
    assert bfgs_module._coefficients("ssbfgs", 2.0, 3.0, 4.0, True, 5) == (1.0, 1.5)  # tau = h = y'Hy / y's
    assert bfgs_module._coefficients("ssbfgs", 2.0, 3.0, 4.0, False, 5) == (1.0, 0.25)  # tau = min(1, 1/b)
    assert bfgs_module._coefficients("bfgs", 2.0, 3.0, 4.0, False, 5) == (1.0, 1.0)


@pytest.mark.parametrize("variant", ["ssbroyden", "ssbfgs", "bfgs"])
def test_minimises_a_convex_quadratic(variant):
    rng = np.random.default_rng(2)
    a = spd_matrix(12, 100.0, rng)
    b = rng.normal(size=12)
    x, state = run(optim.bfgs(variant, tolerance_grad=1e-11, tolerance_change=0.0), quadratic(a, b), np.zeros(12), 200)
    np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=1e-8, atol=1e-10)
    assert state.updates > 0
    # the carried-over next direction is the product with the updated H
    np.testing.assert_allclose(state.Hg, state.H @ state.grad, rtol=1e-8, atol=1e-14 * np.abs(state.H).max())
    # every accepted pair was taken into H, which stays symmetric positive definite
    assert np.array_equal(state.H, state.H.T) and np.linalg.eigvalsh(state.H).min() > 0


@pytest.mark.parametrize("variant", ["ssbroyden", "ssbfgs", "bfgs"])
@pytest.mark.parametrize("n", [2, 10])
def test_minimises_rosenbrock(variant, n):
    x, state = run(optim.bfgs(variant, tolerance_grad=1e-10), rosenbrock, rosen_start(n), 2000)
    np.testing.assert_allclose(x, np.ones(n), atol=1e-6)
    assert state.status in (optim.LBFGS_GRAD_TOL, optim.LBFGS_VALUE_CHANGE, optim.LBFGS_STEP_CHANGE)


@pytest.mark.parametrize("variant", ["ssbroyden", "bfgs"])
def test_carried_direction_is_h_times_g_after_every_update(variant):
    opt = optim.bfgs(variant)
    x = rosen_start(6)
    state = opt.init(x)
    f, g = rosenbrock(x)
    for _ in range(15):
        x, state = opt.update(g, state, x, value=f, fun=rosenbrock)
        f, g = state.value, state.grad
        np.testing.assert_allclose(state.Hg, state.H @ g, rtol=1e-9, atol=1e-12 * np.abs(state.H @ g).max())


def test_first_update_scales_the_identity_like_the_formula():
    """With H = I the first SSBFGS update is the formula with tau = h = y'y / y's."""
    a = np.diag([1.0, 10.0, 100.0])
    fun = quadratic(a, np.ones(3))
    opt = optim.bfgs("ssbfgs")
    x0 = np.array([1.0, -1.0, 0.5])
    f, g = fun(x0)
    x1, st = opt.update(g, opt.init(x0), x0, value=f, fun=fun)
    s, y = x1 - x0, st.grad - g
    expected = broyden_inverse_update(np.eye(3), s, y, 1.0, (y @ y) / (s @ y))
    np.testing.assert_allclose(st.H, expected, rtol=1e-12)


def test_bad_arguments_name_the_argument():
    with pytest.raises(InputError, match="variant"):
        optim.bfgs("dfp")
    with pytest.raises(InputError, match="c2"):
        optim.bfgs(c1=0.5, c2=0.4)
    opt = optim.bfgs()
    x = np.zeros(3)
    with pytest.raises(InputError, match="fun"):
        opt.update(np.zeros(3), opt.init(x), x, value=0.0, fun=None)
    bad = opt.init(x)._replace(H=np.eye(4))
    with pytest.raises(InputError, match="state"):
        opt.update(np.ones(3), bad, x, value=1.0, fun=lambda p: (0.0, p))


def test_float32_params_keep_their_dtype():
    a = np.diag([1.0, 4.0])
    fun32 = lambda p: (float(0.5 * p @ a @ p), (a @ p).astype(np.float32))  # noqa: E731
    x, state = run(optim.bfgs(tolerance_grad=1e-5, tolerance_change=1e-7), fun32, np.ones(2, np.float32), 100)
    assert x.dtype == np.float32 and state.grad.dtype == np.float32 and state.H.dtype == np.float64
    assert np.abs(x).max() < 1e-4 and math.isfinite(state.value)
