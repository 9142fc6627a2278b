"""Threads: the worker pool, and single-threaded BLAS inside the workers.

An evaluation splits its points into tiles (:mod:`pinnlite.engine.tiles`); worker
threads take tiles one after another and run the whole forward and backward
pass of a tile with single-threaded BLAS and serial Numba kernels (both release
the GIL). Each tile's partial sums are kept apart and added in tile order at the
end, so the result does not depend on the number of threads nor on which thread
ran which tile.

While an evaluation runs, OpenBLAS is set to one thread (``openblas_set_num_threads``,
found in the library NumPy loaded) and the previous count is restored when the
last concurrent evaluation ends. The setting is process-wide: OpenBLAS's
``openblas_set_num_threads_local`` changes the global count too in the
pthreads builds NumPy ships, so it is not used. Other BLAS calls made by the
program during an evaluation therefore run single-threaded. Where no OpenBLAS
is found (MKL, Accelerate), evaluations run in the calling thread only and BLAS
keeps its own threading.

How many threads is decided by :func:`pinnlite.core.cpus.resolve_threads`
(the ``threads`` argument, then the environment, then the CPUs available).
"""

import ctypes
import queue
import threading

from pinnlite.engine.blas import candidate_libraries

_WORKER_PREFIX = "pinnlite-worker"


# --------------------------------------------------------------------------- BLAS


_SETTERS = ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_", "scipy_openblas_set_num_threads_64_")
_GETTERS = ("openblas_get_num_threads", "scipy_openblas_get_num_threads64_", "scipy_openblas_get_num_threads_64_")


def _find_controls():
    """(get, set) of the loaded OpenBLAS's global thread count, or None."""
    for path in candidate_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get_name, set_name in zip(_GETTERS, _SETTERS):
            get, put = getattr(lib, get_name, None), getattr(lib, set_name, None)
            if get is not None and put is not None:
                get.argtypes, get.restype = [], ctypes.c_int
                put.argtypes, put.restype = [ctypes.c_int], None
                return get, put
    return None


_controls = None
_controls_found = False
_blas_lock = threading.Lock()
_blas_users = 0
_blas_saved = None


def _blas_controls():
    global _controls, _controls_found
    if not _controls_found:
        with _blas_lock:
            if not _controls_found:
                _controls = _find_controls()
                _controls_found = True
    return _controls


def blas_threads_controllable():
    """True when pinnlite can run BLAS single-threaded inside its worker threads."""
    return _blas_controls() is not None


class single_threaded_blas:
    """Context manager: OpenBLAS runs with one thread inside the block.

    Reference counted across threads: the first block to enter saves the
    global thread count and sets 1, the last to leave restores it.
    """

    def __enter__(self):
        global _blas_users, _blas_saved
        controls = _blas_controls()
        if controls is not None:
            with _blas_lock:
                if _blas_users == 0:
                    _blas_saved = controls[0]()
                    controls[1](1)
                _blas_users += 1
        return self

    def __exit__(self, *exc):
        global _blas_users
        controls = _blas_controls()
        if controls is not None:
            with _blas_lock:
                _blas_users -= 1
                if _blas_users == 0:
                    controls[1](_blas_saved)
        return False


# --------------------------------------------------------------------------- pool


class _Job:
    """Tasks 0..n-1 of one call, taken in order by whoever is free."""

    def __init__(self, fn, n_tasks, n_workers):
        self.fn = fn
        self.n_tasks = n_tasks
        self.next = 0
        self.active = n_workers
        self.error = None
        self.lock = threading.Lock()
        self.done = threading.Event()

    def work(self):
        try:
            while True:
                with self.lock:
                    k = self.next
                    if k >= self.n_tasks or self.error is not None:
                        break
                    self.next = k + 1
                try:
                    self.fn(k)
                except BaseException as e:  # noqa: BLE001  (re-raised in the caller)
                    with self.lock:
                        if self.error is None:
                            self.error = e
                    break
        finally:
            with self.lock:
                self.active -= 1
                finished = self.active == 0
            if finished:
                self.done.set()


class _Pool:
    """Daemon worker threads that run jobs from a queue (the caller sets BLAS to one thread)."""

    def __init__(self, n):
        self.queue = queue.SimpleQueue()
        for i in range(n):
            threading.Thread(target=self._loop, name=f"{_WORKER_PREFIX}-{i}", daemon=True).start()

    def _loop(self):
        while True:
            self.queue.get().work()


_pools = {}
_pools_lock = threading.Lock()


def _pool(n):
    with _pools_lock:
        pool = _pools.get(n)
        if pool is None:
            pool = _pools[n] = _Pool(n)
        return pool


def run_tasks(fn, n_tasks, threads):
    """Call ``fn(k)`` for k in range(n_tasks) on ``threads`` threads; the first error is raised.

    The calling thread works too, next to ``threads - 1`` pool workers; tasks are
    taken in order from a shared counter. With one thread, with a BLAS that
    cannot be limited per thread, or when called from a worker (nested), the
    tasks run in the calling thread alone.
    """
    threads = min(threads, n_tasks)
    nested = threading.current_thread().name.startswith(_WORKER_PREFIX)
    if threads <= 1 or nested or _blas_controls() is None:
        with single_threaded_blas():
            for k in range(n_tasks):
                fn(k)
        return
    job = _Job(fn, n_tasks, threads)
    pool = _pool(threads - 1)
    with single_threaded_blas():
        for _ in range(threads - 1):
            pool.queue.put(job)
        job.work()
        job.done.wait()
    if job.error is not None:
        raise job.error
