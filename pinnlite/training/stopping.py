"""When the answer has stopped moving: the stop rule on the material parameters.

A second-order phase keeps lowering the loss long after the material
parameters are as good as the data make them: on noise-free data the loss
falls by orders of magnitude while lam and mu move in the fifth digit. The run
stops when every free material parameter has changed by less than
``training.settle_tolerance`` (relative) over the last
``training.settle_epochs`` epochs, all of them in one phase (so the switch
from the warm-up to the second-order optimizer never counts as settled) and
after the material's release (:mod:`pinnlite.training.hold`: a held material
stands still because it is held), and only once the network fits its
sensors (relative rms misfit at most
:data:`pinnlite.training.diagnostics.FIT_THRESHOLD`): parameters can stand
still while the field is still far from the data, when their gradient is
drowned by the field's (soft tissue, whose lam grad div u term dominates the
PDE residual, held mu fixed for 50 epochs while the loss fell 100-fold).

The other stops are the epoch budget, ``training.target_loss``, the
optimizer's own convergence (:mod:`pinnlite.training.epochs`) and the early
stop on the monitored column (:func:`pinnlite.training.validation.track`).
"""

import numpy as np


def settled(metrics, names, epochs, tolerance, fitted=True, since=0):
    """The stop reason when the parameters ``names`` have settled, else None.

    Parameters
    ----------
    metrics : Metrics
        The run's history (columns ``phase`` and each name).
    names : sequence of str
        The free material parameters; none: never settled.
    epochs : int
        The window: the last ``epochs`` epochs and the one before them; 0: never.
    tolerance : float
        The largest ``|p_i - p_last| / |p_last|`` over the window that counts as settled.
    fitted : bool
        Whether the network fits its sensors now; False: never settled.
    since : int or None
        The epoch from which the parameters were trained (:mod:`pinnlite.training.hold`): the
        window lies after it; None (still held): never settled.
    """
    if epochs == 0 or not names or not fitted or since is None or len(metrics) - since <= epochs:
        return None
    phase = metrics.tail("phase", epochs + 1)
    if np.any(phase != phase[-1]):
        return None
    for name in names:
        v = metrics.tail(name, epochs + 1)
        if not np.max(np.abs(v - v[-1])) <= tolerance * abs(v[-1]):
            return None
    return f"settled: {', '.join(names)} changed by less than {tolerance:g} (relative) in {epochs} epochs"
