"""Feature ranking (OutRank, as its package computes it, and relatives) on a training part.

``encode``
    Columns → small integer codes (quantile bins for numbers, missing as its own code).
``estimators``
    Mutual information from ``bincount`` contingency tables, its cardinality (chance)
    correction, and held-out information.
``rankers``
    The ranker interface (:class:`~tabbench.methods.features.rankers.RankContext`,
    :class:`~tabbench.methods.features.rankers.Ranker`) and the
    :data:`~tabbench.methods.features.rankers.RANKERS` registry.
``univariate``, ``greedy``, ``outrank``
    The registered rankers, one module per family: ``mi``, ``mi-corrected`` and
    ``mi-heldout`` score each feature alone; ``3mr`` and ``jmi`` select greedily on pairs;
    ``outrank`` and ``outrank-3mr`` reproduce the ``outrank`` package's scores (checked
    against it by ``benchmarks/outrank_crosscheck.py``; ``docs/fidelity.md``).
``quality``
    Per-feature data-quality checks (coverage, cardinality, constant, duplicates, id-like
    columns, suspected target leaks).
``ranking``
    The ranking table (with interactions and the quality report), ranking a dataset, the
    top-k selection of a benchmark job, and the Parquet file.

Importing this package registers every ranker family, so
:data:`~tabbench.methods.features.rankers.RANKERS` is complete after any ``import
tabbench.methods.features...``. Tuning on each top-k and comparing is :mod:`tabbench.studies.topk`.

Examples
--------
>>> from tabbench.methods.features import rank_dataset
>>> ranking = rank_dataset("flights", split_id="time-0")   # doctest: +SKIP
>>> ranking.top(5)                                         # doctest: +SKIP
"""

from __future__ import annotations

# the families in registration order, which is the order of RANKERS.names()
# isort: off
from tabbench.methods.features import univariate  # noqa: F401  (registers mi, mi-corrected, mi-heldout)
from tabbench.methods.features import greedy  # noqa: F401  (registers 3mr, jmi)
from tabbench.methods.features import outrank  # noqa: F401  (registers outrank, outrank-3mr)
# isort: on
from tabbench.methods.features.estimators import heldout_information, mutual_information
from tabbench.methods.features.rankers import RANKERS, Ranker, register_ranker
from tabbench.methods.features.ranking import (
    Ranking,
    rank_dataset,
    rank_features,
    rank_table,
    save_ranking,
    select_top_k,
)

__all__ = [
    "RANKERS",
    "Ranker",
    "Ranking",
    "heldout_information",
    "mutual_information",
    "rank_dataset",
    "rank_features",
    "rank_table",
    "register_ranker",
    "save_ranking",
    "select_top_k",
]
