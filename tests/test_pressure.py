"""The mixed displacement-pressure form: a network with a pressure output, from its architecture
and its files to a nearly incompressible body that the displacement form cannot invert.

The engine's mixed term and its gradients are checked against the plain reference of naive.py
in test_loss.py and its residual rows in test_jacobian.py; here: the residual's physics, the
architecture and checkpoint fields, the config's rule, and training on soft tissue.
"""

import math
import warnings

import numpy as np
import pytest
from conftest import p_and_s_waves, random_model, random_points

from pinnlite import engine
from pinnlite.core.arch import Architecture
from pinnlite.engine import physics, term_kernels
from pinnlite.engine.terms import Material, PointSets
from pinnlite.errors import InputError
from pinnlite.io import checkpoint
from pinnlite.io.errors import StructureError
from pinnlite.training.config import Config, ConfigError
from pinnlite.training.model import PRESSURE_RATIO, ElasticPINN2D, uses_pressure
from pinnlite.training.problems import Wave, plane_waves
from pinnlite.training.trainer import Trainer


def with_pressure(C, lam):
    """Channels (8, n, 3): those of (u, v) and p = lam div u with its x and y derivatives."""
    n = C.shape[1]
    P = np.zeros((8, n))
    P[0] = lam * (C[1, :, 0] + C[2, :, 1])
    P[1] = lam * (C[4, :, 0] + C[7, :, 1])
    P[2] = lam * (C[7, :, 0] + C[5, :, 1])
    return np.concatenate([C, P[..., None]], axis=2)


@pytest.mark.parametrize("lam,mu,rho", [(2.0, 1.0, 1.0), (5.3, 0.4, 2.7), (3e5, 1.0, 1.0)])
def test_the_mixed_residual_is_the_displacement_residual_where_p_is_lam_div_u(lam, mu, rho):
    rng = np.random.default_rng(1)
    X = random_points(rng, 30)
    # any field, not only a solution: the two forms agree wherever p = lam div u
    C = p_and_s_waves(X, lam, mu, rho) + 0.3 * p_and_s_waves(X, 2 * lam, 0.5 * mu, rho)
    force = rng.standard_normal((30, 2))
    r = physics.residual_mixed(with_pressure(C, lam), lam, mu, rho, force)
    scale = (abs(lam) + 2 * mu + rho) * np.abs(C[4:]).max()
    np.testing.assert_allclose(r[:, :2], physics.residual(C, lam, mu, rho, force), rtol=0, atol=1e-12 * scale)
    assert np.abs(r[:, 2]).max() <= 1e-12 * np.abs(C[1:3]).max()
    # a pressure that is not lam div u shows in the constraint
    wrong = with_pressure(C, lam)
    wrong[0, :, 2] *= 1.01
    assert np.abs(physics.residual_mixed(wrong, lam, mu, rho)[:, 2]).max() > 1e-4 * np.abs(C[1:3]).max()


def test_the_architecture_has_a_third_output_only_with_pressure():
    plain = Architecture((4,), "tanh", ((0, 1),) * 3, (1.0, 2.0))
    mixed = Architecture((4,), "tanh", ((0, 1),) * 3, (1.0, 2.0, 30.0), pressure=True)
    assert (plain.n_outputs, mixed.n_outputs) == (2, 3)
    assert mixed.layout.entries[-2].shape == (3, 4) and mixed.n_params == plain.n_params + 5
    # the dict of a network without pressure is that of every earlier version
    assert "pressure" not in plain.to_dict() and mixed.to_dict()["pressure"] is True
    assert Architecture.from_dict(mixed.to_dict()) == mixed
    for bad, words in ((dict(output_scale=(1.0, 2.0), pressure=True), "three positive numbers"),
                       (dict(output_scale=1.0, pressure=True), "three positive numbers"),
                       (dict(output_scale=(1.0, 2.0), pressure=1), "true or false")):
        with pytest.raises(InputError, match=words):
            Architecture((4,), "tanh", ((0, 1),) * 3, **bad)


def test_a_model_with_pressure_round_trips_its_file_and_predicts_u_and_v(tmp_path):
    rng = np.random.default_rng(3)
    arch, p = random_model(rng, (5, 4), pressure=True)
    model = ElasticPINN2D.from_arch(arch, p)
    X = random_points(rng, 12)
    u = model.predict(X)
    assert u.shape == (12, 2)
    np.testing.assert_array_equal(u, engine.channels(arch, p, X, 1)[0, :, :2])
    model.save(tmp_path / "m.pinnlite")
    back = ElasticPINN2D.load(tmp_path / "m.pinnlite")
    assert back.arch == arch
    np.testing.assert_array_equal(back.params, p)
    # the numpy-only reader gives the same (u, v), in float64
    np.testing.assert_allclose(checkpoint.predict(str(tmp_path / "m.pinnlite"), X), u, rtol=1e-13, atol=1e-15)


def test_the_reader_checks_the_pressure_field():
    rng = np.random.default_rng(4)
    arch, p = random_model(rng, (3,), pressure=True)
    tree = {"kind": "model", "architecture": arch.to_dict(),
            "params": dict(zip(arch.layout.names, [a.copy() for a in arch.layout.unflatten(p)]))}
    assert checkpoint.check(tree) == arch
    for value, words in (("yes", "architecture.pressure: expected bool"), (False, "output_scale: expected 2 entries")):
        bad = dict(tree, architecture=dict(tree["architecture"], pressure=value))
        with pytest.raises(StructureError, match=words):
            checkpoint.check(bad)


def test_auto_gives_a_pressure_output_to_a_nearly_incompressible_material():
    cfg = Config()
    assert cfg.architecture.pressure == "auto" and not uses_pressure(cfg)  # lam 1, mu 1
    for lam, mu, want in ((19.9, 1.0, False), (20.0, 1.0, True), (2.25e9, 3e3, True), (8.0, 1.0, False)):
        assert uses_pressure(cfg.replace(**{"material.lam": lam, "material.mu": mu})) is want
    assert PRESSURE_RATIO == 20.0  # nu = 0.476: lam / mu = 2 nu / (1 - 2 nu)
    tissue = {"material.lam": 2.25e9, "material.mu": 3e3}
    assert not uses_pressure(cfg.replace(**tissue, **{"architecture.pressure": False}))
    a_map = {"material.field": "network", "material.optimize_lam": False}
    assert uses_pressure(cfg.replace(**tissue, **a_map))  # maps take the mixed form too
    assert not uses_pressure(cfg.replace(**a_map))
    assert uses_pressure(cfg.replace(**{"architecture.pressure": True}))
    assert uses_pressure(cfg.replace(**{"architecture.pressure": True}, **a_map))
    with pytest.raises(ConfigError, match='architecture.pressure: expected "auto", true or false, found 1'):
        cfg.replace(**{"architecture.pressure": 1})


def test_a_given_model_must_match_the_configs_pressure():
    model = ElasticPINN2D((4,), output_scale=(1.0, 1.0, 5.0), pressure=True)
    cfg = Config().replace(**{"architecture.hidden": [4]})
    assert Trainer(model, cfg).model is model  # "auto" takes the model's
    with pytest.raises(ConfigError, match="architecture.pressure: the config says False but the model has True"):
        Trainer(model, cfg.replace(**{"architecture.pressure": False}))


def tissue(n_sensors=2000):
    """Soft tissue in SI units: two shear waves, lam 2.25 GPa and rho 1000 known, mu 3 kPa (guess 6)."""
    tau = 2 * math.pi
    waves = (Wave("S", 1e-5, (1.0, 0.2), tau / 0.02, 0.0), Wave("S", 6e-6, (-0.3, 1.0), tau / 0.015, 0.7))
    data, _ = plane_waves(2.25e9, 3e3, 1000.0, domain=((0, 0.04), (0, 0.04), (0, 0.012)), waves=waves,
                          n_sensors=n_sensors, rng=0)
    return data, {"material.lam": 2.25e9, "material.mu": 6e3, "material.rho": 1000.0,
                  "material.optimize_lam": False, "training.threads": 1, "training.epochs": 600,
                  "architecture.hidden": [16, 16]}


def test_soft_tissue_is_recovered_with_the_pressure_output_and_lost_without():
    # lam / mu = 7.5e5: the displacement form's lam grad div u term drowns the shear waves, the
    # network's field collapses to zero and mu stays where it started; the mixed form recovers it
    # (in up to 1000 epochs: this 16 x 16 network, held for its first 65 (pinnlite.training.hold), has
    # not fitted the sensors by epoch 300; it settles at 830)
    data, changes = tissue()
    changes["training.epochs"] = 1000
    found = {}
    for pressure in ("auto", False):
        trainer = Trainer(None, Config().replace(**changes, **{"architecture.pressure": pressure}), progress=False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trainer.train(data)
        found[pressure] = (trainer.model.arch.pressure, trainer.material["mu"] / 3e3 - 1,
                           {type(w.message).__name__ for w in caught})
    assert found["auto"][0] is True and abs(found["auto"][1]) < 1e-3 and not found["auto"][2]
    assert found[False][0] is False and abs(found[False][1]) > 0.5 and "FitWarning" in found[False][2]


def test_a_pressure_run_resumes_bit_for_bit_and_has_error_bars(tmp_path):
    data, changes = tissue(n_sensors=300)
    # the material moves from the first of these 12 epochs (test_hold.py resumes across a release)
    changes.update({"training.epochs": 12, "checkpoint.directory": str(tmp_path), "checkpoint.interval": 4,
                    "checkpoint.keep_last": 10, "training.hold_material": False})
    cfg = Config().replace(**changes)
    ref_trainer = Trainer(None, cfg, progress=False)
    ref = ref_trainer.train(data)
    assert ref_trainer.model.arch.pressure
    for epoch in (4, 8):
        resumed = Trainer.load_checkpoint(path=checkpoint.checkpoint_path(tmp_path, epoch), progress=False)
        assert resumed.model.arch == ref_trainer.model.arch
        metrics = resumed.train()
        for column in ("loss", "mu"):
            np.testing.assert_array_equal(metrics[column], ref[column], err_msg=f"{column} from epoch {epoch}")
        np.testing.assert_array_equal(resumed.state.x, ref_trainer.state.x)
    # the Gauss-Newton error bars take the mixed term's three residuals per point
    sigma = ref_trainer.state.uncertainty["std"]["mu"]
    assert set(ref_trainer.state.uncertainty["std"]) == {"mu"} and 0 < sigma < math.inf


def test_the_mixed_form_needs_a_positive_lam():
    rng = np.random.default_rng(6)
    arch, p = random_model(rng, (3,), pressure=True)
    X = random_points(rng, 5)
    for lam in (0.0, -0.5):  # a Material allows lam > -2 mu; p / lam does not
        with pytest.raises(InputError, match="material.lam: expected > 0 for a network with a pressure output"):
            engine.loss_and_grad(p, arch, PointSets(collocation=X), Material(lam, 1.0))
        with pytest.raises(InputError, match="material.lam"):
            engine.pde_residual(arch, p, X, Material(lam, 1.0))
    plain, q = random_model(rng, (3,))
    assert np.isfinite(engine.loss_and_grad(q, plain, PointSets(collocation=X), Material(-0.5, 1.0)).total)


@pytest.mark.parametrize("lam,mu", [(3.0, 1.5), (2.25e5, 3.0)])
def test_the_mixed_traction_is_the_stress_where_p_is_lam_div_u(lam, mu):
    # sigma = mu (grad u + grad u') + p I equals the displacement form's sigma when p = lam div u
    rng = np.random.default_rng(8)
    n = 20
    X = random_points(rng, n)
    C = with_pressure(p_and_s_waves(X, lam, mu, 1.0, oblique=False), lam)
    ang = rng.uniform(0, 2 * np.pi, n)
    normals = np.stack([np.cos(ang), np.sin(ang)], 1)
    t_exact = physics.traction(C[..., :2], normals, lam, mu)
    so = np.array([1.0, 1.0, lam])
    U = np.ascontiguousarray(np.concatenate([C[:4, :, :2].transpose(2, 0, 1), C[None, :4, :, 2] / lam]).reshape(3, 4 * n))
    GU = np.zeros_like(U)
    loss, _ = term_kernels.traction_term_mixed(U, GU, n, 1.0 / n, so, 0.0, mu, normals, t_exact, 1.0)
    assert loss <= 1e-26 * np.abs(t_exact).max() ** 2
    U[2, :n] *= 1.01  # another pressure is another normal stress
    loss_wrong, _ = term_kernels.traction_term_mixed(U, GU, n, 1.0 / n, so, 0.0, mu, normals, t_exact, 1.0)
    assert loss_wrong > 1e-8 * np.abs(t_exact).max() ** 2


def test_train_says_when_it_takes_the_mixed_form(tmp_path, capsys):
    from pinnlite.cli import main

    data, changes = tissue(n_sensors=200)
    data.save_npz(tmp_path / "d.npz")
    Config().replace(**dict(changes, **{"training.epochs": 2})).save(tmp_path / "tissue.toml")
    assert main(["train", str(tmp_path / "tissue.toml"), "--data", str(tmp_path / "d.npz"), "--out",
                 str(tmp_path / "run"), "-q"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "  mixed form (lam / mu = 3.75e+05): the network also outputs the pressure"
    assert checkpoint.read(str(tmp_path / "run" / "checkpoints" / "best.pinnlite"))["architecture"]["pressure"] is True
    Config().replace(**{"training.epochs": 2}).save(tmp_path / "plain.toml")  # lam / mu = 1
    plain, _ = plane_waves(n_sensors=50, rng=0)
    plain.save_npz(tmp_path / "p.npz")
    assert main(["train", str(tmp_path / "plain.toml"), "--data", str(tmp_path / "p.npz"), "--out",
                 str(tmp_path / "run2"), "-q"]) == 0
    assert "mixed form" not in capsys.readouterr().out
