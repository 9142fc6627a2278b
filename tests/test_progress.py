"""Tests of pinnlite.training.progress: plain lines every ``every`` epochs on a non-terminal
stream, in-place redraws on a terminal that never exceed its width (fake 60- and 80-column
terminals), the estimated time left per phase on a fake clock, and log records and warnings
printed on their own line while the line is shown."""

import io
import logging
import re
import sys
import warnings

import pytest

from pinnlite.training import progress as progress_module
from pinnlite.training.progress import NoProgress, Progress, _fmt_time, fit


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
    assert lines[0] == "epoch 3/10  loss 4.115e-03  lam 2.3333  mu 0.75  rho 1  [00:30<01:10]"
    assert lines[1].endswith("[01:00<00:40]")
    assert lines[2].endswith("[01:30<00:10]")
    assert lines[3] == "epoch 10/10  loss 1.235e-03  lam 2.1  mu 0.75  rho 1  [01:40<00:00]"


def test_eta_of_a_continued_run_counts_only_its_own_epochs(clock):
    out = io.StringIO()
    p = Progress(1000, every=100, stream=out)
    for epoch in range(601, 801):  # continued from epoch 600, 0.5 s per epoch
        clock.now += 0.5
        p.update(epoch, row(epoch))
    lines = out.getvalue().splitlines()
    assert [s.split()[1] for s in lines] == ["700/1000", "800/1000"]
    assert lines[0].endswith("<02:30]")  # 300 epochs left at 0.5 s
    assert lines[1].endswith("<01:40]")


def test_a_run_that_may_stop_early_marks_its_time_left_as_a_bound(clock):
    out = io.StringIO()
    p = Progress(10, every=5, stream=out, early=True)
    for epoch in range(1, 11):
        clock.now += 2.0
        p.update(epoch, row(epoch))
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("  [00:10<00:10 max]")  # 5 epochs left at 2 s, at most
    assert lines[1].endswith("  [00:20<00:00 max]")


def plain_lines(clock, total, every, seconds):
    """The plain lines of a Progress of ``total`` epochs, epoch k taking ``seconds[k - 1]`` on the fake clock."""
    out = io.StringIO()
    p = Progress(total, every=every, stream=out)
    for epoch, dt in enumerate(seconds, 1):
        clock.now += dt
        p.update(epoch, row(epoch))
    return p, out.getvalue().splitlines()


def test_eta_follows_the_pace_of_the_last_epochs_not_of_a_slow_start(clock):
    # the first epoch compiles the kernels (60 s), then 0.1 s an epoch
    _, lines = plain_lines(clock, 1000, 100, [60.0] + [0.1] * 199)
    assert lines[0].endswith("<01:30]")  # 900 epochs left at 0.1 s (from the start of the run: 10:29)
    assert lines[1].endswith("<01:20]")


def test_eta_paces_over_the_later_half_of_a_long_phase(clock):
    _, lines = plain_lines(clock, 1000, 440, [1.0] * 400 + [3.0] * 40)
    # over epochs 221-440: (180 * 1 + 40 * 3) / 220 s an epoch, 560 left: 763.6 s (the last 50: 24:16, all: 11:02)
    assert lines[0].endswith("<12:44]")


def test_a_long_run_keeps_a_bounded_record_of_its_pace(clock):
    p, lines = plain_lines(clock, 100000, 10000, [0.2] * 10000 + [0.1] * 10000)
    assert len(p._ends) <= 2048
    assert lines[0].endswith("<5:00:00]")  # 90000 left at 0.2 s
    # over epochs 10001-20000 (the later half): 0.1 s, 80000 left; thinned ends shift the start by < 0.1%
    assert re.search(r"<2:13:\d\d\]$", lines[1]), lines[1]


def test_row_may_give_the_first_epoch_duration(clock):
    out = io.StringIO()
    p = Progress(5, every=1, stream=out)
    clock.now += 100.0  # e.g. a pause before training started
    p.update(1, dict(row(1), _dt=2.0))
    clock.now += 2.0
    p.update(2, row(2))
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("<00:08]")  # 4 epochs left at 2 s
    assert lines[1].endswith("<00:06]")


def test_terminal_redraws_in_place_and_ends_the_line_on_close(clock):
    out = TtyStream()
    p = Progress(5, every=1, stream=out, width=200)
    assert p.tty is True
    for epoch in range(1, 6):
        clock.now += 0.01  # faster than ten redraws a second: only the first and the last are drawn
        p.update(epoch, row(epoch))
    text = out.getvalue()
    assert "\n" not in text
    draws = text.split("\r\033[K")
    assert draws[0] == ""
    assert [d.split()[1] for d in draws[1:]] == ["1/5", "5/5"]
    assert draws[2].startswith("epoch 5/5  loss 2.469e-03  lam 2.2  mu 0.75")
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


# -- the width of the line ---------------------------------------------------------------------


def full_row(epoch, phase=0):
    return {"loss": 1.23456789e-3 / epoch, "lam": 2.00012345, "mu": 0.999876543, "rho": 1.0,
            "validation": 4.5e-4, "phase": phase, "time": 1800.0}


@pytest.mark.parametrize("columns", [60, 80])
def test_the_line_fits_a_fake_terminal_of_60_and_80_columns(clock, monkeypatch, columns):
    """The width comes from the terminal (here $COLUMNS: a StringIO has no terminal), every draw
    stays within it (one column free), and the essential fields are always there."""
    monkeypatch.setenv("COLUMNS", str(columns))
    out = TtyStream()
    p = Progress(25000, every=1, stream=out, phases=("Adam", "L-BFGS"), names=("lam", "mu", "rho"))
    for epoch in range(9001, 9040):  # a resumed run, 0.2 s per epoch, L-BFGS from epoch 9020
        clock.now += 0.2
        p.update(epoch, full_row(epoch, phase=int(epoch >= 9020)))
    draws = out.getvalue().split("\r\033[K")[1:]
    assert len(draws) == 39 and "\n" not in out.getvalue()
    for d in draws:
        assert len(d) <= columns - 1, (len(d), d)
        assert re.search(r"epoch 90\d\d/25000  loss \d\.\d{3}e-07  lam 2\.0001  ", d), d
        assert re.search(r"  \[30:00<5\d:\d\d\]$", d), d
    if columns == 80:  # room for the phase, lam and mu, not for rho and the validation misfit
        assert draws[0] == "Adam  epoch 9001/25000  loss 1.372e-07  lam 2.0001  mu 0.99988  [30:00<53:20]"
        assert draws[-1].startswith("L-BFGS  epoch 9039/25000  ")
    else:
        assert draws[0] == "epoch 9001/25000  loss 1.372e-07  lam 2.0001  [30:00<53:20]"
    wide = Progress(25000, stream=io.StringIO(), names=("lam", "mu", "rho"))
    assert wide.line(9001, full_row(9001), width=200) == (
        "Adam  epoch 9001/25000  loss 1.372e-07  lam 2.0001  mu 0.99988  rho 1  val 4.500e-04  [30:00<00:00]")


def test_the_full_line_and_what_is_left_out_first():
    fields = [(5, "Adam"), (0, "epoch 5/10"), (1, "loss 1e-3"), (3, "lam 2"), (4, "mu 1"), (6, "rho 3"),
              (8, "val 2e-4"), (2, "[00:01<00:02]")]
    full = "Adam  epoch 5/10  loss 1e-3  lam 2  mu 1  rho 3  val 2e-4  [00:01<00:02]"
    assert fit(fields, len(full) + 1) == full
    assert fit(fields, len(full)) == full.replace("  val 2e-4", "")  # one column short: the least useful goes
    assert fit(fields, len(full) - 10) == "Adam  epoch 5/10  loss 1e-3  lam 2  mu 1  [00:01<00:02]"
    assert fit(fields, 50) == "epoch 5/10  loss 1e-3  lam 2  mu 1  [00:01<00:02]"
    assert fit(fields, 37) == "epoch 5/10  loss 1e-3  [00:01<00:02]"
    assert fit(fields, 24) == "epoch 5/10  loss 1e-3"
    assert fit(fields, 10) == "epoch 5/1"  # even the last field is cut to fit


def test_a_real_terminal_width_is_read_from_the_stream(monkeypatch):
    monkeypatch.setattr(progress_module.os, "get_terminal_size", lambda fd: __import__("os").terminal_size((47, 20)))

    class Fd(TtyStream):
        def fileno(self):
            return 2

    assert progress_module.terminal_width(Fd()) == 47


def test_eta_follows_the_pace_of_the_current_phase(clock):
    out = io.StringIO()
    p = Progress(100, every=10, stream=out)
    for epoch in range(1, 41):  # Adam: 1 s per epoch
        clock.now += 1.0
        p.update(epoch, full_row(epoch, phase=0))
    for epoch in range(41, 51):  # L-BFGS: 10 s per epoch
        clock.now += 10.0
        p.update(epoch, full_row(epoch, phase=1))
    lines = out.getvalue().splitlines()
    # the elapsed time is the run's own clock (the row's time, summed over resumes)
    assert lines[3].startswith("Adam  epoch 40/100") and lines[3].endswith("[30:00<01:00]")  # 60 left at 1 s
    assert lines[4].startswith("L-BFGS  epoch 50/100") and lines[4].endswith("[30:00<08:20]")  # 50 left at 10 s


# -- other output while the line is shown ------------------------------------------------------


def test_log_records_print_on_their_own_line_and_the_line_comes_back(clock):
    out = TtyStream()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    log = logging.getLogger("pinnlite")
    log.addHandler(handler)
    try:
        p = Progress(5, stream=out, width=60)
        p.update(1, row(1))
        first = out.getvalue()
        log.warning("disk almost full")
        clock.now += 1.0
        p.update(2, row(2))
        p.close()
        text = out.getvalue()
        assert text.startswith(first)
        rest = text[len(first):]
        assert rest.startswith("\r\033[KWARNING disk almost full\n\r\033[Kepoch 2/5  ")
        assert handler.filters == []  # taken away by close
        log.warning("after")
        assert out.getvalue().endswith("\nWARNING after\n")
    finally:
        log.removeHandler(handler)


def test_warnings_print_on_their_own_line_and_the_line_is_redrawn(clock, monkeypatch):
    out = TtyStream()
    monkeypatch.setattr(sys, "stderr", out)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        # how the command line shows warnings (pytest's own display records them instead)
        warnings.showwarning = lambda message, category, *args, **kwargs: sys.stderr.write(
            f"{category.__name__}: {message}\n")
        before = warnings.showwarning
        p = Progress(5, width=60)
        p.update(1, row(1))
        line = out.getvalue()
        warnings.warn("careful", UserWarning)
        text = out.getvalue()[len(line):]
        assert text.startswith("\r\033[K") and "UserWarning: careful\n" in text
        assert text.endswith(line)  # drawn again at once
        p.close()
        assert warnings.showwarning is before


def test_no_progress_shows_nothing(capsys):
    p = NoProgress()
    p.update(1, row(1))
    p.close()
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("settle_epochs, mark", [(50, " max]"), (0, "]")])
def test_the_trainers_bar_marks_the_time_left_as_a_bound_when_the_settle_rule_may_stop_it(capsys, settle_epochs, mark):
    from pinnlite import Config, Trainer
    from pinnlite.training.problems import plane_waves

    cfg = Config(name="bar")
    cfg.architecture.hidden = [8]
    cfg.training.threads, cfg.training.error_bars, cfg.training.epochs = 1, False, 4
    cfg.training.log_every, cfg.training.settle_epochs = 2, settle_epochs
    cfg.sampling.n_collocation = 50
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # four epochs fit nothing, as the run warns
        Trainer(None, cfg, progress=None).train(plane_waves(n_sensors=40, rng=0)[0])
    lines = [ln for ln in capsys.readouterr().err.splitlines() if "epoch 4/4" in ln]
    assert len(lines) == 1 and lines[0].endswith(mark)
    assert lines[0].endswith(" max]") == (settle_epochs > 0)
