"""Tabular metrics scored on many bootstrap resamples of the test rows at once.

A resample is a column of *counts* (how often each test row is drawn); the scorers here
turn a chunk of such columns into every model's score on each, with the same value as
:func:`tabbench.data.metrics.score` on the explicitly resampled rows (:mod:`tabbench.analysis.bootstrap`
draws the counts and makes the intervals).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tabbench.data.metrics import score

__all__ = ["VECTORIZED", "ChunkScorer", "chunk_scorer", "probabilities", "row_losses"]

# counts of one chunk of c resamples, float64 (n, c) -> scores (c, n_models)
ChunkScorer = Callable[[np.ndarray], np.ndarray]

# ----------------------------------------------------------------------------------------
# Vectorized scoring. Each preparer checks and converts the predictions once and returns a
# function that scores one chunk of resamples given as float64 counts of shape (n, c): one
# row per test row, one column per resample. Rows first, so that gathering rows and
# cumulating along them move whole contiguous rows of resamples.


def probabilities(prediction: np.ndarray) -> np.ndarray:
    """Class probabilities as ``(n, n_classes)`` (a binary model's 1-D positive column widened)."""
    proba = np.asarray(prediction, dtype=np.float64)
    return np.column_stack([1.0 - proba, proba]) if proba.ndim == 1 else proba


def _values(prediction: np.ndarray) -> np.ndarray:
    values = np.asarray(prediction, dtype=np.float64)
    return values.ravel() if values.ndim == 2 and values.shape[1] == 1 else values


def row_losses(metric: str, y: np.ndarray, preds: list[np.ndarray]) -> np.ndarray:
    """``(n, n_models)``: each row's contribution to an average-over-rows metric."""
    columns = []
    for prediction in preds:
        if metric in ("log_loss", "accuracy"):
            proba = probabilities(prediction)
            codes = y.astype(np.int64)
            if metric == "accuracy":
                columns.append((proba.argmax(axis=1) == codes).astype(np.float64))
            else:  # scikit-learn clips to [eps, 1 - eps] and does not renormalize
                eps = np.finfo(np.float64).eps
                picked = np.clip(proba[np.arange(y.size), codes], eps, 1 - eps)
                columns.append(-np.log(picked))
        else:
            error = _values(prediction) - y.astype(np.float64)
            columns.append(np.abs(error) if metric == "mae" else error**2)
    return np.column_stack(columns)


def _mean_scorer(metric: str, y: np.ndarray, preds: list[np.ndarray]) -> ChunkScorer:
    losses_t = np.ascontiguousarray(row_losses(metric, y, preds).T)

    def scorer(counts: np.ndarray) -> np.ndarray:
        # weighted by the counts, whatever their total (n for resample_counts)
        with np.errstate(divide="ignore", invalid="ignore"):
            means = (losses_t @ counts).T / counts.sum(axis=0)[:, None]
        return np.sqrt(means) if metric == "rmse" else means

    return scorer


def _r2_scorer(y: np.ndarray, preds: list[np.ndarray]) -> ChunkScorer:
    squared_t = np.ascontiguousarray(row_losses("rmse", y, preds).T)
    centered = y.astype(np.float64) - y.astype(np.float64).mean()  # SS_tot is shift-free
    moments = np.vstack([centered, centered**2])

    def scorer(counts: np.ndarray) -> np.ndarray:
        residual = (squared_t @ counts).T
        first, second = moments @ counts
        with np.errstate(divide="ignore", invalid="ignore"):
            total = (second - first**2 / counts.sum(axis=0))[:, None]
            r2 = 1.0 - residual / total
        # scikit-learn's force_finite: a constant y scores 1 if predicted exactly, else 0
        return np.where(total == 0, np.where(residual == 0, 1.0, 0.0), r2)

    return scorer


@dataclass(frozen=True)
class _Ranking:
    """One model's scores for one positive class, sorted once.

    ``negatives`` are the negative rows in increasing score; ``below[i]`` and ``upto[i]``
    are how many of them score strictly below, and at most, the ``i``-th positive row.
    ``upto`` is None when no positive ties with a negative.
    """

    negatives: np.ndarray
    below: np.ndarray
    upto: np.ndarray | None


def _ranking(values: np.ndarray, positives: np.ndarray, negatives: np.ndarray) -> _Ranking:
    order = negatives[np.argsort(values[negatives], kind="stable")]
    ordered = values[order]
    below = np.searchsorted(ordered, values[positives], side="left")
    upto = np.searchsorted(ordered, values[positives], side="right")
    return _Ranking(order, below, None if np.array_equal(below, upto) else upto)


def _pairs(counts: np.ndarray, positive_weights: np.ndarray, ranking: _Ranking,
           ) -> tuple[np.ndarray, np.ndarray]:
    """Weighted count of (positive, negative) pairs ranked right (ties half), and the
    negative weight, per resample."""
    # cumulated[k]: weight of the k lowest-scoring negatives; a positive row is above
    # cumulated[below] of them and ties with cumulated[upto] - cumulated[below]
    negatives = counts[ranking.negatives]
    cumulated = np.empty((negatives.shape[0] + 1, counts.shape[1]))
    cumulated[0] = 0.0
    np.cumsum(negatives, axis=0, out=cumulated[1:])
    beaten = cumulated[ranking.below]
    if ranking.upto is not None:
        beaten += cumulated[ranking.upto]
        beaten *= 0.5
    return np.einsum("ij,ij->j", positive_weights, beaten), cumulated[-1]


def _auc_scorer(y: np.ndarray, preds: list[np.ndarray]) -> ChunkScorer:
    # A weighted Mann–Whitney statistic, mirroring tabbench.data.metrics: a binary model (two
    # columns) scores the AUC of column 1, a multiclass one the one-vs-rest average over
    # the classes present in the resampled rows; fewer than two classes present is nan.
    codes = y.astype(np.int64)
    classes = np.unique(codes)
    probas = [probabilities(p) for p in preds]
    scored = [[1] if proba.shape[1] == 2 else [int(c) for c in classes] for proba in probas]
    rows = {c: (np.flatnonzero(codes == c), np.flatnonzero(codes != c))
            for c in sorted({c for model_classes in scored for c in model_classes})}
    rankings = [{c: _ranking(proba[:, c], *rows[c]) for c in model_classes}
                for proba, model_classes in zip(probas, scored, strict=True)]
    multiclass = np.array([proba.shape[1] != 2 for proba in probas])
    indicators = (classes[:, None] == codes[None, :]).astype(np.float64)

    def scorer(counts: np.ndarray) -> np.ndarray:
        n_present = ((indicators @ counts) > 0).sum(axis=0)
        sums = np.zeros((counts.shape[1], len(probas)))
        for c, (positives, _) in rows.items():
            positive_weights = counts[positives]
            w_pos = positive_weights.sum(axis=0)
            for j, by_class in enumerate(rankings):
                if c in by_class:
                    pairs, w_neg = _pairs(counts, positive_weights, by_class[c])
                    with np.errstate(divide="ignore", invalid="ignore"):
                        auc = pairs / (w_pos * w_neg)
                    sums[:, j] += np.where((w_pos > 0) & (w_neg > 0), auc, 0.0)
        divisor = np.where(multiclass, n_present[:, None], 1)
        return np.where((n_present >= 2)[:, None], sums / divisor, np.nan)

    return scorer


def _loop_scorer(metric: str, y: np.ndarray, preds: list[np.ndarray]) -> ChunkScorer:
    rows = np.arange(y.size)
    arrays = [np.asarray(prediction) for prediction in preds]

    def scorer(counts: np.ndarray) -> np.ndarray:
        out = np.empty((counts.shape[1], len(arrays)))
        for r, column in enumerate(counts.T.astype(np.int64)):
            drawn = np.repeat(rows, column)
            for j, prediction in enumerate(arrays):
                out[r, j] = score(metric, y[drawn], prediction[drawn])
        return out

    return scorer


_Preparer = Callable[[str, np.ndarray, list[np.ndarray]], ChunkScorer]

#: The vectorized scorers by metric name; other metrics use :func:`_loop_scorer`.
_PREPARERS: dict[str, _Preparer] = {
    "roc_auc": lambda metric, y, preds: _auc_scorer(y, preds),
    "log_loss": _mean_scorer,
    "accuracy": _mean_scorer,
    "rmse": _mean_scorer,
    "mae": _mean_scorer,
    "r2": lambda metric, y, preds: _r2_scorer(y, preds),
}


def chunk_scorer(metric: str, y: np.ndarray, preds: list[np.ndarray]) -> ChunkScorer:
    """The function that scores ``preds`` on chunks of resample counts (see the module)."""
    return _PREPARERS.get(metric, _loop_scorer)(metric, y, preds)


#: Metrics scored on all resamples at once; any other metric loops over resamples.
VECTORIZED = frozenset(_PREPARERS)
