"""Holding the material at its guess while the network is still learning the sensors.

At the start of a run the network is random, and the PDE residual of a random
field is cheapest to lower by shrinking the moduli: with nothing yet fitted,
the material's gradient says only "less stiffness". On dense data the field
catches up before the material has gone far; on sparse data it may not. With
100 sensors of the demo's two waves, lam fell from its guess 4 to 0.01 in the
first 100 epochs, while the sensors' misfit was still 20-80%, and never came
back: under the log parametrisation its gradient shrinks with lam itself,
and a field slow in t fits 100 scattered points with almost any moduli.

So the free material parameters (or the material field's parameters) keep
their initial guesses while the network learns the sensors, with the PDE at
the guessed material in the loss, and are released after the first epoch at
which

- the sensors' relative rms misfit (:func:`pinnlite.training.diagnostics.misfit`)
  is at most :data:`~pinnlite.training.diagnostics.FIT_THRESHOLD`: the field
  carries the measured waves, and the PDE's pull on the material is the
  data's; or
- the misfit fell by less than a factor :data:`GAIN` over the last
  :data:`WINDOW` epochs: at a wrong guess the PDE keeps the field from the
  data (a steel plate held at lam 150 / mu 60 for the truth 112 / 81 stays
  above 90% for its first 175 epochs; soft tissue held at twice its mu stays
  above 80%), and only a material free to move lets it fit.

Measured on the families of ``benchmarks/families.py`` (noise-free, seed 0):
released at epochs 51-109, after which the run continues as it would from a
fresh start with a field that already resembles the data. (A free material
needs sensors; without a free one nothing is held.)

While held, the trainer zeroes the material's part of every gradient (and of
the Gauss-Newton matrix) it hands an optimizer, so that each one leaves it
where it is; at the release a second-order optimizer starts afresh (its
curvature so far knows nothing of the material).
"""

import math

from pinnlite.training.diagnostics import FIT_THRESHOLD

WINDOW = 50  # epochs over which the misfit must keep falling
GAIN = 0.9  # ... by at least this factor


def release(metrics, displacement):
    """Why the material is released after the last epoch of ``metrics``, or None to hold it.

    Parameters
    ----------
    metrics : Metrics
        The run's history so far; its ``data`` column is the sensors' mean squared misfit.
    displacement : float
        The displacement scale U the misfit is relative to (``Scales.displacement``).
    """
    data = metrics.tail("data", WINDOW + 1)
    now = math.sqrt(data[-1]) / displacement
    if not now == now:
        return "no sensor misfit to wait for"
    if now <= FIT_THRESHOLD:
        return f"the network fits the sensors (misfit {now:.3g})"
    if len(data) > WINDOW:
        before = math.sqrt(data[0]) / displacement
        if now > GAIN * before:
            return f"the misfit stalled ({before:.3g} to {now:.3g} in {WINDOW} epochs)"
    return None


def mask_gradient(g, n):
    """``g`` with its material part (entries ``n`` on) zeroed, in place; returns ``g``."""
    g[n:] = 0.0
    return g


def mask_normal(g, A, n):
    """``(g, A)`` of the Gauss-Newton equations without the material: its rows and columns of
    ``A`` and its entries of ``g`` zeroed, in place (LM's floored diagonal then keeps its step 0)."""
    g[n:] = 0.0
    A[n:, :] = 0.0
    A[:, n:] = 0.0
    return g, A

