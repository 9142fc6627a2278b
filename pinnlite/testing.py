"""Gradient checks that ship with the package (in the spirit of autograd's ``test_util``).

:func:`check_grads` compares an analytic gradient with fourth-order central
differences along random directions and along chosen coordinates, and raises
``AssertionError`` with both numbers when they disagree.
"""

import numpy as np


def directional_fd(fun, x, v, eps):
    """Fourth-order central difference of ``fun`` at ``x`` along ``v``::

        (-f(x + 2h v) + 8 f(x + h v) - 8 f(x - h v) + f(x - 2h v)) / (12 h)

    Error O(h^4) from truncation plus about eps_mach |f| / h from rounding.
    """
    f = lambda t: float(fun(x + t * v))  # noqa: E731
    return (-f(2 * eps) + 8 * f(eps) - 8 * f(-eps) + f(-2 * eps)) / (12 * eps)


def check_grads(fun, x, grad, *, directions=3, coords=(), eps=1e-3, rtol=1e-6, atol=None, rng=None):
    """Check ``grad`` (the claimed gradient of ``fun`` at ``x``) by finite differences.

    Parameters
    ----------
    fun : callable (n,) -> float
    x : (n,) float64 array
    grad : (n,) array, the analytic gradient at ``x``.
    directions : int
        Number of random unit directions v; each checks ``grad . v``.
    coords : sequence of int
        Coordinates i checked one by one (``grad[i]``).
    eps : float
        Finite-difference step.
    rtol, atol : float
        Pass when ``|fd - an| <= rtol * max(|fd|, |an|) + atol``. The default
        ``atol`` is the rounding noise of the difference quotient,
        ``100 * eps_mach * |f(x)| / eps``.
    rng : numpy.random.Generator or int, optional
        Source of the random directions.

    Returns
    -------
    float
        The largest relative error ``|fd - an| / max(|fd|, |an|)`` seen.

    Raises
    ------
    AssertionError
        Naming the direction or coordinate, the analytic and the
        finite-difference value.
    """
    x = np.asarray(x, dtype=np.float64)
    grad = np.asarray(grad, dtype=np.float64)
    if grad.shape != x.shape:
        raise AssertionError(f"grad has shape {grad.shape}, x has shape {x.shape}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if atol is None:
        atol = 100 * np.finfo(np.float64).eps * abs(float(fun(x))) / eps
    checks = []
    for k in range(directions):
        v = rng.standard_normal(x.shape)
        checks.append((f"random direction {k}", v / np.linalg.norm(v)))
    for i in coords:
        v = np.zeros_like(x)
        v[i] = 1.0
        checks.append((f"coordinate {i}", v))
    worst = 0.0
    for label, v in checks:
        an = float(grad @ v)
        fd = directional_fd(fun, x, v, eps)
        err = abs(fd - an)
        scale = max(abs(fd), abs(an))
        if err > rtol * scale + atol:
            raise AssertionError(
                f"gradient check failed along {label}: analytic {an!r}, finite difference {fd!r} "
                f"(difference {err:.3e}, allowed {rtol * scale + atol:.3e})"
            )
        if scale > 0:
            worst = max(worst, err / scale)
    return worst
