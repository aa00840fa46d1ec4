"""tabbench's Elo against TabArena's (``bencheval``, its leaderboard engine) on one result table."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.sparse.csgraph import connected_components

from tabbench.analysis.stats import TABARENA_RIDGE, elo_with_intervals, score_matrix

evaluator = pytest.importorskip(
    "bencheval.evaluator",
    reason="bencheval (TabArena's leaderboard engine) is not installed: pip install bencheval==0.1.0")

#: AUC advantage of each model over a dataset's base level: known strengths, close enough that
#: the noise lets every model beat every stronger one somewhere (no separable field).
STRENGTH = {"catboost": 0.020, "lightgbm": 0.016, "xgboost": 0.014, "random-forest": 0.008,
            "linear": 0.0, "knn": -0.004}
N_BOOTSTRAP = 200


def _results(n_datasets: int = 12, n_splits: int = 1, seed: int = 0) -> pl.DataFrame:
    """Result rows as the leaderboard reads them: one test AUC per dataset, split and model."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(n_datasets):
        base = rng.uniform(0.70, 0.90)
        for split in range(n_splits):
            for model, strength in STRENGTH.items():
                rows.append({"dataset": f"d{d:02d}", "split_id": f"time-{split}", "seed": 0,
                             "entry": model, "metric": "roc_auc",
                             "test_score": base + strength + rng.normal(0, 0.01)})
    return pl.DataFrame(rows)


def _tabarena_elo(results: pl.DataFrame, *, folds: bool = False):
    """bencheval's leaderboard Elo (TabArena's call), calibrated on random-forest: a frame
    indexed by model with the rating and the interval's ends."""
    data = results.select(
        pl.col("entry").alias("method"), pl.col("dataset").alias("task"),
        pl.col("split_id").alias("fold"), (1.0 - pl.col("test_score")).alias("metric_error"),
    ).to_pandas()
    bench = evaluator.BenchmarkEvaluator(columns_to_agg_extra=None,
                                         seed_column="fold" if folds else None)
    if not folds:
        data = data.drop(columns="fold")
    board = bench.leaderboard(data, metrics=["elo"], elo_kwargs={
        "calibration_framework": "random-forest", "BOOTSTRAP_ROUNDS": N_BOOTSTRAP,
        "round_decimals": None})
    board["low"] = board["elo"] - board["elo-"]
    board["high"] = board["elo"] + board["elo+"]
    return board


def test_tabbench_elo_agrees_with_tabarena_within_its_intervals():
    results = _results()
    matrix = score_matrix(results)
    # every model beats every other one on some dataset, directly or through others: the
    # maximum-likelihood ratings exist, and the ridge is all that differs between the fits
    beats = (matrix.values[:, :, None] > matrix.values[:, None, :]).any(axis=0)
    assert connected_components(beats, directed=True, connection="strong")[0] == 1
    ours = elo_with_intervals(matrix, n_bootstrap=N_BOOTSTRAP)
    theirs = _tabarena_elo(results).loc[matrix.models]
    assert ours.anchor == "random-forest" and ours.scale == "random-forest = 1000"
    at = matrix.models.index("random-forest")
    assert ours.rating[at] == pytest.approx(1000.0)
    assert theirs.loc["random-forest", "elo"] == pytest.approx(1000.0)
    for i, model in enumerate(matrix.models):
        assert ours.low[i] <= theirs.loc[model, "elo"] <= ours.high[i], model
    # the known strengths at the ends: catboost first, linear and knn last
    order = [matrix.models[i] for i in np.argsort(-ours.rating)]
    assert order[0] == "catboost" and set(order[-2:]) == {"linear", "knn"}


def test_tabarena_ridge_reproduces_tabarena_ratings():
    results = _results()
    matrix = score_matrix(results)
    ours = elo_with_intervals(matrix, n_bootstrap=N_BOOTSTRAP, ridge=TABARENA_RIDGE)
    theirs = _tabarena_elo(results).loc[matrix.models]
    np.testing.assert_allclose(ours.rating, theirs["elo"], atol=0.01)
    # the same resampling of datasets: intervals alike (not bound to the same random draws)
    width = ours.high - ours.low
    np.testing.assert_array_less(np.abs(ours.low - theirs["low"]), 0.15 * width)
    np.testing.assert_array_less(np.abs(ours.high - theirs["high"]), 0.15 * width)


def test_blocks_weigh_and_resample_datasets_as_tabarena_does_its_folds():
    results = _results(n_splits=3)
    matrix = score_matrix(results)
    ours = elo_with_intervals(matrix, n_bootstrap=N_BOOTSTRAP, ridge=TABARENA_RIDGE,
                              blocks=[task[0] for task in matrix.tasks])
    theirs = _tabarena_elo(results, folds=True).loc[matrix.models]
    np.testing.assert_allclose(ours.rating, theirs["elo"], atol=0.01)
    width = ours.high - ours.low
    np.testing.assert_array_less(np.abs(ours.low - theirs["low"]), 0.15 * width)
    np.testing.assert_array_less(np.abs(ours.high - theirs["high"]), 0.15 * width)
