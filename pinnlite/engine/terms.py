"""What the loss is evaluated on: point sets, material parameters and loss weights.

Loss terms (each a mean over its points of a squared 2-vector residual):

================== =================================== ================ ==========
term               residual                            points field     channels
================== =================================== ================ ==========
``pde``            rho u_tt - div sigma - f            ``collocation``  8
``boundary``       u - g (Dirichlet)                   ``boundary``     1
``traction``       sigma . n - g                       ``traction``     4
``initial``        u(., t0) - u0                       ``initial``      1
``initial_velocity`` u_t(., t0) - v0                   ``initial_velocity`` 4
``data``           u - u_obs (sensor displacements)    ``data``         1
================== =================================== ================ ==========

A term whose points field is ``None`` is not part of the problem. A term whose
points are given but empty, while its weight is non-zero, is an error.
"""

from dataclasses import dataclass, fields

import numpy as np

from pinnlite.core import checks
from pinnlite.core.field_arch import FieldArchitecture
from pinnlite.errors import InputError

TERMS = ("pde", "boundary", "traction", "initial", "initial_velocity", "data")
CHANNELS = (8, 1, 4, 1, 4, 1)  # channels each term needs: value (+ x, y, t) (+ xx, yy, tt, xy)
MATERIAL_NAMES = ("lam", "mu", "rho")
PENALTIES = ("none", "smooth", "tv")  # penalties of a material map (pinnlite.engine.field.penalty)

# points field of each term, and its companion (n, 2) arrays (None: optional)
_COMPANIONS = {
    "collocation": ("body_force",),
    "boundary": ("boundary_values",),
    "traction": ("traction_normals", "traction_values"),
    "initial": ("initial_values",),
    "initial_velocity": ("initial_velocity_values",),
    "data": ("data_values",),
}
_POINTS_OF_TERM = dict(zip(TERMS, _COMPANIONS))
POINTS_FIELD = dict(_POINTS_OF_TERM)  # term -> its points field of PointSets
TARGET_FIELD = {t: f + "_values" for t, f in POINTS_FIELD.items() if t != "pde"}  # term -> its target field
_OPTIONAL = {"body_force"}


@dataclass(frozen=True)
class Material:
    """Lamé parameters and density, each with a flag saying whether it is trained.

    Requires mu > 0, rho > 0 and lam + 2 mu > 0 (positive P and S wave speeds).
    """

    lam: float
    mu: float
    rho: float = 1.0
    optimize_lam: bool = True
    optimize_mu: bool = True
    optimize_rho: bool = False

    def __post_init__(self):
        for name in MATERIAL_NAMES:
            object.__setattr__(self, name, checks.real(name, getattr(self, name)))
            flag = "optimize_" + name
            object.__setattr__(self, flag, checks.boolean(flag, getattr(self, flag)))
        checks.real("mu", self.mu, low=0.0, low_open=True)
        checks.real("rho", self.rho, low=0.0, low_open=True)
        if self.lam + 2 * self.mu <= 0:
            raise InputError(
                f"lam: expected lam + 2*mu > 0, found lam={self.lam!r}, mu={self.mu!r}"
            )

    @property
    def free(self):
        """Names of the trained parameters, in the order lam, mu, rho."""
        return tuple(n for n in MATERIAL_NAMES if getattr(self, "optimize_" + n))

    def values(self):
        return {n: getattr(self, n) for n in MATERIAL_NAMES}


@dataclass(frozen=True)
class MaterialField:
    """Maps of lam and/or mu: the field network and its penalty (:mod:`pinnlite.engine.field`).

    ``arch`` is a :class:`~pinnlite.core.field_arch.FieldArchitecture`, ``params``
    its flat vector; the mapped parameters are ``arch.names``, the others come
    from the :class:`Material` as constants. ``penalty`` ("none", "smooth", "tv")
    is added to the total with weight ``penalty_weight`` (>= 0).
    """

    arch: object
    params: np.ndarray
    penalty: str = "none"
    penalty_weight: float = 0.0

    def __post_init__(self):
        if not isinstance(self.arch, FieldArchitecture):
            checks.fail("field.arch", "a FieldArchitecture", self.arch)
        checks.array("field.params", self.params, (self.arch.n_params,), self.arch.np_dtype)
        checks.choice("field.penalty", self.penalty, PENALTIES)
        object.__setattr__(self, "penalty_weight", checks.real("field.penalty_weight", self.penalty_weight, low=0.0))


@dataclass(frozen=True)
class LossWeights:
    """Weight of each loss term in the total (finite, >= 0)."""

    pde: float = 1.0
    boundary: float = 1.0
    traction: float = 1.0
    initial: float = 1.0
    initial_velocity: float = 1.0
    data: float = 1.0

    def __post_init__(self):
        for f in fields(self):
            object.__setattr__(self, f.name, checks.real(f"weights.{f.name}", getattr(self, f.name), low=0.0))

    @classmethod
    def coerce(cls, weights):
        """Accept None (all ones), a LossWeights or a dict of term -> weight."""
        if weights is None:
            return cls()
        if isinstance(weights, cls):
            return weights
        if isinstance(weights, dict):
            unknown = set(weights) - set(TERMS)
            if unknown:
                raise InputError(f"weights: unknown terms {sorted(unknown)}; known: {list(TERMS)}")
            return cls(**weights)
        raise InputError(f"weights: expected LossWeights, dict or None, found {weights!r}")

    def as_tuple(self):
        return tuple(getattr(self, t) for t in TERMS)

    def total(self, terms, penalty=0.0, penalty_weight=0.0):
        """The total loss ``sum(weight * term) + penalty_weight * penalty`` of a dict term -> value (in
        ``terms``' order) and a material field's unweighted penalty.

        The one place the total is formed: the engine calls it on one process's
        terms, the MPI objective on the terms summed over ranks.
        """
        return float(sum(getattr(self, t) * v for t, v in terms.items())) + penalty_weight * penalty


@dataclass(frozen=True)
class PointSets:
    """The points of each loss term and their targets, in physical units.

    Every points array has shape (n, 3) with columns (x, y, t); every companion
    array has shape (n, 2). All arrays must have the model's dtype and be finite.
    ``traction_normals`` are outward unit normals (nx, ny).
    """

    collocation: np.ndarray = None
    body_force: np.ndarray = None
    boundary: np.ndarray = None
    boundary_values: np.ndarray = None
    traction: np.ndarray = None
    traction_normals: np.ndarray = None
    traction_values: np.ndarray = None
    initial: np.ndarray = None
    initial_values: np.ndarray = None
    initial_velocity: np.ndarray = None
    initial_velocity_values: np.ndarray = None
    data: np.ndarray = None
    data_values: np.ndarray = None

    def present(self):
        """The terms whose points are given, in :data:`TERMS` order."""
        return tuple(t for t in TERMS if getattr(self, _POINTS_OF_TERM[t]) is not None)

    def count(self, term):
        pts = getattr(self, _POINTS_OF_TERM[term])
        return 0 if pts is None else pts.shape[0]


def check_points(points, dtype, weights):
    """Validate every array of ``points`` against ``dtype`` and the loss ``weights``."""
    if not isinstance(points, PointSets):
        checks.fail("points", "a PointSets", points)
    dtype = np.dtype(dtype)
    wt = dict(zip(TERMS, weights.as_tuple()))
    for term, field in _POINTS_OF_TERM.items():
        pts = getattr(points, field)
        companions = _COMPANIONS[field]
        if pts is None:
            for c in companions:
                if getattr(points, c) is not None:
                    raise InputError(f"{c}: given without the points field {field!r}")
            continue
        checks.array(field, pts, (None, 3), dtype)
        n = pts.shape[0]
        for c in companions:
            arr = getattr(points, c)
            if arr is None and c in _OPTIONAL:
                continue
            if arr is None:
                raise InputError(f"{c}: expected an array of shape ({n}, 2) for the {n} {field} points, found None")
            checks.array(c, arr, (n, 2), dtype)
        if term == "traction":
            norm = np.hypot(points.traction_normals[:, 0], points.traction_normals[:, 1])
            tol = 1e-6 if dtype == np.float64 else 1e-4
            if n and np.abs(norm - 1).max() > tol:
                i = int(np.argmax(np.abs(norm - 1)))
                raise InputError(f"traction_normals: expected unit vectors, found norm {norm[i]!r} at row {i}")
        if n == 0 and wt[term] != 0:
            raise InputError(
                f"{field}: the {term!r} term has weight {wt[term]} but no points; "
                f"give points or set weights.{term} = 0"
            )


def check_material(material, arch=None):
    """``material`` must be a Material; with a pressure output (``arch.pressure``) its lam must be
    positive, since the mixed form holds p / lam."""
    if not isinstance(material, Material):
        checks.fail("material", "a Material", material)
    if arch is not None and arch.pressure and not material.lam > 0:
        checks.fail("material.lam", "> 0 for a network with a pressure output (the mixed form divides by it)",
                    material.lam)
