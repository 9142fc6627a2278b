"""PNG plots of a run (needs matplotlib: ``pip install 'pinnlite[plot]'``).

``plot_run(run_dir)`` reads ``metrics.json`` (and, for the field plot, the run's
latest checkpoint and ``data.npz``) and writes:

- ``loss.png``: the optimised total and every loss term against the epoch (log scale);
- ``material.png``: lam, mu (and rho) against the epoch, with the truth when known;
- ``field.png``: predicted displacement at one time slice (next to the exact
  field and the error for plane-wave problems, whose waves ``summary.json`` lists).
"""

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pinnlite.engine.terms import TERMS  # noqa: E402


def _load_metrics(run_dir):
    with open(os.path.join(run_dir, "metrics.json")) as f:
        m = json.load(f)
    return {k: (np.array([np.nan if v is None else v for v in vals], dtype=float) if isinstance(vals, list) else vals)
            for k, vals in m.items()}


def plot_losses(m, path):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ax.semilogy(m["epoch"], m["loss"], "k-", lw=2, label="total (optimised, dimensionless)")
    for t in TERMS:
        if t in m and np.isfinite(m[t]).any():
            ax.semilogy(m["epoch"], m[t], lw=1, label=f"{t} (user units)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_material(m, path):
    truth = m.get("truth") or {}
    names = [n for n in ("lam", "mu", "rho") if np.ptp(m[n]) > 0 or n in ("lam", "mu")]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.5))
    for ax, n in zip(np.atleast_1d(axes), names):
        ax.plot(m["epoch"], m[n], "b-", label="recovered")
        if truth.get(n) is not None:
            ax.axhline(truth[n], color="r", ls="--", label=f"truth {truth[n]:g}")
        ax.set_xlabel("epoch")
        ax.set_title(n)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_field(run_dir, path, t_slice=None):
    from pinnlite.io.checkpoint import latest, predict
    from pinnlite.training.data import TrainingData
    from pinnlite.training.problems import ExactField, Wave

    data = TrainingData.from_npz(os.path.join(run_dir, "data.npz"))
    ckpt = latest(os.path.join(run_dir, "checkpoints"))
    (x0, x1), (y0, y1), (t0, t1) = data.domain
    t = (t0 + t1) / 2 if t_slice is None else t_slice
    xs, ys = np.linspace(x0, x1, 80), np.linspace(y0, y1, 80)
    X, Y = np.meshgrid(xs, ys, indexing="xy")
    P = np.stack([X.ravel(), Y.ravel(), np.full(X.size, t)], axis=1)
    pred = predict(ckpt, P)
    ref = None
    summary_path = os.path.join(run_dir, "summary.json")
    if data.truth is not None and os.path.exists(summary_path):
        with open(summary_path) as f:
            waves = json.load(f).get("waves")
        if waves:  # a plane-wave problem: the exact field is known
            ref = ExactField(tuple(Wave(**w) for w in waves), *data.truth)(P)
    cols = 3 if ref is not None else 1
    fig, axes = plt.subplots(2, cols, figsize=(4 * cols, 7), squeeze=False)
    for c, name in enumerate("uv"):
        panels = [("predicted", pred[:, c])]
        if ref is not None:
            panels += [("exact", ref[:, c]), ("error", pred[:, c] - ref[:, c])]
        for k, (title, val) in enumerate(panels):
            ax = axes[c, k]
            im = ax.pcolormesh(X, Y, val.reshape(X.shape), shading="auto", cmap="RdBu_r")
            ax.set_title(f"{name} {title}, t = {t:g}")
            ax.set_aspect("equal")
            fig.colorbar(im, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_run(run_dir):
    """Write the PNG files of a run directory; returns their paths."""
    m = _load_metrics(run_dir)
    out = [os.path.join(run_dir, "loss.png"), os.path.join(run_dir, "material.png")]
    plot_losses(m, out[0])
    plot_material(m, out[1])
    if os.path.exists(os.path.join(run_dir, "data.npz")) and os.path.isdir(os.path.join(run_dir, "checkpoints")):
        out.append(os.path.join(run_dir, "field.png"))
        plot_field(run_dir, out[-1])
    return out
