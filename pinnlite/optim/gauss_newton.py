"""Levenberg-Marquardt: damped Gauss-Newton steps for a sum of squares ``f(x) = |rho(x)|^2``.

Every pinnlite loss is a weighted sum of squared residuals
(:mod:`pinnlite.engine.jacobian`), so with ``J = d rho / d x`` the Gauss-Newton
model ``|rho + J h|^2 = f + 2 h'g + h'A h`` (``g = J'rho``, ``A = J'J``) is
minimised with Marquardt's damping (Madsen, Nielsen & Tingleff 2004, "Methods
for non-linear least squares problems", Alg. 3.16, with Nielsen's 1999 rule)::

    (A + mu D) h = -g,            D = diag(A), floored at 1e-12 max(diag A)
    ratio = (f(x) - f(x + h)) / (f - |rho + J h|^2) = (f(x) - f(x + h)) / -(2 h'g + h'A h)
    ratio > 0:  x += h,  mu *= max(1/3, 1 - (2 ratio - 1)^3),  nu = 2
    otherwise:  mu *= nu,  nu *= 2                   (and solve again, at most max_tries times)

``D = diag(A)`` makes the step independent of the parameters' units. The linear
systems are solved by Cholesky factorisation (``numpy.linalg``). The state
keeps ``f``, ``g`` and ``A`` at the current point (``A`` is (n, n): ``8 n^2``
bytes, as for the dense quasi-Newton methods), so a restored state continues
bit for bit.
"""

import math
from typing import NamedTuple

import numpy as np

from pinnlite.core import checks
from pinnlite.optim.base import Optimizer, check_params, check_state_type, check_vector
from pinnlite.optim.quasi_newton import (
    LBFGS_GRAD_TOL,
    LBFGS_LINESEARCH_FAILED,
    LBFGS_RUNNING,
    step_status,
)


class LmState(NamedTuple):
    """Levenberg-Marquardt state.

    ``count`` updates made, ``n_evals`` evaluations of f (trial points) and
    ``n_jacobians`` of the normal equations, ``converged`` / ``status`` with the
    status codes of L-BFGS (4: no trial point lowered f within ``max_tries``),
    ``mu`` the damping (NaN before the first update: then ``damping``), ``nu``
    its growth factor, ``step_size`` ``max|h|`` of the last accepted step,
    ``value`` f, ``grad`` (n,) ``J'rho`` and ``A`` (n, n) ``J'J`` at the
    returned params (NaN / zeros before the first update).
    """

    count: int
    n_evals: int
    n_jacobians: int
    converged: int
    status: int
    mu: float
    nu: float
    step_size: float
    value: float
    grad: np.ndarray
    A: np.ndarray


def _solve(A, g, mu):
    """``h`` with ``(A + mu diag(A)) h = -g``, or None when the matrix is not positive definite."""
    d = np.diag(A).copy()
    d = np.maximum(d, 1e-12 * max(float(d.max()), 1e-300))
    M = A + np.diag(mu * d)
    try:
        L = np.linalg.cholesky(M)
    except np.linalg.LinAlgError:
        return None
    return -np.linalg.solve(L.T, np.linalg.solve(L, g))


def levenberg_marquardt(damping=1e-3, max_tries=30, tolerance_grad=1e-14, tolerance_change=1e-15):
    """Levenberg-Marquardt with Marquardt scaling and Nielsen's damping rule (module docstring).

    Parameters
    ----------
    damping : float
        Initial ``mu`` (> 0), relative to ``diag(A)``.
    max_tries : int
        Most trial points per update (>= 1); the damping grows after each rejected one.
    tolerance_grad : float
        Converged when ``max|2 J'rho| <= tolerance_grad``.
    tolerance_change : float
        Converged when the step's ``max|h|`` or the change of f is at most this.

    Returns
    -------
    Optimizer
        ``update(grads, state, params, *, value, fun, normal)`` with ``fun(x) -> f``
        (the sum of squares alone), ``normal(x) -> (f, J'rho, J'J)``; ``grads`` and
        ``value`` are ignored after the first update (the state holds them). State
        :class:`LmState`.
    """
    damping = checks.real("damping", damping, low=0.0, low_open=True)
    max_tries = checks.integer("max_tries", max_tries, low=1)
    tolerance_grad = checks.real("tolerance_grad", tolerance_grad, low=0.0)
    tolerance_change = checks.real("tolerance_change", tolerance_change, low=0.0)

    def init(params):
        params = check_params(params)
        n = params.shape[0]
        return LmState(count=0, n_evals=0, n_jacobians=0, converged=0, status=LBFGS_RUNNING, mu=math.nan, nu=2.0,
                       step_size=0.0, value=math.nan, grad=np.zeros(n), A=np.zeros((n, n)))

    def update(grads, state, params, *, value=None, fun, normal, lr_factor=1.0):
        check_state_type(state, LmState)
        params = check_params(params)
        check_vector("grads", grads, params)
        if not (callable(fun) and callable(normal)):
            checks.fail("fun, normal", "callables x -> f and x -> (f, J'rho, J'J)", (fun, normal))
        if state.converged:
            return params.copy(), state
        n_jac = state.n_jacobians
        if math.isnan(state.value):
            f, g, A = normal(params)
            n_jac += 1
        else:
            f, g, A = state.value, state.grad, state.A
        mu = damping if math.isnan(state.mu) else state.mu
        nu, evals = state.nu, 0

        def done(status, p, f, g, A, mu, nu, step):
            return p, LmState(count=state.count + 1, n_evals=state.n_evals + evals, n_jacobians=n_jac,
                              converged=int(status != LBFGS_RUNNING), status=status, mu=float(mu), nu=float(nu),
                              step_size=step, value=float(f), grad=g, A=A)

        if 2 * float(np.max(np.abs(g))) <= tolerance_grad:
            return done(LBFGS_GRAD_TOL, params.copy(), f, g, A, mu, nu, 0.0)
        for _ in range(max_tries):
            h = _solve(A, g, mu)
            if h is None:
                mu, nu = mu * nu, nu * 2
                continue
            x_new = (params + h).astype(params.dtype)
            f_new = float(fun(x_new))
            evals += 1
            predicted = -(2 * float(h @ g) + float(h @ (A @ h)))
            ratio = (f - f_new) / predicted if predicted > 0 else -1.0
            if math.isfinite(f_new) and ratio > 0:
                mu *= max(1 / 3, 1 - (2 * ratio - 1) ** 3)
                f_new, g_new, A_new = normal(x_new)
                n_jac += 1
                step = float(np.max(np.abs(h)))
                status = step_status(2 * float(np.max(np.abs(g_new))), step, f_new - f, tolerance_grad,
                                     tolerance_change)
                return done(status, x_new, f_new, g_new, A_new, mu, 2.0, step)
            mu, nu = mu * nu, nu * 2
        return done(LBFGS_LINESEARCH_FAILED, params.copy(), f, g, A, mu, nu, 0.0)

    hyper = dict(damping=damping, max_tries=max_tries, tolerance_grad=tolerance_grad, tolerance_change=tolerance_change)
    return Optimizer("lm", init, update, hyper, LmState)
