"""Tests of pinnlite.core.cpus: the order in which the thread count is chosen (an
explicit argument, then PINNLITE_NUM_THREADS, NUMBA_NUM_THREADS, the BLAS and
OpenMP variables, then the CPUs available), checked by setting the environment
variables one at a time, and the counts it rejects."""

import pytest

from pinnlite.core import cpus
from pinnlite.errors import InputError


def test_thread_count_order(monkeypatch):
    for var in cpus.ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    assert cpus.resolve_threads(3) == 3
    assert cpus.resolve_threads() == cpus.available_cpus()
    monkeypatch.setenv("OMP_NUM_THREADS", "5")
    assert cpus.resolve_threads() == 5
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    assert cpus.resolve_threads() == 4  # BLAS's variable before OpenMP's
    monkeypatch.setenv("NUMBA_NUM_THREADS", "2")
    assert cpus.resolve_threads() == 2
    monkeypatch.setenv("PINNLITE_NUM_THREADS", "7")
    assert cpus.resolve_threads() == 7
    assert cpus.resolve_threads(1) == 1  # an explicit argument wins
    monkeypatch.setenv("PINNLITE_NUM_THREADS", "many")
    with pytest.raises(InputError, match="PINNLITE_NUM_THREADS"):
        cpus.resolve_threads()
    for bad in (0, -1, 2.5, True):
        with pytest.raises(InputError, match="threads"):
            cpus.resolve_threads(bad)
