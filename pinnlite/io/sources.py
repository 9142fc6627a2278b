"""Getting a container's bytes into memory: from a bytes-like object, a binary stream or a path.

The readers return ``(buf, digest)`` (:func:`private_copy`: ``buf`` only).
``buf`` is a private, writeable uint8 buffer of the whole file starting at a
multiple of 64 bytes, so that :func:`~pinnlite.io.reader.decode` can hand out
aligned array views; ``digest`` is the trailer DIGEST, computed chunk by chunk
on worker threads while a stream's bytes arrive (None where the stream's size
is unknown). Memory is never allocated past the data actually present,
whatever the preamble claims.
"""

import errno
import io
import os

import numpy as np

from pinnlite.errors import InputError, describe
from pinnlite.io import atomic
from pinnlite.io.errors import MissingFileError, TrailingDataError
from pinnlite.io.hashing import CHUNK, Digest
from pinnlite.io.reader import check_lengths, parse_preamble
from pinnlite.io.spec import ALIGNMENT, PREAMBLE_SIZE, TRAILER_SIZE


def _aligned_empty(n):
    raw = np.empty(n + ALIGNMENT, dtype=np.uint8)
    start = -raw.ctypes.data % ALIGNMENT
    return raw[start:start + n]


def private_copy(data):
    """``buf`` holding one copy of a bytes-like object, so that no array aliases ``data``."""
    try:
        view = memoryview(data).cast("B")
    except TypeError:
        raise InputError(f"data: expected bytes, bytearray or a C-contiguous memoryview, "
                         f"found {describe(data)}") from None
    buf = _aligned_empty(view.nbytes)
    buf[:] = np.frombuffer(view, np.uint8)
    return buf


def check_binary(fileobj):
    """Raise :class:`InputError` for a text stream (reading or writing one would mangle the bytes)."""
    if isinstance(fileobj, io.TextIOBase):
        raise InputError(f"fileobj: expected a binary file object, found text stream {describe(fileobj)}; "
                         "open the file with mode 'rb' / 'wb'")


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


def read_stream(fileobj):
    """``(buf, digest)`` of the container from the current position of a binary stream to its end."""
    size = _stream_size(fileobj)
    head = bytearray(PREAMBLE_SIZE)
    got = _readinto(fileobj, memoryview(head))
    available = size if size is not None else got
    version, hlen, hcrc, length = parse_preamble(bytes(head[:got]), available)
    digest = None
    if size is not None:
        check_lengths(size, hlen, length)
        buf = _aligned_empty(length)
        buf[:PREAMBLE_SIZE] = np.frombuffer(head, np.uint8)
        body = length - TRAILER_SIZE
        hasher = Digest(body)
        try:
            # read up to each chunk boundary, so that workers hash every chunk
            # while the next ones are read
            hashed = 0
            while got < length:
                n = _readinto(fileobj, memoryview(buf[got:min(length, (got // CHUNK + 1) * CHUNK)]))
                if n == 0:
                    break
                got += n
                end = min(got, body)
                if end > hashed:
                    hasher.update(buf[hashed:end])
                    hashed = end
            if got == length:
                digest = hasher.digest()
        finally:
            hasher.close()
    else:
        # unknown size: grow geometrically so a false length cannot make us allocate much
        cap = min(length, 1 << 24)
        buf = _aligned_empty(cap)
        buf[:PREAMBLE_SIZE] = np.frombuffer(head, np.uint8)
        while True:
            got += _readinto(fileobj, memoryview(buf[got:]))
            if got < cap or cap == length:
                break
            cap = min(length, cap * 4)
            bigger = _aligned_empty(cap)
            bigger[:got] = buf[:got]
            buf = bigger
    if got < length:
        check_lengths(got, hlen, length)
    if size is None and fileobj.read(1):
        raise TrailingDataError(f"the stream continues after the end of the checkpoint at byte {length}")
    return buf[:got], digest


def read_path(path):
    """``(buf, digest)`` of the file at ``path``; :class:`MissingFileError` if there is none."""
    path = os.fsdecode(path)
    try:
        fileobj = open(path, "rb", buffering=0)
    except FileNotFoundError:
        stale = atomic.stale_temps(path)
        hint = f"; temporary files of interrupted saves exist: {stale}" if stale else ""
        raise MissingFileError(errno.ENOENT, f"checkpoint file not found (check the path){hint}", path) from None
    with fileobj:
        return read_stream(fileobj)


def read_any(source):
    """``(buf, digest)`` of a path (str or os.PathLike), a binary file object or a bytes-like object."""
    if isinstance(source, (str, os.PathLike)):
        return read_path(source)
    if hasattr(source, "read"):
        check_binary(source)
        return read_stream(source)
    return private_copy(source), None
