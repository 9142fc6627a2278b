"""The strong-Wolfe line search and the vector kernels the quasi-Newton methods share.

Nocedal & Wright, *Numerical Optimization* (2006), Alg. 3.5 (bracketing) and
3.6 (zoom) with cubic interpolation (eq. 3.59). Dot products and norms are
serial Numba loops in index order (no BLAS), so iterates are reproducible bit
for bit whatever the BLAS or the thread count.
"""

import math
from typing import Any, NamedTuple

import numpy as np

from pinnlite.core import checks
from pinnlite.core.jit import kernel
from pinnlite.optim.base import check_vector
from pinnlite.errors import InputError


# -- kernels -----------------------------------------------------------------------------


@kernel
def dot(a, b):
    acc = 0.0
    for i in range(a.shape[0]):
        acc += 1.0 * a[i] * b[i]
    return acc


@kernel
def max_abs(a):
    m = 0.0
    for i in range(a.shape[0]):
        v = abs(1.0 * a[i])
        if v > m or v != v:
            m = v
    return m


@kernel
def sum_abs(a):
    acc = 0.0
    for i in range(a.shape[0]):
        acc += abs(1.0 * a[i])
    return acc


@kernel
def axpy(x, t, d):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] + t * d[i]
    return out


@kernel
def sub(a, b):
    out = np.empty_like(a)
    for i in range(a.shape[0]):
        out[i] = 1.0 * a[i] - b[i]
    return out


@kernel
def all_finite(a):
    for i in range(a.shape[0]):
        if not np.isfinite(a[i]):
            return False
    return True


def cubic_min(t0, f0, d0, t1, f1, d1):
    """Minimiser of the cubic matching ``f`` and ``f'`` at ``t0`` and ``t1``
    (Nocedal & Wright eq. 3.59); NaN if there is none."""
    if t0 == t1:
        return math.nan
    e1 = d0 + d1 - 3.0 * (f0 - f1) / (t0 - t1)
    disc = e1 * e1 - d0 * d1
    if not (disc >= 0.0) or not math.isfinite(disc):
        return math.nan
    e2 = math.copysign(math.sqrt(disc), t1 - t0)
    denom = d1 - d0 + 2.0 * e2
    if abs(denom) > 1e-8 * (abs(d1) + abs(d0) + 2.0 * abs(e2)):
        return t1 - (t1 - t0) * (d1 + e2 - e1) / denom
    return _cubic_min_stable(t0, f0, d0, t1, f1, d1)


def _cubic_min_stable(t0, f0, d0, t1, f1, d1):
    """:func:`cubic_min` where eq. 3.59 is 0 / 0: its numerator and denominator cancel together (both
    slopes of one sign with the minimiser between, as on phi' = (t - 6)(t - 5) from 0 to 10, where it gave
    5.79). The interpolant as ``f0 + C s + B s^2 + A s^3`` in ``s = (t - t0) / h``, its minimiser the root of
    ``3 A s^2 + 2 B s + C`` where the second derivative is positive, by the form of that root that does
    not cancel."""
    h = t1 - t0
    C = d0 * h
    A = (d0 + d1) * h - 2.0 * (f1 - f0)
    B = 3.0 * (f1 - f0) - (2.0 * d0 + d1) * h
    disc = B * B - 3.0 * A * C
    if not (disc >= 0.0) or not math.isfinite(disc):
        return math.nan
    D = math.sqrt(disc)
    if B > 0.0:
        s = -C / (B + D)
    elif A != 0.0:
        s = (D - B) / (3.0 * A)
    else:
        return math.nan  # a line or a concave parabola: no minimiser
    return t0 + s * h


class Point(NamedTuple):
    t: float
    f: float
    dg: float  # directional derivative g(x + t d)' d
    x: Any
    g: Any
    ok: bool  # f and g finite


def strong_wolfe(fun, x, f0, dg0, d, t1, c1, c2, max_evals, tolerance_change):
    """Strong-Wolfe line search along ``d`` (Nocedal & Wright Alg. 3.5 and the zoom
    Alg. 3.6, trial steps by cubic interpolation, eq. 3.59).

    Bracketing phase: a trial ``t_i`` that breaks sufficient decrease or does not
    lower ``f`` below the previous trial brackets a minimiser (zoom between the
    previous and current trial); one with ``|phi'(t_i)| <= -c2 phi'(0)`` is
    accepted; one with ``phi'(t_i) >= 0`` brackets the other way; otherwise the next
    trial is the cubic extrapolation clamped to
    ``[t_i + 0.01 (t_i - t_{i-1}), 10 t_i]``. In zoom, the cubic minimiser is used
    when it lies in the middle 80 % of the bracket, else the bisection point; the
    zoom stops when the bracket is shorter than ``tolerance_change / max|d|``.
    Non-finite trials count as breaking sufficient decrease.

    Safe fallback: when ``max_evals`` evaluations are spent (or the bracket
    collapses) without a strong-Wolfe point, the evaluated point with the lowest
    ``f < f0`` is accepted (``wolfe = False``); if there is none the search failed.

    Returns
    -------
    (point or None, wolfe: bool, n_evals: int)
    """
    n_evals = 0
    best = None
    d_max = max_abs(d)

    def probe(t):
        nonlocal n_evals, best
        xt = axpy(x, t, d)
        f, g = fun(xt)
        n_evals += 1
        if not checks.is_real(f):
            raise InputError(f"fun: expected to return (float, array), found value {f!r}")
        check_vector("fun", g, x)
        f = float(f)
        ok = math.isfinite(f) and all_finite(g)
        p = Point(t, f, dot(g, d) if ok else math.nan, xt, g, ok)
        if ok and f < f0 and (best is None or f < best.f):
            best = p
        return p

    def armijo(p):
        return p.ok and p.f <= f0 + c1 * p.t * dg0

    def curvature(p):
        return abs(p.dg) <= -c2 * dg0

    def zoom(lo, hi):
        while n_evals < max_evals:
            if abs(hi.t - lo.t) * d_max < tolerance_change:
                break
            a, b = min(lo.t, hi.t), max(lo.t, hi.t)
            t = math.nan
            if hi.ok:
                t = cubic_min(lo.t, lo.f, lo.dg, hi.t, hi.f, hi.dg)
            if not (a + 0.1 * (b - a) <= t <= b - 0.1 * (b - a)):
                t = 0.5 * (lo.t + hi.t)
            p = probe(t)
            if not armijo(p) or p.f >= lo.f:
                hi = p
            else:
                if curvature(p):
                    return p
                if p.dg * (hi.t - lo.t) >= 0.0:
                    hi = lo
                lo = p
        return None

    prev = Point(0.0, f0, dg0, x, None, True)
    t = t1
    found = None
    while n_evals < max_evals:
        p = probe(t)
        if not armijo(p) or (prev.t > 0.0 and p.f >= prev.f):
            found = zoom(prev, p)
            break
        if curvature(p):
            found = p
            break
        if p.dg >= 0.0:
            found = zoom(p, prev)
            break
        low, high = p.t + 0.01 * (p.t - prev.t), 10.0 * p.t
        t_next = cubic_min(prev.t, prev.f, prev.dg, p.t, p.f, p.dg)
        t = high if not math.isfinite(t_next) else min(max(t_next, low), high)
        prev = p
    if found is not None:
        return found, True, n_evals
    return best, False, n_evals
