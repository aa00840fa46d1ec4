"""Compare split strategies: the same models ranked under random and time-based splits.

Per dataset, a model's score under a strategy is its mean test score over that strategy's
splits (e.g. the sliding windows) and seeds; models are ranked per (dataset, strategy).
Rankings are compared with Kendall's tau per dataset, and pooled: tau between the models'
mean ranks over all datasets (the two overall leaderboards).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np
import polars as pl

from tabbench.leaderboard import task_scores
from tabbench.metrics import get_metric
from tabbench.stats import kendall_tau, rank_scores

POOLED = "(pooled)"


@dataclass(frozen=True)
class SplitComparison:
    """Rankings under each strategy, their agreement, and what moved."""

    strategies: list[str]
    rankings: pl.DataFrame  # dataset, model, strategy, metric, score, rank
    taus: pl.DataFrame      # dataset (or "(pooled)"), strategy_a, strategy_b, tau, pvalue, n_models
    moves: pl.DataFrame     # dataset, model, rank_<a>, rank_<b>, rank_change, score_<a>, score_<b>, score_change_pct

    def side_by_side(self, dataset: str | None = None) -> pl.DataFrame:
        """Ranks (and scores) of each model under each strategy, one column per strategy."""
        table = self.rankings if dataset is None else self.rankings.filter(
            pl.col("dataset") == dataset)
        if dataset is None:
            table = table.group_by("model", "strategy").agg(pl.col("rank").mean())
        wide = table.pivot(on="strategy", index="model", values="rank", aggregate_function="mean")
        order = [s for s in self.strategies if s in wide.columns]
        return wide.select("model", *order).sort(order[0] if order else "model")


def compare_splits(results: pl.DataFrame, *, reference: str = "random",
                   target: str = "time") -> SplitComparison:
    """Compare the rankings of the split strategies found in ``results`` (``ok`` rows only).

    ``moves`` compares ``reference`` (default the random split) with ``target`` (default the
    time split), ranking on each dataset the models both scored (Kendall's tau, which only
    counts pairs in the same order, needs no re-ranking): a positive ``rank_change`` means
    the model ranks worse under ``target``;
    ``score_change_pct`` is the relative change of the score, signed so that a negative
    value is always a loss (whatever the metric's direction).
    """
    scores = task_scores(results)
    if scores.is_empty():
        raise ValueError("no ok results to compare")
    per_strategy = (
        scores.group_by("dataset", "split_strategy", "entry", "metric")
        .agg(pl.col("test_score").mean().alias("score"))
        .rename({"split_strategy": "strategy", "entry": "model"})
    )
    rankings = pl.concat([
        group.with_columns(_ranks(group, "score", "rank"))
        for _, group in per_strategy.group_by("dataset", "strategy", maintain_order=True)
    ]).sort("dataset", "strategy", "rank")
    strategies = _order(rankings["strategy"].unique().to_list())
    return SplitComparison(strategies, rankings, _taus(rankings, strategies),
                           _moves(rankings, reference, target))


def _ranks(group: pl.DataFrame, score: str, name: str) -> pl.Series:
    """Ranks (1 = best, ties averaged) of ``group[score]``, one dataset's models."""
    maximize = get_metric(group["metric"][0]).direction == "maximize"
    return pl.Series(name, rank_scores(group[score].to_numpy(), maximize=maximize))


def _order(strategies: list[str]) -> list[str]:
    preferred = ["random", "stratified", "time", "sliding-window", "expanding-window", "group"]
    return sorted(strategies, key=lambda s: (preferred.index(s) if s in preferred else 99, s))


def _taus(rankings: pl.DataFrame, strategies: list[str]) -> pl.DataFrame:
    rows = []
    datasets = sorted(rankings["dataset"].unique().to_list())
    mean_ranks = rankings.group_by("strategy", "model").agg(pl.col("rank").mean())
    for a, b in combinations(strategies, 2):
        for dataset, table in [*((d, rankings.filter(pl.col("dataset") == d)) for d in datasets),
                               (POOLED, mean_ranks)]:
            ranks_a = table.filter(pl.col("strategy") == a).select("model", "rank")
            ranks_b = table.filter(pl.col("strategy") == b).select("model", "rank")
            both = ranks_a.join(ranks_b, on="model", suffix="_b")
            if both.height < 2:
                continue
            tau, pvalue = kendall_tau(both["rank"].to_numpy(), both["rank_b"].to_numpy())
            rows.append({"dataset": dataset, "strategy_a": a, "strategy_b": b, "tau": tau,
                         "pvalue": pvalue, "n_models": both.height})
    schema = {"dataset": pl.String, "strategy_a": pl.String, "strategy_b": pl.String,
              "tau": pl.Float64, "pvalue": pl.Float64, "n_models": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def _moves(rankings: pl.DataFrame, reference: str, target: str) -> pl.DataFrame:
    a = rankings.filter(pl.col("strategy") == reference).select(
        "dataset", "model", "metric", pl.col("rank").alias(f"rank_{reference}"),
        pl.col("score").alias(f"score_{reference}"))
    b = rankings.filter(pl.col("strategy") == target).select(
        "dataset", "model", pl.col("rank").alias(f"rank_{target}"),
        pl.col("score").alias(f"score_{target}"))
    moves = a.join(b, on=["dataset", "model"])
    if moves.is_empty():
        return moves
    # ranks among the models both strategies scored: a model that only one of them has (a
    # top-k variant, a failed job) must not shift the others' ranks
    moves = pl.concat([
        group.with_columns(*(_ranks(group, f"score_{name}", f"rank_{name}")
                             for name in (reference, target)))
        for _, group in moves.group_by("dataset", maintain_order=True)])
    sign = np.array([1.0 if get_metric(m).direction == "maximize" else -1.0
                     for m in moves["metric"].to_list()])
    before, after = moves[f"score_{reference}"].to_numpy(), moves[f"score_{target}"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        change = 100.0 * sign * (after - before) / np.abs(before)
    return moves.with_columns(
        (pl.col(f"rank_{target}") - pl.col(f"rank_{reference}")).alias("rank_change"),
        pl.Series("score_change_pct", change),
    ).sort("dataset", f"rank_{reference}")
