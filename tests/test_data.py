"""Tests of pinnlite.training.data: TrainingData validation (every message names its key), the
.npz file format and its errors, the round trip, and the engine's point sets."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinnlite.training.data import TrainingData
from pinnlite.errors import InputError
from pinnlite.engine.terms import PointSets

DOMAIN = ((0.0, 2.0), (-1.0, 1.0), (0.0, 3.0))


def full_data(rng, n=(7, 5, 6, 4, 9)):
    """TrainingData with every group present (random values, unit normals)."""
    nc, nb, nt, ni, ns = n
    ang = rng.uniform(0, 2 * np.pi, nt)
    return TrainingData(
        domain=DOMAIN,
        collocation=rng.uniform(0, 1, (nc, 3)),
        body_force=rng.standard_normal((nc, 2)),
        boundary_points=rng.uniform(0, 1, (nb, 3)),
        boundary_values=rng.standard_normal((nb, 2)),
        traction_points=rng.uniform(0, 1, (nt, 3)),
        traction_normals=np.stack([np.cos(ang), np.sin(ang)], axis=1),
        traction_values=rng.standard_normal((nt, 2)),
        initial_points=rng.uniform(0, 1, (ni, 3)) * [1, 1, 0],  # at t0 = 0
        initial_displacement=rng.standard_normal((ni, 2)),
        initial_velocity=rng.standard_normal((ni, 2)),
        sensor_points=rng.uniform(0, 1, (ns, 3)),
        sensor_values=rng.standard_normal((ns, 2)),
        truth=(2.0, 1.0, 1.5),
    )


# -- construction and validation ---------------------------------------------------------


def test_domain_is_normalised_to_float_tuples():
    d = TrainingData(domain=np.array([[0, 2], [-1, 1], [0, 3]]))
    assert d.domain == DOMAIN
    assert all(isinstance(v, float) for pair in d.domain for v in pair)


def test_integer_arrays_are_stored_as_contiguous_float64():
    pts = np.arange(12).reshape(3, 4)[:, :3]  # int, not contiguous
    d = TrainingData(((0, 8), (0, 9), (0, 10)), sensor_points=pts, sensor_values=np.ones((3, 2), np.float32))
    assert d.sensor_points.dtype == np.float64 and d.sensor_points.flags.c_contiguous
    np.testing.assert_array_equal(d.sensor_points, [[0, 1, 2], [4, 5, 6], [8, 9, 10]])
    assert d.sensor_values.dtype == np.float64


@pytest.mark.parametrize(
    "domain, fragment",
    [
        (((0, 1), (0, 1)), r"domain: expected .* of shape \(3, 2\)"),
        (((0, 1), (1, 1), (0, 1)), r"domain\[y\]"),
        (((0, 1), (0, 1), (2, 1)), r"domain\[t\]"),
        (((0, math.nan), (0, 1), (0, 1)), r"domain\[x\]"),
        ("box", "domain"),
    ],
)
def test_bad_domain_is_rejected(domain, fragment):
    with pytest.raises(InputError, match=fragment):
        TrainingData(domain)


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("collocation", np.zeros((4, 2)), r"collocation: expected a float array of shape \(n, 3\), found array of shape \(4, 2\)"),
        ("collocation", np.zeros(12), r"collocation: expected a float array of shape \(n, 3\), found array of shape \(12,\)"),
        ("sensor_values", np.zeros((5, 3)), r"sensor_values: expected a float array of shape \(n, 2\)"),
        ("boundary_values", np.zeros((4, 2)), r"boundary_values: expected an array of shape \(5, 2\) for the 5 boundary_points, found array of shape \(4, 2\)"),
        ("traction_values", np.zeros((6, 2), dtype=bool), r"traction_values: expected a float array"),
        ("initial_velocity", [[0.0, 0.0]] * 4, r"initial_velocity: expected a float array"),
        ("body_force", np.zeros((8, 2)), r"body_force: expected an array of shape \(7, 2\) for the 7 collocation, found array of shape \(8, 2\)"),
    ],
)
def test_misshapen_arrays_are_named(key, value, fragment):
    kwargs = full_data(np.random.default_rng(0)).to_arrays()
    kwargs[key] = value
    with pytest.raises(InputError, match=fragment):
        TrainingData(**kwargs)


@pytest.mark.parametrize("key", ["collocation", "body_force", "boundary_values", "traction_normals",
                                 "initial_points", "sensor_points"])
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_values_are_named_with_their_row(key, bad):
    kwargs = full_data(np.random.default_rng(1)).to_arrays()
    arr = kwargs[key].copy()
    arr[2, 1] = bad
    kwargs[key] = arr
    with pytest.raises(InputError, match=rf"{key}: expected finite values, found {bad!r} at row 2, column 1"):
        TrainingData(**kwargs)


@pytest.mark.parametrize(
    "companion, points",
    [
        ("body_force", "collocation"),
        ("boundary_values", "boundary_points"),
        ("traction_normals", "traction_points"),
        ("traction_values", "traction_points"),
        ("initial_displacement", "initial_points"),
        ("initial_velocity", "initial_points"),
        ("sensor_values", "sensor_points"),
    ],
)
def test_companion_without_its_points_is_named(companion, points):
    with pytest.raises(InputError, match=rf"{companion}: given without {points}"):
        TrainingData(DOMAIN, **{companion: np.zeros((3, 2))})


@pytest.mark.parametrize("missing", ["boundary_values", "traction_normals", "traction_values", "sensor_values"])
def test_points_without_their_required_values_are_named(missing):
    kwargs = full_data(np.random.default_rng(2)).to_arrays()
    del kwargs[missing]
    with pytest.raises(InputError, match=rf"{missing}: expected an array of shape \(\d+, 2\).*found None"):
        TrainingData(**kwargs)


def test_initial_points_need_displacement_or_velocity():
    pts = np.zeros((3, 3))
    with pytest.raises(InputError, match="initial_points: given without initial_displacement or initial_velocity"):
        TrainingData(DOMAIN, initial_points=pts)
    # either one alone is enough
    assert TrainingData(DOMAIN, initial_points=pts, initial_velocity=np.zeros((3, 2))).initial_displacement is None
    assert TrainingData(DOMAIN, initial_points=pts, initial_displacement=np.zeros((3, 2))).initial_velocity is None


def test_body_force_is_optional():
    d = TrainingData(DOMAIN, collocation=np.zeros((3, 3)))
    assert d.body_force is None and d.collocation.shape == (3, 3)


@pytest.mark.parametrize("scale", [0.5, 1.01, 0.0, 2.0])
def test_non_unit_normals_are_rejected(scale):
    n = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, -1.0]])
    n[1] *= scale
    with pytest.raises(InputError, match=rf"traction_normals: expected unit vectors, found norm {float(np.hypot(0.6 * scale, 0.8 * scale))!r} in row 1"):
        TrainingData(DOMAIN, traction_points=np.zeros((3, 3)), traction_normals=n, traction_values=np.zeros((3, 2)))


def test_unit_normals_within_rounding_are_accepted():
    ang = np.linspace(0, 2 * np.pi, 17)
    n = np.stack([np.cos(ang), np.sin(ang)], axis=1) * (1 + 1e-9)
    d = TrainingData(DOMAIN, traction_points=np.zeros((17, 3)), traction_normals=n, traction_values=np.zeros((17, 2)))
    assert d.traction_normals.shape == (17, 2)


POINT_SETS = ("collocation", "boundary_points", "traction_points", "initial_points", "sensor_points")


@pytest.mark.parametrize("key", POINT_SETS)
@pytest.mark.parametrize("axis, value", [(0, 20.0), (1, -1.5), (0, -1e-3)])
def test_a_point_outside_the_domain_names_the_set_row_value_and_domain(key, axis, value):
    d = full_data(np.random.default_rng(3))
    kwargs = {f: getattr(d, f) for f in d.__dataclass_fields__}
    pts = kwargs[key].copy()
    pts[2, axis] = value  # row 2: e.g. x ten times the side of the domain (mm given for cm)
    kwargs[key] = pts
    with pytest.raises(InputError) as info:
        TrainingData(**kwargs)
    assert str(info.value).startswith(f"{key}: expected points inside the domain "
                                      "x in [0.0, 2.0], y in [-1.0, 1.0], t in [0.0, 3.0], ")
    assert f"found {'xyt'[axis]} = {value!r} in row 2 (1 of {len(pts)} rows outside" in str(info.value)


def test_points_on_the_faces_and_within_rounding_are_inside():
    eps = 0.5e-6  # half the tolerance, relative to each side
    faces = np.array([[0.0, -1.0, 0.0], [2.0, 1.0, 3.0], [-eps * 2, 1 + eps * 2, 3 + eps * 3]])
    d = TrainingData(DOMAIN, sensor_points=faces, sensor_values=np.zeros((3, 2)))
    np.testing.assert_array_equal(d.sensor_points, faces)
    beyond = faces.copy()
    beyond[2, 1] = 1 + 3e-6  # 1.5 tolerances beyond y = 1
    with pytest.raises(InputError, match=r"sensor_points: .* found y = 1\.000003 in row 2"):
        TrainingData(DOMAIN, sensor_points=beyond, sensor_values=np.zeros((3, 2)))


def test_initial_points_must_lie_at_the_initial_time():
    pts = np.array([[0.5, 0.0, 0.0], [1.0, 0.5, 0.25]])
    with pytest.raises(InputError) as info:
        TrainingData(DOMAIN, initial_points=pts, initial_displacement=np.zeros((2, 2)))
    assert str(info.value) == ("initial_points: expected initial points at t = 0.0, the initial time, "
                               "found t = 0.25 in row 1 (1 of 2 rows outside, tolerance 3e-06)")


def test_from_npz_reports_points_outside_the_domain(tmp_path):
    d = full_data(np.random.default_rng(4))
    arrays = d.to_arrays()
    arrays["sensor_points"] = arrays["sensor_points"] * [10, 1, 1]
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(InputError, match=r"^sensor_points: expected points inside the domain .* found x = "):
        TrainingData.from_npz(tmp_path / "d.npz")


@pytest.mark.parametrize("truth", [(1.0, 2.0), (1.0, math.nan, 1.0), "abc", (1.0, 2.0, 3.0, 4.0)])
def test_bad_truth_is_named(truth):
    with pytest.raises(InputError, match="truth: expected"):
        TrainingData(DOMAIN, truth=truth)


@pytest.mark.parametrize("truth, found", [((2.0, -1.0, 1.0), r"mu = -1\.0 \(needs > 0\)"),
                                          ((2.0, 0.0, 1.0), r"mu = 0\.0 \(needs > 0\)"),
                                          ((2.0, 1.0, -0.5), r"rho = -0\.5 \(needs > 0\)"),
                                          ((-1.0, 1.0, 1.0), r"lam = -1\.0 \(needs > -mu = -1\.0\)")])
def test_a_truth_that_is_no_elastic_solid_is_named(truth, found):
    # the simulator's rule for a medium: mu > 0, rho > 0 and lam + mu > 0
    with pytest.raises(InputError, match=r"truth: expected \(lam, mu, rho\) of an elastic solid.*found " + found):
        TrainingData(DOMAIN, truth=truth)


def test_a_truth_with_lam_zero_or_negative_above_minus_mu_is_a_solid():
    assert TrainingData(DOMAIN, truth=(0.0, 1.0, 1.0)).truth == (0.0, 1.0, 1.0)
    assert TrainingData(DOMAIN, truth=(-0.5, 1.0, 2.0)).truth == (-0.5, 1.0, 2.0)


def test_truth_is_stored_as_float_tuple():
    d = TrainingData(DOMAIN, truth=np.array([2, 1, 3]))
    assert d.truth == (2.0, 1.0, 3.0) and all(type(v) is float for v in d.truth)


# -- displacement scale ----------------------------------------------------------------------


def test_displacement_scale_is_the_rms_of_the_first_known_displacements():
    rng = np.random.default_rng(3)
    s = rng.standard_normal((10, 2))
    b = 3 * rng.standard_normal((4, 2))
    u0 = 7 * rng.standard_normal((5, 2))
    rms = lambda a: math.sqrt(sum(v * v for v in a.ravel()) / a.size)  # noqa: E731
    base = dict(domain=DOMAIN, initial_points=np.zeros((5, 3)), initial_displacement=u0)
    assert TrainingData(**base).displacement_scale() == pytest.approx(rms(u0), rel=1e-14)
    base.update(boundary_points=np.zeros((4, 3)), boundary_values=b)
    assert TrainingData(**base).displacement_scale() == pytest.approx(rms(b), rel=1e-14)
    base.update(sensor_points=np.zeros((10, 3)), sensor_values=s)
    assert TrainingData(**base).displacement_scale() == pytest.approx(rms(s), rel=1e-14)
    # all-zero sensors are skipped; nothing known gives 1
    base.update(sensor_values=np.zeros((10, 2)))
    assert TrainingData(**base).displacement_scale() == pytest.approx(rms(b), rel=1e-14)
    assert TrainingData(DOMAIN).displacement_scale() == 1.0


# -- files ------------------------------------------------------------------------------------


def test_npz_round_trip_is_exact(tmp_path):
    d = full_data(np.random.default_rng(4))
    path = tmp_path / "d.npz"
    d.save_npz(path)
    back = TrainingData.from_npz(path)
    assert back == d
    for key in ("collocation", "traction_normals", "initial_velocity", "sensor_values"):
        np.testing.assert_array_equal(getattr(back, key), getattr(d, key))
    assert back.truth == (2.0, 1.0, 1.5) and back.domain == DOMAIN
    with np.load(path) as f:
        assert sorted(f.files) == sorted(d.to_arrays())
        assert f["domain"].shape == (3, 2) and f["truth"].shape == (3,)


@settings(max_examples=25, deadline=None)
@given(
    groups=st.sets(st.sampled_from(["collocation", "boundary", "traction", "initial", "sensors", "truth"])),
    seed=st.integers(0, 2**31),
)
def test_round_trip_of_any_subset_of_groups(tmp_path_factory, groups, seed):
    full = full_data(np.random.default_rng(seed)).to_arrays()
    keys = {"domain"}
    prefixes = {"collocation": ("collocation", "body_force"), "boundary": ("boundary_",),
                "traction": ("traction_",), "initial": ("initial_",), "sensors": ("sensor_",), "truth": ("truth",)}
    for g in groups:
        keys |= {k for k in full if k.startswith(prefixes[g])}
    d = TrainingData(**{k: full[k] for k in keys})
    path = tmp_path_factory.mktemp("npz") / "d.npz"
    d.save_npz(path)
    back = TrainingData.from_npz(path)
    assert back == d
    assert set(back.to_arrays()) == keys


def test_equality_sees_a_changed_value():
    a = full_data(np.random.default_rng(5))
    b = full_data(np.random.default_rng(5))
    assert a == b
    b.sensor_values[3, 1] += 1e-12
    assert a != b
    c = full_data(np.random.default_rng(5))
    c.truth = None
    assert a != c


def test_from_npz_missing_file_is_named(tmp_path):
    path = tmp_path / "nowhere.npz"
    with pytest.raises(InputError, match=r"data: file .*nowhere\.npz.* not found"):
        TrainingData.from_npz(path)


def test_from_npz_unreadable_file_is_named(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"this is not a zip archive")
    with pytest.raises(InputError, match=r"junk\.npz.*is not an \.npz archive \(it starts with b'this i'"):
        TrainingData.from_npz(path)


def test_from_npz_names_every_damaged_file_it_cannot_read(tmp_path):
    """Empty, cut and flipped archives and object arrays once escaped as EOFError, BadZipFile or
    ValueError with a traceback from ``pinnlite train``."""
    good = tmp_path / "good.npz"
    TrainingData(domain=DOMAIN, sensor_points=np.full((40, 3), 0.5), sensor_values=np.zeros((40, 2))).save_npz(good)
    raw = good.read_bytes()
    flipped = bytearray(raw)
    flipped[len(raw) // 3] ^= 0xFF
    cases = {"empty.npz": (b"", "is empty"), "head.npz": (raw[:100], "BadZipFile"),
             "half.npz": (raw[: len(raw) // 2], "BadZipFile"), "flip.npz": (bytes(flipped), "BadZipFile: Bad CRC-32")}
    for name, (content, why) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(InputError, match=rf"^data: '.*{name}' is not .*{why}"):
            TrainingData.from_npz(tmp_path / name)
    np.savez(tmp_path / "objects.npz", domain=np.array(DOMAIN, float), sensor_points=np.array([None, 1], dtype=object))
    with pytest.raises(InputError, match=r"objects\.npz' is not a readable \.npz file \(ValueError: Object arrays"):
        TrainingData.from_npz(tmp_path / "objects.npz")


def test_from_npz_single_array_file_is_named(tmp_path):
    path = tmp_path / "d.npy"
    np.save(path, np.array(DOMAIN))
    with pytest.raises(InputError, match=r"expected an \.npz archive of named arrays, found a single array in .*d\.npy"):
        TrainingData.from_npz(path)


def test_from_npz_missing_domain_is_named(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, sensor_points=np.zeros((2, 3)), sensor_values=np.zeros((2, 2)))
    with pytest.raises(InputError, match=r"missing key 'domain'"):
        TrainingData.from_npz(path)


def test_from_npz_unknown_key_is_named(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, domain=np.array(DOMAIN), sensor_point=np.zeros((2, 3)))
    with pytest.raises(InputError, match=r"unknown keys \['sensor_point'\]"):
        TrainingData.from_npz(path)


@pytest.mark.parametrize(
    "key, value, fragment",
    [
        ("domain", np.zeros(6), r"domain: expected .* of shape \(3, 2\), found array of shape \(6,\)"),
        ("sensor_points", np.zeros((2, 4)), r"sensor_points: expected a float array of shape \(n, 3\), found array of shape \(2, 4\)"),
        ("truth", np.ones(2), r"truth: expected \(lam, mu, rho\)"),
    ],
)
def test_from_npz_misshapen_key_is_named(tmp_path, key, value, fragment):
    arrays = dict(domain=np.array(DOMAIN), sensor_points=np.zeros((2, 3)), sensor_values=np.zeros((2, 2)))
    arrays[key] = value
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(InputError, match=fragment):
        TrainingData.from_npz(path)


# -- point sets -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_point_sets_cast_explicitly_and_keep_values(dtype):
    d = full_data(np.random.default_rng(6))
    colloc = np.random.default_rng(7).uniform(0, 1, (11, 3))
    force = np.random.default_rng(8).standard_normal((11, 2))
    ps = d.point_sets(colloc, dtype, force)
    assert isinstance(ps, PointSets)
    pairs = {
        "collocation": colloc,
        "body_force": force,
        "boundary": d.boundary_points,
        "boundary_values": d.boundary_values,
        "traction": d.traction_points,
        "traction_normals": d.traction_normals,
        "traction_values": d.traction_values,
        "initial": d.initial_points,
        "initial_values": d.initial_displacement,
        "initial_velocity": d.initial_points,
        "initial_velocity_values": d.initial_velocity,
        "data": d.sensor_points,
        "data_values": d.sensor_values,
    }
    for field, source in pairs.items():
        a = getattr(ps, field)
        assert a.dtype == dtype, field
        assert a.flags.c_contiguous, field
        assert a.shape == source.shape, field
        # the float32 values are the float64 ones rounded to nearest, element by element
        np.testing.assert_array_equal(a, np.array([dtype(v) for v in source.ravel()]).reshape(source.shape), field)
    # the TrainingData keeps its float64 arrays
    assert d.sensor_points.dtype == np.float64


def test_point_sets_leave_absent_groups_out():
    pts = np.random.default_rng(9).uniform(0, 1, (4, 3)) * [1, 1, 0]  # at t0
    d = TrainingData(DOMAIN, initial_points=pts, initial_velocity=np.ones((4, 2)),
                     sensor_points=pts, sensor_values=np.zeros((4, 2)))
    ps = d.point_sets(np.zeros((2, 3)), np.float32)
    assert ps.present() == ("pde", "initial_velocity", "data")
    assert ps.initial is None and ps.initial_values is None and ps.body_force is None
    np.testing.assert_array_equal(ps.initial_velocity, pts.astype(np.float32))
    np.testing.assert_array_equal(ps.initial_velocity_values, np.ones((4, 2), np.float32))


# -- true maps of a heterogeneous body -----------------------------------------------------


def _linear_maps(gx, gy):
    """(3, ny, nx) maps that are affine in x and y, which bilinear interpolation reproduces exactly."""
    X, Y = np.meshgrid(gx, gy)
    return np.stack([2 + X + 0.5 * Y, 1 + 0.25 * X - 0.1 * Y, 1.5 + 0 * X])


def test_truth_at_is_exact_on_affine_maps_and_clamps_outside_the_grid():
    gx, gy = np.array([0.0, 0.5, 1.25, 2.0]), np.linspace(-1.0, 1.0, 5)  # uneven in x
    data = TrainingData(domain=DOMAIN, truth_map_x=gx, truth_map_y=gy, truth_map=_linear_maps(gx, gy))
    rng = np.random.default_rng(3)
    P = np.stack([rng.uniform(0, 2, 50), rng.uniform(-1, 1, 50)], axis=1)
    got = data.truth_at(P)
    np.testing.assert_allclose(got["lam"], 2 + P[:, 0] + 0.5 * P[:, 1], rtol=1e-14)
    np.testing.assert_allclose(got["mu"], 1 + 0.25 * P[:, 0] - 0.1 * P[:, 1], rtol=1e-14)
    np.testing.assert_allclose(got["rho"], 1.5, rtol=1e-15)
    # beyond the grid: the value at the nearest edge
    out = data.truth_at([[3.0, 0.0], [-1.0, -5.0]])
    np.testing.assert_allclose(out["lam"], [2 + 2.0, 2 + 0.0 - 0.5], rtol=1e-14)
    assert TrainingData(domain=DOMAIN).truth_at(P) is None


def test_truth_maps_come_together_and_are_checked():
    gx, gy = np.linspace(0, 2, 3), np.linspace(-1, 1, 4)
    maps = _linear_maps(gx, gy)
    with pytest.raises(InputError, match=r"^truth_map: expected truth_map_x, truth_map_y and truth_map together, "
                                         r"found truth_map_x, truth_map$"):
        TrainingData(domain=DOMAIN, truth_map_x=gx, truth_map=maps)
    with pytest.raises(InputError, match=r"^truth_map_x: expected at least 2 increasing coordinates"):
        TrainingData(domain=DOMAIN, truth_map_x=gx[::-1], truth_map_y=gy, truth_map=maps)
    with pytest.raises(InputError, match=r"^truth_map: .*\(3, 4, 3\)"):
        TrainingData(domain=DOMAIN, truth_map_x=gx, truth_map_y=gy, truth_map=maps[:, :, :2])
    bad = maps.copy()
    bad[1, 2, 1] = 0.0
    with pytest.raises(InputError, match=r"^truth_map: expected mu > 0 and rho > 0 everywhere"):
        TrainingData(domain=DOMAIN, truth_map_x=gx, truth_map_y=gy, truth_map=bad)
