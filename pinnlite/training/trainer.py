"""``Trainer``: composes the engine, optimizers, schedules and samplers into a run.

The trainer has no numerics of its own: each epoch it draws (or keeps)
collocation points, cuts them into mini-batches, asks the engine for the loss
and gradient, and hands them to the optimizer. All randomness comes from one
``numpy.random.Generator`` seeded from ``config.training.seed``; everything a
run needs to continue lives in :class:`TrainState`, which the checkpoint module
saves and restores bit for bit.

The optimised vector ``x`` holds the network parameters followed by
``theta_p = log(p / p0)`` for every free material parameter p (p0 its initial
guess), so material parameters stay positive; each loss term is divided by its
natural magnitude (:mod:`pinnlite.scaling`) so all are O(1).
"""

import copy
import io
import logging
import math
import os
import signal
import threading
import time
import warnings
from dataclasses import dataclass

import numpy as np

from pinnlite.training import distributed
from pinnlite import engine
from pinnlite import optim
from pinnlite.training import sampling
from pinnlite.optim import schedules
from pinnlite.training import weighting
from pinnlite.training.config import Config, ConfigError
from pinnlite.training.data import TrainingData
from pinnlite.errors import InputError
from pinnlite.training.metrics import Metrics
from pinnlite.training.model import ElasticPINN2D
from pinnlite.engine.terms import MATERIAL_NAMES, TERMS, LossWeights, Material, PointSets
from pinnlite.training.progress import Progress
from pinnlite.training.scaling import derive_scales

log = logging.getLogger("pinnlite")

FIRST_ORDER, LBFGS = 0, 1


class IdentifiabilityWarning(UserWarning):
    """lam, mu and rho are all free and nothing fixes their common scale."""


@dataclass
class TrainState:
    """Everything that changes during a run (see :mod:`pinnlite.checkpoint`)."""

    epoch: int  # completed epochs
    step: int  # optimizer steps taken
    x: np.ndarray  # network parameters + log-material parameters
    phase: int  # FIRST_ORDER or LBFGS
    opt_state: tuple  # NamedTuple of the current phase's optimizer
    plateau: tuple  # schedules.PlateauState or None
    adaptive: weighting.AdaptiveState
    rng: np.random.Generator
    collocation: np.ndarray  # current collocation points (float64), None when explicit
    perm: np.ndarray  # this epoch's permutation of the collocation points, None between epochs
    batch_pos: int  # next batch of ``perm``
    acc: np.ndarray  # running sums over this epoch's batches: loss, terms..., count
    best_loss: float
    best_epoch: int
    elapsed: float  # wall time of earlier train() calls
    stop_reason: str


class Trainer:
    """Train an :class:`ElasticPINN2D` and the material parameters on :class:`TrainingData`.

    Parameters
    ----------
    model : ElasticPINN2D or None
        None: built from ``config.architecture`` when training starts, with the
        data's domain as input bounds and its displacement scale as output
        scale. A given model must match ``config.architecture``.
    config : Config
    progress : Progress, optional
        The progress display (default: a terminal line or periodic log lines).
    comm : mpi4py communicator, optional
        Train data-parallel over its ranks (:mod:`pinnlite.distributed`): every
        rank evaluates its shard of the points and the gradients are summed.

    Examples
    --------
    >>> trainer = Trainer(None, config)          # doctest: +SKIP
    >>> metrics = trainer.train(data)            # doctest: +SKIP
    >>> trainer.material                          # doctest: +SKIP
    {'lam': 2.001, 'mu': 0.9996, 'rho': 1.0}
    """

    def __init__(self, model, config, progress=None, comm=None):
        if not isinstance(config, Config):
            raise InputError(f"config: expected a pinnlite.Config, found {type(config).__name__}")
        self.config = copy.deepcopy(config).validate()  # the run's own copy
        a = self.config.architecture
        if model is not None:
            if not isinstance(model, ElasticPINN2D):
                raise InputError(f"model: expected an ElasticPINN2D or None, found {type(model).__name__}")
            for name, want, have in (
                ("architecture.hidden", list(a.hidden), list(model.arch.hidden)),
                ("architecture.activation", a.activation, model.arch.activation),
                ("architecture.dtype", a.dtype, model.arch.dtype),
            ):
                if want != have:
                    raise ConfigError(f"{name}: the config says {want!r} but the model has {have!r}")
        self.model = model
        self.state = None
        self.metrics = Metrics()
        self.data = None
        self.scales = None
        self.progress = progress
        self._callbacks = []
        self._ws = engine.Workspace(self.config.training.threads)
        self._interrupted = False
        self._prep_cache = None
        self._static_prep = None
        self._best = None  # (epoch, x, material) of the lowest loss, kept for best.pinnlite
        self._best_saved = None  # epoch whose best model was written last
        self._saved_epoch = None  # (epoch, step) of the last checkpoint written
        self.comm = comm
        self.rank = 0 if comm is None else comm.Get_rank()
        self.world_size = 1 if comm is None else comm.Get_size()

    # ------------------------------------------------------------------ setup

    @property
    def free(self):
        m = self.config.material
        return tuple(n for n in MATERIAL_NAMES if getattr(m, "optimize_" + n))

    def add_callback(self, fn, every=1):
        """Call ``fn(trainer, row)`` after every ``every``-th epoch (row: the metrics dict).

        A callback that returns True stops training after that epoch.
        """
        if not callable(fn) or not isinstance(every, int) or every < 1:
            raise InputError(f"add_callback: expected a callable and every >= 1, found {fn!r}, {every!r}")
        self._callbacks.append((fn, every))

    def _check_data(self, data):
        if not isinstance(data, TrainingData):
            raise InputError(f"data: expected a TrainingData, found {type(data).__name__}")
        s = self.config.sampling
        if data.collocation is None and s.n_collocation == 0:
            raise ConfigError("sampling.n_collocation: expected > 0 when the data give no collocation points, found 0")
        if data.collocation is not None and len(data.collocation) == 0:  # the epoch is cut into batches of them
            raise InputError("data.collocation: expected at least one point (or None to sample them), found 0")
        if data.body_force is not None and s.adaptive is not None:
            raise ConfigError(
                f"sampling.adaptive: the body force is known only at the data's collocation points, "
                f"so adaptive resampling is not possible; found {s.adaptive!r}"
            )
        m = self.config.material
        if m.optimize_lam and m.optimize_mu and m.optimize_rho and data.traction_points is None and data.body_force is None:
            msg = (
                "lam, mu and rho are all free, but the data hold no traction and no body force: "
                "displacements determine only lam/rho and mu/rho. Fix rho (material.optimize_rho = false) "
                "or add traction data."
            )
            log.warning(msg)
            warnings.warn(msg, IdentifiabilityWarning, stacklevel=3)

    def _start(self, data):
        cfg = self.config
        rng = np.random.default_rng(cfg.training.seed)
        self.scales = derive_scales(cfg, data)
        if self.model is None:
            a = cfg.architecture
            self.model = ElasticPINN2D(
                a.hidden, a.activation, data.domain, self.scales.displacement, a.dtype, rng=rng, init=a.init
            )
        elif any(abs(p - q) > 1e-12 * max(1.0, abs(q)) for b, d in zip(self.model.arch.bounds, data.domain) for p, q in zip(b, d)):
            log.warning("the model's input bounds %s differ from the data's domain %s", self.model.arch.bounds, data.domain)
        colloc = None
        if data.collocation is None:
            colloc = sampling.interior(rng, cfg.sampling.n_collocation, data.domain, cfg.sampling.strategy)
        x = np.concatenate([self.model.params, np.zeros(len(self.free), self.model.params.dtype)])
        phase = LBFGS if cfg.optimizer.kind == "lbfgs" else FIRST_ORDER
        opt = self._optimizer(phase)
        self.state = TrainState(
            epoch=0,
            step=0,
            x=x,
            phase=phase,
            opt_state=opt.init(x),
            plateau=self._plateau().init() if cfg.schedule.plateau else None,
            adaptive=weighting.init(),
            rng=rng,
            collocation=colloc,
            perm=None,
            batch_pos=0,
            acc=np.zeros(len(TERMS) + 2),
            best_loss=math.inf,
            best_epoch=0,
            elapsed=0.0,
            stop_reason="",
        )
        self.metrics = Metrics(data.truth)

    def _schedule(self):
        c, t = self.config.schedule, self.config
        lr = t.optimizer.lr
        if c.kind == "constant":
            return schedules.constant(lr)
        if c.kind == "exponential":
            return schedules.exponential(lr, c.decay_rate, c.decay_steps, c.staircase)
        if c.kind == "step":
            return schedules.step_decay(lr, c.step_size, c.gamma)
        return schedules.cosine(lr, c.total_steps or self._first_order_steps(), c.warmup_steps, c.final_lr)

    def _first_order_steps(self):
        """Optimizer steps of the first-order phase: its epochs times the batches per epoch."""
        t = self.config
        epochs = t.training.epochs if t.optimizer.lbfgs_after is None else t.optimizer.lbfgs_after
        n = len(self.data.collocation) if self.data is not None and self.data.collocation is not None else t.sampling.n_collocation
        bs = t.training.batch_size
        return max(1, epochs * (1 if bs is None or bs >= n else math.ceil(n / bs)))

    def _plateau(self):
        c = self.config.schedule
        return schedules.reduce_on_plateau(
            c.plateau_factor, c.plateau_patience, c.plateau_threshold, "rel", c.plateau_cooldown, c.plateau_min_factor
        )

    def _optimizer(self, phase):
        o = self.config.optimizer
        n_params = self._n_params()
        if phase == LBFGS:
            return optim.lbfgs(o.lbfgs_history, 1.0, o.lbfgs_max_linesearch, 1e-4, 0.9, o.lbfgs_tolerance_grad, o.lbfgs_tolerance_change)
        scale = np.ones(n_params + len(self.free))
        if o.material_lr is not None:
            scale[n_params:] = o.material_lr / o.lr
        sched = self._schedule()
        if o.kind == "sgd":
            return optim.sgd(sched, o.momentum, o.nesterov, lr_scale=scale)
        if o.kind == "adamw":
            mask = np.concatenate([self.model.arch.layout.mask("W"), np.zeros(len(self.free), bool)])
            return optim.adamw(sched, o.b1, o.b2, o.eps, o.weight_decay, decay_mask=mask, lr_scale=scale)
        return optim.adam(sched, o.b1, o.b2, o.eps, lr_scale=scale)

    def _n_params(self):
        return self.model.arch.n_params

    # ------------------------------------------------------------------ material

    def _p0(self):
        m = self.config.material
        return {"lam": m.lam, "mu": m.mu, "rho": m.rho}

    def material_values(self, x=None):
        """Dict lam, mu, rho (user units) at the optimised vector ``x`` (default: current)."""
        x = self.state.x if x is None else x
        vals = self._p0()
        n = self._n_params()
        for i, name in enumerate(self.free):
            vals[name] = vals[name] * math.exp(float(x[n + i]))
        return vals

    @property
    def material(self):
        """The current material parameters in user units (the initial guesses before training)."""
        return self.material_values() if self.state is not None else self._p0()

    def _material(self, x):
        v = self.material_values(x)
        m = self.config.material
        return Material(v["lam"], v["mu"], v["rho"], m.optimize_lam, m.optimize_mu, m.optimize_rho)

    def _project(self, x):
        """Clip log-material parameters into their configured bounds; True if anything moved."""
        m, n, p0, moved = self.config.material, self._n_params(), self._p0(), False
        for i, name in enumerate(self.free):
            bounds = getattr(m, name + "_bounds")
            if bounds is None:
                continue
            lo, hi = math.log(bounds[0] / p0[name]), math.log(bounds[1] / p0[name])
            v = float(x[n + i])
            if v < lo or v > hi:
                x[n + i] = min(max(v, lo), hi)
                moved = True
        return moved

    # ------------------------------------------------------------------ objective

    def _weights(self):
        w = self.config.loss_weights
        norm = self.scales.normalisers()
        mult = self.state.adaptive.weights
        return LossWeights(**{t: getattr(w, t) * mult[i] / norm[t] for i, t in enumerate(TERMS)})

    def _collocation(self):
        """The current collocation points and the body force at them (None if unknown)."""
        if self.data.collocation is not None:
            return self.data.collocation, self.data.body_force
        return self.state.collocation, None

    def _prepare(self, idx=None):
        """Prepared point sets with the collocation points ``idx`` (all when None).

        The fixed terms (boundary, traction, initial, data) are prepared once per
        run and combined with each batch of collocation points.
        """
        arch = self.model.arch
        colloc, force = self._collocation()
        if idx is not None:
            colloc = colloc[idx]
            force = None if force is None else force[idx]
        n_colloc = len(colloc)
        if self._static_prep is None:
            static = self.data.point_sets(None, arch.np_dtype)
            self._static_counts = {t: static.count(t) for t in static.present() if static.count(t)}
            self._static_prep = engine.prepare(arch, self._shard_points(static), check=False)
        dt = arch.np_dtype
        if self.comm is not None:
            part = distributed.shard(n_colloc, self.rank, self.world_size)
            colloc = colloc[part]
            force = None if force is None else force[part]
        pde = engine.prepare(
            arch,
            PointSets(collocation=np.ascontiguousarray(colloc, dt), body_force=None if force is None else np.ascontiguousarray(force, dt)),
            check=False,
        )
        prep = engine.combine(pde, self._static_prep, arch)
        if self.comm is not None:  # means over the global point counts
            counts = dict(self._static_counts)
            if n_colloc:
                counts["pde"] = n_colloc
            prep = prep._replace(counts={t: counts[t] for t in TERMS if t in counts})
        return prep

    def _shard_points(self, pts):
        """This rank's rows of every term of ``pts`` (all of them without MPI)."""
        if self.comm is None:
            return pts
        fields = {}
        for name, value in pts.__dict__.items():
            fields[name] = None if value is None else value[distributed.shard(len(value), self.rank, self.world_size)]
        return PointSets(**fields)

    def _full_prep(self):
        colloc = self._collocation()[0]
        if self._prep_cache is None or self._prep_cache[0] is not colloc:
            self._prep_cache = (colloc, self._prepare())
        return self._prep_cache[1]

    def _objective(self, x, prep, weights=None):
        """(LossResult, gradient over x)."""
        n = self._n_params()
        g = np.empty_like(x)
        mat = self._material(x)
        w = weights or self._weights()
        res = engine.evaluate(self.model.arch, x[:n], prep, mat, w, self._ws, g[:n])
        if self.comm is not None:
            res = self._allreduce(res, g[:n], w)
        vals = mat.values()
        for i, name in enumerate(self.free):
            g[n + i] = vals[name] * res.grad_material[name]  # d/dtheta = p d/dp
        return res, g

    def _allreduce(self, res, grad, weights):
        """Sum one evaluation's partial results over the ranks (grad in place)."""
        mats = MATERIAL_NAMES
        buf = np.concatenate([grad.astype(np.float64), [res.terms.get(t, 0.0) for t in TERMS],
                              [res.grad_material.get(m, 0.0) for m in mats]])
        total = distributed.allreduce_sum(self.comm, buf)
        n = grad.shape[0]
        grad[:] = total[:n]
        terms = {t: float(total[n + i]) for i, t in enumerate(TERMS) if t in res.terms}
        wt = weights.as_tuple()
        gmat = {m: float(total[n + len(TERMS) + i]) for i, m in enumerate(mats) if m in res.grad_material}
        return engine.LossResult(float(sum(wt[TERMS.index(t)] * v for t, v in terms.items())), terms, grad, gmat)

    def _stop_requested(self):
        """The interrupt flag, agreed by all ranks (a collective call under MPI)."""
        if self.comm is None:
            return self._interrupted
        return distributed.any_rank(self.comm, self._interrupted)

    def _update_adaptive(self, prep):
        """Learning-rate annealing of the loss weights from per-term gradients."""
        norm = self.scales.normalisers()
        n = self._n_params()
        grads = {}
        for t in prep.counts:
            w = LossWeights(**{u: (1.0 / norm[u] if u == t else 0.0) for u in TERMS})
            sub = engine.restrict(prep, (t,), self.model.arch)
            _, g = self._objective(self.state.x, sub, w)
            grads[t] = g[:n]
        self.state.adaptive = weighting.update(self.state.adaptive, grads, self.config.loss_weights.adaptive_alpha)
        log.debug("adaptive loss weights: %s", dict(zip(TERMS, self.state.adaptive.weights.round(4))))

    def _resample(self):
        s = self.config.sampling
        st = self.state
        cand = sampling.interior(st.rng, s.n_candidates, self.data.domain, "uniform")
        mat = self._material(st.x)
        dt = self.model.arch.np_dtype
        part = slice(None) if self.comm is None else distributed.shard(len(cand), self.rank, self.world_size)
        r = engine.pde_residual(self.model.arch, st.x[: self._n_params()], cand[part].astype(dt), mat)
        res = np.zeros(len(cand))
        res[part] = np.sqrt(np.sum(r.astype(np.float64) ** 2, axis=1))
        if self.comm is not None:
            res = distributed.allreduce_sum(self.comm, res)
        if s.adaptive == "rar":
            st.collocation = sampling.rar(st.collocation, cand, res, s.rar_k)
        else:
            st.collocation = sampling.rad(st.rng, cand, res, len(st.collocation), s.rad_k, s.rad_c)
        log.info("epoch %d: %s resampling, %d collocation points", st.epoch, s.adaptive.upper(), len(st.collocation))

    # ------------------------------------------------------------------ epochs

    def _first_order_epoch(self, opt):
        st, cfg = self.state, self.config
        if st.perm is None:
            if cfg.sampling.adaptive and st.epoch > 0 and st.epoch % cfg.sampling.adaptive_every == 0:
                self._resample()
            n = len(self._collocation()[0])
            bs = cfg.training.batch_size
            st.perm = np.arange(n) if bs is None or bs >= n else np.concatenate(sampling.minibatches(st.rng, n, bs))
            st.batch_pos = 0
            st.acc = np.zeros(len(TERMS) + 2)
        n = len(st.perm)
        bs = min(cfg.training.batch_size or n, n)
        n_batches = math.ceil(n / bs)
        factor = st.plateau.factor if st.plateau is not None else 1.0
        while st.batch_pos < n_batches:
            if bs == n:
                prep = self._full_prep()
            else:
                prep = self._prepare(st.perm[st.batch_pos * bs : (st.batch_pos + 1) * bs])
            if cfg.loss_weights.adaptive and st.step % cfg.loss_weights.adaptive_every == 0:
                self._update_adaptive(prep)
            res, g = self._objective(st.x, prep)
            if not np.all(np.isfinite(g)) or not math.isfinite(res.total):
                raise FloatingPointError(f"epoch {st.epoch + 1}: the loss or its gradient is not finite (loss {res.total})")
            st.x, st.opt_state = opt.update(g, st.opt_state, st.x, lr_factor=factor)
            self._project(st.x)
            st.step += 1
            st.batch_pos += 1
            st.acc[0] += res.total
            for i, t in enumerate(TERMS):
                st.acc[1 + i] += res.terms.get(t, math.nan)
            st.acc[-1] += 1
            if st.batch_pos < n_batches and self._stop_requested():
                return None
        mean = st.acc[:-1] / st.acc[-1]
        row = dict(loss=mean[0], lr=opt.hyperparams["learning_rate"](st.step - 1) * factor, phase=FIRST_ORDER)
        row.update({t: mean[1 + i] for i, t in enumerate(TERMS)})
        st.perm = None
        if st.plateau is not None:
            st.plateau = self._plateau().update(mean[0], st.plateau)
        return row

    def _lbfgs_epoch(self, opt):
        st = self.state
        prep = self._full_prep()
        seen = []

        def fun(x):
            res, g = self._objective(x, prep)
            seen.append((x.copy(), res))
            del seen[:-64]
            return res.total, g

        if st.opt_state.converged:
            st.stop_reason = f"L-BFGS converged (status {st.opt_state.status})"
            return None
        if math.isnan(st.opt_state.value):
            f, g = fun(st.x)
        else:
            f, g = st.opt_state.value, st.opt_state.grad
        x_new, st.opt_state = opt.update(g, st.opt_state, st.x, value=f, fun=fun)
        res = next((r for xs, r in reversed(seen) if np.array_equal(xs, x_new)), None)
        if res is None:
            res, _ = self._objective(x_new, prep)
        st.x = x_new
        if self._project(st.x):
            log.info("epoch %d: a material parameter hit its bound; L-BFGS restarts", st.epoch + 1)
            st.opt_state = opt.init(st.x)
        st.step += 1
        row = dict(loss=res.total, lr=float(st.opt_state.step_size), phase=LBFGS)
        row.update({t: res.terms.get(t, math.nan) for t in TERMS})
        if st.opt_state.converged:
            st.stop_reason = f"L-BFGS converged (status {st.opt_state.status})"
        return row

    # ------------------------------------------------------------------ run

    def train(self, data=None):
        """Train to ``config.training.epochs`` (or an earlier stop) and return the :class:`Metrics`.

        Calling ``train`` again, or on a trainer loaded from a checkpoint,
        continues the same run (``data`` may then be omitted). Ctrl-C stops
        after the current step, saves a checkpoint when a directory is
        configured, and returns the metrics so far.
        """
        if data is None:
            if self.data is None:
                raise InputError("data: expected a TrainingData, found None")
            data = self.data
        self._check_data(data)
        if self.state is not None and self.data is not None and data.domain != self.data.domain:
            raise InputError(f"data.domain: this run was started on {self.data.domain}, found {data.domain}")
        self.data = data
        self._prep_cache = None
        self._static_prep = None
        if self.state is None:
            self._start(data)
        elif self.scales is None:
            self.scales = derive_scales(self.config, data)
        cfg, st = self.config, self.state
        self._interrupted = False
        restore = self._install_sigint()
        t0 = time.perf_counter()
        progress = self.progress
        if progress is None:
            quiet = self.rank != 0  # under MPI only rank 0 shows progress
            progress = Progress(cfg.training.epochs, every=cfg.training.log_every, stream=io.StringIO() if quiet else None)
        log.info(
            "training %s: %d parameters, free %s, epochs %d -> %d",
            cfg.name, self._n_params(), ",".join(self.free) or "none", st.epoch, cfg.training.epochs,
        )
        try:
            opt = self._optimizer(st.phase)
            st.stop_reason = ""
            while st.epoch < cfg.training.epochs and not st.stop_reason:
                if st.phase == FIRST_ORDER and cfg.optimizer.lbfgs_after is not None and st.epoch >= cfg.optimizer.lbfgs_after:
                    st.phase = LBFGS
                    opt = self._optimizer(LBFGS)
                    st.opt_state = opt.init(st.x)
                    log.info("epoch %d: switching to L-BFGS", st.epoch)
                row = self._first_order_epoch(opt) if st.phase == FIRST_ORDER else self._lbfgs_epoch(opt)
                if row is None:  # interrupted inside an epoch, or nothing left to do
                    st.stop_reason = st.stop_reason or "interrupted"
                    break
                st.epoch += 1
                elapsed = st.elapsed + time.perf_counter() - t0
                mat = self.material_values()
                row.update(epoch=st.epoch, step=st.step, time=elapsed, **mat)
                self.metrics.append(**row)
                if row["loss"] < st.best_loss:
                    st.best_loss, st.best_epoch = float(row["loss"]), st.epoch
                    self._on_best()
                progress.update(st.epoch, row)
                if st.epoch % cfg.training.log_every == 0:
                    log.debug("epoch %d: %s", st.epoch, {k: round(v, 6) for k, v in row.items()})
                for fn, every in self._callbacks:
                    if st.epoch % every == 0 and fn(self, row):
                        st.stop_reason = "stopped by a callback"
                if cfg.training.target_loss is not None and row["loss"] <= cfg.training.target_loss:
                    st.stop_reason = "target loss reached"
                if self._stop_requested():
                    st.stop_reason = "interrupted"
                self._on_epoch_end()
        finally:
            restore()
            st.elapsed += time.perf_counter() - t0
            self.model.params[:] = st.x[: self._n_params()]
            progress.close()
        st.stop_reason = st.stop_reason or "epochs"
        log.info("stopped at epoch %d (%s); %s", st.epoch, st.stop_reason, self.material_values())
        self._on_end()
        return self.metrics

    # ------------------------------------------------------------------ checkpoints

    def save_checkpoint(self, epoch=None, directory=None):
        """Write the full training state to ``directory`` (default ``config.checkpoint.directory``).

        The file is ``ckpt-<epoch>.pinnlite``; ``latest`` is pointed at it and
        only the newest ``config.checkpoint.keep_last`` are kept. ``epoch``
        defaults to the completed epochs (the name only; the state saved is
        always the current one). Returns the path.
        """
        from pinnlite.io import checkpoint
        from pinnlite.training import state as resume

        directory = directory or self.config.checkpoint.directory
        if directory is None:
            raise ConfigError("checkpoint.directory: expected a directory to save into, found None")
        if self.rank != 0:  # under MPI rank 0 writes for everyone
            self._saved_epoch = self.state.epoch, self.state.step
            return None
        epoch = self.state.epoch if epoch is None else epoch
        path = checkpoint.save_in_directory(directory, epoch, resume.state_tree(self), self.config.checkpoint.keep_last)
        self._saved_epoch = self.state.epoch, self.state.step
        log.info("checkpoint %s", path)
        return path

    @classmethod
    def load_checkpoint(cls, directory=None, epoch=None, path=None, progress=None, comm=None):
        """A trainer ready to continue from a checkpoint.

        ``path`` names a file; otherwise ``epoch`` selects ``ckpt-<epoch>`` in
        ``directory``, and None the latest one. Call :meth:`train` (with no
        data: the checkpoint holds them) to continue exactly where it stopped.
        A run loaded from ``directory`` that saved checkpoints keeps saving
        them in ``directory``. Under MPI (``comm``) every rank loads the same
        file; with another number of ranks than the run was saved with, the
        points are re-sharded and the continuation is no longer bit-exact (a
        warning says so).
        """
        from pinnlite.io import checkpoint
        from pinnlite.training import state as resume

        if path is None:
            if directory is None:
                raise InputError("load_checkpoint: expected a directory or a path, found neither")
            path = checkpoint.latest(directory) if epoch is None else checkpoint.checkpoint_path(directory, epoch)
        tree = checkpoint.read(path)
        trainer = resume.restore(tree, progress=progress, comm=comm)
        saved = tree.get("world_size", 1)
        if saved != trainer.world_size:
            msg = (f"{path} was written by a run on {saved} MPI rank(s) and resumes on {trainer.world_size}: "
                   "the points are re-sharded and the continuation is no longer bit-exact")
            log.warning(msg)
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
        if directory is not None and trainer.config.checkpoint.directory is not None:
            # keep saving where the run was found: the stored path may be relative or the directory moved
            trainer.config = trainer.config.replace(**{"checkpoint.directory": os.fspath(directory)})
        log.info("resumed %s at epoch %d", path, trainer.state.epoch)
        return trainer

    def _on_best(self):
        if self.config.checkpoint.directory and self.config.checkpoint.keep_best:
            self._best = (self.state.epoch, self.state.x.copy(), self.material_values())

    def _save_best(self):
        best = self._best
        if best is None or self._best_saved == best[0] or self.rank != 0:
            return
        from pinnlite.io import checkpoint

        epoch, x, mat = best
        model = ElasticPINN2D.from_arch(self.model.arch, x[: self._n_params()].copy())
        model.save(os.path.join(self.config.checkpoint.directory, checkpoint.BEST), material=mat, extra={"epoch": epoch})
        self._best_saved = epoch

    def _on_epoch_end(self):
        c = self.config.checkpoint
        if c.directory and c.interval and self.state.epoch % c.interval == 0:
            self.save_checkpoint()
            self._save_best()

    def _on_end(self):
        c = self.config.checkpoint
        if c.directory and self._saved_epoch != (self.state.epoch, self.state.step):
            self.save_checkpoint()
        if c.directory:
            self._save_best()

    def _install_sigint(self):
        """Ctrl-C sets a flag (stop after the current step); a second one interrupts at once."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum, frame):
            if self._interrupted:
                raise KeyboardInterrupt
            self._interrupted = True
            log.warning("interrupt: stopping after the current step (Ctrl-C again to abort)")

        signal.signal(signal.SIGINT, handler)
        return lambda: signal.signal(signal.SIGINT, previous)
