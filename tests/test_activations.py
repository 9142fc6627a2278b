"""The activation table against calculus, and the kernels' rules against the table.

The table (``pinnlite.core.activations``) is the single source of sigma and its
derivatives: its derivative columns are checked against finite differences of
its own sigma, and the Numba kernels' per-element rules (``sigma``, the kernels'
own tanh among them; ``jet`` on the way forward, ``jet_back`` on the way back,
both given h = sigma(z)) against the table on a grid that covers both signs,
zero and the saturated tails.
"""

import numpy as np
import pytest

from pinnlite import ElasticPINN2D
from pinnlite.core.activations import ACTIVATIONS, get_activation
from pinnlite.engine import kernels, loss, tile_kernels
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
    model = ElasticPINN2D([w, w])
    buf = loss._Buffers(model.arch, 64)
    args = (buf.gemm, model.params, buf.layers, xi, scale, buf.flat, buf.regions, n, c, bad)
    with pytest.raises(ValueError, match="unknown activation code"):
        tile_kernels.forward(*args)
    with pytest.raises(ValueError, match="unknown activation code"):
        tile_kernels.backward(*args, np.empty_like(model.params), np.empty_like(model.params), False)


def test_unknown_name_lists_the_table():
    with pytest.raises(InputError, match=r"activation: expected one of \['sin', 'tanh'\], found 'relu'"):
        get_activation("relu")
    assert get_activation("sin") is ACTIVATIONS["sin"]


def _ulps(values, reference):
    """|values - reference| in units in the last place of the float64 reference."""
    ref64 = reference.astype(np.float64)
    return np.abs((values - reference).astype(np.float64)) / np.spacing(np.abs(ref64))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_kernel_sigma_matches_the_table(name):
    # the engine's own sigma of the value channel (kernels.activate) against the table's NumPy
    # function: within a few ulp on both signs, zero, tiny values and the saturated tails
    act = ACTIVATIONS[name]
    z = np.concatenate([np.geomspace(1e-12, 30.0, 20001), -np.geomspace(1e-12, 30.0, 20001), GRID])[None, :]
    h = np.empty_like(z)
    kernels.activate(act.code, z, h, z.shape[1])
    assert np.max(_ulps(h, act.sigma(z))) <= 4.5


def test_kernel_tanh_against_long_double():
    # tanh by range reduction and a polynomial (kernels.tanh): 3.3 ulp at most against tanh in
    # extended precision (where long double is wider than double), and the special values exact
    z = np.concatenate([np.geomspace(1e-10, 25.0, 200001), -np.geomspace(1e-10, 25.0, 200001)])[None, :]
    h = np.empty_like(z)
    kernels.activate(ACTIVATIONS["tanh"].code, z, h, z.shape[1])
    assert np.max(_ulps(h, np.tanh(z.astype(np.longdouble)))) <= 3.5
    special = np.array([[0.0, -0.0, np.inf, -np.inf, 19.1, -19.1, 40.0, 1e300, 5e-324, -5e-324, np.nan]])
    out = np.empty_like(special)
    kernels.activate(ACTIVATIONS["tanh"].code, special, out, special.shape[1])
    np.testing.assert_array_equal(out[0, :10], [0.0, -0.0, 1.0, -1.0, 1.0, -1.0, 1.0, 1.0, 5e-324, -5e-324])
    assert np.signbit(out[0, 1]) and not np.signbit(out[0, 0])
    assert np.isnan(out[0, 10])
