"""Greedy forward selectors on pair terms: ``3mr`` (tabbench's 3MR) and ``jmi``.

``3mr`` follows OutRank's 3MR objective with tabbench's estimators; the reference
package's own 3MR (plain MI, normalized once over all pairs, no relational term at its
defaults) is ``outrank-3mr`` in :mod:`tabbench.methods.features.outrank`. The differences, and when
each is the better choice, are in ``docs/fidelity.md``.

Both start with the most relevant feature (corrected MI with the target) and add one
feature a step, scoring each candidate by its pair terms with the features already
selected, on the codes :meth:`~tabbench.methods.features.rankers.RankContext.pair_table_codes`
gives: exact codes on at most ``PAIR_SAMPLE`` seeded rows, unless a pair's table with the
target has more cells than rows; then its numbers are merged into fewer quantile bins
(:attr:`~tabbench.methods.features.rankers.RankContext.pair_bins`), since there any pair's
plug-in MI nears the target's entropy.

A median over the selected features cannot see that a candidate copies *one* of them
once three or more are selected, so in both a candidate that is a one-to-one relabeling
of a selected feature (its joint table with it has no more cells than either has codes:
an exact duplicate, however encoded) is deferred until no other candidate is left; so is
a constant, which is never picked first either.

3MR (``3mr``)
    Adds the candidate ``f`` maximizing::

        r_f - alpha * median_{s selected} R(s, f) + beta * median_{s selected} L(s, f)

    where ``r`` is relevance (corrected MI with the target), ``R(s, f)`` redundancy
    (corrected MI between two features, with ``s`` permuted) and ``L(s, f)`` relational
    information (corrected MI of the pair's exact combined code with the target). Each of
    the three terms is min–max normalized over the candidates of the step; ``alpha = beta
    = 1``. A feature's ``score`` is the objective when it was picked (1.0 for the first).
    Unlike the package (``outrank-3mr``): every term is chance-corrected (permuted
    targets; the package uses plain MI here), the terms are rescaled at every step over
    the remaining candidates (the package: once, over all features or pairs), the
    relational term is always there, and pairs too large for the rows are coarsened.

JMI (``jmi``)
    Joint mutual information (Yang & Moody, 1999; Brown et al., JMLR 2012, found it the
    best trade-off among information-theoretic selectors) adds the candidate ``f``
    maximizing::

        mean_{s selected} L(s, f)

    with ``L`` 3MR's relational term. A candidate is scored by what it says *together
    with* each selected feature: one that is weak alone but changes what a selected
    feature means (the month beside the weather) is taken early, one that repeats a
    selected feature adds little to the pairs. No redundancy term is computed, so JMI is
    cheaper than 3MR. A feature's ``score`` is the mean when it was picked (the first: its
    corrected MI on the same rows), in nats: a value at selection time, so it need not
    fall down the ranks (a pair usually says more than the first feature alone).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tabbench.methods.features.rankers import (
    RankContext,
    Ranker,
    RankerOutput,
    _by_score,
    register_ranker,
)

__all__: list[str] = []


def _minmax(values: np.ndarray) -> np.ndarray:
    """``values`` scaled to [0, 1] (all zeros when they are all equal)."""
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
    """3MR: relevance minus redundancy plus relational information (module docstring)."""

    def objective(pool: np.ndarray, candidates: dict[int, _Candidate]) -> np.ndarray:
        return (
            _minmax(ctx.corrected[pool])
            - ctx.alpha * _minmax(np.array([np.median(candidates[f].redundancy) for f in pool]))
            + ctx.beta * _minmax(np.array([np.median(candidates[f].relational) for f in pool]))
        )

    return _forward_selection(ctx, objective, first_score=lambda _: 1.0, redundancy=True)


def _rank_jmi(ctx: RankContext) -> RankerOutput:
    """JMI: the mean relational information with the selected features (module docstring)."""

    def objective(pool: np.ndarray, candidates: dict[int, _Candidate]) -> np.ndarray:
        return np.array([np.mean(candidates[f].relational) for f in pool])

    return _forward_selection(
        ctx, objective, redundancy=False,
        first_score=lambda j: ctx.combination_score((j,), corrected=True, sample=True))


register_ranker(Ranker(
    "3mr", "greedy relevance - redundancy + relational selection (3MR on chance-corrected "
           "MI, rescaled each step; the package's own is `outrank-3mr`)", _rank_3mr,
    chart="mi_corrected", chart_label="corrected mutual information (nats), in 3MR order"))
register_ranker(Ranker(
    "jmi", "greedy joint mutual information with the selected features (JMI)", _rank_jmi,
    chart="mi_corrected", chart_label="corrected mutual information (nats), in JMI order"))
