"""Tree-shaped surrogates: a CART tree (``tree``) and the rule list read from one (``rules``).

Both kinds are one family: a scikit-learn CART tree fitted to the black box's
predictions on the interpretable matrix; ``rules`` only reads its leaves differently.

``tree``
    A CART tree with at most ``size`` leaves (depth at most 6), printed as a tree.
``rules``
    A shallow CART tree of depth ``size`` turned into a rule list: sibling leaves that
    predict the same class are merged, the conditions on one feature are merged into one
    interval or category set, and (classification) the largest class becomes the ``ELSE``
    rule, so only the other classes need rules.

The trees split categorical columns as LightGBM does: the categories are ordered by the
black box's mean prediction (share of class 1, of the most common class for multiclass,
or mean value; shrunk towards the overall mean by ``CAT_SMOOTH`` pseudo-rows) and a
threshold on that order is a set of categories.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from tabbench.studies.explain.conditions import Condition, conjunction, format_number
from tabbench.studies.explain.surrogate import Surrogate, Vocab, register_surrogate

__all__ = ["RulesSurrogate", "TreeSurrogate"]

CAT_SMOOTH = 10.0  # pseudo-rows of the overall mean in a category's mean (trees' order)


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
