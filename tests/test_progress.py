"""Tests of pinnlite.training.progress: plain lines every ``every`` epochs on a non-terminal
stream, in-place redraws on a terminal, and the estimated time left, on a fake clock."""

import io
import re

import pytest

from pinnlite.training import progress as progress_module
from pinnlite.training.progress import Progress, _fmt_time


class Clock:
    """A perf_counter that moves only when told to."""

    def __init__(self, now=1000.0):
        self.now = now

    def perf_counter(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(progress_module, "time", c)
    return c


def row(epoch):
    return {"loss": 0.0123456 / epoch, "lam": 2.0 + 1.0 / epoch, "mu": 0.75, "rho": 1.0}


class TtyStream(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.parametrize("seconds, text", [(0, "00:00"), (59.4, "00:59"), (59.6, "01:00"), (70, "01:10"),
                                           (3599, "59:59"), (3725, "1:02:05"), (36000, "10:00:00")])
def test_time_format(seconds, text):
    assert _fmt_time(seconds) == text


def test_plain_stream_gets_a_line_every_n_epochs_and_the_last(clock):
    out = io.StringIO()
    p = Progress(10, every=3, stream=out)
    assert p.tty is False
    for epoch in range(1, 11):
        clock.now += 10.0  # every epoch takes 10 s
        p.update(epoch, row(epoch))
    p.close()
    lines = out.getvalue().split("\n")
    assert lines[-1] == ""  # each line ends with a newline, close adds nothing
    lines = lines[:-1]
    assert [re.match(r"epoch (\d+)/10 ", s).group(1) for s in lines] == ["3", "6", "9", "10"]
    assert "\r" not in out.getvalue()
    # 3 epochs of 10 s done, 7 left: 70 s
    assert lines[0] == "epoch 3/10  loss 4.1152e-03  lam 2.33333  mu 0.75  rho 1  ETA 01:10"
    assert lines[1].endswith("ETA 00:40")
    assert lines[2].endswith("ETA 00:10")
    assert lines[3] == "epoch 10/10  loss 1.2346e-03  lam 2.1  mu 0.75  rho 1  ETA 00:00"


def test_eta_of_a_continued_run_counts_only_its_own_epochs(clock):
    out = io.StringIO()
    p = Progress(1000, every=100, stream=out)
    for epoch in range(601, 801):  # continued from epoch 600, 0.5 s per epoch
        clock.now += 0.5
        p.update(epoch, row(epoch))
    lines = out.getvalue().splitlines()
    assert [s.split()[1] for s in lines] == ["700/1000", "800/1000"]
    assert lines[0].endswith("ETA 02:30")  # 300 epochs left at 0.5 s
    assert lines[1].endswith("ETA 01:40")


def test_row_may_give_the_first_epoch_duration(clock):
    out = io.StringIO()
    p = Progress(5, every=1, stream=out)
    clock.now += 100.0  # e.g. a pause before training started
    p.update(1, dict(row(1), _dt=2.0))
    clock.now += 2.0
    p.update(2, row(2))
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("ETA 00:08")  # 4 epochs left at 2 s
    assert lines[1].endswith("ETA 00:06")


def test_terminal_redraws_in_place_and_ends_the_line_on_close(clock):
    out = TtyStream()
    p = Progress(5, every=1, stream=out)
    assert p.tty is True
    for epoch in range(1, 6):
        clock.now += 0.01  # faster than ten redraws a second: only the first and the last are drawn
        p.update(epoch, row(epoch))
    text = out.getvalue()
    assert "\n" not in text
    draws = text.split("\r\033[K")
    assert draws[0] == ""
    assert [d.split()[1] for d in draws[1:]] == ["1/5", "5/5"]
    assert draws[2].startswith("epoch 5/5  loss 2.4691e-03  lam 2.2  mu 0.75")
    p.close()
    assert out.getvalue() == text + "\n"
    p.close()  # a second close adds nothing
    assert out.getvalue() == text + "\n"


def test_terminal_redraws_when_a_tenth_of_a_second_passed(clock):
    out = io.StringIO()
    p = Progress(100, stream=out, tty=True)
    for epoch in range(1, 8):
        clock.now += 0.06
        p.update(epoch, row(epoch))
    draws = out.getvalue().split("\r\033[K")[1:]
    # drawn at 1; then at 0.12 s and 0.24 s and 0.36 s after it
    assert [d.split()[1] for d in draws] == ["1/100", "3/100", "5/100", "7/100"]


def test_terminal_without_updates_writes_nothing_on_close(clock):
    out = TtyStream()
    p = Progress(5, stream=out)
    p.close()
    assert out.getvalue() == ""


def test_tty_flag_overrides_the_stream(clock):
    out = TtyStream()
    p = Progress(3, every=1, stream=out, tty=False)
    for epoch in (1, 2, 3):
        clock.now += 1.0
        p.update(epoch, row(epoch))
    assert out.getvalue().count("\n") == 3 and "\r" not in out.getvalue()
