"""Interpretable surrogates that mimic a black box: a tree, a rule list, a sparse linear model.

Every kind follows one interface (:class:`Surrogate`), registered by name in
:data:`SURROGATES`:

``fit(X, target)``
    ``X`` is the interpretable matrix (:mod:`tabbench.explain.space`: numbers in their own
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

Kinds
-----
``tree``
    A CART tree (scikit-learn) with at most ``size`` leaves (depth at most 6), printed as
    a tree.
``rules``
    A shallow CART tree of depth ``size`` turned into a rule list: sibling leaves that
    predict the same class are merged, the conditions on one feature are merged into one
    interval or category set, and (classification) the largest class becomes the ``ELSE``
    rule, so only the other classes need rules.
``linear``
    L1-regularised logistic regression (classification) or lasso (regression) on the
    standardised numbers, missing indicators and the 10 most frequent categories of each
    categorical column, printed with coefficients in the columns' own units.

Trees split categorical columns as LightGBM does: the categories are ordered by the black
box's mean prediction (share of class 1, of the most common class for multiclass, or mean
value; shrunk towards the overall mean by ``CAT_SMOOTH`` pseudo-rows) and a threshold on
that order is a set of categories.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import polars as pl

from tabbench._registry import Registry
from tabbench.explain.conditions import Condition, conjunction, format_number

__all__ = [
    "SURROGATES",
    "LinearSurrogate",
    "RulesSurrogate",
    "Surrogate",
    "TreeSurrogate",
    "fidelity",
    "fit_surrogate",
    "make_surrogate",
    "register_surrogate",
    "surrogate_names",
]

Vocab = Mapping[str, Sequence[str]]
TOLERANCE = 0.005  # the smallest surrogate within this much of the best validation fidelity
CAT_SMOOTH = 10.0  # pseudo-rows of the overall mean in a category's mean (trees' order)


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
        """Probabilities (classification) or values, as :mod:`tabbench.metrics` expects."""
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


def make_surrogate(kind: str, where: str = "", **params: Any) -> Surrogate:
    """A new, unfitted surrogate of ``kind`` (an unknown kind lists the valid ones)."""
    return SURROGATES.get(kind, where)(**params)


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


def fit_surrogate(kind: str, X_train: np.ndarray, target_train: np.ndarray, X_val: np.ndarray,
                  target_val: np.ndarray, *, task: str, n_classes: int = 0,
                  categorical: Sequence[int] = (), seed: int = 0,
                  class_names: Sequence[str] | None = None,
                  tolerance: float = TOLERANCE) -> tuple[Surrogate, pl.DataFrame]:
    """Fit a surrogate of each candidate size on the training rows; keep one by validation fidelity.

    The kept surrogate is the smallest whose validation fidelity is within ``tolerance``
    of the best one, since a smaller surrogate is easier to read.

    Returns
    -------
    (Surrogate, polars.DataFrame)
        The chosen surrogate and the search table (``size``, ``fidelity``, ``n_rules``,
        ``depth``, ``chosen``).
    """
    probe = make_surrogate(kind, task=task, n_classes=n_classes, categorical=categorical,
                           seed=seed, class_names=class_names)
    fitted, rows = [], []
    for size in probe.sizes(len(X_train)):
        surrogate = make_surrogate(kind, task=task, n_classes=n_classes,
                                   categorical=categorical, size=size, seed=seed,
                                   class_names=class_names)
        surrogate.fit(X_train, target_train)
        score = fidelity(task, target_val, surrogate.predict(X_val))
        fitted.append(surrogate)
        rows.append({"size": float(size), "fidelity": score, "n_rules": surrogate.n_rules_,
                     "depth": surrogate.depth_})
    best = max(r["fidelity"] for r in rows)
    chosen = next(i for i, r in enumerate(rows) if r["fidelity"] >= best - tolerance)
    table = pl.DataFrame(rows).with_columns(
        pl.Series("chosen", [i == chosen for i in range(len(rows))]))
    return fitted[chosen], table


# --- trees and rules -----------------------------------------------------------------------


@dataclass(eq=False)
class _Leaf:
    """A (possibly merged) leaf: the path to it, its statistics and the tree leaves inside."""

    path: list[tuple[int, bool]]  # (split node, went left)
    value: np.ndarray             # class counts (classification) or [mean] (regression)
    n_samples: float
    leaves: list[int]


class _TreeBase(Surrogate):
    """A CART tree on the columns, with categories recoded in the black box's mean order."""

    max_depth: ClassVar[int | None] = None
    merge_siblings: ClassVar[bool] = False

    def _tree_params(self) -> dict[str, Any]:
        raise NotImplementedError

    def fit(self, X: np.ndarray, target: np.ndarray) -> Self:
        """Fit the tree to the black box's predictions ``target``."""
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        X, target = self._check(X, target)
        self.has_missing_ = np.isnan(X).any(axis=0)
        self.ranks_ = self._category_ranks(X, target)
        self.frequency_ = {j: np.bincount(X[np.isfinite(X[:, j]), j].astype(np.int64))
                           for j in self.categorical}
        cls = DecisionTreeClassifier if self.is_classifier else DecisionTreeRegressor
        min_leaf = max(5, len(X) // 200)
        self.tree_ = cls(min_samples_leaf=min_leaf, random_state=self.seed,
                         **self._tree_params()).fit(self._recode(X), target)
        self.n_train_ = len(X)
        self.leaves_ = self._collapse(0, [])
        if self.is_classifier:  # probabilities of the (merged) leaves, by tree node
            self.node_proba_ = np.zeros((self.tree_.tree_.node_count, self.n_classes))
            for leaf in self.leaves_:
                self.node_proba_[leaf.leaves] = leaf.value / max(leaf.value.sum(), 1e-12)
        self.n_rules_, self.depth_ = self._size()
        return self

    def _size(self) -> tuple[int, int]:
        return int(self.tree_.get_n_leaves()), int(self.tree_.get_depth())

    def _category_ranks(self, X: np.ndarray, target: np.ndarray) -> dict[int, np.ndarray]:
        """Per categorical column: the rank of each code when sorted by the mean prediction."""
        if self.task == "binary":
            stat = (target == 1).astype(np.float64)
        elif self.task == "multiclass":
            stat = (target == np.bincount(target).argmax()).astype(np.float64)
        else:
            stat = target
        ranks = {}
        for j in self.categorical:
            column = X[:, j]
            seen = np.isfinite(column)
            codes = column[seen].astype(np.int64)
            size = int(codes.max()) + 1 if codes.size else 0
            counts = np.bincount(codes, minlength=size)
            sums = np.bincount(codes, weights=stat[seen], minlength=size)
            present = np.flatnonzero(counts)
            # shrunk towards the overall mean (LightGBM's cat_smooth), so that a rare
            # category does not land at either end of the order on a handful of rows
            overall = float(stat[seen].mean()) if seen.any() else 0.0
            means = (sums[present] + CAT_SMOOTH * overall) / (counts[present] + CAT_SMOOTH)
            order = present[np.lexsort((present, means))]
            rank = np.full(size, np.nan)
            rank[order] = np.arange(len(order), dtype=np.float64)
            ranks[j] = rank
        return ranks

    def _recode(self, X: np.ndarray) -> np.ndarray:
        X = np.array(X, dtype=np.float64)
        for j, rank in self.ranks_.items():
            column = X[:, j]
            known = np.isfinite(column) & (column >= 0) & (column < len(rank))
            out = np.full(len(column), np.nan)
            out[known] = rank[column[known].astype(np.int64)]
            X[:, j] = out
        return X

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities: the share of each black-box class in the row's (merged) leaf."""
        if not self.is_classifier:
            raise AttributeError("predict_proba is only available for classification")
        return self.node_proba_[self.tree_.apply(self._recode(X))]

    def predict_values(self, X: np.ndarray) -> np.ndarray:
        """The mean black-box value of the row's leaf."""
        if self.is_classifier:
            raise AttributeError("predict_values is only available for regression")
        return np.asarray(self.tree_.predict(self._recode(X)), dtype=np.float64)

    # -- structure --------------------------------------------------------------------------

    def _node_value(self, node: int) -> np.ndarray:
        tree = self.tree_.tree_
        value = tree.value[node, 0]
        if not self.is_classifier:
            return np.array([value[0]])
        counts = np.zeros(self.n_classes)
        counts[self.tree_.classes_.astype(np.int64)] = value * tree.weighted_n_node_samples[node]
        return counts

    def _collapse(self, node: int, path: list[tuple[int, bool]]) -> list[_Leaf]:
        """The leaves under ``node``; with ``merge_siblings``, same-class sibling leaves merge."""
        tree = self.tree_.tree_
        n = float(tree.weighted_n_node_samples[node])
        left, right = tree.children_left[node], tree.children_right[node]
        if left == -1:
            return [_Leaf(path, self._node_value(node), n, [node])]
        leaves = (self._collapse(left, [*path, (node, True)])
                  + self._collapse(right, [*path, (node, False)]))
        if (self.merge_siblings and self.is_classifier and len(leaves) == 2
                and leaves[0].value.argmax() == leaves[1].value.argmax()):
            return [_Leaf(path, leaves[0].value + leaves[1].value, n,
                          leaves[0].leaves + leaves[1].leaves)]
        return leaves

    def _conditions(self, path: Sequence[tuple[int, bool]]) -> dict[int, Condition]:
        tree = self.tree_.tree_
        conditions: dict[int, Condition] = {}
        for node, went_left in path:
            j = int(tree.feature[node])
            condition = conditions.setdefault(
                j, Condition(j, show_missing=bool(self.has_missing_[j])))
            condition.narrow(left=went_left, threshold=float(tree.threshold[node]),
                             missing_left=bool(tree.missing_go_to_left[node]))
        for j, condition in conditions.items():
            if j in self.ranks_:
                rank = self.ranks_[j]
                inside = (rank > condition.low) & (rank <= condition.high)
                condition.codes = frozenset(np.flatnonzero(inside).tolist())
                condition.frequency = self.frequency_[j]
        return conditions

    def _outcome(self, value: np.ndarray) -> str:
        if not self.is_classifier:
            return f"value {format_number(float(value[0]))}"
        code = int(value.argmax())
        share = value[code] / max(value.sum(), 1e-12)
        return f"class {self._class_label(code)} (black box agrees on {share:.0%})"

    def _coverage(self, leaf: _Leaf) -> str:
        return f"{leaf.n_samples / self.n_train_:.1%} of training rows"

    def _leaf_of(self, x: np.ndarray) -> _Leaf:
        node = int(self.tree_.apply(self._recode(np.asarray(x, dtype=np.float64)[None, :]))[0])
        return next(leaf for leaf in self.leaves_ if node in leaf.leaves)

    def explain_row(self, x: np.ndarray, feature_names: Sequence[str],
                    vocab: Vocab | None = None) -> str:
        """The conditions on the row's path, merged per feature, and the leaf's outcome."""
        leaf = self._leaf_of(x)
        return (f"IF {conjunction(self._conditions(leaf.path), feature_names, vocab)}\n"
                f"THEN {self._outcome(leaf.value)} [{self._coverage(leaf)}]")


@register_surrogate
class TreeSurrogate(_TreeBase):
    """A CART tree with at most ``size`` leaves and depth at most 6, printed as a tree."""

    kind = "tree"
    default_size = 16
    MAX_DEPTH = 6

    def sizes(self, n_rows: int) -> list[Any]:
        """Leaf counts 2, 4, …, 64."""
        return [2, 4, 8, 16, 32, 64]

    def _tree_params(self) -> dict[str, Any]:
        return {"max_leaf_nodes": int(self.size or self.default_size), "max_depth": self.MAX_DEPTH}

    def rules_text(self, feature_names: Sequence[str], vocab: Vocab | None = None) -> str:
        """The tree, one split per line, indented by depth (like ``sklearn.tree.export_text``)."""
        lines: list[str] = []
        tree = self.tree_.tree_

        def walk(node: int, path: list[tuple[int, bool]]) -> None:
            indent = "|   " * len(path)
            if tree.children_left[node] == -1:
                leaf = next(leaf for leaf in self.leaves_ if node in leaf.leaves)
                lines.append(f"{indent}|--- {self._outcome(leaf.value)} "
                             f"[{self._coverage(leaf)}]")
                return
            j = int(tree.feature[node])
            for child, went_left in ((tree.children_left[node], True),
                                     (tree.children_right[node], False)):
                here = [*path, (node, went_left)]
                condition = self._conditions([(node, went_left)])
                # "or missing" only where a missing value can still arrive along the path
                condition[j].missing = self._conditions(here)[j].missing
                lines.append(f"{indent}|--- {conjunction(condition, feature_names, vocab)}")
                walk(child, here)

        walk(0, [])
        return "\n".join(lines)


@register_surrogate
class RulesSurrogate(_TreeBase):
    """If-then rules from the leaves of a CART tree of depth ``size`` (see the module doc)."""

    kind = "rules"
    default_size = 3
    merge_siblings = True

    def sizes(self, n_rows: int) -> list[Any]:
        """Depths 1 to 6."""
        return [1, 2, 3, 4, 5, 6]

    def _tree_params(self) -> dict[str, Any]:
        return {"max_depth": int(self.size or self.default_size)}

    def _default_leaf_class(self) -> int | None:
        """The ELSE class: the class whose leaves cover the most training rows."""
        if not self.is_classifier:
            return None
        cover = np.zeros(self.n_classes)
        for leaf in self.leaves_:
            cover[leaf.value.argmax()] += leaf.n_samples
        return int(cover.argmax())

    def _rules(self) -> list[_Leaf]:
        default = self._default_leaf_class()
        if default is None:
            return sorted(self.leaves_, key=lambda leaf: -leaf.value[0])
        kept = [leaf for leaf in self.leaves_ if leaf.value.argmax() != default]
        return sorted(kept, key=lambda leaf: -leaf.n_samples)

    def _size(self) -> tuple[int, int]:
        rules = self._rules()
        depth = max((len(self._conditions(leaf.path)) for leaf in rules), default=0)
        return len(rules) + (self._default_leaf_class() is not None), depth

    def rules_text(self, feature_names: Sequence[str], vocab: Vocab | None = None) -> str:
        """Numbered ``IF … THEN …`` rules (disjoint), then the ``ELSE`` rule."""
        lines = []
        for i, leaf in enumerate(self._rules(), start=1):
            condition = conjunction(self._conditions(leaf.path), feature_names, vocab)
            lines.append(f"rule {i}: IF {condition}\n        THEN {self._outcome(leaf.value)} "
                         f"[{self._coverage(leaf)}]")
        default = self._default_leaf_class()
        if default is not None:
            rest = [leaf for leaf in self.leaves_ if leaf.value.argmax() == default]
            value = np.sum([leaf.value for leaf in rest], axis=0)
            share = sum(leaf.n_samples for leaf in rest) / self.n_train_
            lines.append(f"ELSE {self._outcome(value)} [{share:.1%} of training rows]")
        return "\n".join(lines)

    def explain_row(self, x: np.ndarray, feature_names: Sequence[str],
                    vocab: Vocab | None = None) -> str:
        """The rule that fired for the row (or the ELSE rule) and its outcome."""
        leaf = self._leaf_of(x)
        rules = self._rules()
        number = next((i for i, rule in enumerate(rules, start=1) if rule is leaf), None)
        if number is not None:
            condition = conjunction(self._conditions(leaf.path), feature_names, vocab)
            return (f"rule {number} fired: IF {condition}\n"
                    f"THEN {self._outcome(leaf.value)} [{self._coverage(leaf)}]")
        return (f"no rule fired, so the ELSE rule applies; the row's leaf is: IF "
                f"{conjunction(self._conditions(leaf.path), feature_names, vocab)}\n"
                f"THEN {self._outcome(leaf.value)} [{self._coverage(leaf)}]")


# --- sparse linear model ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Term:
    """One column of the linear design: a number, its missing indicator, or one category."""

    feature: int
    code: int | None = None     # the category (one-hot term)
    missing: bool = False       # the missing indicator of a number
    mean: float = 0.0           # standardization (of the imputed number or the 0/1 term)
    std: float = 1.0
    fill: float = 0.0           # the training median that replaces a missing number


@register_surrogate
class LinearSurrogate(Surrogate):
    """L1 logistic regression or lasso on standardized terms (see the module doc)."""

    kind = "linear"
    default_size = 0.01
    MAX_LEVELS = 10  # one-hot terms per categorical column (the most frequent categories)

    def sizes(self, n_rows: int) -> list[Any]:
        """L1 strengths per row, strongest (fewest terms) first."""
        return [0.1, 0.03, 0.01, 0.003, 0.001]

    def _design_terms(self, X: np.ndarray) -> list[_Term]:
        terms = []
        for j in range(X.shape[1]):
            column = X[:, j]
            seen = np.isfinite(column)
            if j in self.categorical:
                codes, counts = np.unique(column[seen].astype(np.int64), return_counts=True)
                top = codes[np.lexsort((codes, -counts))][:self.MAX_LEVELS]
                for code in sorted(top.tolist()):
                    share = float(np.mean(column == code))
                    std = math.sqrt(share * (1 - share)) or 1.0
                    terms.append(_Term(j, code=int(code), mean=share, std=std))
                continue
            fill = float(np.median(column[seen])) if seen.any() else 0.0
            filled = np.where(seen, column, fill)
            terms.append(_Term(j, mean=float(filled.mean()), std=float(filled.std()) or 1.0,
                               fill=fill))
            if not seen.all():
                share = float(np.mean(~seen))
                terms.append(_Term(j, missing=True, mean=share,
                                   std=math.sqrt(share * (1 - share)) or 1.0))
        return terms

    def _raw(self, X: np.ndarray) -> np.ndarray:
        """The design in the columns' own units (before standardization)."""
        X = np.asarray(X, dtype=np.float64)
        out = np.empty((len(X), len(self.terms_)))
        for t, term in enumerate(self.terms_):
            column = X[:, term.feature]
            if term.code is not None:
                out[:, t] = column == term.code
            elif term.missing:
                out[:, t] = np.isnan(column)
            else:
                out[:, t] = np.where(np.isnan(column), term.fill, column)
        return out

    def _standardized(self, X: np.ndarray) -> np.ndarray:
        means = np.array([t.mean for t in self.terms_])
        stds = np.array([t.std for t in self.terms_])
        return (self._raw(X) - means) / stds

    def fit(self, X: np.ndarray, target: np.ndarray) -> Self:
        """Fit the L1 model to the black box's predictions ``target``."""
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import Lasso, LogisticRegression

        X, target = self._check(X, target)
        self.terms_ = self._design_terms(X)
        design = self._standardized(X)
        strength = float(self.size or self.default_size)
        self.classes_ = np.unique(target) if self.is_classifier else np.array([])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            if not self.is_classifier:
                self.scale_ = float(target.std()) or 1.0
                model = Lasso(alpha=strength, max_iter=5000, tol=1e-4)
                model.fit(design, target / self.scale_)
                coef = model.coef_[None, :] * self.scale_
                intercept = np.array([model.intercept_ * self.scale_])
            elif len(self.classes_) == 1:  # the black box predicts one class: a constant
                coef, intercept = np.zeros((1, len(self.terms_))), np.zeros(1)
            else:
                model = LogisticRegression(C=1.0 / (strength * len(X)), l1_ratio=1.0,
                                           solver="saga", max_iter=500, tol=1e-3,
                                           random_state=self.seed)
                model.fit(design, target)
                coef, intercept = model.coef_, model.intercept_
        # back to the columns' own units: w·(x - mean)/std = (w/std)·x - w·mean/std
        stds = np.array([t.std for t in self.terms_])
        means = np.array([t.mean for t in self.terms_])
        # saga leaves tiny non-zero weights where L1 means zero; they are solver noise
        coef = np.where(np.abs(coef) < 1e-6 * max(np.abs(coef).max(initial=0.0), 1e-12), 0.0,
                        coef)
        self.coef_ = coef / stds
        self.intercept_ = intercept - (coef * means / stds).sum(axis=1)
        used = np.flatnonzero(np.any(self.coef_ != 0, axis=0))
        self.used_ = used
        self.n_rules_ = len(used)
        self.depth_ = 1 if len(used) else 0
        return self

    def _scores(self, X: np.ndarray) -> np.ndarray:
        return self._raw(X) @ self.coef_.T + self.intercept_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities from the logistic model."""
        if not self.is_classifier:
            raise AttributeError("predict_proba is only available for classification")
        out = np.zeros((len(X), self.n_classes))
        if len(self.classes_) == 1:
            out[:, self.classes_[0]] = 1.0
            return out
        scores = self._scores(X)
        if len(self.classes_) == 2:
            p = 1.0 / (1.0 + np.exp(-np.clip(scores[:, 0], -500, 500)))
            out[:, self.classes_[0]], out[:, self.classes_[1]] = 1 - p, p
            return out
        scores = np.exp(scores - scores.max(axis=1, keepdims=True))
        out[:, self.classes_] = scores / scores.sum(axis=1, keepdims=True)
        return out

    def predict_values(self, X: np.ndarray) -> np.ndarray:
        """Predicted values of the lasso."""
        if self.is_classifier:
            raise AttributeError("predict_values is only available for regression")
        return self._scores(X)[:, 0]

    def _term_name(self, term: _Term, feature_names: Sequence[str], vocab: Vocab | None) -> str:
        name = feature_names[term.feature]
        if term.code is not None:
            labels = (vocab or {}).get(name)
            label = labels[term.code] if labels is not None and term.code < len(labels) \
                else str(term.code)
            return f"[{name} = {label}]"
        if term.missing:
            return f"[{name} is missing]"
        return f"({name} - {format_number(term.mean)})"

    def _heads(self) -> list[str]:
        if not self.is_classifier:
            return ["prediction"]
        labels = [self._class_label(int(c)) for c in self.classes_]
        if len(labels) == 2:
            return [f"log-odds of class {labels[1]}"]
        if len(labels) == 1:
            return [f"always class {labels[0]}"]
        return [f"score of class {label}" for label in labels]

    def _centered(self, X: np.ndarray) -> np.ndarray:
        """The design with numbers centred on their training means (indicators stay 0/1)."""
        shift = np.array([t.mean if t.code is None and not t.missing else 0.0
                          for t in self.terms_])
        return self._raw(X) - shift

    def _offsets(self) -> np.ndarray:
        """Intercepts of the centred design: the score of a row at the training means."""
        shift = np.array([t.mean if t.code is None and not t.missing else 0.0
                          for t in self.terms_])
        return self.intercept_ + self.coef_ @ shift

    def rules_text(self, feature_names: Sequence[str], vocab: Vocab | None = None) -> str:
        """One equation per output, terms by decreasing weight × spread.

        Numbers enter centred on their training mean (``0.31 × (hour - 13.2)``), so the
        constant is the score of a row at the means and every coefficient is per unit of
        the column.
        """
        lines = []
        spread = np.array([t.std for t in self.terms_])
        for k, head in enumerate(self._heads()):
            lines.append(f"{head} = {format_number(float(self._offsets()[k]))}")
            coef = self.coef_[k]
            for t in sorted(np.flatnonzero(coef), key=lambda t: -abs(coef[t]) * spread[t]):
                sign = "-" if coef[t] < 0 else "+"
                name = self._term_name(self.terms_[t], feature_names, vocab)
                lines.append(f"    {sign} {format_number(abs(float(coef[t])))} × {name}")
        notes = []
        if any(t.missing for t in self.terms_):
            notes.append("a missing number counts as its training median")
        if any(t.code is not None for t in self.terms_):
            notes.append("[name = category] is 1 for that category, else 0")
        if notes:
            lines.append(f"({'; '.join(notes)})")
        return "\n".join(lines)

    def explain_row(self, x: np.ndarray, feature_names: Sequence[str],
                    vocab: Vocab | None = None) -> str:
        """The row's non-zero terms (weight × centred value), largest first, and the total."""
        x = np.asarray(x, dtype=np.float64)[None, :]
        k = int(np.argmax(self._scores(x)[0])) if len(self._heads()) > 1 else 0
        centred, raw = self._centered(x)[0], self._raw(x)[0]
        coef = self.coef_[k]
        parts = [(coef[t] * centred[t], t) for t in np.flatnonzero(coef * centred)]
        lines = [f"{self._heads()[k]} = {format_number(float(self._offsets()[k]))} "
                 f"(a row at the training means)"]
        for contribution, t in sorted(parts, key=lambda p: -abs(p[0])):
            term = self.terms_[t]
            line = (f"    {'-' if contribution < 0 else '+'} "
                    f"{format_number(abs(float(contribution)))}  from "
                    f"{self._term_name(term, feature_names, vocab)}")
            if term.code is None and not term.missing:  # a number: show the row's value
                missing = "missing → " if np.isnan(x[0, term.feature]) else ""
                line += f", {feature_names[term.feature]} = {missing}{format_number(raw[t])}"
            lines.append(line)
        total = float(self._offsets()[k] + sum(p[0] for p in parts))
        lines.append(f"    = {format_number(total)}")
        return "\n".join(lines)
