"""Progress display of a training run.

On a terminal: one line redrawn in place (at most ten times a second) with the
epoch, loss, lam, mu and the estimated time left. Elsewhere (a log file, a
pipe, CI): a plain line every ``every`` epochs.
"""

import sys
import time


def _fmt_time(seconds):
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    """``update(epoch, row)`` after each epoch, ``close()`` at the end."""

    def __init__(self, total, every=100, stream=None, tty=None):
        self.total = total
        self.every = max(1, int(every))
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)()) if tty is None else tty
        self._t0 = time.perf_counter()
        self._first_epoch = None
        self._last_draw = 0.0
        self._drawn = False

    def line(self, epoch, row):
        now = time.perf_counter()
        if self._first_epoch is None:
            # The first epoch ran since the display was created (the trainer creates it
            # as training starts); a row may give that epoch's duration instead.
            self._first_epoch = epoch - 1
            if "_dt" in row:
                self._t0 = now - row["_dt"]
        done = epoch - self._first_epoch
        rate = (now - self._t0) / max(done, 1)
        eta = _fmt_time(rate * max(self.total - epoch, 0))
        return (
            f"epoch {epoch}/{self.total}  loss {row['loss']:.4e}  "
            f"lam {row['lam']:.6g}  mu {row['mu']:.6g}  rho {row['rho']:.6g}  ETA {eta}"
        )

    def update(self, epoch, row):
        if self.tty:
            now = time.perf_counter()
            if now - self._last_draw >= 0.1 or epoch >= self.total:
                self.stream.write("\r\033[K" + self.line(epoch, row))
                self.stream.flush()
                self._last_draw = now
                self._drawn = True
        elif epoch % self.every == 0 or epoch == self.total:
            self.stream.write(self.line(epoch, row) + "\n")
            self.stream.flush()
        else:
            self.line(epoch, row)  # keep the rate estimate current

    def close(self):
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
