"""Tests of pinnlite.training.weighting: learning-rate annealing of the loss weights
(Wang, Teng & Perdikaris 2021, Algorithm 1) against updates computed by hand and
against ``reference_update`` of naive.py, and the effective weights of an
evaluation (configured weight x adaptive multiplier / normaliser) against
numbers computed by hand."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from naive import reference_update

from pinnlite.engine.terms import TERMS, LossWeights
from pinnlite.training import weighting
from pinnlite.training.config import Config

# -- adaptive weights ----------------------------------------------------------------------------


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


# -- effective weights ---------------------------------------------------------------------------

# configured weight, adaptive multiplier and normaliser of each term, and by hand
# w_t = weight * multiplier / normaliser (every product and quotient exact in binary)
CONFIGURED = {"pde": 2.0, "boundary": 0.5, "traction": 3.0, "initial": 1.0, "initial_velocity": 4.0, "data": 10.0}
MULTIPLIERS = {"pde": 1.25, "boundary": 2.0, "traction": 0.5, "initial": 4.0, "initial_velocity": 1.5, "data": 3.0}
NORMALISERS = {"pde": 0.25, "boundary": 2.0, "traction": 0.5, "initial": 8.0, "initial_velocity": 3.0, "data": 5.0}
BY_HAND = {
    "pde": 10.0,  # 2 * 1.25 / 0.25
    "boundary": 0.5,  # 0.5 * 2 / 2
    "traction": 3.0,  # 3 * 0.5 / 0.5
    "initial": 0.5,  # 1 * 4 / 8
    "initial_velocity": 2.0,  # 4 * 1.5 / 3
    "data": 6.0,  # 10 * 3 / 5
}


def test_effective_weights_by_hand():
    cfg = Config()
    for t, w in CONFIGURED.items():
        setattr(cfg.loss_weights, t, w)
    state = weighting.AdaptiveState(np.array([MULTIPLIERS[t] for t in TERMS]), 7)
    before = state.weights.copy()
    out = weighting.effective_weights(cfg.validate().loss_weights, state, dict(NORMALISERS))
    assert type(out) is LossWeights
    assert {t: getattr(out, t) for t in TERMS} == BY_HAND
    # a LossWeights works as the configured weights too; the inputs are left alone
    again = weighting.effective_weights(LossWeights(**CONFIGURED), state, NORMALISERS)
    assert again == out
    np.testing.assert_array_equal(state.weights, before)
    assert state.count == 7


def test_effective_weights_of_the_initial_state_are_weight_over_normaliser():
    out = weighting.effective_weights(LossWeights(**CONFIGURED), weighting.init(), NORMALISERS)
    # 2 / 0.25, 0.5 / 2, 3 / 0.5, 1 / 8, 4 / 3, 10 / 5
    expected = (8.0, 0.25, 6.0, 0.125, 4.0 / 3.0, 2.0)
    assert out.as_tuple() == pytest.approx(expected, rel=1e-15)
