"""The ``pinnlite`` command line."""

import argparse
import sys


def _example(args):
    """Evaluate the loss and its gradient on exact plane waves, and check the gradient."""
    import time

    import numpy as np

    from . import physics
    from .model import ElasticPINN2D
    from .problem import Material, PointSets
    from .testing import check_grads

    rng = np.random.default_rng(args.seed)
    lam, mu, rho = 2.0, 1.0, 1.0
    X = rng.uniform(0, 1, (args.points, 3))
    sensors = rng.uniform(0, 1, (args.points // 8, 3))
    waves = lambda Y: (physics.plane_wave(Y, "P", lam, mu, rho, 1.0, (1, 0), 2 * np.pi)  # noqa: E731
                       + physics.plane_wave(Y, "S", lam, mu, rho, 1.0, (0, 1), 2 * np.pi))[0]
    points = PointSets(collocation=X, data=sensors, data_values=waves(sensors))
    model = ElasticPINN2D([32, 32, 32], rng=rng)
    material = Material(lam=4.0, mu=0.5, rho=rho)
    t0 = time.perf_counter()
    res = model.loss_and_grad(points, material)
    dt = time.perf_counter() - t0
    print(f"model: {model}")
    print(f"loss terms: " + ", ".join(f"{k} = {v:.6g}" for k, v in res.terms.items()))
    print(f"total = {res.total:.6g}, |grad| = {np.linalg.norm(res.grad):.6g}, "
          f"dL/dlam = {res.grad_material['lam']:.6g}, dL/dmu = {res.grad_material['mu']:.6g}")
    f = lambda p: model.__class__.from_arch(model.arch, p).loss_and_grad(points, material, need_grad=False).total  # noqa: E731
    err = check_grads(f, model.params, res.grad, directions=3, rng=rng)
    print(f"gradient vs finite differences along 3 random directions: max relative error {err:.2e}")
    print(f"first evaluation (including compilation on a cold cache): {dt:.2f} s")
    return 0


def build_parser():
    ap = argparse.ArgumentParser(prog="pinnlite", description="Physics-informed neural networks for 2D elastic waves.")
    sub = ap.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("example", help=_example.__doc__)
    ex.add_argument("--points", type=int, default=2048, help="collocation points (default 2048)")
    ex.add_argument("--seed", type=int, default=0)
    ex.set_defaults(func=_example)
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
