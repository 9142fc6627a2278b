"""What a trained run reports about itself: its maps, how well the waves determine them, the
error bars of its constants and the check of its PDE scale.

A mixin of :class:`~pinnlite.training.trainer.Trainer`, kept apart so that the
trainer is the loop: each method reads the trainer's ``state``, ``objective``,
``data``, ``field_arch``, ``model`` and ``_diagnostics`` and delegates the
numbers to :mod:`pinnlite.training.resolution`, :mod:`pinnlite.training.uncertainty`
(through the objective) and :mod:`pinnlite.training.diagnostics`.
"""

import logging

import numpy as np

from pinnlite import engine
from pinnlite.errors import InputError, describe
from pinnlite.training import resolution

log = logging.getLogger("pinnlite")

_SCALE_CHECK_POINTS = 512  # collocation points of the PDE scale check at the end
_MAX_DENSE = 5000  # error bars need the dense (n, n) Gauss-Newton matrix: 200 MB at this size


class Reports:
    """Reporting methods of the trainer (maps, their resolution, error bars, the PDE scale check)."""

    def material_maps(self, points):
        """Dict name -> (m,) values of each mapped parameter at physical points ``points`` (m, 2) of
        x, y (or (m, 3) of x, y, t: the maps do not depend on t).

        Empty for a constant material; before training, the uniform start.
        """
        if self.state is None:
            raise InputError("material_maps: the maps exist once training has started")
        try:
            pts = np.asarray(points, dtype=np.float64)
        except (TypeError, ValueError):
            pts = None
        if pts is None or pts.ndim != 2 or pts.shape[1] not in (2, 3) or not np.isfinite(pts).all():
            raise InputError(f"points: expected finite points (m, 2) of x, y (or (m, 3) with t), found "
                             f"{describe(points)}")
        return self.objective.maps(self.state.x, pts)

    def map_resolution(self, cells=8, per_cell=4, n_times=16):
        """Dict mapped name -> :class:`~pinnlite.training.resolution.Resolution`: how well the wave
        equation determines each map on ``cells`` x ``cells`` regions of its window.

        The points are a regular grid of ``per_cell``^2 points per cell at ``n_times``
        times (:func:`~pinnlite.training.resolution.grid_points`), or the data's
        explicit collocation points when they carry a body force (which the grid
        would not know). Empty for a constant material.
        """
        if self.state is None:
            raise InputError("map_resolution: the maps exist once training has started")
        if self.field_arch is None:
            return {}
        bounds, data = self.field_arch.bounds, self.data
        if data.collocation is not None and data.body_force is not None:
            xe, ye = resolution.edges(bounds, (cells, cells))
            X, force = data.collocation, data.body_force
        else:
            X, xe, ye = resolution.grid_points(bounds, data.domain[2], cells, per_cell, n_times)
            force = None
        return self.objective.map_resolution(self.state.x, X, resolution.cell_of(X, xe, ye), xe, ye, force)

    def _scale_check(self):
        """At the end: the fitted field's inertial term against the PDE scale (:mod:`.diagnostics`)."""
        colloc = self.collocation()[0][:_SCALE_CHECK_POINTS]
        x = self.objective.params(self.state.x)
        C = engine.channels(self.model.arch, x, colloc.astype(self.model.arch.np_dtype), 8, self._ws)[..., :2]
        self._diagnostics.pde_scale(C.astype(np.float64), self.material["rho"])

    def _error_bars(self):
        """Standard deviations of the free material parameters at the end (:mod:`pinnlite.training.uncertainty`)."""
        st = self.state
        if st.released is None:
            log.info("error bars skipped: the material is still held at its initial guesses")
            return
        if self.field_arch is not None:
            log.info("error bars skipped: the Gauss-Newton matrix of a material field is not built (maps have "
                     "no single standard deviation)")
            return
        if self.objective.size > _MAX_DENSE:
            log.info("error bars skipped: %d parameters exceed the %d of a dense Gauss-Newton matrix",
                     self.objective.size, _MAX_DENSE)
            return
        try:
            u = self.objective.uncertainty(st.x, self._full_prep(), self.weights())
        except (ArithmeticError, np.linalg.LinAlgError) as e:  # a state far outside float64's comfort: keep the run
            log.warning("error bars skipped: the Gauss-Newton matrix could not be formed or inverted here "
                        "(%s: %s)", type(e).__name__, e)
            return
        if u is None:
            return
        if not all(np.isfinite(v) for v in u.std.values()):
            log.warning("error bars skipped: they came out %s", u.std)
        else:
            st.uncertainty = dict(u._asdict())
            log.info("error bars: %s (noise %.3g, %.0f effective parameters)",
                     ", ".join(f"{k} +- {v:.3g}" for k, v in u.std.items()), u.noise_sigma, u.dof)
