"""The container's checksums, computed beside the caller's reads and writes.

hashlib and zlib release the GIL, so checksums run on worker threads while the
calling thread reads or writes the next bytes. The thread count follows the
one rule of :func:`pinnlite.core.cpus.resolve_threads`; the results do not
depend on it.

- :class:`FileDigest`: the plain SHA-256 of a byte stream fed in order (the
  file digest of version 2.0, ``docs/FORMAT.md`` section 3.3), on one worker
  thread: SHA-256 is sequential, so it takes one core while the caller
  computes CRC-32s and moves the bytes on the other;
- :class:`CRCs`: the CRC-32 of each array, fed piece by piece; large pieces are
  summed on worker threads (one fewer than the thread count: the caller, who
  reads, takes the piece itself whenever the workers are behind) and joined
  with :func:`crc32_combine`, so a load checks one large array on every core;
- :class:`Digest` and :func:`digest_of`: the tree digest of a byte stream (the
  trailer of version 1.x files, appendix A); :func:`crc32s`: the CRC-32 of
  whole buffers.
"""

import collections
import functools
import hashlib
import zlib
from concurrent.futures import ThreadPoolExecutor

from pinnlite.core.cpus import resolve_threads
from pinnlite.io.spec import CHUNK

PIECE = 1 << 20  # large arrays are read, written and checksummed in pieces of 1 MiB, which stay in cache
_CRC_THREAD_MIN = 1 << 20  # pieces from 1 MiB get their CRC-32 on a worker thread
_SMALL = 4096  # FileDigest copies and batches pieces below this size
_LAG = 4  # pieces FileDigest's worker may be behind the caller
_BACKLOG = 2  # pieces per CRC-32 worker that may wait; beyond them the caller sums the next piece itself
_CRC_POLY = 0xEDB88320  # the reflected CRC-32 polynomial of zlib


def _multmodp(a, b):
    """a * b modulo the CRC-32 polynomial, in zlib's reflected bit order."""
    m, p = 1 << 31, 0
    while True:
        if a & m:
            p ^= b
            if not a & (m - 1):
                return p
        m >>= 1
        b = (b >> 1) ^ _CRC_POLY if b & 1 else b >> 1


_X2N = [1 << 30]  # x^(2^k) modulo the polynomial, k = 0..31
for _ in range(31):
    _X2N.append(_multmodp(_X2N[-1], _X2N[-1]))


@functools.lru_cache(maxsize=64)
def _shift(length):
    """x^(8 length) modulo the polynomial, assembled from the table of x^(2^k): O(log length)."""
    p, k, n = 1 << 31, 3, length  # x^0, and 8 * length = length * 2^3
    while n:
        if n & 1:
            p = _multmodp(_X2N[k & 31], p)
        n >>= 1
        k += 1
    return p


def crc32_combine(crc1, crc2, len2):
    """CRC-32 of ``A + B`` from ``crc1`` = CRC-32(A), ``crc2`` = CRC-32(B) and len(B) (zlib's crc32_combine).

    Appending ``len2`` bytes multiplies A's remainder by x^(8 len2); the power
    is cached, since the pieces of an array are all PIECE (1 MiB) but the last.
    """
    return _multmodp(_shift(len2), crc1) ^ crc2


class _Workers:
    """Owner of an optional worker pool ``self._pool``: :meth:`close` stops it, and so does leaving a
    ``with`` block; after an error, work not yet started is dropped."""

    _pool = None

    def close(self):
        """Stop the workers (none: nothing to do); pieces not yet started are dropped."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class FileDigest(_Workers):
    """The plain SHA-256 of the bytes fed in order through :meth:`update`, on a worker thread if ``threaded``.

    Pieces from 4 KiB are hashed in place on the worker (they must stay
    unchanged until :meth:`digest` returns); smaller ones are copied and
    hashed in batches. The caller waits once it is more than
    :data:`_LAG` pieces ahead, so that the worker reads each piece soon
    after the caller did, from the cache.
    """

    def __init__(self, threaded):
        self._sha = hashlib.sha256()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="pinnlite-sha256") if threaded else None
        self._pending = collections.deque()
        self._small = bytearray()

    def update(self, piece):
        """Feed the next bytes (a bytes-like object of any length)."""
        if self._pool is None:
            self._sha.update(piece)
        elif len(piece) < _SMALL:
            self._small += memoryview(piece)
        else:
            self._flush()
            self._submit(piece)

    def _flush(self):
        if self._small:
            small, self._small = bytes(self._small), bytearray()
            self._submit(small)

    def _submit(self, data):
        self._pending.append(self._pool.submit(self._sha.update, data))
        while len(self._pending) > _LAG:
            self._pending.popleft().result()

    def digest(self):
        """The 32-byte SHA-256 of everything fed."""
        if self._pool is not None:
            self._flush()
            while self._pending:
                self._pending.popleft().result()
        return self._sha.digest()


class CRCs(_Workers):
    """CRC-32 of several arrays, fed in pieces (of at most :data:`PIECE` bytes), large ones on worker threads.

    The pieces of one array are fed in order through :meth:`add`; pieces from
    1 MiB go to the worker threads (one fewer than
    :func:`~pinnlite.core.cpus.resolve_threads`), smaller ones are summed in
    the calling thread, and so is a large one whenever :data:`_BACKLOG`
    pieces per worker are still waiting: the caller, who also reads or
    writes the bytes, then takes the share its cores leave, with no thread
    more than there are cores. On two, a load's caller reads every byte and
    sums a fifth to a quarter of the CRC-32s (measured on a 288 MB load), the
    worker the rest: the balance follows the machine's speeds, it is not set.
    A piece is read in place: it must stay unchanged until :meth:`result`
    returns. ``size``: the total bytes that will be fed, which decides
    whether workers pay; ``threaded=False`` sums every piece in the calling
    thread (where another thread already takes a core, as the SHA-256 of a
    verifying read does).
    """

    def __init__(self, size, threaded=True):
        pieces = -(-size // PIECE)
        workers = min(resolve_threads() - 1, pieces) if pieces > 1 and threaded else 0
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="pinnlite-crc32") if workers > 0 else None
        self._waiting = collections.deque()  # the futures given to the workers, oldest first
        self._limit = _BACKLOG * workers
        self._parts = {}  # key -> [(crc, length) or a future of it]

    def add(self, key, piece):
        """Feed the next piece (a uint8 array or memoryview) of the array named ``key``."""
        parts = self._parts.setdefault(key, [])
        if self._pool is not None and len(piece) >= _CRC_THREAD_MIN:
            waiting = self._waiting
            while waiting and waiting[0].done():
                waiting.popleft()
            if len(waiting) < self._limit:
                waiting.append(self._pool.submit(_crc_part, piece))
                parts.append(waiting[-1])
                return
        parts.append((zlib.crc32(piece), len(piece)))

    def result(self, key):
        """The CRC-32 of the array ``key`` (0 for no bytes)."""
        parts = [p if type(p) is tuple else p.result() for p in self._parts.get(key, ())]
        crc = parts[0][0] if parts else 0
        for part_crc, length in parts[1:]:
            crc = crc32_combine(crc, part_crc, length)
        return crc


def _crc_part(piece):
    return zlib.crc32(piece), len(piece)


def _sha256_of(pieces):
    sha = hashlib.sha256()
    for piece in pieces:
        sha.update(piece)
    return sha.digest()


class Digest(_Workers):
    """The tree digest of ``size`` bytes fed in order through :meth:`update` (a 1.x trailer).

    DIGEST = SHA-256(SHA-256(chunk 0) || SHA-256(chunk 1) || ...) over the
    consecutive :data:`CHUNK`-byte chunks (docs/FORMAT.md section 3.3). Each
    chunk is hashed on a worker thread as soon as it is complete, so hashing
    runs on several cores and overlaps the caller's reads or writes; a
    single-chunk input is hashed in the calling thread, where threads would
    only add overhead. The buffers fed are hashed in place: they must stay
    unchanged until :meth:`digest` returns.
    """

    def __init__(self, size):
        chunks = -(-size // CHUNK)
        workers = min(resolve_threads(), chunks) if chunks > 1 else 0
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="pinnlite-sha256") if workers else None
        self._done = []  # per chunk: its digest, or the future computing it
        self._pieces = []  # views making up the current, incomplete chunk
        self._filled = 0

    @property
    def threaded(self):
        """Whether chunks are hashed on worker threads (the input is more than one chunk)."""
        return self._pool is not None

    def update(self, data):
        """Feed the next bytes (any bytes-like object; not copied)."""
        view = memoryview(data).cast("B")
        while view.nbytes:
            take = min(view.nbytes, CHUNK - self._filled)
            self._pieces.append(view[:take])
            self._filled += take
            view = view[take:]
            if self._filled == CHUNK:
                self._hash_chunk()

    def _hash_chunk(self):
        pieces, self._pieces, self._filled = self._pieces, [], 0
        if self._pool is None:
            self._done.append(_sha256_of(pieces))
        else:
            self._done.append(self._pool.submit(_sha256_of, pieces))

    def digest(self):
        """The 32-byte DIGEST of everything fed (the last chunk may be short)."""
        if self._filled:
            self._hash_chunk()
        digests = [d if type(d) is bytes else d.result() for d in self._done]
        self.close()
        return hashlib.sha256(b"".join(digests)).digest()


def digest_of(data):
    """The tree digest of a whole bytes-like object (hashed in place)."""
    digest = Digest(memoryview(data).nbytes)
    try:
        digest.update(data)
        return digest.digest()
    finally:
        digest.close()


def crc32s(buffers):
    """``zlib.crc32`` of each buffer (NumPy arrays or memoryviews); the large ones on worker threads.

    The small ones are computed in the calling thread meanwhile.
    """
    out = [None] * len(buffers)
    big = sorted((i for i, b in enumerate(buffers) if b.nbytes >= _CRC_THREAD_MIN), key=lambda i: -buffers[i].nbytes)
    workers = min(resolve_threads(), len(big)) if len(big) > 1 else 0
    if not workers:
        return [zlib.crc32(b) for b in buffers]
    with ThreadPoolExecutor(workers, thread_name_prefix="pinnlite-crc32") as pool:
        futures = {i: pool.submit(zlib.crc32, buffers[i]) for i in big}  # largest first: balanced finish
        for i, b in enumerate(buffers):
            if i not in futures:
                out[i] = zlib.crc32(b)
        for i, future in futures.items():
            out[i] = future.result()
    return out
