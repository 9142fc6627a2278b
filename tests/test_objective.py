"""The optimised vector and its loss (pinnlite.training.objective) against calculus.

x = [network parameters | log(p / p0) of the free material parameters]: the
split, the material values, the bounds projection, the chain rule (finite
differences of the total over x), the linearity of the loss in its weights (the
per-term gradients add up to the full one), the residual norms against the
engine's residual, and the prepared points' counts and shards.
"""

import math

import numpy as np
import pytest
from conftest import random_model

from pinnlite import engine
from pinnlite.engine.terms import TERMS, LossWeights
from pinnlite.testing import check_grads
from pinnlite.training.config import Config
from pinnlite.training.objective import Objective, Points, ensure_finite
from pinnlite.training.problems import plane_waves
from pinnlite.training.uncertainty import material_uncertainty


def setup(free=("lam", "mu"), bounds=None, seed=0):
    cfg = Config()
    m = cfg.material
    m.lam, m.mu, m.rho = 3.0, 0.7, 1.4
    for name in ("lam", "mu", "rho"):
        setattr(m, "optimize_" + name, name in free)
    for name, b in (bounds or {}).items():
        setattr(m, name + "_bounds", b)
    data, _ = plane_waves(2.0, 1.0, 1.4, n_sensors=30, boundary="traction", n_boundary=20, n_initial=10, rng=seed)
    rng = np.random.default_rng(seed)
    arch, params = random_model(rng, hidden=(5, 4), bounds=data.domain, output_scale=(1.0, 1.0))
    obj = Objective(arch, cfg.validate().material, engine.Workspace(1))
    colloc = rng.uniform(0, 1, (40, 3))
    return obj, params, data, colloc


def test_the_vector_is_the_parameters_then_theta():
    obj, params, _, _ = setup(free=("lam", "rho"))
    assert obj.free == ("lam", "rho") and obj.size == params.size + 2
    x = obj.vector(params, np.array([0.5, -0.25]))
    np.testing.assert_array_equal(obj.params(x), params)
    np.testing.assert_array_equal(obj.theta(x), [0.5, -0.25])
    v = obj.values(x)
    assert v == {"lam": 3.0 * math.exp(0.5), "mu": 0.7, "rho": 1.4 * math.exp(-0.25)}
    assert obj.values(obj.vector(params)) == {"lam": 3.0, "mu": 0.7, "rho": 1.4}
    mat = obj.material(x)
    assert (mat.lam, mat.mu, mat.rho, mat.free) == (v["lam"], 0.7, v["rho"], ("lam", "rho"))


def test_projection_clips_theta_into_the_bounds():
    obj, params, _, _ = setup(bounds={"mu": [0.5, 1.0]})
    x = obj.vector(params, np.array([10.0, 2.0]))  # lam unbounded, mu far above its bound
    assert obj.project(x) == ("mu",)  # the names of the clipped parameters
    assert x[-2] == 10.0
    assert obj.values(x)["mu"] == pytest.approx(1.0, rel=1e-15)
    assert obj.project(x) == ()  # already inside
    x[-1] = -5.0
    assert obj.project(x) == ("mu",) and obj.values(x)["mu"] == pytest.approx(0.5, rel=1e-15)


def test_decay_mask_and_learning_rate_scale_follow_the_layout():
    obj, params, _, _ = setup()
    mask = obj.decay_mask()
    views = obj.arch.layout.views(np.arange(obj.n))
    expected = np.zeros(obj.size, bool)
    for name, v in views.items():
        if name.startswith("W"):
            expected[v.ravel()] = True
    np.testing.assert_array_equal(mask, expected)
    np.testing.assert_array_equal(obj.lr_scale(0.25), np.r_[np.ones(obj.n), [0.25, 0.25]])


@pytest.mark.parametrize("free", [("lam", "mu"), ("mu",), ("lam", "mu", "rho")])
def test_gradient_over_x_matches_finite_differences(free):
    """The network part is the engine's gradient, theta's part is p dL/dp (the chain rule)."""
    obj, params, data, colloc = setup(free)
    prep = Points(obj.arch, data).full(colloc)
    w = LossWeights(pde=0.3, traction=0.7, initial=1.1, initial_velocity=2.0, data=5.0)
    x = obj.vector(params, np.linspace(-0.3, 0.2, len(free)))
    res, g = obj.evaluate(x, prep, w)
    assert set(res.terms) == {"pde", "traction", "initial", "initial_velocity", "data"}
    check_grads(lambda z: obj.evaluate(z, prep, w)[0].total, x, g, directions=4,
                coords=range(obj.n, obj.size), rng=0)
    assert res.total == w.total(res.terms)


def test_per_term_gradients_add_up_to_the_gradient():
    """The loss is linear in its weights: sum_t w_t n_t (grad of term t / n_t) is the full gradient."""
    obj, params, data, colloc = setup()
    prep = Points(obj.arch, data).full(colloc)
    norm = {t: 10.0 ** (i - 2) for i, t in enumerate(TERMS)}
    w = LossWeights(**{t: 0.5 + i for i, t in enumerate(TERMS)})
    x = obj.vector(params, np.array([0.1, -0.2]))
    grads = obj.term_gradients(x, prep, norm)
    assert set(grads) == set(prep.counts)
    total = sum(getattr(w, t) * norm[t] * grads[t] for t in grads)
    _, g = obj.evaluate(x, prep, w)
    np.testing.assert_allclose(total, obj.params(g), rtol=1e-12, atol=1e-12 * np.abs(obj.params(g)).max())


def test_error_bars_use_the_gauss_newton_blocks_of_every_term():
    """Objective.uncertainty is material_uncertainty of J'J over all rows and J_d'J_d over the data
    rows, with J from central differences of the residuals (not the Jacobian kernel)."""
    obj, params, data, colloc = setup()
    prep = Points(obj.arch, data).full(colloc)
    w = LossWeights(pde=0.7, data=2.0, traction=0.3, initial=1.5)
    x = obj.vector(params, np.array([0.1, -0.2]))
    rho, _, blocks = obj.residuals(x, prep, w, jacobian=False)
    assert sum(b - a for t, a, b in blocks if t != "data") > 0  # rows of other terms enter H too
    J = np.empty((rho.size, obj.size))
    h = 1e-6
    for j in range(obj.size):
        e = np.zeros(obj.size)
        e[j] = h
        J[:, j] = (obj.residuals(x + e, prep, w, jacobian=False)[0] - obj.residuals(x - e, prep, w, jacobian=False)[0]) / (2 * h)
    a, b = next((a, b) for t, a, b in blocks if t == "data")
    a2 = w.data / prep.counts["data"]
    rd = rho[a:b]
    want = material_uncertainty(J.T @ J, J[a:b].T @ J[a:b], a2, float(rd @ rd) / a2, b - a,
                                range(obj.n, obj.size), obj.values(x), obj.free)
    got = obj.uncertainty(x, prep, w)
    assert got.n_data == want.n_data == 60
    assert got.dof == pytest.approx(want.dof, rel=1e-5)
    assert got.noise_sigma == pytest.approx(want.noise_sigma, rel=1e-6)
    for name in ("lam", "mu"):
        assert got.std[name] == pytest.approx(want.std[name], rel=1e-4)


def test_residual_norms_are_the_engines_residual():
    obj, params, _, colloc = setup()
    x = obj.vector(params, np.array([0.3, 0.1]))
    r = engine.pde_residual(obj.arch, params, colloc, obj.material(x))
    np.testing.assert_allclose(obj.residual_norms(x, colloc), np.hypot(r[:, 0], r[:, 1]), rtol=1e-14)


def test_points_batches_keep_the_fixed_terms_and_the_chosen_rows():
    obj, params, data, colloc = setup()
    points = Points(obj.arch, data)
    full = points.full(colloc)
    assert points.full(colloc) is full  # kept while the collocation array is the same
    assert points.full(colloc.copy()) is not full
    idx = np.array([3, 7, 11])
    batch = points.batch(colloc, None, idx)
    assert batch.counts["pde"] == 3 and full.counts["pde"] == 40
    for t in ("traction", "initial", "initial_velocity", "data"):
        assert batch.counts[t] == full.counts[t] == data.point_sets(None, np.float64).count(t)
    # the batch is the loss on exactly those rows
    w = LossWeights(**{t: (1.0 if t == "pde" else 0.0) for t in TERMS})
    x = obj.vector(params)
    direct = engine.loss_and_grad(params, obj.arch, engine.terms.PointSets(collocation=colloc[idx]), obj.material(x), w)
    assert obj.evaluate(x, batch, w)[0].terms["pde"] == pytest.approx(direct.terms["pde"], rel=1e-14)


def test_ensure_finite_names_the_epoch():
    obj, params, data, colloc = setup()
    res, g = obj.evaluate(obj.vector(params), Points(obj.arch, data).full(colloc), LossWeights())
    ensure_finite(res, g, 3)
    g[5] = np.nan
    with pytest.raises(FloatingPointError, match="epoch 3: the loss or its gradient is not finite"):
        ensure_finite(res, g, 3)
