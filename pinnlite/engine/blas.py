"""NumPy's BLAS, found and made callable from compiled kernels.

The engine runs a whole tile's forward and backward passes in compiled code
(:mod:`pinnlite.engine.tile_kernels`), so the matrix products inside them must
be callable from Numba. They still go to the BLAS NumPy uses: :func:`gemm`
returns the ``cblas_?gemm`` of the BLAS library NumPy loaded, as a ctypes
function that a kernel takes as an argument and calls (the OpenBLAS of
NumPy's wheels on PyPI has it with 64-bit integers, as ``scipy_cblas_dgemm64_``
in NumPy 2 and ``cblas_dgemm64_`` before; a NumPy built against a system BLAS
has ``cblas_dgemm`` with 32-bit integers). A product made there is the
product ``np.matmul`` makes on the same arrays, bit for bit (the same library,
the same arguments).

Where no such function is found (MKL and Accelerate are not looked for: only
libraries named like ``*blas*``), :func:`gemm` returns the same interface in
plain compiled loops (:func:`_loops`): slower, and rounded differently from
NumPy's products, but the same results for any number of threads.

The interface, for row-major arrays (``order`` is always :data:`ROW_MAJOR`)::

    gemm(order, trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc)
    C (m, n) = alpha op(A) op(B) + beta C,   op(X) = X or X' (NO_TRANS, TRANS)

with ``A``, ``B``, ``C`` the addresses of the first entries and the integers
64-bit or 32-bit (a tile's sizes are far below 2^31; Numba converts them to
the function's types). :func:`candidate_libraries` is also how
:mod:`pinnlite.engine.threads` finds OpenBLAS's thread-count controls.
"""

import ctypes
import glob
import os

import numba
import numpy as np
from numba import types

from pinnlite.core.jit import inline

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112

# the names of cblas_dgemm / cblas_sgemm: with 64-bit integers in the OpenBLAS builds NumPy's wheels
# ship, then with 32-bit ones (a NumPy built against a system BLAS)
_NAMES = {
    "float64": (("scipy_cblas_dgemm64_", 64), ("cblas_dgemm64_", 64), ("scipy_cblas_dgemm", 32), ("cblas_dgemm", 32)),
    "float32": (("scipy_cblas_sgemm64_", 64), ("cblas_sgemm64_", 64), ("scipy_cblas_sgemm", 32), ("cblas_sgemm", 32)),
}


def candidate_libraries():
    """Shared libraries of the loaded BLAS, NumPy's own first (Linux: from /proc/self/maps; wheels: numpy.libs).

    Other packages bring their own copies of OpenBLAS with the same function
    names: SciPy's wheels do, and Numba imports SciPy's BLAS wrappers at its
    first compile wherever SciPy is installed. Their products need not be
    NumPy's to the last bit (another build and version, 32-bit integers) and
    their threads are not the ones pinnlite sets to one, so they come last
    (:func:`numpys_first`).
    """
    paths = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                part = line.split()
                if len(part) >= 6 and "blas" in os.path.basename(part[5]).lower():
                    paths.append(part[5])
    except OSError:
        pass
    base = os.path.dirname(os.path.dirname(np.__file__))
    for pattern in ("numpy.libs/*blas*", "numpy/.dylibs/*blas*"):
        paths.extend(glob.glob(os.path.join(base, pattern)))
    return numpys_first(paths, os.path.dirname(np.__file__))


def numpys_first(paths, numpy_dir):
    """``paths`` without repeats, in the order a BLAS is looked for in them (a stable sort on three ranks).

    First the libraries of NumPy's own package (under ``numpy_dir``, or in
    the ``numpy.libs`` folder beside it, where its wheels keep their
    OpenBLAS); then those outside any Python package (``site-packages`` or
    ``dist-packages``): a system or conda BLAS, the one a NumPy built from
    source links; last those of other packages (SciPy's ``scipy.libs`` and
    extension modules, torch's).
    """
    numpy_dir = os.path.normpath(numpy_dir)
    own = (numpy_dir + os.sep, os.path.join(os.path.dirname(numpy_dir), "numpy.libs") + os.sep)

    def rank(path):
        path = os.path.normpath(path)
        if path.startswith(own):
            return 0
        parts = path.split(os.sep)
        return 2 if "site-packages" in parts or "dist-packages" in parts else 1

    return sorted(dict.fromkeys(paths), key=rank)


def _ctypes_signature(dtype, bits):
    real = ctypes.c_double if dtype == "float64" else ctypes.c_float
    i, ptr, enum = (ctypes.c_int64 if bits == 64 else ctypes.c_int32), ctypes.c_void_p, ctypes.c_int
    return [enum, enum, enum, i, i, i, real, ptr, i, ptr, i, real, ptr, i]


def _find(dtype):
    """The ``cblas_?gemm`` for ``dtype`` of the BLAS NumPy loaded, as a ctypes function, or None."""
    for path in candidate_libraries():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name, bits in _NAMES[dtype]:
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.argtypes, fn.restype = _ctypes_signature(dtype, bits), None
                return fn
    return None


def _loops_signature(real):
    i32, i64, ptr = types.int32, types.int64, types.voidptr
    return types.void(i32, i32, i32, i64, i64, i64, real, ptr, i64, ptr, i64, real, ptr, i64)


@inline
def _loops(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc):
    """The gemm interface in loops, on the flat arrays A, B, C (row-major); with beta 0, C is not read."""
    zero = C.dtype.type(0)
    for i in range(m):
        for j in range(n):
            acc = zero
            for p in range(k):
                x = A[p * lda + i] if trans_a == TRANS else A[i * lda + p]
                y = B[j * ldb + p] if trans_b == TRANS else B[p * ldb + j]
                acc += x * y
            C[i * ldc + j] = alpha * acc + (beta * C[i * ldc + j] if beta != 0 else zero)


def _gemm_loops_float64(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    A = numba.carray(a, ((k if trans_a == TRANS else m) * lda,), np.float64)
    B = numba.carray(b, ((n if trans_b == TRANS else k) * ldb,), np.float64)
    _loops(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, numba.carray(c, (m * ldc,), np.float64), ldc)


def _gemm_loops_float32(order, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    A = numba.carray(a, ((k if trans_a == TRANS else m) * lda,), np.float32)
    B = numba.carray(b, ((n if trans_b == TRANS else k) * ldb,), np.float32)
    _loops(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, numba.carray(c, (m * ldc,), np.float32), ldc)


def _make_loops(dtype):
    """The compiled loops for ``dtype`` as a ctypes function (compiled, or read from the cache, on first use)."""
    real, fn = (types.float64, _gemm_loops_float64) if dtype == "float64" else (types.float32, _gemm_loops_float32)
    return numba.cfunc(_loops_signature(real), cache=True, error_model="numpy")(fn).ctypes


_found = {}


def gemm(dtype, loops=False):
    """``cblas_?gemm`` for arrays of ``dtype`` ("float64" or "float32"): the BLAS NumPy loaded, or, where
    it has none or ``loops`` is true, the same interface in compiled loops (:func:`_loops`)."""
    dtype = np.dtype(dtype).name
    key = (dtype, bool(loops))
    fn = _found.get(key)
    if fn is None:
        fn = None if loops else _find(dtype)
        fn = _found[key] = fn if fn is not None else _make_loops(dtype)
    return fn


def is_numpys(dtype):
    """True when :func:`gemm` calls the BLAS NumPy loaded for ``dtype`` (False: the compiled loops)."""
    return _find(np.dtype(dtype).name) is not None
