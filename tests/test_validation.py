"""Tests of pinnlite.training.validation and its use in a run: the held-out sensors (their
count, determinism, independence of the run's other random choices), their misfit against
the engine's data term computed independently, the best model and the early stop that
follow the monitored column, and an exact resume of a run with validation."""

import numpy as np
import pytest

from pinnlite.engine.loss import loss_and_grad
from pinnlite.engine.terms import LossWeights, Material, PointSets
from pinnlite.io import checkpoint
from pinnlite.training.config import Config, ConfigError
from pinnlite.training.model import ElasticPINN2D
from pinnlite.training.problems import plane_waves
from pinnlite.training.trainer import Trainer
from pinnlite.training.validation import held_out, monitored, split

TRUTH = (2.0, 1.0, 1.0)


def config(**changes):
    c = Config(name="val")
    c.architecture.hidden = [10, 10]
    c.training.epochs = 8
    c.training.threads = 1
    c.optimizer.lr = 3e-3
    c.optimizer.switch_after = 20  # Adam for these short runs
    c.loss_weights.pde = 0.01
    c.material.lam, c.material.mu = 4.0, 0.5
    c.sampling.n_collocation = 50
    c.training.hold_material = False  # the material moves in these 8 epochs
    return c.replace(**changes)


DATA = plane_waves(*TRUTH, n_sensors=120, rng=0)[0]


def test_held_out_count_order_and_determinism():
    idx = held_out(120, 0.25, seed=7)
    assert len(idx) == 30 and len(np.unique(idx)) == 30 and np.all(np.diff(idx) > 0)
    assert idx.min() >= 0 and idx.max() < 120
    np.testing.assert_array_equal(idx, held_out(120, 0.25, seed=7))
    assert not np.array_equal(idx, held_out(120, 0.25, seed=8))
    assert len(held_out(120, 0.0, 0)) == 0


@pytest.mark.parametrize("n, fraction", [(10, 0.01), (3, 0.9), (1, 0.5)])
def test_a_share_that_leaves_a_side_empty_is_an_error(n, fraction):
    with pytest.raises(ConfigError, match=rf"training.validation_fraction: .* of the {n} sensors .* found {fraction!r}"):
        held_out(n, fraction, 0)


def test_split_keeps_every_other_array_and_partitions_the_sensors():
    train, (points, values) = split(DATA, 0.25, seed=3)
    idx = held_out(120, 0.25, 3)
    np.testing.assert_array_equal(points, DATA.sensor_points[idx])
    np.testing.assert_array_equal(values, DATA.sensor_values[idx])
    assert len(train.sensor_points) == 90
    both = np.concatenate([train.sensor_points, points])
    assert sorted(map(tuple, both)) == sorted(map(tuple, DATA.sensor_points))
    assert train.domain == DATA.domain and train.truth == DATA.truth
    assert split(DATA, 0.0, 3) == (DATA, None)


def test_monitor_defaults_to_validation_when_there_is_some():
    assert monitored(Config()) == "loss"
    assert monitored(Config().replace(**{"training.validation_fraction": 0.2})) == "validation"
    assert monitored(Config().replace(**{"training.validation_fraction": 0.2, "training.monitor": "loss"})) == "loss"


def data_term(model_params, arch, points, values, material):
    """The engine's data term at given sensors, through the public functional API."""
    pts = PointSets(data=points, data_values=values)
    weights = LossWeights(pde=0, boundary=0, traction=0, initial=0, initial_velocity=0, data=1)
    return loss_and_grad(model_params, arch, pts, Material(**material), weights, need_grad=False).terms["data"]


def test_validation_column_is_the_data_term_at_the_held_out_sensors():
    cfg = config(**{"training.validation_fraction": 0.25, "training.epochs": 5})
    seen = []
    trainer = Trainer(None, cfg, progress=False)
    trainer.add_callback(lambda t, row: seen.append((t.model.arch, t.objective.params(t.state.x).copy(), t.material)))
    metrics = trainer.train(DATA)
    _, (points, values) = split(DATA, 0.25, cfg.training.seed)
    for k, (arch, params, material) in enumerate(seen):
        assert metrics["validation"][k] == pytest.approx(data_term(params, arch, points, values, material), rel=1e-12)
    # the training data term no longer sees the held-out sensors: it is the mean over the other 90
    reference = Trainer(None, cfg.replace(**{"training.validation_fraction": 0.0}), progress=False).train(DATA)
    assert not np.array_equal(metrics["data"], reference["data"])
    assert np.isnan(reference["validation"]).all()


def test_the_split_does_not_change_the_other_random_choices():
    """The same seed starts from the same network with or without validation sensors."""
    starts = []
    for fraction in (0.0, 0.3):
        t = Trainer(None, config(**{"training.validation_fraction": fraction, "training.epochs": 0}), progress=False)
        t.train(DATA)
        starts.append(t.model.params.copy())
    np.testing.assert_array_equal(*starts)


def test_best_model_and_patience_follow_the_validation_misfit(tmp_path):
    # a large learning rate makes the misfit go up and down, so patience has something to do
    base = config(**{"training.validation_fraction": 0.25, "training.epochs": 60, "optimizer.lr": 0.05})
    ref = Trainer(None, base, progress=False).train(DATA)
    val = ref["validation"]
    patience = 3
    stop = next((e for e in range(1, 61) if e - (int(np.argmin(val[:e])) + 1) >= patience), None)
    assert stop is not None and stop < 60, "the reference run never stalls: choose another setting"
    cfg = base.replace(**{"training.patience": patience, "checkpoint.directory": str(tmp_path)})
    trainer = Trainer(None, cfg, progress=False)
    metrics = trainer.train(DATA)
    best = int(np.argmin(val[:stop])) + 1
    assert len(metrics) == stop and trainer.state.best_epoch == best
    assert trainer.state.stop_reason == (f"early stop: no lower validation misfit in {patience} epochs "
                                         f"(best {val[best - 1]:.6g} at epoch {best})")
    np.testing.assert_array_equal(metrics["validation"], val[:stop])
    saved = checkpoint.read(tmp_path / checkpoint.BEST)
    assert saved["extra"]["epoch"] == best
    model = ElasticPINN2D.load(tmp_path / checkpoint.BEST)
    _, (points, values) = split(DATA, 0.25, cfg.training.seed)
    assert data_term(model.params, model.arch, points, values, saved["material"]) == pytest.approx(val[best - 1], rel=1e-12)


def test_patience_on_the_loss():
    ref = Trainer(None, config(**{"training.epochs": 60, "optimizer.lr": 0.2}), progress=False).train(DATA)
    loss = ref["loss"]
    stop = next((e for e in range(1, 61) if e - (int(np.argmin(loss[:e])) + 1) >= 2), None)
    assert stop is not None and stop < 60
    trainer = Trainer(None, config(**{"training.epochs": 60, "optimizer.lr": 0.2, "training.patience": 2}),
                      progress=False)
    assert len(trainer.train(DATA)) == stop and "no lower loss in 2 epochs" in trainer.state.stop_reason


def test_a_run_with_validation_resumes_exactly(tmp_path):
    cfg = config(**{"training.validation_fraction": 0.2, "training.epochs": 6, "optimizer.second_order": "lbfgs", "optimizer.switch_after": 3,
                    "checkpoint.directory": str(tmp_path), "checkpoint.interval": 2, "checkpoint.keep_last": 5})
    ref = Trainer(None, cfg, progress=False).train(DATA)
    resumed = Trainer.load_checkpoint(path=checkpoint.checkpoint_path(tmp_path, 2), progress=False)
    assert resumed.validation is not None and resumed.validation.n == 24
    metrics = resumed.train()
    for c in ("loss", "data", "validation", "lam", "mu", "phase"):
        np.testing.assert_array_equal(metrics[c], ref[c], err_msg=c)
