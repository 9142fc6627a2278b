"""Warnings while a run goes wrong: data not fitted, material parameters out of range, a bad scale.

A run that ends with numbers is not a run that worked. These checks look at
what the trainer already has (the loss terms, the material values, the scales)
and warn, once each, with what to try:

- **data not fitted**: the rms misfit of the sensors relative to their rms
  displacement U is above :data:`FIT_THRESHOLD` half way through the run or at
  its end (a collapsed field, a network too small, a scale off by orders);
- **material still held**: the run ended before the network fitted the
  sensors better than a field of zeros (to 0.1 of their rms on fewer sensor
  values than trained values), so the material never left its guesses
  (:mod:`pinnlite.training.hold`);
- **material out of range**: a free parameter hits one of its bounds, or is
  more than :data:`RANGE_FACTOR` times away from its initial guess half way
  through the run or at its end (units that do not agree, or a guess far
  off; a modulus that fell so far on fewer sensor values than trained values
  is more likely the collapse of :mod:`pinnlite.training.hold`, a field
  without stiffness through every sensor, and the warning says so);
- **few sensors**: a run on fewer sensor values than it trains values, with
  no sensors held out: such a network can fit the sensors' noise, and the
  longer it trains the further lam and mu follow it (100 sensors of two plane
  waves at 3% noise: mu 1-2% off at epoch 1000, 2-10% at epoch 10000;
  benchmarks/README.md, "the stop rule"), while the error bars, from a misfit
  below the noise, shrink. Half way through a run that has not settled, or
  at the end of any run (one that settled too: on that family, seeds 0-19,
  lam's error bars were 1.3 times too small, 16 of 20 runs within two of
  them, mu's 20 of 20). The advice it gives, more sensors or held-out ones,
  names what held-out sensors did on two families: better on 100 sensors
  of two waves, worse on 300 of six (benchmarks/README.md);
- **wave speed**: at the start, the phase speed of the measured waves (the
  wavelength over the period of the sensors' spectrum,
  :func:`pinnlite.training.scaling.measured_speed`) against the shear and
  pressure speeds ``sqrt(mu / rho)`` and ``sqrt((lam + 2 mu) / rho)`` of the
  initial guesses: any field of the material's waves travels between the two,
  so a speed :data:`SLOW_FACTOR` times below the shear speed or
  :data:`FAST_FACTOR` times above the pressure speed means that the units of
  the data and of the material do not agree (seconds against microseconds,
  metres against millimetres, GPa against MPa), or guesses far off. The
  estimate errs low: it lay within 0.26-2.2 times the guesses' shear speed on
  every benchmark family and map phantom and at 0.16 times the true shear
  speed on the 11 x 11 sensor grid of a simulated point source (power aliased
  to the grid's Nyquist wavenumber), never above the pressure speed;
- **PDE scale**: at the end, the fitted field's inertial term ``rho u_tt`` is
  compared with the PDE scale ``M U / L^2`` the run divides the PDE term by; a
  ratio outside ``[1/RANGE_FACTOR, RANGE_FACTOR]`` means the normaliser (and so
  the balance of the terms) was off, and ``scales.length`` / ``scales.time``
  should be set. At the start (after the first epoch) the normalised terms
  are logged, so a term that starts orders of magnitude above the others shows.
"""

import math
import warnings

import numpy as np

from pinnlite.training.hold import few_values

FIT_THRESHOLD = 0.3  # relative rms misfit of the sensors: far above any usable noise level
RANGE_FACTOR = 10.0
# a measured speed beyond [c_S / SLOW_FACTOR, c_P * FAST_FACTOR] of the guesses: units that do not agree
SLOW_FACTOR = 30.0  # the spectrum's speed errs low (leakage, a sensor grid's aliases): down to c_S / 6 measured
FAST_FACTOR = 10.0  # ... and never above c_P (a power-weighted mean of the waves' speeds)


class FitWarning(UserWarning):
    """The network has not fitted the sensor data."""


class MaterialWarning(UserWarning):
    """A material parameter hit a bound or moved far from its initial guess."""


class ScaleWarning(UserWarning):
    """The PDE scale derived for the run does not match the fitted field."""


def misfit(row, scales):
    """The sensors' rms misfit relative to the displacement scale U (NaN without data)."""
    data = row.get("data", math.nan)
    return math.sqrt(data) / scales.displacement if data == data else math.nan


def fitted(row, scales):
    """Whether the network fits its sensors (misfit at most :data:`FIT_THRESHOLD`); None without sensor data."""
    r = misfit(row, scales)
    return None if r != r else r <= FIT_THRESHOLD


class Diagnostics:
    """The warnings of one run, each given at most once."""

    def __init__(self, config, scales, log):
        self.config = config
        self.scales = scales
        self.log = log
        self.given = set()

    def _warn(self, key, message, category):
        # a warning, not also a log record: it is shown once (logging.captureWarnings routes it to logs)
        if key in self.given:
            return
        self.given.add(key)
        warnings.warn(message, category, stacklevel=4)

    def material(self, values, at_bound, check_range=True, counts=None):
        """``values`` the material, ``at_bound`` the names the projection clipped; the range is
        checked only with ``check_range`` (half way and at the end: on the way, an unfitted field
        may pull a parameter far away and back). ``counts``: ``(sensor values, trained values)``,
        which name the collapse of few sensors when a modulus fell more than tenfold."""
        m = self.config.material
        for name in at_bound:
            self._warn(("bound", name), f"{name} = {values[name]:.6g} is at its bound material.{name}_bounds = "
                       f"{getattr(m, name + '_bounds')}: the data pull it further; widen the bounds or check the "
                       "initial guesses and units", MaterialWarning)
        for name in ("lam", "mu", "rho") if check_range else ():
            p0 = getattr(m, name)
            if getattr(m, "optimize_" + name) and not 1 / RANGE_FACTOR <= values[name] / p0 <= RANGE_FACTOR:
                moved = f"{name} = {values[name]:.6g} has moved more than {RANGE_FACTOR:g}x from its initial guess " \
                        f"{p0:.6g}"
                if name != "rho" and values[name] < p0 and counts is not None and few_values(*counts):
                    advice = (f"on {counts[0]} sensor values for {counts[1]} trained values a field without "
                              "stiffness can pass through every sensor, and the moduli collapse towards 0 (the steel "
                              "plate's waves on 120 sensors: 1 of 6 seeds; benchmarks/README.md, \"Few sensors\"). "
                              "Use more sensors, or compare a run with another training.seed")
                else:
                    advice = f"check the units of the data and of material.{name}, or start from a closer guess"
                self._warn(("range", name), f"{moved}: {advice}", MaterialWarning)

    def wave_speed(self, speed):
        """At the start: ``speed`` the measured waves' phase speed (None: not measured) against the guesses'."""
        m, u = self.config.material, self.config.units
        if speed is None:
            return
        slow, fast = math.sqrt(m.mu / m.rho), math.sqrt((m.lam + 2 * m.mu) / m.rho)
        if slow / SLOW_FACTOR <= speed <= fast * FAST_FACTOR:
            return
        unit = f" {u.length}/{u.time}" if u.length and u.time else ""
        than = f"{speed / fast:.3g} times faster than the pressure" if speed > fast else \
            f"{slow / speed:.3g} times slower than the shear"
        self._warn("speed", f"the sensors' waves travel at about {speed:.3g}{unit} (their wavelength over their "
                   f"period), {than} waves of the initial guesses (lam = {m.lam:.6g}, mu = {m.mu:.6g}, "
                   f"rho = {m.rho:.6g} give shear and pressure speeds {slow:.3g} and {fast:.3g}): the units of the "
                   "data (lengths, times) and of the material must agree (e.g. mm, us, GPa, g/cm^3, or m, s, Pa, "
                   f"kg/m^3); else start from moduli near rho c^2 = {m.rho * speed**2:.3g}", MaterialWarning)

    def held(self, epochs, names, threshold=1.0):
        """At the end of a run whose material is still held (:mod:`pinnlite.training.hold`); ``threshold``
        the misfit its release waits for (:func:`pinnlite.training.hold.release_misfit`)."""
        fit = ("better than a field of zeros" if threshold >= 1 else
               f"to a misfit of {threshold:g} (their rms: 1), which runs on fewer sensor values than trained values "
               "wait for")
        self._warn("held", f"{', '.join(names)} kept their initial guesses for all {epochs} epochs of this run: the "
                   f"network did not yet fit the sensors {fit} (training.hold_material). "
                   "Train longer (training.epochs), or set training.hold_material = false to train the material "
                   "from the first epoch", MaterialWarning)

    def terms(self, row):
        """After the first epoch: log each term divided by its normaliser (all O(1) or below)."""
        norm = self.scales.normalisers()
        parts = [f"{t} {row[t] / norm[t]:.3g}" for t in norm if row.get(t, math.nan) == row.get(t, math.nan)]
        self.log.info("epoch 1: loss terms / their scales: %s", ", ".join(parts))

    def fit(self, row, when):
        """Half way and at the end: warn when the sensors are not fitted (``when`` says which)."""
        if fitted(row, self.scales) is False:
            r = misfit(row, self.scales)
            self._warn(("fit", when), f"{when}: the network fits the sensor data only to {100 * r:.0f}% rms "
                       f"(relative to their rms displacement {self.scales.displacement:.3g}); lam and mu are not "
                       f"reliable. Try more epochs (training.epochs), a larger network (architecture.hidden), or "
                       f"check the length scale (scales.length: this run uses {self.scales.length:.4g})",
                       FitWarning)

    def few_sensors(self, n_values, n_trained, epochs, ended=None):
        """Warn, once, when the sensors hold fewer values (``n_values``) than the run trains
        (``n_trained``) and none are held out: half way through a run that has not settled and at the
        end of one stopped by its epoch budget (``ended`` None; ``epochs`` the epochs run so far), or at
        the end of one that stopped otherwise (``ended``: why), whose error bars are too small too."""
        if not few_values(n_values, n_trained) or self.config.training.validation_fraction > 0:
            return
        advice = ("Use more sensors, or hold out some and stop at their best misfit (training.validation_fraction "
                  "= 0.2, training.patience = 300): on 100 sensors of two waves that calibrated the error bars and "
                  "lowered the errors, on 300 of six waves it doubled them (benchmarks/README.md)")
        if ended is None:
            self._warn("few", f"the material has not settled in {epochs} epochs, on {n_values} "
                       f"sensor values for {n_trained} trained values: with noisy data a network this flexible "
                       "fits the noise, lam and mu follow it the further it trains, and their error bars come out "
                       f"too small. {advice}", FitWarning)
        else:
            self._warn("few", f"this run ended ({ended}) on {n_values} sensor values for {n_trained} trained "
                       "values with none held out: with noisy data a network this flexible takes up part of the "
                       "noise, so the error bars come out too small (100 sensors at 3% noise: lam's 1.3 times, 16 "
                       "of 20 runs within two of them; with 20% held out 12 of 12). "
                       f"{advice}", FitWarning)

    def pde_scale(self, channels, rho):
        """At the end: compare the fitted field's ``rho u_tt`` with the PDE scale ``M U / L^2``.

        ``channels`` (8, n, 2) of the network at collocation points, ``rho`` the
        density. Returns the ratio (about 1 when the scales fit the field).
        """
        s = self.scales
        field = rho * float(np.sqrt(np.mean(channels[6] ** 2)))
        expected = s.modulus * s.displacement / s.length**2
        ratio = field / expected if expected > 0 else math.nan
        self.log.info("PDE scale check: rms(rho u_tt) = %.3g, M U / L^2 = %.3g (ratio %.3g)", field, expected, ratio)
        if ratio == ratio and ratio > 0 and not 1 / RANGE_FACTOR <= ratio <= RANGE_FACTOR:
            self._warn("scale", f"the fitted field's rho u_tt is {ratio:.3g} times the PDE scale M U / L^2 of this "
                       f"run (L = {s.length:.4g}, T = {s.time:.4g}): set scales.time to about "
                       f"{s.time / math.sqrt(ratio):.4g} (or scales.modulus)", ScaleWarning)
        return ratio
