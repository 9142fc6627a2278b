"""Run configuration: one tree of dataclasses, validated, lossless in JSON and TOML.

A :class:`Config` holds everything a training run needs besides the problem data:
the network architecture, the training loop, the optimizer and its learning-rate
schedule, the loss weights, the material parameters to invert for, the
collocation sampling, the nondimensionalisation scales and the checkpointing.
Each section is a small mutable dataclass of
:mod:`~pinnlite.training.config_sections`, where the comment on each field is the
user's reference for it (meaning, default and allowed values); the text of the
two file formats is :mod:`~pinnlite.training.config_format`. Everything is
imported from here.

Workflow::

    cfg = Config.load("run.toml")                     # or Config.from_dict({...})
    cfg = cfg.replace(**{"optimizer.lr": 1e-4})       # a new, validated Config
    cfg.save("run.json")

:meth:`Config.validate` checks every field strictly (an integer field rejects
``2.5`` and ``True``; a float field accepts an int and stores it as a float; a
list field accepts a tuple and stores a list) and the cross-field rules, and
raises :class:`ConfigError` with the message format of :mod:`pinnlite.core.checks`,
``<dotted field>: expected <rule>, found <value>``. It never repairs a bad value
silently. Assigning a name that is not a field (``cfg.training.epocs = 10``)
raises :class:`AttributeError` naming the closest field.

:func:`first_order_steps` is the number of steps the learning-rate schedule
counts, shared by the cross-field rules and the trainer.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path

from pinnlite.core import checks
from pinnlite.training import config_format
from pinnlite.training.config_sections import (
    ArchitectureConfig,
    CheckpointConfig,
    ConfigError,
    LossWeightsConfig,
    MaterialConfig,
    OptimizerConfig,
    SamplingConfig,
    ScalesConfig,
    ScheduleConfig,
    Section,
    TrainingConfig,
    UnitsConfig,
    section_field,
    SECOND_ORDER,
)

__all__ = [
    "ConfigError",
    "ArchitectureConfig",
    "TrainingConfig",
    "OptimizerConfig",
    "ScheduleConfig",
    "LossWeightsConfig",
    "MaterialConfig",
    "SamplingConfig",
    "ScalesConfig",
    "CheckpointConfig",
    "UnitsConfig",
    "Config",
    "first_order_steps",
    "ConfigWarning",
    "ignored_settings",
]


@dataclass
class Config(Section):
    """The configuration of one run: a name and one dataclass per section.

    Build it with keyword arguments, :meth:`from_dict`, :meth:`load` (``.json`` or
    ``.toml``) or :meth:`replace`; check it with :meth:`validate` (done by every
    constructor from data and by every writer).
    """

    #: Name of the run (used in logs and checkpoint file names); a non-empty string.
    name: str = field(default="run", metadata={
        "check": partial(checks.string, nonempty=True, error=ConfigError)})
    #: The network.
    architecture: ArchitectureConfig = section_field(ArchitectureConfig)
    #: The training loop.
    training: TrainingConfig = section_field(TrainingConfig)
    #: The optimizer.
    optimizer: OptimizerConfig = section_field(OptimizerConfig)
    #: The learning-rate schedule.
    schedule: ScheduleConfig = section_field(ScheduleConfig)
    #: The loss weights.
    loss_weights: LossWeightsConfig = section_field(LossWeightsConfig)
    #: The material parameters.
    material: MaterialConfig = section_field(MaterialConfig)
    #: The collocation sampling.
    sampling: SamplingConfig = section_field(SamplingConfig)
    #: The nondimensionalisation.
    scales: ScalesConfig = section_field(ScalesConfig)
    #: The checkpointing.
    checkpoint: CheckpointConfig = section_field(CheckpointConfig)
    #: The names of the user's units (labels only).
    units: UnitsConfig = section_field(UnitsConfig)

    # -- validation ---------------------------------------------------------------

    def validate(self):
        """Check every field and the cross-field rules; normalise values in place.

        Returns
        -------
        Config
            ``self`` (ints in float fields become floats, tuples become lists).

        Raises
        ------
        ConfigError
            On the first violation, naming the dotted field, the rule and the value.
        """
        self._validate("")
        self._check_cross()
        return self

    def _check_cross(self):
        opt, train, sched, mat, samp = self.optimizer, self.training, self.schedule, self.material, self.sampling
        if opt.nesterov and opt.momentum <= 0:
            checks.fail("optimizer.nesterov", f"False when optimizer.momentum = {opt.momentum!r} "
                        "(Nesterov momentum needs momentum > 0)", opt.nesterov, ConfigError)
        if sched.kind == "cosine":
            # The cosine schedule warms up over warmup_steps and decays until total
            # steps, so the warmup cannot end after the decay (pinnlite.optim.schedules.Cosine).
            if sched.total_steps is None:
                total, how = _first_order(self, None)
                what = f"the run's {total} first-order steps ({how})"
            else:
                total, what = sched.total_steps, f"schedule.total_steps = {sched.total_steps}"
            if sched.warmup_steps > total:
                checks.fail("schedule.warmup_steps", f"<= {what} for a cosine schedule",
                            sched.warmup_steps, ConfigError)
        for name in ("lam", "mu", "rho"):
            bounds, value = getattr(mat, name + "_bounds"), getattr(mat, name)
            if bounds is not None and not bounds[0] <= value <= bounds[1]:
                checks.fail(f"material.{name}_bounds",
                            f"[lo, hi] containing material.{name} = {value!r}", bounds, ConfigError)
        if mat.field == "network":
            if mat.optimize_rho:
                checks.fail("material.optimize_rho", "false with material.field = 'network' (the maps are "
                            "determined up to the density's scale only when rho is known)", True, ConfigError)
            if not (mat.optimize_lam or mat.optimize_mu):
                checks.fail("material.field", "'constant' when neither lam nor mu is trained (a map is made "
                            "of the free ones)", mat.field, ConfigError)
            for name in ("lam", "mu"):
                if getattr(mat, name + "_bounds") is not None:
                    checks.fail(f"material.{name}_bounds", "None with material.field = 'network' (a map "
                                "is positive by construction)", getattr(mat, name + "_bounds"), ConfigError)
            if opt.kind == "lm" or (switches(self) and opt.second_order == "lm"):
                checks.fail("optimizer.second_order" if opt.kind != "lm" else "optimizer.kind",
                            "not 'lm' with material.field = 'network' (Levenberg-Marquardt needs the "
                            "residuals' Jacobian, which covers constant material only)", "lm", ConfigError)
        if train.monitor == "validation" and train.validation_fraction == 0:
            checks.fail("training.monitor", "'loss' or None when training.validation_fraction = 0 "
                        "(there is no validation misfit to follow)", train.monitor, ConfigError)
        if samp.adaptive == "rar" and samp.rar_k > samp.n_candidates:
            # RAR picks rar_k distinct candidates (pinnlite.training.sampling.rar).
            checks.fail("sampling.rar_k", f"<= sampling.n_candidates = {samp.n_candidates} "
                        "with adaptive 'rar'", samp.rar_k, ConfigError)

    # -- dict ---------------------------------------------------------------------

    def to_dict(self):
        """The validated tree as a nested dict of JSON types (None kept).

        Validates ``self`` first (normalising it in place, see :meth:`validate`), so
        an invalid tree raises instead of being written.

        Returns
        -------
        dict
            ``{"name": str, "<section>": {"<field>": value, ...}, ...}``.
        """
        return self.validate()._plain()

    @classmethod
    def from_dict(cls, data):
        """A validated Config from a nested mapping; missing keys take their defaults.

        Raises
        ------
        ConfigError
            For keys unknown at any level (all named, with their dotted path) or
            any invalid value.
        """
        unknown = []
        cfg = cls._build(_upgrade(data), "", unknown)
        if unknown:
            names = [path + _suggestion(path, known) for path, known in unknown]
            plural = "s" if len(names) > 1 else ""
            raise ConfigError(f"unknown key{plural} " + ", ".join(names))
        return cfg.validate()

    # -- text and files -------------------------------------------------------------

    def to_json(self, path=None):
        """The config as JSON text (written to ``path`` too when given)."""
        return config_format.write(self.to_dict(), "json", path)

    @classmethod
    def from_json(cls, path_or_text):
        """A validated Config from JSON text or a JSON file.

        A ``str`` that starts with ``{`` or contains a newline is text, any other
        ``str`` or a path-like object is a file name. A syntax error names the file.
        """
        return cls.from_dict(config_format.read(path_or_text, "json"))

    def to_toml(self, path=None):
        """The config as TOML text (written to ``path`` too when given).

        ``name`` comes first, then one ``[section]`` table per section; None fields
        are omitted (TOML has no null; they read back as their default, None) and
        lists are written inline.
        """
        return config_format.write(self.to_dict(), "toml", path)

    @classmethod
    def from_toml(cls, path_or_text):
        """A validated Config from TOML text or a TOML file.

        A ``str`` that contains a newline or ``=``, starts with ``[`` or ``#`` or is
        blank is text; any other ``str`` or a path-like object is a file name. A
        syntax error names the file. Reading needs Python >= 3.11 (``tomllib``) or
        the ``tomli`` package.
        """
        return cls.from_dict(config_format.read(path_or_text, "toml"))

    @classmethod
    def load(cls, path):
        """A validated Config from a ``.json`` or ``.toml`` file (chosen by the suffix); a field's
        error names the file."""
        tree = config_format.read(Path(path), config_format.format_of(path))
        try:
            return cls.from_dict(tree)
        except ConfigError as e:
            raise ConfigError(f"{e} (in {path})") from None

    def save(self, path):
        """Write the config to a ``.json`` or ``.toml`` file (chosen by the suffix)."""
        kind = config_format.format_of(path)  # before validating: a bad name writes nothing
        config_format.write(self.to_dict(), kind, path)

    # -- edits ----------------------------------------------------------------------

    def replace(self, **changes):
        """A new validated Config with some fields changed; ``self`` is left untouched.

        Parameters
        ----------
        **changes
            ``"section.field": value`` (pass them as ``**{"optimizer.lr": 1e-4}``),
            ``name=value``, or ``section=<section dataclass>`` to swap a whole section.

        Returns
        -------
        Config
        """
        sections = {f.name: f.metadata["section"] for f in fields(self) if "section" in f.metadata}
        top, nested, unknown = {}, {}, []
        for key, value in changes.items():
            section, dot, name = key.partition(".")
            value = copy.deepcopy(value)
            if not dot and section in self.__dataclass_fields__:
                top[section] = value
            elif dot and section in sections and name in sections[section].__dataclass_fields__:
                nested.setdefault(section, {})[name] = value
            else:
                unknown.append(key)
        if unknown:
            known = [f"{s}.{n}" for s, cls in sections.items() for n in cls.__dataclass_fields__]
            known += [n for n in self.__dataclass_fields__ if n not in sections]
            names = [key + _suggestion(key, known) for key in unknown]
            plural = "s" if len(unknown) > 1 else ""
            raise ConfigError(f"unknown key{plural} " + ", ".join(names))
        new = dataclasses.replace(copy.deepcopy(self), **top)
        for section, values in nested.items():
            setattr(new, section, dataclasses.replace(getattr(new, section), **values))
        return new.validate()


# -- the schedule's step count ---------------------------------------------------------


# field names of other libraries' configs, which no spelling distance leads to
_OTHER_NAMES = {"learning_rate": "lr", "lr_material": "material_lr", "iterations": "epochs", "steps": "epochs",
                "layers": "hidden", "num_domain": "n_collocation"}


def _suggestion(path, known):
    """`` (did you mean X?)`` for the unknown dotted key ``path`` among the dotted keys ``known``, or ""."""
    section, _, name = path.rpartition(".")
    if name in _OTHER_NAMES:
        other = f"{section}.{_OTHER_NAMES[name]}" if section else _OTHER_NAMES[name]
        if other in known:
            return f" (did you mean {other}?)"
    close = difflib.get_close_matches(path, known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def first_order_steps(config, n_collocation=None):
    """The optimizer steps of a run's first-order phase: the steps its schedule counts.

    The first-order optimizer runs ``E`` epochs (``optimizer.switch_after`` when the
    run switches to a second-order optimizer, else ``training.epochs``; 0 when
    ``optimizer.kind`` is itself second-order) of ``B`` steps each, one per
    mini-batch::

        B = ceil(n_collocation / training.batch_size)   if batch_size < n_collocation
        B = 1                                           otherwise (full batch)

    This is ``total_steps`` of a cosine schedule when ``schedule.total_steps`` is
    None, and the bound of its ``warmup_steps``.

    Parameters
    ----------
    config : Config
        Read as it is (validate it first).
    n_collocation : int, optional
        Collocation points per epoch (>= 0); default ``config.sampling.n_collocation``.
        The trainer passes the number of collocation points of its data.

    Returns
    -------
    int
        ``max(1, E * B)``: a schedule needs a step even in a run of 0 epochs.
    """
    return _first_order(config, n_collocation)[0]


def _first_order(config, n_collocation):
    """``(steps, how)``: :func:`first_order_steps` and how it was counted, for messages."""
    if not isinstance(config, Config):
        checks.fail("config", "a pinnlite Config", config)
    opt, train = config.optimizer, config.training
    if n_collocation is None:
        n, n_name = config.sampling.n_collocation, "sampling.n_collocation"
    else:
        n, n_name = checks.integer("n_collocation", n_collocation, low=0), "n_collocation"
    if opt.kind in SECOND_ORDER:
        epochs, how = 0, f"optimizer.kind = {opt.kind!r}: 0"
    elif not switches(config):
        epochs, how = train.epochs, f"training.epochs = {train.epochs}"
    elif opt.switch_after >= train.epochs:
        epochs, how = train.epochs, f"training.epochs = {train.epochs} (<= optimizer.switch_after)"
    else:
        epochs, how = opt.switch_after, f"optimizer.switch_after = {opt.switch_after}"
    size = train.batch_size
    if size is None or size >= n:
        batches, how = 1, how + " epochs of 1 full batch"
    else:
        batches = -(-n // size)  # ceil(n / size) in integers: exact for any size
        how += (f" epochs of {batches} mini-batches, "
                f"ceil({n_name} = {n} / training.batch_size = {size})")
    if epochs * batches < 1:
        how += ", at least 1"
    return max(1, epochs * batches), how


# what may change between the sessions of one run (Trainer.train again, pinnlite resume --set):
# these sections and these training fields; the others are baked into its state (the network,
# the material parametrisation, the collocation points, the scales, the split of the sensors)
RESUMABLE = ("optimizer", "schedule", "loss_weights", "checkpoint")
RESUMABLE_TRAINING = ("epochs", "log_every", "threads", "target_loss", "patience", "settle_epochs", "settle_tolerance",
                      "settle_fraction")


def frozen_changes(started, now):
    """The dotted fields, outside :data:`RESUMABLE` and :data:`RESUMABLE_TRAINING`, in which the
    config ``now`` differs from ``started`` (both validated): ``[(key, old, new), ...]``."""
    a, b = started.to_dict(), now.to_dict()
    out = []
    for section, fields_ in a.items():
        if section in RESUMABLE or not isinstance(fields_, dict):  # the name: a label only
            continue
        for name, old in fields_.items():
            new = b[section][name]
            if old != new and not (section == "training" and name in RESUMABLE_TRAINING):
                out.append((f"{section}.{name}", old, new))
    return out


class ConfigWarning(UserWarning):
    """A setting that the run ignores (:func:`ignored_settings`)."""


def ignored_settings(config):
    """Messages for the settings of ``config`` that would change nothing in its run.

    Each names a field set away from its default whose effect another field
    turns off, and what to set instead: the material map's penalty on a
    uniform material, a penalty of weight 0, a weight without a penalty. The
    trainer warns with them when a run starts (:class:`ConfigWarning`); they
    are not errors, so that a config moved between a map and a uniform
    material keeps loading.
    """
    m, out = config.material, []
    if m.field_penalty != "none" and m.field == "constant":
        out.append(f"material.field_penalty = {m.field_penalty!r} does nothing with material.field = 'constant' "
                   "(a uniform material has no gradient to penalise); set material.field = 'network' for a map")
    elif m.field_penalty != "none" and m.field_penalty_weight == 0:
        out.append(f"material.field_penalty = {m.field_penalty!r} does nothing with material.field_penalty_weight "
                   "= 0; set a weight > 0 (the other terms of the loss are O(1): try 1e-4)")
    elif m.field_penalty == "none" and m.field_penalty_weight != 0:
        out.append(f"material.field_penalty_weight = {m.field_penalty_weight!r} does nothing with "
                   "material.field_penalty = 'none'; set material.field_penalty to 'smooth' or 'tv'")
    return out


def switches(config):
    """True when the run switches from a first-order to a second-order optimizer."""
    opt = config.optimizer
    return opt.kind not in SECOND_ORDER and opt.second_order != "none"


def _upgrade(data):
    """``data`` with the fields of pinnlite 0.1 configs in today's form (a shallow copy when changed).

    0.1 had ``optimizer.lbfgs_after``, the epoch of a switch to L-BFGS or None
    for none; it reads as ``second_order = "lbfgs"`` and ``switch_after``, or
    ``second_order = "none"``.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("optimizer"), Mapping):
        return data
    opt = dict(data["optimizer"])
    if "lbfgs_after" not in opt:
        return data
    after = opt.pop("lbfgs_after")
    if after is None:
        opt.setdefault("second_order", "none")
    else:
        opt.setdefault("second_order", "lbfgs")
        opt.setdefault("switch_after", after)
    return {**data, "optimizer": opt}
