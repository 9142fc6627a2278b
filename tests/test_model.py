"""Tests of pinnlite.training.model (ElasticPINN2D): views and layers that share the
model's flat parameters, the round trip through plain arrays, the seed and dtype
handed to the initialisation of pinnlite.core.arch, the output scale against the
unscaled model's derivatives, and the bad constructor and ``predict`` arguments
it rejects."""

import numpy as np
import pytest
from conftest import random_points

from pinnlite.core.arch import Architecture, init_params
from pinnlite.errors import InputError
from pinnlite.io import checkpoint
from pinnlite.training.model import ElasticPINN2D


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


def test_seed_and_dtype_reach_the_initialisation():
    a = ElasticPINN2D([7, 7], rng=42)
    b = ElasticPINN2D([7, 7], rng=np.random.default_rng(42))
    c = ElasticPINN2D([7, 7], rng=43)
    f = ElasticPINN2D([7, 7], rng=42, dtype="float32")
    assert a.params.tobytes() == init_params(Architecture((7, 7)), 42).tobytes()
    assert np.array_equal(a.params, b.params)
    assert not np.array_equal(a.params, c.params)
    assert f.params.dtype == np.float32
    np.testing.assert_array_equal(f.params, a.params.astype(np.float32))


def test_output_scale_multiplies_every_channel():
    base = ElasticPINN2D([5], rng=3)
    scaled = ElasticPINN2D.from_arch(
        Architecture((5,), output_scale=(2.0, 0.5)), base.params
    )
    X = random_points(np.random.default_rng(0), 6, ((0, 1), (0, 1), (0, 1)))
    np.testing.assert_allclose(scaled.derivatives(X), base.derivatives(X) * np.array([2.0, 0.5]), rtol=1e-14)


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kw,name",
    [
        (dict(hidden=[]), "hidden"),
        (dict(hidden=[4, 0]), "hidden"),
        (dict(hidden=[4, 2.5]), "hidden"),
        (dict(bounds=((0, 1), (1, 1), (0, 1))), "bounds"),
        (dict(bounds=((0, 1), (0, 1))), "bounds"),
        (dict(output_scale=-1.0), "output_scale"),
        (dict(dtype="float16"), "dtype"),
        (dict(hidden=8), r"^hidden: expected a non-empty list of integers >= 1, found 8"),  # was tuple()'s TypeError
        (dict(hidden=None), r"^hidden: expected a non-empty list"),
        (dict(hidden="auto"), r"^hidden: .*found 'auto'"),  # was found ['a', 'u', 't', 'o']
    ],
)
def test_bad_architecture(kw, name):
    args = dict(hidden=[4], activation="tanh", bounds=((0, 1), (0, 1), (0, 1)), output_scale=1.0, dtype="float64")
    args.update(kw)
    with pytest.raises(InputError, match=name) as e:
        ElasticPINN2D(**args)
    assert isinstance(e.value, ValueError)


def test_the_default_output_scale_fits_a_pressure_output_too():
    """The default 1.0 was refused with pressure=True (p's scale is a stress: three numbers)."""
    assert ElasticPINN2D([4], rng=0).arch.output_scale == (1.0, 1.0)
    assert ElasticPINN2D([4], pressure=True, rng=0).arch.output_scale == (1.0, 1.0, 1.0)
    with pytest.raises(InputError, match=r"^output_scale: expected three positive numbers \(u, v, p\)"):
        ElasticPINN2D([4], output_scale=2.0, pressure=True)


def test_predict_rejects_wrong_dtype_without_casting():
    model = ElasticPINN2D([4], dtype="float32", rng=0)
    X = random_points(np.random.default_rng(1), 3)
    with pytest.raises(InputError, match="points") as e:
        model.predict(X)
    assert isinstance(e.value, ValueError)
    msg = str(e.value)
    assert "float32" in msg and "float64" in msg


def test_save_checks_the_material_it_stores(tmp_path):
    """material={'lam': -1} was written as it was, a string raised an AttributeError."""
    model = ElasticPINN2D([4], rng=0)
    for bad, match in (({"lam": -1}, r"^material.lam: expected a finite real number > 0, found -1.0"),
                       ("x", r"^material: expected None, a Material or a dict of lam, mu, rho, found 'x'"),
                       ({"lamb": 1.0}, r"^material: expected None, a Material or a dict of lam, mu, rho")):
        with pytest.raises(InputError, match=match):
            model.save(tmp_path / "m.pinnlite", material=bad)
    assert not (tmp_path / "m.pinnlite").exists()
    model.save(tmp_path / "m.pinnlite", material={"lam": 2, "mu": 1.0})
    assert checkpoint.read(tmp_path / "m.pinnlite")["material"] == {"lam": 2.0, "mu": 1.0}
