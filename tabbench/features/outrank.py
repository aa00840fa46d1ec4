"""OutRank-style feature ranking: cardinality-corrected mutual information, 3MR, JMI, interactions.

OutRank (Škrlj et al., RecSys 2023) ranks the features of large, sparse tables by their
mutual information (MI) with the target, corrected for the information a feature of the
same cardinality shows by pure chance, and adds a redundancy-aware greedy selection (3MR)
and scores for feature combinations. This module computes all of it from contingency
tables of integer codes (see :mod:`tabbench.features.encode`), on the rows it is given —
for a benchmark, the training part of a split only.

Mutual information
    From the contingency table of the codes, with the natural log:
    ``MI(F; T) = H(F) + H(T) - H(F, T)``. Tables are counted with ``numpy.bincount``;
    plain MI equals ``sklearn.metrics.mutual_info_score`` on the same codes.

Cardinality correction (``mi-corrected``)
    ``MI(F; T)`` grows with the number of codes of ``F`` even when ``F`` carries no
    information: a column with one distinct value per row reaches ``H(T)``, the maximum.
    The corrected score subtracts the MI that ``F`` reaches with a randomly permuted target,
    averaged over ``R`` seeded permutations (``R = 5`` by default)::

        corrected(F) = MI(F; T) - mean_r MI(F; T[perm_r])

    Permuting the target keeps both marginals and destroys only their relation, so the
    subtracted term is exactly the chance level for this feature's cardinality and code
    frequencies on these rows: a 50,000-level noise column scores about 0, while its
    plain MI is near ``H(T)``. An analytic bias term (Miller–Madow, or the expected MI
    under a hypergeometric model) would be cheaper per feature but is either too crude
    for sparse tables (Miller–Madow) or quadratic in the cardinality (expected MI); the
    permutations reuse one permuted target for every feature, so their cost is ``R``
    extra counting passes. Scores may be slightly negative (below chance).

3MR (``3mr``)
    Greedy: start with the most relevant feature, then repeatedly add the candidate ``f``
    maximizing::

        r_f - alpha * median_{s selected} R(s, f) + beta * median_{s selected} L(s, f)

    where ``r`` is relevance (corrected MI with the target), ``R(s, f)`` redundancy
    (corrected MI between two features, with ``s`` permuted) and ``L(s, f)`` relational
    information (corrected MI of the pair's exact combined code with the target). Each of
    the three terms is min–max normalized over the candidates of the step; ``alpha = beta
    = 1``. A median over the selected features cannot see that a candidate copies *one*
    of them once three or more are selected, so a candidate that is a one-to-one
    relabeling of a selected feature (its joint table with it has no more cells than
    either has codes: an exact duplicate, however encoded) is deferred until no other
    candidate is left; so is a constant, which is never picked first either. The pair
    terms are computed on at most ``PAIR_SAMPLE`` seeded rows, exact unless a pair's table
    with the target has more cells than rows: then its numbers are merged into fewer
    quantile bins (``RankContext.pair_bins``), since there any pair's plug-in MI nears
    the target's entropy. A feature's ``score`` is the objective when it was picked (1.0
    for the first).
    Without the deferral a copy of the first feature is picked third on the drift data:
    its relational term with the second feature is as high as the original's.

JMI (``jmi``)
    Joint mutual information (Yang & Moody, 1999; Brown et al., JMLR 2012, found it the
    best trade-off among information-theoretic selectors): start with the most relevant
    feature, then repeatedly add the candidate ``f`` maximizing::

        mean_{s selected} L(s, f)

    with ``L`` 3MR's relational term (corrected MI of the pair's combined code with the
    target). A candidate is scored by what it says *together with* each selected
    feature: one that is weak alone but changes what a selected feature means (the month
    beside the weather) is taken early, one that repeats a selected feature adds little
    to the pairs. One-to-one copies and constants are deferred and pair terms sampled as
    in 3MR; no redundancy term is computed, so JMI takes about half of 3MR's time. A
    feature's ``score`` is the mean when it was picked (the first: its corrected MI on
    the same rows), in nats: a value at selection time, so it need not fall down the
    ranks (a pair usually says more than the first feature alone).

Held-out information (``mi-heldout``)
    In-sample MI, even corrected, measures a relation on the rows it was counted on. The
    held-out score (:func:`heldout_information`) cuts the rows into 5 contiguous blocks
    and scores each block with the smoothed code → target table of the others: the mean
    log-loss saved over the target frequencies. A code met too rarely elsewhere to be
    predicted well costs instead of scoring by chance, so no permutations are needed; on
    rows in time order (the training part of a time split) the blocks are periods, and a
    feature whose relation with the target does not last (a day-of-month or a month seen
    only in training, an aircraft id, a coefficient that flips) scores at or below zero.
    It ranks an unstable id like ``tailnum`` low, but also features that matter only
    beside others (a month beside the weather), which a score of single features cannot
    see (README, "Ranking features", for the measured comparison with JMI).

Interactions
    Combinations of 2 (optionally 3) features among the most relevant ones, at most
    ``max_combinations`` per order, scored by the MI of their exact combined code
    (``code1 * cardinality2 + code2``) with the target, corrected unless the method is
    ``mi``. ``gain`` is the combination's score minus the best score of its parts.

Rankers are registered in :data:`RANKERS` (``mi``, ``mi-corrected``, ``mi-heldout``,
``3mr``, ``jmi``).

Examples
--------
>>> from tabbench.datasets.synthetic import generate
>>> frame = generate("drift", n_rows=5000, seed=0, n_correlated=0)
>>> kinds = {c: "categorical" if frame[c].dtype == pl.String else "numeric"
...          for c in frame.columns if c not in ("ts", "target")}
>>> rank_table(frame, kinds, frame["target"].to_numpy(), "binary").top(4)
['inf_0', 'inf_1', 'inf_2', 'inf_3']
>>> rank_table(frame, kinds, frame["target"].to_numpy(), "binary", method="mi").top(1)
['hicard_0']
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from tabbench._registry import Registry
from tabbench.exceptions import TabbenchError
from tabbench.features.encode import (
    DEFAULT_BINS,
    EncodedFeatures,
    combine_codes,
    dense_limit,
    encode_features,
    encode_target,
)

if TYPE_CHECKING:
    from tabbench.datasets.dataset import Dataset
    from tabbench.splits import Split

__all__ = [
    "DEFAULT_FOLDS",
    "DEFAULT_METHOD",
    "DEFAULT_PERMUTATIONS",
    "DEFAULT_PRIOR_WEIGHT",
    "RANKERS",
    "MIEstimator",
    "RankContext",
    "Ranker",
    "RankerOutput",
    "Ranking",
    "heldout_information",
    "mutual_information",
    "rank_dataset",
    "rank_features",
    "rank_table",
    "register_ranker",
    "resolve_split",
    "save_ranking",
    "select_top_k",
]

DEFAULT_METHOD = "mi-corrected"
DEFAULT_PERMUTATIONS = 5
DEFAULT_MAX_COMBINATIONS = 100
#: The pair terms of 3MR and JMI (redundancy, relational) use at most this many rows.
PAIR_SAMPLE = 100_000
#: Rows per cell of a pair's table with the target below which numeric pair codes are
#: merged into fewer bins (see :attr:`RankContext.pair_bins`).
PAIR_ROWS_PER_CELL = 1
#: Contiguous blocks of rows of the held-out information (``mi-heldout``).
DEFAULT_FOLDS = 5
#: Pseudo-rows of the target frequencies each code's held-out prediction is smoothed with
#: (an m-estimate; 10, like LightGBM's ``cat_smooth``): with 1, an informative
#: 1,000-level column of 50 rows a level scores below noise on the drift data.
DEFAULT_PRIOR_WEIGHT = 10.0


# ----------------------------------------------------------------------------- counting


def _xlogx(counts: np.ndarray) -> float:
    """``sum(c * log(c))`` over the cells of a contingency table (0 log 0 = 1 log 1 = 0)."""
    c = counts[counts > 1]
    if c.size == 0:
        return 0.0
    c = c.astype(np.float64)
    return float(np.dot(c, np.log(c)))


def _pair_counts(a: np.ndarray, card_a: int, b: np.ndarray, card_b: int) -> np.ndarray:
    """Counts of the occupied (and, for small tables, empty) cells of the table of (a, b)."""
    joint = a.astype(np.int64) * int(card_b) + b
    if int(card_a) * int(card_b) <= dense_limit(a.size):
        return np.bincount(joint, minlength=int(card_a) * int(card_b))
    return np.unique(joint, return_counts=True)[1]


def _one_to_one(joint: np.ndarray, marg_a: np.ndarray, marg_b: np.ndarray) -> bool:
    """Whether a pair table has no more occupied cells than either side has codes in use."""
    cells = int(np.count_nonzero(joint))
    return cells == int(np.count_nonzero(marg_a)) == int(np.count_nonzero(marg_b))


def mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """Plain mutual information (nats) of two arrays of non-negative integer codes.

    Equal to ``sklearn.metrics.mutual_info_score(a, b)``.

    Examples
    --------
    >>> round(mutual_information(np.array([0, 0, 1, 1]), np.array([0, 0, 1, 1])), 4)
    0.6931
    """
    a, b = np.asarray(a), np.asarray(b)
    n = a.size
    if n == 0:
        return 0.0
    card_a, card_b = int(a.max()) + 1, int(b.max()) + 1
    s_joint = _xlogx(_pair_counts(a, card_a, b, card_b))
    s_a = _xlogx(np.bincount(a, minlength=card_a))
    s_b = _xlogx(np.bincount(b, minlength=card_b))
    return max(0.0, math.log(n) + (s_joint - s_a - s_b) / n)


class MIEstimator:
    """MI of many code arrays with one target, and its mean over permuted targets.

    The target is permuted ``permutations`` times (seeded) once; for every permutation
    the rows of each class are kept as index arrays, so the table of a feature with the
    permuted target is ``numpy.bincount`` of the feature's codes gathered at those rows
    (one pass per class but the largest, whose counts follow from the feature's marginal).
    With a binary target that is one gather and one count per feature and permutation.

    Parameters
    ----------
    target : numpy.ndarray
        Dense target codes ``0..n_classes-1``.
    n_classes : int
        Number of target codes.
    permutations : int
        Number of permuted targets.
    seed : int
        Seed of the permutations.
    """

    def __init__(self, target: np.ndarray, n_classes: int, *, permutations: int = 5,
                 seed: int = 0) -> None:
        dtype = np.uint8 if n_classes <= 256 else np.uint16 if n_classes <= 65_536 else np.int64
        target = np.asarray(target).astype(dtype, copy=False)
        self.n = int(target.size)
        self.n_classes = int(n_classes)
        counts = np.bincount(target, minlength=self.n_classes)
        self._largest = int(np.argmax(counts))
        self._bounds = np.cumsum(counts)[:-1]
        self._s_target = _xlogx(counts)
        self.h_target = math.log(self.n) - self._s_target / self.n if self.n else 0.0
        rng = np.random.default_rng(seed)
        index = np.int32 if self.n < 2**31 else np.int64
        self.permutations = [rng.permutation(self.n).astype(index) for _ in range(permutations)]
        self._groups = [self._class_rows(target)]
        self._groups += [self._class_rows(target[p]) for p in self.permutations]

    def _class_rows(self, target: np.ndarray) -> list[np.ndarray]:
        # radix sort for small unsigned codes: rows grouped by class, in row order
        order = np.argsort(target, kind="stable")
        groups = np.split(order, self._bounds)
        return [rows for c, rows in enumerate(groups) if c != self._largest]

    def joint_sums(self, codes: np.ndarray, card: int, passes: int) -> tuple[float, list[float]]:
        """``sum c log c`` of the feature's marginal and of its table with the target.

        The second value lists the table's sum for the real target, then for each of the
        first ``passes - 1`` permuted targets.
        """
        card = int(card)
        marginal = np.bincount(codes, minlength=card)
        sums = []
        for groups in self._groups[:passes]:
            rest = marginal.copy()
            total = 0.0
            for rows in groups:
                counts = np.bincount(codes[rows], minlength=card)
                rest -= counts
                total += _xlogx(counts)
            sums.append(total + _xlogx(rest))
        return _xlogx(marginal), sums

    def mi(self, codes: np.ndarray, card: int, *, corrected: bool) -> tuple[float, float | None]:
        """``(MI, mean MI over the permuted targets)``; the second is ``None`` unless corrected."""
        if self.n == 0:
            return 0.0, 0.0 if corrected else None
        passes = 1 + len(self.permutations) if corrected else 1
        s_feature, sums = self.joint_sums(codes, card, passes)
        base = math.log(self.n) - (s_feature + self._s_target) / self.n
        mi = max(0.0, base + sums[0] / self.n)
        if not corrected:
            return mi, None
        null = base + float(np.mean(sums[1:])) / self.n if len(sums) > 1 else 0.0
        return mi, max(0.0, null)

    @staticmethod
    def bijective(a: np.ndarray, card_a: int, b: np.ndarray, card_b: int) -> bool:
        """Whether every code of ``a`` meets exactly one code of ``b`` and vice versa."""
        return _one_to_one(_pair_counts(a, card_a, b, card_b),
                           np.bincount(a, minlength=int(card_a)),
                           np.bincount(b, minlength=int(card_b)))

    def pair_mi(self, a: np.ndarray, card_a: int, b: np.ndarray,
                card_b: int) -> tuple[float, float, bool]:
        """Corrected MI between two features (``a`` permuted), and whether they are one-to-one.

        Returns ``(corrected MI, plain MI, bijective)``; ``bijective`` is true when every
        code of ``a`` meets exactly one code of ``b`` and vice versa.
        """
        n = self.n
        marg_a = np.bincount(a, minlength=int(card_a))
        marg_b = np.bincount(b, minlength=int(card_b))
        base = math.log(n) - (_xlogx(marg_a) + _xlogx(marg_b)) / n
        joint = _pair_counts(a, card_a, b, card_b)
        bijective = _one_to_one(joint, marg_a, marg_b)
        mi = max(0.0, base + _xlogx(joint) / n)
        nulls = [base + _xlogx(_pair_counts(a[p], card_a, b, card_b)) / n
                 for p in self.permutations]
        null = max(0.0, float(np.mean(nulls))) if nulls else 0.0
        return mi - null, mi, bijective


def heldout_information(codes: np.ndarray, card: int, target: np.ndarray, n_classes: int, *,
                        folds: int = DEFAULT_FOLDS, prior_weight: float = DEFAULT_PRIOR_WEIGHT) -> float:
    """Information (nats) a feature's code table carries to held-out blocks of rows.

    The rows are cut into ``folds`` contiguous blocks; each block is predicted from the
    others' table of (code, target) counts, smoothed toward the others' target
    frequencies ``p(t)``::

        p(t | c) = (n(c, t) + prior_weight * p(t)) / (n(c) + prior_weight)

    and the score is the mean over all rows of ``log p(t | c) - log p(t)``: the log-loss
    the feature saves on rows it was not counted on. Unlike in-sample MI it needs no
    chance correction (a code never seen elsewhere predicts ``p(t)``, a code seen a few
    times predicts worse), and it is negative for a feature whose relation with the
    target does not carry over from block to block. Blocks are contiguous, so on rows in
    time order they are periods and the score also checks that the relation lasts.

    Examples
    --------
    >>> t = np.array([0, 1] * 500)
    >>> round(heldout_information(t.copy(), 2, t, 2), 2)   # a copy of the target: about log 2
    0.68
    >>> heldout_information(np.arange(1000), 1000, t, 2)   # an id: no held-out information
    0.0
    """
    n = int(target.size)
    if n == 0:
        return 0.0
    folds = max(1, min(int(folds), n))
    bounds = np.linspace(0, n, folds + 1).astype(np.int64)
    size = int(card) * int(n_classes)
    cells = codes.astype(np.int64) * int(n_classes) + target
    per = np.stack([np.bincount(cells[a:b], minlength=size)
                    for a, b in itertools.pairwise(bounds.tolist())]).astype(np.float64)
    total = per.sum(axis=0)
    score = 0.0
    for k in range(folds):
        held = per[k].reshape(int(card), int(n_classes))
        rest = (total - per[k]).reshape(int(card), int(n_classes))
        n_rest = rest.sum()
        if n_rest == 0:
            continue
        prior = (rest.sum(axis=0) + 1.0) / (n_rest + n_classes)  # add-one: no zero prior
        used = held.sum(axis=1) > 0  # only the codes the held-out block has
        held, rest = held[used], rest[used]
        cond = (rest + prior_weight * prior) / (rest.sum(axis=1, keepdims=True) + prior_weight)
        score += float(np.sum(held * (np.log(cond) - np.log(prior))))
    return score / n


# ----------------------------------------------------------------------------- rankers


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
        entropy, real or not, and the chance correction leaves little but noise: on 1,500
        rows and 4 classes, JMI ranked a useless 5-level column beside the best feature
        above a second informative 32-bin one. Such a pair's numeric features are merged
        into this many (still quantile) bins, the square root of the cells the rows
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
    return np.argsort(-scores, kind="stable")


register_ranker(Ranker(
    "mi", "plain mutual information with the target (favors high-cardinality features)",
    lambda ctx: RankerOutput(ctx.plain, _by_score(ctx.plain)), corrected=False,
    chart_label="mutual information (nats)"))
register_ranker(Ranker(
    "mi-corrected", "mutual information minus its mean over permuted targets (OutRank)",
    lambda ctx: RankerOutput(ctx.corrected, _by_score(ctx.corrected))))

register_ranker(Ranker(
    "mi-heldout", "information the feature's code table carries to held-out blocks of rows",
    lambda ctx: RankerOutput(ctx.heldout, _by_score(ctx.heldout)),
    chart_label="held-out information (nats)"))


def _minmax(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if not high > low:
        return np.zeros_like(values, dtype=np.float64)
    return (values - low) / (high - low)


@dataclass
class _Candidate:
    """A candidate's pair terms with each selected feature, and whether it waits until last."""

    redundancy: list[float] = field(default_factory=list)
    relational: list[float] = field(default_factory=list)
    deferred: bool = False


def _forward_selection(ctx: RankContext,
                       objective: Callable[[np.ndarray, dict[int, _Candidate]], np.ndarray], *,
                       first_score: Callable[[int], float], redundancy: bool) -> RankerOutput:
    """Greedy forward selection on pair terms, shared by 3MR and JMI.

    Starts with the most relevant feature (corrected MI); at each step every remaining
    feature gets its pair terms with the feature selected last, on the codes
    :meth:`RankContext.pair_table_codes` gives — ``relational`` (corrected MI of the pair's
    combined code with the target) and, when ``redundancy`` is asked, the corrected MI
    between the two — and ``objective(pool, candidates)`` picks
    the best of the pool. A candidate that is a one-to-one relabeling of a selected
    feature, or constant, is deferred until no other is left (see the module docstring):
    a constant's pair with ``s`` says what ``s`` says alone, which would otherwise rank it
    above a weak but real feature whose pair terms pay the chance correction. A feature's
    score is its objective when it was picked (``first_score`` for the first). With
    ``ctx.greedy_steps = k`` the selection stops after ``k`` features and the others follow
    in the order of that last step's objective (``O(k p)`` pair terms instead of ``O(p²)``).
    """
    relevance = ctx.corrected
    p = ctx.n_features
    scores = np.zeros(p)
    # a constant says nothing, beside any feature or alone (its corrected MI of 0 would
    # still beat features whose MI falls below their chance level)
    constant = [bool(np.ptp(ctx.pair_codes(j)) == 0) for j in range(p)]
    by_relevance = _by_score(relevance).tolist()
    order = [next((j for j in by_relevance if not constant[j]), by_relevance[0])]
    scores[order[0]] = first_score(order[0])
    remaining = [j for j in range(p) if j != order[0]]
    candidates = {j: _Candidate(deferred=constant[j]) for j in remaining}
    pairs = ctx.pair_estimator
    while remaining:
        s = order[-1]
        for f in remaining:
            candidate = candidates[f]
            table = ctx.pair_table_codes(s, f)
            if redundancy:
                red, _, bijective = pairs.pair_mi(*table)
                candidate.redundancy.append(red)
            else:
                bijective = pairs.bijective(*table)
            candidate.relational.append(ctx.pair_relational(s, f))
            candidate.deferred |= bijective
        pool = np.array([f for f in remaining if not candidates[f].deferred] or remaining)
        values = objective(pool, candidates)
        if ctx.greedy_steps is not None and len(order) >= ctx.greedy_steps:
            # the rest in the order of this step's objective, the deferred ones last
            in_pool = set(pool.tolist())
            waiting = np.array([f for f in remaining if f not in in_pool], dtype=np.int64)
            for group, group_values in ((pool, values),
                                        (waiting, objective(waiting, candidates)
                                         if waiting.size else values[:0])):
                for position in _best_first(group, group_values, relevance):
                    scores[group[position]] = float(group_values[position])
                    order.append(int(group[position]))
            break
        best_position = _best_first(pool, values, relevance)[0]
        best = int(pool[best_position])
        scores[best] = float(values[best_position])
        order.append(best)
        remaining.remove(best)
    return RankerOutput(scores, np.array(order, dtype=np.int64))


def _best_first(pool: np.ndarray, values: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """Positions in ``pool`` by ``values``, best first; ties: more relevant, earlier column."""
    return np.lexsort((pool, -relevance[pool], -values))


def _rank_3mr(ctx: RankContext) -> RankerOutput:
    def objective(pool: np.ndarray, candidates: dict[int, _Candidate]) -> np.ndarray:
        return (
            _minmax(ctx.corrected[pool])
            - ctx.alpha * _minmax(np.array([np.median(candidates[f].redundancy) for f in pool]))
            + ctx.beta * _minmax(np.array([np.median(candidates[f].relational) for f in pool]))
        )

    return _forward_selection(ctx, objective, first_score=lambda _: 1.0, redundancy=True)


def _rank_jmi(ctx: RankContext) -> RankerOutput:
    def objective(pool: np.ndarray, candidates: dict[int, _Candidate]) -> np.ndarray:
        return np.array([np.mean(candidates[f].relational) for f in pool])

    return _forward_selection(
        ctx, objective, redundancy=False,
        first_score=lambda j: ctx.combination_score((j,), corrected=True, sample=True))


register_ranker(Ranker(
    "3mr", "greedy relevance - redundancy + relational selection (OutRank's 3MR)", _rank_3mr,
    chart="mi_corrected", chart_label="corrected mutual information (nats), in 3MR order"))
register_ranker(Ranker(
    "jmi", "greedy joint mutual information with the selected features (JMI)", _rank_jmi,
    chart="mi_corrected", chart_label="corrected mutual information (nats), in JMI order"))


# ----------------------------------------------------------------------------- the ranking


@dataclass(frozen=True, eq=False)
class Ranking:
    """A feature ranking and the data-quality report, as one table.

    ``table`` has one row per feature (``order`` 1) and, with interactions, one per scored
    combination (``order`` 2 or 3, ``feature`` like ``"a & b"``); ``rank`` counts within
    each order. Columns: ``dataset``, ``split_id``, ``method``, ``order``, ``rank``,
    ``feature``, ``kind``, ``score``, ``mi``, ``mi_null``, ``mi_corrected``,
    ``normalized_mi`` (corrected MI / target entropy), ``gain`` (combinations only),
    ``codes`` (codes in use after binning), ``cardinality``, ``coverage``,
    ``majority_share``, ``duplicate_of``, ``flags``.
    """

    table: pl.DataFrame
    method: str
    dataset: str | None = None
    split_id: str | None = None
    seconds: float = 0.0
    quality_seconds: float = 0.0
    n_rows: int = 0
    target_entropy: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> pl.DataFrame:
        """The single-feature rows, best first."""
        return self.table.filter(pl.col("order") == 1).sort("rank")

    @property
    def interactions(self) -> pl.DataFrame:
        """The combination rows, best first."""
        return self.table.filter(pl.col("order") > 1).sort("order", "rank")

    def top(self, k: int) -> list[str]:
        """The names of the ``k`` best single features."""
        names = self.features["feature"].to_list()
        if not 1 <= k <= len(names):
            message = (f"top_k must be between 1 and the number of features ({len(names)}), "
                       f"got {k}")
            raise TabbenchError(message)
        return names[:k]


def rank_table(frame: pl.DataFrame, features: Mapping[str, str], y: np.ndarray, task: str, *,
               method: str = DEFAULT_METHOD, bins: int = DEFAULT_BINS,
               permutations: int = DEFAULT_PERMUTATIONS, seed: int = 0,
               interactions: int = 1, max_combinations: int = DEFAULT_MAX_COMBINATIONS,
               alpha: float = 1.0, beta: float = 1.0, greedy_steps: int | None = None,
               quality: bool = True, dataset: str | None = None,
               split_id: str | None = None) -> Ranking:
    """Rank the ``features`` of ``frame`` by their information about the target ``y``.

    Parameters
    ----------
    frame : polars.DataFrame
        The rows to rank on (a benchmark passes the training part of a split only).
    features : mapping of str to {"numeric", "categorical", "boolean"}
        The feature columns and their kinds.
    y : numpy.ndarray
        The target of those rows: class codes, or values for regression (binned like a
        numeric feature).
    task : {"binary", "multiclass", "regression"}
        The task.
    method : str
        A name in :data:`RANKERS`: ``mi``, ``mi-corrected`` (default), ``mi-heldout``,
        ``3mr`` or ``jmi``.
    bins : int
        Quantile bins for numeric features and a regression target.
    permutations : int
        Permuted targets of the chance correction (``R``).
    seed : int
        Seed of the permutations and samples.
    interactions : {1, 2, 3}
        Highest order of feature combinations to score (1: none).
    max_combinations : int
        Most combinations scored per order (taken among the most relevant features).
    alpha, beta : float
        3MR's weights of redundancy and relational information.
    greedy_steps : int, optional
        3MR and JMI: pick only this many features greedily and order the rest by the last
        step's objective (:func:`select_top_k` passes its ``k``); default: all.
    quality : bool
        Add the data-quality columns and flags (see :mod:`tabbench.features.quality`).
    dataset, split_id : str, optional
        Recorded in the table.

    Returns
    -------
    Ranking

    Raises
    ------
    UnknownNameError
        If ``method`` is not registered.
    TabbenchError
        If a parameter is out of range.
    """
    ranker = RANKERS.get(method, "--method")
    if interactions not in (1, 2, 3):
        raise TabbenchError(f"--interactions must be 1, 2 or 3, got {interactions}")
    if permutations < 1:
        raise TabbenchError(f"permutations must be at least 1, got {permutations}")
    if max_combinations < 1:
        raise TabbenchError(f"max_combinations must be at least 1, got {max_combinations}")
    if greedy_steps is not None and greedy_steps < 1:
        raise TabbenchError(f"greedy_steps must be at least 1, got {greedy_steps}")
    if not features:
        raise TabbenchError("there are no features to rank")
    y = np.asarray(y)
    if task == "regression":
        keep = ~np.isnan(y.astype(np.float64))
        if not keep.all():
            frame, y = frame.filter(pl.Series(keep)), y[keep]
    if frame.height == 0:
        raise TabbenchError("there are no rows to rank on")
    started = time.perf_counter()
    encoded = encode_features(frame, features, bins=bins, seed=seed)
    target, n_classes = encode_target(y, task, bins=bins, seed=seed)
    ctx = RankContext(encoded, target, n_classes, permutations=permutations, seed=seed,
                      alpha=alpha, beta=beta, greedy_steps=greedy_steps)
    output = ranker.rank(ctx)
    combos = _interactions(ctx, ranker, interactions, max_combinations)
    seconds = time.perf_counter() - started

    rank = np.empty(ctx.n_features, dtype=np.int64)
    rank[output.order] = np.arange(1, ctx.n_features + 1)
    h = ctx.estimator.h_target
    corrected = ctx.corrected if (quality or ranker.corrected) else None
    singles = pl.DataFrame({
        "order": np.ones(ctx.n_features, dtype=np.int64),
        "rank": rank,
        "feature": list(encoded.names),
        "kind": list(encoded.kinds),
        "score": output.scores.astype(np.float64),
        "mi": ctx.plain,
        "mi_null": ctx.null if corrected is not None else np.full(ctx.n_features, np.nan),
        "mi_corrected": corrected if corrected is not None else np.full(ctx.n_features, np.nan),
        "codes": [int(np.count_nonzero(np.bincount(c))) for c in encoded.codes],
    }).with_columns(
        (pl.col("mi_corrected") / h if h > 0 else pl.lit(0.0)).alias("normalized_mi"),
        pl.lit(None, dtype=pl.Float64).alias("gain"),
    )
    quality_seconds = 0.0
    if quality:
        from tabbench.features.quality import quality_report

        started = time.perf_counter()
        normalized = dict(zip(singles["feature"], singles["normalized_mi"], strict=True))
        report = quality_report(frame, features, normalized)
        quality_seconds = time.perf_counter() - started
        singles = singles.join(report, on="feature", how="left")
    else:
        singles = singles.with_columns(
            pl.lit(None, dtype=pl.Float64).alias("coverage"),
            pl.lit(None, dtype=pl.Int64).alias("cardinality"),
            pl.lit(None, dtype=pl.Float64).alias("majority_share"),
            pl.lit(None, dtype=pl.String).alias("duplicate_of"),
            pl.lit(None, dtype=pl.String).alias("flags"),
        )
    table = pl.concat([singles, combos.select(singles.columns)] if combos.height else [singles],
                      how="vertical_relaxed")
    table = table.with_columns(
        pl.lit(dataset, dtype=pl.String).alias("dataset"),
        pl.lit(split_id, dtype=pl.String).alias("split_id"),
        pl.lit(method.lower()).alias("method"),
    ).select("dataset", "split_id", "method", "order", "rank", "feature", "kind", "score",
             "mi", "mi_null", "mi_corrected", "normalized_mi", "gain", "codes", "cardinality",
             "coverage", "majority_share", "duplicate_of", "flags").sort("order", "rank")
    params = {"bins": bins, "permutations": permutations, "seed": seed,
              "interactions": interactions, "max_combinations": max_combinations,
              "alpha": alpha, "beta": beta, "greedy_steps": greedy_steps}
    return Ranking(table, method.lower(), dataset, split_id, seconds, quality_seconds,
                   encoded.n_rows, h, params)


def _interactions(ctx: RankContext, ranker: Ranker, max_order: int,
                  max_combinations: int) -> pl.DataFrame:
    """Scores of feature combinations of order 2..``max_order`` among the most relevant."""
    rows: list[dict[str, Any]] = []
    corrected = ranker.corrected
    singles = ctx.corrected if corrected else ctx.plain
    by_relevance = _by_score(singles)
    names = ctx.encoded.names
    for order in range(2, max_order + 1):
        m = order
        while m < ctx.n_features and math.comb(m + 1, order) <= max_combinations:
            m += 1
        if m > ctx.n_features:
            continue
        scored = []
        for combo in itertools.combinations(sorted(by_relevance[:m].tolist()), order):
            score = ctx.combination_score(combo, corrected=corrected)
            scored.append((score, combo))
        scored.sort(key=lambda item: -item[0])
        for rank, (score, combo) in enumerate(scored, start=1):
            rows.append({
                "order": order, "rank": rank, "feature": " & ".join(names[j] for j in combo),
                "kind": "combination", "score": score,
                "mi": score if not corrected else None, "mi_null": None,
                "mi_corrected": score if corrected else None,
                "normalized_mi": score / ctx.estimator.h_target if ctx.estimator.h_target else 0.0,
                "gain": score - max(singles[j] for j in combo),
                "codes": None, "cardinality": None, "coverage": None, "majority_share": None,
                "duplicate_of": None, "flags": None,
            })
    schema = {"order": pl.Int64, "rank": pl.Int64, "feature": pl.String, "kind": pl.String,
              "score": pl.Float64, "mi": pl.Float64, "mi_null": pl.Float64,
              "mi_corrected": pl.Float64, "normalized_mi": pl.Float64, "gain": pl.Float64,
              "codes": pl.Int64, "cardinality": pl.Int64, "coverage": pl.Float64,
              "majority_share": pl.Float64, "duplicate_of": pl.String, "flags": pl.String}
    return pl.DataFrame(rows, schema=schema)


# ----------------------------------------------------------------------------- datasets


def rank_features(dataset: Dataset, split: Split | None = None, **options: Any) -> Ranking:
    """Rank a dataset's features on the training part of ``split`` (all rows if ``None``).

    ``options`` are those of :func:`rank_table`.
    """
    rows = split.train if split is not None else None
    frame = dataset.frame if rows is None else dataset.frame[rows]
    y = dataset.target() if rows is None else dataset.target()[rows]
    return rank_table(frame, dataset.features, y, dataset.task, dataset=dataset.name,
                      split_id=split.id if split is not None else None, **options)


def resolve_split(dataset: Dataset, split_id: str | None,
                  split_params: Mapping[str, Any] | None = None) -> Split:
    """The split called ``split_id`` (default ``time-0``, or ``random-0`` without a time column).

    Raises
    ------
    TabbenchError
        If the id does not name a strategy or a split that the dataset has.
    """
    import re

    from tabbench.splits import SPLITTERS, TIME_KINDS, make_splits

    where = dataset.spec.where
    if split_id is None:
        split_id = "time-0" if dataset.spec.time_column else "random-0"
    match = re.fullmatch(r"([a-z-]+)-(\d+)", split_id.strip().lower())
    if match is None or match.group(1) not in SPLITTERS:
        message = (f"--split: unknown split id {split_id!r}; split ids are a strategy and a "
                   f"number, e.g. time-0 or random-0; strategies are: "
                   f"{', '.join(SPLITTERS.names())}")
        raise TabbenchError(message)
    strategy = match.group(1)
    if strategy in TIME_KINDS and not dataset.spec.time_column:
        message = (f"{where}: split {split_id!r} needs a time column and dataset "
                   f"{dataset.name!r} has none; use random-0")
        raise TabbenchError(message)
    splits = make_splits(dataset, strategy, dict(split_params or {}), seed=0)
    for split in splits:
        if split.id == split_id.strip().lower():
            return split
    message = (f"{where}: no split {split_id!r}; the {strategy} strategy makes: "
               f"{', '.join(s.id for s in splits)}")
    raise TabbenchError(message)


def rank_dataset(name: str, *, split_id: str | None = None, max_rows: int | None = None,
                 datasets_dirs: list[Path] | None = None, **options: Any) -> Ranking:
    """Load a registered dataset, pick the split and rank on its training part.

    The dataset is loaded (and subsampled to ``max_rows``) exactly as a benchmark job
    loads it, so the ranking matches the one a job with ``top_k`` computes.
    """
    from tabbench.datasets.registry import get_spec
    from tabbench.datasets.sample import load_subsample

    spec = get_spec(name, datasets_dirs, "rank-features")
    dataset = load_subsample(spec, max_rows)
    split = resolve_split(dataset, split_id)
    return rank_features(dataset, split, **options)


def select_top_k(dataset: Dataset, split: Split, top_k: int,
                 method: str | None = None) -> tuple[list[str], float]:
    """The ``top_k`` best features on the training part of ``split``, and the seconds it took.

    ``method`` defaults to :data:`tabbench.config.DEFAULT_SELECTION_METHOD` (``jmi``).
    """
    if method is None:
        from tabbench.config import DEFAULT_SELECTION_METHOD

        method = DEFAULT_SELECTION_METHOD
    started = time.perf_counter()
    ranking = rank_features(dataset, split, method=method, quality=False, greedy_steps=top_k)
    return ranking.top(top_k), time.perf_counter() - started


# ----------------------------------------------------------------------------- outputs


def save_ranking(ranking: Ranking, out_dir: Path, top: int = 30) -> tuple[Path, Path]:
    """Write ``<out>/features/<dataset>-<split>.parquet`` and a bar chart ``.png`` beside it.

    Returns the two paths.
    """
    from tabbench._atomic import write_atomic_bytes, write_parquet_atomic
    from tabbench.paths import safe_join

    stem = f"{ranking.dataset or 'table'}-{ranking.split_id or 'all'}"
    parquet = write_parquet_atomic(safe_join(out_dir, "features", f"{stem}.parquet"),
                                   ranking.table)
    png = safe_join(out_dir, "features", f"{stem}.png")
    write_atomic_bytes(png, _bar_chart(ranking, top))
    return parquet, png


def _bar_chart(ranking: Ranking, top: int) -> bytes:
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    ranker = RANKERS.get(ranking.method)
    rows = ranking.features.head(top)
    names = rows["feature"].to_list()[::-1]
    scores = rows[ranker.chart].fill_nan(None).fill_null(0.0).to_list()[::-1]
    flagged = [bool(f) for f in (rows["flags"].fill_null("").to_list()[::-1])]
    figure = Figure(figsize=(7.5, 0.9 + 0.28 * max(len(names), 1)), layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colors = ["#d95f02" if f else "#1b9e77" for f in flagged]
    axes.barh(names, scores, color=colors)
    axes.set_xlabel(ranker.chart_label)
    title = f"{ranking.dataset or 'table'} {ranking.split_id or ''}: top {len(names)} features"
    axes.set_title(title + (" (orange: data-quality flag)" if any(flagged) else ""), fontsize=10)
    axes.tick_params(axis="y", labelsize=8)
    axes.axvline(0.0, color="black", linewidth=0.6)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()
