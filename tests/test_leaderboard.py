"""Confidence within each dataset: per-run bootstraps, and the per-dataset summary pooled
over a dataset's splits and seeds."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy.stats import norm

from tabbench.analysis.bootstrap import block_length, paired_bootstrap, shared_row_bootstrap
from tabbench.analysis.leaderboard import (
    dataset_confidence,
    per_dataset_confidence,
    standings,
    ties_with_best,
)
from tabbench.core.predictions import prediction_frame, write_predictions
from tabbench.core.schema import result_frame


def write_run(run, jobs, *, strategy="random", metric="mae"):
    """A run folder of regression jobs: ``jobs`` maps (split_id, seed, model) to (rows, y,
    prediction); returns the results frame (the files' rows)."""
    rows = []
    for (split_id, seed, model), (test_rows, y, prediction) in jobs.items():
        job_id = f"d-{split_id}-{model}-s{seed}"
        frame = prediction_frame({"test": (test_rows, y, prediction)})
        write_predictions(run, job_id, frame)
        stored = frame["prediction"].list.first().to_numpy().astype(np.float64)
        rows.append({"run": "fake", "kind": "benchmark", "job_id": job_id, "dataset": "d",
                     "task": "regression", "split_strategy": strategy, "split_id": split_id,
                     "model": model, "variant": "tuned", "seed": seed, "metric": metric,
                     "status": "ok", "test_score": float(np.mean(np.abs(stored - y))),
                     "fit_seconds": 1.0})
    return result_frame(rows)


def slightly_worse(n_splits, n, rng, seeds=(0,)):
    """``a`` and ``c`` equally good, ``b``'s errors 1.1 times as large, on ``n_splits``
    disjoint test sets of ``n`` rows (split ``k`` holds rows ``k*n .. k*n + n - 1``)."""
    jobs = {}
    for k in range(n_splits):
        rows = np.arange(k * n, (k + 1) * n)
        y = rng.normal(size=n)
        for seed in seeds:
            for model, scale in (("a", 1.0), ("b", 1.1), ("c", 1.0)):
                jobs[(f"random-{k}", seed, model)] = (rows, y, y + scale * rng.normal(size=n))
    return jobs


def test_the_dataset_summary_pools_the_splits_and_finds_a_small_consistent_gap(tmp_path):
    # b is 0.08 worse in MAE on every one of 8 test sets of 400 rows: about 1.8 standard
    # errors per test set (mostly "tied" there), about 5 pooled over the 8 test sets
    results = write_run(tmp_path, slightly_worse(8, 400, np.random.default_rng(0)))
    confidence = dataset_confidence(tmp_path, results, n_resamples=400)
    per_run = confidence.filter(pl.col("model") == "b")
    assert per_run.height == 8 and per_run["tied_with_best"].mean() >= 0.5  # the former rule
    summary = per_dataset_confidence(confidence)
    tied = dict(zip(summary["model"], summary["tied_with_best"], strict=True))
    assert tied == {"a": True, "b": False, "c": True}
    [standing] = standings(results, confidence)
    counts = dict(zip(standing.summary["model"], standing.summary["tied_with_best"], strict=True))
    assert counts == {"a": 1, "b": 0, "c": 1}
    assert ties_with_best(confidence).sort("model")["tied_with_best"].to_list() == [1, 0, 1]
    # the interval is the one of the score averaged over the 8 test sets: about 1/sqrt(8) as
    # wide as one test set's, not the average of the 8 intervals' ends
    for model in "abc":
        runs = confidence.filter(pl.col("model") == model)
        row = standing.per_dataset.filter(pl.col("model") == model).row(0, named=True)
        assert row["low"] <= row["test_score"] <= row["high"]
        width = row["high"] - row["low"]
        assert width < 0.6 * (runs["high"] - runs["low"]).mean()
        pooled = summary.filter(pl.col("model") == model).row(0, named=True)
        assert pooled["score"] == pytest.approx(runs["score"].mean())
        assert pooled["n_runs"] == 8


def test_seeds_of_a_split_share_its_resamples_and_time_splits_use_one_block_length(tmp_path):
    rng = np.random.default_rng(1)
    n = 300
    y = np.cumsum(rng.normal(size=n))  # a drifting target: a persistent dummy loss
    errors = np.convolve(rng.normal(size=n + 9), np.ones(10) / 3, mode="valid")
    jobs = {}
    for seed in (0, 1):
        jobs[("time-0", seed, "model")] = (np.arange(n), y, y + errors)  # the same each seed
        jobs[("time-0", seed, "dummy")] = (np.arange(n), y, np.full(n, y.mean() + seed))
    results = write_run(tmp_path, jobs, strategy="time")
    confidence = dataset_confidence(tmp_path, results, n_resamples=50).sort("seed", "model")
    model = confidence.filter(pl.col("model") == "model")
    assert model["resampled"][0].to_list() == model["resampled"][1].to_list()
    stored = {key: (y, np.float32(p).astype(np.float64)) for key, (_, y, p) in jobs.items()}
    expected = block_length("mae", y, {f"{seed}/{m}": p for (_, seed, m), (_, p)
                                       in stored.items()})
    assert expected > 1 and set(confidence["block"]) == {expected}
    # the per-dataset interval: the two seeds' resampled scores averaged resample by resample
    summary = per_dataset_confidence(confidence, level=0.9).filter(pl.col("model") == "model")
    averaged = np.mean([np.array(r) for r in model["resampled"]], axis=0)
    low, high = np.quantile(averaged, [0.05, 0.95])
    assert summary["low"][0] == pytest.approx(low) and summary["high"][0] == pytest.approx(high)


def test_random_splits_resample_the_rows_they_share_together(tmp_path):
    rng = np.random.default_rng(5)
    y, a, b = rng.normal(size=(3, 400))
    jobs = {}
    for split_id, rows in (("random-0", np.arange(300)), ("random-1", np.arange(100, 400)),
                           ("random-2", np.arange(300)[::-1])):
        jobs[(split_id, 0, "a")] = (rows, y[rows], a[rows])
        jobs[(split_id, 0, "b")] = (rows, y[rows], b[rows])
    results = write_run(tmp_path, jobs)
    confidence = dataset_confidence(tmp_path, results, n_resamples=500)
    model_a = {split_id: np.array(resampled) for split_id, resampled in confidence.filter(
        pl.col("model") == "a").select("split_id", "resampled").iter_rows()}
    # the same rows in another order: the same resamples; two thirds of the rows: correlated
    np.testing.assert_allclose(model_a["random-2"], model_a["random-0"], rtol=1e-6)
    assert 0.4 < np.corrcoef(model_a["random-0"], model_a["random-1"])[0, 1] < 0.9
    assert confidence["block"].null_count() == confidence.height


def test_models_missing_from_some_runs_get_no_pooled_decision(tmp_path):
    jobs = slightly_worse(2, 200, np.random.default_rng(2))
    del jobs[("random-1", 0, "c")]
    results = write_run(tmp_path, jobs)
    confidence = dataset_confidence(tmp_path, results, n_resamples=100)
    summary = per_dataset_confidence(confidence)
    assert sorted(summary["model"]) == ["a", "b"] and summary["n_runs"].to_list() == [2, 2]
    # a job without stored predictions: the bootstrap's average is not the test score shown
    extra = results.filter(pl.col("model") == "a").head(1).with_columns(
        pl.lit("random-9").alias("split_id"), pl.lit("d-random-9-a-s0").alias("job_id"))
    [standing] = standings(pl.concat([results, extra]), confidence)
    per_dataset = {row["model"]: row for row in standing.per_dataset.iter_rows(named=True)}
    assert per_dataset["a"]["low"] is None and per_dataset["b"]["low"] is not None
    assert per_dataset["c"]["low"] is None  # no predictions in one of its runs
    tested = standing.summary.select("model", "tied_with_best", "n_datasets_tested").rows()
    assert sorted(tested) == [("a", None, 0), ("b", 1, 1), ("c", None, 0)]


def test_equally_good_models_are_rarely_called_worse_on_a_dataset():
    # 150 datasets of 3 test sets each, 6 equally good models: the share of datasets where any
    # model is called worse than the best has a binomial standard error of 0.018 at 0.05
    n_datasets, n_splits, n_models, n = 150, 3, 6, 200
    rng = np.random.default_rng(3)
    rows = []
    for d in range(n_datasets):
        for k in range(n_splits):
            y = rng.normal(size=n)
            predictions = {f"m{j}": y + rng.normal(size=n) for j in range(n_models)}
            result = paired_bootstrap("mae", y, predictions, n_resamples=300, seed=d * 10 + k)
            rows.extend({"dataset": f"d{d}", "split_strategy": "random", "split_id": f"random-{k}",
                         "seed": 0, "metric": "mae", "block": None,
                         "resampled": result.resampled[:, j].tolist(), **entry}
                        for j, entry in enumerate(result.table()))
    summary = per_dataset_confidence(pl.DataFrame(rows))
    called = summary.group_by("dataset").agg(~pl.col("tied_with_best").all())["tied_with_best"]
    se = math.sqrt(0.05 * 0.95 / n_datasets)
    assert 0.05 - 2.5 * se <= called.mean() <= 0.05 + 3 * se


def _confidence_rows(dataset, results, split_ids):
    return [{"dataset": dataset, "split_strategy": "random", "split_id": split_id, "seed": 0,
             "metric": "mae", "block": None, "resampled": result.resampled[:, j].tolist(),
             **entry}
            for split_id, result in zip(split_ids, results, strict=True)
            for j, entry in enumerate(result.table())]


def test_the_dataset_interval_covers_the_mae_when_random_splits_share_test_rows():
    # Two random splits of a 600-row table, 500 test rows each (about 420 shared). A row's
    # error is mostly its own (u, shared by both splits' models) and partly the split's
    # model's (v), so the two test scores are strongly correlated. 300 tables: binomial
    # standard errors of about 0.015. Resampling the shared rows together covers near the
    # nominal level (a percentile bootstrap of 500 rows is a point or two short); resampling
    # each split on its own ignores the correlation and covers clearly less.
    sigma = math.sqrt(1.09)  # the errors 1 + u + 0.3 v are N(1, 1.09): their MAE is known
    truth = (sigma * math.sqrt(2 / math.pi) * math.exp(-1 / (2 * sigma**2))
             + 1 - 2 * float(norm.cdf(-1 / sigma)))
    rng = np.random.default_rng(4)
    n_runs = 300
    frames, separate = [], []
    for run in range(n_runs):
        u = rng.normal(size=600)
        sets = []
        for _ in range(2):
            rows = np.sort(rng.choice(600, 500, replace=False))
            sets.append((rows, np.zeros(500), {"m": 1 + u[rows] + 0.3 * rng.normal(size=500)}))
        together = shared_row_bootstrap("mae", sets, n_resamples=300, seed=run)
        frames.extend(_confidence_rows(f"d{run}", together, ["random-0", "random-1"]))
        apart = [shared_row_bootstrap("mae", [test_set], n_resamples=300, seed=2 * run + k)[0]
                 for k, test_set in enumerate(sets)]
        separate.extend(_confidence_rows(f"d{run}", apart, ["random-0", "random-1"]))
    coverage = {}
    for name, rows in (("together", frames), ("apart", separate)):
        summary = per_dataset_confidence(pl.DataFrame(rows))
        coverage[name] = ((summary["low"] <= truth) & (truth <= summary["high"])).mean()
    assert 0.90 <= coverage["together"] <= 0.99
    assert coverage["apart"] <= coverage["together"] - 0.04
