"""First-order optimizers and L-BFGS over one flat parameter vector.

The trainer keeps every trainable value (network weights followed by the
material parameters) in a single 1-D ``float64`` or ``float32`` vector, so an
optimizer here only ever sees that vector. The interface follows optax: a
constructor returns an :class:`Optimizer` ``(name, init, update, hyperparams,
state_type)`` with

- ``init(params) -> state``: a NamedTuple whose fields are NumPy arrays (dtype of
  ``params``) and Python ints/floats only, so ``state_to_dict`` /
  ``state_from_dict`` round-trip it bit for bit;
- ``update(grads, state, params, *, lr_factor=1.0) -> (new_params, new_state)``:
  pure, new arrays are returned and the inputs are never written.

The learning rate of element ``i`` at a step is
``eta_i = learning_rate(count) * lr_factor * lr_scale[i]`` where
``learning_rate`` is a float or a schedule (:mod:`pinnlite.optim.schedules`),
``count`` the number of updates already made (0 for the first), ``lr_factor``
the multiplier of a reduce-on-plateau controller and ``lr_scale`` an optional
per-element vector given to the constructor (default ones).

L-BFGS lives in :mod:`pinnlite.optim.quasi_newton`; the shared pieces (the
:class:`Optimizer` tuple, argument checks) in :mod:`pinnlite.optim.base`.

The elementwise rules are serial Numba kernels: every arithmetic operation is
done in float64 (float32 values are widened when read and rounded when stored)
and every reduction is summed in index order, so results are identical run to
run and do not depend on a BLAS library.
"""

import math
from typing import NamedTuple

import numpy as np

from pinnlite.core import checks
from pinnlite.core.jit import kernel
from pinnlite.optim.base import (
    Optimizer,
    check_params,
    check_state_type,
    check_vector,
    as_schedule,
    lr_at,
    check_lr_factor,
    check_lr_scale,
    scale_for,
)
from pinnlite.errors import InputError, describe


class SgdState(NamedTuple):
    """SGD state: update counter and momentum buffer ``(n,)``."""

    count: int
    trace: np.ndarray


class AdamState(NamedTuple):
    """Adam / AdamW state: update counter, first moment ``mu (n,)``, second moment ``nu (n,)``."""

    count: int
    mu: np.ndarray
    nu: np.ndarray


# -- kernels ---------------------------------------------------------------------------


@kernel
def _sgd_kernel(p, g, trace, eta, scale, momentum, nesterov):
    n = p.shape[0]
    p_new = np.empty_like(p)
    trace_new = np.empty_like(trace)
    for i in range(n):
        b = momentum * trace[i] + g[i]
        trace_new[i] = b
        if nesterov:
            direction = g[i] + momentum * b
        else:
            direction = b
        p_new[i] = p[i] - (eta * scale[i]) * direction
    return p_new, trace_new


@kernel
def _adam_kernel(p, g, mu, nu, eta, scale, b1, b2, eps, bc1, bc2, weight_decay, mask):
    n = p.shape[0]
    p_new = np.empty_like(p)
    mu_new = np.empty_like(mu)
    nu_new = np.empty_like(nu)
    for i in range(n):
        gi = 1.0 * g[i]
        m = b1 * mu[i] + (1.0 - b1) * gi
        v = b2 * nu[i] + (1.0 - b2) * (gi * gi)
        mu_new[i] = m
        nu_new[i] = v
        step = (m / bc1) / (math.sqrt(v / bc2) + eps)
        eta_i = eta * scale[i]
        if mask[i]:
            # decoupled decay (Loshchilov & Hutter 2019): uses p, not the gradient
            p_new[i] = p[i] - eta_i * step - eta_i * weight_decay * p[i]
        else:
            p_new[i] = p[i] - eta_i * step
    return p_new, mu_new, nu_new


# -- SGD ---------------------------------------------------------------------------------


def sgd(learning_rate, momentum=0.0, nesterov=False, lr_scale=None):
    """Stochastic gradient descent with optional (Nesterov) momentum.

    PyTorch's convention (no dampening), with ``eta_i`` the element's learning rate::

        b_t = momentum * b_{t-1} + g_t            (b_0 = 0, so b_1 = g_1)
        p_t = p_{t-1} - eta_i * b_t                         (heavy ball)
        p_t = p_{t-1} - eta_i * (g_t + momentum * b_t)      (nesterov=True)

    With ``momentum = 0`` this is plain gradient descent ``p -= eta_i * g``.

    Parameters
    ----------
    learning_rate : float or callable
        Constant (>= 0) or schedule ``step -> float``.
    momentum : float
        In [0, 1).
    nesterov : bool
        Nesterov momentum (requires ``momentum > 0``).
    lr_scale : array_like (n,), optional
        Per-element learning-rate multipliers (finite, >= 0).

    Returns
    -------
    Optimizer
        State :class:`SgdState` ``(count, trace)``.
    """
    schedule = as_schedule(learning_rate)
    momentum = checks.real("momentum", momentum, low=0.0, high=1.0, high_open=True)
    if not isinstance(nesterov, bool):
        raise InputError(f"nesterov: expected True or False, found {nesterov!r}")
    if nesterov and momentum == 0.0:
        raise InputError("nesterov: requires momentum > 0, found momentum=0.0")
    scale_arr = check_lr_scale(lr_scale)

    def init(params):
        params = check_params(params)
        scale_for(scale_arr, params.shape[0])
        return SgdState(count=0, trace=np.zeros_like(params))

    def update(grads, state, params, *, lr_factor=1.0):
        state = check_state_type(state, SgdState)
        check_vector("params", params, state.trace)
        check_vector("grads", grads, state.trace)
        eta = lr_at(schedule, state.count) * check_lr_factor(lr_factor)
        scale = scale_for(scale_arr, params.shape[0])
        p_new, trace = _sgd_kernel(params, grads, state.trace, eta, scale, momentum, nesterov)
        return p_new, SgdState(count=state.count + 1, trace=trace)

    hyper = dict(learning_rate=learning_rate, momentum=momentum, nesterov=nesterov,
                 lr_scale=scale_arr)
    return Optimizer("sgd", init, update, hyper, SgdState)


# -- Adam / AdamW ---------------------------------------------------------------------------


def _adam_like(name, learning_rate, b1, b2, eps, weight_decay, decay_mask, lr_scale):
    schedule = as_schedule(learning_rate)
    b1 = checks.real("b1", b1, low=0.0, high=1.0, high_open=True)
    b2 = checks.real("b2", b2, low=0.0, high=1.0, high_open=True)
    eps = checks.real("eps", eps, low=0.0, low_open=True)
    weight_decay = checks.real("weight_decay", weight_decay, low=0.0)
    scale_arr = check_lr_scale(lr_scale)
    mask_arr = None
    if decay_mask is not None:
        if (
            not isinstance(decay_mask, np.ndarray)
            or decay_mask.dtype != np.bool_
            or decay_mask.ndim != 1
        ):
            raise InputError(
                "decay_mask: expected a 1-D numpy array of dtype bool, "
                f"found {describe(decay_mask)}"
            )
        mask_arr = decay_mask.copy()
        mask_arr.setflags(write=False)

    def mask_for(n):
        if weight_decay == 0.0:
            return np.zeros(n, dtype=np.bool_)
        if mask_arr is None:
            return np.ones(n, dtype=np.bool_)
        if mask_arr.shape[0] != n:
            raise InputError(
                f"decay_mask: expected length {n} (the number of parameters), "
                f"found length {mask_arr.shape[0]}"
            )
        return mask_arr

    def init(params):
        params = check_params(params)
        scale_for(scale_arr, params.shape[0])
        if mask_arr is not None:
            mask_for(params.shape[0])
        return AdamState(count=0, mu=np.zeros_like(params), nu=np.zeros_like(params))

    def update(grads, state, params, *, lr_factor=1.0):
        state = check_state_type(state, AdamState)
        check_vector("params", params, state.mu)
        check_vector("grads", grads, state.mu)
        if state.nu.shape != state.mu.shape or state.nu.dtype != state.mu.dtype:
            raise InputError(
                f"state: expected nu shaped like mu ({describe(state.mu)}), "
                f"found {describe(state.nu)}"
            )
        eta = lr_at(schedule, state.count) * check_lr_factor(lr_factor)
        n = params.shape[0]
        t = state.count + 1
        bc1 = 1.0 - b1**t
        bc2 = 1.0 - b2**t
        p_new, mu, nu = _adam_kernel(
            params, grads, state.mu, state.nu, eta, scale_for(scale_arr, n),
            b1, b2, eps, bc1, bc2, weight_decay, mask_for(n),
        )
        return p_new, AdamState(count=t, mu=mu, nu=nu)

    hyper = dict(learning_rate=learning_rate, b1=b1, b2=b2, eps=eps, lr_scale=scale_arr)
    if name == "adamw":
        hyper.update(weight_decay=weight_decay, decay_mask=mask_arr)
    return Optimizer(name, init, update, hyper, AdamState)


def adam(learning_rate, b1=0.9, b2=0.999, eps=1e-8, lr_scale=None):
    """Adam (Kingma & Ba 2015, Alg. 1) with bias correction.

    With ``t = count + 1`` and ``eta_i`` the element's learning rate::

        m_t = b1 * m_{t-1} + (1 - b1) * g_t
        v_t = b2 * v_{t-1} + (1 - b2) * g_t**2
        p_t = p_{t-1} - eta_i * (m_t / (1 - b1**t)) / (sqrt(v_t / (1 - b2**t)) + eps)

    Parameters
    ----------
    learning_rate : float or callable
        Constant (>= 0) or schedule ``step -> float``.
    b1, b2 : float
        Moment decay rates, in [0, 1).
    eps : float
        Denominator offset (> 0).
    lr_scale : array_like (n,), optional
        Per-element learning-rate multipliers (finite, >= 0).

    Returns
    -------
    Optimizer
        State :class:`AdamState` ``(count, mu, nu)``.
    """
    return _adam_like("adam", learning_rate, b1, b2, eps, 0.0, None, lr_scale)


def adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-2, decay_mask=None,
          lr_scale=None):
    """AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019, Alg. 2).

    The Adam step of :func:`adam` plus, where ``decay_mask`` is True,
    ``p_t -= eta_i * weight_decay * p_{t-1}`` (the decay uses the previous params
    and the element's learning rate, and never enters the moments)::

        p_t = p_{t-1} - eta_i * (mhat_t / (sqrt(vhat_t) + eps) + weight_decay * p_{t-1})

    Parameters
    ----------
    learning_rate, b1, b2, eps, lr_scale
        As in :func:`adam`.
    weight_decay : float
        Decay coefficient (>= 0).
    decay_mask : ndarray of bool (n,), optional
        True where decay applies (default: everywhere); the trainer passes False
        for biases and material parameters.

    Returns
    -------
    Optimizer
        State :class:`AdamState` ``(count, mu, nu)``.
    """
    return _adam_like("adamw", learning_rate, b1, b2, eps, weight_decay, decay_mask, lr_scale)
