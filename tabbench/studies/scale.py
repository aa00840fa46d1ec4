"""Split comparisons by training size: the rankings of a learning-curve run at each size.

A run with ``train_rows`` (``tuned-train1250``, ``tuned-train5000``, … in the ``variant``
column) trains every model on nested subsets of each split's training part, the
validation and test rows fixed. :func:`compare_by_training_size` ranks the models under
each split strategy at each size, as :func:`tabbench.analysis.compare.compare_splits` does for a
whole run, so the agreement between two strategies (Kendall tau, per dataset and averaged
over datasets, with intervals) and each model's mean rank can be read against the size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tabbench.analysis.compare import SplitComparison, _pair_rows, compare_splits
from tabbench.analysis.leaderboard import dataset_confidence

__all__ = ["SizeComparison", "at_training_size", "compare_by_training_size", "training_sizes"]

_SIZE = re.compile(r"-train(\d+)$")


def training_sizes(results: pl.DataFrame) -> list[int | None]:
    """The training sizes in ``results`` (``None``: the whole training part), ascending."""
    found = {_size_of(v) for v in results["variant"].unique().to_list()}
    return sorted(found, key=lambda n: float("inf") if n is None else n)


def _size_of(variant: str) -> int | None:
    match = _SIZE.search(variant)
    return None if match is None else int(match.group(1))


def at_training_size(results: pl.DataFrame, size: int | None) -> pl.DataFrame:
    """The rows of ``results`` trained on ``size`` rows, their ``variant`` without the size
    (``tuned-train5000`` → ``tuned``), so that the models keep their names in rankings."""
    rows = results.filter(pl.col("variant").map_elements(_size_of, return_dtype=pl.Int64)
                          .eq_missing(size))
    return rows.with_columns(pl.col("variant").str.replace(_SIZE.pattern, ""))


@dataclass(frozen=True)
class SizeComparison:
    """One split comparison per training size, and the tables that line them up."""

    sizes: list[int | None]
    comparisons: dict[int | None, SplitComparison]
    #: train_rows, dataset, tau, low, high, interval (``reference`` vs ``target``).
    taus: pl.DataFrame
    #: train_rows, datasets (how many), mean_tau, low, high (resampling datasets).
    agreement: pl.DataFrame
    #: train_rows, model, strategy, mean_rank (over the datasets of that size).
    ranks: pl.DataFrame


def compare_by_training_size(run_dir: Path, results: pl.DataFrame, *,
                             reference: str = "random", target: str = "time",
                             datasets: list[str] | None = None, n_resamples: int = 1000,
                             seed: int = 0) -> SizeComparison:
    """Compare ``reference`` and ``target`` rankings at each training size of ``results``.

    Each size is compared on its own rows (the per-dataset tau intervals from resampling
    the test rows of the stored predictions in ``run_dir``, as
    :func:`~tabbench.analysis.compare.compare_splits` does); ``datasets`` restricts every size to
    the same tables (for example those that have the largest size), so that a change with
    size is not a change of tables.
    """
    if datasets is not None:
        results = results.filter(pl.col("dataset").is_in(datasets))
    sizes = training_sizes(results)
    comparisons, taus, agreement, ranks = {}, [], [], []
    for size in sizes:
        rows = at_training_size(results, size)
        confidence = dataset_confidence(run_dir, rows, n_resamples=n_resamples, seed=seed)
        comparison = compare_splits(rows, reference=reference, target=target, seed=seed,
                                    confidence=confidence)
        comparisons[size] = comparison
        pair = _pair_rows(comparison.taus, reference, target).filter(
            pl.col("dataset") != "(pooled)")
        taus.append(pair.select(pl.lit(size, pl.Int64).alias("train_rows"), "dataset", "tau",
                                "low", "high", "interval"))
        overall = _pair_rows(comparison.agreement, reference, target)
        agreement.append(overall.select(
            pl.lit(size, pl.Int64).alias("train_rows"),
            pl.col("n_datasets").alias("datasets"), "mean_tau", "low", "high"))
        # ranked again without the baselines: a rank among the compared models
        compared = comparison.rankings.filter(
            ~pl.col("model").is_in(list(comparison.baselines))
        ).with_columns(pl.col("rank").rank("average").over("dataset", "strategy"))
        ranks.append(compared.group_by("model", "strategy").agg(
            pl.col("rank").mean().alias("mean_rank"))
            .select(pl.lit(size, pl.Int64).alias("train_rows"), "model", "strategy",
                    "mean_rank"))
    return SizeComparison(sizes, comparisons, pl.concat(taus), pl.concat(agreement),
                          pl.concat(ranks).sort("train_rows", "strategy", "mean_rank"))
