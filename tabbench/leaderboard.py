"""Result rows aggregated into rankings: per-strategy standings, surrogate and NCD tables.

The files themselves are read and written by :mod:`tabbench.results`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from tabbench.metrics import get_metric
from tabbench.results import with_kind
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


def standings(results: pl.DataFrame) -> list[Standings]:
    """Rank models per (dataset, split) and aggregate across datasets, per split strategy."""
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
        out.append(Standings(strategy, summary, per_dataset))
    return sorted(out, key=lambda s: s.strategy)


def _mean_off_diagonal(matrix: np.ndarray) -> np.ndarray:
    """Each row's mean over the other models (NaN for a lone model)."""
    if matrix.shape[0] < 2:
        return np.full(matrix.shape[0], np.nan)
    return np.nanmean(matrix, axis=1)

