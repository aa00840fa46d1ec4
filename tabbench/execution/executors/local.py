"""The ``local`` executor: jobs in worker processes on this machine.

At most ``jobs`` worker processes (started from a forkserver that has the libraries
imported once) each run one job at a time and stay for the next, keeping the libraries
imported and the last datasets loaded; a worker takes, when it can, the next job on the
dataset it already holds. A job over its time limit has its worker killed and becomes a
``timeout`` row (the limit counts from when the job is sent, so a new worker's start is in
it, as a fresh process per job had it); a job whose worker dies becomes a ``failed`` row;
a killed or dead worker is replaced by a fresh process, so the next job inherits nothing
from it. A worker gets its next job before the driver writes the files of the last one.
Workers start from a forkserver with a fixed preload list, so a model a plugin registered
in the driver is unknown to them until they load the plugin: every job carries the
driver's plugins and the worker loads them before its first job of them
(:func:`tabbench.methods.plugins.ensure_plugins`), a replacement worker included.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from typing import Any

from tabbench.execution.job import Job, JobOutput, run_job

#: Jobs a worker runs before a fresh process replaces it.
MAX_TASKS_PER_WORKER = 100

_PRELOAD = ["tabbench.execution.job", "tabbench.methods.tuning", "tabbench.methods.preprocess", "tabbench.data.splits",
            "numpy", "polars", "sklearn", "optuna"]


def _serve(conn: Connection) -> None:
    """A worker's loop: run each ``(fn, args)`` it is sent and send back the result."""
    _die_with_parent()
    while True:
        try:
            task = conn.recv()
        except EOFError:  # the driver is gone
            return
        if task is None:
            return
        fn, args = task
        conn.send(fn(*args))


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent (the driver) dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def closing_row(job: Job, status: str, error: str, started_at: datetime) -> JobOutput:
    """The output of a job that ended without one of its own (``failed`` or ``timeout``)."""
    row = job.base_row()
    row.update(status=status, error=error, started_at=started_at, finished_at=datetime.now(UTC))
    return JobOutput(row)


@dataclass(eq=False)
class _Worker:
    process: Any
    conn: Connection
    task: Any = None                     # what it runs now (None: idle)
    deadline: float | None = None
    done: int = 0                        # tasks it has finished
    last_key: Any = None                 # the affinity key of its last task


class WorkerPool:
    """Up to ``size`` long-lived worker processes, each running one call at a time.

    :meth:`run` sends each task's ``fn(*args)`` to an idle worker and yields
    ``(task, result)`` as calls finish, where ``result`` is the call's return value, a
    :class:`ChildTimeout` (the worker was killed) or a :class:`ChildDied`. A killed or dead
    worker is replaced by a new process. ``key(task)`` groups tasks that share state
    worth keeping (a dataset): an idle worker takes the first pending task with the key of
    its last one, else the first pending task. After ``max_tasks`` tasks a worker is
    retired and a fresh one takes its place, so memory a library never gives back cannot
    pile up over a long run.
    """

    def __init__(self, size: int, time_limit: float | None = None,
                 context: Any = None, max_tasks: int = MAX_TASKS_PER_WORKER) -> None:
        self.size = size
        self.time_limit = time_limit
        self.max_tasks = max_tasks
        self._context = context or mp.get_context("forkserver")
        self._kept: _Worker | None = None  # the worker of :meth:`call`
        self.started: list[int] = []     # pids of every worker started, in order

    def run(self, tasks: Iterable[Any], call: Callable[[Any], tuple[Any, tuple]],
            key: Callable[[Any], Any] = lambda task: None) -> Iterator[tuple[Any, Any]]:
        """Yield ``(task, result)`` for every task; ``call(task)`` gives ``(fn, args)``."""
        pending = list(tasks)
        workers: list[_Worker] = []
        try:
            while pending or any(w.task is not None for w in workers):
                while pending and len(workers) < self.size:
                    worker = self._start()
                    workers.append(worker)
                    self._assign(worker, pending.pop(0), call, key)
                yield from self._collect(workers, pending, call, key)
        finally:
            for worker in workers:
                self._stop(worker)

    def call(self, fn: Any, args: tuple) -> Any:
        """``fn(*args)`` on one kept worker: started when needed, kept for the next call,
        replaced after a timeout (:class:`ChildTimeout`), a death (:class:`ChildDied`) or
        ``max_tasks`` calls."""
        worker = self._kept
        if worker is None or not worker.process.is_alive():
            worker = self._kept = self._start()
        worker.task = (fn, args)
        try:
            worker.conn.send((fn, args))
            if not worker.conn.poll(self.time_limit):
                raise ChildTimeout(f"over the time limit of {self.time_limit:g} s")
            try:
                result = worker.conn.recv()
            except (EOFError, OSError):
                worker.process.join()
                raise _died(worker.process.exitcode) from None
        except BaseException:  # a timeout, a death, or this process interrupted
            self._kept = None
            self._stop(worker, kill=True)
            raise
        worker.task = None
        worker.done += 1
        if worker.done >= self.max_tasks:
            self._kept = None
            self._stop(worker)
        return result

    @staticmethod
    def _take(pending: list[Any], last: Any, key: Callable[[Any], Any]) -> Any:
        if last is not None:
            for index, task in enumerate(pending):
                if key(task) == last:
                    return pending.pop(index)
        return pending.pop(0)

    def _start(self) -> _Worker:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(target=_serve, args=(child,), daemon=True)
        process.start()
        child.close()
        self.started.append(process.pid)
        return _Worker(process, parent)

    def _assign(self, worker: _Worker, task: Any, call: Callable, key: Callable) -> None:
        worker.task, worker.last_key = task, key(task)
        worker.deadline = time.monotonic() + self.time_limit if self.time_limit else None
        worker.conn.send(call(task))

    def _collect(self, workers: list[_Worker], pending: list[Any], call: Callable,
                 key: Callable) -> Iterator[tuple[Any, Any]]:
        """Wait for results; a worker that answered gets its next task *before* its result
        is yielded, so the caller writes files while the worker already computes."""
        busy = [w for w in workers if w.task is not None]
        deadlines = [w.deadline for w in busy if w.deadline is not None]
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        ready = wait([w.conn for w in busy], timeout=timeout)
        now = time.monotonic()
        for worker in busy:
            task, result = worker.task, None
            if worker.conn in ready:
                try:
                    result = worker.conn.recv()
                except (EOFError, OSError):
                    worker.process.join()
                    result = _died(worker.process.exitcode)
            elif worker.deadline is not None and now >= worker.deadline:
                result = ChildTimeout(f"over the time limit of {self.time_limit:g} s")
            else:
                continue
            worker.task = None
            worker.done += 1
            if isinstance(result, ChildTimeout | ChildDied):  # replaced on the next round
                self._stop(worker, kill=True)
                workers.remove(worker)
            elif worker.done >= self.max_tasks:  # retired; replaced on the next round
                self._stop(worker)
                workers.remove(worker)
            elif pending:
                self._assign(worker, self._take(pending, worker.last_key, key), call, key)
            yield task, result

    @staticmethod
    def _stop(worker: _Worker, kill: bool = False) -> None:
        if not kill and worker.task is None:
            with contextlib.suppress(OSError, ValueError):
                worker.conn.send(None)
            worker.process.join(timeout=1.0)
        if worker.process.is_alive():
            worker.process.kill()
        worker.process.join()
        worker.conn.close()


class LocalExecutor:
    """Run jobs in a :class:`WorkerPool` of ``jobs`` processes, each job with an optional
    time limit (each worker retired after ``max_tasks`` jobs)."""

    def __init__(self, jobs: int = 1, time_limit: float | None = None,
                 max_tasks: int = MAX_TASKS_PER_WORKER) -> None:
        self.jobs = jobs
        self.time_limit = time_limit
        self.max_tasks = max_tasks
        self._context = mp.get_context("forkserver")
        self._context.set_forkserver_preload(_PRELOAD)

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, JobOutput]]:
        """Yield ``(job, output)`` for each job as it finishes."""
        started: dict[str, datetime] = {}

        def call(job: Job) -> tuple[Any, tuple]:
            started[job.job_id] = datetime.now(UTC)
            return run_job, (job,)

        pool = WorkerPool(self.jobs, self.time_limit, self._context, self.max_tasks)
        for job, result in pool.run(jobs, call, key=_dataset_key):
            if isinstance(result, ChildTimeout):
                yield job, closing_row(job, "timeout", str(result), started[job.job_id])
            elif isinstance(result, ChildDied):
                yield job, closing_row(job, "failed", str(result), started[job.job_id])
            else:
                yield job, result


def _dataset_key(job: Job) -> tuple:
    return (job.dataset_fingerprint, job.max_rows)


class ChildTimeout(Exception):
    """A call in a child process ran past its time limit and was killed."""


class ChildDied(Exception):
    """A child process died before returning its result."""


def _died(exitcode: int | None) -> ChildDied:
    """How a worker ended: its exit code, and the signal that killed it (a negative code);
    SIGKILL is what the kernel's out-of-memory killer sends."""
    message = f"the job's process died (exit code {exitcode})"
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        oom = ", as the kernel's out-of-memory killer does" if -exitcode == signal.SIGKILL else ""
        message = f"{message}: killed by {name}{oom}"
    return ChildDied(message)


_KEPT = threading.local()


def call_in_worker(fn: Any, args: tuple, time_limit: float | None) -> Any:
    """``fn(*args)`` in this thread's kept worker process, killed after ``time_limit`` seconds.

    The worker is started on first use and kept for the next call (a Dask worker's jobs
    reuse it as the local executor's do); it is replaced after a timeout, a death or
    :data:`MAX_TASKS_PER_WORKER` calls. Raises :class:`ChildTimeout` or :class:`ChildDied`
    (with the exit code); ``fn`` and its arguments must be picklable.
    """
    pool = getattr(_KEPT, "pool", None)
    if pool is None:
        context = mp.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        pool = _KEPT.pool = WorkerPool(1, time_limit, context)
    pool.time_limit = time_limit
    return pool.call(fn, args)


def cores() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
