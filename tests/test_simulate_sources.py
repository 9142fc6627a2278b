"""Tests of pinnlite.simulate.sources: the Ricker wavelet against its closed forms, the cubic
Lagrange stencils (exact on cubics, 4th order on smooth functions, wrapping), the point force."""

import math

import numpy as np
import pytest

from pinnlite.errors import InputError
from pinnlite.simulate import PointForce, lagrange_weights, ricker
from pinnlite.simulate.sources import RICKER_HIGHEST, stencil


def test_ricker_values_integral_and_spectrum():
    f0, t0 = 2.0, 0.9
    assert ricker(t0, f0, t0) == 1.0
    zero = t0 + 1 / (math.sqrt(2) * math.pi * f0)  # 1 - 2 a^2 = 0
    assert abs(ricker(zero, f0, t0)) < 1e-14
    t = np.linspace(0.0, 2 * t0, 20001)
    w = ricker(t, f0, t0)
    # time integral: (t - t0) exp(-a^2), so the integral over the whole pulse is zero
    cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(t))])
    closed = (t - t0) * np.exp(-(math.pi * f0 * (t - t0)) ** 2)
    np.testing.assert_allclose(cumulative, closed - closed[0], atol=1e-8)
    # amplitude spectrum (f / f0)^2 exp(-(f / f0)^2): peak at f0, 3.3% of it at 2.5 f0
    dt = 0.005
    spec = np.abs(np.fft.rfft(ricker(dt * np.arange(400), f0, t0), n=1 << 16))
    freq = np.fft.rfftfreq(1 << 16, dt)
    assert freq[np.argmax(spec)] == pytest.approx(f0, rel=2e-3)
    at = spec[np.argmin(np.abs(freq - RICKER_HIGHEST * f0))] / spec.max()
    assert at == pytest.approx(RICKER_HIGHEST**2 * math.exp(1 - RICKER_HIGHEST**2), rel=5e-3)
    assert 0.02 < at < 0.04


def test_lagrange_weights_reproduce_cubics():
    xi = np.random.default_rng(0).uniform(0, 1, 100)
    W = lagrange_weights(xi)
    nodes = np.array([-1.0, 0.0, 1.0, 2.0])
    for p in range(4):
        np.testing.assert_allclose(W @ nodes**p, xi**p, atol=1e-14)
    assert not np.allclose(W @ nodes**4, xi**4)
    np.testing.assert_array_equal(lagrange_weights(np.zeros(1)), [[0.0, 1.0, 0.0, 0.0]])


def test_interpolation_is_fourth_order_on_a_smooth_function():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.3, 0.7, 200)
    errors = []
    for n in (16, 32, 64):
        h = 1.0 / n
        nodes = h * np.arange(n + 1)
        idx, w = stencil(x, 0.0, h, n + 1, False, 0)
        approx = np.sum(w * np.sin(3 * nodes[idx]), axis=1)
        errors.append(np.abs(approx - np.sin(3 * x)).max())
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all((orders > 3.6) & (orders < 4.4)), orders


def test_stencil_indices_wrap_when_periodic():
    idx, w = stencil(np.array([0.2, 9.7]), 0.0, 1.0, 10, True, 2)
    np.testing.assert_array_equal(idx, [[9 + 2, 0 + 2, 1 + 2, 2 + 2], [8 + 2, 9 + 2, 0 + 2, 1 + 2]])
    idx, _ = stencil(np.array([0.2]), 0.0, 1.0, 10, False, 2)
    np.testing.assert_array_equal(idx, [[1, 2, 3, 4]])  # a ghost node, zero for absorbing boundaries
    np.testing.assert_allclose(w.sum(axis=1), 1.0, rtol=1e-15)


def test_point_force():
    s = PointForce((1.0, 2.0), (3.0, -4.0), 5.0, amplitude=2.0)
    assert s.direction == pytest.approx((0.6, -0.8), rel=1e-15)
    assert s.t0 == pytest.approx(0.3)
    np.testing.assert_allclose(s.force(np.array([0.3, 0.0])), [[1.2, -1.6], [0.0, 0.0]], atol=1e-7)
    with pytest.raises(InputError, match=r"^direction: expected a non-zero vector \(fx, fy\), found \(0.0, 0.0\)"):
        PointForce((1.0, 2.0), (0.0, 0.0), 5.0)
    with pytest.raises(InputError, match=r"^f0: expected a finite real number > 0, found -1"):
        PointForce((1.0, 2.0), (1.0, 0.0), -1)
    with pytest.raises(InputError, match=r"^position: expected a pair of real numbers, found 1.0"):
        PointForce(1.0, (1.0, 0.0), 1.0)
    with pytest.raises(InputError, match=r"^position\[1\]: expected a finite real number, found nan"):
        PointForce((1.0, float("nan")), (1.0, 0.0), 1.0)
