"""Result rows aggregated into rankings: per-strategy standings, surrogate and NCD tables,
and the confidence within each dataset from the stored predictions.

The files themselves are read and written by :mod:`tabbench.core.results` and
:mod:`tabbench.core.predictions`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from tabbench.analysis.bootstrap import (
    BootstrapResult,
    block_length,
    compare_with_best,
    paired_bootstrap,
    percentile_interval,
    shared_row_bootstrap,
)
from tabbench.analysis.stats import normalized_scores, rank_scores, win_rate_matrix
from tabbench.core.predictions import JobPredictions, read_predictions
from tabbench.core.results import with_kind
from tabbench.data.metrics import get_metric
from tabbench.data.splits import TIME_KINDS
from tabbench.methods.ensemble import ensemble_predictions

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
    """Surrogate rows with their fidelity (Cohen's kappa first: a constant scores 0 on it,
    while it can agree with an imbalanced black box most of the time), rule count and the
    scores of surrogate and black box."""
    rows = with_kind(results).filter((pl.col("status") == "ok") & is_surrogate())
    wanted = ["dataset", "split_id", "model", "variant", "metric_fidelity_kappa",
              "metric_fidelity", "metric_n_rules",
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


def _ranked(results: pl.DataFrame) -> pl.DataFrame:
    """The ``ok`` rows of the ranked kinds."""
    return with_kind(results).filter((pl.col("status") == "ok")
                                     & pl.col("kind").is_in(RANKED_KINDS))


def task_scores(results: pl.DataFrame) -> pl.DataFrame:
    """Mean ``test_score`` per (dataset, split, model, variant) over seeds.

    Only ``ok`` rows of the ranked kinds (benchmark jobs and ensembles) count; surrogate and
    NCD rows are left out.

    A model is named ``model`` for the tuned variant and ``model (default)`` otherwise, so
    that both variants can be ranked side by side.
    """
    ok = _ranked(results)
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

    A paired bootstrap over the test rows of the stored predictions, made so that a
    dataset's runs can be pooled resample by resample (:func:`per_dataset_confidence`).
    Time-based strategies: a circular block bootstrap in time order per split
    (:func:`tabbench.analysis.bootstrap.paired_bootstrap`), with one block length per split chosen
    from the predictions of all its seeds (:func:`tabbench.analysis.bootstrap.block_length`); the
    seeds of a split share its resamples, different splits (whose test sets do not
    overlap) get independent ones. Other strategies: single rows, drawn with replacement
    from all the rows of the dataset's test sets under the strategy at once
    (:func:`tabbench.analysis.bootstrap.shared_row_bootstrap`), so that runs on the same rows, or
    on overlapping test sets (random splits), share the counts of the rows they share.
    The resampling seeds are derived from ``seed``, the dataset and the split (or the
    strategy). ``tied_with_best`` is
    decided over the run's models at once (:func:`tabbench.analysis.bootstrap.compare_with_best`).
    An ensemble's predictions are its members' blended with its weights. ``None`` when
    the run folder stores no predictions.

    Columns: ``dataset, split_strategy, split_id, seed, metric, model, score, low, high,
    tied_with_best, is_best, block`` (the block length, null for single rows) and
    ``resampled`` (the model's score on each of the ``n_resamples`` resamples).
    """
    ok = _ranked(results)
    stored = read_predictions(run_dir, ok.filter(pl.col("kind") == "benchmark")["job_id"])
    if stored.is_empty():
        return None
    tests = {job_id: JobPredictions.of(frame, "test")
             for (job_id,), frame in stored.group_by("job_id")}
    rows, resampled = [], []
    for (dataset, strategy), group in ok.with_columns(entry_label().alias("entry")).group_by(
            "dataset", "split_strategy", maintain_order=True):
        metric = group["metric"][0]
        splits = [split for _, split_group in group.group_by("split_id", maintain_order=True)
                  if (split := _split_runs(split_group, tests)) is not None]
        if strategy in TIME_KINDS:
            results_of = [_blocked(metric, split, n_resamples=n_resamples, level=level,
                                   seed=_derived_seed(seed, dataset, split.split_id))
                          for split in splits]
        else:
            shared = iter(shared_row_bootstrap(
                metric, [(split.rows, split.y, predictions) for split in splits
                         for predictions in split.runs.values()],
                n_resamples=n_resamples, seed=_derived_seed(seed, dataset, strategy),
                level=level))
            results_of = [{job_seed: next(shared) for job_seed in split.runs}
                          for split in splits]
        for split, by_seed in zip(splits, results_of, strict=True):
            for job_seed, result in by_seed.items():
                rows.extend({"dataset": dataset, "split_strategy": strategy,
                             "split_id": split.split_id, "seed": job_seed, "metric": metric,
                             **entry, "block": result.block} for entry in result.table())
                resampled.extend(result.resampled.T)
    if not rows:
        return None
    return pl.DataFrame(rows, schema_overrides={"block": pl.Int64}).select(
        "dataset", "split_strategy", "split_id", "seed", "metric", "model", "score", "low",
        "high", "tied_with_best", "is_best", "block").with_columns(
        pl.Series("resampled", np.vstack(resampled), dtype=pl.Array(pl.Float64, n_resamples)))


@dataclass(frozen=True, eq=False)
class _SplitRuns:
    """One split's stored test predictions: row ids, targets, and per seed the models'."""

    split_id: str
    rows: np.ndarray
    y: np.ndarray
    runs: dict[int, dict[str, np.ndarray]]


def _split_runs(group: pl.DataFrame, tests: dict[str, JobPredictions]) -> _SplitRuns | None:
    """The split's runs with at least two models on the same test rows, or None."""
    runs: dict[int, dict[str, np.ndarray]] = {}
    y, test_rows, task = None, None, group["task"][0]
    for row in group.sort("seed", "entry").iter_rows(named=True):
        test = _test_predictions(row, tests)
        if test is None or (test_rows is not None and not np.array_equal(test.rows, test_rows)):
            continue  # no predictions, or another subsample's rows (another max_rows)
        if y is None:
            y, test_rows = test.y, test.rows
        runs.setdefault(row["seed"], {})[row["entry"]] = (
            test.prediction[:, 0] if task == "regression" else test.prediction)
    runs = {job_seed: predictions for job_seed, predictions in runs.items()
            if len(predictions) >= 2}
    if not runs:
        return None
    target = y if task == "regression" else y.astype(np.int64)
    return _SplitRuns(group["split_id"][0], test_rows, target, runs)


def _blocked(metric: str, split: _SplitRuns, *, n_resamples: int, level: float,
             seed: int) -> dict[int, BootstrapResult]:
    """Circular block bootstraps of a time split's seeds, on the same resamples."""
    block = block_length(metric, split.y, {f"{job_seed}/{entry}": prediction
                                           for job_seed, predictions in split.runs.items()
                                           for entry, prediction in predictions.items()})
    return {job_seed: paired_bootstrap(metric, split.y, predictions, n_resamples=n_resamples,
                                       block=block, seed=seed, level=level)
            for job_seed, predictions in split.runs.items()}


def _derived_seed(seed: int, *parts: str) -> int:
    """A resampling seed from ``seed`` and names, stable across processes (unlike ``hash()``)."""
    payload = json.dumps([seed, *parts]).encode()
    return int.from_bytes(hashlib.sha256(payload).digest()[:8], "little")


def _test_predictions(row: dict, tests: dict[str, JobPredictions]) -> JobPredictions | None:
    """A job's stored test predictions; an ensemble's, blended from its members'."""
    if row["kind"] == "ensemble":
        return ensemble_predictions(row, tests)
    return tests.get(row["job_id"])


@dataclass(frozen=True, eq=False)
class PooledResamples:
    """One dataset under one strategy: each model's score averaged over the splits and seeds,
    and the same average on every resample (:func:`pooled_resamples`)."""

    strategy: str
    dataset: str
    metric: str
    models: list[str]
    n_runs: int
    score: np.ndarray      # (models,)
    resampled: np.ndarray  # (n_resamples, models)


def pooled_resamples(confidence: pl.DataFrame) -> list[PooledResamples]:
    """Per (split strategy, dataset) of :func:`dataset_confidence`'s table, the models with a
    bootstrap in every (split, seed) run (others are left out), their score averaged as in
    :func:`standings` (the mean over the splits of the mean over the seeds), and the same
    average taken on each resample: the runs' resamples are paired as
    :func:`dataset_confidence` draws them, so the averaged resampled score varies as the
    averaged score does over resamples of the test rows."""
    out = []
    for (strategy, dataset), group in confidence.group_by("split_strategy", "dataset",
                                                          maintain_order=True):
        n_runs = group.select("split_id", "seed").n_unique()
        present = group.group_by("model").agg(
            pl.struct("split_id", "seed").n_unique().alias("runs"))
        models = sorted(present.filter(pl.col("runs") == n_runs)["model"])
        if not models:
            continue
        part = group.filter(pl.col("model").is_in(models)).sort("split_id", "seed", "model")
        m = len(models)
        splits = part["split_id"].to_numpy()[::m]
        point = part["score"].to_numpy().reshape(n_runs, m)
        column = part["resampled"]
        if isinstance(column.dtype, pl.List):
            column = column.list.to_array(int(column.list.len().max()))
        samples = column.to_numpy().reshape(n_runs, m, -1)
        # the mean over each split's seeds, then over the splits
        by_split = [splits == split for split in dict.fromkeys(splits)]
        pooled = np.mean([point[rows].mean(axis=0) for rows in by_split], axis=0)
        pooled_samples = np.mean([samples[rows].mean(axis=0) for rows in by_split], axis=0).T
        out.append(PooledResamples(strategy, dataset, part["metric"][0], models, n_runs,
                                   pooled, pooled_samples))
    return out


def per_dataset_confidence(confidence: pl.DataFrame, *, level: float = 0.95) -> pl.DataFrame:
    """Each model's score averaged over a dataset's splits and seeds, its interval, and its
    tie with the best, per (split strategy, dataset).

    The rule: the scores and resamples of :func:`pooled_resamples`. The interval is the
    ``level`` percentile interval of the averaged resampled score, and ``tied_with_best``
    the simultaneous comparison of the averaged scores over the dataset's models
    (:func:`tabbench.analysis.bootstrap.compare_with_best`): on each dataset, the chance that any
    model is called worse than the best when it is not stays near ``1 - level``. Neither
    accounts for the variation from retraining on other training rows.

    Columns: ``split_strategy, dataset, metric, model, n_runs, score, low, high,
    tied_with_best, is_best``.
    """
    out = []
    for item in pooled_resamples(confidence):
        low, high = percentile_interval(item.resampled, level)
        comparison = compare_with_best(item.metric, item.score, item.resampled, level=level)
        out.extend({"split_strategy": item.strategy, "dataset": item.dataset,
                    "metric": item.metric, "model": model, "n_runs": item.n_runs,
                    "score": float(item.score[j]), "low": float(low[j]),
                    "high": float(high[j]),
                    "tied_with_best": bool(comparison.tied_with_best[j]),
                    "is_best": j == comparison.best} for j, model in enumerate(item.models))
    return pl.DataFrame(out, schema={
        "split_strategy": pl.String, "dataset": pl.String, "metric": pl.String,
        "model": pl.String, "n_runs": pl.Int64, "score": pl.Float64, "low": pl.Float64,
        "high": pl.Float64, "tied_with_best": pl.Boolean, "is_best": pl.Boolean})


def ties_with_best(confidence: pl.DataFrame) -> pl.DataFrame:
    """Per split strategy and model: on how many datasets it is tied with the best.

    Tied with the best on a dataset: the model's score averaged over the dataset's splits
    and seeds is not significantly worse than the best averaged score, in a comparison of
    all the dataset's models at once (:func:`per_dataset_confidence`, 95%). The error is
    controlled per dataset: over many datasets, a few false "worse" calls add up.
    """
    return per_dataset_confidence(confidence).group_by("split_strategy", "model").agg(
        pl.col("tied_with_best").sum().cast(pl.Int64))


def standings(results: pl.DataFrame, confidence: pl.DataFrame | None = None,
              ) -> list[Standings]:
    """Rank models per (dataset, split) and aggregate across datasets, per split strategy.

    With ``confidence`` (:func:`dataset_confidence`), the per-dataset table has the 95%
    interval (``low``, ``high``) of the score averaged over the strategy's splits and
    seeds, and the summary says on how many datasets each model is tied with the best
    (``tied_with_best``) out of how many were tested (``n_datasets_tested``), both by
    :func:`per_dataset_confidence`. A (dataset, model) is tested only when every one of
    its ``ok`` (split, seed) jobs under the strategy is in the bootstrap, so that the
    interval is the one of the ``test_score`` shown; otherwise its interval is null and
    the dataset is not counted.
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
            summary, per_dataset = _with_confidence(strategy, summary, per_dataset,
                                                    confidence, results)
        out.append(Standings(strategy, summary, per_dataset))
    return sorted(out, key=lambda s: s.strategy)


def _with_confidence(strategy: str, summary: pl.DataFrame, per_dataset: pl.DataFrame,
                     confidence: pl.DataFrame, results: pl.DataFrame,
                     ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``summary`` with ``tied_with_best`` and ``n_datasets_tested``, ``per_dataset`` with
    ``low``/``high`` (see :func:`standings`)."""
    mine = confidence.filter(pl.col("split_strategy") == strategy)
    if mine.is_empty():
        return summary, per_dataset
    jobs = (_ranked(results).filter(pl.col("split_strategy") == strategy)
            .group_by("dataset", entry_label().alias("model"))
            .agg(pl.struct("split_id", "seed").n_unique().alias("n_jobs")))
    # the bootstrap's runs are among the jobs: as many means all of them
    pooled = per_dataset_confidence(mine).join(jobs, on=["dataset", "model"]).filter(
        pl.col("n_runs") == pl.col("n_jobs"))
    ties = pooled.group_by("model").agg(
        pl.col("tied_with_best").sum().cast(pl.Int64),
        pl.len().cast(pl.Int64).alias("n_datasets_tested"))
    intervals = pooled.select("dataset", "model", "low", "high")
    summary = summary.join(ties, on="model", how="left", maintain_order="left")
    return (summary.with_columns(pl.col("n_datasets_tested").fill_null(0)),
            per_dataset.join(intervals, on=["dataset", "model"], how="left",
                             maintain_order="left"))


def _mean_off_diagonal(matrix: np.ndarray) -> np.ndarray:
    """Each row's mean over the other models (NaN for a lone model)."""
    if matrix.shape[0] < 2:
        return np.full(matrix.shape[0], np.nan)
    return np.nanmean(matrix, axis=1)

