"""How well the equation pins a map down (pinnlite.training.resolution): the residual's derivative
in the material against finite differences, the shares of exact plane waves against their
closed forms, the ambiguity of a uniformly wrong map against the error it was given, the cells,
and a trained run's figures against channels taken by finite differences of its own prediction."""

import dataclasses
import warnings

import numpy as np
import pytest

from pinnlite import engine
from pinnlite.engine import physics
from pinnlite.errors import InputError
from pinnlite.training import resolution
from pinnlite.training.problems import plane_waves
from pinnlite.training.trainer import Trainer
from test_field_training import config

LAM, MU, RHO = 2.5, 0.8, 1.3
BOUNDS, TIMES = ((0.0, 2.0), (-1.0, 1.0)), (0.0, 0.5)


def constant(X, lam, mu):
    """The maps of a uniform body: (n, 3) [p, 0, 0] each."""
    return {name: np.column_stack([np.full(len(X), p), np.zeros(len(X)), np.zeros(len(X))])
            for name, p in (("lam", lam), ("mu", mu))}


def waves(X):
    """A P and an S wave in different directions: every channel of both components non-zero."""
    return (physics.plane_wave(X, "P", LAM, MU, RHO, 1.0, (0.6, 0.8), 3.0)
            + physics.plane_wave(X, "S", LAM, MU, RHO, 0.7, (-0.3, 1.0), 4.0, 0.4))


def test_the_derivative_in_the_material_is_the_residual_s_slope():
    rng = np.random.default_rng(0)
    C = rng.standard_normal((8, 50, 2))
    h = 1e-3  # the residual is linear in lam and mu: central differences are exact to rounding
    for name, lam_mu in (("lam", (h, 0.0)), ("mu", (0.0, h))):
        up = physics.residual(C, LAM + lam_mu[0], MU + lam_mu[1], RHO)
        down = physics.residual(C, LAM - lam_mu[0], MU - lam_mu[1], RHO)
        np.testing.assert_allclose(physics.material_sensitivity(C, name), (up - down) / (2 * h), rtol=1e-9, atol=1e-10)
    # lam dr/dlam + mu dr/dmu = -div sigma for a constant material
    np.testing.assert_allclose(LAM * physics.material_sensitivity(C, "lam") + MU * physics.material_sensitivity(C, "mu"),
                               physics.residual(C, LAM, MU, 0.0), rtol=1e-12, atol=1e-12)
    with pytest.raises(InputError, match="name: expected 'lam' or 'mu', found 'rho'"):
        physics.material_sensitivity(C, "rho")


@pytest.mark.parametrize("kind, direction", [("P", (1.0, 0.0)), ("P", (0.6, -0.8)), ("S", (0.0, 1.0)), ("S", (1.0, 1.0))])
def test_the_shares_of_a_plane_wave_are_its_moduli_s_parts(kind, direction):
    X, xe, ye = resolution.grid_points(BOUNDS, TIMES, cells=(3, 2), per_cell=3, n_times=5)
    C = physics.plane_wave(X, kind, LAM, MU, RHO, 1.0, direction, 2.5)
    r = physics.residual(C, LAM, MU, RHO)
    res = resolution.region_resolution(C, constant(X, LAM, MU), r, resolution.cell_of(X, xe, ye), xe, ye, ("lam", "mu"))
    want = {"lam": LAM / (LAM + 2 * MU), "mu": 2 * MU / (LAM + 2 * MU)} if kind == "P" else {"lam": 0.0, "mu": 1.0}
    for name in ("lam", "mu"):
        assert res[name].share.shape == (2, 3)
        np.testing.assert_allclose(res[name].share, want[name], atol=1e-7)
    # the exact wave leaves no residual: no change of mu is hidden by it; lam has no say in a shear wave
    assert np.all(res["mu"].ambiguity < 1e-7)
    if kind == "S":
        assert np.all(res["lam"].ambiguity > 1.0)


@pytest.mark.parametrize("error", [0.2, -0.1, 0.03])
def test_a_uniformly_wrong_map_is_ambiguous_by_its_error(error):
    X, xe, ye = resolution.grid_points(BOUNDS, TIMES, cells=4, per_cell=2, n_times=6)
    C = waves(X)
    wrong = MU * (1 + error)
    r = physics.residual(C, LAM, wrong, RHO)  # the true field under the wrong mu
    res = resolution.region_resolution(C, constant(X, LAM, wrong), r, resolution.cell_of(X, xe, ye), xe, ye, ("mu",))
    np.testing.assert_allclose(res["mu"].ambiguity, abs(error) / (1 + error), rtol=1e-9)
    np.testing.assert_array_equal(res["mu"].points, np.full((4, 4), 2 * 2 * 6))


def test_a_region_without_motion_is_undetermined_and_a_region_without_points_is_unknown():
    X, xe, ye = resolution.grid_points(BOUNDS, TIMES, cells=(2, 2), per_cell=2, n_times=3)
    C = waves(X)
    cell = resolution.cell_of(X, xe, ye)
    C[:, cell == 3] = 0.0  # the top right cell does not move
    r = physics.residual(C, LAM, MU, RHO) + 1e-3  # some residual everywhere
    cell[cell == 0] = -1  # the bottom left cell loses its points
    res = resolution.region_resolution(C, constant(X, LAM, MU), r, cell, xe, ye, ("mu",))["mu"]
    assert np.isnan(res.share[0, 0]) and np.isnan(res.ambiguity[0, 0]) and res.points[0, 0] == 0
    assert np.isnan(res.share[1, 1]) and res.ambiguity[1, 1] == np.inf
    assert np.all(np.isfinite(res.ambiguity[[0, 1], [1, 0]]))


def test_cells_hold_their_edges_and_nothing_outside():
    xe, ye = resolution.edges(BOUNDS, (4, 2))
    np.testing.assert_allclose(xe, [0.0, 0.5, 1.0, 1.5, 2.0])
    np.testing.assert_allclose(ye, [-1.0, 0.0, 1.0])
    X = np.array([[0.0, -1.0], [2.0, 1.0], [0.5, 0.0], [0.49, -0.01], [2.01, 0.0], [1.0, -1.2]])
    np.testing.assert_array_equal(resolution.cell_of(X, xe, ye), [0, 7, 5, 0, -1, -1])
    X, xe, ye = resolution.grid_points(BOUNDS, TIMES, cells=(4, 2), per_cell=3, n_times=2)
    assert X.shape == (4 * 2 * 9 * 2, 3)
    np.testing.assert_array_equal(np.bincount(resolution.cell_of(X, xe, ye)), np.full(8, 18))
    assert np.all((X[:, 2] > 0.0) & (X[:, 2] < 0.5))
    with pytest.raises(InputError, match=r"cells\[y\]"):
        resolution.grid_points(BOUNDS, TIMES, cells=(2, 0))
    with pytest.raises(InputError, match=r"times\[t\]"):
        resolution.grid_points(BOUNDS, (1.0, 0.0))


def _fd_channels(model, X, h=1e-3):
    """Channels (8, n, 2) of the model's prediction by central differences (an independent route)."""
    def at(dx=0.0, dy=0.0, dt=0.0):
        return model.predict(X + np.array([dx, dy, dt]))
    C = np.empty((8,) + (len(X), 2))
    C[0] = at()
    for k, d in enumerate(np.eye(3) * h):
        C[1 + k] = (at(*d) - at(*-d)) / (2 * h)
        C[4 + k] = (at(*d) - 2 * C[0] + at(*-d)) / h ** 2
    C[7] = (at(h, h) - at(h, -h) - at(-h, h) + at(-h, -h)) / (4 * h * h)
    return C


def test_a_run_reports_the_figures_of_its_own_fitted_field():
    data = plane_waves(2.0, 1.0, 1.0, n_sensors=150, rng=0)[0]
    t = Trainer(None, config(**{"material.optimize_lam": False, "training.epochs": 6}), progress=False)
    t.train(data)
    got = t.map_resolution(cells=3, per_cell=2, n_times=4)
    assert set(got) == {"mu"}
    X, xe, ye = resolution.grid_points(t.field_arch.bounds, data.domain[2], 3, 2, 4)
    C = _fd_channels(t.model, X)
    mu = t.material_maps(X[:, :2])["mu"]
    h = 1e-5
    mu_x = (t.material_maps(X[:, :2] + [h, 0.0])["mu"] - t.material_maps(X[:, :2] - [h, 0.0])["mu"]) / (2 * h)
    mu_y = (t.material_maps(X[:, :2] + [0.0, h])["mu"] - t.material_maps(X[:, :2] - [0.0, h])["mu"]) / (2 * h)
    lam = t.material_values()["lam"]
    maps = {"lam": np.column_stack([np.full(len(X), lam), np.zeros(len(X)), np.zeros(len(X))]),
            "mu": np.column_stack([mu, mu_x, mu_y])}
    r = physics.residual_divergence(C, maps["lam"], maps["mu"], 1.0)
    want = resolution.region_resolution(C, maps, r, resolution.cell_of(X, xe, ye), xe, ye, ("mu",))["mu"]
    np.testing.assert_allclose(got["mu"].share, want.share, rtol=1e-4)
    np.testing.assert_allclose(got["mu"].ambiguity, want.ambiguity, rtol=1e-4)
    np.testing.assert_array_equal(got["mu"].points, np.full((3, 3), 16))
    constant_run = Trainer(None, config(**{"material.field": "constant", "training.epochs": 1}), progress=False)
    constant_run.train(data)
    assert constant_run.map_resolution() == {}


def test_the_printed_line_names_the_undetermined_cells_and_an_unbounded_worst():
    from pinnlite.cli.run import resolution_line

    res = {"x_edges": [0, 1, 2], "y_edges": [0, 1, 2, 3], "median_ambiguity": 0.042, "max_ambiguity": None,
           "undetermined_cells": 3}
    text = resolution_line("lam", res)
    assert "ambiguity 4.2% per cell (median of 2 x 3, worst unbounded): a change of lam that large" in text
    assert ";\n       3 cells undetermined (lam carries under 0.1 of their force balance)" in text
    assert "ambiguity 1500% per cell" in resolution_line("lam", dict(res, median_ambiguity=15.0))
    assert "undetermined" not in resolution_line("lam", dict(res, undetermined_cells=0))


def test_explicit_collocation_with_a_body_force_is_used_as_it_is():
    data = plane_waves(2.0, 1.0, 1.0, n_sensors=150, rng=0)[0]
    rng = np.random.default_rng(1)
    (x0, x1), (y0, y1), (t0, t1) = data.domain
    P = np.column_stack([rng.uniform(x0, x1, 80), rng.uniform(y0, y1, 80), rng.uniform(t0, t1, 80)])
    t = Trainer(None, config(**{"material.optimize_lam": False, "training.epochs": 3}), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # three epochs do not fit the data (FitWarning): the state is all we need
        t.train(dataclasses.replace(data, collocation=P, body_force=np.zeros((80, 2))))
    r = t.map_resolution(cells=2)["mu"]
    ix, iy = (P[:, 0] >= (x0 + x1) / 2).astype(int), (P[:, 1] >= (y0 + y1) / 2).astype(int)
    np.testing.assert_array_equal(r.points.ravel(), np.bincount(iy * 2 + ix, minlength=4))
    # the residual left includes the force: a force equal to the residual leaves none, and no ambiguity
    assert np.all(np.isfinite(r.ambiguity)) and np.all(r.ambiguity > 0)
    full = engine.material_maps(t.objective.field(t.state.x), P, t.objective.material(t.state.x))
    left = physics.residual_divergence(t.model.derivatives(P), full["lam"], full["mu"], 1.0)
    t.data = dataclasses.replace(t.data, body_force=left)
    assert np.all(t.map_resolution(cells=2)["mu"].ambiguity < 1e-6)


def test_the_summary_of_a_run_with_non_finite_weights_leaves_the_resolution_out():
    from pinnlite.training import rundir

    data = plane_waves(2.0, 1.0, 1.0, n_sensors=150, rng=0)[0]
    t = Trainer(None, config(**{"material.optimize_lam": False, "training.epochs": 2}), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # two epochs do not fit the data: only the state matters
        t.train(data)
    assert set(rundir.map_summary(t)["mu"]["resolution"]) >= {"share", "ambiguity", "median_ambiguity"}
    x = t.state.x.copy()
    x[0] = np.nan  # a diverged run: the summary of its failure must still be written
    t.state = dataclasses.replace(t.state, x=x)
    summary = rundir.map_summary(t)["mu"]
    assert "resolution" not in summary and set(summary) >= {"mean", "min", "max"}
