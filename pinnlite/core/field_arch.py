"""The material field's architecture: a small MLP from (x, y) to log-factors of lam and mu.

A material map is a second network, time-independent, of the spatial
coordinates only::

    xi  = s * (X - c)            the spatial part of the displacement network's map onto [-1, 1]
    h_0 = sigma(W_0 xi + b_0),   h_l = sigma(W_l h_{l-1} + b_l)
    a   = W_L h_{L-1} + b_L      one output per mapped parameter
    p(x, y) = p0 exp(a_p(x, y))  p in ``names`` (lam, mu), p0 its initial guess

so every map stays positive and starts, with the last layer zero
(:func:`init_field_params`), uniform at the guesses. Like the displacement
network's, its weights and biases are one flat vector with a :class:`Layout`
(``W0, b0, ..., WL, bL``). Numerics of the field are in
:mod:`pinnlite.engine.field`; this module has none, so that the checkpoint
reader can rebuild a field without Numba.
"""

from dataclasses import dataclass, field

from pinnlite.core import checks
from pinnlite.core.activations import get_activation
from pinnlite.core.arch import DTYPES, Layout, MlpShape, glorot, mlp_layout

FIELD_NAMES = ("lam", "mu")


@dataclass(frozen=True)
class FieldArchitecture(MlpShape):
    """Everything needed to rebuild a material field except its parameter values.

    Parameters
    ----------
    hidden : tuple of int
        Widths of the hidden layers, e.g. ``(16, 16)``.
    activation : str
        A name from :data:`pinnlite.core.activations.ACTIVATIONS`.
    bounds : ((x_lo, x_hi), (y_lo, y_hi))
        The spatial domain, mapped affinely onto [-1, 1]^2 (the displacement
        network's x and y bounds).
    names : tuple of str
        The mapped parameters, a non-empty subset of ("lam", "mu") in that order;
        output k of the network is ``a`` of ``names[k]``.
    base : tuple of float
        ``p0 > 0`` of each name: the map is ``p0 exp(a)``.
    dtype : str
        ``"float64"`` or ``"float32"``, that of the displacement network.
    """

    hidden: tuple = (16, 16)
    activation: str = "tanh"
    bounds: tuple = ((0.0, 1.0), (0.0, 1.0))
    names: tuple = FIELD_NAMES
    base: tuple = (1.0, 1.0)
    dtype: str = "float64"
    _layout: Layout = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "hidden", tuple(checks.integers("field hidden", self.hidden, low=1)))
        get_activation(self.activation)
        object.__setattr__(self, "bounds", checks.box("bounds", self.bounds, axes="xy"))
        names = tuple(self.names) if isinstance(self.names, (tuple, list)) else self.names
        if not isinstance(names, tuple) or not names or any(n not in FIELD_NAMES for n in names) \
                or list(names) != [n for n in FIELD_NAMES if n in names]:
            checks.fail("names", "a non-empty subset of ('lam', 'mu') in that order", self.names)
        object.__setattr__(self, "names", names)
        base = tuple(self.base) if isinstance(self.base, (tuple, list)) else (self.base,)
        if len(base) != len(names):
            checks.fail("base", f"{len(names)} initial values, one per name {names}", self.base)
        object.__setattr__(self, "base", tuple(checks.real(f"base[{n}]", b, low=0.0, low_open=True)
                                               for n, b in zip(names, base)))
        checks.choice("dtype", self.dtype, DTYPES)
        object.__setattr__(self, "_layout", mlp_layout((2,) + self.hidden + (len(names),)))


    def to_dict(self):
        """Plain JSON-able description; :meth:`from_dict` inverts it exactly."""
        return {"hidden": list(self.hidden), "activation": self.activation, "bounds": [list(b) for b in self.bounds],
                "names": list(self.names), "base": list(self.base), "dtype": self.dtype}

    @classmethod
    def from_dict(cls, d):
        known = {"hidden", "activation", "bounds", "names", "base", "dtype"}
        if not isinstance(d, dict) or set(d) - known:
            checks.fail("field architecture", f"a dict with only the keys {sorted(known)}", d)
        return cls(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items()})


def init_field_params(farch, rng=None, init="glorot_normal"):
    """A new flat vector of the field: Glorot hidden weights, zero biases, a zero last layer.

    The zero last layer makes ``a = 0`` everywhere: the maps start uniform at
    ``base`` (the guesses), and the first gradient reaches the last layer only
    (:func:`pinnlite.core.arch.glorot`).
    """
    return glorot(farch.layout, farch.np_dtype, rng, init, zero=(f"W{len(farch.hidden)}",))
