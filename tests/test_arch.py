"""Tests of pinnlite.core.arch: the layout table of the flat parameter vector against
offsets and shapes counted by hand, views that share its memory, Glorot
initialisation against the variance and bound of Glorot & Bengio (2010), seeds
and dtypes, the input normalisation against the unit box, the dictionary round
trip and the architecture arguments it rejects."""

import numpy as np
import pytest

from pinnlite.core.arch import Architecture, init_params
from pinnlite.errors import InputError


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
    arch = Architecture((5, 4))
    p = init_params(arch, 0)
    views = arch.layout.views(p)
    views["b1"][2] = 7.5
    assert p[40 + 2] == 7.5
    views["W1"][3, 1] = -2.5  # row-major: offset 20 + 3 * 5 + 1
    assert p[36] == -2.5
    arrays = arch.layout.unflatten(p)
    assert arrays[3][2] == 7.5 and arrays[2].shape == (4, 5)
    assert all(np.shares_memory(a, p) for a in arrays)


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
    arch = Architecture((7, 7))
    a = init_params(arch, 42)
    b = init_params(arch, np.random.default_rng(42))
    c = init_params(arch, 43)
    f = init_params(Architecture((7, 7), dtype="float32"), 42)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)
    assert f.dtype == np.float32
    np.testing.assert_array_equal(f, a.astype(np.float32))


def test_input_normalisation_maps_bounds_to_unit_box():
    arch = Architecture((3,), bounds=((2.0, 6.0), (-1.0, 0.0), (0.0, 10.0)))
    s, c = arch.input_transform()
    lo = np.array([2.0, -1.0, 0.0])
    hi = np.array([6.0, 0.0, 10.0])
    np.testing.assert_allclose(s * (lo - c), -1.0)
    np.testing.assert_allclose(s * (hi - c), 1.0)


def test_architecture_dict_round_trip():
    arch = Architecture((8, 9), "sin", ((0, 2), (1, 3), (0, 5)), (1e-3, 2e-3), "float32")
    assert Architecture.from_dict(arch.to_dict()) == arch


def test_unknown_activation():
    with pytest.raises(InputError, match="activation") as e:
        Architecture((4,), "relu")
    assert isinstance(e.value, ValueError)
    msg = str(e.value)
    assert "tanh" in msg and "relu" in msg
