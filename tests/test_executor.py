"""The local executor's worker pool: workers are reused, and replaced after a timeout or a crash."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tabbench.execution.executors.local import ChildDied, ChildTimeout, WorkerPool


def _run(pool: WorkerPool, *tasks: tuple) -> list:
    """Run ``(fn, *args)`` tasks in order on ``pool``; their results, in order."""
    indexed = list(enumerate(tasks))
    done = dict(pool.run(indexed, call=lambda task: (task[1][0], task[1][1:])))
    return [done[task] for task in indexed]


def test_a_worker_runs_one_task_after_another_and_keeps_its_state(tmp_path):
    pool = WorkerPool(1)
    first, _, cwd, second = _run(pool, (os.getpid,), (os.chdir, str(tmp_path)), (os.getcwd,),
                                 (os.getpid,))
    assert first == second and pool.started == [first]  # one process for every task
    assert Path(cwd) == tmp_path  # what a task leaves behind (a loaded dataset) is kept


def test_a_timed_out_or_dead_worker_is_replaced_and_its_state_is_not_inherited(tmp_path):
    # the limit counts from when a task is sent, a new worker's start included: generous
    pool = WorkerPool(1, time_limit=4.0)
    home = os.getcwd()
    results = _run(pool, (os.getpid,), (os.chdir, str(tmp_path)), (time.sleep, 60),
                   (os.getpid,), (os.getcwd,), (os.chdir, str(tmp_path)), (os._exit, 3),
                   (os.getpid,), (os.getcwd,))
    first, _, timeout, second, cwd_after_timeout, _, died, third, cwd_after_crash = results
    assert isinstance(timeout, ChildTimeout) and "time limit of 4 s" in str(timeout)
    assert isinstance(died, ChildDied) and "exit code 3" in str(died)
    assert len({first, second, third}) == 3 and pool.started == [first, second, third]
    assert cwd_after_timeout == home and cwd_after_crash == home  # fresh processes


def test_workers_prefer_tasks_on_the_data_they_hold():
    pool = WorkerPool(1)
    order = []
    tasks = ["a1", "b1", "a2", "b2", "a3"]

    def call(task):
        order.append(task)
        return os.getpid, ()

    list(pool.run(tasks, call, key=lambda task: task[0]))
    assert order == ["a1", "a2", "a3", "b1", "b2"]


@pytest.mark.parametrize("size", [1, 2])
def test_every_task_is_answered_once(size):
    results = _run(WorkerPool(size), *[(abs, -i) for i in range(7)])
    assert results == list(range(7))


def test_a_worker_is_retired_after_its_share_of_tasks():
    pool = WorkerPool(1, max_tasks=2)
    pids = _run(pool, *[(os.getpid,)] * 5)
    assert pids[0] == pids[1] != pids[2] == pids[3] != pids[4]
    assert pool.started == [pids[0], pids[2], pids[4]]


def test_call_keeps_one_worker_and_replaces_it_after_a_timeout(tmp_path):
    pool = WorkerPool(1, time_limit=4.0)
    first = pool.call(os.getpid, ())
    pool.call(os.chdir, (str(tmp_path),))
    assert pool.call(os.getpid, ()) == first  # kept between calls, with its state
    assert Path(pool.call(os.getcwd, ())) == tmp_path
    with pytest.raises(ChildTimeout):
        pool.call(time.sleep, (60,))
    assert pool.call(os.getpid, ()) != first  # a fresh process after the timeout
    assert Path(pool.call(os.getcwd, ())) != tmp_path
    with pytest.raises(ChildDied, match="exit code 3"):
        pool.call(os._exit, (3,))
