"""The optimised vector and the loss over it: what the optimizers of a run minimise.

A run optimises ONE flat vector ``x`` (the layout the optimizers, checkpoints
and the MPI sum all share)::

    x = [ network parameters (arch.layout, n values) | theta (one per free material parameter) ]
    theta_p = log(p / p0)            p0: the initial guess of p from config.material

in the order lam, mu, rho of the free parameters, so every material parameter
stays positive. With a material field (``config.material.field = "network"``)
the free ones of lam and mu are maps instead, and ``x`` holds the field
network's parameters where their theta would be::

    x = [ network parameters (n) | field parameters (field_arch.layout, nf) ]

(:mod:`pinnlite.core.field_arch`; the maps are ``p0 exp(a(x, y))``). The total is ``sum_t w_t L_t`` with the weights the trainer
passes (config weight x adaptive multiplier / normaliser, see
:func:`pinnlite.training.weighting.effective_weights`), and its gradient over
theta follows from the engine's gradient over p by the chain rule
``dL/dtheta_p = p dL/dp``.

Under MPI (``comm`` given) every rank evaluates its shard of the points
(:class:`Points`) and one Allreduce sums the parameter gradient, the terms and
the material gradients; the total is then formed from the summed terms by
:meth:`pinnlite.engine.terms.LossWeights.total`, the one place it is formed.
"""

import math

import numpy as np

from pinnlite import engine
from pinnlite.engine import jacobian as jacobian_module
from pinnlite.engine.terms import MATERIAL_NAMES, TERMS, LossWeights, Material, MaterialField, PointSets
from pinnlite.errors import InputError
from pinnlite.engine import physics
from pinnlite.training import distributed, resolution
from pinnlite.training.uncertainty import material_uncertainty


THETA_LIMIT = 50.0  # |log(p / p0)| beyond which the loss is inf (exp would overflow soon after)
_MEAN_GRID = 32  # the grid (per side) over which a map's reported value is its mean


def _grid(bounds):
    """(m, 2) cell centres of a _MEAN_GRID x _MEAN_GRID grid of the rectangle ``bounds``."""
    (x0, x1), (y0, y1) = bounds
    k = (np.arange(_MEAN_GRID) + 0.5) / _MEAN_GRID
    X, Y = np.meshgrid(x0 + (x1 - x0) * k, y0 + (y1 - y0) * k)
    return np.stack([X.ravel(), Y.ravel()], axis=1)


class Objective:
    """The vector ``x`` of a run and its loss.

    Parameters
    ----------
    arch : Architecture
        The network; its parameters are ``x[:arch.n_params]``.
    material : MaterialConfig
        Initial guesses (p0), which parameters are free, optional bounds.
    workspace : pinnlite.engine.Workspace
        Scratch memory and thread count of the evaluations.
    comm : mpi4py communicator, optional
        Sum every evaluation over its ranks.
    """

    def __init__(self, arch, material, workspace, comm=None, field_arch=None):
        self.arch = arch
        self.n = arch.n_params
        self.p0 = {name: float(getattr(material, name)) for name in MATERIAL_NAMES}
        self.flags = {name: bool(getattr(material, "optimize_" + name)) for name in MATERIAL_NAMES}
        self.field_arch = field_arch
        self.mapped = () if field_arch is None else field_arch.names
        self.nf = 0 if field_arch is None else field_arch.n_params
        self.penalty = (getattr(material, "field_penalty", "none"), float(getattr(material, "field_penalty_weight", 0.0)))
        # the scalar theta: the free parameters that are not maps
        self.free = tuple(name for name in MATERIAL_NAMES if self.flags[name] and name not in self.mapped)
        self.mean_points = None if field_arch is None else _grid(field_arch.bounds)
        # bounds of theta = log(p / p0) for the free parameters that have them
        self.bounds = {}
        for name in self.free:
            b = getattr(material, name + "_bounds")
            if b is not None:
                self.bounds[name] = (math.log(b[0] / self.p0[name]), math.log(b[1] / self.p0[name]))
        self.workspace = workspace
        self.comm = comm

    # ---------------------------------------------------------------- the vector

    @property
    def size(self):
        """Length of ``x``: network parameters, field parameters, one theta per free scalar."""
        return self.n + self.nf + len(self.free)

    def vector(self, params, theta=None, field_params=None):
        """A new ``x`` from network parameters (n,), theta (k,) (default zeros: p = p0) and the
        field's parameters (nf,) (required with a field)."""
        theta = np.zeros(len(self.free), params.dtype) if theta is None else theta
        if self.field_arch is not None and field_params is None:
            raise InputError("field_params: expected the material field's parameters, found None")
        parts = [params] + ([] if self.field_arch is None else [field_params]) + [theta]
        return np.concatenate(parts)

    def params(self, x):
        """The network parameters of ``x`` (a view)."""
        return x[: self.n]

    def field_params(self, x):
        """The material field's parameters of ``x`` (a view; empty without a field)."""
        return x[self.n : self.n + self.nf]

    def theta(self, x):
        """The log-material parameters of ``x`` (a view), in the order of :attr:`free`."""
        return x[self.n + self.nf :]

    def field(self, x):
        """The :class:`~pinnlite.engine.terms.MaterialField` at ``x`` (None without one)."""
        if self.field_arch is None:
            return None
        return MaterialField(self.field_arch, self.field_params(x), *self.penalty)

    def values(self, x):
        """Dict lam, mu, rho in user units at ``x`` (fixed ones at their configured value).

        A mapped parameter's value is the mean of its map over a 32 x 32 grid of
        the domain (:meth:`maps` gives the map itself).
        """
        vals = self._scalars(x)
        if self.field_arch is not None:
            for name, m in self.maps(x, self.mean_points).items():
                vals[name] = float(np.mean(m))
        return vals

    def _scalars(self, x):
        """Dict lam, mu, rho of the scalar parameters (a mapped one at its guess p0)."""
        vals = dict(self.p0)
        for name, t in zip(self.free, self.theta(x)):
            vals[name] = vals[name] * math.exp(float(t))
        return vals

    def maps(self, x, points):
        """Dict mapped name -> its values (m,) at physical points (m, 2) (empty without a field)."""
        if self.field_arch is None:
            return {}
        maps = engine.material_maps(self.field(x), np.asarray(points, self.arch.np_dtype))
        return {name: m[:, 0].astype(np.float64) for name, m in maps.items()}

    def map_resolution(self, x, X, cell, x_edges, y_edges, body_force=None):
        """Dict mapped name -> :class:`~pinnlite.training.resolution.Resolution` from the points
        ``X`` (n, 3) in the cells ``cell`` (n,) between the edges (empty without a field)."""
        if self.field_arch is None:
            return {}
        X = np.asarray(X, self.arch.np_dtype)
        C = engine.channels(self.arch, self.params(x), X, 8, self.workspace)
        material = self.material(x)
        maps = engine.material_maps(self.field(x), X, material)
        if self.arch.pressure:  # the residual left is the mixed form's, the material's reach the same
            r = physics.residual_mixed_divergence(C, maps["lam"], maps["mu"], material.rho, body_force)[:, :2]
        else:
            r = physics.residual_divergence(C, maps["lam"], maps["mu"], material.rho, body_force)
        return resolution.region_resolution(C[..., :2], maps, r, cell, x_edges, y_edges, self.mapped)

    def material(self, x):
        """The :class:`~pinnlite.engine.terms.Material` at ``x`` (a mapped parameter at its guess:
        the engine takes it from the field)."""
        v = self._scalars(x)
        return Material(v["lam"], v["mu"], v["rho"], *(self.flags[n] for n in MATERIAL_NAMES))

    def project(self, x):
        """Clip theta into its bounds, in place; the names of the parameters that moved (empty: none)."""
        theta, moved = self.theta(x), []
        for i, name in enumerate(self.free):
            if name in self.bounds:
                lo, hi = self.bounds[name]
                v = float(theta[i])
                if v < lo or v > hi:
                    theta[i] = min(max(v, lo), hi)
                    moved.append(name)
        return tuple(moved)

    def decay_mask(self):
        """(size,) bool: True on the weight matrices (both networks'), False on biases and theta (AdamW's decay)."""
        field = [] if self.field_arch is None else [self.field_arch.layout.mask("W")]
        return np.concatenate([self.arch.layout.mask("W"), *field, np.zeros(len(self.free), bool)])

    def lr_scale(self, ratio):
        """(size,) learning-rate multipliers: 1 on the networks, ``ratio`` on theta."""
        scale = np.ones(self.size)
        scale[self.n + self.nf :] = ratio
        return scale

    # ---------------------------------------------------------------- the loss

    def evaluate(self, x, prep, weights, penalty=True):
        """``(LossResult, g)``: the loss of ``x`` on the prepared points and its gradient (size,).

        ``penalty`` False leaves a material field's penalty out (the terms alone).

        Far outside the plausible range of the material (``|theta| > 50``, a factor
        e^50 from the guess) the loss is inf and the gradient NaN, so that a line
        search that tries such a point backs off instead of overflowing.
        """
        if np.any(np.abs(self.theta(x)) > THETA_LIMIT):
            return engine.LossResult(math.inf, {t: math.inf for t in prep.counts}, None, {}), np.full_like(x, np.nan)
        g = np.empty_like(x)
        mat = self.material(x)
        fgrad = g[self.n : self.n + self.nf] if self.field_arch is not None else None
        mf = self.field(x)
        if mf is not None and not penalty:
            mf = MaterialField(mf.arch, mf.params)
        res = engine.evaluate(self.arch, self.params(x), prep, mat, weights, self.workspace, g[: self.n], mf, fgrad)
        if self.comm is not None:
            res = self._allreduce(res, g[: self.n + self.nf], weights)
        vals = mat.values()
        for i, name in enumerate(self.free):
            g[self.n + self.nf + i] = vals[name] * res.grad_material[name]  # dL/dtheta = p dL/dp
        return res, g

    def _allreduce(self, res, grad, weights):
        """One evaluation's partial results summed over the ranks (``grad``: network and field
        parameters, in place; each rank's penalty is its share of the mean over all points)."""
        buf = np.concatenate([grad.astype(np.float64), [res.terms.get(t, 0.0) for t in TERMS],
                              [res.grad_material.get(m, 0.0) for m in MATERIAL_NAMES], [res.penalty]])
        total = distributed.allreduce_sum(self.comm, buf)
        n = grad.shape[0]
        grad[:] = total[:n]
        terms = {t: float(total[n + i]) for i, t in enumerate(TERMS) if t in res.terms}
        gmat = {m: float(total[n + len(TERMS) + i]) for i, m in enumerate(MATERIAL_NAMES) if m in res.grad_material}
        pen = float(total[-1])
        return engine.LossResult(weights.total(terms, pen, self.penalty[1]), terms, grad, gmat, pen,
                                 None if self.field_arch is None else grad[self.n :])

    def _constant_only(self, what):
        if self.field_arch is not None:
            raise InputError(f"{what}: not available with a material field (the residuals' Jacobian covers "
                             "constant material only)")

    def residuals(self, x, prep, weights, jacobian=True):
        """``(rho, J, blocks)``: this rank's weighted residuals (m,), ``d rho / d x`` (m, size) (None
        if not asked) and the ``(term, first, stop)`` rows of each term.

        ``|rho|^2`` summed over the ranks is the total of :meth:`evaluate`
        (:mod:`pinnlite.engine.jacobian`); theta's columns are ``p d rho / d p``.
        """
        self._constant_only("residuals")
        mat = self.material(x)
        res = jacobian_module.residuals(self.arch, self.params(x), prep, mat, weights, self.workspace, jacobian,
                                        columns=self.size)
        if not jacobian:
            return res.values, None, res.blocks
        vals = mat.values()
        J = res.jac  # the network's columns written, theta's ours to fill
        for i, name in enumerate(self.free):
            J[:, self.n + i] = vals[name] * res.dmat[:, MATERIAL_NAMES.index(name)]
        return res.values, J, res.blocks

    def value(self, x, prep, weights):
        """The total loss at ``x`` (summed over ranks), from a forward pass alone (inf as in :meth:`evaluate`)."""
        if np.any(np.abs(self.theta(x)) > THETA_LIMIT):
            return math.inf
        rho, _, _ = self.residuals(x, prep, weights, jacobian=False)
        f = float(rho @ rho)
        return f if self.comm is None else float(distributed.allreduce_sum(self.comm, np.array([f]))[0])

    def normal_equations(self, x, prep, weights):
        """``(f, g, A)`` with f = |rho|^2, g = J^T rho (size,), A = J^T J (size, size), summed over ranks.

        What a Gauss-Newton or Levenberg-Marquardt step needs: the loss, half its
        gradient and half the Gauss-Newton matrix.
        """
        rho, J, _ = self.residuals(x, prep, weights)
        A = J.T @ J
        g = J.T @ rho
        f = float(rho @ rho)
        if self.comm is not None:
            total = distributed.allreduce_sum(self.comm, np.concatenate([[f], g, A.ravel()]))
            f, g, A = float(total[0]), total[1 : 1 + self.size], total[1 + self.size :].reshape(A.shape)
        return f, g, A

    def uncertainty(self, x, prep, weights):
        """The error bars of the free material parameters at ``x`` (:mod:`pinnlite.training.uncertainty`).

        None without sensor data (or with a zero data weight) or without free parameters.
        """
        a2 = weights.data / prep.counts["data"] if "data" in prep.counts else 0.0
        if not self.free or a2 <= 0:
            return None
        rho, J, blocks = self.residuals(x, prep, weights)
        rows = next(((a, b) for t, a, b in blocks if t == "data"), (0, 0))
        Jd, rd = J[rows[0] : rows[1]], rho[rows[0] : rows[1]]
        Ad = Jd.T @ Jd
        H = Ad.copy()  # J'J = J_d'J_d + the other rows' products: each row enters one product
        for part in (J[: rows[0]], J[rows[1] :]):
            if len(part):
                H += part.T @ part
        rss, n_data = float(rd @ rd) / a2, rows[1] - rows[0]
        if self.comm is not None:
            k = self.size * self.size
            total = distributed.allreduce_sum(self.comm, np.concatenate([H.ravel(), Ad.ravel(), [rss, n_data]]))
            H, Ad = total[:k].reshape(H.shape), total[k : 2 * k].reshape(H.shape)
            rss, n_data = float(total[-2]), int(round(total[-1]))
        return material_uncertainty(H, Ad, a2, rss, n_data, range(self.n, self.size), self.values(x), self.free)

    def term_gradients(self, x, prep, normalisers):
        """Dict term -> gradient (n,) over the network of that term alone, divided by its normaliser.

        What learning-rate annealing compares (:mod:`pinnlite.training.weighting`).
        """
        grads = {}
        for term in prep.counts:
            w = LossWeights(**{t: (1.0 / normalisers[t] if t == term else 0.0) for t in TERMS})
            _, g = self.evaluate(x, engine.restrict(prep, (term,), self.arch), w, penalty=False)
            grads[term] = self.params(g)
        return grads

    def residual_norms(self, x, candidates):
        """|r(X)| (m,) of the wave equation at the float64 points ``candidates`` (m, 3), all ranks."""
        part = slice(None) if self.comm is None else distributed.shard(len(candidates), self.comm.Get_rank(), self.comm.Get_size())
        r = engine.pde_residual(self.arch, self.params(x), candidates[part].astype(self.arch.np_dtype), self.material(x),
                                field=self.field(x))
        norms = np.zeros(len(candidates))
        norms[part] = np.sqrt(np.sum(r.astype(np.float64) ** 2, axis=1))
        return norms if self.comm is None else distributed.allreduce_sum(self.comm, norms)


def ensure_finite(res, g, epoch):
    """Raise FloatingPointError unless the loss and its gradient are finite."""
    if not np.all(np.isfinite(g)) or not math.isfinite(res.total):
        raise FloatingPointError(f"epoch {epoch}: the loss or its gradient is not finite (loss {res.total})")


class Points:
    """The point sets of a run, prepared for the engine: this rank's shard, global means.

    The fixed terms (boundary, traction, initial, data) are prepared once and
    combined with each batch of collocation points. Under MPI rank r of K takes
    rows ``[r n / K, (r + 1) n / K)`` of every set and the means use the global
    counts, so the ranks' partial sums add up to the single-process values.

    Parameters
    ----------
    arch : Architecture
    data : TrainingData
    comm : mpi4py communicator, optional
    """

    def __init__(self, arch, data, comm=None):
        self.arch = arch
        self.comm = comm
        self.rank = 0 if comm is None else comm.Get_rank()
        self.size = 1 if comm is None else comm.Get_size()
        static = data.point_sets(None, arch.np_dtype)
        self.static_counts = {t: static.count(t) for t in static.present() if static.count(t)}
        self.static = engine.prepare(arch, self._shard(static), check=False)
        self._full = None  # (collocation array, its prepared points)

    def _shard(self, pts):
        """This rank's rows of every set of ``pts`` (all of them without MPI)."""
        if self.comm is None:
            return pts
        fields = {}
        for name, value in pts.__dict__.items():
            fields[name] = None if value is None else value[distributed.shard(len(value), self.rank, self.size)]
        return PointSets(**fields)

    def batch(self, collocation, force=None, idx=None):
        """Prepared points: the collocation rows ``idx`` (all when None) with the fixed terms."""
        if idx is not None:
            collocation = collocation[idx]
            force = None if force is None else force[idx]
        n_colloc = len(collocation)
        if self.comm is not None:
            part = distributed.shard(n_colloc, self.rank, self.size)
            collocation = collocation[part]
            force = None if force is None else force[part]
        dt = self.arch.np_dtype
        pde = engine.prepare(
            self.arch,
            PointSets(collocation=np.ascontiguousarray(collocation, dt),
                      body_force=None if force is None else np.ascontiguousarray(force, dt)),
            check=False,
        )
        prep = engine.combine(pde, self.static, self.arch)
        if self.comm is not None:  # means over the global point counts
            counts = dict(self.static_counts)
            if n_colloc:
                counts["pde"] = n_colloc
            prep = prep._replace(counts={t: counts[t] for t in TERMS if t in counts})
        return prep

    def full(self, collocation, force=None):
        """:meth:`batch` of every collocation point, kept while ``collocation`` is the same array."""
        if self._full is None or self._full[0] is not collocation:
            self._full = (collocation, self.batch(collocation, force))
        return self._full[1]
