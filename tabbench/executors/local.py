"""The ``local`` executor: jobs in child processes on this machine.

It runs each job in a fresh child process (from a forkserver that has the libraries
imported once), at most ``jobs`` at a time, so that a job over its time limit can be killed
and becomes a ``timeout`` row, and a crashing job becomes a ``failed`` row.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import os
import signal
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from typing import TYPE_CHECKING, Any

from tabbench.job import Job, JobOutput, run_job

if TYPE_CHECKING:
    from tabbench.datasets.dataset import Dataset

_PRELOAD = ["tabbench.job", "tabbench.tuning", "tabbench.preprocess", "tabbench.splits",
            "numpy", "polars", "sklearn", "optuna"]


@dataclass
class _Running:
    job: Job
    process: Any
    conn: Connection
    deadline: float | None
    started_at: datetime


def _child(conn: Connection, fn: Any, args: tuple) -> None:
    _die_with_parent()
    conn.send(fn(*args))
    conn.close()


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent (the driver) dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def closing_row(job: Job, status: str, error: str, started_at: datetime) -> JobOutput:
    """The output of a job that ended without one of its own (``failed`` or ``timeout``)."""
    row = job.base_row()
    row.update(status=status, error=error, started_at=started_at, finished_at=datetime.now(UTC))
    return JobOutput(row)


class LocalExecutor:
    """Run jobs in child processes, ``jobs`` at a time, each with an optional time limit."""

    def __init__(self, jobs: int = 1, time_limit: float | None = None) -> None:
        self.jobs = jobs
        self.time_limit = time_limit
        self._context = mp.get_context("forkserver")
        self._context.set_forkserver_preload(_PRELOAD)

    def run(self, jobs: Iterable[Job], datasets: dict[tuple, Dataset] | None = None,
            ) -> Iterator[tuple[Job, JobOutput]]:
        """Yield ``(job, output)`` for each job as it finishes.

        ``datasets`` maps ``(dataset_fingerprint, max_rows)`` to a dataset already in memory
        (a Dask worker's scattered copy), handed to the job instead of reading its file.
        """
        pending = list(jobs)
        pending.reverse()
        running: list[_Running] = []
        datasets = datasets or {}
        try:
            while pending or running:
                while pending and len(running) < self.jobs:
                    job = pending.pop()
                    dataset = datasets.get((job.dataset_fingerprint, job.max_rows))
                    running.append(self._start(job, dataset))
                yield from self._collect(running)
        finally:
            for item in running:
                item.process.kill()
                item.process.join()

    def _start(self, job: Job, dataset: Dataset | None) -> _Running:
        process, parent = _start_child(self._context, run_job, (job, dataset))
        deadline = time.monotonic() + self.time_limit if self.time_limit else None
        return _Running(job, process, parent, deadline, datetime.now(UTC))

    def _collect(self, running: list[_Running]) -> Iterator[tuple[Job, JobOutput]]:
        deadlines = [r.deadline for r in running if r.deadline is not None]
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        ready = wait([r.conn for r in running], timeout=timeout)
        now = time.monotonic()
        for item in list(running):
            result = None
            if item.conn in ready:
                try:
                    result = (item.job, item.conn.recv())
                except (EOFError, OSError):
                    item.process.join()
                    code = item.process.exitcode
                    error = f"the job's process died (exit code {code})"
                    result = (item.job, closing_row(item.job, "failed", error, item.started_at))
            elif item.deadline is not None and now >= item.deadline:
                item.process.kill()
                error = f"over the time limit of {self.time_limit:g} s"
                result = (item.job, closing_row(item.job, "timeout", error, item.started_at))
            if result is not None:
                item.process.join()
                item.conn.close()
                running.remove(item)
                yield result


def _start_child(context: Any, fn: Any, args: tuple) -> tuple[Any, Connection]:
    parent, child = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(child, fn, args), daemon=True)
    process.start()
    child.close()
    return process, parent


class ChildTimeout(Exception):
    """A call in a child process ran past its time limit and was killed."""


class ChildDied(Exception):
    """A child process died before returning its result."""


def call_in_child(fn: Any, args: tuple, time_limit: float | None) -> Any:
    """``fn(*args)`` in a fresh child process, killed after ``time_limit`` seconds.

    Raises :class:`ChildTimeout` or :class:`ChildDied` (with the exit code); ``fn`` and
    its arguments must be picklable.
    """
    context = mp.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    process, conn = _start_child(context, fn, args)
    try:
        if not conn.poll(time_limit):
            raise ChildTimeout(f"over the time limit of {time_limit:g} s")
        try:
            return conn.recv()
        except (EOFError, OSError):
            process.join()
            raise ChildDied(f"the job's process died (exit code {process.exitcode})") from None
    finally:
        process.kill()
        process.join()
        conn.close()


def cores() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
