from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tabbench.data.metrics import (
    default_metric,
    get_metric,
    is_better,
    metric_names,
    score,
)
from tabbench.exceptions import UnknownNameError

BINARY_Y = np.array([0, 0, 1, 1])
BINARY_P1 = np.array([0.1, 0.4, 0.35, 0.8])


def binary_proba(p1):
    return np.column_stack([1 - p1, p1])


def test_roc_auc_binary_hand_computed():
    # positive/negative pairs: (0.35 vs 0.1) ok, (0.35 vs 0.4) wrong, 0.8 beats both: 3/4
    assert score("roc_auc", BINARY_Y, binary_proba(BINARY_P1)) == pytest.approx(0.75)


def test_roc_auc_binary_accepts_probability_of_class_one():
    assert score("roc_auc", BINARY_Y, BINARY_P1) == pytest.approx(0.75)


def test_roc_auc_single_class_is_nan_not_an_error():
    assert math.isnan(score("roc_auc", np.array([1, 1]), binary_proba(np.array([0.2, 0.9]))))
    proba3 = np.full((2, 3), 1 / 3)
    assert math.isnan(score("roc_auc", np.array([2, 2]), proba3))


def test_roc_auc_multiclass_one_vs_rest_macro():
    y = np.array([0, 1, 2, 0, 1, 2])
    proba = np.array(
        [
            [0.7, 0.2, 0.1],
            [0.2, 0.5, 0.3],
            [0.1, 0.3, 0.6],
            [0.3, 0.4, 0.3],
            [0.5, 0.3, 0.2],
            [0.2, 0.2, 0.6],
        ]
    )
    # class 0: positives 0.7, 0.3 vs negatives 0.2, 0.1, 0.5, 0.2 -> (4 + 3) / 8
    # class 1: positives 0.5, 0.3 vs negatives 0.2, 0.3, 0.4, 0.2 -> (4 + 2.5) / 8
    # class 2: positives 0.6, 0.6 vs negatives 0.1, 0.3, 0.3, 0.2 -> 8 / 8
    expected = (7 / 8 + 6.5 / 8 + 1.0) / 3
    assert score("roc_auc", y, proba) == pytest.approx(expected)
    assert score("roc_auc", y, proba) == pytest.approx(roc_auc_score(y, proba, multi_class="ovr"))


def test_roc_auc_multiclass_averages_over_classes_present_in_the_test_part():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.6, 0.3, 0.1], [0.3, 0.4, 0.3], [0.2, 0.7, 0.1], [0.5, 0.2, 0.3]])
    # class 0: positives 0.6, 0.3 vs 0.2, 0.5 -> 3/4; class 1: positives 0.7, 0.2 vs 0.3, 0.4 -> 2/4
    assert score("roc_auc", y, proba) == pytest.approx((0.75 + 0.5) / 2)


def test_log_loss_hand_computed():
    y = np.array([0, 1])
    proba = np.array([[0.8, 0.2], [0.4, 0.6]])
    assert score("log_loss", y, proba) == pytest.approx(-(math.log(0.8) + math.log(0.6)) / 2)


def test_log_loss_with_a_class_missing_from_the_test_part():
    y = np.array([0, 0])
    proba = np.array([[0.5, 0.25, 0.25], [0.25, 0.5, 0.25]])
    assert score("log_loss", y, proba) == pytest.approx(-(math.log(0.5) + math.log(0.25)) / 2)


def test_accuracy_uses_argmax():
    y = np.array([0, 1, 1, 0])
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3], [0.2, 0.8]])
    assert score("accuracy", y, proba) == 0.5
    y3 = np.array([2, 1])
    proba3 = np.array([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2]])
    assert score("accuracy", y3, proba3) == 0.5


def test_regression_metrics_hand_computed():
    y = np.array([1.0, 2.0, 3.0])
    pred = np.array([1.0, 2.0, 5.0])
    assert score("rmse", y, pred) == pytest.approx(math.sqrt(4 / 3))
    assert score("mae", y, pred) == pytest.approx(2 / 3)
    assert score("r2", y, pred) == pytest.approx(1 - 4 / 2)


def test_directions_and_task_types():
    directions = {name: get_metric(name).direction for name in metric_names()}
    assert directions == {
        "roc_auc": "maximize",
        "log_loss": "minimize",
        "accuracy": "maximize",
        "rmse": "minimize",
        "mae": "minimize",
        "r2": "maximize",
    }
    assert metric_names("binary") == ["roc_auc", "log_loss", "accuracy"]
    assert metric_names("multiclass") == ["roc_auc", "log_loss", "accuracy"]
    assert metric_names("regression") == ["rmse", "mae", "r2"]
    assert get_metric("ROC_AUC").needs_proba
    assert not get_metric("rmse").needs_proba


def test_default_metric_follows_tabred():
    assert default_metric("binary") == "roc_auc"
    assert default_metric("multiclass") == "roc_auc"
    assert default_metric("regression") == "rmse"
    with pytest.raises(UnknownNameError, match=r"unknown task 'ranking'.*binary"):
        default_metric("ranking")


def test_is_better_follows_direction():
    assert is_better("roc_auc", 0.8, 0.7)
    assert not is_better("roc_auc", 0.7, 0.8)
    assert is_better("rmse", 1.0, 2.0)
    assert not is_better("log_loss", 2.0, 1.0)
    assert not is_better("rmse", 1.0, 1.0)


def test_is_better_with_nan():
    assert is_better("roc_auc", 0.5, math.nan)
    assert not is_better("roc_auc", math.nan, 0.5)
    assert not is_better("rmse", math.nan, math.nan)


def test_unknown_metric_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match=r"configs/x.toml: unknown metric 'auc'.*roc_auc"):
        get_metric("auc", where="configs/x.toml")
    with pytest.raises(UnknownNameError, match="unknown metric 'f1'"):
        score("f1", np.array([0]), np.array([[1.0, 0.0]]))


def test_bad_probability_shape_raises():
    with pytest.raises(ValueError, match=r"shape \(n, k\)"):
        score("log_loss", np.array([0]), np.zeros((1, 2, 2)))
