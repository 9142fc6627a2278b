"""Tests of pinnlite.training.config (with its sections and file formats): defaults,
strict validation, cross-field rules, the first-order step count, unknown keys and
misspelt attributes, and lossless round trips through dict, JSON and TOML."""

import copy
import dataclasses
import inspect
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pinnlite.training.config_format as config_format
from pinnlite.core.activations import ACTIVATIONS
from pinnlite.errors import InputError, describe
from pinnlite.optim.schedules import SCHEDULES, get_schedule
from pinnlite.training.config import (
    ArchitectureConfig,
    CheckpointConfig,
    Config,
    ConfigError,
    MaterialConfig,
    OptimizerConfig,
    SamplingConfig,
    ScalesConfig,
    ScheduleConfig,
    TrainingConfig,
    first_order_steps,
    ignored_settings,
)

try:  # an independent TOML reader to check the writer against
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

# The defaults, written out from the specification (not from the code).
SPEC_DEFAULTS = {
    "name": "run",
    "architecture": {"hidden": "auto", "activation": "tanh", "dtype": "float64",
                     "init": "glorot_normal", "pressure": "auto"},
    "training": {"epochs": 10000, "batch_size": None, "seed": 0, "log_every": 100, "threads": None,
                 "target_loss": None, "error_bars": True, "validation_fraction": 0.0, "monitor": None,
                 "patience": None, "settle_epochs": 50, "settle_tolerance": 1e-4, "settle_fraction": 0.2,
                 "hold_material": True},
    "optimizer": {"kind": "adam", "lr": 3e-3, "material_lr": None, "momentum": 0.0,
                  "nesterov": False, "b1": 0.9, "b2": 0.999, "eps": 1e-8, "weight_decay": 0.0,
                  "second_order": "bfgs", "switch_after": 0, "lbfgs_history": 20, "lbfgs_max_linesearch": 25,
                  "lbfgs_tolerance_grad": 1e-9, "lbfgs_tolerance_change": 1e-12,
                  "bfgs_variant": "ssbroyden", "bfgs_initial_step": "quadratic", "bfgs_max_linesearch": 25, "bfgs_tolerance_grad": 1e-12,
                  "bfgs_tolerance_change": 1e-15, "bfgs_max_size": 5000, "lm_damping": 1e-3, "lm_max_tries": 30,
                  "lm_tolerance_grad": 1e-14, "lm_tolerance_change": 1e-15},
    "schedule": {"kind": "constant", "decay_rate": 0.9, "decay_steps": 1000, "staircase": False,
                 "step_size": 1000, "milestones": [1000], "gamma": 0.5, "warmup_steps": 0,
                 "total_steps": None, "final_lr": 0.0, "plateau": False, "plateau_factor": 0.5,
                 "plateau_patience": 100, "plateau_threshold": 1e-4, "plateau_cooldown": 0,
                 "plateau_min_factor": 1e-4},
    "loss_weights": {"pde": 1.0, "boundary": 1.0, "traction": 1.0, "initial": 1.0,
                     "initial_velocity": 1.0, "data": 1.0, "adaptive": False,
                     "adaptive_every": 100, "adaptive_alpha": 0.1},
    "material": {"lam": 1.0, "mu": 1.0, "rho": 1.0, "optimize_lam": True, "optimize_mu": True,
                 "optimize_rho": False, "lam_bounds": None, "mu_bounds": None,
                 "rho_bounds": None, "field": "constant", "field_hidden": [16, 16],
                 "field_activation": "tanh", "field_penalty": "none", "field_penalty_weight": 0.0},
    "sampling": {"strategy": "lhs", "n_collocation": 2000, "adaptive": None,
                 "adaptive_every": 1000, "n_candidates": 20000, "rar_k": 100, "rad_k": 1.0,
                 "rad_c": 1.0},
    "scales": {"length": None, "time": None, "displacement": None, "modulus": None,
               "density": None},
    "checkpoint": {"directory": None, "interval": 0, "every_seconds": 600.0, "max_failures": 3,
                   "keep_last": 3, "keep_best": True},
    "units": {"length": None, "time": None, "displacement": None, "modulus": None, "density": None},
}


def nested(dotted, value):
    """{"a": {"b": value}} from "a.b" (or {"a": value} from "a")."""
    head, _, tail = dotted.partition(".")
    return {head: nested(tail, value) if tail else value}


def without_none(d):
    """What a TOML file holds: the dict with None values dropped (TOML has no null)."""
    if isinstance(d, dict):
        return {k: without_none(v) for k, v in d.items() if v is not None}
    return d


def assert_same_types(a, b):
    """Equal trees with equal leaf types (1 == 1.0 would hide an int/float mix-up)."""
    assert a == b
    if isinstance(a, dict):
        for k in a:
            assert_same_types(a[k], b[k])
    elif isinstance(a, list):
        for x, y in zip(a, b):
            assert_same_types(x, y)
    else:
        assert type(a) is type(b), (a, b)


# -- defaults ----------------------------------------------------------------------


def test_defaults_match_spec_and_validate():
    cfg = Config()
    assert cfg.validate() is cfg
    assert_same_types(cfg.to_dict(), SPEC_DEFAULTS)


@pytest.mark.parametrize("build", [
    lambda: Config.from_dict({}),
    lambda: Config.from_json("{}"),
    lambda: Config.from_toml(""),
    lambda: Config.from_dict({"optimizer": {}, "scales": {}}),
])
def test_empty_input_gives_defaults(build):
    assert build() == Config()


def test_missing_keys_take_defaults():
    cfg = Config.from_dict({"training": {"epochs": 7}, "material": {"rho": 2.5}})
    expected = json.loads(json.dumps(SPEC_DEFAULTS))
    expected["training"]["epochs"] = 7
    expected["material"]["rho"] = 2.5
    assert_same_types(cfg.to_dict(), expected)


def test_instances_do_not_share_lists():
    a, b = Config(), Config()
    a.material.field_hidden.append(8)
    assert b.material.field_hidden == [16, 16]


# -- random valid configs --------------------------------------------------------------

# Floats over the whole finite range: subnormals, huge values, many digits.
POS = st.floats(min_value=0.0, exclude_min=True, allow_nan=False, allow_infinity=False)
NONNEG = st.floats(min_value=0.0, allow_nan=False, allow_infinity=False)
UNIT_CO = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)  # [0, 1)
UNIT_OC = st.floats(min_value=0.0, max_value=1.0, exclude_min=True)  # (0, 1]
UNIT_OO = st.floats(min_value=0.0, max_value=1.0, exclude_min=True, exclude_max=True)
BIG = 10**12


def ints(low):
    return st.integers(low, BIG)


def maybe(strategy):
    return st.none() | strategy


def steps_by_hand(kind, epochs, second_order, switch_after, batch_size, n_collocation):
    """The first-order steps, written out from the specification: epochs before the switch
    to the second-order optimizer (none when the run starts with one) times mini-batches per
    epoch, at least 1."""
    if kind in ("lbfgs", "bfgs", "lm"):
        first_order_epochs = 0
    elif second_order == "none":
        first_order_epochs = epochs
    else:
        first_order_epochs = min(epochs, switch_after)
    if batch_size is None or batch_size >= n_collocation:
        batches = 1
    else:
        batches = (n_collocation + batch_size - 1) // batch_size
    return max(1, first_order_epochs * batches)


@st.composite
def valid_dicts(draw):
    epochs = draw(ints(0))
    kind = draw(st.sampled_from(["sgd", "adam", "adamw", "lbfgs", "bfgs", "lm"]))
    second_order = draw(st.sampled_from(["lbfgs", "bfgs", "lm", "none"]))
    switch_after = draw(ints(0))
    batch_size = draw(maybe(ints(1)))
    n_collocation = draw(ints(0))
    momentum = draw(UNIT_CO)
    sched_kind = draw(st.sampled_from(["constant", "exponential", "step", "multistep", "cosine"]))
    total_steps = draw(maybe(ints(1)))
    if sched_kind == "cosine":
        bound = (steps_by_hand(kind, epochs, second_order, switch_after, batch_size, n_collocation)
                 if total_steps is None else total_steps)
        warmup = draw(st.integers(0, bound))
    else:
        warmup = draw(ints(0))
    adaptive = draw(st.sampled_from([None, "rar", "rad"]))
    n_candidates = draw(ints(1))
    fraction = draw(UNIT_CO)
    material = {"optimize_lam": draw(st.booleans()), "optimize_mu": draw(st.booleans()),
                "optimize_rho": draw(st.booleans())}
    for name in ("lam", "mu", "rho"):
        lo, value, hi = sorted(draw(st.tuples(POS, POS, POS)))
        if lo < hi and draw(st.booleans()):
            material[name], material[name + "_bounds"] = value, [lo, hi]
        else:
            material[name], material[name + "_bounds"] = draw(POS), None
    material.update(field_hidden=draw(st.lists(st.integers(1, 64), min_size=1, max_size=3)),
                    field_activation=draw(st.sampled_from(sorted(ACTIVATIONS))),
                    field_penalty=draw(st.sampled_from(["none", "smooth", "tv"])), field_penalty_weight=draw(NONNEG))
    # a map needs lam or mu free, rho fixed, no bounds on lam and mu, and no Levenberg-Marquardt
    mappable = (material["optimize_lam"] or material["optimize_mu"]) and not material["optimize_rho"] \
        and material["lam_bounds"] is None and material["mu_bounds"] is None and "lm" not in (kind, second_order)
    material["field"] = "network" if mappable and draw(st.booleans()) else "constant"
    return {
        "name": draw(st.text(min_size=1, max_size=12)),
        "architecture": {
            "hidden": draw(st.lists(st.integers(1, 4096), min_size=1, max_size=8)),
            "activation": draw(st.sampled_from(sorted(ACTIVATIONS))),
            "dtype": draw(st.sampled_from(["float64", "float32"])),
            "init": draw(st.sampled_from(["glorot_normal", "glorot_uniform"])),
            "pressure": draw(st.sampled_from(["auto", False, True])),  # maps take either form
        },
        "training": {"epochs": epochs, "batch_size": batch_size, "seed": draw(ints(0)),
                     "log_every": draw(ints(1)), "threads": draw(maybe(st.integers(1, 256))),
                     "target_loss": draw(maybe(POS)), "error_bars": draw(st.booleans()),
                     "validation_fraction": fraction,
                     "monitor": draw(st.sampled_from([None, "loss"] + (["validation"] if fraction else []))),
                     "patience": draw(maybe(ints(1))), "settle_epochs": draw(ints(0)),
                     "settle_tolerance": draw(POS), "settle_fraction": draw(UNIT_CO),
                     "hold_material": draw(st.booleans())},
        "optimizer": {
            "kind": kind, "lr": draw(POS), "material_lr": draw(maybe(POS)), "momentum": momentum,
            "nesterov": draw(st.booleans()) if momentum > 0 else False,
            "b1": draw(UNIT_CO), "b2": draw(UNIT_CO), "eps": draw(POS),
            "weight_decay": draw(NONNEG),
            "second_order": second_order, "switch_after": switch_after,
            "lbfgs_history": draw(ints(1)), "lbfgs_max_linesearch": draw(ints(1)),
            "lbfgs_tolerance_grad": draw(NONNEG), "lbfgs_tolerance_change": draw(NONNEG),
            "bfgs_variant": draw(st.sampled_from(["ssbroyden", "ssbfgs", "bfgs"])),
            "bfgs_initial_step": draw(st.sampled_from(["quadratic", "unit"])),
            "bfgs_max_linesearch": draw(ints(1)), "bfgs_tolerance_grad": draw(NONNEG),
            "bfgs_tolerance_change": draw(NONNEG), "bfgs_max_size": draw(ints(1)), "lm_damping": draw(POS),
            "lm_max_tries": draw(ints(1)),
            "lm_tolerance_grad": draw(NONNEG), "lm_tolerance_change": draw(NONNEG),
        },
        "schedule": {
            "kind": sched_kind, "decay_rate": draw(UNIT_OC), "decay_steps": draw(ints(1)),
            "staircase": draw(st.booleans()), "step_size": draw(ints(1)),
            "milestones": sorted(draw(st.lists(ints(1), min_size=1, max_size=5, unique=True))),
            "gamma": draw(UNIT_OC),
            "warmup_steps": warmup, "total_steps": total_steps, "final_lr": draw(NONNEG),
            "plateau": draw(st.booleans()), "plateau_factor": draw(UNIT_OO),
            "plateau_patience": draw(ints(0)), "plateau_threshold": draw(NONNEG),
            "plateau_cooldown": draw(ints(0)), "plateau_min_factor": draw(UNIT_OC),
        },
        "loss_weights": {
            **{t: draw(NONNEG) for t in ("pde", "boundary", "traction", "initial",
                                         "initial_velocity", "data")},
            "adaptive": draw(st.booleans()), "adaptive_every": draw(ints(1)),
            "adaptive_alpha": draw(UNIT_OC),
        },
        "material": material,
        "sampling": {
            "strategy": draw(st.sampled_from(["uniform", "lhs", "halton"])),
            "n_collocation": n_collocation, "adaptive": adaptive,
            "adaptive_every": draw(ints(1)), "n_candidates": n_candidates,
            "rar_k": draw(st.integers(1, n_candidates)) if adaptive == "rar" else draw(ints(1)),
            "rad_k": draw(NONNEG), "rad_c": draw(NONNEG),
        },
        "scales": {k: draw(maybe(POS)) for k in ("length", "time", "displacement", "modulus",
                                                  "density")},
        "checkpoint": {"directory": draw(maybe(st.text(min_size=1, max_size=12))),
                       "interval": draw(ints(0)), "every_seconds": draw(NONNEG),
                       "max_failures": draw(ints(1)), "keep_last": draw(ints(1)),
                       "keep_best": draw(st.booleans())},
        "units": {k: draw(maybe(st.text(min_size=1, max_size=8))) for k in ("length", "time", "displacement",
                                                                             "modulus", "density")},
    }


PROPERTY = settings(max_examples=50, deadline=None)


@PROPERTY
@given(valid_dicts())
def test_dict_round_trip(d):
    cfg = Config.from_dict(d)
    # Every key of the input lands in its field, unchanged in value and type.
    assert_same_types(cfg.to_dict(), d)
    assert Config.from_dict(cfg.to_dict()) == cfg


@PROPERTY
@given(valid_dicts())
def test_to_dict_is_a_copy_equal_to_asdict(d):
    cfg = Config.from_dict(d)
    out = cfg.to_dict()
    assert out == dataclasses.asdict(cfg)  # the standard library's deep conversion, an independent reference
    out["architecture"]["hidden"].append(7)
    if out["material"]["mu_bounds"] is not None:
        out["material"]["mu_bounds"][0] = -1.0
    assert cfg.to_dict() == dataclasses.asdict(cfg) != out  # nothing the caller changes reaches the config


@PROPERTY
@given(valid_dicts())
def test_json_round_trip(d):
    cfg = Config.from_dict(d)
    text = cfg.to_json()
    assert json.loads(text) == d
    back = Config.from_json(text)
    assert back == cfg
    assert_same_types(back.to_dict(), d)


@PROPERTY
@given(valid_dicts())
def test_toml_round_trip(d):
    cfg = Config.from_dict(d)
    text = cfg.to_toml()
    # An independent TOML reader sees the same tree, less the None fields.
    assert tomllib.loads(text) == without_none(d)
    back = Config.from_toml(text)
    assert back == cfg
    assert_same_types(back.to_dict(), d)


TRICKY_FLOATS = [0.1 + 0.2, 1 / 3, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                 123456789.12345679, 1e16, 1e22, 9007199254740993.0, 2.0**-1074 * 3, 1e-5]


@pytest.mark.parametrize("x", TRICKY_FLOATS)
def test_floats_are_bit_exact_through_both_formats(x):
    cfg = Config().replace(**{"optimizer.lr": x, "scales.length": x, "loss_weights.data": x})
    for back in (Config.from_json(cfg.to_json()), Config.from_toml(cfg.to_toml())):
        for got in (back.optimizer.lr, back.scales.length, back.loss_weights.data):
            assert got.hex() == x.hex()
    assert f"lr = {x!r}\n" in cfg.to_toml()


# -- output format -----------------------------------------------------------------------


def test_toml_layout():
    cfg = Config().replace(**{"optimizer.material_lr": 0.25, "architecture.hidden": [3, 5]})
    text = cfg.to_toml()
    lines = text.splitlines()
    assert lines[0] == 'name = "run"'
    headers = [line for line in lines if line.startswith("[")]
    assert headers == ["[architecture]", "[training]", "[optimizer]", "[schedule]",
                       "[loss_weights]", "[material]", "[sampling]", "[scales]", "[checkpoint]", "[units]"]
    assert "hidden = [3, 5]" in lines
    assert "material_lr = 0.25" in lines
    # None fields are omitted.
    for key in ("batch_size", "threads", "target_loss", "total_steps",
                "lam_bounds", "directory", "length", "adaptive = None"):
        assert not any(line.startswith(key) for line in lines), key
    assert "null" not in text and "None" not in text


def test_json_keeps_none_as_null():
    data = json.loads(Config().to_json())
    assert data["training"]["batch_size"] is None
    assert data["scales"] == {k: None for k in SPEC_DEFAULTS["scales"]}


@pytest.mark.parametrize("name", ['say "hi"', "back\\slash", "two\nlines\ttab", "\x01\x7f\x1f",
                                  "λ μ ρ", "🌊 wave", "[x] = y # z"])
def test_strings_survive_toml_and_json(name):
    cfg = Config().replace(name=name, **{"checkpoint.directory": name})
    assert tomllib.loads(cfg.to_toml())["name"] == name
    assert Config.from_toml(cfg.to_toml()) == cfg
    assert Config.from_json(cfg.to_json()) == cfg


# -- hand-written TOML ----------------------------------------------------------------------

HAND_TOML = """\
# inversion of a two-layer model
name = "layered"

[architecture]
hidden = [32, 32, 16]
activation = "sin"

[training]
epochs = 20_000
batch_size = 512
target_loss = 1e-6

[optimizer]
kind = "adamw"
lr = 3e-4
material_lr = 1E-2
weight_decay = 1e-4
switch_after = 15000   # then polish
second_order = "lbfgs"

[schedule]
kind = "cosine"
warmup_steps = 500
final_lr = 1.5e-6
plateau = true

[material]
lam = 2.25
mu = 1
lam_bounds = [0.5, 10.0]
optimize_rho = true

[sampling]
strategy = "halton"
adaptive = "rar"
rar_k = 50

[scales]
length = 1e3

[checkpoint]
directory = "runs/layered"
interval = 1000
"""


def test_hand_written_toml(tmp_path):
    expected = Config(
        name="layered",
        architecture=ArchitectureConfig(hidden=[32, 32, 16], activation="sin"),
        training=TrainingConfig(epochs=20000, batch_size=512, target_loss=0.000001),
        optimizer=OptimizerConfig(kind="adamw", lr=0.0003, material_lr=0.01, weight_decay=0.0001,
                                  switch_after=15000, second_order="lbfgs"),
        schedule=ScheduleConfig(kind="cosine", warmup_steps=500, final_lr=0.0000015, plateau=True),
        material=MaterialConfig(lam=2.25, mu=1.0, lam_bounds=[0.5, 10.0], optimize_rho=True),
        sampling=SamplingConfig(strategy="halton", adaptive="rar", rar_k=50),
        checkpoint=CheckpointConfig(directory="runs/layered", interval=1000),
    )
    expected.scales.length = 1000.0
    cfg = Config.from_toml(HAND_TOML)
    assert cfg == expected
    assert type(cfg.material.mu) is float  # TOML integer 1 in a float field
    assert cfg.optimizer.b2 == 0.999 and cfg.scales.time is None  # untouched defaults
    path = tmp_path / "run.toml"
    path.write_text(HAND_TOML, encoding="utf-8")
    assert Config.load(path) == expected
    assert Config.from_toml(str(path)) == expected


# -- per-field rules ----------------------------------------------------------------------------

NAN, INF = float("nan"), float("inf")

BAD_VALUES = [
    ("name", "", "non-empty string"),
    ("name", 3, "non-empty string"),
    ("architecture.hidden", [], "non-empty list of integers >= 1"),
    ("architecture.hidden", [64, 0], "integers >= 1"),
    ("architecture.hidden", [64, 2.0], "integers >= 1"),
    ("architecture.hidden", [True, 4], "integers >= 1"),
    ("architecture.hidden", 64, "list"),
    ("architecture.activation", "relu", "one of 'tanh', 'sin'"),
    ("architecture.dtype", "float16", "one of 'float64', 'float32'"),
    ("architecture.init", "he_normal", "one of 'glorot_normal', 'glorot_uniform'"),
    ("training.epochs", -1, ">= 0"),
    ("training.epochs", 2.5, "an integer >= 0"),
    ("training.epochs", True, "an integer"),
    ("training.batch_size", 0, ">= 1"),
    ("training.batch_size", 8.0, "None or an integer >= 1"),
    ("training.seed", -3, ">= 0"),
    ("training.log_every", 0, ">= 1"),
    ("training.threads", 0, ">= 1"),
    ("training.threads", False, "None or an integer"),
    ("training.target_loss", 0.0, "> 0"),
    ("training.target_loss", -1.0, "> 0"),
    ("optimizer.kind", "rmsprop", "one of 'sgd', 'adam', 'adamw', 'lbfgs'"),
    ("optimizer.lr", -0.1, "expected a finite real number > 0"),
    ("optimizer.lr", 0.0, "expected a finite real number > 0"),
    ("optimizer.lr", NAN, "finite"),
    ("optimizer.lr", INF, "finite"),
    ("optimizer.lr", "0.1", "a finite real number"),
    ("optimizer.lr", True, "a finite real number"),
    ("optimizer.lr", None, "a finite real number"),
    ("optimizer.material_lr", 0.0, "> 0"),
    ("optimizer.momentum", 1.0, ">= 0 and < 1"),
    ("optimizer.momentum", -0.1, ">= 0 and < 1"),
    ("optimizer.nesterov", 1, "True or False"),
    ("optimizer.nesterov", "yes", "True or False"),
    ("optimizer.b1", 1.0, "< 1"),
    ("optimizer.b2", -0.5, ">= 0"),
    ("optimizer.eps", 0.0, "> 0"),
    ("optimizer.weight_decay", -1e-3, ">= 0"),
    ("optimizer.switch_after", -1, ">= 0"),
    ("optimizer.switch_after", 1.5, "an integer"),
    ("optimizer.switch_after", None, "an integer"),
    ("optimizer.second_order", "adam", "one of 'lbfgs', 'bfgs', 'lm', 'none'"),
    ("optimizer.bfgs_variant", "dfp", "one of 'ssbroyden', 'ssbfgs', 'bfgs'"),
    ("optimizer.bfgs_initial_step", "cubic", "one of 'quadratic', 'unit'"),
    ("optimizer.lm_damping", 0.0, "> 0"),
    ("optimizer.lbfgs_history", 0, ">= 1"),
    ("optimizer.lbfgs_max_linesearch", 0, ">= 1"),
    ("optimizer.lbfgs_tolerance_grad", -1e-9, ">= 0"),
    ("optimizer.lbfgs_tolerance_change", -1.0, ">= 0"),
    ("optimizer.bfgs_max_size", 0, ">= 1"),
    ("schedule.kind", "linear", "one of 'constant', 'exponential', 'step', 'multistep', 'cosine'"),
    ("schedule.decay_rate", 0.0, "> 0 and <= 1"),
    ("schedule.decay_rate", 1.5, "> 0 and <= 1"),
    ("schedule.decay_steps", 0, ">= 1"),
    ("schedule.staircase", "no", "True or False"),
    ("schedule.step_size", 0, ">= 1"),
    ("schedule.milestones", [], "non-empty list of strictly increasing integers >= 1"),
    ("schedule.milestones", [0, 5], "integers >= 1"),
    ("schedule.milestones", [5, 2.0], "integers >= 1"),
    ("schedule.milestones", [True], "integers >= 1"),
    ("schedule.milestones", 1000, "list"),
    ("schedule.milestones", None, "list"),
    ("schedule.milestones", [5, 2], "strictly increasing"),
    ("schedule.milestones", [5, 5], "strictly increasing"),
    ("schedule.gamma", 0.0, "> 0 and <= 1"),
    ("schedule.gamma", 2.0, "> 0 and <= 1"),
    ("schedule.warmup_steps", -1, ">= 0"),
    ("schedule.total_steps", 0, ">= 1"),
    ("schedule.final_lr", -1.0, ">= 0"),
    ("schedule.plateau", 0, "True or False"),
    ("schedule.plateau_factor", 1.0, "> 0 and < 1"),
    ("schedule.plateau_factor", 0.0, "> 0 and < 1"),
    ("schedule.plateau_patience", -1, ">= 0"),
    ("schedule.plateau_threshold", -0.1, ">= 0"),
    ("schedule.plateau_cooldown", -1, ">= 0"),
    ("schedule.plateau_min_factor", 0.0, "> 0 and <= 1"),
    ("schedule.plateau_min_factor", 1.5, "> 0 and <= 1"),
    ("loss_weights.pde", -1.0, ">= 0"),
    ("loss_weights.boundary", NAN, "finite"),
    ("loss_weights.traction", -0.5, ">= 0"),
    ("loss_weights.initial", "1", "finite real number"),
    ("loss_weights.initial_velocity", INF, "finite"),
    ("loss_weights.data", -1e-300, ">= 0"),
    ("loss_weights.adaptive", 1, "True or False"),
    ("loss_weights.adaptive_every", 0, ">= 1"),
    ("loss_weights.adaptive_alpha", 0.0, "> 0 and <= 1"),
    ("loss_weights.adaptive_alpha", 1.5, "> 0 and <= 1"),
    ("material.lam", 0.0, "> 0"),
    ("material.lam", -1.0, "> 0"),
    ("material.mu", 0.0, "> 0"),
    ("material.rho", -1.0, "> 0"),
    ("material.optimize_lam", 1, "True or False"),
    ("material.lam_bounds", [1.0], "[lo, hi]"),
    ("material.mu_bounds", [0.0, 2.0], "0 < lo < hi"),
    ("material.rho_bounds", [2.0, 1.0], "0 < lo < hi"),
    ("material.rho_bounds", [1.0, 1.0], "0 < lo < hi"),
    ("material.lam_bounds", [0.5, INF], "finite"),
    ("material.lam_bounds", "0.5,2", "None or a list [lo, hi]"),
    ("material.lam_bounds", [0.5, 1.0, 2.0], "[lo, hi]"),
    ("sampling.strategy", "sobol", "one of 'uniform', 'lhs', 'halton'"),
    ("sampling.n_collocation", -1, ">= 0"),
    ("sampling.adaptive", "gar", "None or one of 'rar', 'rad'"),
    ("sampling.adaptive_every", 0, ">= 1"),
    ("sampling.n_candidates", 0, ">= 1"),
    ("sampling.rar_k", 0, ">= 1"),
    ("sampling.rad_k", -1.0, ">= 0"),
    ("sampling.rad_c", -1.0, ">= 0"),
    ("scales.length", 0.0, "> 0"),
    ("scales.time", -1.0, "> 0"),
    ("scales.displacement", NAN, "finite"),
    ("scales.modulus", -2.0, "> 0"),
    ("scales.density", "1", "None or a finite real number > 0"),
    ("checkpoint.directory", "", "None or a non-empty string"),
    ("checkpoint.directory", 3, "None or a non-empty string"),
    ("checkpoint.interval", -1, ">= 0"),
    ("checkpoint.keep_last", 0, ">= 1"),
    ("checkpoint.keep_best", "true", "True or False"),
    ("checkpoint.every_seconds", -600, "a finite real number >= 0"),
    ("checkpoint.every_seconds", None, "a finite real number >= 0"),
    ("checkpoint.max_failures", 0, ">= 1"),
    ("training.validation_fraction", 1.0, ">= 0 and < 1"),
    ("training.validation_fraction", -0.1, ">= 0 and < 1"),
    ("training.monitor", "val", "one of 'loss', 'validation'"),
    ("training.patience", 0, "None or an integer >= 1"),
    ("units.length", "", "None or a non-empty string"),
    ("units.modulus", 3, "None or a non-empty string"),
]


@pytest.mark.parametrize("dotted, bad, fragment", BAD_VALUES,
                         ids=[f"{d}={b!r}" for d, b, _ in BAD_VALUES])
def test_bad_value_is_rejected(dotted, bad, fragment):
    for attempt in (lambda: Config.from_dict(nested(dotted, bad)),
                    lambda: Config().replace(**{dotted: bad})):
        with pytest.raises(ConfigError) as info:
            attempt()
        msg = str(info.value)
        assert msg.startswith(dotted + ":"), msg
        assert fragment in msg
        assert f"found {describe(bad)}" in msg or f"found {float(bad)!r}" in msg, msg


def test_config_error_is_an_input_error():
    assert issubclass(ConfigError, InputError) and issubclass(ConfigError, ValueError)


def test_example_message_from_the_spec():
    with pytest.raises(ConfigError, match=r"^optimizer\.lr: expected a finite real number > 0, found -0\.1$"):
        Config.from_dict({"optimizer": {"lr": -0.1}})


def test_validate_checks_directly_built_trees():
    with pytest.raises(ConfigError, match=r"optimizer\.eps"):
        Config(optimizer=OptimizerConfig(eps=-1.0)).validate()
    with pytest.raises(ConfigError, match=r"^optimizer: expected an instance of OptimizerConfig"):
        Config(optimizer={"lr": 1.0}).validate()
    with pytest.raises(ConfigError, match=r"^optimizer: expected an instance of OptimizerConfig"):
        Config(optimizer=TrainingConfig()).validate()


def test_float_fields_accept_ints_and_store_floats():
    cfg = Config.from_dict({"optimizer": {"lr": 1, "b1": 0}, "material": {"lam_bounds": [1, 3]},
                            "scales": {"length": np.int64(10)}, "loss_weights": {"pde": 2}})
    for value, expected in ((cfg.optimizer.lr, 1.0), (cfg.optimizer.b1, 0.0),
                            (cfg.scales.length, 10.0), (cfg.loss_weights.pde, 2.0),
                            (cfg.material.lam_bounds[0], 1.0), (cfg.material.lam_bounds[1], 3.0)):
        assert type(value) is float and value == expected
    assert "lr = 1.0\n" in cfg.to_toml()


def test_sequences_and_numpy_scalars_are_normalised():
    cfg = Config(architecture=ArchitectureConfig(hidden=(32, np.int32(16))),
                 training=TrainingConfig(epochs=np.int64(12)),
                 material=MaterialConfig(mu_bounds=(0.5, np.float32(2.0))),
                 optimizer=OptimizerConfig(nesterov=np.bool_(False), lr=np.float32(0.5)))
    assert cfg.validate() is cfg
    assert cfg.architecture.hidden == [32, 16] and type(cfg.architecture.hidden) is list
    assert all(type(w) is int for w in cfg.architecture.hidden)
    assert type(cfg.training.epochs) is int and cfg.training.epochs == 12
    assert cfg.material.mu_bounds == [0.5, 2.0] and type(cfg.material.mu_bounds) is list
    assert cfg.optimizer.nesterov is False and type(cfg.optimizer.lr) is float
    assert Config.from_json(cfg.to_json()) == cfg


# -- cross-field rules -----------------------------------------------------------------------------

CROSS_BAD = [
    ({"optimizer": {"nesterov": True}}, "optimizer.nesterov", ["momentum > 0", "0.0"]),
    ({"optimizer": {"nesterov": True, "momentum": 0}}, "optimizer.nesterov", ["momentum > 0"]),
    ({"material": {"lam": 5.0, "lam_bounds": [0.1, 2.0]}},
     "material.lam_bounds", ["material.lam = 5.0", "[0.1, 2.0]"]),
    ({"material": {"mu": 0.05, "mu_bounds": [0.1, 2.0]}},
     "material.mu_bounds", ["material.mu = 0.05", "[0.1, 2.0]"]),
    ({"material": {"rho_bounds": [2.0, 3.0]}},  # default rho = 1.0 lies outside
     "material.rho_bounds", ["material.rho = 1.0", "[2.0, 3.0]"]),
    ({"schedule": {"kind": "cosine", "total_steps": 10, "warmup_steps": 11}},
     "schedule.warmup_steps", ["schedule.total_steps = 10", "found 11"]),
    ({"training": {"epochs": 10}, "optimizer": {"second_order": "none"},
      "schedule": {"kind": "cosine", "warmup_steps": 11}},
     "schedule.warmup_steps", ["training.epochs = 10", "found 11"]),
    # The schedule counts optimizer steps: only the epochs before the switch...
    ({"training": {"epochs": 20}, "optimizer": {"switch_after": 2},
      "schedule": {"kind": "cosine", "warmup_steps": 10}},
     "schedule.warmup_steps", ["2 first-order steps", "optimizer.switch_after = 2", "found 10"]),
    # ... and each of them ceil(1000 / 300) = 4 mini-batch steps.
    ({"training": {"epochs": 3, "batch_size": 300}, "sampling": {"n_collocation": 1000},
      "optimizer": {"second_order": "none"}, "schedule": {"kind": "cosine", "warmup_steps": 13}},
     "schedule.warmup_steps", ["12 first-order steps", "training.epochs = 3", "4 mini-batches",
                               "training.batch_size = 300", "found 13"]),
    ({"sampling": {"adaptive": "rar", "n_candidates": 10, "rar_k": 11}},
     "sampling.rar_k", ["sampling.n_candidates = 10", "found 11"]),
    ({"training": {"monitor": "validation"}},
     "training.monitor", ["training.validation_fraction = 0", "no validation misfit", "found 'validation'"]),
]


@pytest.mark.parametrize("d, dotted, fragments", CROSS_BAD)
def test_cross_field_rule_is_enforced(d, dotted, fragments):
    with pytest.raises(ConfigError) as info:
        Config.from_dict(d)
    msg = str(info.value)
    assert msg.startswith(dotted + ":"), msg
    for fragment in fragments:
        assert fragment in msg, msg


CROSS_GOOD = [
    {"optimizer": {"nesterov": True, "momentum": 0.9}},
    {"training": {"epochs": 100}, "optimizer": {"switch_after": 100}},
    {"training": {"epochs": 0}, "optimizer": {"switch_after": 0}},
    {"training": {"epochs": 10}, "optimizer": {"switch_after": 100}},  # a run too short to switch
    {"optimizer": {"kind": "lbfgs"}},
    {"optimizer": {"kind": "lm", "second_order": "bfgs"}},
    {"material": {"lam": 2.0, "lam_bounds": [0.1, 2.0], "mu": 0.1, "mu_bounds": [0.1, 2.0]}},
    {"schedule": {"kind": "cosine", "total_steps": 10, "warmup_steps": 10}},
    {"training": {"epochs": 20}, "optimizer": {"switch_after": 2},
     "schedule": {"kind": "cosine", "warmup_steps": 2}},
    {"training": {"epochs": 3, "batch_size": 300}, "sampling": {"n_collocation": 1000},
     "optimizer": {"second_order": "none"}, "schedule": {"kind": "cosine", "warmup_steps": 12}},
    {"training": {"epochs": 10}, "schedule": {"kind": "constant", "warmup_steps": 11}},
    {"sampling": {"adaptive": "rad", "n_candidates": 10, "rar_k": 11}},
    {"sampling": {"adaptive": "rar", "n_candidates": 10, "rar_k": 10}},
    {"training": {"monitor": "validation", "validation_fraction": 0.1}},
]


@pytest.mark.parametrize("d", CROSS_GOOD)
def test_cross_field_boundary_cases_are_accepted(d):
    cfg = Config.from_dict(d)
    for section, values in d.items():
        for key, value in values.items():
            assert getattr(getattr(cfg, section), key) == value


# -- first-order steps ---------------------------------------------------------------------------

# (config changes, n_collocation argument, steps counted by hand)
FIRST_ORDER_STEPS = [
    ({}, None, 1),  # the default: second-order from the first epoch, no first-order step (a schedule needs one)
    ({"optimizer.switch_after": 20}, None, 20),  # the switch after 20 epochs of one full batch
    ({"optimizer.second_order": "none"}, None, 10000),  # no switch: every epoch
    ({"optimizer.kind": "bfgs"}, None, 1),  # second-order from the start: no first-order step
    ({"optimizer.switch_after": 2, "training.epochs": 20}, None, 2),
    ({"optimizer.switch_after": 50, "training.epochs": 20}, None, 20),  # the run ends before its switch
    ({"optimizer.switch_after": 2, "training.epochs": 20, "training.batch_size": 400}, None, 10),
    ({"training.epochs": 5, "training.batch_size": 300, "sampling.n_collocation": 1000, "optimizer.switch_after": 20},
     None, 20),
    ({"training.epochs": 5, "training.batch_size": 1000, "sampling.n_collocation": 1000, "optimizer.switch_after": 20},
     None, 5),
    ({"training.epochs": 5, "training.batch_size": 2000, "sampling.n_collocation": 1000, "optimizer.switch_after": 20},
     None, 5),
    ({"training.epochs": 5, "training.batch_size": 999, "sampling.n_collocation": 1000, "optimizer.switch_after": 20},
     None, 10),
    ({"training.epochs": 7, "training.batch_size": 400, "optimizer.switch_after": 20}, 1001, 21),  # the data's count wins
    ({"training.epochs": 7, "training.batch_size": 400, "optimizer.switch_after": 20}, 0, 7),
    ({"training.epochs": 0}, None, 1),  # a schedule needs a step
    ({"training.epochs": 9, "optimizer.switch_after": 0, "training.batch_size": 10}, None, 1),
]


@pytest.mark.parametrize("changes, n, expected", FIRST_ORDER_STEPS)
def test_first_order_steps_by_hand(changes, n, expected):
    cfg = Config().replace(**changes)
    assert first_order_steps(cfg, n) == expected
    if n is None:
        assert first_order_steps(cfg) == expected


@pytest.mark.parametrize("args, name", [
    ((Config(), -1), "n_collocation"),
    ((Config(), 2.0), "n_collocation"),
    ((Config(), True), "n_collocation"),
    (({"training": {"epochs": 3}},), "config"),
])
def test_first_order_steps_rejects_bad_arguments(args, name):
    with pytest.raises(InputError, match=f"^{name}: expected"):
        first_order_steps(*args)


# -- tables of other modules ----------------------------------------------------------------------


def test_activation_choices_are_the_activation_table():
    for name in ACTIVATIONS:
        cfg = Config.from_dict({"architecture": {"activation": name}})
        assert cfg.architecture.activation == name
    with pytest.raises(ConfigError) as info:
        Config.from_dict({"architecture": {"activation": "relu"}})
    assert "one of " + ", ".join(repr(n) for n in ACTIVATIONS) + "," in str(info.value)


@pytest.mark.parametrize("kind", sorted(SCHEDULES))
def test_every_schedule_is_built_by_name_from_its_fields(kind):
    cfg = Config().replace(**{"schedule.kind": kind, "schedule.milestones": [3, 7],
                              "schedule.gamma": 0.25, "optimizer.lr": 0.5})
    params = [p for p in inspect.signature(SCHEDULES[kind]).parameters if p != "lr"]
    known = {f.name for f in dataclasses.fields(ScheduleConfig)}
    assert set(params) <= known, f"{kind}: no config field for {set(params) - known}"
    kwargs = {p: getattr(cfg.schedule, p) for p in params}
    if kind == "cosine":
        kwargs["total_steps"] = first_order_steps(cfg)
    schedule = get_schedule(kind, lr=cfg.optimizer.lr, **kwargs)
    assert schedule(0) == 0.5
    if kind == "multistep":
        assert [schedule(s) for s in (2, 3, 6, 7)] == [0.5, 0.125, 0.125, 0.03125]


# -- attribute typos -------------------------------------------------------------------------------


def test_assigning_a_misspelt_field_raises():
    cfg = Config()
    typo = r"^TrainingConfig has no field 'epocs' \(did you mean epochs\?\)$"
    with pytest.raises(AttributeError, match=typo):
        cfg.training.epocs = 10
    with pytest.raises(AttributeError, match=r"^Config has no field 'nmae' \(did you mean name\?"):
        cfg.nmae = "x"
    with pytest.raises(AttributeError, match=r"^ScalesConfig has no field 'zzz' \(its fields are "):
        ScalesConfig().zzz = 1.0
    assert cfg == Config()  # nothing was set
    cfg.training.epochs = 10  # a real field still can be
    assert copy.deepcopy(cfg) == cfg and cfg.replace(name="b").training.epochs == 10


# -- unknown keys, sources and suffixes ---------------------------------------------------------------


@pytest.mark.parametrize("d, names", [
    ({"foo": 1}, ["unknown key foo"]),
    ({"optimizer": {"lrr": 1e-3}}, ["unknown key optimizer.lrr", "did you mean optimizer.lr?"]),
    ({"optimiser": {"lr": 1e-3}}, ["unknown key optimiser", "did you mean optimizer?"]),
    ({"architecture": {"hidden": [4], "depth": 3}, "seed": 1, "scales": {"mass": 1.0}},
     ["unknown keys ", "architecture.depth", "seed", "scales.mass"]),
])
def test_unknown_keys_are_named_with_their_path(d, names):
    for attempt in (lambda: Config.from_dict(d), lambda: Config.from_json(json.dumps(d))):
        with pytest.raises(ConfigError) as info:
            attempt()
        for name in names:
            assert name in str(info.value)


def test_unknown_keys_in_toml():
    with pytest.raises(ConfigError, match=r"unknown key training\.epoch\b"):
        Config.from_toml('name = "x"\n[training]\nepoch = 3\n')
    with pytest.raises(ConfigError, match=r"unknown key trainer"):
        Config.from_toml("[trainer]\nepochs = 3\n")


@pytest.mark.parametrize("d, fragment", [
    ([], "config: expected a table of settings"),
    ({"optimizer": 3}, "optimizer: expected a table of optimizer settings, found 3"),
    ({"material": [1.0]}, "material: expected a table of material settings"),
])
def test_non_mapping_input_is_rejected(d, fragment):
    with pytest.raises(ConfigError, match=fragment):
        Config.from_dict(d)


def test_malformed_text_is_a_config_error():
    with pytest.raises(ConfigError, match="^JSON: "):
        Config.from_json('{"name": }')
    with pytest.raises(ConfigError, match="^TOML: "):
        Config.from_toml("name = \n")
    with pytest.raises(ConfigError, match="path_or_text"):
        Config.from_json("no_such_file.json")
    with pytest.raises(ConfigError, match="path_or_text"):
        Config.from_json(3)


@pytest.mark.parametrize("suffix, bad", [(".toml", "name = \n"), (".json", '{"name": }')])
def test_syntax_error_in_a_file_names_the_file(tmp_path, suffix, bad):
    path = tmp_path / f"run{suffix}"
    path.write_text(bad, encoding="utf-8")
    kind = suffix[1:].upper()
    read = Config.from_toml if kind == "TOML" else Config.from_json
    for attempt in (lambda: Config.load(path), lambda: Config.load(str(path)),
                    lambda: read(path), lambda: read(str(path))):
        with pytest.raises(ConfigError) as info:
            attempt()
        assert str(info.value).startswith(f"{kind} file {path}: "), str(info.value)
        assert "line 1" in str(info.value)


@pytest.mark.parametrize("suffix", [".json", ".toml", ".JSON", ".Toml"])
def test_save_and_load(tmp_path, suffix):
    cfg = Config().replace(**{"architecture.hidden": [7, 9], "optimizer.lr": 0.1 + 0.2,
                              "material.rho_bounds": [0.5, 4.0], "training.threads": 2})
    path = tmp_path / f"run{suffix}"
    cfg.save(path)
    assert Config.load(path) == cfg
    assert Config.load(str(path)) == cfg
    written = path.read_text(encoding="utf-8")
    assert written == (cfg.to_json() if suffix.lower() == ".json" else cfg.to_toml())


def test_to_text_with_path_writes_the_same_text(tmp_path):
    cfg = Config().replace(name="written")
    assert cfg.to_json(tmp_path / "a.json") == (tmp_path / "a.json").read_text(encoding="utf-8")
    assert cfg.to_toml(tmp_path / "a.toml") == (tmp_path / "a.toml").read_text(encoding="utf-8")
    assert Config.from_json(str(tmp_path / "a.json")) == cfg


@pytest.mark.parametrize("name", ["run.yaml", "run.yml", "run", "run.json.bak", "run.ini"])
def test_wrong_suffix_is_rejected(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(ConfigError, match=r"\.json or \.toml"):
        Config().save(path)
    assert not path.exists()
    path.write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\.json or \.toml"):
        Config.load(path)


def test_toml_reader_missing(monkeypatch):
    monkeypatch.setattr(config_format, "_toml", None)
    with pytest.raises(ImportError, match="tomllib"):
        Config.from_toml('name = "x"\n')
    # Writing TOML needs no reader.
    assert Config().to_toml().startswith('name = "run"\n')


# -- replace ----------------------------------------------------------------------------------


def test_replace_returns_a_new_validated_config():
    base = Config()
    new = base.replace(**{"optimizer.lr": 1e-4, "optimizer.momentum": 0.9,
                          "optimizer.nesterov": True, "optimizer.kind": "sgd"}, name="other")
    assert (new.optimizer.lr, new.optimizer.kind, new.name) == (1e-4, "sgd", "other")
    assert new.optimizer.nesterov is True
    assert base == Config()  # untouched
    new.material.field_hidden.append(5)  # no sharing of mutable parts
    assert base.material.field_hidden == [16, 16]
    swapped = base.replace(training=TrainingConfig(epochs=3))
    assert swapped.training.epochs == 3 and swapped.training.seed == 0


def test_replace_validates_and_rejects_unknown_keys():
    with pytest.raises(ConfigError, match=r"^optimizer\.nesterov"):
        Config().replace(**{"optimizer.nesterov": True})
    with pytest.raises(ConfigError, match=r"unknown key optimizer\.lrr"):
        Config().replace(**{"optimizer.lrr": 1.0})
    with pytest.raises(ConfigError, match=r"unknown key optimizer\.lr\.x"):
        Config().replace(**{"optimizer.lr.x": 1.0})
    with pytest.raises(ConfigError, match=r"unknown key epochs"):
        Config().replace(epochs=3)


def test_replace_float_inputs_are_exact():
    x = math.nextafter(0.1, 1.0)
    assert Config().replace(**{"optimizer.lr": x}).optimizer.lr == x


# -- files of pinnlite 0.1 ------------------------------------------------------------------------


@pytest.mark.parametrize("old, second_order, switch_after", [
    ({"lbfgs_after": 40}, "lbfgs", 40),
    ({"lbfgs_after": None}, "none", Config().optimizer.switch_after),  # no switch: the default, unused
    ({"lbfgs_after": 40, "second_order": "lm"}, "lm", 40),  # an explicit field wins
])
def test_lbfgs_after_of_0_1_reads_as_the_switch(old, second_order, switch_after):
    cfg = Config.from_dict({"training": {"epochs": 50}, "optimizer": old})
    assert (cfg.optimizer.second_order, cfg.optimizer.switch_after) == (second_order, switch_after)
    assert "lbfgs_after" not in cfg.to_dict()["optimizer"]


def test_the_golden_0_1_config_keeps_its_meaning():
    from pinnlite.io import checkpoint

    stored = checkpoint.read(Path(__file__).parent / "data" / "golden_training_v1_0.pinnlite")["config"]
    cfg = Config.from_dict(stored)
    after = stored["optimizer"]["lbfgs_after"]
    assert cfg.optimizer.second_order == ("none" if after is None else "lbfgs")
    if after is not None:
        assert cfg.optimizer.switch_after == after


# -- command-line values (--set key=VALUE) ------------------------------------------------------


@pytest.mark.parametrize("text, value", [
    ("3", 3), ("2.5", 2.5), ("1e-3", 1e-3), ("true", True), ("false", False), ("[32, 16]", [32, 16]),
    ('"quoted"', "quoted"), ("cosine", "cosine"), ("none", None), ("None", None), ("null", None),
    ("run/a b", "run/a b"),
])
def test_command_line_values_are_toml_values_or_plain_strings(text, value):
    parsed = config_format.parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_a_deep_copy_shares_no_mutable_value():
    cfg = Config(name="c")
    cfg.architecture.hidden = [8, 9]
    cfg.material.lam_bounds = [0.5, 4.0]
    twin = copy.deepcopy(cfg)
    assert twin == cfg and type(twin.architecture) is type(cfg.architecture)
    assert twin.architecture is not cfg.architecture and twin.architecture.hidden is not cfg.architecture.hidden
    twin.architecture.hidden.append(3)
    twin.material.lam_bounds[0] = 1.0
    assert cfg.architecture.hidden == [8, 9] and cfg.material.lam_bounds == [0.5, 4.0]
    with pytest.raises(AttributeError, match="did you mean"):
        twin.architecture.hiden = [1]  # still a section that refuses unknown names


@pytest.mark.parametrize("changes, field, says", [
    ({"material.field_penalty": "tv"}, "material.field_penalty = 'tv'", "material.field = 'constant'"),
    ({"material.field_penalty": "smooth", "material.field_penalty_weight": 1e-3}, "material.field_penalty = 'smooth'",
     "material.field = 'constant'"),
    ({"material.field": "network", "material.field_penalty": "tv"}, "material.field_penalty = 'tv'",
     "field_penalty_weight = 0"),
    ({"material.field_penalty_weight": 0.01}, "material.field_penalty_weight = 0.01", "field_penalty = 'none'"),
    ({"material.field": "network", "material.field_penalty_weight": 0.01}, "material.field_penalty_weight = 0.01",
     "field_penalty = 'none'"),
])
def test_a_setting_that_another_turns_off_is_named_with_what_turns_it_off(changes, field, says):
    messages = ignored_settings(Config().replace(**changes))
    assert len(messages) == 1 and messages[0].startswith(field) and says in messages[0]


@pytest.mark.parametrize("changes", [
    {},
    {"material.field": "network"},
    {"material.field": "network", "material.field_penalty": "tv", "material.field_penalty_weight": 1e-4},
])
def test_settings_that_all_act_are_not_reported(changes):
    assert ignored_settings(Config().replace(**changes)) == []
