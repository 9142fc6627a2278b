"""A full training epoch against the loss+gradient step alone, in the same process.

The trainer's epoch (collocation handling, the step, the Adam update, the
material parametrisation, metrics, progress) is timed on the same problem as
``benchmarks/step.py`` (N collocation points, N/8 sensors, full batch) and
compared with ``engine.evaluate`` alone on all the epoch's points (with
mini-batches the epoch makes several smaller steps over the same points).
Target: epoch <= 1.1x step.

    python benchmarks/epoch.py                   # (100, 4, 4096) float64
    python benchmarks/epoch.py --config 50,3,2000 --batch 500
"""

import argparse
import io
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from step import median_ms  # noqa: E402

from pinnlite import Config, Trainer, TrainingData  # noqa: E402
from pinnlite import engine  # noqa: E402
from pinnlite.training.progress import Progress  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="100,4,4096")
    ap.add_argument("--dtype", default="float64")
    ap.add_argument("--batch", type=int, default=None, help="mini-batch size (default: full batch)")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    H, L, N = (int(v) for v in args.config.split(","))
    rng = np.random.default_rng(0)
    data = TrainingData(
        domain=((0, 1), (0, 1), (0, 1)),
        sensor_points=rng.uniform(0, 1, (N // 8, 3)),
        sensor_values=rng.standard_normal((N // 8, 2)),
    )
    cfg = Config()
    cfg.architecture.hidden = [H] * L
    cfg.architecture.dtype = args.dtype
    cfg.sampling.n_collocation = N
    cfg.training.batch_size = args.batch
    cfg.training.threads = args.threads
    cfg.training.epochs = 2
    trainer = Trainer(None, cfg, progress=Progress(10**9, stream=io.StringIO()))
    trainer.train(data)  # compile, allocate

    # the step alone, on the same points and workspace
    prep = trainer._full_prep()
    x = trainer.state.x
    n = trainer.model.arch.n_params
    grad = np.empty(n, x.dtype)
    mat = trainer.objective.material(x)
    w = trainer.weights()
    step_ms = median_ms(lambda: engine.evaluate(trainer.model.arch, x[:n], prep, mat, w, trainer._ws, grad), args.epochs)

    trainer.config = trainer.config.replace(**{"training.epochs": 2 + args.epochs})
    times = []
    trainer.add_callback(lambda tr, row: times.append(time.perf_counter()))
    t0 = time.perf_counter()
    trainer.train()
    per_epoch = np.diff([t0] + times)
    epoch_ms = 1e3 * float(np.median(per_epoch))
    steps = trainer.state.step / trainer.state.epoch
    print(f"({H}, {L}, {N}) {args.dtype}, batch {args.batch or 'full'}, threads {trainer._ws.threads}: "
          f"step {step_ms:.2f} ms, epoch {epoch_ms:.2f} ms ({steps:.0f} steps/epoch), "
          f"epoch / step over the same points = {epoch_ms / step_ms:.3f}  (target <= 1.1)")


if __name__ == "__main__":
    main()
