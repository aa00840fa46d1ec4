"""The result schema: the stable columns and dtypes of ``leaderboard/<run>/results/*.parquet``.

Extra metrics go in columns named ``metric_<name>`` (Float64); they are not listed here
because each task and component adds its own.
"""

from __future__ import annotations

from typing import Any

import polars as pl

#: Bumped when the meaning of a result changes; part of every job id.
SCHEMA_VERSION = "1"

STATUSES = ("ok", "failed", "timeout")

RESULT_SCHEMA: dict[str, pl.DataType] = {
    "run": pl.String(),
    "job_id": pl.String(),
    "dataset": pl.String(),
    "dataset_fingerprint": pl.String(),
    "task": pl.String(),
    "split_strategy": pl.String(),
    "split_id": pl.String(),
    "model": pl.String(),
    "variant": pl.String(),
    "seed": pl.Int64(),
    "status": pl.String(),
    "error": pl.String(),
    "metric": pl.String(),
    "val_score": pl.Float64(),
    "test_score": pl.Float64(),
    "test_score_std": pl.Float64(),
    "n_trials": pl.Int64(),
    "best_params": pl.String(),
    "tune_seconds": pl.Float64(),
    "fit_seconds": pl.Float64(),
    "predict_seconds": pl.Float64(),
    "n_train": pl.Int64(),
    "n_val": pl.Int64(),
    "n_test": pl.Int64(),
    "n_features": pl.Int64(),
    "device": pl.String(),
    "versions": pl.String(),
    "started_at": pl.Datetime("us", "UTC"),
    "finished_at": pl.Datetime("us", "UTC"),
}

#: Columns that change from one run of the same job to the next.
TIMING_COLUMNS = ("tune_seconds", "fit_seconds", "predict_seconds", "started_at", "finished_at",
                  "run")


def result_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows as a frame with the result schema (missing columns null, ``metric_*`` as Float64)."""
    extra = sorted({k for row in rows for k in row if k.startswith("metric_")})
    schema = {**RESULT_SCHEMA, **{k: pl.Float64() for k in extra}}
    unknown = sorted({k for row in rows for k in row} - set(schema))
    if unknown:
        raise ValueError(f"result rows have columns outside the schema: {unknown}")
    columns = {name: [row.get(name) for row in rows] for name in schema}
    return pl.DataFrame(columns, schema=schema)
