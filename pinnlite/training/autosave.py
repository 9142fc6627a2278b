"""When a run saves its checkpoints on its own, and what a failed save does.

A run saves every ``checkpoint.interval`` epochs (0: never on epochs) and every
``checkpoint.every_seconds`` of wall time (0: never on time), whichever comes
first, and once more at the end or on interrupt; so a run killed without
warning (SIGKILL, a node failure) loses at most ``every_seconds`` of work.

A save that fails (a full disk, a read-only or vanished directory: any
:class:`OSError`) must not throw away a long run: :meth:`SavePolicy.failed`
warns, naming the path and the error, and training goes on; the next save
that is due tries again. Only after ``checkpoint.max_failures`` failures in a
row does it raise :class:`SaveError`, which names the last good checkpoint.
"""

import logging
import time
import warnings

from pinnlite.errors import PinnliteError
from pinnlite.io import checkpoint

log = logging.getLogger("pinnlite")


class SaveError(PinnliteError):
    """Checkpoints could not be written; the message names the last good one."""


class SaveWarning(RuntimeWarning):
    """A checkpoint could not be written; training goes on and the next save tries again."""


class SavePolicy:
    """Which epochs save a checkpoint, and the count of failed saves in a row.

    Parameters
    ----------
    interval : int
        Epochs between saves (``checkpoint.interval``); 0: none on epochs.
    every_seconds : float
        Wall-clock seconds between saves (``checkpoint.every_seconds``); 0: none on time.
    max_failures : int
        Failed saves in a row after which :meth:`failed` raises.
    last_good : str, optional
        The newest checkpoint known to be good (the one a run was resumed from).
    clock : callable, optional
        Monotonic seconds; default :func:`time.monotonic` (a parameter so that tests can move time).
    """

    def __init__(self, interval, every_seconds, max_failures, last_good=None, clock=None):
        self.interval = interval
        self.every_seconds = every_seconds
        self.max_failures = max_failures
        self.last_good = last_good
        self.failures = 0
        self.clock = time.monotonic if clock is None else clock
        self._last_attempt = self.clock()

    def due(self, epoch):
        """True when the epoch just completed should be saved."""
        if self.interval and epoch % self.interval == 0:
            return True
        return bool(self.every_seconds) and self.clock() - self._last_attempt >= self.every_seconds

    def succeeded(self, path):
        self.last_good = path
        self.failures = 0
        self._last_attempt = self.clock()

    def failed(self, path, error, final=False):
        """Count a failed save of ``path``; warn, or raise :class:`SaveError` after too many.

        ``final``: the save at the end of the run (or on interrupt), after which
        there is no next one to retry, so it raises at once.
        """
        self.failures += 1
        self._last_attempt = self.clock()
        what = f"{type(error).__name__}: {error}"
        good = f"the last good checkpoint is {self.last_good}" if self.last_good else "no checkpoint was written yet"
        if final or self.failures >= self.max_failures:
            count = "" if final else f"{self.failures} checkpoint saves in a row failed; "
            raise SaveError(f"{count}could not save {path} ({what}); {good}")
        msg = (f"could not save the checkpoint {path} ({what}); training goes on and the next save "
               f"tries again ({self.failures} of at most {self.max_failures} failures in a row); {good}")
        warnings.warn(msg, SaveWarning, stacklevel=3)


def newest_good(directory, fallback=None):
    """The newest complete checkpoint of ``directory``: the one ``latest`` names (it moves only
    after its file is complete, so a save cut short between the two is found too), else
    ``fallback`` (also when ``directory`` is None or holds none). Nothing is read but the
    pointer: a signal handler calls this to name the last good checkpoint."""
    if directory:
        named = checkpoint.pointer(directory)
        if named is not None:
            return named
    return fallback
