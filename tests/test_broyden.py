"""Dense quasi-Newton methods (pinnlite.optim.broyden) against the update formulas and known minimisers.

The update kernel is compared with the Broyden-family formula written out with
outer products (tests/naive.py), the SSBroyden coefficients with their
formulas branch by branch, every accepted update with the secant condition
``H+ y = s``; each variant minimises a convex quadratic and Rosenbrock's
function to their known minimisers; the first trial step of each line search
is the quadratic rule's (Nocedal & Wright 3.60) or 1.
"""

import math

import numpy as np
import pytest
from naive import broyden_inverse_update, quadratic, rosen_start, rosenbrock, spd_matrix, ssbroyden_coefficients
from test_quasi_newton import run  # the same driver: updates until converged

from pinnlite import optim
from pinnlite.errors import InputError
from pinnlite.optim import broyden as bfgs_module
from pinnlite.optim import triangle




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
        new = triangle._update(triangle.packed(H), s, Hy, (1 / tau, (phi - 1) / (tau * yHy), -phi / (tau * sy),
                                                                 phi * yHy / (tau * sy * sy) + 1 / sy))
        assert new.shape == (n * (n + 1) // 2,)
        new = triangle.symmetric(new)
        np.testing.assert_allclose(new, broyden_inverse_update(H, s, y, phi, tau), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(new @ y, s, rtol=1e-10, atol=1e-12)  # the secant condition


def test_the_packed_triangle_holds_the_upper_triangle_row_by_row():
    rng = np.random.default_rng(11)
    n = 6
    M = rng.normal(size=(n, n))
    M = M + M.T
    p = triangle.packed(M)
    assert p.shape == (21,)
    for i in range(n):
        for j in range(i, n):
            assert p[i * n - i * (i - 1) // 2 + j - i] == M[i, j]  # the layout docs/FORMAT.md states
    assert np.array_equal(triangle.symmetric(p), M)
    assert np.array_equal(p[triangle._diagonal(n)], np.diagonal(M))
    assert np.array_equal(triangle.symmetric(triangle._identity(n)), np.eye(n))
    assert [triangle._order(k) for k in (0, 1, 3, 21, 22, 20)] == [0, 1, 2, 6, None, None]
    with pytest.raises(InputError, match="p: expected a packed triangle"):
        triangle.symmetric(np.zeros(20))


@pytest.mark.parametrize("n", [1, 5, 127, 128, 129, 1000, 1352])
def test_the_blocks_cover_every_row_once_with_about_equal_shares(n):
    edges = triangle._edges(n)
    k = -(-n // triangle._ROWS_PER_TASK)
    assert edges[0] == 0 and edges[-1] == n and all(a < b for a, b in zip(edges, edges[1:]))
    assert len(edges) - 1 == k  # as many blocks as rows of the full matrix make
    shares = [sum(n - i for i in range(a, b)) for a, b in zip(edges, edges[1:])]
    ideal = n * (n + 1) / 2 / k
    assert max(shares) <= 1.05 * ideal + n and min(shares) >= 0.95 * ideal - n


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
    x_star = np.linalg.solve(a, b)
    # what a line search on f can resolve: f - f* = (x - x*)'A(x - x*) / 2 is lost below eps |f*|
    # (1.7e-8 here; where in that band a run ends depends on the rounding of its path)
    f_star = quadratic(a, b)(x_star)[0]
    resolution = math.sqrt(np.finfo(float).eps * abs(f_star) / np.linalg.eigvalsh(a).min())
    np.testing.assert_allclose(x, x_star, rtol=0, atol=resolution)
    assert state.updates > 0
    # the carried-over next direction is the product with the updated H
    H = optim.inverse_hessian(state)
    np.testing.assert_allclose(state.Hg, H @ state.grad, rtol=1e-8, atol=1e-14 * np.abs(H).max())
    # every accepted pair was taken into H, which stays symmetric positive definite
    assert np.array_equal(H, H.T) and np.linalg.eigvalsh(H).min() > 0


@pytest.mark.parametrize("variant", ["ssbroyden", "ssbfgs", "bfgs"])
@pytest.mark.parametrize("n", [2, 10])
@pytest.mark.parametrize("initial_step", ["quadratic", "unit"])
def test_minimises_rosenbrock(variant, n, initial_step):
    x, state = run(optim.bfgs(variant, tolerance_grad=1e-10, initial_step=initial_step), rosenbrock, rosen_start(n), 2000)
    assert state.status in (optim.LBFGS_GRAD_TOL, optim.LBFGS_VALUE_CHANGE, optim.LBFGS_STEP_CHANGE)
    f, g = rosenbrock(x)
    assert np.abs(g).max() < 1e-5  # a stationary point, and a minimum: the Hessian there is positive definite
    assert np.linalg.eigvalsh(rosenbrock_hessian(x)).min() > 0
    if n == 2 or f < 1.0:
        np.testing.assert_allclose(x, np.ones(n), atol=1e-6)
    else:  # the chained function's other minimum for 4 <= n <= 30, near (-1, 1, ..., 1), at f = 3.98658
        assert x[0] < -0.99 and np.all(x[1:] > 0.98) and f == pytest.approx(3.986579, abs=1e-5)


def rosenbrock_hessian(x):
    """The Hessian of the chained Rosenbrock function, written out."""
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200.0 * x[i] ** 2 - 400.0 * x[i + 1] + 2.0
        h[i + 1, i + 1] += 200.0
        h[i, i + 1] = h[i + 1, i] = -400.0 * x[i]
    return h


def _first_trials(opt, fun, x, updates):
    """The first trial step of each update's line search (from the first point each one evaluates)."""
    trials, state = [], opt.init(x)
    f, g = fun(x)
    for _ in range(updates):
        seen = []

        def probe(p):
            seen.append(p.copy())
            return fun(p)

        d = -(state.Hg if np.all(np.isfinite(state.Hg)) else g)
        x_new, new = opt.update(g, state, x, value=f, fun=probe)
        k = int(np.argmax(np.abs(d)))
        trials.append(((seen[0] - x)[k] / d[k], state, f, g, d))
        x, state, f, g = x_new, new, new.value, new.grad
    return trials


def test_the_first_trial_repeats_the_last_decrease_and_is_one_at_most():
    rng = np.random.default_rng(4)
    a, b = spd_matrix(8, 1e3, rng), rng.normal(size=8)
    fun = quadratic(a, b)
    trials = _first_trials(optim.bfgs("ssbroyden"), fun, np.zeros(8), 12)  # the default: quadratic
    shortened = 0
    for (_, _, f_before, _, _), (t, state, f, g, d) in zip(trials, trials[1:]):
        assert state.decrease == f_before - f  # the last step's decrease, carried in the state
        want = min(1.0, 1.01 * 2 * state.decrease / -(g @ d))  # Nocedal & Wright (3.60)
        assert t == pytest.approx(want, rel=1e-9)
        shortened += want < 1.0
    assert shortened >= 2  # the rule did shorten some first trials on this problem
    for t, *_ in _first_trials(optim.bfgs("ssbroyden", initial_step="unit"), fun, np.zeros(8), 12)[1:]:
        assert t == pytest.approx(1.0, rel=1e-12)


def test_a_shortened_first_trial_ends_where_the_slope_has_halved():
    rng = np.random.default_rng(4)
    a, b = spd_matrix(8, 1e3, rng), rng.normal(size=8)
    fun = quadratic(a, b)
    trials = _first_trials(optim.bfgs("ssbroyden", initial_step="quadratic"), fun, np.zeros(8), 12)
    checked = 0
    for (t, _, _, g, d), (_, after, _, g_after, _) in zip(trials[1:], trials[2:]):
        if t < 1.0 - 1e-9 and after.wolfe:  # t is read off the first trial point: 1 to rounding is 1
            assert abs(g_after @ d) <= 0.5 * abs(g @ d) * (1 + 1e-9)  # c2 = 0.5, not 0.9
            checked += 1
    assert checked >= 2


def test_a_decrease_at_the_rounding_level_or_unknown_leaves_the_unit_trial():
    a = np.diag([1.0, 3.0, 9.0])
    fun = quadratic(a, np.ones(3))
    opt = optim.bfgs("ssbroyden", initial_step="quadratic")
    x = np.array([0.3, -0.2, 0.1])
    f, g = fun(x)
    _, state = opt.update(g, opt.init(x), x, value=f, fun=fun)  # one update: H is no longer I
    assert state.updates == 1
    x0 = np.linalg.solve(a, np.ones(3)) + np.array([1e-3, -2e-3, 1e-3])
    f0, g0 = fun(x0)
    d = -(optim.inverse_hessian(state) @ g0)
    k = int(np.argmax(np.abs(d)))
    for decrease, want in ((math.nan, 1.0), (1e-13 * abs(f0), 1.0), (0.0, 1.0), (-1.0, 1.0),
                           (1e-3 * -(g0 @ d), 2.02e-3)):  # the last one: the rule's own trial
        seen = []
        st = state._replace(decrease=decrease, Hg=np.full(3, np.nan), grad=g0, value=f0)
        opt.update(g0, st, x0, value=f0, fun=lambda p: (seen.append(p.copy()), fun(p))[1])
        assert (seen[0] - x0)[k] / d[k] == pytest.approx(want, rel=1e-9), decrease


def test_a_state_saved_before_the_decrease_existed_loads_with_the_unit_trial():
    opt = optim.bfgs()
    x = np.array([1.0, -1.0])
    state = opt.init(x)._replace(decrease=0.5)
    fields = optim.state_to_dict(state)
    assert fields["decrease"] == 0.5
    del fields["decrease"]
    old = optim.state_from_dict("bfgs", fields)
    assert math.isnan(old.decrease) and np.array_equal(old.H, state.H)
    with pytest.raises(InputError, match="expected exactly the keys"):
        optim.state_from_dict("bfgs", dict(fields, extra=1.0))
    del fields["H"]
    with pytest.raises(InputError, match="expected exactly the keys"):
        optim.state_from_dict("bfgs", fields)


@pytest.mark.parametrize("variant", ["ssbroyden", "bfgs"])
def test_carried_direction_is_h_times_g_after_every_update(variant):
    opt = optim.bfgs(variant)
    x = rosen_start(6)
    state = opt.init(x)
    f, g = rosenbrock(x)
    largest = 0.0
    for _ in range(15):
        x, state = opt.update(g, state, x, value=f, fun=rosenbrock)
        f, g = state.value, state.grad
        # H g' = H g + H y is carried forward: its rounding stays a few eps of the largest direction so far
        H = optim.inverse_hessian(state)
        largest = max(largest, np.abs(H @ g).max())
        np.testing.assert_allclose(state.Hg, H @ g, rtol=1e-9, atol=1e-14 * largest)


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
    np.testing.assert_allclose(optim.inverse_hessian(st), expected, rtol=1e-12)


def test_the_product_is_h_times_v_for_a_symmetric_h():
    rng = np.random.default_rng(5)
    H = spd_matrix(9, 50.0, rng)
    H = (H + H.T) / 2
    v = rng.normal(size=9)
    Hv = triangle._matvec(triangle.packed(H), v)
    np.testing.assert_allclose(Hv, H @ v, rtol=1e-13, atol=1e-13 * np.abs(H @ v).max())
    n = 2 * triangle._ROWS_PER_TASK + 9  # several blocks, shared among threads: the same bits
    H = spd_matrix(n, 50.0, rng)
    H = (H + H.T) / 2
    v = rng.normal(size=n)
    Hv = triangle._matvec(triangle.packed(H), v)
    np.testing.assert_allclose(Hv, H @ v, rtol=1e-12, atol=1e-13 * np.abs(H @ v).max())
    assert np.array_equal(triangle._matvec(triangle.packed(H), v, _shuffled_threads(4)), Hv)


def test_an_update_that_would_overflow_is_refused_from_its_bound():
    rng = np.random.default_rng(6)
    H = spd_matrix(6, 10.0, rng)
    H = (H + H.T) / 2
    s, a = rng.normal(size=6), rng.normal(size=6)
    H = triangle.packed(H)
    for c in ((0.7, -0.2, 0.3, 1.1), (1.0, 0.0, 0.0, 0.0), (2.0, 1e5, -1e5, 1e10)):
        new = triangle._update(H, s, a, c)
        bound = abs(c[0]) * np.abs(H).max() + abs(c[1]) * np.abs(a).max() ** 2 \
            + 2 * abs(c[2]) * np.abs(s).max() * np.abs(a).max() + abs(c[3]) * np.abs(s).max() ** 2
        assert np.abs(new).max() <= bound * (1 + 1e-12)  # the bound holds for a positive definite H
        assert bfgs_module._bounded(H, s, a, c)
    huge = (1.0, 0.0, 0.0, 1e307)
    with np.errstate(over="ignore", invalid="ignore"):  # without the JIT the kernel is NumPy scalars, which warn
        assert not np.all(np.isfinite(triangle._update(H, s * 100, a, huge)))
    assert not bfgs_module._bounded(H, s * 100, a, huge)
    assert not bfgs_module._bounded(H, s, a, (math.nan, 0.0, 0.0, 0.0))


def _shuffled_threads(seed):
    """A task runner that calls the tasks in a random order on four threads (what the engine's pool may do)."""
    from concurrent.futures import ThreadPoolExecutor

    order_rng = np.random.default_rng(seed)

    def tasks(fn, n_tasks):
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(fn, order_rng.permutation(n_tasks)))
        tasks.calls.append(n_tasks)

    tasks.calls = []
    return tasks


def test_an_update_split_into_tasks_is_the_serial_update_bit_for_bit():
    rng = np.random.default_rng(8)
    n = 3 * triangle._ROWS_PER_TASK + 17  # several tasks, the last one short
    H = spd_matrix(n, 20.0, rng)
    H = (H + H.T) / 2
    s, a = rng.normal(size=n), rng.normal(size=n)
    c = (0.8, -0.3, 0.05, 1.7)
    tasks = _shuffled_threads(0)
    new = triangle._update(triangle.packed(H), s, a, c, tasks)
    assert tasks.calls == [4]
    assert np.array_equal(new, triangle._update(triangle.packed(H), s, a, c))
    new = triangle.symmetric(new)
    expected = c[0] * H + c[1] * np.outer(a, a) + c[2] * (np.outer(s, a) + np.outer(a, s)) + c[3] * np.outer(s, s)
    np.testing.assert_allclose(new, expected, rtol=1e-13, atol=1e-13 * np.abs(expected).max())


def test_the_one_pass_apply_gives_the_update_and_its_product_whatever_the_threads():
    rng = np.random.default_rng(10)
    n = 3 * triangle._ROWS_PER_TASK + 17
    H = spd_matrix(n, 20.0, rng)
    H = (H + H.T) / 2
    s, a, y = rng.normal(size=n), rng.normal(size=n), rng.normal(size=n)
    c = (0.8, -0.3, 0.05, 1.7)
    new, product = triangle._apply(triangle.packed(H), s, a, c, y)
    formula = c[0] * H + c[1] * np.outer(a, a) + c[2] * (np.outer(s, a) + np.outer(a, s)) + c[3] * np.outer(s, s)
    full = triangle.symmetric(new)
    np.testing.assert_allclose(full, formula, rtol=1e-13, atol=1e-13 * np.abs(formula).max())
    expected = full @ y  # both triangles' shares: the product of the whole symmetric matrix
    np.testing.assert_allclose(product, expected, rtol=1e-12, atol=1e-13 * np.abs(expected).max())
    tasks = _shuffled_threads(2)
    new2, product2 = triangle._apply(triangle.packed(H), s, a, c, y, tasks)
    assert tasks.calls == [4]
    assert np.array_equal(new2, new) and np.array_equal(product2, product)


@pytest.mark.parametrize("tasks", [None, "shuffled"])
def test_the_pending_updates_are_the_bfgs_formula_applied_in_turn(tasks):
    # the classical BFGS inverse update (phi = 1, tau = 1) applied to the recorded pairs, written out with
    # outer products, is the approximation the state holds after every iteration
    opt = optim.bfgs("bfgs", tasks=_shuffled_threads(3) if tasks else None)
    x = rosen_start(2 * triangle._ROWS_PER_TASK + 3)
    f, g = rosenbrock(x)
    state = opt.init(x)
    H = np.eye(x.shape[0])
    for k in range(12):
        x_new, state = opt.update(g, state, x, value=f, fun=rosenbrock)
        s, y = x_new - x, state.grad - g
        assert state.updates == k + 1 and state.pending.shape == (2 * x.shape[0] + 4,)
        H = broyden_inverse_update(H, s, y, 1.0, 1.0)
        np.testing.assert_allclose(optim.inverse_hessian(state), H, rtol=1e-9, atol=1e-12 * np.abs(H).max())
        x, f, g = x_new, state.value, state.grad


def _rosenbrock_after(opt, n, updates):
    """``(x, state, f, g)`` after ``updates`` updates of ``opt`` on the n-dimensional Rosenbrock function."""
    x = rosen_start(n)
    f, g = rosenbrock(x)
    state = opt.init(x)
    for _ in range(updates):
        x, state = opt.update(g, state, x, value=f, fun=rosenbrock)
        f, g = state.value, state.grad
    return x, state, f, g


def test_a_state_without_a_pending_update_continues_as_the_one_with_it_applied():
    # a state saved before pending existed holds the whole approximation in H: applying a state's pending
    # update into H and dropping it continues the same run, to rounding
    opt = optim.bfgs()
    x, state, f, g = _rosenbrock_after(opt, 8, 5)
    fields = optim.state_to_dict(state)
    assert fields["pending"].shape == (20,)
    fields["H"] = optim.inverse_hessian(state)
    del fields["pending"]
    old = optim.state_from_dict("bfgs", fields)
    assert old.pending.shape == (0,) and old.H.shape == (8, 8)  # the full matrix, as states once held it
    assert np.array_equal(optim.inverse_hessian(old), old.H)
    x1, s1 = opt.update(g, state, x, value=f, fun=rosenbrock)
    x2, s2 = opt.update(g, old, x, value=f, fun=rosenbrock)
    np.testing.assert_allclose(x2, x1, rtol=1e-12, atol=0)
    np.testing.assert_allclose(optim.inverse_hessian(s2), optim.inverse_hessian(s1), rtol=1e-9, atol=1e-12)


def test_a_state_saved_with_the_full_matrix_continues_bit_for_bit():
    # states held the whole (n, n) matrix before they held its upper triangle: the next update packs it
    opt = optim.bfgs()
    x, state, f, g = _rosenbrock_after(opt, 8, 5)
    assert state.H.shape == (36,) and state.pending.shape == (20,)
    old = state._replace(H=triangle.symmetric(state.H))
    assert np.array_equal(optim.inverse_hessian(old), optim.inverse_hessian(state))
    for _ in range(3):
        x1, state = opt.update(g, state, x, value=f, fun=rosenbrock)
        x2, old = opt.update(g, old, x, value=f, fun=rosenbrock)
        assert np.array_equal(x1, x2) and np.array_equal(old.H, state.H) and old.H.shape == (36,)
        x, f, g = x1, state.value, state.grad


def test_a_pending_update_of_the_wrong_size_names_the_state():
    opt = optim.bfgs()
    x = np.zeros(3)
    bad = opt.init(x)._replace(pending=np.zeros(7))
    with pytest.raises(InputError, match=r"pending of shape \(0,\) or \(10,\)"):
        opt.update(np.ones(3), bad, x, value=1.0, fun=lambda p: (0.0, p))


def test_a_run_with_threaded_updates_is_the_serial_run_bit_for_bit():
    rng = np.random.default_rng(9)
    n = 2 * triangle._ROWS_PER_TASK + 5
    a = spd_matrix(n, 1e3, rng)
    b = rng.normal(size=n)
    tasks = _shuffled_threads(1)
    x1, s1 = run(optim.bfgs(), quadratic(a, b), np.zeros(n), 40)
    x2, s2 = run(optim.bfgs(tasks=tasks), quadratic(a, b), np.zeros(n), 40)
    assert len(tasks.calls) >= 30  # one split update per iteration
    assert np.array_equal(x1, x2) and np.array_equal(s1.H, s2.H) and np.array_equal(s1.pending, s2.pending)
    assert s1._replace(grad=0, H=0, Hg=0, pending=0) == s2._replace(grad=0, H=0, Hg=0, pending=0)
    assert optim.bfgs(tasks=tasks).hyperparams.keys() == optim.bfgs().hyperparams.keys()  # not a hyperparameter


def test_bad_arguments_name_the_argument():
    with pytest.raises(InputError, match="variant"):
        optim.bfgs("dfp")
    with pytest.raises(InputError, match="c2"):
        optim.bfgs(c1=0.5, c2=0.4)
    with pytest.raises(InputError, match="tasks: expected None or a callable"):
        optim.bfgs(tasks=2)
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
