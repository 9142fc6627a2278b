"""Point sampling: collocation, boundary and initial points, adaptive resampling, mini-batches.

The problem domain is the space-time box ``domain = ((x0, x1), (y0, y1), (t0, t1))``
(finite floats, ``lo < hi`` on every axis). Points are float64 arrays of shape
``(n, 3)`` with columns ``(x, y, t)``.

Every function that draws random numbers takes an explicit
:class:`numpy.random.Generator` as its first argument and consumes an amount of
randomness that depends only on its other arguments (never on the values drawn:
permutations come from sorting uniform keys rather than from rejection-based
shuffles). So the same Generator state always gives the same points, bit for bit,
and the state after the call is the same too, which keeps checkpoint/resume exact.

Strategies for the free coordinates (:data:`STRATEGIES`):

- ``"uniform"``: i.i.d. uniform;
- ``"lhs"``: Latin hypercube sampling (McKay, Beckman & Conover 1979);
- ``"halton"``: Halton sequence (Halton 1960) randomised by random digit
  permutations (Owen 2017, "A randomized Halton algorithm in R", arXiv:1706.02808).

Adaptive resampling follows the residual-based adaptive refinement (RAR) of
Lu, Meng, Mao & Karniadakis (2021, SIAM Review 63(1):208-228) and the
residual-based adaptive distribution (RAD) of Wu, Zhu, Tan, Kartha & Lu (2023,
Comput. Methods Appl. Mech. Engrg. 403:115671).
"""

from fractions import Fraction

import numpy as np

from pinnlite.core import checks

STRATEGIES = ("uniform", "lhs", "halton")

#: Spatial edges of the box, in the order used by ``edge_index``.
EDGES = ("left", "right", "bottom", "top")

#: Outward unit normal of each edge in :data:`EDGES`.
EDGE_NORMALS = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])
EDGE_NORMALS.setflags(write=False)

_BELOW_ONE = np.nextafter(1.0, 0.0)


# --------------------------------------------------------------------------- validation


def _check_points(name, points):
    """``points`` as a finite float64 array of shape (n, 3) (lists are converted)."""
    try:
        arr = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        checks.fail(name, "a float array of shape (n, 3)", points)
    return checks.array(name, arr, (None, 3), np.float64)


def _check_residual(residual, m):
    """``residual`` as a finite, non-negative float64 array of shape (m,)."""
    try:
        arr = np.asarray(residual, dtype=np.float64)
    except (TypeError, ValueError):
        checks.fail("residual", f"a float array of shape ({m},)", residual)
    checks.array("residual", arr, (m,), np.float64)
    if np.any(arr < 0):
        first = int(np.flatnonzero(arr < 0)[0])
        checks.fail("residual", f"values >= 0 (one per candidate), at index {first}", float(arr[first]))
    return arr


# --------------------------------------------------------------------------- unit cube


def _sorted_keys_permutation(keys):
    """Permutation(s) along the last axis given i.i.d. uniform ``keys``.

    Sorting uniform keys gives a uniformly random permutation while consuming a
    fixed number of draws (a shuffle based on bounded integers uses rejection and
    so a data-dependent number). Stable sort makes the (probability ~2^-53) tie
    case deterministic as well.
    """
    return np.argsort(keys, axis=-1, kind="stable")


def _lhs(rng, n, dim):
    """Latin hypercube in [0, 1)^dim (McKay, Beckman & Conover 1979).

    Returns (n, dim): column ``d`` is ``(perm_d + u) / n`` with an independent random
    permutation ``perm_d`` of ``range(n)`` and ``u`` i.i.d. uniform in [0, 1), so each
    of the n strata ``[i/n, (i+1)/n)`` of every coordinate holds exactly one point.
    """
    offsets = rng.random((n, dim))
    perms = _sorted_keys_permutation(rng.random((dim, n))).T  # (n, dim)
    x = (perms + offsets) / n
    # Rounding can put (perm + u) / n on the wrong side of a stratum boundary (up onto
    # the next stratum or 1.0 when u is near 1; just below perm / n when u is near 0).
    # Step by one ulp until the exact value x * n lies in [perm, perm + 1) and the
    # rounded product floor(x * n) agrees. Only a rounded product equal to perm can
    # hide an exact one below perm; those rare entries are checked with rationals.
    for _ in range(8):
        product = x * n
        stratum = np.floor(product)
        over, under = stratum > perms, stratum < perms
        for i, d in np.argwhere(product == perms):
            under[i, d] = Fraction(float(x[i, d])) * n < int(perms[i, d])
        if not (np.any(over) or np.any(under)):
            break
        x[over] = np.nextafter(x[over], 0.0)
        x[under] = np.nextafter(x[under], 1.0)
    return x


def _primes(count):
    """The first ``count`` primes (trial division; ``count`` is the dimension, small)."""
    primes = []
    candidate = 2
    while len(primes) < count:
        if all(candidate % p for p in primes if p * p <= candidate):
            primes.append(candidate)
        candidate += 1
    return primes


def _digits_for_double(base):
    """Smallest D with base**D >= 2**53: digits beyond D are below double precision."""
    digits, power = 0, 1
    while power < 2**53:
        power *= base
        digits += 1
    return digits


def _radical_inverse(index, base, perms=None):
    """Radical inverse of integers in ``base``, optionally digit-scrambled.

    Parameters
    ----------
    index : (n,) int64 array of non-negative integers ``i = sum_j a_j base**(j-1)``.
    base : int >= 2.
    perms : (D, base) int array or None. Row ``j-1`` is the permutation applied to
        digit ``a_j``; ``None`` gives the plain van der Corput value.

    Returns
    -------
    (n,) float64: ``sum_j pi_j(a_j) base**(-j)`` for ``j = 1..D`` (Halton 1960;
    Owen 2017 for the permuted digits), in [0, 1).
    """
    remaining = np.array(index, dtype=np.int64, copy=True)
    out = np.zeros(remaining.shape, dtype=np.float64)
    ndigits = _digits_for_double(base) if perms is None else perms.shape[0]
    for j in range(1, ndigits + 1):
        if perms is None and not np.any(remaining):
            break
        digit = remaining % base
        remaining //= base
        if perms is not None:
            digit = perms[j - 1][digit]
        # 1 / base**j from exact integers: correctly rounded, so base-2 values are exact.
        out += digit * (1.0 / base**j)
    return np.minimum(out, _BELOW_ONE)


def _halton(n, dim, rng=None):
    """First ``n`` points (indices 0..n-1) of the ``dim``-dimensional Halton sequence.

    Bases are the first ``dim`` primes. With ``rng``, every digit position of every
    base gets an independent uniformly random permutation of ``{0..base-1}`` (random
    digit permutation of Owen 2017), applied to ``D`` digits where ``base**D >= 2**53``.
    Each coordinate then stays a (0, 1)-sequence in its base, the Chinese-remainder
    stratification of Halton's construction is kept, and every single point is
    uniform on the cube. Without ``rng`` the plain (deterministic) sequence.

    Returns
    -------
    (n, dim) float64 array in [0, 1)^dim.
    """
    index = np.arange(n, dtype=np.int64)
    out = np.empty((n, dim), dtype=np.float64)
    for d, base in enumerate(_primes(dim)):
        perms = None
        if rng is not None:
            keys = rng.random((_digits_for_double(base), base))
            perms = _sorted_keys_permutation(keys)
        out[:, d] = _radical_inverse(index, base, perms)
    return out


def unit_samples(rng, n, dim, strategy):
    """``n`` points in the unit cube [0, 1)^dim.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int >= 0
    dim : int >= 1
    strategy : one of :data:`STRATEGIES`
        ``"uniform"``: i.i.d. uniform (``n * dim`` draws).
        ``"lhs"``: Latin hypercube (McKay, Beckman & Conover 1979): every coordinate
        has exactly one point in each of its n strata ``[i/n, (i+1)/n)``, at a uniform
        position inside the stratum; permutations independent per coordinate
        (``2 * n * dim`` draws).
        ``"halton"``: Halton points 0..n-1 with bases the first ``dim`` primes,
        randomised by independent random permutations of the digits at every digit
        position of every base (Owen 2017); the draws depend on ``dim`` only.

    Returns
    -------
    (n, dim) float64 array with values in [0, 1).
    """
    checks.generator("rng", rng)
    n = checks.integer("n", n, low=0)
    dim = checks.integer("dim", dim, low=1)
    strategy = checks.choice("strategy", strategy, STRATEGIES)
    if strategy == "uniform":
        return rng.random((n, dim))
    if strategy == "lhs":
        return _lhs(rng, n, dim)
    return _halton(n, dim, rng)


def _scale(unit, lo, hi):
    """Map [0, 1) onto [lo, hi]; the clip guards the one-ulp overshoot of lo + (hi-lo)*u."""
    return np.clip(lo + (hi - lo) * unit, lo, hi)


# --------------------------------------------------------------------------- domain points


def interior(rng, n, domain, strategy="uniform"):
    """Collocation points in the space-time box.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int >= 0
    domain : ((x0, x1), (y0, y1), (t0, t1))
    strategy : one of :data:`STRATEGIES`, applied in 3D to (x, y, t).

    Returns
    -------
    (n, 3) float64 array of (x, y, t) in the closed box (the upper faces are reached
    only through floating-point rounding).
    """
    checks.generator("rng", rng)
    n = checks.integer("n", n, low=0)
    box = np.array(checks.box("domain", domain))
    unit = unit_samples(rng, n, 3, checks.choice("strategy", strategy, STRATEGIES))
    return _scale(unit, box[:, 0], box[:, 1])


def _check_edges(edges):
    if isinstance(edges, str):
        edges = (edges,)
    try:
        names = tuple(edges)
    except TypeError:
        checks.fail("edges", f"a sequence of names from {EDGES}", edges)
    if not names or len(set(names)) != len(names) or not all(isinstance(e, str) and e in EDGES for e in names):
        checks.fail("edges", f"a sequence of distinct names from {EDGES}", names)
    return names


def edge_counts(n, lengths):
    """Split ``n`` points over edges in proportion to their lengths.

    Largest-remainder (Hamilton) rule, evaluated in exact rational arithmetic on the
    given float lengths: edge ``e`` gets ``floor(q_e)`` points with the quota
    ``q_e = n * L_e / sum(L)``, and the ``n - sum(floor(q))`` points left over go one
    each to the edges with the largest fractional parts ``q_e - floor(q_e)``, ties to
    the earlier edge. Every count is ``floor(q_e)`` or ``ceil(q_e)`` and they sum to n.

    Parameters
    ----------
    n : int >= 0
    lengths : sequence of positive finite floats, one per edge.

    Returns
    -------
    (len(lengths),) int64 array of counts.
    """
    n = checks.integer("n", n, low=0)
    values = [float(length) for length in lengths]
    if not values or not all(np.isfinite(v) and v > 0 for v in values):
        checks.fail("lengths", "positive finite edge lengths", lengths)
    exact = [Fraction(v) for v in values]
    total = sum(exact)
    quotas = [n * length / total for length in exact]
    counts = [q.numerator // q.denominator for q in quotas]
    left_over = n - sum(counts)
    # Sort by descending remainder, then by position: Python's sort is stable.
    order = sorted(range(len(quotas)), key=lambda e: -(quotas[e] - counts[e]))
    for e in order[:left_over]:
        counts[e] += 1
    return np.array(counts, dtype=np.int64)


def boundary(rng, n, domain, strategy="uniform", edges=EDGES):
    """Points on the spatial edges of the box, over the full time window.

    Edge ``"left"`` is x = x0 (outward normal (-1, 0)), ``"right"`` x = x1 (1, 0),
    ``"bottom"`` y = y0 (0, -1), ``"top"`` y = y1 (0, 1). The n points are split over
    ``edges`` by :func:`edge_counts` (largest remainder on the edge lengths, ties to
    the edge listed first in ``edges``); on each edge the free coordinates (position
    along the edge, t) are drawn with ``strategy`` in 2D, edge by edge in the order of
    ``edges``.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int >= 0
    domain : ((x0, x1), (y0, y1), (t0, t1))
    strategy : one of :data:`STRATEGIES`
    edges : sequence of distinct names from :data:`EDGES` (a single string is one name).

    Returns
    -------
    points : (n, 3) float64, grouped by edge in the order of ``edges``; the fixed
        coordinate equals the domain bound exactly.
    normals : (n, 2) float64 outward unit normals.
    edge_index : (n,) int64 index into :data:`EDGES` (not into ``edges``).
    """
    checks.generator("rng", rng)
    n = checks.integer("n", n, low=0)
    box = np.array(checks.box("domain", domain))
    strategy = checks.choice("strategy", strategy, STRATEGIES)
    names = _check_edges(edges)
    (x0, x1), (y0, y1), (t0, t1) = box
    ids = [EDGES.index(name) for name in names]
    # left/right run along y, bottom/top along x
    lengths = [(y1 - y0) if e < 2 else (x1 - x0) for e in ids]
    counts = edge_counts(n, lengths)

    points = np.empty((n, 3), dtype=np.float64)
    edge_index = np.empty(n, dtype=np.int64)
    start = 0
    for e, count in zip(ids, counts):
        stop = start + int(count)
        unit = unit_samples(rng, int(count), 2, strategy)
        block = points[start:stop]
        block[:, 2] = _scale(unit[:, 1], t0, t1)
        if e < 2:
            block[:, 0] = x0 if e == 0 else x1
            block[:, 1] = _scale(unit[:, 0], y0, y1)
        else:
            block[:, 0] = _scale(unit[:, 0], x0, x1)
            block[:, 1] = y0 if e == 2 else y1
        edge_index[start:stop] = e
        start = stop
    return points, EDGE_NORMALS[edge_index], edge_index  # fancy indexing copies


def initial(rng, n, domain, strategy="uniform"):
    """Points at the initial time t = t0 with (x, y) drawn in the box with ``strategy`` (2D).

    Returns
    -------
    (n, 3) float64 array; column 2 equals t0 exactly.
    """
    checks.generator("rng", rng)
    n = checks.integer("n", n, low=0)
    box = np.array(checks.box("domain", domain))
    unit = unit_samples(rng, n, 2, checks.choice("strategy", strategy, STRATEGIES))
    points = np.empty((n, 3), dtype=np.float64)
    points[:, :2] = _scale(unit, box[:2, 0], box[:2, 1])
    points[:, 2] = box[2, 0]
    return points


# --------------------------------------------------------------------------- adaptive


def rar(points, candidates, residual, k):
    """Residual-based adaptive refinement (RAR; Lu et al. 2021, DeepXDE).

    Appends the ``k`` candidates with the largest residual, largest first; equal
    residuals are taken in increasing candidate index. Deterministic.

    Parameters
    ----------
    points : (n, 3) current collocation points.
    candidates : (m, 3) candidate points.
    residual : (m,) finite non-negative PDE residual magnitudes at the candidates.
    k : int, 0 <= k <= m.

    Returns
    -------
    (n + k, 3) float64: ``points`` followed by the chosen candidates.
    """
    points = _check_points("points", points)
    candidates = _check_points("candidates", candidates)
    m = candidates.shape[0]
    residual = _check_residual(residual, m)
    k = checks.integer("k", k, low=0)
    if k > m:
        checks.fail("k", f"at most the number of candidates ({m})", k)
    # stable sort on the negated residual keeps lower indices first among ties
    chosen = np.argsort(-residual, kind="stable")[:k]
    return np.concatenate([points, candidates[chosen]], axis=0)


def _rad_weights(residual, k, c):
    """Unnormalised RAD weights ``eps**k / mean(eps**k) + c`` (Wu et al. 2023), shape (m,).

    Residuals are divided by their maximum first: the ratio is unchanged and
    ``eps**k`` can then neither overflow nor make the mean zero. An all-zero residual
    (and k = 0, since 0**0 = 1) gives equal weights.
    """
    peak = residual.max() if residual.size else 0.0
    if peak == 0.0:
        return np.ones_like(residual)
    powered = (residual / peak) ** k
    return powered / powered.mean() + c


def rad(rng, candidates, residual, n, k=1.0, c=1.0):
    """Residual-based adaptive distribution (RAD; Wu, Zhu, Tan, Kartha & Lu 2023).

    Draws ``n`` distinct candidates with the RAD density
    ``p_i ∝ eps_i**k / mean(eps**k) + c``: k = 0 or c -> infinity is uniform, c = 0
    and large k concentrate on the largest residuals. An all-zero residual is uniform.

    Sampling is without replacement in the successive sense: the first point is
    candidate i with probability ``p_i``, each next one is drawn from the remaining
    candidates with probabilities proportional to their ``p``. It is implemented with
    the keys ``log(v_i) / p_i`` (v_i uniform in (0, 1]), taking the n largest
    (Efraimidis & Spirakis 2006, Inf. Process. Lett. 97(5):181-185), so exactly m
    uniforms are drawn. Candidates of weight zero (only possible with c = 0) come
    after all others, in uniformly random order.

    Parameters
    ----------
    rng : numpy.random.Generator
    candidates : (m, 3) candidate points.
    residual : (m,) finite non-negative residual magnitudes.
    n : int, 0 <= n <= m.
    k : float >= 0, exponent.
    c : float >= 0, uniform floor.

    Returns
    -------
    (n, 3) float64: the chosen candidates in the order they were drawn.
    """
    checks.generator("rng", rng)
    candidates = _check_points("candidates", candidates)
    m = candidates.shape[0]
    residual = _check_residual(residual, m)
    n = checks.integer("n", n, low=0)
    k = checks.real("k", k, low=0.0)
    c = checks.real("c", c, low=0.0)
    if n > m:
        checks.fail("n", f"at most the number of candidates ({m}): sampling is without replacement", n)
    weights = _rad_weights(residual, k, c)
    v = 1.0 - rng.random(m)  # in (0, 1], so log(v) is finite
    positive = weights > 0
    keys = np.full(m, -np.inf)
    keys[positive] = np.log(v[positive]) / weights[positive]
    # primary: key descending; zero-weight ones (key -inf) ordered by v, i.e. randomly
    order = np.lexsort((np.arange(m), -v, -keys))
    return candidates[order[:n]]


# --------------------------------------------------------------------------- batches


def minibatches(rng, n, batch_size):
    """One epoch of mini-batch indices.

    A uniformly random permutation of ``range(n)`` (from sorting n uniform keys) cut
    into consecutive batches of ``batch_size``; the last batch holds the
    ``n % batch_size`` left-over indices when that is not zero (it is never dropped).
    With ``batch_size`` None or ``>= n`` the result is one batch ``arange(n)`` in
    order and no randomness is drawn. ``n = 0`` gives no batches.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int >= 0, number of points.
    batch_size : int >= 1 or None.

    Returns
    -------
    list of (size,) int64 arrays whose concatenation is a permutation of range(n).
    """
    checks.generator("rng", rng)
    n = checks.integer("n", n, low=0)
    if batch_size is not None:
        batch_size = checks.integer("batch_size", batch_size, low=1)
    if n == 0:
        return []
    if batch_size is None or batch_size >= n:
        return [np.arange(n, dtype=np.int64)]
    perm = _sorted_keys_permutation(rng.random(n)).astype(np.int64)
    return [perm[i : i + batch_size] for i in range(0, n, batch_size)]
