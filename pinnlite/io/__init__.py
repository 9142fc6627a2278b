"""Files: the checkpoint container format and checkpoint files.

NumPy and msgpack only (no Numba), so checkpoints can be read, checked and used
for predictions anywhere.

- :mod:`~pinnlite.io.container`: the public interface of the versioned,
  checksummed MessagePack container (specification in ``docs/FORMAT.md``),
  built from :mod:`~pinnlite.io.spec` (its constants),
  :mod:`~pinnlite.io.writer` (encoding), :mod:`~pinnlite.io.reader` (decoding
  and every check), :mod:`~pinnlite.io.sources` (bytes, streams and paths into
  an aligned buffer) and :mod:`~pinnlite.io.hashing` (SHA-256 and CRC-32 on
  worker threads);
- :mod:`~pinnlite.io.atomic`: the one atomic file write (temporary file,
  fsync, rename) and the cleanup of what interrupted saves leave;
- :mod:`~pinnlite.io.errors`: one error class per way a file can be wrong;
- :mod:`~pinnlite.io.checkpoint`: training checkpoints and model files, checkpoint
  directories, the numba-free predictor.
"""
