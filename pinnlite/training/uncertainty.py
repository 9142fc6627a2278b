"""Error bars of the material parameters: the Gauss-Newton (sandwich) covariance at the optimum.

At the minimiser ``x`` of ``|rho(x)|^2`` (:mod:`pinnlite.engine.jacobian`), a
perturbation ``e`` of the sensor values moves the data rows of ``rho`` by
``-a e`` (``a = sqrt(w_data / N_data)``) and, to first order, the minimiser by
``dx = a H^-1 J_d' e`` with ``H = J'J`` (Gauss-Newton). For i.i.d. noise of
variance ``sigma^2``::

    Cov(x) = sigma^2 a^2 H^-1 (J_d'J_d) H^-1                 (the sandwich)
    sigma^2 = |r_d|^2 / (n_d - p_eff),   p_eff = tr(H^-1 J_d'J_d)

with ``J_d`` the data rows of ``J`` (weighted, as ``rho`` is), ``r_d`` the
unweighted data residuals (n_d of them, two per sensor) and
``p_eff`` the degrees of freedom the fit spends on the data (the trace of the
hat matrix). The other terms (PDE, boundary, traction, initial) enter through
``H`` as constraints on the field. The material parameters are trained as
``theta = log(p / p0)``, so ``std(p) = p std(theta)``.

The estimate assumes that the optimum has been reached, that the network can
represent the true field and that the noise is white; ``benchmarks/uncertainty.py``
measures how often the truth lies within two standard deviations.
"""

from typing import NamedTuple

import numpy as np


class Uncertainty(NamedTuple):
    """Standard deviations of the free material parameters and how they were obtained.

    ``std`` maps lam / mu / rho (free ones) to their standard deviation in user
    units; ``noise_sigma`` is the estimated noise of a sensor component (user
    units); ``dof`` the effective parameters ``p_eff``; ``n_data`` the data
    residuals ``n_d``.
    """

    std: dict
    noise_sigma: float
    dof: float
    n_data: int


def _inverse(H):
    """``(H + d I)^-1`` with ``d = 1e-12 mean(diag H)``, a shift the flat directions of a network need.

    ``J'J`` of a network is singular (hidden units can be permuted, a unit whose
    output weight is zero has free input weights); the shift is far below the
    curvature of any identifiable combination. One inverse then gives both the
    trace ``tr(H^-1 Ad)`` (elementwise, H^-1 and Ad being symmetric) and the rows
    of theta.
    """
    scale = float(np.mean(np.diag(H))) or 1.0
    return np.linalg.inv(H + 1e-12 * scale * np.eye(H.shape[0]))


def material_uncertainty(H, Ad, a2, rss, n_data, theta_columns, material_values, free):
    """The :class:`Uncertainty` of the free material parameters from the Gauss-Newton blocks.

    Parameters
    ----------
    H : (n, n) ``J'J`` of all weighted residual rows (network parameters, then theta).
    Ad : (n, n) ``J_d'J_d`` of the weighted data rows.
    a2 : ``a^2 = w_data / N_data``, the squared weight of a data row.
    rss : ``|r_d|^2``, the sum of the squared unweighted data residuals.
    n_data : ``n_d``, the number of data residuals (two per sensor).
    theta_columns : the columns of theta in ``x`` (k,), in the order of ``free``.
    material_values : dict lam, mu, rho at the optimum.
    free : names of the free parameters (k,).

    Returns
    -------
    Uncertainty, or None without data or free parameters.
    """
    if not free or n_data == 0 or a2 <= 0:
        return None
    Hi = _inverse(H)
    dof = float(np.sum(Hi * Ad))  # tr(H^-1 Ad) for symmetric matrices
    sigma2 = rss / max(n_data - dof, 1.0)
    Z = Hi[:, list(theta_columns)]  # H^-1 e_theta
    cov = sigma2 * a2 * (Z.T @ Ad @ Z)
    std = {name: float(material_values[name] * np.sqrt(max(cov[i, i], 0.0))) for i, name in enumerate(free)}
    return Uncertainty(std, float(np.sqrt(sigma2)), dof, int(n_data))
