"""Slow, obviously correct reference of the elastic PINN loss, in plain NumPy.

Written independently of the kernels: channels are kept in a dict by name, each
layer applies the chain rule channel by channel with the textbook formulas, the
losses are written term by term. Everything works on complex arrays too, so
gradients can be taken by the complex step: d f / d p = Im f(p + i h) / h
(Squire & Trapp 1998), exact to rounding, no subtractive cancellation.
"""

import numpy as np

FIRST = ("x", "y", "t")
SECOND = (("xx", "x", "x"), ("yy", "y", "y"), ("tt", "t", "t"), ("xy", "x", "y"))


def sigma(name, z):
    """sigma and its first three derivatives (complex-safe)."""
    if name == "tanh":
        s = np.tanh(z)
        d1 = 1 - s**2
        return s, d1, -2 * s * d1, -2 * d1**2 + 4 * s**2 * d1
    if name == "sin":
        return np.sin(z), np.cos(z), -np.sin(z), -np.cos(z)
    raise ValueError(name)


def network_channels(arrays, activation, bounds, output_scale, X):
    """Dict channel name -> (n, 2) array of the network's output and its derivatives."""
    lo = np.array([b[0] for b in bounds], dtype=float)
    hi = np.array([b[1] for b in bounds], dtype=float)
    s = 2.0 / (hi - lo)
    c = (hi + lo) / 2.0
    n = X.shape[0]
    a = {"value": (X - c) * s}
    for k, name in enumerate(FIRST):
        e = np.zeros((n, 3))
        e[:, k] = s[k]
        a[name] = e
    for name, _, _ in SECOND:
        a[name] = np.zeros((n, 3))
    n_layers = len(arrays) // 2
    for layer in range(n_layers):
        W, b = arrays[2 * layer], arrays[2 * layer + 1]
        z = {name: a[name] @ W.T for name in a}
        z["value"] = z["value"] + b
        if layer == n_layers - 1:
            a = z
            break
        s0, s1, s2, _ = sigma(activation, z["value"])
        h = {"value": s0}
        for name in FIRST:
            h[name] = s1 * z[name]
        for name, k, l in SECOND:
            h[name] = s2 * z[k] * z[l] + s1 * z[name]
        a = h
    so = np.asarray(output_scale)
    return {name: a[name] * so for name in a}


def loss_terms(arrays, activation, bounds, output_scale, sets, lam, mu, rho):
    """Dict term -> value, for the point sets in ``sets`` (a dict, see below).

    ``sets`` keys (each optional): ``pde`` (X, force or None), ``boundary`` (X, g),
    ``traction`` (X, normals, g), ``initial`` (X, g), ``initial_velocity`` (X, g),
    ``data`` (X, g).
    """
    ch = lambda X: network_channels(arrays, activation, bounds, output_scale, X)  # noqa: E731
    out = {}
    if "pde" in sets:
        X, f = sets["pde"]
        C = ch(X)
        u = {k: C[k][:, 0] for k in C}
        v = {k: C[k][:, 1] for k in C}
        ru = rho * u["tt"] - (lam + 2 * mu) * u["xx"] - mu * u["yy"] - (lam + mu) * v["xy"]
        rv = rho * v["tt"] - mu * v["xx"] - (lam + 2 * mu) * v["yy"] - (lam + mu) * u["xy"]
        if f is not None:
            ru = ru - f[:, 0]
            rv = rv - f[:, 1]
        out["pde"] = np.mean(ru * ru + rv * rv)
    for term, channel in (("boundary", "value"), ("initial", "value"), ("data", "value"), ("initial_velocity", "t")):
        if term in sets:
            X, g = sets[term]
            r = ch(X)[channel] - g
            out[term] = np.mean(r[:, 0] * r[:, 0] + r[:, 1] * r[:, 1])
    if "traction" in sets:
        X, nrm, g = sets["traction"]
        C = ch(X)
        ux, uy, vx, vy = C["x"][:, 0], C["y"][:, 0], C["x"][:, 1], C["y"][:, 1]
        sxx = (lam + 2 * mu) * ux + lam * vy
        syy = lam * ux + (lam + 2 * mu) * vy
        sxy = mu * (uy + vx)
        tx = sxx * nrm[:, 0] + sxy * nrm[:, 1] - g[:, 0]
        ty = sxy * nrm[:, 0] + syy * nrm[:, 1] - g[:, 1]
        out["traction"] = np.mean(tx * tx + ty * ty)
    return out


def total_loss(arrays, activation, bounds, output_scale, sets, lam, mu, rho, weights):
    terms = loss_terms(arrays, activation, bounds, output_scale, sets, lam, mu, rho)
    return sum(weights.get(t, 1.0) * v for t, v in terms.items())


def complex_step_gradient(arrays, activation, bounds, output_scale, sets, lam, mu, rho, weights, h=1e-30):
    """Gradient of the total loss w.r.t. every array entry and (lam, mu, rho), by complex step."""
    grads = []
    for k, A in enumerate(arrays):
        g = np.zeros(A.shape)
        for idx in np.ndindex(A.shape):
            pert = [a.astype(complex) for a in arrays]
            pert[k][idx] += 1j * h
            g[idx] = total_loss(pert, activation, bounds, output_scale, sets, lam, mu, rho, weights).imag / h
        grads.append(g)
    mat = []
    for i in range(3):
        m = [complex(lam), complex(mu), complex(rho)]
        m[i] += 1j * h
        mat.append(total_loss(arrays, activation, bounds, output_scale, sets, *m, weights).imag / h)
    return grads, np.array(mat)
