"""The time-based splitters: ``time`` (one contiguous train → val → test split) and the
``sliding-window`` and ``expanding-window`` splits (TabReD's protocol).

Rows are put in time order and rows sharing one timestamp never straddle a boundary.
:func:`_time_split` also sizes the seeded splits (:mod:`tabbench.data.splits.seeded`) and
:func:`_windows` the random splits paired with the windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tabbench.data.splits.base import (
    _PARTS,
    Split,
    _count,
    _cuts,
    _fractions,
    _prefix,
    _round,
    _splitter,
    _time_order,
)
from tabbench.exceptions import SplitError, UnsplittableError


def _blocks(name: str, i: int, order: np.ndarray, t_sorted: np.ndarray, bounds: Sequence[int],
            gap: int, reason: str, where: str) -> Split:
    """Cut the time-ordered rows at ``bounds`` = (train start, val start, test start, end).

    Each boundary moves forward to the end of its tie group; the first ``gap`` rows
    after the train/val and val/test boundaries are dropped.
    """
    n = len(order)
    raw, snapped = [], []
    for b in bounds:
        b = min(max(int(b), 0), n)
        raw.append(max(b, raw[-1]) if raw else b)
        if 0 < b < n and t_sorted[b - 1] == t_sorted[b]:
            b = int(np.searchsorted(t_sorted, t_sorted[b - 1], side="right"))
        snapped.append(max(b, snapped[-1]) if snapped else b)
    parts = {}
    for part, (lo, hi), (raw_lo, raw_hi) in zip(_PARTS, _spans(snapped, gap), _spans(raw, gap),
                                                strict=True):
        if hi <= lo:
            if raw_hi > raw_lo:  # rows enough: a tie group took the part's rows
                raise _TiedTimes(_tied_message(name, part, t_sorted, raw_lo, where))
            message = f"{_prefix(where)}split {name!r}: {reason}: the {part} part is empty"
            raise UnsplittableError(message)
        parts[part] = np.sort(order[lo:hi])
    return Split(f"{name}-{i}", **parts)


def _spans(bounds: Sequence[int], gap: int) -> tuple[tuple[int, int], ...]:
    """(lo, hi) of train, val and test from (train start, val start, test start, end)."""
    start, val_start, test_start, end = bounds
    return (start, val_start), (val_start + gap, test_start), (test_start + gap, end)


class _TiedTimes(UnsplittableError):
    """A time-based part is empty because rows sharing a timestamp stay together."""


def _tied_message(name: str, part: str, t_sorted: np.ndarray, first: int, where: str) -> str:
    """The timestamps do not separate the rows: all share one, or one tie group swallows
    ``part`` (whose first row, without the tie rule, would be ``first``)."""
    n = len(t_sorted)
    if t_sorted[0] == t_sorted[-1]:
        found, needed = f"all {n} rows share one timestamp", "rows at different times"
    else:
        value = t_sorted[min(first, n - 1)]
        size = int(np.searchsorted(t_sorted, value, side="right")
                   - np.searchsorted(t_sorted, value, side="left"))
        found = (f"{size} of the {n} rows share one timestamp "
                 f"({len(np.unique(t_sorted))} distinct timestamps)")
        needed = "more distinct timestamps, or other fractions"
    return (f"{_prefix(where)}split {name!r}: the timestamps do not separate the rows: "
            f"{found}, and rows sharing a timestamp stay in one part, so the {part} part is "
            f"empty; a time-based split needs {needed}")


def _time_split(name: str, n_rows: int, time: np.ndarray | None, where: str, fractions: Any,
                cuts: Any, gap: Any) -> Split:
    gap = _count(gap, "gap", 0, name, where)
    order, t_sorted = _time_order(time, n_rows, name, where)
    if cuts is not None:
        if fractions is not None:
            message = f"{_prefix(where)}split {name!r}: give either fractions or cuts, not both"
            raise SplitError(message)
        first, second = _cuts(cuts, name, where)
        bounds = (0, np.searchsorted(t_sorted, first), np.searchsorted(t_sorted, second), n_rows)
        span = f"times {t_sorted[0]}..{t_sorted[-1]}" if n_rows else "no rows"
        reason = f"no rows between the cuts ({first}, {second}; {span}, gap {gap})"
    else:
        f = _fractions(fractions, name, where)
        bounds = (0, _round(n_rows * f[0]), _round(n_rows * (f[0] + f[1])), n_rows)
        reason = f"too few rows ({n_rows} rows, fractions {f}, gap {gap})"
    return _blocks(name, 0, order, t_sorted, bounds, gap, reason, where)


@_splitter("time", time_based=True)
def split_time(n_rows: int, *, time: np.ndarray | None, y: np.ndarray | None,
               groups: np.ndarray | None, seed: int, where: str, fractions: Any = None,
               cuts: Any = None, gap: int = 0) -> list[Split]:
    """One contiguous train → val → test split in time order (id ``time-0``).

    Parameters
    ----------
    n_rows : int
        Number of rows.
    time : numpy.ndarray
        Time column (int64; datetimes as epoch nanoseconds). Required.
    y, groups, seed
        Unused.
    where : str
        Dataset file or name to start error messages with.
    fractions : tuple of 3 floats, default (0.6, 0.2, 0.2)
        Part sizes as fractions of the rows: boundaries at ``round(n * f0)`` and
        ``round(n * (f0 + f1))`` in time order.
    cuts : tuple of 2 timestamps, optional
        Instead of fractions: ``train = time < c1``, ``val = c1 <= time < c2``,
        ``test = time >= c2``. Integers, or ISO datetime strings (read as UTC).
    gap : int, default 0
        Rows dropped after each boundary (the first ``gap`` rows of val and of test).

    Returns
    -------
    list of Split
        One split. A boundary inside a group of equal timestamps moves forward to the
        end of that group.
    """
    return [_time_split("time", n_rows, time, where, fractions, cuts, gap)]


def _windows(name: str, n_rows: int, time: np.ndarray | None, where: str, n_splits: Any,
             fractions: Any, size: Any, gap: Any, expanding: bool) -> list[Split]:
    k = _count(n_splits, "n_splits", 1, name, where)
    gap = _count(gap, "gap", 0, name, where)
    if size is not None:
        if fractions is not None:
            message = f"{_prefix(where)}split {name!r}: give either fractions or size, not both"
            raise SplitError(message)
        test = val = _count(size, "size", 1, name, where)
        shape = f"size {test}"
    else:
        f = _fractions(fractions, name, where)
        width = n_rows / (1 + (k - 1) * f[2])
        test = _round(width * f[2])
        val = _round(width * f[1])
        shape = f"fractions {f}"
    order, t_sorted = _time_order(time, n_rows, name, where)
    train = n_rows - val - k * test
    if min(train, val, test) < 1:
        message = (f"{_prefix(where)}split {name!r}: too few rows: {n_rows} rows give "
                   f"train/val/test windows of {train}/{val}/{test} rows with "
                   f"n_splits={k} and {shape}")
        raise UnsplittableError(message)
    reason = f"too few rows ({n_rows} rows, n_splits {k}, {shape}, gap {gap})"
    splits = []
    for i in range(k):
        shift = i * test
        bounds = (0 if expanding else shift, shift + train, shift + train + val,
                  shift + train + val + test)
        splits.append(_blocks(name, i, order, t_sorted, bounds, gap, reason, where))
    return splits


_WINDOW_DOC = """Several time splits moving forward in time (TabReD's protocol).

    Rows are put in time order. With ``k = n_splits`` and ``fractions = (f0, f1, f2)``, one
    window is ``W = n_rows / (1 + (k - 1) * f2)`` rows, so that ``k`` windows shifted by
    the test size fit exactly; then ``S = round(W * f2)`` (test size and shift),
    ``V = round(W * f1)`` (val size) and ``T = n_rows - V - k * S`` (train size of the
    first split). With ``size`` instead of fractions, ``S = V = size`` and so
    ``T = n_rows - (k + 1) * size``: TabReD's windows (its ``test_val_size``; ``T = N - 4S``
    with its ``k = 3``). Split ``i`` (``0 <= i < k``), with ``s = i * S``, has
    ``val = [s + T, s + T + V)`` and ``test = [s + T + V, s + T + V + S)`` in time
    order, so the last test part ends at the last row. ``sliding-window`` has
    ``train = [s, s + T)`` (fixed size); ``expanding-window`` has ``train = [0, s + T)``.
    Both kinds share the val and test parts of each split ``i``. As in ``time``,
    boundaries move forward past tied timestamps and ``gap`` rows are dropped after
    the train/val and val/test boundaries.

    Parameters
    ----------
    n_rows : int
        Number of rows.
    time : numpy.ndarray
        Time column. Required.
    y, groups, seed
        Unused.
    where : str
        Dataset file or name to start error messages with.
    n_splits : int, default 3
        Number of splits ``k``.
    fractions : tuple of 3 floats, default (0.6, 0.2, 0.2)
        Relative train/val/test sizes of the first window.
    size : int, optional
        Instead of fractions: the rows of each val and test part, and the shift.
    gap : int, default 0
        Rows dropped after each boundary.

    Returns
    -------
    list of Split
        Ids ``<kind>-0`` … ``<kind>-<k-1>``, oldest first.

    Examples
    --------
    20 rows, ``n_splits=3``, default fractions: ``W = 14.29``, ``S = V = 3``, ``T = 8``;
    split 1 of ``sliding-window`` is train 3..10, val 11..13, test 14..16.
    """


@_splitter("sliding-window", time_based=True)
def split_sliding_window(n_rows: int, *, time: np.ndarray | None, y: np.ndarray | None,
                         groups: np.ndarray | None, seed: int, where: str, n_splits: int = 3,
                         fractions: Any = None, size: int | None = None,
                         gap: int = 0) -> list[Split]:
    return _windows("sliding-window", n_rows, time, where, n_splits, fractions, size, gap,
                    expanding=False)


@_splitter("expanding-window", time_based=True)
def split_expanding_window(n_rows: int, *, time: np.ndarray | None, y: np.ndarray | None,
                           groups: np.ndarray | None, seed: int, where: str, n_splits: int = 3,
                           fractions: Any = None, size: int | None = None,
                           gap: int = 0) -> list[Split]:
    return _windows("expanding-window", n_rows, time, where, n_splits, fractions, size, gap,
                    expanding=True)


split_sliding_window.__doc__ = _WINDOW_DOC
split_expanding_window.__doc__ = _WINDOW_DOC
