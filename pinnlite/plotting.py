"""Plots of a run (needs matplotlib: ``pip install 'pinnlite[plot]'``).

``plot_run(run_dir, out=None, fmt="png", times=None)`` reads the run's latest
checkpoint (its metrics, config, scales and data) and ``summary.json`` (the
waves of a synthetic problem, the maps' resolution) and writes, into ``out`` (default
``RUN_DIR/plots``):

- ``loss.<fmt>``: left, the optimised total and every loss term divided by its
  scale, all dimensionless on one log axis; right, the data misfit at the
  training sensors and at the validation sensors in the user's units;
- ``material.<fmt>``: lambda, mu (and rho when trained) against the epoch with
  the truth when known, and the relative error of each on a log scale;
- ``maps.<fmt>`` (a run with a material field): each map, true (when the data
  hold the true maps), recovered and their difference side by side, true and
  recovered on one colour scale, and how well the waves determine each map per
  cell (the ambiguity of :mod:`pinnlite.training.resolution`);
- ``field_ux.<fmt>``, ``field_uy.<fmt>``: each displacement component at
  several times (rows), predicted, and for a synthetic problem exact (on the
  same colour scale) and the error (a diverging colour map centred on zero),
  with the sensors near each time overlaid; panels keep the domain's aspect.

Axis labels carry the units of ``config.units``; the Adam to L-BFGS switch is
a dashed vertical line on every epoch axis. Each ``*_figure`` function returns
the matplotlib Figure (the tests read its labels back); ``plot_run`` saves and
closes them.
"""

import os
import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pinnlite.engine.terms import TERMS  # noqa: E402
from pinnlite.errors import InputError  # noqa: E402

GREEK = {"lam": "λ", "mu": "μ", "rho": "ρ"}
NAMES = {"lam": "first Lamé parameter", "mu": "shear modulus", "rho": "density"}
UNIT_OF = {"lam": "modulus", "mu": "modulus", "rho": "density"}
FORMATS = ("png", "pdf", "svg")


def label(text, unit):
    """``text [unit]``, or ``text`` when the unit is not named."""
    return f"{text} [{unit}]" if unit else text


def squared(unit):
    """The unit of a squared quantity: ``mm²``, ``(g/cm^3)²``; None stays None."""
    if not unit:
        return None
    return unit + "²" if unit.isalnum() else f"({unit})²"


class Run:
    """What the plots of one run need, read from its latest checkpoint and summary.json."""

    def __init__(self, run_dir):
        from pinnlite.io import checkpoint
        from pinnlite.training.data import TrainingData
        from pinnlite.training.metrics import Metrics
        from pinnlite.training.rundir import locate, read_summary
        from pinnlite.training.scaling import Scales

        run, _, path = locate(run_dir)
        self.run = run  # None for checkpoints outside a run directory
        self.checkpoint = path
        self.tree = checkpoint.read(path)
        if self.tree.get("kind") != "training":
            raise InputError(f"run_dir: expected a run with training checkpoints, found a {self.tree.get('kind')} file")
        self.metrics = Metrics.from_arrays(self.tree["metrics"])
        self.config = self.tree["config"]
        self.units = self.config.get("units") or {}
        self.scales = Scales(**self.tree["scales"])
        self.data = TrainingData.from_arrays(self.tree["data"])
        self.free = list(self.tree["material"]["free"])
        summary = (read_summary(run) if run is not None else None) or {}
        self.problem = summary.get("problem") or ({"waves": summary["waves"]} if "waves" in summary else None)
        self.maps = summary.get("maps") or {}  # mapped name -> its summary (mean, min, max, resolution)
        kind = self.config.get("optimizer", {}).get("kind", "adam")
        self.first = {"sgd": "SGD", "adamw": "AdamW", "lbfgs": "L-BFGS"}.get(kind, "Adam")
        self._at_sensors = None

    def switch(self):
        """The epoch after which L-BFGS took over (None when the run never switched)."""
        phase = self.metrics["phase"]
        if not len(phase) or not (phase == 1).any() or phase[0] == 1:
            return None
        return int(self.metrics["epoch"][int(np.argmax(phase == 1))]) - 1

    def at_sensors(self):
        """The network's displacements at the sensors (n, 2), computed once for both components' plots."""
        if self._at_sensors is None:
            from pinnlite.io.checkpoint import predict

            self._at_sensors = predict(self.tree, self.data.sensor_points)
        return self._at_sensors

    def exact(self):
        """The exact field of a plane-wave problem (an ExactField), or None."""
        from pinnlite.training.problems import ExactField, Wave

        waves = (self.problem or {}).get("waves")
        if not waves or self.data.truth is None:
            return None
        return ExactField(tuple(Wave(**w) for w in waves), *self.data.truth)


def _mark_switch(ax, run):
    e = run.switch()
    if e is not None:
        ax.axvline(e + 0.5, color="0.35", ls="--", lw=1, label=f"{run.first} → L-BFGS (after epoch {e})")


def loss_figure(run):
    m, norm = run.metrics, run.scales.normalisers()
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    epoch = m["epoch"]
    ax.semilogy(epoch, m["loss"], "k-", lw=2, label="total (weighted sum, optimised)")
    for t in TERMS:
        values = m[t]
        if np.isfinite(values).any():
            w = run.config.get("loss_weights", {}).get(t, 1.0)
            ax.semilogy(epoch, values / norm[t], lw=1, label=f"{t} / its scale" + (f" (weight {w:g})" if w != 1 else ""))
    _mark_switch(ax, run)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (dimensionless)")
    ax.set_title("Loss terms, each divided by its scale")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    unit = squared(run.units.get("displacement"))
    ax2.semilogy(epoch, m["data"], "C5-", label="training sensors")
    if np.isfinite(m["validation"]).any():
        ax2.semilogy(epoch, m["validation"], "C2-", label="validation sensors (held out)")
    _mark_switch(ax2, run)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel(label("mean squared displacement misfit", unit))
    ax2.set_title("Data misfit, in the data's units")
    ax2.legend(fontsize=8)
    ax2.grid(True, which="both", alpha=0.3)
    return fig


def material_figure(run):
    m, truth = run.metrics, run.data.truth
    names = run.free or ["lam", "mu"]
    relative = [n for n in run.free if truth is not None and truth[("lam", "mu", "rho").index(n)] != 0]
    with_error = bool(relative)  # a true value of 0 (lam may be) has no relative error
    cols = len(names) + with_error
    fig, axes = plt.subplots(1, cols, figsize=(4 * cols, 3.6), layout="constrained", squeeze=False)
    axes = axes[0]
    epoch = m["epoch"]
    for ax, n in zip(axes, names):
        ax.plot(epoch, m[n], "C0-", label="recovered")
        if truth is not None:
            t = truth[("lam", "mu", "rho").index(n)]
            unit = run.units.get(UNIT_OF[n])
            ax.axhline(t, color="C3", ls=":", label=f"truth {t:g}" + (f" {unit}" if unit else ""))
        _mark_switch(ax, run)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label(GREEK[n], run.units.get(UNIT_OF[n])))
        ax.set_title(f"{GREEK[n]} ({NAMES[n]})")
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
    if with_error:
        ax = axes[-1]
        for k, n in enumerate(relative):
            t = truth[("lam", "mu", "rho").index(n)]
            err = np.abs(m[n] / t - 1)
            ax.semilogy(epoch, np.where(err > 0, err, np.nan), f"C{k}-", label=GREEK[n])
        _mark_switch(ax, run)
        ax.set_xlabel("epoch")
        ax.set_ylabel("relative error |p / p_true − 1|")
        ax.set_title("Relative error of " + ", ".join(GREEK[n] for n in relative))
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
    return fig


def default_times(domain):
    t0, t1 = domain[2]
    return list(np.linspace(t0, t1, 3))


def field_figure(run, component, times=None, resolution=90):
    """One displacement component (0: u_x, 1: u_y) at ``times`` (rows)."""
    from pinnlite.io.checkpoint import predict

    (x0, x1), (y0, y1), (t0, t1) = run.data.domain
    times = default_times(run.data.domain) if times is None else list(times)
    for t in times:
        if not t0 - 1e-9 * (t1 - t0) <= t <= t1 + 1e-9 * (t1 - t0):
            raise InputError(f"times: expected times in the domain's [{t0!r}, {t1!r}], found {t!r}")
    aspect = (y1 - y0) / (x1 - x0)
    nx = resolution
    ny = max(int(round(resolution * min(max(aspect, 0.2), 5.0))), 8)
    xs, ys = np.linspace(x0, x1, nx), np.linspace(y0, y1, ny)
    X, Y = np.meshgrid(xs, ys, indexing="xy")
    exact = run.exact()
    pred, ref = [], []
    for t in times:
        P = np.stack([X.ravel(), Y.ravel(), np.full(X.size, t)], axis=1)
        pred.append(predict(run.tree, P)[:, component].reshape(X.shape))
        if exact is not None:
            ref.append(exact(P)[:, component].reshape(X.shape))
    sensors = run.data.sensor_points
    # measured data (no exact field): a second column shows the fit, measured minus predicted at each sensor
    fit = exact is None and sensors is not None and len(sensors) > 0
    if fit:
        resid = run.data.sensor_values[:, component] - run.at_sensors()[:, component]
        fit_max = float(max(np.abs(resid).max(), 1e-300))
        fit_lim = float(max(np.quantile(np.abs(resid), 0.995), 1e-300))
    cols = 3 if exact is not None else 2 if fit else 1
    panel_w = 3.2
    panel_h = float(np.clip(panel_w * aspect, 1.3, 7.0))
    width = max(panel_w * cols + 0.6, 6.0)
    fig, axes = plt.subplots(len(times), cols, figsize=(width, panel_h * len(times) + 1.6),
                             layout="constrained", squeeze=False)
    name = ("u_x", "u_y")[component]
    lim = float(max(np.abs(np.array(pred + ref)).max(), 1e-300))
    err_lim = err_max = None
    if ref:
        err = np.abs(np.array(pred) - np.array(ref))
        # a few large errors (often at the corners) would wash out the rest: the colour scale
        # covers 99.5% of the points and the colour bar's arrows say that it is cut
        err_max = float(max(err.max(), 1e-300))
        err_lim = float(max(np.quantile(err, 0.995), 1e-300))
    half = (t1 - t0) / (2 * max(len(times), 1))
    du, lu, tu = run.units.get("displacement"), run.units.get("length"), run.units.get("time")
    shared = error = None
    for r, t in enumerate(times):
        panels = [("predicted", pred[r], "RdBu_r", lim)]
        if ref:
            panels += [("exact", ref[r], "RdBu_r", lim), ("error (predicted − exact)", pred[r] - ref[r], "PuOr_r", err_lim)]
        near = None if sensors is None else sensors[np.abs(sensors[:, 2] - t) <= half]
        for c, (title, val, cmap, vmax) in enumerate(panels):
            ax = axes[r, c]
            im = ax.pcolormesh(X, Y, val, shading="auto", cmap=cmap, vmin=-vmax, vmax=vmax)
            if near is not None and len(near) and title != "exact":
                ax.scatter(near[:, 0], near[:, 1], s=2, c="k", marker=".", linewidths=0, alpha=0.6)
            ax.set_aspect("equal")
            ax.set_title(f"{name} {title}, t = {t:.3g}" + (f" {tu}" if tu else ""), fontsize=9)
            ax.set_xlabel(label("x", lu))
            ax.set_ylabel(label("y", lu))
            shared = im if c == 0 else shared
            error = im if c == 2 else error
        if fit:
            ax, dt = axes[r, 1], np.abs(sensors[:, 2] - t)
            sel = np.flatnonzero(dt <= half)
            sel = sel[np.argsort(-dt[sel], kind="stable")]  # where frames share a place, the nearest in time on top
            error = ax.scatter(sensors[sel, 0], sensors[sel, 1], c=resid[sel], s=9, cmap="PuOr_r",
                               vmin=-fit_lim, vmax=fit_lim, linewidths=0)
            ax.set_xlim(x0, x1)
            ax.set_ylim(y0, y1)
            ax.set_aspect("equal")
            ax.set_title(f"{name} measured − predicted, t = {t:.3g}" + (f" {tu}" if tu else ""), fontsize=9)
            ax.set_xlabel(label("x", lu))
            ax.set_ylabel(label("y", lu))
    cb = fig.colorbar(shared, ax=axes[:, : min(cols, 2) if ref else 1].ravel().tolist(), location="bottom",
                      shrink=0.8, aspect=40)
    cb.set_label(label(name + (", predicted and exact (one scale)" if ref else ""), du))
    if fit:
        cut = "both" if fit_max > fit_lim else "neither"
        cb2 = fig.colorbar(error, ax=axes[:, 1].ravel().tolist(), location="bottom", shrink=0.9, extend=cut,
                           format="%.2g", ticks=[-fit_lim, 0.0, fit_lim])  # three labels fit a narrow bar; each
        # carries its exponent (small misfits), not an offset at the bar's end that the label would overlap
        cb2.set_label(label(f"{name} measured − predicted", du)
                      + (f"; largest {fit_max:.2g}" if cut != "neither" else ""))
    if ref:
        cut = "both" if err_max > err_lim else "neither"
        cb2 = fig.colorbar(error, ax=axes[:, 2].ravel().tolist(), location="bottom", shrink=0.9, extend=cut)
        cb2.set_label(label(f"{name} error", du) + (f"; largest {err_max:.2g}" if cut != "neither" else ""))
    dots = f"; dots: the sensors within ±{half:.3g}{' ' + tu if tu else ''} of each time" if sensors is not None else ""
    title = f"Displacement {name} at {len(times)} times{dots}"
    fig.suptitle(textwrap.fill(title, width=int(width * 11)), fontsize=10)
    return fig


def field_maps(run, points):
    """Dict mapped name -> values (m,) of the run's material field at points (m, 2), or None."""
    from pinnlite import engine
    from pinnlite.core.field_arch import FieldArchitecture
    from pinnlite.engine.terms import MaterialField

    stored = run.tree.get("field")
    if stored is None:
        return None
    farch = FieldArchitecture.from_dict(stored["architecture"])
    flat = np.concatenate([stored["params"][e.name].ravel() for e in farch.layout.entries])
    maps = engine.material_maps(MaterialField(farch, flat), np.asarray(points, farch.np_dtype))
    return {name: m[:, 0].astype(np.float64) for name, m in maps.items()}


def map_figure(run, resolution=120):
    """Each mapped parameter (rows): true, recovered and their difference side by side, the true and
    recovered maps on one colour scale (the truth when the data hold it), then the ambiguity per
    cell of ``summary.json`` (:mod:`pinnlite.training.resolution`) when the summary has it."""
    (x0, x1), (y0, y1), _ = run.data.domain
    aspect = (y1 - y0) / (x1 - x0)
    nx, ny = resolution, max(int(round(resolution * min(max(aspect, 0.2), 5.0))), 8)
    X, Y = np.meshgrid(np.linspace(x0, x1, nx), np.linspace(y0, y1, ny), indexing="xy")
    P = np.stack([X.ravel(), Y.ravel()], axis=1)
    maps = field_maps(run, P)
    true = run.data.truth_at(P)
    base = 3 if true is not None else 1
    regions = {name: (run.maps.get(name) or {}).get("resolution") for name in maps}
    cols = base + any(regions.values())
    fig, axes = plt.subplots(len(maps), cols, figsize=(3.4 * cols + 0.6, 3.4 * aspect * len(maps) + 1.4),
                             layout="constrained", squeeze=False)
    mu, lu = run.units.get("modulus"), run.units.get("length")
    for r, (name, got) in enumerate(maps.items()):
        got = got.reshape(X.shape)
        panels = [("recovered", got)]
        if true is not None:
            ref = true[name].reshape(X.shape)
            panels = [("true", ref), ("recovered", got), ("recovered − true", got - ref)]
        lo = min(v.min() for t, v in panels if t != "recovered − true")
        hi = max(v.max() for t, v in panels if t != "recovered − true")
        err = max(float(np.abs(panels[-1][1]).max()), 1e-300) if true is not None else None
        for c, (title, val) in enumerate(panels):
            ax = axes[r, c]
            diff = title == "recovered − true"
            im = ax.pcolormesh(X, Y, val, shading="auto", cmap="RdBu_r" if diff else "viridis",
                               vmin=-err if diff else lo, vmax=err if diff else hi)
            _map_axes(ax, f"{GREEK[name]} {title}", lu)
            if diff or c == base - 2 or base == 1:
                cb = fig.colorbar(im, ax=axes[r, c] if diff else axes[r, : max(base - 1, 1)].ravel().tolist(),
                                  location="bottom", shrink=0.8)
                cb.set_label(label(f"{GREEK[name]}" + (" difference" if diff else (", true and recovered (one scale)"
                                                                               if true is not None else "")), mu))
        if cols > base:
            _ambiguity_panel(fig, axes[r, base], name, regions[name], lu)
    fig.suptitle(f"Material map{'s' if len(maps) > 1 else ''}: {', '.join(NAMES[n] for n in maps)}", fontsize=10)
    return fig


def _map_axes(ax, title, length_unit):
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.set_xlabel(label("x", length_unit))
    ax.set_ylabel(label("y", length_unit))


def _ambiguity_panel(fig, ax, name, res, length_unit):
    """The summary's ambiguity of ``name`` per cell (:mod:`pinnlite.training.resolution`), in percent;
    blank where a cell has no points or the parameter no effect."""
    if not res:
        ax.set_axis_off()
        return
    amb = 100 * np.array(res["ambiguity"], dtype=float)  # null (inf or NaN) reads as NaN: blank
    finite = amb[np.isfinite(amb)]
    im = ax.pcolormesh(res["x_edges"], res["y_edges"], amb, cmap="magma_r", vmin=0,
                       vmax=float(finite.max()) if finite.size else 1.0)
    _map_axes(ax, f"{GREEK[name]} ambiguity per cell", length_unit)
    cb = fig.colorbar(im, ax=ax, location="bottom", shrink=0.8)
    cb.set_label("uniform change hidden by the residual (%)")


def plot_run(run_dir, out=None, fmt="png", times=None):
    """Write the plots of a run into ``out``; returns their paths.

    ``run_dir`` is a run directory, its ``checkpoints/`` or one of its
    checkpoint files (:func:`pinnlite.training.rundir.locate`); ``out``
    defaults to the run directory's ``plots/``, and must be given for
    checkpoints outside a run directory. Nothing is written unless every
    figure could be drawn.
    """
    if fmt not in FORMATS:
        raise InputError(f"fmt: expected one of {FORMATS}, found {fmt!r}")
    run = Run(run_dir)
    if out is None:
        if run.run is None:
            raise InputError(f"out: {os.fspath(run_dir)} is not in a run directory (its checkpoints are not in a "
                             "checkpoints/ folder), so the plots have no default place; name one with --out")
        from pinnlite.training.rundir import PLOTS

        out = os.path.join(run.run, PLOTS)
    figures = []
    try:
        figures += [("loss", loss_figure(run)), ("material", material_figure(run))]
        figures += [(f"field_{c}", field_figure(run, k, times)) for k, c in enumerate(("ux", "uy"))]
        if run.tree.get("field") is not None:
            figures.append(("maps", map_figure(run)))
    except BaseException:
        for _, fig in figures:
            plt.close(fig)
        raise
    os.makedirs(out, exist_ok=True)
    paths = []
    for name, fig in figures:
        path = os.path.join(out, f"{name}.{fmt}")
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths
