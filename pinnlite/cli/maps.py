"""``pinnlite demo --inclusion``: a map of mu recovered from simulated shear waves.

The data come from :mod:`pinnlite.simulate.phantoms` (a finite-difference
simulation of the phantom: an independent method); the run is ``Config()``
with what the problem states: lam and rho known, mu a map
(``material.field = "network"``) starting uniform at a guess 1.5 times the
background, the units' names. lam = 49 mu makes it take the mixed form (a
pressure output, :func:`pinnlite.training.model.uses_pressure`).
"""

from pinnlite.cli import run
from pinnlite.training.config import Config
from pinnlite.training.model import hidden_widths, uses_pressure

DEFAULT_NOISE = 0.01


def inclusion_config(phantom, epochs=None, seed=0, threads=None):
    """The configuration of a phantom's inverse problem: ``Config()`` plus what the problem states."""
    cfg = Config(name=f"demo-{phantom.name}")
    if epochs is not None:
        cfg.training.epochs = epochs
    cfg.training.seed, cfg.training.threads = seed, threads
    m = cfg.material
    m.lam, m.mu, m.rho = phantom.lam, phantom.mu_guess, phantom.rho
    m.optimize_lam, m.optimize_mu, m.optimize_rho = False, True, False
    m.field = "network"
    u = cfg.units
    u.length, u.time, u.modulus, u.density = (phantom.units[k] for k in ("length", "time", "modulus", "density"))
    return cfg.validate()


def print_report(rep, phantom):
    """The map's figures against the phantom: L2 error, means, the inclusion's centre and radius."""
    unit, length = phantom.units["modulus"], phantom.units["length"]
    print(f"mu map: relative L2 error {100 * rep.l2:.1f}% (window without a margin of {phantom.spacing:g} {length})")
    got, true = rep.background
    print(f"  background  mean {got:.4g} {unit} (truth {true:.4g}, {100 * (got / true - 1):+.1f}%)")
    for k, ((g, t), centre, off, radius, r) in enumerate(rep.discs):
        print(f"  inclusion {k + 1} mean {g:.4g} {unit} (truth {t:.4g}, {100 * (g / t - 1):+.1f}%); centre "
              f"({centre[0]:.2f}, {centre[1]:.2f}) {length}, {off:.2f} {length} off; radius {radius:.2f} {length} "
              f"(truth {r:.2f}, {100 * (radius / r - 1):+.1f}%)")
    for k, (g, t) in enumerate(rep.layers):
        print(f"  layer {k + 1}     mean {g:.4g} {unit} (truth {t:.4g}, {100 * (g / t - 1):+.1f}%)")


def cmd_demo_inclusion(args):
    from pinnlite.simulate import phantoms

    noise = DEFAULT_NOISE if args.noise is None else args.noise
    data, phantom = phantoms.make("inclusion", noise=noise, seed=args.seed)
    problem = {"kind": "phantom", "phantom": phantom.name, "noise": noise,
               "truth": {"lam": phantom.lam, "mu": phantom.mu_background, "rho": phantom.rho},
               "discs": [{"centre": list(c), "radius": r, "mu": v} for c, r, v in phantom.discs]}
    u = phantom.units
    (cx, cy), r, mu_i = phantom.discs[0]

    def rows(cfg, threads):
        a = cfg.architecture
        widths = " x ".join(map(str, hidden_widths(cfg, data.n_sensor_values())))
        return [
            ("problem", f"soft tissue ({u['length']}, {u['time']}, {u['modulus']}, {u['density']}), a shear wave "
                        f"from a point force"),
            ("truth", f"mu {phantom.mu_background:g} {u['modulus']}, a disc of mu {mu_i:g} at ({cx:g}, {cy:g}), "
                      f"radius {r:g}"),
            ("trained", f"the map mu(x, y) from {phantom.mu_guess:g}; fixed: lam = {phantom.lam:g}, "
                        f"rho = {phantom.rho:g}"),
            ("data", f"{len(data.sensor_points)} sensor values (every {phantom.spacing:g} {u['length']}), noise "
                     f"{100 * noise:g}%, seed {args.seed}"),
            ("networks", f"{'(u, p)' if uses_pressure(cfg) else 'u'}: {widths}, mu: "
                         f"{' x '.join(map(str, cfg.material.field_hidden))} ({a.activation}), "
                         f"{cfg.sampling.n_collocation} collocation points"),
            ("epochs", f"{cfg.training.epochs}, threads {threads}"),
            ("writing to", f"{args.out}/ (config, data, checkpoints, metrics, summary)"),
        ]

    trainer, status = run.run_demo(args, inclusion_config(phantom, args.epochs, args.seed, args.threads), data,
                                   problem, "pinnlite demo --inclusion: recover a map of mu from simulated shear waves",
                                   rows)
    if trainer.state is not None and trainer.state.epoch > 0:
        print_report(phantoms.report(phantom, data, lambda P: trainer.material_maps(P)["mu"]), phantom)
    return status
