"""The entry points: the strategies a run makes (:func:`run_strategies`), a dataset's splits
made and checked with a derived seed (:func:`make_splits`), one split found by its id
(:func:`find_split`, kept per process) and a nested training subset
(:func:`training_subset`).
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tabbench.core._recent import Recent
from tabbench.data.splits.base import (
    _SEED_NAMES,
    COUNT_FREE_KINDS,
    PAIRED_RANDOM,
    SPLITTERS,
    Split,
    _prefix,
    is_time_based,
)
from tabbench.exceptions import SplitError, TabbenchError

if TYPE_CHECKING:
    from tabbench.data.datasets.dataset import Dataset

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
