"""Training: the :class:`~pinnlite.training.trainer.Trainer` and what it composes.

- :mod:`~pinnlite.training.trainer`: epochs of mini-batches, the Adam to L-BFGS switch,
  checkpoints and callbacks (no numerics of its own);
- :mod:`~pinnlite.training.objective`: the optimised vector (network parameters and
  log-material parameters) and the loss and gradient over it;
- :mod:`~pinnlite.training.state`: the training state and its checkpoint tree;
- :mod:`~pinnlite.training.build`: optimizers and schedules from the config, by name;
- :mod:`~pinnlite.training.model`: :class:`ElasticPINN2D`, a network with its parameters
  and its file;
- :mod:`~pinnlite.training.config`: the run configuration (its sections in
  :mod:`~pinnlite.training.config_sections`, JSON and TOML text in
  :mod:`~pinnlite.training.config_format`, the fields' comments as text in
  :mod:`~pinnlite.training.config_docs`);
- :mod:`~pinnlite.training.data`: :class:`TrainingData`, what a user measured;
- :mod:`~pinnlite.training.preflight`: the data held against the config before the first epoch;
- :mod:`~pinnlite.training.sampling`, :mod:`~pinnlite.training.scaling`,
  :mod:`~pinnlite.training.weighting`: collocation points, loss scales, adaptive weights;
- :mod:`~pinnlite.training.metrics`, :mod:`~pinnlite.training.progress`: the history and
  its display;
- :mod:`~pinnlite.training.validation`: held-out sensors and what "best" means;
- :mod:`~pinnlite.training.signals`, :mod:`~pinnlite.training.autosave`: stopping on SIGINT
  and SIGTERM, when checkpoints are saved and what a failed save does;
- :mod:`~pinnlite.training.rundir`: run directories and ``summary.json``;
- :mod:`~pinnlite.training.distributed`: data-parallel training over MPI ranks;
- :mod:`~pinnlite.training.problems`: inverse problems with exact solutions.
"""
