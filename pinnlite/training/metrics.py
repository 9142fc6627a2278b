"""``Metrics``: the per-epoch history of a training run.

One row per completed epoch, in columns:

=================== ==========================================================
``epoch``           1-based epoch number (integer)
``step``            optimizer steps taken so far (integer)
``loss``            the optimised (dimensionless, weighted) total
``<term>``          every loss term in the user's units (NaN when absent):
                    ``pde``, ``boundary``, ``traction``, ``initial``,
                    ``initial_velocity``, ``data``
``validation``      the data term at the held-out validation sensors, user
                    units (NaN without ``training.validation_fraction``)
``lr``              learning rate of the epoch's last step (schedule x plateau
                    factor); during L-BFGS the accepted line-search step length
``lam mu rho``      material parameters at the end of the epoch, user units
``time``            wall time since the run started, in seconds
``phase``           0 for the first-order optimizer, 1 for L-BFGS (integer)
=================== ==========================================================

The integer columns (:data:`INTEGER_COLUMNS`) come back as int64 arrays, the
others as float64. The history round-trips exactly through
:meth:`Metrics.to_arrays` / :meth:`Metrics.from_arrays` (used by checkpoints,
which store every column as float64; a checkpoint written before a column
existed reads it as NaN, see :data:`LATER_COLUMNS`), and is written as JSON
(:meth:`Metrics.to_json`, one line per column) and CSV (:meth:`Metrics.to_csv`,
one line per epoch). :meth:`Metrics.to_columns` gives the columns alone, so
``pandas.DataFrame(metrics.to_columns())`` is a table of the run; the true
material, a constant of the run, is :attr:`Metrics.truth`.

An epoch of mini-batches reports the mean over its batches: :func:`new_accumulator`,
:func:`accumulate` and :func:`epoch_means` keep the running sums (saved in the
checkpoint, so an epoch interrupted between batches resumes exactly).
"""

import json
import math

import numpy as np

from pinnlite.core import checks
from pinnlite.engine.terms import TERMS

COLUMNS = ("epoch", "step", "loss") + TERMS + ("validation", "lr", "lam", "mu", "rho", "time", "phase")
INTEGER_COLUMNS = ("epoch", "step", "phase")
# columns added after the first release: NaN when a checkpoint does not hold them
LATER_COLUMNS = ("validation",)


def _column_index(column):
    """The index of ``column`` in :data:`COLUMNS`; a KeyError naming the known columns otherwise."""
    try:
        return COLUMNS.index(column)
    except ValueError:
        raise KeyError(f"{column!r}: no such column of the metrics; the columns are {', '.join(COLUMNS)}") from None


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
        values = tuple(float(row[c]) for c in COLUMNS)
        for c in INTEGER_COLUMNS:
            v = values[COLUMNS.index(c)]
            if not v.is_integer():
                raise ValueError(f"metrics row: expected an integer {c}, found {row[c]!r}")
        self._rows.append(values)

    def __len__(self):
        return len(self._rows)

    def __getitem__(self, column):
        i = _column_index(column)
        values = np.array([r[i] for r in self._rows], dtype=np.float64)
        return values.astype(np.int64) if column in INTEGER_COLUMNS else values

    def tail(self, column, n):
        """The last ``n`` (>= 0) values of one column (fewer if fewer epochs completed), as ``self[column]``."""
        i = _column_index(column)
        n = checks.integer("n", n, low=0)
        values = np.array([r[i] for r in self._rows[-n:]] if n > 0 else [], dtype=np.float64)
        return values.astype(np.int64) if column in INTEGER_COLUMNS else values

    def last(self):
        """The last row as a dict (empty if no epoch completed); integer columns as int."""
        if not self._rows:
            return {}
        return {c: int(v) if c in INTEGER_COLUMNS else v for c, v in zip(COLUMNS, self._rows[-1])}

    def final_loss(self):
        """The optimised total of the last epoch (NaN before the first)."""
        return self._rows[-1][COLUMNS.index("loss")] if self._rows else float("nan")

    def truncate(self, n):
        """Keep the first ``n`` (>= 0) rows."""
        del self._rows[checks.integer("n", n, low=0):]

    def to_columns(self):
        """Dict column -> array, every column of :data:`COLUMNS` with one value per epoch.

        int64 for :data:`INTEGER_COLUMNS`, float64 (NaN for an absent term) for the
        others; the truth is not a column (it is :attr:`truth`).
        """
        return {c: self[c] for c in COLUMNS}

    def to_arrays(self):
        """Dict column -> float64 array (all the same length), and ``truth`` (3,) when known."""
        table = np.array(self._rows, dtype=np.float64).reshape(len(self._rows), len(COLUMNS))
        out = {c: np.ascontiguousarray(table[:, i]) for i, c in enumerate(COLUMNS)}
        if self.truth is not None:
            out["truth"] = np.array(self.truth, dtype=np.float64)
        return out

    @classmethod
    def from_arrays(cls, arrays):
        """The history of :meth:`to_arrays`' dict; :class:`InputError` naming a missing or ragged column."""
        if not isinstance(arrays, dict):
            checks.fail("metrics", "a dict of columns", arrays)
        m = cls(arrays.get("truth"))
        n = len(arrays["epoch"])
        cols = [np.full(n, np.nan) if c in LATER_COLUMNS and c not in arrays else np.asarray(arrays[c], dtype=np.float64)
                for c in COLUMNS]
        for c, col in zip(COLUMNS, cols):
            if col.shape != (n,):  # zip would cut every column to the shortest
                checks.fail(f"metrics.{c}", f"a column of {n} values (as metrics.epoch)", col)
        m._rows = [tuple(float(v) for v in row) for row in zip(*cols)]
        return m

    def to_dict(self):
        """Plain JSON-able dict: column -> list (NaN written as null), and ``truth``."""
        out = {c: [None if isinstance(v, float) and math.isnan(v) else v for v in self[c].tolist()] for c in COLUMNS}
        out["truth"] = None if self.truth is None else dict(zip(("lam", "mu", "rho"), self.truth))
        return out

    def to_json(self, path=None):
        """The history as JSON, one line per column (written to ``path`` too when given)."""
        lines = [f"{json.dumps(k)}: {json.dumps(v, separators=(',', ':'))}" for k, v in self.to_dict().items()]
        text = "{\n" + ",\n".join(lines) + "\n}\n"
        if path is not None:
            with open(path, "w") as f:
                f.write(text)
        return text

    def to_csv(self, path=None):
        """The history as CSV: a header of :data:`COLUMNS`, one line per epoch, NaN as an empty field.

        Floats are written with ``repr`` (they read back to the same double).
        """
        columns = self.to_columns()
        lines = [",".join(COLUMNS)]
        for i in range(len(self)):
            cells = []
            for c in COLUMNS:
                v = columns[c][i]
                cells.append(str(int(v)) if c in INTEGER_COLUMNS else ("" if math.isnan(v) else repr(float(v))))
            lines.append(",".join(cells))
        text = "\n".join(lines) + "\n"
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
