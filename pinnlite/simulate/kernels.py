"""Numba kernels of the staggered-grid velocity-stress scheme (Virieux 1986; Levander 1988).

Every field is a padded float64 array of shape ``(ny + 4, nx + 4)``: the
``ny`` by ``nx`` nodes at ``[2:ny + 2, 2:nx + 2]`` and two ghost layers on each
side, which the 4th-order stencil reads. Ghost layers are either copies of
the opposite side (:func:`wrap_x`, :func:`wrap_y`: periodic boundaries) or zero (never written:
outside the grid nothing moves, and the sponge in front of it absorbs).

Positions (``docs/SIMULATE.md``), for padded index ``[j, i]`` of node
``(x_i, y_j)``::

    sxx, syy, lam, lam + 2 mu    (x_i,         y_j        )
    vx, ux, bx = 1 / rho_x       (x_i + h / 2, y_j        )
    vy, uy, by = 1 / rho_y       (x_i,         y_j + h / 2)
    sxy, mu_xy                   (x_i + h / 2, y_j + h / 2)

The 4th-order staggered difference of f at a point p (Levander 1988) is::

    h D f(p) = C1 (f(p + h/2) - f(p - h/2)) + C2 (f(p + 3h/2) - f(p - 3h/2)),
    C1 = 9/8, C2 = -1/24

and its two forms here (forward to the next half node, backward from the
previous one) are each other's negative transpose, which is what makes the
scheme conserve energy and obey reciprocity.

Kernels are serial (``pinnlite.core.jit``); the inner loop runs over x, the
contiguous axis.
"""

from pinnlite.core.jit import kernel

C1 = 9.0 / 8.0
C2 = -1.0 / 24.0
PAD = 2


@kernel
def wrap_x(a):
    """Fill the two x ghost columns on each side of ``a`` (ny + 4, nx + 4) periodically, in place."""
    nx = a.shape[1] - 4
    for j in range(a.shape[0]):
        for g in range(2):
            a[j, g] = a[j, nx + g]
            a[j, nx + 2 + g] = a[j, 2 + g]


@kernel
def wrap_y(a):
    """Fill the two y ghost rows on each side of ``a`` periodically, in place (corners included)."""
    ny = a.shape[0] - 4
    for g in range(2):
        for i in range(a.shape[1]):
            a[g, i] = a[ny + g, i]
            a[ny + 2 + g, i] = a[2 + g, i]


@kernel
def update_velocity(vx, vy, ux, uy, sxx, syy, sxy, bx, by, gx, gy, dth, dtu):
    """One velocity half of the leapfrog, then the sponge and the displacement, in place.

    ``v <- g (v + (dt / h) b h D . sigma)`` (``dth`` = dt / h) with the sponge factor
    ``g = gx[i] gy[j]``, then ``u <- u + dtu v`` (``dtu`` = dt: the displacement at
    the next integer step, the time integral of the leapfrog's velocity).
    """
    ny = vx.shape[0] - 4
    nx = vx.shape[1] - 4
    for j in range(2, ny + 2):
        for i in range(2, nx + 2):
            g = gx[i] * gy[j]
            dsxx = C1 * (sxx[j, i + 1] - sxx[j, i]) + C2 * (sxx[j, i + 2] - sxx[j, i - 1])
            dsxy_y = C1 * (sxy[j, i] - sxy[j - 1, i]) + C2 * (sxy[j + 1, i] - sxy[j - 2, i])
            dsxy_x = C1 * (sxy[j, i] - sxy[j, i - 1]) + C2 * (sxy[j, i + 1] - sxy[j, i - 2])
            dsyy = C1 * (syy[j + 1, i] - syy[j, i]) + C2 * (syy[j + 2, i] - syy[j - 1, i])
            a = (vx[j, i] + dth * bx[j, i] * (dsxx + dsxy_y)) * g
            b = (vy[j, i] + dth * by[j, i] * (dsxy_x + dsyy)) * g
            vx[j, i] = a
            vy[j, i] = b
            ux[j, i] += dtu * a
            uy[j, i] += dtu * b


@kernel
def update_stress(sxx, syy, sxy, vx, vy, lam2mu, lam, muxy, gx, gy, dth):
    """One stress half of the leapfrog, then the sponge, in place.

    ``sxx <- g (sxx + (dt / h) ((lam + 2 mu) h D_x vx + lam h D_y vy))``, ``syy`` alike,
    ``sxy <- g (sxy + (dt / h) mu_xy (h D_y vx + h D_x vy))``.
    """
    ny = sxx.shape[0] - 4
    nx = sxx.shape[1] - 4
    for j in range(2, ny + 2):
        for i in range(2, nx + 2):
            g = gx[i] * gy[j]
            dvx_x = C1 * (vx[j, i] - vx[j, i - 1]) + C2 * (vx[j, i + 1] - vx[j, i - 2])
            dvy_y = C1 * (vy[j, i] - vy[j - 1, i]) + C2 * (vy[j + 1, i] - vy[j - 2, i])
            dvx_y = C1 * (vx[j + 1, i] - vx[j, i]) + C2 * (vx[j + 2, i] - vx[j - 1, i])
            dvy_x = C1 * (vy[j, i + 1] - vy[j, i]) + C2 * (vy[j, i + 2] - vy[j, i - 1])
            sxx[j, i] = (sxx[j, i] + dth * (lam2mu[j, i] * dvx_x + lam[j, i] * dvy_y)) * g
            syy[j, i] = (syy[j, i] + dth * (lam[j, i] * dvx_x + lam2mu[j, i] * dvy_y)) * g
            sxy[j, i] = (sxy[j, i] + dth * muxy[j, i] * (dvx_y + dvy_x)) * g


@kernel
def spread(v, b, rows, cols, wy, wx, values):
    """Add ``values[s] b w`` to ``v`` at the 4 x 4 nodes of point ``s``, in place.

    ``rows``, ``cols`` (n, 4) int64 padded indices, ``wy``, ``wx`` (n, 4) weights:
    the transpose of :func:`gather`, so a force injected here and a displacement
    read by :func:`gather` at the same point are adjoint (reciprocity).
    """
    for s in range(rows.shape[0]):
        for r in range(4):
            for c in range(4):
                j = rows[s, r]
                i = cols[s, c]
                v[j, i] += values[s] * b[j, i] * wy[s, r] * wx[s, c]


@kernel
def gather(a, rows, cols, wy, wx, out):
    """``out[p] = sum_rc wy[p, r] wx[p, c] a[rows[p, r], cols[p, c]]``: tensor-product interpolation."""
    for p in range(rows.shape[0]):
        acc = 0.0
        for r in range(4):
            line = 0.0
            for c in range(4):
                line += wx[p, c] * a[rows[p, r], cols[p, c]]
            acc += wy[p, r] * line
        out[p] = acc
