"""Ranking before tuning: rank a dataset's features, and test whether its top-k pays.

:func:`rank_and_save` ranks a registered dataset's features (see
:func:`tabbench.methods.features.rank_dataset`) and writes the ranking and its chart
(``<out>/features/<dataset>-<split>.parquet`` and ``.png``).

:func:`evaluate_top_k` plans ordinary benchmark jobs — one per model, seed and feature
set (all features, then each ``top_k``) on one split — and runs them with
:func:`tabbench.execution.runner.run_benchmark`, so their results are normal result rows
(``variant`` ``tuned`` and ``tuned-top<k>-<method>``) in ``<out>/results/``, resumable like
any run.
It then compares each top-k job with the all-features job of the same model, in a table
and a plot (``<out>/features/<dataset>-<split>-<method>-evaluation.parquet`` and ``.png``):

``change_pct``
    ``100 * (score_k - score_all) / |score_all|`` of the mean test score over seeds
    (positive is better for metrics to maximize, worse for metrics to minimize; the
    table's ``better`` column says which).
``speedup``
    ``tune_all / tune_k``: the median ``tune_seconds`` over seeds of the all-features job
    over that of the top-k job. A top-k job's ``tune_seconds`` includes the ranking of its
    training part, so the cost of ranking is charged to the top-k side.

The benchmark machinery (config, runner, results) is imported by :func:`evaluate_top_k`:
``tabbench rank-features`` without ``--evaluate`` does not load it.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from tabbench.analysis.plots import ranking_chart, save, topk_chart
from tabbench.core._atomic import write_atomic_bytes, write_parquet_atomic
from tabbench.data.datasets.registry import get_spec
from tabbench.data.datasets.sample import load_subsample
from tabbench.data.metrics import default_metric, get_metric
from tabbench.data.splits import find_split
from tabbench.exceptions import TabbenchError
from tabbench.methods.features import RANKERS, Ranking, rank_dataset, save_ranking
from tabbench.methods.features.rankers import DEFAULT_SELECTION_METHOD

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from tabbench.execution.runner import RunSummary

__all__ = ["Evaluation", "evaluate_top_k", "parse_ks", "rank_and_save"]


def rank_and_save(dataset: str, *, out_dir: Path, top: int = 30, split_id: str | None = None,
                  max_rows: int | None = None, datasets_dirs: list[Path] | None = None,
                  **options: Any) -> tuple[Ranking, Path, Path]:
    """Rank a registered dataset's features and write the ranking and its chart.

    Writes ``<out_dir>/features/<dataset>-<split>.parquet`` and, beside it, a ``.png`` bar
    chart of the ``top`` best features. ``split_id``, ``max_rows``, ``datasets_dirs`` and
    ``options`` are those of :func:`tabbench.methods.features.rank_dataset`.

    Returns
    -------
    tuple of (Ranking, Path, Path)
        The ranking, the Parquet file and the chart.
    """
    ranking = rank_dataset(dataset, split_id=split_id, max_rows=max_rows,
                           datasets_dirs=datasets_dirs, **options)
    parquet = save_ranking(ranking, out_dir)
    png = parquet.with_suffix(".png")
    _write_png(ranking_chart(ranking, top), png)
    return ranking, parquet, png


@dataclass(frozen=True, eq=False)
class Evaluation:
    """The comparison table, where it was written, and the run's summary."""

    table: pl.DataFrame
    dataset: str
    split_id: str
    metric: str
    maximize: bool
    n_features: int
    parquet: Path
    plot: Path
    summary: RunSummary


def parse_ks(text: str | Sequence[int], n_features: int) -> list[int]:
    """Parse ``"5,10,20"`` into sorted distinct ks, each between 1 and ``n_features``."""
    if isinstance(text, str):
        try:
            ks = [int(part) for part in text.split(",") if part.strip()]
        except ValueError:
            message = f"k: expected comma-separated integers such as 5,10,20, got {text!r}"
            raise TabbenchError(message, parameter="k") from None
    else:
        ks = [int(k) for k in text]
    if not ks:
        raise TabbenchError("k: give at least one number of features", parameter="k")
    for k in ks:
        if not 1 <= k <= n_features:
            message = (f"k: {k} is not between 1 and the number of features "
                       f"({n_features})")
            raise TabbenchError(message, parameter="k")
    return sorted(set(ks))


def evaluate_top_k(dataset: str, *, models: Sequence[str], ks: str | Sequence[int],
                   split_id: str | None = None, method: str = DEFAULT_SELECTION_METHOD,
                   budget: str = "quick", seeds: Sequence[int] = (0,),
                   max_rows: int | None = None, jobs: int = 1,
                   time_limit: float | None = 900.0, out: Path | None = None,
                   datasets_dirs: list[Path] | None = None,
                   on_start: Callable[[int], None] | None = None,
                   on_result: Callable[[Any, dict], None] | None = None) -> Evaluation:
    """Tune ``models`` on all features and on each top-k of ``dataset``, and compare.

    Parameters
    ----------
    dataset : str
        A registered dataset.
    models : sequence of str
        Model names.
    ks : str or sequence of int
        Numbers of features, e.g. ``"5,10"``.
    split_id : str, optional
        The split (default ``time-0``, or ``random-0`` without a time column).
    method : str
        The ranker used to pick the top-k (on each job's training part).
    budget, seeds, max_rows, jobs, time_limit
        As in a benchmark config.
    out : Path, optional
        The run folder (default ``leaderboard/features-<dataset>``).

    Returns
    -------
    Evaluation
    """
    from tabbench.execution.config import BUDGETS, BenchmarkConfig, FeatureSelection
    from tabbench.execution.runner import run_benchmark

    RANKERS.get(method, parameter="method")
    spec = get_spec(dataset, datasets_dirs, "rank-features")
    data = load_subsample(spec, max_rows)
    split = find_split(data, split_id)
    n_features = len(data.features)
    k_values = parse_ks(ks, n_features)
    selections = tuple(FeatureSelection(top_k=k, method=method) for k in k_values)
    config = BenchmarkConfig(
        name=f"features-{spec.name}", datasets=(spec.name,), models=tuple(models),
        splits=(split.id.rsplit("-", 1)[0],), variants=("tuned",), seeds=tuple(seeds),
        budget=BUDGETS.get(budget, parameter="budget"), jobs=jobs, time_limit=time_limit,
        max_rows=max_rows, features=(None, *selections))
    config = replace(config, out=Path(out) if out is not None else config.out_dir)
    config.validate("rank-features --evaluate")
    summary = run_benchmark(config, datasets_dirs=datasets_dirs, on_start=on_start,
                            on_result=on_result,
                            job_filter=lambda job: job.split_id == split.id)
    metric = spec.metric or default_metric(spec.task)
    maximize = get_metric(metric).direction == "maximize"
    labels = {"tuned": n_features, **{f"tuned-{s.label}": s.top_k for s in selections}}
    table = _compare(config.out_dir, spec.name, split.id, list(models), labels, maximize)
    stem = Path(config.out_dir) / "features" / f"{spec.name}-{split.id}-{method}-evaluation"
    parquet, plot = stem.with_suffix(".parquet"), stem.with_suffix(".png")
    write_parquet_atomic(parquet, table)
    _write_png(topk_chart(table, spec.name, split.id, metric, n_features), plot)
    return Evaluation(table, spec.name, split.id, metric, maximize, n_features, parquet, plot,
                      summary)


def _compare(out_dir: Path, dataset: str, split_id: str, models: list[str],
             labels: dict[str, int], maximize: bool) -> pl.DataFrame:
    """One row per model and feature set: mean test score, its change and the speed-up."""
    from tabbench.core.results import read_results

    results = read_results(out_dir)
    rows = results.filter(
        (pl.col("dataset") == dataset) & (pl.col("split_id") == split_id)
        & pl.col("model").is_in(models) & pl.col("variant").is_in(list(labels))
        & (pl.col("status") == "ok")
    )
    if rows.is_empty():
        raise TabbenchError(f"{out_dir}: no finished jobs to compare (every job failed?)")
    per = (
        rows.group_by("model", "variant")
        .agg(pl.col("test_score").mean(), pl.col("test_score").std().alias("seed_std"),
             pl.col("tune_seconds").median(), pl.col("n_features").first(),
             pl.len().alias("n_seeds"))
        .with_columns(pl.col("variant").replace_strict(labels, return_dtype=pl.Int64).alias("k"))
    )
    base = per.filter(pl.col("variant") == "tuned").select(
        "model", pl.col("test_score").alias("all_score"),
        pl.col("tune_seconds").alias("all_tune_seconds"))
    table = per.join(base, on="model", how="left").with_columns(
        (100 * (pl.col("test_score") - pl.col("all_score")) / pl.col("all_score").abs())
        .alias("change_pct"),
        (pl.col("all_tune_seconds") / pl.col("tune_seconds")).alias("speedup"),
        pl.lit("higher" if maximize else "lower").alias("better"),
    )
    return table.select(
        "model", "variant", "k", "n_features", "n_seeds", "test_score", "seed_std",
        "change_pct", "better", "tune_seconds", "speedup",
    ).sort("model", pl.col("k"), descending=[False, True])


def _write_png(fig: Figure, path: Path) -> None:
    """Save ``fig`` to ``path`` atomically (readers see the old file or the whole new one)."""
    buffer = io.BytesIO()
    save(fig, buffer)
    write_atomic_bytes(path, buffer.getvalue())
