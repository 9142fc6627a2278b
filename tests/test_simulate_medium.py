"""Tests of pinnlite.simulate.medium: the grid, the checks on the maps, the phantoms, material_at."""

import math

import numpy as np
import pytest

from pinnlite.errors import InputError
from pinnlite.simulate import Grid, Medium, disc, layers, points_per_wavelength, uniform


def test_grid_nodes_and_offsets():
    g = Grid(5, 4, 0.25, origin=(1.0, -2.0))
    assert g.shape == (4, 5)
    np.testing.assert_array_equal(g.x, [1.0, 1.25, 1.5, 1.75, 2.0])
    np.testing.assert_array_equal(g.y, [-2.0, -1.75, -1.5, -1.25])
    assert g.extent == ((1.0, 2.0), (-2.0, -1.25))
    X, Y = g.nodes((0.5, 0.0))
    assert X.shape == (4, 5)
    assert X[2, 1] == 1.0 + 1.5 * 0.25 and Y[2, 1] == -1.5  # [j, i] is (x_i + h/2, y_j)


@pytest.mark.parametrize("kwargs, message", [
    (dict(nx=3, ny=5, h=1.0), r"^nx: expected an integer >= 4, found 3"),
    (dict(nx=5, ny=5.0, h=1.0), r"^ny: expected an integer >= 4, found 5.0"),
    (dict(nx=5, ny=5, h=0.0), r"^h: expected a finite real number > 0, found 0.0"),
    (dict(nx=5, ny=5, h=1.0, origin=(0.0,)), r"^origin: expected a pair \(x0, y0\)"),
])
def test_bad_grid_is_named(kwargs, message):
    with pytest.raises(InputError, match=message):
        Grid(**kwargs)


def test_bad_maps_are_named_with_the_node():
    g = Grid(6, 4, 0.5)
    ones = np.ones(g.shape)
    with pytest.raises(InputError, match=r"^mu: expected an array of shape \(4, 6\) and dtype float64, "
                                         r"found array of shape \(6, 4\)"):
        Medium(g, ones, ones.T.copy(), ones)
    bad = ones.copy()
    bad[2, 3] = 0.0
    with pytest.raises(InputError, match=r"^mu: expected values > 0, found 0.0 at node \[j=2, i=3\] "
                                         r"\(x = 1.5, y = 1.0; 1 bad nodes\)"):
        Medium(g, ones, bad, ones)
    with pytest.raises(InputError, match=r"^rho: expected values > 0, found -1.0 at node \[j=2, i=3\]"):
        Medium(g, ones, ones, np.where(bad == 0, -1.0, 1.0))
    with pytest.raises(InputError, match=r"^lam: expected values > -mu \(lam \+ mu > 0\), found -1.0"):
        Medium(g, np.where(bad == 0, -1.0, 1.0), ones, ones)
    nan = ones.copy()
    nan[1, 1] = np.nan
    with pytest.raises(InputError, match=r"^lam: expected finite values, found nan at row 1, column 1"):
        Medium(g, nan, ones, ones)
    with pytest.raises(InputError, match=r"^lam: expected a float array of shape \(4, 6\)"):
        Medium(g, [[1.0]], ones, ones)
    # a slightly negative lam is a valid (auxetic) material: lam + mu > 0 is the rule
    Medium(g, -0.5 * ones, ones, ones)


def test_wave_speeds():
    med = uniform(Grid(4, 4, 1.0), 2.0, 1.5, 2.5)
    np.testing.assert_allclose(med.vp, math.sqrt(5.0 / 2.5))
    np.testing.assert_allclose(med.vs, math.sqrt(1.5 / 2.5))
    assert points_per_wavelength(med, 0.1) == pytest.approx(math.sqrt(0.6) / 0.1)


def test_disc_sharp_and_smooth():
    g = Grid(41, 41, 0.1)
    inside, outside = (3.0, 2.0, 1.5), (2.0, 1.0, 1.0)
    med = disc(g, (2.0, 2.0), 0.5, inside, outside)
    X, Y = g.nodes()
    r = np.hypot(X - 2.0, Y - 2.0)
    np.testing.assert_array_equal(med.mu, np.where(r <= 0.5, 2.0, 1.0))
    np.testing.assert_array_equal(med.rho, np.where(r <= 0.5, 1.5, 1.0))
    smooth = disc(g, (2.0, 2.0), 0.5, inside, outside, width=0.1)
    np.testing.assert_allclose(smooth.lam, 2.0 + 0.5 * (1 - np.tanh((r - 0.5) / 0.1)), rtol=1e-15)
    assert smooth.mu[20, 20] == pytest.approx(2.0, abs=1e-4) and smooth.mu[0, 0] == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(InputError, match=r"^radius: expected a finite real number > 0"):
        disc(g, (2.0, 2.0), 0.0, inside, outside)
    with pytest.raises(InputError, match=r"^inside: expected a triple \(lam, mu, rho\)"):
        disc(g, (2.0, 2.0), 0.5, (1.0, 2.0), outside)


def test_layers_assign_rows_by_interface():
    g = Grid(4, 10, 1.0)
    med = layers(g, [2.5, 6.0], [(1.0, 1.0, 1.0), (2.0, 2.0, 2.0), (3.0, 3.0, 3.0)])
    np.testing.assert_array_equal(med.mu[:, 0], [1, 1, 1, 2, 2, 2, 3, 3, 3, 3])  # y = 6 lies above 6.0
    assert (med.mu == med.mu[:, :1]).all()
    with pytest.raises(InputError, match="^interfaces: expected strictly increasing y values"):
        layers(g, [3.0, 2.0], [(1.0, 1.0, 1.0)] * 3)
    with pytest.raises(InputError, match="^values: expected a list of 3 triples"):
        layers(g, [2.5, 6.0], [(1.0, 1.0, 1.0)] * 2)


def test_material_at_is_bilinear():
    """Exact on bilinear maps (a + b x + c y + d x y), at nodes, and on the last row and column."""
    g = Grid(7, 5, 0.5, origin=(-1.0, 2.0))
    X, Y = g.nodes()
    f = 2.0 + 0.3 * X - 0.2 * Y + 0.1 * X * Y
    med = Medium(g, f, f + 1.0, np.exp(f))
    rng = np.random.default_rng(0)
    P = np.column_stack([rng.uniform(-1.0, 2.0, 50), rng.uniform(2.0, 4.0, 50)])
    P[0] = (2.0, 4.0)  # the last node
    P[1] = (-1.0, 2.0)
    lam, mu, rho = med.material_at(P)
    exact = 2.0 + 0.3 * P[:, 0] - 0.2 * P[:, 1] + 0.1 * P[:, 0] * P[:, 1]
    np.testing.assert_allclose(lam, exact, rtol=1e-14)
    np.testing.assert_allclose(mu, exact + 1.0, rtol=1e-14)
    # rho is not bilinear, but bilinear interpolation stays within the corner values
    assert (rho >= np.exp(f).min()).all() and (rho <= np.exp(f).max()).all()
    with pytest.raises(InputError, match=r"^points: expected points with y in \[2.0, 4.0\], found y = 4.5 in row 0"):
        med.material_at([[0.0, 4.5]])
    with pytest.raises(InputError, match=r"^points: expected an array of shape \(n, 2\)"):
        med.material_at(np.zeros((3, 3)))
