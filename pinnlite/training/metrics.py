"""``Metrics``: the per-epoch history of a training run.

One row per completed epoch, in columns:

=================== ==========================================================
``epoch``           1-based epoch number
``step``            optimizer steps taken so far
``loss``            the optimised (dimensionless, weighted) total
``<term>``          every loss term in the user's units (NaN when absent):
                    ``pde``, ``boundary``, ``traction``, ``initial``,
                    ``initial_velocity``, ``data``
``lr``              learning rate of the epoch's last step (schedule x plateau
                    factor); during L-BFGS the accepted line-search step length
``lam mu rho``      material parameters at the end of the epoch, user units
``time``            wall time since the run started, in seconds
``phase``           0 for the first-order optimizer, 1 for L-BFGS
=================== ==========================================================

Every column is a float64 array; the history round-trips exactly through
:meth:`Metrics.to_arrays` / :meth:`Metrics.from_arrays` (used by checkpoints) and
is written as JSON by :meth:`Metrics.to_json`.

An epoch of mini-batches reports the mean over its batches: :func:`new_accumulator`,
:func:`accumulate` and :func:`epoch_means` keep the running sums (saved in the
checkpoint, so an epoch interrupted between batches resumes exactly).
"""

import json
import math

import numpy as np

from pinnlite.engine.terms import TERMS

COLUMNS = ("epoch", "step", "loss") + TERMS + ("lr", "lam", "mu", "rho", "time", "phase")


def new_accumulator():
    """Running sums of one epoch's batches (float64): total, each term in TERMS order, batch count."""
    return np.zeros(len(TERMS) + 2)


def accumulate(acc, res):
    """Add one batch's :class:`~pinnlite.engine.loss.LossResult` to ``acc`` (in place)."""
    acc[0] += res.total
    for i, t in enumerate(TERMS):
        acc[1 + i] += res.terms.get(t, math.nan)
    acc[-1] += 1


def epoch_means(acc):
    """Dict ``loss`` and every term -> its mean over the epoch's batches."""
    mean = acc[:-1] / acc[-1]
    row = {"loss": mean[0]}
    row.update({t: mean[1 + i] for i, t in enumerate(TERMS)})
    return row


class Metrics:
    """Per-epoch history; ``metrics["lam"]`` is the array of one column."""

    def __init__(self, truth=None):
        self._rows = []
        self.truth = None if truth is None else tuple(float(v) for v in truth)

    def append(self, **row):
        missing = set(COLUMNS) - set(row)
        if missing:
            raise KeyError(f"metrics row without {sorted(missing)}")
        self._rows.append(tuple(float(row[c]) for c in COLUMNS))

    def __len__(self):
        return len(self._rows)

    def __getitem__(self, column):
        i = COLUMNS.index(column)
        return np.array([r[i] for r in self._rows], dtype=np.float64)

    def last(self):
        """The last row as a dict (empty if no epoch completed)."""
        return dict(zip(COLUMNS, self._rows[-1])) if self._rows else {}

    def final_loss(self):
        """The optimised total of the last epoch (NaN before the first)."""
        return self._rows[-1][COLUMNS.index("loss")] if self._rows else float("nan")

    def truncate(self, n):
        """Keep the first ``n`` rows."""
        del self._rows[n:]

    def to_arrays(self):
        """Dict column -> float64 array (all the same length)."""
        table = np.array(self._rows, dtype=np.float64).reshape(len(self._rows), len(COLUMNS))
        out = {c: np.ascontiguousarray(table[:, i]) for i, c in enumerate(COLUMNS)}
        if self.truth is not None:
            out["truth"] = np.array(self.truth, dtype=np.float64)
        return out

    @classmethod
    def from_arrays(cls, arrays):
        m = cls(arrays.get("truth"))
        cols = [np.asarray(arrays[c], dtype=np.float64) for c in COLUMNS]
        m._rows = [tuple(float(v) for v in row) for row in zip(*cols)]
        return m

    def to_dict(self):
        """Plain JSON-able dict: column -> list (NaN written as null)."""
        out = {c: [None if np.isnan(v) else v for v in self[c].tolist()] for c in COLUMNS}
        out["truth"] = None if self.truth is None else dict(zip(("lam", "mu", "rho"), self.truth))
        return out

    def to_json(self, path=None):
        text = json.dumps(self.to_dict(), indent=1)
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text

    def __repr__(self):
        last = self.last()
        if not last:
            return "Metrics(empty)"
        return (
            f"Metrics(epochs={len(self)}, loss={last['loss']:.4g}, lam={last['lam']:.6g}, "
            f"mu={last['mu']:.6g}, rho={last['rho']:.6g})"
        )
