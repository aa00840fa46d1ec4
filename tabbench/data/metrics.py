"""The metric registry: name → (function, direction, task types).

Conventions for the ``prediction`` handed to a metric:

* classification (``binary``, ``multiclass``): the probability matrix of shape ``(n, k)``
  whose column ``j`` is the probability of class code ``j`` (``k = 2`` for binary);
  ``y_true`` holds the class codes ``0..k-1``;
* regression: a 1-D array of predicted values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from tabbench.core import _plugin_loader
from tabbench.core._registry import Registry
from tabbench.exceptions import UnknownNameError

__all__ = [
    "METRICS",
    "Metric",
    "default_metric",
    "get_metric",
    "is_better",
    "metric_names",
    "register_metric",
    "score",
]

Direction = Literal["maximize", "minimize"]
CLASSIFICATION = ("binary", "multiclass")
REGRESSION = ("regression",)
TASKS = (*CLASSIFICATION, *REGRESSION)
#: A metric's name: lowercase letters, digits and ``_``, starting with a letter.
METRIC_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Metric:
    """One metric.

    Attributes
    ----------
    name : str
        Registry name (lowercase).
    fn : callable
        ``fn(y_true, prediction) -> float`` following the module's prediction convention.
    direction : {"maximize", "minimize"}
        Whether larger values are better.
    task_types : tuple of str
        The tasks the metric applies to.
    needs_proba : bool
        Whether the metric reads class probabilities (as opposed to labels or values).
    """

    name: str
    fn: Callable[[np.ndarray, np.ndarray], float]
    direction: Direction
    task_types: tuple[str, ...]
    needs_proba: bool = False


#: Built-in metrics register here directly; plugins through :func:`tabbench.register_metric`.
METRICS: Registry[Metric] = Registry("metric", prepare=_plugin_loader.autoload)
_plugin_loader.track("metric", METRICS)


def register_metric(metric: Metric) -> Metric:
    """Add ``metric`` to the registry (a duplicate name raises ``ValueError``). Plugins call
    :func:`tabbench.register_metric`, which checks it and records where it came from."""
    return METRICS.register(metric.name, metric)


def _proba(prediction: np.ndarray) -> np.ndarray:
    """The (n, k) probability matrix; a 1-D array is read as P(class 1) of a binary task."""
    proba = np.asarray(prediction, dtype=np.float64)
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    if proba.ndim != 2:
        message = (
            f"classification metrics expect probabilities of shape (n, k); got shape {proba.shape}"
        )
        raise ValueError(message)
    return proba


def _roc_auc(y_true: np.ndarray, prediction: np.ndarray) -> float:
    # Binary: AUC of P(class 1). Multiclass: one-vs-rest macro average over the classes
    # present in y_true (scikit-learn's "ovr"/"macro", which raises when a test part lacks
    # a class). Fewer than two classes in y_true: undefined, nan.
    y = np.asarray(y_true)
    proba = _proba(prediction)
    present = np.unique(y)
    if present.size < 2:
        return math.nan
    if proba.shape[1] == 2:
        return _binary_auc(y == 1, proba[:, 1])
    return float(np.mean([_binary_auc(y == c, proba[:, int(c)]) for c in present]))


def _binary_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann–Whitney statistic: the share of (positive, negative) pairs that
    the score orders right, ties counted half (scikit-learn's value, computed from one
    ranking: scikit-learn's input checks cost more than the AUC itself on every job)."""
    if not np.isfinite(score).all():  # as scikit-learn's check: a broken model must fail
        kind = "NaN" if np.isnan(score).any() else "infinity or a value too large for dtype('float64')"
        raise ValueError(f"Input contains {kind}.")
    from scipy.stats import rankdata  # imported here: scipy.stats alone takes ~0.5 s

    ranks = rankdata(score)  # average ranks for tied scores
    n_pos = int(positive.sum())
    n_neg = positive.size - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _sklearn_metrics():
    """``sklearn.metrics``, imported on first use: listing or checking the registry (every
    dataset TOML names a metric) then costs no scikit-learn import (~0.6 s)."""
    from sklearn import metrics

    return metrics


def _log_loss(y_true: np.ndarray, prediction: np.ndarray) -> float:
    proba = _proba(prediction)
    return float(_sklearn_metrics().log_loss(y_true, proba, labels=np.arange(proba.shape[1])))


def _accuracy(y_true: np.ndarray, prediction: np.ndarray) -> float:
    return float(_sklearn_metrics().accuracy_score(y_true, _proba(prediction).argmax(axis=1)))


def _values(prediction: np.ndarray) -> np.ndarray:
    values = np.asarray(prediction, dtype=np.float64)
    return values.ravel() if values.ndim == 2 and values.shape[1] == 1 else values


def _rmse(y_true: np.ndarray, prediction: np.ndarray) -> float:
    return float(_sklearn_metrics().root_mean_squared_error(y_true, _values(prediction)))


def _mae(y_true: np.ndarray, prediction: np.ndarray) -> float:
    return float(_sklearn_metrics().mean_absolute_error(y_true, _values(prediction)))


def _r2(y_true: np.ndarray, prediction: np.ndarray) -> float:
    return float(_sklearn_metrics().r2_score(y_true, _values(prediction)))


register_metric(Metric("roc_auc", _roc_auc, "maximize", CLASSIFICATION, needs_proba=True))
register_metric(Metric("log_loss", _log_loss, "minimize", CLASSIFICATION, needs_proba=True))
register_metric(Metric("accuracy", _accuracy, "maximize", CLASSIFICATION))
register_metric(Metric("rmse", _rmse, "minimize", REGRESSION))
register_metric(Metric("mae", _mae, "minimize", REGRESSION))
register_metric(Metric("r2", _r2, "maximize", REGRESSION))

_DEFAULTS = {"binary": "roc_auc", "multiclass": "roc_auc", "regression": "rmse"}


def get_metric(name: str, where: str = "") -> Metric:
    """Look up a metric by name.

    Parameters
    ----------
    name : str
        Metric name (case-insensitive).
    where : str, optional
        Context for the error message (a file or option name).

    Raises
    ------
    UnknownNameError
        If no metric has that name; the message lists the valid ones.
    """
    return METRICS.get(name, where)


def metric_names(task: str | None = None) -> list[str]:
    """Names of the registered metrics, optionally only those that apply to ``task``."""
    return [name for name in METRICS if task is None or task in METRICS.get(name).task_types]


def default_metric(task: str) -> str:
    """The metric a task is scored with unless the dataset says otherwise.

    ``roc_auc`` for ``binary`` and ``multiclass``, ``rmse`` for ``regression`` (TabReD's
    choices). An unknown task raises :class:`UnknownNameError`.
    """
    try:
        return _DEFAULTS[task]
    except KeyError:
        raise UnknownNameError("task", task, _DEFAULTS) from None


def score(metric_name: str, y_true: np.ndarray, prediction: np.ndarray) -> float:
    """Score a prediction with the named metric.

    Parameters
    ----------
    metric_name : str
        A registered metric.
    y_true : ndarray
        Class codes ``0..k-1`` (classification) or values (regression).
    prediction : ndarray
        Probabilities ``(n, k)`` for classification, values ``(n,)`` for regression.

    Returns
    -------
    float
        The score; ``nan`` where the metric is undefined (ROC AUC on a single class).

    Examples
    --------
    >>> import numpy as np
    >>> score("accuracy", np.array([0, 1]), np.array([[0.9, 0.1], [0.2, 0.8]]))
    1.0
    """
    return get_metric(metric_name).fn(np.asarray(y_true), np.asarray(prediction))


def is_better(metric_name: str, a: float, b: float) -> bool:
    """Whether score ``a`` is strictly better than score ``b`` under the named metric.

    ``nan`` is never better than anything, and any number is better than ``nan``.
    """
    if math.isnan(a):
        return False
    if math.isnan(b):
        return True
    return a > b if get_metric(metric_name).direction == "maximize" else a < b
