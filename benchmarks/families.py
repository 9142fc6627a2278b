"""Families of plane-wave inverse problems for the accuracy and error-bar benchmarks.

Each family is a physical problem, in its own units, with the initial guesses
and the free parameters a user would give; nothing in it is a solver setting.
``make(name, noise, seed)`` returns ``(data, exact, material_config_changes)``.

========== ====================================================================
family      problem
========== ====================================================================
two_waves   the demo: one P and one S wave in the unit cube over t in [0, 1],
            lam 2, mu 1, rho 1 (fixed), 2000 sensors; guesses lam 4, mu 0.5
six_waves   three P and three S waves in six directions with two wavenumbers,
            same medium and sensors; guesses lam 3, mu 0.6
steel       a steel plate in mm, us, GPa, g/cm^3: 30 x 30 mm over 8 us, lam
            112.4, mu 81.4, rho 7.85 (fixed), P and S waves of 10-15 mm
            wavelength (two to three across the plate), 3000 sensors; guesses
            lam 150, mu 60
tissue      soft tissue in SI units: 4 x 4 cm over 12 ms, mu 3 kPa, lam 2.25 GPa
            and rho 1000 kg/m^3 fixed (shear waves cannot see lam: elastography
            recovers mu), two shear waves of 1.5-2 cm wavelength at ~100 Hz,
            2000 sensors; guess mu 6 kPa
sparse      the demo's waves with 100 sensors only (use it at 3% noise); guesses
            lam 4, mu 0.5
sparse_steel the steel plate's waves with 200 sensors only (use it at 3% noise);
            guesses lam 150, mu 60
sparse_six  the six waves with 300 sensors only (use it at 3% noise); guesses
            lam 3, mu 0.6
traction    the demo's waves with traction data on the four edges, so rho is
            identifiable too: lam, mu and rho all free; guesses lam 3, mu 1.5,
            rho 1.4
========== ====================================================================
"""

import math

from pinnlite.training.problems import Wave, plane_waves

FAMILIES = ("two_waves", "six_waves", "steel", "tissue", "sparse", "sparse_steel", "sparse_six", "traction")


def _spec(name):
    tau = 2 * math.pi
    if name == "two_waves":
        return dict(truth=(2.0, 1.0, 1.0), domain=((0.0, 1.0), (0.0, 1.0), (0.0, 1.0)), waves=None, n_sensors=2000,
                    guess=dict(lam=4.0, mu=0.5), free=("lam", "mu"))
    if name in ("six_waves", "sparse_six"):
        waves = tuple(
            Wave(kind, amp, (math.cos(a), math.sin(a)), k, ph)
            for kind, amp, a, k, ph in (
                ("P", 1.0, 0.3, tau, 0.0), ("P", 0.6, 2.4, 1.5 * tau, 1.0), ("P", 0.4, 4.3, tau, 2.0),
                ("S", 1.0, 1.1, tau, 0.5), ("S", 0.7, 3.3, 1.5 * tau, 1.5), ("S", 0.5, 5.2, tau, 2.5),
            )
        )
        return dict(truth=(2.0, 1.0, 1.0), domain=((0.0, 1.0), (0.0, 1.0), (0.0, 1.0)), waves=waves,
                    n_sensors=2000 if name == "six_waves" else 300, guess=dict(lam=3.0, mu=0.6), free=("lam", "mu"))
    if name in ("steel", "sparse_steel"):
        waves = (Wave("P", 1e-3, (0.8, 0.6), tau / 15.0, 0.0), Wave("S", 1e-3, (-0.6, 0.8), tau / 10.0, 1.0))
        return dict(truth=(112.4, 81.4, 7.85), domain=((0.0, 30.0), (0.0, 30.0), (0.0, 8.0)), waves=waves,
                    n_sensors=3000 if name == "steel" else 200, guess=dict(lam=150.0, mu=60.0), free=("lam", "mu"))
    if name == "tissue":
        waves = (Wave("S", 1e-5, (1.0, 0.2), tau / 0.02, 0.0), Wave("S", 6e-6, (-0.3, 1.0), tau / 0.015, 0.7))
        return dict(truth=(2.25e9, 3e3, 1000.0), domain=((0.0, 0.04), (0.0, 0.04), (0.0, 0.012)), waves=waves,
                    n_sensors=2000, guess=dict(mu=6e3), free=("mu",))
    if name == "sparse":
        return dict(truth=(2.0, 1.0, 1.0), domain=((0.0, 1.0), (0.0, 1.0), (0.0, 1.0)), waves=None, n_sensors=100,
                    guess=dict(lam=4.0, mu=0.5), free=("lam", "mu"))
    if name == "traction":
        return dict(truth=(2.0, 1.0, 1.0), domain=((0.0, 1.0), (0.0, 1.0), (0.0, 1.0)), waves=None, n_sensors=2000,
                    guess=dict(lam=3.0, mu=1.5, rho=1.4), free=("lam", "mu", "rho"), boundary="traction")
    raise ValueError(f"family: expected one of {FAMILIES}, found {name!r}")


def make(name, noise, seed):
    """``(data, exact, changes, free)``: the problem, its exact field, the config changes it implies
    (initial guesses, which parameters are free, the known density) and the free names."""
    s = _spec(name)
    lam, mu, rho = s["truth"]
    kwargs = dict(domain=s["domain"], n_sensors=s["n_sensors"], noise=noise, rng=seed)
    if s["waves"] is not None:
        kwargs["waves"] = s["waves"]
    if "boundary" in s:
        kwargs.update(boundary=s["boundary"], n_boundary=400)
    data, exact = plane_waves(lam, mu, rho, **kwargs)
    changes = {"material.rho": rho, "material.lam": lam, "material.mu": mu}
    changes.update({f"material.{k}": v for k, v in s["guess"].items()})
    changes.update({f"material.optimize_{n}": n in s["free"] for n in ("lam", "mu", "rho")})
    return data, exact, changes, s["free"]
