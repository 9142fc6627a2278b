"""Holding the material at its guess while the network is random.

At the start of a run the network is random, and the PDE residual of a random
field is cheapest to lower by shrinking the moduli: with nothing yet fitted,
the material's gradient says only "less stiffness". On dense data the field
catches up before the material has gone far; on sparse data it may not. With
100 sensors of the demo's two waves, lam fell from its guess 4 to 2.7 by
epoch 16 and to 0.01 by epoch 100, while the sensors' misfit was still 145%
to 35%, and never came back: under the log parametrisation its gradient
shrinks with lam itself, and a field slow in t fits 100 scattered points with
almost any moduli.

So the free material parameters (or the material field's parameters) keep
their initial guesses while the network is random, with the PDE at the
guessed material in the loss, and are released after the first epoch at
which

- the sensors' relative rms misfit (:func:`pinnlite.training.diagnostics.misfit`)
  is at most :data:`RELEASE_MISFIT` = 1, the misfit of a field of zeros (the
  misfit is relative to the sensors' rms displacement): the network has
  begun to carry the measured waves, and the PDE's pull on the material is
  no longer that of noise; or
- the misfit fell by less than a factor :data:`GAIN` over the last
  :data:`WINDOW` epochs: at a wrong guess the PDE can keep the field from the
  data (a steel plate held at lam 150 / mu 60 for the truth 112 / 81 stays
  at 140% for its first 50 epochs), and only a material free to move lets
  it fit.

The collapse above starts before the misfit falls below 1 (lam was 2.7 at
epoch 16, misfit 1.02). On dense data that is enough: waiting for a misfit of
0.3 instead (epochs 64-130 on the families) cost the demo 50-100 epochs to its
first 0.1% and prevented nothing more. Measured on the families of
``benchmarks/families.py`` (noise-free, seeds 0-2): released at epochs 14-59
by the misfit, steel at 51 by the stall. (A free material needs sensors;
without a free one nothing is held.)

Few sensors are another matter. When the sensors give fewer values than the
run trains, the network can pass close to every one of them without carrying
any wave, so a misfit below 1 says nothing about the field: with 100 sensors
(200 values) the same collapse, lam from 4 to 0.19 by epoch 50 and to 1e-10 at
the end, came on 1 of 8 noise-free seeds at width 24 and on 3 of 24 runs at
width 12 (benchmarks/README.md, "Few sensors"). There the release waits for a
misfit of :data:`RELEASE_MISFIT_FEW` = 0.1. Waiting for 0.3 prevented it on
those 24 runs, but not on the steel plate's waves with 200 sensors (4 of 12
runs collapsed after a release at 0.3, none at 0.1).

After the release the sensors still weigh as much as all the collocation
points together: each term is a mean, so 100 sensors count as much as 2000
points, and a network of more trained values than sensor values passes
through their noise with the PDE satisfied only as far as that weight asks.
The noise goes into fields that nearly satisfy the PDE (other superpositions
of waves), a far larger class than the exact model of the Cramer-Rao bound.
So where :func:`few_values`, once the material is released, the PDE weight is
multiplied by ``n_points / n_sensors``, which weighs every collocation point
like one sensor (:func:`pde_factor`). Measured (benchmarks/README.md, "Few
sensors: each point weighs alike"): 100 sensors at 3% noise, seeds 0-19, 2.29
/ 2.35 times the bound before, 1.91 / 1.79 with it; 200 sensors of the steel
plate and 300 of six waves within their spread (1.06 / 1.10 to 1.04 / 1.08;
1.61 / 2.46 to 1.40 / 2.45). (The same weight set as ``loss_weights.pde =
20`` for every epoch, with the release at a misfit of 1 and a network 24
wide, collapsed the moduli on 1 of 7 runs: benchmarks/README.md, "weighted by
the number of points".) The heavier PDE slows the noise-free creep of the
material, which a settle window of a fifth of the run took for settled (lam
0.043% and 0.025% off on 2 of 12 noise-free seeds), so there the window's
share of the run is doubled, up to one half (:func:`settle_fraction`):
noise-free within 0.0102%, and the noisy runs stop where they did (their loss
has levelled off, so their window is ``settle_epochs``).

While held, the trainer zeroes the material's part of every gradient (and of
the Gauss-Newton matrix) it hands an optimizer, so that each one leaves it
where it is; at the release a second-order optimizer starts afresh (its
curvature so far knows nothing of the material).
"""

import math

RELEASE_MISFIT = 1.0  # the relative misfit of u = 0: below it, the network explains part of the data
RELEASE_MISFIT_FEW = 0.1  # ... where the sensors give fewer values than the run trains
WINDOW = 50  # epochs over which the misfit must keep falling
GAIN = 0.9  # ... by at least this factor


def few_values(n_values, n_trained):
    """Whether the sensors hold fewer values (``n_values``) than the run trains (``n_trained``): a
    network that can pass close to every one of them without carrying a wave (the later release here,
    the few-sensors warning of :mod:`pinnlite.training.diagnostics`)."""
    return n_values < n_trained


def release_misfit(n_values, n_trained):
    """The misfit that releases the material: :data:`RELEASE_MISFIT`, or :data:`RELEASE_MISFIT_FEW`
    where :func:`few_values`."""
    return RELEASE_MISFIT_FEW if few_values(n_values, n_trained) else RELEASE_MISFIT


def pde_factor(n_values, n_trained, n_sensors, n_points):
    """The multiplier of the PDE weight once the material is released: ``n_points / n_sensors``
    (collocation points over training sensors, each term being a mean, so that every point weighs
    like one sensor) where :func:`few_values` (``n_values`` sensor values, ``n_trained`` trained
    values), else 1."""
    if not few_values(n_values, n_trained) or n_sensors <= 0 or n_points <= 0:
        return 1.0
    return n_points / n_sensors


def settle_fraction(fraction, n_values, n_trained):
    """The settle window's share of the run (``training.settle_fraction``, :mod:`pinnlite.training.stopping`)
    once the material is released: doubled, up to 0.5 (a larger setting kept), where :func:`few_values`,
    whose heavier PDE (:func:`pde_factor`) slows the material's creep; else ``fraction``."""
    if not few_values(n_values, n_trained):
        return fraction
    return min(2.0 * fraction, max(fraction, 0.5))


def release(metrics, displacement, threshold=RELEASE_MISFIT):
    """Why the material is released after the last epoch of ``metrics``, or None to hold it.

    Parameters
    ----------
    metrics : Metrics
        The run's history so far; its ``data`` column is the sensors' mean squared misfit.
    displacement : float
        The displacement scale U the misfit is relative to (``Scales.displacement``).
    threshold : float
        The relative misfit at or below which the network carries the waves (:func:`release_misfit`).
    """
    data = metrics.tail("data", WINDOW + 1)
    now = math.sqrt(data[-1]) / displacement
    if not now == now:
        return "no sensor misfit to wait for"
    if now <= threshold:
        return f"the network explains part of the sensors' data (misfit {now:.3g})"
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
