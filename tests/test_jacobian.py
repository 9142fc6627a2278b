"""The residual vector and its Jacobian (pinnlite.engine.jacobian) against the loss and calculus.

|rho|^2 must be the engine's weighted total, 2 J^T rho its gradient, the
columns of J central differences of rho, and d rho / d(lam, mu, rho) central
differences in the material; for every term, both activations, and over
random architectures (hypothesis).
"""

import numpy as np
import pytest
from conftest import random_model, random_problem
from hypothesis import given, settings
from hypothesis import strategies as st

from pinnlite import engine
from pinnlite.engine.jacobian import material_columns, residuals
from pinnlite.engine.terms import TERMS, LossWeights, Material


def setup(seed=0, hidden=(6, 5, 4), activation="tanh", force=True, pressure=False):
    rng = np.random.default_rng(seed)
    arch, p = random_model(rng, hidden=hidden, activation=activation, pressure=pressure)
    points = random_problem(rng, force=force)
    material = Material(2.0, 1.0, 1.3, True, True, True)
    weights = LossWeights(pde=0.3, boundary=1.7, traction=0.6, initial=2.2, initial_velocity=0.9, data=1.4)
    return arch, p, engine.prepare(arch, points), material, weights


@pytest.mark.parametrize("pressure", [False, True])
@pytest.mark.parametrize("activation", ["tanh", "sin"])
def test_squared_residuals_are_the_total_and_jt_rho_the_gradient(activation, pressure):
    # with a pressure output the PDE term has three residuals per point (r_u, r_v, r_p)
    arch, p, prep, mat, w = setup(activation=activation, pressure=pressure)
    ws = engine.Workspace(1)
    res = residuals(arch, p, prep, mat, w, ws)
    grad = np.empty_like(p)
    ref = engine.evaluate(arch, p, prep, mat, w, ws, grad)
    assert res.values @ res.values == pytest.approx(ref.total, rel=1e-13)
    np.testing.assert_allclose(2 * res.jac.T @ res.values, grad, rtol=1e-11, atol=1e-12 * np.abs(grad).max())
    gm = 2 * material_columns(res, mat).T @ res.values
    np.testing.assert_allclose(gm, [ref.grad_material[n] for n in mat.free], rtol=1e-11)
    for term, a, b in res.blocks:  # each block's squares is its weighted term
        assert res.values[a:b] @ res.values[a:b] == pytest.approx(getattr(w, term) * ref.terms[term], rel=1e-12)
    assert [t for t, _, _ in res.blocks] == [t for t in TERMS if t in ref.terms]


@pytest.mark.parametrize("pressure", [False, True])
def test_jacobian_columns_are_central_differences(pressure):
    arch, p, prep, mat, w = setup(seed=3, pressure=pressure)
    ws = engine.Workspace(1)
    J = residuals(arch, p, prep, mat, w, ws).jac
    h = 1e-6
    rng = np.random.default_rng(0)
    for i in sorted(rng.choice(p.size, 25, replace=False)) + [0, p.size - 1]:
        e = np.zeros_like(p)
        e[i] = h
        fd = (residuals(arch, p + e, prep, mat, w, ws, False).values
              - residuals(arch, p - e, prep, mat, w, ws, False).values) / (2 * h)
        np.testing.assert_allclose(J[:, i], fd, rtol=1e-6, atol=1e-7 * max(1.0, np.abs(fd).max()))


@pytest.mark.parametrize("pressure", [False, True])
def test_material_derivatives_are_central_differences(pressure):
    arch, p, prep, mat, w = setup(seed=5, pressure=pressure)
    ws = engine.Workspace(1)
    res = residuals(arch, p, prep, mat, w, ws, False)
    h = 1e-6
    for j, name in enumerate(("lam", "mu", "rho")):
        v = mat.values()
        up, down = dict(v), dict(v)
        up[name] += h
        down[name] -= h
        fd = (residuals(arch, p, prep, Material(**up), w, ws, False).values
              - residuals(arch, p, prep, Material(**down), w, ws, False).values) / (2 * h)
        np.testing.assert_allclose(res.dmat[:, j], fd, rtol=1e-7, atol=1e-8 * max(1.0, np.abs(fd).max()))


def test_zero_weight_terms_have_no_rows_and_threads_change_nothing():
    arch, p, prep, mat, _ = setup(seed=2)
    w = LossWeights(boundary=0.0, initial=0.0)
    one = residuals(arch, p, prep, mat, w, engine.Workspace(1))
    many = residuals(arch, p, prep, mat, w, engine.Workspace(3))
    assert "boundary" not in [b[0] for b in one.blocks] and "initial" not in [b[0] for b in one.blocks]
    np.testing.assert_array_equal(one.jac, many.jac)
    np.testing.assert_array_equal(one.values, many.values)


@settings(max_examples=15, deadline=None)
@given(hidden=st.lists(st.integers(1, 7), min_size=1, max_size=3), activation=st.sampled_from(["tanh", "sin"]),
       seed=st.integers(0, 10**6), pressure=st.booleans())
def test_gradient_identity_over_architectures(hidden, activation, seed, pressure):
    arch, p, prep, mat, w = setup(seed=seed, hidden=tuple(hidden), activation=activation, pressure=pressure)
    ws = engine.Workspace(1)
    res = residuals(arch, p, prep, mat, w, ws)
    grad = np.empty_like(p)
    ref = engine.evaluate(arch, p, prep, mat, w, ws, grad)
    assert res.values @ res.values == pytest.approx(ref.total, rel=1e-12)
    np.testing.assert_allclose(2 * res.jac.T @ res.values, grad, rtol=1e-10, atol=1e-11 * max(1.0, np.abs(grad).max()))
