"""Splits: named train / validation / test index arrays, made by registered splitters.

A :class:`Split` is data: an id such as ``time-0`` or ``random-2`` and three sorted,
disjoint int64 arrays of row indices. Splitters are looked up by name in
:data:`SPLITTERS` and share one signature::

    fn(n_rows, *, time, y, groups, seed, where, **params) -> list[Split]

The time-based kinds (``time``, ``sliding-window``, ``expanding-window``) order rows by the
time column and never let rows sharing one timestamp straddle a boundary. ``random`` and
``stratified`` use the part sizes the ``time`` split gives on the same data, so scores
under the two are comparable; ``random-sliding-window`` and ``random-expanding-window``
are paired with the windows (split ``i`` = window ``i``'s rows, reshuffled into its
sizes: TabReD's random splits), and in a run with windows ``random`` means them
(:func:`run_strategies`); ``random-all`` is the all-rows random split under a name no
pairing changes. ``group`` keeps every group in a single part.
:func:`make_splits` runs a splitter on a :class:`~tabbench.data.datasets.dataset.Dataset`
with a seed derived from (fingerprint, strategy, params, seed) and checks the result.

The package holds one module per family: :mod:`~tabbench.data.splits.base` (:class:`Split`, the
registry and the shared parameter checks), :mod:`~tabbench.data.splits.temporal` (``time`` and
the windows), :mod:`~tabbench.data.splits.seeded` (``random``, ``random-all``, the paired random
splits, ``stratified``, ``group``) and :mod:`~tabbench.data.splits.make` (:func:`make_splits`,
:func:`find_split`, :func:`run_strategies`, :func:`training_subset`). Importing the package
registers the built-in splitters in the order :func:`split_names` lists them.

Examples
--------
>>> import numpy as np
>>> time_splitter = SPLITTERS.get("time")
>>> [split] = time_splitter(5, time=np.array([40, 30, 20, 10, 0]), y=None, groups=None,
...                         seed=0, where="demo")
>>> split.train.tolist(), split.val.tolist(), split.test.tolist()
([2, 3, 4], [1], [0])
"""

from __future__ import annotations

# Every name the module tabbench.data.splits had is still importable from here. Importing
# seeded imports temporal first, so the built-in splitters register in one order: time,
# sliding-window, expanding-window, then random, random-all, random-sliding-window,
# random-expanding-window, stratified, group.
from tabbench.data.splits.base import (  # noqa: F401
    ALL_ROWS_RANDOM,
    COUNT_FREE_KINDS,
    DEFAULT_FRACTIONS,
    PAIRED_RANDOM,
    SPLIT_NAME,
    SPLITTERS,
    TIME_KINDS,
    Split,
    SplitKind,
    Splitter,
    is_time_based,
    register_splitter,
)
from tabbench.data.splits.make import (  # noqa: F401
    _MADE,
    find_split,
    identity_params,
    make_splits,
    needs_time,
    run_strategies,
    split_names,
    training_subset,
)
from tabbench.data.splits.seeded import (  # noqa: F401
    split_group,
    split_random,
    split_random_all,
    split_random_expanding_window,
    split_random_sliding_window,
    split_stratified,
)
from tabbench.data.splits.temporal import (  # noqa: F401
    split_expanding_window,
    split_sliding_window,
    split_time,
)

__all__ = ["ALL_ROWS_RANDOM", "PAIRED_RANDOM", "SPLITTERS", "TIME_KINDS", "Split", "SplitKind",
           "find_split", "is_time_based", "make_splits", "needs_time", "register_splitter",
           "run_strategies", "split_names", "training_subset"]
