"""The sparse linear surrogate (``linear``): an L1 model printed as equations.

L1-regularised logistic regression (classification) or lasso (regression) on the
standardised numbers, missing indicators and the 10 most frequent categories of each
categorical column, printed with coefficients in the columns' own units.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, LogisticRegression

from tabbench.studies.explain.conditions import format_number
from tabbench.studies.explain.surrogate import Surrogate, Vocab, register_surrogate

__all__ = ["LinearSurrogate"]


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
