"""The stop rule on settled material parameters (pinnlite.training.stopping): the window (fixed
while the loss has levelled off, a share of the run while it still falls), the phase, the
tolerance, and a run that stops at the first epoch the rule holds and not before."""

import dataclasses
import math
import warnings

import numpy as np
import pytest

from pinnlite.training.config import Config
from pinnlite.training.diagnostics import FitWarning
from pinnlite.training.metrics import COLUMNS, Metrics
from pinnlite.training.problems import plane_waves
from pinnlite.training.stopping import PLATEAU, settled, window
from pinnlite.training.trainer import Trainer


def history(lam, mu=None, phase=None, loss=None):
    m = Metrics()
    for i, v in enumerate(lam):
        row = {c: 0.0 for c in COLUMNS}
        row.update(epoch=i + 1, step=i + 1, lam=v, mu=1.0 if mu is None else mu[i],
                   phase=0 if phase is None else phase[i], loss=1.0 if loss is None else loss[i])
        m.append(**row)
    return m


def first_settled(lam, epochs, tol, names=("lam",), **kw):
    """The first epoch whose history settles, found by re-running the rule on each prefix."""
    for n in range(1, len(lam) + 1):
        if settled(history(lam[:n], **{k: v[:n] for k, v in kw.items()}), names, epochs, tol):
            return n
    return None


def test_the_window_is_the_last_epochs_plus_one_and_every_value_in_it_counts():
    # relative changes 1e-3, then a spike, then constant: 4 + 1 constant values are needed for epochs=4
    lam = [1.0, 1.001, 1.002, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert first_settled(lam, 4, 1e-6) == 8  # values 4..8 (1-based) equal; window of 5 values
    assert first_settled(lam, 4, 2.5e-3) == 5  # |1.002 - 1.0| / 1.0 = 2e-3 <= 2.5e-3 from epoch 5 on
    # an excursion in the middle of the window counts, not only its ends
    spike = [1.0, 1.0, 1.5, 1.0, 1.0, 1.0, 1.0]
    assert first_settled(spike, 3, 1e-6) == 7 and settled(history(spike[:6]), ("lam",), 3, 1e-6) is None


def test_relative_to_the_last_value_and_every_name_must_settle():
    lam = 1e6 * np.array([1.0, 1.0 + 1e-7, 1.0 + 2e-7, 1.0 + 3e-7])  # relative steps of 1e-7
    mu = np.array([1.0, 1.1, 1.2, 1.3])
    assert settled(history(lam), ("lam",), 3, 4e-7) is not None
    assert settled(history(lam), ("lam",), 3, 2e-7) is None
    assert settled(history(lam, mu), ("lam", "mu"), 3, 4e-7) is None  # mu still moves
    reason = settled(history(lam, mu), ("lam",), 3, 4e-7)
    assert reason == "settled: lam changed by less than 4e-07 (relative) in 3 epochs"


def test_never_across_a_phase_switch_without_names_or_with_zero_epochs():
    lam = [1.0] * 6
    assert settled(history(lam, phase=[0, 0, 0, 1, 1, 1]), ("lam",), 3, 1e-3) is None
    assert settled(history(lam, phase=[0, 0, 1, 1, 1, 1]), ("lam",), 3, 1e-3) is not None
    assert settled(history(lam), (), 3, 1e-3) is None
    assert settled(history(lam), ("lam",), 0, 1e-3) is None
    assert settled(history(lam[:3]), ("lam",), 3, 1e-3) is None  # fewer than epochs + 1 values
    assert settled(history([1.0, math.nan, 1.0, 1.0]), ("lam",), 3, 1e-3) is None  # NaN never settles
    # the window lies after the material's release (pinnlite.training.hold); None: still held
    assert settled(history([1.0] * 6), ("lam",), 3, 1e-3, since=2) is not None
    assert settled(history([1.0] * 6), ("lam",), 3, 1e-3, since=3) is None
    assert settled(history([1.0] * 6), ("lam",), 3, 1e-3, since=None) is None


def test_the_window_is_a_share_of_the_run_while_the_loss_still_falls():
    n = 1000
    falling = 0.99 ** np.arange(n)  # 1% an epoch: 40% over a window of 50
    level = np.ones(n)
    assert window(history([1.0] * n, loss=falling), 50, 0.2) == 200  # ceil(0.2 * 1000)
    assert window(history([1.0] * 101, loss=falling[:101]), 50, 0.2) == 50  # 0.2 * 101 < 50: the shortest
    assert window(history([1.0] * 1001, loss=np.ones(1001)), 50, 0.2) == 50  # levelled off
    assert window(history([1.0] * n, loss=falling), 50, 0.0) == 50  # fraction 0: always settle_epochs
    assert window(history([1.0] * 999, loss=falling[:999]), 50, 0.15) == 150  # ceil(149.85)
    # the boundary: a fall by exactly the factor PLATEAU over the 50 epochs still counts as falling
    edge = np.ones(n)
    edge[-51:] = np.linspace(1.0, PLATEAU, 51)
    assert window(history([1.0] * n, loss=edge), 50, 0.2) == 200
    edge[-1] = PLATEAU * 1.0001
    assert window(history([1.0] * n, loss=edge), 50, 0.2) == 50
    # a creep of 1e-6 an epoch settles within 1e-4 over 50 epochs, not over the 200 of a falling loss
    creep = 1.0 + 1e-6 * np.arange(n)
    assert settled(history(creep, loss=level), ("lam",), 50, 1e-4, fraction=0.2) is not None
    assert settled(history(creep, loss=falling), ("lam",), 50, 1e-4, fraction=0.2) is None
    assert settled(history(creep, loss=falling), ("lam",), 50, 3e-3, fraction=0.2) == \
        "settled: lam changed by less than 0.003 (relative) in 200 epochs"
    # the long window also lies after the release: 200 epochs since it are needed
    assert settled(history([1.0] * n, loss=falling), ("lam",), 50, 1e-4, since=799, fraction=0.2) is not None
    assert settled(history([1.0] * n, loss=falling), ("lam",), 50, 1e-4, since=800, fraction=0.2) is None


@pytest.fixture(scope="module")
def reference():
    """A run of the default solver with the rule off, on small noisy plane-wave data."""
    data = plane_waves(2.0, 1.0, 1.0, n_sensors=300, noise=0.01, rng=0)[0]
    cfg = Config(name="settle")
    cfg.architecture.hidden = [16, 16]
    cfg.training.threads = 1
    cfg.training.error_bars = False
    cfg.training.epochs = 300
    cfg.optimizer.switch_after = 20
    cfg.sampling.n_collocation = 200
    cfg.material.lam, cfg.material.mu = 3.0, 0.7
    ref_trainer = Trainer(None, cfg.replace(**{"training.settle_epochs": 0}), progress=False)
    ref = ref_trainer.train(data)
    return data, cfg, ref, ref_trainer.state.released


def test_a_run_stops_at_the_first_epoch_its_material_settles(reference):
    data, cfg, ref, released = reference
    lam, mu, phase, loss = ref["lam"], ref["mu"], ref["phase"], ref["loss"]
    epochs, tol, fraction = 10, 3e-3, 0.2
    assert released is not None and released > 20  # held into the second phase (pinnlite.training.hold)

    def holds(e):  # the rule at epoch e (1-based), written out from its definition
        falling = e > epochs and loss[e - 1] <= 0.995 * loss[e - 1 - epochs]
        n = max(epochs, math.ceil(fraction * e)) if falling else epochs
        w = slice(e - n - 1, e)
        return (e - released > n and np.all(phase[w] == phase[e - 1])
                and all(np.max(np.abs(v[w] - v[e - 1])) <= tol * abs(v[e - 1]) for v in (lam, mu)))

    stop = next((e for e in range(1, len(lam) + 1) if holds(e)), None)
    assert stop is not None and 20 + epochs < stop < 300  # settles in the second-order phase, before the end
    trainer = Trainer(None, cfg.replace(**{"training.settle_epochs": epochs, "training.settle_tolerance": tol,
                                           "training.settle_fraction": fraction}), progress=False)
    metrics = trainer.train(data)
    assert len(metrics) == stop
    assert trainer.state.stop_reason.startswith(f"settled: lam, mu changed by less than {tol:g} (relative) in ")
    np.testing.assert_array_equal(metrics["lam"], lam[:stop])  # the same run up to the stop


def test_never_while_the_network_has_not_fitted_its_sensors(reference):
    lam = [1.0] * 6
    assert settled(history(lam), ("lam",), 3, 1e-3, fitted=False) is None
    assert settled(history(lam), ("lam",), 3, 1e-3, fitted=True) is not None
    # a run on sensor values no smooth field fits (rms misfit far above FIT_THRESHOLD) never settles,
    # even with a tolerance that any run meets at once; the same run on the real data does
    data, cfg, _, _ = reference
    rng = np.random.default_rng(1)
    scrambled = dataclasses.replace(data, sensor_values=rng.permutation(data.sensor_values))
    easy = cfg.replace(**{"training.settle_epochs": 3, "training.settle_tolerance": 1.0, "training.epochs": 300})
    trainer = Trainer(None, easy, progress=False)
    trainer.train(scrambled)
    assert trainer.state.epoch == 300 and trainer.state.stop_reason == "epochs"
    trainer = Trainer(None, easy, progress=False)
    trainer.train(data)
    assert 24 <= trainer.state.epoch < 300 and trainer.state.stop_reason.startswith("settled")


def run_warnings(n_sensors, **changes):
    """The FitWarnings of a 30-epoch run of a (16, 16) network on ``n_sensors`` noisy sensors."""
    data = plane_waves(2.0, 1.0, 1.0, n_sensors=n_sensors, noise=0.03, rng=0)[0]
    cfg = Config(name="few")
    cfg.architecture.hidden = [16, 16]
    cfg.training.threads, cfg.training.error_bars, cfg.training.epochs = 1, False, 30
    cfg.sampling.n_collocation = 200
    cfg.material.lam, cfg.material.mu = 3.0, 0.7
    trainer = Trainer(None, cfg.replace(**changes), progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.train(data)
    return trainer, [str(w.message) for w in caught if issubclass(w.category, FitWarning) and "sensor values" in
                     str(w.message)]


def test_a_run_on_fewer_sensor_values_than_trained_values_warns_half_way_or_at_its_end():
    trainer, few = run_warnings(100)  # 200 sensor values, 3 * 16 + 16 + 16 * 16 + 16 + 16 * 2 + 2 + 2 trained
    assert trainer.objective.size == 372 and trainer.state.stop_reason == "epochs"
    assert len(few) == 1 and "on 200 sensor values for 372 trained values" in few[0]
    assert "has not settled in 15 epochs" in few[0]  # said half way through the 30, once
    assert "training.validation_fraction = 0.2" in few[0]
    assert run_warnings(200)[1] == []  # 400 values for 372: enough
    assert run_warnings(100, **{"training.validation_fraction": 0.2})[1] == []  # sensors held out
    # (released at epoch 144, by the misfit of 0.1 that few sensors wait for; settled at 182, before half way)
    easy = {"training.epochs": 600, "training.settle_epochs": 5, "training.settle_tolerance": 0.5}
    trainer, few = run_warnings(100, **easy)  # settled: the budget did not end it, but its error bars are small
    assert trainer.state.stop_reason.startswith("settled") and len(few) == 1
    assert f"this run ended ({trainer.state.stop_reason}) on 200 sensor values" in few[0]
    assert "error bars come out too small" in few[0] and "training.validation_fraction = 0.2" in few[0]
    assert run_warnings(100, **easy, **{"training.validation_fraction": 0.2})[1] == []
    assert run_warnings(200, **easy)[1] == []
