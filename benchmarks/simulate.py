"""The forward solver (pinnlite.simulate): speed against NumPy slicing, the sponge, accuracy.

- **speed** (default): one step of :class:`~pinnlite.simulate.Simulation` (velocity and
  stress updates, sponge, displacement, one point force) on n x n grids, against the same
  step written with NumPy slicing (whole-array expressions on the same padded arrays), run
  in the same process on the same fields; both are first compared ("max rel diff"). Prints
  ms per step, steps per second and the ratio NumPy / pinnlite. Then the target: a
  400 x 400 grid, 3000 steps with 100 sensors recorded every 10 steps, well under a minute
  on one core.
- ``--sponge``: the reflection left by the sponge for several widths and strengths: the
  largest difference at four receivers 10 to 15 nodes from the sponge against a grid large
  enough that nothing comes back, relative to the direct wave's peak (the defaults of
  ``pinnlite.simulate.solver`` come from this scan).
- ``--accuracy``: the observed convergence orders on exact plane waves (space with
  dt ~ h^2, time on a 128^2 grid) and the error against the 2D Green's function (the
  figures the tests assert, printed).

Usage (the machine's OpenBLAS settings are unset, as for every benchmark)::

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/simulate.py [--sizes 200 400] [--steps 200]
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/simulate.py --sponge
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python benchmarks/simulate.py --accuracy

Numba runs one thread (the kernels are serial); NumPy's elementwise operations are
single-threaded too.
"""

import argparse
import math
import os
import sys
import time

import numpy as np

from pinnlite.simulate import Grid, PointForce, Simulation, simulate, uniform
from pinnlite.simulate.kernels import C1, C2
from pinnlite.simulate.solver import FIELDS, max_dt

LAM, MU, RHO = 2.0, 1.0, 1.0
TARGET_S = 60.0


# --------------------------------------------------------------------------- speed


def numpy_step(F, c, g2, src, t, dt, h):
    """The same step as Simulation.step (absorbing boundaries) in NumPy slicing, in place on padded arrays."""
    ny, nx = F["vx"].shape[0] - 4, F["vx"].shape[1] - 4

    def s(a, dj, di):
        return a[2 + dj:2 + dj + ny, 2 + di:2 + di + nx]

    def d(a, axis, side):  # 4th-order staggered difference after (side 1) or before (side 0) each node
        dj, di = (1, 0) if axis == "y" else (0, 1)
        if side:
            return C1 * (s(a, dj, di) - s(a, 0, 0)) + C2 * (s(a, 2 * dj, 2 * di) - s(a, -dj, -di))
        return C1 * (s(a, 0, 0) - s(a, -dj, -di)) + C2 * (s(a, dj, di) - s(a, -2 * dj, -2 * di))

    inner = (slice(2, -2), slice(2, -2))
    rows_cols, amp, f0, t0, direction = src
    w = (dt / (h * h)) * amp * (1 - 2 * (math.pi * f0 * (t - t0)) ** 2) * np.exp(-(math.pi * f0 * (t - t0)) ** 2)
    for k, (comp, b) in enumerate((("vx", "bx"), ("vy", "by"))):
        rows, cols, wy, wx = rows_cols[k]
        R, C = rows[0][:, None], cols[0][None, :]
        F[comp][R, C] += (w * direction[k]) * c[b][R, C] * np.outer(wy[0], wx[0])
    r = dt / h
    F["vx"][inner] = g2 * (F["vx"][inner] + r * s(c["bx"], 0, 0) * (d(F["sxx"], "x", 1) + d(F["sxy"], "y", 0)))
    F["vy"][inner] = g2 * (F["vy"][inner] + r * s(c["by"], 0, 0) * (d(F["sxy"], "x", 0) + d(F["syy"], "y", 1)))
    F["ux"][inner] += dt * F["vx"][inner]
    F["uy"][inner] += dt * F["vy"][inner]
    ex, ey = d(F["vx"], "x", 0), d(F["vy"], "y", 0)
    F["sxx"][inner] = g2 * (F["sxx"][inner] + r * (s(c["lam2mu"], 0, 0) * ex + s(c["lam"], 0, 0) * ey))
    F["syy"][inner] = g2 * (F["syy"][inner] + r * (s(c["lam"], 0, 0) * ex + s(c["lam2mu"], 0, 0) * ey))
    F["sxy"][inner] = g2 * (F["sxy"][inner] + r * s(c["muxy"], 0, 0) * (d(F["vx"], "y", 1) + d(F["vy"], "x", 1)))


def setup(n):
    g = Grid(n, n, 1.0)
    src = PointForce((n / 2 + 0.3, n / 2 - 0.2), (1.0, 1.0), 0.04)
    return g, Simulation(uniform(g, LAM, MU, RHO), sources=[src])


def speed(sizes, steps):
    print(f"one step (velocity, stress, sponge, displacement, one force), {steps} steps per timing, best of 3")
    print("| n x n | pinnlite ms/step | steps/s | NumPy ms/step | NumPy / pinnlite | ns per node | max rel diff |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        g, sim = setup(n)
        sim.step(30)  # compile, and fields that are not zero
        F = {k: sim._fields[k].copy() for k in FIELDS}
        c = sim.coefficients
        g2 = sim._gy[2:-2, None] * sim._gx[None, 2:-2]
        src = (sim._src, *sim._src_table[:, 0], sim._src_dir[0])
        t = sim.time
        sim.step(3)
        for _ in range(3):
            numpy_step(F, c, g2, src, t, sim.dt, g.h)
            t += sim.dt
        diff = max(float(np.abs(F[k] - sim._fields[k]).max() / np.abs(sim._fields[k]).max()) for k in FIELDS)
        best_p = best_n = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            sim.step(steps)
            best_p = min(best_p, (time.perf_counter() - t0) / steps)
            t0 = time.perf_counter()
            for _ in range(steps):
                numpy_step(F, c, g2, src, t, sim.dt, g.h)
            best_n = min(best_n, (time.perf_counter() - t0) / steps)
        print(f"| {n} | {1e3 * best_p:.3f} | {1 / best_p:.0f} | {1e3 * best_n:.3f} | {best_n / best_p:.2f} | "
              f"{1e9 * best_p / (n * n):.1f} | {diff:.1e} |")
    n, nsteps = 400, 3000
    g = Grid(n, n, 1.0)
    med = uniform(g, LAM, MU, RHO)
    rng = np.random.default_rng(0)
    sensors = rng.uniform(60, 340, (100, 2))
    dt = 0.8 * max_dt(med)
    t0 = time.perf_counter()
    rec = simulate(med, nsteps * dt, dt=dt, sources=[PointForce((200.0, 200.0), (1.0, 0.0), 0.02)], sensors=sensors,
                   record_every=10)
    wall = time.perf_counter() - t0
    print(f"\nsimulate(): 400 x 400, {len(rec.times) - 1} x 10 steps, 100 sensors: {wall:.2f} s "
          f"(target < {TARGET_S:.0f} s: {'met' if wall < TARGET_S else 'MISSED'}), {nsteps / wall:.0f} steps/s")


# --------------------------------------------------------------------------- sponge


def sponge(widths, strengths):
    src = PointForce((0.0, 0.0), (1.0, 1.0), 0.07)
    receivers = np.array([[25.0, 0.0], [0.0, -25.0], [22.0, 22.0], [-15.0, 30.0]])
    T, dt = 160.0, 0.25

    def run(half, **kw):
        n = 2 * half + 1
        g = Grid(n, n, 1.0, origin=(-half, -half))
        return simulate(uniform(g, LAM, MU, RHO), T, dt=dt, sources=[src], sensors=receivers, **kw).traces

    big = run(190, absorb_width=10)
    direct = np.abs(big).max()
    print("reflection left at receivers 10-15 nodes from the sponge / direct peak (interior 81 x 81 nodes)")
    print("| width | " + " | ".join(f"strength {s:g}" for s in strengths) + " |")
    print("|---|" + "---|" * len(strengths))
    for w in widths:
        row = [np.abs(run(40 + w, absorb_width=w, absorb_strength=s) - big).max() / direct for s in strengths]
        print(f"| {w} | " + " | ".join(f"{r:.4f}" for r in row) + " |", flush=True)
    rigid = np.abs(run(70, absorb_width=30, absorb_strength=0.0) - big).max() / direct
    print(f"no damping (zero fields outside a 141 x 141 grid): {rigid:.3f}")


# --------------------------------------------------------------------------- accuracy


def accuracy():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
    import test_simulate_solver as ts  # noqa: E402  the plane-wave problems of the tests

    cp = math.sqrt((ts.LAM + 2 * ts.MU) / ts.RHO)
    for kind in "PS":
        e = [ts.plane_wave_error(kind, n, 0.3 * (1.0 / n) ** 2 * 16 / cp) for n in (16, 32, 64)]
        print(f"space, {kind}: max errors {', '.join(f'{x:.3g}' for x in e)} on 16, 32, 64 nodes per side; "
              f"orders {', '.join(f'{x:.3f}' for x in np.log2(np.array(e[:-1]) / e[1:]))}")
    n = 128
    limit = max_dt(uniform(Grid(n, n, 1.0 / n), ts.LAM, ts.MU, ts.RHO))
    e = [ts.plane_wave_error("P", n, f * limit) for f in (0.8, 0.4, 0.2)]
    print(f"time, P on 128^2: max errors {', '.join(f'{x:.3g}' for x in e)} at 0.8, 0.4, 0.2 x CFL; "
          f"orders {', '.join(f'{x:.3f}' for x in np.log2(np.array(e[:-1]) / e[1:]))}")
    for kind in "SP":
        coarse, fine = ts.interface_errors(kind, 6.0), ts.interface_errors(kind, 12.0)
        print(f"interface, {kind} at normal incidence: errors (reflected, transmitted) {coarse[0]:.2e}, {coarse[1]:.2e}"
              f" -> {fine[0]:.2e}, {fine[1]:.2e}; orders "
              f"{', '.join(f'{x:.2f}' for x in np.log2(np.array(coarse) / np.array(fine)))}")
    for r, err in zip(ts.GREEN_OFFSETS, ts.greens_function_errors()):
        print(f"Green's function, receiver at offset ({r[0]:g}, {r[1]:g}): max error / peak = {err:.4f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[200, 400])
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--sponge", action="store_true")
    p.add_argument("--widths", type=int, nargs="+", default=[20, 30, 40])
    p.add_argument("--strengths", type=float, nargs="+", default=[0.05, 0.1, 0.13, 0.2, 0.4])
    p.add_argument("--accuracy", action="store_true")
    a = p.parse_args(argv)
    if a.sponge:
        sponge(a.widths, a.strengths)
    elif a.accuracy:
        accuracy()
    else:
        speed(a.sizes, a.steps)


if __name__ == "__main__":
    main()
