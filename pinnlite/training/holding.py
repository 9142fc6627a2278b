"""The hold as the trainer applies it: gradients without the material while it is held, the release,
and what a few-sensors run changes once released (:mod:`pinnlite.training.hold` has the rules).

A mixin of :class:`~pinnlite.training.trainer.Trainer`, as :mod:`pinnlite.training.persist` and
:mod:`pinnlite.training.reports` are: its methods read the trainer's ``state``, ``config``, ``data``,
``objective``, ``points``, ``scales``, ``opt`` and ``_diagnostics`` and leave the numbers to
:mod:`pinnlite.training.hold` and :mod:`pinnlite.training.weighting`.
"""

import logging

from pinnlite.training import hold, weighting
from pinnlite.training.state import SECOND_ORDER

log = logging.getLogger("pinnlite")


class Holding:
    """The trainer's loss weights and masked evaluations, and the release of a held material."""

    def weights(self):
        """The loss weights of the next step: the config's, annealed, over the natural magnitudes, the
        PDE's times the few-sensors factor once the material is released (:func:`hold.pde_factor`)."""
        return weighting.effective_weights(self.config.loss_weights, self.state.adaptive, self.scales.normalisers(),
                                           pde=self._pde_factor())

    def _pde_factor(self):
        """:func:`pinnlite.training.hold.pde_factor` of this run after a release from the hold, else 1."""
        if not self.state.released:  # held (None), or never held (0)
            return 1.0
        return hold.pde_factor(*self._counts(), self.points.static_counts.get("data", 0), len(self.collocation()[0]))

    def evaluate(self, x, prep, weights=None):
        """``(LossResult, gradient over x)`` with the run's current weights unless ``weights`` is given;
        while the material is held (:mod:`pinnlite.training.hold`) its part of the gradient is 0."""
        res, g = self.objective.evaluate(x, prep, self.weights() if weights is None else weights)
        return res, (g if self.state.released is not None else hold.mask_gradient(g, self.objective.n))

    def normal_equations(self, x, prep, weights):
        """``(f, J'rho, J'J)`` of the Gauss-Newton step (:meth:`Objective.normal_equations`), without
        the material while it is held."""
        f, g, A = self.objective.normal_equations(x, prep, weights)
        return (f, g, A) if self.state.released is not None else (f, *hold.mask_normal(g, A, self.objective.n))

    def _settle_fraction(self):
        """``training.settle_fraction``, doubled after a few-sensors release (:func:`hold.settle_fraction`)."""
        f = self.config.training.settle_fraction
        return hold.settle_fraction(f, *self._counts()) if self.state.released else f

    def _counts(self):
        """``(sensor values, trained values)``: what :func:`pinnlite.training.hold.few_values` compares."""
        return self.data.n_sensor_values(), self.objective.size

    def _release_misfit(self):
        """The sensors' misfit that releases a held material (:func:`pinnlite.training.hold.release_misfit`)."""
        return hold.release_misfit(*self._counts())

    def _few_sensors(self, ended=None):
        """The few-sensors warning (:meth:`Diagnostics.few_sensors`) for a run with free material and sensors."""
        if self.free and self.data.n_sensor_values():
            self._diagnostics.few_sensors(*self._counts(), self.state.epoch, ended)

    def _release(self, reason):
        """Train the material from the next epoch on (``reason``: why, or None to keep holding it);
        a second-order optimizer starts afresh, its curvature so far knowing nothing of the material."""
        if reason is None:
            return
        st = self.state
        st.released = st.epoch
        if st.phase == SECOND_ORDER:
            st.opt_state = self.opt.init(st.x)
        log.info("epoch %d: %s: the material is trained from here on", st.epoch, reason)
