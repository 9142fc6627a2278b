"""Plane-strain linear elasticity in NumPy: stress, traction, residual, plane waves.

Displacement (u, v)(x, y, t), Lamé parameters lam, mu, density rho, body force f::

    rho u_tt = (lam + 2 mu) u_xx + mu u_yy + (lam + mu) v_xy + f_u
    rho v_tt = mu v_xx + (lam + 2 mu) v_yy + (lam + mu) u_xy + f_v

    s_xx = (lam + 2 mu) u_x + lam v_y,  s_yy = lam u_x + (lam + 2 mu) v_y,
    s_xy = mu (u_y + v_x),              traction t = s . n

Wave speeds c_p = sqrt((lam + 2 mu) / rho), c_s = sqrt(mu / rho). The equation is
unchanged when lam, mu, rho are scaled by one factor: displacement data alone
determine lam/rho and mu/rho only.

Derivative "channels" are arrays of shape (8, n, 2) in the order value, x, y, t,
xx, yy, tt, xy (the layout of :func:`pinnlite.engine.channels`).
"""

import math

import numpy as np

from pinnlite.errors import InputError

CHANNEL_NAMES = ("value", "x", "y", "t", "xx", "yy", "tt", "xy")


def wave_speeds(lam, mu, rho):
    """(c_p, c_s) of the medium."""
    return math.sqrt((lam + 2 * mu) / rho), math.sqrt(mu / rho)


def residual(C, lam, mu, rho, body_force=None):
    """Residual (n, 2) ``rho u_tt - div sigma - f`` from channels C (8, n, 2)."""
    u, v = C[..., 0], C[..., 1]
    ru = rho * u[6] - (lam + 2 * mu) * u[4] - mu * u[5] - (lam + mu) * v[7]
    rv = rho * v[6] - mu * v[4] - (lam + 2 * mu) * v[5] - (lam + mu) * u[7]
    r = np.stack([ru, rv], axis=-1)
    return r if body_force is None else r - body_force


def residual_mixed(C, lam, mu, rho, body_force=None):
    """The mixed (displacement-pressure) residual (n, 3) from channels C (8, n, 3) of (u, v, p).

    With the pressure p = lam div u as a field of its own (Herrmann 1965; the
    u-p form of finite elements for nearly incompressible solids)::

        r_u = rho u_tt - mu (2 u_xx + u_yy + v_xy) - p_x - f_u
        r_v = rho v_tt - mu (v_xx + 2 v_yy + u_xy) - p_y - f_v
        r_p = u_x + v_y - p / lam

    Where r_p = 0, (r_u, r_v) is :func:`residual`. Column 2 is r_p, a strain;
    the engine's PDE term weighs it by the stress scale over the displacement
    scale (:func:`pinnlite.engine.term_kernels.pde_term_mixed`).
    """
    u, v, p = C[..., 0], C[..., 1], C[..., 2]
    ru = rho * u[6] - mu * (2 * u[4] + u[5] + v[7]) - p[1]
    rv = rho * v[6] - mu * (v[4] + 2 * v[5] + u[7]) - p[2]
    if body_force is not None:
        ru, rv = ru - body_force[:, 0], rv - body_force[:, 1]
    return np.stack([ru, rv, u[1] + v[2] - p[0] / lam], axis=-1)


def residual_divergence(C, L, M, rho, body_force=None):
    """Residual (n, 2) ``rho u_tt - div sigma - f`` with lam and mu varying in space.

    ``L``, ``M`` (n, 3) hold ``[lam, lam_x, lam_y]`` and ``[mu, mu_x, mu_y]`` at
    the points of the channels C (8, n, 2); the stress is the local one and its
    divergence takes the material's gradients (``docs/ENGINE.md``, "Material
    fields"). Equal to :func:`residual` when the gradients are zero.
    """
    u, v = C[..., 0], C[..., 1]
    lam, lx, ly = L[:, 0], L[:, 1], L[:, 2]
    mu, mx, my = M[:, 0], M[:, 1], M[:, 2]
    ux, uy, uxx, uyy, utt, uxy = u[1], u[2], u[4], u[5], u[6], u[7]
    vx, vy, vxx, vyy, vtt, vxy = v[1], v[2], v[4], v[5], v[6], v[7]
    dx_sxx = (lx + 2 * mx) * ux + lx * vy + (lam + 2 * mu) * uxx + lam * vxy
    dy_sxy = my * (uy + vx) + mu * (uyy + vxy)
    dx_sxy = mx * (uy + vx) + mu * (uxy + vxx)
    dy_syy = ly * ux + (ly + 2 * my) * vy + lam * uxy + (lam + 2 * mu) * vyy
    r = np.stack([rho * utt - dx_sxx - dy_sxy, rho * vtt - dx_sxy - dy_syy], axis=-1)
    return r if body_force is None else r - body_force


def residual_mixed_divergence(C, L, M, rho, body_force=None):
    """The mixed residual (n, 3) with lam and mu varying in space, from channels C (8, n, 3) of (u, v, p).

    The stress ``s_xx = 2 mu u_x + p``, ``s_yy = 2 mu v_y + p``, ``s_xy = mu (u_y + v_x)``
    with the local mu (``M`` (n, 3) ``[mu, mu_x, mu_y]``), its divergence
    :func:`residual_divergence`'s with lam = 0 plus the pressure's gradient, and
    ``r_p = u_x + v_y - p / lam`` with the local lam (column 0 of ``L``)::

        r_u = rho u_tt - d_x (2 mu u_x) - d_y (mu (u_y + v_x)) - p_x - f_u
        r_v = rho v_tt - d_x (mu (u_y + v_x)) - d_y (2 mu v_y) - p_y - f_v

    Where p = lam div u, (r_u, r_v) is :func:`residual_divergence` of the same maps
    up to the terms of lam's gradient; equal to :func:`residual_mixed` when the
    gradients are zero.
    """
    p = C[..., 2]
    zero = np.zeros_like(L)
    grad_p = np.stack([p[1], p[2]], axis=-1)
    force = grad_p if body_force is None else body_force + grad_p
    r = residual_divergence(C[..., :2], zero, M, rho, force)
    return np.concatenate([r, (C[1, :, 0] + C[2, :, 1] - p[0] / L[:, 0])[:, None]], axis=1)


def material_sensitivity(C, name):
    """``d r / d p`` (n, 2) of the residual for a change of ``p`` = ``"lam"`` or ``"mu"`` uniform near each point.

    With the material locally constant the residual is linear in it
    (``div sigma = (lam + mu) grad div u + mu lap u``), so::

        d r / d lam = -grad div u              = -(u_xx + v_xy, u_xy + v_yy)
        d r / d mu  = -(grad div u + lap u)    = -(2 u_xx + u_yy + v_xy, v_xx + 2 v_yy + u_xy)

    from the channels C (8, n, 2). A change with gradients of its own adds terms
    in ``grad p``; these are left out (the change is uniform over a region, away
    from its edges).
    """
    u, v = C[..., 0], C[..., 1]
    if name == "lam":
        return -np.stack([u[4] + v[7], u[7] + v[5]], axis=-1)
    if name == "mu":
        return -np.stack([2 * u[4] + u[5] + v[7], v[4] + 2 * v[5] + u[7]], axis=-1)
    raise InputError(f"name: expected 'lam' or 'mu', found {name!r}")


def stress(C, lam, mu):
    """(s_xx, s_yy, s_xy), each (n,), from channels C (at least value, x, y)."""
    ux, uy = C[1, :, 0], C[2, :, 0]
    vx, vy = C[1, :, 1], C[2, :, 1]
    return (lam + 2 * mu) * ux + lam * vy, lam * ux + (lam + 2 * mu) * vy, mu * (uy + vx)


def traction(C, normals, lam, mu):
    """Traction (n, 2) ``sigma . n`` from channels C and unit normals (n, 2)."""
    sxx, syy, sxy = stress(C, lam, mu)
    nx, ny = normals[:, 0], normals[:, 1]
    return np.stack([sxx * nx + sxy * ny, sxy * nx + syy * ny], axis=-1)


def plane_wave(X, kind, lam, mu, rho, amplitude=1.0, direction=(1.0, 0.0), wavenumber=2 * math.pi, phase=0.0):
    """Exact channels (8, n, 2) of one plane wave at points X (n, 3).

    With unit direction d, d_perp = (-d_y, d_x), theta = k d.x - omega t + phase::

        P wave: (u, v) = A d      cos theta,  omega = k c_p
        S wave: (u, v) = A d_perp cos theta,  omega = k c_s

    Each satisfies the wave equation exactly with f = 0.
    """
    if kind not in ("P", "S"):
        raise InputError(f"kind: expected 'P' or 'S', found {kind!r}")
    d = np.asarray(direction, dtype=float)
    norm = math.hypot(d[0], d[1])
    if d.shape != (2,) or not norm > 0:
        raise InputError(f"direction: expected a non-zero 2-vector, found {direction!r}")
    d = d / norm
    cp, cs = wave_speeds(lam, mu, rho)
    k = float(wavenumber)
    omega = k * (cp if kind == "P" else cs)
    pol = d if kind == "P" else np.array([-d[1], d[0]])
    theta = k * (d[0] * X[:, 0] + d[1] * X[:, 1]) - omega * X[:, 2] + phase
    cos, sin = np.cos(theta), np.sin(theta)
    dx, dy = d
    # d theta / d(x, y, t) = (k dx, k dy, -omega)
    g = (k * dx, k * dy, -omega)
    scal = np.empty((8, X.shape[0]))
    scal[0] = cos
    for i in range(3):
        scal[1 + i] = -sin * g[i]
    scal[4] = -cos * g[0] * g[0]
    scal[5] = -cos * g[1] * g[1]
    scal[6] = -cos * g[2] * g[2]
    scal[7] = -cos * g[0] * g[1]
    return amplitude * scal[:, :, None] * pol[None, None, :]
