"""OutRank as its reference package computes it: ``outrank`` and ``outrank-3mr``.

The reference is the ``outrank`` package (Outbrain, `github.com/outbrain/outrank
<https://github.com/outbrain/outrank>`_; Škrlj et al., "OutRank: Speeding up AutoML-based
model search for large sparse data sets with cardinality-aware feature ranking", RecSys
2023). These two rankers reproduce its scores on tabbench's codes (the same codes every
ranker gets, see :mod:`tabbench.methods.features.encode`); ``benchmarks/outrank_crosscheck.py``
runs the package on the same codes and ``docs/fidelity.md`` lists what matches and what
departs. tabbench's own estimators keep their own names: ``mi-corrected`` (a permutation
null) and ``3mr`` (chance-corrected terms, normalized per step) are not these.

``outrank`` (the package's ``--heuristic MI-numba-randomized``, its default)
    For a feature ``F`` and the target ``T``, on ``n`` rows::

        score(F) = sum_{t: n_t > 1} (n_t / n) * (H(F[(rows_t + n_t) mod n]) - H(F[rows_t]))

    where ``rows_t`` are the rows of class ``t`` and ``n_t`` their count: the feature's
    entropy on the rows of each class shifted cyclically by that class's count, minus its
    entropy on the class's own rows. That is ``MI(F; T)`` minus the MI of ``F`` with a
    target whose classes were moved ``n_t`` rows along — the package's cardinality
    correction (``ranking_mi_numba.compute_entropies``). It is not clipped and can be
    negative. On rows in time order the shifted rows belong to another period, so a
    feature that only tracks time (a trend, a date) keeps little of its MI; a permuted
    target (``mi-corrected``) mixes periods instead and leaves such a feature its MI.

``outrank-3mr`` (the package's ``--heuristic MI-numba-3mr``, as released up to 0.97.4)
    3MR with *plain* mutual information in every term (the package turns its correction
    off for this heuristic): relevance ``MI(F; T)``, redundancy ``MI(F_i; F_j)`` for
    every pair ``i <= j`` (the diagonal ``H(F_i)`` included). Each kind is min–max
    normalized once, over all its values, and the greedy selection starts with the most
    relevant feature and adds the candidate maximizing::

        relevance(f) - alpha * median_{s selected} redundancy(s, f)

    The package adds ``beta * median relational(s, f)`` only when it is run with
    ``--interaction_order 2`` or more, which also makes every pair of features a
    candidate of its own; at its default (and in its 3MR example, order 1) the relational
    term is absent, and so it is here. A feature's ``score`` is its objective when it was
    picked (1.0 for the first).

Both work as the package does on rows read in batches: scores are computed on
consecutive batches of ``MINIBATCH`` rows (the package's ``--minibatch_size`` default),
a last partial batch counts only above ``MIN_REMAINDER`` rows, and each score is the
median over the batches. (With no full batch, all rows form one; the package would rank
nothing below ``MIN_REMAINDER`` rows.) All rows are used: the package's ``--subsampling``
(default: every 10th line) is a speed option of its file reader, and its cross-check
runs with ``--subsampling 1``.
"""

from __future__ import annotations

import math

import numpy as np

from tabbench.methods.features.estimators import _xlogx, mutual_information
from tabbench.methods.features.greedy import _minmax  # all zeros when equal (the package: NaN)
from tabbench.methods.features.rankers import (
    RankContext,
    Ranker,
    RankerOutput,
    _by_score,
    register_ranker,
)

__all__ = [
    "MINIBATCH",
    "MIN_REMAINDER",
    "batches",
    "outrank_3mr",
    "outrank_scores",
    "shift_corrected_mi",
]

#: Rows per batch (the package's ``--minibatch_size`` default, 2**14).
MINIBATCH = 2**14
#: A last partial batch is scored only when it has more rows than this (the package: 2**10).
MIN_REMAINDER = 2**10


def batches(n: int, size: int = MINIBATCH) -> list[slice]:
    """The consecutive batches of rows the package scores: full ones, then a long remainder."""
    full = n // size
    out = [slice(i * size, (i + 1) * size) for i in range(full)]
    rest = n - full * size
    if rest > MIN_REMAINDER or (not out and rest > 0):
        out.append(slice(full * size, n))
    return out


def _entropy(counts: np.ndarray, total: int) -> float:
    """Entropy (nats) of a table of counts summing to ``total``."""
    return math.log(total) - _xlogx(counts) / total


def shift_corrected_mi(feature: np.ndarray, card: int, target: np.ndarray,
                       n_classes: int) -> float:
    """OutRank's score of ``feature`` against ``target`` on these rows (module docstring).

    Examples
    --------
    >>> t = np.random.default_rng(0).integers(0, 2, 1000)
    >>> round(shift_corrected_mi(t.copy(), 2, t, 2), 2)    # a copy of the target: about log 2
    0.69
    >>> shift_corrected_mi(np.arange(1000), 1000, t, 2)    # an id: nothing left after the shift
    0.0
    """
    n = int(target.size)
    order = np.argsort(target, kind="stable")  # rows of each class, in row order
    counts = np.bincount(target, minlength=n_classes)
    score, start = 0.0, 0
    for count in counts.tolist():
        rows = order[start:start + count]
        start += count
        if count <= 1:  # the package skips a value seen once (its entropy is 0 either way)
            continue
        real = np.bincount(feature[rows], minlength=card)
        shifted = np.bincount(feature[(rows + count) % n], minlength=card)
        score += count / n * (_entropy(shifted, count) - _entropy(real, count))
    return score


def outrank_scores(ctx: RankContext) -> np.ndarray:
    """The ``outrank`` score of every feature: the median over batches of rows."""
    target = np.asarray(ctx.target).astype(np.int64, copy=False)
    parts = batches(target.size)
    per_batch = np.array([[shift_corrected_mi(codes[part].astype(np.int64), int(card),
                                              target[part], ctx.n_classes) for part in parts]
                          for codes, card in zip(ctx.encoded.codes, ctx.encoded.cardinalities,
                                                 strict=True)])
    return np.median(per_batch, axis=1)


def _pair_terms(ctx: RankContext) -> tuple[np.ndarray, np.ndarray]:
    """Plain relevance per feature and redundancy per pair (``i <= j``), medians over batches."""
    target = np.asarray(ctx.target).astype(np.int64, copy=False)
    codes = [c.astype(np.int64) for c in ctx.encoded.codes]
    p = len(codes)
    parts = batches(target.size)
    relevance = np.median([[mutual_information(c[part], target[part]) for part in parts]
                           for c in codes], axis=1)
    redundancy = np.zeros((p, p))
    for i in range(p):
        for j in range(i, p):
            value = float(np.median([mutual_information(codes[i][part], codes[j][part])
                                     for part in parts]))
            redundancy[i, j] = redundancy[j, i] = value
    return relevance, redundancy


def outrank_3mr(ctx: RankContext) -> RankerOutput:
    """The package's 3MR on plain MI, normalized once over all pairs (module docstring)."""
    relevance, redundancy = _pair_terms(ctx)
    p = relevance.size
    relevance = _minmax(relevance)
    upper = np.triu_indices(p)
    scaled = np.zeros((p, p))
    scaled[upper] = _minmax(redundancy[upper])
    scaled = np.maximum(scaled, scaled.T)
    scores = np.zeros(p)
    first = int(_by_score(relevance)[0])
    order, scores[first] = [first], 1.0
    remaining = [j for j in range(p) if j != first]
    while remaining:
        pool = np.array(remaining)
        values = relevance[pool] - ctx.alpha * np.median(scaled[np.ix_(order, pool)], axis=0)
        best = int(np.argmax(values))  # ties: the earlier column
        scores[pool[best]] = float(values[best])
        order.append(int(pool[best]))
        remaining.remove(int(pool[best]))
    return RankerOutput(scores, np.array(order, dtype=np.int64))


def _rank_outrank(ctx: RankContext) -> RankerOutput:
    scores = outrank_scores(ctx)
    return RankerOutput(scores, _by_score(scores))


register_ranker(Ranker(
    "outrank", "OutRank's score as its package computes it: MI minus the MI with the target's "
               "classes shifted cyclically by their counts (median over 16,384-row batches)",
    _rank_outrank, chart_label="OutRank score: MI minus shifted-target MI (nats)"))
register_ranker(Ranker(
    "outrank-3mr", "OutRank's 3MR as its package computes it: plain MI, relevance minus the "
                   "median redundancy, each normalized once over all features or pairs",
    outrank_3mr, corrected=False, chart="mi",
    chart_label="mutual information (nats), in OutRank's 3MR order"))
