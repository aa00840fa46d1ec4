"""Statistics against hand-computed values on tiny tables."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from tabbench.analysis.stats import (
    ScoreMatrix,
    bootstrap_seed_means,
    bradley_terry_elo,
    elo_with_intervals,
    friedman,
    kendall_tau,
    kendall_tau_b,
    nemenyi_critical_difference,
    normalized_scores,
    percentile_interval,
    rank_scores,
    resample_counts,
    score_matrix,
    spearman_with_interval,
    win_rate_matrix,
)


def test_ranks_share_ties_and_put_nan_last():
    assert rank_scores(np.array([0.9, 0.7, 0.9]), maximize=True).tolist() == [1.5, 3.0, 1.5]
    assert rank_scores(np.array([3.0, 1.0, 2.0]), maximize=False).tolist() == [3.0, 1.0, 2.0]
    assert rank_scores(np.array([np.nan, 1.0, 2.0]), maximize=True).tolist() == [3.0, 2.0, 1.0]


def test_normalized_scores_anchor_dummy_at_zero_and_best_at_one():
    values = np.array([[0.5, 0.7, 0.9], [0.6, 0.6, 0.6]])
    out = normalized_scores(values, ["dummy", "a", "b"])
    assert out[0].tolist() == pytest.approx([0.0, 0.5, 1.0])
    assert out[1].tolist() == [1.0, 1.0, 1.0]  # all tied: every model is the best


def test_win_rate_matrix_counts_ties_as_half():
    values = np.array([[1.0, 2.0], [2.0, 1.0], [1.0, 1.0], [3.0, 0.0]])
    wins = win_rate_matrix(values)
    assert wins[0, 1] == pytest.approx((0 + 1 + 0.5 + 1) / 4)
    assert wins[1, 0] == pytest.approx(1 - wins[0, 1])
    assert math.isnan(wins[0, 0])


def test_friedman_matches_the_hand_computed_statistic():
    # 4 tasks, 3 models, the same order every time: rank sums 4, 8, 12
    values = np.array([[0.9, 0.8, 0.7], [0.6, 0.5, 0.4], [0.99, 0.98, 0.1], [3.0, 2.0, 1.0]])
    result = friedman(values)
    # chi2 = 12 / (N k (k+1)) * sum R_j^2 - 3 N (k+1) = 0.25 * 224 - 48 = 8
    assert result.statistic == pytest.approx(8.0)
    assert result.pvalue == pytest.approx(math.exp(-4.0))  # chi2 with 2 dof: sf(8) = e^-4
    assert result.mean_ranks.tolist() == [1.0, 2.0, 3.0]


def test_nemenyi_critical_difference_matches_demsar_table():
    # Demsar (2006), table 5: q_0.05 = 2.343 for k = 3 → CD = 2.343 * sqrt(3*4 / (6*4))
    assert nemenyi_critical_difference(3, 4) == pytest.approx(2.343 * math.sqrt(0.5), abs=2e-3)
    # k = 5: q_0.05 = 2.728
    assert nemenyi_critical_difference(5, 10) == pytest.approx(2.728 * math.sqrt(30 / 60), abs=2e-3)


def test_elo_orders_models_by_strength_and_centres_on_1000():
    rng = np.random.default_rng(0)
    strength = np.array([2.0, 1.0, 0.0])
    values = strength + rng.normal(0, 0.8, size=(300, 3))
    elo = bradley_terry_elo(values)
    assert elo[0] > elo[1] > elo[2]
    assert elo.mean() == pytest.approx(1000.0)
    tied = bradley_terry_elo(np.array([[1.0, 1.0], [2.0, 2.0]]))
    assert tied.tolist() == pytest.approx([1000.0, 1000.0])


def test_elo_probability_matches_the_win_rate():
    # A beats B in 3 of 4 tasks: the fitted odds are 3:1 → a gap of 400 * log10(3)
    values = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    elo = bradley_terry_elo(values, ridge=0.0)
    assert elo[0] - elo[1] == pytest.approx(400 * math.log10(3), abs=0.5)


def test_elo_intervals_contain_the_rating():
    results = pl.DataFrame({
        "dataset": ["a", "a", "b", "b", "c", "c"], "split_id": ["time-0"] * 6, "seed": [0] * 6,
        "entry": ["x", "y"] * 3, "metric": ["rmse"] * 6, "test_score": [1.0, 2.0, 1.0, 3.0, 2.0, 1.5],
    })
    matrix = score_matrix(results)
    assert matrix.models == ["x", "y"]
    assert matrix.values[0].tolist() == [-1.0, -2.0]  # rmse is negated: higher is better
    elo = elo_with_intervals(matrix, n_bootstrap=50)
    assert np.all(elo.low <= elo.rating + 1e-9) and np.all(elo.rating <= elo.high + 1e-9)
    assert elo.rating[0] > elo.rating[1]


def _elo_matrix() -> ScoreMatrix:
    rng = np.random.default_rng(1)
    values = np.array([1.0, 0.6, 0.3, 0.0]) + rng.normal(0, 0.5, size=(15, 4))
    return ScoreMatrix(values, ["a", "random-forest", "c", "d"], [(f"d{i}",) for i in range(15)])


def test_elo_anchor_puts_random_forest_at_1000_and_moves_the_intervals_with_it():
    matrix = _elo_matrix()
    centred = elo_with_intervals(matrix, n_bootstrap=40, anchor=None)
    anchored = elo_with_intervals(matrix, n_bootstrap=40)
    assert centred.anchor is None and centred.scale == "mean = 1000"
    assert centred.rating.mean() == pytest.approx(1000.0)
    assert anchored.anchor == "random-forest" and anchored.scale == "random-forest = 1000"
    assert anchored.rating[1] == 1000.0
    offset = 1000.0 - centred.rating[1]
    for field in ("rating", "low", "high"):  # one offset for ratings and intervals alike
        assert getattr(anchored, field) == pytest.approx(getattr(centred, field) + offset)
    # the anchor's own interval keeps its width: how sure its place in the field is
    assert anchored.high[1] - anchored.low[1] > 0
    # without the anchor among the models: centred on the mean
    other = elo_with_intervals(matrix, n_bootstrap=40, anchor="tabpfn")
    assert other.anchor is None and other.rating.mean() == pytest.approx(1000.0)


def test_elo_blocks_weigh_each_dataset_once():
    # dataset x: a wins both splits; dataset y: b wins its one split. As blocks, each
    # dataset weighs 1: one win each, equal ratings; as tasks, a wins 2 of 3
    matrix = ScoreMatrix(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]), ["a", "b"],
                         [("x", "s0"), ("x", "s1"), ("y", "s0")])
    blocks = [task[0] for task in matrix.tasks]
    by_dataset = elo_with_intervals(matrix, n_bootstrap=20, blocks=blocks)
    assert by_dataset.rating == pytest.approx([1000.0, 1000.0])
    by_task = elo_with_intervals(matrix, n_bootstrap=20, ridge=0.0, anchor=None)
    assert by_task.rating[0] - by_task.rating[1] == pytest.approx(400 * math.log10(2), abs=0.01)
    with pytest.raises(ValueError, match="blocks: 2 labels for 3 tasks"):
        elo_with_intervals(matrix, blocks=["x", "y"])


def test_elo_has_no_battle_where_a_score_is_missing():
    # the first task has no score for b: it adds nothing, as if it were not there
    values = np.array([[1.0, np.nan], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]])
    assert bradley_terry_elo(values) == pytest.approx(bradley_terry_elo(values[1:]))
    assert bradley_terry_elo(values)[1] > 1000.0


def test_kendall_tau():
    assert kendall_tau(np.array([1, 2, 3, 4]), np.array([1, 2, 3, 4])) == pytest.approx(1.0)
    assert kendall_tau(np.array([1, 2, 3, 4]), np.array([4, 3, 2, 1])) == pytest.approx(-1.0)
    # one discordant pair of 6: tau = (5 - 1) / 6
    assert kendall_tau(np.array([1, 2, 3, 4]), np.array([2, 1, 3, 4])) == pytest.approx(4 / 6)


def test_batched_tau_b_matches_scipy_with_ties_and_missing_models():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, size=(200, 6)).astype(float)  # many ties
    y = rng.integers(0, 4, size=(200, 6)).astype(float)
    x[::3, 2] = np.nan  # model 2 missing from every third row of x
    got = kendall_tau_b(x, y)
    for row, value in zip(range(200), got, strict=True):
        keep = ~np.isnan(x[row]) & ~np.isnan(y[row])
        a, b = x[row, keep], y[row, keep]
        expected = np.nan if (np.ptp(a) == 0 or np.ptp(b) == 0) else kendall_tau(a, b)
        assert value == pytest.approx(expected, nan_ok=True)
    assert math.isnan(kendall_tau_b(np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0, 3.0])))


def test_resample_counts_draw_n_units_with_replacement():
    counts = resample_counts(5, 300, np.random.default_rng(0))
    assert counts.shape == (300, 5) and (counts.sum(axis=1) == 5).all()
    assert (counts == 0).any() and (counts >= 2).any()  # some left out, some drawn twice
    assert np.array_equal(counts, resample_counts(5, 300, np.random.default_rng(0)))


def test_percentile_interval_ignores_nan_resamples_and_keeps_all_nan_as_nan():
    samples = np.array([[1.0, np.nan], [np.nan, np.nan], [3.0, np.nan], [2.0, np.nan]])
    low, high = percentile_interval(samples, level=0.5)
    assert low[0] == pytest.approx(1.5) and high[0] == pytest.approx(2.5)
    assert math.isnan(low[1]) and math.isnan(high[1])


def test_seed_bootstrap_means_resample_within_each_split_and_average_the_splits():
    # cell 0: two splits with seeds (1, 3) and (10,); cell 1: one split with seeds (5, 5, 5)
    values = np.array([[1.0, 3.0, np.nan], [10.0, np.nan, np.nan], [5.0, 5.0, 5.0]])
    cells = np.array([0, 0, 1])
    # resample 0 picks seed 0 twice for the first group, resample 1 picks seed 1 twice
    uniforms = np.zeros((2, 3, 3))
    uniforms[1] = 0.99
    out = bootstrap_seed_means(values, cells, 3, uniforms)
    assert out[:, 0].tolist() == [(1.0 + 10.0) / 2, (3.0 + 10.0) / 2]
    assert out[:, 1].tolist() == [5.0, 5.0]
    assert np.isnan(out[:, 2]).all()  # a cell without groups


def test_spearman_interval_on_planted_data():
    x = np.arange(12.0)
    perfect = spearman_with_interval(x, 2 * x + 1, n_bootstrap=200)
    assert perfect.rho == pytest.approx(1.0) and (perfect.low, perfect.high) == (1.0, 1.0)
    rng = np.random.default_rng(3)
    noisy = spearman_with_interval(x, x + rng.normal(0, 4, 12), n_bootstrap=500, seed=7)
    assert noisy.low < noisy.rho < noisy.high and noisy.n == 12
    assert noisy == spearman_with_interval(x, x + np.random.default_rng(3).normal(0, 4, 12),
                                           n_bootstrap=500, seed=7)  # seeded
    flat = spearman_with_interval(np.ones(12), x)  # a constant measure has no correlation
    assert math.isnan(flat.rho) and math.isnan(flat.low)
    few = spearman_with_interval(x[:2], x[:2])
    assert few.n == 2 and math.isnan(few.rho)
