"""Tests of pinnlite.plotting: every plot of a run writes a file, and its axes carry the labels,
units, scales and data a scientist expects, read back from the matplotlib Figure objects
(the Adam to L-BFGS switch, the dimensionless loss axis, the relative errors on a log scale,
predicted and exact fields on one colour scale, a diverging error map centred on zero, the
sensors near each time, panels that keep a non-square domain's aspect)."""

import json
import os
import shutil

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="the plots need matplotlib, the optional 'plot' extra")

import matplotlib.pyplot as plt  # noqa: E402

from pinnlite.cli import main  # noqa: E402
from pinnlite.errors import InputError  # noqa: E402
from pinnlite.plotting import Run, field_figure, loss_figure, material_figure, plot_run  # noqa: E402
from pinnlite.training.problems import DEFAULT_WAVES, ExactField, plane_waves  # noqa: E402

DOMAIN = ((0.0, 4.0), (-0.5, 0.5), (0.0, 2.0))  # four times wider than high
TRUTH = (2.0, 1.0, 1.0)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A short run with validation sensors, units and an L-BFGS switch after epoch 3, on a wide
    domain, whose summary names its plane waves (as the demo's does)."""
    root = tmp_path_factory.mktemp("plots")
    data, _ = plane_waves(*TRUTH, domain=DOMAIN, n_sensors=300, rng=4)
    data.save_npz(root / "data.npz")
    (root / "run.toml").write_text(
        "[architecture]\nhidden = [10, 10]\n"
        "[training]\nepochs = 6\nvalidation_fraction = 0.2\nthreads = 1\n"
        "[optimizer]\nlr = 0.003\nswitch_after = 3\nsecond_order = \"lbfgs\"\n"
        "[loss_weights]\npde = 0.01\n"
        "[material]\nlam = 3.0\nmu = 0.7\n"
        "[sampling]\nn_collocation = 60\n"
        '[units]\nlength = "mm"\ntime = "us"\ndisplacement = "nm"\nmodulus = "GPa"\ndensity = "g/cm^3"\n')
    out = root / "run"
    assert main(["train", str(root / "run.toml"), "--data", str(root / "data.npz"), "--out", str(out), "-q"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    summary["problem"] = {"kind": "plane_waves", "waves": [dict(w.__dict__) for w in DEFAULT_WAVES],
                          "truth": dict(zip(("lam", "mu", "rho"), TRUTH))}
    (out / "summary.json").write_text(json.dumps(summary))
    return out


@pytest.fixture
def run(run_dir):
    yield Run(run_dir)
    plt.close("all")


def legend_texts(ax):
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend is not None else []


def line(ax, label):
    found = [ln for ln in ax.get_lines() if ln.get_label() == label]
    assert len(found) == 1, [ln.get_label() for ln in ax.get_lines()]
    return found[0]


def assert_switch_marked(ax):
    switch = line(ax, "Adam → L-BFGS (after epoch 3)")
    assert list(switch.get_xdata()) == [3.5, 3.5] and switch.get_linestyle() == "--"


def test_loss_plot_keeps_the_dimensionless_terms_apart_from_the_misfit_in_units(run):
    fig = loss_figure(run)
    left, right = fig.axes[:2]
    assert left.get_xlabel() == "epoch" and left.get_ylabel() == "loss (dimensionless)"
    assert left.get_title() == "Loss terms, each divided by its scale" and left.get_yscale() == "log"
    assert legend_texts(left)[:3] == ["total (weighted sum, optimised)", "pde / its scale (weight 0.01)",
                                     "data / its scale"]
    np.testing.assert_array_equal(line(left, "total (weighted sum, optimised)").get_ydata(), run.metrics["loss"])
    # the data term over U^2, U the RMS of every sensor value (derived by hand here)
    U2 = np.mean(run.data.sensor_values ** 2)
    np.testing.assert_allclose(line(left, "data / its scale").get_ydata(), run.metrics["data"] / U2, rtol=1e-12)
    assert_switch_marked(left)
    assert right.get_ylabel() == "mean squared displacement misfit [nm²]" and right.get_yscale() == "log"
    np.testing.assert_array_equal(line(right, "validation sensors (held out)").get_ydata(), run.metrics["validation"])
    np.testing.assert_array_equal(line(right, "training sensors").get_ydata(), run.metrics["data"])
    assert_switch_marked(right)


def test_material_plot_has_greek_titles_units_truth_and_log_relative_errors(run):
    fig = material_figure(run)
    lam, mu, err = fig.axes[:3]
    assert lam.get_title() == "λ (first Lamé parameter)" and lam.get_ylabel() == "λ [GPa]"
    assert mu.get_title() == "μ (shear modulus)" and mu.get_ylabel() == "μ [GPa]"
    assert "truth 2 GPa" in legend_texts(lam) and "truth 1 GPa" in legend_texts(mu)
    for ax in (lam, mu, err):
        assert ax.get_xlabel() == "epoch"
        assert_switch_marked(ax)
    assert err.get_yscale() == "log" and err.get_ylabel() == "relative error |p / p_true − 1|"
    assert err.get_title() == "Relative error of λ, μ"
    np.testing.assert_allclose(line(err, "λ").get_ydata(), np.abs(run.metrics["lam"] / 2.0 - 1), rtol=1e-12)
    np.testing.assert_allclose(line(err, "μ").get_ydata(), np.abs(run.metrics["mu"] / 1.0 - 1), rtol=1e-12)


def test_a_true_value_of_zero_has_no_relative_error_panel_line(run):
    # lam may be 0 in a solid (lam + mu > 0); an error relative to 0 is not drawn
    import dataclasses

    run.data = dataclasses.replace(run.data, truth=(0.0, 1.0, 1.0))
    fig = material_figure(run)
    err = fig.axes[2]
    assert err.get_title() == "Relative error of μ"
    drawn = [ln.get_label() for ln in err.get_lines()]
    assert "μ" in drawn and "λ" not in drawn


def images(ax):
    (mesh,) = ax.collections[:1]
    return mesh


def test_field_plot_shares_one_scale_centres_the_error_and_shows_the_sensors(run):
    times = [0.0, 0.8, 2.0]
    fig = field_figure(run, 0, times)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 9  # three times, predicted / exact / error
    exact = ExactField(DEFAULT_WAVES, *TRUTH)
    half = 2.0 / (2 * 3)
    limits = set()
    for r, t in enumerate(times):
        pred_ax, exact_ax, err_ax = panels[3 * r: 3 * r + 3]
        for ax, what in ((pred_ax, "predicted"), (exact_ax, "exact"), (err_ax, "error (predicted − exact)")):
            assert ax.get_title() == f"u_x {what}, t = {t:.3g} us"
            assert ax.get_xlabel() == "x [mm]" and ax.get_ylabel() == "y [mm]"
            assert ax.get_aspect() == 1.0
        p, e, d = images(pred_ax), images(exact_ax), images(err_ax)
        limits.add((p.norm.vmin, p.norm.vmax))
        assert (p.norm.vmin, p.norm.vmax) == (e.norm.vmin, e.norm.vmax) and p.norm.vmin == -p.norm.vmax
        assert p.get_cmap().name == "RdBu_r"
        assert d.norm.vmin == -d.norm.vmax and d.get_cmap().name == "PuOr_r"  # diverging, centred on zero
        # the exact panel is the exact field on the plotted grid, the error the difference
        X, Y = np.meshgrid(np.linspace(0, 4, 90), np.linspace(-0.5, 0.5, e.get_array().shape[0]), indexing="xy")
        P = np.stack([X.ravel(), Y.ravel(), np.full(X.size, t)], axis=1)
        np.testing.assert_allclose(np.asarray(e.get_array()).ravel(), exact(P)[:, 0], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(np.asarray(d.get_array()), np.asarray(p.get_array()) - np.asarray(e.get_array()),
                                   atol=1e-12)
        # the sensors within half a slice of t, on the predicted and error panels
        near = run.data.sensor_points[np.abs(run.data.sensor_points[:, 2] - t) <= half]
        for ax in (pred_ax, err_ax):
            dots = ax.collections[1].get_offsets()
            np.testing.assert_array_equal(np.asarray(dots), near[:, :2])
        assert len(exact_ax.collections) == 1
    assert len(limits) == 1  # one colour scale for every time
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert [b.get_xlabel() for b in bars] == ["u_x, predicted and exact (one scale) [nm]", bars[1].get_xlabel()]
    assert bars[1].get_xlabel().startswith("u_x error [nm]")
    # a wide domain gives wide panels
    bbox = panels[0].get_position()
    w, h = bbox.width * fig.get_figwidth(), bbox.height * fig.get_figheight()
    assert w / h == pytest.approx(4.0, rel=0.05)


def test_measured_data_get_their_misfit_at_the_sensors_beside_the_prediction(run_dir, tmp_path):
    """No exact field (a run on measurements): the second column is measured minus predicted at the sensors
    within half a slice of each time, on one centred scale, the nearest in time drawn last."""
    import shutil

    from pinnlite.io.checkpoint import predict

    measured = tmp_path / "run"
    shutil.copytree(run_dir, measured)
    summary = json.loads((measured / "summary.json").read_text())
    summary.pop("problem")
    (measured / "summary.json").write_text(json.dumps(summary))
    run = Run(measured)
    assert run.exact() is None
    times = [0.0, 1.1]
    fig = field_figure(run, 1, times)
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    assert len(panels) == 4  # two times, predicted / misfit
    P, V = run.data.sensor_points, run.data.sensor_values
    resid = V[:, 1] - predict(run.tree, P)[:, 1]
    half = 2.0 / (2 * 2)
    limits = set()
    for r, t in enumerate(times):
        ax = panels[2 * r + 1]
        assert ax.get_title() == f"u_y measured − predicted, t = {t:.3g} us"
        dots = ax.collections[0]
        near = np.flatnonzero(np.abs(P[:, 2] - t) <= half)
        order = near[np.argsort(-np.abs(P[near, 2] - t), kind="stable")]
        np.testing.assert_array_equal(np.asarray(dots.get_offsets()), P[order, :2])
        np.testing.assert_allclose(np.asarray(dots.get_array()), resid[order], rtol=1e-12, atol=1e-15)
        assert dots.norm.vmin == -dots.norm.vmax and dots.get_cmap().name == "PuOr_r"
        limits.add(dots.norm.vmax)
    assert len(limits) == 1 and limits.pop() == pytest.approx(np.quantile(np.abs(resid), 0.995), rel=1e-12)
    bars = [ax for ax in fig.axes if ax.get_label() == "<colorbar>"]
    assert bars[0].get_xlabel() == "u_y [nm]" and bars[1].get_xlabel().startswith("u_y measured − predicted [nm]")
    plt.close(fig)


def test_times_outside_the_domain_are_refused(run):
    with pytest.raises(InputError, match=r"times: expected times in the domain's \[0.0, 2.0\], found 2.5"):
        field_figure(run, 1, [0.5, 2.5])


@pytest.mark.parametrize("fmt, magic", [("png", b"\x89PNG\r\n\x1a\n"), ("pdf", b"%PDF"), ("svg", b"<?xml")])
def test_plot_run_writes_every_plot_in_the_format(run_dir, tmp_path, fmt, magic):
    paths = plot_run(run_dir, out=tmp_path / fmt, fmt=fmt, times=[1.0])
    names = [p.split("/")[-1] for p in paths]
    assert names == [f"{n}.{fmt}" for n in ("loss", "material", "field_ux", "field_uy")]
    for p in paths:
        with open(p, "rb") as f:
            assert f.read(len(magic)) == magic, p


def test_the_command_writes_into_the_run_by_default(run_dir, capsys):
    assert main(["plot", str(run_dir), "--times", "0.5", "1.5"]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(run_dir / "plots" / f"{n}.png") for n in ("loss", "material", "field_ux", "field_uy")]
    assert main(["plot", str(run_dir), "--times", "9"]) == 2
    assert "times: expected times in the domain" in capsys.readouterr().err


def test_plots_of_a_run_go_to_its_plots_folder_from_its_checkpoints_too(run_dir, tmp_path, capsys):
    """``plot RUN/checkpoints`` or a file in it writes into RUN/plots (not into the checkpoints,
    which ``verify RUN/checkpoints/*`` would then report); checkpoints outside a run need --out,
    and a refused --times leaves no folder behind."""
    expected = [str(run_dir / "plots" / f"{n}.png") for n in ("loss", "material", "field_ux", "field_uy")]
    ckdir = run_dir / "checkpoints"
    for target in (ckdir, sorted(ckdir.glob("ckpt-*"))[-1]):
        assert main(["plot", str(target), "--times", "1.0"]) == 0
        assert capsys.readouterr().out.split() == expected
    assert not (ckdir / "plots").exists()
    loose = tmp_path / "saved"
    loose.mkdir()
    shutil.copy(sorted(ckdir.glob("ckpt-*"))[-1], loose / "ckpt-00000006.pinnlite")
    assert main(["plot", str(loose / "ckpt-00000006.pinnlite"), "--times", "1.0"]) == 2
    assert "is not in a run directory" in capsys.readouterr().err and sorted(os.listdir(tmp_path)) == ["saved"]
    assert main(["plot", str(loose), "--out", str(tmp_path / "figs"), "--times", "1.0"]) == 0
    assert sorted(os.listdir(tmp_path / "figs")) == ["field_ux.png", "field_uy.png", "loss.png", "material.png"]
    assert main(["plot", str(run_dir), "--times", "9", "--out", str(tmp_path / "never")]) == 2
    assert not (tmp_path / "never").exists()
