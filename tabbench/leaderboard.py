"""Result rows aggregated into rankings: per-strategy standings, surrogate and NCD tables,
and the confidence within each dataset from the stored predictions.

The files themselves are read and written by :mod:`tabbench.results` and
:mod:`tabbench.predictions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from tabbench.bootstrap import paired_bootstrap
from tabbench.ensemble import ensemble_predictions
from tabbench.metrics import get_metric
from tabbench.predictions import JobPredictions, read_predictions
from tabbench.results import with_kind
from tabbench.splits import TIME_KINDS
from tabbench.stats import normalized_scores, rank_scores, win_rate_matrix

BASELINE = "dummy"


@dataclass(frozen=True)
class Standings:
    """Aggregated results of one split strategy."""

    strategy: str
    summary: pl.DataFrame     # per model: mean rank, normalized score, win rate, n datasets
    per_dataset: pl.DataFrame  # per (dataset, model): mean test score, std, rank


#: Kinds of rows that compete in the rankings (surrogates and NCD methods do not).
RANKED_KINDS = ("benchmark", "ensemble")


def is_surrogate() -> pl.Expr:
    """Rows of surrogate interpreters, which explain models rather than compete with them."""
    return pl.col("kind") == "surrogate"


def surrogate_table(results: pl.DataFrame) -> pl.DataFrame:
    """Surrogate rows with their fidelity, rule count and the scores of surrogate and black box."""
    rows = with_kind(results).filter((pl.col("status") == "ok") & is_surrogate())
    wanted = ["dataset", "split_id", "model", "variant", "metric_fidelity", "metric_n_rules",
              "metric_black_box_score", "test_score"]
    return rows.select([c for c in wanted if c in rows.columns]).sort("dataset", "model")


def is_ncd() -> pl.Expr:
    """Rows of novel class discovery, which cluster unseen classes rather than predict a target."""
    return pl.col("kind") == "ncd"


def ncd_table(results: pl.DataFrame) -> pl.DataFrame:
    """NCD rows: clustering accuracy, NMI, ARI and the estimated number of novel classes."""
    rows = with_kind(results).filter((pl.col("status") == "ok") & is_ncd())
    wanted = ["dataset", "split_id", "model", "variant", "metric_acc", "test_score_std",
              "metric_nmi", "metric_ari", "metric_k_hat"]
    return rows.select([c for c in wanted if c in rows.columns]).sort("dataset", "model")


def entry_label() -> pl.Expr:
    """The leaderboard name of a row: ``model`` when tuned, else ``model (variant)``."""
    return pl.when(pl.col("variant") == "tuned").then(pl.col("model")) \
        .otherwise(pl.col("model") + " (" + pl.col("variant") + ")")


def task_scores(results: pl.DataFrame) -> pl.DataFrame:
    """Mean ``test_score`` per (dataset, split, model, variant) over seeds.

    Only ``ok`` rows of the ranked kinds (benchmark jobs and ensembles) count; surrogate and
    NCD rows are left out.

    A model is named ``model`` for the tuned variant and ``model (default)`` otherwise, so
    that both variants can be ranked side by side.
    """
    ok = with_kind(results).filter((pl.col("status") == "ok")
                                   & pl.col("kind").is_in(RANKED_KINDS))
    if ok.is_empty():
        return ok
    return (
        ok.with_columns(entry_label().alias("entry"))
        .group_by("dataset", "split_strategy", "split_id", "entry", "metric")
        .agg(pl.col("test_score").mean(),
             pl.coalesce(pl.col("test_score").std(), pl.col("test_score_std").mean())
             .alias("seed_std"),
             pl.col("fit_seconds").mean())
        .sort("dataset", "split_id", "entry")
    )


def dataset_confidence(run_dir: Path, results: pl.DataFrame, *, n_resamples: int = 1000,
                       seed: int = 0, level: float = 0.95) -> pl.DataFrame | None:
    """Each model's test-score interval and tie with the best, per (dataset, split, seed).

    A paired bootstrap over the test rows of the stored predictions
    (:func:`tabbench.bootstrap.paired_bootstrap`): moving blocks in time order for the
    time-based strategies, single rows otherwise. An ensemble's predictions are its
    members' blended with its weights. ``None`` when the run folder stores no predictions.
    Columns: ``dataset, split_strategy, split_id, seed, metric, model, score, low, high,
    tied_with_best, is_best``.
    """
    ok = with_kind(results).filter((pl.col("status") == "ok")
                                   & pl.col("kind").is_in(RANKED_KINDS))
    stored = read_predictions(run_dir, ok.filter(pl.col("kind") == "benchmark")["job_id"])
    if stored.is_empty():
        return None
    tests = {job_id: JobPredictions.of(frame, "test")
             for (job_id,), frame in stored.group_by("job_id")}
    rows = []
    for (dataset, strategy, split_id, job_seed), group in ok.with_columns(
            entry_label().alias("entry")).group_by(
            "dataset", "split_strategy", "split_id", "seed", maintain_order=True):
        predictions, y, test_rows, task = {}, None, None, group["task"][0]
        for row in group.sort("entry").iter_rows(named=True):
            test = _test_predictions(row, tests)
            if test is None or (test_rows is not None
                                and not np.array_equal(test.rows, test_rows)):
                continue  # no predictions, or another subsample's rows (another max_rows)
            if y is None:
                y, test_rows = test.y, test.rows
            predictions[row["entry"]] = test.prediction[:, 0] if task == "regression" \
                else test.prediction
        if len(predictions) < 2:
            continue
        metric = group["metric"][0]
        target = y if task == "regression" else y.astype(np.int64)
        result = paired_bootstrap(metric, target, predictions, n_resamples=n_resamples,
                                  block="auto" if strategy in TIME_KINDS else None,
                                  seed=seed, level=level)
        rows.extend({"dataset": dataset, "split_strategy": strategy, "split_id": split_id,
                     "seed": job_seed, "metric": metric, **entry}
                    for entry in result.table())
    if not rows:
        return None
    return pl.DataFrame(rows).select(
        "dataset", "split_strategy", "split_id", "seed", "metric", "model", "score", "low",
        "high", "tied_with_best", "is_best")


def _test_predictions(row: dict, tests: dict[str, JobPredictions]) -> JobPredictions | None:
    """A job's stored test predictions; an ensemble's, blended from its members'."""
    if row["kind"] == "ensemble":
        return ensemble_predictions(row, tests)
    return tests.get(row["job_id"])


def ties_with_best(confidence: pl.DataFrame) -> pl.DataFrame:
    """Per split strategy and model: on how many datasets it is tied with the best.

    A model is tied with the best on a dataset when it is the best or not significantly
    worse in at least half of that dataset's (split, seed) bootstraps.
    """
    per_dataset = confidence.group_by("split_strategy", "dataset", "model").agg(
        (pl.col("tied_with_best").mean() >= 0.5).alias("tied"))
    return per_dataset.group_by("split_strategy", "model").agg(
        pl.col("tied").sum().cast(pl.Int64).alias("tied_with_best"))


def standings(results: pl.DataFrame, confidence: pl.DataFrame | None = None,
              ) -> list[Standings]:
    """Rank models per (dataset, split) and aggregate across datasets, per split strategy.

    With ``confidence`` (:func:`dataset_confidence`), the summary also says on how many
    datasets each model is tied with the best, and the per-dataset table has the score's
    interval (``low``, ``high``: the mean over the strategy's splits and seeds).
    """
    scores = task_scores(results)
    if scores.is_empty():
        return []
    ranked = []
    for _, group in scores.group_by("dataset", "split_id", maintain_order=True):
        sign = 1.0 if get_metric(group["metric"][0]).direction == "maximize" else -1.0
        signed = sign * group["test_score"].to_numpy()[None, :]
        entries = group["entry"].to_list()
        ranked.append(group.with_columns(
            pl.Series("rank", rank_scores(signed[0], maximize=True)),
            pl.Series("normalized", normalized_scores(signed, entries, BASELINE)[0]),
            pl.Series("win_rate", _mean_off_diagonal(win_rate_matrix(signed))),
        ))
    table = pl.concat(ranked)
    out = []
    for (strategy,), group in table.group_by("split_strategy", maintain_order=True):
        summary = (
            group.group_by("entry")
            .agg(pl.col("rank").mean().alias("mean_rank"),
                 pl.col("normalized").mean().alias("normalized_score"),
                 pl.col("win_rate").mean(),
                 pl.col("dataset").n_unique().alias("n_datasets"))
            .sort("mean_rank", "entry")
            .rename({"entry": "model"})
        )
        per_dataset = (
            group.group_by("dataset", "entry", "metric")
            .agg(pl.col("test_score").mean(), pl.col("seed_std").mean().alias("std"),
                 pl.col("rank").mean())
            .sort("dataset", "rank", "entry")
            .rename({"entry": "model"})
        )
        if confidence is not None:
            summary, per_dataset = _with_confidence(strategy, summary, per_dataset, confidence)
        out.append(Standings(strategy, summary, per_dataset))
    return sorted(out, key=lambda s: s.strategy)


def _with_confidence(strategy: str, summary: pl.DataFrame, per_dataset: pl.DataFrame,
                     confidence: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``summary`` with ``tied_with_best``, ``per_dataset`` with ``low``/``high``."""
    mine = confidence.filter(pl.col("split_strategy") == strategy)
    if mine.is_empty():
        return summary, per_dataset
    ties = ties_with_best(mine).drop("split_strategy")
    intervals = mine.group_by("dataset", "model").agg(pl.col("low").mean(),
                                                      pl.col("high").mean())
    return (summary.join(ties, on="model", how="left", maintain_order="left"),
            per_dataset.join(intervals, on=["dataset", "model"], how="left",
                             maintain_order="left"))


def _mean_off_diagonal(matrix: np.ndarray) -> np.ndarray:
    """Each row's mean over the other models (NaN for a lone model)."""
    if matrix.shape[0] < 2:
        return np.full(matrix.shape[0], np.nan)
    return np.nanmean(matrix, axis=1)

