"""Adaptive loss weights by learning-rate annealing (Wang, Teng & Perdikaris 2021).

"Understanding and mitigating gradient flow pathologies in physics-informed
neural networks", SIAM J. Sci. Comput. 43(5), A3055-A3081, Algorithm 1. Every
K steps, with g_r the gradient of the PDE term and g_i that of term i with
respect to the network weights::

    lambda_hat_i = max |g_r| / mean |g_i|
    lambda_i     = (1 - alpha) lambda_i + alpha lambda_hat_i

The PDE term keeps weight 1. The state is a NamedTuple of one array and an int,
saved with every checkpoint. :func:`effective_weights` combines the configured
weights, these multipliers and the loss normalisers (:mod:`pinnlite.training.scaling`)
into the weights the objective is evaluated with.
"""

from typing import NamedTuple

import numpy as np

from pinnlite.engine.terms import TERMS, LossWeights


class AdaptiveState(NamedTuple):
    weights: np.ndarray  # (len(TERMS),) float64 multipliers, in TERMS order
    count: int  # number of updates made


def init():
    return AdaptiveState(np.ones(len(TERMS)), 0)


def update(state, term_grads, alpha):
    """One annealing update from ``term_grads``: dict term -> gradient vector.

    Terms without a gradient, or with an all-zero one, keep their weight; without
    a PDE gradient nothing changes but the count.
    """
    w = state.weights.copy()
    g_r = term_grads.get("pde")
    if g_r is not None and g_r.size:
        top = float(np.max(np.abs(g_r)))
        for i, term in enumerate(TERMS):
            g = term_grads.get(term)
            if term == "pde" or g is None or g.size == 0:
                continue
            mean = float(np.mean(np.abs(g)))
            if mean > 0 and top > 0:
                w[i] = (1 - alpha) * w[i] + alpha * (top / mean)
    return AdaptiveState(w, state.count + 1)


def effective_weights(weights, state, normalisers, pde=1.0):
    """The :class:`~pinnlite.engine.terms.LossWeights` of an evaluation.

    ``w_t = weights.t * state.weights[i] / normalisers[t]`` for every term t
    (``i`` its index in TERMS): the
    configured weight (a ``LossWeightsConfig`` or anything with one attribute
    per term), the adaptive multiplier and the term's natural magnitude; the
    PDE's times ``pde`` (:func:`pinnlite.training.hold.pde_factor`).
    """
    return LossWeights(**{t: getattr(weights, t) * state.weights[i] / normalisers[t] * (pde if t == "pde" else 1.0)
                          for i, t in enumerate(TERMS)})
