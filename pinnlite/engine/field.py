"""The material field: forward pass with first derivatives, its adjoint, and the map penalty.

The field network (:mod:`pinnlite.core.field_arch`) maps normalised points
``xi = s (X - c)`` of the plane to log-factors ``a`` (k, n). Forward mode
carries the value and the two first derivatives with respect to the physical
coordinates through every layer (the second derivatives of a map never enter
the divergence-form residual)::

    z = W h + b,   z_x = W h_x,   z_y = W h_y          (h_x = s_x e_1 at the input)
    h = sigma(z),  h_x = sigma'(z) z_x,  h_y = sigma'(z) z_y

and the adjoint runs the same rules backwards::

    G_z   = G_h sigma'(z) + (G_hx z_x + G_hy z_y) sigma''(z)
    G_zx  = G_hx sigma'(z),   G_zy = G_hy sigma'(z)
    G_W  += G_z h' + G_zx h_x' + G_zy h_y',   G_b += sum G_z
    G_h   = W' G_z,  G_hx = W' G_zx,  G_hy = W' G_zy

A mapped parameter is ``p = p0 exp(a)``, so ``p_x = p a_x`` and ``p_y = p a_y``
(:func:`material_channels`, adjoint :func:`chain`). The field is small (two
inputs, a few dozen units, three channels) next to the displacement network,
so it is evaluated once per evaluation on all the points that need the
material, in NumPy (matrix products through BLAS). The equations are in
``docs/ENGINE.md``, "Material fields".

Penalties on ``a`` (:func:`penalty`), over the PDE points, with gradients in
the normalised coordinates (so the penalty is dimensionless)::

    "smooth":  R = mean_i sum_k |grad_xi a_k|^2
    "tv":      R = mean_i sum_k sqrt(|grad_xi a_k|^2 + eps^2)     (total variation, eps = 1e-2)
"""

from typing import NamedTuple

import numpy as np

from pinnlite.core import checks
from pinnlite.core.activations import get_activation
from pinnlite.engine.terms import PENALTIES
TV_EPS = 1e-2  # rounds the total variation's corner at zero gradient: a differentiable penalty


class FieldJet(NamedTuple):
    """The field's outputs at n points and what its adjoint needs.

    ``a``, ``ax``, ``ay`` (k, n): the log-factors and their physical x and y
    derivatives; ``inputs`` (2, n) the normalised points; ``layers`` one
    ``(z, zx, zy, h, hx, hy)`` per hidden layer (zx, zy of the first layer are
    (w, 1): the same for every point).
    """

    a: np.ndarray
    ax: np.ndarray
    ay: np.ndarray
    inputs: np.ndarray
    layers: tuple
    scale: np.ndarray


def forward(farch, flat, xi, scale):
    """The :class:`FieldJet` at normalised points ``xi`` (2, n); ``scale`` (2,) is d xi / d(x, y)."""
    act = get_activation(farch.activation)
    views = farch.layout.views(flat)
    nh = len(farch.hidden)
    W0 = views["W0"]
    z = W0 @ xi + views["b0"][:, None]
    zx = (W0[:, 0] * scale[0])[:, None]
    zy = (W0[:, 1] * scale[1])[:, None]
    d1 = act.d1(z)
    layers = [(z, zx, zy, act.sigma(z), d1 * zx, d1 * zy)]
    for l in range(1, nh):
        W, (_, _, _, h, hx, hy) = views[f"W{l}"], layers[-1]
        z, zx, zy = W @ h + views[f"b{l}"][:, None], W @ hx, W @ hy
        d1 = act.d1(z)
        layers.append((z, zx, zy, act.sigma(z), d1 * zx, d1 * zy))
    W, (_, _, _, h, hx, hy) = views[f"W{nh}"], layers[-1]
    return FieldJet(W @ h + views[f"b{nh}"][:, None], W @ hx, W @ hy, xi, tuple(layers), np.asarray(scale))


def backward(farch, flat, jet, ga, gax, gay, out=None):
    """The gradient (n_params,) of a scalar whose adjoints of ``a, a_x, a_y`` are ``ga, gax, gay`` (k, n)."""
    act = get_activation(farch.activation)
    views = farch.layout.views(flat)
    grad = np.empty(farch.n_params, farch.np_dtype) if out is None else out
    g = farch.layout.views(grad)
    nh = len(farch.hidden)
    _, _, _, h, hx, hy = jet.layers[-1]
    g[f"W{nh}"][:] = ga @ h.T + gax @ hx.T + gay @ hy.T
    g[f"b{nh}"][:] = ga.sum(axis=1)
    W = views[f"W{nh}"]
    Gh, Ghx, Ghy = W.T @ ga, W.T @ gax, W.T @ gay
    for l in range(nh - 1, -1, -1):
        z, zx, zy, _, _, _ = jet.layers[l]
        d1, d2 = act.d1(z), act.d2(z)
        Gz = Gh * d1 + (Ghx * zx + Ghy * zy) * d2
        Gzx, Gzy = Ghx * d1, Ghy * d1
        if l == 0:
            g["W0"][:] = Gz @ jet.inputs.T
            g["W0"][:, 0] += Gzx.sum(axis=1) * jet.scale[0]
            g["W0"][:, 1] += Gzy.sum(axis=1) * jet.scale[1]
            g["b0"][:] = Gz.sum(axis=1)
            break
        _, _, _, hp, hxp, hyp = jet.layers[l - 1]
        g[f"W{l}"][:] = Gz @ hp.T + Gzx @ hxp.T + Gzy @ hyp.T
        g[f"b{l}"][:] = Gz.sum(axis=1)
        W = views[f"W{l}"]
        Gh, Ghx, Ghy = W.T @ Gz, W.T @ Gzx, W.T @ Gzy
    return grad


def material_channels(jet, farch):
    """Dict name -> (n, 3) array ``[p, p_x, p_y]`` of each mapped parameter ``p = p0 exp(a)``."""
    out = {}
    for k, (name, p0) in enumerate(zip(farch.names, farch.base)):
        p = p0 * np.exp(jet.a[k])
        out[name] = np.ascontiguousarray(np.stack([p, p * jet.ax[k], p * jet.ay[k]], axis=1))
    return out


def chain(jet, farch, channels, adjoints):
    """``(ga, gax, gay)`` (k, n) from the adjoints (n, 3) of each mapped parameter's ``[p, p_x, p_y]``.

    ``dp/da = p``, ``dp_x/da = p_x``, ``dp_x/da_x = p`` (and likewise for y).
    """
    k, n = jet.a.shape
    ga, gax, gay = (np.zeros((k, n), jet.a.dtype) for _ in range(3))
    for i, name in enumerate(farch.names):
        P, G = channels[name], adjoints[name]
        ga[i] = G[:, 0] * P[:, 0] + G[:, 1] * P[:, 1] + G[:, 2] * P[:, 2]
        gax[i] = G[:, 1] * P[:, 0]
        gay[i] = G[:, 2] * P[:, 0]
    return ga, gax, gay


def penalty(jet, kind, count=None):
    """``(R, gax, gay)``: the penalty of the module docstring and its adjoints of ``a_x, a_y`` (k, n).

    ``kind`` is one of :data:`pinnlite.engine.terms.PENALTIES` ("none": zero);
    the mean is over ``count`` points (default: the jet's), so that shards of
    one set of points add up to the penalty of the whole set.
    """
    checks.choice("kind", kind, PENALTIES)
    n = jet.a.shape[1] if count is None else count
    if kind == "none" or n == 0:
        return 0.0, np.zeros_like(jet.ax), np.zeros_like(jet.ay)
    sx, sy = 1.0 / jet.scale[0], 1.0 / jet.scale[1]  # d a / d xi = (d a / d x) / s_x
    ex, ey = jet.ax * sx, jet.ay * sy
    if kind == "smooth":
        return float(np.sum(ex * ex + ey * ey) / n), 2.0 * ex * sx / n, 2.0 * ey * sy / n
    r = np.sqrt(ex * ex + ey * ey + TV_EPS**2)
    return float(np.sum(r) / n), ex / r * sx / n, ey / r * sy / n
