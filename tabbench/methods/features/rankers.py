"""The ranker interface: what a ranker reads, what it returns, and the registry of rankers.

A ranker is a :class:`Ranker`, a function ``rank(context) -> RankerOutput`` with a name,
registered in :data:`RANKERS` with :func:`register_ranker`. :class:`RankContext` holds the
codes and the target and computes, once and on demand, what rankers share: plain,
corrected and held-out MI per feature, and the pair terms of the greedy selectors (on at
most ``PAIR_SAMPLE`` seeded rows).

The rankers themselves live in one module per family, which registers them here:
:mod:`tabbench.methods.features.univariate` (``mi``, ``mi-corrected``, ``mi-heldout``),
:mod:`tabbench.methods.features.greedy` (``3mr``, ``jmi``) and :mod:`tabbench.methods.features.outrank`
(``outrank``, ``outrank-3mr``: the reference package's scores). Importing :mod:`tabbench.methods.features`
imports every family, so :data:`RANKERS` is complete after any ``import
tabbench.methods.features...``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from tabbench.core._registry import Registry
from tabbench.methods.features.encode import EncodedFeatures, combine_codes
from tabbench.methods.features.estimators import (
    DEFAULT_PERMUTATIONS,
    MIEstimator,
    heldout_information,
)

__all__ = [
    "DEFAULT_METHOD",
    "DEFAULT_SELECTION_METHOD",
    "RANKERS",
    "RankContext",
    "Ranker",
    "RankerOutput",
    "register_ranker",
]

#: The ranker of ``rank-features`` and :func:`~tabbench.methods.features.ranking.rank_table`.
DEFAULT_METHOD = "mi-corrected"
#: The ranker of a benchmark's feature selection (``[features]``, ``rank-features --evaluate``).
DEFAULT_SELECTION_METHOD = "jmi"
#: The pair terms of 3MR and JMI (redundancy, relational) use at most this many rows.
PAIR_SAMPLE = 100_000
#: Rows per cell of a pair's table with the target below which numeric pair codes are
#: merged into fewer bins (see :attr:`RankContext.pair_bins`).
PAIR_ROWS_PER_CELL = 1


class RankContext:
    """Everything a ranker needs: the codes, the target, and cached MI scores.

    Attributes
    ----------
    encoded : EncodedFeatures
        The feature codes.
    estimator : MIEstimator
        MI with the target (all rows).
    alpha, beta : float
        3MR's redundancy and relational weights.
    greedy_steps : int or None
        3MR and JMI: features picked greedily before the rest is ordered by the last
        step's objective (``None``: all of them).
    """

    def __init__(self, encoded: EncodedFeatures, target: np.ndarray, n_classes: int, *,
                 permutations: int = DEFAULT_PERMUTATIONS, seed: int = 0, alpha: float = 1.0,
                 beta: float = 1.0, pair_sample: int = PAIR_SAMPLE,
                 greedy_steps: int | None = None) -> None:
        self.encoded = encoded
        self.target = target
        self.n_classes = n_classes
        self.permutations = permutations
        self.seed = seed
        self.alpha, self.beta = alpha, beta
        self.pair_sample = pair_sample
        self.greedy_steps = greedy_steps
        self._coarse: dict[int, tuple[np.ndarray, int]] = {}
        self.estimator = MIEstimator(target, n_classes, permutations=permutations, seed=seed)

    @property
    def n_features(self) -> int:
        """Number of features."""
        return len(self.encoded.names)

    @cached_property
    def plain(self) -> np.ndarray:
        """Plain MI with the target per feature (from ``corrected``'s pass if it ran)."""
        if "_corrected" in self.__dict__:
            return self._corrected[0]
        codes, cards = self.encoded.codes, self.encoded.cardinalities
        return np.array([self.estimator.mi(c, k, corrected=False)[0]
                         for c, k in zip(codes, cards, strict=True)])

    @cached_property
    def _corrected(self) -> tuple[np.ndarray, np.ndarray]:
        codes, cards = self.encoded.codes, self.encoded.cardinalities
        pairs = [self.estimator.mi(c, k, corrected=True) for c, k in zip(codes, cards, strict=True)]
        return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])

    @cached_property
    def heldout(self) -> np.ndarray:
        """Held-out information per feature (see :func:`heldout_information`)."""
        target = np.asarray(self.target).astype(np.int64, copy=False)
        return np.array([heldout_information(c, int(k), target, self.n_classes)
                         for c, k in zip(self.encoded.codes, self.encoded.cardinalities,
                                         strict=True)])

    @property
    def null(self) -> np.ndarray:
        """Mean MI with the permuted targets per feature (the chance level)."""
        return self._corrected[1]

    @property
    def corrected(self) -> np.ndarray:
        """Corrected MI per feature: MI minus its chance level."""
        mi, null = self._corrected
        return mi - null

    @cached_property
    def _pair_rows(self) -> np.ndarray | None:
        n = self.encoded.n_rows
        if n <= self.pair_sample:
            return None
        rng = np.random.default_rng([self.seed, 3])
        return np.sort(rng.choice(n, self.pair_sample, replace=False))

    @cached_property
    def pair_estimator(self) -> MIEstimator:
        """An estimator on the (sampled) rows the pair terms of 3MR and JMI use."""
        rows = self._pair_rows
        if rows is None:
            return self.estimator
        return MIEstimator(self.target[rows], self.n_classes, permutations=self.permutations,
                           seed=self.seed + 1)

    @cached_property
    def pair_bins(self) -> int:
        """Value codes a numeric feature keeps in a pair too large for the rows (see below).

        A pair's table with the target has ``cards × classes`` cells; with fewer rows than
        cells (``PAIR_ROWS_PER_CELL``) the plug-in MI of any pair approaches the target's
        entropy, real or not, and the chance correction leaves little but noise, so a
        useless pair can outscore an informative one. Such a pair's numeric features are
        merged into this many (still quantile) bins, the square root of the cells the rows
        afford; a pair that fits (e.g. an hour and a flag) keeps its exact codes.
        """
        n = self.pair_estimator.n
        return max(2, math.isqrt(n // (PAIR_ROWS_PER_CELL * max(2, self.n_classes))))

    @cached_property
    def _pair_rows_codes(self) -> list[np.ndarray]:
        rows = self._pair_rows
        return [c if rows is None else c[rows] for c in self.encoded.codes]

    def pair_codes(self, j: int) -> np.ndarray:
        """Codes of feature ``j`` on the pair rows."""
        return self._pair_rows_codes[j]

    def _coarse_codes(self, j: int) -> tuple[np.ndarray, int]:
        """Feature ``j``'s pair-row codes, numbers merged into at most ``pair_bins`` bins."""
        if j not in self._coarse:
            encoded, bins = self.encoded, self.pair_bins
            codes, card = self.pair_codes(j), int(encoded.cardinalities[j])
            missing = int(encoded.n_missing[j] > 0)
            values = card - missing
            if encoded.kinds[j] == "numeric" and values > bins:
                merged = codes.astype(np.int64) * bins // values
                if missing:
                    merged[codes == values] = bins
                codes, card = merged.astype(codes.dtype), bins + missing
            self._coarse[j] = (codes, card)
        return self._coarse[j]

    def pair_table_codes(self, s: int, f: int) -> tuple[np.ndarray, int, np.ndarray, int]:
        """``(codes_s, card_s, codes_f, card_f)`` the pair terms of ``s`` and ``f`` use.

        Exact codes when the pair's table with the target fits the rows, else numbers in
        ``pair_bins`` bins.
        """
        cards = self.encoded.cardinalities
        cells = int(cards[s]) * int(cards[f]) * max(2, self.n_classes)
        if cells * PAIR_ROWS_PER_CELL <= self.pair_estimator.n:
            return self.pair_codes(s), int(cards[s]), self.pair_codes(f), int(cards[f])
        return (*self._coarse_codes(s), *self._coarse_codes(f))

    def pair_relational(self, s: int, f: int) -> float:
        """Corrected MI with the target of the combined code of ``s`` and ``f`` (pair rows)."""
        codes_s, card_s, codes_f, card_f = self.pair_table_codes(s, f)
        codes, card = combine_codes(codes_s, card_s, codes_f, card_f)
        mi, null = self.pair_estimator.mi(codes, card, corrected=True)
        return mi - null

    def combination_score(self, columns: Sequence[int], *, corrected: bool,
                          sample: bool = False) -> float:
        """(Corrected) MI with the target of the exact combined code of ``columns``."""
        cards = self.encoded.cardinalities
        get = self.pair_codes if sample else (lambda j: self.encoded.codes[j])
        codes, card = get(columns[0]), int(cards[columns[0]])
        for j in columns[1:]:
            codes, card = combine_codes(codes, card, get(j), int(cards[j]))
        estimator = self.pair_estimator if sample else self.estimator
        mi, null = estimator.mi(codes, card, corrected=corrected)
        return mi - null if corrected else mi


@dataclass(frozen=True, eq=False)
class RankerOutput:
    """A ranker's result: one score per feature and the order, best first."""

    scores: np.ndarray
    order: np.ndarray


@dataclass(frozen=True)
class Ranker:
    """A registered feature ranker: ``rank(context) -> RankerOutput``.

    ``corrected`` says whether interactions are scored with the chance correction;
    ``chart`` is the ranking column the bar chart shows, described by ``chart_label``.
    """

    name: str
    description: str
    rank: Callable[[RankContext], RankerOutput]
    corrected: bool = True
    chart: str = "score"
    chart_label: str = "corrected mutual information (nats)"


RANKERS: Registry[Ranker] = Registry("ranker")


def register_ranker(ranker: Ranker) -> Ranker:
    """Add ``ranker`` to :data:`RANKERS` under its name."""
    return RANKERS.register(ranker.name, ranker)


def _by_score(scores: np.ndarray) -> np.ndarray:
    """Feature indices by descending score; ties keep the column order."""
    return np.argsort(-scores, kind="stable")

