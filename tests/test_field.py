"""Material fields (pinnlite.core.field_arch, pinnlite.engine.field, field_kernels and the field
path of pinnlite.engine.loss) against mathematics: the map's derivatives against finite
differences, the divergence-form residual against finite differences of the local stress, the
loss and the exact gradient over both networks against the plain NumPy reference of naive.py
with complex-step derivatives (hypothesis over architectures, names and penalties), a uniform
map against the constant-material path, and the same result whatever the thread count."""

import numpy as np
import pytest
from conftest import BOUNDS, random_model, random_points, random_problem
from hypothesis import given, settings
from hypothesis import strategies as st

import naive
from pinnlite import engine
from pinnlite.core.field_arch import FieldArchitecture, init_field_params
from pinnlite.engine import field, physics
from pinnlite.engine.loss import material_maps
from pinnlite.engine.terms import TERMS, LossWeights, Material, MaterialField
from pinnlite.errors import InputError

FBOUNDS = BOUNDS[:2]
MATERIAL = Material(lam=2.0, mu=1.0, rho=1.3, optimize_lam=False, optimize_mu=False)


def random_field(rng, hidden=(5, 4), activation="tanh", names=("lam", "mu"), base=None, scale=0.3):
    farch = FieldArchitecture(hidden, activation, FBOUNDS, names, base or tuple(1.0 + i for i in range(len(names))))
    p = init_field_params(farch, rng)
    p += scale * rng.standard_normal(p.size)  # a non-uniform map: the last layer is zero at the start
    return farch, p


def test_the_architecture_checks_its_fields_and_round_trips():
    farch = FieldArchitecture((3, 2), "sin", FBOUNDS, ("mu",), (4.0,))
    assert [e.name for e in farch.layout.entries] == ["W0", "b0", "W1", "b1", "W2", "b2"]
    assert farch.n_params == 3 * 2 + 3 + 2 * 3 + 2 + 1 * 2 + 1
    assert FieldArchitecture.from_dict(farch.to_dict()) == farch
    for kwargs, fragment in ((dict(names=("mu", "lam"), base=(1, 1)), "names"), (dict(names=("rho",), base=(1,)), "names"),
                             (dict(names=("lam", "mu"), base=(1.0,)), "base"), (dict(base=(1.0, -2.0)), "base"),
                             (dict(bounds=((0, 1), (2, 1))), "bounds"), (dict(hidden=()), "hidden")):
        with pytest.raises(InputError, match=fragment):
            FieldArchitecture(**kwargs)


def test_a_new_field_is_uniform_at_its_base():
    farch = FieldArchitecture((6, 6), "tanh", FBOUNDS, ("lam", "mu"), (3.0, 0.5))
    p = init_field_params(farch, 0)
    maps = material_maps(MaterialField(farch, p), random_points(np.random.default_rng(0), 20)[:, :2])
    np.testing.assert_array_equal(maps["lam"][:, 0], 3.0)
    np.testing.assert_array_equal(maps["mu"][:, 0], 0.5)
    assert not maps["lam"][:, 1:].any() and not maps["mu"][:, 1:].any()
    assert np.abs(p).max() > 0  # the hidden layers are drawn, only the last one is zero


def test_map_derivatives_match_finite_differences():
    rng = np.random.default_rng(1)
    farch, p = random_field(rng, (7, 5), "tanh")
    mf = MaterialField(farch, p)
    X = random_points(rng, 30)[:, :2]
    m = material_maps(mf, X)
    h = 1e-6
    for axis in (0, 1):
        e = np.zeros(2)
        e[axis] = h
        plus, minus = material_maps(mf, X + e), material_maps(mf, X - e)
        for name in ("lam", "mu"):
            fd = (plus[name][:, 0] - minus[name][:, 0]) / (2 * h)
            np.testing.assert_allclose(m[name][:, 1 + axis], fd, rtol=1e-7, atol=1e-9)
    ref = naive.field_channels(farch.layout.unflatten(p), "tanh", FBOUNDS, farch.names, farch.base, X)
    for name in ("lam", "mu"):
        np.testing.assert_allclose(m[name], np.stack(ref[name], axis=1), rtol=1e-13)


def _smooth_material(X):
    """lam, mu (n, 3) of a smooth analytic medium and the functions themselves."""
    lam = lambda x, y: 2.0 + 0.5 * np.sin(1.3 * x + 0.4) * np.cos(0.7 * y)  # noqa: E731
    mu = lambda x, y: 1.0 + 0.3 * np.cos(0.9 * x - 1.1 * y)  # noqa: E731
    return lam, mu


def test_divergence_residual_matches_finite_differences_of_the_local_stress():
    """r = rho u_tt - div sigma with sigma from the exact channels of a plane-wave field and an
    analytic medium, the divergence by central differences of sigma (independent of the product rule)."""
    rng = np.random.default_rng(2)
    X = random_points(rng, 25)
    lam, mu = _smooth_material(X)
    h = 1e-5

    def field_at(P):
        return physics.plane_wave(P, "P", 2.0, 1.0, 1.3, 0.8, (1.0, 2.0), 3.1, 0.4) + \
            physics.plane_wave(P, "S", 2.0, 1.0, 1.3, 1.3, (-0.5, 0.7), 4.2, 1.1)

    def stress_at(P):
        return physics.stress(field_at(P), lam(P[:, 0], P[:, 1]), mu(P[:, 0], P[:, 1]))

    ex, ey = np.array([h, 0, 0]), np.array([0, h, 0])
    sx_p, sx_m, sy_p, sy_m = (stress_at(X + d) for d in (ex, -ex, ey, -ey))
    dxx = (sx_p[0] - sx_m[0]) / (2 * h)
    dxy_x = (sx_p[2] - sx_m[2]) / (2 * h)
    dxy_y = (sy_p[2] - sy_m[2]) / (2 * h)
    dyy = (sy_p[1] - sy_m[1]) / (2 * h)
    C = field_at(X)
    want = np.stack([1.3 * C[6, :, 0] - dxx - dxy_y, 1.3 * C[6, :, 1] - dxy_x - dyy], axis=1)

    def channels(fun):
        x, y = X[:, 0], X[:, 1]
        return np.stack([fun(x, y), (fun(x + h, y) - fun(x - h, y)) / (2 * h), (fun(x, y + h) - fun(x, y - h)) / (2 * h)], 1)

    got = physics.residual_divergence(C, channels(lam), channels(mu), 1.3)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6 * np.abs(want).max())
    # a uniform medium (not the waves' own, so that the residual is not zero): the constant-material residual
    L, M = np.tile([3.0, 0, 0], (25, 1)), np.tile([0.7, 0, 0], (25, 1))
    want = physics.residual(C, 3.0, 0.7, 1.3)
    assert np.abs(want).min() > 1e-3
    np.testing.assert_allclose(physics.residual_divergence(C, L, M, 1.3), want, rtol=1e-13)


def reference(arch, p, P, farch, fp, weights, penalty, penalty_weight, h=1e-30):
    """The naive total and its complex-step gradient over both networks."""
    sets = {}
    sets["pde"] = (P.collocation, P.body_force)
    for term, fld in (("boundary", "boundary"), ("initial", "initial"), ("data", "data"), ("initial_velocity", "initial_velocity")):
        sets[term] = (getattr(P, fld), getattr(P, fld + "_values"))
    sets["traction"] = (P.traction, P.traction_normals, P.traction_values)
    mat = {"lam": MATERIAL.lam, "mu": MATERIAL.mu, "rho": MATERIAL.rho}
    wd = {t: getattr(weights, t) for t in TERMS}
    arrays, farrays = arch.layout.unflatten(p), farch.layout.unflatten(fp)

    def total(a, fa):
        return naive.field_total_loss(a, arch.activation, arch.bounds, arch.output_scale, sets, fa, farch.activation,
                                      farch.names, farch.base, mat, wd, penalty, penalty_weight)

    def grad(which):
        base = arrays if which == 0 else farrays
        out = []
        for k, A in enumerate(base):
            g = np.zeros(A.size)
            for idx in range(A.size):
                pert = [b.astype(complex) for b in base]
                pert[k].ravel()[idx] += 1j * h
                g[idx] = (total(pert, farrays) if which == 0 else total(arrays, pert)).imag / h
            out.append(g)
        return np.concatenate(out)

    return float(total(arrays, farrays)), grad(0), grad(1)


WEIGHTS = LossWeights(pde=0.7, boundary=1.5, traction=0.3, initial=2.0, initial_velocity=0.9, data=1.1)


@settings(max_examples=12, deadline=None)
@given(hidden=st.lists(st.integers(1, 5), min_size=1, max_size=2), fhidden=st.lists(st.integers(1, 4), min_size=1, max_size=2),
       activation=st.sampled_from(["tanh", "sin"]), names=st.sampled_from([("lam", "mu"), ("lam",), ("mu",)]),
       penalty=st.sampled_from(["none", "smooth", "tv"]), pressure=st.booleans(), seed=st.integers(0, 2**16))
def test_loss_and_both_gradients_match_the_complex_step_reference(hidden, fhidden, activation, names, penalty, pressure,
                                                                   seed):
    """The displacement form, and with a pressure output the mixed form (field_kernels' *_mixed)."""
    rng = np.random.default_rng(seed)
    arch, p = random_model(rng, tuple(hidden), activation, pressure=pressure)
    farch, fp = random_field(rng, tuple(fhidden), activation, names)
    P = random_problem(rng, sizes=(6, 3, 4, 2, 2, 4))
    mf = MaterialField(farch, fp, penalty, 0.4)
    res = engine.loss_and_grad(p, arch, P, MATERIAL, WEIGHTS, field=mf)
    total, g, gf = reference(arch, p, P, farch, fp, WEIGHTS, penalty, 0.4)
    assert res.total == pytest.approx(total, rel=1e-12)
    assert res.grad_material == {}
    for got, want in ((res.grad, g), (res.grad_field, gf)):
        scale = np.abs(want).max()
        assert np.abs(got - want).max() <= 1e-11 * scale, (np.abs(got - want).max(), scale)


@pytest.mark.parametrize("pressure", [False, True])
def test_a_uniform_map_is_the_constant_material(pressure):
    """Every term and the gradient over the network equal the constant path's (the mixed form's
    with a pressure output); the field's gradient at the uniform start is that of the constant
    parameter times p (d p / d a = p), on the bias of its last layer."""
    rng = np.random.default_rng(4)
    arch, p = random_model(rng, pressure=pressure)
    P = random_problem(rng)
    farch = FieldArchitecture((4,), "tanh", FBOUNDS, ("lam", "mu"), (2.5, 0.8))
    mf = MaterialField(farch, init_field_params(farch, 1))
    const = Material(2.5, 0.8, 1.3)
    a = engine.loss_and_grad(p, arch, P, const, WEIGHTS)
    b = engine.loss_and_grad(p, arch, P, MATERIAL, WEIGHTS, field=mf)
    for t in TERMS:
        assert b.terms[t] == pytest.approx(a.terms[t], rel=1e-13)
    np.testing.assert_allclose(b.grad, a.grad, rtol=1e-11, atol=1e-13 * np.abs(a.grad).max())
    gb = farch.layout.views(b.grad_field)["b1"]
    np.testing.assert_allclose(gb, [2.5 * a.grad_material["lam"], 0.8 * a.grad_material["mu"]], rtol=1e-11)


def test_the_penalty_is_zero_for_a_uniform_map_and_its_value_is_the_mean():
    rng = np.random.default_rng(5)
    farch, fp = random_field(rng, (4,), "tanh", ("mu",), (1.0,))
    X = random_points(rng, 40)[:, :2]
    s, c = farch.input_transform()
    jet = field.forward(farch, fp, ((X - c) * s).T, s)
    R, gx, gy = field.penalty(jet, "smooth")
    grad_xi = np.stack([jet.ax[0] / s[0], jet.ay[0] / s[1]])
    assert R == pytest.approx(np.mean(np.sum(grad_xi**2, axis=0)), rel=1e-14)
    R_tv, _, _ = field.penalty(jet, "tv")
    assert R_tv == pytest.approx(np.mean(np.sqrt(np.sum(grad_xi**2, axis=0) + 1e-4)), rel=1e-14)
    flat = field.forward(farch, init_field_params(farch, 0), ((X - c) * s).T, s)
    assert field.penalty(flat, "smooth")[0] == 0.0 and field.penalty(flat, "tv")[0] == pytest.approx(1e-2)
    assert field.penalty(jet, "none")[0] == 0.0


def test_the_result_does_not_depend_on_the_threads():
    rng = np.random.default_rng(6)
    arch, p = random_model(rng, (8, 8))
    farch, fp = random_field(rng, (6, 6))
    P = random_problem(rng, sizes=(700, 30, 300, 20, 20, 400))
    mf = MaterialField(farch, fp, "tv", 0.1)
    one = engine.loss_and_grad(p, arch, P, MATERIAL, WEIGHTS, field=mf, workspace=engine.Workspace(1))
    two = engine.loss_and_grad(p, arch, P, MATERIAL, WEIGHTS, field=mf, workspace=engine.Workspace(2))
    assert one.total == two.total
    np.testing.assert_array_equal(one.grad, two.grad)
    np.testing.assert_array_equal(one.grad_field, two.grad_field)


@pytest.mark.parametrize("pressure", [False, True])
def test_pde_residual_with_a_field_is_the_reference_residual(pressure):
    rng = np.random.default_rng(7)
    arch, p = random_model(rng, pressure=pressure)
    farch, fp = random_field(rng, (5,), "sin", ("mu",), (1.5,))
    X = random_points(rng, 20)
    r = engine.pde_residual(arch, p, X, MATERIAL, field=MaterialField(farch, fp))
    C = naive.network_channels(arch.layout.unflatten(p), arch.activation, arch.bounds, arch.output_scale, X)
    m = naive.field_channels(farch.layout.unflatten(fp), "sin", FBOUNDS, ("mu",), (1.5,), X)
    n = X.shape[0]
    lam = (np.full(n, 2.0), np.zeros(n), np.zeros(n))
    residual = naive.mixed_divergence_residual if pressure else naive.divergence_residual
    ru, rv = residual(C, lam, m["mu"], 1.3)[:2]
    np.testing.assert_allclose(r, np.stack([ru, rv], 1), rtol=1e-12, atol=1e-12 * np.abs(r).max())
    if pressure:  # with p = lam div u, the mixed residual is the displacement form's
        Cd = {k: v.copy() for k, v in C.items()}
        for k, (a, b) in {"value": ("x", "y"), "x": ("xx", "xy"), "y": ("xy", "yy")}.items():
            Cd[k][:, 2] = 2.0 * (C[a][:, 0] + C[b][:, 1])
        ru_m, rv_m, rp = naive.mixed_divergence_residual(Cd, lam, m["mu"], 1.3)
        ru_d, rv_d = naive.divergence_residual(C, lam, m["mu"], 1.3)
        np.testing.assert_allclose(np.stack([ru_m, rv_m]), np.stack([ru_d, rv_d]), rtol=1e-12, atol=1e-12)
        assert np.abs(rp).max() < 1e-13


def test_a_field_must_match_the_network():
    rng = np.random.default_rng(8)
    arch, p = random_model(rng)
    P = random_problem(rng)
    wrong = FieldArchitecture((3,), "tanh", ((0.0, 1.0), (-1.0, 1.0)), ("mu",), (1.0,))
    with pytest.raises(InputError, match="field.arch.bounds"):
        engine.loss_and_grad(p, arch, P, MATERIAL, field=MaterialField(wrong, init_field_params(wrong, 0)))
    f32 = FieldArchitecture((3,), "tanh", FBOUNDS, ("mu",), (1.0,), "float32")
    with pytest.raises(InputError, match="field.arch.dtype"):
        engine.loss_and_grad(p, arch, P, MATERIAL, field=MaterialField(f32, init_field_params(f32, 0)))
    with pytest.raises(InputError, match="field.penalty"):
        MaterialField(wrong, init_field_params(wrong, 0), "l1")
