"""Tests of pinnlite.simulate.phantoms (the bodies and their map reports) and of the map demo
around them: ``pinnlite demo --inclusion``, its summary and its plot of the maps."""

import json
import math

import numpy as np
import pytest

from pinnlite.cli import main
from pinnlite.errors import InputError
from pinnlite.simulate import phantoms


@pytest.fixture(scope="module")
def inclusion():
    return phantoms.make("inclusion", noise=0.01, seed=0)


def inner_nodes(data, margin):
    X, Y = np.meshgrid(data.truth_map_x, data.truth_map_y)
    keep = (X >= margin) & (X <= 16 - margin) & (Y >= margin) & (Y <= 16 - margin)
    return X[keep], Y[keep]


def test_the_inclusion_phantom_is_the_body_the_docs_describe(inclusion):
    data, ph = inclusion
    assert ph.lam == pytest.approx(2 * 0.49 / (1 - 2 * 0.49) * 3.0, rel=1e-12)  # 147 kPa, nu = 0.49
    assert (ph.rho, ph.mu_background, ph.mu_guess) == (1.0, 3.0, 4.5)
    assert data.domain == ((0.0, 16.0), (0.0, 16.0), (8.0, 25.0))
    # sensors every 1 mm (17 x 17) at frames every 1 ms from 8 to 25 ms
    assert data.sensor_points.shape == (17 * 17 * 18, 3)
    np.testing.assert_allclose(np.unique(data.sensor_points[:, 2]), 8.0 + np.arange(18), atol=1e-9)
    X, Y = np.meshgrid(data.truth_map_x, data.truth_map_y)
    np.testing.assert_array_equal(data.truth_map[1], np.where(np.hypot(X - 8.5, Y - 7.5) <= 3.0, 9.0, 3.0))
    np.testing.assert_allclose(data.truth_map[0], ph.lam, rtol=1e-15)
    # the same seed gives the same noise, another seed other noise of the same size
    again, _ = phantoms.make("inclusion", noise=0.01, seed=0)
    np.testing.assert_array_equal(again.sensor_values, data.sensor_values)
    clean, _ = phantoms.make("inclusion", noise=0.0)
    err = data.sensor_values - clean.sensor_values
    rms = math.sqrt(np.mean(clean.sensor_values**2))
    assert rms > 0
    assert abs(err.std() / (0.01 * rms) - 1) < 4 / math.sqrt(2 * err.size)


def test_report_of_the_true_map_is_exact(inclusion):
    data, ph = inclusion
    rep = phantoms.report(ph, data, lambda P: data.truth_at(P)["mu"])
    assert rep.l2 == 0.0
    assert rep.background == (3.0, 3.0)
    ((got, true), centre, off, radius, r), = rep.discs
    assert (got, true, r) == (9.0, 9.0, 3.0)
    assert off < 0.02  # the grid's nodes in the disc are symmetric about (8.5, 7.5) up to one node spacing 0.25
    X, Y = np.meshgrid(data.truth_map_x, data.truth_map_y)
    nodes = int((np.hypot(X - 8.5, Y - 7.5) <= 3.0).sum())
    assert radius == pytest.approx(math.sqrt(nodes * 0.25**2 / math.pi), rel=1e-12)  # the nodes' area, 0.25 mm grid
    assert radius == pytest.approx(3.0, abs=0.05)
    assert rep.layers == ()
    # the margin of one sensor spacing is left out: a map wrong only there is reported exact
    edge = lambda P: np.where((P.min(axis=1) < 0.9) | (P.max(axis=1) > 15.1), 50.0, data.truth_at(P)["mu"])  # noqa: E731
    rep = phantoms.report(ph, data, edge)
    assert rep.l2 == 0.0 and rep.background == (3.0, 3.0)


def test_report_of_a_uniform_map_and_of_a_shifted_disc(inclusion):
    data, ph = inclusion
    # a uniform map at the background: the error is all in the disc, counted node by node here
    X, Y = inner_nodes(data, ph.spacing)
    n_in = int((np.hypot(X - 8.5, Y - 7.5) <= 3.0).sum())
    n_out = X.size - n_in
    rep = phantoms.report(ph, data, lambda P: np.full(len(P), 3.0))
    assert rep.l2 == pytest.approx(math.sqrt(n_in * 36.0) / math.sqrt(n_in * 81.0 + n_out * 9.0), rel=1e-12)
    assert rep.discs[0][3] == 0.0 and math.isnan(rep.discs[0][1][0])  # nothing found, said so
    # a disc of radius 2 at (9.5, 7.0): found there, with that radius
    shifted = lambda P: np.where(np.hypot(P[:, 0] - 9.5, P[:, 1] - 7.0) <= 2.0, 8.0, 3.0)  # noqa: E731
    (_, true), centre, off, radius, _ = phantoms.report(ph, data, shifted).discs[0]
    assert centre == pytest.approx((9.5, 7.0), abs=0.02)
    assert off == pytest.approx(math.hypot(1.0, 0.5), abs=0.02)
    assert radius == pytest.approx(2.0, abs=0.06)


def test_the_plate_reports_its_layers():
    data, ph = phantoms.make("plate", noise=0.0)
    assert ph.discs == () and ph.units["time"] == "us"
    rep = phantoms.report(ph, data, lambda P: data.truth_at(P)["mu"])
    assert rep.layers == ((26.0, 26.0), (18.0, 18.0))
    flipped = phantoms.report(ph, data, lambda P: np.where(P[:, 1] < 8.25, 18.0, 26.0))
    assert flipped.layers == ((18.0, 26.0), (26.0, 18.0))


def test_an_unknown_phantom_is_named():
    with pytest.raises(InputError, match=r"^phantom: expected one of \('inclusion', 'soft', 'two', 'plate'\), "
                                         r"found 'disc'"):
        phantoms.make("disc")


def test_demo_inclusion_trains_a_map_reports_it_and_plots_it(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="the plot part needs the plot extra")
    out = tmp_path / "run"
    assert main(["demo", "--inclusion", "--epochs", "4", "--out", str(out), "-q", "--threads", "1"]) == 0
    text = capsys.readouterr().out
    assert "noise 1%" in text and "the map mu(x, y) from 4.5; fixed: lam = 147, rho = 1" in text
    summary = json.loads((out / "summary.json").read_text())
    mu = summary["maps"]["mu"]
    assert mu["min"] <= mu["mean"] <= mu["max"]
    assert f"(mean of the map, from {mu['min']:.4g} to {mu['max']:.4g})" in text
    assert "lam" not in summary["maps"] and "mu" not in summary.get("relative_error", {})
    # the printed report is phantoms.report of the trained map, recomputed here from the checkpoint
    from pinnlite import plotting
    from pinnlite.training.trainer import Trainer

    trainer = Trainer.load_checkpoint(out / "checkpoints")
    data, ph = phantoms.make("inclusion", noise=0.01, seed=0)
    rep = phantoms.report(ph, data, lambda P: trainer.material_maps(P)["mu"])
    assert f"mu map: relative L2 error {100 * rep.l2:.1f}%" in text
    assert f"background  mean {rep.background[0]:.4g} kPa" in text
    # the summary's resolution is the trainer's, recomputed from the checkpoint; the demo prints its median
    res = trainer.map_resolution(8)["mu"]
    np.testing.assert_allclose(np.array(mu["resolution"]["share"], float), res.share, rtol=1e-12)
    amb = res.ambiguity[np.isfinite(res.ambiguity)]
    assert mu["resolution"]["median_ambiguity"] == pytest.approx(np.median(amb), rel=1e-12)
    assert mu["resolution"]["undetermined_cells"] == int(np.sum(~(res.share >= 0.1)))
    shown = f"{100 * np.median(amb):.0f}%" if np.median(amb) >= 1 else f"{100 * np.median(amb):.2g}%"
    assert f"ambiguity {shown} per cell (median of 8 x 8, worst" in text
    # the plot's maps are the trained field, read from the run's files alone
    P = np.array([[1.0, 2.0], [8.5, 7.5], [15.0, 3.0]])
    loaded = plotting.Run(out)
    np.testing.assert_allclose(plotting.field_maps(loaded, P)["mu"], trainer.material_maps(P)["mu"], rtol=1e-12)
    fig = plotting.map_figure(loaded)
    panel = [ax for ax in fig.axes if ax.get_title() == "μ ambiguity per cell"]
    assert len(panel) == 1  # beside true, recovered and difference
    np.testing.assert_allclose(panel[0].collections[0].get_array().reshape(8, 8), 100 * res.ambiguity, rtol=1e-12)
    assert main(["plot", str(out), "-q"]) == 0
    png = out / "plots" / "maps.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_phantom_recorded_at_other_frames_and_spacing_is_the_same_wave_field():
    # the same body and source: sensors every 0.5 mm include the 1-mm ones, with the same values
    # (the grid and the time step do not depend on the spacing); frames every 0.5 ms fall at 8, 8.5, ..., 25
    clean, ph = phantoms.make("inclusion", noise=0.0)
    fine, fph = phantoms.make("inclusion", noise=0.0, spacing=0.5)
    assert fph.spacing == 0.5 and ph.spacing == 1.0
    assert fine.sensor_points.shape == (33 * 33 * 18, 3)
    index = {tuple(np.round(p, 9)): i for i, p in enumerate(fine.sensor_points)}
    rows = [index[tuple(np.round(p, 9))] for p in clean.sensor_points]
    np.testing.assert_array_equal(fine.sensor_values[rows], clean.sensor_values)
    dense, _ = phantoms.make("inclusion", noise=0.0, frame=0.5)
    np.testing.assert_allclose(np.unique(dense.sensor_points[:, 2]), 8.0 + 0.5 * np.arange(35), atol=1e-9)
    assert len(dense.sensor_points) == 17 * 17 * 35


@pytest.mark.parametrize("kwargs, field", [({"spacing": 0.3}, "spacing"), ({"spacing": 0.1}, "spacing"),
                                           ({"frame": 0.0}, "frame"), ({"frame": 30.0}, "frame")])
def test_a_recording_the_phantom_cannot_make_is_named(kwargs, field):
    with pytest.raises(InputError, match=rf"^{field}: expected"):
        phantoms.make("inclusion", noise=0.0, **kwargs)
