"""The :class:`Split` data class, the splitter registry and the parameter checks the
splitters share.

Splitters register in :data:`SPLITTERS` through :func:`register_splitter` (the built-in
ones with the :func:`_splitter` decorator, in :mod:`tabbench.data.splits.temporal` and
:mod:`tabbench.data.splits.seeded`); :func:`is_time_based` and :data:`TIME_KINDS` read what they
declared. The ``_``-prefixed helpers validate a splitter's parameters and columns, with
error messages that start with the dataset and the splitter's name.
"""

from __future__ import annotations

import functools
import inspect
import math
import numbers
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from tabbench.core import _plugin_loader
from tabbench.core._registry import Registry
from tabbench.exceptions import SplitError, UnsplittableError

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
