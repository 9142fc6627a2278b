"""pinnlite: physics-informed neural networks for 2D elastic-wave inverse problems.

NumPy + Numba only. The package is layered; a lower layer never imports an
upper one (``tests/test_layering.py`` checks it):

- :mod:`pinnlite.errors`: the exception types;
- :mod:`pinnlite.core`: what every wing shares: argument checks, the activation
  table, the architecture and its flat parameter layout, Numba flags, thread
  counts;
- :mod:`pinnlite.engine`: loss and exact gradient of the network (Numba kernels,
  tiles on worker threads, the physics);
- :mod:`pinnlite.optim`: optimizers and learning-rate schedules on one flat vector;
- :mod:`pinnlite.io`: the checkpoint container and checkpoint files (NumPy and
  msgpack only, no Numba);
- :mod:`pinnlite.training`: the trainer and what it composes (config, data,
  sampling, scaling, weighting, metrics, MPI, synthetic problems);
- :mod:`pinnlite.simulate`: a finite-difference forward solver that makes sensor
  data for material maps (above training: it builds ``TrainingData``);
- :mod:`pinnlite.cli`, :mod:`pinnlite.plotting`: the command line and the plots.

The public names below are imported lazily on first access, so ``import
pinnlite`` is cheap and ``import pinnlite.io.checkpoint`` works without Numba.
"""

__version__ = "0.2.0.dev0"  # format 2.0 files; 0.1.0 wrote format 1.x

# public name -> module that defines it
_EXPORTS = {
    "InputError": "errors",
    "PinnliteError": "errors",
    "ACTIVATIONS": "core.activations",
    "Architecture": "core.arch",
    "init_params": "core.arch",
    "Material": "engine.terms",
    "LossWeights": "engine.terms",
    "PointSets": "engine.terms",
    "TERMS": "engine.terms",
    "loss_and_grad": "engine.loss",
    "LossResult": "engine.loss",
    "Workspace": "engine.loss",
    "predict": "engine.loss",
    "check_grads": "testing",
    "ElasticPINN2D": "training.model",
    "Config": "training.config",
    "ConfigError": "training.config",
    "ConfigWarning": "training.config",
    "TrainingData": "training.data",
    "Trainer": "training.trainer",
    "Metrics": "training.metrics",
    "IdentifiabilityWarning": "training.preflight",
    "DenseSizeWarning": "training.build",
    "CheckpointError": "io.errors",
}
# public module name -> the module (``from pinnlite import problems``)
_MODULES = {"problems": "training.problems", "simulate": "simulate"}


def __getattr__(name):
    import importlib

    if name in _MODULES:
        value = importlib.import_module(f"pinnlite.{_MODULES[name]}")
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(f"pinnlite.{_EXPORTS[name]}"), name)
    else:
        raise AttributeError(f"module 'pinnlite' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_EXPORTS) | set(_MODULES))  # a name looked up is in globals() too
