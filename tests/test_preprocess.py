from __future__ import annotations

import inspect
import math
import time

import numpy as np
import polars as pl
import pytest

from tabbench.exceptions import DatasetError, UnknownNameError
from tabbench.methods.models.base import FitContext
from tabbench.methods.preprocess import MAX_ONE_HOT, make_preprocessor

NAN = math.nan

FEATURES = {"x": "numeric", "flag": "boolean", "city": "categorical", "code": "categorical"}


def train_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "x": [1.0, None, 3.0, 4.0],
            "flag": [True, False, None, True],
            "city": ["oslo", "bergen", None, "oslo"],
            "code": [30, 10, 20, None],
            "target": [0, 1, 0, 1],
        }
    )


def garbage_frame() -> pl.DataFrame:
    """Rows unlike anything in training: new categories, extreme values, missing values."""
    return pl.DataFrame(
        {
            "x": [1e300, -1e300, None, float("inf")],
            "flag": [None, None, False, True],
            "city": ["tromsø", None, "oslo", "lima"],
            "code": [999, None, 10, -5],
            "target": [5, 5, 5, 5],
        }
    )


def assert_same(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_array_equal(a, b)  # NaN equals NaN here


# --- gbdt ----------------------------------------------------------------------------------


def test_gbdt_encodes_categories_as_sorted_codes():
    pre = make_preprocessor("gbdt").fit(train_frame(), FEATURES)
    X = pre.transform(train_frame())
    assert X.dtype == np.float32 and X.flags.c_contiguous
    assert pre.feature_names_ == ("x", "flag", "city", "code")
    assert pre.categorical_ == (2, 3)
    assert pre.cardinalities_ == (2, 3)
    expected = np.array(
        [
            [1.0, 1.0, 1.0, 2.0],  # oslo → 1 (bergen < oslo); 30 → 2 (10 < 20 < 30)
            [NAN, 0.0, 0.0, 0.0],
            [3.0, NAN, NAN, 1.0],
            [4.0, 1.0, 1.0, NAN],
        ],
        dtype=np.float32,
    )
    assert_same(X, expected)


def test_gbdt_unseen_and_missing_become_nan_and_extremes_stay_finite():
    pre = make_preprocessor("gbdt").fit(train_frame(), FEATURES)
    X = pre.transform(garbage_frame())
    big = np.finfo(np.float32).max
    expected = np.array(
        [
            [big, NAN, NAN, NAN],
            [-big, NAN, NAN, NAN],
            [NAN, 0.0, 1.0, 0.0],
            [big, 1.0, NAN, NAN],
        ],
        dtype=np.float32,
    )
    assert_same(X, expected)


def test_gbdt_accepts_polars_categorical_and_enum_columns():
    frame = pl.DataFrame(
        {
            "a": pl.Series(["b", "a", None, "b"], dtype=pl.Categorical),
            "e": pl.Series(["y", "x", "x", None], dtype=pl.Enum(["y", "x", "z"])),
        }
    )
    pre = make_preprocessor("gbdt").fit(frame, {"a": "categorical", "e": "categorical"})
    assert_same(
        pre.transform(frame),
        np.array([[1, 1], [0, 0], [NAN, 0], [1, NAN]], dtype=np.float32),
    )
    new = pl.DataFrame({"a": ["c", "a"], "e": ["z", "y"]})  # plain strings, unseen values
    assert_same(pre.transform(new), np.array([[NAN, NAN], [0, 1]], dtype=np.float32))


def test_gbdt_column_missing_everywhere_in_train():
    frame = pl.DataFrame({"c": pl.Series([None, None], dtype=pl.String), "x": [1.0, 2.0]})
    pre = make_preprocessor("gbdt").fit(frame, {"c": "categorical", "x": "numeric"})
    assert pre.cardinalities_ == (0,)
    X = pre.transform(pl.DataFrame({"c": ["a", None], "x": [3.0, None]}))
    assert_same(X, np.array([[NAN, 3.0], [NAN, NAN]], dtype=np.float32))


# --- classic -------------------------------------------------------------------------------


def test_classic_imputes_standardizes_and_flags_missing():
    pre = make_preprocessor("classic").fit(train_frame(), FEATURES)
    assert pre.categorical_ == ()
    assert pre.cardinalities_ == ()
    assert pre.feature_names_ == (
        "x",
        "x__missing",
        "flag",
        "flag__missing",
        "city=oslo",
        "city=bergen",
        "code=10",
        "code=20",
        "code=30",
    )
    X = pre.transform(train_frame())
    assert X.dtype == np.float32 and X.flags.c_contiguous
    x = np.array([1.0, 3.0, 3.0, 4.0])  # None → median of 1, 3, 4
    np.testing.assert_allclose(X[:, 0], (x - x.mean()) / x.std(), rtol=1e-6)
    assert_same(X[:, 1], np.array([0, 1, 0, 0], dtype=np.float32))
    flag = np.array([1.0, 0.0, 1.0, 1.0])  # None → median of 1, 0, 1
    np.testing.assert_allclose(X[:, 2], (flag - flag.mean()) / flag.std(), rtol=1e-6)
    assert_same(X[:, 4:6], np.array([[1, 0], [0, 1], [0, 0], [1, 0]], dtype=np.float32))
    assert_same(X[:, 6:], np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float32))


def test_classic_no_indicator_without_missing_values_in_train():
    frame = pl.DataFrame({"x": [1.0, 2.0, 3.0]})
    pre = make_preprocessor("classic").fit(frame, {"x": "numeric"})
    assert pre.feature_names_ == ("x",)
    X = pre.transform(pl.DataFrame({"x": [None, 2.0]}))  # missing at test time: the median
    assert_same(X, np.array([[0.0], [0.0]], dtype=np.float32))


def test_classic_one_hot_keeps_the_most_frequent_categories():
    values = [f"c{i:02d}" for i in range(25) for _ in range(i + 1)]  # c24 is the most frequent
    frame = pl.DataFrame({"c": values})
    pre = make_preprocessor("classic").fit(frame, {"c": "categorical"})
    assert len(pre.feature_names_) == MAX_ONE_HOT
    assert pre.feature_names_[:3] == ("c=c24", "c=c23", "c=c22")
    assert "c=c04" not in pre.feature_names_
    X = pre.transform(pl.DataFrame({"c": ["c24", "c04", "never-seen", None]}))
    assert X[0].sum() == 1 and X[0, 0] == 1
    assert not X[1:].any()


def test_classic_unseen_and_extreme_values_never_raise():
    pre = make_preprocessor("classic").fit(train_frame(), FEATURES)
    X = pre.transform(garbage_frame())
    assert np.isfinite(X).all()
    assert np.abs(X).max() <= 1e6


# --- nothing is learned outside the training rows ------------------------------------------


@pytest.mark.parametrize("family", ["gbdt", "classic"])
def test_nothing_is_learned_from_validation_or_test_rows(family):
    rng = np.random.default_rng(0)
    n = 60
    full = pl.DataFrame(
        {
            "x": rng.normal(size=n),
            "flag": rng.random(n) > 0.5,
            "city": rng.choice(["a", "b", "c"], n),
            "code": rng.integers(0, 4, n),
        }
    )
    train, other = np.arange(0, 40), np.arange(40, n)
    # The same table with every non-training row replaced by garbage.
    garbage = pl.DataFrame(
        {
            "x": np.full(other.size, 1e12),
            "flag": [None] * other.size,
            "city": [f"new-{i}" for i in range(other.size)],
            "code": np.arange(100, 100 + other.size),
        },
        schema=full.schema,
    )
    tampered = pl.concat([full[train], garbage])

    pre = make_preprocessor(family).fit(full[train], FEATURES)
    state = (pre.feature_names_, pre.categorical_, pre.cardinalities_)
    X_train = pre.transform(full[train])

    pre.transform(tampered[other])  # transforming other rows changes nothing
    assert (pre.feature_names_, pre.categorical_, pre.cardinalities_) == state
    assert_same(pre.transform(full[train]), X_train)

    refit = make_preprocessor(family).fit(tampered[train], FEATURES)
    assert (refit.feature_names_, refit.categorical_, refit.cardinalities_) == state
    assert_same(refit.transform(tampered[train]), X_train)
    assert_same(refit.transform(full[other]), pre.transform(full[other]))


def test_fit_only_receives_the_frame_and_its_feature_kinds():
    params = list(inspect.signature(make_preprocessor("gbdt").fit).parameters)
    assert params == ["frame", "features"]


def test_classic_statistics_come_from_train_rows_only():
    train = pl.DataFrame({"x": [0.0, 2.0]})
    pre = make_preprocessor("classic").fit(train, {"x": "numeric"})
    X = pre.transform(pl.DataFrame({"x": [0.0, 2.0, 100.0]}))
    assert_same(X[:, 0], np.array([-1.0, 1.0, 99.0], dtype=np.float32))


# --- API -----------------------------------------------------------------------------------


def test_fit_context_describes_the_output():
    pre = make_preprocessor("gbdt").fit(train_frame(), FEATURES)
    context = pre.fit_context("binary", 2, seed=3, n_threads=2, device="cpu")
    assert context == FitContext(
        task="binary",
        n_classes=2,
        feature_names=("x", "flag", "city", "code"),
        categorical=(2, 3),
        cardinalities=(2, 3),
        seed=3,
        n_threads=2,
        device="cpu",
    )


def test_transform_before_fit_raises():
    with pytest.raises(RuntimeError, match="not fitted"):
        make_preprocessor("gbdt").transform(train_frame())


def test_missing_feature_column_raises():
    pre = make_preprocessor("gbdt").fit(train_frame(), FEATURES)
    with pytest.raises(DatasetError, match=r"feature columns \['city'\] are missing"):
        pre.transform(train_frame().drop("city"))
    with pytest.raises(DatasetError, match=r"feature columns \['nope'\] are not in the frame"):
        make_preprocessor("classic").fit(train_frame(), {"nope": "numeric"})


def test_unknown_kind_and_family_raise():
    with pytest.raises(DatasetError, match="kind 'text'; allowed kinds are: numeric"):
        make_preprocessor("gbdt").fit(train_frame(), {"x": "text"})
    with pytest.raises(UnknownNameError, match="unknown preprocessing family 'deep'"):
        make_preprocessor("deep")


def test_empty_feature_set_keeps_the_rows():
    pre = make_preprocessor("gbdt").fit(train_frame(), {})
    assert pre.transform(train_frame()).shape == (4, 0)


@pytest.mark.slow
def test_gbdt_transform_is_fast_on_300k_rows():
    rng = np.random.default_rng(0)
    n = 300_000
    levels = np.array([f"v{i}" for i in range(1000)])
    columns = {f"c{j}": levels[rng.integers(0, 1000, n)] for j in range(5)}
    columns |= {f"x{j}": rng.normal(size=n) for j in range(20)}
    frame = pl.DataFrame(columns)
    kinds = {c: "categorical" if c.startswith("c") else "numeric" for c in columns}
    start = time.perf_counter()
    pre = make_preprocessor("gbdt").fit(frame, kinds)
    X = pre.transform(frame)
    elapsed = time.perf_counter() - start
    assert X.shape == (n, 25)
    assert elapsed < 5.0  # about 0.1 s on 2 cores; LightGBM needs seconds on such data


@pytest.mark.parametrize("family", ["gbdt", "classic", "nn"])
def test_derived_names_that_equal_an_input_column_get_a_suffix(family):
    # found by tests/test_fuzz_csv.py; was: DuplicateError: projections contained duplicate
    # output name 'a__missing' (the indicator of 'a' and the input column 'a__missing')
    frame = pl.DataFrame({"a": [1.0, None, 3.0], "a__missing": [1.0, 2.0, 3.0],
                          "c": ["x", "y", "x"], "c=x": ["p", "q", "p"]})
    kinds = {"a": "numeric", "a__missing": "numeric", "c": "categorical", "c=x": "categorical"}
    pre = make_preprocessor(family).fit(frame, kinds)
    names = pre.feature_names_
    assert len(set(names)) == len(names)
    assert pre.transform(frame).shape == (3, len(names))
    if family != "gbdt":
        assert names[:3] == ("a", "a__missing_2", "a__missing")  # the input keeps its name


@pytest.mark.parametrize("family", ["classic", "nn"])
def test_categorical_column_without_training_categories_gives_a_zero_column(family):
    # found by tests/test_fuzz_csv.py; was: a failed `linear` row, "ValueError: Found array
    # with 0 feature(s) (shape=(51, 0)) while a minimum of 1 is required by Ridge"
    train = pl.DataFrame({"c": [None, None, None]}, schema={"c": pl.String})
    pre = make_preprocessor(family).fit(train, {"c": "categorical"})
    assert pre.feature_names_ == ("c",)
    X = pre.transform(pl.DataFrame({"c": ["a", None]}))
    assert X.tolist() == [[0.0], [0.0]]


def test_classic_family_fits_odd_training_data_without_warnings():
    # found by tests/test_fuzz_csv.py: each trial's job process printed raw warnings
    # (LogisticRegression: "The number of unique classes is greater than 50%…";
    # Ridge: LinAlgWarning "Ill-conditioned matrix") after the run's own warning lines
    import warnings

    from tabbench.methods.models import get_model

    a = np.arange(24, dtype=np.float64)
    b = 2 * a + np.where(np.arange(24) % 2, 1e-4, -1e-4)  # almost a copy of a
    frame = pl.DataFrame({"a": a, "b": b})
    pre = make_preprocessor("classic").fit(frame, {"a": "numeric", "b": "numeric"})
    X = pre.transform(frame)
    linear = get_model("linear")
    for task, y, n_classes in (("multiclass", np.arange(24) % 13, 13),  # 13 classes
                               ("regression", a, 0)):
        context = pre.fit_context(task, n_classes)
        params = {**linear.default_params, "alpha": 1e-12}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = linear.build(params, context).fit(X, y)
        assert [str(w.message) for w in caught] == [], task
        predicted = model.predict_proba(X) if task == "multiclass" else model.predict(X)
        assert np.isfinite(predicted).all()
