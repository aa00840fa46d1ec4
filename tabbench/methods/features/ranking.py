"""A ranking of a table's features, as one table, and its Parquet file.

:func:`rank_table` encodes the features and the target (see
:mod:`tabbench.methods.features.encode`), runs a ranker of
:data:`~tabbench.methods.features.rankers.RANKERS`, optionally scores feature combinations and adds
the data-quality report (:mod:`tabbench.methods.features.quality`), all on the rows it is given —
for a benchmark, the training part of a split only. :func:`rank_features`,
:func:`rank_dataset` and :func:`select_top_k` rank a dataset; :func:`save_ranking` writes
the table.

Interactions
    Combinations of 2 (optionally 3) features among the most relevant ones, at most
    ``max_combinations`` per order, scored by the MI of their exact combined code
    (``code1 * cardinality2 + code2``) with the target, corrected unless the ranker is
    ``mi``. ``gain`` is the combination's score minus the best score of its parts.

Examples
--------
>>> from tabbench.data.datasets.synthetic import generate
>>> frame = generate("drift", n_rows=5000, seed=0, n_correlated=0)
>>> kinds = {c: "categorical" if frame[c].dtype == pl.String else "numeric"
...          for c in frame.columns if c not in ("ts", "target")}
>>> rank_table(frame, kinds, frame["target"].to_numpy(), "binary").top(4)
['inf_0', 'inf_1', 'inf_2', 'inf_3']
>>> rank_table(frame, kinds, frame["target"].to_numpy(), "binary", method="mi").top(1)
['hicard_0']
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from tabbench.core._atomic import write_parquet_atomic
from tabbench.core.paths import safe_join
from tabbench.data.datasets.registry import get_spec
from tabbench.data.datasets.sample import load_subsample
from tabbench.data.splits import find_split
from tabbench.exceptions import TabbenchError
from tabbench.methods.features.encode import DEFAULT_BINS, encode_features, encode_target
from tabbench.methods.features.estimators import DEFAULT_PERMUTATIONS
from tabbench.methods.features.quality import quality_report
from tabbench.methods.features.rankers import (
    DEFAULT_METHOD,
    DEFAULT_SELECTION_METHOD,
    RANKERS,
    RankContext,
    Ranker,
    _by_score,
)

if TYPE_CHECKING:
    from tabbench.data.datasets.dataset import Dataset
    from tabbench.data.splits import Split

__all__ = [
    "DEFAULT_MAX_COMBINATIONS",
    "Ranking",
    "rank_dataset",
    "rank_features",
    "rank_table",
    "save_ranking",
    "select_top_k",
]

#: Most feature combinations scored per order.
DEFAULT_MAX_COMBINATIONS = 100


@dataclass(frozen=True, eq=False)
class Ranking:
    """A feature ranking and the data-quality report, as one table.

    ``table`` has one row per feature (``order`` 1) and, with interactions, one per scored
    combination (``order`` 2 or 3, ``feature`` like ``"a & b"``); ``rank`` counts within
    each order. Columns: ``dataset``, ``split_id``, ``method``, ``order``, ``rank``,
    ``feature``, ``kind``, ``score``, ``mi``, ``mi_null``, ``mi_corrected``,
    ``normalized_mi`` (corrected MI / target entropy), ``gain`` (combinations only),
    ``codes`` (codes in use after binning), ``cardinality``, ``coverage``,
    ``majority_share``, ``duplicate_of``, ``flags``.
    """

    table: pl.DataFrame
    method: str
    dataset: str | None = None
    split_id: str | None = None
    seconds: float = 0.0
    quality_seconds: float = 0.0
    n_rows: int = 0
    target_entropy: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> pl.DataFrame:
        """The single-feature rows, best first."""
        return self.table.filter(pl.col("order") == 1).sort("rank")

    @property
    def interactions(self) -> pl.DataFrame:
        """The combination rows, best first."""
        return self.table.filter(pl.col("order") > 1).sort("order", "rank")

    def top(self, k: int) -> list[str]:
        """The names of the ``k`` best single features."""
        names = self.features["feature"].to_list()
        if not 1 <= k <= len(names):
            message = (f"top_k must be between 1 and the number of features ({len(names)}), "
                       f"got {k}")
            raise TabbenchError(message)
        return names[:k]


def rank_table(frame: pl.DataFrame, features: Mapping[str, str], y: np.ndarray, task: str, *,
               method: str = DEFAULT_METHOD, bins: int = DEFAULT_BINS,
               permutations: int = DEFAULT_PERMUTATIONS, seed: int = 0,
               interactions: int = 1, max_combinations: int = DEFAULT_MAX_COMBINATIONS,
               alpha: float = 1.0, beta: float = 1.0, greedy_steps: int | None = None,
               quality: bool = True, dataset: str | None = None,
               split_id: str | None = None) -> Ranking:
    """Rank the ``features`` of ``frame`` by their information about the target ``y``.

    Parameters
    ----------
    frame : polars.DataFrame
        The rows to rank on (a benchmark passes the training part of a split only).
    features : mapping of str to {"numeric", "categorical", "boolean"}
        The feature columns and their kinds.
    y : numpy.ndarray
        The target of those rows: class codes, or values for regression (binned like a
        numeric feature).
    task : {"binary", "multiclass", "regression"}
        The task.
    method : str
        A name in :data:`~tabbench.methods.features.rankers.RANKERS`: ``mi``, ``mi-corrected``
        (default), ``mi-heldout``, ``3mr`` or ``jmi``.
    bins : int
        Quantile bins for numeric features and a regression target.
    permutations : int
        Permuted targets of the chance correction (``R``).
    seed : int
        Seed of the permutations and samples.
    interactions : {1, 2, 3}
        Highest order of feature combinations to score (1: none).
    max_combinations : int
        Most combinations scored per order (taken among the most relevant features).
    alpha, beta : float
        3MR's weights of redundancy and relational information.
    greedy_steps : int, optional
        3MR and JMI: pick only this many features greedily and order the rest by the last
        step's objective (:func:`select_top_k` passes its ``k``); default: all.
    quality : bool
        Add the data-quality columns and flags (see :mod:`tabbench.methods.features.quality`).
    dataset, split_id : str, optional
        Recorded in the table.

    Returns
    -------
    Ranking

    Raises
    ------
    UnknownNameError
        If ``method`` is not registered.
    TabbenchError
        If a parameter is out of range.
    """
    ranker = RANKERS.get(method, parameter="method")
    if interactions not in (1, 2, 3):
        message = f"interactions must be 1, 2 or 3, got {interactions}"
        raise TabbenchError(message, parameter="interactions")
    if permutations < 1:
        message = f"permutations must be at least 1, got {permutations}"
        raise TabbenchError(message, parameter="permutations")
    if max_combinations < 1:
        message = f"max_combinations must be at least 1, got {max_combinations}"
        raise TabbenchError(message, parameter="max_combinations")
    if greedy_steps is not None and greedy_steps < 1:
        message = f"greedy_steps must be at least 1, got {greedy_steps}"
        raise TabbenchError(message, parameter="greedy_steps")
    if not features:
        raise TabbenchError("there are no features to rank")
    y = np.asarray(y)
    if task == "regression":
        keep = ~np.isnan(y.astype(np.float64))
        if not keep.all():
            frame, y = frame.filter(pl.Series(keep)), y[keep]
    if frame.height == 0:
        raise TabbenchError("there are no rows to rank on")
    started = time.perf_counter()
    encoded = encode_features(frame, features, bins=bins, seed=seed)
    target, n_classes = encode_target(y, task, bins=bins, seed=seed)
    ctx = RankContext(encoded, target, n_classes, permutations=permutations, seed=seed,
                      alpha=alpha, beta=beta, greedy_steps=greedy_steps)
    output = ranker.rank(ctx)
    combos = _interactions(ctx, ranker, interactions, max_combinations)
    seconds = time.perf_counter() - started

    rank = np.empty(ctx.n_features, dtype=np.int64)
    rank[output.order] = np.arange(1, ctx.n_features + 1)
    h = ctx.estimator.h_target
    corrected = ctx.corrected if (quality or ranker.corrected) else None
    singles = pl.DataFrame({
        "order": np.ones(ctx.n_features, dtype=np.int64),
        "rank": rank,
        "feature": list(encoded.names),
        "kind": list(encoded.kinds),
        "score": output.scores.astype(np.float64),
        "mi": ctx.plain,
        "mi_null": ctx.null if corrected is not None else np.full(ctx.n_features, np.nan),
        "mi_corrected": corrected if corrected is not None else np.full(ctx.n_features, np.nan),
        "codes": [int(np.count_nonzero(np.bincount(c))) for c in encoded.codes],
    }).with_columns(
        (pl.col("mi_corrected") / h if h > 0 else pl.lit(0.0)).alias("normalized_mi"),
        pl.lit(None, dtype=pl.Float64).alias("gain"),
    )
    quality_seconds = 0.0
    if quality:
        started = time.perf_counter()
        normalized = dict(zip(singles["feature"], singles["normalized_mi"], strict=True))
        report = quality_report(frame, features, normalized)
        quality_seconds = time.perf_counter() - started
        singles = singles.join(report, on="feature", how="left")
    else:
        singles = singles.with_columns(
            pl.lit(None, dtype=pl.Float64).alias("coverage"),
            pl.lit(None, dtype=pl.Int64).alias("cardinality"),
            pl.lit(None, dtype=pl.Float64).alias("majority_share"),
            pl.lit(None, dtype=pl.String).alias("duplicate_of"),
            pl.lit(None, dtype=pl.String).alias("flags"),
        )
    table = pl.concat([singles, combos.select(singles.columns)] if combos.height else [singles],
                      how="vertical_relaxed")
    table = table.with_columns(
        pl.lit(dataset, dtype=pl.String).alias("dataset"),
        pl.lit(split_id, dtype=pl.String).alias("split_id"),
        pl.lit(method.lower()).alias("method"),
    ).select("dataset", "split_id", "method", "order", "rank", "feature", "kind", "score",
             "mi", "mi_null", "mi_corrected", "normalized_mi", "gain", "codes", "cardinality",
             "coverage", "majority_share", "duplicate_of", "flags").sort("order", "rank")
    params = {"bins": bins, "permutations": permutations, "seed": seed,
              "interactions": interactions, "max_combinations": max_combinations,
              "alpha": alpha, "beta": beta, "greedy_steps": greedy_steps}
    return Ranking(table, method.lower(), dataset, split_id, seconds, quality_seconds,
                   encoded.n_rows, h, params)


def _interactions(ctx: RankContext, ranker: Ranker, max_order: int,
                  max_combinations: int) -> pl.DataFrame:
    """Scores of feature combinations of order 2..``max_order`` among the most relevant."""
    rows: list[dict[str, Any]] = []
    corrected = ranker.corrected
    singles = ctx.corrected if corrected else ctx.plain
    by_relevance = _by_score(singles)
    names = ctx.encoded.names
    for order in range(2, max_order + 1):
        m = order
        while m < ctx.n_features and math.comb(m + 1, order) <= max_combinations:
            m += 1
        if m > ctx.n_features:
            continue
        scored = []
        for combo in itertools.combinations(sorted(by_relevance[:m].tolist()), order):
            score = ctx.combination_score(combo, corrected=corrected)
            scored.append((score, combo))
        scored.sort(key=lambda item: -item[0])
        for rank, (score, combo) in enumerate(scored, start=1):
            rows.append({
                "order": order, "rank": rank, "feature": " & ".join(names[j] for j in combo),
                "kind": "combination", "score": score,
                "mi": score if not corrected else None, "mi_null": None,
                "mi_corrected": score if corrected else None,
                "normalized_mi": score / ctx.estimator.h_target if ctx.estimator.h_target else 0.0,
                "gain": score - max(singles[j] for j in combo),
                "codes": None, "cardinality": None, "coverage": None, "majority_share": None,
                "duplicate_of": None, "flags": None,
            })
    schema = {"order": pl.Int64, "rank": pl.Int64, "feature": pl.String, "kind": pl.String,
              "score": pl.Float64, "mi": pl.Float64, "mi_null": pl.Float64,
              "mi_corrected": pl.Float64, "normalized_mi": pl.Float64, "gain": pl.Float64,
              "codes": pl.Int64, "cardinality": pl.Int64, "coverage": pl.Float64,
              "majority_share": pl.Float64, "duplicate_of": pl.String, "flags": pl.String}
    return pl.DataFrame(rows, schema=schema)


# ----------------------------------------------------------------------------- datasets


def rank_features(dataset: Dataset, split: Split | None = None, **options: Any) -> Ranking:
    """Rank a dataset's features on the training part of ``split`` (all rows if ``None``).

    ``options`` are those of :func:`rank_table`.
    """
    rows = split.train if split is not None else None
    frame = dataset.frame if rows is None else dataset.frame[rows]
    y = dataset.target() if rows is None else dataset.target()[rows]
    return rank_table(frame, dataset.features, y, dataset.task, dataset=dataset.name,
                      split_id=split.id if split is not None else None, **options)


def rank_dataset(name: str, *, split_id: str | None = None, max_rows: int | None = None,
                 datasets_dirs: list[Path] | None = None, **options: Any) -> Ranking:
    """Load a registered dataset, pick the split and rank on its training part.

    The dataset is loaded (and subsampled to ``max_rows``) exactly as a benchmark job
    loads it, so the ranking matches the one a job with ``top_k`` computes.
    """
    spec = get_spec(name, datasets_dirs, "rank-features")
    dataset = load_subsample(spec, max_rows)
    split = find_split(dataset, split_id)
    return rank_features(dataset, split, **options)


def select_top_k(dataset: Dataset, split: Split, top_k: int,
                 method: str | None = None) -> tuple[list[str], float]:
    """The ``top_k`` best features on the training part of ``split``, and the seconds it took.

    ``method`` defaults to :data:`~tabbench.methods.features.rankers.DEFAULT_SELECTION_METHOD`
    (``jmi``).
    """
    method = method or DEFAULT_SELECTION_METHOD
    started = time.perf_counter()
    ranking = rank_features(dataset, split, method=method, quality=False, greedy_steps=top_k)
    return ranking.top(top_k), time.perf_counter() - started


def save_ranking(ranking: Ranking, out_dir: Path) -> Path:
    """Write the ranking's table to ``<out_dir>/features/<dataset>-<split>.parquet``.

    Returns the path (the ranking's chart is :func:`tabbench.analysis.plots.ranking_chart`).
    """
    stem = f"{ranking.dataset or 'table'}-{ranking.split_id or 'all'}"
    return write_parquet_atomic(safe_join(out_dir, "features", f"{stem}.parquet"),
                                ranking.table)
