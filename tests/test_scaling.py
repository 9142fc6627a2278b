"""Tests of pinnlite.training.scaling: the loss normalisers of given scales against
numbers computed by hand and against the physical dimension of each term (scaling
one base unit scales each normaliser by the matching power), and the scales
derived from a config and the training data against the domain extents, the data
rms and the material guesses worked out by hand."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinnlite.engine.terms import TERMS
from pinnlite.training.config import Config, ConfigError
from pinnlite.training.data import TrainingData
from pinnlite.training.scaling import Scales, derive_scales

# -- normalisers ------------------------------------------------------------------------------


def test_normalisers_for_given_numbers():
    # L = 2, T = 0.5, U = 0.1, M = 3 (density 7 plays no part)
    s = Scales(length=2.0, time=0.5, displacement=0.1, modulus=3.0, density=7.0)
    n = s.normalisers()
    assert set(n) == set(TERMS)
    assert n["pde"] == pytest.approx(0.005625, rel=1e-14)  # (3 * 0.1 / 4)^2
    assert n["traction"] == pytest.approx(0.0225, rel=1e-14)  # (3 * 0.1 / 2)^2
    assert n["boundary"] == pytest.approx(0.01, rel=1e-14)  # 0.1^2
    assert n["initial"] == pytest.approx(0.01, rel=1e-14)
    assert n["data"] == pytest.approx(0.01, rel=1e-14)
    assert n["initial_velocity"] == pytest.approx(0.04, rel=1e-14)  # (0.1 / 0.5)^2


def test_output_scales_are_the_displacement_and_with_a_pressure_the_stress():
    s = Scales(length=2.0, time=0.5, displacement=0.1, modulus=3.0, density=7.0)
    assert s.output_scale() == (0.1, 0.1)
    assert s.output_scale(True) == pytest.approx((0.1, 0.1, 0.15), rel=1e-15)  # M U / L = 3 * 0.1 / 2
    # the pressure's scale is a stress, the traction term's unit: its square is that normaliser
    assert s.output_scale(True)[2] ** 2 == pytest.approx(s.normalisers()["traction"], rel=1e-14)


@settings(max_examples=40, deadline=None)
@given(
    L=st.floats(1e-3, 1e3),
    T=st.floats(1e-3, 1e3),
    U=st.floats(1e-6, 1e3),
    M=st.floats(1e-3, 1e6),
    c=st.floats(0.1, 10.0),
)
def test_normalisers_have_the_physical_dimensions(L, T, U, M, c):
    """Each normaliser is the square of its term's unit: scaling one base unit by c
    scales it by c to the power of that unit's exponent, twice."""
    base = Scales(L, T, U, M, 1.0).normalisers()
    exponents = {  # (length, time, displacement, modulus) exponents of the unsquared magnitude
        "pde": (-2, 0, 1, 1),
        "traction": (-1, 0, 1, 1),
        "boundary": (0, 0, 1, 0),
        "initial": (0, 0, 1, 0),
        "data": (0, 0, 1, 0),
        "initial_velocity": (0, -1, 1, 0),
    }
    for axis in range(4):
        args = [L, T, U, M]
        args[axis] *= c
        scaled = Scales(*args, 1.0).normalisers()
        for term, e in exponents.items():
            assert scaled[term] == pytest.approx(base[term] * c ** (2 * e[axis]), rel=1e-12)


# -- derived scales ---------------------------------------------------------------------------


def make_data(sensor_values=None, domain=((0.0, 2.0), (-1.0, 0.5), (1.0, 5.0))):
    if sensor_values is None:
        return TrainingData(domain)
    n = sensor_values.shape[0]
    inside = [sum(side) / 2 for side in domain]
    return TrainingData(domain, sensor_points=np.tile(inside, (n, 1)), sensor_values=sensor_values)


def test_derived_scales_from_the_domain_data_and_guesses():
    values = np.array([[3.0, 4.0], [0.0, 0.0], [1.0, -1.0]])  # rms = sqrt(27 / 6)
    cfg = Config()
    cfg.material.lam, cfg.material.mu, cfg.material.rho = 3.0, 0.5, 2.5
    s = derive_scales(cfg.validate(), make_data(values))
    assert s.length == 2.0  # the larger of the x extent 2 and the y extent 1.5
    assert s.time == 4.0
    assert s.displacement == pytest.approx(math.sqrt(27 / 6), rel=1e-15)
    assert s.modulus == 4.0  # lam0 + 2 mu0
    assert s.density == 2.5


def test_length_scale_is_the_larger_spatial_extent():
    s = derive_scales(Config(), make_data(domain=((0.0, 1.0), (-2.0, 1.0), (0.0, 0.1))))
    assert s.length == 3.0 and s.time == pytest.approx(0.1, rel=1e-15)
    assert s.displacement == 1.0  # nothing known


@pytest.mark.parametrize("field, value", [("scales.length", 1e300), ("scales.length", 1e-300),
                                          ("scales.modulus", 1e300), ("scales.time", 1e200),
                                          ("scales.displacement", 5e-324), ("scales.time", 1e-200)])
def test_scales_whose_squares_leave_float64_are_refused_naming_them(field, value):
    """Each is a valid number, but a term's normaliser ((M U / L^2)^2, (U / T)^2, ...) overflows or
    vanishes: training then ended in an OverflowError, a ZeroDivisionError or an error naming
    an internal weight."""
    cfg = Config().replace(**{field: value})
    with pytest.raises(ConfigError, match=r"^scales \(from the config's scales, material and the data\): expected "
                                          r"scales whose squares .* found length .*; set scales.length"):
        derive_scales(cfg, make_data(np.full((4, 2), 0.25)))


@pytest.mark.parametrize("field, value", [("scales.length", 1e300), ("material.rho", 1e300)])
def test_scales_from_the_waves_that_overflow_are_refused_too(field, value):
    """With waves in the data the modulus is rho (L / T)^2, which overflowed as a float power."""
    from pinnlite.training.problems import plane_waves

    data, _ = plane_waves(n_sensors=80, rng=0)
    with pytest.raises(ConfigError, match=r"^scales \(from the config's scales, material and the data\)"):
        derive_scales(Config().replace(**{field: value}), data)


def test_explicit_scales_override_derived_ones():
    data = make_data(np.full((4, 2), 0.25))
    cfg = Config()
    cfg.scales.length, cfg.scales.time, cfg.scales.displacement = 10.0, 0.01, 1e-3
    cfg.scales.modulus, cfg.scales.density = 70.0, 2.7
    s = derive_scales(cfg.validate(), data)
    assert s == Scales(10.0, 0.01, 1e-3, 70.0, 2.7)
    # only some given: the others are derived
    cfg = Config()
    cfg.scales.modulus = 70.0
    s = derive_scales(cfg.validate(), data)
    assert s == Scales(2.0, 4.0, 0.25, 70.0, 1.0)
