"""How many threads to use: the one rule.

The engine's worker threads (:mod:`pinnlite.engine.threads`) and the
checkpoint hashing threads (:mod:`pinnlite.io.hashing`) both ask
:func:`resolve_threads`, so both follow the same order:

1. the ``threads`` argument (config ``training.threads``, CLI ``--threads``);
2. the first of the environment variables :data:`ENV_VARS` that is set;
3. the CPUs this process may run on.
"""

import os

from pinnlite.core import checks

ENV_VARS = ("PINNLITE_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")


def available_cpus():
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def resolve_threads(threads=None):
    """The thread count to use (see the module docstring for the order)."""
    if threads is not None:
        return checks.integer("threads", threads, low=1)
    for var in ENV_VARS:
        value = os.environ.get(var)
        if value:
            try:
                n = int(value.split(",")[0])
            except ValueError:
                checks.fail(var, "a positive integer", value)
            if n >= 1:
                return n
    return available_cpus()
