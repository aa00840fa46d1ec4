"""End to end: plan, run in child processes, write atomic Parquet files, resume, fail, time out."""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from tabbench.analysis.leaderboard import standings
from tabbench.core.results import read_results
from tabbench.core.schema import RESULT_SCHEMA, TIMING_COLUMNS
from tabbench.data.datasets.registry import get_spec
from tabbench.data.datasets.spec import DatasetSpec
from tabbench.exceptions import SplitError, TabbenchWarning, UnsplittableError
from tabbench.execution.config import BUDGETS, BenchmarkConfig, load_config
from tabbench.execution.job import Job, run_job
from tabbench.execution.runner import plan, run_benchmark
from tabbench.methods.models import MODELS, ModelSpec, get_model

ROOT = Path(__file__).resolve().parents[1]


def smoke_config(out: Path, **changes) -> BenchmarkConfig:
    config = load_config(ROOT / "configs" / "smoke.toml")
    return replace(config, out=out, **changes)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("smoke")
    summary = run_benchmark(smoke_config(out))
    assert summary.counts["ok"] == summary.planned == 6
    return out


def test_smoke_run_writes_one_file_per_job(smoke_run):
    files = sorted((smoke_run / "results").glob("*.parquet"))
    assert len(files) == 6
    results = read_results(smoke_run)
    assert results.schema["test_score"] == pl.Float64
    for column, dtype in RESULT_SCHEMA.items():
        assert results.schema[column] == dtype, column
    assert set(results["status"]) == {"ok"}
    assert set(results["split_strategy"]) == {"time", "random"}
    assert (results["n_train"] + results["n_val"] + results["n_test"] == 1500).all()
    assert set(results["device"]) == {"cpu"}
    tuned = results.filter(pl.col("model") == "lightgbm")
    assert (tuned["n_trials"] == 2).all()
    trials = pl.read_parquet(smoke_run / "trials" / f"{tuned['job_id'][0]}.parquet")
    assert trials.height == 2 and trials["is_default"][0]


def test_leaderboard_ranks_models(smoke_run, cli):
    tables = {s.strategy: s for s in standings(read_results(smoke_run))}
    assert set(tables) == {"time", "random"}
    summary = tables["random"].summary
    assert set(summary["model"]) == {"dummy", "linear", "lightgbm"}
    dummy = summary.filter(pl.col("model") == "dummy")
    assert dummy["normalized_score"][0] == pytest.approx(0.0)
    assert summary["normalized_score"].max() == pytest.approx(1.0)
    code, out, _ = cli("leaderboard", smoke_run)
    assert code == 0 and "Ranking under the time split" in out
    assert "Ranking under the random split" in out and "normalized" in out  # the header


def test_same_config_and_seed_give_identical_results(smoke_run, tmp_path):
    run_benchmark(smoke_config(tmp_path))
    first = read_results(smoke_run).drop(TIMING_COLUMNS).sort("job_id")
    second = read_results(tmp_path).drop(TIMING_COLUMNS).sort("job_id")
    assert first.equals(second)


def test_rerun_skips_finished_jobs(smoke_run):
    before = {f.name: f.stat().st_mtime_ns for f in (smoke_run / "results").glob("*.parquet")}
    summary = run_benchmark(smoke_config(smoke_run))
    assert summary.skipped == 6 and sum(summary.counts.values()) == 0
    after = {f.name: f.stat().st_mtime_ns for f in (smoke_run / "results").glob("*.parquet")}
    assert before == after


def test_failing_job_becomes_failed_row_and_run_goes_on(tmp_path):
    # the earliest 60% of rows (the time split's training part) hold one class only:
    # CatBoost refuses to fit, the dummy baseline fits; the run must go on
    rows = [f"{i},{0 if i < 60 else i % 2},2024-01-01T{i // 10:02d}:{5 * (i % 10):02d}:00\n"
            for i in range(100)]
    (tmp_path / "d.csv").write_text("a,y,ts\n" + "".join(rows))
    (tmp_path / "d.toml").write_text('name = "d"\ntask = "binary"\ntarget = "y"\n'
                                     'path = "d.csv"\ntime_column = "ts"\n')
    config = replace(BenchmarkConfig(), datasets=("d",), models=("dummy", "catboost"),
                     splits=("time",), budget=BUDGETS.get("smoke"), out=tmp_path / "out")
    summary = run_benchmark(config, datasets_dirs=[tmp_path])
    assert summary.counts == {"ok": 1, "failed": 1}
    results = read_results(tmp_path / "out").sort("model")
    assert results["status"].to_list() == ["failed", "ok"]
    assert "CatBoostError" in results["error"][0]
    failed_file = tmp_path / "out" / "results" / f"{results['job_id'][0]}.parquet"
    before = failed_file.stat().st_mtime_ns
    summary = run_benchmark(config, datasets_dirs=[tmp_path])
    assert summary.skipped == 2  # failed rows are kept unless asked to retry
    summary = run_benchmark(config, datasets_dirs=[tmp_path], retry_failed=True)
    assert summary.skipped == 1 and summary.counts == {"failed": 1}
    assert failed_file.stat().st_mtime_ns != before


def test_model_error_becomes_failed_row(tmp_path):
    def broken(params, context):
        raise RuntimeError("boom in fit")

    MODELS.register("broken-test-model", ModelSpec(
        name="broken-test-model", task_types=("binary",), family="classic", build=broken))
    try:
        config = smoke_config(tmp_path, models=("broken-test-model",), splits=("random",))
        [job] = plan(config)
        output = run_job(job)
        row, trials = output.row, output.trials
    finally:
        MODELS._items.pop("broken-test-model")
    assert row["status"] == "failed" and "boom in fit" in row["error"] and trials is None


def test_job_over_time_limit_becomes_timeout_row(tmp_path):
    config = smoke_config(tmp_path, models=("dummy", "lightgbm"), splits=("random",),
                          time_limit=0.05)
    summary = run_benchmark(config)
    assert summary.counts["timeout"] == 2
    results = read_results(tmp_path)
    assert set(results["status"]) == {"timeout"}
    assert results["error"].str.contains("time limit").all()


@pytest.mark.slow
def test_killed_driver_resumes_with_nothing_lost(kill_driver_and_resume):
    results = kill_driver_and_resume()
    assert results.height == results["job_id"].n_unique() == 8
    assert set(results["status"]) == {"ok"}


def test_plan_skips_models_without_task_support_and_time_splits_without_time(tmp_path):
    (tmp_path / "d.csv").write_text("a,y\n" + "".join(f"{i},{i / 3:.2f}\n" for i in range(40)))
    (tmp_path / "d.toml").write_text('name = "d"\ntask = "regression"\ntarget = "y"\n'
                                     'path = "d.csv"\n')
    config = replace(BenchmarkConfig(), datasets=("d",), models=("dummy",),
                     splits=("time", "random"), out=tmp_path)
    with pytest.warns(UserWarning, match="no time_column"):
        jobs = plan(config, [tmp_path])
    assert [j.split_id for j in jobs] == ["random-0"]
    assert get_spec("d", [tmp_path]).task == "regression"
    assert get_model("dummy").task_types


def one_timestamp_dataset(folder: Path) -> None:
    """``d``: 60 binary rows that all share one timestamp (no time split can be made)."""
    rows = "".join(f"{i % 7},{(i * 3) % 5},{i % 2},2024-01-01\n" for i in range(60))
    (folder / "d.csv").write_text("a,b,y,ts\n" + rows)
    (folder / "d.toml").write_text('name = "d"\ntask = "binary"\ntarget = "y"\n'
                                   'path = "d.csv"\ntime_column = "ts"\n')


def test_plan_warns_of_a_strategy_the_data_cannot_make_and_plans_the_others(tmp_path):
    one_timestamp_dataset(tmp_path)
    config = replace(BenchmarkConfig(), datasets=("d",), models=("dummy",),
                     splits=("time", "random"), out=tmp_path)
    with pytest.warns(TabbenchWarning) as caught:
        jobs = plan(config, [tmp_path])
    [line] = [str(w.message) for w in caught if "timestamps" in str(w.message)]
    assert line.startswith(f"{tmp_path / 'd.toml'}: split 'time': the timestamps do not "
                           f"separate the rows: all 60 rows share one timestamp")
    assert line.endswith("its jobs on dataset 'd' are recorded as failed, the other splits run")
    assert sorted(j.split_id for j in jobs) == ["random-0", "time-0"]
    with pytest.raises(UnsplittableError, match="all 60 rows share one timestamp"):
        plan(replace(config, splits=("time",)), [tmp_path])  # nothing else to run
    with pytest.raises(SplitError, match="must sum to 1"):  # bad parameters still stop
        plan(replace(config, split_params={"time": {"fractions": [0.5, 0.2, 0.2]}}), [tmp_path])


def test_a_time_split_that_cannot_be_made_leaves_failed_rows_and_the_run_goes_on(
        tmp_path, tabbench_script):
    one_timestamp_dataset(tmp_path)
    code, out, err = tabbench_script("run", "--dataset", "d", "--datasets-dir", tmp_path,
                                     "--models", "dummy", "--splits", "time,random",
                                     "--out", tmp_path / "out")
    assert code == 0, err
    [warning] = [line for line in err.splitlines() if "timestamps" in line]
    assert warning.startswith(f"warning: {tmp_path / 'd.toml'}: split 'time': the timestamps "
                              f"do not separate the rows: all 60 rows share one timestamp")
    assert "too few rows" not in err and "1 failed, 1 ok" in out
    rows = read_results(tmp_path / "out").sort("split_id")
    assert rows["split_id"].to_list() == ["random-0", "time-0"]
    assert rows["status"].to_list() == ["ok", "failed"]
    assert "the timestamps do not separate the rows" in rows["error"][1]


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MiB tmpfs (needs the right to mount, as root in CI); unmounted afterwards."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_full_disk_is_one_line_error_and_earlier_results_stay(small_disk, cli):
    out = small_disk / "out"
    config = ROOT / "configs" / "smoke.toml"
    code, _, err = cli("run", config, "--out", out, "--models", "dummy")
    assert code == 0, err
    before = {f: f.stat().st_mtime_ns for f in (out / "results").glob("*.parquet")}
    assert len(before) == 2
    # fill the disk to the last byte
    with (small_disk / "filler").open("wb") as filler, pytest.raises(OSError):
        while True:
            filler.write(b"\0" * 65536)
            filler.flush()
    code, _, err = cli("run", config, "--out", out, "--models", "dummy,linear")
    assert code == 2
    assert "could not write (No space left on device)" in err and str(out) in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    after = {f: f.stat().st_mtime_ns for f in (out / "results").glob("*.parquet")}
    assert after == before
    assert not list((out / "results").glob(".*.tmp"))
    assert set(read_results(out)["status"]) == {"ok"}


def test_a_seeded_splits_count_is_not_part_of_its_jobs_ids():
    spec = DatasetSpec.from_dict({"name": "ids", "task": "binary", "target": "target",
                                  "generator": "drift", "time_column": "ts"})

    def job_id(strategy, params):
        return Job(run="r", spec=spec, dataset_fingerprint="f", split_strategy=strategy,
                   split_id=f"{strategy}-0", model="linear", variant="tuned", seed=0,
                   budget=BUDGETS.get("smoke"), metric="roc_auc", split_params=params).job_id

    assert job_id("random", {"n_splits": 2}) == job_id("random", {})
    assert job_id("random", {"n_splits": 2, "gap": 5}) != job_id("random", {"n_splits": 2})
    assert job_id("sliding-window", {"n_splits": 2}) != job_id("sliding-window", {})


def test_a_models_new_revision_reruns_its_jobs_and_sets_the_old_rows_aside(tmp_path):
    config = smoke_config(tmp_path, models=("dummy", "linear"), splits=("random",))
    first = run_benchmark(config)
    assert first.counts == {"ok": 2}
    old = read_results(tmp_path).sort("model")
    linear = MODELS.get("linear")
    MODELS._items["linear"] = replace(linear, revision=linear.revision + 1)
    try:
        with pytest.warns(TabbenchWarning, match=r"earlier version of model linear"):
            second = run_benchmark(config)
    finally:
        MODELS._items["linear"] = linear
    assert second.skipped == 1 and second.counts == {"ok": 1}  # dummy kept, linear rerun
    new = read_results(tmp_path).sort("model")
    assert new.height == 2 and new["job_id"][0] == old["job_id"][0]
    assert new["job_id"][1] != old["job_id"][1]
    assert '"model_revision": 1' in new["versions"][1]
    aside = tmp_path / "superseded" / "results" / f"{old['job_id'][1]}.parquet"
    assert aside.is_file()


def test_catboosts_revision_is_in_its_job_ids_and_revision_0_ids_are_unchanged():
    [job] = plan(smoke_config(Path("unused"), models=("linear",), splits=("random",)))
    assert job.model_revision == 0 and "model_revision" not in job.identity.key
    [cat] = plan(smoke_config(Path("unused"), models=("catboost",), splits=("random",)))
    assert cat.model_revision == get_model("catboost").revision >= 1
    assert cat.identity.key["model_revision"] == cat.model_revision
    assert replace(cat, model_revision=0).job_id != cat.job_id
