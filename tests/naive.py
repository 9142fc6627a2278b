"""Slow, obviously correct references for the tests, in plain NumPy and Python.

The elastic PINN loss: written independently of the kernels, channels are kept
in a dict by name, each layer applies the chain rule channel by channel with the
textbook formulas, the losses are written term by term. Everything works on
complex arrays too, so gradients can be taken by the complex step:
d f / d p = Im f(p + i h) / h (Squire & Trapp 1998), exact to rounding, no
subtractive cancellation.

The optimizers: test objectives with known minimisers (a quadratic, the chained
Rosenbrock function), Adam written out per step (Kingma & Ba 2015, Alg. 1, with
the decoupled decay of Loshchilov & Hutter 2019, Alg. 2), and L-BFGS (Nocedal &
Wright Alg. 7.4/7.5) over plain Python lists of pairs with the strong-Wolfe line
search of Alg. 3.5/3.6 written out as in the book.

The adaptive loss weights: Algorithm 1 of Wang, Teng & Perdikaris (2021) with
Python floats.

The plane-wave model written out from its closed form, and a plain Gauss-Newton
least-squares fit with a finite-difference Jacobian, to check that the
Cramer-Rao bound is attained.

Material fields: the field network's maps and the divergence-form residual
written out with the product rule, and the total loss over both networks
(complex-safe). The simulator: one staggered-grid step in NumPy slicing and
the 2D Green's function of a point force.
"""

import math

import numpy as np

from pinnlite.engine.terms import TERMS

# -- the elastic PINN loss ---------------------------------------------------------------

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
        if len(output_scale) == 3:
            # the mixed form: a pressure p as a third output, p = lam div u held by its own residual,
            # weighted by the stress scale over the displacement scale
            p = {k: C[k][:, 2] for k in C}
            div_sigma_u = 2 * mu * u["xx"] + mu * (u["yy"] + v["xy"]) + p["x"]
            div_sigma_v = mu * (v["xx"] + u["xy"]) + 2 * mu * v["yy"] + p["y"]
            ru, rv = rho * u["tt"] - div_sigma_u, rho * v["tt"] - div_sigma_v
            kappa = output_scale[2] / np.sqrt(output_scale[0] * output_scale[1])
            rp = kappa * (u["x"] + v["y"] - p["value"] / lam)
        else:
            ru = rho * u["tt"] - (lam + 2 * mu) * u["xx"] - mu * u["yy"] - (lam + mu) * v["xy"]
            rv = rho * v["tt"] - mu * v["xx"] - (lam + 2 * mu) * v["yy"] - (lam + mu) * u["xy"]
            rp = 0.0
        if f is not None:
            ru = ru - f[:, 0]
            rv = rv - f[:, 1]
        out["pde"] = np.mean(ru * ru + rv * rv + rp * rp)
    for term, channel in (("boundary", "value"), ("initial", "value"), ("data", "value"), ("initial_velocity", "t")):
        if term in sets:
            X, g = sets[term]
            r = ch(X)[channel][:, :2] - g  # (u, v): a pressure output is not compared
            out[term] = np.mean(r[:, 0] * r[:, 0] + r[:, 1] * r[:, 1])
    if "traction" in sets:
        X, nrm, g = sets["traction"]
        C = ch(X)
        ux, uy, vx, vy = C["x"][:, 0], C["y"][:, 0], C["x"][:, 1], C["y"][:, 1]
        if len(output_scale) == 3:  # the mixed form: the pressure in place of lam div u
            p = C["value"][:, 2]
            sxx, syy = 2 * mu * ux + p, 2 * mu * vy + p
        else:
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


# -- optimizer test objectives -----------------------------------------------------------


def spd_matrix(n, cond, rng):
    """A random symmetric positive-definite matrix with eigenvalues in [1, cond]."""
    q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    eig = np.geomspace(1.0, cond, n)
    return (q * eig) @ q.T


def quadratic(a, b):
    """f(x) = 0.5 x'Ax - b'x, grad Ax - b, minimiser A^{-1} b."""

    def fun(x):
        x64 = x.astype(np.float64)
        ax = a @ x64
        return float(0.5 * x64 @ ax - b @ x64), (ax - b).astype(x.dtype)

    return fun


def rosenbrock(x):
    """Chained Rosenbrock sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2; minimum at ones."""
    u = x[1:] - x[:-1] ** 2
    f = float(np.sum(100.0 * u**2 + (1.0 - x[:-1]) ** 2))
    g = np.zeros_like(x)
    g[:-1] = -400.0 * x[:-1] * u - 2.0 * (1.0 - x[:-1])
    g[1:] += 200.0 * u
    return f, g


def rosen_start(n):
    """The classic start (-1.2, 1, -1.2, 1, ...) of length n (n even)."""
    return np.array([-1.2, 1.0] * (n // 2))


def readonly(a):
    """A read-only copy of ``a``: a function writing into its inputs raises."""
    a = np.array(a)
    a.setflags(write=False)
    return a


# -- optimizer references ----------------------------------------------------------------


def adam_by_hand(p0, grads, lrs, b1, b2, eps, scale, wd=0.0, mask=None):
    """Kingma & Ba Alg. 1 with decoupled decay (Loshchilov & Hutter Alg. 2), plain NumPy."""
    mask = np.zeros(len(p0), bool) if mask is None else mask
    p, m, v = p0.copy(), np.zeros_like(p0), np.zeros_like(p0)
    out = []
    for t, (g, lr) in enumerate(zip(grads, lrs), start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mhat = m / (1 - b1**t)
        vhat = v / (1 - b2**t)
        eta = lr * scale
        p = p - eta * mhat / (np.sqrt(vhat) + eps) - np.where(mask, eta * wd * p, 0.0)
        out.append((p.copy(), m.copy(), v.copy()))
    return out


def ref_line_search(fun, x, f0, g0, d, t, c1, c2, max_evals, tol_change):
    """Nocedal & Wright Alg. 3.5 / 3.6 written out plainly, same trial-step rules."""
    dg0 = float(np.dot(g0, d))
    dmax = float(np.max(np.abs(d)))
    evals = [0]
    tried = []

    def phi(t):
        evals[0] += 1
        xt = x + t * d
        f, g = fun(xt)
        tried.append((f, t, xt, g))
        return f, float(np.dot(g, d)), xt, g

    def cubic(a, fa, da, b, fb, db):
        e1 = da + db - 3 * (fa - fb) / (a - b)
        disc = e1 * e1 - da * db
        if disc < 0:
            return math.nan
        e2 = math.copysign(math.sqrt(disc), b - a)
        return b - (b - a) * (db + e2 - e1) / (db - da + 2 * e2)

    def zoom(lo, hi):
        while evals[0] < max_evals and abs(hi[0] - lo[0]) * dmax >= tol_change:
            a, b = sorted([lo[0], hi[0]])
            tj = cubic(lo[0], lo[1], lo[2], hi[0], hi[1], hi[2])
            if not (a + 0.1 * (b - a) <= tj <= b - 0.1 * (b - a)):
                tj = (lo[0] + hi[0]) / 2
            f, dg, xt, g = phi(tj)
            cur = (tj, f, dg, xt, g)
            if f > f0 + c1 * tj * dg0 or f >= lo[1]:
                hi = cur
            else:
                if abs(dg) <= -c2 * dg0:
                    return cur
                if dg * (hi[0] - lo[0]) >= 0:
                    hi = lo
                lo = cur
        return None

    prev = (0.0, f0, dg0, x, g0)
    first = True
    while evals[0] < max_evals:
        f, dg, xt, g = phi(t)
        cur = (t, f, dg, xt, g)
        if f > f0 + c1 * t * dg0 or (not first and f >= prev[1]):
            res = zoom(prev, cur)
            break
        if abs(dg) <= -c2 * dg0:
            res = cur
            break
        if dg >= 0:
            res = zoom(cur, prev)
            break
        tn = cubic(prev[0], prev[1], prev[2], t, f, dg)
        lo_b, hi_b = t + 0.01 * (t - prev[0]), 10 * t
        t = hi_b if math.isnan(tn) else min(max(tn, lo_b), hi_b)
        prev, first = cur, False
    else:
        res = None
    assert res is not None, "reference line search needed its fallback"
    return res[0], res[3], res[1], res[4]


def ref_lbfgs(fun, x0, iters, m=10, lr=1.0, max_ls=25, c1=1e-4, c2=0.9, tol_change=1e-12):
    """Naive L-BFGS (Nocedal & Wright Alg. 7.4/7.5) keeping plain lists of the last m pairs."""
    x = x0.copy()
    f, g = fun(x)
    pairs = []
    iterates = []
    for _ in range(iters):
        q = g.copy()
        alphas = []
        for s, y in reversed(pairs):
            a = np.dot(s, q) / np.dot(y, s)
            alphas.append(a)
            q = q - a * y
        if pairs:
            s, y = pairs[-1]
            q = q * (np.dot(s, y) / np.dot(y, y))
        for (s, y), a in zip(pairs, reversed(alphas)):
            beta = np.dot(y, q) / np.dot(y, s)
            q = q + s * (a - beta)
        d = -q
        assert np.dot(g, d) < 0
        t0 = lr * (1.0 if pairs else min(1.0, 1.0 / np.sum(np.abs(g))))
        t, x_new, f_new, g_new = ref_line_search(fun, x, f, g, d, t0, c1, c2, max_ls, tol_change)
        s, y = x_new - x, g_new - g
        if np.dot(s, y) > np.finfo(float).eps * np.linalg.norm(s) * np.linalg.norm(y):
            pairs.append((s, y))
            pairs = pairs[-m:]
        x, f, g = x_new, f_new, g_new
        iterates.append((x.copy(), f, t, [p for p in pairs]))
    return iterates


# -- adaptive loss weights ---------------------------------------------------------------


def reference_update(weights, grads, alpha):
    """Algorithm 1 of Wang, Teng & Perdikaris (2021), written out with Python floats."""
    out = list(weights)
    g_r = grads.get("pde")
    if g_r is None or len(g_r) == 0:
        return out
    top = max(abs(float(v)) for v in g_r)
    for i, t in enumerate(TERMS):
        g = grads.get(t)
        if t == "pde" or g is None or len(g) == 0:
            continue
        mean = sum(abs(float(v)) for v in g) / len(g)
        if mean > 0 and top > 0:
            out[i] = (1 - alpha) * out[i] + alpha * top / mean
    return out


# -- least-squares fit of the exact plane-wave model -------------------------------------


def plane_wave_model(X, kinds, p, material, free):
    """(n, 2) displacement of plane waves, written out from the closed form.

    ``p`` holds the free material parameters (names in ``free``, values replacing
    those of the dict ``material``) and then (A, angle, k, phase) per wave of
    ``kinds``; u = sum A e cos(k (d.x - c t) + phase), d = (cos a, sin a),
    e = d (P, c = sqrt((lam + 2 mu) / rho)) or (-sin a, cos a) (S, c = sqrt(mu / rho)).
    """
    m = dict(material)
    m.update(zip(free, p[: len(free)]))
    u = np.zeros((X.shape[0], 2))
    for i, kind in enumerate(kinds):
        A, a, k, phase = p[len(free) + 4 * i : len(free) + 4 * i + 4]
        if kind == "P":
            c, e = math.sqrt((m["lam"] + 2 * m["mu"]) / m["rho"]), (math.cos(a), math.sin(a))
        else:
            c, e = math.sqrt(m["mu"] / m["rho"]), (-math.sin(a), math.cos(a))
        theta = k * (math.cos(a) * X[:, 0] + math.sin(a) * X[:, 1] - c * X[:, 2]) + phase
        u[:, 0] += A * e[0] * np.cos(theta)
        u[:, 1] += A * e[1] * np.cos(theta)
    return u


def gauss_newton(residual, p0, iters=30, h=1e-6):
    """Minimise ||residual(p)||^2 by Gauss-Newton steps, the Jacobian by central differences.

    Step dp = argmin ||J dp + r|| (``numpy.linalg.lstsq``), with
    J_j = (r(p + s e_j) - r(p - s e_j)) / 2s, s = h max(1, |p_j|); stops when the
    step is below 1e-12 of |p|. No damping: meant to be started near the minimiser.
    """
    p = np.array(p0, dtype=float)
    for _ in range(iters):
        r = residual(p)
        J = np.empty((r.size, p.size))
        for j in range(p.size):
            e = np.zeros(p.size)
            e[j] = h * max(1.0, abs(p[j]))
            J[:, j] = (residual(p + e) - residual(p - e)) / (2 * e[j])
        dp = np.linalg.lstsq(J, -r, rcond=None)[0]
        p = p + dp
        if np.linalg.norm(dp) <= 1e-12 * (1 + np.linalg.norm(p)):
            break
    return p


# -- dense quasi-Newton and Levenberg-Marquardt references ---------------------------------


def broyden_inverse_update(H, s, y, phi, tau):
    """The self-scaled Broyden inverse-Hessian update written out with outer products::

        v = s / y's - H y / y'H y
        H+ = (H - H y y'H / y'H y + phi (y'H y) v v') / tau + s s' / y's
    """
    Hy = H @ y
    yHy, sy = y @ Hy, s @ y
    v = s / sy - Hy / yHy
    return (H - np.outer(Hy, Hy) / yHy + phi * yHy * np.outer(v, v)) / tau + np.outer(s, s) / sy


def ssbroyden_coefficients(sy, yHy, b, first, n):
    """(phi, tau) of SSBroyden (Al-Baali & Khalfan; Urban et al. 2024), following the formulas of
    the JAX implementation by Bioli & Mendibe Abarrategi (2026), branch by branch."""
    h = yHy / sy
    a = b * h - 1
    c = math.sqrt(abs(a / (1 + a)))
    rho_m = min(1.0, h * (1 - c))
    theta = max((rho_m - 1) / a, min(1 / rho_m, (1 - b) / b))
    phi = (1 - theta) / (1 + a * theta)
    if first:
        tau = h / (1 + a * theta)
    else:
        rho = min(1.0, 1 / b)
        sigma = 1 + theta * a
        root = abs(sigma) ** (1 / (1 - n))
        tau = min(rho * root, sigma) if theta <= 0 else rho * min(root, 1 / theta)
    return phi, tau


def levenberg_marquardt(residual, jacobian, x0, iters, mu0=1e-3, max_tries=30):
    """Plain Levenberg-Marquardt (Madsen, Nielsen & Tingleff 2004, Alg. 3.16; Marquardt scaling
    D = diag(J'J)) on f = |r|^2: the iterates after each accepted step."""
    x = np.array(x0, dtype=float)
    r, J = residual(x), jacobian(x)
    mu, nu, out = mu0, 2.0, []
    for _ in range(iters):
        A, g, f = J.T @ J, J.T @ r, r @ r
        for _ in range(max_tries):
            d = np.maximum(np.diag(A), 1e-12 * np.diag(A).max())
            h = np.linalg.solve(A + mu * np.diag(d), -g)
            r_new = residual(x + h)
            pred = -(2 * h @ g + h @ A @ h)
            if not pred > 0:  # converged to rounding: no step can be predicted to help
                break
            ratio = (f - r_new @ r_new) / pred
            if ratio > 0:
                x = x + h
                r, J = r_new, jacobian(x)
                mu *= max(1 / 3, 1 - (2 * ratio - 1) ** 3)
                nu = 2.0
                break
            mu *= nu
            nu *= 2
        out.append(x.copy())
    return out


# -- material fields -------------------------------------------------------------------


def field_channels(arrays, activation, bounds, names, base, X):
    """Dict name -> (p, p_x, p_y), each (n,), of the maps ``p0 exp(a)`` of a field network at X (n, 2).

    The field network is written out like :func:`network_channels`, with two inputs
    and the value and first-derivative channels only; complex-safe.
    """
    lo = np.array([b[0] for b in bounds], dtype=float)
    hi = np.array([b[1] for b in bounds], dtype=float)
    s = 2.0 / (hi - lo)
    c = (hi + lo) / 2.0
    n = X.shape[0]
    a = {"value": (X[:, :2] - c) * s, "x": np.tile([s[0], 0.0], (n, 1)), "y": np.tile([0.0, s[1]], (n, 1))}
    n_layers = len(arrays) // 2
    for layer in range(n_layers):
        W, b = arrays[2 * layer], arrays[2 * layer + 1]
        z = {k: a[k] @ W.T for k in a}
        z["value"] = z["value"] + b
        if layer == n_layers - 1:
            a = z
            break
        s0, s1, _, _ = sigma(activation, z["value"])
        a = {"value": s0, "x": s1 * z["x"], "y": s1 * z["y"]}
    out = {}
    for k, (name, p0) in enumerate(zip(names, base)):
        p = p0 * np.exp(a["value"][:, k])
        out[name] = (p, p * a["x"][:, k], p * a["y"][:, k])
    return out


def divergence_residual(C, lam, mu, rho, f=None):
    """r_u, r_v of rho u_tt = div sigma + f with maps lam = (p, p_x, p_y) and mu alike,
    from the channel dict C of :func:`network_channels`: the stress divergence written out
    term by term with the product rule."""
    u = {k: C[k][:, 0] for k in C}
    v = {k: C[k][:, 1] for k in C}
    L, Lx, Ly = lam
    M, Mx, My = mu
    sxx_x = (Lx + 2 * Mx) * u["x"] + (L + 2 * M) * u["xx"] + Lx * v["y"] + L * v["xy"]
    syy_y = Ly * u["x"] + L * u["xy"] + (Ly + 2 * My) * v["y"] + (L + 2 * M) * v["yy"]
    sxy_x = Mx * (u["y"] + v["x"]) + M * (u["xy"] + v["xx"])
    sxy_y = My * (u["y"] + v["x"]) + M * (u["yy"] + v["xy"])
    ru = rho * u["tt"] - sxx_x - sxy_y
    rv = rho * v["tt"] - sxy_x - syy_y
    if f is not None:
        ru, rv = ru - f[:, 0], rv - f[:, 1]
    return ru, rv


def mixed_divergence_residual(C, lam, mu, rho, f=None):
    """r_u, r_v, r_p of the mixed form with maps lam = (p, p_x, p_y) and mu alike, from the channel
    dict C of a network with a pressure output: the stress s_xx = 2 mu u_x + p, s_yy = 2 mu v_y + p,
    s_xy = mu (u_y + v_x), its divergence by the product rule, r_p = u_x + v_y - p / lam (unscaled)."""
    u = {k: C[k][:, 0] for k in C}
    v = {k: C[k][:, 1] for k in C}
    p = {k: C[k][:, 2] for k in C}
    M, Mx, My = mu
    sxx_x = 2 * Mx * u["x"] + 2 * M * u["xx"] + p["x"]
    syy_y = 2 * My * v["y"] + 2 * M * v["yy"] + p["y"]
    sxy_x = Mx * (u["y"] + v["x"]) + M * (u["xy"] + v["xx"])
    sxy_y = My * (u["y"] + v["x"]) + M * (u["yy"] + v["xy"])
    ru = rho * u["tt"] - sxx_x - sxy_y
    rv = rho * v["tt"] - sxy_x - syy_y
    if f is not None:
        ru, rv = ru - f[:, 0], rv - f[:, 1]
    return ru, rv, u["x"] + v["y"] - p["value"] / lam[0]


def field_total_loss(arrays, activation, bounds, output_scale, sets, farrays, fact, fnames, fbase,
                     material, weights, penalty="none", penalty_weight=0.0):
    """The total loss with maps of the names ``fnames`` (the others constant from ``material``,
    a dict lam, mu, rho): PDE in divergence form, traction with the local stress, the other terms
    as :func:`loss_terms`, plus the penalty over the PDE points. With three output scales (a
    pressure output) the PDE and traction take the mixed form, r_p weighted by the stress scale
    over the displacement scale as in :func:`loss_terms`."""
    mixed = len(output_scale) == 3
    fb = tuple(bounds[:2])
    ch = lambda X: network_channels(arrays, activation, bounds, output_scale, X)  # noqa: E731

    def maps(X):
        m = field_channels(farrays, fact, fb, fnames, fbase, X)
        for name in ("lam", "mu"):
            if name not in m:
                m[name] = (material[name] + 0 * X[:, 0], 0 * X[:, 0], 0 * X[:, 0])
        return m

    terms = loss_terms(arrays, activation, bounds, output_scale,
                       {k: v for k, v in sets.items() if k not in ("pde", "traction")}, 1.0, 1.0, 1.0)
    if "pde" in sets:
        X, f = sets["pde"]
        m = maps(X)
        if mixed:
            ru, rv, rp = mixed_divergence_residual(ch(X), m["lam"], m["mu"], material["rho"], f)
            rp = rp * output_scale[2] / np.sqrt(output_scale[0] * output_scale[1])
        else:
            (ru, rv), rp = divergence_residual(ch(X), m["lam"], m["mu"], material["rho"], f), 0.0
        terms["pde"] = np.mean(ru * ru + rv * rv + rp * rp)
    if "traction" in sets:
        X, nrm, g = sets["traction"]
        C, m = ch(X), maps(X)
        L, M = m["lam"][0], m["mu"][0]
        ux, uy, vx, vy = C["x"][:, 0], C["y"][:, 0], C["x"][:, 1], C["y"][:, 1]
        if mixed:  # the pressure in place of lam div u
            p = C["value"][:, 2]
            sxx, syy, sxy = 2 * M * ux + p, 2 * M * vy + p, M * (uy + vx)
        else:
            sxx, syy, sxy = (L + 2 * M) * ux + L * vy, L * ux + (L + 2 * M) * vy, M * (uy + vx)
        tx = sxx * nrm[:, 0] + sxy * nrm[:, 1] - g[:, 0]
        ty = sxy * nrm[:, 0] + syy * nrm[:, 1] - g[:, 1]
        terms["traction"] = np.mean(tx * tx + ty * ty)
    total = sum(weights.get(t, 1.0) * v for t, v in terms.items())
    if penalty != "none" and "pde" in sets:
        X = sets["pde"][0]
        m = field_channels(farrays, fact, fb, fnames, fbase, X)
        s = 2.0 / np.array([b[1] - b[0] for b in fb])
        R = 0.0
        for name in fnames:
            p, px, py = m[name]
            ex, ey = px / p / s[0], py / p / s[1]  # d a / d xi
            R = R + (np.sum(ex * ex + ey * ey) if penalty == "smooth" else np.sum(np.sqrt(ex * ex + ey * ey + 1e-4)))
        total = total + penalty_weight * R / X.shape[0]
    return total


# -- the staggered-grid elastic finite-difference scheme ------------------------------------
#
# Written out from the layout of docs/SIMULATE.md, independently of pinnlite.simulate's
# kernels: node (i, j) holds sxx, syy and the material; vx sits half a node to its right,
# vy half a node above, sxy half a node to the right and above. Fields are plain (ny, nx)
# arrays; outside the grid a field is its periodic copy or zero.

FD_C1, FD_C2 = 9 / 8, -1 / 24


def fd_media(lam, mu, rho, periodic):
    """(bx, by, muxy), node by node: 1 / mean rho at the velocity nodes, harmonic mean mu at sxy nodes.

    At an absorbing edge the missing neighbour is the edge node itself (Moczo et al. 2002 averaging).
    """
    ny, nx = rho.shape
    px, py = periodic

    def at(a, j, i):
        j = j % ny if py else min(j, ny - 1)
        i = i % nx if px else min(i, nx - 1)
        return a[j, i]

    bx, by, muxy = np.empty((ny, nx)), np.empty((ny, nx)), np.empty((ny, nx))
    for j in range(ny):
        for i in range(nx):
            bx[j, i] = 1 / ((at(rho, j, i) + at(rho, j, i + 1)) / 2)
            by[j, i] = 1 / ((at(rho, j, i) + at(rho, j + 1, i)) / 2)
            muxy[j, i] = 4 / (1 / at(mu, j, i) + 1 / at(mu, j, i + 1) + 1 / at(mu, j + 1, i) + 1 / at(mu, j + 1, i + 1))
    return bx, by, muxy


def _fd_padded(a, periodic):
    p = np.pad(a, ((0, 0), (2, 2)), mode="wrap" if periodic[0] else "constant")
    return np.pad(p, ((2, 2), (0, 0)), mode="wrap" if periodic[1] else "constant")


def _fd_at(a, dj, di, periodic):
    """a at node (j + dj, i + di), for every node (j, i)."""
    ny, nx = a.shape
    return _fd_padded(a, periodic)[2 + dj:2 + dj + ny, 2 + di:2 + di + nx]


def fd_derivative(a, axis, side, h, periodic):
    """4th-order staggered derivative of a at the half node after (side=+1) or before (side=-1) each node."""
    def s(k):  # a, k nodes along axis ("x" or "y")
        return _fd_at(a, k if axis == "y" else 0, k if axis == "x" else 0, periodic)
    if side > 0:
        return (FD_C1 * (s(1) - s(0)) + FD_C2 * (s(2) - s(-1))) / h
    return (FD_C1 * (s(0) - s(-1)) + FD_C2 * (s(1) - s(-2))) / h


def fd_sponge(nx, ny, width, edge, periodic):
    """The (ny, nx) sponge factor exp(-edge (dx / width)^2) exp(-edge (dy / width)^2), d the depth in nodes."""
    g = np.ones((ny, nx))
    for axis, n in (("x", nx), ("y", ny)):
        if periodic["xy".index(axis)] or width == 0:
            continue
        for k in range(n):
            d = max(0, width - k, k - (n - 1 - width))
            f = math.exp(-edge * (d / width) ** 2)
            if axis == "x":
                g[:, k] *= f
            else:
                g[k, :] *= f
    return g


def fd_step(f, lam, mu, rho, h, dt, periodic, sponge=None):
    """One leapfrog step of the velocity-stress scheme: a new dict of the fields vx, vy, ux, uy, sxx, syy, sxy."""
    bx, by, muxy = fd_media(lam, mu, rho, periodic)
    g = 1.0 if sponge is None else sponge
    D = lambda a, axis, side: fd_derivative(a, axis, side, h, periodic)  # noqa: E731
    out = dict(f)
    # vx at (i + 1/2, j): sxx from the nodes, sxy from half a node below and above
    out["vx"] = g * (f["vx"] + dt * bx * (D(f["sxx"], "x", +1) + D(f["sxy"], "y", -1)))
    out["vy"] = g * (f["vy"] + dt * by * (D(f["sxy"], "x", -1) + D(f["syy"], "y", +1)))
    out["ux"] = f["ux"] + dt * out["vx"]
    out["uy"] = f["uy"] + dt * out["vy"]
    ex, ey = D(out["vx"], "x", -1), D(out["vy"], "y", -1)
    out["sxx"] = g * (f["sxx"] + dt * ((lam + 2 * mu) * ex + lam * ey))
    out["syy"] = g * (f["syy"] + dt * (lam * ex + (lam + 2 * mu) * ey))
    out["sxy"] = g * (f["sxy"] + dt * muxy * (D(out["vx"], "y", +1) + D(out["vy"], "x", +1)))
    return out


# -- the 2D Green's function of a point (line) force, convolved with a Ricker wavelet -------
#
# Aki & Richards (2002), eq. 4.23: the displacement of a point force X0(t) e_j in a homogeneous
# 3D full space,
#
#     u_i = (3 g_i g_j - d_ij) / (4 pi rho r^3) int_{r/alpha}^{r/beta} tau X0(t - tau) dtau
#         + g_i g_j / (4 pi rho alpha^2 r) X0(t - r/alpha) - (g_i g_j - d_ij) / (4 pi rho beta^2 r) X0(t - r/beta),
#
# g = x / r; integrated along a line of such forces (z from -inf to inf: the method of descent),
# it is the plane-strain response to the 2D point force. For a Ricker X0 the tau integral is
# closed form: with s = t - tau, int s X0(s) ds and int X0(s) ds are elementary.


def _ricker_antiderivatives(s, f0, t0):
    """(X0, int X0, int s X0) of the Ricker wavelet at times s."""
    a2 = (math.pi * f0) ** 2
    tau = s - t0
    e = np.exp(-a2 * tau * tau)
    x0 = (1 - 2 * a2 * tau * tau) * e
    p1 = tau * e  # d/dtau [tau e] = (1 - 2 a2 tau^2) e
    p2 = t0 * p1 + e * (tau * tau + 1 / (2 * a2))  # d/dtau [e (tau^2 + 1/(2 a2))] = tau (1 - 2 a2 tau^2) e
    return x0, p1, p2


def line_force_ricker(offset, times, direction, lam, mu, rho, f0, t0, nz=4001):
    """Displacement (nt, 2) at ``offset`` (x, y) from a unit 2D point force along ``direction``.

    The 3D solution above integrated over z in [-zmax, zmax] by the trapezoid rule (the
    integrand is smooth and vanishes beyond zmax, where no wave has arrived yet).
    """
    alpha, beta = math.sqrt((lam + 2 * mu) / rho), math.sqrt(mu / rho)
    x, y = offset
    t = np.asarray(times, dtype=float)[:, None]
    zmax = alpha * (t.max() - t0 + 3 / f0)
    z = np.linspace(0.0, zmax, nz)[None, :]
    r = np.sqrt(x * x + y * y + z * z)
    gam = (x / r, y / r)
    _, p1_hi, p2_hi = _ricker_antiderivatives(t - r / alpha, f0, t0)
    _, p1_lo, p2_lo = _ricker_antiderivatives(t - r / beta, f0, t0)
    near = t * (p1_hi - p1_lo) - (p2_hi - p2_lo)  # int_{r/alpha}^{r/beta} tau X0(t - tau) dtau
    xa, _, _ = _ricker_antiderivatives(t - r / alpha, f0, t0)
    xb, _, _ = _ricker_antiderivatives(t - r / beta, f0, t0)
    out = np.zeros((t.shape[0], 2))
    weights = np.full(nz, z[0, 1] - z[0, 0])
    weights[0] *= 0.5
    weights[-1] *= 0.5
    for i in range(2):
        for j in range(2):
            fj = direction[j]
            if fj == 0:
                continue
            gg, dij = gam[i] * gam[j], float(i == j)
            integrand = ((3 * gg - dij) * near / r**3 + gg * xa / (alpha**2 * r) - (gg - dij) * xb / (beta**2 * r))
            out[:, i] += fj * 2 * (integrand @ weights) / (4 * math.pi * rho)  # even in z: twice [0, zmax]
    return out
