"""Global feature importances of a fitted model: permutation, native contributions, pre-filter.

* **Permutation importance** (:func:`permutation_scores`): scikit-learn's
  ``permutation_importance`` on the validation part, scored with the dataset's metric
  against the truth (signed so that larger is always more important). Only the candidate
  columns are permuted, in batches, so a table with thousands of features never needs
  more than one batch's bookkeeping at once.
* **Native contributions** (:func:`native_contributions`): for the boosters, the mean
  absolute per-row contribution (SHAP values: XGBoost ``pred_contribs``, LightGBM
  ``pred_contrib``, CatBoost ``ShapValues``), summed over classes.
* **Pre-filter** (:func:`gain_importance`): a booster's total split gain, free once the
  model is fitted; used to shortlist candidates on high-dimensional data.
* :func:`importance_table` merges the two rankings into one order (the mean of the two
  ranks; permutation alone when the model has no native contributions).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import polars as pl
from scipy.stats import rankdata
from sklearn.inspection import permutation_importance

from tabbench.data.metrics import get_metric, score

__all__ = [
    "gain_importance",
    "importance_table",
    "native_contributions",
    "permutation_scores",
]

BATCH_SIZE = 64  # candidate columns permuted per call of permutation_importance

Predict = Callable[[np.ndarray], np.ndarray]


class _Columns:
    """A model as a function of a few columns of ``base``, for ``permutation_importance``.

    ``predict(X_batch)`` writes the batch's (permuted) columns into a copy of ``base`` and
    predicts on it, so only the candidate columns are handed to scikit-learn.
    """

    def __init__(self, predict: Predict, base: np.ndarray, columns: Sequence[int]) -> None:
        self._predict, self._base, self._columns = predict, base, list(columns)

    def fit(self, X: Any, y: Any = None) -> _Columns:  # scikit-learn checks that it exists
        return self

    def predict(self, X_batch: np.ndarray) -> np.ndarray:
        full = self._base.copy()
        full[:, self._columns] = X_batch
        return self._predict(full)


def permutation_scores(predict: Predict, X: np.ndarray, y: np.ndarray, metric: str, *,
                       columns: Sequence[int] | None = None, n_repeats: int = 5, seed: int = 0,
                       batch_size: int = BATCH_SIZE,
                       on_batch: Callable[[int, int], None] | None = None) -> np.ndarray:
    """Permutation importance of each column: the drop in ``metric`` when it is shuffled.

    Parameters
    ----------
    predict : callable
        ``predict(X) -> prediction`` in :mod:`tabbench.data.metrics`' convention
        (probabilities for classification, values for regression).
    X, y : ndarray
        The rows to permute (the validation part) and their truth.
    metric : str
        A registered metric; the importance is signed so that larger means more important
        whatever the metric's direction.
    columns : sequence of int, optional
        The candidate columns (default: all); the others get NaN.
    n_repeats, seed
        Shuffles per column and their seed.
    batch_size : int
        Columns handed to scikit-learn per call.
    on_batch : callable, optional
        Called with ``(columns done, columns in all)`` after each batch.

    Returns
    -------
    ndarray
        The mean importance per column of ``X`` (NaN for columns not permuted).
    """
    sign = 1.0 if get_metric(metric).direction == "maximize" else -1.0
    fast = _FAST.get(metric) if len(np.unique(y)) == 2 else None

    def scorer(estimator: _Columns, X_batch: np.ndarray, y_true: np.ndarray) -> float:
        prediction = estimator.predict(X_batch)
        if fast is not None and prediction.ndim == 2 and prediction.shape[1] == 2:
            return sign * fast(y_true, prediction[:, 1])
        return sign * score(metric, y_true, prediction)

    candidates = list(range(X.shape[1])) if columns is None else list(columns)
    importances = np.full(X.shape[1], np.nan)
    for start in range(0, len(candidates), batch_size):
        batch = candidates[start:start + batch_size]
        result = permutation_importance(_Columns(predict, X, batch), X[:, batch], y,
                                        scoring=scorer, n_repeats=n_repeats,
                                        random_state=seed, n_jobs=1)
        importances[batch] = result.importances_mean
        if on_batch is not None:
            on_batch(start + len(batch), len(candidates))
    return importances


def _binary_auc(y_true: np.ndarray, p1: np.ndarray) -> float:
    """ROC AUC of P(class 1) by the rank-sum formula (ties get mean ranks).

    Equal to ``sklearn.metrics.roc_auc_score``, without its input validation, which costs
    more than the prediction itself in the thousands of calls of a permutation run.
    """
    positive = np.asarray(y_true) == 1
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    ranks = rankdata(p1)
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


_FAST: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {"roc_auc": _binary_auc}


# --- native importances of the boosters, looked up by the wrapper's ``library`` -------------


def _xgboost_contributions(model: Any, X: np.ndarray) -> np.ndarray:
    import xgboost as xgb  # heavy: imported only when an XGBoost model is explained

    data = xgb.DMatrix(X, feature_types=model._feature_types, enable_categorical=True)
    raw = model.booster_.predict(data, pred_contribs=True, iteration_range=(0, model.n_iterations_))
    return np.abs(raw.reshape(X.shape[0], -1, X.shape[1] + 1)[..., :-1]).sum(axis=1).mean(axis=0)


def _lightgbm_contributions(model: Any, X: np.ndarray) -> np.ndarray:
    raw = model.booster_.predict(X, num_iteration=model.n_iterations_, pred_contrib=True)
    return np.abs(raw.reshape(X.shape[0], -1, X.shape[1] + 1)[..., :-1]).sum(axis=1).mean(axis=0)


def _catboost_contributions(model: Any, X: np.ndarray) -> np.ndarray:
    raw = model.model_.get_feature_importance(model._pool(X), type="ShapValues",
                                              thread_count=model.context.n_threads)
    return np.abs(raw.reshape(X.shape[0], -1, X.shape[1] + 1)[..., :-1]).sum(axis=1).mean(axis=0)


def _xgboost_gain(model: Any, n_features: int) -> np.ndarray:
    gains = model.booster_.get_score(importance_type="total_gain")
    return np.array([gains.get(f"f{j}", 0.0) for j in range(n_features)], dtype=np.float64)


def _lightgbm_gain(model: Any, n_features: int) -> np.ndarray:
    return np.asarray(model.booster_.feature_importance(importance_type="gain"), dtype=np.float64)


def _catboost_gain(model: Any, n_features: int) -> np.ndarray:
    return np.asarray(model.model_.get_feature_importance(), dtype=np.float64)


_CONTRIBUTIONS: dict[str, Callable[[Any, np.ndarray], np.ndarray]] = {
    "xgboost": _xgboost_contributions,
    "lightgbm": _lightgbm_contributions,
    "catboost": _catboost_contributions,
}
_GAINS: dict[str, Callable[[Any, int], np.ndarray]] = {
    "xgboost": _xgboost_gain,
    "lightgbm": _lightgbm_gain,
    "catboost": _catboost_gain,
}


def native_contributions(model: Any, X: np.ndarray) -> np.ndarray | None:
    """Mean |contribution| per column of a fitted booster on the rows ``X``; ``None`` otherwise.

    Multiclass contributions are summed over the classes before averaging over rows.
    """
    library = getattr(model, "library", None)
    if library not in _CONTRIBUTIONS:
        return None
    return np.asarray(_CONTRIBUTIONS[library](model, X), dtype=np.float64)


def gain_importance(model: Any, n_features: int) -> np.ndarray | None:
    """A fitted booster's total gain (CatBoost: prediction-value change) per column, or ``None``."""
    library = getattr(model, "library", None)
    if library not in _GAINS:
        return None
    return _GAINS[library](model, n_features)


def importance_table(names: Sequence[str], permutation: np.ndarray,
                     native: np.ndarray | None) -> pl.DataFrame:
    """One row per feature, best first: ``feature, permutation_importance, native_contribution, rank``.

    The order is the mean of the permutation rank and the native-contribution rank, both
    among the permuted features (the permutation rank alone without native
    contributions); ties go to the larger
    permutation importance, then the name. Features that were not permuted (pre-filtered
    out) come after all permuted ones.
    """
    n = len(names)
    permutation = np.asarray(permutation, dtype=np.float64)
    by_permutation = _ranks(permutation)
    order_key = by_permutation.astype(np.float64)
    if native is not None:  # ranked among the permuted features, like the permutation rank
        native_key = np.where(np.isnan(permutation), np.nan, np.asarray(native, dtype=float))
        order_key = (order_key + _ranks(native_key)) / 2.0
    order_key = np.where(np.isnan(permutation), np.inf, order_key)
    tie = np.nan_to_num(permutation, nan=-np.inf)
    order = sorted(range(n), key=lambda j: (order_key[j], -tie[j], names[j]))
    return pl.DataFrame({
        "feature": [names[j] for j in order],
        "permutation_importance": pl.Series([permutation[j] for j in order],
                                            dtype=pl.Float64).fill_nan(None),
        "native_contribution": pl.Series(
            [None if native is None else float(native[j]) for j in order], dtype=pl.Float64),
        "rank": pl.Series(np.arange(1, n + 1), dtype=pl.Int64),
    })


def _ranks(values: np.ndarray) -> np.ndarray:
    """Rank 1 for the largest value; NaN ranks last."""
    key = np.nan_to_num(values, nan=-np.inf)
    ranks = np.empty(len(values), dtype=np.int64)
    ranks[np.argsort(-key, kind="stable")] = np.arange(1, len(values) + 1)
    return ranks
