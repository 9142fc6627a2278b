"""The activation table: each entry gives sigma and its first three derivatives.

The forward-mode rules (``docs/ENGINE.md``, "Activation") need sigma, sigma' and
sigma'' on the way forward and sigma''' on the way back. Each entry below holds
NumPy versions of the four functions (used by the pure-NumPy paths, the
material network and the tests) and the integer ``code`` that selects the same
functions inside the Numba kernels (:func:`pinnlite.engine.kernels.sigma` and
:func:`pinnlite.engine.kernels.jet`), in the spirit of ``jax.experimental.jet``: one
small rule per primitive.

==========  ==============  ==================  ==================  =========================
name        sigma           sigma'              sigma''             sigma'''
==========  ==============  ==================  ==================  =========================
``tanh``    tanh z          1 - s^2             -2 s s'             s' (6 s^2 - 2)
``sin``     sin z           cos z               -sin z              -cos z
==========  ==============  ==================  ==================  =========================

(s = sigma(z), s' = sigma'(z).)
"""

from typing import Callable, NamedTuple

import numpy as np

from pinnlite.errors import InputError

TANH = 0
SIN = 1


class Activation(NamedTuple):
    """One row of the activation table."""

    name: str
    code: int  # branch selector inside the Numba kernels
    sigma: Callable[[np.ndarray], np.ndarray]  # a ufunc
    d1: Callable[[np.ndarray], np.ndarray]
    d2: Callable[[np.ndarray], np.ndarray]
    d3: Callable[[np.ndarray], np.ndarray]


def _tanh_d1(z):
    s = np.tanh(z)
    return 1 - s * s


def _tanh_d2(z):
    s = np.tanh(z)
    return -2 * s * (1 - s * s)


def _tanh_d3(z):
    s = np.tanh(z)
    return (1 - s * s) * (6 * s * s - 2)


ACTIVATIONS = {
    "tanh": Activation("tanh", TANH, np.tanh, _tanh_d1, _tanh_d2, _tanh_d3),
    "sin": Activation("sin", SIN, np.sin, np.cos, lambda z: -np.sin(z), lambda z: -np.cos(z)),
}


def get_activation(name):
    """The table entry for ``name``; :class:`InputError` listing the known names otherwise."""
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):
        raise InputError(
            f"activation: expected one of {sorted(ACTIVATIONS)}, found {name!r}"
        ) from None
