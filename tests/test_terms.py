"""Tests of pinnlite.engine.terms and the checks the loss makes on its input: bad
point sets (shapes, companions without points, non-finite values, empty sets
with a non-zero weight, dtypes, non-unit normals, no points at all), bad
material parameters, bad loss weights and bad parameter vectors given to
``loss_and_grad``. Each error must be an InputError (a ValueError) whose message
names the argument and, where checked here, what was expected and what was found."""

import dataclasses

import numpy as np
import pytest
from conftest import random_model, random_problem

from pinnlite import engine
from pinnlite.errors import InputError
from pinnlite.engine.terms import LossWeights, Material, PointSets


@pytest.fixture
def setup():
    rng = np.random.default_rng(0)
    arch, p = random_model(rng)
    return arch, p, random_problem(rng), Material(2.0, 1.0, 1.0)


def raises(match, fn, *a, **k):
    with pytest.raises(InputError, match=match) as e:
        fn(*a, **k)
    assert isinstance(e.value, ValueError)
    return str(e.value)


def replace(P, **kw):
    return dataclasses.replace(P, **kw)


def test_wrong_point_shapes(setup):
    arch, p, P, m = setup
    msg = raises("collocation", engine.loss_and_grad, p, arch, replace(P, collocation=P.collocation[:, :2], body_force=None), m)
    assert "(n, 3)" in msg and "(7, 2)" in msg
    msg = raises("data_values", engine.loss_and_grad, p, arch, replace(P, data_values=P.data_values[:-1]), m)
    assert "(6, 2)" in msg and "(5, 2)" in msg
    raises("boundary", engine.loss_and_grad, p, arch, replace(P, boundary=P.boundary.ravel()), m)
    raises("traction_normals", engine.loss_and_grad, p, arch, replace(P, traction_normals=None), m)
    raises("body_force", engine.loss_and_grad, p, arch, replace(P, body_force=np.zeros((3, 2))), m)


def test_companion_without_points(setup):
    arch, p, P, m = setup
    raises("data_values", engine.loss_and_grad, p, arch, replace(P, data=None), m)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_points_and_targets(setup, bad):
    arch, p, P, m = setup
    X = P.initial.copy()
    X[1, 2] = bad
    msg = raises("initial", engine.loss_and_grad, p, arch, replace(P, initial=X), m)
    assert "row 1" in msg and "column 2" in msg
    g = P.traction_values.copy()
    g[0, 0] = bad
    raises("traction_values", engine.loss_and_grad, p, arch, replace(P, traction_values=g), m)


def test_non_finite_params(setup):
    arch, p, P, m = setup
    q = p.copy()
    q[-1] = np.nan
    msg = raises("params", engine.loss_and_grad, q, arch, P, m)
    assert "b3" in msg


@pytest.mark.parametrize(
    "kw,name",
    [
        (dict(lam=2.0, mu=0.0), "mu"),
        (dict(lam=2.0, mu=-1.0), "mu"),
        (dict(lam=2.0, mu=1.0, rho=0.0), "rho"),
        (dict(lam=-2.5, mu=1.0), "lam"),
        (dict(lam=float("nan"), mu=1.0), "lam"),
        (dict(lam=2.0, mu=1.0, optimize_mu="yes"), "optimize_mu"),
    ],
)
def test_bad_material(kw, name):
    msg = raises(name, Material, **kw)
    assert "found" in msg


def test_lambda_may_be_negative_when_p_speed_is_real():
    assert Material(lam=-0.5, mu=1.0).lam == -0.5


def test_empty_points_with_nonzero_weight(setup):
    arch, p, P, m = setup
    empty = replace(P, data=np.zeros((0, 3)), data_values=np.zeros((0, 2)))
    msg = raises("data", engine.loss_and_grad, p, arch, empty, m)
    assert "weights.data" in msg
    # with the weight at zero the empty set is allowed and reported as absent
    res = engine.loss_and_grad(p, arch, empty, m, LossWeights(data=0.0))
    assert "data" not in res.terms


def test_mismatched_dtypes(setup):
    arch, p, P, m = setup
    msg = raises("params", engine.loss_and_grad, p.astype(np.float32), arch, P, m)
    assert "float64" in msg and "float32" in msg
    msg = raises("collocation", engine.loss_and_grad, p, arch, replace(P, collocation=P.collocation.astype(np.float32)), m)
    assert "float32" in msg
    raises("boundary_values", engine.loss_and_grad, p, arch, replace(P, boundary_values=P.boundary_values.astype(int)), m)


def test_params_wrong_size_and_list_shapes(setup):
    arch, p, P, m = setup
    msg = raises("params", engine.loss_and_grad, p[:-1], arch, P, m)
    assert str(p.size) in msg
    arrays = arch.layout.unflatten(p)
    arrays[2] = arrays[2].T.copy()
    msg = raises(r"params\[W1\]", engine.loss_and_grad, arrays, arch, P, m)
    assert "(5, 6)" in msg


def test_bad_weights(setup):
    arch, p, P, m = setup
    raises("weights.pde", engine.loss_and_grad, p, arch, P, m, {"pde": -1.0})
    raises("unknown", engine.loss_and_grad, p, arch, P, m, {"pdf": 1.0})


def test_non_unit_normals(setup):
    arch, p, P, m = setup
    raises("traction_normals", engine.loss_and_grad, p, arch, replace(P, traction_normals=2 * P.traction_normals), m)


def test_no_points_at_all(setup):
    arch, p, _, m = setup
    raises("points", engine.loss_and_grad, p, arch, PointSets(), m)
