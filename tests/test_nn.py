"""The deep models (mlp, mlp-plr, resnet, tabm), their trainer, and the ``nn`` preprocessing."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import polars as pl
import pytest

from tabbench.core.device import cuda_available
from tabbench.data.metrics import score
from tabbench.exceptions import ConfigError
from tabbench.methods.models import get_model
from tabbench.methods.preprocess import MAX_ONE_HOT, PreparedData, make_preprocessor
from tabbench.methods.tuning import tune

ROOT = Path(__file__).resolve().parents[1]
DEEP = ["mlp", "mlp-plr", "resnet", "tabm"]
# Small and short: every fit in this file takes well under a second on one thread.
SMALL = {"n_blocks": 1, "d_block": 32, "max_epochs": 4}
N = 360
TRAIN, VAL, TEST = slice(0, 240), slice(240, 300), slice(300, N)


def make_frame(seed: int = 0) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    """A numeric column with missing values, a flag, a low- and a high-cardinality category."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=N)
    city = rng.choice(["a", "b", "c"], N)
    shop = rng.integers(0, 40, N)  # 40 categories: embedded, not one-hot
    signal = x + 1.0 * (city == "a") + 1.5 * (shop % 2 == 0) - 0.75
    frame = pl.DataFrame(
        {
            "x": np.where(rng.random(N) < 0.1, np.nan, x),
            "flag": rng.random(N) < 0.5,
            "city": city,
            "shop": [f"s{v}" for v in shop],
        }
    )
    targets = {
        "binary": (signal > 0).astype(np.int64),
        "multiclass": np.digitize(signal, [-0.5, 0.7]).astype(np.int64),
        "regression": signal + 0.1 * rng.normal(size=N),
    }
    return frame, targets


FEATURES = {"x": "numeric", "flag": "boolean", "city": "categorical", "shop": "categorical"}


def prepared(task: str = "binary", seed: int = 0, n_threads: int = 1,
             max_rounds: int | None = None) -> PreparedData:
    frame, targets = make_frame()
    y = targets[task]
    pre = make_preprocessor("nn").fit(frame[TRAIN], FEATURES)
    k = 0 if task == "regression" else int(y.max()) + 1
    context = replace(pre.fit_context(task, k, seed=seed, n_threads=n_threads),
                      max_rounds=max_rounds)
    X = [pre.transform(frame[part]) for part in (TRAIN, VAL, TEST)]
    metric = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}[task]
    return PreparedData(X[0], y[TRAIN], X[1], y[VAL], X[2], y[TEST], context, metric)


def fit(name: str, data: PreparedData, params: dict | None = None, **context_changes):
    context = replace(data.context, **context_changes)
    model = get_model(name).build({**SMALL, **(params or {})}, context)
    return model.fit(data.X_train, data.y_train, data.X_val, data.y_val)


def output(model, data: PreparedData, X: np.ndarray | None = None) -> np.ndarray:
    X = data.X_test if X is None else X
    if data.context.task == "regression":
        return model.predict(X)
    return model.predict_proba(X)


# --- registry and lazy imports -------------------------------------------------------------


def test_the_deep_models_are_registered_with_tabreds_space():
    for name in DEEP:
        spec = get_model(name)
        assert spec.family == "nn" and spec.supports_gpu and spec.tunable
        assert spec.task_types == ("binary", "multiclass", "regression")
        trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1)).ask()
        params = spec.search_space(trial)
        assert 1 <= params["n_blocks"] <= 5 and 64 <= params["d_block"] <= 1024
        assert 3e-5 <= params["lr"] <= 1e-3 and 0 <= params["dropout"] <= 0.5
        assert params["weight_decay"] == 0 or 1e-4 <= params["weight_decay"] <= 0.1
        defaults = spec.default_params
        assert defaults["patience"] == 16 and defaults["n_blocks"] <= 2
        assert defaults["d_block"] <= 256
    plr = get_model("mlp-plr").search_space(optuna.create_study().ask())
    assert 16 <= plr["n_frequencies"] <= 96 and 16 <= plr["d_embedding"] <= 32
    assert 0.01 <= plr["frequency_init_scale"] <= 10
    assert get_model("tabm").default_params["k"] == 32


def test_registering_the_zoo_does_not_import_torch():
    code = textwrap.dedent(
        """
        import sys
        import tabbench
        from tabbench.methods.models import model_names
        assert {"mlp", "mlp-plr", "resnet", "tabm"} <= set(model_names())
        heavy = {"torch", "tabm", "rtdl_num_embeddings"} & set(sys.modules)
        assert not heavy, heavy
        """
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr


def test_unknown_params_raise():
    data = prepared()
    with pytest.raises(ConfigError, match=r"model 'mlp': unknown params \['depth'\]; allowed"):
        fit("mlp", data, {"depth": 3})


# --- training ------------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_every_architecture_learns_every_task(task):
    data = prepared(task)
    for name in DEEP:
        model = fit(name, data, {"max_epochs": 30, "d_block": 64})
        prediction = output(model, data)
        if task == "regression":
            assert prediction.dtype == np.float64 and prediction.shape == (N - 300,)
            baseline = np.full_like(data.y_test, data.y_train.mean(), dtype=np.float64)
            assert score("rmse", data.y_test, prediction) < 0.8 * score("rmse", data.y_test,
                                                                        baseline)
        else:
            k = data.context.n_classes
            assert prediction.shape == (N - 300, k) and prediction.dtype == np.float64
            np.testing.assert_allclose(prediction.sum(axis=1), 1.0, rtol=1e-12)
            if task == "binary":
                assert score("roc_auc", data.y_test, prediction) > 0.8, name
        assert model.device_ == "cpu"
        assert 1 <= model.n_iterations_ <= model.n_epochs_ <= 30


def test_early_stopping_stops_when_the_validation_loss_stops_improving():
    data = prepared()
    noise = np.random.default_rng(1).integers(0, 2, data.y_train.size)  # nothing to learn
    data = replace(data, y_train=noise)
    model = fit("mlp", data, {"max_epochs": 200, "patience": 3, "lr": 1e-3, "d_block": 64})
    assert model.n_epochs_ < 200
    assert model.n_epochs_ == model.n_iterations_ + 3  # stopped `patience` epochs after the best
    assert len(model.val_curve_) == model.n_epochs_
    assert int(np.argmin(model.val_curve_)) + 1 == model.n_iterations_


def test_max_rounds_caps_the_epochs():
    model = fit("mlp", prepared(), {"max_epochs": 50, "patience": 50}, max_rounds=3)
    assert model.n_epochs_ == 3


def test_report_is_called_after_every_epoch_and_pruning_propagates():
    import torch

    data = prepared("regression")
    seen: list[tuple[int, np.ndarray]] = []

    def report(epoch: int, prediction: np.ndarray) -> None:
        seen.append((epoch, prediction))
        if epoch == 2:
            raise optuna.TrialPruned("pruned at epoch 2")

    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    with pytest.raises(optuna.TrialPruned):
        fit("mlp", data, {"max_epochs": 10}, report=report, n_threads=threads + 1)
    assert [epoch for epoch, _ in seen] == [1, 2]
    assert seen[0][1].shape == data.y_val.shape  # values in the target's units
    assert abs(seen[0][1].mean() - data.y_train.mean()) < 3 * data.y_train.std()
    # torch's global state is restored, even after an exception
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == deterministic


class PruneAllButTheFirst(optuna.pruners.BasePruner):
    """Prunes every trial after the first at its first report."""

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return trial.number > 0


def test_tuning_prunes_deep_models():
    data = prepared(max_rounds=6)
    result = tune(get_model("mlp"), data, n_trials=3, seed=0, pruner=PruneAllButTheFirst())
    assert result.trials.get_column("state").to_list() == ["complete", "pruned", "pruned"]
    assert result.trials.get_column("is_default").to_list()[0]
    assert 1 <= result.trials.get_column("n_iterations").to_list()[0] <= 6  # max_rounds caps


@pytest.mark.parametrize("name", DEEP)
def test_cpu_training_is_deterministic_for_a_seed(name):
    data = prepared("binary")
    first, second = (fit(name, data, seed=7, n_threads=2) for _ in range(2))
    assert output(first, data).tobytes() == output(second, data).tobytes()  # bitwise
    other = fit(name, data, seed=8, n_threads=2)
    assert output(other, data).tobytes() != output(first, data).tobytes()


@pytest.mark.parametrize(("name", "task"), [("mlp-plr", "regression"), ("tabm", "multiclass"),
                                            ("resnet", "binary"), ("mlp", "binary")])
def test_save_and_load_round_trip(tmp_path, name, task):
    import torch

    data = prepared(task)
    model = fit(name, data, {"lr": np.float64(1e-3)})  # numpy scalars are saved as numbers
    path = tmp_path / f"{name}.pt"
    model.save(path)
    assert torch.load(path, weights_only=True)["architecture"] == name  # plain data + tensors
    loaded = type(model).load(path)
    assert loaded.n_iterations_ == model.n_iterations_
    assert output(loaded, data).tobytes() == output(model, data).tobytes()


def test_unseen_categories_and_empty_inputs_predict():
    frame, _ = make_frame()
    pre = make_preprocessor("nn").fit(frame[TRAIN], FEATURES)
    data = prepared()
    model = fit("tabm", data)
    odd = pl.DataFrame({"x": [None, 1e300], "flag": [None, True], "city": ["zzz", None],
                        "shop": ["new", None]}, schema=frame.schema)
    proba = model.predict_proba(pre.transform(odd))
    assert np.isfinite(proba).all() and proba.shape == (2, 2)
    assert model.predict_proba(data.X_test[:0]).shape[0] == 0


def test_batch_sizes():
    from tabbench.methods.models.nn_train import train_batch_size

    assert [train_batch_size(n) for n in (100, 260, 1000, 2048, 100_000, 200_000, 10**6)] == [
        32, 32, 64, 256, 256, 512, 1024]

    from tabbench.methods.models.nn_train import TRAIN_ACTIVATION_BYTES, micro_batches

    assert micro_batches(256, TRAIN_ACTIVATION_BYTES / 64) == 4  # 64 rows fit the budget
    assert micro_batches(256, TRAIN_ACTIVATION_BYTES / 256) == 1
    assert micro_batches(256, TRAIN_ACTIVATION_BYTES * 2) == 256  # one row at a time


def _network(name: str, data: PreparedData, **params):
    import torch

    from tabbench.methods.models import nn_modules
    from tabbench.methods.models.nn import _defaults, _layout

    torch.manual_seed(0)
    d_out = data.context.n_classes or 1
    return nn_modules.build_network(name, {**_defaults(name), **SMALL, **params},
                                    _layout(data.X_train, data.context), d_out)


def test_micro_batches_add_up_to_the_mini_batch_gradient():
    import torch

    from tabbench.methods.models.nn_train import backward

    data = prepared("multiclass")
    network = _network("tabm", data, dropout=0.0)
    X, y = torch.from_numpy(data.X_train), torch.as_tensor(data.y_train)
    rows = torch.arange(100)
    grads = []
    for parts in (1, 3):
        network.zero_grad(set_to_none=True)
        backward(network, X, y, rows, parts, classification=True)
        grads.append([p.grad.clone() for p in network.parameters()])
    for whole, split in zip(*grads, strict=True):
        torch.testing.assert_close(split, whole, rtol=1e-4, atol=1e-7)


def test_activation_measurements_see_tabms_members_and_change_nothing():
    import torch

    from tabbench.methods.models.nn_train import (
        EVAL_ELEMENTS,
        eval_batch_size,
        saved_bytes_per_row,
        widest_activation,
    )

    data = prepared()
    X = torch.from_numpy(data.X_train[:8])
    mlp, tabm = _network("mlp", data), _network("tabm", data)
    assert saved_bytes_per_row(tabm, X) > 16 * saved_bytes_per_row(mlp, X)  # k = 32 members
    assert widest_activation(tabm, X) >= 32 * SMALL["d_block"]
    assert eval_batch_size(widest_activation(tabm, X)) * widest_activation(tabm, X) <= (
        EVAL_ELEMENTS)
    resnet = _network("resnet", data)
    buffers = [b.clone() for b in resnet.buffers()]
    rng = torch.get_rng_state()
    assert saved_bytes_per_row(resnet, X) > 0 and widest_activation(resnet, X) > 0
    assert torch.equal(torch.get_rng_state(), rng)  # the probe's dropout drew nothing
    assert all(torch.equal(a, b) for a, b in zip(resnet.buffers(), buffers, strict=True))
    assert resnet.training  # the mode is restored


def test_a_small_budget_splits_tabm_but_never_batchnorm(monkeypatch):
    from tabbench.methods.models import nn_train

    monkeypatch.setattr(nn_train, "TRAIN_ACTIVATION_BYTES", 64 << 10)
    parts: dict[str, set[int]] = {}
    backward = nn_train.backward

    def spy(network, *args, **kwargs):
        parts.setdefault(type(network.body).__name__, set()).add(args[3])
        return backward(network, *args, **kwargs)

    monkeypatch.setattr(nn_train, "backward", spy)
    data = prepared()
    first, second = (fit("tabm", data, seed=3) for _ in range(2))
    assert min(parts["TabM"]) > 1
    assert output(first, data).tobytes() == output(second, data).tobytes()  # still bitwise
    assert score("roc_auc", data.y_test, output(first, data)) > 0.7
    fit("resnet", data)
    assert parts["ResNet"] == {1}


# --- the nn preprocessing ------------------------------------------------------------------


def test_nn_preprocessor_layout():
    frame, _ = make_frame()
    pre = make_preprocessor("nn").fit(frame[TRAIN], FEATURES)
    assert pre.feature_names_ == ("x", "x__missing", "flag", "city=a", "city=b", "city=c", "shop")
    assert pre.categorical_ == (6,)
    assert pre.cardinalities_ == (40,)
    X = pre.transform(frame[TRAIN])
    assert X.dtype == np.float32 and X.flags.c_contiguous
    x, missing = X[:, 0], X[:, 1].astype(bool)
    assert (x[missing] == 0).all() and missing.sum() == frame[TRAIN]["x"].is_nan().sum()
    assert abs(x[~missing].mean()) < 0.1 and abs(x[~missing].std() - 1) < 0.1  # ≈ normal
    assert set(np.unique(X[:, 2:6])) <= {0.0, 1.0}
    codes = X[:, 6]
    assert set(np.unique(codes)) == set(range(40))


def test_nn_preprocessor_threshold_between_one_hot_and_codes():
    values = [f"v{i:02d}" for i in range(MAX_ONE_HOT + 1)]
    narrow = make_preprocessor("nn").fit(pl.DataFrame({"c": values[:-1]}), {"c": "categorical"})
    assert narrow.categorical_ == () and len(narrow.feature_names_) == MAX_ONE_HOT
    wide = make_preprocessor("nn").fit(pl.DataFrame({"c": values}), {"c": "categorical"})
    assert wide.categorical_ == (0,) and wide.cardinalities_ == (MAX_ONE_HOT + 1,)
    unseen = pl.DataFrame({"c": ["nope", None, "v03"]})
    assert narrow.transform(unseen).tolist()[:2] == [[0.0] * MAX_ONE_HOT] * 2
    assert narrow.transform(unseen)[2, 3] == 1.0
    assert np.isnan(wide.transform(unseen)[:2]).all() and wide.transform(unseen)[2, 0] == 3.0


def test_nn_preprocessor_never_raises_on_garbage():
    frame, _ = make_frame()
    pre = make_preprocessor("nn").fit(frame[TRAIN], FEATURES)
    garbage = pl.DataFrame({"x": [math.inf, -math.inf, 1e300, None], "flag": [None] * 4,
                            "city": ["?", None, "a", "b"], "shop": ["?", None, "s1", "s2"]},
                           schema=frame.schema)
    X = pre.transform(garbage)
    numbers = np.delete(X, pre.categorical_, axis=1)
    assert np.isfinite(numbers).all() and np.abs(numbers).max() < 6


def test_nn_noise_is_seeded():
    train = pl.DataFrame({"k": np.repeat([1.0, 2.0, 3.0], 50)})  # few distinct values
    runs = [make_preprocessor("nn", seed=s).fit(train, {"k": "numeric"}).transform(train)
            for s in (0, 0, 1)]
    assert runs[0].tobytes() == runs[1].tobytes()
    assert runs[0].tobytes() != runs[2].tobytes()


def test_nn_preprocessor_learns_from_training_rows_only():
    frame, _ = make_frame()
    train, other = np.arange(0, 240), np.arange(240, N)
    garbage = pl.DataFrame(
        {
            "x": np.full(other.size, 1e12),
            "flag": [None] * other.size,
            "city": [f"new-{i}" for i in range(other.size)],
            "shop": [f"new-{i}" for i in range(other.size)],
        },
        schema=frame.schema,
    )
    tampered = pl.concat([frame[train], garbage])
    pre = make_preprocessor("nn").fit(frame[train], FEATURES)
    refit = make_preprocessor("nn").fit(tampered[train], FEATURES)
    state = (pre.feature_names_, pre.categorical_, pre.cardinalities_)
    assert (refit.feature_names_, refit.categorical_, refit.cardinalities_) == state
    np.testing.assert_array_equal(refit.transform(frame[other]), pre.transform(frame[other]))
    np.testing.assert_array_equal(refit.transform(tampered), pre.transform(tampered))


# --- GPU -----------------------------------------------------------------------------------


def _torch_cuda() -> bool:
    if not cuda_available():
        return False
    import torch

    return torch.cuda.is_available()


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", DEEP)
def test_gpu_training_records_cuda(tmp_path, name):
    if not _torch_cuda():
        pytest.skip("this torch build has no CUDA support")
    data = prepared("binary")
    model = fit(name, data, {"max_epochs": 10, "d_block": 64}, device="cuda")
    assert model.device_ == "cuda"
    proba = model.predict_proba(data.X_test)
    assert np.isfinite(proba).all()
    assert score("roc_auc", data.y_test, proba) > 0.75
    model.save(tmp_path / "gpu.pt")
    loaded = type(model).load(tmp_path / "gpu.pt", device="cpu")
    np.testing.assert_allclose(loaded.predict_proba(data.X_test), proba, atol=0.05)


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="needs CUDA")
def test_gpu_runs_a_tuned_job_with_pruning():
    if not _torch_cuda():
        pytest.skip("this torch build has no CUDA support")
    data = prepared(max_rounds=5)
    data = replace(data, context=replace(data.context, device="cuda"))
    result = tune(get_model("mlp-plr"), data, n_trials=3, seed=0, pruner=PruneAllButTheFirst())
    assert result.trials.get_column("state").to_list() == ["complete", "pruned", "pruned"]
