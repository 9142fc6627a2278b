"""Tests of pinnlite.simulate.solver against mathematics and independent references.

- the step equals the plain-NumPy step of tests/naive.py (written from the grid layout,
  with the Moczo et al. 2002 averages computed node by node) on random heterogeneous grids;
- P and S plane waves in a periodic box (exact solutions): 4th order in space, 2nd in time;
- the leapfrog's staggered-in-time energy is conserved to rounding in a periodic
  heterogeneous medium;
- reciprocity on a random smooth medium: the variable-coefficient operator is self-adjoint;
- a pulse at normal incidence on a material interface against the exact reflected and
  transmitted pulses (R, T from the impedances): errors converge at 2nd order only
  with the right averages (a wrong average converges at 1st);
- a point force against the 2D Green's function (Aki & Richards eq. 4.23 integrated along
  a line, tests/naive.py) convolved with the Ricker wavelet;
- the sponge against a much larger domain;
- CFL, dispersion and bad input.
"""

import math
import warnings

import numpy as np
import pytest

import naive
from pinnlite.errors import InputError
from pinnlite.simulate import (DispersionWarning, Grid, Medium, PointForce, Simulation, effective_media, layers,
                               max_dt, simulate, uniform)
from pinnlite.simulate.solver import FIELDS, OFFSETS


def smooth_random_map(rng, grid, mean, amplitude, modes=5):
    """A positive map mean * exp(sum of a few periodic cosines): smooth, heterogeneous, periodic."""
    X, Y = grid.nodes()
    Lx, Ly = grid.nx * grid.h, grid.ny * grid.h
    a = np.zeros(grid.shape)
    for _ in range(modes):
        kx, ky = rng.integers(-2, 3, 2)
        a += amplitude * rng.uniform(0.5, 1.0) * np.cos(2 * np.pi * (kx * X / Lx + ky * Y / Ly) + rng.uniform(0, 2 * np.pi))
    return mean * np.exp(a)


def random_medium(rng, grid, smooth=True):
    if smooth:
        return Medium(grid, smooth_random_map(rng, grid, 2.0, 0.2), smooth_random_map(rng, grid, 1.0, 0.2),
                      smooth_random_map(rng, grid, 1.2, 0.2))
    return Medium(grid, rng.uniform(1, 3, grid.shape), rng.uniform(0.5, 2, grid.shape), rng.uniform(0.8, 1.5, grid.shape))


# --------------------------------------------------------------------------- the step


@pytest.mark.parametrize("boundary", ["periodic", "absorbing", ("periodic", "absorbing"), ("absorbing", "periodic")])
def test_step_matches_the_naive_reference(boundary):
    rng = np.random.default_rng(1)
    g = Grid(23, 17, 0.5, origin=(1.0, -2.0))
    med = random_medium(rng, g, smooth=False)
    sim = Simulation(med, boundary=boundary, absorb_width=5, absorb_strength=0.7)
    fields = {k: rng.standard_normal(g.shape) for k in FIELDS}
    for k in fields:
        sim.field(k)[...] = fields[k]
    edge = 0.7 * sim.dt * float(np.max(med.vp)) / g.h
    sponge = naive.fd_sponge(g.nx, g.ny, 5, edge, sim.periodic)
    for _ in range(4):
        fields = naive.fd_step(fields, med.lam, med.mu, med.rho, g.h, sim.dt, sim.periodic, sponge)
    sim.step(4)
    for k in FIELDS:
        scale = np.abs(fields[k]).max()
        assert np.abs(sim.field(k) - fields[k]).max() <= 1e-13 * scale, k


@pytest.mark.parametrize("periodic", [(True, True), (False, False), (True, False)])
def test_effective_media_are_the_moczo_averages(periodic):
    rng = np.random.default_rng(2)
    g = Grid(9, 7, 1.0)
    med = random_medium(rng, g, smooth=False)
    c = effective_media(med, periodic)
    bx, by, muxy = naive.fd_media(med.lam, med.mu, med.rho, periodic)
    inner = (slice(2, -2), slice(2, -2))
    np.testing.assert_allclose(c["bx"][inner], bx, rtol=1e-14)
    np.testing.assert_allclose(c["by"][inner], by, rtol=1e-14)
    np.testing.assert_allclose(c["muxy"][inner], muxy, rtol=1e-14)
    np.testing.assert_array_equal(c["lam2mu"][inner], med.lam + 2 * med.mu)


# --------------------------------------------------------------------------- convergence

LAM, MU, RHO = 2.0, 1.0, 1.3


def plane_wave(kind, t, L, direction=(1.0, 1.0)):
    """(u0, v0) functions of an exact plane wave at time t, wavelength L / |(1, 1)| in a box of side L, and omega."""
    d = np.array(direction) / math.hypot(*direction)
    k = 2 * math.pi * math.hypot(*direction) / L
    c = math.sqrt((LAM + 2 * MU) / RHO) if kind == "P" else math.sqrt(MU / RHO)
    pol = d if kind == "P" else np.array([-d[1], d[0]])
    w = k * c

    def u(X, Y):
        th = k * (d[0] * X + d[1] * Y) - w * t
        return pol[0] * np.cos(th), pol[1] * np.cos(th)

    def v(X, Y):
        th = k * (d[0] * X + d[1] * Y) - w * t
        return pol[0] * w * np.sin(th), pol[1] * w * np.sin(th)

    return u, v, w


def plane_wave_error(kind, n, dt, L=1.0):
    """Max error of (u, v) after 1.25 periods of a plane wave on an n x n periodic grid.

    Not a whole number of periods: an error in the start (v^{-1/2}) oscillates as sin(omega t)
    and would vanish there.
    """
    g = Grid(n, n, L / n, origin=(0.3, -0.2))
    u0, v0, w = plane_wave(kind, 0.0, L)
    T = 1.25 * 2 * math.pi / w
    steps = round(T / dt)
    sim = Simulation(uniform(g, LAM, MU, RHO), T / steps, initial_displacement=u0,
                     initial_velocity=v0, boundary="periodic")
    sim.step(steps)
    exact, _, _ = plane_wave(kind, sim.time, L)
    err = 0.0
    for k, name in enumerate(("ux", "uy")):
        X, Y = g.nodes(OFFSETS[name])
        err = max(err, float(np.abs(sim.field(name) - exact(X, Y)[k]).max()))
    return err


@pytest.mark.parametrize("kind", ["P", "S"])
def test_fourth_order_in_space(kind):
    """dt proportional to h^2 makes the time error O(h^4) too: the total error is then O(h^4)."""
    cp = math.sqrt((LAM + 2 * MU) / RHO)
    errors = [plane_wave_error(kind, n, 0.3 * (1.0 / n) ** 2 * 16 / cp) for n in (16, 32, 64)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all((orders > 3.6) & (orders < 4.4)), (errors, orders)
    assert errors[-1] < 1e-4


def test_second_order_in_time():
    """On a 128^2 grid the spatial error (~1e-7) is far below the time error at the CFL limit."""
    n = 128
    limit = max_dt(uniform(Grid(n, n, 1.0 / n), LAM, MU, RHO))
    errors = [plane_wave_error("P", n, f * limit) for f in (0.8, 0.4, 0.2)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all((orders > 1.8) & (orders < 2.2)), (errors, orders)


# --------------------------------------------------------------------------- energy


def test_energy_is_conserved_in_a_periodic_heterogeneous_medium():
    """E^{n+1/2} = 1/2 v^{n+1/2} M v^{n+1/2} + 1/2 sigma^{n+1} C^{-1} sigma^n is exactly conserved by the leapfrog.

    M: the averaged densities at the velocity nodes; C: the stiffness at the stress nodes
    (both from tests/naive.py). A scheme whose two difference operators are not each other's
    negative transpose, or whose stresses use inconsistent moduli, loses this.
    """
    rng = np.random.default_rng(5)
    g = Grid(40, 32, 0.5)
    med = random_medium(rng, g)

    def u0(X, Y):
        return np.exp(-((X - 7) ** 2 + (Y - 8) ** 2) / 4), 0.5 * np.exp(-((X - 12) ** 2 + (Y - 6) ** 2) / 3)

    sim = Simulation(med, boundary="periodic", initial_displacement=u0)
    bx, by, muxy = naive.fd_media(med.lam, med.mu, med.rho, (True, True))
    a, l = med.lam + 2 * med.mu, med.lam
    det = a * a - l * l

    def energy(prev, cur):
        kinetic = 0.5 * np.sum(sim.field("vx") ** 2 / bx + sim.field("vy") ** 2 / by)
        strain = 0.5 * np.sum((a * (cur[0] * prev[0] + cur[1] * prev[1]) - l * (cur[0] * prev[1] + cur[1] * prev[0])) / det
                              + cur[2] * prev[2] / muxy)
        return kinetic + strain

    prev = [sim.field(k).copy() for k in ("sxx", "syy", "sxy")]
    E = []
    for _ in range(1500):  # about 18 crossings of the box by the fastest wave
        sim.step()
        cur = [sim.field(k).copy() for k in ("sxx", "syy", "sxy")]
        E.append(energy(prev, cur))
        prev = cur
    E = np.array(E)
    assert E[0] > 1.0
    assert np.abs(E - E[0]).max() < 1e-12 * E[0]


# --------------------------------------------------------------------------- reciprocity


@pytest.mark.parametrize("boundary", ["periodic", "absorbing"])
def test_reciprocity_on_a_random_smooth_medium(boundary):
    """u_j(B) from a force at A along e_i equals u_i(A) from the same force at B along e_j.

    The discrete scheme is u^{n+1} - 2 u^n + u^{n-1} = dt^2 M^{-1} (-K u^n + F^n) with K
    symmetric and M diagonal, and the sources spread with the transpose of the sensors'
    interpolation: the records are equal to rounding, at any positions off the nodes.
    """
    rng = np.random.default_rng(3)
    g = Grid(90, 80, 1.0)
    med = random_medium(rng, g)
    A, B = (31.3, 37.8), (55.6, 47.1)
    ab = simulate(med, 60.0, dt=0.2, sources=[PointForce(A, (1, 0), 0.04)], sensors=[B], boundary=boundary,
                  absorb_width=15).traces[:, 0, 1]
    ba = simulate(med, 60.0, dt=0.2, sources=[PointForce(B, (0, 1), 0.04)], sensors=[A], boundary=boundary,
                  absorb_width=15).traces[:, 0, 0]
    assert np.abs(ab).max() > 1e-3
    assert np.abs(ab - ba).max() < 1e-12 * np.abs(ab).max()


# --------------------------------------------------------------------------- interfaces


def interface_errors(kind, width):
    """Max errors (reflected side, transmitted side) of a Gaussian pulse of ``width`` at normal incidence.

    Layers (lam, mu, rho) = (3, 1, 1) below and (2, 4, 2) above an interface halfway between
    two rows of nodes; periodic in x, absorbing in y. Exact: incident f(y - c1 t), reflected
    R f(2 yI - y - c1 t), transmitted T f(yI - c1 t + (c1 / c2)(y - yI)), R = (Z1 - Z2) / (Z1 + Z2),
    T = 2 Z1 / (Z1 + Z2), Z = rho c. S: u = (f, 0) (tests the mu average), P: u = (0, f) (rho).
    """
    lo, hi = (3.0, 1.0, 1.0), (2.0, 4.0, 2.0)
    g = Grid(4, 360, 1.0)
    yI = g.y[180] + 0.5
    med = layers(g, [yI], [lo, hi])
    comp = 0 if kind == "S" else 1
    m1, m2 = (lo[1], hi[1]) if kind == "S" else (lo[0] + 2 * lo[1], hi[0] + 2 * hi[1])
    c1, c2 = math.sqrt(m1 / lo[2]), math.sqrt(m2 / hi[2])
    Z1, Z2 = lo[2] * c1, hi[2] * c2
    R, T = (Z1 - Z2) / (Z1 + Z2), 2 * Z1 / (Z1 + Z2)
    yc = yI - 70

    def f(s):
        return np.exp(-((s - yc) / width) ** 2)

    def pair(a):
        return (a, np.zeros_like(a)) if comp == 0 else (np.zeros_like(a), a)

    def u0(X, Y):
        return pair(f(Y))

    def v0(X, Y):  # d/dt f(y - c1 t) at t = 0
        return pair(c1 * 2 * (Y - yc) / width**2 * f(Y))

    sim = Simulation(med, 0.2, initial_displacement=u0, initial_velocity=v0, boundary=("periodic", "absorbing"))
    sim.step(round(110 / c1 / 0.2))  # the reflected pulse is back at yI - 40
    t = sim.time
    name = ("ux", "uy")[comp]
    y = g.nodes(OFFSETS[name])[1][:, 0]
    exact = np.where(y < yI, f(y - c1 * t) + R * f(2 * yI - y - c1 * t), T * f(yI - c1 * t + (c1 / c2) * (y - yI)))
    err = np.abs(sim.field(name)[:, 0] - exact)
    inside = (y > 40) & (y < g.y[-1] - 40)
    return float(err[inside & (y < yI)].max()), float(err[inside & (y > yI)].max())


@pytest.mark.parametrize("kind", ["S", "P"])
def test_interface_reflection_and_transmission_converge_at_second_order(kind):
    """Halving h (here: doubling the pulse width on the same grid) divides the errors by ~4.

    A wrong average (arithmetic mu, mu of one node, rho of one node) misplaces the interface
    by O(h) and gives order ~1.
    """
    coarse, fine = interface_errors(kind, 6.0), interface_errors(kind, 12.0)
    orders = np.log2(np.array(coarse) / np.array(fine))
    assert np.all(orders > 1.7), (coarse, fine, orders)
    assert max(fine) < 3e-3, fine


# --------------------------------------------------------------------------- Green's function


GREEN_OFFSETS = np.array([[20.0, 0.0], [14.0, 14.0], [0.0, -20.0], [-5.0, 12.5]])  # receivers from the source


def greens_function_errors():
    """Per receiver (GREEN_OFFSETS), max |simulated - reference| / peak of the reference (benchmarks/simulate.py
    prints them)."""
    lam, mu, rho = 9.0, 4.5, 2.0  # vp = 3, vs = 1.5
    h, f0 = 0.5, 0.15
    n = 330
    g = Grid(n + 1, n + 1, h, origin=(-n * h / 2, -n * h / 2))
    src = PointForce((0.13, -0.08), (1.0, 2.0), f0, amplitude=1.7)
    rec = simulate(uniform(g, lam, mu, rho), 40.0, sources=[src], sensors=GREEN_OFFSETS + np.array(src.position),
                   record_every=2)
    errors = []
    for p, r in enumerate(GREEN_OFFSETS):
        ref = src.amplitude * naive.line_force_ricker(r, rec.times, src.direction, lam, mu, rho, f0, src.t0)
        errors.append(np.abs(rec.traces[:, p] - ref).max() / np.abs(ref).max())
    return np.array(errors)


def test_point_force_matches_the_2d_greens_function():
    """A point force in a homogeneous full space against the line-source Green's function * Ricker.

    h = 0.5, 8 nodes per S wavelength at 2.5 f0, receivers 40 nodes away in four directions.
    The sponge starts 67.5 from the source: the earliest wave back from it (P, leaving at
    t0 - 1 / f0 = 3.3) reaches a receiver at 3.3 + (67.5 + 47.5) / 3 > 40, the end of the
    records. The reference (tests/naive.py) shares nothing with the solver.
    """
    errors = greens_function_errors()
    assert np.all(errors < 0.02), errors


# --------------------------------------------------------------------------- sponge


def test_sponge_reflections_are_small():
    """Receivers 10-15 nodes from a 30-node sponge: the residual against a much larger grid.

    Without damping the zero fields outside the grid reflect half of the wave's peak (> 30%);
    the default sponge leaves < 2.5% of the direct wave's peak (measured: 1.4%), a reduction
    by more than 20.
    """
    lam, mu, rho = 2.0, 1.0, 1.0
    src = PointForce((0.0, 0.0), (1.0, 1.0), 0.07)
    receivers = np.array([[25.0, 0.0], [0.0, -25.0], [22.0, 22.0], [-15.0, 30.0]])
    T = 160.0

    def run(half, **kw):
        n = 2 * half + 1
        g = Grid(n, n, 1.0, origin=(-half, -half))
        return simulate(uniform(g, lam, mu, rho), T, dt=0.25, sources=[src], sensors=receivers, **kw).traces

    big = run(190, absorb_width=10)  # from its edge a P wave needs (190 + 190 - 35) / 2 > T to come back
    direct = np.abs(big).max()
    sponge = np.abs(run(70) - big).max() / direct
    rigid = np.abs(run(70, absorb_strength=0.0) - big).max() / direct
    assert sponge < 0.025, sponge
    assert rigid > 0.3, rigid
    assert rigid / sponge > 20


# --------------------------------------------------------------------------- input


def test_dt_above_the_cfl_limit_names_dt_and_the_limit():
    med = uniform(Grid(20, 20, 0.5), 2.0, 1.0, 1.0)
    limit = 0.5 / (math.sqrt(2) * (9 / 8 + 1 / 24) * 2.0)
    assert max_dt(med) == pytest.approx(limit, rel=1e-15)
    with pytest.raises(InputError, match=r"^dt: expected a time step <= 0\.151523.*CFL.*vp_max = 2, found 0\.16"):
        Simulation(med, 0.16, absorb_width=5)
    Simulation(med, limit, absorb_width=5)  # the limit itself is allowed
    with pytest.raises(InputError, match="^dt: expected a finite real number > 0"):
        Simulation(med, -0.1, absorb_width=5)


def test_default_dt_is_a_fraction_of_the_limit():
    med = uniform(Grid(20, 20, 0.5), 2.0, 1.0, 1.0)
    assert Simulation(med, absorb_width=5).dt == pytest.approx(0.8 * max_dt(med), rel=1e-15)


def test_too_few_points_per_wavelength_warns():
    med = uniform(Grid(60, 60, 1.0), 2.0, 1.0, 1.0)  # vs = 1: 5 nodes at 2.5 f0 means f0 = 0.08
    with pytest.warns(DispersionWarning, match=r"4\.44 nodes per minimum shear wavelength"):
        Simulation(med, sources=[PointForce((30, 30), (1, 0), 0.09)], absorb_width=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Simulation(med, sources=[PointForce((30, 30), (1, 0), 0.079)], absorb_width=10)


def test_bad_input_is_named():
    med = uniform(Grid(40, 40, 1.0), 2.0, 1.0, 1.0)
    with pytest.raises(InputError, match="^medium: expected a pinnlite.simulate.Medium"):
        Simulation(np.ones((40, 40)))
    with pytest.raises(InputError, match=r"^boundary\[1\]: expected one of 'periodic', 'absorbing', found 'open'"):
        Simulation(med, boundary=("periodic", "open"))
    with pytest.raises(InputError, match=r"^absorb_width: expected at most 18 .*found 19"):
        Simulation(med, absorb_width=19)
    with pytest.raises(InputError, match=r"^sources \(positions\): expected points inside the grid inside its 10-node "
                                         r"sponge, x in \[10\.0, 29\.0\], found x = 5\.0 in row 1"):
        Simulation(med, absorb_width=10, sources=[PointForce((20, 20), (1, 0), 0.02), PointForce((5, 20), (1, 0), 0.02)])
    with pytest.raises(InputError, match="^sources: expected a list of pinnlite.simulate.PointForce"):
        Simulation(med, sources=[(20, 20)], absorb_width=10)
    with pytest.raises(InputError, match=r"^initial_displacement\[0\]: expected an array of shape \(40, 40\)"):
        Simulation(med, absorb_width=10, initial_displacement=(np.zeros((40, 41)), np.zeros((40, 40))))
    with pytest.raises(InputError, match=r"^initial_velocity: expected a function \(x, y\) -> \(u, v\)"):
        Simulation(med, absorb_width=10, initial_velocity=lambda X, Y: X)
    with pytest.raises(InputError, match="^name: expected one of 'vx'"):
        Simulation(med, absorb_width=10).field("p")
