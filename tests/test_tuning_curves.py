"""Tuning curves: best-so-far from trials tables, by hand, as a property, and in the report."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabbench.analysis.plots import tuning_curves_chart
from tabbench.analysis.tuning_curves import best_so_far, tuning_curves
from tabbench.core.results import write_result
from tabbench.exceptions import TabbenchWarning
from tabbench.studies.report import build_report


def _trials(values: list[float | None], states: list[str] | None = None,
            metric: str = "rmse", job_id: str = "j") -> pl.DataFrame:
    states = states or ["complete"] * len(values)
    return pl.DataFrame({"job_id": job_id, "metric": metric, "number": range(len(values)),
                         "state": states, "value": values},
                        schema_overrides={"value": pl.Float64})


def test_best_so_far_matches_a_hand_computed_curve():
    # rmse (lower is better); trial 3 failed, trial 4 was pruned (its value, Optuna's last
    # intermediate one, is not a result); numbers out of order as a shared study may leave them
    trials = _trials([10.0, 12.0, 8.0, None, 1.0, 9.0, 7.0],
                     ["complete", "complete", "complete", "fail", "pruned", "complete",
                      "complete"])
    curve = best_so_far(trials.reverse())
    assert curve["trial"].to_list() == [1, 2, 3, 4, 5, 6, 7]
    assert curve["number"].to_list() == [0, 1, 2, 3, 4, 5, 6]
    assert curve["best"].to_list() == [10.0, 10.0, 8.0, 8.0, 8.0, 8.0, 7.0]
    # 0 = the default trial (10), 1 = the final best (7)
    assert curve["normalized"].to_list() == pytest.approx([0, 0, 2 / 3, 2 / 3, 2 / 3, 2 / 3, 1])


def test_best_so_far_follows_the_metric_direction_and_skips_unfinished_trials():
    trials = pl.concat([
        _trials([0.70, 0.65, 0.80, 0.75], metric="roc_auc", job_id="auc"),
        _trials([0.9, 0.8, 0.95], ["complete", "complete", "running"], metric="roc_auc",
                job_id="flat"),
        _trials([None, 5.0, 4.0], ["fail", "complete", "complete"], job_id="late-start"),
    ])
    curve = best_so_far(trials)
    by_job = {job: group for (job,), group in curve.group_by("job_id")}
    assert by_job["auc"]["best"].to_list() == [0.70, 0.70, 0.80, 0.80]
    assert by_job["auc"]["normalized"].to_list() == [0.0, 0.0, 1.0, 1.0]
    # the default is never beaten: at its final best from the first trial; running: no trial
    assert by_job["flat"]["normalized"].to_list() == [1.0, 1.0]
    # the default failed: nothing to compare before the first complete trial, which is 0
    assert by_job["late-start"]["best"].to_list() == [None, 5.0, 4.0]
    assert by_job["late-start"]["normalized"].to_list() == [None, 0.0, 1.0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.sampled_from(["complete", "pruned", "fail"])),
                min_size=1, max_size=30),
       st.sampled_from(["rmse", "roc_auc"]))
def test_best_so_far_is_monotone_and_ends_at_one(trials, metric):
    frame = _trials([v for v, _ in trials], [s for _, s in trials], metric=metric)
    curve = best_so_far(frame)
    best = curve["best"].drop_nulls().to_numpy()
    steps = np.diff(best) if metric == "roc_auc" else -np.diff(best)
    assert (steps >= 0).all()
    normalized = curve["normalized"].drop_nulls().to_numpy()
    assert ((normalized >= 0) & (normalized <= 1)).all() and np.all(np.diff(normalized) >= 0)
    if len(normalized):
        assert normalized[-1] == 1.0


# --- a run folder: result rows and their trials, as the runner writes them -----------------

MODELS = {"dummy": None, "linear": [0.70, 0.72, 0.72, 0.72],
          "lightgbm": [0.75, 0.74, 0.78, 0.80, 0.79, 0.83]}


def _run_folder(folder):
    for d, dataset in enumerate(("alpha", "beta")):
        for strategy in ("time", "random"):
            for m, (model, values) in enumerate(MODELS.items()):
                job_id = f"{dataset}-{strategy}-0-{model}-tuned-s0"
                score = 0.6 + 0.1 * m + 0.01 * d
                row = {"run": "test", "kind": "benchmark", "job_id": job_id, "dataset": dataset,
                       "task": "binary", "split_strategy": strategy, "split_id": f"{strategy}-0",
                       "model": model, "variant": "tuned", "seed": 0, "status": "ok",
                       "metric": "roc_auc", "val_score": score, "test_score": score,
                       "test_score_std": 0.0, "n_trials": len(values or [1]),
                       "tune_seconds": 1.0, "fit_seconds": 0.5, "predict_seconds": 0.1,
                       "n_train": 100, "n_val": 50, "n_test": 50, "n_features": 3}
                trials = None if values is None else pl.DataFrame({
                    "number": range(len(values)), "state": "complete",
                    "value": [v + 0.01 * d for v in values],
                    "is_default": [i == 0 for i in range(len(values))]})
                write_result(folder, row, trials)
    return folder


def test_tuning_curves_of_a_run_folder(tmp_path):
    run = _run_folder(tmp_path / "run")
    # a damaged trials file is named and left out; so is a trials file without a result row
    (run / "trials" / "broken.parquet").write_bytes(b"PAR1 not really")
    pl.DataFrame({"number": [0], "state": ["complete"], "value": [1.0]}).write_parquet(
        run / "trials" / "orphan.parquet")
    with pytest.warns(TabbenchWarning, match="broken.parquet: damaged trials file"):
        curves = tuning_curves(run)
    assert sorted(curves.curves["job_id"].unique().to_list()) == sorted(
        f"{d}-{s}-0-{m}-tuned-s0" for d in ("alpha", "beta") for s in ("time", "random")
        for m in ("linear", "lightgbm"))
    lightgbm = curves.summary.filter((pl.col("model") == "lightgbm")
                                     & (pl.col("split_strategy") == "time"))
    # 0.75 → best 0.75, 0.75, 0.78, 0.80, 0.80, 0.83 on both datasets: (best − 0.75) / 0.08
    assert lightgbm["normalized"].to_list() == pytest.approx(
        [0.0, 0.0, 0.375, 0.625, 0.625, 1.0])
    assert lightgbm["n_tasks"].to_list() == [2] * 6
    per_dataset = curves.by_dataset.filter((pl.col("model") == "lightgbm")
                                           & (pl.col("dataset") == "beta")
                                           & (pl.col("split_strategy") == "time"))
    assert per_dataset["best"].to_list() == pytest.approx([0.76, 0.76, 0.79, 0.81, 0.81, 0.84])
    budget = {(r["model"], r["split_strategy"]): r for r in curves.budget.iter_rows(named=True)}
    assert budget["lightgbm", "time"]["n_trials"] == 6
    assert budget["lightgbm", "time"]["at_half_budget"] == pytest.approx(0.375)
    assert budget["lightgbm", "time"]["improved_late"] == 1.0  # the best came at trial 6 of 6
    assert budget["linear", "time"]["improved_late"] == 0.0    # at trial 2 of 4
    assert budget["lightgbm", "time"]["gain_pct"] == pytest.approx(
        np.mean([100 * 0.08 / 0.75, 100 * 0.08 / 0.76]))
    assert curves.single_trial_models() == []
    fig = tuning_curves_chart(curves.summary)
    assert len(fig.axes) == 2  # one panel per split strategy


def test_a_run_folder_without_trials_has_no_curves(tmp_path):
    run = _run_folder(tmp_path / "run")
    for file in (run / "trials").glob("*.parquet"):
        file.unlink()
    assert tuning_curves(run) is None


def test_report_has_the_tuning_section(tmp_path):
    run = _run_folder(tmp_path / "run")
    page = build_report(run).read_text()
    assert "<h2>Tuning curves</h2>" in page
    assert "a curve still rising at the last trial says a bigger budget would likely help" in page
    assert 'alt="best validation score so far against the number of trials"' in page
    section = page[page.index("<h2>Tuning curves</h2>"):]
    assert "<td>lightgbm</td><td>random</td><td>2</td><td>6</td>" in section
