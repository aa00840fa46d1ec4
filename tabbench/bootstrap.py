"""Confidence within one test set: a paired bootstrap over test rows of every model's score.

(Longer than 500 lines: each vectorized metric sits beside its weighted formula and the
resampling it must agree with.)

For one (dataset, split, seed), :func:`paired_bootstrap` resamples the test rows (the same
resamples for every model, so the comparison is paired), scores every model on every
resample, and reports each model's percentile interval and whether it is *tied with the
best*, i.e. not significantly worse than the model with the best point score.

Resampling is iid for random splits (``block=None``) and a moving-block bootstrap for time
splits (``block`` an int, or ``"auto"`` for :func:`block_length`), with rows in time
order. A resample is a row of *counts*, how often each test row is drawn
(:func:`resample_counts`); :func:`resampled_scores` turns a count matrix into scores.

The metrics in :data:`VECTORIZED` are evaluated on all resamples at once from the counts
(a matrix product for the per-row metrics, one sort per model for ROC AUC); any other
registered metric falls back to a loop over resamples that calls
:func:`tabbench.metrics.score` on the resampled rows, which is much slower. Both give the
same values as :func:`tabbench.metrics.score` on the explicitly resampled rows.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = rng.normal(size=500)
>>> predictions = {"good": y + rng.normal(scale=0.5, size=500),
...                "bad": y + rng.normal(scale=2.0, size=500)}
>>> result = paired_bootstrap("rmse", y, predictions, n_resamples=200)
>>> result.best, [row["tied_with_best"] for row in result.table()]
('good', [True, False])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from threadpoolctl import threadpool_limits

from tabbench.exceptions import TabbenchError
from tabbench.metrics import get_metric, is_better, score

__all__ = [
    "VECTORIZED",
    "BootstrapResult",
    "block_length",
    "paired_bootstrap",
    "resample_counts",
    "resampled_scores",
]

#: Resamples are processed in chunks of about this many (row, resample) cells, so that the
#: working matrices stay near 8 MB each (float64) whatever the number of test rows.
_CHUNK_CELLS = 1 << 20

Block = int | Literal["auto"] | None
# counts of one chunk of c resamples, float64 (n, c) -> scores (c, n_models)
_ChunkScorer = Callable[[np.ndarray], np.ndarray]


def block_length(n: int) -> int:
    """The moving-block bootstrap's block length for ``n`` rows: ``round(n ** (1/3))``, at least 1.

    Hall, Horowitz & Jing (1995, "On blocking rules for the bootstrap with dependent
    data") show that the block length minimizing the error of the bootstrap's variance
    estimate grows as ``n ** (1/3)``; an interval's width is driven by that variance. The
    constant of proportionality depends on the unknown autocorrelation, so the rule takes
    it as 1: blocks much longer than the dependence waste data, much shorter ones miss it.

    Examples
    --------
    >>> block_length(20_000), block_length(1_000), block_length(1)
    (27, 10, 1)
    """
    return max(1, round(n ** (1 / 3)))


def _resolve_block(block: Block, n: int) -> int | None:
    if block is None:
        return None
    if block == "auto":
        return block_length(n)
    if isinstance(block, bool) or not isinstance(block, int | np.integer) or not 1 <= block <= n:
        message = (f"block must be None (iid), 'auto' or an integer from 1 to the number of "
                   f"rows ({n}); got {block!r}")
        raise TabbenchError(message, parameter="block")
    return int(block)


def _check_positive(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        message = f"{name} must be an integer of at least 1; got {value!r}"
        raise TabbenchError(message, parameter=name)


def _chunk_size(n: int) -> int:
    return max(1, _CHUNK_CELLS // max(n, 1))


def _count_chunks(n: int, n_resamples: int, *, seed: int, block: int | None,
                  chunk: int) -> Iterator[np.ndarray]:
    """Successive ``(n, c)`` int32 count matrices (one column per resample), ``n_resamples``
    columns in all.

    The draws are 64-bit bounded integers taken from one generator in resample order, so
    the concatenated matrix does not depend on ``chunk``.
    """
    rng = np.random.default_rng(seed)
    if block is not None:
        n_blocks = -(-n // block)
        within = np.arange(block)
    for first in range(0, n_resamples, chunk):
        c = min(chunk, n_resamples - first)
        if block is None:
            rows = rng.integers(0, n, size=(c, n), dtype=np.int64)
        else:
            starts = rng.integers(0, n - block + 1, size=(c, n_blocks), dtype=np.int64)
            rows = (starts[:, :, None] + within).reshape(c, n_blocks * block)[:, :n]
        # row by row: bincount's writes stay within one resample's n counts
        flat = (rows + (np.arange(c, dtype=np.int64) * n)[:, None]).ravel()
        yield np.bincount(flat, minlength=c * n).astype(np.int32).reshape(c, n).T


def resample_counts(n: int, n_resamples: int, *, seed: int, block: Block = None) -> np.ndarray:
    """How many times each of ``n`` rows is drawn in each of ``n_resamples`` bootstrap resamples.

    Parameters
    ----------
    n : int
        Number of rows; each resample draws ``n`` rows with replacement.
    n_resamples : int
        Number of resamples.
    seed : int
        Seed of ``np.random.default_rng``; the same arguments give the same matrix.
    block : int, "auto" or None
        ``None``: iid rows. An int: a moving-block bootstrap, which concatenates blocks of
        ``block`` consecutive rows (in the given row order, i.e. time order for a time
        split) starting at uniformly drawn positions, the last block truncated so that
        ``n`` rows are drawn. ``"auto"``: the block length of :func:`block_length`.

    Returns
    -------
    ndarray of int32, shape (n_resamples, n)
        Every row sums to ``n``.

    Examples
    --------
    >>> resample_counts(5, 2, seed=0, block=5).tolist()
    [[1, 1, 1, 1, 1], [1, 1, 1, 1, 1]]
    """
    _check_positive("n", n)
    _check_positive("n_resamples", n_resamples)
    resolved = _resolve_block(block, n)
    chunks = _count_chunks(n, n_resamples, seed=seed, block=resolved, chunk=_chunk_size(n))
    return np.ascontiguousarray(np.concatenate(list(chunks), axis=1).T)


# ----------------------------------------------------------------------------------------
# Vectorized scoring. Each preparer checks and converts the predictions once and returns a
# function that scores one chunk of resamples given as float64 counts of shape (n, c): one
# row per test row, one column per resample. Rows first, so that gathering rows and
# cumulating along them move whole contiguous rows of resamples.


def _proba(prediction: np.ndarray) -> np.ndarray:
    proba = np.asarray(prediction, dtype=np.float64)
    return np.column_stack([1.0 - proba, proba]) if proba.ndim == 1 else proba


def _values(prediction: np.ndarray) -> np.ndarray:
    values = np.asarray(prediction, dtype=np.float64)
    return values.ravel() if values.ndim == 2 and values.shape[1] == 1 else values


def _row_losses(metric: str, y: np.ndarray, preds: list[np.ndarray]) -> np.ndarray:
    """``(n, n_models)``: each row's contribution to an average-over-rows metric."""
    columns = []
    for prediction in preds:
        if metric in ("log_loss", "accuracy"):
            proba = _proba(prediction)
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


def _mean_scorer(metric: str, y: np.ndarray, preds: list[np.ndarray]) -> _ChunkScorer:
    losses_t = np.ascontiguousarray(_row_losses(metric, y, preds).T)
    n = y.size

    def scorer(counts: np.ndarray) -> np.ndarray:
        means = (losses_t @ counts).T / n
        return np.sqrt(means) if metric == "rmse" else means

    return scorer


def _r2_scorer(y: np.ndarray, preds: list[np.ndarray]) -> _ChunkScorer:
    squared_t = np.ascontiguousarray(_row_losses("rmse", y, preds).T)
    centered = y.astype(np.float64) - y.astype(np.float64).mean()  # SS_tot is shift-free
    moments = np.vstack([centered, centered**2])
    n = y.size

    def scorer(counts: np.ndarray) -> np.ndarray:
        residual = (squared_t @ counts).T
        first, second = moments @ counts
        total = (second - first**2 / n)[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
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


def _auc_scorer(y: np.ndarray, preds: list[np.ndarray]) -> _ChunkScorer:
    # A weighted Mann–Whitney statistic, mirroring tabbench.metrics: a binary model (two
    # columns) scores the AUC of column 1, a multiclass one the one-vs-rest average over
    # the classes present in the resampled rows; fewer than two classes present is nan.
    codes = y.astype(np.int64)
    classes = np.unique(codes)
    probas = [_proba(p) for p in preds]
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


def _loop_scorer(metric: str, y: np.ndarray, preds: list[np.ndarray]) -> _ChunkScorer:
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


_Preparer = Callable[[str, np.ndarray, list[np.ndarray]], _ChunkScorer]

#: The vectorized scorers by metric name; other metrics use :func:`_loop_scorer`.
_PREPARERS: dict[str, _Preparer] = {
    "roc_auc": lambda metric, y, preds: _auc_scorer(y, preds),
    "log_loss": _mean_scorer,
    "accuracy": _mean_scorer,
    "rmse": _mean_scorer,
    "mae": _mean_scorer,
    "r2": lambda metric, y, preds: _r2_scorer(y, preds),
}


def _scorer(metric: str, y: np.ndarray, preds: list[np.ndarray]) -> _ChunkScorer:
    return _PREPARERS.get(metric, _loop_scorer)(metric, y, preds)


#: Metrics scored on all resamples at once; any other metric loops over resamples.
VECTORIZED = frozenset(_PREPARERS)


def _one_blas_thread() -> threadpool_limits:
    # The products here have a handful of rows (models or classes): BLAS threads gain
    # little on them, and when other processes keep the cores busy they slow them down
    # by orders of magnitude.
    return threadpool_limits(limits=1, user_api="blas")


def _check_inputs(metric: str, y: np.ndarray,
                  predictions: Mapping[str, np.ndarray]) -> tuple[str, list[np.ndarray]]:
    name = get_metric(metric, "metric").name
    if y.ndim != 1 or y.size == 0:
        message = f"y must be a non-empty 1-D array of test targets; got shape {y.shape}"
        raise TabbenchError(message, parameter="y")
    if not predictions:
        message = "predictions must hold at least one model; got an empty mapping"
        raise TabbenchError(message, parameter="predictions")
    preds = []
    for model, prediction in predictions.items():
        array = np.asarray(prediction)
        if array.ndim not in (1, 2) or array.shape[0] != y.size:
            message = (f"predictions[{model!r}] must have one row per test row ({y.size}); "
                       f"got shape {array.shape}")
            raise TabbenchError(message, parameter="predictions")
        preds.append(array)
    return name, preds


def resampled_scores(metric: str, y: np.ndarray, predictions: Mapping[str, np.ndarray],
                     counts: np.ndarray) -> np.ndarray:
    """Every model's score on every resample given as row counts.

    Parameters
    ----------
    metric : str
        A registered metric (see :mod:`tabbench.metrics`).
    y : ndarray, shape (n,)
        Test targets: class codes ``0..k-1`` or values.
    predictions : mapping of str to ndarray
        Each model's test prediction, following :mod:`tabbench.metrics`' convention
        (probabilities ``(n, k)`` for classification, values ``(n,)`` for regression).
    counts : ndarray, shape (n_resamples, n)
        How often each row is drawn in each resample (see :func:`resample_counts`).

    Returns
    -------
    ndarray, shape (n_resamples, n_models)
        Column ``j`` is the ``j``-th model of ``predictions``; each value equals
        :func:`tabbench.metrics.score` on the rows repeated by their counts (``nan`` where
        the metric is undefined on a resample, e.g. ROC AUC on one class). Metrics outside
        :data:`VECTORIZED` are computed with a loop over resamples, which is slower.
    """
    y = np.asarray(y)
    name, preds = _check_inputs(metric, y, predictions)
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != y.size:
        message = (f"counts must have shape (n_resamples, {y.size}), one column per test "
                   f"row; got shape {counts.shape}")
        raise TabbenchError(message, parameter="counts")
    scorer = _scorer(name, y, preds)
    chunk = _chunk_size(y.size)
    with _one_blas_thread():
        parts = [scorer(np.ascontiguousarray(counts[first:first + chunk].T, dtype=np.float64))
                 for first in range(0, counts.shape[0], chunk)]
    return np.concatenate(parts) if parts else np.empty((0, len(preds)))


# ----------------------------------------------------------------------------------------
# The paired bootstrap


def _interval(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval per column, ignoring nan resamples (nan if all are)."""
    tail = (1 - level) / 2
    empty = np.isnan(samples).all(axis=0)
    filled = np.where(empty, 0.0, samples)  # no all-nan warning
    low, high = np.nanquantile(filled, [tail, 1 - tail], axis=0)
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """The paired bootstrap of several models' scores on one test set.

    Arrays are indexed like ``models`` (the order of the ``predictions`` mapping).

    Attributes
    ----------
    metric : str
        The metric.
    models : tuple of str
        Model names.
    scores : ndarray
        Point scores on all test rows (:func:`tabbench.metrics.score`).
    low, high : ndarray
        Percentile interval of each score at ``level``.
    diff_low, diff_high : ndarray
        Percentile interval of the paired difference to the best model, signed so that
        worse is negative (``score - best`` for metrics to maximize, ``best - score`` for
        metrics to minimize); ``[0, 0]`` for the best model itself.
    tied_with_best : ndarray of bool
        Whether the model is not significantly worse than the best: its difference
        interval reaches 0 (``diff_high >= 0``). True for the best model.
    best : str
        The model with the best point score (the first one on equal scores).
    resampled : ndarray, shape (n_resamples, n_models)
        Every model's score on every resample.
    n_resamples, block, level, seed
        The bootstrap's settings (``block`` None for iid resampling).
    """

    metric: str
    models: tuple[str, ...]
    scores: np.ndarray
    low: np.ndarray
    high: np.ndarray
    diff_low: np.ndarray
    diff_high: np.ndarray
    tied_with_best: np.ndarray
    best: str
    resampled: np.ndarray
    n_resamples: int
    block: int | None
    level: float
    seed: int

    def table(self) -> list[dict[str, Any]]:
        """One dict per model, in model order: ``model``, ``score``, ``low``, ``high``,
        ``diff_low``, ``diff_high``, ``tied_with_best`` and ``is_best`` (Python types)."""
        return [
            {"model": model, "score": float(self.scores[j]), "low": float(self.low[j]),
             "high": float(self.high[j]), "diff_low": float(self.diff_low[j]),
             "diff_high": float(self.diff_high[j]),
             "tied_with_best": bool(self.tied_with_best[j]), "is_best": model == self.best}
            for j, model in enumerate(self.models)
        ]


def paired_bootstrap(metric: str, y: np.ndarray, predictions: Mapping[str, np.ndarray], *,
                     n_resamples: int = 1000, block: Block = None, seed: int = 0,
                     level: float = 0.95) -> BootstrapResult:
    """Bootstrap intervals of several models' scores on one test set, and which tie with the best.

    Every model is scored on the same resamples of the test rows (a paired bootstrap).
    A model is *tied with the best* (the model with the best point score) when the
    ``level`` percentile interval of its paired difference to the best, signed so that
    worse is negative, contains 0; the best model is tied with itself.

    Parameters
    ----------
    metric : str
        A registered metric (see :mod:`tabbench.metrics`).
    y : ndarray, shape (n,)
        Test targets, in time order for a time split.
    predictions : mapping of str to ndarray
        Each model's test prediction (probabilities ``(n, k)`` or values ``(n,)``).
    n_resamples : int
        Number of bootstrap resamples.
    block : int, "auto" or None
        ``None`` for iid rows (random splits); the block length of a moving-block
        bootstrap over the row order (time splits); ``"auto"`` for :func:`block_length`.
    seed : int
        Seed of the resampling; the same inputs and seed give the same result.
    level : float
        Coverage of the intervals, in (0, 1).

    Returns
    -------
    BootstrapResult
        Resamples on which the metric is undefined (ROC AUC on one class) are left out
        of the intervals.
    """
    y = np.asarray(y)
    name, preds = _check_inputs(metric, y, predictions)
    _check_positive("n_resamples", n_resamples)
    if not 0 < level < 1:
        message = f"level must be strictly between 0 and 1; got {level!r}"
        raise TabbenchError(message, parameter="level")
    resolved = _resolve_block(block, y.size)
    models = tuple(predictions)
    scores = np.array([score(name, y, p) for p in preds])
    best = 0
    for j in range(1, len(models)):
        if is_better(name, scores[j], scores[best]):
            best = j

    scorer = _scorer(name, y, preds)
    chunk = _chunk_size(y.size)
    chunks = _count_chunks(y.size, n_resamples, seed=seed, block=resolved, chunk=chunk)
    with _one_blas_thread():
        resampled = np.concatenate([scorer(counts.astype(np.float64)) for counts in chunks])
    sign = 1.0 if get_metric(name).direction == "maximize" else -1.0
    diffs = sign * (resampled - resampled[:, [best]])
    low, high = _interval(resampled, level)
    diff_low, diff_high = _interval(diffs, level)
    tied = (diff_high >= 0) & ~np.isnan(diff_high)
    tied[best] = True
    return BootstrapResult(metric=name, models=models, scores=scores, low=low, high=high,
                           diff_low=diff_low, diff_high=diff_high, tied_with_best=tied,
                           best=models[best], resampled=resampled, n_resamples=n_resamples,
                           block=resolved, level=level, seed=seed)

