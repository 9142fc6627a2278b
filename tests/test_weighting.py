"""Tests of pinnlite.scaling (the loss normalisers and the derived scales) and
pinnlite.weighting (learning-rate annealing of the loss weights, Wang, Teng &
Perdikaris 2021, Algorithm 1) against hand computations."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinnlite.training import weighting
from pinnlite.training.config import Config
from pinnlite.training.data import TrainingData
from pinnlite.engine.terms import TERMS
from pinnlite.training.scaling import Scales, derive_scales

# -- normalisers ------------------------------------------------------------------------------


def test_normalisers_for_given_numbers():
    # L = 2, T = 0.5, U = 0.1, M = 3 (density 7 plays no part)
    s = Scales(length=2.0, time=0.5, displacement=0.1, modulus=3.0, density=7.0)
    n = s.normalisers()
    assert set(n) == set(TERMS)
    assert n["pde"] == pytest.approx(0.005625, rel=1e-14)  # (3 * 0.1 / 4)^2
    assert n["traction"] == pytest.approx(0.0225, rel=1e-14)  # (3 * 0.1 / 2)^2
    assert n["boundary"] == pytest.approx(0.01, rel=1e-14)  # 0.1^2
    assert n["initial"] == pytest.approx(0.01, rel=1e-14)
    assert n["data"] == pytest.approx(0.01, rel=1e-14)
    assert n["initial_velocity"] == pytest.approx(0.04, rel=1e-14)  # (0.1 / 0.5)^2


@settings(max_examples=40, deadline=None)
@given(
    L=st.floats(1e-3, 1e3),
    T=st.floats(1e-3, 1e3),
    U=st.floats(1e-6, 1e3),
    M=st.floats(1e-3, 1e6),
    c=st.floats(0.1, 10.0),
)
def test_normalisers_have_the_physical_dimensions(L, T, U, M, c):
    """Each normaliser is the square of its term's unit: scaling one base unit by c
    scales it by c to the power of that unit's exponent, twice."""
    base = Scales(L, T, U, M, 1.0).normalisers()
    exponents = {  # (length, time, displacement, modulus) exponents of the unsquared magnitude
        "pde": (-2, 0, 1, 1),
        "traction": (-1, 0, 1, 1),
        "boundary": (0, 0, 1, 0),
        "initial": (0, 0, 1, 0),
        "data": (0, 0, 1, 0),
        "initial_velocity": (0, -1, 1, 0),
    }
    for axis in range(4):
        args = [L, T, U, M]
        args[axis] *= c
        scaled = Scales(*args, 1.0).normalisers()
        for term, e in exponents.items():
            assert scaled[term] == pytest.approx(base[term] * c ** (2 * e[axis]), rel=1e-12)


# -- derived scales ---------------------------------------------------------------------------


def make_data(sensor_values=None, domain=((0.0, 2.0), (-1.0, 0.5), (1.0, 5.0))):
    if sensor_values is None:
        return TrainingData(domain)
    n = sensor_values.shape[0]
    return TrainingData(domain, sensor_points=np.zeros((n, 3)), sensor_values=sensor_values)


def test_derived_scales_from_the_domain_data_and_guesses():
    values = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, -1.0]])  # rms = sqrt(27 / 6)
    cfg = Config()
    cfg.material.lam, cfg.material.mu, cfg.material.rho = 3.0, 0.5, 2.5
    s = derive_scales(cfg.validate(), make_data(values))
    assert s.length == 2.0  # the larger of the x extent 2 and the y extent 1.5
    assert s.time == 4.0
    assert s.displacement == pytest.approx(math.sqrt(27 / 6), rel=1e-15)
    assert s.modulus == 4.0  # lam0 + 2 mu0
    assert s.density == 2.5


def test_length_scale_is_the_larger_spatial_extent():
    s = derive_scales(Config(), make_data(domain=((0.0, 1.0), (-2.0, 1.0), (0.0, 0.1))))
    assert s.length == 3.0 and s.time == pytest.approx(0.1, rel=1e-15)
    assert s.displacement == 1.0  # nothing known


def test_explicit_scales_override_derived_ones():
    data = make_data(np.full((4, 2), 0.25))
    cfg = Config()
    cfg.scales.length, cfg.scales.time, cfg.scales.displacement = 10.0, 0.01, 1e-3
    cfg.scales.modulus, cfg.scales.density = 70.0, 2.7
    s = derive_scales(cfg.validate(), data)
    assert s == Scales(10.0, 0.01, 1e-3, 70.0, 2.7)
    # only some given: the others are derived
    cfg = Config()
    cfg.scales.modulus = 70.0
    s = derive_scales(cfg.validate(), data)
    assert s == Scales(2.0, 4.0, 0.25, 70.0, 1.0)


# -- adaptive weights ----------------------------------------------------------------------------


def reference_update(weights, grads, alpha):
    """Algorithm 1 of Wang, Teng & Perdikaris (2021), written out with Python floats."""
    out = list(weights)
    g_r = grads.get("pde")
    if g_r is None or len(g_r) == 0:
        return out
    top = max(abs(float(v)) for v in g_r)
    for i, t in enumerate(TERMS):
        g = grads.get(t)
        if t == "pde" or g is None or len(g) == 0:
            continue
        mean = sum(abs(float(v)) for v in g) / len(g)
        if mean > 0 and top > 0:
            out[i] = (1 - alpha) * out[i] + alpha * top / mean
    return out


def test_init_is_all_ones_and_no_update():
    s = weighting.init()
    np.testing.assert_array_equal(s.weights, np.ones(len(TERMS)))
    assert s.weights.dtype == np.float64 and s.count == 0


def test_update_by_hand():
    grads = {"pde": np.array([1.0, -4.0, 2.0]), "data": np.array([0.5, -1.5]), "boundary": np.array([-8.0, 0.0])}
    s1 = weighting.update(weighting.init(), grads, 0.1)
    w = dict(zip(TERMS, s1.weights))
    # lambda_hat(data) = max|g_pde| / mean|g_data| = 4 / 1; 0.9 * 1 + 0.1 * 4
    assert w["data"] == pytest.approx(1.3, rel=1e-15)
    # lambda_hat(boundary) = 4 / 4 = 1: stays 1
    assert w["boundary"] == pytest.approx(1.0, rel=1e-15)
    assert w["pde"] == 1.0
    for t in ("traction", "initial", "initial_velocity"):  # no gradient: weight kept
        assert w[t] == 1.0
    assert s1.count == 1
    # the moving average continues from the previous weight
    s2 = weighting.update(s1, grads, 0.1)
    assert dict(zip(TERMS, s2.weights))["data"] == pytest.approx(0.9 * 1.3 + 0.4, rel=1e-15)
    assert s2.count == 2


def test_alpha_one_takes_the_new_estimate():
    grads = {"pde": np.array([-3.0, 0.5]), "traction": np.array([0.25, 0.75]), "initial": np.array([6.0])}
    state = weighting.AdaptiveState(np.array([1.0, 1.0, 9.0, 9.0, 9.0, 9.0]), 5)
    s = weighting.update(state, grads, 1.0)
    np.testing.assert_allclose(s.weights, [1.0, 1.0, 6.0, 0.5, 9.0, 9.0], rtol=1e-15)
    assert s.count == 6


def test_update_does_not_modify_its_input():
    state = weighting.init()
    weighting.update(state, {"pde": np.ones(3), "data": 0.1 * np.ones(3)}, 0.5)
    np.testing.assert_array_equal(state.weights, np.ones(len(TERMS)))
    assert state.count == 0


def test_all_zero_or_empty_gradients_keep_the_weight():
    state = weighting.AdaptiveState(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), 0)
    grads = {"pde": np.array([2.0]), "boundary": np.zeros(4), "traction": np.zeros(0), "data": np.array([1.0])}
    s = weighting.update(state, grads, 0.5)
    np.testing.assert_array_equal(s.weights[:5], [1.0, 2.0, 3.0, 4.0, 5.0])
    assert s.weights[5] == pytest.approx(0.5 * 6.0 + 0.5 * 2.0)


@pytest.mark.parametrize("pde", [None, np.zeros(0), np.zeros(3)])
def test_without_a_pde_gradient_only_the_count_changes(pde):
    state = weighting.AdaptiveState(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), 3)
    grads = {"data": np.array([1.0, 2.0])}
    if pde is not None:
        grads["pde"] = pde
    s = weighting.update(state, grads, 0.3)
    np.testing.assert_array_equal(s.weights, state.weights)
    assert s.count == 4


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**31),
    present=st.sets(st.sampled_from(TERMS[1:])),
    alpha=st.floats(0.01, 1.0),
    steps=st.integers(1, 4),
)
def test_update_matches_the_reference(seed, present, alpha, steps):
    rng = np.random.default_rng(seed)
    state = weighting.AdaptiveState(rng.uniform(0.5, 2.0, len(TERMS)), 0)
    state.weights[0] = 1.0
    expected = list(state.weights)
    for _ in range(steps):
        grads = {"pde": rng.standard_normal(7) * 10.0 ** rng.uniform(-3, 3)}
        for t in present:
            grads[t] = rng.standard_normal(rng.integers(1, 9)) * 10.0 ** rng.uniform(-3, 3)
        expected = reference_update(expected, grads, alpha)
        state = weighting.update(state, grads, alpha)
    np.testing.assert_allclose(state.weights, expected, rtol=1e-12)
    assert state.weights[0] == 1.0
    assert state.count == steps
    for i, t in enumerate(TERMS):
        if t not in present:
            assert state.weights[i] == expected[i]
