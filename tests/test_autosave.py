"""Tests of pinnlite.training.autosave: which epochs save (the epoch interval, the wall-clock
interval, neither), and the count of failed saves (a warning naming the path and the error,
then an error naming the last good checkpoint), on a fake clock."""

import errno
import warnings

import pytest

from pinnlite.errors import PinnliteError
from pinnlite.training.autosave import SaveError, SavePolicy, SaveWarning


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def disk_full():
    return OSError(errno.ENOSPC, "No space left on device")


def test_due_every_interval_epochs():
    p = SavePolicy(interval=3, every_seconds=0, max_failures=3, clock=Clock())
    assert [e for e in range(1, 11) if p.due(e)] == [3, 6, 9]


def test_due_after_every_seconds_of_wall_time_since_the_last_save():
    clock = Clock()
    p = SavePolicy(interval=0, every_seconds=600, max_failures=3, clock=clock)
    due = []
    for epoch in range(1, 30):
        clock.now += 70.0  # 70 s per epoch: 600 s after 9 epochs (630 s)
        if p.due(epoch):
            due.append(epoch)
            p.succeeded(f"ckpt-{epoch}")
    assert due == [9, 18, 27]


def test_whichever_comes_first_and_zero_means_never():
    clock = Clock()
    p = SavePolicy(interval=5, every_seconds=100, max_failures=3, clock=clock)
    clock.now += 150
    assert p.due(1) and p.due(5)
    p.succeeded("a")
    assert not p.due(6) and p.due(10)
    never = SavePolicy(interval=0, every_seconds=0, max_failures=3, clock=clock)
    clock.now += 1e9
    assert not any(never.due(e) for e in range(1, 100))


def test_a_failed_save_warns_with_the_path_and_the_error_and_a_success_resets_the_count():
    clock = Clock()
    p = SavePolicy(interval=1, every_seconds=0, max_failures=3, last_good="run/ckpt-4", clock=clock)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        p.failed("run/ckpt-5", disk_full())
        p.failed("run/ckpt-6", disk_full())
        p.succeeded("run/ckpt-7")
        p.failed("run/ckpt-8", disk_full())
        p.failed("run/ckpt-9", disk_full())
    assert [w.category for w in caught] == [SaveWarning] * 4
    first = str(caught[0].message)
    assert "could not save the checkpoint run/ckpt-5 (OSError: [Errno 28] No space left on device)" in first
    assert "1 of at most 3 failures in a row" in first and "the last good checkpoint is run/ckpt-4" in first
    assert "2 of at most 3" in str(caught[1].message)
    assert "2 of at most 3" in str(caught[3].message) and "run/ckpt-7" in str(caught[3].message)
    assert p.failures == 2 and p.last_good == "run/ckpt-7"


def test_too_many_failures_in_a_row_raise_naming_the_last_good_checkpoint():
    p = SavePolicy(interval=1, every_seconds=0, max_failures=2, last_good="r/ckpt-00000010.pinnlite", clock=Clock())
    with pytest.warns(SaveWarning):
        p.failed("r/ckpt-00000011.pinnlite", disk_full())
    with pytest.raises(SaveError) as info:
        p.failed("r/ckpt-00000012.pinnlite", PermissionError(errno.EACCES, "Permission denied"))
    assert str(info.value) == ("2 checkpoint saves in a row failed; could not save r/ckpt-00000012.pinnlite "
                               "(PermissionError: [Errno 13] Permission denied); "
                               "the last good checkpoint is r/ckpt-00000010.pinnlite")
    assert isinstance(info.value, PinnliteError)


def test_a_failed_final_save_raises_at_once():
    p = SavePolicy(interval=0, every_seconds=600, max_failures=5, clock=Clock())
    with pytest.raises(SaveError, match=r"^could not save x/ckpt \(OSError: .*\); no checkpoint was written yet$"):
        p.failed("x/ckpt", disk_full(), final=True)
