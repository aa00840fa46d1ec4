"""Tuning curves: per model, the best validation score so far against the number of trials.

Read from what a run stores: each job's Optuna trials in ``<run>/trials/<job_id>.parquet``
(:func:`tabbench.methods.tuning.trials_table`) and its result row, which names the model, the
dataset, the split and the metric (hence its direction). A curve still rising at the last
trial says a bigger budget would likely have helped; a flat one, that it would not.

Trials count in the order Optuna numbered them, the first being the default params. A
pruned or failed trial spends budget without improving the best; a trial still running or
waiting (a study shared with workers that have not finished) does not count.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from tabbench.analysis.leaderboard import entry_label
from tabbench.core.results import DamagedFileError, parquet_files, read_checked, read_results
from tabbench.data.metrics import get_metric
from tabbench.exceptions import TabbenchWarning

#: Trial states that spent budget (Optuna's names, lowercase as the trials tables hold them).
FINISHED_STATES = ("complete", "pruned", "fail")

#: A task "improved late" when its final best came after this share of its trials.
LATE_SHARE = 0.75

_JOB_COLUMNS = ("job_id", "model", "dataset", "split_strategy", "split_id", "seed", "metric")


@dataclass(frozen=True)
class TuningCurves:
    """Best-so-far curves of a run's tuned jobs.

    ``curves``: one row per job and trial: ``model`` (the leaderboard name), ``dataset``,
    ``split_strategy``, ``split_id``, ``seed``, ``metric``, ``job_id``, ``trial`` (1 = the
    first, default-params trial), ``state``, ``value`` (the trial's validation score, null
    unless complete), ``best`` (the best complete value so far, in the metric's units) and
    ``normalized`` (per job: 0 = its first complete trial, 1 = its final best; 1 throughout
    when tuning never beat the first trial).

    ``by_dataset``: per model, dataset, split strategy and trial, the mean over the jobs
    (splits, seeds) of ``best`` and ``normalized``, and ``n_jobs``.

    ``summary``: per model, split strategy and trial, the mean ``normalized`` over the tasks
    (jobs) that ran that many trials, and ``n_tasks``; the curve to chart.

    ``budget``: per model and split strategy: ``n_tasks``, ``n_trials`` (the most any task
    ran), ``at_half_budget`` (mean normalized best after half of them), ``improved_late``
    (share of tasks whose final best came in the last quarter of their trials) and
    ``gain_pct`` (mean gain of the final best over the first complete trial, in % of the
    latter's score, positive = better).
    """

    curves: pl.DataFrame
    by_dataset: pl.DataFrame
    summary: pl.DataFrame
    budget: pl.DataFrame

    def single_trial_models(self) -> list[str]:
        """Models that ran one trial on every task (no search space, or a one-trial budget):
        they have no curve."""
        most = self.curves.group_by("model").agg(pl.col("trial").max())
        return sorted(most.filter(pl.col("trial") < 2)["model"].to_list())


def read_trials(run_dir: Path, results: pl.DataFrame | None = None) -> pl.DataFrame:
    """Every trials table of ``run_dir`` with its job's identity, one row per trial.

    Only jobs with an ``ok`` result row count. A damaged trials file is named in a warning
    and left out; so is one whose job has no readable result row. ``results`` (the run's
    rows, :func:`tabbench.core.results.read_results`) saves reading them again.
    """
    run_dir = Path(run_dir)
    files = parquet_files(run_dir / "trials")
    if not files:
        return pl.DataFrame()
    if results is None:
        results = read_results(run_dir)
    jobs = (results.filter(pl.col("status") == "ok")
            .with_columns(entry_label().alias("model"))
            .select(_JOB_COLUMNS).unique("job_id", keep="first"))
    frames = []
    for file in files:
        try:
            table = read_checked(file, "trials file", required=("number", "state", "value"))
        except DamagedFileError as exc:
            warnings.warn(f"{exc}; left out of the tuning curves", TabbenchWarning,
                          stacklevel=2)
            continue
        frames.append(table.select(
            pl.lit(file.stem).alias("job_id"), pl.col("number").cast(pl.Int64),
            pl.col("state").cast(pl.String), pl.col("value").cast(pl.Float64)))
    if not frames:
        return pl.DataFrame()
    return jobs.join(pl.concat(frames), on="job_id", how="inner")


def best_so_far(trials: pl.DataFrame) -> pl.DataFrame:
    """Per job (``job_id``) and trial: the best complete value so far and its normalized form.

    ``trials`` has ``job_id``, ``metric``, ``number``, ``state`` and ``value``; see
    :class:`TuningCurves` for the columns added (``trial``, ``best``, ``normalized``).

    Examples
    --------
    >>> trials = pl.DataFrame({"job_id": "j", "metric": "rmse", "number": [0, 1, 2, 3],
    ...                        "state": ["complete", "complete", "fail", "complete"],
    ...                        "value": [10.0, 12.0, None, 6.0]})
    >>> best_so_far(trials)["best"].to_list(), best_so_far(trials)["normalized"].to_list()
    ([10.0, 10.0, 10.0, 6.0], [0.0, 0.0, 0.0, 1.0])
    """
    metrics = trials["metric"].unique().to_list()
    signs = {m: 1.0 if get_metric(m).direction == "maximize" else -1.0 for m in metrics}
    sign = pl.col("metric").replace_strict(signs, return_dtype=pl.Float64)
    job = "job_id"
    finished = (trials.filter(pl.col("state").is_in(FINISHED_STATES))
                .sort(job, "number")
                .with_columns(pl.when(pl.col("state") == "complete").then(pl.col("value"))
                              .alias("value"))
                .with_columns(pl.int_range(1, pl.len() + 1).over(job).alias("trial"),
                              (pl.col("value") * sign).alias("_signed")))
    finished = finished.with_columns(
        pl.col("_signed").cum_max().forward_fill().over(job).alias("_best"),
        pl.col("_signed").drop_nulls().first().over(job).alias("_first"))
    finished = finished.with_columns(pl.col("_best").last().over(job).alias("_final"))
    span = pl.col("_final") - pl.col("_first")
    return finished.with_columns(
        (pl.col("_best") * sign).alias("best"),
        pl.when(pl.col("_best").is_null()).then(None)
        .when(span == 0).then(1.0)
        .otherwise((pl.col("_best") - pl.col("_first")) / span).alias("normalized"),
    ).drop("_signed", "_best", "_first", "_final")


def tuning_curves(run_dir: Path, results: pl.DataFrame | None = None) -> TuningCurves | None:
    """The best-so-far curves of the tuned jobs of ``run_dir`` (``None`` without trials).

    See :class:`TuningCurves` for the tables; :func:`tabbench.analysis.plots.tuning_curves_chart`
    draws ``summary``.
    """
    trials = read_trials(run_dir, results)
    if trials.is_empty():
        return None
    curves = best_so_far(trials).select(
        *_JOB_COLUMNS[1:], "job_id", "trial", "state", "value", "best", "normalized"
    ).sort("model", "dataset", "split_strategy", "split_id", "seed", "trial")
    by_dataset = (curves.group_by("model", "dataset", "split_strategy", "metric", "trial")
                  .agg(pl.col("best").mean(), pl.col("normalized").mean(),
                       pl.col("job_id").n_unique().alias("n_jobs"))
                  .sort("model", "dataset", "split_strategy", "trial"))
    summary = (curves.filter(pl.col("normalized").is_not_null())
               .group_by("model", "split_strategy", "trial")
               .agg(pl.col("normalized").mean(), pl.len().alias("n_tasks"))
               .sort("model", "split_strategy", "trial"))
    return TuningCurves(curves, by_dataset, summary, _budget(curves))


def _budget(curves: pl.DataFrame) -> pl.DataFrame:
    """Per model and split strategy: how much of the final gain came early, how late the
    final best was found, and how large the gain over the default params was."""
    signs = {m: 1.0 if get_metric(m).direction == "maximize" else -1.0
             for m in curves["metric"].unique().to_list()}
    best = pl.col("best").drop_nulls()
    per_task = curves.group_by("model", "split_strategy", "job_id").agg(
        pl.col("trial").max().alias("n_trials"),
        # the trial that found the final best: the first whose best equals the last best
        pl.col("trial").filter(pl.col("normalized") == 1.0).min().alias("found_at"),
        pl.when(best.first() != 0)  # a default scoring exactly 0: no percentage
        .then(100.0 * pl.col("metric").first().replace_strict(signs, return_dtype=pl.Float64)
              * (best.last() - best.first()) / best.first().abs()).alias("gain_pct"),
    )
    rows = []
    for (model, strategy), group in per_task.group_by("model", "split_strategy",
                                                      maintain_order=True):
        n_trials = int(group["n_trials"].max())
        half = max(math.ceil(n_trials / 2), 1)
        at_half = curves.filter((pl.col("model") == model)
                                & (pl.col("split_strategy") == strategy)
                                & (pl.col("trial") == half))["normalized"].mean()
        late = (group["found_at"] > LATE_SHARE * group["n_trials"]) & (group["found_at"] > 1)
        rows.append({"model": model, "split_strategy": strategy, "n_tasks": group.height,
                     "n_trials": n_trials, "at_half_budget": at_half,
                     "improved_late": late.mean(), "gain_pct": group["gain_pct"].mean()})
    schema = {"model": pl.String, "split_strategy": pl.String, "n_tasks": pl.Int64,
              "n_trials": pl.Int64, "at_half_budget": pl.Float64, "improved_late": pl.Float64,
              "gain_pct": pl.Float64}
    return pl.DataFrame(rows, schema=schema).sort("split_strategy", "model")
