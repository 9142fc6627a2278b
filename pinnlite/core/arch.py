"""Architecture, flat parameter layout and initialisation of the MLP.

The network maps a physical point (x, y, t) to a displacement (u, v), and with
``pressure`` also to a pressure p (the mixed displacement-pressure form of the
wave equation, :func:`pinnlite.engine.physics.residual_mixed`)::

    xi  = s * (X - c)                 s = 2 / (hi - lo), c = (hi + lo) / 2  -> [-1, 1]^3
    h_0 = sigma(W_0 xi + b_0)
    h_l = sigma(W_l h_{l-1} + b_l)    l = 1 .. L-1
    u   = S (W_L h_{L-1} + b_L)       S = diag(output_scale): (u, v) or (u, v, p)

with ``W_l`` of shape (fan_out, fan_in). All weights and biases live in ONE flat
vector; :class:`Layout` is its table of contents (name, offset, shape), in the
order ``W0, b0, W1, b1, ..., WL, bL``. Gradients, optimizer moments and
checkpoints use the same layout, so each of them handles one array.
"""

import math
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from pinnlite.core import checks
from pinnlite.core.activations import get_activation

DTYPES = ("float64", "float32")
INITS = ("glorot_normal", "glorot_uniform")


class Entry(NamedTuple):
    """One array of the flat parameter vector."""

    name: str
    offset: int
    shape: tuple

    @property
    def size(self):
        return math.prod(self.shape)


class Layout(NamedTuple):
    """Table of contents of a flat parameter vector."""

    entries: tuple

    @property
    def size(self):
        last = self.entries[-1]
        return last.offset + last.size

    @property
    def names(self):
        return tuple(e.name for e in self.entries)

    def views(self, flat):
        """Per-array views (no copies) of ``flat``, as a dict name -> array."""
        return {e.name: flat[e.offset : e.offset + e.size].reshape(e.shape) for e in self.entries}

    def unflatten(self, flat):
        """The arrays of ``flat`` in layout order (views, no copies)."""
        return [flat[e.offset : e.offset + e.size].reshape(e.shape) for e in self.entries]

    def flatten(self, arrays, dtype):
        """One new flat vector from a list of arrays in layout order (shapes and dtype checked)."""
        arrays = list(arrays)
        if len(arrays) != len(self.entries):
            checks.fail("params", f"{len(self.entries)} arrays ({', '.join(self.names)})", f"{len(arrays)} arrays")
        flat = np.empty(self.size, dtype=dtype)
        for e, a in zip(self.entries, arrays):
            checks.array(f"params[{e.name}]", a, e.shape, dtype, finite=False)
            flat[e.offset : e.offset + e.size] = a.ravel()
        return flat

    def mask(self, kind):
        """Boolean vector, True on the entries whose name starts with ``kind`` ("W" or "b")."""
        m = np.zeros(self.size, dtype=bool)
        for e in self.entries:
            if e.name.startswith(kind):
                m[e.offset : e.offset + e.size] = True
        return m


def unit_box(bounds):
    """``(s, c)``, each of shape (len(bounds),), of the affine map xi = s * (X - c) of the box
    ``bounds`` ((lo, hi) per axis) onto [-1, 1] on every axis."""
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    return 2.0 / (hi - lo), (hi + lo) / 2.0


def mlp_layout(widths):
    """The layout ``W0, b0, ..., WL, bL`` of an MLP with layer widths ``widths`` (input first)."""
    entries, offset = [], 0
    for l in range(len(widths) - 1):
        for name, shape in ((f"W{l}", (widths[l + 1], widths[l])), (f"b{l}", (widths[l + 1],))):
            entries.append(Entry(name, offset, shape))
            offset += math.prod(shape)
    return Layout(tuple(entries))


class MlpShape:
    """What a network description derives from its ``_layout``, ``dtype`` and ``bounds``
    (shared by :class:`Architecture` and :class:`pinnlite.core.field_arch.FieldArchitecture`)."""

    @property
    def layout(self):
        return self._layout

    @property
    def n_params(self):
        return self._layout.size

    @property
    def np_dtype(self):
        return np.dtype(self.dtype)

    def input_transform(self):
        """``(s, c)``, one entry per axis of ``bounds``: xi = s * (X - c) maps the bounds onto [-1, 1]."""
        return unit_box(self.bounds)


@dataclass(frozen=True)
class Architecture(MlpShape):
    """Everything needed to rebuild the network except its parameter values.

    Parameters
    ----------
    hidden : tuple of int
        Widths of the hidden layers, e.g. ``(100, 100, 100, 100)``.
    activation : str
        A name from :data:`pinnlite.core.activations.ACTIVATIONS` (``"tanh"``, ``"sin"``).
    bounds : ((x_lo, x_hi), (y_lo, y_hi), (t_lo, t_hi))
        Physical domain, mapped affinely onto [-1, 1]^3 before the first layer.
    output_scale : (float, float) or (float, float, float)
        Physical scale of each output, (u, v) or with ``pressure`` (u, v, p): the
        network output is multiplied by it. A single float is used for u and v
        (not with ``pressure``, whose p has the units of a stress).
    dtype : str
        ``"float64"`` or ``"float32"``; every array of the hot path has this dtype.
    pressure : bool
        A third output p, the pressure ``lam div u`` of the mixed form.
    """

    hidden: tuple = (100, 100, 100, 100)
    activation: str = "tanh"
    bounds: tuple = ((0.0, 1.0), (0.0, 1.0), (0.0, 1.0))
    output_scale: tuple = (1.0, 1.0)
    dtype: str = "float64"
    pressure: bool = False
    _layout: Layout = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(checks.integers("hidden", self.hidden, low=1)))
        get_activation(self.activation)
        object.__setattr__(self, "bounds", checks.box("bounds", self.bounds))
        if not isinstance(self.pressure, bool):
            checks.fail("pressure", "true or false", self.pressure)
        n = self.n_outputs
        scale = self.output_scale
        if checks.is_real(scale) and not self.pressure:
            scale = (scale, scale)
        if not isinstance(scale, (tuple, list)) or len(scale) != n:
            checks.fail("output_scale", "three positive numbers (u, v, p)" if self.pressure else
                        "a positive number or two", scale)
        object.__setattr__(self, "output_scale", tuple(checks.real("output_scale", s, low=0.0, low_open=True) for s in scale))
        checks.choice("dtype", self.dtype, DTYPES)
        object.__setattr__(self, "_layout", mlp_layout((3,) + self.hidden + (n,)))

    @property
    def n_layers(self):
        """Number of weight matrices (hidden layers + output layer)."""
        return len(self.hidden) + 1

    @property
    def n_outputs(self):
        """2 (u, v), or 3 (u, v, p) with ``pressure``."""
        return 3 if self.pressure else 2

    def to_dict(self):
        """Plain JSON-able description; :meth:`from_dict` inverts it exactly (``pressure`` only when set,
        so that the dicts of networks without it are those of every earlier version)."""
        d = {
            "hidden": list(self.hidden),
            "activation": self.activation,
            "bounds": [list(b) for b in self.bounds],
            "output_scale": list(self.output_scale),
            "dtype": self.dtype,
        }
        if self.pressure:
            d["pressure"] = True
        return d

    @classmethod
    def from_dict(cls, d):
        known = {"hidden", "activation", "bounds", "output_scale", "dtype", "pressure"}
        unknown = set(d) - known
        if unknown:
            checks.fail("architecture", f"only the keys {sorted(known)}", sorted(unknown))
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})


def init_params(arch, rng=None, init="glorot_normal"):
    """A new flat parameter vector: Glorot weights, zero biases (:func:`glorot`)."""
    return glorot(arch.layout, arch.np_dtype, rng, init)


def glorot(layout, dtype, rng=None, init="glorot_normal", zero=()):
    """A new flat vector of ``layout``: Glorot weights, zero biases, zero arrays named in ``zero``.

    Glorot & Bengio (2010): ``glorot_normal`` draws W ~ N(0, 2 / (fan_in + fan_out)),
    ``glorot_uniform`` draws W ~ U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).
    Draws are made in float64 from ``rng`` (a ``numpy.random.Generator`` or an int
    seed) in layout order, then cast, so float32 and float64 models with the same
    seed start from the same numbers.
    """
    checks.choice("init", init, INITS)
    if rng is None or checks.is_int(rng):
        rng = np.random.default_rng(rng)
    checks.generator("rng", rng)
    flat = np.zeros(layout.size, dtype=dtype)
    for e in layout.entries:
        if e.name.startswith("W") and e.name not in zero:
            fan_out, fan_in = e.shape
            if init == "glorot_normal":
                w = rng.normal(0.0, math.sqrt(2.0 / (fan_in + fan_out)), size=e.shape)
            else:
                a = math.sqrt(6.0 / (fan_in + fan_out))
                w = rng.uniform(-a, a, size=e.shape)
            flat[e.offset : e.offset + e.size] = w.ravel()
    return flat
