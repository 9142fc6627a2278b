"""Tests of pinnlite.training.trainer: an inverse run that recovers lam and mu, the gradient of
the objective by finite differences, the loss normalisation, every optimizer and the
switch to L-BFGS, mini-batches, material bounds and fixed/free parameters, the
identifiability warning, determinism, callbacks, Ctrl-C, early stops, adaptive
resampling and loss weights, and input errors.

Networks are tiny and runs short; the inverse run uses the demo's settings scaled
down (Adam, then L-BFGS, PDE weight 0.01)."""

import errno
import io
import logging
import math
import os
import re
import shutil
import signal
import warnings

import numpy as np
import pytest

from pinnlite import engine
from pinnlite.cli import demo_config
from pinnlite.training.config import Config, ConfigError
from pinnlite.training.data import TrainingData
from pinnlite.errors import InputError
from pinnlite.training.metrics import COLUMNS
from pinnlite.training.model import ElasticPINN2D
from pinnlite.training.objective import Objective
from pinnlite.engine.terms import TERMS, Material, PointSets
from pinnlite.training.problems import plane_waves
from pinnlite.training.progress import Progress
from pinnlite.testing import check_grads
from pinnlite.training.scaling import wave_scales
from pinnlite.training.trainer import FIRST_ORDER, SECOND_ORDER, DenseSizeWarning, IdentifiabilityWarning, Trainer
from pinnlite.optim import BfgsState, LbfgsState
from pinnlite.io import checkpoint
from pinnlite.training import signals
from pinnlite.training.autosave import SaveError, SaveWarning

TRUTH = (2.0, 1.0, 1.0)


def quiet():
    return Progress(1, stream=io.StringIO())


def tiny_config(**changes):
    """A small network on few points, guesses off by 2x, the demo's PDE weight."""
    c = Config(name="tiny")
    c.architecture.hidden = [12, 12]
    c.training.epochs = 10
    c.training.threads = 1
    c.training.log_every = 1000
    c.optimizer.lr = 3e-3
    c.optimizer.switch_after = 20  # the first-order optimizer for the short runs of these tests
    c.training.hold_material = False  # these runs train the material from the first epoch (test_hold.py holds it)
    c.loss_weights.pde = 0.01
    c.material.lam, c.material.mu = 4.0, 0.5
    c.sampling.n_collocation = 64
    return c.replace(**changes)


_DATA = {}


def tiny_data(kind="sensors"):
    """Plane-wave data: sensors only, or sensors with traction and initial conditions."""
    if kind not in _DATA:
        if kind == "sensors":
            _DATA[kind] = plane_waves(*TRUTH, n_sensors=120, rng=0)[0]
        else:
            _DATA[kind] = plane_waves(*TRUTH, n_sensors=60, boundary="traction", n_boundary=40, n_initial=30, rng=1)[0]
    return _DATA[kind]


def train(config, data=None, **kwargs):
    trainer = Trainer(None, config, progress=quiet())
    for fn, every in kwargs.pop("callbacks", ()):
        trainer.add_callback(fn, every)
    metrics = trainer.train(tiny_data() if data is None else data)
    return trainer, metrics


def table(metrics, drop=("time",)):
    return {c: metrics[c] for c in COLUMNS if c not in drop}


def assert_same_history(a, b):
    ta, tb = table(a), table(b)
    for c in ta:
        np.testing.assert_array_equal(ta[c], tb[c], err_msg=c)


# -- the inverse problem -----------------------------------------------------------------------


def test_inverse_run_recovers_lam_and_mu():
    """The demo's defaults (dense self-scaled Broyden from the first epoch) on a smaller problem."""
    data, _ = plane_waves(*TRUTH, n_sensors=500, rng=0)
    cfg = demo_config(epochs=400, seed=0, threads=2).replace(**{"sampling.n_collocation": 500})
    trainer = Trainer(None, cfg, progress=quiet())
    metrics = trainer.train(data)
    lam, mu = trainer.material["lam"], trainer.material["mu"]
    err_lam, err_mu = abs(lam / TRUTH[0] - 1), abs(mu / TRUTH[1] - 1)
    assert err_lam < 1e-3 and err_mu < 1e-3, (lam, mu)  # from 100% and 50% off
    # no first-order warm-up; the errors after 20 epochs were far larger
    assert cfg.optimizer.switch_after == 0
    assert abs(metrics["lam"][19] / TRUTH[0] - 1) > 30 * err_lam
    np.testing.assert_array_equal(metrics["phase"], [1] * 400)
    assert len(metrics) == 400 and trainer.state.stop_reason == "epochs"
    assert np.all(metrics["rho"] == 1.0)  # fixed in the demo
    np.testing.assert_array_equal(metrics["epoch"], np.arange(1, 401))
    # the material history ends where the trainer reports it
    assert metrics["lam"][-1] == lam and metrics["mu"][-1] == mu
    assert metrics.truth == TRUTH
    # the model holds the trained weights
    np.testing.assert_array_equal(trainer.model.params, trainer.state.x[: trainer.model.arch.n_params])
    assert metrics["data"][-1] < 1e-2 * metrics["data"][0]


# -- the size of dense BFGS --------------------------------------------------------------------


@pytest.mark.parametrize("field", ["second_order", "kind"])
def test_dense_bfgs_beyond_its_size_runs_lbfgs_and_says_so(field, tmp_path):
    changes = {"training.epochs": 3, "optimizer.switch_after": 0, "checkpoint.directory": str(tmp_path)}
    if field == "kind":
        changes["optimizer.kind"] = "bfgs"
    asked = tiny_config(**changes)
    size = sum(np.prod(s) for s in ((3, 12), (12,), (12, 12), (12,), (12, 2), (2,))) + 2  # network, lam and mu
    small = asked.replace(**{"optimizer.bfgs_max_size": size - 1})
    with pytest.warns(DenseSizeWarning, match=rf"optimizer.{field}: 'bfgs' over {size} trained values .*"
                                              rf"bfgs_max_size = {size - 1}"):
        trainer, metrics = train(small)
    assert trainer.objective.size == size
    assert getattr(trainer.config.optimizer, field) == "lbfgs" and getattr(small.optimizer, field) == "bfgs"
    assert isinstance(trainer.state.opt_state, LbfgsState) and np.all(metrics["phase"] == SECOND_ORDER)
    assert Config.from_dict(checkpoint.read(trainer.last_checkpoint)["config"]).optimizer == trainer.config.optimizer
    resumed = Trainer.load_checkpoint(str(tmp_path), progress=quiet())
    resumed.config.training.epochs = 5
    resumed.train()  # the checkpoint's L-BFGS state goes on with L-BFGS
    assert resumed.state.epoch == 5 and isinstance(resumed.state.opt_state, LbfgsState)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DenseSizeWarning)
        trainer, _ = train(asked.replace(**{"optimizer.bfgs_max_size": size, "checkpoint.directory": None}))
    assert getattr(trainer.config.optimizer, field) == "bfgs" and isinstance(trainer.state.opt_state, BfgsState)


def test_the_size_limit_applies_to_a_second_phase_the_run_reaches(tmp_path):
    cfg = tiny_config(**{"training.epochs": 2, "optimizer.switch_after": 2, "optimizer.bfgs_max_size": 10,
                         "checkpoint.directory": str(tmp_path)})
    with warnings.catch_warnings():
        warnings.simplefilter("error", DenseSizeWarning)  # the run ends before its switch: nothing to say
        trainer, _ = train(cfg)
    assert trainer.config.optimizer.second_order == "bfgs"
    resumed = Trainer.load_checkpoint(str(tmp_path), progress=quiet())
    resumed.config.training.epochs = 4
    with pytest.warns(DenseSizeWarning, match="optimizer.second_order"):
        resumed.train()  # given more epochs it reaches the switch
    assert resumed.config.optimizer.second_order == "lbfgs" and isinstance(resumed.state.opt_state, LbfgsState)


def test_the_default_size_limit_keeps_dense_bfgs_for_the_demo():
    cfg = demo_config(epochs=1, threads=1)
    trainer = Trainer(None, cfg.replace(**{"checkpoint.directory": None}), progress=quiet())
    with warnings.catch_warnings():
        warnings.simplefilter("error", DenseSizeWarning)
        trainer.train(plane_waves(*TRUTH, n_sensors=50, rng=0)[0])
    assert trainer.objective.size <= cfg.optimizer.bfgs_max_size and isinstance(trainer.state.opt_state, BfgsState)


# -- the objective -----------------------------------------------------------------------------


@pytest.mark.parametrize("free", [("lam", "mu"), ("lam", "mu", "rho"), ("mu",)])
def test_objective_gradient_matches_finite_differences(free):
    """Network weights and theta = log(p / p0): d/dtheta = p d/dp (the chain rule)."""
    data = tiny_data("full")
    changes = {f"material.optimize_{n}": n in free for n in ("lam", "mu", "rho")}
    changes.update({"architecture.hidden": [5, 4], "training.epochs": 0, "sampling.n_collocation": 20,
                    "loss_weights.traction": 0.7, "loss_weights.initial_velocity": 2.0})
    trainer, _ = train(tiny_config(**changes), data)
    n = trainer.model.arch.n_params
    x = trainer.state.x.copy()
    assert x.shape == (n + len(free),)
    x[n:] = np.linspace(-0.3, 0.2, len(free))  # away from the guesses
    prep = trainer._full_prep()
    res, g = trainer.evaluate(x, prep)
    assert set(res.terms) == {"pde", "traction", "initial", "initial_velocity", "data"}
    f = lambda z: trainer.evaluate(z, prep)[0].total  # noqa: E731
    check_grads(f, x, g, directions=4, coords=range(n, n + len(free)), rng=0)
    # the material part is p dL/dp of the engine's gradient at p = p0 exp(theta)
    vals = trainer.material_values(x)
    for i, name in enumerate(free):
        assert vals[name] == pytest.approx(trainer.objective.p0[name] * math.exp(x[n + i]), rel=1e-15)
        assert g[n + i] == pytest.approx(vals[name] * res.grad_material[name], rel=1e-15)


def test_loss_is_the_weighted_sum_of_normalised_terms():
    data = tiny_data("full")
    weights = {"pde": 0.3, "traction": 0.5, "initial": 1.5, "initial_velocity": 0.2, "data": 2.0}
    cfg = tiny_config(**{f"loss_weights.{t}": w for t, w in weights.items()},
                      **{"training.epochs": 6, "optimizer.second_order": "lbfgs", "optimizer.switch_after": 3})
    trainer, metrics = train(cfg, data)
    # the scales written out: L, T from the sensors' spectrum (tests/test_scaling.py), U =
    # rms(sensors), M = rho0 (L / T)^2, the stiffness of the measured waves
    U = math.sqrt(np.mean(data.sensor_values**2))
    L, T = wave_scales(data.sensor_points, data.sensor_values, data.domain)
    M = 1.0 * (L / T) ** 2
    norm = {"pde": (M * U / L**2) ** 2, "traction": (M * U / L) ** 2, "initial": U**2,
            "initial_velocity": (U / T) ** 2, "data": U**2}
    assert trainer.scales.displacement == pytest.approx(U, rel=1e-14)
    assert np.all(np.isnan(metrics["boundary"]))  # no Dirichlet data
    for k in range(len(metrics)):
        expected = sum(weights[t] * metrics[t][k] / norm[t] for t in weights)
        assert metrics["loss"][k] == pytest.approx(expected, rel=1e-12), k
    np.testing.assert_array_equal(metrics["phase"], [0, 0, 0, 1, 1, 1])
    # the terms are in user units: the data term is the mean squared sensor misfit
    # (the last L-BFGS row is evaluated at the final parameters)
    pred = trainer.model.predict(data.sensor_points)
    misfit = np.mean(np.sum((pred - data.sensor_values) ** 2, axis=1))
    assert metrics["data"][-1] == pytest.approx(misfit, rel=1e-10)


def test_terms_agree_with_the_engine_at_the_final_parameters():
    data = tiny_data("full")
    trainer, metrics = train(tiny_config(**{"training.epochs": 4, "optimizer.kind": "lbfgs"}), data)
    mat = trainer.material
    pts = data.point_sets(trainer.state.collocation, np.float64)
    res = engine.loss_and_grad(trainer.model.params, trainer.model.arch, pts,
                               Material(mat["lam"], mat["mu"], mat["rho"]), need_grad=False)
    last = metrics.last()
    for t in res.terms:
        assert last[t] == pytest.approx(res.terms[t], rel=1e-12), t


# -- optimizers --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind, extra",
    [
        ("sgd", {"optimizer.lr": 1e-2, "optimizer.momentum": 0.9}),
        ("adam", {}),
        ("adamw", {"optimizer.weight_decay": 1e-2}),
        ("lbfgs", {}),
        ("bfgs", {}),
        ("bfgs", {"optimizer.bfgs_variant": "ssbfgs"}),
        ("lm", {}),
    ],
)
def test_every_optimizer_decreases_the_loss(kind, extra):
    cfg = tiny_config(**{"optimizer.kind": kind, "training.epochs": 15}, **extra)
    trainer, metrics = train(cfg)
    loss = metrics["loss"]
    assert len(loss) == 15 and np.all(np.isfinite(loss))
    assert loss[-1] < 0.97 * loss[0], loss
    second = kind in ("lbfgs", "bfgs", "lm")
    assert np.all(metrics["phase"] == (SECOND_ORDER if second else FIRST_ORDER))
    assert trainer.state.phase == (SECOND_ORDER if second else FIRST_ORDER)
    assert trainer.opt.name == kind
    if not second:
        np.testing.assert_array_equal(metrics["lr"], np.full(15, cfg.optimizer.lr))


def test_adamw_differs_from_adam_only_through_weight_decay():
    _, adam = train(tiny_config(**{"training.epochs": 4}))
    _, adamw0 = train(tiny_config(**{"training.epochs": 4, "optimizer.kind": "adamw"}))
    _, adamw = train(tiny_config(**{"training.epochs": 4, "optimizer.kind": "adamw", "optimizer.weight_decay": 0.1}))
    np.testing.assert_array_equal(adam["loss"], adamw0["loss"])
    assert not np.array_equal(adam["loss"][1:], adamw["loss"][1:])


def test_float32_network_trains():
    trainer, metrics = train(tiny_config(**{"architecture.dtype": "float32", "training.epochs": 15}))
    assert trainer.state.x.dtype == np.float32 and trainer.model.params.dtype == np.float32
    assert metrics["loss"][-1] < 0.97 * metrics["loss"][0]


@pytest.mark.parametrize("after", [0, 4, 9])
def test_switch_happens_exactly_at_switch_after(after):
    trainer, metrics = train(tiny_config(**{"training.epochs": 9, "optimizer.second_order": "lbfgs", "optimizer.switch_after": after}))
    np.testing.assert_array_equal(metrics["phase"], [FIRST_ORDER] * after + [SECOND_ORDER] * (9 - after))
    # L-BFGS reports its accepted step size, the first-order phase the learning rate
    assert np.all(metrics["lr"][:after] == 3e-3)
    assert trainer.state.phase == (SECOND_ORDER if after < 9 else FIRST_ORDER)


def test_material_learning_rate_moves_material_faster():
    _, slow = train(tiny_config(**{"training.epochs": 5}))
    _, fast = train(tiny_config(**{"training.epochs": 5, "optimizer.material_lr": 3e-2}))
    # with Adam each step moves theta by about the learning rate
    assert abs(math.log(fast["lam"][-1] / 4.0)) > 5 * abs(math.log(slow["lam"][-1] / 4.0))


# -- mini-batches ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "batch, after, steps",
    [
        (None, None, [1, 2, 3, 4]),
        (64, None, [1, 2, 3, 4]),
        (100, None, [1, 2, 3, 4]),
        (16, None, [4, 8, 12, 16]),
        (7, None, [10, 20, 30, 40]),  # ceil(64 / 7) = 10, the last batch holds one point
        (16, 2, [4, 8, 9, 10]),  # L-BFGS: one full-batch step per epoch
    ],
)
def test_steps_per_epoch_are_ceil_n_over_batch(batch, after, steps):
    switch = {"optimizer.second_order": "none"} if after is None else {"optimizer.second_order": "lbfgs",
                                                                      "optimizer.switch_after": after}
    cfg = tiny_config(**{"training.epochs": 4, "training.batch_size": batch, **switch})
    trainer, metrics = train(cfg)
    np.testing.assert_array_equal(metrics["step"], steps)
    assert trainer.state.step == steps[-1]


def test_minibatch_epoch_loss_is_the_mean_over_batches(monkeypatch):
    """With batches of one epoch, the row's loss is the mean of the batch totals."""
    seen = []
    trainer = Trainer(None, tiny_config(**{"training.epochs": 2, "training.batch_size": 20}), progress=quiet())
    evaluate = Objective.evaluate

    def spy(self, x, prep, weights):
        res, g = evaluate(self, x, prep, weights)
        seen.append((prep.counts["pde"], res.total))
        return res, g

    monkeypatch.setattr(Objective, "evaluate", spy)
    metrics = trainer.train(tiny_data())
    assert [c for c, _ in seen] == [20, 20, 20, 4] * 2  # 64 points in batches of 20
    for epoch in range(2):
        batch = [v for _, v in seen[4 * epoch : 4 * epoch + 4]]
        assert metrics["loss"][epoch] == pytest.approx(sum(batch) / 4, rel=1e-14)


# -- material parameters -----------------------------------------------------------------------


def test_material_bounds_are_respected_in_both_phases():
    cfg = tiny_config(**{"material.lam_bounds": [3.5, 6.0], "material.mu_bounds": [0.45, 0.55],
                         "optimizer.material_lr": 0.05, "training.epochs": 30, "optimizer.second_order": "lbfgs", "optimizer.switch_after": 15})
    _, metrics = train(cfg)
    lam, mu = metrics["lam"], metrics["mu"]
    tol = 1e-12
    assert np.all(lam >= 3.5 * (1 - tol)) and np.all(lam <= 6.0 * (1 + tol))
    assert np.all(mu >= 0.45 * (1 - tol)) and np.all(mu <= 0.55 * (1 + tol))
    # the unbounded run leaves the box: the bounds were active
    _, free_run = train(cfg.replace(**{"material.lam_bounds": None, "material.mu_bounds": None}))
    assert free_run["lam"].min() < 3.4
    assert lam.min() == pytest.approx(3.5, rel=1e-12)
    assert np.any(metrics["phase"][lam <= 3.5 * (1 + tol)] == SECOND_ORDER)


def test_fixed_rho_stays_fixed_and_free_rho_moves():
    _, fixed = train(tiny_config(**{"material.rho": 1.3, "training.epochs": 8}))
    assert np.all(fixed["rho"] == 1.3)
    cfg = tiny_config(**{"material.rho": 1.3, "material.optimize_rho": True, "training.epochs": 8})
    with pytest.warns(IdentifiabilityWarning):
        trainer, free = train(cfg)
    assert abs(free["rho"][-1] - 1.3) > 1e-4
    assert trainer.free == ("lam", "mu", "rho")
    assert trainer.state.x.shape == (trainer.model.arch.n_params + 3,)


def test_fixed_lam_stays_fixed():
    trainer, metrics = train(tiny_config(**{"material.optimize_lam": False, "training.epochs": 5}))
    assert np.all(metrics["lam"] == 4.0)
    assert metrics["mu"][-1] != 0.5
    assert trainer.free == ("mu",)


def test_material_before_training_is_the_initial_guess():
    trainer = Trainer(None, tiny_config())
    assert trainer.material == {"lam": 4.0, "mu": 0.5, "rho": 1.0}


# -- identifiability ---------------------------------------------------------------------------


def _warnings_of(config, data):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(config, data)
    return [w for w in caught if issubclass(w.category, IdentifiabilityWarning)]


def test_identifiability_warning_with_all_free_and_displacements_only():
    cfg = tiny_config(**{"material.optimize_rho": True, "training.epochs": 0})
    found = _warnings_of(cfg, tiny_data())
    assert len(found) == 1
    assert "rho" in str(found[0].message) and "traction" in str(found[0].message)


def test_no_identifiability_warning_when_rho_is_fixed_or_traction_is_known():
    assert _warnings_of(tiny_config(**{"training.epochs": 0}), tiny_data()) == []
    all_free = tiny_config(**{"material.optimize_rho": True, "training.epochs": 0})
    assert _warnings_of(all_free, tiny_data("full")) == []
    # a known body force fixes the scale too
    d = tiny_data()
    colloc = np.random.default_rng(0).uniform(0, 1, (30, 3))
    forced = TrainingData(d.domain, collocation=colloc, body_force=np.zeros((30, 2)),
                          sensor_points=d.sensor_points, sensor_values=d.sensor_values)
    assert _warnings_of(all_free, forced) == []


# -- determinism -------------------------------------------------------------------------------


def test_same_seed_same_history_and_different_seed_differs():
    cfg = tiny_config(**{"training.epochs": 6, "training.batch_size": 20, "optimizer.second_order": "lbfgs", "optimizer.switch_after": 4,
                         "sampling.strategy": "uniform"})
    a_trainer, a = train(cfg)
    b_trainer, b = train(cfg)
    assert_same_history(a, b)
    np.testing.assert_array_equal(a_trainer.state.x, b_trainer.state.x)
    # the thread count does not change any result
    _, c = train(cfg.replace(**{"training.threads": 2}))
    assert_same_history(a, c)
    _, d = train(cfg.replace(**{"training.seed": 1}))
    assert not np.array_equal(a["loss"], d["loss"])
    assert not np.array_equal(a["lam"], d["lam"])


# -- callbacks and stops -----------------------------------------------------------------------


def test_callbacks_receive_rows_every_n_epochs():
    calls, every_two = [], []

    def record(trainer, row):
        calls.append((trainer, dict(row)))

    trainer, metrics = train(tiny_config(), callbacks=[(record, 3), (lambda t, r: every_two.append(r["epoch"]), 2)])
    assert [row["epoch"] for _, row in calls] == [3, 6, 9]
    assert every_two == [2, 4, 6, 8, 10]
    for t, row in calls:
        assert t is trainer
        k = int(row["epoch"]) - 1
        assert set(row) >= set(COLUMNS)
        for c in ("loss", "step", "lam", "mu", "data", "pde", "lr", "phase"):
            assert row[c] == metrics[c][k], c


def test_callback_returning_true_stops_training():
    trainer, metrics = train(tiny_config(), callbacks=[(lambda t, row: row["epoch"] == 4, 2)])
    assert len(metrics) == 4 and trainer.state.epoch == 4
    assert trainer.state.stop_reason == "stopped by a callback"


def test_bad_callbacks_are_rejected():
    trainer = Trainer(None, tiny_config())
    for fn, every in ((None, 1), (print, 0), (print, 1.5)):
        with pytest.raises(InputError, match="add_callback"):
            trainer.add_callback(fn, every)


def test_target_loss_stops_early():
    _, ref = train(tiny_config())
    target = float(ref["loss"][5])
    first = int(np.argmax(ref["loss"] <= target)) + 1  # the first epoch at or below the target
    trainer, metrics = train(tiny_config(**{"training.target_loss": target}))
    assert len(metrics) == first <= 6
    assert trainer.state.stop_reason == "target loss reached"
    np.testing.assert_array_equal(metrics["loss"], ref["loss"][:first])


def _interrupt(trainer, row):
    os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("at", [2, 6])  # in the Adam phase, in the L-BFGS phase
def test_ctrl_c_stops_after_the_epoch_and_train_continues(at):
    before = signal.getsignal(signal.SIGINT)
    cfg = tiny_config(**{"training.epochs": 9, "optimizer.second_order": "lbfgs", "optimizer.switch_after": 4})
    _, ref = train(cfg)
    trainer = Trainer(None, cfg, progress=quiet())
    trainer.add_callback(lambda t, row: row["epoch"] == at and _interrupt(t, row))
    metrics = trainer.train(tiny_data())  # does not raise KeyboardInterrupt
    assert len(metrics) == at and trainer.state.epoch == at and trainer.state.step == at
    assert trainer.state.stop_reason == "interrupted by SIGINT" and trainer.stop_signal == signal.SIGINT
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back
    metrics = trainer.train()  # continues with the data it has
    assert len(metrics) == 9 and trainer.state.stop_reason == "epochs"
    assert_same_history(metrics, ref)


def test_ctrl_c_inside_an_epoch_stops_after_the_current_step():
    cfg = tiny_config(**{"training.epochs": 3, "training.batch_size": 16})  # 4 steps per epoch
    _, ref = train(cfg)
    trainer = Trainer(None, cfg, progress=quiet())
    objective, calls = trainer.evaluate, []

    def objective_then_ctrl_c(x, prep, weights=None):
        calls.append(len(calls) + 1)
        if len(calls) == 6:  # during the second batch of the second epoch
            os.kill(os.getpid(), signal.SIGINT)
        return objective(x, prep, weights)

    trainer.evaluate = objective_then_ctrl_c
    metrics = trainer.train(tiny_data())
    assert trainer.state.step == 6 and trainer.state.epoch == 1 and len(metrics) == 1
    assert trainer.state.stop_reason == "interrupted by SIGINT" and trainer.stop_signal == signal.SIGINT
    assert trainer.state.batch_pos == 2
    metrics = trainer.train()
    assert len(metrics) == 3 and trainer.state.step == 12
    assert_same_history(metrics, ref)


# -- adaptive resampling and weights ---------------------------------------------------------


def test_rar_grows_the_collocation_set_at_the_right_epochs():
    sizes = []
    cfg = tiny_config(**{"sampling.adaptive": "rar", "sampling.adaptive_every": 3, "sampling.rar_k": 10,
                         "sampling.n_candidates": 200})
    trainer, metrics = train(cfg, callbacks=[(lambda t, row: sizes.append(len(t.state.collocation)), 1)])
    # refinements before epochs 4, 7 and 10 (after 3, 6 and 9 completed epochs)
    assert sizes == [64, 64, 64, 74, 74, 74, 84, 84, 84, 94]
    _, fixed = train(tiny_config())
    plain = Trainer(None, tiny_config(**{"training.epochs": 0}), progress=quiet())
    plain.train(tiny_data())
    np.testing.assert_array_equal(trainer.state.collocation[:64], plain.state.collocation)
    added = trainer.state.collocation[64:]
    assert len({tuple(p) for p in added.tolist()}) == 30
    assert np.all((added >= 0) & (added <= 1))
    # the first three epochs match the run without refinement
    np.testing.assert_array_equal(metrics["loss"][:3], fixed["loss"][:3])
    assert metrics["loss"][3] != fixed["loss"][3]


@pytest.mark.parametrize("kind", ["bfgs", "lbfgs", "lm"])
def test_the_second_order_phase_resamples_too(kind):
    # Config()'s default trains second-order from the first epoch: sampling.adaptive must act there
    sizes = []
    changes = {"sampling.adaptive": "rar", "sampling.adaptive_every": 3, "sampling.rar_k": 10,
               "sampling.n_candidates": 200, "optimizer.switch_after": 0, "optimizer.second_order": kind,
               "training.epochs": 7}
    trainer, metrics = train(tiny_config(**changes),
                             callbacks=[(lambda t, row: sizes.append(len(t.state.collocation)), 1)])
    assert sizes == [64, 64, 64, 74, 74, 74, 84]
    assert metrics["phase"].tolist() == [1] * 7
    _, fixed = train(tiny_config(**{k: v for k, v in changes.items() if not k.startswith("sampling.")}))
    np.testing.assert_array_equal(metrics["loss"][:3], fixed["loss"][:3])
    assert metrics["loss"][3] != fixed["loss"][3]


def test_rad_redraws_the_same_number_of_points():
    cfg = tiny_config(**{"sampling.adaptive": "rad", "sampling.adaptive_every": 2, "training.epochs": 3,
                         "sampling.n_candidates": 300})
    plain = Trainer(None, cfg.replace(**{"training.epochs": 0}), progress=quiet())
    plain.train(tiny_data())
    trainer, _ = train(cfg)
    assert trainer.state.collocation.shape == (64, 3)
    assert not np.array_equal(trainer.state.collocation, plain.state.collocation)


def test_adaptive_weights_follow_the_annealing_rule():
    data = tiny_data("full")
    alpha = 0.5
    cfg = tiny_config(**{"loss_weights.adaptive": True, "loss_weights.adaptive_every": 1,
                         "loss_weights.adaptive_alpha": alpha, "training.epochs": 1})
    # the first update happens at the initial parameters: compute it independently
    start = Trainer(None, cfg.replace(**{"training.epochs": 0}), progress=quiet())
    start.train(data)
    arch, n = start.model.arch, start.model.arch.n_params
    params = start.state.x[:n]
    norm = start.scales.normalisers()
    mat = Material(4.0, 0.5, 1.0)
    full = data.point_sets(start.state.collocation, np.float64)

    def term_grad(term, field, values=None):
        pts = {field: getattr(full, field)}
        if values:
            for v in values:
                pts[v] = getattr(full, v)
        return engine.loss_and_grad(params, arch, PointSets(**pts), mat, {term: 1.0 / norm[term]}).grad

    g_pde = term_grad("pde", "collocation")
    expected = {
        "data": term_grad("data", "data", ["data_values"]),
        "traction": term_grad("traction", "traction", ["traction_normals", "traction_values"]),
        "initial": term_grad("initial", "initial", ["initial_values"]),
        "initial_velocity": term_grad("initial_velocity", "initial_velocity", ["initial_velocity_values"]),
    }
    trainer, _ = train(cfg, data)
    w = dict(zip(TERMS, trainer.state.adaptive.weights))
    assert trainer.state.adaptive.count == 1
    assert w["pde"] == 1.0 and w["boundary"] == 1.0  # the PDE keeps 1; no Dirichlet data
    top = np.abs(g_pde).max()
    for t, g in expected.items():
        assert w[t] == pytest.approx((1 - alpha) + alpha * top / np.abs(g).mean(), rel=1e-9), t
        assert abs(w[t] - 1) > 1e-3, t
    # the weights enter the loss: the total is sum(w_cfg * w_adaptive * term / normaliser)
    res, _ = trainer.evaluate(trainer.state.x, trainer._full_prep())
    cw = cfg.loss_weights
    total = sum(getattr(cw, t) * w[t] * res.terms[t] / norm[t] for t in res.terms)
    assert res.total == pytest.approx(total, rel=1e-12)


def test_adaptive_weights_update_every_k_steps():
    cfg = tiny_config(**{"loss_weights.adaptive": True, "loss_weights.adaptive_every": 4, "training.epochs": 9})
    trainer, metrics = train(cfg)
    assert trainer.state.adaptive.count == 3  # steps 0, 4 and 8
    assert trainer.state.adaptive.weights[TERMS.index("data")] != 1.0
    _, plain = train(tiny_config(**{"training.epochs": 9}))
    # the weighted total changes from the first update on; the unweighted terms only after a step
    assert metrics["loss"][0] != plain["loss"][0]
    assert metrics["data"][0] == plain["data"][0]


def test_adaptive_weights_stay_one_when_disabled():
    trainer, _ = train(tiny_config(**{"training.epochs": 3}))
    np.testing.assert_array_equal(trainer.state.adaptive.weights, np.ones(len(TERMS)))
    assert trainer.state.adaptive.count == 0


# -- models, data and errors -------------------------------------------------------------------


def test_given_model_is_trained_in_place():
    model = ElasticPINN2D([12, 12], rng=5)
    start = model.params.copy()
    trainer = Trainer(model, tiny_config(**{"training.epochs": 3}), progress=quiet())
    trainer.train(tiny_data())
    assert trainer.model is model
    assert not np.array_equal(model.params, start)
    np.testing.assert_array_equal(model.params, trainer.state.x[: model.arch.n_params])


def test_explicit_collocation_points_are_used():
    d = tiny_data()
    colloc = np.random.default_rng(3).uniform(0, 1, (25, 3))
    data = TrainingData(d.domain, collocation=colloc, sensor_points=d.sensor_points, sensor_values=d.sensor_values)
    sizes = []
    trainer = Trainer(None, tiny_config(**{"training.epochs": 2, "sampling.n_collocation": 0}), progress=quiet())
    objective = trainer.evaluate
    trainer.evaluate = lambda x, prep, w=None: (sizes.append(prep.counts["pde"]), objective(x, prep, w))[1]
    trainer.train(data)
    assert trainer.state.collocation is None
    assert sizes == [25, 25]


@pytest.mark.parametrize(
    "model, field",
    [
        (ElasticPINN2D([8], rng=0), "architecture.hidden"),
        (ElasticPINN2D([12, 12], "sin", rng=0), "architecture.activation"),
        (ElasticPINN2D([12, 12], dtype="float32", rng=0), "architecture.dtype"),
    ],
)
def test_model_config_mismatch_names_the_field(model, field):
    with pytest.raises(ConfigError, match=field):
        Trainer(model, tiny_config())


def test_bad_arguments_are_rejected():
    with pytest.raises(InputError, match="config: expected a pinnlite.Config"):
        Trainer(None, {"training": {"epochs": 3}})
    with pytest.raises(InputError, match="model: expected an ElasticPINN2D"):
        Trainer("model", tiny_config())
    trainer = Trainer(None, tiny_config(), progress=quiet())
    with pytest.raises(InputError, match="data: expected a TrainingData, found None"):
        trainer.train()
    with pytest.raises(InputError, match="data: expected a TrainingData, found dict"):
        trainer.train({"domain": ((0, 1), (0, 1), (0, 1))})
    d = tiny_data()
    with pytest.raises(ConfigError, match="sampling.n_collocation"):
        Trainer(None, tiny_config(**{"sampling.n_collocation": 0})).train(d)
    forced = TrainingData(d.domain, collocation=np.zeros((3, 3)), body_force=np.zeros((3, 2)),
                          sensor_points=d.sensor_points, sensor_values=d.sensor_values)
    with pytest.raises(ConfigError, match="sampling.adaptive"):
        Trainer(None, tiny_config(**{"sampling.adaptive": "rad"})).train(forced)
    given = TrainingData(d.domain, collocation=np.zeros((3, 3)), sensor_points=d.sensor_points,
                         sensor_values=d.sensor_values)  # the run would keep training on these
    with pytest.raises(ConfigError, match="sampling.adaptive: the data give the collocation points.*found 'rar'"):
        Trainer(None, tiny_config(**{"sampling.adaptive": "rar"})).train(given)
    empty = TrainingData(d.domain, collocation=np.zeros((0, 3)), sensor_points=d.sensor_points,
                         sensor_values=d.sensor_values)
    with pytest.raises(InputError, match="data.collocation: expected at least one point"):
        Trainer(None, tiny_config(**{"sampling.n_collocation": 0})).train(empty)


def test_continuing_on_another_domain_is_rejected():
    trainer, _ = train(tiny_config(**{"training.epochs": 1}))
    other = plane_waves(*TRUTH, domain=((0.0, 2.0), (0.0, 1.0), (0.0, 1.0)), n_sensors=20, rng=0)[0]
    trainer.config = trainer.config.replace(**{"training.epochs": 2})
    with pytest.raises(InputError, match="data.domain"):
        trainer.train(other)


# -- what cannot be recovered ------------------------------------------------------------------


@pytest.mark.parametrize("free, fixed_flags", [
    (("lam", "mu"), "material.optimize_lam = false, material.optimize_mu = false"),
    (("mu",), "material.optimize_mu = false"),
])
def test_free_material_without_sensor_data_is_an_error(free, fixed_flags):
    full = tiny_data("full")  # traction, initial conditions and sensors
    no_sensors = TrainingData(full.domain, traction_points=full.traction_points,
                              traction_normals=full.traction_normals, traction_values=full.traction_values,
                              initial_points=full.initial_points, initial_displacement=full.initial_displacement,
                              initial_velocity=full.initial_velocity)
    cfg = tiny_config(**{f"material.optimize_{n}": n in free for n in ("lam", "mu", "rho")})
    with pytest.raises(ConfigError) as info:
        Trainer(None, cfg, progress=False).train(no_sensors)
    msg = str(info.value)
    assert msg.startswith(f"material: {' and '.join(free)} ")
    assert "the data hold no sensor displacements" in msg and "nothing determines" in msg
    assert fixed_flags in msg and "sensor_points" in msg


def test_a_data_term_of_weight_zero_recovers_nothing_either():
    with pytest.raises(ConfigError, match=r"the data term has weight 0 \(loss_weights.data\)"):
        Trainer(None, tiny_config(**{"loss_weights.data": 0.0}), progress=False).train(tiny_data())


def test_a_forward_problem_needs_no_sensors():
    full = tiny_data("full")
    forward = TrainingData(full.domain, initial_points=full.initial_points,
                           initial_displacement=full.initial_displacement, initial_velocity=full.initial_velocity)
    cfg = tiny_config(**{"material.optimize_lam": False, "material.optimize_mu": False, "training.epochs": 2})
    trainer = Trainer(None, cfg, progress=False)
    metrics = trainer.train(forward)
    assert len(metrics) == 2 and np.isnan(metrics["data"]).all() and np.all(metrics["lam"] == 4.0)


def test_the_identifiability_warning_is_given_once_not_logged_too(caplog):
    cfg = tiny_config(**{"material.optimize_rho": True, "training.epochs": 0})
    with caplog.at_level(logging.INFO, logger="pinnlite"):
        found = _warnings_of(cfg, tiny_data())
    assert len(found) == 1
    assert not [r for r in caplog.records if "lam/rho" in r.getMessage()]


# -- the progress display ----------------------------------------------------------------------


def test_progress_false_shows_nothing_and_trains_the_same(capfd):
    cfg = tiny_config(**{"training.epochs": 3, "training.log_every": 1})
    _, ref = train(cfg)
    capfd.readouterr()
    trainer = Trainer(None, cfg, progress=False)
    metrics = trainer.train(tiny_data())
    assert capfd.readouterr() == ("", "")
    assert_same_history(metrics, ref)
    # the default display writes a line per log_every epoch to the (non-terminal) stderr
    Trainer(None, cfg).train(tiny_data())
    err = capfd.readouterr().err
    assert re.findall(r"^Adam  epoch (\d)/3  loss ", err, re.M) == ["1", "2", "3"]


# -- automatic saves -----------------------------------------------------------------------------


class FakeClock:
    """time.monotonic of the save policy, moved by a callback after each epoch."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now


def test_checkpoints_on_wall_time(tmp_path, monkeypatch):
    from pinnlite.training import autosave

    clock = FakeClock()
    monkeypatch.setattr(autosave, "time", clock)
    cfg = tiny_config(**{"training.epochs": 10, "checkpoint.directory": str(tmp_path), "checkpoint.keep_last": 20,
                         "checkpoint.every_seconds": 100.0})
    trainer = Trainer(None, cfg, progress=False)
    trainer.add_callback(lambda t, row: setattr(clock, "now", clock.now + 45.0))  # 45 s per epoch
    trainer.train(tiny_data())
    # 100 s passed after epochs 3 (135 s), 6 (135 s after 3) and 9; the end saves epoch 10
    assert [e for e, _ in checkpoint.list_checkpoints(tmp_path)] == [3, 6, 9, 10]


def test_the_default_saves_every_ten_minutes():
    assert Config().checkpoint.every_seconds == 600.0 and Config().checkpoint.interval == 0


def failing_saves(monkeypatch, fail_at):
    """Make the checkpoint saves numbered in ``fail_at`` (1-based) raise ENOSPC; returns the call log."""
    real, calls = checkpoint.save_in_directory, []

    def save(directory, epoch, tree, keep_last):
        calls.append(epoch)
        if len(calls) in fail_at:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(directory, epoch, tree, keep_last)

    monkeypatch.setattr(checkpoint, "save_in_directory", save)
    return calls


def test_a_failed_save_warns_training_goes_on_and_the_next_save_retries(tmp_path, monkeypatch):
    calls = failing_saves(monkeypatch, fail_at={2, 3})
    cfg = tiny_config(**{"training.epochs": 8, "checkpoint.directory": str(tmp_path), "checkpoint.interval": 2,
                         "checkpoint.keep_last": 10})
    _, ref = train(cfg.replace(**{"checkpoint.directory": None}))
    trainer = Trainer(None, cfg, progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        metrics = trainer.train(tiny_data())
    assert_same_history(metrics, ref)  # nothing lost, nothing changed
    assert calls == [2, 4, 6, 8]
    saved = [str(w.message) for w in caught if issubclass(w.category, SaveWarning)]
    assert len(saved) == 2
    assert f"could not save the checkpoint {os.path.join(str(tmp_path), 'ckpt-00000004.pinnlite')}" in saved[0]
    assert "No space left on device" in saved[0] and "ckpt-00000002.pinnlite" in saved[0]  # the last good one
    assert [e for e, _ in checkpoint.list_checkpoints(tmp_path)] == [2, 8]
    assert trainer.last_checkpoint == checkpoint.checkpoint_path(tmp_path, 8)


def test_too_many_failed_saves_in_a_row_stop_with_the_last_good_checkpoint(tmp_path, monkeypatch):
    failing_saves(monkeypatch, fail_at={2, 3, 4})
    cfg = tiny_config(**{"training.epochs": 20, "checkpoint.directory": str(tmp_path), "checkpoint.interval": 2})
    trainer = Trainer(None, cfg, progress=False)
    with pytest.warns(SaveWarning), pytest.raises(SaveError) as info:
        trainer.train(tiny_data())
    assert trainer.state.epoch == 8  # the third failure in a row, at epoch 8
    assert "3 checkpoint saves in a row failed" in str(info.value)
    assert str(info.value).endswith(f"the last good checkpoint is {checkpoint.checkpoint_path(tmp_path, 2)}")
    assert Trainer.load_checkpoint(tmp_path).state.epoch == 2


def test_a_run_loaded_from_a_file_saves_beside_it(tmp_path):
    first, copy_dir = tmp_path / "first", tmp_path / "copy"
    cfg = tiny_config(**{"training.epochs": 3, "checkpoint.directory": str(first)})
    train(cfg)
    copy_dir.mkdir()
    shutil.copy(checkpoint.latest(first), copy_dir)
    before = {p.name: p.read_bytes() for p in first.iterdir()}
    trainer = Trainer.load_checkpoint(path=copy_dir / "ckpt-00000003.pinnlite", progress=False)
    assert trainer.last_checkpoint == str(copy_dir / "ckpt-00000003.pinnlite")
    trainer.config = trainer.config.replace(**{"training.epochs": 5})
    trainer.train()
    assert {p.name: p.read_bytes() for p in first.iterdir()} == before  # the first run is untouched
    assert (copy_dir / "ckpt-00000005.pinnlite").is_file()


# -- a second signal -----------------------------------------------------------------------------


def test_a_second_signal_while_saving_leaves_every_checkpoint_good(tmp_path, monkeypatch):
    from pinnlite.io import atomic

    cfg = tiny_config(**{"training.epochs": 6, "checkpoint.directory": str(tmp_path), "checkpoint.interval": 1,
                         "checkpoint.keep_best": False})
    trainer = Trainer(None, cfg, progress=False)
    real_write, writes = atomic._write_all, []

    def write_then_signal(fd, data):
        writes.append(len(data))
        if trainer.state.epoch == 3 and len(writes) > 1 and not getattr(write_then_signal, "sent", False):
            write_then_signal.sent = True
            real_write(fd, data[: len(data) // 2])  # half a file on disk, then the two signals
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)
        return real_write(fd, data)

    monkeypatch.setattr(atomic, "_write_all", write_then_signal)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(signals.Interrupted) as info:
        trainer.train(tiny_data())
    assert info.value.signum == signal.SIGINT and isinstance(info.value, KeyboardInterrupt)
    good = checkpoint.checkpoint_path(tmp_path, 2)
    assert info.value.checkpoint == good
    assert signal.getsignal(signal.SIGINT) is before
    names = sorted(os.listdir(tmp_path))
    assert names == ["ckpt-00000001.pinnlite", "ckpt-00000002.pinnlite", "latest"]  # no temporary file left
    assert checkpoint.latest(tmp_path) == good
    for _, path in checkpoint.list_checkpoints(tmp_path):
        checkpoint.verify(path)


def _continued_run(tmp_path):
    cfg = Config(name="again")
    cfg.architecture.hidden = [8, 8]
    cfg.training.epochs, cfg.training.threads = 3, 1
    cfg.sampling.n_collocation = 80
    cfg.checkpoint.directory = str(tmp_path / "ckpts")
    cfg.checkpoint.interval = 1
    data, _ = plane_waves(n_sensors=120, rng=3)
    trainer = Trainer(None, cfg, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # three epochs have not fitted the data
        trainer.train(data)
    return trainer


def test_a_config_changed_between_train_calls_is_checked_against_the_state(tmp_path):
    """The trainer's config may be changed between train() calls as resume --set may: a field the
    state holds was silently ignored (and the next checkpoint did not load), a string for the
    epochs ended in a TypeError."""
    trainer = _continued_run(tmp_path)
    x = trainer.state.x.copy()
    trainer.config.training.epochs = "5"
    with pytest.raises(ConfigError, match="^training.epochs: expected an integer >= 0, found '5'"):
        trainer.train()
    trainer.config.training.epochs = 5
    for key, value in (("architecture.hidden", [16, 16]), ("sampling.n_collocation", 90),
                       ("material.lam", 2.5), ("training.validation_fraction", 0.1)):
        section, name = key.split(".")
        old = getattr(getattr(trainer.config, section), name)
        setattr(getattr(trainer.config, section), name, value)
        with pytest.raises(ConfigError, match=rf"^{key}: {re.escape(repr(old))} -> {re.escape(repr(value))}: cannot "
                                              "change in a continued run"):
            trainer.train()
        setattr(getattr(trainer.config, section), name, old)
    assert trainer.state.epoch == 3 and trainer.state.x.tobytes() == x.tobytes()  # nothing trained meanwhile
    trainer.config.loss_weights.pde = 0.5  # what resume --set may change
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.train()
    assert trainer.state.epoch == 5
    assert Trainer.load_checkpoint(tmp_path / "ckpts").state.epoch == 5


def test_train_with_no_epochs_left_says_so(tmp_path, caplog):
    trainer = _continued_run(tmp_path)
    with caplog.at_level(logging.WARNING, logger="pinnlite"):
        trainer.train()  # returned at once, without a word
    assert "train(): the run is at epoch 3 and training.epochs is 3: nothing to train" in caplog.text
    assert trainer.state.epoch == 3


def test_another_second_order_optimizer_in_a_continued_run_starts_its_state_afresh(tmp_path, caplog):
    trainer = _continued_run(tmp_path)
    assert isinstance(trainer.state.opt_state, BfgsState)
    trainer.config.optimizer.second_order = "lbfgs"
    trainer.config.training.epochs = 5
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING, logger="pinnlite"):
        warnings.simplefilter("ignore")
        trainer.train()  # was: InputError 'state: expected a LbfgsState, found BfgsState'
    assert isinstance(trainer.state.opt_state, LbfgsState) and trainer.state.epoch == 5
    assert trainer.state.opt_state.count == 2  # two updates since the fresh start
    assert "epoch 3: lbfgs starts afresh: the run's optimizer state (BfgsState)" in caplog.text
    trainer.config.optimizer.lbfgs_history = 3  # another history: the ring buffer would not fit either
    trainer.config.training.epochs = 6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.train()
    assert trainer.state.opt_state.s.shape[0] == 3 and trainer.state.epoch == 6


def test_checkpoint_epochs_and_paths_of_the_wrong_kind_are_named(tmp_path):
    """save_checkpoint's first argument is the epoch: a directory there raised int()'s ValueError, -1
    wrote ckpt--0000001, 2.5 filed epoch 3's state as epoch 2, 10**12 a name no reader lists; a
    directory as path= and a file as directory raised IsADirectoryError and NotADirectoryError."""
    trainer = _continued_run(tmp_path)
    before = sorted(os.listdir(tmp_path / "ckpts"))
    with pytest.raises(InputError, match=r"^epoch: expected an integer, found '.*other' \(a directory\? pass it as "
                                         r"save_checkpoint\(directory=\.\.\.\)\)"):
        trainer.save_checkpoint(str(tmp_path / "other"))
    for epoch in (-1, 2.5, 10**8, True, "3"):
        with pytest.raises(InputError, match=r"^epoch: expected an integer"):
            trainer.save_checkpoint(epoch)
    assert sorted(os.listdir(tmp_path / "ckpts")) == before and not (tmp_path / "other").exists()
    assert trainer.save_checkpoint(10**8 - 1).endswith("ckpt-99999999.pinnlite")
    assert checkpoint.latest(tmp_path / "ckpts").endswith("ckpt-99999999.pinnlite")
    file = checkpoint.latest(tmp_path / "ckpts")
    with pytest.raises(checkpoint.MissingFileError, match="a directory, not a checkpoint file"):
        Trainer.load_checkpoint(path=tmp_path / "ckpts")
    with pytest.raises(InputError, match=r"^directory: expected a checkpoint directory, found the file .*path=\.\.\."):
        Trainer.load_checkpoint(file)
    with pytest.raises(checkpoint.MissingFileError, match="no such checkpoint directory"):
        Trainer.load_checkpoint(tmp_path / "nowhere")


@pytest.mark.parametrize("change, match", [
    (lambda d: setattr(d, "sensor_points", d.sensor_points * 10), r"^data.sensor_points: expected points inside"),
    (lambda d: setattr(d, "sensor_values", d.sensor_values[:, 0]), r"^data.sensor_values: expected a float array"),
    (lambda d: d.sensor_values.__setitem__((0, 0), np.nan), r"^data.sensor_values: expected finite values, found nan"),
])
def test_data_changed_after_it_was_made_is_checked_again_by_train(change, match):
    """A TrainingData checks itself when made; fields set afterwards trained on points outside the
    domain without a word, or failed deep inside (IndexError, a NaN loss naming no field)."""
    data, _ = plane_waves(n_sensors=60, rng=0)
    change(data)
    cfg = Config().replace(**{"architecture.hidden": [6], "training.epochs": 2, "training.threads": 1,
                              "sampling.n_collocation": 50})
    with pytest.raises(InputError, match=match):
        Trainer(None, cfg, progress=False).train(data)


@pytest.mark.parametrize("error", [OverflowError("(34, 'Numerical result out of range')"),
                                   np.linalg.LinAlgError("Singular matrix")])
def test_error_bars_that_cannot_be_computed_do_not_lose_the_run(tmp_path, monkeypatch, caplog, error):
    """lam = 1e300 as a guess overflowed in the error bars' Jacobian (lam**2) after the run had trained,
    and the run ended in the OverflowError, its summary unwritten."""
    def fail(*args, **kwargs):
        raise error

    cfg = Config().replace(**{"architecture.hidden": [6], "training.epochs": 3, "training.threads": 1,
                              "sampling.n_collocation": 60, "training.hold_material": False})
    data, _ = plane_waves(n_sensors=80, rng=0)
    trainer = Trainer(None, cfg, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # three epochs have not fitted the data
        trainer.train(data)
    assert trainer.state.uncertainty is not None  # the run that the failing error bars replay
    trainer = Trainer(None, cfg, progress=False)
    monkeypatch.setattr(Objective, "uncertainty", fail)
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING, logger="pinnlite"):
        warnings.simplefilter("ignore")
        trainer.train(data)
    assert trainer.state.epoch == 3 and trainer.state.uncertainty is None
    assert f"error bars skipped: the Gauss-Newton matrix could not be formed or inverted here ({type(error).__name__}" \
        in caplog.text


def test_a_run_warns_once_at_its_start_of_a_setting_it_ignores(tmp_path):
    from pinnlite.training.config import ConfigWarning

    cfg = tiny_config(**{"training.epochs": 2, "material.field_penalty_weight": 0.01,
                         "checkpoint.directory": str(tmp_path)})
    trainer = Trainer(None, cfg, progress=quiet())
    with pytest.warns(ConfigWarning, match=r"field_penalty_weight = 0\.01 does nothing") as caught:
        trainer.train(tiny_data())
    assert sum(issubclass(w.category, ConfigWarning) for w in caught) == 1
    trainer.config.training.epochs = 4
    with warnings.catch_warnings(record=True) as again:  # the continued run was told already
        warnings.simplefilter("always")
        trainer.train(tiny_data())
    assert not [w for w in again if issubclass(w.category, ConfigWarning)]
