"""Material fields in a run (config.material.field = "network"): the config's rules, the vector
and its checkpoint tree, exact resume, the reported values (means of the maps) and a uniform body
recovered as a uniform map."""

import math

import numpy as np
import pytest

from pinnlite.core.field_arch import FieldArchitecture
from pinnlite.io import checkpoint
from pinnlite.training.config import Config, ConfigError
from pinnlite.training.model import ElasticPINN2D, hidden_widths
from pinnlite.training.problems import plane_waves
from pinnlite.training.state import from_tree
from pinnlite.training.trainer import Trainer
from pinnlite.errors import InputError

DATA = plane_waves(2.0, 1.0, 1.0, n_sensors=150, rng=0)[0]


def config(**changes):
    c = Config(name="field")
    c.architecture.hidden = [10, 10]
    c.training.threads = 1
    c.training.epochs = 8
    c.training.error_bars = True
    c.optimizer.switch_after = 4
    c.sampling.n_collocation = 60
    c.material.lam, c.material.mu = 3.0, 0.7
    c.material.field = "network"
    c.material.field_hidden = [5]
    c.training.hold_material = False  # the maps move from the first epoch of these short runs
    return c.replace(**changes)


def test_auto_widths_are_wider_for_a_map_and_a_given_model_keeps_its_own():
    auto = {"architecture.hidden": "auto"}
    assert hidden_widths(Config()) == [24, 24, 24]
    assert hidden_widths(config(**auto)) == [32, 32, 32]
    assert hidden_widths(config()) == [10, 10]  # a list is taken as it is
    with pytest.raises(ConfigError, match=r'architecture.hidden: expected "auto" or a non-empty list of integers '
                                          r'>= 1, found \[3, 0\]'):
        config(**{"architecture.hidden": [3, 0]})
    trainer = Trainer(None, config(**auto, **{"training.epochs": 1}), progress=False)
    trainer.train(plane_waves(2.0, 1.0, 1.0, n_sensors=1200, rng=0)[0])  # 2400 values: no narrowing
    assert trainer.model.arch.hidden == (32, 32, 32)
    model = ElasticPINN2D((5,))
    assert Trainer(model, Config()).model is model  # "auto" takes a given model's widths
    with pytest.raises(ConfigError, match=r"architecture.hidden: the config says \[6\] but the model has \[5\]"):
        Trainer(model, Config().replace(**{"architecture.hidden": [6]}))


def n_weights(hidden, n_out):
    """The weights of an MLP from (x, y, t), counted by building it (its layout table)."""
    return ElasticPINN2D(tuple(hidden), output_scale=(1.0,) * n_out, pressure=n_out == 3).arch.n_params


@pytest.mark.parametrize("changes, n_out", [({}, 2), ({"material.lam": 100.0, "material.mu": 1.0}, 3),
                                            ({"material.field": "network", "training.hold_material": False}, 2)],
                         ids=["constant", "pressure", "map"])
def test_auto_widths_narrow_for_few_sensors(changes, n_out):
    # at most model.WEIGHTS_PER_VALUE (2) weights per sensor value, all layers alike, not below 12
    cfg = Config().replace(**changes)
    full = 32 if cfg.material.field == "network" else 24
    assert hidden_widths(cfg) == hidden_widths(cfg, 0) == hidden_widths(cfg, 10**6) == [full] * 3
    for n_values in (1, 100, 200, 333, 400, 600, 1000, 2000, 5000):
        w = hidden_widths(cfg, n_values)
        assert w == [w[0]] * 3 and 12 <= w[0] <= full
        if w[0] < full:  # the widest that keeps within two weights per value
            assert n_weights([w[0] + 1] * 3, n_out) > 2 * n_values
        if w[0] > 12:
            assert n_weights(w, n_out) <= 2 * n_values
    assert hidden_widths(Config(), 200) == [12, 12, 12] and n_weights([12] * 3, 2) == 386  # the sparse family
    assert hidden_widths(Config().replace(**{"architecture.hidden": [30, 30]}), 10) == [30, 30]  # a list as it is
    trainer = Trainer(None, cfg.replace(**{"training.epochs": 1, "training.threads": 1}), progress=False)
    trainer.train(plane_waves(2.0, 1.0, 1.0, n_sensors=150, rng=0)[0])  # 300 values
    assert trainer.model.arch.hidden == tuple(hidden_widths(cfg, 300)) != (full,) * 3


@pytest.mark.parametrize("changes, field", [
    ({"material.optimize_rho": True}, "material.optimize_rho"),
    ({"material.optimize_lam": False, "material.optimize_mu": False}, "material.field"),
    ({"material.mu_bounds": [0.1, 2.0]}, "material.mu_bounds"),
    ({"optimizer.second_order": "lm"}, "optimizer.second_order"),
    ({"optimizer.kind": "lm"}, "optimizer.kind"),
    ({"material.field_penalty": "l1"}, "material.field_penalty"),
    ({"material.field_hidden": []}, "material.field_hidden"),
])
def test_the_config_names_what_a_field_cannot_have(changes, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        config(**changes).validate()


def test_the_vector_holds_the_field_where_theta_would_be_and_the_tree_holds_it_apart(tmp_path):
    t = Trainer(None, config(**{"material.optimize_lam": False, "training.epochs": 2,
                                "checkpoint.directory": str(tmp_path)}), progress=False)
    t.train(DATA)
    obj = t.objective
    assert obj.mapped == ("mu",) and obj.free == () and obj.nf == t.field_arch.n_params
    assert obj.size == t.model.arch.n_params + t.field_arch.n_params == t.state.x.size
    assert t.field_arch == FieldArchitecture((5,), "tanh", DATA.domain[:2], ("mu",), (0.7,), "float64")
    tree = checkpoint.read(checkpoint.latest(tmp_path))
    assert tree["field"]["architecture"] == t.field_arch.to_dict()
    fx = np.concatenate([tree["field"]["params"][e.name].ravel() for e in t.field_arch.layout.entries])
    np.testing.assert_array_equal(fx, obj.field_params(t.state.x))
    assert tree["material"]["theta"].shape == (0,) and tree["material"]["free"] == []
    assert tree["uncertainty"] is None  # no error bars for a map
    broken = dict(tree, field=None)
    with pytest.raises(checkpoint.StructureError, match="holds no field"):
        from_tree(broken)
    constant = dict(tree, config=dict(tree["config"], material=dict(tree["config"]["material"], field="constant")))
    with pytest.raises(checkpoint.StructureError, match="material.field = 'constant'"):
        from_tree(constant)
    short = dict(tree, field=dict(tree["field"], params=dict(tree["field"]["params"], W1=np.zeros((1, 2)))))
    with pytest.raises(checkpoint.StructureError, match="field.params.W1"):
        from_tree(short)


@pytest.mark.parametrize("pressure", [False, True])
def test_a_field_run_resumes_bit_for_bit(tmp_path, pressure):
    """The displacement form, and the mixed form of a map (a pressure output)."""
    cfg = config(**{"checkpoint.directory": str(tmp_path), "checkpoint.interval": 2, "checkpoint.keep_last": 10,
                    "material.field_penalty": "tv", "material.field_penalty_weight": 0.05,
                    "architecture.pressure": pressure})
    ref_trainer = Trainer(None, cfg, progress=False)
    ref = ref_trainer.train(DATA)
    assert ref_trainer.model.arch.n_outputs == (3 if pressure else 2)
    for epoch in (2, 6):  # one in each phase
        resumed = Trainer.load_checkpoint(path=checkpoint.checkpoint_path(tmp_path, epoch), progress=False)
        metrics = resumed.train()
        for column in ("loss", "lam", "mu", "phase"):
            np.testing.assert_array_equal(metrics[column], ref[column], err_msg=f"{column} from epoch {epoch}")
        np.testing.assert_array_equal(resumed.state.x, ref_trainer.state.x)


def test_reported_values_are_the_means_of_the_maps_and_maps_need_a_run():
    t = Trainer(None, config(**{"training.epochs": 3}), progress=False)
    with pytest.raises(InputError, match="material_maps"):
        t.material_maps(np.zeros((1, 2)))
    t.train(DATA)
    k = (np.arange(32) + 0.5) / 32
    X, Y = np.meshgrid(k, k)  # the unit square's 32 x 32 cell centres
    maps = t.material_maps(np.stack([X.ravel(), Y.ravel()], 1))
    assert set(maps) == {"lam", "mu"}
    for name in ("lam", "mu"):
        assert t.material[name] == pytest.approx(float(np.mean(maps[name])), rel=1e-14)
        assert np.ptp(maps[name]) > 0  # trained: no longer uniform
    assert t.material["rho"] == 1.0
    # points with t give the same maps (they do not depend on t); others are named
    XYT = np.stack([X.ravel(), Y.ravel(), np.full(X.size, 0.3)], 1)
    assert all(np.array_equal(t.material_maps(XYT)[n], maps[n]) for n in ("lam", "mu"))
    for bad in (np.zeros((4, 1)), np.zeros(4), [[0.5, np.nan]]):
        with pytest.raises(InputError, match=r"^points: expected finite points \(m, 2\) of x, y"):
            t.material_maps(bad)


def test_a_uniform_body_gives_a_uniform_map_at_its_values():
    """Plane waves in a homogeneous medium: both maps within 1% of lam = 2, mu = 1 everywhere
    (from guesses off by 1.5x), the data fitted."""
    data = plane_waves(2.0, 1.0, 1.0, n_sensors=600, rng=1)[0]
    cfg = config(**{"architecture.hidden": [16, 16], "training.epochs": 300, "sampling.n_collocation": 400,
                    "material.field_hidden": [8], "training.settle_epochs": 0, "optimizer.switch_after": 20})
    t = Trainer(None, cfg, progress=False)
    t.train(data)
    g = np.random.default_rng(2).uniform(0.05, 0.95, (400, 2))
    maps = t.material_maps(g)
    assert np.abs(maps["lam"] / 2.0 - 1).max() < 0.01 and np.abs(maps["mu"] - 1).max() < 0.01
    assert math.isfinite(t.metrics.final_loss())
