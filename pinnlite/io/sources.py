"""Where a container's bytes come from: a bytes-like object, a binary stream or a path.

A :class:`Source` reads bytes at given offsets into caller-provided buffers:
from memory, from a seekable file (``os.preadv`` where available), or from a
non-seekable stream, which can only move forwards (it skips what is not
wanted). ``size`` is the number of bytes from the start to the end of the
data, or None for a stream that cannot tell. The version 2.0 reader
(:mod:`pinnlite.io.reader`) reads the head and then only the arrays it is
asked for; :func:`read_whole` reads a 1.x file completely into one buffer for
:mod:`pinnlite.io.reader_v1`, hashing its chunks while they arrive. Memory is
never allocated past the data actually present, whatever a file claims.
"""

import errno
import io
import os

import numpy as np

from pinnlite.errors import InputError, describe
from pinnlite.io import atomic
from pinnlite.io.errors import MissingFileError, TrailingDataError
from pinnlite.io.hashing import CHUNK, Digest
from pinnlite.io.spec import ALIGNMENT, V1_TRAILER_SIZE

_SKIP = 1 << 20  # a stream skips unwanted bytes through a buffer of this size
_GROW_FROM = 1 << 20  # a buffer sized by an unchecked length starts at 1 MiB and grows 4x


def aligned_empty(n):
    """A new uint8 array of ``n`` bytes whose data start at a multiple of 64."""
    raw = np.empty(n + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + n]


def check_binary(fileobj):
    """Raise :class:`InputError` for a text stream (reading or writing one would mangle the bytes)."""
    if isinstance(fileobj, io.TextIOBase):
        raise InputError(f"fileobj: expected a binary file object, found text stream {describe(fileobj)}; "
                         "open the file with mode 'rb' / 'wb'")


class Source:
    """Random (or, for streams, forward-only) access to the bytes of one container.

    ``size``: bytes from the container's start to the end of the data, None
    when a stream cannot tell; ``sequential``: offsets must not decrease.
    """

    size = None
    sequential = False

    def read_into(self, offset, view):
        """Fill ``view`` (a writeable uint8 buffer) from byte ``offset``; the bytes read (fewer at the end of data)."""
        raise NotImplementedError

    def read_many(self, offset, views):
        """Fill the ``views`` in turn from byte ``offset`` on (one system call for a file); the bytes read."""
        got = 0
        for view in views:
            n = self.read_into(offset + got, view)
            got += n
            if n < len(view):
                break
        return got

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class BytesSource(Source):
    """A bytes-like object in memory (read by copying, so no array aliases it)."""

    def __init__(self, data):
        try:
            self._view = memoryview(data).cast("B")
        except TypeError:
            raise InputError(f"data: expected bytes, bytearray or a C-contiguous memoryview, "
                             f"found {describe(data)}") from None
        self.size = self._view.nbytes

    def read_into(self, offset, view):
        got = max(0, min(len(view), self.size - offset))
        view[:got] = self._view[offset:offset + got]
        return got

    def read_many(self, offset, views):
        data, total = self._view, 0
        for view in views:
            start = offset + total
            got = max(0, min(len(view), self.size - start))
            view[:got] = data[start:start + got]
            total += got
            if got < len(view):
                break
        return total


def _readinto(fileobj, view):
    """Fill ``view`` from ``fileobj`` until full or end of data; bytes read."""
    readinto = getattr(fileobj, "readinto", None)
    got = 0
    while got < len(view):
        if readinto is not None:
            n = readinto(view[got:])
        else:
            chunk = fileobj.read(len(view) - got)
            n = None if chunk is None else len(chunk)
            if n:
                view[got:got + n] = chunk
        if n is None:
            raise BlockingIOError(f"fileobj: a non-blocking stream had no data after {got} bytes; "
                                  "pass a blocking stream")
        if n == 0:
            break
        got += n
    return got


def _stream_size(fileobj):
    """Bytes from the current position to the end, or None if not seekable."""
    try:
        if not fileobj.seekable():
            return None
        start = fileobj.tell()
        end = fileobj.seek(0, os.SEEK_END)
        fileobj.seek(start)
    except (AttributeError, OSError):
        return None
    return end - start


class StreamSource(Source):
    """A binary file object, read from its current position (a seekable one at any offset)."""

    def __init__(self, fileobj, owned=False):
        self._f = fileobj
        self._owned = owned
        self.size = _stream_size(fileobj)
        self.sequential = self.size is None
        self._start = 0 if self.sequential else fileobj.tell()
        self._pos = 0  # for a sequential stream: bytes consumed so far
        self._fd = None
        if owned and hasattr(os, "preadv"):
            try:
                self._fd = fileobj.fileno()
            except (AttributeError, OSError, io.UnsupportedOperation):
                self._fd = None

    def read_many(self, offset, views):
        if self._fd is None:
            return super().read_many(offset, views)
        want = sum(len(v) for v in views)  # uint8 buffers: len is the byte count
        total = os.preadv(self._fd, views, self._start + offset)
        if total == want or total == 0:
            return total
        rest, skip = [memoryview(v).cast("B") for v in views], total  # a short read: go on where it stopped
        while True:
            while rest and skip >= len(rest[0]):  # drop the views filled, cut the one filled in part
                skip -= len(rest[0])
                rest.pop(0)
            if not rest:
                return total
            if skip:
                rest[0] = rest[0][skip:]
            skip = os.preadv(self._fd, rest, self._start + offset + total)
            if skip == 0:
                return total
            total += skip

    def read_into(self, offset, view):
        view = memoryview(view).cast("B")
        if self._fd is not None:
            got = 0
            while got < len(view):
                n = os.preadv(self._fd, [view[got:]], self._start + offset + got)
                if n == 0:
                    break
                got += n
            return got
        if not self.sequential:
            self._f.seek(self._start + offset)
            return _readinto(self._f, view)
        if offset < self._pos:
            raise ValueError(f"a stream cannot go back from byte {self._pos} to byte {offset}")
        scratch = None
        while self._pos < offset:  # skip what the caller does not want
            if scratch is None:
                scratch = bytearray(min(_SKIP, offset - self._pos))
            n = _readinto(self._f, memoryview(scratch)[:min(len(scratch), offset - self._pos)])
            if n == 0:
                return 0
            self._pos += n
        got = _readinto(self._f, view)
        self._pos += got
        return got

    @property
    def position(self):
        """Bytes of a sequential stream consumed so far."""
        return self._pos

    def close(self):
        if self._owned:
            self._f.close()
        elif not self.sequential:  # leave a caller's file after the data, as reading them through would
            self._f.seek(self._start + self.size)


def open_path(path):
    """A :class:`StreamSource` of the file at ``path``; :class:`MissingFileError` if there is none."""
    path = os.fsdecode(path)
    try:
        fileobj = open(path, "rb", buffering=0)
    except FileNotFoundError:
        stale = atomic.stale_temps(path)
        hint = f"; temporary files of interrupted saves exist: {stale}" if stale else ""
        raise MissingFileError(errno.ENOENT, f"checkpoint file not found (check the path){hint}", path) from None
    except IsADirectoryError:  # (on Windows a PermissionError, which stays what it is)
        raise MissingFileError(errno.EISDIR, "a directory, not a checkpoint file (the newest good checkpoint of a "
                               "directory: pinnlite.io.checkpoint.latest)", path) from None
    return StreamSource(fileobj, owned=True)


def source_of(obj):
    """The :class:`Source` of a path (str or os.PathLike), a binary file object or a bytes-like object."""
    if isinstance(obj, (str, os.PathLike)):
        return open_path(obj)
    if hasattr(obj, "read"):
        check_binary(obj)
        return StreamSource(obj)
    return BytesSource(obj)


def read_growing(source, offset, nbytes):
    """An aligned buffer of the ``nbytes`` at ``offset``, or fewer if the data end first.

    Where the data's size is unknown, ``nbytes`` is an unchecked claim: the
    buffer then starts at 1 MiB and grows fourfold, so that memory follows
    the bytes that actually arrive (at most four times as much, plus 1 MiB).
    """
    cap = nbytes if source.size is not None else min(nbytes, _GROW_FROM)
    buf = aligned_empty(cap)
    got = source.read_into(offset, buf)
    while got == cap < nbytes:
        cap = min(nbytes, cap * 4)
        bigger = aligned_empty(cap)
        bigger[:got] = buf[:got]
        buf = bigger
        got += source.read_into(offset + got, buf[got:])
    return buf[:got]


def read_whole(source, head, length):
    """``(buf, digest)``: a whole 1.x file of ``length`` bytes in one aligned buffer.

    ``head``: its first bytes, already read and checked (appendix A, steps 1
    to 4). Where the size is known, the trailer digest is computed chunk by
    chunk on worker threads while the file is read; ``digest`` is None for a
    stream of unknown size and when the data end early (the caller's checks
    then name the problem).
    """
    got = len(head)
    if source.size is None:
        rest = read_growing(source, got, length - got)
        buf = aligned_empty(got + len(rest))
        buf[:got] = np.frombuffer(head, np.uint8)
        buf[got:] = rest
        if len(buf) == length and source.read_into(length, bytearray(1)):
            raise TrailingDataError(f"the stream continues after the end of the checkpoint at byte {length}")
        return buf, None
    buf = aligned_empty(length)
    buf[:got] = np.frombuffer(head, np.uint8)
    body = length - V1_TRAILER_SIZE
    hasher = Digest(body)
    try:
        # read up to each chunk boundary, so that workers hash every chunk while the next ones are read
        hashed = 0
        while got < length:
            n = source.read_into(got, buf[got:min(length, (got // CHUNK + 1) * CHUNK)])
            if n == 0:
                break
            got += n
            end = min(got, body)
            if end > hashed:
                hasher.update(buf[hashed:end])
                hashed = end
        digest = hasher.digest() if got == length else None
    finally:
        hasher.close()
    return buf[:got], digest
