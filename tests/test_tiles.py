"""Tests of pinnlite.engine.tiles: cutting the point sets into many small tiles
(``prepare`` with a small ``tile_columns``) gives the loss and gradient of one
large tile, to rounding."""

import numpy as np
import pytest
from conftest import random_model, random_problem

from pinnlite import engine
from pinnlite.engine import tiles
from pinnlite.engine.terms import CHANNELS, LossWeights

WEIGHTS = LossWeights(pde=0.7, boundary=1.5, traction=0.3, initial=2.0, initial_velocity=0.9, data=1.1)


def test_tile_size_does_not_change_the_result(material):
    rng = np.random.default_rng(9)
    arch, p = random_model(rng)
    P = random_problem(rng, sizes=(230, 90, 70, 50, 60, 110))
    ref = engine.evaluate(arch, p, tiles.prepare(arch, P, tile_columns=8192), material, WEIGHTS, engine.Workspace(1), np.empty_like(p))
    prep = tiles.prepare(arch, P, tile_columns=64)
    assert len(prep.tiles) > 20
    one = engine.evaluate(arch, p, prep, material, WEIGHTS, engine.Workspace(1), np.empty_like(p))
    assert one.total == pytest.approx(ref.total, rel=1e-13)
    np.testing.assert_allclose(one.grad, ref.grad, rtol=1e-10, atol=1e-13 * np.abs(ref.grad).max())


def test_the_default_tile_fills_its_columns_and_its_rows_avoid_power_of_two_strides():
    # docs/ENGINE.md, "Layout": every term's tile fills the columns exactly, and the rows of a tile's
    # arrays (TILE_COLUMNS float64 or float32 values) do not lie a power of two of bytes apart
    assert all(tiles.TILE_COLUMNS % c == 0 for c in CHANNELS)
    for itemsize in (4, 8):
        stride = tiles.TILE_COLUMNS * itemsize
        assert stride & (stride - 1) != 0, stride
