"""Estimators of how much a feature's integer codes say about the target.

All of them work on contingency tables of integer codes (see
:mod:`tabbench.methods.features.encode`), counted with ``numpy.bincount``, on the rows they are
given.

Mutual information (:func:`mutual_information`)
    With the natural log: ``MI(F; T) = H(F) + H(T) - H(F, T)``; equal to
    ``sklearn.metrics.mutual_info_score`` on the same codes.

Cardinality correction (:class:`MIEstimator`)
    ``MI(F; T)`` grows with the number of codes of ``F`` even when ``F`` carries no
    information: a column with one distinct value per row reaches ``H(T)``, the maximum.
    The corrected score subtracts the MI that ``F`` reaches with a randomly permuted target,
    averaged over ``R`` seeded permutations (``R = DEFAULT_PERMUTATIONS`` by default)::

        corrected(F) = MI(F; T) - mean_r MI(F; T[perm_r])

    Permuting the target keeps both marginals and destroys only their relation, so the
    subtracted term is exactly the chance level for this feature's cardinality and code
    frequencies on these rows: a high-cardinality noise column scores about 0 while its
    plain MI nears ``H(T)``. An analytic bias term (Miller–Madow, or the expected MI
    under a hypergeometric model) would be cheaper per feature but is either too crude
    for sparse tables (Miller–Madow) or quadratic in the cardinality (expected MI); the
    permutations reuse one permuted target for every feature, so their cost is ``R``
    extra counting passes. Scores may be slightly negative (below chance).

Held-out information (:func:`heldout_information`)
    In-sample MI, even corrected, measures a relation on the rows it was counted on. The
    held-out score cuts the rows into ``DEFAULT_FOLDS`` contiguous blocks and scores each
    block with the smoothed code → target table of the others: the mean log-loss saved
    over the target frequencies. A code met too rarely elsewhere to be predicted well
    costs instead of scoring by chance, so no permutations are needed; on rows in time
    order (the training part of a time split) the blocks are periods, and a feature whose
    relation with the target does not last (a day-of-month or a month seen only in
    training, an aircraft id, a coefficient that flips) scores at or below zero. It ranks
    an unstable id like ``tailnum`` low, but also features that matter only beside others
    (a month beside the weather), which a score of single features cannot see (docs/features.md,
    "The rankers", compares it with JMI).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from tabbench.methods.features.encode import dense_limit

__all__ = [
    "DEFAULT_FOLDS",
    "DEFAULT_PERMUTATIONS",
    "DEFAULT_PRIOR_WEIGHT",
    "MIEstimator",
    "heldout_information",
    "mutual_information",
]

#: Permuted targets of the chance correction (``R``).
DEFAULT_PERMUTATIONS = 5
#: Contiguous blocks of rows of the held-out information (``mi-heldout``).
DEFAULT_FOLDS = 5
#: Pseudo-rows of the target frequencies each code's held-out prediction is smoothed with
#: (an m-estimate; 10, like LightGBM's ``cat_smooth``): less smoothing lets the rare levels
#: of an informative high-cardinality column score below noise.
DEFAULT_PRIOR_WEIGHT = 10.0


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
                        folds: int = DEFAULT_FOLDS,
                        prior_weight: float = DEFAULT_PRIOR_WEIGHT) -> float:
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

