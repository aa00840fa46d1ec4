"""Size and read speed of the prediction store (``<run>/predictions/``, tabbench.core.predictions).

Prints

* **bytes per job** of a run folder's prediction files, per dataset and task (e.g. the main
  job's folder after ``tabbench run``), next to its test and validation row counts;
* **bytes per job on a 1M-row table**: the stored frame of a job whose validation and test
  parts are 20% each of 1,000,000 rows (400,000 rows), for a binary, a 5-class and a
  regression task, with random predictions (the worst case for compression);
* **reading a whole folder**: ``read_predictions`` (one polars scan of every file) against
  a loop of ``pl.read_parquet`` per file, on ``--jobs`` copies of a 20,000-row job, medians
  of ``--reps`` interleaved repetitions.

    python benchmarks/prediction_store.py [RUN_DIR] [--jobs 500] [--reps 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from tabbench.core.predictions import (
    PREDICTIONS,
    prediction_frame,
    read_predictions,
    write_predictions,
)
from tabbench.core.results import read_results


def run_folder_sizes(run: Path) -> None:
    """Bytes per job of ``run``'s prediction files, per dataset."""
    results = read_results(run).filter(pl.col("kind") == "benchmark")
    rows = []
    for row in results.iter_rows(named=True):
        path = run / PREDICTIONS / f"{row['job_id']}.parquet"
        if path.is_file():
            rows.append({"dataset": row["dataset"], "task": row["task"], "n_val": row["n_val"],
                         "n_test": row["n_test"], "bytes": path.stat().st_size})
    if not rows:
        print(f"{run}: no prediction files")
        return
    table = pl.DataFrame(rows).group_by("dataset", "task", "n_val", "n_test").agg(
        pl.len().alias("jobs"), pl.col("bytes").median().alias("median_bytes_per_job"),
        (pl.col("bytes").median() / (pl.col("n_val") + pl.col("n_test")).first()).alias(
            "bytes_per_row")).sort("dataset")
    print(f"Prediction files of {run} (median per job):")
    print(table)


def large_table_sizes(folder: Path) -> None:
    """Bytes of one job's frame when validation and test are 400,000 rows of a 1M-row table."""
    rng = np.random.default_rng(0)
    n = 200_000
    rows = np.arange(2 * n, dtype=np.int64)
    time_column = np.sort(rng.integers(0, 10**18, size=1_000_000))
    cases = {
        "binary": (rng.integers(0, 2, size=2 * n), rng.dirichlet(np.ones(2), size=2 * n)),
        "5 classes": (rng.integers(0, 5, size=2 * n), rng.dirichlet(np.ones(5), size=2 * n)),
        "regression": (rng.normal(size=2 * n), rng.normal(size=2 * n)),
    }
    print("\nOne job on a 1,000,000-row table (val + test = 400,000 rows, random predictions):")
    for name, (y, prediction) in cases.items():
        frame = prediction_frame({"val": (rows[:n], y[:n], prediction[:n]),
                                  "test": (rows[n:], y[n:], prediction[n:])}, time_column)
        path = write_predictions(folder, f"large-{name.replace(' ', '-')}", frame)
        size = path.stat().st_size
        print(f"  {name:>10}: {size / 1e6:6.2f} MB  ({size / (2 * n):.1f} bytes per row)")


def read_speed(folder: Path, jobs: int, reps: int) -> None:
    """One scan of ``jobs`` files against a per-file loop, interleaved, medians."""
    rng = np.random.default_rng(1)
    n = 10_000
    rows = np.arange(2 * n, dtype=np.int64)
    frame = prediction_frame({"val": (rows[:n], rng.integers(0, 2, n), rng.random((n, 2))),
                              "test": (rows[n:], rng.integers(0, 2, n), rng.random((n, 2)))})
    run = folder / "run"
    for index in range(jobs):
        write_predictions(run, f"job-{index:05d}", frame)
    files = sorted((run / PREDICTIONS).glob("*.parquet"))
    scan, loop = [], []
    for _ in range(reps):
        started = time.perf_counter()
        together = read_predictions(run)
        scan.append(time.perf_counter() - started)
        started = time.perf_counter()
        parts = [pl.read_parquet(path).with_columns(pl.lit(path.stem).alias("job_id"))
                 for path in files]
        pl.concat(parts)
        loop.append(time.perf_counter() - started)
    assert together.height == jobs * 2 * n
    a, b = statistics.median(scan), statistics.median(loop)
    print(f"\nReading {jobs} prediction files of 20,000 rows ({together.height:,} rows):")
    print(f"  read_predictions (one scan): {a:.2f} s   per-file loop: {b:.2f} s   "
          f"loop / scan = {b / a:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", type=Path, help="a run folder with predictions")
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    if args.run is not None:
        run_folder_sizes(args.run)
    with tempfile.TemporaryDirectory() as tmp:
        large_table_sizes(Path(tmp))
        read_speed(Path(tmp), args.jobs, args.reps)


if __name__ == "__main__":
    main()
