"""Confidence within one test set: a paired bootstrap over test rows of every model's score.

(Longer than 500 lines: each vectorized metric sits beside its weighted formula and the
resampling it must agree with.)

For one (dataset, split, seed), :func:`paired_bootstrap` resamples the test rows (the same
resamples for every model, so the comparison is paired), scores every model on every
resample, and reports each model's percentile interval and whether it is *tied with the
best*: not significantly worse than the model with the best point score, decided for all
models at once so that the chance of calling any model worse when none is stays near
``1 - level`` (:func:`compare_with_best`).

Resampling is iid for random splits (``block=None``) and a circular block bootstrap for
time splits (``block`` an int, or ``"auto"`` for the data-driven :func:`block_length`),
with rows in time order. A resample is a row of *counts*, how often each test row is drawn
(:func:`resample_counts`); :func:`resampled_scores` turns a count matrix into scores.
Several test sets that may share rows (the splits and seeds of one dataset) are resampled
together, row by row, by :func:`shared_row_bootstrap`, so that their scores can be
averaged resample by resample.

The metrics in :data:`VECTORIZED` are evaluated on all resamples at once from the counts
(a matrix product for the per-row metrics, one sort per model for ROC AUC); any other
registered metric falls back to a loop over resamples that calls
:func:`tabbench.data.metrics.score` on the resampled rows, which is much slower. Both give the
same values as :func:`tabbench.data.metrics.score` on the explicitly resampled rows.

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

import functools
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from arch.bootstrap import optimal_block_length
from threadpoolctl import ThreadpoolController

from tabbench.analysis.resampled_metrics import VECTORIZED, chunk_scorer, probabilities, row_losses
from tabbench.data.metrics import get_metric, is_better, score
from tabbench.exceptions import TabbenchError

__all__ = [
    "VECTORIZED",
    "BootstrapResult",
    "Comparison",
    "block_length",
    "compare_with_best",
    "paired_bootstrap",
    "percentile_interval",
    "resample_counts",
    "resampled_scores",
    "shared_row_bootstrap",
]

#: Resamples are processed in chunks of about this many (row, resample) cells, so that the
#: working matrices stay near 8 MB each (float64) whatever the number of test rows.
_CHUNK_CELLS = 1 << 20

Block = int | Literal["auto"] | None


def _resolve_block(block: Block, n: int, auto: Callable[[], int]) -> int | None:
    if block is None:
        return None
    if block == "auto":
        return auto()
    if isinstance(block, bool) or not isinstance(block, int | np.integer) or not 1 <= block <= n:
        message = (f"block must be None (iid), 'auto' or an integer from 1 to the number of "
                   f"rows ({n}); got {block!r}")
        raise TabbenchError(message, parameter="block")
    return int(block)


def _no_auto() -> int:
    message = ("block='auto' needs the data to choose a length: pass "
               "block=block_length(metric, y, predictions), or use paired_bootstrap")
    raise TabbenchError(message, parameter="block")


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
        else:  # circular: a block may start on any row and wraps past the last one
            starts = rng.integers(0, n, size=(c, n_blocks), dtype=np.int64)
            rows = ((starts[:, :, None] + within) % n).reshape(c, n_blocks * block)[:, :n]
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
    block : int or None
        ``None``: iid rows. An int: a circular block bootstrap (Politis & Romano, 1992),
        which concatenates blocks of ``block`` consecutive rows (in the given row order,
        i.e. time order for a time split) starting at uniformly drawn rows and wrapping
        from the last row to the first, the last block truncated so that ``n`` rows are
        drawn. Wrapping gives every row the same chance to be drawn, the first and last
        ones included (blocks that stop at the end draw the rows near either end less
        often), so every row is drawn once on average. For a length chosen from the data,
        pass :func:`block_length`.

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
    resolved = _resolve_block(block, n, auto=_no_auto)
    chunks = _count_chunks(n, n_resamples, seed=seed, block=resolved, chunk=_chunk_size(n))
    return np.ascontiguousarray(np.concatenate(list(chunks), axis=1).T)




@functools.cache
def _blas() -> ThreadpoolController:
    # Finding the loaded libraries reads the process's memory map, which costs more than
    # scoring a small test set; the BLAS libraries are loaded with numpy and scipy, which
    # are imported before any bootstrap runs.
    return ThreadpoolController()


def _one_blas_thread() -> AbstractContextManager[Any]:
    # The products here have a handful of rows (models or classes): BLAS threads gain
    # little on them, and when other processes keep the cores busy they slow them down
    # by orders of magnitude.
    return _blas().limit(limits=1, user_api="blas")


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


# ----------------------------------------------------------------------------------------
# The block length, from the data

#: Fewer test rows than this leave too few autocorrelations to estimate the dependence
#: from (the estimate looks at lags up to about the square root of the rows plus 5).
_MIN_ROWS_FOR_LENGTH = 20

_PER_ROW = ("log_loss", "accuracy", "rmse", "mae")


def _row_series(metric: str, y: np.ndarray, preds: list[np.ndarray]) -> np.ndarray:
    """``(n, n_models)``: each row's loss, or a per-row residual where the metric has none.

    The average-over-rows metrics use their own per-row loss (the squared error for RMSE
    and R², which are functions of its mean). ROC AUC, a rank statistic, and other
    metrics have no per-row contribution: classification uses one minus the predicted
    probability of the true class (for a binary model, the Brier-type residual
    ``|y - p|``), regression the absolute error.
    """
    if metric in _PER_ROW or metric == "r2":
        return row_losses("rmse" if metric == "r2" else metric, y, preds)
    if "regression" in get_metric(metric).task_types:
        return row_losses("mae", y, preds)
    codes = y.astype(np.int64)
    return np.column_stack([1.0 - probabilities(p)[np.arange(y.size), codes] for p in preds])


def _auto_block(metric: str, y: np.ndarray, preds: list[np.ndarray]) -> int:
    if y.size < _MIN_ROWS_FOR_LENGTH:
        return 1
    losses = _row_series(metric, y, preds)
    series = losses
    if losses.shape[1] > 1:
        series = np.column_stack([losses, losses - losses.mean(axis=1, keepdims=True)])
    varying = np.isfinite(series).all(axis=0) & (np.ptp(series, axis=0) > 0)
    if not varying.any():
        return 1
    with _one_blas_thread(), np.errstate(all="ignore"):
        lengths = optimal_block_length(np.asfortranarray(series[:, varying]))["circular"]
    lengths = lengths.to_numpy(dtype=np.float64)
    lengths = lengths[np.isfinite(lengths)]
    if lengths.size == 0:
        return 1
    return int(np.clip(np.round(lengths.max()), 1, y.size))


def block_length(metric: str, y: np.ndarray, predictions: Mapping[str, np.ndarray]) -> int:
    """The circular block bootstrap's block length for these predictions, chosen from the data.

    The length is the Politis & White (2004) estimate, with the correction of Patton,
    Politis & White (2009), of the block length that minimizes the error of the circular
    block bootstrap's variance estimate (:func:`arch.bootstrap.optimal_block_length`,
    column ``circular``), computed on per-row series in the given row order (time order
    for a time split), rounded and kept within 1 to ``n``. The series are each model's
    per-row loss and each model's deviation from the mean loss over the models, and the
    longest of their lengths is taken: intervals need the dependence of each model's
    loss, ties that of the differences between models, and a block too short for the
    most persistent of them makes its interval too narrow.

    Parameters
    ----------
    metric : str
        A registered metric. Its per-row loss is used where it has one (the squared
        error for RMSE and R²); ROC AUC and other classification metrics use one minus
        the predicted probability of the true class (``|y - p|`` for a binary model),
        other regression metrics the absolute error.
    y : ndarray, shape (n,)
        Test targets, in time order.
    predictions : mapping of str to ndarray
        Each model's test prediction (probabilities ``(n, k)`` or values ``(n,)``).

    Returns
    -------
    int
        1 (single rows) when there are fewer than 20 rows or no series varies.

    Examples
    --------
    >>> import numpy as np
    >>> errors = np.repeat(np.random.default_rng(0).normal(size=100), 10)  # runs of 10 rows
    >>> block_length("mae", np.zeros(1000), {"model": errors}) > 10
    True
    """
    y = np.asarray(y)
    name, preds = _check_inputs(metric, y, predictions)
    return _auto_block(name, y, preds)


def resampled_scores(metric: str, y: np.ndarray, predictions: Mapping[str, np.ndarray],
                     counts: np.ndarray) -> np.ndarray:
    """Every model's score on every resample given as row counts.

    Parameters
    ----------
    metric : str
        A registered metric (see :mod:`tabbench.data.metrics`).
    y : ndarray, shape (n,)
        Test targets: class codes ``0..k-1`` or values.
    predictions : mapping of str to ndarray
        Each model's test prediction, following :mod:`tabbench.data.metrics`' convention
        (probabilities ``(n, k)`` for classification, values ``(n,)`` for regression).
    counts : ndarray, shape (n_resamples, n)
        How often each row is drawn in each resample (see :func:`resample_counts`). The
        counts need not sum to ``n`` (a test set's part of a resample of a larger table,
        as in :func:`shared_row_bootstrap`): a score is the metric on the rows repeated
        by their counts, ``nan`` on a resample that draws none of them.

    Returns
    -------
    ndarray, shape (n_resamples, n_models)
        Column ``j`` is the ``j``-th model of ``predictions``; each value equals
        :func:`tabbench.data.metrics.score` on the rows repeated by their counts (``nan`` where
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
    scorer = chunk_scorer(name, y, preds)
    chunk = _chunk_size(y.size)
    with _one_blas_thread():
        parts = [scorer(np.ascontiguousarray(counts[first:first + chunk].T, dtype=np.float64))
                 for first in range(0, counts.shape[0], chunk)]
    return np.concatenate(parts) if parts else np.empty((0, len(preds)))


# ----------------------------------------------------------------------------------------
# The paired bootstrap


def percentile_interval(samples: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``level`` percentile interval of each column of ``samples`` (resamples in rows).

    Resamples that are ``nan`` (a metric undefined on them) are left out; a column that
    is all ``nan`` gets a ``nan`` interval.
    """
    samples = np.asarray(samples, dtype=np.float64)
    tail = (1 - level) / 2
    empty = np.isnan(samples).all(axis=0)
    filled = np.where(empty, 0.0, samples)  # no all-nan warning
    low, high = np.nanquantile(filled, [tail, 1 - tail], axis=0)
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


@dataclass(frozen=True, eq=False)
class Comparison:
    """Every model against the best, decided simultaneously (see :func:`compare_with_best`).

    Attributes
    ----------
    best : int
        Index of the model with the best point score (the first one on equal scores).
    diff_low, diff_high : ndarray
        Simultaneous interval of each model's difference to the best, signed so that
        worse is negative: ``d ± critical * se``, with ``d`` the point difference and
        ``se`` the bootstrap standard deviation of the paired difference; ``[0, 0]`` for
        the best model.
    tied_with_best : ndarray of bool
        Not called worse than the best: ``diff_high >= 0`` (or undecidable, ``nan``).
    critical : float
        The simultaneous critical value: the ``level`` quantile over resamples of the
        largest studentized centred difference between any two models (``nan`` with a
        single model or fewer than two usable resamples).
    """

    best: int
    diff_low: np.ndarray
    diff_high: np.ndarray
    tied_with_best: np.ndarray
    critical: float


def compare_with_best(metric: str, scores: np.ndarray, resampled: np.ndarray, *,
                      level: float = 0.95) -> Comparison:
    """Which models are significantly worse than the best, with the family-wise error controlled.

    A single-step max-t procedure over all pairs of models (Romano & Wolf, 2005; the
    bootstrap analogue of Tukey's studentized range). With scores signed so that larger
    is better, ``d_ij`` the point difference between models ``i`` and ``j``, ``d*_ij``
    the same difference on a resample and ``se_ij`` its standard deviation over the
    resamples, the critical value ``c`` is the ``level`` quantile over resamples of
    ``max_ij |d*_ij - d_ij| / se_ij``. A model is *worse than the best* only when its
    difference to the best exceeds ``c * se``; otherwise it is *tied with the best*.

    What this controls: the intervals ``d_ij ± c * se_ij`` cover every pair's true
    difference at once with probability about ``level``, so the chance that *any* model
    is called worse than the best when it is in fact at least as good is at most about
    ``1 - level`` (the family-wise error rate). In particular, when all models are
    equally good, some model is called worse in about ``1 - level`` of test sets,
    although the best was picked on the same rows: the maximum over all pairs covers
    whichever model comes out best. It says nothing about how often a worse model is
    missed, and it holds per call: over several datasets the errors add up.

    Parameters
    ----------
    metric : str
        A registered metric; its direction says which scores are better.
    scores : ndarray, shape (n_models,)
        Point scores.
    resampled : ndarray, shape (n_resamples, n_models)
        Every model's score on the same (paired) resamples; resamples where any score is
        ``nan`` are left out.
    level : float
        Simultaneous coverage, in (0, 1).

    Returns
    -------
    Comparison

    Examples
    --------
    >>> import numpy as np
    >>> noise = np.random.default_rng(0).normal(scale=0.01, size=(500, 3))
    >>> comparison = compare_with_best("rmse", np.array([1.0, 1.001, 1.1]),
    ...                                np.array([1.0, 1.001, 1.1]) + noise)
    >>> comparison.best, comparison.tied_with_best.tolist()
    (0, [True, True, False])
    """
    name = get_metric(metric, "metric").name
    scores = np.asarray(scores, dtype=np.float64)
    resampled = np.asarray(resampled, dtype=np.float64)
    if resampled.ndim != 2 or resampled.shape[1] != scores.size:
        message = (f"resampled must have shape (n_resamples, {scores.size}), one column per "
                   f"model; got shape {resampled.shape}")
        raise TabbenchError(message, parameter="resampled")
    best = 0
    for j in range(1, scores.size):
        if is_better(name, scores[j], scores[best]):
            best = j
    sign = 1.0 if get_metric(name).direction == "maximize" else -1.0
    signed, samples = sign * scores, sign * resampled
    samples = samples[np.isfinite(samples).all(axis=1)]
    critical = np.nan
    se_to_best = np.full(scores.size, np.nan)
    if scores.size > 1 and samples.shape[0] >= 2:
        largest = np.full(samples.shape[0], -np.inf)
        for i in range(scores.size):  # one model against all the others: (n_resamples, m)
            moved = samples - samples[:, [i]]
            se = moved.std(axis=0, ddof=1)
            if i == best:
                se_to_best = se
            point = signed - signed[i]
            with np.errstate(divide="ignore", invalid="ignore"):
                t = np.abs(moved - point) / se
            # identical models (se 0) and undefined point scores take no part in the maximum
            t[:, ~(se > 0) | ~np.isfinite(point)] = -np.inf
            np.maximum(largest, t.max(axis=1), out=largest)
        if np.isfinite(largest).any():
            critical = float(np.quantile(largest, level))
    difference = signed - signed[best]
    half = np.where(se_to_best > 0, critical * se_to_best, 0.0)
    diff_low, diff_high = difference - half, difference + half
    diff_low[best] = diff_high[best] = 0.0
    tied = ~(diff_high < 0)
    return Comparison(best=best, diff_low=diff_low, diff_high=diff_high, tied_with_best=tied,
                      critical=critical)


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
        Point scores on all test rows (:func:`tabbench.data.metrics.score`).
    low, high : ndarray
        Percentile interval of each score at ``level`` (one model at a time).
    diff_low, diff_high : ndarray
        Simultaneous interval, over all pairs of models, of the paired difference to the
        best model, signed so that worse is negative (``score - best`` for metrics to
        maximize, ``best - score`` for metrics to minimize); ``[0, 0]`` for the best model
        itself (:func:`compare_with_best`).
    tied_with_best : ndarray of bool
        Whether the model is not significantly worse than the best: its simultaneous
        difference interval reaches 0 (``diff_high >= 0``). True for the best model. The
        chance that any model is called worse when none is stays near ``1 - level``.
    best : str
        The model with the best point score (the first one on equal scores).
    resampled : ndarray, shape (n_resamples, n_models)
        Every model's score on every resample.
    critical : float
        The simultaneous critical value of :func:`compare_with_best`.
    n_resamples, block, level, seed
        The bootstrap's settings (``block`` None for iid resampling, else the circular
        block length used).
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
    critical: float = np.nan

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
    Each score gets its ``level`` percentile interval. A model is *tied with the best*
    (the model with the best point score) unless it is significantly worse than the best
    in a test of all pairs of models at once (:func:`compare_with_best`): when all models
    are equally good, some model is called worse in about ``1 - level`` of test sets,
    although the best is picked on the same rows. The best model is tied with itself.

    Parameters
    ----------
    metric : str
        A registered metric (see :mod:`tabbench.data.metrics`).
    y : ndarray, shape (n,)
        Test targets, in time order for a time split.
    predictions : mapping of str to ndarray
        Each model's test prediction (probabilities ``(n, k)`` or values ``(n,)``).
    n_resamples : int
        Number of bootstrap resamples.
    block : int, "auto" or None
        ``None`` for iid rows (random splits); the block length of a circular block
        bootstrap over the row order (time splits, see :func:`resample_counts`);
        ``"auto"`` for the length chosen from these predictions by :func:`block_length`.
    seed : int
        Seed of the resampling; the same inputs and seed give the same result (and the
        same seed, number of rows and block length give the same resamples).
    level : float
        Coverage of the intervals, and of the simultaneous comparison, in (0, 1).

    Returns
    -------
    BootstrapResult
        Resamples on which the metric is undefined (ROC AUC on one class) are left out
        of the intervals and of the comparison.
    """
    y = np.asarray(y)
    name, preds = _check_inputs(metric, y, predictions)
    _check_positive("n_resamples", n_resamples)
    _check_level(level)
    resolved = _resolve_block(block, y.size, auto=lambda: _auto_block(name, y, preds))
    scorer = chunk_scorer(name, y, preds)
    chunk = _chunk_size(y.size)
    chunks = _count_chunks(y.size, n_resamples, seed=seed, block=resolved, chunk=chunk)
    with _one_blas_thread():
        resampled = np.concatenate([scorer(counts.astype(np.float64)) for counts in chunks])
    return _result(name, y, predictions, preds, resampled, block=resolved, level=level,
                   seed=seed)


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        message = f"level must be strictly between 0 and 1; got {level!r}"
        raise TabbenchError(message, parameter="level")


def _result(name: str, y: np.ndarray, predictions: Mapping[str, np.ndarray],
            preds: list[np.ndarray], resampled: np.ndarray, *, block: int | None,
            level: float, seed: int) -> BootstrapResult:
    models = tuple(predictions)
    scores = np.array([score(name, y, p) for p in preds])
    low, high = percentile_interval(resampled, level)
    comparison = compare_with_best(name, scores, resampled, level=level)
    return BootstrapResult(metric=name, models=models, scores=scores, low=low, high=high,
                           diff_low=comparison.diff_low, diff_high=comparison.diff_high,
                           tied_with_best=comparison.tied_with_best,
                           best=models[comparison.best], resampled=resampled,
                           n_resamples=resampled.shape[0], block=block, level=level,
                           seed=seed, critical=comparison.critical)


TestSet = tuple[np.ndarray, np.ndarray, Mapping[str, np.ndarray]]


def shared_row_bootstrap(metric: str, test_sets: Sequence[TestSet], *,
                         n_resamples: int = 1000, seed: int = 0,
                         level: float = 0.95) -> list[BootstrapResult]:
    """Paired bootstraps of several test sets that may share rows, resampled together.

    Each test set is ``(rows, y, predictions)``: the ids of its rows in a common table
    (for instance one dataset's row indices), its targets and its models' predictions.
    Every resample draws, iid with replacement, as many rows as the test sets hold
    distinct row ids, from those rows; each test set's resample is its rows repeated by
    their counts (so its size varies around its number of rows when the other test sets
    hold rows it does not). A row therefore has the same count in every test set that
    holds it: the seeds of one split share their resamples, test sets that share some
    rows (random splits drawn with different seeds) get resamples exactly as correlated
    as the rows they share make their scores, and scores averaged over the test sets,
    resample by resample, vary as the average does. With one test set, or all on the
    same rows, the resamples are those of :func:`paired_bootstrap` with ``block=None``
    and the same seed. Within each test set the result is what :func:`paired_bootstrap`
    reports: percentile intervals and the simultaneous comparison with the best
    (:func:`compare_with_best`).

    Parameters
    ----------
    metric : str
        A registered metric (see :mod:`tabbench.data.metrics`).
    test_sets : sequence of (ndarray, ndarray, mapping of str to ndarray)
        Row ids (distinct integers), targets and predictions of each test set.
    n_resamples : int
        Number of resamples.
    seed : int
        Seed of the resampling: the same row ids and seed give the same counts.
    level : float
        Coverage of the intervals, and of the simultaneous comparison, in (0, 1).

    Returns
    -------
    list of BootstrapResult
        One per test set, in order (``block`` None).
    """
    _check_positive("n_resamples", n_resamples)
    _check_level(level)
    name = get_metric(metric, "metric").name
    checked = []
    for k, (rows, y, predictions) in enumerate(test_sets):
        y, rows = np.asarray(y), np.asarray(rows)
        _, preds = _check_inputs(name, y, predictions)
        if (rows.shape != y.shape or not np.issubdtype(rows.dtype, np.integer)
                or np.unique(rows).size != rows.size):
            message = (f"test_sets[{k}]: rows must be {y.size} distinct integer row ids, one "
                       f"per target; got shape {rows.shape} of {rows.dtype}")
            raise TabbenchError(message, parameter="test_sets")
        checked.append((rows.astype(np.int64), y, predictions, preds, chunk_scorer(name, y, preds)))
    if not checked:
        return []
    union = np.unique(np.concatenate([rows for rows, *_ in checked]))
    positions = [np.searchsorted(union, rows) for rows, *_ in checked]
    parts: list[list[np.ndarray]] = [[] for _ in checked]
    chunks = _count_chunks(union.size, n_resamples, seed=seed, block=None,
                           chunk=_chunk_size(union.size))
    with _one_blas_thread():
        for counts in chunks:
            counts = counts.astype(np.float64)
            for k, (position, (*_, scorer)) in enumerate(zip(positions, checked, strict=True)):
                parts[k].append(scorer(np.ascontiguousarray(counts[position])))
    return [_result(name, y, predictions, preds, np.concatenate(resampled), block=None,
                    level=level, seed=seed)
            for (_, y, predictions, preds, _), resampled in zip(checked, parts, strict=True)]
