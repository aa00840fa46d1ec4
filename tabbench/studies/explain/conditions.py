"""Readable conditions on one feature: thresholds in the column's units, categories by name.

A rule is a conjunction of tests collected along a path of a decision tree. The tests on
one feature are merged into one :class:`Condition` (an interval, or a set of categories)
before they are printed, so a rule never says ``hour > 6.5 AND hour > 9.5``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Condition", "format_number"]

MAX_LISTED = 8  # categories printed before "… +N more"


def format_number(value: float) -> str:
    """A threshold or coefficient with up to 6 significant digits (``14.5``, ``1011.95``)."""
    if value == 0:
        return "0"
    return f"{value:.6g}"


@dataclass
class Condition:
    """The tests on one feature along a path, merged.

    Numeric: ``low < x <= high`` (either bound may be infinite). Categorical: ``x`` is one
    of ``codes``. ``missing`` says whether a missing value (or, for a categorical, an
    unseen category) satisfies the condition; it is printed only when the feature had
    missing values in training (``show_missing``).
    """

    feature: int
    low: float = -math.inf
    high: float = math.inf
    codes: frozenset[int] | None = None
    missing: bool = True
    show_missing: bool = False
    frequency: Sequence[float] | None = None  # training rows per code: list the common first

    def narrow(self, *, left: bool, threshold: float, missing_left: bool) -> None:
        """Add the test ``x <= threshold`` (``left``) or ``x > threshold`` to the interval."""
        if left:
            self.high = min(self.high, threshold)
        else:
            self.low = max(self.low, threshold)
        self.missing = self.missing and (missing_left == left)

    def text(self, name: str, labels: Sequence[str] | None = None) -> str:
        """The condition as text, e.g. ``2 < hour <= 14.5`` or ``carrier in {AA, UA}``."""
        if self.codes is not None:
            body = _category_text(name, sorted(self.codes), labels, self.frequency)
        elif self.low == -math.inf:
            body = f"{name} <= {format_number(self.high)}"
        elif self.high == math.inf:
            body = f"{name} > {format_number(self.low)}"
        else:
            body = f"{format_number(self.low)} < {name} <= {format_number(self.high)}"
        if self.show_missing and self.missing:
            body += " or missing"
        return body


def _category_text(name: str, codes: list[int], labels: Sequence[str] | None,
                   frequency: Sequence[float] | None) -> str:
    total = len(labels) if labels is not None else None
    if total is not None and len(codes) > total / 2 and len(codes) < total:
        others = sorted(set(range(total)) - set(codes))
        return f"{name} not in {_listing(others, labels, frequency)}"
    return f"{name} in {_listing(codes, labels, frequency)}"


def _listing(codes: list[int], labels: Sequence[str] | None,
             frequency: Sequence[float] | None) -> str:
    if frequency is not None and len(codes) > MAX_LISTED:  # the most common ones first
        codes = sorted(codes, key=lambda c: (-(frequency[c] if c < len(frequency) else 0), c))
    names = [labels[c] if labels is not None and c < len(labels) else str(c) for c in codes]
    shown = ", ".join(names[:MAX_LISTED])
    more = f", … +{len(names) - MAX_LISTED} more" if len(names) > MAX_LISTED else ""
    return "{" + shown + more + "}"


def conjunction(conditions: Mapping[int, Condition], feature_names: Sequence[str],
                vocab: Mapping[str, Sequence[str]] | None) -> str:
    """``a AND b AND …`` in the order the features were first tested (``TRUE`` when empty)."""
    if not conditions:
        return "TRUE"
    vocab = vocab or {}
    texts = [c.text(feature_names[j], vocab.get(feature_names[j])) for j, c in conditions.items()]
    if len(texts) > 1:  # "a or missing AND b" would read ambiguously
        texts = [f"({t})" if t.endswith(" or missing") else t for t in texts]
    return " AND ".join(texts)
