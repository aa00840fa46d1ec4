"""Splits: named train / validation / test index arrays, made by registered splitters.

(Longer than 500 lines: the nine splitters share one set of parameter checks and one
result check, kept beside them.)

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
:func:`make_splits` runs a splitter on a :class:`~tabbench.datasets.dataset.Dataset`
with a seed derived from (fingerprint, strategy, params, seed) and checks the result.

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

import functools
import hashlib
import inspect
import json
import math
import numbers
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from tabbench import _plugin_loader
from tabbench._recent import Recent
from tabbench._registry import Registry
from tabbench.exceptions import SplitError, TabbenchError, UnsplittableError

if TYPE_CHECKING:
    from tabbench.datasets.dataset import Dataset

__all__ = ["ALL_ROWS_RANDOM", "PAIRED_RANDOM", "SPLITTERS", "TIME_KINDS", "Split", "SplitKind",
           "find_split", "is_time_based", "make_splits", "needs_time", "register_splitter",
           "run_strategies", "split_names", "training_subset"]

SplitKind = Literal["time", "sliding-window", "expanding-window", "random", "random-all",
                    "random-sliding-window", "random-expanding-window", "stratified", "group"]
#: Seeded kinds whose split ``i`` does not depend on how many splits are made (it is drawn
#: from the ``i``-th child of the seed), so ``n_splits`` is not part of a split's identity:
#: raising it adds splits and keeps the ones made before, and their results.
COUNT_FREE_KINDS: tuple[str, ...] = ("random", "random-all", "stratified", "group")
#: The random split paired with each windowed time-based strategy: split ``i`` is the rows
#: of window ``i`` shuffled into its sizes (TabReD's random splits). In a run with windows,
#: ``random`` means these (:func:`run_strategies`).
PAIRED_RANDOM: dict[str, str] = {"sliding-window": "random-sliding-window",
                                 "expanding-window": "random-expanding-window"}
#: The all-rows random split under its own name: ``random`` is all-rows only in a run
#: without windows (or beside ``time``).
ALL_ROWS_RANDOM = "random-all"
#: Strategies whose split seeds are derived under another name, so their rows are that
#: strategy's: ``random-all-<i>`` holds ``random-<i>``'s rows.
_SEED_NAMES = {ALL_ROWS_RANDOM: "random"}
DEFAULT_FRACTIONS: tuple[float, float, float] = (0.6, 0.2, 0.2)
_PARTS = ("train", "val", "test")
_COMMON = ("n_rows", "time", "y", "groups", "seed", "where")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: A splitter's name: lowercase words joined by ``-`` (its split ids are ``<name>-<i>``).
SPLIT_NAME = re.compile(r"[a-z]+(?:-[a-z]+)*")

Splitter = Callable[..., list["Split"]]
#: Built-in splitters register here directly; plugins through :func:`tabbench.register_split`.
SPLITTERS: Registry[Splitter] = Registry("split", prepare=_plugin_loader.autoload)
_plugin_loader.track("split", SPLITTERS)


def is_time_based(strategy: str) -> bool:
    """Whether the registered splitter ``strategy`` orders rows by time (declared when it
    was registered): its parts are checked to be ordered in time, and it is skipped on a
    dataset without a time column. An unregistered name is not time-based."""
    return strategy in SPLITTERS and bool(getattr(SPLITTERS.get(strategy), "time_based", False))


class _TimeKinds(Sequence[str]):
    """The names of the registered time-based splitters, read when used (a plugin's
    splitter registered with ``time_based=True`` is one of them)."""

    def _names(self) -> tuple[str, ...]:
        return tuple(name for name in SPLITTERS.names() if is_time_based(name))

    def __getitem__(self, index):  # type: ignore[override]
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and is_time_based(name)

    def __repr__(self) -> str:
        return repr(self._names())


#: The time-based strategies: a live view of the registry (use :func:`is_time_based`).
TIME_KINDS: Sequence[str] = _TimeKinds()


def _prefix(where: str) -> str:
    return f"{where}: " if where else ""


@dataclass(frozen=True, eq=False)
class Split:
    """One train / validation / test split: sorted, disjoint int64 row indices.

    Parameters
    ----------
    id : str
        ``<kind>-<i>``, e.g. ``time-0`` or ``sliding-window-2``.
    train, val, test : numpy.ndarray
        Row indices (converted to int64).
    """

    id: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def __post_init__(self) -> None:
        for part in _PARTS:
            object.__setattr__(self, part, np.asarray(getattr(self, part), dtype=np.int64))

    def check(self, time: np.ndarray | None = None, *, n_rows: int | None = None,
              where: str = "") -> Split:
        """Verify the split; raise :class:`SplitError` saying what does not hold.

        Parameters
        ----------
        time : numpy.ndarray, optional
            The time column; when given (pass it for time-based kinds only), the parts
            must be ordered in time: ``max(time[train]) <= min(time[val])`` and
            ``max(time[val]) <= min(time[test])``.
        n_rows : int, optional
            Number of rows of the dataset; indices must lie in ``[0, n_rows)``.
            Defaults to ``len(time)`` when ``time`` is given.
        where : str
            Dataset file or name to start error messages with.

        Returns
        -------
        Split
            ``self``, so that calls can be chained.
        """
        prefix = f"{_prefix(where)}split {self.id!r}: "
        limit = n_rows if n_rows is not None else (len(time) if time is not None else None)
        for part in _PARTS:
            idx = getattr(self, part)
            problem = ""
            if idx.ndim != 1 or idx.size == 0:
                problem = "must be a non-empty 1-d index array"
            elif np.any(np.diff(idx) <= 0):
                problem = "must be strictly increasing (sorted, no duplicates)"
            elif limit is not None and (idx[0] < 0 or idx[-1] >= limit):
                problem = f"must lie in [0, {limit}); found {idx[0]}..{idx[-1]}"
            if problem:
                message = f"{prefix}the {part} indices {problem}"
                raise SplitError(message)
        # one pass over a row → part table: O(n), unlike pairwise set intersections
        size = max(int(getattr(self, part)[-1]) for part in _PARTS) + 1
        owner = np.full(size, -1, dtype=np.int8)
        for number, part in enumerate(_PARTS):
            idx = getattr(self, part)
            taken = owner[idx]
            if (taken >= 0).any():
                shared = idx[taken >= 0]
                first = _PARTS[int(taken[taken >= 0][0])]
                message = (f"{prefix}the {first} and {part} parts must be disjoint; "
                           f"they share {shared.size} rows (first: {shared[0]})")
                raise SplitError(message)
            owner[idx] = number
        if time is not None:
            time = np.asarray(time)
            for first, second in (("train", "val"), ("val", "test")):
                latest = time[getattr(self, first)].max()
                earliest = time[getattr(self, second)].min()
                if latest > earliest:
                    message = (f"{prefix}the {first} part must end no later than the {second} "
                               f"part starts; found {first} up to time {latest}, "
                               f"{second} from time {earliest}")
                    raise SplitError(message)
        return self


def register_splitter(name: str, fn: Callable[..., list[Split]], *,
                      time_based: bool) -> Splitter:
    """Register ``fn`` as the splitter ``name`` and return the registered wrapper.

    ``fn(n_rows, *, time, y, groups, seed, where, **params)`` returns a list of
    :class:`Split`; it may declare only the keywords it uses (``time``, ``y``, ``groups``,
    ``seed``, ``where``) and its own parameters, which a config's ``split_params`` sets
    (any other parameter is refused with the list of allowed ones). ``time_based`` says
    whether the splitter orders rows by time (see :func:`is_time_based`). Plugins call
    :func:`tabbench.register_split`, which records where the splitter came from.
    """
    declared = inspect.signature(fn).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in declared.values())
    allowed = sorted(p for p, d in declared.items()
                     if p not in _COMMON and d.kind is not inspect.Parameter.VAR_KEYWORD)
    common = [c for c in _COMMON[1:] if takes_any or c in declared]

    @functools.wraps(fn)
    def splitter(n_rows: int, *, time: np.ndarray | None = None, y: np.ndarray | None = None,
                 groups: np.ndarray | None = None, seed: int = 0, where: str = "",
                 **params: Any) -> list[Split]:
        unknown = sorted(set(params) - set(allowed))
        if unknown and not takes_any:
            names = ", ".join(repr(p) for p in unknown)
            message = (f"{_prefix(where)}split {name!r}: unknown parameter {names}; "
                       f"allowed parameters are: {', '.join(allowed) or 'none'}")
            raise SplitError(message)
        given = {"time": time, "y": y, "groups": groups, "seed": seed, "where": where}
        return fn(n_rows, **{c: given[c] for c in common}, **params)

    splitter.time_based = bool(time_based)  # type: ignore[attr-defined]
    SPLITTERS.register(name, splitter)
    return splitter


def _splitter(name: str, *, time_based: bool) -> Callable[[Splitter], Splitter]:
    """Decorator: :func:`register_splitter` for the built-in splitters below."""

    def decorate(fn: Splitter) -> Splitter:
        return register_splitter(name, fn, time_based=time_based)

    return decorate


# --- parameter validation -------------------------------------------------------------


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _fractions(value: Any, name: str, where: str) -> tuple[float, float, float]:
    if value is None:
        return DEFAULT_FRACTIONS
    if not (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 3
            and all(_is_number(f) and f > 0 for f in value)):
        message = (f"{_prefix(where)}split {name!r}: fractions must be 3 positive numbers "
                   f"(train, val, test); got {value!r}")
        raise SplitError(message)
    total = float(sum(value))
    if abs(total - 1.0) > 1e-9:
        message = (f"{_prefix(where)}split {name!r}: fractions {tuple(value)} must sum to 1; "
                   f"they sum to {total:g}")
        raise SplitError(message)
    return (float(value[0]), float(value[1]), float(value[2]))


def _count(value: Any, param: str, minimum: int, name: str, where: str) -> int:
    if not (isinstance(value, numbers.Integral) and not isinstance(value, bool)
            and value >= minimum):
        message = (f"{_prefix(where)}split {name!r}: {param} must be an integer >= {minimum}; "
                   f"got {value!r}")
        raise SplitError(message)
    return int(value)


def _timestamp(value: Any, name: str, where: str) -> int:
    """A cut as int64: integers pass through, ISO strings and datetimes become epoch ns."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            message = (f"{_prefix(where)}split {name!r}: cut {value!r} is not an ISO datetime "
                       "such as '2024-01-31' or '2024-01-31T12:00:00'")
            raise SplitError(message) from None
    if isinstance(value, datetime):
        if value.tzinfo is None:  # naive datetimes are read as UTC, like Polars' epoch
            value = value.replace(tzinfo=UTC)
        delta = value - _EPOCH
        return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    message = (f"{_prefix(where)}split {name!r}: cuts must be integers or ISO datetime "
               f"strings; got {value!r}")
    raise SplitError(message)


def _cuts(value: Any, name: str, where: str) -> tuple[int, int]:
    if not (isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2):
        message = (f"{_prefix(where)}split {name!r}: cuts must be two timestamps "
                   f"(train/val, val/test); got {value!r}")
        raise SplitError(message)
    first, second = (_timestamp(v, name, where) for v in value)
    if first > second:
        message = (f"{_prefix(where)}split {name!r}: cuts must be in increasing order; "
                   f"got {value!r}")
        raise SplitError(message)
    return first, second


def _column(values: np.ndarray | None, column: str, n_rows: int, name: str,
            where: str) -> np.ndarray:
    if values is None:
        message = f"{_prefix(where)}split {name!r} needs a {column}"
        raise UnsplittableError(message)
    values = np.asarray(values)
    if values.shape != (n_rows,):
        message = (f"{_prefix(where)}split {name!r}: the {column} must have one value per row "
                   f"({n_rows}); got shape {values.shape}")
        raise SplitError(message)
    return values


def _time_order(time: np.ndarray | None, n_rows: int, name: str,
                where: str) -> tuple[np.ndarray, np.ndarray]:
    """Row order by time (stable) and the sorted times."""
    time = _column(time, "time_column", n_rows, name, where)
    if time.dtype.kind == "f" and np.isnan(time).any():
        message = (f"{_prefix(where)}split {name!r}: the time_column must have no missing "
                   f"values; found {int(np.isnan(time).sum())}")
        raise SplitError(message)
    order = np.argsort(time, kind="stable")
    return order, time[order]


def _round(x: float) -> int:
    return math.floor(x + 0.5)


def _seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    """One independent seed sequence per split, derived from ``seed``."""
    return np.random.SeedSequence(seed).spawn(n)


# --- time-based splitters -------------------------------------------------------------


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


# --- seeded splitters -----------------------------------------------------------------


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


# --- public entry points --------------------------------------------------------------


def split_names() -> list[str]:
    """Names of the registered splitters, in registration order.

    Returns
    -------
    list of str
    """
    return SPLITTERS.names()


def needs_time(strategy: str) -> bool:
    """Whether ``strategy`` needs a time column: the time-based kinds and the random splits
    paired with windows (skipped, like them, on a dataset without one)."""
    return is_time_based(strategy) or strategy in PAIRED_RANDOM.values()


def run_strategies(strategies: Sequence[str], split_params: dict[str, dict[str, Any]],
                   where: str = "config") -> list[tuple[str, dict[str, Any]]]:
    """The split strategies a run makes from its ``splits`` names, each with its params.

    ``random`` means the random split paired with each time-based strategy of the run, so
    that random-vs-X compares the split type only (TabReD's pairing):

    - beside ``sliding-window`` / ``expanding-window``: ``random-sliding-window`` /
      ``random-expanding-window`` (split ``i`` = window ``i``'s rows reshuffled into its
      sizes, see :data:`PAIRED_RANDOM`), made with the window's ``split_params``;
    - beside ``time``, or when no window is in the run: ``random`` itself, the all-rows
      split sized like the time split (the time split covers all rows).

    A run without windows is unchanged: the same strategies, params, split ids and job ids
    as before paired splits existed. ``random-all`` (:data:`ALL_ROWS_RANDOM`) is the
    all-rows split under a name no pairing changes. Pass the names that apply to one
    dataset (without a time column there are no windows, and ``random`` is all-rows).

    Raises
    ------
    SplitError
        If ``split_params`` sets a paired strategy's params other than its window's (the
        message names the key).
    """
    names = [s.lower() for s in strategies]
    windows = [w for w in names if w in PAIRED_RANDOM]
    made: list[str] = []
    for name in names:
        if name == "random" and windows:
            paired = [PAIRED_RANDOM[w] for w in windows]
            made.extend((["random"] if "time" in names else []) + paired)
        else:
            made.append(name)
    window_of = {paired: window for window, paired in PAIRED_RANDOM.items()}
    result = []
    for name in dict.fromkeys(made):
        params = dict(split_params.get(name, {}))
        window = window_of.get(name)
        if window is not None:
            own = split_params.get(window, {})
            if name in split_params and window in names and params != own:
                message = (f"{where}: split_params.{name} must be the same as "
                           f"split_params.{window} (a paired random split takes its "
                           f"windows' params) or left out; got {params!r} and {own!r}")
                raise SplitError(message)
            if name not in split_params:
                params = dict(own)
        result.append((name, params))
    return result


def identity_params(strategy: str, params: dict[str, Any]) -> dict[str, Any]:
    """The params that determine a split of ``strategy``: all of them, except ``n_splits``
    for the kinds in :data:`COUNT_FREE_KINDS`."""
    if strategy.lower() in COUNT_FREE_KINDS:
        return {k: v for k, v in params.items() if k != "n_splits"}
    return dict(params)


def _derive_seed(fingerprint: str, strategy: str, params: dict[str, Any], seed: int) -> int:
    """A 64-bit seed from the inputs, stable across processes (unlike ``hash()``)."""
    params = identity_params(strategy, params)
    strategy = _SEED_NAMES.get(strategy.lower(), strategy.lower())
    payload = json.dumps([fingerprint, strategy, sorted(params.items()), seed],
                         default=str)
    return int.from_bytes(hashlib.sha256(payload.encode()).digest()[:8], "little")


def make_splits(dataset: Dataset, strategy: str, params: dict[str, Any] | None = None,
                seed: int = 0) -> list[Split]:
    """Split a dataset's rows with a registered strategy, deterministically.

    Parameters
    ----------
    dataset : Dataset
        The loaded dataset; its time, target and group columns are handed to the splitter.
    strategy : str
        A name in :data:`SPLITTERS` (see :func:`split_names`), case-insensitive.
    params : dict, optional
        The splitter's parameters, e.g. ``{"fractions": (0.7, 0.15, 0.15), "gap": 10}``.
    seed : int, default 0
        Combined with the dataset fingerprint, the strategy and the params (through
        SHA-256) into the splitter's seed.

    Returns
    -------
    list of Split
        Checked splits: sorted, disjoint, non-empty and, for time-based kinds, ordered
        in time.

    Raises
    ------
    UnknownNameError
        If ``strategy`` is not registered.
    SplitError
        If the parameters are invalid; :class:`~tabbench.exceptions.UnsplittableError`
        (a subclass) if they are valid but this dataset's rows cannot be split that way
        (too few rows, timestamps that do not separate, too few groups).
    """
    params = dict(params or {})
    where = dataset.spec.where
    splitter = SPLITTERS.get(strategy, where=where)
    time = dataset.time()
    splits = splitter(dataset.n_rows, time=time, y=dataset.target(), groups=dataset.groups(),
                      seed=_derive_seed(dataset.fingerprint, strategy, params, seed),
                      where=where, **params)
    _check_made(splits, strategy.lower(), where)
    ordered_time = time if is_time_based(strategy) else None
    for split in splits:
        split.check(ordered_time, n_rows=dataset.n_rows, where=where)
    return splits


def _check_made(splits: Any, strategy: str, where: str) -> None:
    """A splitter's result is a non-empty list of :class:`Split` with the ids
    ``<strategy>-<i>`` (a plugin's splitter may return anything)."""
    problem = ""
    if not isinstance(splits, list) or not splits:
        problem = f"must return a non-empty list of Split; returned {type(splits).__name__}"
    elif not all(isinstance(split, Split) for split in splits):
        kinds = sorted({type(split).__name__ for split in splits})
        problem = f"must return a list of Split; the list holds {', '.join(kinds)}"
    else:
        ids = [split.id for split in splits]
        wrong = [i for i in ids if not re.fullmatch(rf"{re.escape(strategy)}-\d+", i)]
        if wrong or len(set(ids)) < len(ids):
            problem = (f"must return distinct split ids {strategy}-0, {strategy}-1, …; "
                       f"returned {', '.join(map(repr, ids))}")
    if problem:
        raise SplitError(f"{_prefix(where)}splitter {strategy!r} {problem}")


#: Splits made by :func:`find_split` kept per process (a worker's jobs share them).
_MADE: Recent[list[Split]] = Recent(8)


def _made_splits(dataset: Dataset, strategy: str, params: dict[str, Any]) -> list[Split]:
    """``make_splits(dataset, strategy, params)``, made once per process for the same data
    (its fingerprint and rows), strategy and params; the index arrays are read-only."""
    key = (dataset.fingerprint, dataset.n_rows, strategy,
           json.dumps(params, sort_keys=True, default=str))
    return _MADE.get(key, lambda: _read_only(make_splits(dataset, strategy, params, seed=0)))


def _read_only(splits: list[Split]) -> list[Split]:
    for split in splits:
        for part in (split.train, split.val, split.test):
            part.flags.writeable = False
    return splits


def find_split(dataset: Dataset, split_id: str | None,
               params: dict[str, Any] | None = None) -> Split:
    """The split called ``split_id`` (default ``time-0``, or ``random-0`` without a time column).

    Splits are deterministic, so any process can rebuild the split a job names.

    Raises
    ------
    TabbenchError
        If the id does not name a strategy or a split that the dataset has (the message
        starts with the parameter, ``split``).
    """
    where = dataset.spec.where
    if split_id is None:
        split_id = "time-0" if dataset.spec.time_column else "random-0"
    wanted = split_id.strip().lower()
    match = re.fullmatch(r"([a-z-]+)-(\d+)", wanted)
    if match is None or match.group(1) not in SPLITTERS:
        message = (f"split: unknown split id {split_id!r}; split ids are a strategy and a "
                   f"number, e.g. time-0 or random-0; strategies are: "
                   f"{', '.join(SPLITTERS.names())}")
        raise TabbenchError(message, parameter="split")
    strategy = match.group(1)
    if is_time_based(strategy) and not dataset.spec.time_column:
        raise TabbenchError(f"{where}: split {split_id!r} needs a time column and dataset "
                            f"{dataset.name!r} has none; use random-0")
    splits = _made_splits(dataset, strategy, dict(params or {}))
    for split in splits:
        if split.id == wanted:
            return split
    raise TabbenchError(f"{where}: no split {split_id!r}; the {strategy} strategy makes: "
                        f"{', '.join(s.id for s in splits)}")


def training_subset(split: Split, n_rows: int | None) -> Split:
    """``split`` with only ``n_rows`` of its training rows; validation and test unchanged.

    The rows kept are the first ``n_rows`` of one permutation of the training part, seeded
    by the split's id and its training size, so the subsets of one split are nested (the
    1,250 rows are among the 5,000) and the same for every model and seed; a random subset
    keeps the training period's span (under a time split, the most recent rows alone would
    change recency along with size). ``None`` or a size at least the training part's keeps
    ``split`` as it is.
    """
    if n_rows is None or n_rows >= split.train.size:
        return split
    key = zlib.crc32(f"{split.id}/{split.train.size}".encode())
    kept = np.random.default_rng(key).permutation(split.train.size)[:n_rows]
    return Split(split.id, np.sort(split.train[kept]), split.val, split.test)
