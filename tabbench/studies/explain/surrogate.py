"""The surrogate interface, its registry, and the size search shared by every kind.

A surrogate is an interpretable model fitted to a black box's predictions. Every kind
follows one interface (:class:`Surrogate`) and is registered by name in
:data:`SURROGATES`; the kinds live in one module per family (:mod:`tabbench.studies.explain.tree`:
``tree`` and ``rules``; :mod:`tabbench.studies.explain.linear`: ``linear``;
:mod:`tabbench.studies.explain.ensemble`: ``random-forest`` and ``boosted-trees``), which register
themselves when :mod:`tabbench.studies.explain` imports them.

``fit(X, target)``
    ``X`` is the interpretable matrix (:mod:`tabbench.studies.explain.space`: numbers in their own
    units, categories as codes, NaN for missing); ``target`` is what the black box
    predicted: class codes for classification, values for regression.
``predict(X)`` / ``predict_proba(X)``
    Classes (or values), and class probabilities of shape ``(n, n_classes)``.
``n_rules_``, ``depth_``
    Size: leaves / rules / non-zero terms, and the longest path / conjunction.
``rules_text(feature_names, vocab)``, ``explain_row(x, feature_names, vocab)``
    The model as text, with thresholds in the columns' units and categories by name
    (``vocab`` maps a categorical column's name to its category labels by code), and the
    part of it that fired for one row.
``sizes(n_rows)``
    The size parameters to try, simplest first; :func:`fit_surrogate` picks one on the
    validation part for fidelity.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import polars as pl

from tabbench.core._registry import Registry

__all__ = [
    "SURROGATES",
    "TOLERANCE",
    "Surrogate",
    "Vocab",
    "fidelity",
    "fidelity_kappa",
    "fit_surrogate",
    "make_surrogate",
    "register_surrogate",
    "surrogate_names",
]

Vocab = Mapping[str, Sequence[str]]
TOLERANCE = 0.005  # the smallest surrogate within this much of the best validation fidelity


class Surrogate(ABC):
    """An interpretable model fitted to a black box's predictions.

    Parameters
    ----------
    task : {"binary", "multiclass", "regression"}
        The dataset's task.
    n_classes : int
        Number of classes (0 for regression).
    categorical : sequence of int
        Columns of ``X`` that hold category codes.
    size : optional
        The kind's size parameter (see :meth:`sizes`); ``None`` is the kind's default.
    seed : int
        Seeds any randomness of the fit.
    class_names : sequence of str, optional
        Labels of the class codes in the text (default: the codes).
    """

    kind: ClassVar[str]
    default_size: ClassVar[Any]

    def __init__(self, *, task: str, n_classes: int = 0, categorical: Sequence[int] = (),
                 size: Any = None, seed: int = 0,
                 class_names: Sequence[str] | None = None) -> None:
        self.task = task
        self.n_classes = n_classes
        self.categorical = tuple(categorical)
        self.size = size
        self.seed = seed
        self.class_names = class_names

    @property
    def is_classifier(self) -> bool:
        """Whether the task is classification."""
        return self.task != "regression"

    @abstractmethod
    def sizes(self, n_rows: int) -> list[Any]:
        """Candidate size parameters, simplest first."""

    @abstractmethod
    def fit(self, X: np.ndarray, target: np.ndarray) -> Self:
        """Fit to the black box's predictions ``target`` (classes or values) on ``X``."""

    @abstractmethod
    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` (classification only)."""

    @abstractmethod
    def predict_values(self, X: np.ndarray) -> np.ndarray:
        """Predicted values (regression only)."""

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class codes (classification) or values (regression)."""
        if self.is_classifier:
            return self.predict_proba(X).argmax(axis=1)
        return self.predict_values(X)

    def prediction(self, X: np.ndarray) -> np.ndarray:
        """Probabilities (classification) or values, as :mod:`tabbench.data.metrics` expects."""
        return self.predict_proba(X) if self.is_classifier else self.predict_values(X)

    @abstractmethod
    def rules_text(self, feature_names: Sequence[str], vocab: Vocab | None = None) -> str:
        """The fitted surrogate as readable text."""

    @abstractmethod
    def explain_row(self, x: np.ndarray, feature_names: Sequence[str],
                    vocab: Vocab | None = None) -> str:
        """The rule path (or terms) that decide the surrogate's prediction for one row."""

    def _check(self, X: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float64)
        target = np.asarray(target)
        if X.ndim != 2 or X.shape[0] != target.shape[0] or X.shape[0] == 0:
            message = (f"{self.kind} surrogate: X must be 2-D with one row per target; got X "
                       f"{X.shape} and target {target.shape}")
            raise ValueError(message)
        if self.is_classifier:
            target = target.astype(np.int64)
            if self.n_classes < 2 or target.min() < 0 or target.max() >= self.n_classes:
                message = (f"{self.kind} surrogate: class codes must lie in 0..{self.n_classes - 1}"
                           f"; got {target.min()}..{target.max()}")
                raise ValueError(message)
        else:
            target = target.astype(np.float64)
        return X, target

    def _class_label(self, code: int) -> str:
        names = self.class_names
        return str(names[code]) if names is not None and code < len(names) else str(code)


SURROGATES: Registry[type[Surrogate]] = Registry("surrogate")


def register_surrogate(cls: type[Surrogate]) -> type[Surrogate]:
    """Register a surrogate class under its ``kind`` (duplicate names raise)."""
    return SURROGATES.register(cls.kind, cls)


def make_surrogate(kind: str, where: str = "", *, parameter: str | None = None,
                   **params: Any) -> Surrogate:
    """A new, unfitted surrogate of ``kind`` (an unknown kind lists the valid ones).

    ``where`` or ``parameter`` (the argument that held ``kind``) starts the error message.
    """
    return SURROGATES.get(kind, where, parameter=parameter)(**params)


def surrogate_names() -> list[str]:
    """Names of the registered surrogate kinds."""
    return SURROGATES.names()


def fidelity(task: str, reference: np.ndarray, prediction: np.ndarray) -> float:
    """How well a surrogate's predictions reproduce the black box's.

    Classification: the share of rows where the two predicted classes agree. Regression:
    R² of the surrogate's values against the black box's (1 is perfect, 0 is no better than
    the black box's mean, and it can be negative).
    """
    reference, prediction = np.asarray(reference), np.asarray(prediction)
    if task != "regression":
        return float(np.mean(reference == prediction))
    residual = np.sum((reference - prediction) ** 2)
    total = np.sum((reference - reference.mean()) ** 2)
    return 1.0 - float(residual / total) if total > 0 else float(residual == 0)


def fidelity_kappa(reference: np.ndarray, prediction: np.ndarray, n_classes: int) -> float:
    """Cohen's kappa of the surrogate's classes against the black box's: chance-corrected.

    ``(p_o - p_e) / (1 - p_e)``, where ``p_o`` is the agreement (:func:`fidelity`) and
    ``p_e`` the agreement expected if the two answered independently with their own class
    frequencies. A constant surrogate scores 0 however imbalanced the classes are (its
    plain agreement is the majority's share), a perfect one 1. NaN when ``p_e`` is 1 (the
    black box and the surrogate both answer one and the same class throughout).

    Examples
    --------
    >>> box = np.array([0] * 98 + [1] * 2)
    >>> fidelity("binary", box, np.zeros(100, dtype=int)), fidelity_kappa(box, np.zeros(100, dtype=int), 2)
    (0.98, 0.0)
    """
    reference = np.asarray(reference).astype(np.int64)
    prediction = np.asarray(prediction).astype(np.int64)
    n = reference.size
    if n == 0:
        return math.nan
    observed = float(np.mean(reference == prediction))
    expected = float(np.dot(np.bincount(reference, minlength=n_classes),
                            np.bincount(prediction, minlength=n_classes))) / n / n
    if expected >= 1.0:
        return math.nan
    return (observed - expected) / (1.0 - expected)


def fit_surrogate(kind: str, X_train: np.ndarray, target_train: np.ndarray, X_val: np.ndarray,
                  target_val: np.ndarray, *, task: str, n_classes: int = 0,
                  categorical: Sequence[int] = (), seed: int = 0,
                  class_names: Sequence[str] | None = None,
                  tolerance: float = TOLERANCE) -> tuple[Surrogate, pl.DataFrame]:
    """Fit a surrogate of each candidate size on the training rows; keep one by validation fidelity.

    The kept surrogate is the smallest whose validation fidelity is within ``tolerance``
    of the best one, since a smaller surrogate is easier to read. Fidelity here is
    Cohen's kappa for classification (:func:`fidelity_kappa`; plain agreement would keep
    a constant, the smallest tree, whenever the black box rarely predicts a minority
    class) and R² for regression.

    Returns
    -------
    (Surrogate, polars.DataFrame)
        The chosen surrogate and the search table (``size``, ``fidelity`` — agreement or
        R² —, ``kappa`` (NaN for regression), ``n_rules``, ``depth``, ``chosen``).
    """
    probe = make_surrogate(kind, task=task, n_classes=n_classes, categorical=categorical,
                           seed=seed, class_names=class_names)
    fitted, rows = [], []
    for size in probe.sizes(len(X_train)):
        surrogate = make_surrogate(kind, task=task, n_classes=n_classes,
                                   categorical=categorical, size=size, seed=seed,
                                   class_names=class_names)
        surrogate.fit(X_train, target_train)
        predicted = surrogate.predict(X_val)
        kappa = (fidelity_kappa(target_val, predicted, n_classes) if task != "regression"
                 else math.nan)
        fitted.append(surrogate)
        rows.append({"size": float(size), "fidelity": fidelity(task, target_val, predicted),
                     "kappa": kappa, "n_rules": surrogate.n_rules_, "depth": surrogate.depth_})
    # kappa is NaN only where the black box answers one class throughout: agreement then
    key = "kappa" if task != "regression" and not all(math.isnan(r["kappa"]) for r in rows) \
        else "fidelity"
    values = [-math.inf if math.isnan(r[key]) else r[key] for r in rows]
    best = max(values)
    chosen = next(i for i, value in enumerate(values) if value >= best - tolerance)
    table = pl.DataFrame(rows).with_columns(
        pl.Series("chosen", [i == chosen for i in range(len(rows))]))
    return fitted[chosen], table

