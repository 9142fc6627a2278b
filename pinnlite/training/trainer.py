"""``Trainer``: composes the engine, optimizers, schedules and samplers into a run.

The trainer has no numerics of its own: each epoch it draws (or keeps)
collocation points, cuts them into mini-batches, asks the
:class:`~pinnlite.training.objective.Objective` for the loss and gradient of the
optimised vector (network parameters followed by log(p / p0) of the free
material parameters) and hands them to the optimizer built from the config
(:mod:`pinnlite.training.build`). All randomness comes from one
``numpy.random.Generator`` seeded from ``config.training.seed``; everything a
run needs to continue lives in :class:`~pinnlite.training.state.TrainState`,
which :mod:`pinnlite.training.state` turns into a checkpoint tree and back, bit
for bit. Each loss term is divided by its natural magnitude
(:mod:`pinnlite.training.scaling`) so all are O(1).
"""

import copy
import io
import logging
import math
import time
import warnings

import numpy as np

from pinnlite import engine
from pinnlite.errors import InputError
from pinnlite.training import build, distributed, epochs, hold, preflight, sampling, signals, stopping, validation, weighting
from pinnlite.training.autosave import SavePolicy
from pinnlite.training.config import Config, ConfigError, ConfigWarning, first_order_steps, frozen_changes, switches
from pinnlite.training.config import ignored_settings
from pinnlite.training.diagnostics import Diagnostics, fitted
from pinnlite.training.metrics import Metrics, new_accumulator
from pinnlite.core.field_arch import init_field_params
from pinnlite.training.model import ElasticPINN2D, field_architecture, new_model, uses_pressure
from pinnlite.training.objective import Objective, Points
from pinnlite.training.preflight import IdentifiabilityWarning  # noqa: F401 (its home before preflight)
from pinnlite.training.progress import NoProgress, Progress
from pinnlite.training.scaling import derive_scales, measured_speed
from pinnlite.training.build import DenseSizeWarning
from pinnlite.training.persist import Checkpoints
from pinnlite.training.holding import Holding
from pinnlite.training.reports import Reports
from pinnlite.training.state import FIRST_ORDER, SECOND_ORDER, TrainState, second_order_kind

log = logging.getLogger("pinnlite")



class Trainer(Holding, Checkpoints, Reports):
    """Train an :class:`ElasticPINN2D` and the material parameters on :class:`TrainingData`.

    Parameters
    ----------
    model : ElasticPINN2D or None
        None: built from ``config.architecture`` when training starts, with the
        data's domain as input bounds and its displacement scale as output
        scale. A given model must match ``config.architecture``.
    config : Config
    progress : Progress, NoProgress or False, optional
        The progress display (default: a terminal line or periodic log lines;
        False: none).
    comm : mpi4py communicator, optional
        Train data-parallel over its ranks (:mod:`pinnlite.training.distributed`):
        every rank evaluates its shard of the points and the gradients are summed.

    Attributes
    ----------
    objective : Objective
        The optimised vector and its loss (built when training starts).
    state : TrainState
        Everything that changes during the run (None before it starts).
    opt : Optimizer
        The optimizer of the current phase (:mod:`pinnlite.training.epochs` steps it).

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
        self._started = copy.deepcopy(self.config)  # what train() checks a continued run against
        a = self.config.architecture
        if model is not None:
            if not isinstance(model, ElasticPINN2D):
                raise InputError(f"model: expected an ElasticPINN2D or None, found {type(model).__name__}")
            for name, want, have in (
                # "auto" takes a given model's widths, as it takes its pressure output: a checkpoint's
                # model is the run's, whatever widths the rule gives today
                ("architecture.hidden", list(model.arch.hidden) if a.hidden == "auto" else a.hidden,
                 list(model.arch.hidden)),
                ("architecture.activation", a.activation, model.arch.activation),
                ("architecture.dtype", a.dtype, model.arch.dtype),
                ("architecture.pressure", a.pressure if a.pressure != "auto" else model.arch.pressure,
                 model.arch.pressure),
            ):
                if want != have:
                    raise ConfigError(f"{name}: the config says {want!r} but the model has {have!r}")
        self.model = model
        self.state = None
        self.metrics = Metrics()
        self.data = None
        self.scales = None
        self.objective = None
        self.points = None
        self.progress = NoProgress() if progress is False else progress
        self.validation = None  # validation.Misfit of the held-out sensors, when there are any
        self.field_arch = None  # the FieldArchitecture of a material field (config.material.field = "network")
        self.last_checkpoint = None  # the newest checkpoint known to be good (written or resumed from)
        self.stop_signal = None  # the signal that stopped the last train() call, or None
        self._callbacks = []
        self._ws = engine.Workspace(self.config.training.threads)
        self.opt = None  # the optimizer of the current phase, built once per phase
        self._diagnostics = None  # warnings of the run (built with its scales)
        self.clipped = ()  # material parameters the last epoch's projection clipped
        self._signals = None  # signals.StopSignals while train() runs
        self._saver = None  # autosave.SavePolicy while train() runs
        self._best = None  # (epoch, x, material) of the lowest loss, kept for best.pinnlite
        self._best_saved = None  # epoch whose best model was written last
        self._saved_epoch = None  # (epoch, step) of the last checkpoint written
        self._saved_world_size = None  # MPI ranks of the run a loaded checkpoint came from
        self._monitor = validation.monitored(self.config)  # the column that defines the best epoch
        self.comm = comm
        self.rank = 0 if comm is None else comm.Get_rank()
        self.world_size = 1 if comm is None else comm.Get_size()

    # ------------------------------------------------------------------ setup

    @property
    def free(self):
        """Names of the trained material parameters, in the order lam, mu, rho."""
        m = self.config.material
        return tuple(n for n in ("lam", "mu", "rho") if getattr(m, "optimize_" + n))

    @property
    def material(self):
        """The current material parameters in user units (the initial guesses before training)."""
        if self.state is None:
            m = self.config.material
            return {"lam": m.lam, "mu": m.mu, "rho": m.rho}
        return self.objective.values(self.state.x)

    def material_values(self, x=None):
        """Dict lam, mu, rho (user units) at the optimised vector ``x`` (default: the current one);
        a mapped parameter's value is the mean of its map."""
        return self.objective.values(self.state.x if x is None else x)

    @property
    def threads(self):
        """Worker threads of each evaluation (resolved: never None)."""
        return self._ws.threads

    def set_threads(self, threads):
        """Evaluate with ``threads`` worker threads from the next :meth:`train` on.

        None: the environment, else the CPUs (:func:`pinnlite.core.cpus.resolve_threads`).
        Results do not depend on the thread count.
        """
        self.config = self.config.replace(**{"training.threads": threads})
        self._ws = engine.Workspace(threads)

    def add_callback(self, fn, every=1):
        """Call ``fn(trainer, row)`` after every ``every``-th epoch (row: the metrics dict).

        A callback that returns True stops training after that epoch.
        """
        if not callable(fn) or not isinstance(every, int) or every < 1:
            raise InputError(f"add_callback: expected a callable and every >= 1, found {fn!r}, {every!r}")
        self._callbacks.append((fn, every))

    def check_data(self, data):
        """Raise the error :meth:`train` would raise for ``data`` (a wrong type, nothing to recover
        the free material parameters from, settings the data do not allow); warns of nothing."""
        self._check_data(data, warn=False)

    def _check_data(self, data, warn=True):
        preflight.check_data(self.config, data, self.free, self.data, warn)

    def _attach(self, data):
        """Build what a run on ``data`` evaluates with: the objective, the prepared points and the
        validation sensors (held out of the points, :mod:`pinnlite.training.validation`)."""
        self.data = data
        t = self.config.training
        train_data, held_out = validation.split(data, t.validation_fraction, t.seed)
        self.objective = Objective(self.model.arch, self.config.material, self._ws, self.comm, self.field_arch)
        self.points = Points(self.model.arch, train_data, self.comm)
        self.validation = None if held_out is None else validation.Misfit(self.model.arch, *held_out, self._ws.threads)

    def _start(self, data):
        cfg = self.config
        if self.rank == 0:
            for message in ignored_settings(cfg):
                warnings.warn(message, ConfigWarning, stacklevel=3)
        rng = np.random.default_rng(cfg.training.seed)
        self.scales = derive_scales(cfg, data)
        if self.model is None:
            self.model = new_model(cfg, data, self.scales.output_scale(uses_pressure(cfg)), rng)
        elif any(abs(p - q) > 1e-12 * max(1.0, abs(q)) for b, d in zip(self.model.arch.bounds, data.domain) for p, q in zip(b, d)):
            log.warning("the model's input bounds %s differ from the data's domain %s", self.model.arch.bounds, data.domain)
        field_params = None
        if cfg.material.field == "network":  # drawn after the network, so a constant run's draws are unchanged
            self.field_arch = field_architecture(cfg, self.model.arch)
            field_params = init_field_params(self.field_arch, rng, cfg.architecture.init)
        self._attach(data)
        self._limit_dense()
        self._diagnostics = Diagnostics(cfg, self.scales, log)
        self._diagnostics.wave_speed(measured_speed(cfg, data, self.scales))
        colloc = None
        if data.collocation is None:
            colloc = sampling.interior(rng, cfg.sampling.n_collocation, data.domain, cfg.sampling.strategy)
        x = self.objective.vector(self.model.params, field_params=field_params)
        phase = SECOND_ORDER if second_order_kind(cfg) == cfg.optimizer.kind else FIRST_ORDER
        self.opt = self._optimizer(phase)
        self.state = TrainState(
            epoch=0,
            step=0,
            x=x,
            phase=phase,
            opt_state=self.opt.init(x),
            plateau=build.plateau(cfg).init() if cfg.schedule.plateau else None,
            adaptive=weighting.init(),
            rng=rng,
            collocation=colloc,
            perm=None,
            batch_pos=0,
            acc=new_accumulator(),
            best_loss=math.inf,
            best_epoch=0,
            elapsed=0.0,
            stop_reason="",
            # held while the network is random (a free material needs sensors: _check_data)
            released=None if cfg.training.hold_material and self.objective.size > self.objective.n else 0,
        )
        self.metrics = Metrics(data.truth)
        if self.state.released is None:
            log.info("the material is held at its initial guesses until the network explains part of the sensors "
                     "(training.hold_material)")

    def _limit_dense(self):
        """Dense BFGS beyond ``optimizer.bfgs_max_size`` values becomes L-BFGS in the run's own config
        (:func:`pinnlite.training.build.limit_dense`), so that its checkpoints and resumption agree."""
        message = build.limit_dense(self.config, self.objective.size)
        if message and self.rank == 0:
            warnings.warn(message, DenseSizeWarning, stacklevel=4)

    def _optimizer(self, phase):
        """The optimizer of ``phase``, from the config's registries (:mod:`pinnlite.training.build`),
        once an L-BFGS history that no checkpoint could hold is refused (:func:`~.build.check_history`)."""
        build.check_history(self.config, self.objective.size, self.model.arch.np_dtype.itemsize)
        if phase == SECOND_ORDER:
            return build.second_order(self.config, second_order_kind(self.config))
        # the data's explicit points, else config.sampling.n_collocation (what RAR starts from)
        n = None if self.data.collocation is None else len(self.data.collocation)
        return build.first_order(self.config, self.objective, first_order_steps(self.config, n))

    # ------------------------------------------------------------------ points

    def collocation(self):
        """The current collocation points and the body force at them (None if unknown)."""
        if self.data.collocation is not None:
            return self.data.collocation, self.data.body_force
        return self.state.collocation, None

    def _full_prep(self):
        """Every collocation point with the fixed terms, prepared (kept between epochs)."""
        return self.points.full(*self.collocation())

    def stop_requested(self):
        """Whether a stop signal arrived, agreed by all ranks (a collective call under MPI)."""
        received = self._signals is not None and self._signals.received is not None
        if self.comm is None:
            return received
        return distributed.any_rank(self.comm, received)

    # ------------------------------------------------------------------ run

    def train(self, data=None):
        """Train to ``config.training.epochs`` (or an earlier stop) and return the :class:`Metrics`.

        Calling ``train`` again, or on a trainer loaded from a checkpoint,
        continues the same run (``data`` may then be omitted). SIGINT (Ctrl-C)
        or SIGTERM stops after the current step, saves a checkpoint when a
        directory is configured, and returns the metrics so far (the signal is
        :attr:`stop_signal`); a second signal raises
        :class:`~pinnlite.training.signals.Interrupted` at once, naming the last
        good checkpoint (:mod:`pinnlite.training.signals`). Checkpoints are due
        every ``checkpoint.interval`` epochs and ``checkpoint.every_seconds`` of
        wall time; a failed save warns and is retried at the next one
        (:mod:`pinnlite.training.autosave`).
        """
        if data is None:
            if self.data is None:
                raise InputError("data: expected a TrainingData, found None")
            data = self.data
        self._check_config()
        self._check_data(data)
        if self.state is not None and self.data is not None and data.domain != self.data.domain:
            raise InputError(f"data.domain: this run was started on {self.data.domain}, found {data.domain}")
        if self.state is None:
            self._start(data)
        else:
            self._attach(data)
            if self.scales is None:
                self.scales = derive_scales(self.config, data)
            self.opt = self._optimizer(self.state.phase)
            self._fresh_state_for_another_optimizer()
            self._diagnostics = Diagnostics(self.config, self.scales, log)
        cfg, st = self.config, self.state
        if st.epoch >= cfg.training.epochs:
            log.warning("train(): the run is at epoch %d and training.epochs is %d: nothing to train (raise "
                        "training.epochs to go on)", st.epoch, cfg.training.epochs)
        c = cfg.checkpoint
        self.stop_signal = None
        self._saver = SavePolicy(c.interval, c.every_seconds, c.max_failures, last_good=self.last_checkpoint)
        self._signals = signals.StopSignals(on_first=self._on_signal, last_good=self._newest_good)
        self._monitor = validation.monitored(cfg)
        restore = self._signals.install()
        t0 = time.perf_counter()
        progress = self.progress
        if progress is None:
            quiet = self.rank != 0  # under MPI only rank 0 shows progress
            labels = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "lbfgs": "L-BFGS", "lm": "LM", "none": "",
                      "bfgs": {"ssbroyden": "SSBroyden", "ssbfgs": "SSBFGS", "bfgs": "BFGS"}[cfg.optimizer.bfgs_variant]}
            phases = (labels[cfg.optimizer.kind], labels[second_order_kind(cfg)])
            progress = Progress(cfg.training.epochs, every=cfg.training.log_every, stream=io.StringIO() if quiet else None,
                                phases=phases, names=self.free,
                                early=stopping.possible(self.free, cfg.training.settle_epochs))
        log.info(
            "training %s: %d parameters, free %s, epochs %d -> %d",
            cfg.name, self.model.arch.n_params, ",".join(self.free) or "none", st.epoch, cfg.training.epochs,
        )
        try:
            st.stop_reason = ""
            while st.epoch < cfg.training.epochs and not st.stop_reason:
                if st.phase == FIRST_ORDER and switches(cfg) and st.epoch >= cfg.optimizer.switch_after:
                    self._switch()
                self.clipped = ()
                row = epochs.first_order(self) if st.phase == FIRST_ORDER else epochs.second_order(self)
                if row is None:  # interrupted inside an epoch, or nothing left to do
                    st.stop_reason = st.stop_reason or "interrupted"
                    break
                st.epoch += 1
                elapsed = st.elapsed + time.perf_counter() - t0
                row.update(epoch=st.epoch, step=st.step, time=elapsed, **self.material)
                row["validation"] = self._validation_misfit()
                self.metrics.append(**row)
                if st.released is None:
                    self._release(hold.release(self.metrics, self.scales.displacement, self._release_misfit()))
                if st.epoch == 1:
                    self._diagnostics.terms(row)
                half_way = st.epoch == cfg.training.epochs // 2
                self._diagnostics.material(self.material, self.clipped, check_range=half_way, counts=self._counts())
                if half_way:
                    self._diagnostics.fit(row, f"half way (epoch {st.epoch})")
                    self._few_sensors()  # not settled by half way: say so now, not after the second half
                self._track_best(row)
                progress.update(st.epoch, row if st.released is not None else dict(row, held=True))
                if st.epoch % cfg.training.log_every == 0:
                    log.debug("epoch %d: %s", st.epoch, {k: round(v, 6) for k, v in row.items()})
                for fn, every in self._callbacks:
                    if st.epoch % every == 0 and fn(self, row):
                        st.stop_reason = "stopped by a callback"
                if cfg.training.target_loss is not None and row["loss"] <= cfg.training.target_loss:
                    st.stop_reason = "target loss reached"
                settled = stopping.settled(self.metrics, self.free, cfg.training.settle_epochs,
                                           cfg.training.settle_tolerance,
                                           fitted=fitted(row, self.scales) is not False, since=st.released,
                                           fraction=self._settle_fraction())
                st.stop_reason = st.stop_reason or settled or ""
                if self.stop_requested():
                    st.stop_reason = "interrupted"
                self._on_epoch_end()
        finally:
            restore()
            st.elapsed += time.perf_counter() - t0
            self.model.params[:] = self.objective.params(st.x)
            progress.close()
        if self._signals.received is not None:
            self.stop_signal = self._signals.received
            st.stop_reason = f"interrupted by {signals.name(self.stop_signal)}"
        st.stop_reason = st.stop_reason or "epochs"
        log.info("stopped at epoch %d (%s); %s", st.epoch, st.stop_reason, self.material)
        if len(self.metrics):
            self._diagnostics.fit(self.metrics.last(), "at the end of the run")
            self._diagnostics.material(self.material, (), check_range=True, counts=self._counts())
            interrupted = st.stop_reason.startswith("interrupted")
            if st.released is None and not interrupted:
                self._diagnostics.held(st.epoch, self.free, self._release_misfit())
            if not interrupted:
                self._few_sensors(None if st.stop_reason == "epochs" else st.stop_reason)
            if not interrupted and fitted(self.metrics.last(), self.scales):
                self._scale_check()  # against a fitted field only: an unfitted one says nothing
        if cfg.training.error_bars and not st.stop_reason.startswith("interrupted"):
            self._error_bars()
        self._on_end()
        return self.metrics

    def _check_config(self):
        """The config as changed since the last train() (``trainer.config.training.epochs = ...``), checked:
        valid, and, once the run has a state, the same in every field that state holds."""
        self.config = self.config.validate()
        if self.state is None:
            self._started = copy.deepcopy(self.config)
            return
        changed = frozen_changes(self._started, self.config)
        if changed:
            what = "; ".join(f"{k}: {old!r} -> {new!r}" for k, old, new in changed)
            raise ConfigError(f"{what}: cannot change in a continued run (the network, material, sampling, scales, "
                              "units and validation split are part of its state); set it back, or start a new "
                              "Trainer")

    def _fresh_state_for_another_optimizer(self):
        """A continued run whose config names another optimizer (or L-BFGS history) for the current
        phase starts that optimizer's state afresh; its own state would not fit."""
        st = self.state
        history = self.opt.hyperparams.get("history")
        same = isinstance(st.opt_state, self.opt.state_type) and (
            history is None or not hasattr(st.opt_state, "s") or st.opt_state.s.shape[0] == history)
        if not same:
            log.warning("epoch %d: %s starts afresh: the run's optimizer state (%s) is not one it continues",
                        st.epoch, self.opt.name, type(st.opt_state).__name__)
            st.opt_state = self.opt.init(st.x)

    def _switch(self):
        """From the first-order warm-up to the second-order optimizer; check the fit and the PDE scale."""
        st = self.state
        st.phase = SECOND_ORDER
        self._limit_dense()
        self.opt = self._optimizer(SECOND_ORDER)
        st.opt_state = self.opt.init(st.x)
        log.info("epoch %d: switching to %s", st.epoch, self.opt.name)

    def _on_signal(self, signum):
        """The first SIGINT/SIGTERM: say what happens next (called from the signal handler)."""
        name = signals.name(signum)
        saved = "saving a checkpoint" if self.config.checkpoint.directory else "no checkpoint directory to save into"
        log.warning("%s: stopping after the current step, %s (%s again stops at once)", name, saved, name)

    # ------------------------------------------------------------------ validation and best

    def _validation_misfit(self):
        """The data term at the held-out sensors for the current vector (NaN without them)."""
        if self.validation is None:
            return math.nan
        x = self.state.x
        return self.validation(self.objective.params(x), self.objective.material(x))

    def _track_best(self, row):
        """A new best epoch of the monitored column (:func:`validation.monitored`), and the early stop."""
        st = self.state
        improved, stop = validation.track(st, row[self._monitor], self._monitor, self.config.training.patience)
        if improved:
            self._on_best()
        st.stop_reason = stop or st.stop_reason
