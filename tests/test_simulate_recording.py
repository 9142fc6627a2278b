"""Tests of pinnlite.simulate.recording: simulate's records (times, layout, the exact plane wave
at sensors off the grid, 4th-order interpolation of each staggered component) and
Recording.to_training_data (a TrainingData that validates, the noise level, seeds)."""

import math
import subprocess
import sys

import numpy as np
import pytest

from pinnlite.errors import InputError
from pinnlite.simulate import Grid, PointForce, Simulation, disc, simulate, uniform, window_nodes
from pinnlite.simulate.solver import OFFSETS
from pinnlite.training.data import TrainingData

LAM, MU, RHO = 2.0, 1.0, 1.3


def s_wave(t, L=1.0):
    """(u0, v0, exact(X, Y) -> (n, 2)) of an S plane wave along (1, 2) in a periodic box of side L."""
    d = np.array([1.0, 2.0]) / math.sqrt(5)
    k = 2 * math.pi * math.sqrt(5) / L
    w = k * math.sqrt(MU / RHO)
    pol = np.array([-d[1], d[0]])

    def theta(X, Y, t):
        return k * (d[0] * X + d[1] * Y) - w * t

    return (lambda X, Y: (pol[0] * np.cos(theta(X, Y, 0)), pol[1] * np.cos(theta(X, Y, 0))),
            lambda X, Y: (pol[0] * w * np.sin(theta(X, Y, 0)), pol[1] * w * np.sin(theta(X, Y, 0))),
            lambda X, Y, t: np.stack([pol[0] * np.cos(theta(X, Y, t)), pol[1] * np.cos(theta(X, Y, t))], axis=-1))


def test_records_of_a_plane_wave_at_sensors_and_on_a_window():
    """Every record (sensors off the grid, window nodes, all times) is the exact wave to 1e-3.

    The scheme's phase error after t = 0.5 (omega t = 6.2) at 21 nodes per wavelength (kh = 0.29)
    and omega dt = 0.05 is at most 6.2 (3/640 (kh)^4 + (omega dt)^2 / 24) = 8e-4; a record half a
    step off in time would be off by omega dt / 2 = 0.025, one read from the wrong staggered
    nodes by kh / 2 = 0.15.
    """
    n = 48
    g = Grid(n, n, 1.0 / n)
    u0, v0, exact = s_wave(0.0)
    rng = np.random.default_rng(0)
    sensors = rng.uniform(0.0, 1.0, (7, 2))
    rec = simulate(uniform(g, LAM, MU, RHO), 0.5, dt=0.004, sensors=sensors, window=((0.25, 0.75), (0.1, 0.9)),
                   window_stride=(3, 4), record_every=5, initial_displacement=u0, initial_velocity=v0,
                   boundary="periodic")
    np.testing.assert_allclose(rec.times, 0.02 * np.arange(26), rtol=1e-14)
    assert rec.positions.shape == (7 + 9 * 10, 2)  # x nodes 12..36 every 3, y nodes 5..43 every 4
    np.testing.assert_array_equal(rec.positions[:7], sensors)
    want = exact(rec.positions[None, :, 0], rec.positions[None, :, 1], rec.times[:, None])
    assert np.abs(want).max() > 0.85
    assert np.abs(rec.traces - want).max() < 1e-3
    # time-major rows: row k m + p is position p at time k
    m = len(rec.positions)
    np.testing.assert_array_equal(rec.points[3 * m + 5], [*rec.positions[5], rec.times[3]])
    np.testing.assert_array_equal(rec.displacements[3 * m + 5], rec.traces[3, 5])


def test_window_nodes_take_every_kth_node():
    g = Grid(11, 9, 0.5, origin=(1.0, 0.0))
    P = window_nodes(g, ((2.0, 4.0), (0.4, 3.0)), (2, 3))
    xs, ys = np.unique(P[:, 0]), np.unique(P[:, 1])
    np.testing.assert_array_equal(xs, [2.0, 3.0, 4.0])
    np.testing.assert_array_equal(ys, [0.5, 2.0])
    np.testing.assert_array_equal(P[:3], [[2.0, 0.5], [3.0, 0.5], [4.0, 0.5]])  # row by row
    with pytest.raises(InputError, match=r"^window\[x\]: expected a range holding at least one node"):
        window_nodes(g, ((2.1, 2.4), (0.0, 1.0)), (1, 1))
    with pytest.raises(InputError, match=r"^window_stride\[1\]: expected an integer >= 1, found 0"):
        window_nodes(g, ((2.0, 4.0), (0.0, 1.0)), (1, 0))


def test_sensor_interpolation_is_fourth_order_for_each_staggered_component():
    """Fields f at the ux nodes and g at the uy nodes, read at random points: error O(h^4)."""
    rng = np.random.default_rng(2)
    P = rng.uniform(0.3, 0.7, (50, 2))
    errors = []
    for n in (20, 40, 80):
        g = Grid(n + 1, n + 1, 1.0 / n)
        sim = Simulation(uniform(g, LAM, MU, RHO), boundary="absorbing", absorb_width=2)
        X, Y = g.nodes(OFFSETS["ux"])
        sim.field("ux")[...] = np.sin(3 * X + 1) * np.cos(2 * Y)
        X, Y = g.nodes(OFFSETS["uy"])
        sim.field("uy")[...] = np.exp(X - Y)
        got = sim.displacement_at(sim.stencils(P))
        want = np.column_stack([np.sin(3 * P[:, 0] + 1) * np.cos(2 * P[:, 1]), np.exp(P[:, 0] - P[:, 1])])
        errors.append(np.abs(got - want).max(axis=0))
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all((orders > 3.6) & (orders < 4.4)), orders


def test_to_training_data_validates_and_carries_the_records():
    g = Grid(81, 81, 0.5)
    med = disc(g, (20.0, 20.0), 4.0, (3.0, 2.0, 1.2), (2.0, 1.0, 1.0))
    rec = simulate(med, 20.0, sources=[PointForce((14.0, 20.0), (1.0, 0.0), 0.15)],
                   window=((16.0, 24.0), (16.0, 24.0)), window_stride=(4, 4), record_every=4, absorb_width=20)
    data = rec.to_training_data()
    assert isinstance(data, TrainingData)
    assert data.domain == ((16.0, 24.0), (16.0, 24.0), (0.0, float(rec.times[-1])))
    np.testing.assert_array_equal(data.sensor_points, rec.points)
    np.testing.assert_array_equal(data.sensor_values, rec.displacements)
    assert data.boundary_points is None and data.initial_points is None and data.collocation is None
    assert data.truth == (3.0, 2.0, 1.2)  # the centre lies inside the disc
    assert np.abs(data.sensor_values).max() > 0
    lam, mu, rho = rec.material_at([[20.0, 20.0], [0.0, 0.0]])
    np.testing.assert_array_equal(mu, [2.0, 1.0])
    # the true maps: the grid nodes inside the window (x = 0.5 i) and the disc's mu on them
    np.testing.assert_array_equal(data.truth_map_x, 16.0 + 0.5 * np.arange(17))
    np.testing.assert_array_equal(data.truth_map_y, 16.0 + 0.5 * np.arange(17))
    X, Y = np.meshgrid(data.truth_map_x, data.truth_map_y)
    np.testing.assert_array_equal(data.truth_map[1], np.where(np.hypot(X - 20, Y - 20) <= 4.0, 2.0, 1.0))
    np.testing.assert_array_equal(data.truth_map[0], np.where(np.hypot(X - 20, Y - 20) <= 4.0, 3.0, 2.0))
    # the npz round trip keeps it
    assert TrainingData.from_arrays(data.to_arrays()) == data
    np.testing.assert_array_equal(TrainingData.from_arrays(data.to_arrays()).truth_map, data.truth_map)


def test_between_keeps_the_records_in_the_closed_interval():
    g = Grid(41, 41, 0.5)
    rec = simulate(uniform(g, LAM, MU, RHO), 6.0, dt=0.1, sources=[PointForce((10.0, 10.0), (1.0, 0.0), 0.12)],
                   sensors=[[11.0, 10.0], [9.0, 9.5]], record_every=5, absorb_width=10)
    part = rec.between(1.0, 3.0)  # records every 0.5: 1.0, 1.5, ..., 3.0
    np.testing.assert_allclose(part.times, [1.0, 1.5, 2.0, 2.5, 3.0], atol=1e-12)
    first = int(np.argmin(np.abs(rec.times - 1.0)))
    np.testing.assert_array_equal(part.traces, rec.traces[first : first + 5])
    np.testing.assert_array_equal(part.positions, rec.positions)
    with pytest.raises(InputError, match=r"^between: no record between t0 = 7.0 and t1 = 8.0"):
        rec.between(7.0, 8.0)


@pytest.mark.parametrize("noise", [0.02, 0.2])
def test_noise_is_relative_to_the_rms_and_reproducible(noise):
    g = Grid(81, 81, 0.5)
    rec = simulate(uniform(g, LAM, MU, RHO), 15.0, sources=[PointForce((20.0, 20.0), (1.0, 1.0), 0.12)],
                   window=((12.0, 28.0), (12.0, 28.0)), record_every=4, absorb_width=20)
    clean = rec.displacements
    rms = math.sqrt(np.mean(clean**2))
    a = rec.to_training_data(noise, np.random.default_rng(7))
    err = a.sensor_values - clean
    # err.size Gaussian samples: the sample std is within 4 standard errors (1 / sqrt(2 n)) of sigma
    assert err.size > 20000
    assert abs(err.std() / (noise * rms) - 1) < 4 / math.sqrt(2 * err.size)
    assert abs(err.mean()) < 4 * noise * rms / math.sqrt(err.size)
    b = rec.to_training_data(noise, np.random.default_rng(7))
    np.testing.assert_array_equal(a.sensor_values, b.sensor_values)
    c = rec.to_training_data(noise, np.random.default_rng(8))
    assert not np.array_equal(a.sensor_values, c.sensor_values)


def test_training_data_errors():
    g = Grid(41, 41, 0.5)
    rec = simulate(uniform(g, LAM, MU, RHO), 3.0, sources=[PointForce((10.0, 10.0), (1.0, 0.0), 0.12)],
                   sensors=[[11.0, 10.0]], absorb_width=10)
    with pytest.raises(InputError, match=r"^domain: the records span no extent in x"):
        rec.to_training_data()
    data = rec.to_training_data(domain=((10.0, 12.0), (9.0, 11.0), (0.0, 3.5)))
    assert data.domain[0] == (10.0, 12.0)
    with pytest.raises(InputError, match=r"^rng: expected a numpy.random.Generator, found None"):
        rec.to_training_data(0.1, domain=data.domain)
    with pytest.raises(InputError, match=r"^rng: expected a numpy.random.Generator, found 3"):
        rec.to_training_data(0.1, 3, domain=data.domain)
    with pytest.raises(InputError, match=r"^noise: expected a finite real number >= 0, found -0.1"):
        rec.to_training_data(-0.1)


def test_simulate_bad_input_is_named():
    med = uniform(Grid(41, 41, 0.5), LAM, MU, RHO)
    src = [PointForce((10.0, 10.0), (1.0, 0.0), 0.12)]
    with pytest.raises(InputError, match=r"^sensors: expected points inside the grid inside its 10-node sponge, "
                                         r"x in \[5.0, 15.0\], found x = 21.0 in row 1"):
        simulate(med, 3.0, sources=src, sensors=[[10.0, 10.0], [21.0, 10.0]], absorb_width=10)
    with pytest.raises(InputError, match=r"^sensors: .*y in \[5.0, 15.0\], found y = 4.0 in row 0"):
        simulate(med, 3.0, sources=src, sensors=[[10.0, 4.0]], absorb_width=10)  # in the sponge
    with pytest.raises(InputError, match=r"^window: expected points inside"):
        simulate(med, 3.0, sources=src, window=((5.0, 15.0), (0.0, 15.0)), absorb_width=10)
    with pytest.raises(InputError, match=r"^sensors: expected an array of shape \(n, 2\)"):
        simulate(med, 3.0, sources=src, sensors=[10.0, 10.0, 10.0], absorb_width=10)
    with pytest.raises(InputError, match=r"^sensors: expected sensor positions .* or a window"):
        simulate(med, 3.0, sources=src, absorb_width=10)
    with pytest.raises(InputError, match=r"^duration: expected a finite real number > 0, found 0"):
        simulate(med, 0, sources=src, sensors=[[10.0, 10.0]], absorb_width=10)
    with pytest.raises(InputError, match=r"^record_every: expected an integer >= 1, found 0"):
        simulate(med, 3.0, sources=src, sensors=[[10.0, 10.0]], record_every=0, absorb_width=10)


def test_the_package_exports_simulate_lazily():
    code = ("import sys, pinnlite; assert 'pinnlite.simulate' not in sys.modules; "
            "print(pinnlite.simulate.simulate.__module__, 'simulate' in dir(pinnlite))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["pinnlite.simulate.recording", "True"]
