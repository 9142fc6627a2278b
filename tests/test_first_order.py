"""Tests of pinnlite.optim.first_order (SGD with momentum and Nesterov, Adam, AdamW)
against the update rules written out by hand here and in naive.py (``adam_by_hand``),
and against the closed-form minimiser of a convex quadratic: first steps, schedules,
argument checks, purity of ``update``, convergence and float32 state."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from naive import adam_by_hand, quadratic, readonly, rosen_start, rosenbrock, spd_matrix

from pinnlite import optim
from pinnlite.errors import InputError
from pinnlite.optim.schedules import exponential, step_decay


def run(opt, fun, x0, steps):
    """``steps`` updates of a first-order optimizer from ``x0``; the last (x, state)."""
    x = x0.copy()
    state = opt.init(x)
    f, g = fun(x)
    for _ in range(steps):
        x, state = opt.update(g, state, x)
        f, g = fun(x)
    return x, state


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
@example(seed=2352, lr=0.880859375, n=28)  # a step that nearly cancels p (failed a relative tolerance)
def test_adam_first_step_is_a_normalised_gradient_step(seed, lr, n):
    # t = 1: mhat = g and vhat = g^2, so p1 = p0 - lr * g / (|g| + eps)
    rng = np.random.default_rng(seed)
    p, g = rng.normal(size=n), rng.normal(size=n) * 10.0 ** rng.uniform(-4, 4, size=n)
    opt = optim.adam(lr, eps=1e-8)
    new_p, state = opt.update(g, opt.init(p), p)
    # to rounding of the operands of p - step: where the two nearly cancel, the result's own
    # relative error can be far above 1e-12 (6.9e-5 from p = -0.88 and lr = 0.88, off by 1 ulp of p)
    expected = p - lr * g / (np.abs(g) + 1e-8)
    assert np.all(np.abs(new_p - expected) <= 1e-12 * (np.abs(p) + lr)), np.abs(new_p - expected).max()
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


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_update_is_pure(name):
    rng = np.random.default_rng(4)
    fun = quadratic(spd_matrix(5, 10.0, rng), rng.normal(size=5))
    kwargs = {"learning_rate": 0.1}
    if name == "sgd":
        kwargs["momentum"] = 0.5
    opt = optim.get_optimizer(name, **kwargs)
    p = readonly(rng.normal(size=5))
    f, g = fun(p)
    g = readonly(g)
    state = opt.init(p)
    p1, state = opt.update(g, state, p)  # non-trivial state
    p1, g1 = readonly(p1), readonly(fun(p1)[1])
    state = state._replace(**{k: readonly(v) for k, v in state._asdict().items()
                              if isinstance(v, np.ndarray)})
    saved = optim.state_to_dict(state)
    p2, state2 = opt.update(g1, state, p1)
    assert p2 is not p1 and not np.shares_memory(p2, p1)
    for key, value in saved.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(getattr(state, key), value)
            assert not np.shares_memory(getattr(state2, key), getattr(state, key))
    assert not np.array_equal(p2, p1)


# -- convergence ------------------------------------------------------------------------------


QUAD_CASES = [
    ("sgd", dict(learning_rate=1.0 / 20.0), 3000, 1e-8),
    ("sgd", dict(learning_rate=1.0 / 20.0, momentum=0.8), 600, 1e-8),
    ("sgd", dict(learning_rate=1.0 / 20.0, momentum=0.8, nesterov=True), 600, 1e-8),
    ("adam", dict(learning_rate=exponential(0.05, 0.1, 1000)), 4000, 1e-5),
    ("adamw", dict(learning_rate=exponential(0.05, 0.1, 1000), decay_mask=np.zeros(12, bool)),
     4000, 1e-5),
]


@pytest.mark.parametrize("name, kwargs, steps, tol", QUAD_CASES)
def test_every_optimizer_minimises_a_convex_quadratic(name, kwargs, steps, tol):
    rng = np.random.default_rng(5)
    a = spd_matrix(12, 20.0, rng)
    b = rng.normal(size=12)
    x_star = np.linalg.solve(a, b)
    x, _ = run(optim.get_optimizer(name, **kwargs), quadratic(a, b), np.zeros(12), steps)
    assert np.max(np.abs(x - x_star)) < tol


def test_adam_gets_close_on_rosenbrock():
    # first-order steps crawl along the curved valley: a looser tolerance than L-BFGS
    x, _ = run(optim.adam(exponential(0.02, 0.1, 4000)), rosenbrock, rosen_start(2), 8000)
    assert np.max(np.abs(x - 1.0)) < 5e-3
    assert rosenbrock(x)[0] < 1e-5


# -- float32 ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw"])
def test_float32_params_give_float32_state_and_track_float64(name):
    rng = np.random.default_rng(8)
    a = spd_matrix(10, 10.0, rng)
    b = rng.normal(size=10)
    x_star = np.linalg.solve(a, b)
    kwargs = dict(learning_rate=exponential(0.05, 0.1, 500))
    if name == "sgd":
        kwargs = dict(learning_rate=0.1, momentum=0.5)
    opt = optim.get_optimizer(name, **kwargs)
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
