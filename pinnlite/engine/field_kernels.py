"""Loss kernels of the terms that see the material, when lam and mu vary in space (Numba).

With lam(x, y) and mu(x, y) the wave equation is taken in divergence form,
``rho u_tt = div sigma + f`` with the local stress::

    s_xx = (lam + 2 mu) u_x + lam v_y,  s_yy = lam u_x + (lam + 2 mu) v_y,  s_xy = mu (u_y + v_x)

    d_x s_xx = (lam_x + 2 mu_x) u_x + lam_x v_y + (lam + 2 mu) u_xx + lam v_xy
    d_y s_xy = mu_y (u_y + v_x) + mu (u_yy + v_xy)
    d_x s_xy = mu_x (u_y + v_x) + mu (u_xy + v_xx)
    d_y s_yy = lam_y u_x + (lam_y + 2 mu_y) v_y + lam u_xy + (lam + 2 mu) v_yy

    r_u = rho u_tt - d_x s_xx - d_y s_xy - f_u
    r_v = rho v_tt - d_x s_xy - d_y s_yy - f_v

which is the constant-material residual of :func:`pinnlite.engine.term_kernels.pde_term`
when the gradients of lam and mu vanish. The tiles and channels are those of
:mod:`pinnlite.engine.kernels`; the material comes per point as rows
``[p, p_x, p_y]`` (n, 3), and each kernel also writes the adjoint of the loss
(times the term's weight) with respect to those rows, for the field network's
backward pass (:mod:`pinnlite.engine.field`).
"""

from pinnlite.core.jit import kernel
from pinnlite.engine.term_kernels import second_derivatives, traction_point


@kernel
def pde_term_field(U, GU, n, inv, so, L, M, rho, force, weight, GL, GM):
    """PDE residual term on one 8-channel tile with per-point lam and mu.

    ``L`` and ``M`` (n, 3) hold ``[lam, lam_x, lam_y]`` and ``[mu, mu_x, mu_y]``;
    ``L = inv * sum (r_u^2 + r_v^2)``. Writes ``weight * dL/dU`` into ``GU``
    (channels x, y, xx, yy, tt, xy; the caller zeroes the others) and
    ``weight * dL/dL``, ``weight * dL/dM`` into ``GL``, ``GM`` (n, 3); returns L.
    """
    su = so[0]
    sv = so[1]
    has_f = force.shape[0] > 0
    loss = 0.0
    for i in range(n):
        lam = L[i, 0]
        lx = L[i, 1]
        ly = L[i, 2]
        mu = M[i, 0]
        mx = M[i, 1]
        my = M[i, 2]
        ux = su * U[0, n + i]
        uy = su * U[0, 2 * n + i]
        vx = sv * U[1, n + i]
        vy = sv * U[1, 2 * n + i]
        uxx, uyy, utt, uxy, vxx, vyy, vtt, vxy = second_derivatives(U, i, n, su, sv)
        lp2m = lam + 2 * mu
        lpm = lam + mu
        shear = uy + vx
        div = ux + vy
        ru = rho * utt - ((lx + 2 * mx) * ux + lx * vy + lp2m * uxx + lam * vxy) - (my * shear + mu * (uyy + vxy))
        rv = rho * vtt - (mx * shear + mu * (uxy + vxx)) - (ly * ux + (ly + 2 * my) * vy + lam * uxy + lp2m * vyy)
        if has_f:
            ru -= force[i, 0]
            rv -= force[i, 1]
        loss += ru * ru + rv * rv
        au = 2 * inv * ru * weight
        av = 2 * inv * rv * weight
        GU[0, n + i] = -(au * (lx + 2 * mx) + av * ly) * su
        GU[0, 2 * n + i] = -(au * my + av * mx) * su
        GU[0, 4 * n + i] = -lp2m * au * su
        GU[0, 5 * n + i] = -mu * au * su
        GU[0, 6 * n + i] = rho * au * su
        GU[0, 7 * n + i] = -lpm * av * su
        GU[1, n + i] = -(au * my + av * mx) * sv
        GU[1, 2 * n + i] = -(au * lx + av * (ly + 2 * my)) * sv
        GU[1, 4 * n + i] = -mu * av * sv
        GU[1, 5 * n + i] = -lp2m * av * sv
        GU[1, 6 * n + i] = rho * av * sv
        GU[1, 7 * n + i] = -lpm * au * sv
        GL[i, 0] = -(au * (uxx + vxy) + av * (uxy + vyy))
        GL[i, 1] = -au * div
        GL[i, 2] = -av * div
        GM[i, 0] = -(au * (2 * uxx + uyy + vxy) + av * (vxx + uxy + 2 * vyy))
        GM[i, 1] = -(au * 2 * ux + av * shear)
        GM[i, 2] = -(au * shear + av * 2 * vy)
    return loss * inv


@kernel
def traction_term_field(U, GU, n, inv, so, L, M, normals, target, weight, GL, GM):
    """Traction misfit on one 4-channel tile with the local lam and mu (column 0 of ``L``, ``M``).

    As :func:`pinnlite.engine.term_kernels.traction_term`; writes ``weight * dL/dU``
    (channels x, y) and ``weight * dL/dlam``, ``weight * dL/dmu`` into column 0
    of ``GL``, ``GM`` (the derivative columns are zeroed); returns L.
    """
    su = so[0]
    sv = so[1]
    loss = 0.0
    a = 2 * inv * weight
    for i in range(n):
        e, dxx, dyy, dxy, ux, uy, vx, vy = traction_point(U, GU, i, n, su, sv, L[i, 0], M[i, 0], normals[i, 0],
                                                          normals[i, 1], target[i, 0], target[i, 1], a)
        loss += e
        GL[i, 0] = a * (dxx + dyy) * (ux + vy)
        GL[i, 1] = 0.0
        GL[i, 2] = 0.0
        GM[i, 0] = a * (2 * (dxx * ux + dyy * vy) + dxy * (uy + vx))
        GM[i, 1] = 0.0
        GM[i, 2] = 0.0
    return loss * inv
