"""The container's checksums, computed on worker threads.

hashlib and zlib release the GIL, so the SHA-256 of different chunks and the
CRC-32 of different arrays run on different cores. The thread count follows the
one rule of :func:`pinnlite.core.cpus.resolve_threads`; the results do not
depend on it.
"""

import hashlib
import zlib
from concurrent.futures import ThreadPoolExecutor

from pinnlite.core.cpus import resolve_threads

CHUNK = 4194304  # 4 MiB: the trailer DIGEST hashes bytes [0, L-34) in chunks of this size
_CRC_THREAD_MIN = 1 << 20  # arrays from 1 MiB get their CRC-32 on a worker thread


def _sha256_of(pieces):
    sha = hashlib.sha256()
    for piece in pieces:
        sha.update(piece)
    return sha.digest()


class Digest:
    """The trailer DIGEST of ``size`` bytes fed in order through :meth:`update`.

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
    """The trailer DIGEST of a whole bytes-like object (hashed in place)."""
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
