"""Split comparison and shift diagnostics on data with known drift."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tabbench.compare import POOLED, compare_splits
from tabbench.config import BUDGETS
from tabbench.datasets.spec import DatasetSpec
from tabbench.drift import diagnose_shift
from tabbench.job import Job, find_split, load_job_dataset, run_job
from tabbench.models.base import MODELS, ModelSpec
from tabbench.schema import result_frame

SPEC = DatasetSpec.from_dict({
    "name": "drift-test", "task": "binary", "target": "target", "generator": "drift",
    "time_column": "ts",
    "generator_params": {"n_rows": 4000, "seed": 3, "drift_strength": 1.5, "noise": 0.5},
})


class _Logistic:
    """Logistic regression on the columns whose names pass ``keep`` (a test model)."""

    def __init__(self, context, keep):
        self.columns = [j for j, name in enumerate(context.feature_names) if keep(name)]
        self.device_ = "cpu"

    def fit(self, X, y, X_val=None, y_val=None):
        from sklearn.linear_model import LogisticRegression

        self.model = LogisticRegression(max_iter=1000).fit(X[:, self.columns], y)
        return self

    def predict_proba(self, X):
        return self.model.predict_proba(X[:, self.columns])


@pytest.fixture(scope="module")
def drift_models():
    specs = {
        "leans-on-drift": lambda p, c: _Logistic(c, lambda n: True),
        "ignores-drift": lambda p, c: _Logistic(c, lambda n: not n.startswith("drifting")),
    }
    for name, build in specs.items():
        MODELS.register(name, ModelSpec(name=name, task_types=("binary",), family="classic",
                                        build=build))
    yield list(specs)
    for name in specs:
        MODELS._items.pop(name)


def _job(dataset, strategy, model):
    return Job(run="t", spec=SPEC, dataset_fingerprint=dataset.fingerprint,
               split_strategy=strategy, split_id=f"{strategy}-0", model=model,
               variant="tuned", seed=0, budget=BUDGETS.get("smoke"), metric="roc_auc")


def test_model_leaning_on_a_drifting_feature_loses_rank_under_the_time_split(drift_models):
    dataset = load_job_dataset(SPEC, None)
    rows = []
    for strategy in ("random", "time"):
        for model in [*drift_models, "dummy"]:
            row, _ = run_job(_job(dataset, strategy, model))
            assert row["status"] == "ok", row.get("error")
            rows.append(row)
    comparison = compare_splits(result_frame(rows))
    moves = {r["model"]: r for r in comparison.moves.iter_rows(named=True)}
    assert moves["leans-on-drift"]["rank_random"] == 1.0
    assert moves["leans-on-drift"]["rank_time"] == 2.0
    assert moves["leans-on-drift"]["rank_change"] == 1.0
    assert moves["ignores-drift"]["rank_change"] == -1.0
    assert moves["leans-on-drift"]["score_change_pct"] < -5
    pooled = comparison.taus.filter(pl.col("dataset") == POOLED)
    assert pooled["tau"][0] == pytest.approx(1 / 3)  # one swapped pair of three
    side = comparison.side_by_side("drift-test")
    assert side.columns == ["model", "random", "time"]

    # an entry scored under one split only (here a top-k variant, best of all) is not ranked
    extra = {**rows[-1], "job_id": "extra", "variant": "tuned-top2-jmi", "test_score": 0.999}
    with_extra = compare_splits(result_frame([*rows, extra]))
    assert with_extra.moves.equals(comparison.moves)
    assert with_extra.taus.equals(comparison.taus)
    time_ranks = with_extra.rankings.filter(pl.col("strategy") == "time")
    assert time_ranks.filter(pl.col("rank") == 1.0)["model"].to_list() == [
        "dummy (tuned-top2-jmi)"]  # listed under its own split


def test_adversarial_validation_sees_the_time_shift_but_not_the_random_one():
    dataset = load_job_dataset(SPEC, None)
    time_report = diagnose_shift(dataset, find_split(dataset, _job(dataset, "time", "dummy")))
    random_report = diagnose_shift(dataset, find_split(dataset, _job(dataset, "random", "dummy")))
    assert time_report.adversarial_auc > 0.75
    assert abs(random_report.adversarial_auc - 0.5) < 0.08
    top = time_report.features["feature"].head(5).to_list()
    assert any(name.startswith("inf_") for name in top)  # informative means move with time
    uninformative = time_report.features.filter(pl.col("feature").str.starts_with("uninf_"))
    assert uninformative["psi"].max() < 0.1  # stationary columns do not drift
    assert np.isfinite(time_report.features["psi"].to_numpy()).all()


def test_compare_splits_command_end_to_end(cli, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = cli("compare-splits", "--dataset", "synthetic-drift", "--models",
                            "dummy,linear,lightgbm", "--budget", "smoke", "--max-rows", "1500",
                            "--splits", "random,time", "--out", out)
    assert code == 0, err
    flat = " ".join(stdout.split())  # rich wraps titles at the terminal width
    for title in ("Rank of each model on synthetic-drift", "Kendall tau between strategies",
                  "Shift between training and test rows"):
        assert title in flat
    assert (out / "compare-splits.png").stat().st_size > 5_000
    code, stdout, _ = cli("report", out)
    assert code == 0 and (out / "report.html").is_file()
    assert "Random split against time split" in (out / "report.html").read_text()


def test_compare_splits_needs_random_and_time(cli, tmp_path):
    code, _, err = cli("compare-splits", "--splits", "time,sliding-window", "--out", tmp_path)
    assert code == 2 and "must include random and time" in err
