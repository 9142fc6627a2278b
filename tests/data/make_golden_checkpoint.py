"""Write the golden training checkpoint ``golden_training_v2_0.pinnlite`` and its sidecar JSON.

The file is committed: ``tests/test_checkpoint.py`` checks that every later
version of pinnlite still reads it (``checkpoint.read``, ``Trainer.load_checkpoint``,
``ElasticPINN2D.load``, ``checkpoint.predict``) and gets the numbers the
sidecar holds. Run it again only when the format version changes (and name the
new file after the new version)::

    python tests/data/make_golden_checkpoint.py

``golden_training_v1_0.*`` were written by this script while pinnlite wrote
format 1.0 (up to commit 3789f5f); they are kept, and checked the same way.

A tiny fixed run: plane waves (lam 2, mu 1, rho 1) at 60 sensors, a [6, 6]
float64 network, Adam for 4 epochs on 40 collocation points, one thread, seed 0.
"""

import json
import math
import os
import sys

import numpy as np

from pinnlite.io import checkpoint, container
from pinnlite.training.config import Config
from pinnlite.training.problems import plane_waves
from pinnlite.training.trainer import Trainer

HERE = os.path.dirname(os.path.abspath(__file__))
NAME = "golden_training_v2_0"
EPOCHS = 4


def config():
    cfg = Config(name="golden")
    cfg.architecture.hidden = [6, 6]
    cfg.training.epochs = EPOCHS
    cfg.training.seed = 0
    cfg.training.threads = 1
    cfg.optimizer.lr = 1e-2
    cfg.material.lam, cfg.material.mu = 3.0, 0.7
    cfg.sampling.n_collocation = 40
    return cfg.validate()  # no checkpoint directory: resuming the file writes nothing


def main(out_dir=HERE):
    assert container.VERSION == (2, 0), f"pinnlite writes format {container.VERSION}: rename NAME after it"
    data, _ = plane_waves(2.0, 1.0, 1.0, n_sensors=60, rng=0)
    trainer = Trainer(None, config())
    trainer.train(data)
    path = os.path.join(out_dir, NAME + ".pinnlite")
    checkpoint.save_file(path, trainer.to_tree(), checkpoint.meta())

    # fixed points: the corners of the domain's box and a few inside
    grid = [[x, y, t] for x in (0.0, 1.0) for y in (0.0, 1.0) for t in (0.0, 1.0)]
    points = np.array(grid + [[0.5, 0.5, 0.5], [0.25, 0.75, 0.1], [0.9, 0.2, 0.6]])
    again = Trainer.load_checkpoint(path=path)
    again.config = again.config.replace(**{"training.epochs": EPOCHS + 2})
    again.train()
    sidecar = {
        "file": NAME + ".pinnlite",
        "epoch": trainer.state.epoch,
        "material": trainer.material,
        "final_loss": trainer.metrics.final_loss(),
        "points": points.tolist(),
        "displacements": checkpoint.predict(path, points).tolist(),
        "resumed_epochs": EPOCHS + 2,
        "resumed_loss": again.metrics.final_loss(),
    }
    assert all(math.isfinite(v) for v in np.ravel(sidecar["displacements"]))
    with open(os.path.join(out_dir, NAME + ".json"), "w") as f:
        json.dump(sidecar, f, indent=1)
        f.write("\n")
    return path


if __name__ == "__main__":
    print(main(*sys.argv[1:]))
