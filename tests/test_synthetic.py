"""Tests for the synthetic generators with known ground truth."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tabbench.data.datasets.spec import DatasetSpec
from tabbench.data.datasets.synthetic import GENERATORS, generate, generator_names, ground_truth
from tabbench.exceptions import DatasetError, UnknownNameError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def big() -> pl.DataFrame:
    return generate("drift", n_rows=30_000, seed=7)


def _corr(frame: pl.DataFrame, column: str) -> float:
    sub = frame.select(column, "target").drop_nulls()
    return float(np.corrcoef(sub[column].to_numpy(), sub["target"].to_numpy())[0, 1])


def test_registry_lists_generators() -> None:
    assert generator_names()[:2] == ["drift", "blobs"]
    assert "drift" in GENERATORS


@pytest.mark.parametrize("name", ["drift", "blobs"])
def test_deterministic_and_seed_dependent(name: str) -> None:
    a = generate(name, n_rows=500, seed=3)
    assert a.equals(generate(name, n_rows=500, seed=3))
    assert not a.equals(generate(name, n_rows=500, seed=4))


def test_drift_columns_and_dtypes() -> None:
    frame = generate("drift", n_rows=300, seed=0)
    expected = (
        ["ts"]
        + [f"inf_{j}" for j in range(5)]
        + [f"corr_{j}" for j in range(3)]
        + [f"uninf_{j}" for j in range(10)]
        + ["drifting", "cat_0", "cat_1", "hicard_0", "target"]
    )
    assert frame.columns == expected
    assert frame.height == 300
    assert frame.schema["ts"] == pl.Datetime("us")
    assert frame.schema["target"] == pl.Int8
    assert set(frame["target"].unique().to_list()) == {0, 1}
    for column in ("cat_0", "cat_1", "hicard_0"):
        assert frame.schema[column] == pl.String
    assert all(frame.schema[c] == pl.Float64 for c in ground_truth("drift")["numeric"])


def test_drift_counts_follow_params() -> None:
    params = {
        "n_informative": 2,
        "n_uninformative": 1,
        "n_correlated": 4,
        "n_high_cardinality": 2,
        "cardinality": 20,
        "n_categorical": 0,
    }
    frame = generate("drift", n_rows=2000, seed=1, **params)
    truth = ground_truth("drift", **params)
    assert frame.columns == [
        "ts",
        "inf_0",
        "inf_1",
        "corr_0",
        "corr_1",
        "corr_2",
        "corr_3",
        "uninf_0",
        "drifting",
        "hicard_0",
        "hicard_1",
        "target",
    ]
    assert truth["informative"] == ["inf_0", "inf_1", "drifting", "hicard_0", "hicard_1"]
    assert frame["hicard_0"].n_unique() <= 20
    assert set(frame["hicard_0"].unique().to_list()) <= set(truth["level_effects"]["hicard_0"])


def test_ground_truth_partitions_features() -> None:
    truth = ground_truth("drift")
    frame = generate("drift", n_rows=100)
    groups = truth["informative"] + truth["uninformative"] + truth["correlated"]
    assert sorted(groups) == sorted(set(frame.columns) - {"ts", "target"})
    assert truth["drifting"] == ["drifting"]
    assert truth["high_cardinality"] == ["hicard_0"]
    assert truth["drifting_coefficient"]["start"] > 0 > truth["drifting_coefficient"]["end"]
    # The truth does not depend on the number of rows.
    assert ground_truth("drift", n_rows=10, seed=2) == ground_truth("drift", seed=2)


def test_time_column_is_non_decreasing_over_two_years_with_repeats(big: pl.DataFrame) -> None:
    ts = big["ts"]
    assert ts.dtype.is_temporal()
    assert ts.null_count() == 0
    assert (ts.diff().drop_nulls().dt.total_seconds() >= 0).all()
    span_days = (ts.max() - ts.min()).days
    assert 700 <= span_days <= 731
    assert ts.n_unique() < big.height


def test_binary_target_is_balanced(big: pl.DataFrame) -> None:
    assert 0.4 < big["target"].mean() < 0.6


def test_informative_features_beat_uninformative(big: pl.DataFrame) -> None:
    truth = ground_truth("drift")
    informative = [c for c in truth["informative"] if c.startswith("inf_")]
    uninformative = [c for c in truth["uninformative"] if c.startswith("uninf_")]
    weakest = min(abs(_corr(big, c)) for c in informative)
    strongest_noise = max(abs(_corr(big, c)) for c in uninformative)
    assert weakest > 3 * strongest_noise
    assert min(abs(_corr(big, c)) for c in truth["correlated"]) > strongest_noise


def test_categorical_effects_are_real(big: pl.DataFrame) -> None:
    truth = ground_truth("drift", seed=7)
    for column in ("cat_0", "hicard_0"):
        effects = pl.DataFrame(
            {
                column: list(truth["level_effects"][column]),
                "effect": list(truth["level_effects"][column].values()),
            }
        )
        joined = big.select(column, "target").join(effects, on=column)
        r = np.corrcoef(joined["effect"].to_numpy(), joined["target"].to_numpy())[0, 1]
        assert r > 0.05, column
    noise = big.group_by("cat_1").agg(pl.col("target").mean())["target"]
    assert noise.max() - noise.min() < 0.05


def test_drifting_feature_flips_sign_over_time(big: pl.DataFrame) -> None:
    third = big.height // 3
    first, last = big.head(third), big.tail(third)
    assert _corr(first, "drifting") > 0.15
    assert _corr(last, "drifting") < -0.1


def test_no_concept_drift_when_strength_is_zero() -> None:
    frame = generate("drift", n_rows=9000, seed=2, drift_strength=0.0)
    third = frame.height // 3
    assert _corr(frame.head(third), "drifting") > 0.15
    assert _corr(frame.tail(third), "drifting") > 0.15
    assert ground_truth("drift", drift_strength=0.0)["drifting_coefficient"]["end"] == 1.0


def test_covariate_drift_moves_informative_means(big: pl.DataFrame) -> None:
    shift = ground_truth("drift")["covariate_shift"]["inf_0"]
    third = big.height // 3
    delta = big.tail(third)["inf_0"].mean() - big.head(third)["inf_0"].mean()
    assert np.sign(delta) == np.sign(shift)
    assert abs(delta) > 0.5 * abs(shift)
    assert abs(big.tail(third)["uninf_0"].mean() - big.head(third)["uninf_0"].mean()) < 0.1


@pytest.mark.parametrize("rate", [0.0, 0.02, 0.2])
def test_missing_rate_is_respected(rate: float) -> None:
    frame = generate("drift", n_rows=5000, seed=0, missing_rate=rate)
    truth = ground_truth("drift", missing_rate=rate)
    with_missing = truth["with_missing"]
    assert (with_missing == []) == (rate == 0)
    others = [c for c in frame.columns if c not in with_missing]
    assert sum(frame[c].null_count() for c in others) == 0
    if with_missing:
        observed = frame.select(with_missing).null_count().sum_horizontal().item()
        assert observed / (frame.height * len(with_missing)) == pytest.approx(rate, rel=0.15)


def test_regression_variant() -> None:
    frame = generate("drift", n_rows=3000, seed=5, task="regression", noise=0.5)
    assert frame.schema["target"] == pl.Float64
    assert frame["target"].n_unique() == frame.height
    assert ground_truth("drift", task="regression")["task"] == "regression"
    assert _corr(frame, "inf_0") > 0.2


def test_noise_zero_gives_deterministic_labels() -> None:
    a = generate("drift", n_rows=1000, seed=0, noise=0.0)
    b = generate("drift", n_rows=1000, seed=0, noise=1.0)
    assert a.drop("target").equals(b.drop("target"))
    assert not a["target"].equals(b["target"])


def test_blobs() -> None:
    frame = generate(
        "blobs", n_rows=3000, seed=1, n_classes=4, n_features=2, n_uninformative=1, cluster_std=0.1
    )
    truth = ground_truth(
        "blobs", seed=1, n_classes=4, n_features=2, n_uninformative=1, cluster_std=0.1
    )
    assert frame.columns == ["x_0", "x_1", "uninf_0", "target"]
    assert frame.schema["target"] == pl.Int64
    assert sorted(frame["target"].unique().to_list()) == truth["classes"] == [0, 1, 2, 3]
    means = frame.group_by("target").agg(pl.col("x_0", "x_1").mean()).sort("target")
    for k, row in enumerate(means.iter_rows(named=True)):
        assert row["x_0"] == pytest.approx(truth["centers"][k]["x_0"], abs=0.05)
        assert row["x_1"] == pytest.approx(truth["centers"][k]["x_1"], abs=0.05)


def test_unknown_param_names_it_and_lists_allowed() -> None:
    with pytest.raises(
        DatasetError, match=r"unknown parameter 'n_informativ'.*allowed.*n_informative"
    ):
        generate("drift", n_informativ=3)
    with pytest.raises(DatasetError, match=r"unknown parameter 'bogus'.*n_classes"):
        ground_truth("blobs", bogus=1)


def test_unknown_generator_lists_valid_names() -> None:
    with pytest.raises(UnknownNameError, match=r"unknown generator 'nope'.*blobs, drift"):
        generate("nope")


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"task": "multiclass"}, r"'task' must be one of binary, regression"),
        ({"n_informative": -1}, r"'n_informative' must be >= 0"),
        ({"n_rows": 0}, r"'n_rows' must be >= 1"),
        ({"n_rows": 1.5}, r"'n_rows' must be an integer"),
        ({"missing_rate": 1.0}, r"'missing_rate' must be >= 0.0 and < 1.0"),
        ({"cardinality": 1}, r"'cardinality' must be >= 2"),
        ({"n_informative": 0, "n_correlated": 1}, r"'n_correlated' needs n_informative >= 1"),
        ({"seed": -1}, r"'seed' must be >= 0"),
    ],
)
def test_invalid_param_values(params: dict, match: str) -> None:
    with pytest.raises(DatasetError, match=match):
        generate("drift", **params)


def test_error_names_the_file() -> None:
    with pytest.raises(DatasetError, match=r"^datasets/x\.toml: generator parameter 'noise'"):
        generate("drift", where="datasets/x.toml", noise=-1)


def test_small_and_degenerate_shapes() -> None:
    frame = generate(
        "drift",
        n_rows=1,
        n_informative=0,
        n_correlated=0,
        n_uninformative=0,
        n_categorical=0,
        n_high_cardinality=0,
    )
    assert frame.columns == ["ts", "drifting", "target"]


def test_registry_entry_generates_its_rows() -> None:
    spec = DatasetSpec.from_toml(ROOT / "datasets" / "synthetic-drift.toml")
    assert spec.generator == "drift"
    frame = generate(spec.generator, where=spec.where, **spec.generator_params)
    assert frame.height == 20_000
    assert spec.target in frame.columns
    assert spec.time_column in frame.columns
    assert set(spec.categorical) <= set(frame.columns)


def test_fast() -> None:
    generate("drift", n_rows=1000)  # warm up imports
    start = time.perf_counter()
    generate("drift", n_rows=100_000, seed=1)
    assert time.perf_counter() - start < 1.0
