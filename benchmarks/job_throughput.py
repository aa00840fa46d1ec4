"""Per-job fixed cost of the local executor: many tiny jobs, through the executor and in-process.

Two kinds of tiny jobs on bikeshare subsampled to 5,000 rows, random split, default params
(no tuning), one evaluation fit: ``dummy``, and ``lightgbm`` capped at 50 boosting rounds.
Each repetition runs ``--jobs`` jobs of one kind (seeds 0..N-1, so every job id differs):

* **executor**: ``run_benchmark`` into a fresh run folder with ``jobs = 1`` (the local
  executor, results, trials and predictions written as in ``tabbench run``);
* **in-process**: ``run_job`` in a loop in this process (the dataset loaded once), the
  same jobs, nothing written.

The two are interleaved (executor, in-process, executor, …) and the medians printed, with
the **fixed cost per job** = executor seconds per job − in-process seconds per job. Then
where it goes: the files a job writes (result, predictions, trials) timed alone.

    python benchmarks/job_throughput.py [--jobs 40] [--reps 3] [--models dummy,lightgbm]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from tabbench.core.predictions import write_predictions
from tabbench.core.results import write_result
from tabbench.execution.config import BUDGETS, BenchmarkConfig
from tabbench.execution.job import run_job
from tabbench.execution.runner import plan, run_benchmark


def config(model: str, n_jobs: int, out: Path) -> BenchmarkConfig:
    """``n_jobs`` tiny jobs of ``model`` (see the module)."""
    budget = replace(BUDGETS.get("smoke"), name="tiny", eval_seeds=1, max_rounds=50)
    return BenchmarkConfig(name="throughput", datasets=("bikeshare",), models=(model,),
                           splits=("random",), variants=("default",), seeds=tuple(range(n_jobs)),
                           budget=budget, max_rows=5000, jobs=1, threads=1, out=out,
                           time_limit=120)


def through_executor(model: str, n_jobs: int) -> float:
    """Seconds per job of ``run_benchmark`` on a fresh run folder."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config(model, n_jobs, Path(tmp) / "run")
        started = time.perf_counter()
        summary = run_benchmark(cfg)
        seconds = time.perf_counter() - started
    assert summary.counts["ok"] == n_jobs, summary.counts
    return seconds / n_jobs


def in_process(model: str, n_jobs: int) -> float:
    """Seconds per job of ``run_job`` in a loop (the dataset memo warm after the first)."""
    jobs = plan(config(model, n_jobs, Path(tempfile.gettempdir()) / "unused"))
    run_job(jobs[0])  # load the dataset and import the libraries once, as a worker does
    started = time.perf_counter()
    for job in jobs:
        assert run_job(job).row["status"] == "ok"
    return (time.perf_counter() - started) / n_jobs


def writing(model: str, n_jobs: int) -> float:
    """Seconds per job of writing its result, predictions and trials files."""
    jobs = plan(config(model, n_jobs, Path(tempfile.gettempdir()) / "unused"))
    outputs = [run_job(job) for job in jobs]
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        for job, output in zip(jobs, outputs, strict=True):
            if output.predictions is not None:
                write_predictions(Path(tmp), job.job_id, output.predictions)
            write_result(Path(tmp), output.row, output.trials)
        return (time.perf_counter() - started) / n_jobs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--models", default="dummy,lightgbm")
    args = parser.parse_args()
    print(f"{args.jobs} jobs per repetition, {args.reps} interleaved repetitions, medians")
    print(f"{'model':<10} {'executor s/job':>15} {'in-process s/job':>17} "
          f"{'fixed cost s/job':>17} {'writes s/job':>13}")
    for model in args.models.split(","):
        executor, direct = [], []
        for _ in range(args.reps):
            executor.append(through_executor(model, args.jobs))
            direct.append(in_process(model, args.jobs))
        a, b = statistics.median(executor), statistics.median(direct)
        print(f"{model:<10} {a:>15.3f} {b:>17.3f} {a - b:>17.3f} "
              f"{writing(model, args.jobs):>13.4f}", flush=True)


if __name__ == "__main__":
    main()
