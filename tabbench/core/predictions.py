"""A run folder's prediction store: each job's validation and test predictions.

``<run>/predictions/<job_id>.parquet`` holds one row per validation and test row of the
job's split: ``part`` (``val`` or ``test``), ``row`` (the row's index in the job's table),
``time`` (the row's time as int64, null without a time column), ``y`` (the target: class
code or value) and ``prediction`` (float32: the class probabilities, or one value for
regression). Rows are in time order within each part when the table has a time column.
With the predictions, an ensemble or a bootstrap needs no refit. Every file has the same
columns, so a whole folder is one Parquet scan (:func:`read_predictions`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from tabbench.core._atomic import write_parquet_atomic
from tabbench.core.paths import safe_join

__all__ = ["PREDICTIONS", "PREDICTION_SCHEMA", "JobPredictions", "prediction_frame",
           "predictions_path", "read_predictions", "write_predictions"]

#: The folder of a run that holds the prediction files.
PREDICTIONS = "predictions"

PREDICTION_SCHEMA: dict[str, pl.DataType] = {
    "part": pl.String(),
    "row": pl.Int64(),
    "time": pl.Int64(),
    "y": pl.Float64(),
    "prediction": pl.List(pl.Float32()),
}


def prediction_frame(parts: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                     time: np.ndarray | None = None) -> pl.DataFrame:
    """The stored frame of a job: ``parts`` maps ``val``/``test`` to ``(rows, y, prediction)``.

    ``prediction`` is ``(n,)`` or ``(n, k)``; ``time`` is the whole table's time column (int64)
    or ``None``. Rows are put in time order within each part.
    """
    frames = []
    for part, (rows, y, prediction) in parts.items():
        values = np.asarray(prediction, dtype=np.float32)
        values = values.reshape(len(rows), -1)
        order = np.argsort(time[rows], kind="stable") if time is not None else slice(None)
        frames.append(pl.DataFrame({
            "part": [part] * len(rows),
            "row": np.asarray(rows, dtype=np.int64)[order],
            "time": time[rows][order] if time is not None else None,
            "y": np.asarray(y, dtype=np.float64)[order],
            "prediction": values[order],
        }, schema={**PREDICTION_SCHEMA, "prediction": pl.Array(pl.Float32(), values.shape[1])}))
    frame = pl.concat(frames)
    return frame.with_columns(pl.col("prediction").cast(pl.List(pl.Float32())))


def predictions_path(out_dir: Path, job_id: str) -> Path:
    """``<out_dir>/predictions/<job_id>.parquet``."""
    return safe_join(out_dir, PREDICTIONS, f"{job_id}.parquet")


def write_predictions(out_dir: Path, job_id: str, frame: pl.DataFrame) -> Path:
    """Write a job's prediction frame atomically; return its path."""
    path = predictions_path(out_dir, job_id)
    write_parquet_atomic(path, frame)
    return path


def read_predictions(out_dir: Path, job_ids: Iterable[str] | None = None) -> pl.DataFrame:
    """The stored predictions of ``job_ids`` (default: all) with a ``job_id`` column, in one scan.

    Jobs without a prediction file are left out (a run with ``store_predictions = false``,
    or a failed job).
    """
    folder = Path(out_dir) / PREDICTIONS
    if job_ids is None:
        files = sorted(folder.glob("*.parquet"))
    else:
        files = [path for path in (folder / f"{job_id}.parquet" for job_id in job_ids)
                 if path.is_file()]
    if not files:
        return pl.DataFrame(schema={"job_id": pl.String(), **PREDICTION_SCHEMA})
    scan = pl.scan_parquet(files, include_file_paths="file", schema=PREDICTION_SCHEMA)
    return scan.with_columns(
        pl.col("file").str.extract(r"([^/]+)\.parquet$").alias("job_id")
    ).drop("file").select("job_id", *PREDICTION_SCHEMA).collect()


@dataclass(frozen=True, eq=False)
class JobPredictions:
    """One job's predictions on one part as arrays: rows, targets, ``(n, k)`` predictions."""

    rows: np.ndarray
    time: np.ndarray | None
    y: np.ndarray
    prediction: np.ndarray

    @classmethod
    def of(cls, frame: pl.DataFrame, part: str) -> JobPredictions:
        """The arrays of ``part`` in one job's frame (as read by :func:`read_predictions`)."""
        rows = frame.filter(pl.col("part") == part)
        width = rows["prediction"].list.len().max() if rows.height else 1
        matrix = rows["prediction"].list.to_array(width).to_numpy().astype(np.float64)
        time = rows["time"]
        return cls(rows["row"].to_numpy(), None if time.null_count() else time.to_numpy(),
                   rows["y"].to_numpy(), matrix)
