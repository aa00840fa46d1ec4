"""Stored predictions and post-hoc ensembles: selection, no test leakage, resume, failures."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tabbench.analysis.leaderboard import dataset_confidence, standings
from tabbench.core.predictions import PREDICTIONS, JobPredictions, read_predictions
from tabbench.core.results import read_results, write_result
from tabbench.data.metrics import score
from tabbench.execution.config import load_config
from tabbench.execution.runner import run_benchmark
from tabbench.methods.ensemble import build_ensembles, caruana_weights

ROOT = Path(__file__).resolve().parents[1]


def _two_experts(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A target and two models, each accurate on its own half of the rows only."""
    rng = np.random.default_rng(seed)
    y = rng.normal(size=n)
    half = np.arange(n) < n // 2
    a = y + np.where(half, 0.1, 1.0) * rng.normal(size=n)
    b = y + np.where(half, 1.0, 0.1) * rng.normal(size=n)
    return y, a, b


def test_caruana_ensemble_beats_two_models_that_err_on_different_rows():
    y_val, a_val, b_val = _two_experts(2000, seed=0)
    y_test, a_test, b_test = _two_experts(2000, seed=1)
    weights = caruana_weights("rmse", y_val, [a_val, b_val])
    assert weights.sum() == pytest.approx(1.0) and (weights > 0.3).all()
    blend = weights[0] * a_test + weights[1] * b_test
    assert score("rmse", y_test, blend) < 0.8 * min(score("rmse", y_test, a_test),
                                                    score("rmse", y_test, b_test))


def test_caruana_keeps_one_member_when_the_other_only_adds_noise():
    y, a, _ = _two_experts(1000, seed=2)
    noise = np.random.default_rng(3).normal(size=1000) * 5
    assert caruana_weights("rmse", y, [noise, y + 0.01 * a]).tolist() == [0.0, 1.0]


def _smoke(out: Path, **changes):
    config = replace(load_config(ROOT / "configs" / "smoke.toml"), out=out, **changes)
    return run_benchmark(config)


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stored")
    summary = _smoke(out)
    assert summary.counts["ok"] == summary.planned == 6
    return out


def test_each_job_stores_predictions_that_reproduce_its_test_score(stored_run):
    results = read_results(stored_run)
    stored = read_predictions(stored_run)
    assert set(stored["job_id"]) == set(results["job_id"])
    for row in results.iter_rows(named=True):
        frame = stored.filter(pl.col("job_id") == row["job_id"])
        test = JobPredictions.of(frame, "test")
        assert len(test.y) == row["n_test"] and len(JobPredictions.of(frame, "val").y) == row["n_val"]
        assert test.prediction.shape[1] == 2  # binary: both class probabilities
        assert score(row["metric"], test.y.astype(int), test.prediction) == pytest.approx(
            row["test_score"], abs=1e-6)
        if row["split_strategy"] == "time":  # rows in time order within each part
            assert (np.diff(test.time) >= 0).all()


def test_without_stored_predictions_there_is_nothing_to_ensemble(tmp_path, cli):
    _smoke(tmp_path, store_predictions=False, models=("dummy", "linear"))
    assert not list(tmp_path.glob(f"{PREDICTIONS}/*.parquet"))
    assert build_ensembles(tmp_path) == []
    code, _, err = cli("ensemble", tmp_path)
    assert code == 2 and err.strip() == (f"error: {tmp_path}: no stored predictions of ok "
                                         f"jobs to ensemble (run with --predictions, the "
                                         f"default)")


def _copy(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    shutil.copytree(run, target)
    return target


def test_ensembles_are_ranked_like_models_and_use_validation_only(stored_run, tmp_path):
    run = _copy(stored_run, tmp_path)
    outcomes = build_ensembles(run)
    assert len(outcomes) == 2 and all(o.built for o in outcomes)  # one per split strategy
    first = {o.row["split_id"]: json.loads(o.row["best_params"])["members"] for o in outcomes}
    for outcome in outcomes:
        assert outcome.row["kind"] == "ensemble" and outcome.row["model"] == "ensemble"
        assert "the baseline" in outcome.left_out.values()  # dummy never takes part
    results = read_results(run)
    assert results.filter(pl.col("kind") == "ensemble").height == 2

    # the guard: scramble every stored test prediction; the chosen weights do not move
    rng = np.random.default_rng(0)
    for path in (run / PREDICTIONS).glob("*.parquet"):
        frame = pl.read_parquet(path)
        noise = pl.Series([list(rng.random(2).astype(np.float32))
                           for _ in range(frame.height)], dtype=pl.List(pl.Float32))
        frame = frame.with_columns(pl.when(pl.col("part") == "test").then(noise)
                                   .otherwise(pl.col("prediction")).alias("prediction"))
        frame.write_parquet(path)
    for path in (run / "results").glob("*ensemble*.parquet"):
        path.unlink()
    again = build_ensembles(run)
    assert {o.row["split_id"]: json.loads(o.row["best_params"])["members"]
            for o in again} == first
    assert all(abs(o.row["test_score"] - 0.5) < 0.1 for o in again)  # noise scores as noise


def test_a_killed_ensemble_step_resumes_and_a_changed_member_is_recomputed(stored_run,
                                                                         tmp_path):
    run = _copy(stored_run, tmp_path)

    def killed(outcome):
        raise KeyboardInterrupt  # the step dies after writing its first ensemble

    with pytest.raises(KeyboardInterrupt):
        build_ensembles(run, on_result=killed)
    assert len(list((run / "results").glob("*ensemble*.parquet"))) == 1
    resumed = build_ensembles(run)
    assert sorted(o.built for o in resumed) == [False, True]  # the first is kept
    assert not any(o.built for o in build_ensembles(run))  # nothing changed: all kept

    # a member is rerun (a new finishing time): its ensemble is built again, the other kept
    results = read_results(run).filter(pl.col("kind") == "benchmark")
    member = results.filter((pl.col("model") == "linear") & (pl.col("split_id") == "time-0"))
    row = member.row(0, named=True)
    row["finished_at"] = row["finished_at"].replace(year=2030)
    write_result(run, row, None)
    rebuilt = {o.row["split_id"]: o.built for o in build_ensembles(run)}
    assert rebuilt == {"time-0": True, "random-0": False}


def test_a_failed_member_is_left_out_and_said_so(stored_run, tmp_path):
    run = _copy(stored_run, tmp_path)
    results = read_results(run).filter(pl.col("kind") == "benchmark")
    row = results.filter((pl.col("model") == "lightgbm") & (pl.col("split_id") == "random-0")
                         ).row(0, named=True)
    row.update(status="failed", error="boom")
    write_result(run, row, None)
    outcome = next(o for o in build_ensembles(run) if o.row["split_id"] == "random-0")
    assert outcome.left_out[row["job_id"]] == "status failed"
    assert row["job_id"] not in json.loads(outcome.row["best_params"])["members"]


def test_run_with_ensemble_and_the_ensemble_command(tabbench_script, tmp_path):
    out = tmp_path / "run"
    code, stdout, stderr = tabbench_script("run", str(ROOT / "configs" / "smoke.toml"),
                                           "--out", str(out), "--models", "linear,lightgbm",
                                           "--ensemble")
    assert code == 0, stderr
    assert "; 2 ensembles" in stdout and "ensemble (caruana)" in stdout
    code, stdout, stderr = tabbench_script("ensemble", str(out))
    assert code == 0, stderr
    assert stdout.count("kept") == 2
    code, _, stderr = tabbench_script("run", str(ROOT / "configs" / "smoke.toml"), "--out",
                                      str(tmp_path / "none"), "--models", "dummy",
                                      "--no-predictions", "--ensemble")
    assert code == 2 and stderr.strip().splitlines() == [
        "error: --ensemble needs the stored predictions (store_predictions = true; leave out "
        "--no-predictions)"]
    code, _, stderr = tabbench_script("ensemble", str(tmp_path / "typo"))
    assert code == 2 and "no result files found" in stderr
    assert not (tmp_path / "typo").exists()  # a mistyped folder is not created


def test_dataset_confidence_gives_intervals_and_ties_for_models_and_ensembles(stored_run,
                                                                            tmp_path, cli):
    run = _copy(stored_run, tmp_path)
    build_ensembles(run)
    results = read_results(run)
    confidence = dataset_confidence(run, results, n_resamples=200)
    assert confidence.height == 2 * 4  # (random-0, time-0) x (3 models + the ensemble)
    assert (confidence["low"] <= confidence["score"]).all()
    assert (confidence["score"] <= confidence["high"]).all()
    assert confidence.group_by("split_id").agg(pl.col("is_best").sum())["is_best"].to_list() \
        == [1, 1]
    best = confidence.filter(pl.col("is_best"))
    assert best["tied_with_best"].all()
    assert not confidence.filter(pl.col("model") == "dummy")["tied_with_best"].any()
    ensemble = confidence.filter(pl.col("model") == "ensemble (caruana)")
    rows = results.filter(pl.col("kind") == "ensemble").sort("split_id")
    assert ensemble.sort("split_id")["score"].to_list() == pytest.approx(
        rows["test_score"].to_list(), abs=1e-6)  # the blend of the members' predictions
    for standing in standings(results, confidence):
        assert "tied_with_best" in standing.summary.columns
        assert {"low", "high"} <= set(standing.per_dataset.columns)
    code, out, err = cli("leaderboard", run)
    assert code == 0, err
    assert "tied with best" in out and "[95% interval of the score averaged" in " ".join(out.split())
