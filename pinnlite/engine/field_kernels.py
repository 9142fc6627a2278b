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
when the gradients of lam and mu vanish. A network with a pressure output takes
the mixed form (:func:`pde_term_field_mixed`, :func:`traction_term_field_mixed`):
the same with lam = 0 in the stress, the pressure's gradient in its place and
``r_p = kappa (div u - p / lam)`` with the local lam. The tiles and channels are those of
:mod:`pinnlite.engine.kernels`; the material comes per point as rows
``[p, p_x, p_y]`` (n, 3), and each kernel also writes the adjoint of the loss
(times the term's weight) with respect to those rows, for the field network's
backward pass (:mod:`pinnlite.engine.field`).
"""

from pinnlite.core.jit import kernel
from pinnlite.engine.term_kernels import first_derivatives, pressure, second_derivatives, traction_point


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
        ux, uy, vx, vy = first_derivatives(U, i, n, su, sv)
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


@kernel
def pde_term_field_mixed(U, GU, n, inv, so, pbias, L, M, rho, force, weight, GL, GM):
    """The mixed PDE term on one 8-channel tile of a network with p, with per-point lam and mu.

    With the stress ``s_xx = 2 mu u_x + p``, ``s_yy = 2 mu v_y + p``, ``s_xy = mu (u_y + v_x)``
    (the divergence form of the module docstring with lam = 0, the pressure in its
    place) and ``kappa = so_2 / sqrt(so_0 so_1)`` as in
    :func:`pinnlite.engine.term_kernels.pde_term_mixed`::

        r_u = rho u_tt - (2 mu_x u_x + 2 mu u_xx) - (mu_y (u_y + v_x) + mu (u_yy + v_xy)) - p_x - f_u
        r_v = rho v_tt - (mu_x (u_y + v_x) + mu (u_xy + v_xx)) - (2 mu_y v_y + 2 mu v_yy) - p_y - f_v
        r_p = kappa (u_x + v_y - p / lam)
        L   = inv * sum (r_u^2 + r_v^2 + r_p^2)

    lam enters only through r_p, so its gradients (``L[:, 1:]``) do not. Writes
    ``weight * dL/dU`` into ``GU`` (channels x, y, xx, yy, tt, xy of u and v;
    value, x, y of p; the caller zeroes the others) and ``weight * dL/dL``,
    ``weight * dL/dM`` into ``GL``, ``GM`` (n, 3); returns L.
    """
    su = so[0]
    sv = so[1]
    sp = so[2]
    kappa = sp / (su * sv) ** 0.5
    has_f = force.shape[0] > 0
    loss = 0.0
    for i in range(n):
        lam = L[i, 0]
        mu = M[i, 0]
        mx = M[i, 1]
        my = M[i, 2]
        ux, uy, vx, vy = first_derivatives(U, i, n, su, sv)
        uxx, uyy, utt, uxy, vxx, vyy, vtt, vxy = second_derivatives(U, i, n, su, sv)
        p, px, py = pressure(U, i, n, sp, pbias)
        shear = uy + vx
        ru = rho * utt - (2 * mx * ux + 2 * mu * uxx) - (my * shear + mu * (uyy + vxy)) - px
        rv = rho * vtt - (mx * shear + mu * (uxy + vxx)) - (2 * my * vy + 2 * mu * vyy) - py
        if has_f:
            ru -= force[i, 0]
            rv -= force[i, 1]
        rp = kappa * (ux + vy - p / lam)
        loss += ru * ru + rv * rv + rp * rp
        au = 2 * inv * ru * weight
        av = 2 * inv * rv * weight
        ap = 2 * inv * rp * weight * kappa
        GU[0, n + i] = (ap - au * 2 * mx) * su
        GU[0, 2 * n + i] = -(au * my + av * mx) * su
        GU[0, 4 * n + i] = -2 * mu * au * su
        GU[0, 5 * n + i] = -mu * au * su
        GU[0, 6 * n + i] = rho * au * su
        GU[0, 7 * n + i] = -mu * av * su
        GU[1, n + i] = -(au * my + av * mx) * sv
        GU[1, 2 * n + i] = (ap - av * 2 * my) * sv
        GU[1, 4 * n + i] = -mu * av * sv
        GU[1, 5 * n + i] = -2 * mu * av * sv
        GU[1, 6 * n + i] = rho * av * sv
        GU[1, 7 * n + i] = -mu * au * sv
        GU[2, i] = -ap * sp / lam
        GU[2, n + i] = -au * sp
        GU[2, 2 * n + i] = -av * sp
        GL[i, 0] = ap * p / (lam * lam)
        GL[i, 1] = 0.0
        GL[i, 2] = 0.0
        GM[i, 0] = -(au * (2 * uxx + uyy + vxy) + av * (vxx + uxy + 2 * vyy))
        GM[i, 1] = -(au * 2 * ux + av * shear)
        GM[i, 2] = -(au * shear + av * 2 * vy)
    return loss * inv


@kernel
def traction_term_field_mixed(U, GU, n, inv, so, pbias, M, normals, target, weight, GL, GM):
    """The traction misfit of a network with p on one 4-channel tile, with the local mu.

    The mixed form's stress (``s_xx = 2 mu u_x + p``, ``s_yy = 2 mu v_y + p``,
    ``s_xy = mu (u_y + v_x)``), as :func:`pinnlite.engine.term_kernels.traction_term_mixed`
    with mu from column 0 of ``M``. Writes ``weight * dL/dU`` (channels x, y of u
    and v, the value of p), ``weight * dL/dmu`` into column 0 of ``GM`` and zeroes
    the rest of ``GL`` and ``GM`` (lam is held by the PDE term's r_p only); returns L.
    """
    su = so[0]
    sv = so[1]
    sp = so[2]
    loss = 0.0
    a = 2 * inv * weight
    for i in range(n):
        nx = normals[i, 0]
        ny = normals[i, 1]
        p = sp * (U[2, i] + pbias)
        e, dxx, dyy, dxy, ux, uy, vx, vy = traction_point(U, GU, i, n, su, sv, 0.0, M[i, 0], nx, ny,
                                                          target[i, 0] - p * nx, target[i, 1] - p * ny, a)
        GU[2, i] = a * sp * (dxx + dyy)
        loss += e
        for k in range(3):
            GL[i, k] = 0.0
        GM[i, 0] = a * (2 * (dxx * ux + dyy * vy) + dxy * (uy + vx))
        GM[i, 1] = 0.0
        GM[i, 2] = 0.0
    return loss * inv
