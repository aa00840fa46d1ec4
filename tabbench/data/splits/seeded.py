"""The seeded splitters: ``random``, ``random-all``, the random splits paired with the
windows (``random-sliding-window``, ``random-expanding-window``), ``stratified`` and
``group``, registered in that order.

``random`` and ``stratified`` take the part sizes of the ``time`` split on the same data
(:func:`_sizes`), so scores under them are comparable with it; the paired random splits
reshuffle each window's rows into that window's sizes. Split ``i`` is drawn from the
``i``-th child of ``numpy.random.SeedSequence(seed)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tabbench.data.splits.base import (
    _PARTS,
    ALL_ROWS_RANDOM,
    PAIRED_RANDOM,
    Split,
    _column,
    _count,
    _fractions,
    _prefix,
    _seeds,
    _splitter,
)
from tabbench.data.splits.temporal import _TiedTimes, _time_split, _windows
from tabbench.exceptions import SplitError, UnsplittableError


def _sizes(name: str, n_rows: int, time: np.ndarray | None, where: str, fractions: Any,
           cuts: Any, gap: Any) -> tuple[int, int, int]:
    """Part sizes of the ``time`` split on the same data (row order when there is no time
    column, or when its timestamps do not separate the rows: there is then no time split
    to be comparable with)."""
    if time is None:
        if cuts is not None:
            message = f"{_prefix(where)}split {name!r}: cuts need a time_column"
            raise SplitError(message)
        time = np.arange(n_rows)
    try:
        split = _time_split(name, n_rows, time, where, fractions, cuts, gap)
    except _TiedTimes:
        if cuts is not None:
            raise
        split = _time_split(name, n_rows, np.arange(n_rows), where, fractions, None, gap)
    return split.train.size, split.val.size, split.test.size


_SEEDED_PARAMS_DOC = """
    Parameters
    ----------
    n_rows : int
        Number of rows.
    time : numpy.ndarray, optional
        When given, the part sizes are those of the ``time`` split with the same
        ``fractions``, ``cuts`` and ``gap`` (ties and gaps included); else they come
        from ``fractions`` alone.
    seed : int
        Seed; split ``i`` uses the ``i``-th child of ``numpy.random.SeedSequence(seed)``.
    where : str
        Dataset file or name to start error messages with.
    fractions : tuple of 3 floats, default (0.6, 0.2, 0.2)
    cuts : tuple of 2 timestamps, optional
        Only to size the parts like a ``time`` split with cuts; needs ``time``.
    gap : int, default 0
        Only to size the parts like a ``time`` split with a gap.
    n_splits : int, default 1
        Number of splits, ids ``<kind>-0`` … ``<kind>-<n_splits-1>``.

    Returns
    -------
    list of Split
    """


def _random(name: str, n_rows: int, time: np.ndarray | None, seed: int, where: str,
            fractions: Any, cuts: Any, gap: Any, n_splits: Any) -> list[Split]:
    k = _count(n_splits, "n_splits", 1, name, where)
    n_train, n_val, n_test = _sizes(name, n_rows, time, where, fractions, cuts, gap)
    splits = []
    for i, child in enumerate(_seeds(seed, k)):
        perm = np.random.default_rng(child).permutation(n_rows)
        splits.append(Split(f"{name}-{i}", *_cut(perm, n_train, n_val, n_test)))
    return splits


def _cut(perm: np.ndarray, n_train: int, n_val: int, n_test: int) -> list[np.ndarray]:
    """The first ``n_train``, the next ``n_val`` and the next ``n_test`` rows of ``perm``,
    each sorted."""
    ends = np.cumsum([n_train, n_val, n_test])
    return [np.sort(perm[lo:hi]) for lo, hi in zip((0, *ends[:2]), ends, strict=True)]


@_splitter("random", time_based=False)
def split_random(n_rows: int, *, time: np.ndarray | None, y: np.ndarray | None,
                 groups: np.ndarray | None, seed: int, where: str, fractions: Any = None,
                 cuts: Any = None, gap: int = 0, n_splits: int = 1) -> list[Split]:
    return _random("random", n_rows, time, seed, where, fractions, cuts, gap, n_splits)


@_splitter(ALL_ROWS_RANDOM, time_based=False)
def split_random_all(n_rows: int, *, time: np.ndarray | None, y: np.ndarray | None,
                     groups: np.ndarray | None, seed: int, where: str, fractions: Any = None,
                     cuts: Any = None, gap: int = 0, n_splits: int = 1) -> list[Split]:
    return _random(ALL_ROWS_RANDOM, n_rows, time, seed, where, fractions, cuts, gap, n_splits)


def _paired(window: str, n_rows: int, time: np.ndarray | None, seed: int, where: str,
            n_splits: Any, fractions: Any, size: Any, gap: Any) -> list[Split]:
    """Window ``i`` of ``window``'s splits, its rows shuffled into its part sizes."""
    windows = _windows(window, n_rows, time, where, n_splits, fractions, size, gap,
                       expanding=window == "expanding-window")
    splits = []
    for i, (split, child) in enumerate(zip(windows, _seeds(seed, len(windows)), strict=True)):
        rows = np.sort(np.concatenate([split.train, split.val, split.test]))
        perm = np.random.default_rng(child).permutation(rows)
        splits.append(Split(f"{PAIRED_RANDOM[window]}-{i}",
                            *_cut(perm, split.train.size, split.val.size, split.test.size)))
    return splits


@_splitter(PAIRED_RANDOM["sliding-window"], time_based=False)
def split_random_sliding_window(n_rows: int, *, time: np.ndarray | None,
                                y: np.ndarray | None, groups: np.ndarray | None, seed: int,
                                where: str, n_splits: int = 3, fractions: Any = None,
                                size: int | None = None, gap: int = 0) -> list[Split]:
    return _paired("sliding-window", n_rows, time, seed, where, n_splits, fractions, size, gap)


@_splitter(PAIRED_RANDOM["expanding-window"], time_based=False)
def split_random_expanding_window(n_rows: int, *, time: np.ndarray | None,
                                  y: np.ndarray | None, groups: np.ndarray | None, seed: int,
                                  where: str, n_splits: int = 3, fractions: Any = None,
                                  size: int | None = None, gap: int = 0) -> list[Split]:
    return _paired("expanding-window", n_rows, time, seed, where, n_splits, fractions, size,
                   gap)


_PAIRED_DOC = """The random split paired with ``{window}`` (TabReD's random splits): split ``i``
    holds exactly the rows of ``{window}-{{i}}`` (its train, val and test rows; the ``gap``
    rows it drops stay out), shuffled with the ``i``-th child of
    ``numpy.random.SeedSequence(seed)`` into that window's train/val/test sizes.

    So a random-vs-{window} comparison differs in the split type only: the same rows,
    period and sizes, where the all-rows ``random`` split draws from every row. TabReD
    (``preprocessing/*.py``) does this for its sliding windows, with one
    ``np.random.seed(0)`` before the loop; here each split has its own seed, so split ``i``
    does not depend on the draws of the splits before it. The parameters are
    ``{window}``'s (see there) and must be the same as its own to pair with it: in a run,
    :func:`run_strategies` hands the window's ``split_params`` to both.

    Returns
    -------
    list of Split
        Ids ``{paired}-0`` … ``{paired}-<k-1>``. Not time-based (the parts are not ordered
        in time), but the time column is required.
    """

split_random_sliding_window.__doc__ = _PAIRED_DOC.format(
    window="sliding-window", paired=PAIRED_RANDOM["sliding-window"])
split_random_expanding_window.__doc__ = _PAIRED_DOC.format(
    window="expanding-window", paired=PAIRED_RANDOM["expanding-window"])


@_splitter("stratified", time_based=False)
def split_stratified(n_rows: int, *, time: np.ndarray | None, y: np.ndarray | None,
                     groups: np.ndarray | None, seed: int, where: str, fractions: Any = None,
                     cuts: Any = None, gap: int = 0, n_splits: int = 1) -> list[Split]:
    # deferred: scikit-learn is heavy to import
    from sklearn.model_selection import train_test_split

    prefix = f"{_prefix(where)}split 'stratified'"
    if y is None or np.asarray(y).dtype.kind not in "iu":
        found = "no target" if y is None else f"a {np.asarray(y).dtype} target"
        message = f"{prefix} needs a classification task (integer class codes); found {found}"
        raise UnsplittableError(message)
    y = _column(y, "target", n_rows, "stratified", where)
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < 2:
        message = (f"{prefix}: every class needs at least 2 rows; class {classes[counts.argmin()]} "
                   f"has {counts.min()}")
        raise UnsplittableError(message)
    k = _count(n_splits, "n_splits", 1, "stratified", where)
    n_train, n_val, n_test = _sizes("stratified", n_rows, time, where, fractions, cuts, gap)
    rows = np.arange(n_rows)
    splits = []
    for i, child in enumerate(_seeds(seed, k)):
        state = int(child.generate_state(1)[0])
        try:
            train, rest = train_test_split(rows, train_size=n_train, test_size=n_val + n_test,
                                           stratify=y, random_state=state)
            val, test = train_test_split(rest, train_size=n_val, test_size=n_test,
                                         stratify=y[rest], random_state=state)
        except ValueError as exc:  # e.g. a part smaller than the number of classes
            message = f"{prefix}: cannot stratify {n_train}/{n_val}/{n_test} rows: {exc}"
            raise UnsplittableError(message) from None
        splits.append(Split(f"stratified-{i}", np.sort(train), np.sort(val), np.sort(test)))
    return splits


split_random.__doc__ = (
    "Seeded random permutation of all rows cut into parts (the all-rows random split).\n\n"
    "    In a run with sliding or expanding windows, the name ``random`` means the random\n"
    "    split paired with each time-based strategy instead (:func:`run_strategies`).\n"
    + _SEEDED_PARAMS_DOC)
split_random_all.__doc__ = (
    "The all-rows random split under a name no pairing changes (ids ``random-all-<i>``).\n\n"
    "    Split ``i`` has the same rows as ``random-<i>`` with the same parameters (its seed is\n"
    "    derived as ``random``'s); its own ids keep its results apart from ``random``'s.\n"
    + _SEEDED_PARAMS_DOC)
split_stratified.__doc__ = (
    "Like ``random``, keeping the class proportions of ``y`` (integer class codes) in each\n"
    "    part; every class needs at least 2 rows.\n" + _SEEDED_PARAMS_DOC
)


@_splitter("group", time_based=False)
def split_group(n_rows: int, *, time: np.ndarray | None, y: np.ndarray | None,
                groups: np.ndarray | None, seed: int, where: str, fractions: Any = None,
                n_splits: int = 1) -> list[Split]:
    """Whole groups per part: no group appears in two parts.

    The unique groups (missing values form one group) are shuffled with the split's
    seed; walking them in that order, a group goes to train, val or test according to
    where the middle of its rows falls in the running row count, compared with
    ``n_rows * f0`` and ``n_rows * (f0 + f1)``. Part sizes thus approach the fractions.

    Parameters
    ----------
    n_rows : int
        Number of rows.
    groups : numpy.ndarray
        Group label per row. Required.
    time, y
        Unused.
    seed : int
        Seed; split ``i`` uses the ``i``-th child of ``numpy.random.SeedSequence(seed)``.
    where : str
        Dataset file or name to start error messages with.
    fractions : tuple of 3 floats, default (0.6, 0.2, 0.2)
    n_splits : int, default 1
        Number of splits, ids ``group-0`` … ``group-<n_splits-1>``.

    Returns
    -------
    list of Split
    """
    groups = _column(groups, "group_column", n_rows, "group", where)
    f = _fractions(fractions, "group", where)
    k = _count(n_splits, "n_splits", 1, "group", where)
    lookup = {label: code for code, label in enumerate(dict.fromkeys(groups.tolist()))}
    codes = np.fromiter((lookup[g] for g in groups.tolist()), dtype=np.int64, count=n_rows)
    sizes = np.bincount(codes, minlength=len(lookup))
    edges = [n_rows * f[0], n_rows * (f[0] + f[1])]
    splits = []
    for i, child in enumerate(_seeds(seed, k)):
        perm = np.random.default_rng(child).permutation(len(lookup))
        middles = np.cumsum(sizes[perm]) - sizes[perm] / 2
        part_of_group = np.empty(len(lookup), dtype=np.int64)
        part_of_group[perm] = np.searchsorted(edges, middles, side="right")
        part_of_row = part_of_group[codes]
        parts = [np.flatnonzero(part_of_row == p) for p in range(3)]
        for part, idx in zip(_PARTS, parts, strict=True):
            if idx.size == 0:
                message = (f"{_prefix(where)}split 'group': too few groups: the {part} part "
                           f"is empty ({len(lookup)} groups, {n_rows} rows, fractions {f})")
                raise UnsplittableError(message)
        splits.append(Split(f"group-{i}", *parts))
    return splits
