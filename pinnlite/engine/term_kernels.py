"""Loss kernels of the terms at the network's output, for a constant material (Numba).

Each kernel takes the raw outputs ``U`` (2, c*n) of one tile, or (3, c*n) with a
pressure output (before the output bias and scale ``so``; the channel layout of
:mod:`pinnlite.engine.kernels`), returns the tile's share of its term and writes
``weight * dL/dU`` into ``GU``, where the backward pass of
:mod:`pinnlite.engine.kernels` starts. The mixed form's PDE and traction terms
(a pressure output) are :func:`pde_term_mixed` and :func:`traction_term_mixed`.
The same terms with lam and mu varying in space are
:mod:`pinnlite.engine.field_kernels`, which shares the per-point traction of
:func:`traction_point`.
"""

from pinnlite.core.jit import inline, kernel

@inline
def second_derivatives(U, i, n, su, sv):
    """``(u_xx, u_yy, u_tt, u_xy, v_xx, v_yy, v_tt, v_xy)`` of point ``i`` of an 8-channel tile, scaled by ``so``."""
    return (su * U[0, 4 * n + i], su * U[0, 5 * n + i], su * U[0, 6 * n + i], su * U[0, 7 * n + i],
            sv * U[1, 4 * n + i], sv * U[1, 5 * n + i], sv * U[1, 6 * n + i], sv * U[1, 7 * n + i])


@inline
def first_derivatives(U, i, n, su, sv):
    """``(u_x, u_y, v_x, v_y)`` of point ``i`` of a tile with first-derivative channels, scaled by ``so``."""
    return su * U[0, n + i], su * U[0, 2 * n + i], sv * U[1, n + i], sv * U[1, 2 * n + i]


@inline
def pressure(U, i, n, sp, pbias):
    """``(p, p_x, p_y)`` of point ``i`` of a tile of a network with a pressure output (bias and scale applied)."""
    return sp * (U[2, i] + pbias), sp * U[2, n + i], sp * U[2, 2 * n + i]


@inline
def pde_point(U, GU, i, n, su, sv, lam, mu, rho, has_f, fu, fv, inv, weight):
    """Point ``i`` of an 8-channel PDE tile: writes ``weight * dL/dU`` of its second-derivative channels.

    The residual of :func:`pde_term` with the force ``(fu, fv)`` (subtracted when
    ``has_f``). Returns ``(r_u, r_v, d r / d lam (2), d r / d mu (2), u_tt, v_tt)``
    up to the signs of :func:`pde_term`'s gradients, from which both PDE kernels
    form their material gradients.
    """
    uxx, uyy, utt, uxy, vxx, vyy, vtt, vxy = second_derivatives(U, i, n, su, sv)
    lp2m = lam + 2 * mu
    lpm = lam + mu
    ru = rho * utt - lp2m * uxx - mu * uyy - lpm * vxy
    rv = rho * vtt - mu * vxx - lp2m * vyy - lpm * uxy
    if has_f:
        ru -= fu
        rv -= fv
    au = 2 * inv * ru * weight
    av = 2 * inv * rv * weight
    GU[0, 4 * n + i] = -lp2m * au * su
    GU[0, 5 * n + i] = -mu * au * su
    GU[0, 6 * n + i] = rho * au * su
    GU[0, 7 * n + i] = -lpm * av * su
    GU[1, 4 * n + i] = -mu * av * sv
    GU[1, 5 * n + i] = -lp2m * av * sv
    GU[1, 6 * n + i] = rho * av * sv
    GU[1, 7 * n + i] = -lpm * au * sv
    return (ru, rv, uxx + vxy, vyy + uxy, 2 * uxx + uyy + vxy, vxx + 2 * vyy + uxy, utt, vtt)


@kernel
def pde_term(U, GU, n, inv, so, lam, mu, rho, force, weight):
    """PDE residual term on one 8-channel tile.

    With u = so_0 U_0, v = so_1 U_1 (channels xx, yy, tt, xy)::

        r_u = rho u_tt - (lam + 2 mu) u_xx - mu u_yy - (lam + mu) v_xy - f_u
        r_v = rho v_tt - mu v_xx - (lam + 2 mu) v_yy - (lam + mu) u_xy - f_v
        L   = inv * sum (r_u^2 + r_v^2)

    ``inv`` is 1 / (number of points of the whole term), so that blocks of one
    term add up to its mean. Writes ``weight * dL/dU`` into ``GU`` (channels
    xx..xy of the block) and returns ``(L, dL/dlam, dL/dmu, dL/drho)`` of this
    block (unweighted). ``force`` is (n, 2), or (0, 2) for no body force.
    """
    su = so[0]
    sv = so[1]
    has_f = force.shape[0] > 0
    loss = 0.0
    glam = 0.0
    gmu = 0.0
    grho = 0.0
    for i in range(n):
        fu = force[i, 0] if has_f else 0.0
        fv = force[i, 1] if has_f else 0.0
        ru, rv, lu, lv, mu_u, mu_v, utt, vtt = pde_point(U, GU, i, n, su, sv, lam, mu, rho, has_f, fu, fv, inv, weight)
        loss += ru * ru + rv * rv
        grho += ru * utt + rv * vtt
        glam -= ru * lu + rv * lv
        gmu -= ru * mu_u + rv * mu_v
    return loss * inv, 2 * inv * glam, 2 * inv * gmu, 2 * inv * grho


@kernel
def pde_term_mixed(U, GU, n, inv, so, pbias, lam, mu, rho, force, weight):
    """The mixed (displacement-pressure) PDE term on one 8-channel tile of a network with p.

    With u = so_0 U_0, v = so_1 U_1, p = so_2 (U_2 + pbias) and ``kappa = so_2 /
    sqrt(so_0 so_1)`` (the stress scale over the displacement scale: a modulus
    over a length, so that kappa (div u - p / lam) has the units of r_u)::

        r_u = rho u_tt - mu (2 u_xx + u_yy + v_xy) - p_x - f_u
        r_v = rho v_tt - mu (v_xx + 2 v_yy + u_xy) - p_y - f_v
        r_p = kappa (u_x + v_y - p / lam)
        L   = inv * sum (r_u^2 + r_v^2 + r_p^2)

    (r_u, r_v) is :func:`pde_term`'s residual with lam = 0 and the force f + grad p
    (:func:`pde_point`). At r_p = 0, p = lam div u and (r_u, r_v) is the residual
    of :func:`pde_term`; lam enters only through p / lam, so a nearly
    incompressible body (lam >> mu) costs no stiffness. Returns ``(L, dL/dlam,
    dL/dmu, dL/drho)`` and writes ``weight * dL/dU`` into ``GU`` like :func:`pde_term`.
    """
    su = so[0]
    sv = so[1]
    sp = so[2]
    kappa = sp / (su * sv) ** 0.5
    has_f = force.shape[0] > 0
    loss = 0.0
    glam = 0.0
    gmu = 0.0
    grho = 0.0
    for i in range(n):
        p, px, py = pressure(U, i, n, sp, pbias)
        fu = px + (force[i, 0] if has_f else 0.0)
        fv = py + (force[i, 1] if has_f else 0.0)
        ru, rv, _, _, mu_u, mu_v, utt, vtt = pde_point(U, GU, i, n, su, sv, 0.0, mu, rho, True, fu, fv, inv, weight)
        rp = kappa * (su * U[0, n + i] + sv * U[1, 2 * n + i] - p / lam)
        loss += ru * ru + rv * rv + rp * rp
        grho += ru * utt + rv * vtt
        glam += rp * kappa * p / (lam * lam)
        gmu -= ru * mu_u + rv * mu_v
        au = 2 * inv * ru * weight
        av = 2 * inv * rv * weight
        ap = 2 * inv * rp * weight * kappa
        GU[0, n + i] = ap * su
        GU[1, 2 * n + i] = ap * sv
        GU[2, i] = -ap * sp / lam
        GU[2, n + i] = -au * sp
        GU[2, 2 * n + i] = -av * sp
    return loss * inv, 2 * inv * glam, 2 * inv * gmu, 2 * inv * grho


@kernel
def misfit_term(U, GU, start, n, inv, so, shift, target, weight):
    """Mean squared misfit of one channel of a column block against ``target``.

    The channel occupies columns ``start .. start+n-1``; the compared field is
    ``so_c (U_c + shift_c)`` (shift = output bias for the value channel, zero for a
    derivative channel). ``L = inv * sum |field - target|^2``; writes
    ``weight * dL/dU`` into ``GU`` and returns L.
    """
    loss = 0.0
    for c in range(2):
        s = so[c]
        b = shift[c]
        for i in range(n):
            r = s * (U[c, start + i] + b) - target[i, c]
            loss += r * r
            GU[c, start + i] = 2 * inv * weight * r * s
    return loss * inv


@inline
def traction_point(U, GU, i, n, su, sv, lam, mu, nx, ny, tx, ty, a):
    """Point ``i`` of a 4-channel traction tile: writes ``a * dL/dU`` of its x and y channels.

    Returns ``(|t - target|^2, dxx, dyy, dxy, u_x, u_y, v_x, v_y)`` with
    ``d.. = r . n`` products of the misfit ``r``, from which the constant and
    the field kernels form their material gradients.
    """
    lp2m = lam + 2 * mu
    ux, uy, vx, vy = first_derivatives(U, i, n, su, sv)
    sxx = lp2m * ux + lam * vy
    syy = lam * ux + lp2m * vy
    sxy = mu * (uy + vx)
    rx = sxx * nx + sxy * ny - tx
    ry = sxy * nx + syy * ny - ty
    dxx = rx * nx
    dyy = ry * ny
    dxy = rx * ny + ry * nx
    GU[0, n + i] = a * su * (lp2m * dxx + lam * dyy)
    GU[0, 2 * n + i] = a * su * mu * dxy
    GU[1, n + i] = a * sv * mu * dxy
    GU[1, 2 * n + i] = a * sv * (lam * dxx + lp2m * dyy)
    return rx * rx + ry * ry, dxx, dyy, dxy, ux, uy, vx, vy


@kernel
def traction_term(U, GU, n, inv, so, lam, mu, normals, target, weight):
    """Traction misfit on one 4-channel tile (plane strain).

    ``s_xx = (lam+2mu) u_x + lam v_y``, ``s_yy = lam u_x + (lam+2mu) v_y``,
    ``s_xy = mu (u_y + v_x)``, ``t = s . n``; ``L = inv * sum |t - target|^2``.
    Writes ``weight * dL/dU`` (channels x, y) and returns ``(L, dL/dlam, dL/dmu)``.
    """
    su = so[0]
    sv = so[1]
    a = 2 * inv * weight
    loss = 0.0
    glam = 0.0
    gmu = 0.0
    for i in range(n):
        e, dxx, dyy, dxy, ux, uy, vx, vy = traction_point(U, GU, i, n, su, sv, lam, mu, normals[i, 0],
                                                          normals[i, 1], target[i, 0], target[i, 1], a)
        loss += e
        glam += (dxx + dyy) * (ux + vy)
        gmu += 2 * (dxx * ux + dyy * vy) + dxy * (uy + vx)
    return loss * inv, 2 * inv * glam, 2 * inv * gmu


@kernel
def traction_term_mixed(U, GU, n, inv, so, pbias, mu, normals, target, weight):
    """The traction misfit of a network with a pressure output, on one 4-channel tile.

    The stress of the mixed form, ``s_xx = 2 mu u_x + p``, ``s_yy = 2 mu v_y + p``,
    ``s_xy = mu (u_y + v_x)`` with p = so_2 (U_2 + pbias) (lam is held by the PDE
    term's r_p only), ``t = s . n``; ``L = inv * sum |t - target|^2``. That is
    :func:`traction_point` with lam = 0 and the target less ``p n``. Writes
    ``weight * dL/dU`` (channels x, y of u and v, the value of p) and returns
    ``(L, dL/dmu)``.
    """
    su = so[0]
    sv = so[1]
    sp = so[2]
    a = 2 * inv * weight
    loss = 0.0
    gmu = 0.0
    for i in range(n):
        nx = normals[i, 0]
        ny = normals[i, 1]
        p = sp * (U[2, i] + pbias)
        e, dxx, dyy, dxy, ux, uy, vx, vy = traction_point(U, GU, i, n, su, sv, 0.0, mu, nx, ny,
                                                          target[i, 0] - p * nx, target[i, 1] - p * ny, a)
        GU[2, i] = a * sp * (dxx + dyy)
        loss += e
        gmu += 2 * (dxx * ux + dyy * vy) + dxy * (uy + vx)
    return loss * inv, 2 * inv * gmu
