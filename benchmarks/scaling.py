"""Throughput of one grid of jobs on 1 local worker, 2 local workers and a 2-worker Dask cluster.

The grid is the smoke budget over the bundled datasets (time and random split, the classic
and boosting models, ``max_rows`` rows each); every job uses one thread in all three setups,
so the comparison measures workers, not threads. Each setup first runs the grid once to warm
up (the forkservers import the libraries, the Dask workers receive the datasets), then the
setups take turns (1, 2, Dask, 1, 2, Dask, …), each repetition into a fresh folder, and the
script prints the median wall time, jobs per second and two ratios:

* 2 local workers / 1 local worker (target >= 1.7 on 2 cores);
* Dask / 2 local workers (target >= 0.85: Dask within 15% of the local pool).

    python benchmarks/scaling.py [--reps 3] [--max-rows 4000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from tabbench.execution.config import BUDGETS, BenchmarkConfig

MODELS = ("dummy", "linear", "random-forest", "xgboost", "lightgbm", "catboost")


def grid(max_rows: int) -> BenchmarkConfig:
    """The benchmark's grid: bundled datasets × time/random split × six models, smoke budget."""
    return BenchmarkConfig(name="scaling", datasets=("flights", "bikeshare", "hotel-rates"),
                           models=MODELS, splits=("time", "random"),
                           budget=BUDGETS.get("smoke"), max_rows=max_rows, threads=1,
                           time_limit=600)


def timed_run(config: BenchmarkConfig, out: Path) -> tuple[float, int]:
    """Wall seconds of one run of ``config`` into ``out`` and the number of jobs that ran."""
    from tabbench.execution.runner import run_benchmark

    started = time.perf_counter()
    summary = run_benchmark(replace(config, out=out))
    seconds = time.perf_counter() - started
    bad = {k: v for k, v in summary.counts.items() if k != "ok"}
    if bad:
        raise SystemExit(f"{out}: jobs did not end ok: {bad}")
    return seconds, summary.planned


def main() -> None:
    import dask
    from distributed import LocalCluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--max-rows", type=int, default=4000)
    args = parser.parse_args()
    base = grid(args.max_rows)
    with (dask.config.set({"distributed.worker.daemon": False}),
          LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                       dashboard_address=None) as cluster,
          tempfile.TemporaryDirectory() as tmp):
        setups = {
            "1 local worker": replace(base, jobs=1),
            "2 local workers": replace(base, jobs=2),
            "Dask LocalCluster, 2 workers": replace(base, executor="dask",
                                                    scheduler=cluster.scheduler_address),
        }
        times: dict[str, list[float]] = {name: [] for name in setups}
        n_jobs = 0
        for rep in range(args.reps + 1):  # repetition 0 warms up and is not counted
            for index, (name, config) in enumerate(setups.items()):
                seconds, n_jobs = timed_run(config, Path(tmp) / f"{rep}-{index}")
                if rep:
                    times[name].append(seconds)
                print(f"{'warm-up' if rep == 0 else f'rep {rep}'}  {name:<30} {seconds:7.2f} s",
                      flush=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"\n{n_jobs} jobs per run (smoke budget, {args.max_rows} rows, 1 thread per job), "
          f"medians of {args.reps} interleaved repetitions:")
    print(f"{'setup':<30} {'seconds':>8} {'jobs/s':>8}")
    for name, seconds in medians.items():
        print(f"{name:<30} {seconds:8.2f} {n_jobs / seconds:8.3f}")
    one, two, on_dask = medians.values()
    print(f"\n2 local workers / 1 local worker throughput: {one / two:.2f}x (target >= 1.7)")
    print(f"Dask / 2 local workers throughput:          {two / on_dask:.2f}x (target >= 0.85)")


if __name__ == "__main__":
    main()
