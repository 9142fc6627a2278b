"""What every wing shares, with no numerics of its own.

- :mod:`~pinnlite.core.checks`: the argument checks (one vocabulary, one message format);
- :mod:`~pinnlite.core.activations`: the activation table (sigma and three derivatives);
- :mod:`~pinnlite.core.arch`: the architecture, the flat parameter layout, Glorot init;
- :mod:`~pinnlite.core.jit`: the Numba flags of every kernel (the only module here
  that imports Numba);
- :mod:`~pinnlite.core.cpus`: the thread count (standard library only).

The checkpoint reader (:mod:`pinnlite.io`) needs the architecture and the
activation table but must not need Numba, which is why they live here and not in
the engine. This package imports nothing of its own on import.
"""
