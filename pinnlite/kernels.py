"""Fused elementwise kernels of the forward-mode MLP and its adjoint (Numba).

Layout shared by every kernel
-----------------------------
The points of all loss terms are evaluated together. Column block ``g`` of a
layer's matrix (``groups[g] = (term, poff, coff, n, c)``) holds the ``n`` points
``poff .. poff+n-1`` of one term with ``c`` channels (1, 4 or 8), channel-major::

    columns coff + k*n + i,  k = 0..c-1:  value, x, y, t, xx, yy, tt, xy

so a layer is ONE matrix product ``Z = W @ A`` over all columns (NumPy/BLAS),
followed by one kernel here that applies the activation's chain rule
(``docs/ENGINE.md``)::

    h    = sigma(z)
    h_k  = sigma'(z) z_k
    h_kl = sigma''(z) z_k z_l + sigma'(z) z_kl

and, on the way back, its adjoint::

    Z    = H s1 + sum_k H_k s2 z_k + sum_kl H_kl (s3 z_k z_l + s2 z_kl)
    Z_x  = H_x s1 + s2 (2 H_xx z_x + H_xy z_y)
    Z_y  = H_y s1 + s2 (2 H_yy z_y + H_xy z_x)
    Z_t  = H_t s1 + s2 (2 H_tt z_t)
    Z_kl = H_kl s1

The kernels run one thread per row (hidden unit); every sum over points is
done by that row's thread in point order, so results do not depend on the
number of threads.
"""

import numpy as np
from numba import prange

from ._jit import inline, kernel, parallel_kernel
from .activations import SIN, TANH  # noqa: F401  (codes used below)


# ---------------------------------------------------------------------------
# activation rules (one branch per row of pinnlite.activations.ACTIVATIONS)
# ---------------------------------------------------------------------------


@inline
def jet(code, z, one):
    """sigma and its first three derivatives at z (``one``: 1 in the dtype of z)."""
    two = one + one
    if code == TANH:
        # tanh(|z|) = -expm1(-2|z|) / (2 + expm1(-2|z|)): exact to rounding near 0
        # and several times cheaper than libm's tanh
        e = np.expm1(-two * abs(z))
        s = -e / (e + two)
        if z < 0:
            s = -s
        s1 = one - s * s
        return s, s1, -two * s * s1, s1 * (two * (two + one) * s * s - two)
    s = np.sin(z)
    c = np.cos(z)
    return s, c, -s, -c


@inline
def jet_back(code, z, h, one):
    """The first three derivatives of sigma at z, given h = sigma(z).

    For tanh they follow from h alone, so the backward pass needs no transcendental.
    """
    two = one + one
    if code == TANH:
        s1 = one - h * h
        return s1, -two * h * s1, s1 * (two * (two + one) * h * h - two)
    c = np.cos(z)
    return c, -h, -c


# ---------------------------------------------------------------------------
# forward
# ---------------------------------------------------------------------------


@parallel_kernel
def first_forward(Zv, b, zk, H, groups, code):
    """First hidden layer: expand the value pre-activations into all channels.

    Parameters
    ----------
    Zv : (w, P) array
        ``W0 @ xi`` for the P points; the bias is added in place (kept for the
        backward pass).
    b : (w,) bias.
    zk : (w, 3) array
        ``W0[:, k] * s_k``: the first-derivative channels of the pre-activation,
        the same for every point (its second channels are zero).
    H : (w, M) output, all channels of every column block.
    groups : (G, 5) int64, see the module docstring.
    code : activation code.
    """
    w = Zv.shape[0]
    one = H.dtype.type(1)
    for j in prange(w):
        bj = b[j]
        zx = zk[j, 0]
        zy = zk[j, 1]
        zt = zk[j, 2]
        for g in range(groups.shape[0]):
            poff = groups[g, 1]
            coff = groups[g, 2]
            n = groups[g, 3]
            c = groups[g, 4]
            for i in range(n):
                z = Zv[j, poff + i] + bj
                Zv[j, poff + i] = z
                s, s1, s2, s3 = jet(code, z, one)
                H[j, coff + i] = s
                if c >= 4:
                    H[j, coff + n + i] = s1 * zx
                    H[j, coff + 2 * n + i] = s1 * zy
                    H[j, coff + 3 * n + i] = s1 * zt
                if c == 8:
                    H[j, coff + 4 * n + i] = s2 * zx * zx
                    H[j, coff + 5 * n + i] = s2 * zy * zy
                    H[j, coff + 6 * n + i] = s2 * zt * zt
                    H[j, coff + 7 * n + i] = s2 * zx * zy


@parallel_kernel
def hidden_forward(Z, b, H, groups, code):
    """Hidden layer l >= 1: add the bias to the value channel of ``Z = W @ A``
    (in place) and write the activation's channels to ``H`` (both (w, M))."""
    w = Z.shape[0]
    one = H.dtype.type(1)
    for j in prange(w):
        bj = b[j]
        for g in range(groups.shape[0]):
            coff = groups[g, 2]
            n = groups[g, 3]
            c = groups[g, 4]
            if c == 1:
                for i in range(n):
                    z = Z[j, coff + i] + bj
                    Z[j, coff + i] = z
                    s, s1, s2, s3 = jet(code, z, one)
                    H[j, coff + i] = s
            elif c == 4:
                for i in range(n):
                    z = Z[j, coff + i] + bj
                    Z[j, coff + i] = z
                    s, s1, s2, s3 = jet(code, z, one)
                    H[j, coff + i] = s
                    H[j, coff + n + i] = s1 * Z[j, coff + n + i]
                    H[j, coff + 2 * n + i] = s1 * Z[j, coff + 2 * n + i]
                    H[j, coff + 3 * n + i] = s1 * Z[j, coff + 3 * n + i]
            else:
                for i in range(n):
                    z = Z[j, coff + i] + bj
                    Z[j, coff + i] = z
                    s, s1, s2, s3 = jet(code, z, one)
                    zx = Z[j, coff + n + i]
                    zy = Z[j, coff + 2 * n + i]
                    zt = Z[j, coff + 3 * n + i]
                    H[j, coff + i] = s
                    H[j, coff + n + i] = s1 * zx
                    H[j, coff + 2 * n + i] = s1 * zy
                    H[j, coff + 3 * n + i] = s1 * zt
                    H[j, coff + 4 * n + i] = s2 * zx * zx + s1 * Z[j, coff + 4 * n + i]
                    H[j, coff + 5 * n + i] = s2 * zy * zy + s1 * Z[j, coff + 5 * n + i]
                    H[j, coff + 6 * n + i] = s2 * zt * zt + s1 * Z[j, coff + 6 * n + i]
                    H[j, coff + 7 * n + i] = s2 * zx * zy + s1 * Z[j, coff + 7 * n + i]


# ---------------------------------------------------------------------------
# backward
# ---------------------------------------------------------------------------


@parallel_kernel
def hidden_backward(Hadj, Z, H, groups, code, db):
    """Adjoint of a hidden layer's activation.

    ``Hadj`` (w, M) is the adjoint of ``H``; the adjoint of ``Z`` overwrites ``Z``
    (its values are read first, point by point). ``db`` (w,) receives the bias
    gradient, the sum of the value-channel adjoints.
    """
    w = Z.shape[0]
    one = H.dtype.type(1)
    two = one + one
    for j in prange(w):
        acc = 0.0
        for g in range(groups.shape[0]):
            coff = groups[g, 2]
            n = groups[g, 3]
            c = groups[g, 4]
            if c == 1:
                for i in range(n):
                    s1, s2, s3 = jet_back(code, Z[j, coff + i], H[j, coff + i], one)
                    v = Hadj[j, coff + i] * s1
                    Z[j, coff + i] = v
                    acc += v
            elif c == 4:
                for i in range(n):
                    s1, s2, s3 = jet_back(code, Z[j, coff + i], H[j, coff + i], one)
                    gx = Hadj[j, coff + n + i]
                    gy = Hadj[j, coff + 2 * n + i]
                    gt = Hadj[j, coff + 3 * n + i]
                    zx = Z[j, coff + n + i]
                    zy = Z[j, coff + 2 * n + i]
                    zt = Z[j, coff + 3 * n + i]
                    v = Hadj[j, coff + i] * s1 + s2 * (gx * zx + gy * zy + gt * zt)
                    Z[j, coff + i] = v
                    Z[j, coff + n + i] = gx * s1
                    Z[j, coff + 2 * n + i] = gy * s1
                    Z[j, coff + 3 * n + i] = gt * s1
                    acc += v
            else:
                for i in range(n):
                    s1, s2, s3 = jet_back(code, Z[j, coff + i], H[j, coff + i], one)
                    zx = Z[j, coff + n + i]
                    zy = Z[j, coff + 2 * n + i]
                    zt = Z[j, coff + 3 * n + i]
                    zxx = Z[j, coff + 4 * n + i]
                    zyy = Z[j, coff + 5 * n + i]
                    ztt = Z[j, coff + 6 * n + i]
                    zxy = Z[j, coff + 7 * n + i]
                    gx = Hadj[j, coff + n + i]
                    gy = Hadj[j, coff + 2 * n + i]
                    gt = Hadj[j, coff + 3 * n + i]
                    gxx = Hadj[j, coff + 4 * n + i]
                    gyy = Hadj[j, coff + 5 * n + i]
                    gtt = Hadj[j, coff + 6 * n + i]
                    gxy = Hadj[j, coff + 7 * n + i]
                    v = (
                        Hadj[j, coff + i] * s1
                        + s2 * (gx * zx + gy * zy + gt * zt)
                        + s3 * (gxx * zx * zx + gyy * zy * zy + gtt * zt * zt + gxy * zx * zy)
                        + s2 * (gxx * zxx + gyy * zyy + gtt * ztt + gxy * zxy)
                    )
                    Z[j, coff + i] = v
                    Z[j, coff + n + i] = gx * s1 + s2 * (two * gxx * zx + gxy * zy)
                    Z[j, coff + 2 * n + i] = gy * s1 + s2 * (two * gyy * zy + gxy * zx)
                    Z[j, coff + 3 * n + i] = gt * s1 + s2 * (two * gtt * zt)
                    Z[j, coff + 4 * n + i] = gxx * s1
                    Z[j, coff + 5 * n + i] = gyy * s1
                    Z[j, coff + 6 * n + i] = gtt * s1
                    Z[j, coff + 7 * n + i] = gxy * s1
                    acc += v
        db[j] = acc


@parallel_kernel
def first_backward(G, Zv, H, zk, groups, code, Gv, dzk, db):
    """Adjoint of the first hidden layer's activation.

    Parameters
    ----------
    G : (w, M) adjoint of H (read only).
    Zv, H : the forward pass's (w, P) pre-activations and (w, M) activations.
    zk : (w, 3) constant first-channel pre-activations ``W0[:, k] * s_k``.
    Gv : (w, P) output, adjoint of the value pre-activations (may alias Zv).
    dzk : (w, 3) output, adjoint of zk: sum over points of the first-channel adjoints.
    db : (w,) output, bias gradient.
    """
    w = Zv.shape[0]
    one = H.dtype.type(1)
    two = one + one
    for j in prange(w):
        zx = zk[j, 0]
        zy = zk[j, 1]
        zt = zk[j, 2]
        ax = 0.0
        ay = 0.0
        at = 0.0
        acc = 0.0
        for g in range(groups.shape[0]):
            poff = groups[g, 1]
            coff = groups[g, 2]
            n = groups[g, 3]
            c = groups[g, 4]
            for i in range(n):
                s1, s2, s3 = jet_back(code, Zv[j, poff + i], H[j, coff + i], one)
                v = G[j, coff + i] * s1
                if c >= 4:
                    gx = G[j, coff + n + i]
                    gy = G[j, coff + 2 * n + i]
                    gt = G[j, coff + 3 * n + i]
                    v += s2 * (gx * zx + gy * zy + gt * zt)
                    if c == 8:
                        gxx = G[j, coff + 4 * n + i]
                        gyy = G[j, coff + 5 * n + i]
                        gtt = G[j, coff + 6 * n + i]
                        gxy = G[j, coff + 7 * n + i]
                        v += s3 * (gxx * zx * zx + gyy * zy * zy + gtt * zt * zt + gxy * zx * zy)
                        gx = gx * s1 + s2 * (two * gxx * zx + gxy * zy)
                        gy = gy * s1 + s2 * (two * gyy * zy + gxy * zx)
                        gt = gt * s1 + s2 * (two * gtt * zt)
                    else:
                        gx = gx * s1
                        gy = gy * s1
                        gt = gt * s1
                    ax += gx
                    ay += gy
                    at += gt
                Gv[j, poff + i] = v
                acc += v
        dzk[j, 0] = ax
        dzk[j, 1] = ay
        dzk[j, 2] = at
        db[j] = acc


# ---------------------------------------------------------------------------
# loss terms at the output (U: (2, M) network outputs before bias and scale)
# ---------------------------------------------------------------------------


@kernel
def pde_term(U, GU, coff, n, inv, so, lam, mu, rho, force, weight):
    """PDE residual term on one 8-channel column block.

    With u = so_0 U_0, v = so_1 U_1 (channels xx, yy, tt, xy)::

        r_u = rho u_tt - (lam + 2 mu) u_xx - mu u_yy - (lam + mu) v_xy - f_u
        r_v = rho v_tt - mu v_xx - (lam + 2 mu) v_yy - (lam + mu) u_xy - f_v
        L   = inv * sum (r_u^2 + r_v^2)

    ``inv`` is 1 / (number of points of the whole term), so that blocks of one
    term add up to its mean. Writes ``weight * dL/dU`` into ``GU`` (channels
    xx..xy of the block) and returns ``(L, dL/dlam, dL/dmu, dL/drho)`` of this
    block (unweighted). ``force`` is (n, 2), or (0, 2) for no body force.
    """
    lp2m = lam + 2 * mu
    lpm = lam + mu
    su = so[0]
    sv = so[1]
    has_f = force.shape[0] > 0
    loss = 0.0
    glam = 0.0
    gmu = 0.0
    grho = 0.0
    for i in range(n):
        uxx = su * U[0, coff + 4 * n + i]
        uyy = su * U[0, coff + 5 * n + i]
        utt = su * U[0, coff + 6 * n + i]
        uxy = su * U[0, coff + 7 * n + i]
        vxx = sv * U[1, coff + 4 * n + i]
        vyy = sv * U[1, coff + 5 * n + i]
        vtt = sv * U[1, coff + 6 * n + i]
        vxy = sv * U[1, coff + 7 * n + i]
        ru = rho * utt - lp2m * uxx - mu * uyy - lpm * vxy
        rv = rho * vtt - mu * vxx - lp2m * vyy - lpm * uxy
        if has_f:
            ru -= force[i, 0]
            rv -= force[i, 1]
        loss += ru * ru + rv * rv
        grho += ru * utt + rv * vtt
        glam -= ru * (uxx + vxy) + rv * (vyy + uxy)
        gmu -= ru * (2 * uxx + uyy + vxy) + rv * (vxx + 2 * vyy + uxy)
        au = 2 * inv * ru * weight
        av = 2 * inv * rv * weight
        GU[0, coff + 4 * n + i] = -lp2m * au * su
        GU[0, coff + 5 * n + i] = -mu * au * su
        GU[0, coff + 6 * n + i] = rho * au * su
        GU[0, coff + 7 * n + i] = -lpm * av * su
        GU[1, coff + 4 * n + i] = -mu * av * sv
        GU[1, coff + 5 * n + i] = -lp2m * av * sv
        GU[1, coff + 6 * n + i] = rho * av * sv
        GU[1, coff + 7 * n + i] = -lpm * au * sv
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


@kernel
def traction_term(U, GU, coff, n, inv, so, lam, mu, normals, target, weight):
    """Traction misfit on one 4-channel column block (plane strain).

    ``s_xx = (lam+2mu) u_x + lam v_y``, ``s_yy = lam u_x + (lam+2mu) v_y``,
    ``s_xy = mu (u_y + v_x)``, ``t = s . n``; ``L = inv * sum |t - target|^2``.
    Writes ``weight * dL/dU`` (channels x, y) and returns ``(L, dL/dlam, dL/dmu)``.
    """
    lp2m = lam + 2 * mu
    su = so[0]
    sv = so[1]
    loss = 0.0
    glam = 0.0
    gmu = 0.0
    for i in range(n):
        ux = su * U[0, coff + n + i]
        uy = su * U[0, coff + 2 * n + i]
        vx = sv * U[1, coff + n + i]
        vy = sv * U[1, coff + 2 * n + i]
        nx = normals[i, 0]
        ny = normals[i, 1]
        sxx = lp2m * ux + lam * vy
        syy = lam * ux + lp2m * vy
        sxy = mu * (uy + vx)
        rx = sxx * nx + sxy * ny - target[i, 0]
        ry = sxy * nx + syy * ny - target[i, 1]
        loss += rx * rx + ry * ry
        dxx = rx * nx
        dyy = ry * ny
        dxy = rx * ny + ry * nx
        glam += (dxx + dyy) * (ux + vy)
        gmu += 2 * (dxx * ux + dyy * vy) + dxy * (uy + vx)
        a = 2 * inv * weight
        GU[0, coff + n + i] = a * su * (lp2m * dxx + lam * dyy)
        GU[0, coff + 2 * n + i] = a * su * mu * dxy
        GU[1, coff + n + i] = a * sv * mu * dxy
        GU[1, coff + 2 * n + i] = a * sv * (lam * dxx + lp2m * dyy)
    return loss * inv, 2 * inv * glam, 2 * inv * gmu


@kernel
def value_bias_grad(GU, groups, db):
    """Output bias gradient: sum over every block's value channel of GU (2, M)."""
    for c in range(2):
        acc = 0.0
        for g in range(groups.shape[0]):
            coff = groups[g, 2]
            n = groups[g, 3]
            for i in range(n):
                acc += GU[c, coff + i]
        db[c] = acc
