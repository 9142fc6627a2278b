"""L-BFGS with a strong-Wolfe line search over one flat parameter vector.

Nocedal & Wright, *Numerical Optimization* (2006): the two-loop recursion
(Alg. 7.4), the limited-memory update (Alg. 7.5) with its history in a
fixed-shape ring buffer, and the line search of Alg. 3.5/3.6 with cubic
interpolation. Dot products are serial Numba loops in index order (no BLAS),
so iterates are reproducible bit for bit. The interface is that of
:mod:`pinnlite.optim`, except that ``update`` also takes the objective.
"""

import math
from typing import NamedTuple

import numpy as np

from pinnlite.core import checks
from pinnlite.core.jit import kernel
from pinnlite.optim.linesearch import all_finite, dot, max_abs, strong_wolfe, sub, sum_abs
from pinnlite.optim.base import (
    Optimizer,
    check_params,
    check_state_type,
    check_vector,
    as_schedule,
    lr_at,
    check_lr_factor,
)
from pinnlite.errors import InputError, describe


class LbfgsState(NamedTuple):
    """L-BFGS state.

    Fields
    ------
    count : int
        Update calls processed (calls on a converged state are not counted).
    n_evals : int
        Objective evaluations made by the line searches so far.
    head : int
        Ring-buffer slot the next stored pair goes to.
    size : int
        Number of stored pairs (<= history).
    converged : int
        1 once a stopping rule fired (see ``status``); later updates are no-ops.
    status : int
        Why it stopped: ``LBFGS_RUNNING`` (0), ``LBFGS_GRAD_TOL`` (1),
        ``LBFGS_VALUE_CHANGE`` (2), ``LBFGS_STEP_CHANGE`` (3),
        ``LBFGS_LINESEARCH_FAILED`` (4).
    wolfe : int
        1 if the last accepted step satisfied the strong Wolfe conditions, 0 if it
        came from the line search's fallback (or no step was taken).
    step_size : float
        Step length ``t`` of the last accepted step (0.0 if none).
    value : float
        Objective at the returned params (NaN before the first update).
    grad : ndarray (n,)
        Gradient at the returned params.
    s, y : ndarray (history, n)
        Ring buffer of ``s_k = x_{k+1} - x_k`` and ``y_k = g_{k+1} - g_k``.
    rho : ndarray (history,)
        ``1 / (y_k' s_k)``.
    """

    count: int
    n_evals: int
    head: int
    size: int
    converged: int
    status: int
    wolfe: int
    step_size: float
    value: float
    grad: np.ndarray
    s: np.ndarray
    y: np.ndarray
    rho: np.ndarray


LBFGS_RUNNING = 0
LBFGS_GRAD_TOL = 1  # max |g| <= tolerance_grad
LBFGS_VALUE_CHANGE = 2  # |f_new - f| < tolerance_change
LBFGS_STEP_CHANGE = 3  # max |x_new - x| <= tolerance_change
LBFGS_LINESEARCH_FAILED = 4  # no point with f < f(x) found; params unchanged


def step_status(grad_max, step_max, value_change, tolerance_grad, tolerance_change):
    """The status after an accepted step, the tests in this order (the second-order optimizers share it):
    ``grad_max`` (max |g|) <= tolerance_grad, ``step_max`` (max |x_new - x|) <= tolerance_change, then
    ``|value_change|`` (f_new - f) < tolerance_change; else still running."""
    if grad_max <= tolerance_grad:
        return LBFGS_GRAD_TOL
    if step_max <= tolerance_change:
        return LBFGS_STEP_CHANGE
    if abs(value_change) < tolerance_change:
        return LBFGS_VALUE_CHANGE
    return LBFGS_RUNNING


@kernel
def _two_loop(g, s, y, rho, head, size):
    """``d = -H g`` by the L-BFGS two-loop recursion (Nocedal & Wright, Alg. 7.4),
    newest pair first, ``H_0 = gamma I`` with ``gamma = s'y / y'y`` of the newest
    pair (eq. 7.20); ``H_0 = I`` with no pairs. Works in float64."""
    m = s.shape[0]
    n = g.shape[0]
    q = np.empty(n)
    for i in range(n):
        q[i] = g[i]
    alpha = np.empty(size)
    for k in range(size):
        j = (head - 1 - k + m) % m
        a = rho[j] * dot(s[j], q)
        alpha[k] = a
        for i in range(n):
            q[i] -= a * y[j, i]
    gamma = 1.0
    if size > 0:
        j = (head - 1 + m) % m
        gamma = dot(s[j], y[j]) / dot(y[j], y[j])
    for i in range(n):
        q[i] *= gamma
    for k in range(size - 1, -1, -1):
        j = (head - 1 - k + m) % m
        b = rho[j] * dot(y[j], q)
        for i in range(n):
            q[i] += s[j, i] * (alpha[k] - b)
    d = np.empty_like(g)
    for i in range(n):
        d[i] = -q[i]
    return d


# -- L-BFGS ---------------------------------------------------------------------------------


def lbfgs(history=10, learning_rate=1.0, max_linesearch=25, c1=1e-4, c2=0.9,
          tolerance_grad=1e-9, tolerance_change=1e-12):
    """Full-batch L-BFGS with a strong-Wolfe line search.

    One update from ``x`` with value ``f`` and gradient ``g``:

    1. if ``max|g| <= tolerance_grad``: converged (status 1), params unchanged;
    2. ``d = -H g`` by the two-loop recursion (Nocedal & Wright Alg. 7.4) over the
       stored pairs, ``H_0 = gamma I``, ``gamma = s'y / y'y`` of the newest pair
       (eq. 7.20); if ``g'd >= 0`` (not a descent direction, only possible
       through rounding) the history is dropped and ``d = -g``;
    3. strong-Wolfe line search (Alg. 3.5/3.6, see :func:`strong_wolfe`) from the
       trial step ``t_0 = learning_rate(count) * lr_factor``, further multiplied
       by ``min(1, 1 / sum|g|)`` while no pair is stored (``-g`` is unscaled);
    4. ``s = x_new - x``, ``y = g_new - g``; the pair is stored in the ring buffer
       (overwriting the oldest when full, Alg. 7.5) only if
       ``s'y > eps * |s| |y|`` with ``eps`` the machine epsilon of the dtype, so
       ``H`` stays positive definite;
    5. stop (``converged = 1``) with status 1 if ``max|g_new| <= tolerance_grad``,
       3 if ``max|s| <= tolerance_change``, 2 if ``|f_new - f| < tolerance_change``;
       status 4 if the line search found no point with ``f < f(x)`` (params
       unchanged).

    Dot products are serial Numba loops in index order (no BLAS), so iterates
    are reproducible bit for bit.

    Parameters
    ----------
    history : int
        Number of stored pairs ``m`` (>= 1).
    learning_rate : float or callable
        Initial trial step of each line search (> 0), or a schedule.
    max_linesearch : int
        Maximum objective evaluations per line search (>= 1).
    c1, c2 : float
        Wolfe constants, ``0 < c1 < c2 < 1``.
    tolerance_grad, tolerance_change : float
        Stopping tolerances (>= 0).

    Returns
    -------
    Optimizer
        ``update(grads, state, params, *, value, fun, lr_factor=1.0)`` where
        ``value = f(params)``, ``grads`` its gradient and ``fun(p) -> (f, g)``
        (``g`` with the dtype and shape of ``params``). State :class:`LbfgsState`.
    """
    history = checks.integer("history", history, low=1)
    schedule = as_schedule(learning_rate, positive=True)
    max_linesearch = checks.integer("max_linesearch", max_linesearch, low=1)
    c1 = checks.real("c1", c1, low=0.0, low_open=True, high=1.0, high_open=True)
    c2 = checks.real("c2", c2, low=0.0, low_open=True, high=1.0, high_open=True)
    if not c1 < c2:
        raise InputError(f"c2: expected c1 < c2 < 1 with c1={c1}, found {c2!r}")
    tolerance_grad = checks.real("tolerance_grad", tolerance_grad, low=0.0)
    tolerance_change = checks.real("tolerance_change", tolerance_change, low=0.0)

    def init(params):
        params = check_params(params)
        n = params.shape[0]
        return LbfgsState(
            count=0, n_evals=0, head=0, size=0, converged=0, status=LBFGS_RUNNING, wolfe=0,
            step_size=0.0, value=math.nan, grad=np.zeros_like(params),
            s=np.zeros((history, n), params.dtype), y=np.zeros((history, n), params.dtype),
            rho=np.zeros(history, params.dtype),
        )

    def check_state(state):
        check_state_type(state, LbfgsState)
        g = state.grad
        if not isinstance(g, np.ndarray) or g.ndim != 1:
            raise InputError(f"state: expected grad to be a 1-D array, found {describe(g)}")
        shape2 = (history, g.shape[0])
        for name, arr, shape in (("s", state.s, shape2), ("y", state.y, shape2),
                                 ("rho", state.rho, (history,))):
            if not isinstance(arr, np.ndarray) or arr.shape != shape or arr.dtype != g.dtype:
                raise InputError(
                    f"state: expected {name} of shape {shape} and dtype {g.dtype}, "
                    f"found {describe(arr)}"
                )
        if not (0 <= state.size <= history and 0 <= state.head < history):
            raise InputError(
                f"state: expected 0 <= size <= {history} and 0 <= head < {history}, "
                f"found size={state.size!r}, head={state.head!r}"
            )

    def update(grads, state, params, *, value, fun, lr_factor=1.0):
        check_state(state)
        check_vector("params", params, state.grad)
        check_vector("grads", grads, state.grad)
        if not callable(fun):
            raise InputError(f"fun: expected a callable p -> (f, g), found {describe(fun)}")
        if not checks.is_real(value) or not math.isfinite(value):
            raise InputError(f"value: expected a finite real number f(params), found {value!r}")
        if not all_finite(grads):
            raise InputError("grads: expected finite values, found NaN or inf")
        if state.converged:
            return params.copy(), state
        value = float(value)
        factor = check_lr_factor(lr_factor, positive=True)
        lr = lr_at(schedule, state.count, positive=True)
        count = state.count + 1
        n_evals = state.n_evals
        head, size = state.head, state.size

        def stop(status, p, f, g, wolfe, t, s, y, rho, head, size):
            return p, LbfgsState(
                count=count, n_evals=n_evals, head=head, size=size,
                converged=int(status != LBFGS_RUNNING), status=status, wolfe=wolfe,
                step_size=t, value=f, grad=g, s=s, y=y, rho=rho,
            )

        if max_abs(grads) <= tolerance_grad:
            return stop(LBFGS_GRAD_TOL, params.copy(), value, grads.copy(), 0, 0.0,
                        state.s.copy(), state.y.copy(), state.rho.copy(), head, size)

        d = _two_loop(grads, state.s, state.y, state.rho, head, size)
        dg = dot(grads, d)
        if not (dg < 0.0) or not all_finite(d):
            head, size = 0, 0
            d = _two_loop(grads, state.s, state.y, state.rho, 0, 0)
            dg = dot(grads, d)
        t0 = lr * factor
        if size == 0:
            t0 *= min(1.0, 1.0 / sum_abs(grads))

        point, wolfe, evals = strong_wolfe(
            fun, params, value, dg, d, t0, c1, c2, max_linesearch, tolerance_change
        )
        n_evals += evals
        if point is None:
            return stop(LBFGS_LINESEARCH_FAILED, params.copy(), value, grads.copy(), 0, 0.0,
                        state.s.copy(), state.y.copy(), state.rho.copy(), head, size)

        x_new, f_new, g_new = point.x, point.f, point.g.copy()
        s_k = sub(x_new, params)
        y_k = sub(g_new, grads)
        s_buf, y_buf, rho_buf = state.s.copy(), state.y.copy(), state.rho.copy()
        sy = dot(s_k, y_k)
        eps = float(np.finfo(params.dtype).eps)
        if sy > eps * math.sqrt(dot(s_k, s_k)) * math.sqrt(dot(y_k, y_k)):
            s_buf[head] = s_k
            y_buf[head] = y_k
            rho_buf[head] = 1.0 / sy
            head = (head + 1) % history
            size = min(size + 1, history)

        status = step_status(max_abs(g_new), max_abs(s_k), f_new - value, tolerance_grad, tolerance_change)
        return stop(status, x_new, f_new, g_new, int(wolfe), point.t,
                    s_buf, y_buf, rho_buf, head, size)

    hyper = dict(history=history, learning_rate=learning_rate, max_linesearch=max_linesearch,
                 c1=c1, c2=c2, tolerance_grad=tolerance_grad, tolerance_change=tolerance_change)
    return Optimizer("lbfgs", init, update, hyper, LbfgsState)
