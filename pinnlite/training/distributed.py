"""Data-parallel training across MPI ranks (optional: needs the ``mpi`` extra).

Nothing here imports mpi4py at module level; the core package never does.

Every rank holds the same global point sets (one seed, so the same collocation
points, mini-batch permutations and resampling candidates on every rank) and
evaluates only its shard: rank r of K takes rows ``[r*n // K, (r+1)*n // K)`` of
every term's points. Loss means use the global point counts, so the shards'
partial sums add up to the single-process values; one ``Allreduce`` per
evaluation sums the flat gradient, the loss terms and the material gradients,
and every rank then applies the same update. L-BFGS's line-search evaluations
are reduced the same way, so all ranks take identical steps.

Launch::

    mpiexec -n 4 pinnlite train run.toml --data data.npz --threads 1

``pinnlite train``/``resume`` use MPI when started by ``mpiexec``/``srun``
(detected from the environment) or with ``--mpi``.
"""

import contextlib
import os
import sys
import traceback

import numpy as np

# environment variables that MPI launchers set in every rank
_LAUNCHER_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS")


def launched_by_mpi():
    """True when this process looks like one of several ranks started by an MPI launcher."""
    for var in _LAUNCHER_SIZE_VARS:
        try:
            if int(os.environ.get(var, "1")) > 1:
                return True
        except ValueError:
            continue
    return False


def world():
    """``MPI.COMM_WORLD`` (imports mpi4py; ImportError with the install hint if it is missing)."""
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise ImportError(f"MPI support needs mpi4py: python -m pip install 'pinnlite[mpi]' ({e})") from None
    return MPI.COMM_WORLD


def shard(n, rank, size):
    """This rank's contiguous slice of n rows."""
    return slice(rank * n // size, (rank + 1) * n // size)


def allreduce_sum(comm, values):
    """The elementwise sum over all ranks of the float64 array ``values`` (a new array)."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    out = np.empty_like(values)
    comm.Allreduce(values, out)
    return out


def any_rank(comm, flag):
    """True on every rank when ``flag`` is true on at least one (a collective call)."""
    return bool(allreduce_sum(comm, np.array([1.0 if flag else 0.0]))[0] > 0)


def broadcast(comm, value):
    """Rank 0's ``value`` (a picklable object) on every rank; ``value`` itself without MPI."""
    return value if comm is None else comm.bcast(value, root=0)


@contextlib.contextmanager
def abort_on_error(comm):
    """Run the block; on an exception in any rank print it and stop every rank.

    Without this, the other ranks would wait forever in their next collective call.
    """
    try:
        yield
    except BaseException as e:  # noqa: BLE001  (every error must stop all ranks)
        if comm is None or comm.Get_size() == 1:
            raise
        rank = comm.Get_rank()
        sys.stderr.write(f"pinnlite: rank {rank} of {comm.Get_size()} failed, stopping all ranks: {type(e).__name__}: {e}\n")
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()
        comm.Abort(1)
