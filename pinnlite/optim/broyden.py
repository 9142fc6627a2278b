"""Dense quasi-Newton methods of the self-scaled Broyden family, with a strong-Wolfe line search.

For the small networks of PINNs (a few thousand parameters) a dense inverse
Hessian fits in memory, and the self-scaled members of the Broyden family reach
losses orders of magnitude below L-BFGS's (Urban, Stefanou & Pons 2024; Kiyani,
Shukla, Urbán, Darbon & Karniadakis 2025, "Optimizing the optimizer for PINNs").
With ``s = x_{k+1} - x_k``, ``y = g_{k+1} - g_k``, ``H`` the inverse Hessian
approximation and ``v = s / (y's) - H y / (y'H y)``::

    H_{k+1} = ( H - H y y'H / (y'H y) + phi (y'H y) v v' ) / tau  +  s s' / (y's)

(Al-Baali & Khalfan's self-scaled Broyden class). With ``h = y'H y / y's``,
``b = s'B s / y's = -alpha s'g / y's`` (``B s = -alpha g`` along the step
``s = alpha d``) and ``a = b h - 1``:

- ``"bfgs"``: ``phi = 1``, ``tau = 1`` (the classical update);
- ``"ssbfgs"``: ``phi = 1``, ``tau = h`` at the first update and
  ``min(1, 1 / b)`` after (Oren-Luenberger self-scaling of BFGS);
- ``"ssbroyden"``: ``theta = max(theta-, min(theta+, (1 - b) / b))`` with
  ``c = sqrt|a / (1 + a)|``, ``rho- = min(1, h (1 - c))``,
  ``theta- = (rho- - 1) / a``, ``theta+ = 1 / rho-``; ``phi = (1 - theta) /
  (1 + a theta)``; ``tau = h / (1 + a theta)`` at the first update, after it
  ``min(rho sigma^(1/(1-n)), sigma)`` if ``theta <= 0`` else
  ``rho min(sigma^(1/(1-n)), 1 / theta)`` with ``rho = min(1, 1 / b)``,
  ``sigma = 1 + a theta``.

Before the first update ``H = I`` and the first trial step is
``min(1, 1 / sum|g|)``. After it (``initial_step="quadratic"``, the default)
the first trial is the quasi-Newton step ``t = 1`` unless the last decrease
says 1 overshoots: ``t = min(1, 1.01 * 2 (f_{k-1} - f_k) / -g_k'd_k)``
(Nocedal & Wright eq. 3.60: the minimiser of the quadratic through ``f_k``, the
slope ``g_k'd_k`` and the assumption that this step decreases ``f`` as much as
the last one did; not when that decrease is at the rounding level of ``f``,
below ``1e-12 |f|``). A search whose first trial the rule shortened accepts a
step only where the slope has fallen to half (``c2 = 0.5`` instead of 0.9), so
that a trial that stopped short of the line's minimum is extended, not taken:
without that the shorter steps did less per iteration. ``"unit"`` always tries
1. The unit step breaks sufficient decrease in about 60% of the iterations of a
PINN (the dense update overshoots by a factor of 2-3), and each of those costs a
second evaluation: the rule brings the demo from 1.5 evaluations per iteration
to 1.1 and the problem families of ``benchmarks/inverse.py`` to 7-39% less
wall time at the same accuracy (``benchmarks/README.md``). A pair with ``y's <= eps |s| |y|`` (or a non-finite
update) leaves ``H`` as it is, so it stays positive definite.

The state holds ``H``, symmetric, as its upper triangle packed by rows
(:func:`pinnlite.optim.triangle.packed`): ``4 n (n + 1)`` bytes in float64 (58 MB at n = 3,800, 100 MB
at n = 5,000), which is also what it costs in a checkpoint, and the
last update not yet applied to it (``pending``: its four coefficients and the
vectors ``s`` and ``a = H y``, ``2 n + 4`` numbers): the approximation is
``H_k = c0 H + c1 a a' + c2 (s a' + a s') + c3 s s'`` (:func:`inverse_hessian`).
An update then reads and writes the triangle once: one pass applies the pending
update row by row and, from each row while it is in cache, adds up the
product ``H_k y`` that the next update needs (:func:`pinnlite.optim.triangle._apply_rows`: the row's
entries right of the diagonal give both its own entry of the product and, as
the column below the diagonal, their share of the others'); the new
update becomes the pending one, and the next direction ``H_{k+1} g_{k+1}``
follows in O(n). Applying the update at once and forming ``H y`` in a second
pass read the matrix twice; at the demo's n = 1,350 the one pass takes a
third off the two on two threads, a tenth on one, and the triangle instead of
the full matrix another third (``benchmarks/README.md``). The matrix
kernels are Numba loops in a fixed order over rows split into fixed blocks
of about equal shares of the triangle (whose partial products are added in block order), so iterates are
reproducible bit for bit whatever the threads (``tasks``) that share the
blocks; that the new H is finite follows from O(n) bounds (:func:`_bounded`),
without another pass.
"""

import math
from typing import NamedTuple

import numpy as np

from pinnlite.core import checks
from pinnlite.optim.base import Optimizer, as_schedule, check_lr_factor, check_params, check_state_type, check_vector, lr_at
from pinnlite.optim.linesearch import all_finite, dot, max_abs, strong_wolfe, sub, sum_abs
from pinnlite.optim.quasi_newton import (
    LBFGS_GRAD_TOL,
    LBFGS_LINESEARCH_FAILED,
    LBFGS_RUNNING,
    step_status,
)
from pinnlite.optim.triangle import _apply, _diagonal, _identity, _matvec, _serial, _update, packed, symmetric

VARIANTS = ("ssbroyden", "ssbfgs", "bfgs")
INITIAL_STEPS = ("quadratic", "unit")
# the curvature constant of a line search whose first trial the quadratic rule shortened
_SHORTENED_C2 = 0.5
# a last decrease below this fraction of |f| is rounding (of f in float64, or of a float32 loss summed
# in float64), not a measure of the step: the first trial is then 1
_ROUNDING = 1e-12


_NOTHING_PENDING = np.zeros(0)  # BfgsState.pending when no update is pending (shared: never written)
_NOTHING_PENDING.setflags(write=False)


class BfgsState(NamedTuple):
    """Dense quasi-Newton state.

    ``count`` updates made, ``n_evals`` objective evaluations of the line
    searches, ``updates`` curvature pairs taken into ``H`` (0: ``H`` is still
    the identity), ``converged`` and ``status`` as in
    :class:`~pinnlite.optim.quasi_newton.LbfgsState` (the same status codes),
    ``wolfe`` 1 if the last step met the strong Wolfe conditions, ``step_size``
    its length, ``decrease`` how much it lowered the objective (NaN before the
    first step, after a failed search and in states saved before it existed:
    the next first trial is then 1), ``value`` and ``grad`` (n,) the objective at the returned
    params, ``H`` (n (n + 1) / 2,) the inverse Hessian approximation, its
    upper triangle packed by rows (:func:`packed`; the full (n, n) matrix in
    states saved before they held the triangle, which the next update packs),
    and ``Hg`` (n,) the
    product ``H grad`` (NaN before the first update): the next direction,
    carried over from the update in O(n) instead of a second product with H.
    ``pending`` (2 n + 4,) is the last update, not yet applied to ``H``: its
    coefficients ``c0..c3``, then ``s`` and ``a`` (module docstring); empty
    when there is none (always so in states saved before it existed). The
    approximation of the inverse Hessian is :func:`inverse_hessian` of the state.
    """

    count: int
    n_evals: int
    updates: int
    converged: int
    status: int
    wolfe: int
    step_size: float
    value: float
    grad: np.ndarray
    H: np.ndarray
    Hg: np.ndarray
    decrease: float = math.nan
    pending: np.ndarray = _NOTHING_PENDING


def _pending_update(pending, n):
    """``(c, s, a)`` of a state's pending update (:class:`BfgsState`), or None when there is none."""
    if pending.shape[0] == 0:
        return None
    return tuple(float(v) for v in pending[:4]), pending[4 : 4 + n], pending[4 + n :]


def _product(H, pending, v, tasks=_serial):
    """``H_k v`` for the approximation ``H_k`` of ``H`` and its pending update: one pass over H, then O(n)."""
    Hv = _matvec(H, v, tasks)
    update = _pending_update(pending, v.shape[0])
    if update is None:
        return Hv
    c, s, a = update
    av, sv = dot(a, v), dot(s, v)
    return c[0] * Hv + (c[1] * av + c[2] * sv) * a + (c[2] * av + c[3] * sv) * s


def _triangle(H):
    """A state's ``H`` as a packed triangle: as it is, or packed from the (n, n) matrix of a state saved
    before states held the triangle."""
    return packed(H) if H.ndim == 2 else H


def inverse_hessian(state):
    """The (n, n) approximation of the inverse Hessian that a :class:`BfgsState` holds: the symmetric
    matrix of its ``H`` with the pending update applied (a new matrix)."""
    H = _triangle(state.H)
    update = _pending_update(state.pending, state.grad.shape[0])
    if update is not None:
        c, s, a = update
        H = _update(H, s, a, c)
    return symmetric(H)


def _bounded(H, s, a, c):
    """Whether every entry of ``_update(H, s, a, c)`` is finite, from O(n) numbers.

    A positive definite H has ``|H_ij| <= sqrt(H_ii H_jj) <= max_i H_ii``, so the
    entries are bounded by ``|c0| max H_ii + |c1| max|a|^2 + 2 |c2| max|s| max|a|
    + |c3| max|s|^2``; below 1e300 nothing overflows. Every H of this module is
    positive definite (the identity, then updates with y's > 0 and valid
    coefficients), so no O(n^2) pass over the result is needed. An H that is not
    (a state edited by hand) can at worst turn non-finite; the next direction
    is then not one of descent, and H is reset to the identity.
    """
    hm = float(np.max(H[_diagonal(s.shape[0])]))
    am, sm = float(max_abs(a)), float(max_abs(s))  # floats: no overflow warning
    bound = abs(c[0]) * hm + abs(c[1]) * am * am + 2.0 * abs(c[2]) * sm * am + abs(c[3]) * sm * sm
    return math.isfinite(bound) and bound < 1e300


def _coefficients(variant, sy, yHy, b, first, n):
    """``(phi, tau)`` of the update (see the module docstring); None when they are not finite."""
    h = yHy / sy
    a = b * h - 1.0
    if variant == "bfgs":
        return 1.0, 1.0
    if variant == "ssbfgs":
        return 1.0, (h if first else min(1.0, 1.0 / b))
    theta = 0.0
    if abs(a) > 1e-12 and abs(1.0 + a) > 1e-12:
        c = math.sqrt(abs(a / (1.0 + a)))
        rho_minus = min(1.0, h * (1.0 - c))
        if rho_minus != 0.0:
            theta = max((rho_minus - 1.0) / a, min(1.0 / rho_minus, (1.0 - b) / b))
    sigma = 1.0 + a * theta
    phi = (1.0 - theta) / sigma
    if first:
        tau = h / sigma
    else:
        rho = min(1.0, 1.0 / b)
        root = abs(sigma) ** (1.0 / (1.0 - n)) if n > 1 else 1.0
        tau = min(rho * root, sigma) if theta <= 0 else rho * min(root, 1.0 / theta)
    if not (math.isfinite(phi) and math.isfinite(tau)) or tau <= 0:
        return None
    return phi, tau


def bfgs(variant="ssbroyden", learning_rate=1.0, max_linesearch=25, c1=1e-4, c2=0.9,
         tolerance_grad=1e-12, tolerance_change=1e-15, initial_step="quadratic", tasks=None):
    """Full-batch dense quasi-Newton of the self-scaled Broyden family (module docstring).

    One update from ``x`` with value ``f`` and gradient ``g``: stop if
    ``max|g| <= tolerance_grad``; ``d = -H g`` (``-g`` and ``H = I`` again if it
    is not a descent direction); strong-Wolfe line search
    (:func:`~pinnlite.optim.linesearch.strong_wolfe`) from
    ``learning_rate(count) * lr_factor`` (times ``min(1, 1/sum|g|)`` while ``H = I``);
    update ``H`` with the accepted pair; stop with the status codes of L-BFGS.

    Parameters
    ----------
    variant : ``"ssbroyden"``, ``"ssbfgs"`` or ``"bfgs"``
    learning_rate : float or callable
        First trial step of each line search (> 0).
    max_linesearch : int
        Most objective evaluations per line search (>= 1).
    c1, c2 : float
        Wolfe constants, ``0 < c1 < c2 < 1``.
    tolerance_grad, tolerance_change : float
        Stopping tolerances (>= 0), as in :func:`~pinnlite.optim.quasi_newton.lbfgs`.
    initial_step : ``"quadratic"`` or ``"unit"``
        First trial of each line search after the first update, times
        ``learning_rate(count)``: ``min(1, 1.01 * 2 (f_{k-1} - f_k) / -g_k'd_k)``,
        with ``c2 = min(c2, 0.5)`` when that is below 1 (module docstring), or
        always 1.
    tasks : callable or None
        ``tasks(fn, n_tasks)`` calls ``fn(k)`` for k in range(n_tasks), on
        threads of its choice (the trainer passes
        :func:`pinnlite.engine.threads.run_tasks` with the run's threads); the
        update of ``H`` is split into such tasks. None: in this thread, in
        order. The iterates are the same bit for bit either way. Not a
        hyperparameter: it is not in ``hyperparams``.

    Returns
    -------
    Optimizer
        ``update(grads, state, params, *, value, fun, lr_factor=1.0)`` like
        L-BFGS's; state :class:`BfgsState`.
    """
    variant = checks.choice("variant", variant, VARIANTS)
    schedule = as_schedule(learning_rate, positive=True)
    max_linesearch = checks.integer("max_linesearch", max_linesearch, low=1)
    c1 = checks.real("c1", c1, low=0.0, low_open=True, high=1.0, high_open=True)
    c2 = checks.real("c2", c2, low=0.0, low_open=True, high=1.0, high_open=True)
    if not c1 < c2:
        checks.fail("c2", f"c1 < c2 < 1 with c1={c1}", c2)
    tolerance_grad = checks.real("tolerance_grad", tolerance_grad, low=0.0)
    tolerance_change = checks.real("tolerance_change", tolerance_change, low=0.0)
    quadratic = checks.choice("initial_step", initial_step, INITIAL_STEPS) == "quadratic"
    if tasks is not None and not callable(tasks):
        checks.fail("tasks", "None or a callable tasks(fn, n_tasks)", tasks)
    tasks = _serial if tasks is None else tasks

    def init(params):
        params = check_params(params)
        n = params.shape[0]
        return BfgsState(count=0, n_evals=0, updates=0, converged=0, status=LBFGS_RUNNING, wolfe=0, step_size=0.0,
                         value=math.nan, grad=np.zeros_like(params), H=_identity(n), Hg=np.full(n, np.nan))

    def update(grads, state, params, *, value, fun, lr_factor=1.0):
        check_state_type(state, BfgsState)
        check_vector("params", params, state.grad)
        check_vector("grads", grads, state.grad)
        n = params.shape[0]
        size = n * (n + 1) // 2
        H = state.H
        if not isinstance(H, np.ndarray) or H.shape not in ((size,), (n, n)) or H.dtype != np.float64:
            checks.fail("state", f"H of shape ({size},) (or ({n}, {n}), the full matrix) and dtype float64",
                        state.H)
        if not isinstance(state.Hg, np.ndarray) or state.Hg.shape != (n,) or state.Hg.dtype != np.float64:
            checks.fail("state", f"Hg of shape ({n},) and dtype float64", state.Hg)
        pending = state.pending
        if not isinstance(pending, np.ndarray) or pending.shape not in ((0,), (2 * n + 4,)) or pending.dtype != np.float64:
            checks.fail("state", f"pending of shape (0,) or ({2 * n + 4},) and dtype float64", pending)
        if not callable(fun):
            checks.fail("fun", "a callable p -> (f, g)", fun)
        if not checks.is_real(value) or not math.isfinite(value):
            checks.fail("value", "a finite real number f(params)", value)
        if not all_finite(grads):
            checks.fail("grads", "finite values", "NaN or inf")
        if state.converged:
            return params.copy(), state
        value = float(value)
        t0 = lr_at(schedule, state.count, positive=True) * check_lr_factor(lr_factor, positive=True)
        H, updates = _triangle(H), state.updates

        def stop(status, p, f, g, wolfe, t, H, pending, updates, evals, Hg):
            return p, BfgsState(count=state.count + 1, n_evals=state.n_evals + evals, updates=updates,
                                converged=int(status != LBFGS_RUNNING), status=status, wolfe=wolfe,
                                step_size=t, value=f, grad=g, H=H, Hg=Hg,
                                decrease=value - f if t > 0 else math.nan, pending=pending)

        g64 = grads.astype(np.float64)
        Hg = state.Hg if all_finite(state.Hg) else _product(H, pending, g64, tasks)
        if max_abs(grads) <= tolerance_grad:
            return stop(LBFGS_GRAD_TOL, params.copy(), value, grads.copy(), 0, 0.0, H, pending, updates, 0, Hg)
        d = -Hg
        if not (dot(g64, d) < 0.0) or not all_finite(d):
            H, pending, updates, Hg = _identity(n), _NOTHING_PENDING, 0, g64.copy()
            d = -g64
        d = d.astype(params.dtype)
        slope = dot(grads, d)
        rule = 1.0  # the first trial's factor from the last decrease (Nocedal & Wright 3.60, module docstring)
        if updates == 0:
            t0 *= min(1.0, 1.0 / sum_abs(grads))
        elif quadratic and state.decrease > _ROUNDING * abs(value) and slope < 0:  # False for NaN: no last step
            rule = min(1.0, 2.02 * state.decrease / -slope)
            t0 *= rule
        # a shortened trial must also bring the slope down to half (module docstring)
        curvature = min(c2, _SHORTENED_C2) if rule < 1.0 else c2
        point, wolfe, evals = strong_wolfe(fun, params, value, slope, d, t0, c1, curvature, max_linesearch,
                                           tolerance_change)
        if point is None:
            return stop(LBFGS_LINESEARCH_FAILED, params.copy(), value, grads.copy(), 0, 0.0, H, pending, updates,
                        evals, Hg)
        x_new, f_new, g_new = point.x, point.f, point.g.copy()
        s = sub(x_new, params).astype(np.float64)
        y = sub(g_new, grads).astype(np.float64)
        sy = dot(s, y)
        eps = float(np.finfo(params.dtype).eps)
        g_next = g_new.astype(np.float64)
        Hg_next = None
        if sy > eps * math.sqrt(dot(s, s)) * math.sqrt(dot(y, y)):
            last = _pending_update(pending, n)
            if last is None:
                Hy = _matvec(H, y, tasks)
            else:  # apply the pending update, and form H y from its rows on the way
                H, Hy = _apply(H, last[1], last[2], last[0], y, tasks)
                pending = _NOTHING_PENDING
            yHy = dot(y, Hy)
            b = -point.t * dot(s, g64) / sy  # s = alpha d and B d = -g, so s'B s = -alpha s'g
            coef = _coefficients(variant, sy, yHy, b, updates == 0, n) if yHy > 0 and b > 0 else None
            if coef is not None:
                phi, tau = coef
                c = (1.0 / tau, (phi - 1.0) / (tau * yHy), -phi / (tau * sy), phi * yHy / (tau * sy * sy) + 1.0 / sy)
                if _bounded(H, s, Hy, c):
                    # H+ g' = c0 H g' + c1 a a'g' + c2 (s a'g' + a s'g') + c3 s s'g', H g' = H g + H y
                    Hgn = Hg + Hy
                    ag, sg = dot(Hy, g_next), dot(s, g_next)
                    Hg_next = c[0] * Hgn + (c[1] * ag + c[2] * sg) * Hy + (c[2] * ag + c[3] * sg) * s
                    pending, updates = np.concatenate([c, s, Hy]), updates + 1
        if Hg_next is None:
            Hg_next = _product(H, pending, g_next, tasks)
        status = step_status(max_abs(g_new), max_abs(s), f_new - value, tolerance_grad, tolerance_change)
        return stop(status, x_new, f_new, g_new, int(wolfe), point.t, H, pending, updates, evals, Hg_next)

    hyper = dict(variant=variant, learning_rate=learning_rate, max_linesearch=max_linesearch, c1=c1, c2=c2,
                 tolerance_grad=tolerance_grad, tolerance_change=tolerance_change, initial_step=initial_step)
    return Optimizer("bfgs", init, update, hyper, BfgsState)
