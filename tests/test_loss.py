"""Tests of pinnlite.engine.loss (loss_and_grad, evaluate, channels, predict) against
mathematics: the loss terms and their gradients against the plain NumPy
reference of naive.py with complex-step gradients, every term's gradient and the
material gradients against finite differences (pinnlite.testing.check_grads),
the derivative channels against finite differences and the complex step, float32
against float64, and the same result whatever the thread count, the calling
thread or the form of the parameters. Also the fused pde and traction kernels
(pinnlite.engine.kernels) on exact plane waves."""

import threading

import numpy as np
import pytest
from conftest import BOUNDS, p_and_s_waves, random_model, random_points, random_problem
from hypothesis import given, settings
from hypothesis import strategies as st

import naive
from pinnlite import engine
from pinnlite.engine import term_kernels
from pinnlite.engine import physics
from pinnlite.core.arch import Architecture
from pinnlite.engine.terms import TERMS, LossWeights, Material, PointSets
from pinnlite.testing import check_grads


def naive_sets(P):
    sets = {}
    if P.collocation is not None:
        sets["pde"] = (P.collocation, P.body_force)
    for term, field in (("boundary", "boundary"), ("initial", "initial"), ("data", "data"), ("initial_velocity", "initial_velocity")):
        X = getattr(P, field)
        if X is not None:
            sets[term] = (X, getattr(P, field + "_values"))
    if P.traction is not None:
        sets["traction"] = (P.traction, P.traction_normals, P.traction_values)
    return sets


def reference(arch, p, P, mat, weights):
    arrays = arch.layout.unflatten(p)
    args = (arrays, arch.activation, arch.bounds, arch.output_scale, naive_sets(P))
    terms = naive.loss_terms(*args, mat.lam, mat.mu, mat.rho)
    wd = {t: getattr(weights, t) for t in TERMS}
    grads, gmat = naive.complex_step_gradient(*args, mat.lam, mat.mu, mat.rho, wd)
    return terms, np.concatenate([g.ravel() for g in grads]), gmat


WEIGHTS = LossWeights(pde=0.7, boundary=1.5, traction=0.3, initial=2.0, initial_velocity=0.9, data=1.1)


@pytest.mark.parametrize("activation", ["tanh", "sin"])
@pytest.mark.parametrize("hidden", [(5,), (6, 5, 4), (3, 7)])
def test_loss_and_gradient_match_reference(activation, hidden, material):
    rng = np.random.default_rng(len(hidden) * 10 + len(activation))
    arch, p = random_model(rng, hidden, activation)
    P = random_problem(rng)
    res = engine.loss_and_grad(p, arch, P, material, WEIGHTS)
    terms, grad, gmat = reference(arch, p, P, material, WEIGHTS)
    assert set(res.terms) == set(TERMS)
    for t in TERMS:
        assert res.terms[t] == pytest.approx(terms[t], rel=1e-12, abs=0)
    total = sum(getattr(WEIGHTS, t) * terms[t] for t in TERMS)
    assert res.total == pytest.approx(total, rel=1e-12)
    scale = np.abs(grad).max()
    assert np.abs(res.grad - grad).max() <= 1e-12 * scale
    big = np.abs(grad) > 1e-3 * scale
    np.testing.assert_allclose(res.grad[big], grad[big], rtol=1e-11)
    for i, name in enumerate(("lam", "mu", "rho")):
        assert res.grad_material[name] == pytest.approx(gmat[i], rel=1e-12)


@pytest.mark.parametrize("hidden", [(5,), (6, 5, 4)])
def test_mixed_loss_and_gradient_match_reference(hidden, material):
    # a pressure output: the PDE term is the mixed form of naive.loss_terms, the others see (u, v) only
    rng = np.random.default_rng(40 + len(hidden))
    arch, p = random_model(rng, hidden, pressure=True)
    assert arch.n_outputs == 3 and arch.layout.entries[-1].shape == (3,)
    P = random_problem(rng)
    res = engine.loss_and_grad(p, arch, P, material, WEIGHTS)
    terms, grad, gmat = reference(arch, p, P, material, WEIGHTS)
    for t in TERMS:
        assert res.terms[t] == pytest.approx(terms[t], rel=1e-12, abs=0)
    scale = np.abs(grad).max()
    assert np.abs(res.grad - grad).max() <= 1e-12 * scale
    for i, name in enumerate(("lam", "mu", "rho")):
        assert res.grad_material[name] == pytest.approx(gmat[i], rel=1e-11)
    # and it is not the displacement form's term of the same (u, v)
    C = engine.channels(arch, p, P.collocation, 8)
    plain = physics.residual(C[..., :2], material.lam, material.mu, material.rho, P.body_force)
    assert abs(np.mean(np.sum(plain**2, axis=1)) - terms["pde"]) > 1e-3 * terms["pde"]


def test_fixed_material_parameters_report_no_gradient():
    rng = np.random.default_rng(3)
    arch, p = random_model(rng)
    mat = Material(2.0, 1.0, 1.0, optimize_lam=False, optimize_mu=True, optimize_rho=False)
    res = engine.loss_and_grad(p, arch, random_problem(rng), mat)
    assert list(res.grad_material) == ["mu"]


@pytest.mark.parametrize("term", TERMS)
def test_gradient_of_each_term_alone_vs_finite_differences(term, material):
    rng = np.random.default_rng(TERMS.index(term))
    arch, p = random_model(rng, (6, 5), "tanh")
    P = random_problem(rng)
    weights = LossWeights(**{t: (1.0 if t == term else 0.0) for t in TERMS})
    res = engine.loss_and_grad(p, arch, P, material, weights)
    assert res.total == res.terms[term]
    f = lambda q: engine.loss_and_grad(q, arch, P, material, weights, need_grad=False).total  # noqa: E731
    coords = rng.choice(p.size, 25, replace=False)
    check_grads(f, p, res.grad, directions=3, coords=coords, rtol=1e-6, rng=rng)
    # untouched terms contribute nothing
    if term not in ("pde", "traction"):
        assert all(v == 0 for v in res.grad_material.values())


def test_weighted_total_and_material_gradients_vs_finite_differences(material):
    rng = np.random.default_rng(11)
    arch, p = random_model(rng, (7, 6, 5), "sin")
    P = random_problem(rng)
    res = engine.loss_and_grad(p, arch, P, material, WEIGHTS)
    f = lambda q: engine.loss_and_grad(q, arch, P, material, WEIGHTS, need_grad=False).total  # noqa: E731
    check_grads(f, p, res.grad, directions=4, coords=rng.choice(p.size, 30, replace=False), rtol=1e-6, rng=rng)

    m0 = np.array([material.lam, material.mu, material.rho])

    def fm(m):
        mat = Material(*m, True, True, True)
        return engine.loss_and_grad(p, arch, P, mat, WEIGHTS, need_grad=False).total

    gm = np.array([res.grad_material[n] for n in ("lam", "mu", "rho")])
    check_grads(fm, m0, gm, directions=2, coords=(0, 1, 2), eps=1e-3, rtol=1e-6, rng=rng)


def fd_channels(arch, p, X, h):
    """Fourth-order central differences of the value channel (float64)."""
    f = lambda Y: engine.predict(arch, p, Y)  # noqa: E731
    E = np.eye(3) * h
    d1 = [(-f(X + 2 * E[k]) + 8 * f(X + E[k]) - 8 * f(X - E[k]) + f(X - 2 * E[k])) / (12 * h) for k in range(3)]
    d2 = [
        (-f(X + 2 * E[k]) + 16 * f(X + E[k]) - 30 * f(X) + 16 * f(X - E[k]) - f(X - 2 * E[k])) / (12 * h * h)
        for k in range(3)
    ]
    mixed = lambda a: (f(X + a * (E[0] + E[1])) - f(X + a * (E[0] - E[1])) - f(X - a * (E[0] - E[1])) + f(X - a * (E[0] + E[1]))) / (4 * a * a * h * h)  # noqa: E731
    dxy = (4 * mixed(1) - mixed(2)) / 3  # Richardson: fourth order
    return np.stack([f(X)] + d1 + d2 + [dxy])


@st.composite
def architectures(draw):
    depth = draw(st.integers(1, 4))
    hidden = tuple(draw(st.integers(1, 9)) for _ in range(depth))
    activation = draw(st.sampled_from(["tanh", "sin"]))
    bounds = []
    for _ in range(3):
        lo = draw(st.floats(-5, 5))
        width = draw(st.floats(0.5, 10))
        bounds.append((lo, lo + width))
    scale = (draw(st.floats(0.1, 10)), draw(st.floats(0.1, 10)))
    return hidden, activation, tuple(bounds), scale


@settings(max_examples=30, deadline=None)
@given(architectures(), st.integers(0, 2**32 - 1))
def test_derivative_channels_vs_finite_differences(spec, seed):
    hidden, activation, bounds, scale = spec
    rng = np.random.default_rng(seed)
    arch, p = random_model(rng, hidden, activation, "float64", bounds, scale)
    X = random_points(rng, 5, bounds)
    C = engine.channels(arch, p, X)
    width = np.array([b[1] - b[0] for b in bounds])
    # steps relative to each coordinate's extent; derivatives compared in those units
    h = 2e-3 * width.min()
    fd = fd_channels(arch, p, X, h)
    mag = np.abs(C).max(axis=(1, 2), keepdims=True) + np.abs(C[0]).max() / width.min() ** 2 * 1e-3
    assert np.all(np.abs(C - fd) <= 1e-5 * mag)


@settings(max_examples=20, deadline=None)
@given(architectures(), st.integers(0, 2**32 - 1))
def test_float32_channels_follow_float64(spec, seed):
    hidden, activation, bounds, scale = spec
    rng = np.random.default_rng(seed)
    arch64, p64 = random_model(rng, hidden, activation, "float64", bounds, scale)
    arch32 = Architecture(hidden, activation, bounds, scale, "float32")
    p32 = p64.astype(np.float32)
    X = random_points(rng, 6, bounds)
    C64 = engine.channels(arch64, p32.astype(np.float64), X)
    C32 = engine.channels(arch32, p32, X.astype(np.float32))
    assert C32.dtype == np.float32
    mag = np.abs(C64).max(axis=(1, 2), keepdims=True)
    assert np.all(np.abs(C32 - C64) <= 2e-4 * mag + 1e-30)


@pytest.mark.parametrize("activation", ["tanh", "sin"])
def test_first_derivatives_vs_complex_step(activation):
    rng = np.random.default_rng(5)
    arch, p = random_model(rng, (6, 5, 4), activation)
    X = random_points(rng, 8)
    C = engine.channels(arch, p, X)
    arrays = arch.layout.unflatten(p)
    h = 1e-30
    for k in range(3):
        Xc = X.astype(complex)
        Xc[:, k] += 1j * h
        d = naive.network_channels(arrays, activation, arch.bounds, arch.output_scale, Xc)["value"].imag / h
        np.testing.assert_allclose(C[1 + k], d, rtol=1e-12, atol=1e-13 * np.abs(d).max())


def test_second_derivatives_vs_complex_step_of_first():
    # the engine's u_x, u_y, u_t are exact (checked above), so a complex step of the
    # reference's first-derivative channels gives the exact second derivatives
    rng = np.random.default_rng(6)
    arch, p = random_model(rng, (6, 5), "tanh")
    X = random_points(rng, 8)
    C = engine.channels(arch, p, X)
    arrays = arch.layout.unflatten(p)
    h = 1e-30
    for name, chan, k in (("xx", "x", 0), ("yy", "y", 1), ("tt", "t", 2), ("xy", "x", 1)):
        Xc = X.astype(complex)
        Xc[:, k] += 1j * h
        d = naive.network_channels(arrays, "tanh", arch.bounds, arch.output_scale, Xc)[chan].imag / h
        idx = physics.CHANNEL_NAMES.index(name)
        np.testing.assert_allclose(C[idx], d, rtol=1e-11, atol=1e-12 * np.abs(d).max())


@pytest.mark.parametrize("lam,mu,rho", [(2.0, 1.0, 1.0), (5.3, 0.4, 2.7), (-0.5, 1.2, 0.8), (120.0, 80.0, 7.8)])
def test_pde_kernel_vanishes_on_exact_plane_waves(lam, mu, rho):
    # the plane waves satisfy the equation exactly (tests/test_physics.py)
    rng = np.random.default_rng(7)
    n = 50
    X = random_points(rng, n)
    C = p_and_s_waves(X, lam, mu, rho)
    # channel-major columns of one 8-channel block, output scale 1
    U = np.ascontiguousarray(C.transpose(2, 0, 1).reshape(2, 8 * n))
    GU = np.zeros_like(U)
    so = np.ones(2)
    loss, gl, gm, gr = term_kernels.pde_term(U, GU, n, 1.0 / n, so, lam, mu, rho, np.zeros((0, 2)), 1.0)
    scale = (abs(rho) + abs(lam) + 2 * abs(mu)) * np.abs(C[4:]).max()
    assert loss <= (1e-13 * scale) ** 2
    # a wrong parameter leaves a residual: the check can fail
    loss_wrong, *_ = term_kernels.pde_term(U, GU, n, 1.0 / n, so, lam * 1.01 + 0.01, mu, rho, np.zeros((0, 2)), 1.0)
    assert loss_wrong > 1e6 * max(loss, 1e-300)


@pytest.mark.parametrize("lam,mu,rho", [(2.0, 1.0, 1.0), (5.3, 0.4, 2.7), (7.5e5, 1.0, 1.0)])
def test_mixed_pde_kernel_vanishes_on_exact_plane_waves_with_their_pressure(lam, mu, rho):
    # exact waves with p = lam div u satisfy the mixed form; lam 7.5e5 mu (soft tissue) as well
    rng = np.random.default_rng(9)
    n = 50
    X = random_points(rng, n)
    C = p_and_s_waves(X, lam, mu, rho)
    P = np.zeros((8, n))
    P[0] = lam * (C[1, :, 0] + C[2, :, 1])
    P[1] = lam * (C[4, :, 0] + C[7, :, 1])  # d/dx div u = u_xx + v_xy
    P[2] = lam * (C[7, :, 0] + C[5, :, 1])
    so = np.array([1.0, 1.0, lam])  # kappa = lam: r_p in the units of the residual
    U = np.ascontiguousarray(np.concatenate([C.transpose(2, 0, 1), P[None] / lam], axis=0).reshape(3, 8 * n))
    GU = np.zeros_like(U)
    loss, *_ = term_kernels.pde_term_mixed(U, GU, n, 1.0 / n, so, 0.0, lam, mu, rho, np.zeros((0, 2)), 1.0)
    scale = (abs(rho) + abs(lam) + 2 * abs(mu)) * np.abs(C[4:]).max()
    assert loss <= (1e-13 * scale) ** 2
    U[2, :n] *= 1.001  # a pressure off by 0.1% leaves the constraint's residual
    loss_wrong, *_ = term_kernels.pde_term_mixed(U, GU, n, 1.0 / n, so, 0.0, lam, mu, rho, np.zeros((0, 2)), 1.0)
    assert loss_wrong > 1e6 * max(loss, 1e-300)


def test_traction_kernel_vanishes_on_the_exact_traction():
    # physics.traction is sigma . n written out (tests/test_physics.py)
    rng = np.random.default_rng(8)
    n, lam, mu = 20, 3.0, 1.5
    X = random_points(rng, n)
    C = p_and_s_waves(X, lam, mu, 1.0, oblique=False)
    ang = rng.uniform(0, 2 * np.pi, n)
    normals = np.stack([np.cos(ang), np.sin(ang)], 1)
    t_exact = physics.traction(C, normals, lam, mu)
    U = np.ascontiguousarray(C[:4].transpose(2, 0, 1).reshape(2, 4 * n))
    GU = np.zeros_like(U)
    loss, _, _ = term_kernels.traction_term(U, GU, n, 1.0 / n, np.ones(2), lam, mu, normals, t_exact, 1.0)
    assert loss <= 1e-28 * np.abs(t_exact).max() ** 2


def test_thread_count_does_not_change_the_result(material):
    # for a given tiling the result is the same bit for bit whatever the number of threads
    rng = np.random.default_rng(9)
    arch, p = random_model(rng)
    P = random_problem(rng, sizes=(230, 90, 70, 50, 60, 110))
    prep = engine.prepare(arch, P, tile_columns=64)
    assert len(prep.tiles) > 20
    one = engine.evaluate(arch, p, prep, material, WEIGHTS, engine.Workspace(1), np.empty_like(p))
    for threads in (2, 3, 5):
        many = engine.evaluate(arch, p, prep, material, WEIGHTS, engine.Workspace(threads), np.empty_like(p))
        assert many.total == one.total
        assert many.terms == one.terms
        assert many.grad_material == one.grad_material
        assert np.array_equal(many.grad, one.grad)


def test_float32_loss_and_gradient_follow_float64(material):
    rng = np.random.default_rng(10)
    arch64, p64 = random_model(rng)
    arch32 = Architecture(arch64.hidden, arch64.activation, arch64.bounds, arch64.output_scale, "float32")
    P64 = random_problem(rng)
    P32 = PointSets(**{k: (None if v is None else v.astype(np.float32)) for k, v in P64.__dict__.items()})
    p32 = p64.astype(np.float32)
    P64 = PointSets(**{k: (None if v is None else v.astype(np.float64)) for k, v in P32.__dict__.items()})
    r32 = engine.loss_and_grad(p32, arch32, P32, material)
    r64 = engine.loss_and_grad(p32.astype(np.float64), arch64, P64, material)
    assert r32.grad.dtype == np.float32
    assert r32.total == pytest.approx(r64.total, rel=1e-4)
    assert np.abs(r32.grad - r64.grad).max() <= 1e-4 * np.abs(r64.grad).max()


def test_concurrent_calls_from_threads_agree_with_serial(material):
    rng = np.random.default_rng(12)
    arch, p0 = random_model(rng, (16, 16))
    P = random_problem(rng, sizes=(200, 40, 40, 30, 30, 50))
    params = [p0 + 0.01 * k for k in range(6)]
    serial = [engine.loss_and_grad(q, arch, P, material) for q in params]
    out = [None] * len(params)

    def work(k):
        for _ in range(5):
            out[k] = engine.loss_and_grad(params[k], arch, P, material)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(params))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s, o in zip(serial, out):
        assert o.total == s.total
        assert np.array_equal(o.grad, s.grad)


def test_list_of_arrays_and_flat_vector_give_the_same_result(material):
    rng = np.random.default_rng(13)
    arch, p = random_model(rng)
    P = random_problem(rng)
    a = engine.loss_and_grad(p, arch, P, material)
    b = engine.loss_and_grad(arch.layout.unflatten(p), arch, P, material)
    assert a.total == b.total and np.array_equal(a.grad, b.grad)


def test_absent_terms_are_not_reported(material):
    rng = np.random.default_rng(14)
    arch, p = random_model(rng)
    X = random_points(rng, 10)
    res = engine.loss_and_grad(p, arch, PointSets(data=X, data_values=np.zeros((10, 2))), material)
    assert list(res.terms) == ["data"]
    # the data term alone is a plain mean squared error of the prediction
    assert res.total == pytest.approx(np.mean(np.sum(engine.predict(arch, p, X) ** 2, axis=1)), rel=1e-13)


def test_predict_equals_value_channel_over_many_tiles():
    rng = np.random.default_rng(15)
    arch, p = random_model(rng)
    X = random_points(rng, 3000)  # three value-only tiles
    full = engine.predict(arch, p, X, engine.Workspace(2))
    np.testing.assert_array_equal(engine.predict(arch, p, X, engine.Workspace(1)), full)
    np.testing.assert_allclose(engine.channels(arch, p, X)[0], full, rtol=1e-14)
    ref = naive.network_channels(arch.layout.unflatten(p), "tanh", BOUNDS, arch.output_scale, X)["value"]
    np.testing.assert_allclose(full, ref, rtol=1e-12, atol=1e-14)
