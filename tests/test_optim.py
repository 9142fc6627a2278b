"""Tests of pinnlite.optim against update rules written out by hand, closed-form
minimisers, and a naive L-BFGS reference implementation written in this file."""

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pinnlite import optim
from pinnlite.optim import quasi_newton as lbfgs_module
from pinnlite.errors import InputError
from pinnlite.optim.schedules import exponential, step_decay

# -- objectives ------------------------------------------------------------------------


def spd_matrix(n, cond, rng):
    """A random symmetric positive-definite matrix with eigenvalues in [1, cond]."""
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    eig = np.geomspace(1.0, cond, n)
    return (q * eig) @ q.T


def quadratic(a, b):
    """f(x) = 0.5 x'Ax - b'x, grad Ax - b, minimiser A^{-1} b."""

    def fun(x):
        x64 = x.astype(np.float64)
        ax = a @ x64
        return float(0.5 * x64 @ ax - b @ x64), (ax - b).astype(x.dtype)

    return fun


def rosenbrock(x):
    """Chained Rosenbrock sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2; minimum at ones."""
    u = x[1:] - x[:-1] ** 2
    f = float(np.sum(100.0 * u**2 + (1.0 - x[:-1]) ** 2))
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * u - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * u
    return f, g


def rosen_start(n):
    return np.array([-1.2, 1.0] * (n // 2))


def readonly(a):
    a = np.array(a)
    a.setflags(write=False)
    return a


# -- SGD ---------------------------------------------------------------------------------


@pytest.mark.parametrize("momentum, nesterov", [(0.0, False), (0.9, False), (0.8, True)])
def test_sgd_first_steps_match_hand_formula(momentum, nesterov):
    rng = np.random.default_rng(1)
    p0 = rng.normal(size=6)
    grads = [rng.normal(size=6) for _ in range(3)]
    scale = np.array([1.0, 1.0, 0.5, 2.0, 0.0, 1.0])
    opt = optim.sgd(0.1, momentum=momentum, nesterov=nesterov, lr_scale=scale)
    state = opt.init(p0)
    p = p0
    # by hand: b_t = mu b_{t-1} + g_t; step = b_t or g_t + mu b_t (Nesterov)
    p_ref, buf = p0.copy(), np.zeros(6)
    for k, g in enumerate(grads):
        factor = 1.0 / (k + 1)
        p, state = opt.update(g, state, p, lr_factor=factor)
        buf = momentum * buf + g
        direction = g + momentum * buf if nesterov else buf
        p_ref = p_ref - 0.1 * factor * scale * direction
        np.testing.assert_allclose(p, p_ref, rtol=1e-14, atol=1e-15)
        np.testing.assert_allclose(state.trace, buf, rtol=1e-14, atol=1e-15)
    assert state.count == 3
    assert p[4] == p0[4]  # lr_scale 0 freezes the element


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    lr=st.floats(0.0, 10.0),
    n=st.integers(1, 40),
)
def test_sgd_plain_step_is_p_minus_lr_g(seed, lr, n):
    rng = np.random.default_rng(seed)
    p, g = rng.normal(size=n), rng.normal(size=n)
    opt = optim.sgd(lr)
    new_p, _ = opt.update(g, opt.init(p), p)
    np.testing.assert_allclose(new_p, p - lr * g, rtol=1e-15, atol=1e-300)


def test_schedule_is_evaluated_at_the_update_count():
    # step_decay(1, 2, 0.5): steps 0,1 -> 1; 2,3 -> 0.5; 4 -> 0.25
    opt = optim.sgd(step_decay(1.0, 2, 0.5))
    p = np.zeros(1)
    state = opt.init(p)
    g = np.ones(1)
    moves = []
    for _ in range(5):
        new_p, state = opt.update(g, state, p)
        moves.append(float(p[0] - new_p[0]))
        p = new_p
    assert moves == [1.0, 1.0, 0.5, 0.5, 0.25]


# -- Adam / AdamW --------------------------------------------------------------------------


def adam_by_hand(p0, grads, lrs, b1, b2, eps, scale, wd=0.0, mask=None):
    """Kingma & Ba Alg. 1 with decoupled decay (Loshchilov & Hutter Alg. 2), plain NumPy."""
    mask = np.zeros(len(p0), bool) if mask is None else mask
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    out = []
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat = m / (1 - b1**t)
        vhat = v / (1 - b2**t)
        eta = lr * scale
        p = p - eta * mhat / (np.sqrt(vhat) + eps) - np.where(mask, eta * wd * p, 0.0)
        out.append((p.copy(), m.copy(), v.copy()))
    return out


def test_adam_first_steps_match_hand_formula():
    rng = np.random.default_rng(2)
    p0 = rng.normal(size=7)
    grads = [rng.normal(size=7) * 10.0 ** rng.integers(-3, 3, size=7) for _ in range(3)]
    scale = np.array([1.0, 0.1, 1.0, 3.0, 1.0, 1.0, 0.5])
    factors = [1.0, 0.5, 0.25]
    opt = optim.adam(1e-2, b1=0.8, b2=0.95, eps=1e-6, lr_scale=scale)
    state = opt.init(p0)
    p = p0
    expected = adam_by_hand(p0, grads, [1e-2 * f for f in factors], 0.8, 0.95, 1e-6, scale)
    for g, f, (p_ref, m_ref, v_ref) in zip(grads, factors, expected):
        p, state = opt.update(g, state, p, lr_factor=f)
        np.testing.assert_allclose(p, p_ref, rtol=1e-14)
        np.testing.assert_allclose(state.mu, m_ref, rtol=1e-14)
        np.testing.assert_allclose(state.nu, v_ref, rtol=1e-14)
    assert state.count == 3


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lr=st.floats(1e-4, 1.0), n=st.integers(1, 30))
def test_adam_first_step_is_a_normalised_gradient_step(seed, lr, n):
    # t = 1: mhat = g and vhat = g^2, so p1 = p0 - lr * g / (|g| + eps)
    rng = np.random.default_rng(seed)
    p, g = rng.normal(size=n), rng.normal(size=n) * 10.0 ** rng.uniform(-4, 4, size=n)
    opt = optim.adam(lr, eps=1e-8)
    new_p, state = opt.update(g, opt.init(p), p)
    np.testing.assert_allclose(new_p, p - lr * g / (np.abs(g) + 1e-8), rtol=1e-12)
    assert np.all(np.abs(new_p - p) <= lr * (1 + 1e-12))


def test_adamw_decays_only_where_masked_and_decoupled():
    rng = np.random.default_rng(3)
    n = 8
    p0 = rng.normal(size=n) * 3.0
    grads = [rng.normal(size=n) for _ in range(3)]
    mask = np.array([True, False, True, True, False, False, True, False])
    scale = np.linspace(0.5, 1.5, n)
    opt = optim.adamw(0.05, b1=0.9, b2=0.99, eps=1e-8, weight_decay=0.1, decay_mask=mask,
                      lr_scale=scale)
    ref = optim.adam(0.05, b1=0.9, b2=0.99, eps=1e-8, lr_scale=scale)
    expected = adam_by_hand(p0, grads, [0.05] * 3, 0.9, 0.99, 1e-8, scale, wd=0.1, mask=mask)
    p, state = p0, opt.init(p0)
    q, rstate = p0, ref.init(p0)
    for g, (p_ref, m_ref, v_ref) in zip(grads, expected):
        # one step of each from the SAME point: the difference is exactly the decay term
        p_w, s_w = opt.update(g, state, p)
        p_a, _ = ref.update(g, state, p)
        np.testing.assert_allclose(p_a - p_w, np.where(mask, 0.05 * scale * 0.1 * p, 0.0),
                                   rtol=1e-9, atol=1e-15)
        np.testing.assert_array_equal(p_w[~mask], p_a[~mask])
        p, state = p_w, s_w
        q, rstate = ref.update(g, rstate, q)
        np.testing.assert_allclose(p, p_ref, rtol=1e-14)
        # decoupled: the decay never enters the moments
        np.testing.assert_array_equal(state.mu, rstate.mu)
        np.testing.assert_array_equal(state.nu, rstate.nu)
        np.testing.assert_allclose(state.mu, m_ref, rtol=1e-14)
    assert not np.allclose(p[mask], q[mask])


def test_adamw_without_mask_decays_everything():
    p0 = np.array([2.0, -4.0])
    g = np.zeros(2)
    opt = optim.adamw(0.1, weight_decay=0.5)
    p1, _ = opt.update(g, opt.init(p0), p0)
    # zero gradient: the Adam term is 0 and p1 = p0 - lr * wd * p0 = 0.95 p0
    np.testing.assert_allclose(p1, 0.95 * p0, rtol=1e-15)


# -- validation and purity -------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, argname",
    [
        (lambda: optim.sgd(-0.1), "learning_rate"),
        (lambda: optim.sgd(float("inf")), "learning_rate"),
        (lambda: optim.sgd(0.1, momentum=1.0), "momentum"),
        (lambda: optim.sgd(0.1, momentum=-0.1), "momentum"),
        (lambda: optim.sgd(0.1, nesterov=True), "nesterov"),
        (lambda: optim.sgd(0.1, lr_scale=[1.0, np.nan]), "lr_scale"),
        (lambda: optim.sgd(0.1, lr_scale=[1.0, -1.0]), "lr_scale"),
        (lambda: optim.sgd(0.1, lr_scale=np.ones((2, 2))), "lr_scale"),
        (lambda: optim.adam(0.1, b1=1.0), "b1"),
        (lambda: optim.adam(0.1, b2=-0.5), "b2"),
        (lambda: optim.adam(0.1, eps=0.0), "eps"),
        (lambda: optim.adamw(0.1, weight_decay=-1e-3), "weight_decay"),
        (lambda: optim.adamw(0.1, decay_mask=np.ones(3)), "decay_mask"),
        (lambda: optim.lbfgs(history=0), "history"),
        (lambda: optim.lbfgs(learning_rate=0.0), "learning_rate"),
        (lambda: optim.lbfgs(max_linesearch=0), "max_linesearch"),
        (lambda: optim.lbfgs(c1=0.0), "c1"),
        (lambda: optim.lbfgs(c1=0.5, c2=0.4), "c2"),
        (lambda: optim.lbfgs(c2=1.0), "c2"),
        (lambda: optim.lbfgs(tolerance_grad=-1.0), "tolerance_grad"),
        (lambda: optim.lbfgs(tolerance_change=float("nan")), "tolerance_change"),
        (lambda: optim.get_optimizer("rmsprop", learning_rate=0.1), "name"),
        (lambda: optim.get_optimizer("adam", lr=0.1), "lr"),
        (lambda: optim.get_optimizer("adam"), "learning_rate"),
    ],
)
def test_bad_hyperparameters_name_the_argument(make, argname):
    with pytest.raises(InputError, match=argname):
        make()


def test_update_rejects_mismatched_arrays_without_casting():
    p = np.zeros(4)
    opt = optim.adam(0.1)
    state = opt.init(p)
    with pytest.raises(InputError, match="grads"):
        opt.update(np.zeros(4, np.float32), state, p)
    with pytest.raises(InputError, match="grads"):
        opt.update(np.zeros(5), state, p)
    with pytest.raises(InputError, match="params"):
        opt.update(np.zeros(4), state, np.zeros(4, np.float32))
    with pytest.raises(InputError, match="state"):
        opt.update(np.zeros(4), optim.sgd(0.1).init(p), p)
    with pytest.raises(InputError, match="lr_factor"):
        opt.update(np.zeros(4), state, p, lr_factor=-1.0)
    with pytest.raises(InputError, match="params"):
        opt.init(np.zeros(4, np.int64))
    with pytest.raises(InputError, match="params"):
        opt.init(np.zeros((2, 2)))
    with pytest.raises(InputError, match="lr_scale"):
        optim.sgd(0.1, lr_scale=np.ones(3)).init(p)
    with pytest.raises(InputError, match="decay_mask"):
        optim.adamw(0.1, decay_mask=np.ones(3, bool)).init(p)
    with pytest.raises(InputError, match="learning_rate"):
        optim.sgd(lambda step: -1.0).update(np.zeros(4), optim.sgd(0.1).init(p), p)
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


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "lbfgs"])
def test_update_is_pure(name):
    rng = np.random.default_rng(4)
    fun = quadratic(spd_matrix(5, 10.0, rng), rng.normal(size=5))
    kwargs = {"learning_rate": 0.1} if name != "lbfgs" else {}
    if name == "sgd":
        kwargs["momentum"] = 0.5
    opt = optim.get_optimizer(name, **kwargs)
    p = readonly(rng.normal(size=5))
    f, g = fun(p)
    g = readonly(g)
    extra = {"value": f, "fun": fun} if name == "lbfgs" else {}
    state = opt.init(p)
    p1, state = opt.update(g, state, p, **extra)  # non-trivial state
    p1, g1 = readonly(p1), readonly(fun(p1)[1])
    state = state._replace(**{k: readonly(v) for k, v in state._asdict().items()
                              if isinstance(v, np.ndarray)})
    saved = optim.state_to_dict(state)
    extra = {"value": fun(p1)[0], "fun": fun} if name == "lbfgs" else {}
    p2, state2 = opt.update(g1, state, p1, **extra)
    assert p2 is not p1 and not np.shares_memory(p2, p1)
    for key, value in saved.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(state, key), value)
            assert not np.shares_memory(getattr(state2, key), getattr(state, key))
    assert not np.array_equal(p2, p1)


# -- convergence ------------------------------------------------------------------------------


def run(opt, fun, x0, steps, lbfgs=False):
    x = x0.copy()
    state = opt.init(x)
    f, g = fun(x)
    for _ in range(steps):
        if lbfgs:
            x, state = opt.update(g, state, x, value=f, fun=fun)
            f, g = state.value, state.grad
            if state.converged:
                break
        else:
            x, state = opt.update(g, state, x)
            f, g = fun(x)
    return x, state


QUAD_CASES = [
    ("sgd", dict(learning_rate=1.0 / 20.0), 3000, 1e-8),
    ("sgd", dict(learning_rate=1.0 / 20.0, momentum=0.8), 600, 1e-8),
    ("sgd", dict(learning_rate=1.0 / 20.0, momentum=0.8, nesterov=True), 600, 1e-8),
    ("adam", dict(learning_rate=exponential(0.05, 0.1, 1000)), 4000, 1e-5),
    ("adamw", dict(learning_rate=exponential(0.05, 0.1, 1000), decay_mask=np.zeros(12, bool)),
     4000, 1e-5),
    # near x* the decrease in f drops below rounding and the line search stops
    # (status 4) with |x - x*| ~ 1e-9, so 1e-8 is what f-based line searches can promise
    ("lbfgs", dict(tolerance_grad=1e-10, tolerance_change=0.0), 100, 1e-8),
]


@pytest.mark.parametrize("name, kwargs, steps, tol", QUAD_CASES)
def test_every_optimizer_minimises_a_convex_quadratic(name, kwargs, steps, tol):
    rng = np.random.default_rng(5)
    a = spd_matrix(12, 20.0, rng)
    b = rng.normal(size=12)
    x_star = np.linalg.solve(a, b)
    x, _ = run(optim.get_optimizer(name, **kwargs), quadratic(a, b), np.zeros(12), steps,
               lbfgs=name == "lbfgs")
    assert np.max(np.abs(x - x_star)) < tol


@pytest.mark.parametrize("n", [2, 10])
def test_lbfgs_solves_rosenbrock(n):
    x, state = run(optim.lbfgs(), rosenbrock, rosen_start(n), 300, lbfgs=True)
    assert state.converged == 1
    assert state.count < 300
    assert np.max(np.abs(x - 1.0)) < 1e-6
    assert state.value == pytest.approx(rosenbrock(x)[0], abs=0.0)


def test_adam_gets_close_on_rosenbrock():
    # first-order steps crawl along the curved valley: a looser tolerance than L-BFGS
    x, _ = run(optim.adam(exponential(0.02, 0.1, 4000)), rosenbrock, rosen_start(2), 8000)
    assert np.max(np.abs(x - 1.0)) < 5e-3
    assert rosenbrock(x)[0] < 1e-5


# -- L-BFGS against a naive reference ----------------------------------------------------------


def ref_line_search(fun, x, f0, g0, d, t, c1, c2, max_evals, tol_change):
    """Nocedal & Wright Alg. 3.5 / 3.6 written out plainly, same trial-step rules."""
    dg0 = float(np.dot(g0, d))
    dmax = float(np.max(np.abs(d)))
    evals = [0]
    tried = []

    def phi(t):
        evals[0] += 1
        xt = x + t * d
        f, g = fun(xt)
        tried.append((f, t, xt, g))
        return f, float(np.dot(g, d)), xt, g

    def cubic(a, fa, da, b, fb, db):
        e1 = da + db - 3 * (fa - fb) / (a - b)
        disc = e1 * e1 - da * db
        if disc < 0:
            return math.nan
        e2 = math.copysign(math.sqrt(disc), b - a)
        return b - (b - a) * (db + e2 - e1) / (db - da + 2 * e2)

    def zoom(lo, hi):
        while evals[0] < max_evals and abs(hi[0] - lo[0]) * dmax >= tol_change:
            a, b = sorted([lo[0], hi[0]])
            tj = cubic(lo[0], lo[1], lo[2], hi[0], hi[1], hi[2])
            if not (a + 0.1 * (b - a) <= tj <= b - 0.1 * (b - a)):
                tj = (lo[0] + hi[0]) / 2
            f, dg, xt, g = phi(tj)
            cur = (tj, f, dg, xt, g)
            if f > f0 + c1 * tj * dg0 or f >= lo[1]:
                hi = cur
            else:
                if abs(dg) <= -c2 * dg0:
                    return cur
                if dg * (hi[0] - lo[0]) >= 0:
                    hi = lo
                lo = cur
        return None

    prev = (0.0, f0, dg0, x, g0)
    first = True
    while evals[0] < max_evals:
        f, dg, xt, g = phi(t)
        cur = (t, f, dg, xt, g)
        if f > f0 + c1 * t * dg0 or (not first and f >= prev[1]):
            res = zoom(prev, cur)
            break
        if abs(dg) <= -c2 * dg0:
            res = cur
            break
        if dg >= 0:
            res = zoom(cur, prev)
            break
        tn = cubic(prev[0], prev[1], prev[2], t, f, dg)
        lo_b, hi_b = t + 0.01 * (t - prev[0]), 10 * t
        t = hi_b if math.isnan(tn) else min(max(tn, lo_b), hi_b)
        prev, first = cur, False
    else:
        res = None
    assert res is not None, "reference line search needed its fallback"
    return res[0], res[3], res[1], res[4]


def ref_lbfgs(fun, x0, iters, m=10, lr=1.0, max_ls=25, c1=1e-4, c2=0.9, tol_change=1e-12):
    """Naive L-BFGS (Nocedal & Wright Alg. 7.4/7.5) keeping plain lists of the last m pairs."""
    x = x0.copy()
    f, g = fun(x)
    pairs = []
    iterates = []
    for _ in range(iters):
        q = g.copy()
        alphas = []
        for s, y in reversed(pairs):
            a = np.dot(s, q) / np.dot(y, s)
            alphas.append(a)
            q = q - a * y
        if pairs:
            s, y = pairs[-1]
            q = q * (np.dot(s, y) / np.dot(y, y))
        for (s, y), a in zip(pairs, reversed(alphas)):
            beta = np.dot(y, q) / np.dot(y, s)
            q = q + s * (a - beta)
        d = -q
        assert np.dot(g, d) < 0
        t0 = lr * (1.0 if pairs else min(1.0, 1.0 / np.sum(np.abs(g))))
        t, x_new, f_new, g_new = ref_line_search(fun, x, f, g, d, t0, c1, c2, max_ls, tol_change)
        s, y = x_new - x, g_new - g
        if np.dot(s, y) > np.finfo(float).eps * np.linalg.norm(s) * np.linalg.norm(y):
            pairs.append((s, y))
            pairs = pairs[-m:]
        x, f, g = x_new, f_new, g_new
        iterates.append((x.copy(), f, t, [p for p in pairs]))
    return iterates


def lbfgs_iterates(opt, fun, x0, iters):
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


@settings(max_examples=40, deadline=None)
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
    assume(abs(a - b) >= 1e-2)

    def phi(t):
        return scale * (t**3 / 3 - (big + small) * t**2 / 2 + big * small * t)

    def dphi(t):
        return scale * (t - big) * (t - small)

    t1 = lbfgs_module._cubic_min(a, phi(a), dphi(a), b, phi(b), dphi(b))
    t2 = lbfgs_module._cubic_min(b, phi(b), dphi(b), a, phi(a), dphi(a))
    assert t1 == pytest.approx(big, rel=1e-6, abs=1e-6)
    assert t2 == pytest.approx(big, rel=1e-6, abs=1e-6)


def test_lbfgs_is_deterministic():
    runs = [lbfgs_iterates(optim.lbfgs(history=4), rosenbrock, rosen_start(10), 15)
            for _ in range(2)]
    for (xa, sa), (xb, sb) in zip(*runs):
        assert xa.tobytes() == xb.tobytes() and sa.s.tobytes() == sb.s.tobytes()


# -- saving ---------------------------------------------------------------------------------------


def states_equal(a, b):
    assert type(a) is type(b)
    for x, y in zip(a, b):
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes()
        else:
            assert type(x) is type(y) and (x == y or (x != x and y != y))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "lbfgs"])
def test_state_round_trip_then_continue_is_bit_identical(name, dtype):
    kwargs = {"lbfgs": dict(history=3)}.get(name, dict(learning_rate=1e-3))
    if name == "sgd":
        kwargs["momentum"] = 0.9
    is_lbfgs = name == "lbfgs"
    opt = optim.get_optimizer(name, **kwargs)

    def steps(x, state, k):
        f, g = rosenbrock(x)
        for _ in range(k):
            if is_lbfgs:
                x, state = opt.update(g, state, x, value=f, fun=rosenbrock)
                f, g = state.value, state.grad
            else:
                x, state = opt.update(g, state, x)
                f, g = rosenbrock(x)
        return x, state

    x0 = rosen_start(6).astype(dtype)
    x_straight, s_straight = steps(x0, opt.init(x0), 10)
    x_half, s_half = steps(x0, opt.init(x0), 5)
    saved = optim.state_to_dict(s_half)
    assert all(isinstance(v, (np.ndarray, int, float)) for v in saved.values())
    restored = optim.state_from_dict(name, saved)
    states_equal(restored, s_half)
    states_equal(opt.state_type(**saved), s_half)
    x_resumed, s_resumed = steps(x_half.copy(), restored, 5)
    assert x_resumed.tobytes() == x_straight.tobytes()
    states_equal(s_resumed, s_straight)


def test_state_from_dict_rejects_bad_fields():
    saved = optim.state_to_dict(optim.adam(0.1).init(np.zeros(3)))
    with pytest.raises(InputError, match="fields"):
        optim.state_from_dict("adam", {k: v for k, v in saved.items() if k != "nu"})
    with pytest.raises(InputError, match="mu"):
        optim.state_from_dict("adam", {**saved, "mu": [0.0, 0.0, 0.0]})
    with pytest.raises(InputError, match="count"):
        optim.state_from_dict("adam", {**saved, "count": 1.5})
    with pytest.raises(InputError, match="name"):
        optim.state_from_dict("nadam", saved)


# -- float32 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "lbfgs"])
def test_float32_params_give_float32_state_and_track_float64(name):
    rng = np.random.default_rng(8)
    a = spd_matrix(10, 10.0, rng)
    b = rng.normal(size=10)
    x_star = np.linalg.solve(a, b)
    kwargs = {} if name == "lbfgs" else dict(learning_rate=exponential(0.05, 0.1, 500))
    if name == "sgd":
        kwargs = dict(learning_rate=0.1, momentum=0.5)
    opt = optim.get_optimizer(name, **kwargs)
    x32, s32 = run(opt, quadratic(a, b), np.zeros(10, np.float32), 1500, lbfgs=name == "lbfgs")
    assert x32.dtype == np.float32
    for value in s32:
        if isinstance(value, np.ndarray):
            assert value.dtype == np.float32
    assert np.max(np.abs(x32 - x_star)) < 1e-3
    # the first few steps agree with the float64 run to float32 precision
    x64, _ = run(opt, quadratic(a, b), np.zeros(10), 3, lbfgs=name == "lbfgs")
    x32_3, _ = run(opt, quadratic(a, b), np.zeros(10, np.float32), 3, lbfgs=name == "lbfgs")
    np.testing.assert_allclose(x32_3, x64, rtol=1e-4, atol=1e-5)


def test_get_optimizer_maps_names_and_exposes_hyperparams():
    for name in ("sgd", "adam", "adamw", "lbfgs"):
        kwargs = {} if name == "lbfgs" else {"learning_rate": 0.1}
        opt = optim.get_optimizer(name, **kwargs)
        assert opt.name == name
    opt = optim.get_optimizer("adamw", learning_rate=0.1, weight_decay=0.3)
    assert opt.hyperparams["weight_decay"] == 0.3 and opt.hyperparams["b2"] == 0.999
    assert optim.get_optimizer("lbfgs", history=4).hyperparams["history"] == 4
