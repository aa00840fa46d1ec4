"""Feature ranking (OutRank method) and ranking before tuning.

``encode``
    Columns → small integer codes (quantile bins for numbers, missing as its own code).
``outrank``
    Mutual information from ``bincount`` contingency tables, its cardinality correction,
    3MR and JMI selection, held-out information, interactions, the
    :data:`~tabbench.features.outrank.RANKERS` registry (``mi``, ``mi-corrected``,
    ``mi-heldout``, ``3mr``, ``jmi``) and the ranking outputs.
``quality``
    Per-feature data-quality checks (coverage, cardinality, constant, duplicates, id-like
    columns, suspected target leaks).
``evaluate``
    Tune the same models on all features and on each top-k, and compare.

Examples
--------
>>> from tabbench.features import rank_dataset
>>> ranking = rank_dataset("flights", split_id="time-0")   # doctest: +SKIP
>>> ranking.top(5)                                         # doctest: +SKIP
"""

from __future__ import annotations

from tabbench.features.outrank import (
    RANKERS,
    Ranker,
    Ranking,
    heldout_information,
    mutual_information,
    rank_dataset,
    rank_features,
    rank_table,
    register_ranker,
    resolve_split,
    save_ranking,
    select_top_k,
)

__all__ = [
    "RANKERS",
    "Ranker",
    "Ranking",
    "evaluate_top_k",
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


def __getattr__(name: str):
    if name == "evaluate_top_k":  # imports the runner; only when asked for
        from tabbench.features.evaluate import evaluate_top_k

        return evaluate_top_k
    raise AttributeError(f"module 'tabbench.features' has no attribute {name!r}")
