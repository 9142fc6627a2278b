"""Tests of pinnlite.engine.threads: every task of the worker pool runs exactly once
whatever the thread count, an error in a task reaches the caller and leaves the
pool usable, nested calls run inline instead of deadlocking, and BLAS runs single
threaded inside the workers with the caller's thread count restored after an
evaluation (read back through the library's own getter)."""

import threading

import numpy as np
import pytest
from conftest import random_model, random_problem

from pinnlite import engine
from pinnlite.engine import threads as parallel
from pinnlite.engine.terms import Material


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_every_task_runs_exactly_once(threads):
    seen = []
    lock = threading.Lock()

    def task(k):
        with lock:
            seen.append(k)

    parallel.run_tasks(task, 37, threads)
    assert sorted(seen) == list(range(37))


def test_an_error_in_a_task_reaches_the_caller_and_the_pool_keeps_working():
    def task(k):
        if k == 5:
            raise ValueError("task five")

    with pytest.raises(ValueError, match="task five"):
        parallel.run_tasks(task, 20, 2)
    out = []
    parallel.run_tasks(out.append, 3, 2)
    assert sorted(out) == [0, 1, 2]


def test_nested_calls_run_inline_instead_of_deadlocking():
    out = []
    lock = threading.Lock()

    def inner(k):
        with lock:
            out.append(k)

    parallel.run_tasks(lambda k: parallel.run_tasks(inner, 3, 2), 4, 2)
    assert len(out) == 12


@pytest.mark.skipif(not parallel.blas_threads_controllable(), reason="this NumPy's BLAS is not OpenBLAS")
def test_blas_thread_count_is_restored_after_evaluations():
    get, put = parallel._blas_controls()
    before = get()
    seen = []
    parallel.run_tasks(lambda k: seen.append(get()), 6, 2)
    assert set(seen) == {1}  # single-threaded inside the workers
    assert get() == before
    put(3)
    try:
        rng = np.random.default_rng(0)
        arch, p = random_model(rng)
        engine.loss_and_grad(p, arch, random_problem(rng), Material(2.0, 1.0), workspace=engine.Workspace(2))
        assert get() == 3
    finally:
        put(before)
