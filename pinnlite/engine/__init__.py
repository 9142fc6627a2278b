"""The engine: loss and exact gradient of the elastic PINN (NumPy + Numba).

- :mod:`~pinnlite.engine.terms`: what the loss is evaluated on (point sets,
  material, loss weights) and the table of loss terms;
- :mod:`~pinnlite.engine.physics`: plane-strain elasticity in NumPy (residual,
  stress, traction, exact plane waves);
- :mod:`~pinnlite.engine.tiles`: point sets cut into tiles;
- :mod:`~pinnlite.engine.kernels`: the fused elementwise kernels (Numba);
- :mod:`~pinnlite.engine.threads`: worker threads and single-threaded BLAS;
- :mod:`~pinnlite.engine.loss`: one evaluation (forward, loss, backward) and the
  functional API.

The equations are in ``docs/ENGINE.md``.
"""

from pinnlite.engine.loss import (
    LossResult,
    Workspace,
    as_flat,
    channels,
    evaluate,
    loss_and_grad,
    material_maps,
    pde_residual,
    predict,
)
from pinnlite.engine.tiles import TILE_COLUMNS, Prepared, Tile, combine, prepare, restrict

__all__ = [
    "LossResult",
    "Workspace",
    "as_flat",
    "channels",
    "evaluate",
    "loss_and_grad",
    "material_maps",
    "pde_residual",
    "predict",
    "TILE_COLUMNS",
    "Prepared",
    "Tile",
    "combine",
    "prepare",
    "restrict",
]
