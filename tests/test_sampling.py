"""Tests for pinnlite.training.sampling: checked against closed forms and independent references."""

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinnlite.training import sampling as S
from pinnlite.errors import InputError

DOMAIN = ((-1.0, 2.0), (0.5, 1.5), (0.0, 0.25))
SETTINGS = settings(max_examples=30, deadline=None)


def gen(seed):
    return np.random.default_rng(seed)


def draws_consumed(seed, call):
    """Number of 64-bit outputs ``call(rng)`` takes from a PCG64 seeded with ``seed``."""
    rng = np.random.Generator(np.random.PCG64(seed))
    call(rng)
    after = rng.bit_generator.state
    probe = np.random.PCG64(seed)
    for count in range(0, 100_000):
        if probe.state == after:
            return count
        probe.advance(1)
    raise AssertionError("more than 100000 draws")


# ----------------------------------------------------------------------- references


def l2_star_discrepancy(x):
    """L2-star discrepancy by Warnock's (1972) closed formula.

    D^2 = 3^-d - 2^(1-d)/n sum_i prod_k (1 - x_ik^2)
          + 1/n^2 sum_ij prod_k (1 - max(x_ik, x_jk)).
    """
    n, d = x.shape
    single = np.prod(1.0 - x**2, axis=1).sum()
    pair = np.prod(1.0 - np.maximum(x[:, None, :], x[None, :, :]), axis=2).sum()
    return math.sqrt(3.0**-d - 2.0 ** (1 - d) / n * single + pair / n**2)


def van_der_corput(i, base):
    """Exact radical inverse of i in base, as a Fraction."""
    value, scale = Fraction(0), Fraction(1, base)
    while i:
        i, digit = divmod(i, base)
        value += digit * scale
        scale /= base
    return value


def hamilton(n, lengths):
    """Largest remainder apportionment with exact rationals; ties to the earlier entry."""
    lengths = [Fraction(v) for v in lengths]
    quotas = [n * v / sum(lengths) for v in lengths]
    base = [math.floor(q) for q in quotas]
    rest = n - sum(base)
    best = sorted(range(len(lengths)), key=lambda e: (base[e] - quotas[e], e))
    for e in best[:rest]:
        base[e] += 1
    return base


def rad_probabilities(residual, k, c):
    """p_i = (eps_i^k / mean(eps^k) + c) normalised; uniform for an all-zero residual."""
    r = np.asarray(residual, dtype=float)
    if not np.any(r):
        return np.full(r.size, 1.0 / r.size)
    w = r**k / np.mean(r**k) + c
    return w / w.sum()


def inclusion_two(p):
    """P(i among the first two successive draws without replacement with weights p)."""
    p = np.asarray(p)
    out = p.copy()
    for i in range(p.size):
        for j in range(p.size):
            if j != i:
                out[i] += p[j] * p[i] / (1.0 - p[j])
    return out


def chi_square(counts, probabilities):
    expected = counts.sum() * np.asarray(probabilities)
    return float(np.sum((counts - expected) ** 2 / expected))


# ----------------------------------------------------------------------- unit cube


@SETTINGS
@given(
    n=st.integers(0, 60),
    dim=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    strategy=st.sampled_from(S.STRATEGIES),
)
def test_unit_samples_shape_dtype_range(n, dim, seed, strategy):
    x = S.unit_samples(gen(seed), n, dim, strategy)
    assert x.shape == (n, dim)
    assert x.dtype == np.float64
    assert np.all(x >= 0.0) and np.all(x < 1.0)


@pytest.mark.parametrize("strategy", S.STRATEGIES)
def test_unit_samples_reproducible_and_seed_dependent(strategy):
    a = S.unit_samples(gen(7), 50, 3, strategy)
    b = S.unit_samples(gen(7), 50, 3, strategy)
    c = S.unit_samples(gen(8), 50, 3, strategy)
    assert np.array_equal(a, b)
    assert not np.any(np.all(a == c, axis=1))


def test_randomness_consumed_is_fixed_by_the_arguments():
    # uniform: one double per coordinate; lhs: an offset and a sort key per coordinate
    for seed in (1, 2):
        assert draws_consumed(seed, lambda r: S.unit_samples(r, 17, 3, "uniform")) == 51
        assert draws_consumed(seed, lambda r: S.unit_samples(r, 17, 3, "lhs")) == 102
    # halton: one key per digit per base symbol; D = 53 digits in base 2, 34 in base 3
    for n in (0, 5, 300):
        assert draws_consumed(3, lambda r: S.unit_samples(r, n, 2, "halton")) == 53 * 2 + 34 * 3
    assert draws_consumed(4, lambda r: S.rad(r, np.zeros((9, 3)), np.arange(9.0), 4)) == 9
    assert draws_consumed(5, lambda r: S.minibatches(r, 10, 3)) == 10


# LHS ------------------------------------------------------------------------------


@SETTINGS
@given(n=st.integers(1, 200), dim=st.integers(1, 6), seed=st.integers(0, 2**32 - 1))
def test_lhs_one_point_per_stratum(n, dim, seed):
    x = S.unit_samples(gen(seed), n, dim, "lhs")
    for d in range(dim):
        # stratum of x is floor(x * n); compare also with exact rational arithmetic
        strata = np.floor(x[:, d] * n).astype(int)
        assert sorted(strata) == list(range(n))
        exact = sorted(math.floor(Fraction(v) * n) for v in x[:, d])
        assert exact == list(range(n))


def test_lhs_permutations_independent_across_dimensions():
    # The point in stratum 0 of x has its y stratum uniform over 0..2 when the two
    # permutations are independent (a shared permutation would always give 0).
    rng = gen(11)
    counts = np.zeros(3)
    for _ in range(3000):
        x = S.unit_samples(rng, 3, 2, "lhs")
        row = np.argmin(x[:, 0])
        counts[int(x[row, 1] * 3)] += 1
    # chi-square with 2 degrees of freedom; 20 is far beyond the 99.99 % quantile (18.4)
    assert chi_square(counts, [1 / 3] * 3) < 20.0


def test_lhs_position_inside_stratum_is_uniform():
    x = S.unit_samples(gen(12), 4000, 1, "lhs")[:, 0]
    offset = x * 4000 - np.floor(x * 4000)
    counts = np.histogram(offset, bins=10, range=(0, 1))[0]
    # 9 degrees of freedom: 99.99 % quantile is 33.7
    assert chi_square(counts, [0.1] * 10) < 40.0


# Halton ---------------------------------------------------------------------------


def test_unscrambled_halton_matches_van_der_corput():
    x = S._halton(30, 3)
    assert np.array_equal(x[:8, 0], [0, 1 / 2, 1 / 4, 3 / 4, 1 / 8, 5 / 8, 3 / 8, 7 / 8])
    expected3 = [0, 1 / 3, 2 / 3, 1 / 9, 4 / 9, 7 / 9, 2 / 9, 5 / 9, 8 / 9, 1 / 27]
    np.testing.assert_allclose(x[:10, 1], expected3, rtol=0, atol=2e-16)  # <= 1 ulp
    for base, d in ((2, 0), (3, 1), (5, 2)):
        exact = [float(van_der_corput(i, base)) for i in range(30)]
        np.testing.assert_allclose(x[:, d], exact, rtol=0, atol=2e-16)


@SETTINGS
@given(a=st.integers(0, 5), b=st.integers(0, 3), seed=st.integers(0, 2**32 - 1))
def test_scrambled_halton_keeps_chinese_remainder_stratification(a, b, seed):
    # The first 2^a 3^b Halton points put exactly one point in every box
    # [i/2^a, (i+1)/2^a) x [j/3^b, (j+1)/3^b); digit permutations preserve this.
    n = 2**a * 3**b
    x = S.unit_samples(gen(seed), n, 2, "halton")
    cells = {
        (math.floor(Fraction(u) * 2**a), math.floor(Fraction(v) * 3**b)) for u, v in x
    }
    assert len(cells) == n
    # and each coordinate alone is a (0, 1)-sequence: one point per 1/n stratum
    x2 = S.unit_samples(gen(seed), 2 ** (a + 3), 1, "halton")[:, 0]
    assert sorted(math.floor(Fraction(u) * 2 ** (a + 3)) for u in x2) == list(
        range(2 ** (a + 3))
    )


def test_scrambled_halton_single_point_is_uniform():
    rng = gen(21)
    values = np.array([S.unit_samples(rng, 6, 2, "halton")[5] for _ in range(3000)])
    for d in range(2):
        counts = np.histogram(values[:, d], bins=10, range=(0, 1))[0]
        assert chi_square(counts, [0.1] * 10) < 40.0  # 9 dof, 99.99 % quantile 33.7


@pytest.mark.parametrize("dim", [2, 3])
def test_halton_discrepancy_well_below_uniform(dim):
    n, seeds = 256, range(5)
    uni = [l2_star_discrepancy(S.unit_samples(gen(s), n, dim, "uniform")) for s in seeds]
    hal = [l2_star_discrepancy(S.unit_samples(gen(s), n, dim, "halton")) for s in seeds]
    # sanity of the formula: mean squared discrepancy of i.i.d. points is (2^-d - 3^-d)/n
    expected_sq = (2.0**-dim - 3.0**-dim) / n
    assert 0.4 * expected_sq < np.mean(np.square(uni)) < 2.5 * expected_sq
    # randomised Halton: at least 3x lower (about 4.4x in 3D and 6.6x in 2D at n = 256)
    assert np.mean(hal) < np.mean(uni) / 3.0


# ----------------------------------------------------------------------- domain points


@pytest.mark.parametrize("strategy", S.STRATEGIES)
def test_interior_in_box_and_uniform_per_axis(strategy):
    p = S.interior(gen(3), 5000, DOMAIN, strategy)
    assert p.shape == (5000, 3) and p.dtype == np.float64
    for axis, (lo, hi) in enumerate(DOMAIN):
        assert np.all(p[:, axis] >= lo) and np.all(p[:, axis] <= hi)
        counts = np.histogram(p[:, axis], bins=10, range=(lo, hi))[0]
        assert chi_square(counts, [0.1] * 10) < 40.0  # 9 dof, 99.99 % quantile 33.7
    assert np.array_equal(p, S.interior(gen(3), 5000, DOMAIN, strategy))
    assert not np.array_equal(p, S.interior(gen(4), 5000, DOMAIN, strategy))


def test_interior_lhs_stratifies_physical_axes():
    p = S.interior(gen(5), 40, DOMAIN, "lhs")
    for axis, (lo, hi) in enumerate(DOMAIN):
        # physical stratum j is [lo + j w, lo + (j + 1) w) with w = (hi - lo) / 40; the
        # affine map moves values by rounding only, so test at 1e-9 from the edges
        scaled = (p[:, axis] - lo) / (hi - lo) * 40
        assert sorted(np.floor(scaled).astype(int)) == list(range(40))
        assert np.all(np.abs(scaled - np.round(scaled)) > 1e-9)


@pytest.mark.parametrize("strategy", S.STRATEGIES)
def test_initial_on_t0(strategy):
    p = S.initial(gen(1), 300, DOMAIN, strategy)
    assert p.shape == (300, 3) and p.dtype == np.float64
    assert np.all(p[:, 2] == DOMAIN[2][0])
    for axis in (0, 1):
        lo, hi = DOMAIN[axis]
        assert np.all(p[:, axis] >= lo) and np.all(p[:, axis] <= hi)
        assert p[:, axis].max() - p[:, axis].min() > 0.9 * (hi - lo)
    assert np.array_equal(p, S.initial(gen(1), 300, DOMAIN, strategy))
    assert not np.array_equal(p, S.initial(gen(2), 300, DOMAIN, strategy))


NORMALS = {0: (-1.0, 0.0), 1: (1.0, 0.0), 2: (0.0, -1.0), 3: (0.0, 1.0)}


@pytest.mark.parametrize("strategy", S.STRATEGIES)
def test_boundary_points_normals_and_edges(strategy):
    (x0, x1), (y0, y1), (t0, t1) = DOMAIN
    pts, nrm, idx = S.boundary(gen(9), 401, DOMAIN, strategy)
    assert pts.shape == (401, 3) and nrm.shape == (401, 2) and idx.shape == (401,)
    assert pts.dtype == np.float64 and np.issubdtype(idx.dtype, np.integer)
    np.testing.assert_array_equal(np.linalg.norm(nrm, axis=1), 1.0)
    fixed = {0: (0, x0), 1: (0, x1), 2: (1, y0), 3: (1, y1)}
    for i in range(401):
        e = int(idx[i])
        assert tuple(nrm[i]) == NORMALS[e]
        col, value = fixed[e]
        assert pts[i, col] == value
        # outward: moving along the normal leaves the box
        step = pts[i, :2] + 1e-3 * nrm[i]
        assert not (x0 <= step[0] <= x1 and y0 <= step[1] <= y1)
    assert np.all((pts[:, 0] >= x0) & (pts[:, 0] <= x1))
    assert np.all((pts[:, 1] >= y0) & (pts[:, 1] <= y1))
    assert np.all((pts[:, 2] >= t0) & (pts[:, 2] <= t1))
    # x range 3, y range 1: quotas 401 * (1, 1, 3, 3) / 8 = 50.125, 50.125, 150.375, 150.375
    assert np.bincount(idx, minlength=4).tolist() == [50, 50, 151, 150]
    again = S.boundary(gen(9), 401, DOMAIN, strategy)
    assert all(np.array_equal(u, v) for u, v in zip((pts, nrm, idx), again))
    assert not np.array_equal(pts, S.boundary(gen(10), 401, DOMAIN, strategy)[0])


def test_boundary_counts_hand_examples():
    box = ((0.0, 3.0), (0.0, 1.0), (0.0, 1.0))
    count = lambda idx: np.bincount(idx, minlength=4).tolist()  # noqa: E731
    # quotas 1.25, 1.25, 3.75, 3.75 -> floors 1, 1, 3, 3, two left for bottom and top
    assert count(S.boundary(gen(0), 10, box)[2]) == [1, 1, 4, 4]
    # quotas 1.125, 1.125, 3.375, 3.375 -> one left, tie bottom/top goes to the first listed
    assert count(S.boundary(gen(0), 9, box)[2]) == [1, 1, 4, 3]
    assert count(S.boundary(gen(0), 9, box, edges=("top", "bottom", "left", "right"))[2]) == [
        1,
        1,
        3,
        4,
    ]
    # a subset of edges, single name as a string
    assert count(S.boundary(gen(0), 7, box, edges=("left", "top"))[2]) == [2, 0, 0, 5]
    assert count(S.boundary(gen(0), 7, box, edges="top")[2]) == [0, 0, 0, 7]
    assert S.boundary(gen(0), 0, box)[0].shape == (0, 3)


@SETTINGS
@given(
    n=st.integers(0, 500),
    lx=st.floats(1e-3, 1e3),
    ly=st.floats(1e-3, 1e3),
    edges=st.permutations(S.EDGES).flatmap(
        lambda p: st.integers(1, 4).map(lambda k: tuple(p[:k]))
    ),
)
def test_boundary_counts_follow_largest_remainder(n, lx, ly, edges):
    box = ((0.0, lx), (0.0, ly), (0.0, 1.0))
    _, _, idx = S.boundary(gen(0), n, box, edges=edges)
    got = np.bincount(idx, minlength=4)
    lengths = [ly if e in ("left", "right") else lx for e in edges]
    want = hamilton(n, lengths)
    assert [int(got[S.EDGES.index(e)]) for e in edges] == want
    assert got.sum() == n
    # points are grouped by edge in the order requested
    order = [S.EDGES.index(e) for e, c in zip(edges, want) if c]
    assert list(dict.fromkeys(idx.tolist())) == order


def test_boundary_edge_errors():
    with pytest.raises(InputError, match="edges.*'front'"):
        S.boundary(gen(0), 10, DOMAIN, edges=("left", "front"))
    with pytest.raises(InputError, match="edges"):
        S.boundary(gen(0), 10, DOMAIN, edges=("left", "left"))
    with pytest.raises(InputError, match="edges"):
        S.boundary(gen(0), 10, DOMAIN, edges=())


# ----------------------------------------------------------------------- adaptive


@SETTINGS
@given(
    m=st.integers(0, 40),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_rar_appends_top_k(m, seed, data):
    rng = gen(seed)
    points = rng.random((5, 3))
    candidates = rng.random((m, 3))
    residual = rng.integers(0, 4, m).astype(float)  # few values: many ties
    k = data.draw(st.integers(0, m))
    out = S.rar(points, candidates, residual, k)
    assert out.shape == (5 + k, 3)
    assert np.array_equal(out[:5], points)
    ranked = sorted(range(m), key=lambda i: (-residual[i], i))[:k]
    assert np.array_equal(out[5:], candidates[ranked])


def test_rar_errors():
    with pytest.raises(InputError, match="k"):
        S.rar(np.zeros((2, 3)), np.zeros((3, 3)), np.ones(3), 4)
    with pytest.raises(InputError, match="residual"):
        S.rar(np.zeros((2, 3)), np.zeros((3, 3)), np.array([1.0, -1.0, 0.0]), 1)
    with pytest.raises(InputError, match="residual"):
        S.rar(np.zeros((2, 3)), np.zeros((3, 3)), np.array([1.0, np.nan, 0.0]), 1)
    with pytest.raises(InputError, match="residual"):
        S.rar(np.zeros((2, 3)), np.zeros((3, 3)), np.ones(2), 1)
    with pytest.raises(InputError, match="candidates"):
        S.rar(np.zeros((2, 3)), np.zeros((3, 2)), np.ones(3), 1)
    with pytest.raises(InputError, match="points"):
        S.rar(np.zeros((2, 4)), np.zeros((3, 3)), np.ones(3), 1)


def labelled(m):
    """Candidates whose x coordinate is their index."""
    c = np.zeros((m, 3))
    c[:, 0] = np.arange(m)
    return c


RESIDUAL = np.array([0.0, 0.5, 1.0, 2.0, 4.0, 0.1])


def test_rad_first_draw_follows_probabilities():
    cand, rng, draws = labelled(6), gen(31), 20000
    for k, c in ((1.0, 1.0), (2.0, 0.5), (1.0, 0.0)):
        counts = np.zeros(6)
        for _ in range(draws):
            counts[int(S.rad(rng, cand, RESIDUAL, 1, k=k, c=c)[0, 0])] += 1
        p = rad_probabilities(RESIDUAL, k, c)
        nonzero = p > 0
        # with c = 0 the zero-residual candidate is never drawn first
        assert np.all(counts[~nonzero] == 0)
        # chi-square, <= 5 dof: 99.99 % quantile 25.7; bound 30
        assert chi_square(counts[nonzero], p[nonzero]) < 30.0


def test_rad_two_draws_without_replacement():
    cand, rng, draws = labelled(6), gen(32), 20000
    p = rad_probabilities(RESIDUAL, 1.0, 1.0)
    included = np.zeros(6)
    for _ in range(draws):
        out = S.rad(rng, cand, RESIDUAL, 2)
        first, second = out[:, 0].astype(int)
        assert first != second
        included[[first, second]] += 1
    want = inclusion_two(p)
    sd = np.sqrt(draws * want * (1 - want))
    # every inclusion count within 5 standard deviations of the exact expectation
    assert np.all(np.abs(included - draws * want) < 5 * sd)


@pytest.mark.parametrize(
    "residual,k,c",
    [(RESIDUAL, 1.0, 1e9), (np.zeros(6), 1.0, 1.0), (np.zeros(6), 2.0, 0.0), (RESIDUAL, 0.0, 0.0)],
    ids=["c-huge", "zero-residual", "zero-residual-c0", "k0"],
)
def test_rad_uniform_limits(residual, k, c):
    cand, rng, draws = labelled(6), gen(33), 12000
    counts = np.zeros(6)
    for _ in range(draws):
        counts[int(S.rad(rng, cand, residual, 1, k=k, c=c)[0, 0])] += 1
    assert chi_square(counts, [1 / 6] * 6) < 30.0  # 5 dof, 99.99 % quantile 25.7


def test_rad_all_candidates_and_scale_invariance():
    rng = gen(34)
    cand = rng.random((50, 3))
    residual = rng.random(50) ** 3
    full = S.rad(gen(1), cand, residual, 50, k=2.0, c=0.3)
    assert sorted(map(tuple, full)) == sorted(map(tuple, cand))
    # eps^k / mean(eps^k) does not change when eps is scaled (by 8: exact in binary)
    a = S.rad(gen(2), cand, residual, 10, k=2.0, c=0.3)
    b = S.rad(gen(2), cand, 8.0 * residual, 10, k=2.0, c=0.3)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, S.rad(gen(3), cand, residual, 10, k=2.0, c=0.3))
    # huge residuals must not overflow eps^k
    big = S.rad(gen(2), cand, residual * 1e300, 10, k=5.0, c=0.3)
    assert big.shape == (10, 3)


def test_rad_c0_zero_weights_come_last():
    cand = labelled(5)
    residual = np.array([0.0, 3.0, 0.0, 1.0, 0.0])
    for seed in range(20):
        out = S.rad(gen(seed), cand, residual, 4, k=1.0, c=0.0)[:, 0].astype(int)
        assert set(out[:2]) == {1, 3}
        assert set(out[2:]) <= {0, 2, 4}


def test_rad_errors():
    cand = np.zeros((4, 3))
    with pytest.raises(InputError, match="n"):
        S.rad(gen(0), cand, np.ones(4), 5)
    with pytest.raises(InputError, match="residual"):
        S.rad(gen(0), cand, np.array([1.0, -0.5, 0.0, 0.0]), 2)
    with pytest.raises(InputError, match="residual"):
        S.rad(gen(0), cand, np.array([1.0, np.nan, 0.0, 0.0]), 2)
    with pytest.raises(InputError, match="k"):
        S.rad(gen(0), cand, np.ones(4), 2, k=-1.0)
    with pytest.raises(InputError, match="c"):
        S.rad(gen(0), cand, np.ones(4), 2, c=np.inf)
    with pytest.raises(InputError, match="rng"):
        S.rad(0, cand, np.ones(4), 2)


# ----------------------------------------------------------------------- batches


@SETTINGS
@given(n=st.integers(0, 300), batch=st.integers(1, 400), seed=st.integers(0, 2**32 - 1))
def test_minibatches_partition(n, batch, seed):
    batches = S.minibatches(gen(seed), n, batch)
    sizes = [b.size for b in batches]
    if n == 0:
        assert batches == []
        return
    if batch >= n:
        assert len(batches) == 1 and np.array_equal(batches[0], np.arange(n))
        return
    assert sizes == [batch] * (n // batch) + ([n % batch] if n % batch else [])
    assert np.array_equal(np.sort(np.concatenate(batches)), np.arange(n))
    again = S.minibatches(gen(seed), n, batch)
    assert all(np.array_equal(u, v) for u, v in zip(batches, again))


def test_minibatches_full_batch_draws_nothing_and_shuffles_otherwise():
    rng = gen(5)
    before = rng.bit_generator.state
    assert np.array_equal(S.minibatches(rng, 10, None)[0], np.arange(10))
    assert np.array_equal(S.minibatches(rng, 10, 10)[0], np.arange(10))
    assert rng.bit_generator.state == before
    a = np.concatenate(S.minibatches(gen(5), 1000, 100))
    b = np.concatenate(S.minibatches(gen(6), 1000, 100))
    assert not np.array_equal(a, np.arange(1000)) and not np.array_equal(a, b)


# ----------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda: S.unit_samples(gen(0), -1, 2, "uniform"), "n"),
        (lambda: S.unit_samples(gen(0), 3.0, 2, "uniform"), "n"),
        (lambda: S.unit_samples(gen(0), True, 2, "uniform"), "n"),
        (lambda: S.unit_samples(gen(0), 3, 0, "uniform"), "dim"),
        (lambda: S.unit_samples(gen(0), 3, 2, "sobol"), "strategy"),
        (lambda: S.unit_samples(np.random.RandomState(0), 3, 2, "uniform"), "rng"),
        (lambda: S.interior(gen(0), 3, ((0, 1), (0, 1))), "domain"),
        (lambda: S.interior(gen(0), 3, ((0, 1), (1, 1), (0, 1))), "domain"),
        (lambda: S.interior(gen(0), 3, ((0, 1), (0, 1), (0, np.nan))), "domain"),
        (lambda: S.interior(gen(0), 3, "box"), "domain"),
        (lambda: S.interior(gen(0), 3, DOMAIN, "grid"), "strategy"),
        (lambda: S.initial(gen(0), -2, DOMAIN), "n"),
        (lambda: S.boundary(gen(0), 3, ((1, 0), (0, 1), (0, 1))), "domain"),
        (lambda: S.minibatches(gen(0), 10, 0), "batch_size"),
        (lambda: S.minibatches(gen(0), -1, 2), "n"),
        (lambda: S.rar(np.zeros((1, 3)), np.zeros((2, 3)), np.ones(2), -1), "k"),
        (lambda: S.rad(gen(0), np.zeros((2, 3)), np.ones(2), 1, c=-1.0), "c"),
    ],
)
def test_bad_inputs_name_the_argument(call, name):
    with pytest.raises(InputError) as info:
        call()
    assert str(info.value).startswith(name)
    assert "expected" in str(info.value)
