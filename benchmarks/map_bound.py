"""What a phantom's data determine: the Cramer-Rao bound of a disc model, from the simulator alone.

For each disc phantom of :mod:`pinnlite.simulate.phantoms` the body is
described by the parameters of the phantom itself: the background mu, and per
disc its mu, radius and centre (lam and rho known, as in the inverse problem).
The records of the finite-difference solver are differentiated with respect
to each parameter by central differences (the discs' rim cells take the
covered fraction of the cell, from 16 x 16 sub-points, so that the records
depend smoothly on the radius and centre), and the Fisher information of the
phantom's noisy sensor data (Gaussian, standard deviation ``noise`` times the
rms displacement, as :meth:`pinnlite.simulate.recording.Recording.to_training_data`
draws it) is ``J' J / sigma^2``. Printed per parameter: the bound (one
standard deviation of an unbiased estimator); then the map's relative L2 error
(the report's, :func:`pinnlite.simulate.phantoms.report`) of estimates drawn
from that distribution, median and 90th percentile over 200 draws: the best a
disc model can do with these data, against the target of 5%. No training: a
statement about the data, not about pinnlite's solver.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/map_bound.py --phantoms inclusion soft two
"""

import argparse
import math
import time

import numpy as np

from pinnlite.simulate import phantoms

HARD_MAPS = phantoms.maps  # the phantoms' own maps, before simulate() swaps in smooth_maps
SUB = 16  # sub-points per cell side for a rim cell's covered fraction
STEPS = {"mu": 0.01, "length": 0.02}  # central-difference steps: relative for mu, in the length unit otherwise


def smooth_maps(spec, grid):
    """:func:`phantoms.maps` with each disc's rim cells given the covered fraction of their cell."""
    lam, mu, rho = HARD_MAPS(dict(spec, discs=()), grid)
    X, Y = np.meshgrid(grid.x, grid.y)
    offsets = (np.arange(SUB) + 0.5) / SUB - 0.5
    for (cx, cy), r, value in spec["discs"]:
        d = np.hypot(X - cx, Y - cy)
        near = np.abs(d - r) < grid.h
        frac = (d <= r).astype(float)
        xs, ys = X[near], Y[near]
        inside = np.zeros(xs.shape)
        for ox in offsets:
            for oy in offsets:
                inside += np.hypot(xs + ox * grid.h - cx, ys + oy * grid.h - cy) <= r
        frac[near] = inside / SUB**2
        mu = mu + frac * (value - mu)
    return lam, mu, rho


def simulate(name, theta):
    """Noise-free sensor values (m, 2) of the phantom ``name`` with parameters ``theta`` (see :func:`names`)."""
    base = phantoms._spec(name)
    discs = tuple(((theta[1 + 4 * j + 2], theta[1 + 4 * j + 3]), theta[1 + 4 * j + 1], theta[1 + 4 * j])
                  for j in range(len(base["discs"])))
    spec = dict(base, mu_background=theta[0], discs=discs)
    saved_spec, saved_maps = phantoms._spec, phantoms.maps
    phantoms._spec, phantoms.maps = (lambda _: spec), smooth_maps
    try:
        data, _ = phantoms.make(name, noise=0.0, seed=0)
    finally:
        phantoms._spec, phantoms.maps = saved_spec, saved_maps
    return data.sensor_values


def names(spec):
    out = ["mu background"]
    for j in range(len(spec["discs"])):
        out += [f"disc {j + 1} mu", f"disc {j + 1} radius", f"disc {j + 1} cx", f"disc {j + 1} cy"]
    return out


def true_theta(spec):
    theta = [spec["mu_background"]]
    for (cx, cy), r, value in spec["discs"]:
        theta += [value, r, cx, cy]
    return np.array(theta, dtype=float)


def bound(name, noise):
    spec = phantoms._spec(name)
    theta = true_theta(spec)
    u0 = simulate(name, theta)
    sigma = noise * float(np.sqrt(np.mean(u0 * u0)))
    J = np.empty((u0.size, theta.size))
    for k, label in enumerate(names(spec)):
        h = STEPS["mu"] * theta[k] if "mu" in label else STEPS["length"]
        up, down = theta.copy(), theta.copy()
        up[k] += h
        down[k] -= h
        J[:, k] = (simulate(name, up) - simulate(name, down)).ravel() / (2 * h)
    cov = np.linalg.inv(J.T @ J) * sigma**2
    return theta, cov, u0.size


def l2_of_draws(name, theta, cov, draws, rng):
    """Relative L2 errors (the report's) of maps with parameters drawn from N(theta, cov)."""
    data, phantom = phantoms.make(name, noise=0.0, seed=0)
    out = []
    for sample in rng.multivariate_normal(theta, cov, size=draws):
        def mu_at(P, s=sample):
            mu = np.full(len(P), s[0])
            for j in range(len(phantom.discs)):
                value, r, cx, cy = s[1 + 4 * j: 5 + 4 * j]
                mu[np.hypot(P[:, 0] - cx, P[:, 1] - cy) <= r] = value
            return mu
        out.append(phantoms.report(phantom, data, mu_at).l2)
    return np.array(out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--phantoms", nargs="+", default=["inclusion", "soft", "two"],
                   choices=[n for n in phantoms.PHANTOMS if phantoms._spec(n)["discs"]])
    p.add_argument("--noise", type=float, default=0.01)
    p.add_argument("--draws", type=int, default=200)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    print("| phantom | parameter | truth | Cramer-Rao sigma | sigma / truth |")
    print("|---|---|---|---|---|")
    rows = []
    for name in args.phantoms:
        t0 = time.perf_counter()
        theta, cov, n = bound(name, args.noise)
        for label, value, var in zip(names(phantoms._spec(name)), theta, np.diag(cov)):
            s = math.sqrt(var)
            print(f"| {name} | {label} | {value:g} | {s:.3g} | {100 * s / abs(value):.3g}% |")
        l2 = l2_of_draws(name, theta, cov, args.draws, rng)
        rows.append((name, n, np.median(l2), np.quantile(l2, 0.9), time.perf_counter() - t0))
    print(f"\nnoise {100 * args.noise:g}% of the rms displacement; maps of estimates drawn from the bound:")
    print("| phantom | sensor values | L2 median | L2 90% | s |")
    print("|---|---|---|---|---|")
    for name, n, med, q90, wall in rows:
        print(f"| {name} | {n} | {100 * med:.2f}% | {100 * q90:.2f}% | {wall:.0f} |")


if __name__ == "__main__":
    main()
