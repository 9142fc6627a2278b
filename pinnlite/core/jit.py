"""Numba settings, all in one place.

Every compiled kernel in pinnlite is created through :func:`kernel` (or
:func:`inline` for the scalar helpers they call), so the flags below apply
everywhere:

- ``cache=True``: compiled machine code is stored next to the sources (or in
  ``NUMBA_CACHE_DIR``), so a second process starts without compiling.
- ``fastmath=False``: no reassociation, so results are reproducible bit for bit
  and match the plain NumPy reference to rounding.
- ``error_model="numpy"``: division by zero gives inf/nan as in NumPy instead of
  a Python exception check in every inner loop.
- ``nogil=True``: kernels release the GIL, so pipelines may call pinnlite from
  several Python threads.

Kernels are serial: the engine runs them on its own worker threads
(:mod:`pinnlite.engine.threads`), one tile per call, which is why ``nogil``
matters and ``parallel=True`` is never used.
"""

import numba

FLAGS = dict(cache=True, fastmath=False, error_model="numpy", nogil=True)


def kernel(fn):
    """Compile ``fn`` as a serial Numba kernel with pinnlite's flags."""
    return numba.njit(**FLAGS)(fn)


def inline(fn):
    """Compile a small scalar helper that is inlined into the kernels calling it."""
    return numba.njit(inline="always", **FLAGS)(fn)
