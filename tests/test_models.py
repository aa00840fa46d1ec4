from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import optuna
import polars as pl
import pytest

from tabbench.core.device import (
    catboost_device_params,
    cuda_available,
    lightgbm_device_params,
    resolve_device,
    xgboost_device_params,
)
from tabbench.data.metrics import default_metric, is_better, score
from tabbench.exceptions import TabbenchError, UnknownNameError
from tabbench.methods.models import get_model
from tabbench.methods.models import model_names as _all_names
from tabbench.methods.preprocess import make_preprocessor

ROOT = Path(__file__).resolve().parents[1]
BOOSTERS = ["xgboost", "lightgbm", "catboost"]
# Few rounds and trees keep the whole file fast; only keys a model already has are changed.
TINY = {"n_estimators": 40, "early_stopping_rounds": 10, "max_epochs": 5, "patience": 2}
TINY_FOREST = {"n_estimators": 20}
FEATURES = {"city": "categorical", "x": "numeric", "noise": "numeric"}
N = 400
TRAIN, VAL, TEST = slice(0, 260), slice(260, 330), slice(330, N)


def model_names():  # NCD methods (task "ncd") are covered by tests/test_ncd.py
    return [n for n in _all_names() if "ncd" not in get_model(n).task_types]


def make_data(seed: int = 0) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """A categorical and a numeric column (with missing values) that carry the signal."""
    rng = np.random.default_rng(seed)
    city = rng.choice(["a", "b", "c", "d"], N)
    x = rng.normal(size=N)
    signal = 1.5 * (city == "a") - 1.5 * (city == "d") + x
    x_seen = np.where(rng.random(N) < 0.1, np.nan, x)
    city_seen = np.where(rng.random(N) < 0.05, None, city)
    frame = pl.DataFrame({"city": city_seen, "x": x_seen, "noise": rng.normal(size=N)})
    targets = {
        "binary": (signal > 0).astype(np.int64),
        "multiclass": np.digitize(signal, [-0.7, 0.7]).astype(np.int64),
        "regression": signal + 0.1 * rng.normal(size=N),
    }
    return frame, targets


def tiny_params(name: str) -> dict:
    spec = get_model(name)
    overrides = TINY_FOREST if spec.family == "classic" else TINY
    return {
        **spec.default_params,
        **{k: v for k, v in overrides.items() if k in spec.default_params},
    }


def fit(name, task, y, frame, params=None, n_classes=None, seed=0, n_threads=1):
    spec = get_model(name)
    pre = make_preprocessor(spec.family).fit(frame[TRAIN], FEATURES)
    k = 0 if task == "regression" else (n_classes or int(y.max()) + 1)
    context = pre.fit_context(task, k, seed=seed, n_threads=n_threads, device="cpu")
    X_train, X_val, X_test = (pre.transform(frame[part]) for part in (TRAIN, VAL, TEST))
    model = spec.build(params or tiny_params(name), context)
    model.fit(X_train, y[TRAIN], X_val, y[VAL])
    return model, X_test


def predictions(model, task, X):
    return model.predict(X) if task == "regression" else model.predict_proba(X)


@pytest.mark.parametrize("name", model_names())
def test_every_model_fits_predicts_and_beats_the_dummy(name):
    frame, targets = make_data()
    spec = get_model(name)
    for task in spec.task_types:
        y = targets[task]
        model, X_test = fit(name, task, y, frame)
        n_test = X_test.shape[0]
        assert model.device_ == "cpu"
        if spec.family == "gbdt":
            assert 1 <= model.n_iterations_ <= TINY["n_estimators"]
        labels = model.predict(X_test)
        assert labels.shape == (n_test,)
        if task == "regression":
            assert labels.dtype == np.float64
        else:
            proba = model.predict_proba(X_test)
            k = int(y.max()) + 1
            assert proba.shape == (n_test, k)
            assert (proba >= 0).all()
            np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
            assert set(np.unique(labels)) <= set(range(k))
            np.testing.assert_array_equal(labels, proba.argmax(axis=1))
        if name == "dummy":
            continue
        metric = default_metric(task)
        dummy, _ = fit("dummy", task, y, frame)
        ours = score(metric, y[TEST], predictions(model, task, X_test))
        baseline = score(metric, y[TEST], predictions(dummy, task, X_test))
        assert is_better(metric, ours, baseline), (task, metric, ours, baseline)
        if metric == "roc_auc":
            assert ours > 0.75, (task, ours)
        else:
            assert ours < 0.8 * baseline, (task, ours, baseline)


@pytest.mark.parametrize("name", model_names())
def test_probabilities_cover_classes_absent_from_training(name):
    frame, targets = make_data()
    y = targets["multiclass"]  # classes 0..2; the context says there are 4
    model, X_test = fit(name, "multiclass", y, frame, n_classes=4)
    proba = model.predict_proba(X_test)
    assert proba.shape == (X_test.shape[0], 4)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-9)
    assert proba[:, 3].max() < 0.05


@pytest.mark.parametrize("name", [n for n in model_names() if get_model(n).tunable])
def test_search_space_params_are_accepted(name):
    frame, targets = make_data()
    spec = get_model(name)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(2):
        trial = study.ask()
        params = {**tiny_params(name), **spec.search_space(trial)}
        params |= {k: v for k, v in tiny_params(name).items() if k in TINY}
        if spec.family == "nn":  # any width is valid; a small one keeps the test fast
            params |= {"d_block": min(params["d_block"], 64), "n_blocks": min(params["n_blocks"], 2)}
        model, X_test = fit(name, "binary", targets["binary"], frame, params=params)
        assert model.predict_proba(X_test).shape == (X_test.shape[0], 2)


@pytest.mark.parametrize("name", BOOSTERS)
def test_boosters_are_deterministic_for_a_seed(name):
    frame, targets = make_data()
    sampling = {
        "xgboost": {"subsample": 0.7, "colsample_bytree": 0.7},
        "lightgbm": {"subsample": 0.7, "colsample_bytree": 0.7},
        "catboost": {"bagging_temperature": 1.0, "rsm": 0.7},
    }[name]
    params = {**tiny_params(name), **sampling}
    for task in ("binary", "regression"):
        y = targets[task]
        runs = [fit(name, task, y, frame, params=params, seed=7, n_threads=2) for _ in range(2)]
        (first, X_test), (second, _) = runs
        assert first.n_iterations_ == second.n_iterations_
        a, b = predictions(first, task, X_test), predictions(second, task, X_test)
        assert a.tobytes() == b.tobytes()  # bitwise equal
        other, _ = fit(name, task, y, frame, params=params, seed=8, n_threads=2)
        assert predictions(other, task, X_test).tobytes() != a.tobytes()  # the seed is used


def test_importing_the_zoo_does_not_import_the_boosters():
    code = textwrap.dedent(
        """
        import sys
        import tabbench.methods.models.gbdt
        from tabbench.methods.models import model_names
        import tabbench.core.device
        names = model_names()
        assert {"xgboost", "lightgbm", "catboost"} <= set(names), names
        tabbench.core.device.cuda_available()
        heavy = {"xgboost", "lightgbm", "catboost", "torch"} & set(sys.modules)
        assert not heavy, heavy
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


# --- device --------------------------------------------------------------------------------


def test_resolve_device():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if cuda_available() else "cpu")
    with pytest.raises(UnknownNameError, match="unknown device 'tpu'; valid names are: auto, cpu"):
        resolve_device("tpu")


@pytest.mark.skipif(cuda_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_device_raises():
    with pytest.raises(TabbenchError, match="no CUDA device is available"):
        resolve_device("cuda")


def test_cpu_device_params():
    assert xgboost_device_params("cpu") == {"device": "cpu"}
    assert catboost_device_params("cpu") == {"task_type": "CPU"}
    assert lightgbm_device_params("cpu") == {"device_type": "cpu"}


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ["xgboost", "catboost"])
def test_gpu_boosters_record_cuda(name):
    frame, targets = make_data()
    spec = get_model(name)
    pre = make_preprocessor(spec.family).fit(frame[TRAIN], FEATURES)
    context = pre.fit_context("binary", 2, device="cuda")
    X = pre.transform(frame[TRAIN])
    model = spec.build(tiny_params(name), context).fit(X, targets["binary"][TRAIN])
    assert model.device_ == "cuda"
    assert model.predict_proba(X).shape == (X.shape[0], 2)
