"""The activation table against calculus, and the kernels' rules against the table.

The table (``pinnlite.core.activations``) is the single source of sigma and its
derivatives: its derivative columns are checked against finite differences of
its own sigma, and the Numba kernels' per-element rules (``jet`` on the way
forward, ``jet_back`` on the way back, both given h = sigma(z) from the table's
ufunc) against the table on a grid that covers both signs, zero and the
saturated tails.
"""

import numpy as np
import pytest

from pinnlite.core.activations import ACTIVATIONS, get_activation
from pinnlite.engine import kernels
from pinnlite.errors import InputError

GRID = np.concatenate([np.linspace(-12.0, 12.0, 241), [0.0, 1e-12, -1e-12, 1e-300, 40.0, -40.0]])


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_table_derivatives_are_derivatives_of_sigma(name):
    act = ACTIVATIONS[name]
    z = np.linspace(-4.0, 4.0, 81)
    h = 1e-4
    # fourth-order central differences of each column give the next one
    for f, df in ((act.sigma, act.d1), (act.d1, act.d2), (act.d2, act.d3)):
        fd = (-f(z + 2 * h) + 8 * f(z + h) - 8 * f(z - h) + f(z - 2 * h)) / (12 * h)
        np.testing.assert_allclose(df(z), fd, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_kernel_forward_rule_matches_the_table(name):
    act = ACTIVATIONS[name]
    for z in GRID:
        s1, s2 = kernels.jet(act.code, z, float(act.sigma(z)), 1.0)
        assert s1 == pytest.approx(float(act.d1(z)), rel=1e-15, abs=1e-15)
        assert s2 == pytest.approx(float(act.d2(z)), rel=1e-15, abs=1e-15)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_kernel_backward_rule_matches_the_table(name):
    act = ACTIVATIONS[name]
    for z in GRID:
        h = float(act.sigma(z))
        s1, s2, s3 = kernels.jet_back(act.code, z, h, 1.0)
        assert s1 == pytest.approx(float(act.d1(z)), rel=1e-15, abs=1e-15)
        assert s2 == pytest.approx(float(act.d2(z)), rel=1e-15, abs=1e-15)
        assert s3 == pytest.approx(float(act.d3(z)), rel=1e-14, abs=1e-15)


def test_kernel_rules_in_float32():
    for act in ACTIVATIONS.values():
        z = np.float32(0.7)
        s1, s2 = kernels.jet(act.code, z, act.sigma(z), np.float32(1))
        assert s1 == pytest.approx(float(act.d1(0.7)), rel=1e-6)
        assert s2 == pytest.approx(float(act.d2(0.7)), rel=1e-6)


def test_codes_are_distinct_and_known_to_the_kernels():
    codes = [a.code for a in ACTIVATIONS.values()]
    assert len(set(codes)) == len(codes)
    for code in codes:
        kernels.check_code(code)  # no error for a code of the table


def test_an_unknown_code_raises_in_every_kernel():
    bad = max(a.code for a in ACTIVATIONS.values()) + 1
    with pytest.raises(ValueError, match="unknown activation code"):
        kernels.check_code(bad)
    w, n, c = 3, 4, 8
    xi = np.zeros((3, n))
    W0, scale = np.ones((w, 3)), np.ones(3)
    z0, H = np.empty((w, n)), np.empty((w, c * n))
    with pytest.raises(ValueError, match="unknown activation code"):
        kernels.first_forward(W0, scale, z0, H, n, c, bad)
    Z = np.zeros((w, c * n))
    with pytest.raises(ValueError, match="unknown activation code"):
        kernels.hidden_forward(Z, H, n, c, bad)
    with pytest.raises(ValueError, match="unknown activation code"):
        kernels.hidden_backward(H, Z, H, n, c, bad, np.empty(w))
    with pytest.raises(ValueError, match="unknown activation code"):
        kernels.first_backward(H, z0, H, W0, scale, xi, n, c, bad, np.empty((w, 3)), np.empty(w))


def test_unknown_name_lists_the_table():
    with pytest.raises(InputError, match=r"activation: expected one of \['sin', 'tanh'\], found 'relu'"):
        get_activation("relu")
    assert get_activation("sin") is ACTIVATIONS["sin"]
