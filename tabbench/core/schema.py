"""The result schema: the stable columns and dtypes of ``leaderboard/<run>/results/*.parquet``.

Every row that any command writes into a run folder (``run`` jobs, ``explain`` surrogates,
``ncd`` methods, ``rank-features --evaluate`` jobs) has exactly :data:`RESULT_SCHEMA`'s
columns, in its order, so that one glob read of a ``results/`` folder (polars, pandas or
DuckDB) never fails and never drops a column. The ``kind`` column tells the rows apart;
the extra metrics of each kind are declared, nullable columns (:data:`METRIC_COLUMNS`),
null in the rows of the other kinds.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import polars as pl

#: Bumped when the meaning of a result changes; part of every job id. (Adding a nullable
#: column does not change a result, so existing run folders keep their job ids.)
SCHEMA_VERSION = "1"

STATUSES = ("ok", "failed", "timeout")

Kind = Literal["benchmark", "ensemble", "surrogate", "ncd"]

#: What a row is: a benchmark job, an ensemble of jobs, a surrogate interpreter of a model
#: (``tabbench explain``), or a novel class discovery method (``tabbench ncd``).
KINDS: tuple[str, ...] = ("benchmark", "ensemble", "surrogate", "ncd")

#: Every extra metric any producer writes, as ``metric_<name>`` (Float64, null where the
#: row's kind has no such measure). A new extra metric is declared here first.
METRIC_COLUMNS: dict[str, pl.DataType] = {
    # surrogate rows (tabbench.studies.explain.explain)
    "metric_fidelity": pl.Float64(),            # agreement with the black box on test
    "metric_fidelity_kappa": pl.Float64(),      # Cohen's kappa of that (classification)
    "metric_fidelity_val": pl.Float64(),        # the same on validation (chose the size)
    "metric_fidelity_baseline": pl.Float64(),   # a constant's fidelity (classification)
    "metric_fidelity_auc": pl.Float64(),        # ROC AUC against the black box (binary)
    "metric_black_box_score": pl.Float64(),     # the black box's own test score
    "metric_n_rules": pl.Float64(),             # leaves, rules or terms of the surrogate
    "metric_depth": pl.Float64(),
    "metric_top_k": pl.Float64(),               # features the surrogate uses
    "metric_importance_seconds": pl.Float64(),  # time of the feature importances
    # ncd rows (tabbench.studies.ncd.runner)
    "metric_acc": pl.Float64(),                 # Hungarian clustering accuracy
    "metric_nmi": pl.Float64(),
    "metric_ari": pl.Float64(),
    "metric_k_hat": pl.Float64(),               # estimated number of novel classes
}

RESULT_SCHEMA: dict[str, pl.DataType] = {
    "run": pl.String(),
    "kind": pl.String(),
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
    **METRIC_COLUMNS,
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


def job_id(label: Sequence[object], key: Mapping[str, Any]) -> str:
    """A row's id: readable ``label`` parts, then a hash of ``key`` and the schema version.

    ``key`` holds what determines the result (and nothing else), so a job whose inputs
    did not change keeps its id and is not run again.
    """
    payload = json.dumps({**key, "schema": SCHEMA_VERSION}, sort_keys=True, default=str)
    digest = hashlib.sha256(payload.encode()).hexdigest()[:12]
    return "-".join(str(part) for part in (*label, digest))


@dataclass(frozen=True, eq=False)
class JobIdentity:
    """What one result row is about; every producer (jobs, surrogates, NCD) builds its
    rows from one, so ids and identifying columns are made in one place."""

    kind: Kind
    dataset: str
    dataset_fingerprint: str | None
    task: str
    split_strategy: str
    split_id: str
    model: str
    variant: str
    seed: int
    metric: str
    label: tuple[object, ...]
    key: Mapping[str, Any]

    @cached_property
    def job_id(self) -> str:
        """See :func:`job_id`."""
        return job_id(self.label, self.key)

    def base_row(self, run: str) -> dict[str, Any]:
        """The row's identifying columns, known before the work runs."""
        return {
            "run": run, "kind": self.kind, "job_id": self.job_id, "dataset": self.dataset,
            "dataset_fingerprint": self.dataset_fingerprint, "task": self.task,
            "split_strategy": self.split_strategy, "split_id": self.split_id,
            "model": self.model, "variant": self.variant, "seed": self.seed,
            "metric": self.metric,
        }


def result_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows as a frame with exactly the columns of :data:`RESULT_SCHEMA`, in its order.

    Columns a row leaves out are null. A key outside the schema (an undeclared
    ``metric_*`` included), or a row without a valid ``kind``, is a programming error
    and raises :class:`ValueError`.
    """
    unknown = sorted({k for row in rows for k in row} - RESULT_SCHEMA.keys())
    if unknown:
        message = (f"result rows have columns outside the schema: {unknown}; declare them in "
                   f"tabbench/core/schema.py (extra metrics in METRIC_COLUMNS)")
        raise ValueError(message)
    kinds = sorted({str(row.get("kind")) for row in rows} - set(KINDS))
    if kinds:
        message = (f"result rows must have a kind, one of {', '.join(KINDS)}; found: "
                   f"{', '.join(kinds)}")
        raise ValueError(message)
    columns = {name: [row.get(name) for row in rows] for name in RESULT_SCHEMA}
    return pl.DataFrame(columns, schema=RESULT_SCHEMA)
