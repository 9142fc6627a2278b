"""Optimizers and learning-rate schedules over one flat parameter vector.

The interface follows optax: a constructor returns an
:class:`~pinnlite.optim.base.Optimizer` ``(name, init, update, hyperparams,
state_type)`` with ``init(params) -> state`` (a NamedTuple of arrays and
numbers) and ``update(grads, state, params, ...) -> (new_params, new_state)``,
pure. The learning rate of element ``i`` at a step is
``learning_rate(count) * lr_factor * lr_scale[i]``, with ``learning_rate`` a
number or a schedule (:mod:`~pinnlite.optim.schedules`).

- :mod:`~pinnlite.optim.base`: the :class:`Optimizer` tuple and the argument checks;
- :mod:`~pinnlite.optim.first_order`: SGD (momentum, Nesterov), Adam, AdamW;
- :mod:`~pinnlite.optim.linesearch`: the strong-Wolfe line search and vector kernels;
- :mod:`~pinnlite.optim.quasi_newton`: L-BFGS;
- :mod:`~pinnlite.optim.broyden`: dense self-scaled BFGS and Broyden (SSBFGS, SSBroyden);
- :mod:`~pinnlite.optim.gauss_newton`: Levenberg-Marquardt on a sum of squares;
- :mod:`~pinnlite.optim.registry`: optimizers by name, states as dicts;
- :mod:`~pinnlite.optim.schedules`: ``lr(step)`` schedules and reduce-on-plateau.
"""

from pinnlite.optim.base import Optimizer
from pinnlite.optim.broyden import BfgsState, bfgs, inverse_hessian
from pinnlite.optim.first_order import AdamState, SgdState, adam, adamw, sgd
from pinnlite.optim.quasi_newton import (
    LBFGS_GRAD_TOL,
    LBFGS_LINESEARCH_FAILED,
    LBFGS_RUNNING,
    LBFGS_STEP_CHANGE,
    LBFGS_VALUE_CHANGE,
    LbfgsState,
    lbfgs,
)
from pinnlite.optim.gauss_newton import LmState, levenberg_marquardt
from pinnlite.optim.registry import check_state_fits, get_optimizer, objective_changed, state_from_dict, state_to_dict

__all__ = [
    "BfgsState",
    "inverse_hessian",
    "bfgs",
    "LmState",
    "levenberg_marquardt",
    "LBFGS_GRAD_TOL",
    "LBFGS_LINESEARCH_FAILED",
    "LBFGS_RUNNING",
    "LBFGS_STEP_CHANGE",
    "LBFGS_VALUE_CHANGE",
    "LbfgsState",
    "lbfgs",
    "Optimizer",
    "AdamState",
    "SgdState",
    "adam",
    "adamw",
    "sgd",
    "check_state_fits",
    "get_optimizer",
    "objective_changed",
    "state_from_dict",
    "state_to_dict",
]
