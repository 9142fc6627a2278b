"""Tests of pinnlite.optim.quasi_newton (L-BFGS with a strong-Wolfe line search)
against the naive L-BFGS and line search of naive.py (``ref_lbfgs``,
``ref_line_search``: iterates, step sizes and stored pairs), against closed-form
minimisers and line-search steps worked out by hand on one-dimensional
quadratics and concave functions, and against exact cubics for the
interpolation step: argument checks, purity, convergence, ring buffer, stopping
tolerances, fallbacks, determinism and float32 state."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from naive import quadratic, readonly, ref_lbfgs, rosen_start, rosenbrock, spd_matrix

from pinnlite import optim
from pinnlite.errors import InputError
from pinnlite.optim import linesearch
from pinnlite.optim.schedules import step_decay


def run(opt, fun, x0, steps):
    """Up to ``steps`` updates of a second-order optimizer from ``x0``, stopping when converged; the last (x, state)."""
    x = x0.copy()
    state = opt.init(x)
    f, g = fun(x)
    for _ in range(steps):
        x, state = opt.update(g, state, x, value=f, fun=fun)
        f, g = state.value, state.grad
        if state.converged:
            break
    return x, state


# -- validation and purity -------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, argname",
    [
        (lambda: optim.lbfgs(history=0), "history"),
        (lambda: optim.lbfgs(learning_rate=0.0), "learning_rate"),
        (lambda: optim.lbfgs(max_linesearch=0), "max_linesearch"),
        (lambda: optim.lbfgs(c1=0.0), "c1"),
        (lambda: optim.lbfgs(c1=0.5, c2=0.4), "c2"),
        (lambda: optim.lbfgs(c2=1.0), "c2"),
        (lambda: optim.lbfgs(tolerance_grad=-1.0), "tolerance_grad"),
        (lambda: optim.lbfgs(tolerance_change=float("nan")), "tolerance_change"),
    ],
)
def test_bad_hyperparameters_name_the_argument(make, argname):
    with pytest.raises(InputError, match=argname):
        make()


def test_update_rejects_bad_value_fun_and_mismatched_arrays():
    p = np.zeros(4)
    lb = optim.lbfgs()
    with pytest.raises(InputError, match="value"):
        lb.update(np.ones(4), lb.init(p), p, value=float("nan"), fun=rosenbrock)
    with pytest.raises(InputError, match="fun"):
        lb.update(np.ones(4), lb.init(p), p, value=1.0, fun=None)
    with pytest.raises(InputError, match="grads"):
        lb.update(np.ones(4, np.float32), lb.init(p), p, value=1.0, fun=rosenbrock)
    with pytest.raises(InputError, match="fun"):
        lb.update(np.ones(4), lb.init(p), p, value=1.0,
                  fun=lambda x: (1.0, np.ones(4, np.float32)))


def test_update_is_pure():
    rng = np.random.default_rng(4)
    fun = quadratic(spd_matrix(5, 10.0, rng), rng.normal(size=5))
    opt = optim.lbfgs()
    p = readonly(rng.normal(size=5))
    f, g = fun(p)
    g = readonly(g)
    state = opt.init(p)
    p1, state = opt.update(g, state, p, value=f, fun=fun)  # non-trivial state
    p1, g1 = readonly(p1), readonly(fun(p1)[1])
    state = state._replace(**{k: readonly(v) for k, v in state._asdict().items()
                              if isinstance(v, np.ndarray)})
    saved = optim.state_to_dict(state)
    p2, state2 = opt.update(g1, state, p1, value=fun(p1)[0], fun=fun)
    assert p2 is not p1 and not np.shares_memory(p2, p1)
    for key, value in saved.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(state, key), value)
            assert not np.shares_memory(getattr(state2, key), getattr(state, key))
    assert not np.array_equal(p2, p1)


# -- convergence ------------------------------------------------------------------------------


def test_lbfgs_minimises_a_convex_quadratic():
    # near x* the decrease in f drops below rounding and the line search stops
    # (status 4) with |x - x*| ~ 1e-9, so 1e-8 is what f-based line searches can promise
    rng = np.random.default_rng(5)
    a = spd_matrix(12, 20.0, rng)
    b = rng.normal(size=12)
    x_star = np.linalg.solve(a, b)
    opt = optim.get_optimizer("lbfgs", tolerance_grad=1e-10, tolerance_change=0.0)
    x, _ = run(opt, quadratic(a, b), np.zeros(12), 100)
    assert np.max(np.abs(x - x_star)) < 1e-8


@pytest.mark.parametrize("n", [2, 10])
def test_lbfgs_solves_rosenbrock(n):
    x, state = run(optim.lbfgs(), rosenbrock, rosen_start(n), 300)
    assert state.converged == 1
    assert state.count < 300
    assert np.max(np.abs(x - 1.0)) < 1e-6
    assert state.value == pytest.approx(rosenbrock(x)[0], abs=0.0)


# -- L-BFGS against the naive reference ---------------------------------------------------


def lbfgs_iterates(opt, fun, x0, iters):
    """The (x, state) after each of ``iters`` updates from ``x0``; none may have converged."""
    x = x0.copy()
    state = opt.init(x)
    f, g = fun(x)
    out = []
    for _ in range(iters):
        x, state = opt.update(g, state, x, value=f, fun=fun)
        f, g = state.value, state.grad
        assert state.converged == 0
        out.append((x, state))
    return out


@pytest.mark.parametrize("problem", ["quadratic", "rosenbrock2", "rosenbrock10"])
def test_lbfgs_matches_reference_iterates(problem):
    rng = np.random.default_rng(6)
    if problem == "quadratic":
        fun = quadratic(spd_matrix(15, 1e3, rng), rng.normal(size=15))
        x0, iters = rng.normal(size=15), 8
    else:
        n = int(problem[len("rosenbrock"):])
        fun, x0, iters = rosenbrock, rosen_start(n), 12
    ours = lbfgs_iterates(optim.lbfgs(), fun, x0, iters)
    ref = ref_lbfgs(fun, x0, iters)
    for (x, state), (x_ref, f_ref, t_ref, pairs) in zip(ours, ref):
        np.testing.assert_allclose(x, x_ref, rtol=1e-10, atol=1e-10)
        assert state.value == pytest.approx(f_ref, rel=1e-10, abs=1e-12)
        assert state.step_size == pytest.approx(t_ref, rel=1e-10)
        assert state.size == len(pairs)


def test_lbfgs_ring_buffer_wraps_like_keeping_the_last_m_pairs():
    rng = np.random.default_rng(7)
    n, m, iters = 30, 3, 11
    fun = quadratic(spd_matrix(n, 1e4, rng), rng.normal(size=n))
    x0 = rng.normal(size=n)
    ours = lbfgs_iterates(optim.lbfgs(history=m), fun, x0, iters)
    ref = ref_lbfgs(fun, x0, iters, m=m)
    for k, ((x, state), (x_ref, _, _, pairs)) in enumerate(zip(ours, ref), start=1):
        np.testing.assert_allclose(x, x_ref, rtol=1e-10, atol=1e-10)
        # every pair is accepted on a convex quadratic: k pairs stored, capped at m
        assert state.size == min(k, m) == len(pairs)
        assert state.head == k % m
        # slot (head - 1 - j) mod m holds the j-th newest pair
        for j, (s_ref, y_ref) in enumerate(reversed(pairs)):
            slot = (state.head - 1 - j) % m
            np.testing.assert_allclose(state.s[slot], s_ref, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(state.y[slot], y_ref, rtol=1e-9, atol=1e-12)
            assert state.rho[slot] == pytest.approx(1.0 / np.dot(s_ref, y_ref), rel=1e-9)


# -- line search, stored pairs and stopping rules, worked out by hand --------------------------


def test_lbfgs_accepted_steps_satisfy_strong_wolfe():
    c1, c2 = 1e-4, 0.9
    opt = optim.lbfgs(c1=c1, c2=c2)
    x = rosen_start(10)
    state = opt.init(x)
    f, g = rosenbrock(x)
    steps = 0
    while not state.converged:
        x_new, state = opt.update(g, state, x, value=f, fun=rosenbrock)
        if state.converged and state.status != optim.LBFGS_RUNNING and state.step_size == 0.0:
            break
        assert state.wolfe == 1
        s = x_new - x  # = t d, so g's = t g'd
        f_new, g_new = rosenbrock(x_new)
        assert (f_new, g_new.tolist()) == (state.value, state.grad.tolist())
        slack = 1e-12 * (abs(f) + 1.0)
        assert f_new <= f + c1 * np.dot(g, s) + slack  # sufficient decrease
        assert abs(np.dot(g_new, s)) <= c2 * abs(np.dot(g, s)) * (1 + 1e-9) + 1e-300  # curvature
        x, f, g = x_new, f_new, g_new
        steps += 1
    assert steps > 20


def test_lbfgs_skips_curvature_violating_pairs():
    # concave along the path: f = -x^2/2 from x = 1. With one evaluation allowed the
    # trial t = min(1, 1/|g|_1) = 1 gives x = 2 (f decreases: the fallback accepts it)
    # but s'y = 1 * (-2 - (-1)) = -1 < 0, so the pair must not be stored.
    def concave(x):
        return float(-0.5 * x @ x), -x

    opt = optim.lbfgs(max_linesearch=1)
    x0 = np.array([1.0])
    x1, state = opt.update(np.array([-1.0]), opt.init(x0), x0, value=-0.5, fun=concave)
    assert x1[0] == 2.0
    assert state.wolfe == 0 and state.converged == 0
    assert state.size == 0 and state.head == 0
    assert np.all(state.s == 0.0) and np.all(state.y == 0.0)
    # next direction is still -g: from x = 2 (g = -2) trial t = min(1, 1/2) -> x = 3
    x2, state = opt.update(state.grad, state, x1, value=state.value, fun=concave)
    assert x2[0] == 3.0 and state.size == 0

    # a linear direction (y = 0, s'y = 0) is skipped too
    def linear(x):
        return float(-x.sum()), -np.ones_like(x)

    xl, state = opt.update(-np.ones(2), opt.init(np.zeros(2)), np.zeros(2), value=0.0,
                           fun=linear)
    assert state.size == 0 and xl[0] > 0.0


def test_lbfgs_converges_on_zero_gradient_without_evaluating():
    def fun(x):
        raise AssertionError("must not be called")

    opt = optim.lbfgs()
    x = np.array([1.0, 2.0])
    new_x, state = opt.update(np.zeros(2), opt.init(x), x, value=3.0, fun=fun)
    np.testing.assert_array_equal(new_x, x)
    assert (state.converged, state.status, state.n_evals, state.value) == (
        1, optim.LBFGS_GRAD_TOL, 0, 3.0)
    # a converged state makes further updates no-ops
    again_x, again = opt.update(np.ones(2), state, x, value=3.0, fun=fun)
    np.testing.assert_array_equal(again_x, x)
    assert again.count == state.count


def test_lbfgs_reports_line_search_failure_and_keeps_params():
    # the gradient has the wrong sign: every step along -g increases f
    def fun(x):
        return float(x @ x), -2.0 * x

    opt = optim.lbfgs(max_linesearch=10)
    x = np.array([1.0, -2.0])
    f, g = fun(x)
    new_x, state = opt.update(g, opt.init(x), x, value=f, fun=fun)
    np.testing.assert_array_equal(new_x, x)
    assert (state.converged, state.status) == (1, optim.LBFGS_LINESEARCH_FAILED)
    assert state.n_evals == 10 and state.value == f


def test_lbfgs_first_trial_step_uses_learning_rate_and_lr_factor():
    # f = |x|^2 / 2 (A = I): the trial t0 = lr * lr_factor * min(1, 1/|g|_1) is accepted
    # at once when 0.1 <= t0 <= 1 (curvature |1 - t| <= 0.9, Armijo holds on (0, 2)).
    fun = quadratic(np.eye(3), np.zeros(3))
    x = np.array([1.0, -2.0, 1.0])  # |g|_1 = 4
    opt = optim.lbfgs(learning_rate=step_decay(1.0, 1, 0.5))
    new_x, state = opt.update(x.copy(), opt.init(x), x, value=3.0, fun=fun, lr_factor=2.0)
    assert state.step_size == 0.5 and state.n_evals == 1
    np.testing.assert_allclose(new_x, 0.5 * x, rtol=1e-15)


def test_lbfgs_line_search_extrapolates_up_to_ten_times_the_trial():
    # f = 0.005 x^2 / 2 - 0.5 x (minimum x = 100) from x = 0: g = -0.5, d = 0.5, and
    # the first trial t = min(1, 1/0.5) = 1. Curvature needs |g(x)| <= 0.9 * 0.5, i.e.
    # x >= 10, i.e. t >= 20. The cubic (exact on a quadratic) points at t = 200 each
    # time and is clamped to 10 t: t = 1 (x = 0.5), t = 10 (x = 5), t = 100 (x = 50),
    # where g = -0.25 is accepted after 3 evaluations.
    fun = quadratic(np.array([[0.005]]), np.array([0.5]))
    x = np.zeros(1)
    f, g = fun(x)
    new_x, state = optim.lbfgs().update(g, optim.lbfgs().init(x), x, value=f, fun=fun)
    assert (state.step_size, state.n_evals, state.wolfe) == (100.0, 3, 1)
    np.testing.assert_allclose(new_x, [50.0], rtol=1e-15)


@pytest.mark.parametrize(
    "tolerance_change, status",
    [(1e-12, optim.LBFGS_RUNNING), (20.0, optim.LBFGS_VALUE_CHANGE),
     (60.0, optim.LBFGS_STEP_CHANGE)],
)
def test_lbfgs_change_tolerances(tolerance_change, status):
    # the step of the test above: x 0 -> 50 (max|s| = 50), f 0 -> -18.75 (|df| = 18.75)
    fun = quadratic(np.array([[0.005]]), np.array([0.5]))
    x = np.zeros(1)
    f, g = fun(x)
    opt = optim.lbfgs(tolerance_change=tolerance_change)
    new_x, state = opt.update(g, opt.init(x), x, value=f, fun=fun)
    assert new_x[0] == pytest.approx(50.0, rel=1e-15)
    assert state.value == pytest.approx(-18.75, rel=1e-14)
    assert (state.status, state.converged) == (status, int(status != optim.LBFGS_RUNNING))


def test_lbfgs_gradient_tolerance_after_a_step():
    # f = |x|^2 / 2 with |g|_1 = 1: the trial t = 1 lands exactly on the minimum 0
    fun = quadratic(np.eye(3), np.zeros(3))
    x = np.array([0.25, -0.5, 0.25])
    opt = optim.lbfgs()
    new_x, state = opt.update(x.copy(), opt.init(x), x, value=fun(x)[0], fun=fun)
    np.testing.assert_array_equal(new_x, np.zeros(3))
    assert (state.status, state.converged, state.step_size) == (optim.LBFGS_GRAD_TOL, 1, 1.0)


def test_lbfgs_fallback_takes_the_lowest_point():
    # concave f = -x^2/2 from x = 1, two evaluations: t = 1 (x = 2, f = -2) passes
    # Armijo but not curvature; the cubic through t = 0, 1 has a zero denominator, so
    # the next trial is 10 t = 10 (x = 11, f = -60.5). No Wolfe point: the fallback
    # must take the lower of the two.
    def concave(x):
        return float(-0.5 * x @ x), -x

    opt = optim.lbfgs(max_linesearch=2)
    x = np.array([1.0])
    new_x, state = opt.update(-x, opt.init(x), x, value=-0.5, fun=concave)
    assert new_x[0] == 11.0 and state.value == -60.5 and state.wolfe == 0


def test_lbfgs_non_descent_direction_falls_back_to_steepest_descent():
    # a stored pair with s'y < 0 (only reachable through a corrupted state) makes
    # H indefinite: with s = (1, 0), y = (-1, 0), g = (1, 1) the two-loop gives
    # d = (1, 1), an ascent direction. The update must drop the history and use
    # -g with the first-step trial min(1, 1/|g|_1) = 0.5 on f = |x|^2 / 2.
    fun = quadratic(np.eye(2), np.zeros(2))
    opt = optim.lbfgs(history=2)
    x = np.array([1.0, 1.0])
    state = opt.init(x)._replace(
        s=np.array([[1.0, 0.0], [0.0, 0.0]]), y=np.array([[-1.0, 0.0], [0.0, 0.0]]),
        rho=np.array([-1.0, 0.0]), head=1, size=1,
    )
    new_x, state = opt.update(x.copy(), state, x, value=1.0, fun=fun)
    np.testing.assert_array_equal(new_x, [0.5, 0.5])
    assert state.converged == 0 and (state.size, state.head) == (1, 1)
    np.testing.assert_array_equal(state.s[0], [-0.5, -0.5])


@settings(max_examples=300, deadline=None)
@given(
    lo_root=st.floats(-5.0, 5.0),
    gap=st.floats(0.1, 5.0),
    a=st.floats(-10.0, 10.0),
    b=st.floats(-10.0, 10.0),
    scale=st.floats(0.1, 10.0),
)
def test_cubic_interpolation_is_exact_on_cubics(lo_root, gap, a, b, scale):
    # phi' = scale (t - M)(t - m) with M < m: local minimum at m, in either point order
    big, small = lo_root + gap, lo_root
    # the interpolant extrapolates from a and b to the minimiser: rounding of f (~ scale t^3) is amplified by
    # about (distance / |a - b|)^2, so keep the two points at least 1% of that distance apart (a = 9.1016,
    # b = 9.0859 for the minimiser at 1 put the error at 2e-6)
    assume(abs(a - b) >= 1e-2 * max(1.0, abs(a - big), abs(b - big)))

    def phi(t):
        return scale * (t**3 / 3 - (big + small) * t**2 / 2 + big * small * t)

    def dphi(t):
        return scale * (t - big) * (t - small)

    t1 = linesearch.cubic_min(a, phi(a), dphi(a), b, phi(b), dphi(b))
    t2 = linesearch.cubic_min(b, phi(b), dphi(b), a, phi(a), dphi(a))
    assert t1 == pytest.approx(big, rel=1e-6, abs=1e-6)
    assert t2 == pytest.approx(big, rel=1e-6, abs=1e-6)


def test_cubic_interpolation_where_eq_3_59_is_zero_over_zero():
    """Both slopes positive with the minimiser between them: the numerator and the denominator of eq. 3.59
    cancel to rounding (the formula alone gave 5.79 and 6.32 for the minimiser 6)."""
    def phi(t):
        return t**3 / 3 - 11 * t**2 / 2 + 30 * t  # phi' = (t - 5)(t - 6)

    def dphi(t):
        return (t - 5) * (t - 6)

    for a, b in ((0.0, 10.0), (10.0, 0.0), (-1.0, 11.0)):
        assert linesearch.cubic_min(a, phi(a), dphi(a), b, phi(b), dphi(b)) == pytest.approx(6.0, rel=1e-12)


def test_lbfgs_is_deterministic():
    runs = [lbfgs_iterates(optim.lbfgs(history=4), rosenbrock, rosen_start(10), 15)
            for _ in range(2)]
    for (xa, sa), (xb, sb) in zip(*runs):
        assert xa.tobytes() == xb.tobytes() and sa.s.tobytes() == sb.s.tobytes()


# -- float32 ---------------------------------------------------------------------------------------


def test_float32_params_give_float32_state_and_track_float64():
    rng = np.random.default_rng(8)
    a = spd_matrix(10, 10.0, rng)
    b = rng.normal(size=10)
    x_star = np.linalg.solve(a, b)
    opt = optim.get_optimizer("lbfgs")
    x32, s32 = run(opt, quadratic(a, b), np.zeros(10, np.float32), 1500)
    assert x32.dtype == np.float32
    for value in s32:
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32
    assert np.max(np.abs(x32 - x_star)) < 1e-3
    # the first few steps agree with the float64 run to float32 precision
    x64, _ = run(opt, quadratic(a, b), np.zeros(10), 3)
    x32_3, _ = run(opt, quadratic(a, b), np.zeros(10, np.float32), 3)
    np.testing.assert_allclose(x32_3, x64, rtol=1e-4, atol=1e-5)
