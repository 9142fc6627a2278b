"""Stopping a run on SIGINT (Ctrl-C) and SIGTERM (what Slurm and Kubernetes send at a time limit).

The first signal asks the run to stop: :class:`StopSignals` records it, the
trainer finishes the current optimizer step, saves a checkpoint and returns. A
second signal means "now": the handler raises :class:`Interrupted` wherever the
main thread is, a checkpoint being written included; the atomic write
(:func:`pinnlite.io.atomic.write_file`) then removes its temporary file and
leaves every earlier checkpoint as it was.

A process exits with ``128 + signal number`` after a signal (130 for SIGINT,
143 for SIGTERM), as shells and batch systems expect: :func:`exit_status`.

Handlers can only be installed from the main thread; elsewhere both context
managers do nothing. A signal that was ignored when the run started
(``SIG_IGN``, e.g. SIGINT of a background job started by a non-interactive
shell) stays ignored.
"""

import contextlib
import signal
import threading

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A signal stopped the program at once (a second signal, or one outside training).

    A :class:`KeyboardInterrupt`, so code that handles Ctrl-C handles it too.
    ``signum`` is the signal; ``checkpoint`` the last checkpoint known to be good
    (None when none was written), filled in by whoever knows it.
    """

    def __init__(self, signum, checkpoint=None):
        super().__init__(name(signum))
        self.signum = signum
        self.checkpoint = checkpoint


def name(signum):
    """``"SIGINT"``, ``"SIGTERM"``, ... for a signal number."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def exit_status(signum):
    """The exit status of a program stopped by ``signum``: 128 + its number."""
    return 128 + int(signum)


def _install(handler):
    """Install ``handler`` for :data:`SIGNALS` (main thread only); returns the function that undoes it."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {}
    for s in SIGNALS:
        old = signal.getsignal(s)
        if old is signal.SIG_IGN:
            continue
        previous[s] = old
        signal.signal(s, handler)

    def restore():
        for s, old in previous.items():
            signal.signal(s, old if old is not None else signal.SIG_DFL)

    return restore


class StopSignals:
    """Context manager: the first SIGINT/SIGTERM sets :attr:`received`, a second raises.

    Parameters
    ----------
    on_first : callable, optional
        ``on_first(signum)``, called from the handler on the first signal (to say
        what happens next).
    last_good : callable, optional
        ``last_good()``: the newest good checkpoint, which the raised
        :class:`Interrupted` names.

    ``install()`` installs the handlers and returns the function that restores
    the previous ones; ``with stop:`` does both around its block (again after an
    earlier block: a signal then received still counts).

    Attributes
    ----------
    received : int or None
        The first signal received, None while there was none.
    """

    def __init__(self, on_first=None, last_good=None):
        self.on_first = on_first
        self.last_good = last_good
        self.received = None
        self._restore = None

    def _handler(self, signum, frame):
        if self.received is not None:
            raise Interrupted(signum, None if self.last_good is None else self.last_good())
        self.received = signum
        if self.on_first is not None:
            self.on_first(signum)

    def install(self):
        return _install(self._handler)

    def __enter__(self):
        self._restore = self.install()
        return self

    def __exit__(self, *exc):
        self._restore()
        return False


@contextlib.contextmanager
def interrupt_at_once():
    """SIGINT and SIGTERM raise :class:`Interrupted` at once inside the block.

    The command line runs in this, so that a SIGTERM outside training (while
    the data load or the plots are written) ends it with a message and status
    143 instead of no message at all.
    """

    def handler(signum, frame):
        raise Interrupted(signum)

    restore = _install(handler)
    try:
        yield
    finally:
        restore()
