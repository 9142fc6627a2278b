"""pinnlite: physics-informed neural networks for 2D elastic-wave inverse problems.

NumPy + Numba only. Public names are imported lazily on first access, so
``import pinnlite`` is cheap and ``import pinnlite.checkpoint`` (or
``pinnlite.container``) works without Numba.
"""

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "InputError": "errors",
    "PinnliteError": "errors",
    "ACTIVATIONS": "activations",
    "Architecture": "arch",
    "init_params": "arch",
    "Material": "problem",
    "LossWeights": "problem",
    "PointSets": "problem",
    "TERMS": "problem",
    "ElasticPINN2D": "model",
    "loss_and_grad": "engine",
    "LossResult": "engine",
    "Workspace": "engine",
    "predict": "engine",
    "check_grads": "testing",
    "Config": "config",
    "ConfigError": "config",
    "TrainingData": "data",
    "Trainer": "trainer",
    "Metrics": "metrics",
    "IdentifiabilityWarning": "trainer",
    "CheckpointError": "container",
}


def __getattr__(name):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pinnlite' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"pinnlite.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(list(globals()) + list(_EXPORTS))
