"""Training sizes (learning curves): the training part cut, validation and test rows kept."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tabbench.analysis.compare import compare_splits
from tabbench.core.results import read_results
from tabbench.data.datasets.spec import DatasetSpec
from tabbench.data.splits import Split, training_subset
from tabbench.exceptions import ConfigError
from tabbench.execution.config import BUDGETS, BenchmarkConfig
from tabbench.execution.job import Job
from tabbench.studies.scale import compare_by_training_size, training_sizes


def test_training_subsets_are_nested_and_keep_validation_and_test():
    split = Split("time-0", np.arange(0, 600), np.arange(600, 800), np.arange(800, 1000))
    small, large = training_subset(split, 100), training_subset(split, 400)
    assert small.train.size == 100 and large.train.size == 400
    assert set(small.train) <= set(large.train)  # nested: one permutation, cut
    assert np.array_equal(small.val, split.val) and np.array_equal(small.test, split.test)
    assert np.all(np.diff(small.train) > 0)
    assert small.train.min() < 100 and small.train.max() > 500  # spans the training period
    assert training_subset(split, None) is split and training_subset(split, 600) is split
    assert np.array_equal(training_subset(split, 100).train, small.train)  # deterministic


def test_training_size_is_part_of_the_job_id_and_its_label():
    spec = DatasetSpec.from_dict({"name": "lc", "task": "binary", "target": "target",
                                  "generator": "drift", "time_column": "ts"})

    def job(train_rows):
        return Job(run="r", spec=spec, dataset_fingerprint="f", split_strategy="time",
                   split_id="time-0", model="linear", variant="tuned", seed=0,
                   budget=BUDGETS.get("smoke"), metric="roc_auc", train_rows=train_rows)

    assert job(None).variant_label == "tuned" and job(500).variant_label == "tuned-train500"
    assert len({job(None).job_id, job(500).job_id, job(1000).job_id}) == 3


@pytest.mark.parametrize("sizes", [(5,), (100, 100), ()])
def test_bad_training_sizes_are_refused(sizes):
    with pytest.raises(ConfigError, match="train_rows"):
        BenchmarkConfig(name="x", train_rows=sizes).validate("cfg")


@pytest.fixture(scope="module")
def learning_curve_run(module_tabbench_script, tmp_path_factory):
    out = tmp_path_factory.mktemp("lc") / "lc"
    code, _, err = module_tabbench_script(
        "run", "-d", "synthetic-drift", "--models", "dummy,linear,lightgbm,random-forest",
        "--budget", "smoke", "--max-rows", "1500", "--splits", "time,random",
        "--train-rows", "200,600,5000", "--out", out)
    assert code == 0, err
    return out, err


@pytest.mark.slow
def test_a_learning_curve_run_through_the_installed_script(learning_curve_run, tabbench_script):
    out, err = learning_curve_run
    assert "train_rows 5000 is more than the 900 training rows of time-0; skipped" in " ".join(
        err.split())
    rows = read_results(out).filter(pl.col("status") == "ok")
    sizes = rows.group_by("split_id", "variant").agg(pl.col("n_train").unique(),
                                                      pl.col("n_test").unique())
    got = {(r["split_id"], r["variant"]): (r["n_train"], r["n_test"])
           for r in sizes.iter_rows(named=True)}
    assert got == {("time-0", "tuned-train200"): ([200], [300]),
                   ("time-0", "tuned-train600"): ([600], [300]),
                   ("random-0", "tuned-train200"): ([200], [300]),
                   ("random-0", "tuned-train600"): ([600], [300])}
    code, _, err = tabbench_script("run", "-d", "synthetic-drift", "--train-rows", "5",
                                   "--out", out)
    assert code == 2 and "--train-rows" in err and len(err.strip().splitlines()) == 1


@pytest.mark.slow
def test_split_comparison_by_training_size_compares_each_size_on_its_own_rows(
        learning_curve_run):
    out, _ = learning_curve_run
    results = read_results(out)
    assert training_sizes(results) == [200, 600]
    by_size = compare_by_training_size(out, results, n_resamples=200)
    assert by_size.sizes == [200, 600]
    for size in (200, 600):
        rows = results.filter(pl.col("variant") == f"tuned-train{size}")
        alone = compare_splits(rows.with_columns(pl.lit("tuned").alias("variant")))
        [expected] = alone.taus.filter(pl.col("dataset") == "synthetic-drift")["tau"]
        [got] = by_size.taus.filter(pl.col("train_rows") == size)["tau"]
        assert got == pytest.approx(expected)
        [row] = by_size.taus.filter(pl.col("train_rows") == size).iter_rows(named=True)
        assert row["interval"] == "bootstrap over test rows" and row["low"] <= row["high"]
        ranks = by_size.ranks.filter(pl.col("train_rows") == size)
        assert set(ranks["model"]) == {"linear", "lightgbm", "random-forest"}  # no dummy
        for strategy in ("time", "random"):  # ranks among the three compared models
            assert ranks.filter(pl.col("strategy") == strategy)["mean_rank"].sum() == 6
    assert by_size.agreement["datasets"].to_list() == [1, 1]


@pytest.mark.slow
def test_compare_splits_prints_the_tau_at_each_training_size(learning_curve_run,
                                                              module_tabbench_script):
    out, _ = learning_curve_run
    code, stdout, err = module_tabbench_script(
        "compare-splits", "-d", "synthetic-drift", "--models",
        "dummy,linear,lightgbm,random-forest", "--budget", "smoke", "--max-rows", "1500",
        "--splits", "time,random", "--train-rows", "200,600,5000", "--out", out)
    assert code == 0, err
    table = stdout.split("by training size", 1)[1].split("each size ranked", 1)[0]
    rows = [line.split() for line in table.splitlines() if line.strip()[:1].isdigit()]
    assert [row[0] for row in rows] == ["200", "600"]  # 5000 is over the training part
