"""A tile's forward pass, and its backward pass, each in one compiled call (Numba).

:func:`forward` runs every layer of the forward-mode MLP on one tile (the
channel layout and the rules of :mod:`pinnlite.engine.kernels`): per layer the
matrix product (NumPy's BLAS, :mod:`pinnlite.engine.blas`), the bias, sigma of
the value channel and the activation's chain rule on the other channels.
:func:`backward` runs the adjoint from the output's adjoint ``GU`` down to the
first layer and writes (or adds) the tile's gradient in the layout of the
parameters. Between the two the caller runs the tile's loss kernel
(:mod:`pinnlite.engine.term_kernels`).

Why one call: the engine's worker threads share the GIL, and each call into
NumPy or Numba releases it and takes it back. With a call per product and per
activation (about 25 per tile) two threads spent a third of their time handing
the GIL to each other: a 24-wide tile took 0.6 ms on each of two threads
against 0.35 ms on one (``benchmarks/README.md``, "Threads"). Three calls per
tile leave the threads' work their own.

Layout tables (int64), built once per architecture and per thread's buffer:

- ``layers`` (L + 1, 4): per layer l (hidden layers, then the output) the offset
  of ``W_l`` in the flat parameters, its rows (fan out), its columns (fan in)
  and the offset of ``b_l`` (:class:`pinnlite.core.arch.Layout`);
- ``regions`` (4 + 2 L, :func:`region_table`): offsets in the thread's flat
  buffer of ``z0``, ``U``, ``GU``, the adjoint scratch (indices :data:`Z0`,
  :data:`U`, :data:`GU`, :data:`ADJ`), then ``H_0 .. H_{L-1}`` and ``Z_0 .. Z_{L-1}``;
  a region holds its array for the tile's shape, C-contiguous from its offset
  (``z0`` (w_0, n), the others (rows, c n)), as :class:`pinnlite.engine.loss`'s
  views of the same buffer do.
"""

import numpy as np

from pinnlite.core.jit import inline, kernel
from pinnlite.engine import kernels
from pinnlite.engine.blas import NO_TRANS, ROW_MAJOR, TRANS


# the first four regions of a thread's buffer; then H_0 .. H_{L-1}, then Z_0 .. Z_{L-1}
Z0, U, GU, ADJ = 0, 1, 2, 3


def region_table(hidden, n_outputs, tile_columns):
    """``(regions, size)``: the ``regions`` table (4 + 2 L,) of a buffer for tiles of at most
    ``tile_columns`` columns of a network with hidden widths ``hidden``, and the buffer's length."""
    TC = tile_columns
    sizes = [hidden[0] * TC, n_outputs * TC, n_outputs * TC, max(hidden) * TC] + [w * TC for w in hidden] * 2
    return np.cumsum([0] + sizes[:-1]).astype(np.int64), sum(sizes)


def layer_table(layout, n_layers):
    """The ``layers`` table (n_layers, 4) of a :class:`pinnlite.core.arch.Layout` ``W0, b0, ..., WL, bL``."""
    entries = {e.name: e for e in layout.entries}
    table = np.empty((n_layers, 4), np.int64)
    for l in range(n_layers):
        W, b = entries[f"W{l}"], entries[f"b{l}"]
        table[l] = W.offset, W.shape[0], W.shape[1], b.offset
    return table


@inline
def _mm(gemm, trans_a, trans_b, A, B, C, beta):
    """``C = op(A) op(B) + beta C`` with NumPy's BLAS (2-D C-contiguous arrays)."""
    m, n = C.shape
    k = A.shape[0] if trans_a == TRANS else A.shape[1]
    gemm(ROW_MAJOR, trans_a, trans_b, m, n, k, 1.0, A.ctypes.data, A.shape[1], B.ctypes.data, B.shape[1], beta,
         C.ctypes.data, n)


@inline
def _matrix(flat, offset, rows, cols):
    return flat[offset : offset + rows * cols].reshape((rows, cols))


@inline
def _weights(params, layers, l):
    """``(W_l, b_l)`` views of the flat parameters."""
    rows = layers[l, 1]
    return _matrix(params, layers[l, 0], rows, layers[l, 2]), params[layers[l, 3] : layers[l, 3] + rows]


@inline
def _hidden(buf, regions, layers, l, cols):
    """``(H_l, Z_l)`` of hidden layer l for a tile of ``cols`` columns."""
    nh = layers.shape[0] - 1
    rows = layers[l, 1]
    return _matrix(buf, regions[4 + l], rows, cols), _matrix(buf, regions[4 + nh + l], rows, cols)


@kernel
def forward(gemm, params, layers, xi, scale, buf, regions, n, c, code):
    """The forward pass of one tile of n points and c channels: on return the buffer holds
    ``z0``, every ``H_l`` and ``Z_l`` (l >= 1) and the raw output ``U`` (k, c n).

    Parameters
    ----------
    gemm : the ``cblas_?gemm`` of :func:`pinnlite.engine.blas.gemm` for the dtype.
    params : (P,) flat parameters; layers : (L + 1, 4) their table (module docstring).
    xi : (3, n) normalised points; scale : (3,) input scale s.
    buf : the thread's flat buffer; regions : (4 + 2 L,) its table.
    n, c, code : points, channels (1, 4 or 8), activation code.
    """
    kernels.check_code(code)
    nh = layers.shape[0] - 1
    cols = n * c
    W0, b0 = _weights(params, layers, 0)
    z0 = _matrix(buf, regions[Z0], layers[0, 1], n)
    H, Z = _hidden(buf, regions, layers, 0, cols)
    kernels.first_value(xi, W0, b0, z0)
    kernels.activate(code, z0, H, n)
    kernels.first_forward(W0, scale, z0, H, n, c, code)
    for l in range(1, nh):
        W, b = _weights(params, layers, l)
        Hp = H
        H, Z = _hidden(buf, regions, layers, l, cols)
        _mm(gemm, NO_TRANS, NO_TRANS, W, Hp, Z, 0.0)
        kernels.add_bias(Z, b, n)
        kernels.activate(code, Z, H, n)
        kernels.hidden_forward(Z, H, n, c, code)
    W, _ = _weights(params, layers, nh)
    _mm(gemm, NO_TRANS, NO_TRANS, W, H, _matrix(buf, regions[U], layers[nh, 1], cols), 0.0)


@kernel
def backward(gemm, params, layers, xi, scale, buf, regions, n, c, code, out, scratch, add):
    """The backward pass of one tile after :func:`forward` and the loss kernel (which wrote
    ``GU``): the tile's gradient over the parameters, written into ``out`` (P,), or, with
    ``add``, written into ``scratch`` (P,) and added to ``out``.

    Per layer, top down (``docs/ENGINE.md``, "Backward"): the weight gradient
    ``Z_l H_{l-1}'``, the adjoint of the layer below ``W_l' Z_l`` and the
    activation's adjoint (:func:`pinnlite.engine.kernels.hidden_backward`, which
    overwrites ``Z_l`` with its adjoint); the first layer's gradient without a
    product (:func:`pinnlite.engine.kernels.first_backward`). ``z0``, the ``H_l`` and
    ``Z_l`` are the forward pass's; parameters as in :func:`forward`.
    """
    kernels.check_code(code)
    nh = layers.shape[0] - 1
    cols = n * c
    g = scratch if add else out
    G = _matrix(buf, regions[GU], layers[nh, 1], cols)
    W, _ = _weights(params, layers, nh)
    gW, gb = _weights(g, layers, nh)
    H, Z = _hidden(buf, regions, layers, nh - 1, cols)
    _mm(gemm, NO_TRANS, TRANS, G, H, gW, 0.0)
    kernels.value_sums(G, n, gb)
    adj = _matrix(buf, regions[ADJ], layers[nh, 2], cols)
    _mm(gemm, TRANS, NO_TRANS, W, G, adj, 0.0)
    for l in range(nh - 1, 0, -1):
        W, _ = _weights(params, layers, l)
        gW, gb = _weights(g, layers, l)
        kernels.hidden_backward(adj, Z, H, n, c, code, gb)
        H, Zp = _hidden(buf, regions, layers, l - 1, cols)
        _mm(gemm, NO_TRANS, TRANS, Z, H, gW, 0.0)
        adj = _matrix(buf, regions[ADJ], layers[l, 2], cols)
        _mm(gemm, TRANS, NO_TRANS, W, Z, adj, 0.0)
        Z = Zp
    W0, _ = _weights(params, layers, 0)
    gW0, gb0 = _weights(g, layers, 0)
    z0 = _matrix(buf, regions[Z0], layers[0, 1], n)
    kernels.first_backward(adj, z0, H, W0, scale, xi, n, c, code, gW0, gb0)
    if add:
        for i in range(out.shape[0]):
            out[i] += scratch[i]
