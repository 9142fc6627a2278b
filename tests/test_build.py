"""From a config to optimizers and schedules (pinnlite.training.build), and what the trainer builds.

Each object is compared with the one written out by hand from the config's
numbers, or probed by its effect: a schedule's value at chosen steps, AdamW's
decay on each kind of entry of the optimised vector, L-BFGS's hyperparameters.
"""

import math

import numpy as np
import pytest

from pinnlite.core.arch import Architecture
from pinnlite.engine import Workspace
from pinnlite.optim import schedules
from pinnlite.training import build
from pinnlite.training.config import Config, ConfigError, first_order_steps
from pinnlite.training.objective import Objective
from pinnlite.training.problems import plane_waves
from pinnlite.training.trainer import Trainer


def objective(cfg, hidden=(3, 2)):
    arch = Architecture(hidden)
    return Objective(arch, cfg.material, Workspace(1))


@pytest.mark.parametrize(
    "kind, fields, step, expected",
    [
        ("constant", {}, 7, 0.1),
        ("exponential", {"decay_rate": 0.5, "decay_steps": 10}, 20, 0.1 * 0.25),
        ("step", {"step_size": 3, "gamma": 0.5}, 7, 0.1 * 0.25),
        ("multistep", {"milestones": [2, 5], "gamma": 0.1}, 5, 0.1 * 0.01),
        ("cosine", {"total_steps": 10}, 5, 0.05),
    ],
)
def test_every_schedule_kind_is_reachable_from_a_config(kind, fields, step, expected):
    cfg = Config().replace(**{"optimizer.lr": 0.1, "schedule.kind": kind, **{f"schedule.{k}": v for k, v in fields.items()}})
    sched = build.schedule(cfg, first_order_steps=1000)
    assert type(sched) is type(schedules.SCHEDULES[kind](0.1, **fields))
    assert sched(step) == pytest.approx(expected, rel=1e-14)


def test_default_cosine_horizon_counts_every_mini_batch():
    """total_steps None: the first-order steps are epochs before the switch times batches per epoch."""
    cfg = Config().replace(**{"schedule.kind": "cosine", "training.epochs": 30, "optimizer.second_order": "lbfgs", "optimizer.switch_after": 8,
                              "training.batch_size": 300, "sampling.n_collocation": 1000})
    steps = first_order_steps(cfg)
    assert steps == 8 * math.ceil(1000 / 300) == 32
    sched = build.schedule(cfg, steps)
    assert sched.total_steps == 32
    assert sched(16) == pytest.approx(cfg.optimizer.lr / 2, rel=1e-14)  # half way down the cosine


def test_adamw_decays_the_weight_matrices_only():
    """Zero gradient: after one AdamW step each entry moves by -lr wd p on W and not at all elsewhere."""
    cfg = Config().replace(**{"optimizer.kind": "adamw", "optimizer.weight_decay": 0.5, "optimizer.lr": 0.1})
    obj = objective(cfg)
    opt = build.first_order(cfg, obj, first_order_steps(cfg))
    x = np.linspace(1.0, 2.0, obj.size)
    x_new, _ = opt.update(np.zeros_like(x), opt.init(x), x)
    is_w = np.concatenate([obj.arch.layout.mask("W"), np.zeros(len(obj.free), bool)])
    assert is_w.sum() == 3 * 3 + 2 * 3 + 2 * 2  # W0 (3x3), W1 (2x3), W2 (2x2)
    np.testing.assert_allclose(x_new[is_w], x[is_w] * (1 - 0.1 * 0.5), rtol=1e-15)
    np.testing.assert_array_equal(x_new[~is_w], x[~is_w])  # biases and theta: no decay


def test_material_learning_rate_scales_theta_only():
    cfg = Config().replace(**{"optimizer.kind": "sgd", "optimizer.lr": 0.1, "optimizer.material_lr": 0.02})
    obj = objective(cfg)
    opt = build.first_order(cfg, obj, 1)
    x = np.zeros(obj.size)
    g = np.ones(obj.size)
    x_new, _ = opt.update(g, opt.init(x), x)
    np.testing.assert_allclose(x_new[: obj.n], -0.1, rtol=1e-15)
    np.testing.assert_allclose(x_new[obj.n :], -0.02, rtol=1e-15)


def test_first_order_hyperparameters_come_from_the_config():
    cfg = Config().replace(**{"optimizer.kind": "adam", "optimizer.b1": 0.8, "optimizer.b2": 0.95, "optimizer.eps": 1e-6})
    opt = build.first_order(cfg, objective(cfg), 1)
    assert (opt.name, opt.hyperparams["b1"], opt.hyperparams["b2"], opt.hyperparams["eps"]) == ("adam", 0.8, 0.95, 1e-6)
    cfg = Config().replace(**{"optimizer.kind": "sgd", "optimizer.momentum": 0.7, "optimizer.nesterov": True})
    opt = build.first_order(cfg, objective(cfg), 1)
    assert (opt.name, opt.hyperparams["momentum"], opt.hyperparams["nesterov"]) == ("sgd", 0.7, True)


def test_each_second_order_optimizer_takes_its_own_fields():
    cfg = Config().replace(**{"optimizer.lbfgs_history": 7, "optimizer.lbfgs_max_linesearch": 9,
                              "optimizer.lbfgs_tolerance_grad": 1e-5, "optimizer.lbfgs_tolerance_change": 1e-7,
                              "optimizer.bfgs_variant": "ssbfgs", "optimizer.bfgs_max_linesearch": 11,
                              "optimizer.bfgs_tolerance_grad": 2e-5, "optimizer.bfgs_tolerance_change": 2e-7,
                              "optimizer.lm_damping": 0.5, "optimizer.lm_max_tries": 4,
                              "optimizer.lm_tolerance_grad": 3e-5, "optimizer.lm_tolerance_change": 3e-7})
    h = build.second_order(cfg, "lbfgs").hyperparams
    assert (h["history"], h["max_linesearch"], h["tolerance_grad"], h["tolerance_change"]) == (7, 9, 1e-5, 1e-7)
    assert (h["learning_rate"], h["c1"], h["c2"]) == (1.0, 1e-4, 0.9)
    h = build.second_order(cfg, "bfgs").hyperparams
    assert (h["variant"], h["max_linesearch"], h["tolerance_grad"], h["tolerance_change"]) == ("ssbfgs", 11, 2e-5, 2e-7)
    h = build.second_order(cfg, "lm").hyperparams
    assert (h["damping"], h["max_tries"], h["tolerance_grad"], h["tolerance_change"]) == (0.5, 4, 3e-5, 3e-7)


def test_the_trainer_counts_the_data_collocation_points():
    """With explicit collocation points the cosine horizon uses their number, not sampling.n_collocation."""
    data, _ = plane_waves(n_sensors=20, rng=0)
    colloc = np.random.default_rng(1).uniform(0, 1, (50, 3))
    data = type(data)(data.domain, collocation=colloc, sensor_points=data.sensor_points, sensor_values=data.sensor_values)
    cfg = Config().replace(**{"schedule.kind": "cosine", "training.epochs": 3, "training.batch_size": 20,
                              "training.threads": 1, "architecture.hidden": [4], "sampling.n_collocation": 4000,
                              "optimizer.switch_after": 20})
    trainer = Trainer(None, cfg)
    trainer.train(data)
    assert trainer.opt.hyperparams["learning_rate"].total_steps == 3 * math.ceil(50 / 20)


@pytest.mark.parametrize("itemsize", [8, 4])
def test_an_lbfgs_history_beyond_what_a_checkpoint_array_holds_is_refused(itemsize):
    # the state's s and y are (history, n) arrays; a checkpoint array holds at most 2**32 - 1 bytes
    from pinnlite.io.spec import MAX_ARRAY_NBYTES

    n = 1348
    most = MAX_ARRAY_NBYTES // (n * itemsize)
    assert most * n * itemsize <= MAX_ARRAY_NBYTES < (most + 1) * n * itemsize
    cfg = Config().replace(**{"optimizer.kind": "lbfgs", "optimizer.lbfgs_history": most})
    build.check_history(cfg, n, itemsize)  # the largest that fits
    cfg.optimizer.lbfgs_history = most + 1
    with pytest.raises(ConfigError, match=rf"optimizer\.lbfgs_history: expected <= {most} for {n} trained values.*"
                                          rf"found {most + 1}"):
        build.check_history(cfg, n, itemsize)
    # the second-order phase counts where the run reaches it, and only there
    switched = Config().replace(**{"optimizer.second_order": "lbfgs", "optimizer.switch_after": 10,
                                   "training.epochs": 11, "optimizer.lbfgs_history": most + 1})
    with pytest.raises(ConfigError, match="lbfgs_history"):
        build.check_history(switched, n, itemsize)
    build.check_history(switched.replace(**{"training.epochs": 10}), n, itemsize)  # never switches
    build.check_history(switched.replace(**{"optimizer.second_order": "bfgs"}), n, itemsize)  # no history


def test_a_trainer_refuses_an_unstorable_lbfgs_history_before_any_epoch(tmp_path):
    data, _ = plane_waves(n_sensors=20, rng=0)
    cfg = Config().replace(**{"training.epochs": 3, "training.threads": 1, "architecture.hidden": [4],
                              "sampling.n_collocation": 40, "optimizer.kind": "bfgs", "optimizer.bfgs_max_size": 10,
                              "optimizer.lbfgs_history": 2**31, "checkpoint.directory": str(tmp_path / "ckpts")})
    trainer = Trainer(None, cfg, progress=False)
    with pytest.warns(build.DenseSizeWarning), pytest.raises(ConfigError, match=r"lbfgs_history.*found 2147483648"):
        trainer.train(data)  # the dense BFGS over more than 10 values became L-BFGS, whose history is refused
    assert not (tmp_path / "ckpts").exists()


def test_a_continued_run_given_an_unstorable_lbfgs_history_is_refused_before_any_epoch():
    data, _ = plane_waves(n_sensors=20, rng=0)
    cfg = Config().replace(**{"training.epochs": 2, "training.threads": 1, "architecture.hidden": [4],
                              "sampling.n_collocation": 40, "optimizer.kind": "lbfgs"})
    trainer = Trainer(None, cfg, progress=False)
    trainer.train(data)
    trainer.config.training.epochs = 4
    trainer.config.optimizer.lbfgs_history = 2**40  # a resumable field: the next train() takes it
    with pytest.raises(ConfigError, match=r"lbfgs_history.*found 1099511627776"):
        trainer.train(data)
    assert trainer.state.epoch == 2
