"""Tests of pinnlite.training.metrics: the per-epoch history ``Metrics`` (append,
column access, last row, final loss, truncation), its exact round trip through
plain arrays (NaN terms and the true material kept), its JSON form (NaN written
as null), the errors for a missing column, and the running sums of an epoch's
batches (``new_accumulator``, ``accumulate``, ``epoch_means``) against sums and
means computed by hand."""

import json
import math

import numpy as np
import pytest

from pinnlite.engine.loss import LossResult
from pinnlite.errors import InputError
from pinnlite.engine.terms import TERMS
from pinnlite.training.metrics import (
    COLUMNS,
    INTEGER_COLUMNS,
    LATER_COLUMNS,
    Metrics,
    accumulate,
    epoch_means,
    new_accumulator,
)


def row(epoch_, **overrides):
    """A full metrics row with distinct values; the traction term absent (NaN)."""
    r = {c: float(epoch_) + k / 16 for k, c in enumerate(COLUMNS)}
    r.update(epoch=epoch_, step=10 * epoch_, phase=epoch_ % 2, traction=math.nan)
    r.update(overrides)
    return r


def result(total, **terms):
    return LossResult(total, terms, None, {})


# -- the history -----------------------------------------------------------------------------


def test_empty_history():
    m = Metrics()
    assert len(m) == 0 and m.last() == {}
    assert math.isnan(m.final_loss())
    assert m["loss"].dtype == np.float64 and m["loss"].shape == (0,)
    assert m.to_arrays()["lam"].shape == (0,)


def test_append_getitem_last_and_final_loss():
    m = Metrics()
    m.append(**row(1, loss=0.75, lam=2.5))
    m.append(**row(2, loss=0.125, lam=np.float32(3.25), step=17.0))  # float32 stored as float, 17.0 as 17
    assert len(m) == 2
    np.testing.assert_array_equal(m["loss"], [0.75, 0.125])
    np.testing.assert_array_equal(m["lam"], [2.5, 3.25])
    np.testing.assert_array_equal(m["step"], [10, 17])
    for c in INTEGER_COLUMNS:
        assert m[c].dtype == np.int64, c
    assert m["loss"].dtype == np.float64 and m["lam"].dtype == np.float64
    assert np.isnan(m["traction"]).all()
    last = m.last()
    assert list(last) == list(COLUMNS)
    assert (last["epoch"], last["step"], last["loss"], last["lam"]) == (2, 17, 0.125, 3.25)
    assert all(type(v) is (int if c in INTEGER_COLUMNS else float) for c, v in last.items())
    assert last["mu"] == 2.0 + COLUMNS.index("mu") / 16
    assert m.final_loss() == 0.125


def test_append_without_a_column_raises_naming_it():
    m = Metrics()
    r = row(1)
    del r["rho"], r["phase"]
    with pytest.raises(KeyError, match=r"\['phase', 'rho'\]"):
        m.append(**r)
    assert len(m) == 0


@pytest.mark.parametrize("column, value", [("epoch", 2.5), ("step", 1e-3), ("phase", math.nan)])
def test_integer_columns_refuse_fractions(column, value):
    m = Metrics()
    with pytest.raises(ValueError, match=f"expected an integer {column}"):
        m.append(**row(1, **{column: value}))
    assert len(m) == 0


def test_truncate_keeps_the_first_rows():
    m = Metrics()
    for epoch in range(1, 6):
        m.append(**row(epoch, loss=1.0 / epoch))
    m.truncate(3)
    assert len(m) == 3
    np.testing.assert_array_equal(m["epoch"], [1, 2, 3])
    assert m.final_loss() == 1.0 / 3 and m.last()["epoch"] == 3
    m.truncate(10)  # past the end: nothing changes
    assert len(m) == 3
    m.truncate(0)
    assert len(m) == 0 and m.last() == {}


def test_unknown_columns_and_negative_counts_are_named():
    """A misspelt column raised tuple.index's ValueError; truncate(-1) dropped the last row and
    tail(col, -1) gave an empty array, as Python slices do."""
    m = Metrics()
    for epoch in range(1, 4):
        m.append(**row(epoch, loss=1.0 / epoch))
    for call in (lambda: m["lamb"], lambda: m.tail("lamb", 2)):
        with pytest.raises(KeyError, match=r"'lamb': no such column of the metrics; the columns are epoch, step, loss"):
            call()
    with pytest.raises(InputError, match="^n: expected an integer >= 0, found -1"):
        m.truncate(-1)
    with pytest.raises(InputError, match="^n: expected an integer >= 0, found -1"):
        m.tail("loss", -1)
    assert len(m) == 3 and m.tail("loss", 2).tolist() == [0.5, 1 / 3] and m.tail("loss", 0).size == 0


# -- arrays and JSON -------------------------------------------------------------------------


def test_arrays_round_trip_is_exact_and_keeps_the_truth():
    m = Metrics(truth=(2.0, 1.0, 1.0 / 3))
    m.append(**row(1, loss=0.1, lam=1.0 / 3, time=1e-300))
    m.append(**row(2, loss=math.pi, data=math.nan, mu=-0.0))
    arrays = m.to_arrays()
    assert set(arrays) == set(COLUMNS) | {"truth"}
    for c in COLUMNS:
        assert arrays[c].dtype == np.float64 and arrays[c].shape == (2,) and arrays[c].flags.c_contiguous
    np.testing.assert_array_equal(arrays["truth"], [2.0, 1.0, 1.0 / 3])
    np.testing.assert_array_equal(arrays["loss"], [0.1, math.pi])
    again = Metrics.from_arrays(arrays)
    assert again.truth == (2.0, 1.0, 1.0 / 3)
    assert len(again) == 2
    for c in COLUMNS:
        assert again[c].tobytes() == m[c].tobytes(), c  # bit for bit, NaN and -0.0 included


def test_arrays_without_truth():
    m = Metrics()
    m.append(**row(1))
    arrays = m.to_arrays()
    assert "truth" not in arrays
    assert Metrics.from_arrays(arrays).truth is None


def test_from_arrays_with_a_missing_column_raises():
    m = Metrics()
    m.append(**row(1))
    arrays = m.to_arrays()
    del arrays["lr"]
    with pytest.raises(KeyError, match="lr"):
        Metrics.from_arrays(arrays)


def test_dict_and_json_write_nan_as_null(tmp_path):
    m = Metrics(truth=(2.0, 1.0, 1.5))
    m.append(**row(1, loss=0.5, data=math.nan))
    m.append(**row(2, loss=0.25))
    d = m.to_dict()
    assert set(d) == set(COLUMNS) | {"truth"}
    assert d["loss"] == [0.5, 0.25]
    assert d["epoch"] == [1, 2] and all(type(e) is int for e in d["epoch"] + d["step"] + d["phase"])
    assert d["traction"] == [None, None]
    assert d["data"] == [None, 2.0 + COLUMNS.index("data") / 16]
    assert d["truth"] == {"lam": 2.0, "mu": 1.0, "rho": 1.5}
    path = tmp_path / "metrics.json"
    text = m.to_json(path)
    assert path.read_text() == text
    assert "NaN" not in text and "null" in text
    assert json.loads(text) == d
    assert Metrics().to_dict()["truth"] is None
    # compact: one line per column (and the braces), not one per value
    assert len(text.splitlines()) == len(COLUMNS) + 3
    assert json.loads(Metrics().to_json()) == Metrics().to_dict()


def test_checkpoints_written_before_the_validation_column_read_it_as_nan():
    m = Metrics()
    m.append(**row(1, validation=0.5))
    m.append(**row(2, validation=0.25))
    arrays = m.to_arrays()
    for c in LATER_COLUMNS:
        del arrays[c]
    old = Metrics.from_arrays(arrays)
    assert np.isnan(old["validation"]).all() and len(old) == 2
    for c in COLUMNS:
        if c not in LATER_COLUMNS:
            assert old[c].tobytes() == m[c].tobytes(), c


def test_csv_has_a_header_and_one_line_per_epoch_reading_back_exactly(tmp_path):
    m = Metrics(truth=(2.0, 1.0, 1.5))
    m.append(**row(1, loss=0.1, lam=1.0 / 3, data=math.nan))
    m.append(**row(2, loss=1e-300, mu=-0.0))
    text = m.to_csv(tmp_path / "metrics.csv")
    assert (tmp_path / "metrics.csv").read_text() == text
    lines = text.splitlines()
    assert lines[0].split(",") == list(COLUMNS) and len(lines) == 3
    # read back by hand: the same numbers, empty fields for NaN, integers without a point
    for i, line in enumerate(lines[1:]):
        cells = dict(zip(COLUMNS, line.split(",")))
        assert cells["epoch"] == str(i + 1) and cells["step"] == str(10 * (i + 1))
        for c in COLUMNS:
            want = m[c][i]
            if c in INTEGER_COLUMNS:
                assert int(cells[c]) == want
            elif math.isnan(want):
                assert cells[c] == ""
            else:
                assert float(cells[c]) == want and math.copysign(1, float(cells[c])) == math.copysign(1, want)


def test_columns_are_equal_length_arrays_without_the_truth():
    m = Metrics(truth=(2.0, 1.0, 1.5))
    for epoch in (1, 2, 3):
        m.append(**row(epoch))
    cols = m.to_columns()
    assert list(cols) == list(COLUMNS) and "truth" not in cols
    assert {len(v) for v in cols.values()} == {3}
    assert cols["epoch"].tolist() == [1, 2, 3] and cols["epoch"].dtype == np.int64
    np.testing.assert_array_equal(cols["lam"], m["lam"])


def test_columns_make_a_pandas_dataframe():
    pd = pytest.importorskip("pandas", reason="pandas is an optional test dependency (pip install pandas)")
    m = Metrics(truth=(2.0, 1.0, 1.5))
    for epoch in (1, 2, 3, 4):
        m.append(**row(epoch, loss=1.0 / epoch))
    df = pd.DataFrame(m.to_columns())
    assert list(df.columns) == list(COLUMNS) and len(df) == 4
    assert df["epoch"].dtype == np.int64 and df["loss"].dtype == np.float64
    assert df["epoch"].tolist() == [1, 2, 3, 4]
    assert df.loc[df["epoch"] == 3, "loss"].item() == 1.0 / 3
    assert df["traction"].isna().all()


# -- running sums of an epoch ---------------------------------------------------------------------


def test_new_accumulator_is_zero():
    acc = new_accumulator()
    assert acc.dtype == np.float64 and acc.shape == (len(TERMS) + 2,)
    assert not acc.any()


def test_accumulate_and_means_by_hand():
    acc = new_accumulator()
    accumulate(acc, result(3.0, pde=1.0, data=0.5))
    accumulate(acc, result(1.5, pde=0.25, data=2.0))
    accumulate(acc, result(4.5, pde=4.0, data=0.5))
    # sums: total 9, pde 5.25, data 3, three batches; every other term absent (NaN)
    sums = dict(zip(("total",) + TERMS + ("count",), acc.tolist()))
    assert (sums["total"], sums["pde"], sums["data"], sums["count"]) == (9.0, 5.25, 3.0, 3.0)
    for t in ("boundary", "traction", "initial", "initial_velocity"):
        assert math.isnan(sums[t])
    means = epoch_means(acc)
    assert set(means) == {"loss"} | set(TERMS)
    assert (means["loss"], means["pde"], means["data"]) == (3.0, 1.75, 1.0)
    assert math.isnan(means["boundary"]) and math.isnan(means["initial_velocity"])


def test_a_term_missing_from_one_batch_makes_its_mean_nan():
    acc = new_accumulator()
    accumulate(acc, result(2.0, pde=1.0, boundary=0.5))
    accumulate(acc, result(6.0, pde=3.0))
    means = epoch_means(acc)
    assert (means["loss"], means["pde"]) == (4.0, 2.0)
    assert math.isnan(means["boundary"])
    assert acc[-1] == 2.0
