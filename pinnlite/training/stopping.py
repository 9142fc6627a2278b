"""When the answer has stopped moving: the stop rule on the material parameters.

A second-order phase keeps lowering the loss long after the material
parameters are as good as the data make them: on noise-free data the loss
falls by orders of magnitude while lam and mu move in the fifth digit. The run
stops when every free material parameter has changed by less than
``training.settle_tolerance`` (relative) over a window of the last epochs, all
of them in one phase (so the switch from the warm-up to the second-order
optimizer never counts as settled) and after the material's release
(:mod:`pinnlite.training.hold`: a held material stands still because it is
held), and only once the network fits its sensors (relative rms misfit at
most :data:`pinnlite.training.diagnostics.FIT_THRESHOLD`): parameters can
stand still while the field is still far from the data, when their gradient
is drowned by the field's (soft tissue, whose lam grad div u term dominates
the PDE residual, held mu fixed for 50 epochs while the loss fell 100-fold).

The window is ``training.settle_epochs`` epochs while the loss has stopped
falling, and a share ``training.settle_fraction`` of the epochs so far (if
longer) while it still falls by more than a factor :data:`PLATEAU` over
``settle_epochs``. Why two lengths: on noisy data the loss levels off at the
noise (two waves at 1%: by less than 0.5% in 50 epochs from epoch 600 on),
the fit has nothing left to give the material, and training on only fits the
noise; on noise-free data the second-order phase converges linearly, the loss
falling by a steady 1-15% in 50 epochs for thousands of epochs, and the
material creeps towards its answer by less than 1e-4 in 50 epochs while still
0.1% off (six waves at epoch 3000: 0.13% off, 0.01-0.02% after 8000 epochs).
A window that grows with the run sees such a creep: over a fifth of the run
the same creep is a change well above the tolerance. Measured on the families
of ``benchmarks/families.py`` (benchmarks/README.md, "the stop rule"). After
a few-sensors release the trainer passes twice the share
(:func:`pinnlite.training.hold.settle_fraction`): its heavier PDE slows the
creep further.

The other stops are the epoch budget, ``training.target_loss``, the
optimizer's own convergence (:mod:`pinnlite.training.epochs`) and the early
stop on the monitored column (:func:`pinnlite.training.validation.track`).
"""

import math

import numpy as np

PLATEAU = 0.995  # the loss fell by less than 0.5% over settle_epochs: it has levelled off


def possible(names, epochs):
    """Whether the rule can ever stop a run that trains ``names`` with ``settle_epochs = epochs``."""
    return bool(names) and epochs > 0


def window(metrics, epochs, fraction):
    """The number of epochs over which the parameters must stand still (see the module docstring).

    ``epochs`` (``settle_epochs``) while the ``loss`` column has levelled off (its last value
    above :data:`PLATEAU` times the one ``epochs`` epochs earlier), else
    ``max(epochs, ceil(fraction * len(metrics)))``.
    """
    if fraction <= 0 or len(metrics) <= epochs:
        return epochs
    loss = metrics.tail("loss", epochs + 1)
    if loss[-1] > PLATEAU * loss[0]:
        return epochs
    return max(epochs, math.ceil(fraction * len(metrics)))


def settled(metrics, names, epochs, tolerance, fitted=True, since=0, fraction=0.0):
    """The stop reason when the parameters ``names`` have settled, else None.

    Parameters
    ----------
    metrics : Metrics
        The run's history (columns ``phase``, ``loss`` and each name).
    names : sequence of str
        The free material parameters; none: never settled.
    epochs : int
        The shortest window: the last ``epochs`` epochs and the one before them; 0: never.
    tolerance : float
        The largest ``|p_i - p_last| / |p_last|`` over the window that counts as settled.
    fitted : bool
        Whether the network fits its sensors now; False: never settled.
    since : int or None
        The epoch from which the parameters were trained (:mod:`pinnlite.training.hold`): the
        window lies after it; None (still held): never settled.
    fraction : float
        The share of the epochs so far that the window spans while the loss still falls
        (:func:`window`); 0: always ``epochs``.
    """
    if not possible(names, epochs) or not fitted or since is None:
        return None
    w = window(metrics, epochs, fraction)
    if len(metrics) - since <= w:
        return None
    phase = metrics.tail("phase", w + 1)
    if np.any(phase != phase[-1]):
        return None
    for name in names:
        v = metrics.tail(name, w + 1)
        if not np.max(np.abs(v - v[-1])) <= tolerance * abs(v[-1]):
            return None
    return f"settled: {', '.join(names)} changed by less than {tolerance:g} (relative) in {w} epochs"
