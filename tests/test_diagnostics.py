"""The warnings of a run going wrong that concern its units: the measured wave speed against the guesses'."""

import dataclasses
import math
import warnings

import pytest

from pinnlite import Config, Trainer
from pinnlite.training.diagnostics import FAST_FACTOR, SLOW_FACTOR, Diagnostics, MaterialWarning
from pinnlite.training.problems import Wave, plane_waves
from pinnlite.training.scaling import derive_scales, measured_speed


def speed_warnings(config, speed):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Diagnostics(config, None, None).wave_speed(speed)
    return [str(w.message) for w in caught if issubclass(w.category, MaterialWarning)]


def test_a_speed_outside_the_guesses_shear_and_pressure_speeds_warns_with_the_factor():
    cfg = Config()
    cfg.material.lam, cfg.material.mu, cfg.material.rho = 7.0, 1.0, 4.0  # shear 0.5, pressure 1.5
    slow, fast = 0.5, 1.5
    for speed in (slow / SLOW_FACTOR * 1.01, 0.5, 1.0, 1.5, fast * FAST_FACTOR * 0.99, None):
        assert speed_warnings(cfg, speed) == [], speed
    (low,) = speed_warnings(cfg, slow / 40)
    assert "40 times slower than the shear waves" in low and "speeds 0.5 and 1.5" in low
    assert f"rho c^2 = {4.0 * (slow / 40) ** 2:.3g}" in low
    assert len(speed_warnings(cfg, slow / SLOW_FACTOR * 0.99)) == len(speed_warnings(cfg, fast * FAST_FACTOR * 1.01)) == 1
    cfg.units.length, cfg.units.time = "mm", "us"
    (high,) = speed_warnings(cfg, fast * 1e6)
    assert "1.5e+06 mm/us" in high and "1e+06 times faster than the pressure waves" in high


def single_wave(kind, speed_of, lam=2.0, mu=1.0, rho=1.0, t_scale=1.0, n=400):
    """Sensors of one plane wave of ``kind`` along x (its wavenumber and frequency on the spectrum's
    grid), times multiplied by ``t_scale`` (a unit mix-up when not 1: the speed divides by it)."""
    data, _ = plane_waves(lam, mu, rho, waves=(Wave(kind, 1.0, (1.0, 0.0), 2 * math.pi, 0.3),), n_sensors=n, rng=1)
    if t_scale != 1.0:
        (x, y, (t0, t1)) = data.domain
        pts = data.sensor_points.copy()
        pts[:, 2] *= t_scale
        data = dataclasses.replace(data, domain=(x, y, (t0 * t_scale, t1 * t_scale)), sensor_points=pts)
    return data, speed_of(lam, mu, rho)


@pytest.mark.parametrize("kind, speed_of", [("S", lambda lam, mu, rho: math.sqrt(mu / rho)),
                                            ("P", lambda lam, mu, rho: math.sqrt((lam + 2 * mu) / rho))])
def test_the_measured_speed_of_one_plane_wave_is_its_phase_speed(kind, speed_of):
    cfg = Config()
    for t_scale in (1.0, 1e-6, 1e3):
        data, c = single_wave(kind, speed_of, t_scale=t_scale)
        speed = measured_speed(cfg, data, derive_scales(cfg, data))
        assert speed == pytest.approx(c / t_scale, rel=1e-9)  # omega / k of the one peak


def test_no_measured_speed_from_scales_the_config_sets_or_from_few_sensors():
    data, _ = single_wave("S", lambda *a: 1.0)
    cfg = Config()
    cfg.scales.length = 0.1
    assert measured_speed(cfg, data, derive_scales(cfg, data)) is None
    few = dataclasses.replace(data, sensor_points=data.sensor_points[:19], sensor_values=data.sensor_values[:19])
    assert measured_speed(Config(), few, derive_scales(Config(), few)) is None


def first_epochs(data):
    cfg = Config()
    cfg.training.epochs, cfg.training.error_bars, cfg.training.threads = 1, False, 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Trainer(None, cfg.validate(), progress=None).train(data)
    return [str(w.message) for w in caught if "wavelength over their period" in str(w.message)]


def test_a_run_on_data_in_other_time_units_than_its_moduli_warns_at_the_start():
    """Times in milliseconds where the moduli assume seconds (and the reverse): waves 1000 times too slow
    (fast) for the guesses lam = mu = 1, rho = 1, whose shear and pressure speeds are 1 and 1.73."""
    shear = lambda lam, mu, rho: math.sqrt(mu / rho)  # noqa: E731
    (slow,) = first_epochs(single_wave("S", shear, t_scale=1e3)[0])
    assert "1e+03 times slower than the shear waves" in slow
    (fast,) = first_epochs(single_wave("S", shear, t_scale=1e-3)[0])
    assert "577 times faster than the pressure waves" in fast
    assert first_epochs(single_wave("S", shear)[0]) == []


def test_no_speed_warning_on_the_records_of_a_point_source():
    """A curved wavefront entering the window (finite differences, an independent method), sampled by an
    11 x 11 grid of sensors: the spectrum's speed comes out low (0.16 of the shear speed: power aliased to
    the grid's Nyquist wavenumber), and a right guess still passes."""
    import numpy as np

    from pinnlite.simulate import Grid, PointForce, simulate, uniform

    grid = Grid(nx=161, ny=161, h=0.025, origin=(-2.0, -2.0))
    rec = simulate(uniform(grid, 2.0, 1.0, 1.0), duration=2.0,
                   sources=[PointForce(position=(-1.0, 0.2), direction=(0.6, 0.8), f0=2.0)],
                   window=((-0.5, 0.5), (-0.5, 0.5)), window_stride=(4, 4), record_every=10)
    data = rec.to_training_data(noise=0.01, rng=np.random.default_rng(0))
    cfg = Config()
    cfg.material.lam, cfg.material.mu = 2.0, 1.0  # the truth: shear speed 1, pressure speed 2
    speed = measured_speed(cfg, data, derive_scales(cfg, data))
    # a power-weighted mean of the waves' speeds never exceeds the pressure speed (2); the estimate errs
    # low, but not below the warning's bound: no warning
    assert speed <= 2.0, speed
    assert speed_warnings(cfg, speed) == []
    # a speed is a length over a time: the same records on a window ten times as wide (positions and
    # domain scaled, times kept) give exactly ten times the estimate
    pts = data.sensor_points.copy()
    pts[:, :2] *= 10
    (x0, x1), (y0, y1), t = data.domain
    wide = dataclasses.replace(data, sensor_points=pts, domain=((10 * x0, 10 * x1), (10 * y0, 10 * y1), t))
    assert measured_speed(cfg, wide, derive_scales(cfg, wide)) == pytest.approx(10 * speed, rel=1e-9)
    # the same records with their times in milliseconds where the moduli assume seconds: a speed is a
    # length over a time, so the estimate is exactly 1000 times the first, and 1000 times too fast warns
    pts = data.sensor_points.copy()
    pts[:, 2] *= 1e-3
    (x, y, (t0, t1)) = data.domain
    fast = dataclasses.replace(data, sensor_points=pts, domain=(x, y, (t0 * 1e-3, t1 * 1e-3)))
    fast_speed = measured_speed(cfg, fast, derive_scales(cfg, fast))
    assert fast_speed == pytest.approx(1e3 * speed, rel=1e-9)
    (warned,) = speed_warnings(cfg, fast_speed)
    assert "times faster than the pressure waves" in warned


def material_warnings(values, counts):
    cfg = Config()
    cfg.material.lam, cfg.material.mu = 150.0, 60.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Diagnostics(cfg, None, None).material(values, (), check_range=True, counts=counts)
    return [str(w.message) for w in caught if issubclass(w.category, MaterialWarning)]


def test_a_modulus_that_fell_tenfold_on_few_sensors_is_named_a_collapse_not_a_unit_error():
    # the steel plate's waves on 120 sensors (240 values for 446 trained, benchmarks/README.md): lam fell
    # from its guess 150 to 3e-20 while a field without stiffness passed through the sensors
    collapsed = {"lam": 2.9e-20, "mu": 42.0, "rho": 1.0}
    (few,) = material_warnings(collapsed, (240, 446))
    assert few.startswith("lam = 2.9e-20 has moved more than 10x from its initial guess 150: on 240 sensor values "
                          "for 446 trained values a field without stiffness can pass through every sensor")
    assert "Use more sensors, or compare a run with another training.seed" in few and "units" not in few
    # as many sensor values as trained values, no counts, or a modulus that grew: the units are the suspect
    for values, counts in ((collapsed, (446, 446)), (collapsed, None), ({"lam": 1600.0, "mu": 42.0}, (240, 446))):
        (other,) = material_warnings(values, counts)
        assert other.endswith("check the units of the data and of material.lam, or start from a closer guess"), other
    assert material_warnings({"lam": 15.0, "mu": 6.0}, (240, 446)) == []  # within 10x: no warning
