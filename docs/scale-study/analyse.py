#!/usr/bin/env python3
"""The scale study's tables (docs/scale-study.md), from the committed result folders.

Part 1, learning curves (leaderboard/temporal-scale/learning-curves, configs/temporal-scale.toml):
Kendall tau between the random-split and time-split rankings at each training size, per
dataset (interval: bootstrap over the stored test rows) and averaged over datasets
(interval: resampling datasets), on all tables that have the size and on the tables that
have every size; each model's mean rank under each split at each size.

Part 2, the net tuned (leaderboard/temporal-scale/tuned-mlp-plr,
configs/temporal-scale-nets.toml): the temporal suite's seed-0 rows (random-0 and time-0) of
leaderboard/temporal, with MLP-PLR's untuned rows, then with its tuned rows; mean ranks,
the mean per-dataset tau, and the tuned net's score change.

    python docs/scale-study/analyse.py > docs/scale-study/output.txt
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import mannwhitneyu

from tabbench.analysis.compare import compare_splits
from tabbench.analysis.stats import percentile_interval, resample_counts
from tabbench.core.results import read_results
from tabbench.data.metrics import get_metric
from tabbench.studies.scale import compare_by_training_size

ROOT = Path(__file__).resolve().parents[2]
CURVES = ROOT / "leaderboard" / "temporal-scale" / "learning-curves"
NETS = ROOT / "leaderboard" / "temporal-scale" / "tuned-mlp-plr"
SUITE = ROOT / "leaderboard" / "temporal"
pl.Config.set_tbl_rows(200)
pl.Config.set_tbl_cols(20)
pl.Config.set_tbl_width_chars(140)
pl.Config.set_float_precision(3)
pl.Config.set_tbl_hide_dataframe_shape(True)
pl.Config.set_tbl_hide_column_data_types(True)


def run_cost(results: pl.DataFrame) -> str:
    """Jobs, their compute seconds and the run's wall time (first start to last finish)."""
    seconds = (results["tune_seconds"].fill_null(0) + results["fit_seconds"].fill_null(0)
               + results["predict_seconds"].fill_null(0)).sum()
    start, end = results["started_at"].min(), results["finished_at"].max()
    counts = dict(results.group_by("status").len().iter_rows())
    return (f"{results.height} jobs ({counts}), {seconds / 60:.0f} job-minutes, wall "
            f"{(end - start).total_seconds() / 60:.0f} minutes from the first start to the "
            "last finish")


def learning_curves() -> None:
    results = read_results(CURVES)
    print("## Part 1: learning curves\n")
    print(run_cost(results), "\n")
    everywhere = (results.filter(pl.col("variant").str.ends_with("-train20000"))
                  ["dataset"].unique().sort().to_list())
    for title, datasets in (("all tables that have the size", None),
                            (f"the {len(everywhere)} tables that have every size", everywhere)):
        by_size = compare_by_training_size(CURVES, results, datasets=datasets)
        print(f"### Random vs time: mean per-dataset Kendall tau, {title}")
        print(by_size.agreement)
        if datasets is None:
            print("\n### Per dataset (interval: bootstrap over the test rows)")
            print(by_size.taus.pivot(on="train_rows", index="dataset", values="tau"))
            print(by_size.taus.select("train_rows", "dataset", "tau", "low", "high"))
        print(f"\n### Mean rank among the 6 compared models, {title}")
        wide = by_size.ranks.with_columns(
            (pl.col("strategy") + "@" + pl.col("train_rows").cast(pl.String)).alias("at"))
        print(wide.pivot(on="at", index="model", values="mean_rank").sort("model"))
        print()
    suite_on_the_same_tables(results["dataset"].unique().sort().to_list())


def suite_on_the_same_tables(datasets: list[str]) -> None:
    """The suite's tau on the learning curves' tables and on the rest: the tables or the size?"""
    everything = read_results(SUITE)
    per_dataset = compare_splits(everything).taus.filter(pl.col("dataset") != "(pooled)")
    for name, keep in ((f"the same {len(datasets)} tables", pl.col("dataset").is_in(datasets)),
                       ("the other suite tables", ~pl.col("dataset").is_in(datasets))):
        suite = everything.filter(keep)
        print(f"### The temporal suite (3,000 training rows, 1,000 test rows) on {name}")
        for label, rows in (("3 seeds, random-0 and random-1", suite),
                            ("seed 0, random-0 only", suite.filter(
                                (pl.col("seed") == 0) & (pl.col("split_id") != "random-1")))):
            row = compare_splits(rows).agreement.row(0, named=True)
            print(f"{label}: mean per-dataset tau(random, time) = {row['mean_tau']:.2f} "
                  f"[{row['low']:.2f}, {row['high']:.2f}] over {row['n_datasets']} datasets")
        print()
    large = per_dataset.filter(pl.col("dataset").is_in(datasets))["tau"].to_numpy()
    small = per_dataset.filter(~pl.col("dataset").is_in(datasets))["tau"].to_numpy()
    test = mannwhitneyu(large, small, alternative="two-sided")
    print(f"Suite per-dataset taus (3 seeds), these {len(large)} tables vs the other "
          f"{len(small)}: medians {np.median(large):.2f} vs {np.median(small):.2f}, "
          f"Mann-Whitney U {test.statistic:.1f}, two-sided p {test.pvalue:.3f} (a test chosen "
          "after seeing the scale results; the groups are the issue's 20,000-row cut)\n")


def tuned_net() -> None:
    suite = read_results(SUITE).filter((pl.col("seed") == 0)
                                       & pl.col("split_id").is_in(["random-0", "time-0"]))
    nets = read_results(NETS)
    print("## Part 2: MLP-PLR tuned (10 trials) in the suite's seed-0 rankings\n")
    print(run_cost(nets), "\n")
    ok = nets.filter(pl.col("status") == "ok")
    both = ok.group_by("dataset").agg(pl.col("split_id").n_unique()).filter(
        pl.col("split_id") == 2)["dataset"].sort().to_list()
    print(f"datasets with the tuned net under both splits: {len(both)} of 17\n")
    suite = suite.filter(pl.col("dataset").is_in(both))
    nets = ok.filter(pl.col("dataset").is_in(both))
    untuned = suite
    tuned = pl.concat([suite.filter(pl.col("model") != "mlp-plr"),
                       nets.select(suite.columns)], how="vertical_relaxed")
    ranks = {}
    for name, rows in (("untuned", untuned), ("tuned", tuned)):
        comparison = compare_splits(rows)
        row = comparison.agreement.row(0, named=True)
        print(f"{name} net: mean per-dataset tau(random-0, time) = {row['mean_tau']:.2f} "
              f"[{row['low']:.2f}, {row['high']:.2f}] over {row['n_datasets']} datasets")
        compared = comparison.rankings.filter(
            ~pl.col("model").is_in(list(comparison.baselines))
        ).with_columns(pl.col("rank").rank("average").over("dataset", "strategy"))
        ranks[name] = compared
    print("\n### Mean rank among the 6 compared models (seed 0; 1 = best)")
    table = pl.concat([frame.group_by("model", "strategy").agg(pl.col("rank").mean())
                       .with_columns((pl.col("strategy") + f" ({name} net)").alias("column"))
                       for name, frame in ranks.items()])
    columns = [f"{strategy} ({name} net)" for name in ranks for strategy in ("random", "time")]
    print(table.pivot(on="column", index="model", values="rank").select("model", *columns)
          .sort("model"))
    net_ranks = pl.concat([frame.filter(pl.col("model") == "mlp-plr")
                           .select("dataset", "strategy", pl.col("rank").alias(name))
                           for name, frame in ranks.items()], how="align")
    for strategy in ("random", "time"):
        part = net_ranks.filter(pl.col("strategy") == strategy)
        diff = (part["untuned"] - part["tuned"]).to_numpy()
        counts = resample_counts(len(diff), 10_000, np.random.default_rng(0))
        low, high = percentile_interval(counts @ diff / len(diff), 0.95)
        print(f"MLP-PLR under {strategy}: mean rank {part['untuned'].mean():.2f} untuned, "
              f"{part['tuned'].mean():.2f} tuned; gain {diff.mean():+.2f} ranks "
              f"[{low:+.2f}, {high:+.2f}] (resampling the {len(diff)} datasets); better on "
              f"{int((diff > 0).sum())}, worse on {int((diff < 0).sum())}")
    key = ["dataset", "split_id", "metric"]
    untuned_net = untuned.filter(pl.col("model") == "mlp-plr").select(
        *key, pl.col("val_score").alias("val_untuned"), pl.col("test_score").alias("test_untuned"))
    tuned_net = nets.select(*key, "n_trials", pl.col("val_score").alias("val_tuned"),
                            pl.col("test_score").alias("test_tuned"))
    scores = untuned_net.join(tuned_net, on=key).sort("split_id", "dataset")
    print("\n### MLP-PLR validation and test score, untuned (defaults) and tuned (best of "
          "n_trials, the first trial being the defaults)")
    print(scores)
    sign = pl.col("metric").replace_strict(
        {name: 1 if get_metric(name).direction == "maximize" else -1
         for name in scores["metric"].unique()})
    gains = scores.select(((pl.col("val_tuned") - pl.col("val_untuned")) * sign).alias("val"),
                          ((pl.col("test_tuned") - pl.col("test_untuned")) * sign).alias("test"))
    changed = gains.filter(pl.col("val") != 0)
    print(f"validation score better tuned on {(gains['val'] > 0).sum()} of {gains.height} jobs, "
          f"worse on {(gains['val'] < 0).sum()}, the same on {(gains['val'] == 0).sum()} (the "
          f"defaults stayed the best trial); of the {changed.height} that changed, the test "
          f"score is better on {(changed['test'] > 0).sum()}, worse on "
          f"{(changed['test'] < 0).sum()}\n")


if __name__ == "__main__":
    print("# python docs/scale-study/analyse.py > docs/scale-study/output.txt")
    learning_curves()
    tuned_net()
