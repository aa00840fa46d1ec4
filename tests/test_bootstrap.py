"""The paired bootstrap: vectorized scores against tabbench.metrics, resampling, ties."""

from __future__ import annotations

import numpy as np
import pytest

from tabbench import bootstrap
from tabbench.bootstrap import (
    VECTORIZED,
    block_length,
    paired_bootstrap,
    resample_counts,
    resampled_scores,
)
from tabbench.exceptions import TabbenchError, UnknownNameError
from tabbench.metrics import score


def explicit_scores(metric, y, predictions, counts):
    """The reference: tabbench.metrics.score on the rows repeated by their counts."""
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
    monkeypatch.delitem(bootstrap._PREPARERS, "mae")
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


def test_block_resamples_are_sums_of_windows_of_contiguous_rows():
    # 20 rows in blocks of 5: each resample is 4 windows [s, s + 5) with 0 <= s <= 15;
    # recover how many windows start at each row (counts[i] = starts in (i - 5, i])
    for counts in resample_counts(20, 100, seed=0, block=5):
        starts = np.zeros(20, dtype=int)
        for i in range(20):
            starts[i] = counts[i] - starts[max(i - 4, 0):i].sum()
        assert (starts >= 0).all() and starts.sum() == 4 and not starts[16:].any()
    assert (resample_counts(10, 3, seed=0, block=10) == 1).all()  # one block: every row once
    # the last block is truncated: 3 blocks of 4 cover 12 rows, 10 are kept
    assert (resample_counts(10, 50, seed=1, block=4).sum(axis=1) == 10).all()


def test_block_length_follows_the_cube_root_rule():
    assert [block_length(n) for n in (1, 7, 8, 1000, 20_000)] == [1, 2, 2, 10, 27]
    assert resample_counts(1000, 2, seed=0, block="auto").shape == (2, 1000)


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
    assert blocked.block == block_length(3000)
    assert interval_width(blocked) >= 1.5 * interval_width(iid)


def test_block_and_iid_bootstrap_agree_on_white_noise():
    y, predictions = ar1_regression(0.0)
    iid = paired_bootstrap("rmse", y, predictions, n_resamples=500, seed=1)
    blocked = paired_bootstrap("rmse", y, predictions, n_resamples=500, seed=1, block="auto")
    assert 0.8 <= interval_width(blocked) / interval_width(iid) <= 1.25


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
