"""The one atomic file write: every file of a checkpoint directory goes through :func:`write_file`.

A save writes ``.<name>.tmp-<16 lowercase hex digits>`` in the target's
directory, ``fsync``-s it, renames it onto the target with ``os.replace``
(atomic on POSIX and Windows), then ``fsync``-s the directory so that the
rename itself survives a power loss (``docs/FORMAT.md`` section 9). The target
is therefore either fully replaced or untouched; a process killed mid-save may
leave its temporary file, which :func:`clean_stale_temps` removes.
"""

import contextlib
import ctypes
import errno
import functools
import os
import re
import sys
import threading

TEMP_PATTERN = re.compile(r"\A\..+\.tmp-[0-9a-f]{16}\Z", re.DOTALL)
# the target's name is cut so that the temporary name stays within the usual 255-byte limit
_NAME_MAX = 200
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
_SYNC_FILE_RANGE_WRITE = 2  # <linux/fs.h>: start writing back the range's dirty pages, do not wait


def _temp_prefix(name):
    return f".{name[:_NAME_MAX]}.tmp-"


def write_file(path, fill, *, sync_file=True, sync_dir=True):
    """Atomically replace ``path`` with the bytes that ``fill(write, sync)`` writes.

    ``write(buffer)`` appends every byte of a bytes-like ``buffer`` to the
    temporary file, continuing partial writes. ``sync()`` starts writing what
    is written so far to disk and returns at once: on Linux it asks the kernel
    to write back the bytes written since the last call
    (``sync_file_range(2)`` with ``SYNC_FILE_RANGE_WRITE``, which neither
    waits nor commits metadata), elsewhere, or where that call fails, it
    starts an ``fdatasync`` on a background thread (at most one at a time: a
    call while one runs does nothing). Calling it is optional (the file is
    flushed after ``fill`` returns), but a caller that writes a large file can
    call it every few MiB, so that the disk writes the first bytes while the
    rest are computed and written, and the final ``fsync`` has little left to
    do. ``fill``'s return value is returned.

    On any failure, ``fill``'s own exceptions and ``KeyboardInterrupt``
    included, the temporary file is removed, ``path`` is left as it was and the
    exception is re-raised.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        Target file; its directory must exist (:class:`FileNotFoundError`
        naming the directory otherwise).
    fill : callable
        ``fill(write, sync)``.
    sync_file, sync_dir : bool
        ``fsync`` the file before the rename, and the directory after it, so
        that the new file survives a power loss once this returns (both by
        default). A checkpoint directory saves two of them (section 12.4 of
        ``docs/FORMAT.md``): the checkpoint without the directory ``fsync``,
        then its ``latest`` pointer without the file ``fsync``, since a reader
        survives losing the pointer. Whatever the flags, a process killed at
        any moment leaves the old file or the whole new one.
    """
    path = os.fsdecode(path)
    directory, name = os.path.split(os.path.abspath(path))
    temp = os.path.join(directory, _temp_prefix(name) + os.urandom(8).hex())
    try:
        fd = os.open(temp, _FLAGS, 0o666)
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, "cannot save the checkpoint: its directory does not exist",
                                directory) from None
    flusher = _Flusher(fd)
    try:
        try:
            result = fill(flusher.write, flusher.start)
            flusher.finish()
            if sync_file:
                os.fsync(fd)
        finally:
            flusher.finish(check=False)  # never close the file under a running fdatasync
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if sync_dir:
        sync_directory(directory)
    return result


@functools.cache
def _sync_file_range():
    """libc's ``sync_file_range`` (Linux), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


class _Flusher:
    """The writes to one file and the requests to start writing them to disk.

    :meth:`start` asks Linux to write back the bytes written since the last
    request (``sync_file_range``), so that the disk keeps pace with a writer
    that produces the bytes about as fast as it stores them; where that call
    is missing or fails, it starts an ``fdatasync`` of the file on a
    background thread instead, at most one at a time. Either is only a head
    start: the file's ``fsync`` after the last write is what makes it durable.
    """

    def __init__(self, fd):
        self._fd = fd
        self._written = 0  # bytes written so far
        self._requested = 0  # bytes whose write-back has been asked for
        self._refused = False  # sync_file_range is missing or failed: the thread instead
        self._thread = None
        self._error = None

    def write(self, data):
        view = memoryview(data).cast("B")
        _write_all(self._fd, view)
        self._written += view.nbytes

    def start(self):
        if not self._refused:
            write_back = _sync_file_range()  # looked up at the first request: small files never make one
            nbytes = self._written - self._requested
            if write_back is not None and write_back(self._fd, self._requested, nbytes, _SYNC_FILE_RANGE_WRITE) == 0:
                self._requested = self._written
                return
            self._refused = True  # e.g. a filesystem that refuses it: the thread from now on
        if self._thread is not None:
            if self._thread.is_alive():
                return
            self._thread.join()
        self._thread = threading.Thread(target=self._run, name="pinnlite-flush", daemon=True)
        self._thread.start()

    def _run(self):
        try:
            getattr(os, "fdatasync", os.fsync)(self._fd)
        except OSError as exc:  # raised by finish(), in the writing thread
            self._error = exc

    def finish(self, check=True):
        """Wait for the running flush; raise its error (``check``)."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if check and self._error is not None:
            error, self._error = self._error, None
            raise error


def _write_all(fd, data):
    view = memoryview(data).cast("B")
    while view.nbytes:
        n = os.write(fd, view)
        if n <= 0:
            raise OSError(f"write returned {n} with {view.nbytes} bytes left to write")
        view = view[n:]


def sync_directory(directory):
    """Make the rename durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except (PermissionError, IsADirectoryError, NotADirectoryError):
        return  # e.g. Windows, which has no directory handles here
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # filesystems without directory fsync
            raise
    finally:
        os.close(fd)


def stale_temps(path):
    """Names of the temporary files that interrupted saves of ``path`` left, sorted ([] if unreadable)."""
    directory, name = os.path.split(os.path.abspath(os.fsdecode(path)))
    prefix = _temp_prefix(name)
    try:
        return sorted(f for f in os.listdir(directory) if f.startswith(prefix) and TEMP_PATTERN.match(f))
    except OSError:
        return []


def clean_stale_temps(directory):
    """Remove the temporary files that interrupted saves left in ``directory``.

    Only regular files named ``.<name>.tmp-<16 lowercase hex digits>`` are
    removed. Call it when no other process is saving into ``directory``: a
    running save would lose its temporary file and fail (its target stays
    intact).

    Returns
    -------
    list of str
        The removed paths, sorted.
    """
    directory = os.fspath(directory)
    removed = []
    with os.scandir(directory) as entries:
        for entry in entries:
            if TEMP_PATTERN.match(entry.name) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)
                    removed.append(entry.path)
    return sorted(removed)
