"""The ``dask`` executor: jobs run on a Dask cluster; their rows come back to the driver.

The driver (``tabbench run``) keeps the plan and writes every result file itself, so
workers need no shared filesystem, only tabbench installed (and the driver's plugin
modules and plugin distributions, in its versions: a plugin *file* travels with each job,
see :mod:`tabbench.methods.plugins`). Each dataset is scattered to
the workers once and every job of it refers to that copy. A job whose worker is lost
(killed, out of memory, network gone) is run again on another worker by the Dask scheduler
itself, up to its ``distributed.scheduler.allowed-failures`` (3 by default); after that it
becomes a ``failed`` row. The driver writes one file per job id, so a job that ran twice
never gives two rows.

On a worker each job runs in a kept child process (one per worker thread, reused across
jobs and replaced after a timeout, a crash or 100 jobs, as with the local executor), so a
job over its time limit is killed and becomes a ``timeout`` row. That needs workers that
may start processes: Dask starts worker processes as daemons unless told otherwise
(``DASK_DISTRIBUTED__WORKER__DAEMON=False``); on daemonic workers a job runs in a thread,
still gets its ``timeout`` row on time, but keeps its worker busy until it ends.

With ``tuning_workers > 1`` (and a shared Optuna storage such as PostgreSQL), the trials
of one tuned job are spread over several workers: the driver opens the study, that many
tasks each run an equal part of the budget's trials in that study, and the job itself then
takes the best trial, refits it and scores it (running any trial a lost tuner left undone).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import threading
import warnings
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from tabbench.data.datasets.sample import load_subsample
from tabbench.data.metrics import get_metric
from tabbench.exceptions import TabbenchError, TabbenchWarning
from tabbench.execution.executors.local import ChildDied, ChildTimeout, call_in_worker, closing_row
from tabbench.execution.job import Job, JobOutput, run_job, tune_shared
from tabbench.methods.models import get_model
from tabbench.methods.tuning import open_study

Result = tuple[Job, JobOutput]


def run_on_worker(phase: str, job: Job, dataset: Any, time_limit: float | None,
                  worker_index: int = 0, n_workers: int = 1, *after: Any) -> Any:
    """One task on a Dask worker: the whole job (``phase="job"``) or one tuner of it.

    A job returns its :class:`~tabbench.execution.job.JobOutput` (row, trials, predictions: the driver
    writes them); a tuner returns the number of trials it ran (0 if it
    failed: the job then runs the trials still missing itself). ``after`` only orders the
    job behind its tuners.
    """
    if phase == "job":
        fn, args = run_job, (job, dataset)
    else:
        fn, args = tune_shared, (job, dataset, worker_index, n_workers)
    started = datetime.now(UTC)
    try:
        if mp.current_process().daemon:
            return _call_in_thread(fn, args, time_limit)
        return call_in_worker(fn, args, time_limit)
    except (ChildTimeout, ChildDied) as exc:
        status = "timeout" if isinstance(exc, ChildTimeout) else "failed"
        return closing_row(job, status, str(exc), started) if phase == "job" else 0
    except Exception:
        if phase == "job":
            raise
        return 0


def _call_in_thread(fn: Any, args: tuple, time_limit: float | None) -> Any:
    """``fn(*args)`` in a thread, given up on (not stopped) after ``time_limit`` seconds."""
    box: queue.Queue = queue.Queue(maxsize=1)

    def target() -> None:
        try:
            box.put((True, fn(*args)))
        except BaseException as exc:
            box.put((False, exc))

    threading.Thread(target=target, daemon=True).start()
    try:
        ok, value = box.get(timeout=time_limit)
    except queue.Empty:
        raise ChildTimeout(f"over the time limit of {time_limit:g} s") from None
    if not ok:
        raise value
    return value


class DaskExecutor:
    """Run jobs on the Dask cluster at ``scheduler`` (or on a new local one).

    ``scheduler`` is an address such as ``tcp://10.0.0.5:8786``; ``None`` starts a
    ``LocalCluster`` with ``workers`` single-threaded worker processes for this run.
    """

    def __init__(self, scheduler: str | None, *, workers: int = 2,
                 time_limit: float | None = None, tuning_workers: int = 1) -> None:
        self.scheduler = scheduler
        self.workers = workers
        self.time_limit = time_limit
        self.tuning_workers = tuning_workers

    def run(self, jobs: Iterable[Job]) -> Iterator[Result]:
        """Yield ``(job, output)`` for each job as it finishes, in any order."""
        jobs = list(jobs)
        if not jobs:
            return
        with contextlib.ExitStack() as stack:
            yield from self._run(self._connect(stack), jobs)

    def _connect(self, stack: contextlib.ExitStack) -> Any:
        """A client of the scheduler, or of a new local cluster that ``stack`` closes."""
        # deferred: Dask is heavy to import
        import dask
        from distributed import Client, LocalCluster

        if self.scheduler is None:
            # held while the cluster lives: a nanny reads it when it restarts a worker
            stack.enter_context(dask.config.set({"distributed.worker.daemon": False}))
            cluster = stack.enter_context(LocalCluster(
                n_workers=self.workers, threads_per_worker=1, processes=True,
                dashboard_address=None))
            return stack.enter_context(Client(cluster))
        try:
            return stack.enter_context(Client(self.scheduler))
        except (OSError, TimeoutError, ValueError) as exc:
            raise TabbenchError(f"scheduler {self.scheduler}: cannot connect to a Dask "
                                f"scheduler there ({exc})") from None

    def _run(self, client: Any, jobs: list[Job]) -> Iterator[Result]:
        # deferred: Dask is heavy to import
        from distributed import as_completed

        if self.time_limit and any(client.run(_is_daemon).values()):
            warnings.warn("the Dask workers are daemonic processes, so a job over its time "
                          "limit gets its timeout row but keeps its worker busy until it ends; "
                          "start workers with DASK_DISTRIBUTED__WORKER__DAEMON=False",
                          TabbenchWarning, stacklevel=3)
        datasets = self._scatter(client, jobs)
        futures: dict[Any, Job] = {}
        finished = as_completed()
        try:
            for position, job in enumerate(jobs):
                priority = len(jobs) - position  # the plan's order: slowest first
                data = datasets[(job.dataset_fingerprint, job.max_rows)]
                tuners = self._submit_tuners(client, job, data, priority)
                future = client.submit(run_on_worker, "job", job, data, self.time_limit, 0, 1,
                                       *tuners, pure=False, priority=priority)
                futures[future] = job
                finished.add(future)
            for future in finished:
                job = futures.pop(future)
                if future.status == "finished":
                    yield job, future.result()
                    continue
                error = future.exception()  # KilledWorker: lost with its worker too often
                message = f"lost with its Dask worker ({type(error).__name__}: {error})"
                yield job, closing_row(job, "failed", message, datetime.now(UTC))
        finally:
            client.cancel(list(futures))

    def _scatter(self, client: Any, jobs: list[Job]) -> dict[tuple, Any]:
        """Each dataset of ``jobs`` sent once to every worker: ``(fingerprint, rows) → future``."""
        datasets: dict[tuple, Any] = {}
        for job in jobs:
            key = (job.dataset_fingerprint, job.max_rows)
            if key not in datasets:
                dataset = load_subsample(job.spec, job.max_rows)
                datasets[key] = client.scatter(dataset, broadcast=True, hash=False)
        return datasets

    def _submit_tuners(self, client: Any, job: Job, data: Any, priority: int) -> list[Any]:
        """The tasks that tune ``job``'s shared study before the job itself runs."""
        spec = get_model(job.model)
        n_trials = job.budget.trials_for(spec.family, spec.name)
        if (self.tuning_workers < 2 or job.variant != "tuned" or not spec.tunable
                or spec.search_space is None or n_trials < 2):
            return []
        open_study(get_metric(job.metric).direction, storage=job.storage,
                   study_name=job.job_id)
        n_workers = min(self.tuning_workers, n_trials)
        return [client.submit(run_on_worker, "tune", job, data, self.time_limit, index,
                              n_workers, pure=False, priority=priority)
                for index in range(n_workers)]


def _is_daemon() -> bool:
    return mp.current_process().daemon
