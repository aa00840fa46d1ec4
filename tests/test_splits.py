"""Tests for tabbench.data.splits: exact indices on tiny literal data, and every error path."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tabbench.data.datasets.dataset import Dataset
from tabbench.data.datasets.spec import DatasetSpec
from tabbench.data.splits import SPLITTERS, Split, make_splits, run_strategies, split_names
from tabbench.exceptions import SplitError, UnknownNameError, UnsplittableError


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
                             "random-all", "random-sliding-window", "random-expanding-window",
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
                       "expanding-window, group, random, random-all, "
                       "random-expanding-window, random-sliding-window, sliding-window, "
                       "stratified, time"):
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


# --- random splits paired with the windows (TabReD's random splits) ----------------------


def tabred_windows(n: int, size: int, k: int = 3) -> list[dict[str, np.ndarray]]:
    """TabReD's sliding windows, as ``preprocessing/weather.py`` L122-141 makes them on rows
    already in time order (docs/tabred/protocol.md, section 1.2)."""
    train_size = n - (k - 1) * size - 2 * size
    windows = [{"train": np.arange(train_size),
                "val": np.arange(train_size, train_size + size),
                "test": np.arange(train_size + size, train_size + 2 * size)}]
    for _ in range(1, k):
        windows.append({part: rows + size for part, rows in windows[-1].items()})
    return windows


def sizes(split: Split) -> tuple[int, int, int]:
    return split.train.size, split.val.size, split.test.size


def test_paired_random_splits_have_tabreds_sliding_window_rows_and_sizes():
    n, size = 28_321, 4_500  # sberbank-housing: N and TabReD's test_val_size
    time = np.arange(n)[::-1]  # rows in reverse time order: window rows are by time, not index
    windows = run("sliding-window", n, time=time, size=size)
    paired = run("random-sliding-window", n, time=time, seed=7, size=size)
    expected = tabred_windows(n, size)
    assert [s.id for s in paired] == [f"random-sliding-window-{i}" for i in range(3)]
    for window, split, tabred in zip(windows, paired, expected, strict=True):
        tabred_rows = {part: np.sort(n - 1 - rows) for part, rows in tabred.items()}
        assert parts(window) == tuple(tabred_rows[p].tolist() for p in ("train", "val", "test"))
        assert sizes(split) == sizes(window) == (10_321, 4_500, 4_500)
        window_rows = np.concatenate([window.train, window.val, window.test])
        assert np.array_equal(np.sort(np.concatenate([split.train, split.val, split.test])),
                              np.sort(window_rows))
        split.check(n_rows=n)
        assert not np.array_equal(split.test, window.test)  # shuffled, not the window again


def test_paired_random_splits_pair_with_fraction_windows_and_expanding_windows():
    n = 28_321
    for window_kind in ("sliding-window", "expanding-window"):
        windows = run(window_kind, n, time=range(n), n_splits=2)
        paired = run(f"random-{window_kind}", n, time=range(n), n_splits=2)
        assert len(paired) == 2
        for window, split in zip(windows, paired, strict=True):
            assert sizes(split) == sizes(window)
            assert set(np.concatenate([split.train, split.val, split.test]).tolist()) == set(
                np.concatenate([window.train, window.val, window.test]).tolist())
    # the default fractions: 12,137 / 4,046 / 4,046, against all-rows random's 60/20/20
    assert [sizes(s) for s in run("random-sliding-window", n, time=range(n))] == [
        (12_137, 4_046, 4_046)] * 3
    assert sizes(run("random", n, time=range(n))[0]) == (16_993, 5_664, 5_664)


def test_paired_random_splits_leave_out_the_windows_gap_rows():
    [window] = run("sliding-window", 40, time=range(40), n_splits=1, gap=2)
    [split] = run("random-sliding-window", 40, time=range(40), n_splits=1, gap=2)
    assert sizes(split) == sizes(window)
    kept = np.concatenate([split.train, split.val, split.test])
    assert set(kept.tolist()) == set(np.concatenate([window.train, window.val,
                                                     window.test]).tolist())


def test_paired_random_splits_are_deterministic_and_seeded():
    first = run("random-sliding-window", 200, time=range(200), seed=3)
    again = run("random-sliding-window", 200, time=range(200), seed=3)
    other = run("random-sliding-window", 200, time=range(200), seed=4)
    assert [parts(s) for s in first] == [parts(s) for s in again]
    assert [parts(s) for s in first] != [parts(s) for s in other]
    made = make_splits(dataset(n=40), "random-sliding-window")
    assert [parts(s) for s in made] == [parts(s) for s in
                                        make_splits(dataset(n=40), "random-sliding-window")]


def test_window_free_random_splits_and_job_ids_are_unchanged():
    """The values were recorded before paired splits existed: a committed leaderboard's
    random jobs keep their ids and rows."""
    import hashlib

    from tabbench.execution.config import BUDGETS
    from tabbench.execution.job import Job

    data = dataset(n=40)
    made = [(s.id, *parts(s)) for strategy, params in [
        ("random", {}), ("random", {"n_splits": 2}), ("time", {}), ("sliding-window", {})]
        for s in make_splits(data, strategy, params)]
    assert hashlib.sha256(repr(made).encode()).hexdigest()[:16] == "0109b94444799fb3"
    ids = {budget: Job(run="r", spec=data.spec, dataset_fingerprint="abc",
                       split_strategy="random", split_id="random-0", model="xgboost",
                       variant="tuned", seed=0, budget=BUDGETS.get(budget),
                       metric="roc_auc").job_id for budget in ("smoke", "quick", "standard")}
    assert ids == {"smoke": "t-random-0-xgboost-tuned-s0-c5a8d42845ff",
                   "quick": "t-random-0-xgboost-tuned-s0-a18ad0ee86a3",
                   "standard": "t-random-0-xgboost-tuned-s0-1820cbf43af3"}
    for names in (["time", "random"], ["random"], ["random", "group", "stratified"]):
        params = {"random": {"n_splits": 2}}
        assert run_strategies(names, params) == [(n, params.get(n, {})) for n in names]


def test_random_beside_windows_means_the_paired_random_splits():
    params = {"sliding-window": {"n_splits": 2}, "random": {"n_splits": 2}}
    assert run_strategies(["random", "time", "sliding-window"], params) == [
        ("random", {"n_splits": 2}), ("random-sliding-window", {"n_splits": 2}),
        ("time", {}), ("sliding-window", {"n_splits": 2})]
    assert run_strategies(["sliding-window", "expanding-window", "random"], {}) == [
        ("sliding-window", {}), ("expanding-window", {}), ("random-sliding-window", {}),
        ("random-expanding-window", {})]
    assert run_strategies(["random-all", "sliding-window"], {}) == [
        ("random-all", {}), ("sliding-window", {})]
    with pytest.raises(SplitError, match=r"^cfg.toml: split_params.random-sliding-window must "
                                         r"be the same as split_params.sliding-window"):
        run_strategies(["random", "sliding-window"], {"sliding-window": {"n_splits": 2},
                                                      "random-sliding-window": {}}, "cfg.toml")


def test_random_all_has_the_rows_of_random_under_its_own_ids():
    data = dataset(n=40)
    every = make_splits(data, "random-all", {"n_splits": 2})
    assert [s.id for s in every] == ["random-all-0", "random-all-1"]
    assert [parts(s) for s in every] == [parts(s) for s in
                                         make_splits(data, "random", {"n_splits": 2})]


@pytest.mark.parametrize(("name", "kwargs", "match"), [
    ("sliding-window", {"size": 0}, r"'sliding-window': size must be an integer >= 1; got 0"),
    ("random-sliding-window", {"size": 2, "fractions": (0.6, 0.2, 0.2)},
     r"'sliding-window': give either fractions or size, not both"),
    ("random-expanding-window", {"size": True}, r"size must be an integer >= 1; got True"),
])
def test_window_size_errors(name, kwargs, match):
    with pytest.raises(SplitError, match=match):
        run(name, 20, time=range(20), **kwargs)


def test_paired_random_split_needs_a_time_column_and_rows_enough():
    with pytest.raises(UnsplittableError, match=r"split 'sliding-window' needs a time_column"):
        run("random-sliding-window", 20)
    with pytest.raises(UnsplittableError, match=r"too few rows: 20 rows give train/val/test "
                                                r"windows of 0/5/5 rows with n_splits=3 and "
                                                r"size 5"):
        run("random-sliding-window", 20, time=range(20), size=5)
