"""``ElasticPINN2D``: the network u(x, y, t) -> (u, v) with its parameters and its file.

The class joins the engine (evaluations at its parameters) and the checkpoint
files (:meth:`ElasticPINN2D.save`, :meth:`ElasticPINN2D.load`), so it lives
above both, in the training wing; the engine itself stays functional
(architecture, parameters and points in, numbers out).
"""

import logging

from pinnlite import engine
from pinnlite.core import checks
from pinnlite.core.arch import Architecture, init_params, mlp_layout
from pinnlite.core.field_arch import FieldArchitecture
from pinnlite.engine.terms import Material
from pinnlite.io import checkpoint


# lam / mu (of the config's values: the guesses) from which architecture.pressure = "auto" takes the
# mixed form (a Poisson ratio of at least 0.476). Measured (benchmarks/README.md): at lam / mu ~ 1e5 the
# displacement form collapses; at 33-49 (tissue with nu = 0.49) it fits the sensors of a disc phantom
# to 6.2-6.9% where the mixed form reaches 3.5-4.6%; every plane-wave family lies at 8 or below.
PRESSURE_RATIO = 20.0


# the widths of architecture.hidden = "auto". A map scatters the waves, and the scattered field is what
# the PDE pins the map with: on the disc phantoms of pinnlite.simulate (1% noise, two seeds) the 24-wide
# network maps mu to L2 errors of 25.8%, 8.8% and 15.3%, the 32-wide one to 21.8%, 7.5% and 14.5% in four
# to five times the time, and 40 wide no better (benchmarks/README.md); a plane-wave field needs no more
# than 24 (every family of benchmarks/inverse.py), at a third of the dense quasi-Newton state.
HIDDEN_CONSTANT = (24, 24, 24)
HIDDEN_MAP = (32, 32, 32)

# Few sensors: a network with many more weights than the sensors give values passes through their
# noise, and the PDE alone decides how far. "auto" narrows its layers (all alike) until it has at most
# WEIGHTS_PER_VALUE weights per sensor value, but not below MIN_WIDTH. Measured on the demo's waves with
# 100 sensors (200 values) at 3% noise, seeds 0-5 (benchmarks/README.md, "Few sensors"): rms error over
# the Cramer-Rao bound, lam / mu, 7.0 / 10.7 at width 24 (1,346 weights), 3.4 / 5.8 at 16, 2.6 / 2.7 at
# 12 (386); noise-free the 12-wide network stays within 0.02% and the 10- and 8-wide ones do not
# (0.021% and 0.06%: too narrow for the two waves themselves).
WEIGHTS_PER_VALUE = 2
MIN_WIDTH = 12


def n_weights(hidden, n_out):
    """Weights and biases of an MLP from (x, y, t) through the hidden widths to ``n_out`` outputs."""
    return mlp_layout((3, *hidden, n_out)).size


def hidden_widths(config, n_values=None):
    """The hidden widths of a run's network, a list (``config.architecture.hidden``; "auto":
    :data:`HIDDEN_MAP` with a material map, :data:`HIDDEN_CONSTANT` otherwise, narrowed for few
    sensors: with ``n_values`` sensor values in the data (two per sensor; None or 0: no narrowing),
    at most :data:`WEIGHTS_PER_VALUE` weights per value, down to :data:`MIN_WIDTH`)."""
    hidden = config.architecture.hidden
    if hidden != "auto":
        return list(hidden)
    widths = HIDDEN_MAP if config.material.field == "network" else HIDDEN_CONSTANT
    n_out = 3 if uses_pressure(config) else 2
    width = widths[0]
    while n_values and width > MIN_WIDTH and n_weights((width,) * len(widths), n_out) > WEIGHTS_PER_VALUE * n_values:
        width -= 1
    return [width] * len(widths)


def uses_pressure(config):
    """Whether a run's network has a pressure output (``config.architecture.pressure``; "auto":
    ``lam >= PRESSURE_RATIO mu``, where the displacement form's lam grad div u term outweighs
    the shear waves: its fit degrades, and far above the ratio collapses). Constant material
    and maps alike."""
    p, m = config.architecture.pressure, config.material
    if p == "auto":
        return m.lam >= PRESSURE_RATIO * m.mu
    return p


def new_model(config, data, output_scale, rng):
    """The network a run of ``config`` on the TrainingData ``data`` starts from, its weights drawn
    from ``rng``: :func:`hidden_widths` for the data's sensor values, a pressure output where
    :func:`uses_pressure`, ``output_scale`` from the run's scales. Logs what "auto" chose."""
    a, pressure, log = config.architecture, uses_pressure(config), logging.getLogger("pinnlite")
    widths = hidden_widths(config, data.n_sensor_values())
    if widths != hidden_widths(config):
        log.info("architecture.hidden = 'auto': %s for %d sensor values, narrower than %s: at most %d weights per "
                 "value (pinnlite.training.model.hidden_widths)", widths, data.n_sensor_values(),
                 hidden_widths(config), WEIGHTS_PER_VALUE)
    if pressure:
        log.info("the network has a pressure output (architecture.pressure = %r, lam / mu = %.3g): the mixed form "
                 "of the wave equation", a.pressure, config.material.lam / config.material.mu)
    return ElasticPINN2D(widths, a.activation, data.domain, output_scale, a.dtype, rng=rng, init=a.init,
                         pressure=pressure)


def field_architecture(config, arch):
    """The :class:`FieldArchitecture` of a run's material field: the free ones of lam and mu, over
    the network's x and y bounds, starting at the config's guesses (``config.material``)."""
    m = config.material
    names = tuple(n for n in ("lam", "mu") if getattr(m, "optimize_" + n))
    return FieldArchitecture(tuple(m.field_hidden), m.field_activation, arch.bounds[:2], names,
                             tuple(float(getattr(m, n)) for n in names), arch.dtype)


class ElasticPINN2D:
    """An MLP (x, y, t) -> (u, v) for the 2D elastic wave equation.

    Parameters
    ----------
    hidden : list of int
        Hidden layer widths, e.g. ``[100, 100, 100, 100]``.
    activation : str
        ``"tanh"`` (default) or ``"sin"`` (:data:`pinnlite.core.activations.ACTIVATIONS`).
    bounds : ((x_lo, x_hi), (y_lo, y_hi), (t_lo, t_hi))
        Physical domain; inputs are mapped onto [-1, 1] before the first layer.
    output_scale : None, float, (float, float) or (float, float, float)
        Physical scale of the displacements (u, v), and with ``pressure`` of p
        (then three numbers: p is a stress); None (the default): 1 for each output.
    dtype : ``"float64"`` or ``"float32"``
    rng : numpy.random.Generator or int, optional
        Source of the Glorot initial weights (:func:`pinnlite.core.arch.init_params`).
    init : ``"glorot_normal"`` or ``"glorot_uniform"``
    params : (n_params,) array, optional
        Start from these parameters instead (copied; must have ``dtype``).
    pressure : bool
        A third output p, the pressure of the mixed form (:class:`pinnlite.core.arch.Architecture`).

    Attributes
    ----------
    arch : Architecture
    params : (n_params,) array, the flat parameter vector (layout ``arch.layout``).

    Evaluations through the model reuse one scratch workspace, so one model
    must not be evaluated from several threads at once; the functions of
    :mod:`pinnlite.engine` are thread-safe.
    """

    def __init__(
        self,
        hidden=(100, 100, 100, 100),
        activation="tanh",
        bounds=((0.0, 1.0), (0.0, 1.0), (0.0, 1.0)),
        output_scale=None,
        dtype="float64",
        *,
        rng=None,
        init="glorot_normal",
        params=None,
        pressure=False,
    ):
        # a list or tuple as it is; anything else (8, None, "auto") to the architecture's check, which names it
        if output_scale is None:
            output_scale = (1.0, 1.0, 1.0) if pressure is True else (1.0, 1.0)
        self.arch = Architecture(tuple(hidden) if isinstance(hidden, (list, tuple)) else hidden, activation, bounds,
                                 output_scale, dtype, pressure)
        if params is None:
            self.params = init_params(self.arch, rng, init)
        else:
            flat = engine.as_flat(self.arch, params)
            # a list of arrays is flattened into a new vector already; a flat vector is the caller's
            self.params = flat if isinstance(params, (list, tuple)) else flat.copy()
        self._ws = engine.Workspace()

    @classmethod
    def from_arch(cls, arch, params):
        """A model of architecture ``arch`` with a copy of ``params`` (flat or list of arrays)."""
        return cls(arch.hidden, arch.activation, arch.bounds, arch.output_scale, arch.dtype, params=params,
                   pressure=arch.pressure)

    @classmethod
    def from_arrays(cls, arrays, **arch):
        """A model from plain arrays ``[W0, b0, ..., WL, bL]`` (shapes give the widths)."""
        arrays = list(arrays)
        hidden = [a.shape[0] for a in arrays[:-2:2]]
        dtype = str(arrays[0].dtype) if arrays and hasattr(arrays[0], "dtype") else "float64"
        arch.setdefault("dtype", dtype)
        return cls(hidden, params=arrays, **arch)

    @property
    def layout(self):
        return self.arch.layout

    @property
    def n_params(self):
        return self.arch.n_params

    def views(self):
        """Dict name -> view of ``params`` (``W0``, ``b0``, ...); writing to a view changes the model."""
        return self.arch.layout.views(self.params)

    def layers(self):
        """List of (W, b) views, first hidden layer to output layer."""
        v = self.views()
        return [(v[f"W{l}"], v[f"b{l}"]) for l in range(self.arch.n_layers)]

    def to_arrays(self):
        """Copies of ``[W0, b0, ..., WL, bL]``."""
        return [a.copy() for a in self.arch.layout.unflatten(self.params)]

    def predict(self, points):
        """Displacements (n, 2) at ``points`` (n, 3) of (x, y, t); value channel only."""
        return engine.predict(self.arch, self.params, points)

    def derivatives(self, points):
        """(8, n, n_outputs): u, v (and p) and their x, y, t, xx, yy, tt, xy derivatives at ``points``."""
        return engine.channels(self.arch, self.params, points, 8)

    def residual(self, points, material, body_force=None):
        """Wave-equation residual (n, 2) at ``points`` for ``material``."""
        return engine.pde_residual(self.arch, self.params, points, material, body_force)

    def loss_and_grad(self, points, material, weights=None, need_grad=True):
        """:func:`pinnlite.engine.loss_and_grad` at this model's parameters."""
        return engine.loss_and_grad(
            self.params, self.arch, points, material, weights, workspace=self._ws, need_grad=need_grad
        )

    def save(self, path, material=None, extra=None):
        """Write an inference-only model file (architecture, weights, optional material).

        ``material``: a dict lam/mu/rho or a :class:`~pinnlite.engine.terms.Material`;
        ``extra``: a dict of plain values stored alongside. Atomic like every
        checkpoint; readable by :meth:`load` and :func:`pinnlite.io.checkpoint.read`.
        """
        if isinstance(material, Material):
            material = material.values()
        if material is not None:
            if not isinstance(material, dict) or not material or not set(material) <= {"lam", "mu", "rho"}:
                checks.fail("material", "None, a Material or a dict of lam, mu, rho", material)
            material = {k: checks.real(f"material.{k}", v, low=0, low_open=True) for k, v in material.items()}
        tree = {
            "kind": "model",
            "architecture": self.arch.to_dict(),
            "params": {e.name: v.copy() for e, v in zip(self.arch.layout.entries, self.arch.layout.unflatten(self.params))},
            "material": material,
            "extra": extra or {},
        }
        checkpoint.save_file(path, tree, checkpoint.meta())

    @classmethod
    def load(cls, path):
        """The model stored in a model file or a training checkpoint (no config needed; only the weights are read)."""
        arch, arrays = checkpoint.model_arrays(checkpoint.read_model(path))
        return cls(arch["hidden"], arch["activation"], arch["bounds"], arch["output_scale"], arch["dtype"], params=arrays,
                   pressure=arch.get("pressure", False))

    def __repr__(self):
        a = self.arch
        return (
            f"ElasticPINN2D(hidden={list(a.hidden)}, activation={a.activation!r}, "
            f"dtype={a.dtype!r}, n_params={a.n_params})"
        )
