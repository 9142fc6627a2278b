"""One epoch of each phase: a first-order pass over mini-batches, one second-order update.

These compose the objective (:mod:`pinnlite.training.objective`), the points,
the samplers and the optimizer of the phase; they change the
:class:`~pinnlite.training.state.TrainState` they are given in place and
return the epoch's metrics row. The :class:`~pinnlite.training.trainer.Trainer`
calls them and does everything around them (metrics, stops, checkpoints).

Every function takes the same ``run``: anything with the attributes ``state``
(TrainState), ``config`` (Config), ``opt`` (the phase's optimizer),
``objective`` (Objective), ``points`` (Points), ``data`` (TrainingData) and
``scales`` (Scales), and the methods ``collocation()`` (the current
collocation points (n, 3) and the body force (n, 2) at them or None),
``weights()`` (the loss weights of this step), ``evaluate(x, prep)`` (the
loss and gradient with them), ``normal_equations(x, prep, weights)`` (those of
a Gauss-Newton step) and ``stop_requested()``; the last three leave out a
material the run holds (:mod:`pinnlite.training.hold`).
"""

import logging
import math

import numpy as np

from pinnlite.engine.terms import TERMS
from pinnlite.optim.registry import objective_changed
from pinnlite.training import build, sampling, weighting
from pinnlite.training.metrics import accumulate, epoch_means, new_accumulator
from pinnlite.training.objective import ensure_finite
from pinnlite.training.state import FIRST_ORDER, SECOND_ORDER

log = logging.getLogger("pinnlite")


def update_adaptive(run, prep):
    """Learning-rate annealing of the loss weights from per-term gradients (:mod:`.weighting`)."""
    st = run.state
    grads = run.objective.term_gradients(st.x, prep, run.scales.normalisers())
    st.adaptive = weighting.update(st.adaptive, grads, run.config.loss_weights.adaptive_alpha)
    log.debug("adaptive loss weights: %s", dict(zip(grads, st.adaptive.weights.round(4))))


def resample_due(run):
    """Whether the epoch about to start resamples the collocation points (``sampling.adaptive``,
    every ``sampling.adaptive_every`` epochs), in either phase."""
    s, epoch = run.config.sampling, run.state.epoch
    return s.adaptive is not None and epoch > 0 and epoch % s.adaptive_every == 0


def resample(run):
    """RAR or RAD: new collocation points where the PDE residual is large (:mod:`.sampling`)."""
    s, st = run.config.sampling, run.state
    cand = sampling.interior(st.rng, s.n_candidates, run.data.domain, "uniform")
    res = run.objective.residual_norms(st.x, cand)
    if s.adaptive == "rar":
        st.collocation = sampling.rar(st.collocation, cand, res, s.rar_k)
    else:
        st.collocation = sampling.rad(st.rng, cand, res, len(st.collocation), s.rad_k, s.rad_c)
    log.info("epoch %d: %s resampling, %d collocation points", st.epoch, s.adaptive.upper(), len(st.collocation))


def first_order(run):
    """One pass of the first-order optimizer over the collocation points in mini-batches.

    An epoch interrupted between batches (a stop signal) keeps its position in
    ``state.perm``/``state.batch_pos`` and returns None; the next call finishes it.
    Returns the row: the epoch's mean loss terms, the learning rate, the phase.
    """
    st, cfg, opt = run.state, run.config, run.opt
    if st.perm is None:
        if resample_due(run):
            resample(run)
        n = len(run.collocation()[0])
        bs = cfg.training.batch_size
        st.perm = np.arange(n) if bs is None or bs >= n else np.concatenate(sampling.minibatches(st.rng, n, bs))
        st.batch_pos = 0
        st.acc = new_accumulator()
    n = len(st.perm)
    bs = min(cfg.training.batch_size or n, n)
    n_batches = math.ceil(n / bs)
    factor = st.plateau.factor if st.plateau is not None else 1.0
    while st.batch_pos < n_batches:
        if bs == n:
            prep = run.points.full(*run.collocation())
        else:
            prep = run.points.batch(*run.collocation(), st.perm[st.batch_pos * bs : (st.batch_pos + 1) * bs])
        if cfg.loss_weights.adaptive and st.step % cfg.loss_weights.adaptive_every == 0:
            update_adaptive(run, prep)
        res, g = run.evaluate(st.x, prep)
        ensure_finite(res, g, st.epoch + 1)
        st.x, st.opt_state = opt.update(g, st.opt_state, st.x, lr_factor=factor)
        run.clipped = run.objective.project(st.x)
        st.step += 1
        st.batch_pos += 1
        accumulate(st.acc, res)
        if st.batch_pos < n_batches and run.stop_requested():
            return None
    row = epoch_means(st.acc)
    row.update(lr=opt.hyperparams["learning_rate"](st.step - 1) * factor, phase=FIRST_ORDER)
    st.perm = None
    if st.plateau is not None:
        st.plateau = build.plateau(cfg).update(row["loss"], st.plateau)
    return row


def second_order(run):
    """One update of the second-order optimizer on all points (BFGS, L-BFGS: a line search;
    LM: damped Gauss-Newton steps). Returns the row, or None when the optimizer had
    already converged (``state.stop_reason`` says so)."""
    st, opt = run.state, run.opt
    if st.opt_state.converged:
        st.stop_reason = f"{opt.name} converged (status {st.opt_state.status})"
        return None
    if resample_due(run):
        resample(run)
        # the value and gradient the state holds are those of the old points
        st.opt_state = objective_changed(st.opt_state)
    prep = run.points.full(*run.collocation())
    seen = []  # evaluated points, so that the accepted one is not evaluated again

    def fun(x):
        res, g = run.evaluate(x, prep)
        seen.append((x.copy(), res))
        del seen[:-64]
        return res.total, g

    if opt.name == "lm":
        weights = run.weights()
        x_new, st.opt_state = opt.update(
            np.zeros_like(st.x), st.opt_state, st.x,
            fun=lambda x: run.objective.value(x, prep, weights),
            normal=lambda x: run.normal_equations(x, prep, weights),
        )
    else:
        if math.isnan(st.opt_state.value):
            f, g = fun(st.x)
        else:
            f, g = st.opt_state.value, st.opt_state.grad
        x_new, st.opt_state = opt.update(g, st.opt_state, st.x, value=f, fun=fun)
    res = next((r for xs, r in reversed(seen) if np.array_equal(xs, x_new)), None)
    if res is None:
        res, _ = run.evaluate(x_new, prep)
    st.x = x_new
    run.clipped = run.objective.project(st.x)
    if run.clipped:
        log.info("epoch %d: a material parameter hit its bound; %s restarts", st.epoch + 1, opt.name)
        st.opt_state = opt.init(st.x)
    st.step += 1
    row = dict(loss=res.total, lr=float(st.opt_state.step_size), phase=SECOND_ORDER)
    row.update({t: res.terms.get(t, math.nan) for t in TERMS})
    if st.opt_state.converged:
        st.stop_reason = f"{opt.name} converged (status {st.opt_state.status})"
    return row
