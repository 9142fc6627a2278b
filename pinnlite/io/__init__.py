"""Files: the checkpoint container format and checkpoint files.

NumPy and msgpack only (no Numba), so checkpoints can be read, checked and used
for predictions anywhere.

- :mod:`~pinnlite.io.container`: the public interface of the versioned,
  checksummed MessagePack container (specification in ``docs/FORMAT.md``;
  writes version 2.0, reads 2.x and 1.x), built from :mod:`~pinnlite.io.spec`
  (its constants), :mod:`~pinnlite.io.writer` (encoding, in one pass),
  :mod:`~pinnlite.io.header` (decoding a header within the format's limits),
  :mod:`~pinnlite.io.reader` (2.x: the head, then only the arrays asked for,
  with every check), :mod:`~pinnlite.io.lazy` (an open file whose arrays are
  read on first access), :mod:`~pinnlite.io.reader_v1` (1.x files, read
  whole), :mod:`~pinnlite.io.sources` (bytes, streams and paths, read at
  offsets) and :mod:`~pinnlite.io.hashing` (CRC-32 and SHA-256 beside the
  reads and writes);
- :mod:`~pinnlite.io.atomic`: the one atomic file write (temporary file,
  fsync, rename) and the cleanup of what interrupted saves leave;
- :mod:`~pinnlite.io.errors`: one error class per way a file can be wrong;
- :mod:`~pinnlite.io.checkpoint`: training checkpoints and model files, checkpoint
  directories (the newest good checkpoint, retention), the numba-free
  predictor (which reads only the weights).
"""
