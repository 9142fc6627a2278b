"""pinnlite against PyTorch and JAX on the same loss+gradient step.

The same network (tanh MLP, input normalisation, output scale), weights,
points, loss (PDE residual at N collocation points + data misfit at N/8
sensors, lam and mu free) and thread count in:

- ``pinnlite``: the engine (``engine.evaluate`` on prepared points);
- ``torch-autograd``: PyTorch eager, derivatives by nested ``autograd.grad``
  with ``create_graph=True``, then ``backward()``;
- ``torch-func``: ``torch.func``: ``vmap(jacfwd(jacrev(f)))`` per point for the
  Hessian and ``jacrev`` for the first derivatives, then ``backward()``;
- ``jax-hessian``: JAX, ``vmap(hessian(f))`` and ``value_and_grad``, under ``jit``.

Each implementation runs in its own process (so its peak RSS is its own) that
also times the NumPy floor (the three products per hidden layer on the
8-channel shapes, as in ``benchmarks/step.py``) after the steps; times are
reported as ratios to that in-process floor and, through it, to pinnlite.
Memory: "peak MB" is the process's peak RSS during setup and steps (framework
imports included); "step MB" is that peak minus the RSS just before the
implementation set up this problem's step, after a run on a tiny problem (16
points) has paid for the one-time runtime set-up (imports, JIT/LLVM, the
framework's dispatch): the memory the step itself needs, persistent buffers
and transient peaks together. "start s" is that tiny run in the fresh process
(the framework's import, JIT compilation or Numba cache loading, one step);
"first s" the set-up and first step of the real problem after it (JAX compiles
again for the new shapes). Before racing, every
implementation's loss and gradients are compared with pinnlite's (the maximum
relative difference is printed), so the race is honest. A framework that is not
installed is skipped with a message. Install them with the ``bench`` extra
(``pip install 'pinnlite[bench]'``: ``torch==2.13.0``, a CPU build, and ``jax``).

    python benchmarks/compare.py                      # all configurations, float64 and float32
    python benchmarks/compare.py --configs 100,4,4096 --dtypes float64 --threads 2
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIGS = [(50, 3, 2000), (100, 4, 4096), (100, 4, 16384)]
IMPLS = ["pinnlite", "torch-autograd", "torch-func", "jax-hessian"]
LAM, MU, RHO = 2.0, 1.0, 1.0
BOUNDS = ((0.0, 1.0), (0.0, 1.0), (0.0, 1.0))
SCALE = (1.0, 1.0)


def make_problem(H, L, N, dtype, seed=0):
    """Weights (list W0, b0, ...), collocation X (N, 3), sensors Xd (N/8, 3), data D (N/8, 2)."""
    rng = np.random.default_rng(seed)
    widths = [3] + [H] * L + [2]
    arrays = []
    for l in range(len(widths) - 1):
        fan_in, fan_out = widths[l], widths[l + 1]
        arrays.append(rng.normal(0, np.sqrt(2 / (fan_in + fan_out)), (fan_out, fan_in)).astype(dtype))
        arrays.append((0.1 * rng.standard_normal(fan_out)).astype(dtype))
    X = rng.uniform(0, 1, (N, 3)).astype(dtype)
    Xd = rng.uniform(0, 1, (N // 8, 3)).astype(dtype)
    D = rng.standard_normal((N // 8, 2)).astype(dtype)
    return arrays, X, Xd, D


# --------------------------------------------------------------------------- implementations


def impl_pinnlite(arrays, X, Xd, D, dtype, threads):
    from pinnlite import engine
    from pinnlite.core.arch import Architecture
    from pinnlite.engine.terms import LossWeights, Material, PointSets

    H = arrays[0].shape[0]
    arch = Architecture((H,) * (len(arrays) // 2 - 1), "tanh", BOUNDS, SCALE, dtype)
    flat = arch.layout.flatten(arrays, dtype)
    prep = engine.prepare(arch, PointSets(collocation=X, data=Xd, data_values=D))
    ws = engine.Workspace(threads)
    mat = Material(LAM, MU, RHO)
    grad = np.empty_like(flat)
    w = LossWeights()

    def step():
        return engine.evaluate(arch, flat, prep, mat, w, ws, grad)

    res = step()
    out = (res.total, [g.copy() for g in arch.layout.unflatten(grad)], [res.grad_material["lam"], res.grad_material["mu"]])
    return step, out


def _torch_setup(arrays, X, Xd, D, dtype, threads):
    import torch

    torch.set_num_threads(threads)
    tdt = getattr(torch, dtype)
    params = [torch.tensor(a, dtype=tdt, requires_grad=True) for a in arrays]
    lam = torch.tensor(LAM, dtype=tdt, requires_grad=True)
    mu = torch.tensor(MU, dtype=tdt, requires_grad=True)
    lo = torch.tensor([b[0] for b in BOUNDS], dtype=tdt)
    hi = torch.tensor([b[1] for b in BOUNDS], dtype=tdt)
    so = torch.tensor(SCALE, dtype=tdt)

    def net(x):
        h = (x - (hi + lo) / 2) * (2 / (hi - lo))
        n = len(params) // 2
        for l in range(n):
            h = h @ params[2 * l].T + params[2 * l + 1]
            if l < n - 1:
                h = torch.tanh(h)
        return h * so

    return torch, params, lam, mu, net, torch.tensor(X), torch.tensor(Xd), torch.tensor(D)


def _torch_loss(torch, lam, mu, second, u_data, D):
    uxx, uyy, utt, uxy, vxx, vyy, vtt, vxy = second
    ru = RHO * utt - (lam + 2 * mu) * uxx - mu * uyy - (lam + mu) * vxy
    rv = RHO * vtt - mu * vxx - (lam + 2 * mu) * vyy - (lam + mu) * uxy
    return torch.mean(ru * ru + rv * rv) + torch.mean(torch.sum((u_data - D) ** 2, dim=1))


def _torch_result(loss, params, lam, mu):
    return (float(loss), [p.grad.detach().numpy().copy() for p in params], [float(lam.grad), float(mu.grad)])


def impl_torch_autograd(arrays, X, Xd, D, dtype, threads):
    torch, params, lam, mu, net, X, Xd, D = _torch_setup(arrays, X, Xd, D, dtype, threads)

    def step():
        for p in params + [lam, mu]:
            p.grad = None
        x = X.clone().requires_grad_(True)
        u = net(x)
        second = {}
        for c, name in enumerate("uv"):
            g = torch.autograd.grad(u[:, c].sum(), x, create_graph=True)[0]
            gx = torch.autograd.grad(g[:, 0].sum(), x, create_graph=True)[0]
            gy = torch.autograd.grad(g[:, 1].sum(), x, create_graph=True)[0]
            gt = torch.autograd.grad(g[:, 2].sum(), x, create_graph=True)[0]
            second[name] = (gx[:, 0], gy[:, 1], gt[:, 2], gx[:, 1])
        loss = _torch_loss(torch, lam, mu, second["u"] + second["v"], net(Xd), D)
        loss.backward()
        return loss

    loss = step()
    return step, _torch_result(loss, params, lam, mu)


def impl_torch_func(arrays, X, Xd, D, dtype, threads):
    torch, params, lam, mu, net, X, Xd, D = _torch_setup(arrays, X, Xd, D, dtype, threads)
    from torch.func import jacfwd, jacrev, vmap

    single = lambda x: net(x[None, :])[0]  # noqa: E731
    hess = vmap(jacfwd(jacrev(single)))

    def step():
        for p in params + [lam, mu]:
            p.grad = None
        Hs = hess(X)  # (N, 2, 3, 3)
        u, v = Hs[:, 0], Hs[:, 1]
        second = (u[:, 0, 0], u[:, 1, 1], u[:, 2, 2], u[:, 0, 1], v[:, 0, 0], v[:, 1, 1], v[:, 2, 2], v[:, 0, 1])
        loss = _torch_loss(torch, lam, mu, second, net(Xd), D)
        loss.backward()
        return loss

    loss = step()
    return step, _torch_result(loss, params, lam, mu)


def impl_jax_hessian(arrays, X, Xd, D, dtype, threads):
    os.environ.setdefault("XLA_FLAGS", f"--xla_force_host_platform_device_count=1 --xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} intra_op_parallelism_threads={threads}")
    import jax

    jax.config.update("jax_enable_x64", dtype == "float64")
    import jax.numpy as jnp

    lo = jnp.array([b[0] for b in BOUNDS], dtype=dtype)
    hi = jnp.array([b[1] for b in BOUNDS], dtype=dtype)
    so = jnp.array(SCALE, dtype=dtype)

    def net(params, x):
        h = (x - (hi + lo) / 2) * (2 / (hi - lo))
        n = len(params) // 2
        for l in range(n):
            h = h @ params[2 * l].T + params[2 * l + 1]
            if l < n - 1:
                h = jnp.tanh(h)
        return h * so

    def loss(params, mat, X, Xd, D):
        lam, mu = mat[0], mat[1]
        Hs = jax.vmap(jax.hessian(lambda x: net(params, x)))(X)  # (N, 2, 3, 3)
        u, v = Hs[:, 0], Hs[:, 1]
        ru = RHO * u[:, 2, 2] - (lam + 2 * mu) * u[:, 0, 0] - mu * u[:, 1, 1] - (lam + mu) * v[:, 0, 1]
        rv = RHO * v[:, 2, 2] - mu * v[:, 0, 0] - (lam + 2 * mu) * v[:, 1, 1] - (lam + mu) * u[:, 0, 1]
        return jnp.mean(ru * ru + rv * rv) + jnp.mean(jnp.sum((net(params, Xd) - D) ** 2, axis=1))

    vg = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))
    params = [jnp.asarray(a) for a in arrays]
    mat = jnp.array([LAM, MU], dtype=dtype)
    X, Xd, D = jnp.asarray(X), jnp.asarray(Xd), jnp.asarray(D)

    def step():
        out = vg(params, mat, X, Xd, D)
        jax.block_until_ready(out)
        return out

    val, (gp, gm) = step()
    return step, (float(val), [np.asarray(g) for g in gp], [float(gm[0]), float(gm[1])])


IMPL_FUNCS = {
    "pinnlite": impl_pinnlite,
    "torch-autograd": impl_torch_autograd,
    "torch-func": impl_torch_func,
    "jax-hessian": impl_jax_hessian,
}
REQUIRES = {"torch-autograd": "torch", "torch-func": "torch", "jax-hessian": "jax"}


# --------------------------------------------------------------------------- one process


def run_one(impl, H, L, N, dtype, threads, repeat, out_path):
    sys.path.insert(0, HERE)
    from step import floor_ms, median_ms

    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[var] = str(threads)
    # one-time runtime set-up (imports, Numba/LLVM, the framework's dispatch and
    # allocator) is not the memory of a step: run a tiny problem first
    t0 = time.perf_counter()
    tiny = make_problem(H, L, 16, dtype)
    IMPL_FUNCS[impl](*tiny, dtype, threads)[0]()
    warmup = time.perf_counter() - t0
    arrays, X, Xd, D = make_problem(H, L, N, dtype)
    rss0 = current_rss_mb()
    t0 = time.perf_counter()
    step, (loss, grads, gmat) = IMPL_FUNCS[impl](arrays, X, Xd, D, dtype, threads)
    first = time.perf_counter() - t0
    ms = median_ms(step, repeat)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    floor = floor_ms(H, L, N, dtype, repeat)  # after the peak was read: its arrays are not counted
    np.savez(out_path, loss=loss, gmat=np.array(gmat), *[np.asarray(g, dtype=np.float64) for g in grads])
    print(json.dumps(dict(impl=impl, step_ms=ms, floor_ms=floor, first_s=first, warmup_s=warmup, peak_rss_mb=peak, step_mb=peak - rss0)))


def current_rss_mb():
    """Resident set size now (Linux /proc; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def max_rel_diff(a, b):
    """Largest |a - b| relative to the largest |b| of each array, over loss, gradients, material."""
    worst = abs(float(a["loss"]) - float(b["loss"])) / abs(float(b["loss"]))
    worst = max(worst, float(np.max(np.abs(a["gmat"] - b["gmat"]) / np.abs(b["gmat"]))))
    k = 0
    while f"arr_{k}" in b:
        ga, gb = a[f"arr_{k}"], b[f"arr_{k}"]
        worst = max(worst, float(np.max(np.abs(ga - gb)) / np.max(np.abs(gb))))
        k += 1
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configs", nargs="*", default=[",".join(map(str, c)) for c in CONFIGS])
    ap.add_argument("--dtypes", nargs="*", default=["float64", "float32"])
    ap.add_argument("--impls", nargs="*", default=IMPLS)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--one", nargs=6, metavar=("IMPL", "H", "L", "N", "DTYPE", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        impl, H, L, N, dt, out = args.one
        run_one(impl, int(H), int(L), int(N), dt, args.threads, args.repeat, out)
        return
    import importlib.util

    tmp = tempfile.mkdtemp(prefix="pinnlite-compare-")
    print(f"threads {args.threads}; every time is the median of {args.repeat} steps; "
          "x floor = step / NumPy floor in the same process; x pinnlite = (x floor) / (pinnlite's x floor)")
    print(f"{'config':>14} {'dtype':>8} {'impl':>15} {'ms/step':>9} {'x floor':>8} {'x pinnlite':>10} "
          f"{'start s':>8} {'first s':>8} {'peak MB':>8} {'step MB':>8} {'max rel diff':>13}")
    for spec in args.configs:
        H, L, N = (int(v) for v in spec.split(","))
        for dt in args.dtypes:
            base = None
            for impl in args.impls:
                need = REQUIRES.get(impl)
                if need and importlib.util.find_spec(need) is None:
                    print(f"{spec:>14} {dt:>8} {impl:>15}  skipped: {need} is not installed (pip install 'pinnlite[bench]')")
                    continue
                out = os.path.join(tmp, f"{impl}-{H}-{L}-{N}-{dt}.npz")
                proc = subprocess.run(
                    [sys.executable, __file__, "--one", impl, str(H), str(L), str(N), dt, out,
                     "--threads", str(args.threads), "--repeat", str(args.repeat)],
                    capture_output=True, text=True,
                )
                if proc.returncode != 0:
                    print(f"{spec:>14} {dt:>8} {impl:>15}  failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode}")
                    continue
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                ratio = r["step_ms"] / r["floor_ms"]
                if impl == "pinnlite":
                    base = (ratio, np.load(out))
                diff = "" if base is None else f"{max_rel_diff(np.load(out), base[1]):13.2e}"
                rel = "" if base is None else f"{ratio / base[0]:10.2f}"
                print(f"{spec:>14} {dt:>8} {impl:>15} {r['step_ms']:9.1f} {ratio:8.2f} {rel:>10} "
                      f"{r['warmup_s']:8.2f} {r['first_s']:8.2f} {r['peak_rss_mb']:8.0f} {r['step_mb']:8.0f} {diff}")


if __name__ == "__main__":
    main()
