"""Point sets cut into tiles: the unit of work of every evaluation.

A tile holds ``n`` points of one loss term with only the ``c`` channels that
term needs (``docs/ENGINE.md``, "Layout"), at most :data:`TILE_COLUMNS` columns
``c*n``. :func:`prepare` validates the point sets and cuts them; consecutive
tiles form *units* whose partial sums are kept apart and added in unit order,
so results do not depend on the number of threads.
"""

from typing import NamedTuple

import numpy as np

from pinnlite.core import checks
from pinnlite.errors import InputError
from pinnlite.engine.terms import CHANNELS, POINTS_FIELD, TARGET_FIELD, TERMS, LossWeights, check_points

TILE_COLUMNS = 640  # columns of one tile: 80 PDE points, 160 four-channel or 640 value-only points
UNIT_BYTES = 64 << 20  # memory for per-unit partial gradients


class Tile(NamedTuple):
    """``n`` points of one term with ``c`` channels each (``c*n`` columns)."""

    term: str
    index: int  # position of the term in TERMS
    n: int
    c: int
    xi: np.ndarray  # (3, n) normalised points
    target: np.ndarray  # (n, 2) target of the term, or (0, 2) for the PDE term
    force: np.ndarray  # (n, 2) body force of a PDE tile, or (0, 2): none
    normals: np.ndarray  # (n, 2) outward unit normals of a traction tile, or (0, 2)


class Prepared(NamedTuple):
    """Point sets cut into tiles for the kernels (see :mod:`pinnlite.engine.kernels`)."""

    tiles: tuple
    units: tuple  # (first, stop) tile ranges whose partial sums are kept apart
    counts: dict  # term -> number of points
    scale: np.ndarray  # (3,) input scale s (xi = s (X - c)), model dtype
    n_points: int
    tile_columns: int


def _empty(dtype):
    return np.zeros((0, 2), dtype=dtype)


def prepare(arch, points, weights=None, tile_columns=TILE_COLUMNS, check=True):
    """Validate ``points`` and cut them into tiles.

    Parameters
    ----------
    arch : Architecture
    points : PointSets
    weights : LossWeights, dict or None
        Only used to reject empty point sets of terms with non-zero weight.
    tile_columns : int
        Columns per tile (a term with c channels gets ``tile_columns // c``
        points per tile). It fixes the order in which partial sums are added,
        so results are reproducible for a given value whatever the thread count.
    """
    dtype = arch.np_dtype
    if check:
        check_points(points, dtype, LossWeights.coerce(weights))
    checks.integer("tile_columns", tile_columns, low=8)
    s, c = arch.input_transform()
    s, c = s.astype(dtype), c.astype(dtype)
    tiles, counts, n_points = [], {}, 0
    for k, term in enumerate(TERMS):
        X = getattr(points, POINTS_FIELD[term])
        if X is None or X.shape[0] == 0:
            continue
        n_all = X.shape[0]
        counts[term] = n_all
        n_points += n_all
        target = getattr(points, TARGET_FIELD[term]) if term in TARGET_FIELD else None
        force = points.body_force if term == "pde" else None
        normals = points.traction_normals if term == "traction" else None
        xi = ((X - c) * s).T
        step = max(1, int(tile_columns) // CHANNELS[k])
        for a in range(0, n_all, step):
            b = min(a + step, n_all)
            tiles.append(
                Tile(
                    term,
                    k,
                    b - a,
                    CHANNELS[k],
                    np.ascontiguousarray(xi[:, a:b]),
                    _empty(dtype) if target is None else np.ascontiguousarray(target[a:b]),
                    _empty(dtype) if force is None else np.ascontiguousarray(force[a:b]),
                    _empty(dtype) if normals is None else np.ascontiguousarray(normals[a:b]),
                )
            )
    return Prepared(tuple(tiles), _units(len(tiles), arch), counts, s, n_points, int(tile_columns))


def _units(n_tiles, arch):
    """Consecutive tile ranges whose partial sums are kept apart (bounded memory)."""
    n_units = min(n_tiles, max(1, UNIT_BYTES // (8 * arch.n_params)))
    return tuple((u * n_tiles // n_units, (u + 1) * n_tiles // n_units) for u in range(n_units))


def combine(first, second, arch):
    """Prepared points of two disjoint sets of terms as one (tiles in TERMS order)."""
    if set(first.counts) & set(second.counts):
        raise InputError(f"combine: both hold the terms {sorted(set(first.counts) & set(second.counts))}")
    if first.tile_columns != second.tile_columns:
        raise InputError(f"combine: tile_columns differ ({first.tile_columns} and {second.tile_columns})")
    tiles = tuple(sorted(first.tiles + second.tiles, key=lambda t: t.index))
    counts = {t: n for t, n in list(first.counts.items()) + list(second.counts.items())}
    return first._replace(tiles=tiles, units=_units(len(tiles), arch), counts=counts, n_points=first.n_points + second.n_points)


def restrict(prep, terms, arch):
    """The prepared points of ``terms`` only (same tiles, no copies)."""
    tiles = tuple(t for t in prep.tiles if t.term in terms)
    counts = {t: n for t, n in prep.counts.items() if t in terms}
    return prep._replace(tiles=tiles, units=_units(len(tiles), arch), counts=counts, n_points=sum(counts.values()))
