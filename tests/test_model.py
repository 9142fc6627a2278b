"""Architecture, flat layout, initialisation, the model class and the shipped gradient check."""

import numpy as np
import pytest
from conftest import random_points

from pinnlite.core.arch import Architecture, init_params
from pinnlite.training.model import ElasticPINN2D
from pinnlite.testing import check_grads


def test_layout_table_offsets_and_shapes():
    arch = Architecture((5, 4))
    table = [(e.name, e.offset, e.shape) for e in arch.layout.entries]
    assert table == [
        ("W0", 0, (5, 3)),
        ("b0", 15, (5,)),
        ("W1", 20, (4, 5)),
        ("b1", 40, (4,)),
        ("W2", 44, (2, 4)),
        ("b2", 52, (2,)),
    ]
    assert arch.n_params == 54


def test_views_share_memory_with_the_flat_vector():
    model = ElasticPINN2D([5, 4], rng=0)
    model.views()["b1"][2] = 7.5
    assert model.params[40 + 2] == 7.5
    W, b = model.layers()[1]
    assert W.shape == (4, 5) and b[2] == 7.5


def test_from_arrays_round_trip():
    model = ElasticPINN2D([6, 3], activation="sin", rng=1, output_scale=(2.0, 3.0))
    again = ElasticPINN2D.from_arrays(model.to_arrays(), activation="sin", output_scale=(2.0, 3.0))
    assert again.arch == model.arch
    np.testing.assert_array_equal(again.params, model.params)
    X = random_points(np.random.default_rng(0), 4, ((0, 1), (0, 1), (0, 1)))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


@pytest.mark.parametrize("init", ["glorot_normal", "glorot_uniform"])
def test_glorot_variance(init):
    arch = Architecture((400, 300))
    p = init_params(arch, np.random.default_rng(0), init)
    W1 = arch.layout.views(p)["W1"]
    target = 2.0 / (400 + 300)
    # 120000 samples: the sample variance is within a few percent of the target
    assert W1.var() == pytest.approx(target, rel=0.03)
    assert abs(W1.mean()) < 3 * np.sqrt(target / W1.size)
    if init == "glorot_uniform":
        assert np.abs(W1).max() <= np.sqrt(6.0 / 700)
    assert np.all(arch.layout.views(p)["b0"] == 0)


def test_seed_reproducible_and_dtype_independent():
    a = ElasticPINN2D([7, 7], rng=42)
    b = ElasticPINN2D([7, 7], rng=np.random.default_rng(42))
    c = ElasticPINN2D([7, 7], rng=43)
    f = ElasticPINN2D([7, 7], rng=42, dtype="float32")
    assert np.array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)
    assert f.params.dtype == np.float32
    np.testing.assert_array_equal(f.params, a.params.astype(np.float32))


def test_input_normalisation_maps_bounds_to_unit_box():
    arch = Architecture((3,), bounds=((2.0, 6.0), (-1.0, 0.0), (0.0, 10.0)))
    s, c = arch.input_transform()
    lo = np.array([2.0, -1.0, 0.0])
    hi = np.array([6.0, 0.0, 10.0])
    np.testing.assert_allclose(s * (lo - c), -1.0)
    np.testing.assert_allclose(s * (hi - c), 1.0)


def test_output_scale_multiplies_every_channel():
    base = ElasticPINN2D([5], rng=3)
    scaled = ElasticPINN2D.from_arch(
        Architecture((5,), output_scale=(2.0, 0.5)), base.params
    )
    X = random_points(np.random.default_rng(0), 6, ((0, 1), (0, 1), (0, 1)))
    np.testing.assert_allclose(scaled.derivatives(X), base.derivatives(X) * np.array([2.0, 0.5]), rtol=1e-14)


def test_architecture_dict_round_trip():
    arch = Architecture((8, 9), "sin", ((0, 2), (1, 3), (0, 5)), (1e-3, 2e-3), "float32")
    assert Architecture.from_dict(arch.to_dict()) == arch


def test_check_grads_accepts_a_true_gradient_and_rejects_a_wrong_one():
    A = np.array([[3.0, 1.0], [1.0, 2.0]])
    f = lambda x: 0.5 * x @ A @ x + np.sin(x[0])  # noqa: E731
    x = np.array([0.3, -0.7])
    g = A @ x + np.array([np.cos(x[0]), 0.0])
    assert check_grads(f, x, g, directions=5, coords=(0, 1)) < 1e-8
    wrong = g.copy()
    wrong[1] *= 1 + 1e-4
    with pytest.raises(AssertionError, match="coordinate 1") as e:
        check_grads(f, x, wrong, directions=0, coords=(0, 1))
    # both numbers appear in the message
    assert repr(float(wrong[1])) in str(e.value)
