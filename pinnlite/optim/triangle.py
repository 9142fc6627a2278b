"""Symmetric matrices as packed upper triangles, and the one-pass rank-two update of the dense quasi-Newton methods.

A symmetric (n, n) matrix is held as its upper triangle packed by rows
(:func:`packed`): entry ``(i, j)``, ``j >= i``, at index
``i n - i (i - 1) / 2 + j - i``, ``n (n + 1) / 2`` values (docs/FORMAT.md,
the BFGS state). :func:`_apply` computes ``c0 H + c1 a a' + c2 (s a' + a s') +
c3 s s'`` and its product with a vector in one pass over the triangle, and
:func:`_matvec` the product alone; both split the rows into blocks of equal
shares of the triangle (:func:`_edges`, fixed by n) and add the blocks' partial
products in block order, so that the results do not depend on the threads that
run the blocks. Used by :mod:`pinnlite.optim.broyden`.
"""

import math

import numpy as np

from pinnlite.core import checks
from pinnlite.core.jit import inline, kernel


@inline
def _row_start(i, n):
    """Index in a packed triangle (:func:`packed`) of row ``i``'s diagonal entry ``(i, i)``."""
    return i * n - (i * (i - 1)) // 2


def _diagonal(n):
    """Indices of the diagonal entries ``(i, i)`` in a packed triangle of order n (int64, (n,))."""
    rows = np.arange(n, dtype=np.int64)
    return rows * n - rows * (rows - 1) // 2


def _identity(n):
    """The packed triangle of the (n, n) identity."""
    out = np.zeros(n * (n + 1) // 2)
    out[_diagonal(n)] = 1.0
    return out


def packed(M):
    """The upper triangle of a square matrix, row by row: ``M[i, j]`` for ``j >= i`` at index
    ``i n - i (i - 1) / 2 + j - i`` (float64, (n (n + 1) / 2,)); how a :class:`BfgsState` holds ``H``."""
    M = np.asarray(M, dtype=np.float64)
    return M[np.triu_indices(M.shape[0])]


def _order(size):
    """n of a packed triangle of ``size = n (n + 1) / 2`` entries, or None when no n gives that size."""
    n = (math.isqrt(8 * size + 1) - 1) // 2
    return n if n * (n + 1) // 2 == size else None


def symmetric(p):
    """The (n, n) symmetric matrix whose upper triangle :func:`packed` gives ``p`` (a new matrix)."""
    n = _order(p.shape[0]) if isinstance(p, np.ndarray) and p.ndim == 1 else None
    if n is None:
        checks.fail("p", "a packed triangle: a vector of n (n + 1) / 2 values", p)
    M = np.empty((n, n))
    rows, cols = np.triu_indices(n)
    M[rows, cols] = p
    M[cols, rows] = p
    return M


@kernel
def _sym_rows(H, v, part, lo, hi):
    """Rows ``lo:hi``'s share of ``M v`` for the symmetric M of the packed triangle ``H`` (float64).

    Row i holds ``M[i, j]``, ``j >= i``: it adds ``v_i M[i, j]`` to entry j
    (the upper triangle, M's column i read as its row) and ``sum_{j>i} M[i, j]
    v_j`` to entry i (the lower triangle, M[j, i] = M[i, j]); summed over the
    rows this is ``M v``, each packed entry read once, in a fixed order.
    """
    n = v.shape[0]
    for j in range(n):
        part[j] = 0.0
    for i in range(lo, hi):
        start = _row_start(i, n)
        row, tail, share = H[start : start + n - i], v[i:], part[i:]  # entries j = i..n-1
        vi = v[i]
        for k in range(n - i):
            share[k] += vi * row[k]
        part[i] += _dot_after(row, tail)


@inline
def _dot_after(row, v):
    """``sum_{k >= 1} row[k] v[k]`` (the row past its diagonal) in four interleaved partial sums added
    in a fixed order: independent sums keep the adds' latency off the critical path (twice as fast as
    one sum here), and the order is the same on every run."""
    m = row.shape[0]
    s0 = s1 = s2 = s3 = 0.0
    k = 1
    while k + 4 <= m:
        s0 += row[k] * v[k]
        s1 += row[k + 1] * v[k + 1]
        s2 += row[k + 2] * v[k + 2]
        s3 += row[k + 3] * v[k + 3]
        k += 4
    while k < m:
        s0 += row[k] * v[k]
        k += 1
    return (s0 + s1) + (s2 + s3)


@kernel
def _apply_rows(H, s, a, c0, c1, c2, c3, y, out, part, lo, hi):
    """Rows ``lo:hi`` of ``c0 H + c1 a a' + c2 (s a' + a s') + c3 s s'`` into ``out``, and their share of
    the product with ``y`` (float64; ``H``, ``out`` packed triangles, :func:`packed`).

    Row i of the result is computed for ``j >= i`` only: every term is
    symmetric (products and sums of two terms commute in floating point), so
    the upper triangle is the whole matrix, and the pass reads and writes half
    of what the full matrix would take. While the row is in cache it adds
    ``y_i out[i, j]`` to ``part[j]`` (the upper triangle's share of ``out y``)
    and ``sum_{j>i} out[i, j] y_j`` to ``part[i]`` (the lower triangle's), as
    :func:`_sym_rows` does. Each entry of ``out`` depends on its own inputs
    only, so how the blocks are shared among threads does not change a bit.
    """
    n = s.shape[0]
    for j in range(n):
        part[j] = 0.0
    for i in range(lo, hi):
        start = _row_start(i, n)
        # entries j = i..n-1 as slices from 0: the loop then vectorises (indices base + j did not)
        row, new, ta, ts, share = H[start : start + n - i], out[start : start + n - i], a[i:], s[i:], part[i:]
        ai = a[i]
        si = s[i]
        yi = y[i]
        for k in range(n - i):
            v = c0 * row[k] + c1 * (ai * ta[k]) + c2 * (si * ta[k] + ai * ts[k]) + c3 * (si * ts[k])
            new[k] = v
            share[k] += yi * v
        part[i] += _dot_after(new, y[i:])


# rows per task of a threaded update, counted as rows of the full matrix: enough tasks to balance
# two to eight threads, few enough that a task's Python overhead (some microseconds) stays small
# next to its rows (about 0.1 ms for 128 rows of n = 1,350)
_ROWS_PER_TASK = 128


def _serial(fn, n_tasks):
    for k in range(n_tasks):
        fn(k)


def _edges(n):
    """Row edges of the blocks of a pass over a packed triangle of order n: as many blocks as
    ``n / _ROWS_PER_TASK`` rows of the full matrix make, each with about the same share of the
    triangle (row i has n - i entries), fixed by n alone so that the result is too."""
    k = -(-n // _ROWS_PER_TASK)
    edges = sorted({n - round(n * math.sqrt(1.0 - b / k)) for b in range(k)} | {n})
    return edges


def _blocks(kernel_call, n, tasks):
    """The sum of the parts that ``kernel_call(part, lo, hi)`` writes for each block ``lo:hi`` of
    :func:`_edges`, added in block order (so that it does not depend on ``tasks``, which runs the blocks)."""
    edges = _edges(n)
    parts = np.empty((len(edges) - 1, n))
    tasks(lambda k: kernel_call(parts[k], edges[k], edges[k + 1]), len(edges) - 1)
    product = np.zeros(n)
    for part in parts:
        product += part
    return product


def _matvec(H, v, tasks=_serial):
    """``M v`` (float64) for the symmetric M of the packed triangle ``H`` (:func:`_sym_rows`)."""
    return _blocks(lambda part, lo, hi: _sym_rows(H, v, part, lo, hi), v.shape[0], tasks)


def _apply(H, s, a, c, y, tasks=_serial):
    """``(c[0] H + c[1] a a' + c[2] (s a' + a s') + c[3] s s', that matrix times y)``, in one pass over H.

    ``H`` and the new matrix are packed triangles (:func:`packed`).
    ``tasks(fn, n_tasks)`` calls ``fn(k)`` for every k, in any order and on any
    threads. The rows are split into the blocks of :func:`_edges` whatever
    the threads, and the blocks' partial products are added in block order, so
    the result does not depend on ``tasks``. The pass is memory-bound (it reads
    and writes ``4 n (n + 1)`` bytes).
    """
    out = np.empty_like(H)
    product = _blocks(lambda part, lo, hi: _apply_rows(H, s, a, c[0], c[1], c[2], c[3], y, out, part, lo, hi),
                      s.shape[0], tasks)
    return out, product


def _update(H, s, a, c, tasks=_serial):
    """``c[0] H + c[1] a a' + c[2] (s a' + a s') + c[3] s s'`` alone (a new packed triangle; :func:`_apply`)."""
    return _apply(H, s, a, c, np.zeros(s.shape[0]), tasks)[0]
