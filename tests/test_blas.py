"""The products of the compiled tile passes: NumPy's BLAS, and the compiled loops that stand in for it.

``pinnlite.engine.blas.gemm`` hands the kernels the ``cblas_?gemm`` of the
OpenBLAS NumPy loaded: its products must be NumPy's own, bit for bit, for the
three forms the passes use (``W A``, ``G H'``, ``W' G``). The loops that
replace it where NumPy's BLAS is something else must give the same products
to rounding (with ``beta`` too), and a whole evaluation on them the same loss
and gradient.
"""

import os
import shutil
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest

import pinnlite.engine.loss as E
from pinnlite import ElasticPINN2D, LossWeights, Material, PointSets
from pinnlite.engine import blas

FORMS = {  # (trans_a, trans_b, shape of A, shape of B): the products of a 24-wide layer on a PDE tile
    "W A": (blas.NO_TRANS, blas.NO_TRANS, (24, 20), (20, 1024)),
    "G H'": (blas.NO_TRANS, blas.TRANS, (24, 1024), (20, 1024)),
    "W' G": (blas.TRANS, blas.NO_TRANS, (24, 20), (24, 1024)),
}


def _call(gemm, ta, tb, A, B, C, beta):
    m, n = C.shape
    k = A.shape[0] if ta == blas.TRANS else A.shape[1]
    gemm(blas.ROW_MAJOR, ta, tb, m, n, k, 1.0, A.ctypes.data, A.shape[1], B.ctypes.data, B.shape[1], beta,
         C.ctypes.data, n)


def _operands(form, dtype, rng):
    ta, tb, sa, sb = FORMS[form]
    A, B = rng.standard_normal(sa).astype(dtype), rng.standard_normal(sb).astype(dtype)
    opA, opB = (A.T if ta == blas.TRANS else A), (B.T if tb == blas.TRANS else B)
    return ta, tb, A, B, opA, opB


@pytest.mark.skipif(not blas.is_numpys("float64"), reason="this NumPy's BLAS is not an OpenBLAS with 64-bit integers")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_numpys_gemm_makes_numpys_products(form, dtype):
    ta, tb, A, B, opA, opB = _operands(form, dtype, np.random.default_rng(1))
    C = np.full((opA.shape[0], opB.shape[1]), np.nan, dtype)
    _call(blas.gemm(dtype), ta, tb, A, B, C, 0.0)
    np.testing.assert_array_equal(C, opA @ opB)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("form", sorted(FORMS))
def test_loops_make_the_same_products(form, dtype):
    rng = np.random.default_rng(2)
    ta, tb, A, B, opA, opB = _operands(form, dtype, rng)
    reference = opA.astype(np.float64) @ opB.astype(np.float64)
    C = np.full(reference.shape, np.nan, dtype)
    _call(blas.gemm(dtype, loops=True), ta, tb, A, B, C, 0.0)  # beta 0: the NaN already there is not read
    tol = 1e-12 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(C, reference, rtol=0, atol=tol * np.abs(reference).max())
    before = rng.standard_normal(C.shape).astype(dtype)
    C = before.copy()
    _call(blas.gemm(dtype, loops=True), ta, tb, A, B, C, 1.0)
    np.testing.assert_allclose(C, reference + before, rtol=0, atol=tol * np.abs(reference).max())


def test_an_evaluation_on_the_loops_agrees_with_blas(monkeypatch):
    rng = np.random.default_rng(3)
    model = ElasticPINN2D([7, 5, 6], rng=rng)
    points = PointSets(collocation=rng.uniform(0, 1, (300, 3)), data=rng.uniform(0, 1, (90, 3)),
                       data_values=rng.standard_normal((90, 2)), traction=rng.uniform(0, 1, (40, 3)),
                       traction_normals=np.tile([1.0, 0.0], (40, 1)), traction_values=rng.standard_normal((40, 2)))
    prep, material, weights = E.prepare(model.arch, points), Material(2.0, 1.0, 1.3), LossWeights()
    grads, real = [], blas.gemm
    for loops in (False, True):
        monkeypatch.setattr(E.blas, "gemm", lambda dtype, loops=loops: real(dtype, loops=loops))
        g = np.empty_like(model.params)
        res = E.evaluate(model.arch, model.params, prep, material, weights, E.Workspace(2), g)
        grads.append((res.total, g))
    (f_blas, g_blas), (f_loops, g_loops) = grads
    assert f_loops == pytest.approx(f_blas, rel=1e-13)
    np.testing.assert_allclose(g_loops, g_blas, rtol=0, atol=1e-12 * np.abs(g_blas).max())
    assert np.abs(g_blas).max() > 0


def test_a_gemm_with_32_bit_integers_serves_the_passes(monkeypatch):
    # a NumPy built against a system BLAS gives cblas_dgemm with 32-bit integers: the compiled
    # passes take such a function too (Numba converts the sizes), here the loops behind that signature
    i32, ptr, f64 = numba.types.int32, numba.types.voidptr, numba.types.float64
    sig = numba.types.void(i32, i32, i32, i32, i32, i32, f64, ptr, i32, ptr, i32, f64, ptr, i32)

    @numba.cfunc(sig)
    def gemm32(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        A = numba.carray(a, ((k if ta == blas.TRANS else m) * lda,), np.float64)
        B = numba.carray(b, ((n if tb == blas.TRANS else k) * ldb,), np.float64)
        blas._loops(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, numba.carray(c, (m * ldc,), np.float64), ldc)

    rng = np.random.default_rng(4)
    model = ElasticPINN2D([6, 5], rng=rng)
    points = PointSets(collocation=rng.uniform(0, 1, (200, 3)), data=rng.uniform(0, 1, (50, 3)),
                       data_values=rng.standard_normal((50, 2)))
    prep, material, weights = E.prepare(model.arch, points), Material(2.0, 1.0, 1.0), LossWeights()
    g = np.empty_like(model.params)
    ref = E.evaluate(model.arch, model.params, prep, material, weights, E.Workspace(1), g).total
    g_ref = g.copy()
    monkeypatch.setattr(E.blas, "gemm", lambda dtype: gemm32.ctypes)
    res = E.evaluate(model.arch, model.params, prep, material, weights, E.Workspace(1), g)
    assert res.total == pytest.approx(ref, rel=1e-13)
    np.testing.assert_allclose(g, g_ref, rtol=0, atol=1e-12 * np.abs(g_ref).max())


def test_numpys_own_libraries_are_looked_in_first():
    site = "/env/lib/python3.11/site-packages"
    found = [
        f"{site}/scipy/linalg/cython_blas.cpython-311-x86_64-linux-gnu.so",  # SciPy's, mapped first
        f"{site}/scipy.libs/libscipy_openblas-6cdc3b4a.so",
        "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3",  # a system BLAS
        f"{site}/numpy.libs/libscipy_openblas64_-32a4b2a6.so",  # NumPy's wheel's
        f"{site}/torch/lib/libopenblas.so",
        f"{site}/numpy.libs/libscipy_openblas64_-32a4b2a6.so",  # again, from the glob
        f"{site}/numpy/.dylibs/libopenblas.dylib",
    ]
    assert blas.numpys_first(found, f"{site}/numpy") == [
        f"{site}/numpy.libs/libscipy_openblas64_-32a4b2a6.so",
        f"{site}/numpy/.dylibs/libopenblas.dylib",
        "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3",
        f"{site}/scipy/linalg/cython_blas.cpython-311-x86_64-linux-gnu.so",
        f"{site}/scipy.libs/libscipy_openblas-6cdc3b4a.so",
        f"{site}/torch/lib/libopenblas.so",
    ]
    # a package whose name starts like numpy's is another package
    assert blas.numpys_first([f"{site}/numpyro.libs/libblas.so", f"{site}/numpy.libs/libblas.so"],
                             f"{site}/numpy") == [f"{site}/numpy.libs/libblas.so", f"{site}/numpyro.libs/libblas.so"]


_WHEEL_BLAS = [p for p in blas.candidate_libraries() if os.sep + "numpy.libs" + os.sep in p]


@pytest.mark.skipif(not _WHEEL_BLAS or not os.path.exists("/proc/self/maps"),
                    reason="needs NumPy's wheel's OpenBLAS (numpy.libs) and Linux's /proc/self/maps")
def test_another_openblas_loaded_first_is_not_used(tmp_path):
    # SciPy's wheels bring their own OpenBLAS, and Numba imports it at its first compile wherever SciPy is
    # installed: the kernels must still get NumPy's gemm, the library whose threads pinnlite sets to one
    folder = tmp_path / "site-packages" / "other.libs"
    shutil.copytree(os.path.dirname(_WHEEL_BLAS[0]), folder)  # with the libraries it links (gfortran)
    other = folder / os.path.basename(_WHEEL_BLAS[0])
    code = textwrap.dedent(f"""
        import ctypes
        import numpy
        ctypes.CDLL({str(other)!r})  # mapped after NumPy's (and so listed before it), before pinnlite looks
        from pinnlite.engine import blas, threads
        assert any({str(other)!r} == p for p in blas.candidate_libraries())
        own = ctypes.CDLL({_WHEEL_BLAS[0]!r})
        address = lambda f: ctypes.cast(f, ctypes.c_void_p).value
        name = next(n for n, _ in blas._NAMES["float64"] if hasattr(own, n))
        assert address(blas._find("float64")) == address(getattr(own, name)), "another library's gemm"
        get, put = threads._find_controls()
        setter = next(n for n in threads._SETTERS if hasattr(own, n))
        assert address(put) == address(getattr(own, setter)), "another library's thread control"
        print("ok")
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr[-2000:]
