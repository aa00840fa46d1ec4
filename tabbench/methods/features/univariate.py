"""Rankers that score each feature alone: ``mi``, ``mi-corrected`` and ``mi-heldout``.

Each orders the features by one score of :mod:`tabbench.methods.features.estimators`, computed by
the :class:`~tabbench.methods.features.rankers.RankContext`: plain mutual information with the
target (which favors high-cardinality features), mutual information minus its chance
level under permuted targets (tabbench's cardinality correction; OutRank's own, a cyclic
shift of the target's classes, is ``outrank`` in :mod:`tabbench.methods.features.outrank`), or the
information a feature's code table carries to held-out blocks of rows.
"""

from __future__ import annotations

from tabbench.methods.features.rankers import Ranker, RankerOutput, _by_score, register_ranker

__all__: list[str] = []

register_ranker(Ranker(
    "mi", "plain mutual information with the target (favors high-cardinality features)",
    lambda ctx: RankerOutput(ctx.plain, _by_score(ctx.plain)), corrected=False,
    chart_label="mutual information (nats)"))
register_ranker(Ranker(
    "mi-corrected", "mutual information minus its mean over 5 permuted targets (tabbench's "
                    "chance correction; OutRank's own is `outrank`)",
    lambda ctx: RankerOutput(ctx.corrected, _by_score(ctx.corrected))))
register_ranker(Ranker(
    "mi-heldout", "information the feature's code table carries to held-out blocks of rows",
    lambda ctx: RankerOutput(ctx.heldout, _by_score(ctx.heldout)),
    chart_label="held-out information (nats)"))
