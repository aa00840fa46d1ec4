"""Executors run jobs and hand back their result rows; the runner writes the files.

``local`` runs each job in a fresh child process (from a forkserver that has the libraries
imported once), at most ``jobs`` at a time, so that a job over its time limit can be killed
and becomes a ``timeout`` row, and a crashing job becomes a ``failed`` row.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection, wait
from typing import Any

from tabbench.job import Job, run_job

_PRELOAD = ["tabbench.job", "tabbench.tuning", "tabbench.preprocess", "tabbench.splits",
            "numpy", "polars", "sklearn", "optuna"]


@dataclass
class _Running:
    job: Job
    process: Any
    conn: Connection
    deadline: float | None
    started_at: datetime


def _child(job: Job, conn: Connection) -> None:
    _die_with_parent()
    row, trials = run_job(job)
    conn.send((row, trials))
    conn.close()


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent (the driver) dies."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _closing_row(job: Job, status: str, error: str, started_at: datetime) -> dict[str, Any]:
    row = job.base_row()
    row.update(status=status, error=error, started_at=started_at, finished_at=datetime.now(UTC))
    return row


class LocalExecutor:
    """Run jobs in child processes, ``jobs`` at a time, each with an optional time limit."""

    def __init__(self, jobs: int = 1, time_limit: float | None = None) -> None:
        self.jobs = jobs
        self.time_limit = time_limit
        self._context = mp.get_context("forkserver")
        self._context.set_forkserver_preload(_PRELOAD)

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, dict[str, Any], Any]]:
        """Yield ``(job, row, trials)`` for each job as it finishes."""
        pending = list(jobs)
        pending.reverse()
        running: list[_Running] = []
        try:
            while pending or running:
                while pending and len(running) < self.jobs:
                    running.append(self._start(pending.pop()))
                yield from self._collect(running)
        finally:
            for item in running:
                item.process.kill()
                item.process.join()

    def _start(self, job: Job) -> _Running:
        parent, child = self._context.Pipe(duplex=False)
        process = self._context.Process(target=_child, args=(job, child), daemon=True)
        process.start()
        child.close()
        deadline = time.monotonic() + self.time_limit if self.time_limit else None
        return _Running(job, process, parent, deadline, datetime.now(UTC))

    def _collect(self, running: list[_Running]) -> Iterator[tuple[Job, dict[str, Any], Any]]:
        deadlines = [r.deadline for r in running if r.deadline is not None]
        timeout = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
        ready = wait([r.conn for r in running], timeout=timeout)
        now = time.monotonic()
        for item in list(running):
            result = None
            if item.conn in ready:
                try:
                    row, trials = item.conn.recv()
                    result = (item.job, row, trials)
                except (EOFError, OSError):
                    item.process.join()
                    code = item.process.exitcode
                    error = f"the job's process died (exit code {code})"
                    result = (item.job, _closing_row(item.job, "failed", error, item.started_at),
                              None)
            elif item.deadline is not None and now >= item.deadline:
                item.process.kill()
                error = f"over the time limit of {self.time_limit:g} s"
                result = (item.job, _closing_row(item.job, "timeout", error, item.started_at),
                          None)
            if result is not None:
                item.process.join()
                item.conn.close()
                running.remove(item)
                yield result


def cores() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
