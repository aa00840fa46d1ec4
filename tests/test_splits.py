"""Tests for tabbench.splits: exact indices on tiny literal data, and every error path."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tabbench.datasets.dataset import Dataset
from tabbench.datasets.spec import DatasetSpec
from tabbench.exceptions import SplitError, UnknownNameError, UnsplittableError
from tabbench.splits import SPLITTERS, Split, make_splits, split_names


def run(name: str, n_rows: int, *, time=None, y=None, groups=None, seed=0, **params):
    return SPLITTERS.get(name)(n_rows, time=None if time is None else np.asarray(time),
                               y=None if y is None else np.asarray(y),
                               groups=None if groups is None else np.asarray(groups),
                               seed=seed, where="data/t.toml", **params)


def parts(split: Split) -> tuple[list[int], list[int], list[int]]:
    return split.train.tolist(), split.val.tolist(), split.test.tolist()


def dataset(task: str = "binary", n: int = 10, fingerprint: str = "abc") -> Dataset:
    classes = (0, 1) if task == "binary" else ()
    y = [i % 2 for i in range(n)] if task == "binary" else [float(i) for i in range(n)]
    spec = DatasetSpec(name="t", task=task, target="y", generator="x", time_column="ts",
                       group_column="g")
    frame = pl.DataFrame({"ts": list(range(n, 0, -1)), "x": [0.5] * n, "y": y,
                          "g": [i // 2 for i in range(n)]})
    return Dataset(spec=spec, frame=frame, features={"x": "numeric"}, fingerprint=fingerprint,
                   classes=classes)


def test_registry_names():
    assert split_names() == ["time", "sliding-window", "expanding-window", "random",
                             "stratified", "group"]


# --- time ---------------------------------------------------------------------------


def test_time_default_fractions():
    [split] = run("time", 10, time=range(10))
    assert split.id == "time-0"
    assert parts(split) == ([0, 1, 2, 3, 4, 5], [6, 7], [8, 9])
    assert split.train.dtype == np.int64


def test_time_unsorted_input():
    [split] = run("time", 10, time=[5, 0, 9, 3, 7, 1, 8, 2, 6, 4])
    assert parts(split) == ([0, 1, 3, 5, 7, 9], [4, 8], [2, 6])


@pytest.mark.parametrize(("time", "expected"), [
    ([0, 1, 2, 3, 4, 4, 4, 5, 6, 7], ([0, 1, 2, 3, 4, 5, 6], [7], [8, 9])),
    ([0, 1, 2, 3, 4, 5, 6, 7, 7, 8], ([0, 1, 2, 3, 4, 5], [6, 7, 8], [9])),
])
def test_time_ties_never_straddle(time, expected):
    [split] = run("time", 10, time=time)
    assert parts(split) == expected
    split.check(np.asarray(time))


def test_time_gap():
    [split] = run("time", 10, time=range(10), gap=1)
    assert parts(split) == ([0, 1, 2, 3, 4, 5], [7], [9])


def test_time_fractions():
    [split] = run("time", 10, time=range(10), fractions=(0.5, 0.3, 0.2))
    assert parts(split) == ([0, 1, 2, 3, 4], [5, 6, 7], [8, 9])


def test_time_integer_cuts():
    [split] = run("time", 10, time=np.arange(10) * 10, cuts=(35, 70))
    assert parts(split) == ([0, 1, 2, 3], [4, 5, 6], [7, 8, 9])


def test_time_datetime_cuts():
    days = np.arange("2024-01-01", "2024-01-11", dtype="datetime64[D]")
    time = days.astype("datetime64[ns]").astype(np.int64)
    [split] = run("time", 10, time=time, cuts=("2024-01-05", "2024-01-08T00:00:00"))
    assert parts(split) == ([0, 1, 2, 3], [4, 5, 6], [7, 8, 9])


# --- windows ------------------------------------------------------------------------


def test_sliding_window():
    splits = run("sliding-window", 20, time=range(20))
    assert [s.id for s in splits] == ["sliding-window-0", "sliding-window-1", "sliding-window-2"]
    assert [parts(s) for s in splits] == [
        (list(range(0, 8)), [8, 9, 10], [11, 12, 13]),
        (list(range(3, 11)), [11, 12, 13], [14, 15, 16]),
        (list(range(6, 14)), [14, 15, 16], [17, 18, 19]),
    ]


def test_expanding_window():
    splits = run("expanding-window", 20, time=range(20), n_splits=2)
    # W = 20 / 1.2 = 16.67 -> S = V = 3, T = 20 - 3 - 2 * 3 = 11
    assert [s.id for s in splits] == ["expanding-window-0", "expanding-window-1"]
    assert [parts(s) for s in splits] == [
        (list(range(0, 11)), [11, 12, 13], [14, 15, 16]),
        (list(range(0, 14)), [14, 15, 16], [17, 18, 19]),
    ]


def test_windows_reverse_time_order():
    splits = run("sliding-window", 20, time=range(20, 0, -1))
    assert parts(splits[-1]) == (list(range(6, 14)), [3, 4, 5], [0, 1, 2])


# --- random and stratified ----------------------------------------------------------


def test_random_sizes_match_time_split_and_seed_determinism():
    time = [0, 1, 2, 3, 4, 4, 4, 5, 6, 7]  # ties give the time split 7/1/2 rows
    [first] = run("random", 10, time=time, seed=1)
    [again] = run("random", 10, time=time, seed=1)
    [other] = run("random", 10, time=time, seed=2)
    assert [p.size for p in (first.train, first.val, first.test)] == [7, 1, 2]
    assert parts(first) == parts(again)
    assert parts(first) != parts(other)
    assert first.id == "random-0"
    first.check(n_rows=10)


def test_random_without_time_and_n_splits():
    splits = run("random", 10, n_splits=3, seed=0)
    assert [s.id for s in splits] == ["random-0", "random-1", "random-2"]
    assert all([p.size for p in (s.train, s.val, s.test)] == [6, 2, 2] for s in splits)
    assert parts(splits[0]) != parts(splits[1])
    for split in splits:
        split.check(n_rows=10)


def test_random_gap_shrinks_sizes_like_time():
    [split] = run("random", 10, gap=1)
    assert [p.size for p in (split.train, split.val, split.test)] == [6, 1, 1]


def test_stratified_keeps_proportions():
    y = [0] * 10 + [1] * 10
    [split] = run("stratified", 20, y=y, seed=3)
    y = np.asarray(y)
    assert [np.bincount(y[p]).tolist() for p in (split.train, split.val, split.test)] == [
        [6, 6], [2, 2], [2, 2]]
    split.check(n_rows=20)
    [again] = run("stratified", 20, y=y, seed=3)
    assert parts(split) == parts(again)


# --- group --------------------------------------------------------------------------


def test_group_never_shares_a_group():
    groups = np.repeat(np.array(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"]), 3)
    splits = run("group", 30, groups=groups, n_splits=2, seed=5)
    assert [s.id for s in splits] == ["group-0", "group-1"]
    for split in splits:
        split.check(n_rows=30)
        seen = [set(groups[p].tolist()) for p in (split.train, split.val, split.test)]
        assert not (seen[0] & seen[1] or seen[0] & seen[2] or seen[1] & seen[2])
        assert [p.size for p in (split.train, split.val, split.test)] == [18, 6, 6]


# --- Split.check ----------------------------------------------------------------------


@pytest.mark.parametrize(("split", "match"), [
    (Split("x-0", [0, 1], [1, 2], [3]), "train and val parts must be disjoint"),
    (Split("x-0", [1, 0], [2], [3]), "train indices must be strictly increasing"),
    (Split("x-0", [0], [], [3]), "val indices must be a non-empty"),
    (Split("x-0", [0], [1], [9]), r"test indices must lie in \[0, 4\)"),
])
def test_check_errors(split, match):
    with pytest.raises(SplitError, match=match):
        split.check(n_rows=4, where="data/t.toml")


def test_check_time_order():
    split = Split("time-0", [0, 1], [2], [3])
    split.check(np.array([0, 1, 1, 2]))
    with pytest.raises(SplitError, match="train part must end no later than the val part"):
        split.check(np.array([0, 5, 1, 2]))


# --- errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "n_rows", "kwargs", "match"), [
    ("time", 10, {"time": range(10), "fractions": (0.5, 0.2, 0.2)},
     r"data/t.toml: split 'time': fractions \(0.5, 0.2, 0.2\) must sum to 1; they sum to 0.9"),
    ("time", 10, {"time": range(10), "fractions": (0.5, 0.5)}, "must be 3 positive numbers"),
    ("random", 10, {"fractions": (1.2, -0.1, -0.1)}, "must be 3 positive numbers"),
    ("time", 5, {"time": range(5), "fractions": (0.5, 0.05, 0.45)},
     "too few rows .*: the val part is empty"),
    ("time", 2, {"time": range(2)}, "too few rows .*: the test part is empty"),
    ("time", 10, {"time": range(10), "gap": 2}, "the val part is empty"),
    ("time", 10, {"time": range(10), "cuts": (3, 20)}, "no rows between the cuts .*: the test part"),
    ("time", 10, {"time": [0] * 10}, "the val part is empty"),
    ("time", 10, {}, "data/t.toml: split 'time' needs a time_column"),
    ("sliding-window", 10, {}, "split 'sliding-window' needs a time_column"),
    ("time", 10, {"time": range(10), "foo": 1},
     "split 'time': unknown parameter 'foo'; allowed parameters are: cuts, fractions, gap"),
    ("group", 10, {"groups": range(10), "cuts": (1, 2)},
     "allowed parameters are: fractions, n_splits"),
    ("time", 10, {"time": range(10), "cuts": (1, 2), "fractions": (0.6, 0.2, 0.2)},
     "either fractions or cuts, not both"),
    ("time", 10, {"time": range(10), "cuts": (5, 2)}, "cuts must be in increasing order"),
    ("time", 10, {"time": range(10), "cuts": ("2024-13-45", 2)}, "not an ISO datetime"),
    ("time", 10, {"time": range(10), "cuts": (1,)}, "cuts must be two timestamps"),
    ("time", 10, {"time": range(10), "gap": -1}, "gap must be an integer >= 0"),
    ("time", 10, {"time": range(9)}, r"one value per row \(10\)"),
    ("time", 3, {"time": [0.0, np.nan, 1.0]}, "no missing values; found 1"),
    ("sliding-window", 4, {"time": range(4)}, "too few rows: 4 rows give"),
    ("expanding-window", 20, {"time": range(20), "n_splits": 0}, "n_splits must be an integer >= 1"),
    ("random", 10, {"cuts": (1, 2)}, "split 'random': cuts need a time_column"),
    ("random", 2, {}, "split 'random': too few rows"),
    ("stratified", 4, {"y": [0.5, 1.5, 2.5, 3.5]}, "needs a classification task"),
    ("stratified", 4, {}, "needs a classification task"),
    ("stratified", 10, {"y": [0] * 9 + [1]}, "class 1 has 1"),
    ("stratified", 10, {"y": [0, 1, 2] * 3 + [2]}, "cannot stratify 6/2/2 rows"),
    ("group", 10, {}, "split 'group' needs a group_column"),
    ("group", 10, {"groups": [0] * 5 + [1] * 5}, "too few groups: the .* part is empty"),
])
def test_errors(name, n_rows, kwargs, match):
    with pytest.raises(SplitError, match=match):
        run(name, n_rows, **kwargs)


@pytest.mark.parametrize(("name", "time", "match"), [
    ("time", [7] * 10, r"^data/t.toml: split 'time': the timestamps do not separate the rows: "
                       r"all 10 rows share one timestamp, and rows sharing a timestamp stay in "
                       r"one part, so the val part is empty; a time-based split needs rows at "
                       r"different times$"),
    ("time", [0] * 8 + [1, 2], r"8 of the 10 rows share one timestamp \(3 distinct "
                               r"timestamps\), .* so the val part is empty; .* needs more "
                               r"distinct timestamps, or other fractions"),
    ("sliding-window", [3] * 20, "split 'sliding-window': the timestamps do not separate the "
                                 "rows: all 20 rows share one timestamp"),
])
def test_timestamps_that_do_not_separate_the_rows_say_so(name, time, match):
    # was: "too few rows (10 rows, fractions (0.6, 0.2, 0.2), gap 0): the val part is empty"
    with pytest.raises(UnsplittableError, match=match):
        run(name, len(time), time=time)


def test_random_split_sizes_come_from_the_fractions_when_timestamps_do_not_separate():
    [split] = run("random", 10, time=[7] * 10)
    assert (split.train.size, split.val.size, split.test.size) == (6, 2, 2)
    with pytest.raises(UnsplittableError, match="no rows between the cuts"):
        run("random", 10, time=[7] * 10, cuts=(5, 9))


@pytest.mark.parametrize(("name", "n_rows", "kwargs", "data"), [
    ("time", 2, {"time": range(2)}, True),
    ("sliding-window", 4, {"time": range(4)}, True),
    ("group", 10, {"groups": [0] * 5 + [1] * 5}, True),
    ("stratified", 10, {"y": [0] * 9 + [1]}, True),
    ("group", 10, {}, True),
    ("time", 10, {"time": range(10), "fractions": (0.5, 0.5)}, False),
    ("time", 10, {"time": range(10), "foo": 1}, False),
    ("random", 10, {"cuts": (1, 2)}, False),
])
def test_the_data_or_the_parameters_are_told_apart(name, n_rows, kwargs, data):
    """A run skips a strategy the data cannot make (UnsplittableError) and stops on bad
    parameters (any other SplitError)."""
    with pytest.raises(SplitError) as caught:
        run(name, n_rows, **kwargs)
    assert isinstance(caught.value, UnsplittableError) is data


def test_unknown_splitter_name():
    with pytest.raises(UnknownNameError, match="unknown split 'nope'; valid names are: "
                       "expanding-window, group, random, sliding-window, stratified, time"):
        SPLITTERS.get("nope")


# --- make_splits --------------------------------------------------------------------


def test_make_splits_time_uses_dataset_time():
    [split] = make_splits(dataset(), "time")  # ts runs 10, 9, ..., 1
    assert parts(split) == ([4, 5, 6, 7, 8, 9], [2, 3], [0, 1])


def test_make_splits_is_deterministic():
    first = make_splits(dataset(), "Random", {"n_splits": 2}, seed=0)
    again = make_splits(dataset(), "random", {"n_splits": 2}, seed=0)
    other_seed = make_splits(dataset(), "random", {"n_splits": 2}, seed=1)
    other_data = make_splits(dataset(fingerprint="xyz"), "random", {"n_splits": 2}, seed=0)
    assert [parts(s) for s in first] == [parts(s) for s in again]
    assert [parts(s) for s in first] != [parts(s) for s in other_seed]
    assert [parts(s) for s in first] != [parts(s) for s in other_data]


def test_make_splits_group_and_windows():
    [split] = make_splits(dataset(n=20), "group")
    groups = np.arange(20) // 2
    assert not set(groups[split.train]) & set(groups[split.test])
    assert len(make_splits(dataset(n=20), "sliding-window")) == 3


def test_make_splits_stratified_needs_classification():
    with pytest.raises(SplitError, match="split 'stratified' needs a classification task"):
        make_splits(dataset("regression"), "stratified")


def test_make_splits_unknown_name_and_param():
    with pytest.raises(UnknownNameError, match=r"^t: unknown split 'bogus'; valid names are: "):
        make_splits(dataset(), "bogus")
    with pytest.raises(SplitError, match=r"^t: split 'random': unknown parameter 'size'"):
        make_splits(dataset(), "random", {"size": 3})


@pytest.mark.parametrize("strategy", ["random", "group"])
def test_more_seeded_splits_keep_the_ones_made_before(strategy):
    # raising n_splits adds splits: the first ones (and so their jobs' results) stay
    one = make_splits(dataset(n=20), strategy)
    three = make_splits(dataset(n=20), strategy, {"n_splits": 3})
    assert len(three) == 3 and three[0].id == one[0].id
    for part in ("train", "val", "test"):
        assert np.array_equal(getattr(three[0], part), getattr(one[0], part))
    assert not np.array_equal(three[1].test, three[0].test)  # the second draws other rows


def test_window_count_is_part_of_a_windows_identity():
    two = make_splits(dataset(n=30), "sliding-window", {"n_splits": 2})
    three = make_splits(dataset(n=30), "sliding-window", {"n_splits": 3})
    assert not np.array_equal(two[0].test, three[0].test)
