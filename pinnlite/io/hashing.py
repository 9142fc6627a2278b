"""The container's checksums, computed on worker threads.

hashlib and zlib release the GIL, so the SHA-256 and CRC-32 of different
chunks run on different cores; CRC-32s of consecutive chunks are joined with
:func:`crc32_combine`, so one large array is checked on every core. The thread
count follows the one rule of :func:`pinnlite.core.cpus.resolve_threads`; the
results do not depend on it.

- :class:`ArrayChecksums`: CRC-32 and tree digest of each array of a version
  2.0 file (``docs/FORMAT.md`` sections 3.3 and 4), fed chunk by chunk;
- :class:`Digest` and :func:`digest_of`: the tree digest of a byte stream (the
  trailer of version 1.x files, appendix A);
- :func:`crc32s`: the CRC-32 of whole buffers.
"""

import functools
import hashlib
import zlib
from concurrent.futures import ThreadPoolExecutor

from pinnlite.core.cpus import resolve_threads
from pinnlite.io.spec import CHUNK

_CRC_THREAD_MIN = 1 << 20  # pieces from 1 MiB get their checksums on a worker thread
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
    is cached, since the pieces of an array are all 4 MiB but the last.
    """
    return _multmodp(_shift(len2), crc1) ^ crc2


def _sums(piece, sha):
    return zlib.crc32(piece), len(piece), hashlib.sha256(piece).digest() if sha else None


class ArrayChecksums:
    """CRC-32 and (``sha=True``) tree digest of several arrays, fed in pieces, on worker threads.

    The pieces of one array are fed in order through :meth:`add`, each exactly
    :data:`CHUNK` bytes but the last (the tree digest hashes the array's own
    4 MiB chunks, ``docs/FORMAT.md`` section 3.3). Pieces from 1 MiB go to the
    worker threads, smaller ones are summed in the calling thread. A piece is
    read in place: it must stay unchanged until :meth:`result` returns.
    ``size``: the total bytes that will be fed, which decides the thread count.
    """

    def __init__(self, size, sha):
        pieces = -(-size // CHUNK)
        workers = min(resolve_threads(), pieces) if pieces > 1 else 0
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="pinnlite-checksum") if workers else None
        self._sha = sha
        self._parts = {}  # key -> [(crc, length, sha) or a future of it]

    @property
    def threaded(self):
        """Whether large pieces are summed on worker threads (more than one chunk in all)."""
        return self._pool is not None

    def add(self, key, piece):
        """Feed the next piece (a uint8 array or memoryview) of the array named ``key``."""
        parts = self._parts.setdefault(key, [])
        if self._pool is not None and len(piece) >= _CRC_THREAD_MIN:
            parts.append(self._pool.submit(_sums, piece, self._sha))
        else:
            parts.append(_sums(piece, self._sha))

    def add_array(self, key, data):
        """Feed all of ``data`` (a flat uint8 array) as the array named ``key``, cut into chunks."""
        self._parts.setdefault(key, [])
        for start in range(0, len(data), CHUNK):
            self.add(key, data[start:start + CHUNK])

    def result(self, key):
        """``(crc32, sha256)`` of the array ``key`` (sha256: the 32-byte tree digest, None without ``sha``)."""
        parts = [p if type(p) is tuple else p.result() for p in self._parts.get(key, ())]
        crc = parts[0][0] if parts else 0  # the CRC-32 of no bytes is 0
        for part_crc, length, _ in parts[1:]:
            crc = crc32_combine(crc, part_crc, length)
        sha = hashlib.sha256(b"".join(p[2] for p in parts)).digest() if self._sha else None
        return crc, sha

    def close(self):
        """Stop the workers; after an error, pieces not yet started are dropped."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _sha256_of(pieces):
    sha = hashlib.sha256()
    for piece in pieces:
        sha.update(piece)
    return sha.digest()


class Digest:
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

    def close(self):
        """Stop the workers; after an error, chunks not yet started are dropped."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


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
