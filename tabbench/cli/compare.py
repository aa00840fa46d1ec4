"""``compare-splits``: the same models ranked under random and time-based splits. The command
is registered in ``tabbench/cli/__init__.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tabbench.cli.options import (
    BUDGET_HELP,
    DatasetsDir,
    PluginOption,
    _int_list,
    _load_plugins,
    _seed_list,
    _split_names,
)
from tabbench.cli.render import _describe_budget, _print_frame, _progress, console


def compare_splits_command(
    config: Annotated[Path | None, typer.Argument(
        help="Benchmark config TOML (its datasets, models, splits and seeds).")] = None,
    dataset: Annotated[list[str] | None, typer.Option("--dataset", "-d",
                                                      help="Dataset name (repeatable).")] = None,
    models: Annotated[str | None, typer.Option(help="Comma-separated model names.")] = None,
    splits: Annotated[str | None, typer.Option(
        help="Split strategies to compare (default: the config's, or random,time,"
             "sliding-window without a config). Beside sliding-window or expanding-window, "
             "random also means the random splits paired with each window (its rows "
             "reshuffled); random-all is the all-rows random split.")] = None,
    budget: Annotated[str | None, typer.Option(help=BUDGET_HELP)] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Parallel jobs.")] = None,
    max_rows: Annotated[int | None, typer.Option(help="Subsample datasets to this many rows.")] = None,
    seeds: Annotated[str | None, typer.Option(
        help="Comma-separated seeds (3+ add a seed interval beside the test-row one).")] = None,
    train_rows: Annotated[str | None, typer.Option(
        help="Comma-separated training sizes (each split's training part cut to each).")] = None,
    out: Annotated[Path | None, typer.Option(help="Run folder (results are reused).")] = None,
    details: Annotated[bool, typer.Option(
        "--details", help="Also print the per-dataset ranks and taus, the models whose rank "
                          "moved, Friedman and Elo per strategy and the shift tables.")] = False,
    datasets_dir: DatasetsDir = None,
    plugin: PluginOption = None,
) -> None:
    """Rank the same models under random and time-based splits, and measure the shift.

    Runs the jobs that are missing (results already in the run folder are reused), then
    prints the rankings side by side; Kendall tau between strategies with 95% intervals
    (per dataset over the test rows of the stored predictions, and over seeds with 3+ seeds;
    pooled over datasets); the mean per-dataset tau, which answers
    "does the random-split ranking predict the time-split ranking?"; the models whose rank
    moved; Friedman, Nemenyi CD and Elo per strategy over the datasets; shift diagnostics
    and their correlation with the rank change. Writes the slope chart
    ``compare-splits.png``, the scatter ``compare-splits-shift.png`` and the shift table
    ``compare-splits-shift.parquet`` (for ``tabbench report``) into the run folder.

    The terminal gets the answer first: the headline, the mean ranks side by side and the
    mean per-dataset tau; ``--details`` adds the other tables, and ``tabbench report`` on
    the run folder has them all.

    Example: ``tabbench compare-splits configs/temporal.toml`` or
    ``tabbench compare-splits --dataset flights --models lightgbm,linear``
    """
    from tabbench.execution.config import load_config
    from tabbench.studies.split_study import study_splits

    _load_plugins(plugin)
    if config is None and splits is None:
        splits = "random,time,sliding-window"
    cfg = load_config(config).override(
        plugins=plugin or None, datasets=dataset or None, models=_split_names(models), splits=_split_names(splits),
        budget=budget, jobs=jobs, out=out, max_rows=max_rows,
        seeds=_seed_list(seeds) if seeds else None,
        train_rows=_int_list(train_rows, "--train-rows", minimum=10) if train_rows else None)
    _describe_budget(cfg.budget)
    with _progress(cfg.name) as callbacks:
        study = study_splits(cfg, datasets_dirs=datasets_dir, **callbacks)
    _print_split_study(study, details)


def _print_split_study(study, details: bool) -> None:
    """``compare-splits``' answer: headline, mean ranks, mean per-dataset tau; with
    ``details`` the rest (per-dataset tables, moves, Friedman, Elo, shift)."""
    comparison = study.comparison
    for headline in (comparison.headline(), *comparison.paired_headlines()):
        console.print(headline, markup=False, highlight=False)
    console.print(study.noise_baseline.sentence(), markup=False, highlight=False)
    _print_frame(comparison.side_by_side(), "Mean rank over datasets",
                 {s: ".2f" for s in comparison.strategies},
                 footnotes=["1 = best; a model's rank per dataset, averaged over the datasets"])
    intervals = {"low": ".2f", "high": ".2f"}
    _print_frame(_pairs(comparison.agreement), "Mean per-dataset Kendall tau",
                 {"mean_tau": ".2f", **intervals},
                 headers={"mean_tau": "mean tau", "n_datasets": "datasets"},
                 notes=("interval",),
                 footnotes=["baselines left out; 95% interval from resampling datasets"])
    _print_by_training_size(study)
    if not details:
        console.print("More with --details: per-dataset ranks and taus, rank moves, Friedman, "
                      "Elo, shift", highlight=False)
    else:
        _print_split_details(study)
    console.print(f"Slope chart: [bold]{study.slope_chart}[/]; shift against rank change: "
                  f"[bold]{study.shift_chart}[/]")


def _print_by_training_size(study) -> None:
    """With several training sizes (``--train-rows``), random vs time at each size: the
    rankings above mix the sizes as separate entries."""
    from tabbench.studies.scale import compare_by_training_size, training_sizes

    if len(training_sizes(study.results)) < 2:
        return
    by_size = compare_by_training_size(study.out_dir, study.results)
    _print_frame(by_size.agreement, "Mean per-dataset Kendall tau (random vs time) by "
                 "training size", {"mean_tau": ".2f", "low": ".2f", "high": ".2f"},
                 headers={"train_rows": "training\nrows", "mean_tau": "mean tau"},
                 footnotes=["each size ranked on its own rows; baselines left out; 95% "
                            "interval from resampling datasets"])


def _print_split_details(study) -> None:
    import polars as pl

    from tabbench.analysis.compare import elo_columns, friedman_table

    comparison = study.comparison
    for name in comparison.rankings["dataset"].unique(maintain_order=True).to_list():
        _print_frame(comparison.side_by_side(name), f"Rank of each model on {name}",
                     {s: ".1f" for s in comparison.strategies})
    intervals = {"low": ".2f", "high": ".2f"}
    taus = comparison.taus
    for (a, b), pair in taus.group_by("strategy_a", "strategy_b", maintain_order=True):
        _print_frame(pair.drop("strategy_a", "strategy_b"),
                     f"Kendall tau between strategies: {a} and {b}",
                     {"tau": ".2f", **intervals, "seed_low": ".2f", "seed_high": ".2f"},
                     headers={"n_models": "models", "seed_low": "seed\nlow",
                              "seed_high": "seed\nhigh"},
                     notes=("interval",),
                     footnotes=[comparison.left_out(),
                                "95% interval: per dataset from resampling the test rows, or "
                                "the seeds where no predictions are stored; pooled from "
                                "resampling datasets; seed low-high from resampling seeds "
                                "(3+), which covers fitting and tuning noise only"])
    moved = comparison.moves.filter(pl.col("rank_change") != 0).drop("metric")
    _print_frame(moved, "Models whose rank moved (random → time)",
                 {"score_random": ".4f", "score_time": ".4f", "score_change_pct": "+.1f"},
                 headers={c: c.replace("_", "\n", 1) for c in moved.columns
                          if c not in ("dataset", "model")}
                 | {"score_change_pct": "score\nchange %"})
    _print_frame(friedman_table(study.statistics), "Friedman test per strategy, datasets as "
                 "blocks", {"chi2": ".2f", "pvalue": ".3g", "critical_difference": ".2f"},
                 headers={"n_datasets": "datasets", "n_models": "models", "pvalue": "p",
                          "critical_difference": "CD"},
                 notes=("note",),
                 footnotes=["CD: Nemenyi critical difference at α = 0.05, in mean ranks"])
    _print_frame(elo_columns(study.statistics), "Elo per strategy, datasets as blocks",
                 footnotes=["rating [95% interval from resampling datasets]; random-forest = "
                            "1000 when it ran (TabArena's convention), else the mean"])
    _print_frame(study.shifts, "Shift between training and test rows",
                 {"adversarial_auc": ".3f", "drifting_share": ".2f"},
                 headers={"split_id": "split", "adversarial_auc": "adversarial\nauc",
                          "drifting_share": "drifting\nshare"},
                 footnotes=["adversarial-validation AUC: 0.5 = no shift; drifting share: "
                            "features with PSI ≥ 0.25"])
    _print_frame(study.shift.table, "Shift of the time split against rank change",
                 {"adversarial_auc": ".3f", "drifting_share": ".2f",
                  "tau": ".2f", "rank_change": ".2f"},
                 footnotes=["rank_change: 1 − tau, random vs time"])
    _print_frame(study.shift.correlations, "Spearman correlation across datasets of shift and "
                 "rank change", {"spearman": ".2f", **intervals, "pvalue": ".3g"},
                 headers={"n_datasets": "datasets", "pvalue": "p"}, notes=("note",),
                 footnotes=["95% interval from resampling datasets; two-sided permutation p"])


def _pairs(frame):
    """``strategy_a`` and ``strategy_b`` as one column ``strategies`` (``random/time``)."""
    import polars as pl

    pair = pl.format("{}/{}", "strategy_a", "strategy_b").alias("strategies")
    return frame.select(pair, pl.exclude("strategy_a", "strategy_b"))
