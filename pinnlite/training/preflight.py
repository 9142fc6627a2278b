"""What a run refuses, or warns of, in its data before the first epoch.

:func:`check_data` holds the data against the config: a wrong type, fields set
after the data were made, settings the data do not allow (adaptive resampling
of given collocation points), free material parameters that nothing in the
data determines (no sensors), and a held-out share larger than the sensors
allow. It raises what :meth:`pinnlite.training.trainer.Trainer.train` raises,
so that the CLI can check before it writes anything.
"""

import dataclasses
import warnings

from pinnlite.errors import InputError
from pinnlite.training import validation
from pinnlite.training.config import ConfigError
from pinnlite.training.data import TrainingData


class IdentifiabilityWarning(UserWarning):
    """lam, mu and rho are all free and nothing fixes their common scale."""


def check_data(config, data, free, known=None, warn=True, stacklevel=4):
    """Raise the InputError or ConfigError for ``data`` under ``config`` with the ``free`` material
    parameters; with ``warn``, give the :class:`IdentifiabilityWarning` of a scale nothing fixes.

    ``known``: the data the run holds already, which are not checked again field by field.
    """
    if not isinstance(data, TrainingData):
        raise InputError(f"data: expected a TrainingData, found {type(data).__name__}")
    if data is not known:  # checked again: its fields may have been set since it was made
        try:
            dataclasses.replace(data)  # a copy made through __init__: every field's check once more
        except InputError as e:
            raise InputError(f"data.{e} (a field set after the TrainingData was made?)") from None
    s = config.sampling
    if data.collocation is None and s.n_collocation == 0:
        raise ConfigError("sampling.n_collocation: expected > 0 when the data give no collocation points, found 0")
    if data.collocation is not None and len(data.collocation) == 0:  # the epoch is cut into batches of them
        raise InputError("data.collocation: expected at least one point (or None to sample them), found 0")
    if data.collocation is not None and s.adaptive is not None:
        # the run trains on the data's points (a body force is known only there), whatever it resampled
        why = ("the body force is known only at the data's collocation points" if data.body_force is not None
               else "the data give the collocation points, which the run uses as they are (pass "
                    "data.collocation = None to have them sampled)")
        raise ConfigError(f"sampling.adaptive: {why}, so adaptive resampling is not possible; found {s.adaptive!r}")
    m, t = config.material, config.training
    no_sensors = data.sensor_points is None or len(data.sensor_points) == 0
    if free and (no_sensors or config.loss_weights.data == 0):
        why = ("the data hold no sensor displacements" if no_sensors
               else "the data term has weight 0 (loss_weights.data)")
        flags = ", ".join(f"material.optimize_{n} = false" for n in free)
        raise ConfigError(
            f"material: {' and '.join(free)} {'is' if len(free) == 1 else 'are'} free, but {why}: "
            f"without measured displacements the network can satisfy the wave equation, the boundary "
            f"and the initial conditions for any value of {', '.join(free)}, so nothing determines "
            f"{'it' if len(free) == 1 else 'them'}. Add sensor data (sensor_points, sensor_values) "
            f"or fix the parameters ({flags})."
        )
    if t.validation_fraction:
        validation.split(data, t.validation_fraction, t.seed)  # enough sensors for both sides
    if warn and m.optimize_lam and m.optimize_mu and m.optimize_rho and data.traction_points is None \
            and data.body_force is None:
        msg = (
            "lam, mu and rho are all free, but the data hold no traction and no body force: "
            "displacements determine only lam/rho and mu/rho. Fix rho (material.optimize_rho = false) "
            "or add traction data."
        )
        warnings.warn(msg, IdentifiabilityWarning, stacklevel=stacklevel)
