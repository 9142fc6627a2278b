"""Learning-rate schedules and the reduce-on-plateau controller.

A schedule is a pure function of the optimizer step, ``step -> float``: each
constructor below returns a small frozen dataclass whose ``__call__`` evaluates
it, so the schedule has a readable ``repr`` and its parameters can be inspected
(and written to a run's config) without calling it. The optimizers in
:mod:`pinnlite.optim` call ``schedule(state.count)``, so step 0 is the first
update.

:func:`reduce_on_plateau` is not a function of the step but of the loss history;
it is a separate controller with an explicit state whose ``factor`` is passed to
the optimizer's ``update(..., lr_factor=factor)``.
"""

import bisect
import math
from dataclasses import dataclass
from typing import NamedTuple

from pinnlite.core import checks
from pinnlite.errors import InputError

__all__ = [
    "Constant",
    "Exponential",
    "StepDecay",
    "MultiStep",
    "Cosine",
    "PlateauState",
    "ReduceOnPlateau",
    "constant",
    "exponential",
    "step_decay",
    "multistep",
    "cosine",
    "reduce_on_plateau",
    "get_schedule",
    "check_milestones",
    "SCHEDULES",
]


# -- schedules ---------------------------------------------------------------------


def _check_step(step):
    """A schedule's argument: the optimizer step, an integer >= 0."""
    return checks.integer("step", step, low=0)


def check_milestones(name, value, error=InputError):
    """``value`` as a tuple of strictly increasing integers >= 1 (the steps of :class:`MultiStep`).

    Strictly increasing because the drops are counted by bisection; non-empty
    because a multistep schedule without a step is the constant one.
    """
    rule = "a non-empty list of strictly increasing integers >= 1"
    if not isinstance(value, (list, tuple)) or not value or not all(checks.is_int(m) and m >= 1 for m in value):
        checks.fail(name, rule, value, error)
    if any(a >= b for a, b in zip(value, value[1:])):
        checks.fail(name, rule, value, error)
    return tuple(int(m) for m in value)


@dataclass(frozen=True)
class Constant:
    """``lr`` at every step."""

    lr: float

    def __post_init__(self):
        object.__setattr__(self, "lr", checks.real("lr", self.lr, low=0.0))

    def __call__(self, step):
        _check_step(step)
        return self.lr


@dataclass(frozen=True)
class Exponential:
    """``lr * decay_rate ** (step / decay_steps)``; with ``staircase`` the exponent is
    ``floor(step / decay_steps)`` (a drop every ``decay_steps`` steps)."""

    lr: float
    decay_rate: float
    decay_steps: int
    staircase: bool = False

    def __post_init__(self):
        object.__setattr__(self, "lr", checks.real("lr", self.lr, low=0.0))
        object.__setattr__(
            self, "decay_rate", checks.real("decay_rate", self.decay_rate, low=0.0, low_open=True)
        )
        object.__setattr__(self, "decay_steps", checks.integer("decay_steps", self.decay_steps, low=1))
        if not isinstance(self.staircase, bool):
            checks.fail("staircase", "True or False", self.staircase)

    def __call__(self, step):
        step = _check_step(step)
        if self.staircase:
            exponent = float(step // self.decay_steps)
        else:
            exponent = step / self.decay_steps
        return self.lr * self.decay_rate**exponent


@dataclass(frozen=True)
class StepDecay:
    """``lr * gamma ** floor(step / step_size)`` (PyTorch ``StepLR``)."""

    lr: float
    step_size: int
    gamma: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "lr", checks.real("lr", self.lr, low=0.0))
        object.__setattr__(self, "step_size", checks.integer("step_size", self.step_size, low=1))
        object.__setattr__(self, "gamma", checks.real("gamma", self.gamma, low=0.0, low_open=True))

    def __call__(self, step):
        return self.lr * self.gamma ** (_check_step(step) // self.step_size)


@dataclass(frozen=True)
class MultiStep:
    """``lr * gamma ** k`` where ``k`` is the number of milestones ``<= step``
    (PyTorch ``MultiStepLR``: the drop takes effect *at* the milestone step)."""

    lr: float
    milestones: tuple
    gamma: float = 0.1

    def __post_init__(self):
        object.__setattr__(self, "lr", checks.real("lr", self.lr, low=0.0))
        object.__setattr__(self, "gamma", checks.real("gamma", self.gamma, low=0.0, low_open=True))
        object.__setattr__(self, "milestones", check_milestones("milestones", self.milestones))

    def __call__(self, step):
        return self.lr * self.gamma ** bisect.bisect_right(self.milestones, _check_step(step))


@dataclass(frozen=True)
class Cosine:
    """Linear warmup then half-cosine decay (Loshchilov & Hutter 2017, SGDR
    without restarts), then constant.

    With ``W = warmup_steps``, ``T = total_steps``, ``lr_0 = lr`` and
    ``lr_f = final_lr``::

        step <  W       : lr_0 * step / W                                (from 0)
        W <= step < T   : lr_f + (lr_0 - lr_f) * (1 + cos(pi * (step - W) / (T - W))) / 2
        step >= T       : lr_f

    so the value is ``lr_0`` at ``step == W``, ``(lr_0 + lr_f) / 2`` half way
    through the decay, and ``lr_f`` from ``T`` on. Note that with a warmup the
    very first step (``step == 0``) has learning rate 0.
    """

    lr: float
    total_steps: int
    warmup_steps: int = 0
    final_lr: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "lr", checks.real("lr", self.lr, low=0.0))
        object.__setattr__(self, "final_lr", checks.real("final_lr", self.final_lr, low=0.0))
        object.__setattr__(self, "total_steps", checks.integer("total_steps", self.total_steps, low=1))
        warmup = checks.integer("warmup_steps", self.warmup_steps, low=0)
        if warmup > self.total_steps:
            raise InputError(
                f"warmup_steps: expected an integer <= total_steps={self.total_steps}, "
                f"found {warmup!r}"
            )
        object.__setattr__(self, "warmup_steps", warmup)

    def __call__(self, step):
        step = _check_step(step)
        if step < self.warmup_steps:
            return self.lr * step / self.warmup_steps
        if step >= self.total_steps:
            return self.final_lr
        progress = (step - self.warmup_steps) / (self.total_steps - self.warmup_steps)
        decay = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.final_lr + (self.lr - self.final_lr) * decay


def constant(lr):
    """Constant learning rate ``lr`` (>= 0)."""
    return Constant(lr)


def exponential(lr, decay_rate, decay_steps, staircase=False):
    """Exponential decay ``lr * decay_rate ** (step / decay_steps)``.

    Parameters
    ----------
    lr : float
        Value at step 0 (>= 0).
    decay_rate : float
        Factor applied every ``decay_steps`` steps (> 0).
    decay_steps : int
        Steps per factor ``decay_rate`` (>= 1).
    staircase : bool
        If True the exponent is rounded down, giving a piecewise-constant schedule.

    Returns
    -------
    Exponential
        Callable ``step -> float``.
    """
    return Exponential(lr, decay_rate, decay_steps, staircase)


def step_decay(lr, step_size, gamma=0.1):
    """Piecewise constant: multiply by ``gamma`` every ``step_size`` steps."""
    return StepDecay(lr, step_size, gamma)


def multistep(lr, milestones, gamma=0.1):
    """Piecewise constant: multiply by ``gamma`` at each step listed in ``milestones``."""
    return MultiStep(lr, milestones, gamma)


def cosine(lr, total_steps, warmup_steps=0, final_lr=0.0):
    """Linear warmup from 0 over ``warmup_steps``, cosine decay to ``final_lr`` at
    ``total_steps``, constant after; the exact formula is in :class:`Cosine`."""
    return Cosine(lr, total_steps, warmup_steps, final_lr)


SCHEDULES = {
    "constant": constant,
    "exponential": exponential,
    "step": step_decay,
    "multistep": multistep,
    "cosine": cosine,
}


def get_schedule(name, **params):
    """Build a schedule from its name (``"constant"``, ``"exponential"``, ``"step"``,
    ``"multistep"``, ``"cosine"``) and its constructor's keyword arguments."""
    return checks.build("schedule", SCHEDULES, name, params)


# -- reduce on plateau ---------------------------------------------------------------


class PlateauState(NamedTuple):
    """State of :class:`ReduceOnPlateau` (plain ints and floats only).

    ``best`` is the lowest loss seen (``inf`` before the first update), ``num_bad``
    the number of consecutive non-improving updates, ``cooldown_left`` the
    remaining cooldown updates, ``factor`` the current learning-rate multiplier and
    ``count`` the number of updates made.
    """

    best: float
    num_bad: int
    cooldown_left: int
    factor: float
    count: int


@dataclass(frozen=True)
class ReduceOnPlateau:
    """Multiply the learning rate by ``factor`` when the loss stops improving.

    Same semantics as PyTorch's ``ReduceLROnPlateau`` in mode ``"min"``, applied to
    a multiplier that starts at 1. At each :meth:`update` with loss ``L``:

    1. ``L`` is an improvement if ``L < best * (1 - threshold)`` (``"rel"``) or
       ``L < best - threshold`` (``"abs"``); then ``best = L, num_bad = 0``,
       otherwise ``num_bad += 1`` (a NaN loss is never an improvement).
    2. If in cooldown (``cooldown_left > 0``): ``cooldown_left -= 1`` and
       ``num_bad = 0`` (bad updates during cooldown are ignored).
    3. If ``num_bad > patience``: ``factor = max(factor * reduce, min_factor)``
       (applied only if it lowers ``factor`` by more than ``eps``),
       ``cooldown_left = cooldown``, ``num_bad = 0``.

    So with ``cooldown = 0`` the first reduction happens at the ``patience + 1``-th
    consecutive update without improvement. (PyTorch's ``eps`` compares learning
    rates; here it compares multipliers.)
    """

    factor: float = 0.5
    patience: int = 10
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    cooldown: int = 0
    min_factor: float = 1e-6
    eps: float = 1e-8

    def __post_init__(self):
        object.__setattr__(
            self,
            "factor",
            checks.real("factor", self.factor, low=0.0, low_open=True, high=1.0, high_open=True),
        )
        object.__setattr__(self, "patience", checks.integer("patience", self.patience, low=0))
        object.__setattr__(self, "threshold", checks.real("threshold", self.threshold, low=0.0))
        if self.threshold_mode not in ("rel", "abs"):
            raise InputError(
                f"threshold_mode: expected 'rel' or 'abs', found {self.threshold_mode!r}"
            )
        object.__setattr__(self, "cooldown", checks.integer("cooldown", self.cooldown, low=0))
        object.__setattr__(
            self, "min_factor", checks.real("min_factor", self.min_factor, low=0.0, high=1.0)
        )
        object.__setattr__(self, "eps", checks.real("eps", self.eps, low=0.0))

    def init(self):
        """The state before any loss was seen (``factor = 1``)."""
        return PlateauState(best=math.inf, num_bad=0, cooldown_left=0, factor=1.0, count=0)

    def _improves(self, loss, best):
        if self.threshold_mode == "rel":
            return loss < best * (1.0 - self.threshold)
        return loss < best - self.threshold

    def update(self, loss, state):
        """The state after observing ``loss`` (a real number); pure.

        Parameters
        ----------
        loss : float
            The monitored value (lower is better).
        state : PlateauState
            The previous state.

        Returns
        -------
        PlateauState
            The new state; ``new_state.factor`` is the ``lr_factor`` to use.
        """
        if not checks.is_real(loss):
            raise InputError(f"loss: expected a real number, found {loss!r}")
        if not isinstance(state, PlateauState):
            raise InputError(f"state: expected a PlateauState, found {type(state).__name__}")
        loss = float(loss)
        best, num_bad, cooldown_left, factor = (
            float(state.best),
            int(state.num_bad),
            int(state.cooldown_left),
            float(state.factor),
        )
        if self._improves(loss, best):
            best, num_bad = loss, 0
        else:
            num_bad += 1
        if cooldown_left > 0:
            cooldown_left -= 1
            num_bad = 0
        if num_bad > self.patience:
            new_factor = max(factor * self.factor, self.min_factor)
            if factor - new_factor > self.eps:
                factor = new_factor
            cooldown_left = self.cooldown
            num_bad = 0
        return PlateauState(best, num_bad, cooldown_left, factor, int(state.count) + 1)


def reduce_on_plateau(
    factor=0.5,
    patience=10,
    threshold=1e-4,
    threshold_mode="rel",
    cooldown=0,
    min_factor=1e-6,
    eps=1e-8,
):
    """A :class:`ReduceOnPlateau` controller (PyTorch ``ReduceLROnPlateau``, mode
    ``"min"``); see the class for the exact rules.

    Parameters
    ----------
    factor : float
        Multiplier applied on each reduction, in (0, 1).
    patience : int
        Number of non-improving updates tolerated before a reduction (>= 0).
    threshold : float
        Minimum improvement that counts (>= 0), relative or absolute.
    threshold_mode : {"rel", "abs"}
    cooldown : int
        Updates after a reduction during which bad updates are not counted (>= 0).
    min_factor : float
        Lower bound of the multiplier, in [0, 1].
    eps : float
        Reductions smaller than this are skipped (>= 0).

    Returns
    -------
    ReduceOnPlateau
        With ``init() -> PlateauState`` and ``update(loss, state) -> PlateauState``.
    """
    return ReduceOnPlateau(factor, patience, threshold, threshold_mode, cooldown, min_factor, eps)
