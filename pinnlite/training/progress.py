"""Progress display of a training run.

On a terminal: one line redrawn in place (at most ten times a second)::

    Adam  epoch 1234/2500  loss 1.235e-03  lam 2.0001  mu 0.99988  [00:12<00:14]

the phase (the first-order optimizer or L-BFGS), the epoch, the loss, the
free material parameters, followed by ``(held)`` while the run holds them at
their guesses (a row with ``held`` true, :mod:`pinnlite.training.hold`), the
validation misfit ``val`` when there is one, then the elapsed time and the
estimated time left, ``[elapsed<left]``: the time to the epoch budget, shown
as ``[elapsed<left max]`` when the run may stop before it (the settle rule,
:mod:`pinnlite.training.stopping`: most runs end far earlier than the budget
of 10000 epochs).
The line always fits the terminal's width (read at every redraw, so a resized
window is followed): fields are left out, least useful first (``val``, rho,
the phase, mu, lam, the times), and what still does not fit is cut, so the
line never wraps (a wrapped line would leave one copy per redraw). The time
left is estimated from the pace of the current phase over the later half
of its epochs, or its last :data:`PACE_EPOCHS` if more (L-BFGS epochs are
slower than Adam's, and a fresh install's first epochs also compile the
kernels: a pace from the start of the run would foretell minutes where
seconds are left; a short window, a pace that jumps with every line search).

While the line is shown, log records and warnings that go to the same stream
are printed on their own line: the progress line is cleared first (a filter
on the handlers of the root and ``pinnlite`` loggers and on
:data:`logging.lastResort`, and a wrapper around :func:`warnings.showwarning`)
and drawn again at the next update.

Elsewhere (a log file, a pipe, CI): a plain line every ``every`` epochs, with
every field. :class:`NoProgress` shows nothing (``Trainer(progress=False)``,
``pinnlite train --quiet``).
"""

import bisect
import io
import logging
import math
import os
import shutil
import sys
import time
import warnings

PHASES = ("Adam", "L-BFGS")
PACE_EPOCHS = 50  # the pace of the time left: over the later half of the phase's epochs, at least the last 50
_KEEP_ENDS = 2048  # epoch ends kept to measure it; beyond, the older ones are thinned
_SEP = "  "


def _fmt_time(seconds):
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


def fit(fields, width):
    """Join ``fields`` ((priority, text) pairs, in display order) into at most ``width - 1`` characters.

    Fields with the highest priority number are left out first; a line that is
    still too long is cut. One column stays free, since a character in the last
    column makes some terminals wrap.
    """
    limit = max(width - 1, 1)
    kept = list(fields)
    while len(kept) > 1 and len(_SEP.join(t for _, t in kept)) > limit:
        drop = max(range(len(kept)), key=lambda i: kept[i][0])
        del kept[drop]
    return _SEP.join(t for _, t in kept)[:limit]


def terminal_width(stream):
    """Columns of the terminal ``stream`` writes to (else $COLUMNS, else 80)."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, ValueError, OSError, io.UnsupportedOperation):
        return shutil.get_terminal_size((80, 24)).columns


class NoProgress:
    """A progress display that shows nothing."""

    def update(self, epoch, row):
        pass

    def close(self):
        pass


class Progress:
    """``update(epoch, row)`` after each epoch, ``close()`` at the end.

    Parameters
    ----------
    total : int
        The epoch the run trains to.
    every : int
        Epochs between two plain lines (not on a terminal).
    stream : file, optional
        Default ``sys.stderr``.
    tty : bool, optional
        Redraw one line in place; default: whether ``stream`` is a terminal.
    width : int, optional
        Columns of the line on a terminal; default: the terminal's width at each redraw.
    phases : (str, str)
        Names of phase 0 (the first-order optimizer) and phase 1 (L-BFGS).
    names : sequence of str
        The material parameters shown (the free ones).
    early : bool
        Whether the run may stop before ``total``: the time left is then an upper bound,
        marked ``max``.
    """

    def __init__(self, total, every=100, stream=None, tty=None, width=None, phases=PHASES,
                 names=("lam", "mu", "rho"), early=False):
        self.total = total
        self.early = early
        self.every = max(1, int(every))
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self.width = width
        self.phases = tuple(phases)
        self.names = tuple(names)
        self._t0 = time.perf_counter()
        self._last_time = None  # when the previous epoch ended
        self._phase = None  # the phase whose pace self._ends measures
        self._ends = []  # when the phase's epochs ended: (epoch, time), from the one before its first
        self._last_draw = -math.inf
        self._drawn = False
        self._text = ""
        self._undo = None

    # ------------------------------------------------------------------ the line

    def fields(self, epoch, row):
        """The line's (priority, text) fields, in display order (see :func:`fit`)."""
        now = time.perf_counter()
        phase = row.get("phase")
        if self._last_time is None:
            # The first epoch ran since the display was created (the trainer creates it
            # as training starts); a row may give that epoch's duration instead.
            self._last_time = now - row["_dt"] if "_dt" in row else self._t0
        if not self._ends or phase != self._phase:
            self._phase = phase  # a new phase: its epochs have their own pace
            self._ends.clear()
            self._ends.append((epoch - 1, self._last_time))
        self._last_time = now
        ends = self._ends
        ends.append((epoch, now))
        if len(ends) > _KEEP_ENDS:  # every other of the older ends goes: memory stays bounded
            ends[:-PACE_EPOCHS - 1] = ends[:-PACE_EPOCHS - 1:2]
        start = epoch - max(PACE_EPOCHS, (epoch - ends[0][0]) // 2)
        first_epoch, first_time = ends[bisect.bisect_left(ends, (start, -math.inf))]
        rate = (now - first_time) / max(epoch - first_epoch, 1)
        elapsed = row["time"] if "time" in row else now - self._t0
        out = []
        if phase is not None:
            out.append((5, self.phases[int(phase)]))
        out += [(0, f"epoch {epoch}/{self.total}"), (1, f"loss {row['loss']:.3e}")]
        out += [((3, 4, 6)[min(i, 2)], f"{n} {row[n]:.5g}") for i, n in enumerate(self.names)]
        if row.get("held"):  # the material keeps its guesses for now (pinnlite.training.hold)
            out.append((4, "(held)"))
        validation = row.get("validation")
        if validation is not None and math.isfinite(validation):
            out.append((8, f"val {validation:.3e}"))
        left = _fmt_time(rate * max(self.total - epoch, 0)) + (" max" if self.early else "")
        out.append((2, f"[{_fmt_time(elapsed)}<{left}]"))
        return out

    def line(self, epoch, row, width=None):
        """The text for ``epoch``; cut to ``width`` columns when given (see :func:`fit`)."""
        fields = self.fields(epoch, row)
        return _SEP.join(t for _, t in fields) if width is None else fit(fields, width)

    # ------------------------------------------------------------------ output

    def update(self, epoch, row):
        if self.tty:
            now = time.perf_counter()
            width = self.width or terminal_width(self.stream)
            text = self.line(epoch, row, width)
            if now - self._last_draw >= 0.1 or epoch >= self.total or not self._drawn:
                if self._undo is None:
                    self._undo = self._guard()
                self._text = text
                self._draw()
                self._last_draw = now
        elif epoch % self.every == 0 or epoch == self.total:
            self.stream.write(self.line(epoch, row) + "\n")
            self.stream.flush()
        else:
            self.fields(epoch, row)  # keep the rate estimate current

    def _draw(self):
        self.stream.write("\r\033[K" + self._text)
        self.stream.flush()
        self._drawn = True

    def _clear(self):
        if self._drawn:
            self.stream.write("\r\033[K")
            self.stream.flush()
            self._drawn = False

    def close(self):
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
        if self._undo is not None:
            self._undo()
            self._undo = None

    # ------------------------------------------------------------------ other output

    def _guard(self):
        """Clear the line before a log record or a warning is printed to its stream; returns the undo."""
        def clear_for(handler):
            def clear(record):
                if getattr(handler, "stream", None) is self.stream:
                    self._clear()
                return True
            return clear

        handlers = set(logging.getLogger().handlers) | set(logging.getLogger("pinnlite").handlers)
        if logging.lastResort is not None:
            handlers.add(logging.lastResort)
        added = [(h, clear_for(h)) for h in handlers]
        for h, f in added:
            h.addFilter(f)
        shown = warnings.showwarning

        def showwarning(message, category, filename, lineno, file=None, line=None):
            ours = (sys.stderr if file is None else file) is self.stream
            if ours:
                self._clear()
            shown(message, category, filename, lineno, file, line)
            if ours and self._text:
                self._draw()

        warnings.showwarning = showwarning

        def undo():
            for h, f in added:
                h.removeFilter(f)
            if warnings.showwarning is showwarning:
                warnings.showwarning = shown

        return undo
