"""Files: the checkpoint container format and checkpoint files.

NumPy and msgpack only (no Numba), so checkpoints can be read, checked and used
for predictions anywhere.

- :mod:`~pinnlite.io.errors`: one error class per way a file can be wrong;
- :mod:`~pinnlite.io.container`: the versioned, checksummed MessagePack container
  (specification in ``docs/FORMAT.md``);
- :mod:`~pinnlite.io.checkpoint`: training checkpoints and model files, checkpoint
  directories, the numba-free predictor.
"""
