"""Post-hoc ensembles from stored predictions: Caruana's greedy selection, no refit.

For each (dataset, split, seed) of a run folder, the ``ok`` benchmark jobs whose
predictions are stored (:mod:`tabbench.core.predictions`) are the candidate members. Greedy
ensemble selection with replacement (Caruana et al., 2004, as AutoGluon's weighted
ensemble and TabArena use it) starts from an empty ensemble and, :data:`ITERATIONS` times,
adds the member whose addition gives the best **validation** score of the averaged
predictions; a member's weight is the share of the iterations that chose it. The ensemble
is then scored once on the test rows and written as an ordinary result row (kind
``ensemble``, model ``ensemble``, variant ``caruana``; members and weights in
``best_params``; its seconds are the candidates' summed, plus the selection), so every
leaderboard, statistic and report ranks it like a model.

Test predictions never reach the selection: :func:`caruana_weights` sees validation
predictions only.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tabbench import __version__
from tabbench.core.predictions import JobPredictions, read_predictions
from tabbench.core.results import parquet_files, read_results, write_result
from tabbench.core.runlock import run_folder_lock
from tabbench.core.schema import JobIdentity
from tabbench.data.metrics import get_metric, is_better, score

__all__ = ["ITERATIONS", "EnsembleOutcome", "build_ensembles", "caruana_weights",
           "ensemble_predictions", "ensemble_run_folder"]

#: Rounds of greedy selection (AutoGluon's weighted ensemble uses 25 by default).
ITERATIONS = 25
METHOD = "caruana"
#: Scores closer than this are a tie (rounding noise must not pick a member that changes
#: nothing, such as a constant prediction under ROC AUC).
TIE_TOLERANCE = 1e-9
#: Models that are never members: the ``dummy`` baseline predicts a constant, which under a
#: ranking metric only says "keep the current mix" and would take most of the weight.
NOT_MEMBERS = ("dummy",)
_GROUP = ("dataset", "dataset_fingerprint", "split_id", "seed")


def caruana_weights(metric: str, y_val: np.ndarray, val_predictions: Sequence[np.ndarray],
                    iterations: int = ITERATIONS) -> np.ndarray:
    """Member weights (summing to 1) from greedy selection with replacement on validation.

    Each round adds the member that gives the best validation score of the running
    average; on a tie, the member with the better validation score of its own (then the
    earlier one), so that a member which changes nothing (a constant under ROC AUC) is not
    chosen over one that does, and the result is deterministic.
    """
    if not val_predictions:
        raise ValueError("an ensemble needs at least one member")
    members = [np.asarray(p, dtype=np.float64) for p in val_predictions]
    alone = [score(metric, y_val, p) for p in members]
    order = sorted(range(len(members)), key=lambda i: _rank_key(metric, alone[i], i))
    counts = np.zeros(len(members), dtype=np.int64)
    total = np.zeros_like(members[0])
    for step in range(1, iterations + 1):
        best, best_score = order[0], float("nan")
        for position, index in enumerate(order):
            candidate = score(metric, y_val, (total + members[index]) / step)
            if position == 0 or (is_better(metric, candidate, best_score)
                                 and abs(candidate - best_score) > TIE_TOLERANCE):
                best, best_score = index, candidate
        counts[best] += 1
        total += members[best]
    return counts / counts.sum()


def _rank_key(metric: str, value: float, index: int) -> tuple[bool, float, int]:
    """Sort key: better validation scores first, ``nan`` last, then the given order."""
    sign = -1.0 if get_metric(metric).direction == "maximize" else 1.0
    return (bool(np.isnan(value)), sign * value if not np.isnan(value) else 0.0, index)


@dataclass(frozen=True)
class EnsembleOutcome:
    """What happened to one (dataset, split, seed): built now, or kept (members unchanged)."""

    row: dict[str, Any]
    built: bool
    left_out: dict[str, str]  # member job id → why it is not a member


def build_ensembles(out_dir: Path, *, iterations: int = ITERATIONS,
                    on_result: Callable[[EnsembleOutcome], None] | None = None,
                    ) -> list[EnsembleOutcome]:
    """Build the ensembles of run folder ``out_dir`` (taking its lock); see the module.

    An ensemble whose members (their job ids and finishing times) have not changed since
    it was written is kept; otherwise it is computed again and its file replaced, so a
    killed ensemble step resumes where it stopped.
    """
    out_dir = Path(out_dir)
    if not parquet_files(out_dir / "results"):
        read_results(out_dir)  # its one-line error; the lock would create the folder
    with run_folder_lock(out_dir, "tabbench ensemble"):
        return ensemble_run_folder(out_dir, iterations=iterations, on_result=on_result)


def ensemble_run_folder(out_dir: Path, *, iterations: int = ITERATIONS,
                        on_result: Callable[[EnsembleOutcome], None] | None = None,
                        ) -> list[EnsembleOutcome]:
    """:func:`build_ensembles` for a caller that already holds the run folder's lock."""
    out_dir = Path(out_dir)
    results = read_results(out_dir)
    benchmark = results.filter(pl.col("kind") == "benchmark")
    existing = _existing(results)
    outcomes = []
    for key, group in benchmark.group_by(_GROUP, maintain_order=True):
        outcome = _ensemble_group(out_dir, dict(zip(_GROUP, key, strict=True)), group,
                                  existing, iterations)
        if outcome is None:
            continue
        outcomes.append(outcome)
        if on_result is not None:
            on_result(outcome)
    return outcomes


def _existing(results: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """``job_id → row`` of the ensemble rows already in the folder."""
    rows = results.filter(pl.col("kind") == "ensemble")
    return {row["job_id"]: row for row in rows.iter_rows(named=True) if row["best_params"]}


def ensemble_predictions(row: dict[str, Any],
                         members: dict[str, JobPredictions]) -> JobPredictions | None:
    """The predictions of the ensemble in result ``row``: its members' (``job_id →``
    stored predictions), blended with its weights; ``None`` if a member's are missing."""
    weights = json.loads(row["best_params"])["members"]
    if not weights or any(job_id not in members for job_id in weights):
        return None
    first = members[next(iter(weights))]
    blend = sum(weight * members[job_id].prediction for job_id, weight in weights.items())
    return JobPredictions(first.rows, first.time, first.y, blend)


def _ensemble_group(out_dir: Path, key: dict[str, Any], group: pl.DataFrame,
                    existing: dict[str, dict[str, Any]],
                    iterations: int) -> EnsembleOutcome | None:
    """Build (or keep) the ensemble of one (dataset, split, seed)."""
    group = group.sort("job_id")
    left_out = {row["job_id"]: f"status {row['status']}"
                for row in group.iter_rows(named=True) if row["status"] != "ok"}
    left_out.update({row["job_id"]: "the baseline" for row in group.iter_rows(named=True)
                     if row["status"] == "ok" and row["model"] in NOT_MEMBERS})
    ok = group.filter((pl.col("status") == "ok") & ~pl.col("model").is_in(NOT_MEMBERS))
    stored = read_predictions(out_dir, ok["job_id"].to_list())
    members, val, test = [], [], []
    reference: tuple[np.ndarray, np.ndarray] | None = None
    for row in ok.iter_rows(named=True):
        frame = stored.filter(pl.col("job_id") == row["job_id"])
        if frame.is_empty():
            left_out[row["job_id"]] = "no stored predictions"
            continue
        val_part, test_part = JobPredictions.of(frame, "val"), JobPredictions.of(frame, "test")
        rows = (val_part.rows, test_part.rows)
        if reference is None:
            reference = rows
        elif not (np.array_equal(rows[0], reference[0]) and np.array_equal(rows[1], reference[1])):
            left_out[row["job_id"]] = "predictions on other rows (another max_rows or split)"
            continue
        members.append(row)
        val.append(val_part)
        test.append(test_part)
    if not members:
        return None
    first = members[0]
    state = _state(members)
    identity = JobIdentity(
        kind="ensemble", dataset=key["dataset"], dataset_fingerprint=key["dataset_fingerprint"],
        task=first["task"], split_strategy=first["split_strategy"], split_id=key["split_id"],
        model="ensemble", variant=METHOD, seed=key["seed"], metric=first["metric"],
        label=(key["dataset"], key["split_id"], "ensemble", METHOD, f"s{key['seed']}"),
        key={"dataset": key["dataset_fingerprint"], "split": key["split_id"],
             "seed": key["seed"], "method": METHOD, "iterations": iterations,
             "metric": first["metric"]})
    kept = existing.get(identity.job_id)
    if kept is not None and json.loads(kept["best_params"]).get("state") == state:
        return EnsembleOutcome(kept, False, left_out)
    row = _score(identity, members, val, test, iterations, state, left_out)
    write_result(out_dir, row, None)
    return EnsembleOutcome(row, True, left_out)


def _score(identity: JobIdentity, members: list[dict[str, Any]], val: list[JobPredictions],
           test: list[JobPredictions], iterations: int, state: str,
           left_out: dict[str, str]) -> dict[str, Any]:
    """Select on validation, score on test; the ensemble's result row."""
    started, clock = datetime.now(UTC), time.perf_counter()
    metric, task = identity.metric, identity.task
    y_val, y_test = _target(val[0].y, task), _target(test[0].y, task)
    weights = caruana_weights(metric, y_val, [_shape(p.prediction, task) for p in val],
                              iterations)
    blend = sum(w * _shape(p.prediction, task) for w, p in zip(weights, test, strict=True))
    blend_val = sum(w * _shape(p.prediction, task) for w, p in zip(weights, val, strict=True))
    chosen = {row["job_id"]: round(float(w), 6)
              for row, w in zip(members, weights, strict=True) if w > 0}
    return {
        **identity.base_row(members[0]["run"]), "status": "ok", "error": None,
        "val_score": score(metric, y_val, blend_val), "test_score": score(metric, y_test, blend),
        "test_score_std": 0.0, "n_trials": iterations,
        "best_params": json.dumps({"members": chosen, "candidates": len(members),
                                   "left_out": left_out, "state": state}, sort_keys=True),
        # an ensemble costs what its candidates cost, plus the selection
        "tune_seconds": time.perf_counter() - clock + _total(members, "tune_seconds"),
        "fit_seconds": _total(members, "fit_seconds"),
        "predict_seconds": _total(members, "predict_seconds"),
        "n_train": members[0]["n_train"], "n_val": len(y_val), "n_test": len(y_test),
        "n_features": None, "device": "cpu",
        "versions": json.dumps({"tabbench": __version__, "method": METHOD}, sort_keys=True),
        "started_at": started, "finished_at": datetime.now(UTC),
    }


def _total(members: list[dict[str, Any]], column: str) -> float:
    return float(sum(row[column] or 0.0 for row in members))


def _state(members: list[dict[str, Any]]) -> str:
    """A hash of the members and when each finished: it changes when any member is rerun."""
    payload = json.dumps([[row["job_id"], str(row["finished_at"])] for row in members])
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _target(y: np.ndarray, task: str) -> np.ndarray:
    return y if task == "regression" else y.astype(np.int64)


def _shape(prediction: np.ndarray, task: str) -> np.ndarray:
    """Stored ``(n, k)`` predictions as the metrics take them (values ``(n,)`` for regression)."""
    return prediction[:, 0] if task == "regression" else prediction

