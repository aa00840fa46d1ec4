"""The ``paper`` budget runs TabReD's protocol: boosters' rounds and patience, nets without
an epoch cap stopping on the validation score, no pruning, TabReD's trial counts; the other
budgets (and their job ids) are unchanged."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from tabbench.data.datasets.dataset import Dataset
from tabbench.data.datasets.spec import DatasetSpec
from tabbench.data.metrics import score
from tabbench.data.splits import make_splits
from tabbench.exceptions import ConfigError
from tabbench.execution.config import BUDGETS
from tabbench.execution.job import Job
from tabbench.methods.models import FitContext, get_model
from tabbench.methods.preprocess import prepare_data
from tabbench.methods.tuning import tune


def _data(n: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    y = ((X[:, 0] + 0.8 * rng.normal(size=n)) > 0).astype(np.int64)
    return X, y


CONTEXT = FitContext(task="binary", n_classes=2, feature_names=("a", "b", "c", "d"))


def test_the_paper_budget_sets_tabreds_settings_and_the_others_none():
    paper = BUDGETS.get("paper")
    assert paper.params_for("gbdt") == {"n_estimators": 4000, "early_stopping_rounds": 3999,
                                        "stop_on": "score"}
    assert paper.params_for("nn") == {"max_epochs": None, "patience": 16, "stop_on": "score",
                                      "grad_clip": None}
    assert paper.max_rounds is None and paper.prune is False
    assert [paper.trials_for(f, m) for f, m in [("gbdt", "xgboost"), ("nn", "mlp"),
                                                ("classic", "linear"),
                                                ("classic", "random-forest")]] == [200, 100, 25, 10]
    assert "Still different from TabReD" in paper.description
    for name in ("smoke", "quick", "standard"):
        budget = BUDGETS.get(name)
        assert budget.protocol_key() == {} and budget.params_for("gbdt") == {}
        assert budget.prune and budget.trials_for("classic", "linear") == budget.n_trials


def test_the_paper_budgets_protocol_is_in_its_job_ids_only():
    spec = DatasetSpec(name="t", task="binary", target="y", generator="x")

    def job(budget):
        return Job(run="r", spec=spec, dataset_fingerprint="abc", split_strategy="time",
                   split_id="time-0", model="mlp", variant="tuned", seed=0,
                   budget=BUDGETS.get(budget), metric="roc_auc")

    assert "budget_protocol" not in job("quick").identity.key
    assert job("paper").identity.key["budget_protocol"]["prune"] is False


@pytest.mark.parametrize(("model", "curve_metric"), [("xgboost", "auc"), ("lightgbm", "auc"),
                                                     ("catboost", "AUC")])
def test_boosters_stop_on_the_validation_auc_with_the_paper_settings(model, curve_metric):
    X, y = _data()
    Xv, yv = _data(200, seed=1)
    params = {**get_model(model).default_params, "n_estimators": 60,
              "early_stopping_rounds": 59, "stop_on": "score", "learning_rate": 0.3}
    fitted = get_model(model).build(params, CONTEXT).fit(X, y, Xv, yv)
    curve = fitted.val_curve_
    assert 0.5 < curve.max() <= 1.0  # an AUC, not a loss
    assert fitted.n_iterations_ == int(np.argmax(curve)) + 1  # the best round by AUC
    loss = get_model(model).build({**params, "stop_on": "loss"}, CONTEXT).fit(X, y, Xv, yv)
    assert loss.val_curve_.min() < 0.7 and loss.n_iterations_ == int(
        np.argmin(loss.val_curve_)) + 1


def test_a_booster_refuses_an_unknown_stop_on():
    X, y = _data(50)
    with pytest.raises(ConfigError, match=r"'xgboost': stop_on must be one of 'loss', 'score'"):
        get_model("xgboost").build({"stop_on": "auc"}, CONTEXT).fit(X, y, X, y)


def test_a_net_without_an_epoch_cap_stops_on_the_validation_auc():
    X, y = _data(256)
    Xv, yv = _data(128, seed=1)
    params = {"n_blocks": 1, "d_block": 16, "max_epochs": None, "patience": 3,
              "stop_on": "score", "grad_clip": None, "lr": 3e-3}
    model = get_model("mlp").build(params, CONTEXT).fit(X, y, Xv, yv)
    assert model.n_epochs_ == model.n_iterations_ + 3  # patience, not a cap, ended it
    best = score("roc_auc", yv, model.predict_proba(Xv))
    assert best > 0.6
    with pytest.raises(ConfigError, match=r"'mlp': stop_on must be one of 'loss', 'score'"):
        get_model("mlp").build({**params, "stop_on": "x"}, CONTEXT).fit(X, y, Xv, yv)
    with pytest.raises(ConfigError, match=r"max_epochs = None \(no cap\) needs a validation"):
        get_model("mlp").build(params, CONTEXT).fit(X, y)


def test_tuning_sets_the_budgets_params_in_every_trial_and_can_run_without_pruning():
    rng = np.random.default_rng(0)
    x = rng.normal(size=240)
    frame = pl.DataFrame({"x": x, "z": rng.normal(size=240),
                          "y": ((x + rng.normal(size=240)) > 0).astype(np.int8)})
    spec = DatasetSpec(name="t", task="binary", target="y", generator="x")
    dataset = Dataset(spec=spec, frame=frame, features={"x": "numeric", "z": "numeric"},
                      fingerprint="abc", classes=(0, 1))
    split = make_splits(dataset, "random", {}, seed=0)[0]
    data = prepare_data(dataset, split, "gbdt", metric="roc_auc", seed=0, n_threads=1,
                        device="cpu")
    fixed = {"n_estimators": 30, "early_stopping_rounds": 29, "stop_on": "score"}
    result = tune(get_model("lightgbm"), data, n_trials=3, seed=0, fixed=fixed, prune=False)
    for params in result.trials["params"]:
        assert {k: json.loads(params)[k] for k in fixed} == fixed
    assert {k: result.best_params[k] for k in fixed} == fixed
