"""``TrainingData``: what a user measured and knows, in physical units.

Every array is float64 (points (n, 3) with columns x, y, t; values (n, 2)).
Only the domain is required; each other group is optional:

================================ ==================================================
``domain``                       ((x0, x1), (y0, y1), (t0, t1)) space-time box
``collocation``                  explicit PDE points (else sampled from the config)
``body_force``                   f at the explicit collocation points
``boundary_points/_values``      Dirichlet displacement on the boundary
``traction_points/_normals/_values`` traction sigma . n with outward unit normals
``initial_points``               points at t0, with ``initial_displacement`` and/or
                                 ``initial_velocity``
``sensor_points/_values``        observed displacements (the data term)
``truth``                        known (lam, mu, rho) (mu, rho > 0, lam > -mu), for reports and plots only
``truth_map_x/_y``, ``truth_map`` known maps of a heterogeneous body: grid
                                 coordinates (nx,), (ny,) (increasing) and
                                 (3, ny, nx) values of lam, mu, rho (reports only)
================================ ==================================================

Every point of every set must lie in the domain, and initial points at t0,
within :data:`DOMAIN_TOLERANCE` of each side's length: anything else is an
:class:`~pinnlite.errors.InputError` naming the set, the row, the value and the
domain (a point outside is almost always a unit or column mix-up).

``TrainingData.from_npz(path)`` reads a NumPy ``.npz`` file with exactly these
keys (``domain`` of shape (3, 2), ``truth`` of shape (3,)); ``save_npz`` writes
one.
"""

import contextlib
import zipfile
import zlib
from dataclasses import dataclass, fields

import numpy as np

from pinnlite.core import checks
from pinnlite.errors import InputError
from pinnlite.engine.terms import PointSets

_ZIP_MAGIC, _NPY_MAGIC = b"PK", b"\x93NUMPY"
# what np.load and reading an archive's members raise on a damaged file (EOFError: an empty or cut member)
_UNREADABLE = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


@contextlib.contextmanager
def _readable(path):
    """Errors of opening or reading an ``.npz`` file as the InputError that names it."""
    try:
        yield
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"data: file {str(path)!r} not found") from None
    except _UNREADABLE as e:
        raise InputError(f"data: {str(path)!r} is not a readable .npz file ({type(e).__name__}: {e})") from None


# key -> number of columns (None: special shape)
_ARRAYS = {
    "collocation": 3,
    "body_force": 2,
    "boundary_points": 3,
    "boundary_values": 2,
    "traction_points": 3,
    "traction_normals": 2,
    "traction_values": 2,
    "initial_points": 3,
    "initial_displacement": 2,
    "initial_velocity": 2,
    "sensor_points": 3,
    "sensor_values": 2,
}
# companion arrays: they need the points array of their group and its row count
_GROUPS = {
    "collocation": ("body_force",),
    "boundary_points": ("boundary_values",),
    "traction_points": ("traction_normals", "traction_values"),
    "initial_points": ("initial_displacement", "initial_velocity"),
    "sensor_points": ("sensor_values",),
}
_REQUIRED = {"boundary_values", "traction_normals", "traction_values", "sensor_values"}
# how far (relative to the side of the domain) a point may lie outside it: rounding only
DOMAIN_TOLERANCE = 1e-6


@dataclass
class TrainingData:
    """Measured data and known conditions of one inverse problem (see the module docstring)."""

    domain: tuple
    collocation: np.ndarray = None
    body_force: np.ndarray = None
    boundary_points: np.ndarray = None
    boundary_values: np.ndarray = None
    traction_points: np.ndarray = None
    traction_normals: np.ndarray = None
    traction_values: np.ndarray = None
    initial_points: np.ndarray = None
    initial_displacement: np.ndarray = None
    initial_velocity: np.ndarray = None
    sensor_points: np.ndarray = None
    sensor_values: np.ndarray = None
    truth: tuple = None
    truth_map_x: np.ndarray = None
    truth_map_y: np.ndarray = None
    truth_map: np.ndarray = None

    def __post_init__(self):
        self.domain = checks.box("domain", self.domain)
        for key, cols in _ARRAYS.items():
            a = getattr(self, key)
            if a is None:
                continue
            if not isinstance(a, np.ndarray) or a.dtype.kind not in "fi" or a.ndim != 2 or a.shape[1] != cols:
                checks.fail(key, f"a float array of shape (n, {cols})", a)
            setattr(self, key, checks.array(key, np.ascontiguousarray(a, dtype=np.float64), (None, cols), np.float64))
        for points, companions in _GROUPS.items():
            P = getattr(self, points)
            for comp in companions:
                arr = getattr(self, comp)
                if P is None and arr is not None:
                    raise InputError(f"{comp}: given without {points}")
                if P is None:
                    continue
                if (arr is None and comp in _REQUIRED) or (arr is not None and arr.shape[0] != P.shape[0]):
                    checks.fail(comp, f"an array of shape ({P.shape[0]}, 2) for the {P.shape[0]} {points}", arr)
        for key in _GROUPS:
            self._check_inside(key)
        if self.initial_points is not None and self.initial_displacement is None and self.initial_velocity is None:
            raise InputError("initial_points: given without initial_displacement or initial_velocity")
        if self.traction_normals is not None:
            norm = np.hypot(self.traction_normals[:, 0], self.traction_normals[:, 1])
            if norm.size and np.abs(norm - 1).max() > 1e-6:
                i = int(np.argmax(np.abs(norm - 1)))
                raise InputError(f"traction_normals: expected unit vectors, found norm {float(norm[i])!r} in row {i}")
        if self.truth is not None:
            try:
                t = np.asarray(self.truth, dtype=np.float64)
            except (TypeError, ValueError):
                t = np.full(1, np.nan)
            if t.shape != (3,) or not np.isfinite(t).all():
                raise InputError(f"truth: expected (lam, mu, rho), found {self.truth!r}")
            lam, mu, rho = (float(v) for v in t)
            for name, value, solid, rule in (("mu", mu, mu > 0, "> 0"), ("rho", rho, rho > 0, "> 0"),
                                             ("lam", lam, lam + mu > 0, f"> -mu = {-mu!r}")):
                if not solid:  # the rule of pinnlite.simulate.Medium: a positive-definite elastic solid
                    raise InputError(f"truth: expected (lam, mu, rho) of an elastic solid (mu > 0, rho > 0, "
                                     f"lam + mu > 0), found {name} = {value!r} (needs {rule}) in {self.truth!r}")
            self.truth = tuple(float(v) for v in t)
        self._check_truth_map()

    def _check_truth_map(self):
        parts = (self.truth_map_x, self.truth_map_y, self.truth_map)
        if all(p is None for p in parts):
            return
        if any(p is None for p in parts):
            raise InputError("truth_map: expected truth_map_x, truth_map_y and truth_map together, found "
                             + ", ".join(n for n, p in zip(("truth_map_x", "truth_map_y", "truth_map"), parts) if p is not None))
        for name in ("truth_map_x", "truth_map_y"):
            a = checks.array(name, np.ascontiguousarray(getattr(self, name), dtype=np.float64), (None,), np.float64)
            if a.size < 2 or not np.all(np.diff(a) > 0):
                checks.fail(name, "at least 2 increasing coordinates", a)
            setattr(self, name, a)
        shape = (3, self.truth_map_y.size, self.truth_map_x.size)
        m = checks.array("truth_map", np.ascontiguousarray(self.truth_map, dtype=np.float64), shape, np.float64)
        if not (m[1] > 0).all() or not (m[2] > 0).all():
            checks.fail("truth_map", "mu > 0 and rho > 0 everywhere", "a value <= 0")
        self.truth_map = m

    def truth_at(self, points):
        """Dict lam, mu, rho -> (m,) of the true maps at points (m, 2), bilinear; None without maps.

        Points outside the map's grid take the value of its nearest edge.
        """
        if self.truth_map is None:
            return None
        P = np.asarray(points, dtype=np.float64)
        gx, gy = self.truth_map_x, self.truth_map_y
        x = np.clip(P[:, 0], gx[0], gx[-1])
        y = np.clip(P[:, 1], gy[0], gy[-1])
        i = np.clip(np.searchsorted(gx, x) - 1, 0, gx.size - 2)
        j = np.clip(np.searchsorted(gy, y) - 1, 0, gy.size - 2)
        fx = (x - gx[i]) / (gx[i + 1] - gx[i])
        fy = (y - gy[j]) / (gy[j + 1] - gy[j])
        m = self.truth_map
        v = ((1 - fx) * (1 - fy) * m[:, j, i] + fx * (1 - fy) * m[:, j, i + 1]
             + (1 - fx) * fy * m[:, j + 1, i] + fx * fy * m[:, j + 1, i + 1])
        return dict(zip(("lam", "mu", "rho"), v))

    def _check_inside(self, key):
        """Raise unless every row of the point set ``key`` lies in the domain (initial points: at t0).

        A point outside the domain is almost always a unit or column mix-up (mm for m,
        x and t swapped), which would otherwise train silently to a wrong answer.
        """
        P = getattr(self, key)
        if P is None or not len(P):
            return
        for axis, name in enumerate("xyt"):
            lo, hi = self.domain[axis]
            tol = DOMAIN_TOLERANCE * (hi - lo)
            if key == "initial_points" and name == "t":
                lo = hi = self.domain[2][0]
            bad = (P[:, axis] < lo - tol) | (P[:, axis] > hi + tol)
            if bad.any():
                i = int(np.argmax(bad))
                rule = (f"initial points at t = {lo!r}, the initial time" if lo == hi else
                        "points inside the domain " + ", ".join(f"{n} in [{a!r}, {b!r}]"
                                                               for n, (a, b) in zip("xyt", self.domain)))
                raise InputError(f"{key}: expected {rule}, found {name} = {float(P[i, axis])!r} in row {i} "
                                 f"({int(bad.sum())} of {len(P)} rows outside, tolerance {tol:.3g})")

    # ------------------------------------------------------------------ files

    @classmethod
    def from_npz(cls, path):
        """Read an ``.npz`` file with the keys of the module docstring (``domain`` required)."""
        with _readable(path):
            with open(path, "rb") as f:
                start = f.read(len(_NPY_MAGIC))
            if not start.startswith((_ZIP_MAGIC, _NPY_MAGIC)):  # numpy would call it pickled data
                found = "is empty" if not start else f"starts with {start!r}"
                raise InputError(f"data: {str(path)!r} is not an .npz archive (it {found}; an .npz file starts "
                                 "with b'PK'); write one with TrainingData.save_npz")
            archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):  # a .npy file loads as one bare array
            raise InputError(f"data: expected an .npz archive of named arrays, found a single array in {str(path)!r}")
        with archive, _readable(path):
            keys = set(archive.files)
            known = set(_ARRAYS) | {"domain", "truth", "truth_map_x", "truth_map_y", "truth_map"}
            unknown = keys - known
            if unknown:
                raise InputError(f"data: unknown keys {sorted(unknown)} in {str(path)!r}; known keys: {sorted(known)}")
            if "domain" not in keys:
                raise InputError(f"data: missing key 'domain' (shape (3, 2)) in {str(path)!r}")
            kwargs = {k: archive[k] for k in keys}
        return cls(**kwargs)

    def to_arrays(self):
        """Dict key -> array of the present fields (the ``.npz`` layout)."""
        out = {"domain": np.asarray(self.domain, dtype=np.float64)}
        for key in _ARRAYS:
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.truth is not None:
            out["truth"] = np.asarray(self.truth, dtype=np.float64)
        if self.truth_map is not None:
            out.update(truth_map_x=self.truth_map_x, truth_map_y=self.truth_map_y, truth_map=self.truth_map)
        return out

    @classmethod
    def from_arrays(cls, arrays):
        """Inverse of :meth:`to_arrays`."""
        return cls(**arrays)

    def save_npz(self, path):
        np.savez(path, **self.to_arrays())

    # ------------------------------------------------------------------ use

    def n_sensor_values(self):
        """How many values the sensors hold (two per sensor; 0 without sensors)."""
        return 0 if self.sensor_values is None else int(self.sensor_values.size)

    def displacement_scale(self):
        """RMS of the known displacements (sensors, else boundary, else initial); 1 if none."""
        for key in ("sensor_values", "boundary_values", "initial_displacement"):
            a = getattr(self, key)
            if a is not None and a.size:
                rms = float(np.sqrt(np.mean(a * a)))
                if rms > 0:
                    return rms
        return 1.0

    def point_sets(self, collocation, dtype, body_force=None):
        """The engine's :class:`PointSets` for ``collocation`` points, cast to ``dtype``."""
        cast = lambda a: None if a is None else np.ascontiguousarray(a, dtype=dtype)  # noqa: E731
        has_u0 = self.initial_displacement is not None
        has_v0 = self.initial_velocity is not None
        return PointSets(
            collocation=cast(collocation),
            body_force=cast(body_force),
            boundary=cast(self.boundary_points),
            boundary_values=cast(self.boundary_values),
            traction=cast(self.traction_points),
            traction_normals=cast(self.traction_normals),
            traction_values=cast(self.traction_values),
            initial=cast(self.initial_points) if has_u0 else None,
            initial_values=cast(self.initial_displacement),
            initial_velocity=cast(self.initial_points) if has_v0 else None,
            initial_velocity_values=cast(self.initial_velocity),
            data=cast(self.sensor_points),
            data_values=cast(self.sensor_values),
        )

    def __eq__(self, other):
        if not isinstance(other, TrainingData):
            return NotImplemented
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
                if a is None or b is None or not np.array_equal(a, b):
                    return False
            elif a != b:
                return False
        return True
