"""The paired bootstrap: vectorized scores against tabbench.data.metrics, resampling (iid, circular
blocks, rows shared between test sets), block length, coverage, simultaneous ties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from arch.bootstrap import optimal_block_length
from scipy.signal import lfilter
from scipy.stats import norm

from tabbench.analysis import bootstrap, resampled_metrics
from tabbench.analysis.bootstrap import (
    VECTORIZED,
    block_length,
    compare_with_best,
    paired_bootstrap,
    resample_counts,
    resampled_scores,
    shared_row_bootstrap,
)
from tabbench.data.metrics import score
from tabbench.exceptions import TabbenchError, UnknownNameError


def explicit_scores(metric, y, predictions, counts):
    """The reference: tabbench.data.metrics.score on the rows repeated by their counts."""
    rows = np.arange(y.size)
    out = np.empty((counts.shape[0], len(predictions)))
    for r, row_counts in enumerate(counts):
        drawn = np.repeat(rows, row_counts)
        for j, prediction in enumerate(predictions.values()):
            out[r, j] = score(metric, y[drawn], prediction[drawn])
    return out


def binary_case(n=40, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    tied = np.round(np.clip(0.3 * y + 0.7 * rng.uniform(size=n), 0, 1), 1)  # many ties
    smooth = rng.uniform(size=n)
    return y, {"tied": np.column_stack([1 - tied, tied]),
               "smooth": np.column_stack([1 - smooth, smooth]),
               "constant": np.full((n, 2), 0.5)}


def multiclass_case(n=40, seed=1):
    rng = np.random.default_rng(seed)
    y = np.r_[rng.integers(0, 2, n - 2), 2, 2]  # class 2 is rare: often absent from a resample
    rounded = np.round(rng.dirichlet([1, 1, 1], n), 1)
    rounded[:, 2] = 1 - rounded[:, 0] - rounded[:, 1]
    return y, {"rounded": np.clip(rounded, 0, 1), "dirichlet": rng.dirichlet([2, 2, 2], n)}


def regression_case(n=40, seed=2):
    rng = np.random.default_rng(seed)
    y = rng.normal(loc=100.0, size=n)  # an offset mean: r2 must not lose precision
    return y, {"noisy": y + rng.normal(size=n), "biased": y + 0.5,
               "constant": np.full(n, 100.0), "column": (y + rng.normal(size=n))[:, None]}


CASES = {"binary": binary_case, "multiclass": multiclass_case, "regression": regression_case}


@pytest.mark.parametrize(("case", "metric"), [
    ("binary", "roc_auc"), ("binary", "log_loss"), ("binary", "accuracy"),
    ("multiclass", "roc_auc"), ("multiclass", "log_loss"), ("multiclass", "accuracy"),
    ("regression", "rmse"), ("regression", "mae"), ("regression", "r2"),
])
@pytest.mark.parametrize("block", [None, 6])
def test_vectorized_scores_equal_metrics_score_on_resampled_rows(case, metric, block):
    y, predictions = CASES[case]()
    counts = resample_counts(y.size, 60, seed=3, block=block)
    got = resampled_scores(metric, y, predictions, counts)
    expected = explicit_scores(metric, y, predictions, counts)
    assert got.shape == (60, len(predictions))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, equal_nan=True)


@pytest.mark.parametrize(("case", "metric"), [
    ("binary", "roc_auc"), ("binary", "log_loss"), ("multiclass", "roc_auc"),
    ("multiclass", "accuracy"), ("regression", "rmse"), ("regression", "mae"),
    ("regression", "r2"),
])
def test_vectorized_scores_weight_rows_by_counts_of_any_total(case, metric):
    # a test set's part of a bootstrap of a larger table: its counts do not sum to n
    y, predictions = CASES[case]()
    counts = resample_counts(2 * y.size, 60, seed=4)[:, :y.size]
    assert len(set(counts.sum(axis=1))) > 1
    got = resampled_scores(metric, y, predictions, counts)
    expected = explicit_scores(metric, y, predictions, counts)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12, equal_nan=True)


def test_every_vectorized_metric_is_tested():
    assert {"roc_auc", "log_loss", "accuracy", "rmse", "mae", "r2"} == VECTORIZED


def test_auc_is_nan_on_resamples_with_one_class_like_metrics_score():
    y = np.array([0, 0, 0, 0, 0, 1])
    _, predictions = binary_case(n=6)
    counts = resample_counts(6, 200, seed=0)
    got = resampled_scores("roc_auc", y, predictions, counts)
    assert np.isnan(got).any() and not np.isnan(got).all()
    np.testing.assert_allclose(got, explicit_scores("roc_auc", y, predictions, counts),
                               rtol=1e-9, equal_nan=True)


def test_binary_auc_accepts_a_one_dimensional_probability():
    y, predictions = binary_case()
    counts = resample_counts(y.size, 20, seed=1)
    column = {"smooth": predictions["smooth"][:, 1]}
    np.testing.assert_allclose(resampled_scores("roc_auc", y, column, counts),
                               resampled_scores("roc_auc", y, {"smooth": predictions["smooth"]},
                                                counts))


def test_other_metrics_fall_back_to_a_loop_with_the_same_values(monkeypatch):
    y, predictions = regression_case()
    counts = resample_counts(y.size, 15, seed=5)
    vectorized = resampled_scores("mae", y, predictions, counts)
    monkeypatch.delitem(resampled_metrics._PREPARERS, "mae")
    np.testing.assert_allclose(resampled_scores("mae", y, predictions, counts), vectorized,
                               rtol=1e-12)


def test_resample_counts_draw_n_rows_and_are_deterministic():
    counts = resample_counts(50, 30, seed=7)
    assert counts.shape == (30, 50) and counts.dtype == np.int32
    assert (counts.sum(axis=1) == 50).all()
    np.testing.assert_array_equal(counts, resample_counts(50, 30, seed=7))
    assert not np.array_equal(counts, resample_counts(50, 30, seed=8))


@pytest.mark.parametrize("block", [None, 4])
def test_resample_counts_do_not_depend_on_chunking(block):
    chunks = [list(bootstrap._count_chunks(30, 25, seed=1, block=block, chunk=size))
              for size in (1, 7, 25)]
    joined = [np.concatenate(parts, axis=1) for parts in chunks]
    np.testing.assert_array_equal(joined[0], joined[1])
    np.testing.assert_array_equal(joined[0], joined[2])


def test_block_resamples_are_circular_windows_from_uniform_starts():
    # the reference: ceil(n / block) windows [s, s + block) taken modulo n, s uniform on
    # 0..n-1, concatenated and cut to n rows, drawn from the same generator in the same order
    n, block, n_resamples = 20, 6, 50
    starts = np.random.default_rng(3).integers(0, n, size=(n_resamples, 4), dtype=np.int64)
    expected = np.zeros((n_resamples, n), dtype=np.int64)
    for r in range(n_resamples):
        drawn = [(s + k) % n for s in starts[r] for k in range(block)][:n]
        np.add.at(expected[r], drawn, 1)
    np.testing.assert_array_equal(resample_counts(n, n_resamples, seed=3, block=block), expected)
    assert (resample_counts(10, 3, seed=0, block=10) == 1).all()  # one block: every row once
    # the last block is truncated: 3 blocks of 4 cover 12 rows, 10 are kept
    assert (resample_counts(10, 50, seed=1, block=4).sum(axis=1) == 10).all()


def test_circular_blocks_draw_every_row_once_on_average_the_ends_included():
    # A row's count in one resample has a variance of about the block length (7), so its mean
    # over 20,000 resamples has a standard error of about 0.02: 0.1 is 5 standard errors.
    # Blocks that do not wrap draw the first and last rows 8 / 44 = 0.18 times on average.
    counts = resample_counts(50, 20_000, seed=0, block=7)
    np.testing.assert_allclose(counts.mean(axis=0), 1.0, atol=0.1)


def test_auto_block_length_is_arch_politis_white_circular_length():
    # the series: each model's per-row loss and its deviation from the mean loss over models
    y, predictions = ar1_regression(0.9, n=2000)
    predictions["shifted"] = predictions["model"] + np.linspace(-1, 1, 2000)
    losses = np.column_stack([np.abs(p - y) for p in predictions.values()])
    series = np.column_stack([losses, losses - losses.mean(axis=1, keepdims=True)])
    expected = int(np.round(optimal_block_length(series)["circular"]).max())
    assert block_length("mae", y, predictions) == expected > 10
    result = paired_bootstrap("mae", y, predictions, n_resamples=20, block="auto")
    assert result.block == expected
    white, noise = ar1_regression(0.0, n=2000)
    assert block_length("mae", white, noise) <= 3
    # too few rows to estimate the dependence, and constant losses: single rows
    assert block_length("mae", y[:10], {"m": predictions["model"][:10]}) == 1
    assert block_length("mae", y, {"exact": y}) == 1


def test_shared_row_bootstrap_of_one_test_set_is_the_iid_paired_bootstrap():
    y, predictions = regression_case(n=200)
    [shared] = shared_row_bootstrap("mae", [(np.arange(200) + 7, y, predictions)],
                                    n_resamples=50, seed=3)
    paired = paired_bootstrap("mae", y, predictions, n_resamples=50, seed=3)
    # the same draws; the sums may differ in the last bit (the two paths add in other orders)
    np.testing.assert_allclose(shared.resampled, paired.resampled, rtol=1e-12, atol=0)
    for a, b in zip(shared.table(), paired.table(), strict=True):
        assert a == pytest.approx(b, rel=1e-12) and shared.block is None


def test_shared_row_bootstrap_gives_a_row_the_same_count_in_every_test_set():
    rng = np.random.default_rng(8)
    y, prediction = rng.normal(size=600), rng.normal(size=600)  # one table of 600 rows

    def rows_of(rows):
        return rows, y[rows], {"model": prediction[rows]}

    first = np.arange(200)
    sets = [rows_of(first), rows_of(first[::-1]), rows_of(first + 100),
            rows_of(first + 400)]
    same, reversed_, half, disjoint = (
        result.resampled[:, 0]
        for result in shared_row_bootstrap("mae", sets, n_resamples=2000, seed=1))
    np.testing.assert_allclose(reversed_, same, rtol=1e-12)  # the same rows, in another order
    # Resampled MAEs are correlated through the rows they share: for weighted means of
    # the losses l, sum over shared rows of (l - mean_1)(l - mean_2), over the square root
    # of the product of the sums of squares (about 0.5 here; standard error 0.02)
    loss = np.abs(prediction - y)
    centred_1, centred_2 = loss[:300] - loss[:200].mean(), loss[:300] - loss[100:300].mean()
    expected = (centred_1[100:200] @ centred_2[100:200]) / np.sqrt(
        (centred_1[:200] @ centred_1[:200]) * (centred_2[100:] @ centred_2[100:]))
    assert np.corrcoef(same, half)[0, 1] == pytest.approx(expected, abs=0.06)
    assert np.corrcoef(same, disjoint)[0, 1] == pytest.approx(0.0, abs=0.06)


def ar1_regression(phi, n=3000, seed=0):
    """Targets and a prediction whose errors follow an AR(1) process with unit variance."""
    rng = np.random.default_rng(seed)
    shocks = rng.normal(size=n) * np.sqrt(1 - phi**2)
    errors = np.empty(n)
    errors[0] = rng.normal()
    for t in range(1, n):
        errors[t] = phi * errors[t - 1] + shocks[t]
    y = rng.normal(size=n)
    return y, {"model": y + errors}


def interval_width(result):
    return float(result.high[0] - result.low[0])


def test_block_bootstrap_widens_the_interval_under_autocorrelation():
    y, predictions = ar1_regression(0.9)
    iid = paired_bootstrap("rmse", y, predictions, n_resamples=500, seed=1)
    blocked = paired_bootstrap("rmse", y, predictions, n_resamples=500, seed=1, block="auto")
    assert blocked.block == block_length("rmse", y, predictions)
    assert interval_width(blocked) >= 1.5 * interval_width(iid)


def test_block_and_iid_bootstrap_agree_on_white_noise():
    y, predictions = ar1_regression(0.0)
    iid = paired_bootstrap("rmse", y, predictions, n_resamples=500, seed=1)
    blocked = paired_bootstrap("rmse", y, predictions, n_resamples=500, seed=1, block="auto")
    assert 0.8 <= interval_width(blocked) / interval_width(iid) <= 1.25


def ar1_errors(phi, n_runs, n, rng):
    """``(n_runs, n)`` stationary AR(1) series with unit variance."""
    shocks = rng.normal(size=(n_runs, n)) * np.sqrt(1 - phi**2)
    shocks[:, 0] = rng.normal(size=n_runs)
    return lfilter([1.0], [1.0, -phi], shocks, axis=1)


def moving_block_counts(n, n_resamples, block, rng):
    """The former resampling: blocks of ``block`` rows that do not wrap, starts in 0..n-block."""
    n_blocks = -(-n // block)
    starts = rng.integers(0, n - block + 1, size=(n_resamples, n_blocks))
    rows = (starts[:, :, None] + np.arange(block)).reshape(n_resamples, -1)[:, :n]
    flat = (rows + n * np.arange(n_resamples)[:, None]).ravel()
    return np.bincount(flat, minlength=n * n_resamples).reshape(n_resamples, n)


#: E|e| for e ~ N(1, 1): the MAE of a model that is off by 1 with unit-variance errors.
BIASED_MAE = math.sqrt(2 / math.pi) * math.exp(-0.5) + 1 - 2 * norm.cdf(-1)


@pytest.mark.parametrize("phi", [0.5, 0.9])
def test_block_interval_covers_the_mae_of_ar1_errors_near_nominal(phi):
    # A model off by 1 with AR(1) errors: its per-row absolute error keeps nearly all of the
    # autocorrelation, and its population MAE is known exactly. 800 test sets of 1,000 rows:
    # binomial standard errors of about 0.01. A block bootstrap with the variance-optimal
    # length keeps a downward bias of the variance (of order 1 / length) that grows with the
    # dependence, and at phi = 0.9 it has only about 25 blocks of 40 rows: its intervals are
    # a few points short of nominal at phi = 0.5 and several at phi = 0.9.
    n_runs, n, n_resamples = 800, 1000, 400
    rng = np.random.default_rng(11)
    errors = 1.0 + ar1_errors(phi, n_runs, n, rng)
    y = np.zeros(n)
    covered = former = 0
    for run in range(n_runs):
        predictions = {"model": errors[run]}
        result = paired_bootstrap("mae", y, predictions, n_resamples=n_resamples,
                                  block="auto", seed=run)
        covered += result.low[0] <= BIASED_MAE <= result.high[0]
        if phi == 0.9:
            counts = moving_block_counts(n, n_resamples, round(n ** (1 / 3)), rng)
            scores = resampled_scores("mae", y, predictions, counts)
            low, high = np.quantile(scores, [0.025, 0.975])
            former += low <= BIASED_MAE <= high
    assert {0.5: 0.89, 0.9: 0.85}[phi] <= covered / n_runs <= 0.99
    if phi == 0.9:  # moving blocks of n ** (1/3) rows cover less on the same test sets
        assert former / n_runs <= 0.82 and covered - former >= 0.05 * n_runs


def equally_good(n_models, n, rng):
    y = rng.normal(size=n)
    return y, {f"m{j}": y + rng.normal(size=n) for j in range(n_models)}


def test_equally_good_models_are_called_worse_than_the_best_in_about_five_percent_of_runs():
    # 8 models with the same error distribution, 300 test sets of 1,000 rows: the share of
    # test sets where any model is called worse than the best has a binomial standard error
    # of 0.0126 at 0.05. Testing each model against the best separately, at 95% each, calls
    # one worse in about half of them.
    n_runs = 300
    rng = np.random.default_rng(5)
    called = 0
    for run in range(n_runs):
        y, predictions = equally_good(8, 1000, rng)
        result = paired_bootstrap("mae", y, predictions, n_resamples=400, seed=run)
        called += not result.tied_with_best.all()
    se = math.sqrt(0.05 * 0.95 / n_runs)
    assert 0.05 - 3 * se <= called / n_runs <= 0.05 + 3 * se


def test_a_clearly_worse_model_is_still_found_among_eight():
    # 7 equally good models and one whose errors are 1.5 times as large (MAE about 0.4 worse,
    # about 7 standard errors of the paired difference on 300 rows)
    rng = np.random.default_rng(6)
    worse_found = others_called = 0
    for run in range(40):
        y, predictions = equally_good(7, 300, rng)
        predictions["worse"] = y + 1.5 * rng.normal(size=300)
        result = paired_bootstrap("mae", y, predictions, n_resamples=400, seed=run)
        tied = dict(zip(result.models, result.tied_with_best, strict=True))
        worse_found += not tied.pop("worse")
        others_called += not all(tied.values())
    assert worse_found >= 38 and others_called <= 6


def classifiers(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    good = np.clip(0.35 * y + 0.65 * rng.uniform(size=n), 1e-3, 1 - 1e-3)
    twin = np.clip(good + rng.normal(scale=1e-6, size=n), 1e-3, 1 - 1e-3)
    worse = np.clip(0.1 * y + 0.9 * rng.uniform(size=n), 1e-3, 1 - 1e-3)
    return y, {name: np.column_stack([1 - p, p])
               for name, p in {"worse": worse, "twin": twin, "good": good}.items()}


@pytest.mark.parametrize("metric", ["roc_auc", "log_loss"])
def test_near_identical_models_tie_and_a_clearly_worse_one_does_not(metric):
    y, predictions = classifiers()
    result = paired_bootstrap(metric, y, predictions, n_resamples=300, seed=2)
    rows = {row["model"]: row for row in result.table()}
    assert result.best in ("good", "twin")
    assert rows[result.best]["is_best"] and rows[result.best]["tied_with_best"]
    assert sum(row["is_best"] for row in rows.values()) == 1
    assert rows["good"]["tied_with_best"] and rows["twin"]["tied_with_best"]
    assert not rows["worse"]["tied_with_best"]
    # worse is negative whatever the metric's direction
    assert rows["worse"]["diff_high"] < 0 and rows[result.best]["diff_low"] == 0.0
    for row in rows.values():
        assert row["low"] <= row["score"] <= row["high"]
        assert row["score"] == score(metric, y, predictions[row["model"]])


def test_regression_ties_use_the_minimized_direction():
    y, predictions = ar1_regression(0.0, n=2000)
    noise = np.random.default_rng(3).normal(size=2000)
    predictions = {"bad": y + 3 * noise, **predictions, "twin": predictions["model"] + 1e-9}
    result = paired_bootstrap("rmse", y, predictions, n_resamples=200)
    tied = {row["model"]: row["tied_with_best"] for row in result.table()}
    assert result.best in ("model", "twin")
    assert tied == {"bad": False, "model": True, "twin": True}


def test_same_seed_gives_the_same_result():
    y, predictions = classifiers(n=500)
    first = paired_bootstrap("roc_auc", y, predictions, n_resamples=100, seed=9, block=7)
    second = paired_bootstrap("roc_auc", y, predictions, n_resamples=100, seed=9, block=7)
    assert first.table() == second.table()
    np.testing.assert_array_equal(first.resampled, second.resampled)
    other = paired_bootstrap("roc_auc", y, predictions, n_resamples=100, seed=10, block=7)
    assert not np.array_equal(first.resampled, other.resampled)


def test_resamples_are_paired_across_models():
    y, predictions = regression_case(n=200)
    result = paired_bootstrap("mae", y, predictions, n_resamples=40, seed=4)
    counts = resample_counts(200, 40, seed=4)
    np.testing.assert_allclose(result.resampled, resampled_scores("mae", y, predictions, counts))


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"block": 0}, "block must be None"),
    ({"block": 41}, r"from 1 to the number of rows \(40\); got 41"),
    ({"block": "weekly"}, "got 'weekly'"),
    ({"n_resamples": 0}, "n_resamples must be an integer of at least 1; got 0"),
    ({"level": 1.0}, "level must be strictly between 0 and 1; got 1.0"),
])
def test_invalid_settings_raise(kwargs, match):
    y, predictions = regression_case()
    with pytest.raises(TabbenchError, match=match):
        paired_bootstrap("rmse", y, predictions, **kwargs)


def test_invalid_inputs_raise():
    y, predictions = regression_case()
    with pytest.raises(TabbenchError, match=r"predictions\['short'\] must have one row per "
                                            r"test row \(40\); got shape \(39,\)"):
        paired_bootstrap("rmse", y, {"short": y[1:]})
    with pytest.raises(TabbenchError, match="predictions must hold at least one model"):
        paired_bootstrap("rmse", y, {})
    with pytest.raises(UnknownNameError, match="unknown metric 'f1'; valid names are: accuracy"):
        paired_bootstrap("f1", y, predictions)
    with pytest.raises(TabbenchError, match=r"counts must have shape \(n_resamples, 40\)"):
        resampled_scores("rmse", y, predictions, np.ones((3, 39)))
    with pytest.raises(TabbenchError, match="n must be an integer of at least 1; got 0"):
        resample_counts(0, 5, seed=0)
    with pytest.raises(TabbenchError, match=r"block='auto' needs the data to choose a length"):
        resample_counts(40, 5, seed=0, block="auto")
    with pytest.raises(TabbenchError, match=r"test_sets\[1\]: rows must be 40 distinct integer "
                                            r"row ids, one per target; got shape \(40,\) of float"):
        shared_row_bootstrap("rmse", [(np.arange(40), y, predictions),
                                      (np.arange(40.0), y, predictions)])
    with pytest.raises(TabbenchError, match=r"resampled must have shape \(n_resamples, 2\), one "
                                            r"column per model; got shape \(5, 3\)"):
        compare_with_best("rmse", np.ones(2), np.ones((5, 3)))
