"""Fused elementwise kernels of the forward-mode MLP and its adjoint (Numba).

Layout shared by every kernel
-----------------------------
An evaluation splits the points into tiles (:mod:`pinnlite.engine`). A tile
holds ``n`` points of one loss term with ``c`` channels each (1, 4 or 8),
channel-major::

    column k*n + i,  k = 0..c-1:  value, x, y, t, xx, yy, tt, xy   of point i

so a layer of a tile is ONE matrix product ``Z = W @ A`` over its ``c*n``
columns (BLAS), the bias (:func:`add_bias`), ``sigma`` of the value channel
(:func:`activate`), and one kernel here that applies the activation's chain
rule to the other channels (``docs/ENGINE.md``); :mod:`pinnlite.engine.tile_kernels`
composes them into one call per tile and pass::

    h    = sigma(z)
    h_k  = sigma'(z) z_k
    h_kl = sigma''(z) z_k z_l + sigma'(z) z_kl

and, on the way back, its adjoint::

    Z    = H s1 + sum_k H_k s2 z_k + sum_kl H_kl (s3 z_k z_l + s2 z_kl)
    Z_x  = H_x s1 + s2 (2 H_xx z_x + H_xy z_y)
    Z_y  = H_y s1 + s2 (2 H_yy z_y + H_xy z_x)
    Z_t  = H_t s1 + s2 (2 H_tt z_t)
    Z_kl = H_kl s1

Kernels are serial: the engine runs tiles on several threads, and every kernel
releases the GIL. The inner loops run over points (contiguous in memory). The
loss terms at the network's output are :mod:`pinnlite.engine.term_kernels`.
"""

import math

import numpy as np

from pinnlite.core.jit import inline, kernel
from pinnlite.core.activations import SIN, TANH


# ---------------------------------------------------------------------------
# activation rules (one branch per row of pinnlite.core.activations.ACTIVATIONS)
# ---------------------------------------------------------------------------


@inline
def check_code(code):
    """Raise unless ``code`` is the code of a row of the activation table.

    Called once at the entry of every kernel, so that the per-element branches
    below can treat "not tanh" as sin without an unknown code silently meaning sin.
    """
    if code != TANH and code != SIN:
        raise ValueError("unknown activation code: expected a code of pinnlite.core.activations.ACTIVATIONS")


# expm1 on [-ln2/2, ln2/2] by its Taylor polynomial to r^13/13! (the next term is below 4e-18 of the sum)
_EXPM1 = (1.0 / 2, 1.0 / 6, 1.0 / 24, 1.0 / 120, 1.0 / 720, 1.0 / 5040, 1.0 / 40320, 1.0 / 362880, 1.0 / 3628800,
          1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800)
_E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12, _E13 = _EXPM1
_INV_LN2 = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 in two parts (Cody & Waite): k * _LN2_HI is exact for k < 2^20
_LN2_LO = 1.90821492927058770002e-10


@inline
def tanh(z):
    """tanh z within 3.3 ulp (float64), in arithmetic the compiler vectorises.

    A scalar ``np.tanh`` in a kernel calls libm once per value (12 ns here); this
    runs the whole loop in SIMD registers (2.5 ns), close to NumPy's own vectorised
    ``np.tanh`` (1.4 ns) which a compiled kernel cannot call. With ``y = 2|z|``
    (at most 40: tanh 20 is 1 in float64), ``y = k ln2 + r``, ``|r| <= ln2 / 2``::

        e^y - 1 = 2^k (e^r - 1) + (2^k - 1),   tanh|z| = (e^y - 1) / (e^y - 1 + 2)

    with ``e^r - 1`` a polynomial (no cancellation near 0) and ``2^k``, k in
    [0, 58], a product of the powers of two of k's bits (exact, branch-free).
    NaN stays NaN, the sign of z (and of -0) is kept. Measured against long
    double over 9 million values from 1e-10 to 30: at most 3.25 ulp, mean 0.36
    (``np.tanh``: 1.18, 0.25).
    """
    y = 2.0 * abs(z)
    y = y if y < 40.0 else 40.0
    k = np.floor(y * _INV_LN2 + 0.5)
    r = (y - k * _LN2_HI) - k * _LN2_LO
    q = r * (1.0 + r * (_E2 + r * (_E3 + r * (_E4 + r * (_E5 + r * (_E6 + r * (_E7 + r * (_E8 + r * (
        _E9 + r * (_E10 + r * (_E11 + r * (_E12 + r * _E13))))))))))))
    b = np.int64(k)
    p = ((1.0 + (b & 1)) * (1.0 + 3.0 * ((b >> 1) & 1)) * (1.0 + 15.0 * ((b >> 2) & 1))
         * (1.0 + 255.0 * ((b >> 3) & 1)) * (1.0 + 65535.0 * ((b >> 4) & 1)) * (1.0 + 4294967295.0 * ((b >> 5) & 1)))
    em = p * q + (p - 1.0)
    t = math.copysign(em / (em + 2.0), z)
    return t if z == z else z


@inline
def sigma(code, z):
    """The activation of row ``code`` of the table at z (the value channel)."""
    if code == TANH:
        return tanh(z)
    return np.sin(z)  # SIN (check_code has run)


@inline
def activate(code, Z, H, n):
    """``H[:, :n] = sigma(Z[:, :n])``: a layer's value channel."""
    for j in range(Z.shape[0]):
        for i in range(n):
            H[j, i] = sigma(code, Z[j, i])


@inline
def jet(code, z, h, one):
    """sigma' and sigma'' at z, given h = sigma(z).

    The value h comes from :func:`activate`, run on a tile's value channel
    before the chain rule. For tanh both derivatives follow from h alone, so the
    kernel's loops hold no call and the compiler vectorises them (a scalar
    ``exp`` in the loop made a 24-wide layer's kernel 58 us instead of 13 us:
    ``docs/ENGINE.md``).
    """
    two = one + one
    if code == TANH:
        s1 = one - h * h
        return s1, -two * h * s1
    return np.cos(z), -h  # SIN (check_code has run)


@inline
def jet_back(code, z, h, one):
    """The first three derivatives of sigma at z, given h = sigma(z).

    For tanh they follow from h alone, so the backward pass needs no transcendental.
    """
    two = one + one
    if code == TANH:
        s1 = one - h * h
        return s1, -two * h * s1, s1 * (two * (two + one) * h * h - two)
    c = np.cos(z)  # SIN
    return c, -h, -c


# The forward kernels work row by row (one hidden unit): a first pass evaluates
# the activation's derivatives on the n values from h = sigma(z), which the
# caller has written with :func:`activate` (``jet``), a second pass applies the
# chain rule to the derivative channels with plain arithmetic. Both vectorise.

# ---------------------------------------------------------------------------
# forward
# ---------------------------------------------------------------------------


@inline
def _forward_channels(Z, H, j, n, c, s1r, s2r):
    """Second pass of the forward rule for row j (Z holds the pre-activation channels)."""
    if c >= 4:
        for k in range(1, 4):
            for i in range(n):
                H[j, k * n + i] = s1r[i] * Z[j, k * n + i]
    if c == 8:
        for i in range(n):
            zx = Z[j, n + i]
            zy = Z[j, 2 * n + i]
            zt = Z[j, 3 * n + i]
            s1 = s1r[i]
            s2 = s2r[i]
            H[j, 4 * n + i] = s2 * zx * zx + s1 * Z[j, 4 * n + i]
            H[j, 5 * n + i] = s2 * zy * zy + s1 * Z[j, 5 * n + i]
            H[j, 6 * n + i] = s2 * zt * zt + s1 * Z[j, 6 * n + i]
            H[j, 7 * n + i] = s2 * zx * zy + s1 * Z[j, 7 * n + i]


@kernel
def first_value(xi, W0, b0, z0):
    """The first hidden layer's value pre-activations ``z0 = W0 xi + b0`` (w, n): three
    multiply-adds per point, no matrix product.

    Parameters
    ----------
    xi : (3, n) normalised points.
    W0 : (w, 3), b0 : (w,) first layer.
    z0 : (w, n) output (kept for the backward pass).
    """
    for j in range(W0.shape[0]):
        a0 = W0[j, 0]
        a1 = W0[j, 1]
        a2 = W0[j, 2]
        bj = b0[j]
        for i in range(xi.shape[1]):
            z0[j, i] = a0 * xi[0, i] + a1 * xi[1, i] + a2 * xi[2, i] + bj


@kernel
def add_bias(Z, b, n):
    """``Z[:, :n] += b[:, None]`` in place: the bias of a hidden layer's value channel."""
    for j in range(Z.shape[0]):
        bj = b[j]
        for i in range(n):
            Z[j, i] += bj


@kernel
def first_forward(W0, scale, z0, H, n, c, code):
    """The derivative channels of the first hidden layer of one tile.

    Parameters
    ----------
    W0 : (w, 3) first layer's weights; scale : (3,) input scale s (xi = s (X - c)).
    z0 : (w, n) value pre-activations (:func:`first_value`).
    H : (w, c*n) the layer's channels: on entry ``H[:, :n] = sigma(z0)``, on
        return all of them. The first-channel pre-activations are
        ``z_k = s_k W0[:, k]`` for every point and the second ones are zero, so no
        matrix product is needed.
    """
    check_code(code)
    w = W0.shape[0]
    one = H.dtype.type(1)
    if c == 1:
        return
    s1r = np.empty(n, H.dtype)
    s2r = np.empty(n, H.dtype)
    for j in range(w):
        for i in range(n):
            s1, s2 = jet(code, z0[j, i], H[j, i], one)
            s1r[i] = s1
            s2r[i] = s2
        zx = W0[j, 0] * scale[0]
        zy = W0[j, 1] * scale[1]
        zt = W0[j, 2] * scale[2]
        for i in range(n):
            H[j, n + i] = s1r[i] * zx
            H[j, 2 * n + i] = s1r[i] * zy
            H[j, 3 * n + i] = s1r[i] * zt
        if c == 8:
            for i in range(n):
                H[j, 4 * n + i] = s2r[i] * zx * zx
                H[j, 5 * n + i] = s2r[i] * zy * zy
                H[j, 6 * n + i] = s2r[i] * zt * zt
                H[j, 7 * n + i] = s2r[i] * zx * zy


@kernel
def hidden_forward(Z, H, n, c, code):
    """The derivative channels of hidden layer l >= 1 of one tile.

    ``Z`` (w, c*n) holds ``W @ A`` with the bias added to its value channel
    (:func:`add_bias`); on entry ``H[:, :n] = sigma(Z[:, :n])``, on return ``H``
    (w, c*n) holds all the channels.
    """
    check_code(code)
    w = Z.shape[0]
    one = H.dtype.type(1)
    if c == 1:
        return
    s1r = np.empty(n, H.dtype)
    s2r = np.empty(n, H.dtype)
    for j in range(w):
        for i in range(n):
            s1, s2 = jet(code, Z[j, i], H[j, i], one)
            s1r[i] = s1
            s2r[i] = s2
        _forward_channels(Z, H, j, n, c, s1r, s2r)


# ---------------------------------------------------------------------------
# backward
# ---------------------------------------------------------------------------


@kernel
def value_sums(G, n, out):
    """``out[j] = sum_i G[j, i]`` over the value channel ``G[:, :n]``: the output layer's bias gradient.

    (``np.sum`` of these few hundred values costs about ten times as much, mostly
    its call, and holds the GIL throughout.)
    """
    for j in range(G.shape[0]):
        acc = 0.0
        for i in range(n):
            acc += G[j, i]
        out[j] = acc


@kernel
def hidden_backward(Hadj, Z, H, n, c, code, db):
    """Adjoint of a hidden layer's activation on one tile.

    ``Hadj`` (w, c*n) is the adjoint of ``H``; the adjoint of ``Z`` overwrites
    ``Z`` (each point's values are read before they are written). ``db`` (w,)
    receives the bias gradient, the sum of the value-channel adjoints.
    """
    check_code(code)
    w = Z.shape[0]
    one = H.dtype.type(1)
    two = one + one
    s1r = np.empty(n, H.dtype)
    s2r = np.empty(n, H.dtype)
    s3r = np.empty(n, H.dtype)
    for j in range(w):
        for i in range(n):
            s1, s2, s3 = jet_back(code, Z[j, i], H[j, i], one)
            s1r[i] = s1
            s2r[i] = s2
            s3r[i] = s3
        if c == 1:
            for i in range(n):
                Z[j, i] = Hadj[j, i] * s1r[i]
        elif c == 4:
            for i in range(n):
                s1 = s1r[i]
                gx = Hadj[j, n + i]
                gy = Hadj[j, 2 * n + i]
                gt = Hadj[j, 3 * n + i]
                Z[j, i] = Hadj[j, i] * s1 + s2r[i] * (gx * Z[j, n + i] + gy * Z[j, 2 * n + i] + gt * Z[j, 3 * n + i])
                Z[j, n + i] = gx * s1
                Z[j, 2 * n + i] = gy * s1
                Z[j, 3 * n + i] = gt * s1
        else:
            for i in range(n):
                s1 = s1r[i]
                s2 = s2r[i]
                zx = Z[j, n + i]
                zy = Z[j, 2 * n + i]
                zt = Z[j, 3 * n + i]
                gx = Hadj[j, n + i]
                gy = Hadj[j, 2 * n + i]
                gt = Hadj[j, 3 * n + i]
                gxx = Hadj[j, 4 * n + i]
                gyy = Hadj[j, 5 * n + i]
                gtt = Hadj[j, 6 * n + i]
                gxy = Hadj[j, 7 * n + i]
                Z[j, i] = (
                    Hadj[j, i] * s1
                    + s2 * (gx * zx + gy * zy + gt * zt)
                    + s3r[i] * (gxx * zx * zx + gyy * zy * zy + gtt * zt * zt + gxy * zx * zy)
                    + s2 * (gxx * Z[j, 4 * n + i] + gyy * Z[j, 5 * n + i] + gtt * Z[j, 6 * n + i] + gxy * Z[j, 7 * n + i])
                )
                Z[j, n + i] = gx * s1 + s2 * (two * gxx * zx + gxy * zy)
                Z[j, 2 * n + i] = gy * s1 + s2 * (two * gyy * zy + gxy * zx)
                Z[j, 3 * n + i] = gt * s1 + s2 * (two * gtt * zt)
                Z[j, 4 * n + i] = gxx * s1
                Z[j, 5 * n + i] = gyy * s1
                Z[j, 6 * n + i] = gtt * s1
                Z[j, 7 * n + i] = gxy * s1
        acc = 0.0
        for i in range(n):
            acc += Z[j, i]
        db[j] = acc


@kernel
def first_backward(Hadj, z0, H, W0, scale, xi, n, c, code, gW0, gb0):
    """Adjoint of the first hidden layer on one tile: its weight and bias gradients.

    With G the adjoint of the value pre-activation and Z_k those of the first
    channels (``z_k = s_k W0[:, k]``, second channels zero)::

        gW0[:, k] = sum_i G_i xi[k, i] + s_k sum_i Z_k,i      gb0 = sum_i G_i

    Parameters
    ----------
    Hadj : (w, c*n) adjoint of H.
    z0, H : the forward pass's (w, n) value pre-activations and (w, c*n) activations.
    W0 : (w, 3); scale : (3,); xi : (3, n) normalised points.
    gW0 : (w, 3), gb0 : (w,) outputs.
    """
    check_code(code)
    w = W0.shape[0]
    one = H.dtype.type(1)
    two = one + one
    for j in range(w):
        zx = W0[j, 0] * scale[0]
        zy = W0[j, 1] * scale[1]
        zt = W0[j, 2] * scale[2]
        ax = 0.0
        ay = 0.0
        at = 0.0
        g0 = 0.0
        g1 = 0.0
        g2 = 0.0
        acc = 0.0
        for i in range(n):
            s1, s2, s3 = jet_back(code, z0[j, i], H[j, i], one)
            v = Hadj[j, i] * s1
            if c >= 4:
                gx = Hadj[j, n + i]
                gy = Hadj[j, 2 * n + i]
                gt = Hadj[j, 3 * n + i]
                v += s2 * (gx * zx + gy * zy + gt * zt)
                if c == 8:
                    gxx = Hadj[j, 4 * n + i]
                    gyy = Hadj[j, 5 * n + i]
                    gtt = Hadj[j, 6 * n + i]
                    gxy = Hadj[j, 7 * n + i]
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
            g0 += v * xi[0, i]
            g1 += v * xi[1, i]
            g2 += v * xi[2, i]
            acc += v
        gW0[j, 0] = g0 + scale[0] * ax
        gW0[j, 1] = g1 + scale[1] * ay
        gW0[j, 2] = g2 + scale[2] * at
        gb0[j] = acc


@kernel
def first_backward_points(Hadj, z0, H, W0, scale, xi, n, c, code, gW0, gb0):
    """:func:`first_backward` without the sum over points: each point's own gradient.

    The rows of a residual's Jacobian (:mod:`pinnlite.engine.jacobian`): with
    the adjoint of one residual per point as ``Hadj``, point i's contribution
    is the gradient of its residual, because points share no column.

    Parameters
    ----------
    Hadj, z0, H, W0, scale, xi, n, c, code
        As in :func:`first_backward`.
    gW0 : (n, w, 3), gb0 : (n, w) outputs, per point.
    """
    check_code(code)
    w = W0.shape[0]
    one = H.dtype.type(1)
    two = one + one
    for j in range(w):
        zx = W0[j, 0] * scale[0]
        zy = W0[j, 1] * scale[1]
        zt = W0[j, 2] * scale[2]
        for i in range(n):
            s1, s2, s3 = jet_back(code, z0[j, i], H[j, i], one)
            v = Hadj[j, i] * s1
            gx = 0.0
            gy = 0.0
            gt = 0.0
            if c >= 4:
                gx = Hadj[j, n + i]
                gy = Hadj[j, 2 * n + i]
                gt = Hadj[j, 3 * n + i]
                v += s2 * (gx * zx + gy * zy + gt * zt)
                if c == 8:
                    gxx = Hadj[j, 4 * n + i]
                    gyy = Hadj[j, 5 * n + i]
                    gtt = Hadj[j, 6 * n + i]
                    gxy = Hadj[j, 7 * n + i]
                    v += s3 * (gxx * zx * zx + gyy * zy * zy + gtt * zt * zt + gxy * zx * zy)
                    gx = gx * s1 + s2 * (two * gxx * zx + gxy * zy)
                    gy = gy * s1 + s2 * (two * gyy * zy + gxy * zx)
                    gt = gt * s1 + s2 * (two * gtt * zt)
                else:
                    gx = gx * s1
                    gy = gy * s1
                    gt = gt * s1
            gW0[i, j, 0] = v * xi[0, i] + scale[0] * gx
            gW0[i, j, 1] = v * xi[1, i] + scale[1] * gy
            gW0[i, j, 2] = v * xi[2, i] + scale[2] * gt
            gb0[i, j] = v
