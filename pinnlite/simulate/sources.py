"""Sources: point forces with a Ricker wavelet, and the Lagrange stencils that place them.

A :class:`PointForce` at ``position`` with unit ``direction`` (fx, fy) adds the
body force ``amplitude * ricker(t; f0, t0) * (fx, fy) * delta(x - position)`` to
``rho u_tt = div sigma + f`` (a line force in the plane-strain picture: force per
unit length out of the plane).

The delta is spread over the 4 x 4 nodes of each velocity component around the
source with the same cubic Lagrange weights that read the sensors
(:func:`stencil`), divided by the cell area h^2: the spreading is the transpose
of the interpolation, so reciprocity holds on the grid to rounding, and the
weights reproduce the moments of the delta up to order 3.
"""

import math
from dataclasses import dataclass

import numpy as np

from pinnlite.core import checks

#: A Ricker wavelet has little energy above this multiple of its peak frequency
#: (the spectrum at 2.5 f0 is 3% of its peak); the dispersion rule uses it.
RICKER_HIGHEST = 2.5


def ricker(t, f0, t0):
    """Ricker wavelet ``(1 - 2 a^2) exp(-a^2)``, ``a = pi f0 (t - t0)``, at times ``t`` (any shape).

    Peak frequency ``f0``, centre ``t0``; its time integral is
    ``(t - t0) exp(-a^2)`` and its mean is zero.
    """
    a2 = (math.pi * f0 * (np.asarray(t, dtype=np.float64) - t0)) ** 2
    return (1.0 - 2.0 * a2) * np.exp(-a2)


@dataclass(frozen=True)
class PointForce:
    """A point force ``amplitude * ricker(t; f0, t0) * direction`` at ``position`` (x, y).

    ``direction`` is normalised to a unit vector; ``t0`` defaults to ``1.5 / f0``,
    where the wavelet at t = 0 is below 1e-8 of its peak.
    """

    position: tuple
    direction: tuple
    f0: float
    amplitude: float = 1.0
    t0: float = None

    def __post_init__(self):
        for name in ("position", "direction"):
            v = getattr(self, name)
            if not isinstance(v, (tuple, list, np.ndarray)) or len(v) != 2:
                checks.fail(name, "a pair of real numbers", v)
            object.__setattr__(self, name, (checks.real(f"{name}[0]", v[0]), checks.real(f"{name}[1]", v[1])))
        norm = math.hypot(*self.direction)
        if not norm > 0:
            checks.fail("direction", "a non-zero vector (fx, fy)", self.direction)
        object.__setattr__(self, "direction", (self.direction[0] / norm, self.direction[1] / norm))
        object.__setattr__(self, "f0", checks.real("f0", self.f0, low=0.0, low_open=True))
        object.__setattr__(self, "amplitude", checks.real("amplitude", self.amplitude))
        t0 = 1.5 / self.f0 if self.t0 is None else self.t0
        object.__setattr__(self, "t0", checks.real("t0", t0))

    def force(self, t):
        """The force (n, 2) at times ``t`` (n,)."""
        w = self.amplitude * ricker(t, self.f0, self.t0)
        return w[:, None] * np.array(self.direction)[None, :]


def lagrange_weights(xi):
    """Cubic Lagrange weights (n, 4) on the nodes -1, 0, 1, 2 for local coordinates ``xi`` (n,) in [0, 1).

    Interpolation with them is exact for cubics, so its error is O(h^4).
    """
    xi = np.asarray(xi, dtype=np.float64)[:, None]
    return np.concatenate([
        -xi * (xi - 1) * (xi - 2) / 6,
        (xi + 1) * (xi - 1) * (xi - 2) / 2,
        -(xi + 1) * xi * (xi - 2) / 2,
        (xi + 1) * xi * (xi - 1) / 6,
    ], axis=1)


def stencil(coord, start, h, n, periodic, pad):
    """Padded indices (m, 4) and weights (m, 4) of the 1D cubic stencils at ``coord`` (m,).

    The component's nodes lie at ``start + k h``, k = 0..n-1; with ``periodic``
    the indices wrap modulo n. ``pad`` is the number of ghost layers.
    """
    s = (np.asarray(coord, dtype=np.float64) - start) / h
    base = np.floor(s)
    weights = lagrange_weights(s - base)
    idx = base.astype(np.int64)[:, None] + np.arange(-1, 3)[None, :]
    if periodic:
        idx %= n
    return np.ascontiguousarray(idx + pad), weights
