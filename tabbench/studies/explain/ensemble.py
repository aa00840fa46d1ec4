"""Tree-ensemble surrogates: ``random-forest`` and ``boosted-trees``.

Karim et al.'s surrogate families include random forests and boosted trees besides a
single tree, rules and a linear model. An ensemble is usually more faithful to the black
box and not readable as rules: it is here to show the fidelity/size trade-off against the
readable kinds (``docs/fidelity.md``), and its text says what it is (the trees, their
leaves in all, the features by their share of the splits) rather than pretending to be
rules.

``random-forest``
    scikit-learn's random forest of ``size`` trees (``min_samples_leaf`` as the ``tree``
    surrogate's, square-root feature sampling), on one thread.
``boosted-trees``
    scikit-learn's histogram gradient boosting with ``size`` rounds of trees of at most 8
    leaves (learning rate 0.1, no early stopping).

Both see categorical codes recoded, as the tree surrogates do, in the order of the black
box's mean prediction per category (:class:`tabbench.studies.explain.tree._TreeBase`), and handle
missing values natively. Size (``n_rules_``) is the number of leaves in all trees.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, Self

import numpy as np
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)

from tabbench.studies.explain.conditions import format_number
from tabbench.studies.explain.surrogate import Vocab, register_surrogate
from tabbench.studies.explain.tree import _TreeBase

__all__ = ["BoostedTreesSurrogate", "RandomForestSurrogate"]

BOOSTED_LEAVES = 8  # leaves per boosted tree


class _EnsembleBase(_TreeBase):
    """A scikit-learn tree ensemble on the recoded columns; text is a summary, not rules."""

    label: ClassVar[str]

    def _estimator(self, n_rows: int) -> Any:
        raise NotImplementedError

    def _structure(self) -> tuple[int, int, np.ndarray]:
        """``(leaves in all, deepest path, number of splits per column)``."""
        raise NotImplementedError

    def fit(self, X: np.ndarray, target: np.ndarray) -> Self:
        """Fit the ensemble to the black box's predictions ``target``."""
        X, target = self._check(X, target)
        self.n_columns_ = X.shape[1]
        self.has_missing_ = np.isnan(X).any(axis=0)
        self.ranks_ = self._category_ranks(X, target)
        self.frequency_ = {}
        self.classes_ = np.unique(target) if self.is_classifier else None
        self.constant_ = self.is_classifier and len(self.classes_) < 2
        if not self.constant_:
            self.model_ = self._estimator(len(X)).fit(self._recode(X), target)
        self.n_rules_, self.depth_, self.splits_ = (
            (1, 1, np.zeros(X.shape[1])) if self.constant_ else self._structure())
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The ensemble's class probabilities, over all ``n_classes`` columns."""
        if not self.is_classifier:
            raise AttributeError("predict_proba is only available for classification")
        out = np.zeros((len(X), self.n_classes))
        if self.constant_:
            out[:, int(self.classes_[0])] = 1.0
        else:
            out[:, self.classes_.astype(np.int64)] = self.model_.predict_proba(self._recode(X))
        return out

    def predict_values(self, X: np.ndarray) -> np.ndarray:
        """The ensemble's predicted values."""
        if self.is_classifier:
            raise AttributeError("predict_values is only available for regression")
        return np.asarray(self.model_.predict(self._recode(X)), dtype=np.float64)

    def _what(self) -> str:
        if not self.is_classifier:
            return "a value"
        return ", ".join(f"class {self._class_label(c)}" for c in range(self.n_classes))

    def rules_text(self, feature_names: Sequence[str], vocab: Vocab | None = None) -> str:
        """What the ensemble is, and the features by their share of its splits."""
        total = max(float(self.splits_.sum()), 1.0)
        lines = [f"{self.label} of {self._trees()} trees, {self.n_rules_:,} leaves in all, "
                 f"depth up to {self.depth_}: too large to read as rules; it predicts "
                 f"{self._what()}.", "features by their share of the splits:"]
        for j in np.argsort(-self.splits_, kind="stable"):
            if self.splits_[j] == 0:
                continue
            line = f"  {feature_names[j]}: {self.splits_[j] / total:.0%}"
            if j in self.ranks_ and vocab and feature_names[j] in vocab:
                order = np.argsort(self.ranks_[j])[: int(np.isfinite(self.ranks_[j]).sum())]
                names = [vocab[feature_names[j]][c] for c in order.tolist()
                         if c < len(vocab[feature_names[j]])]
                line += f" (categories in the black box's order: {', '.join(names)})"
            lines.append(line)
        return "\n".join(lines)

    def explain_row(self, x: np.ndarray, feature_names: Sequence[str],
                    vocab: Vocab | None = None) -> str:
        """The row's values and the ensemble's prediction (no single path decides it)."""
        x = np.asarray(x, dtype=np.float64)
        shown = []
        for j, name in enumerate(feature_names):
            value = x[j]
            if math.isnan(value):
                text = "missing"
            elif j in self.categorical and vocab and name in vocab:
                labels = vocab[name]
                text = labels[int(value)] if 0 <= value < len(labels) else "unseen category"
            else:
                text = format_number(float(value))
            shown.append(f"{name} = {text}")
        if self.is_classifier:
            proba = self.predict_proba(x[None, :])[0]
            code = int(proba.argmax())
            said = f"class {self._class_label(code)} (probability {proba[code]:.2f})"
        else:
            said = f"value {format_number(float(self.predict_values(x[None, :])[0]))}"
        return (f"{self.label} of {self._trees()} trees, averaged over all of them, on "
                f"{', '.join(shown)}\nTHEN {said}")

    def _trees(self) -> int:
        return int(self.size or self.default_size)


@register_surrogate
class RandomForestSurrogate(_EnsembleBase):
    """A random forest of ``size`` trees (see the module doc)."""

    kind = "random-forest"
    label = "random forest"
    default_size = 25

    def sizes(self, n_rows: int) -> list[Any]:
        """Tree counts 5, 10, 25, 50, 100."""
        return [5, 10, 25, 50, 100]

    def _estimator(self, n_rows: int) -> Any:
        cls = RandomForestClassifier if self.is_classifier else RandomForestRegressor
        return cls(n_estimators=self._trees(), min_samples_leaf=max(5, n_rows // 200),
                   max_features="sqrt", random_state=self.seed, n_jobs=1)

    def _structure(self) -> tuple[int, int, np.ndarray]:
        trees = [estimator.tree_ for estimator in self.model_.estimators_]
        splits = np.zeros(self.n_columns_)
        for tree in trees:
            used = tree.feature[tree.feature >= 0]
            splits += np.bincount(used, minlength=self.n_columns_)
        return (int(sum(t.n_leaves for t in trees)), int(max(t.max_depth for t in trees)),
                splits)


@register_surrogate
class BoostedTreesSurrogate(_EnsembleBase):
    """Gradient-boosted trees: ``size`` rounds of trees of at most 8 leaves (module doc)."""

    kind = "boosted-trees"
    label = "boosted trees"
    default_size = 50

    def sizes(self, n_rows: int) -> list[Any]:
        """Boosting rounds 10, 25, 50, 100, 200."""
        return [10, 25, 50, 100, 200]

    def _estimator(self, n_rows: int) -> Any:
        cls = HistGradientBoostingClassifier if self.is_classifier \
            else HistGradientBoostingRegressor
        return cls(max_iter=self._trees(), max_leaf_nodes=BOOSTED_LEAVES, learning_rate=0.1,
                   early_stopping=False, random_state=self.seed)

    def _structure(self) -> tuple[int, int, np.ndarray]:
        # one predictor per round and class (scikit-learn's fitted trees)
        nodes = [p.nodes for round_ in self.model_._predictors for p in round_]
        splits = np.zeros(self.n_columns_)
        for table in nodes:
            splits += np.bincount(table["feature_idx"][~table["is_leaf"].astype(bool)],
                                  minlength=self.n_columns_)
        leaves = int(sum(int(t["is_leaf"].sum()) for t in nodes))
        return leaves, int(max(int(t["depth"].max()) for t in nodes)), splits

    def _trees(self) -> int:
        """Trees in all: rounds × (classes for multiclass, else 1)."""
        rounds = int(self.size or self.default_size)
        if getattr(self, "model_", None) is not None and self.task == "multiclass":
            return rounds * len(self.classes_)
        return rounds
