"""Gradient-boosted trees: XGBoost, LightGBM and CatBoost (family ``gbdt``).

The libraries are imported when a model is fitted, never at module import. Every booster
early-stops on the validation part, handles the categorical columns of the context
natively, uses exactly ``context.n_threads`` threads and is seeded with ``context.seed``
(on the CPU two fits with the same seed give bitwise-equal predictions).

Params common to the three: ``n_estimators`` (the most boosting rounds),
``early_stopping_rounds`` and ``stop_on``: ``"loss"`` (default) early-stops and picks the
best round on the validation loss (log loss, RMSE), ``"score"`` on TabReD's validation
score (ROC AUC for binary, accuracy for multiclass; RMSE for regression), as its XGBoost
and CatBoost scripts do. Every other param is passed to the library, under the library's
own name or a documented alias.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import numpy as np

from tabbench.core.device import (
    catboost_device_params,
    lightgbm_device_params,
    xgboost_device_params,
)
from tabbench.exceptions import ConfigError, MissingDependencyError
from tabbench.methods.models.base import FitContext, ModelSpec, register_model

__all__ = ["CatBoostModel", "LightGBMModel", "XGBoostModel"]

TASKS = ("binary", "multiclass", "regression")
MAX_ROUNDS = 2000
EARLY_STOPPING_ROUNDS = 50
STOP_ON = ("loss", "score")
#: TabReD's validation score in each library's names (regression: the RMSE loss itself).
_SCORE_METRICS = {
    "xgboost": {"binary": "auc", "multiclass": "merror"},
    "lightgbm": {"binary": "auc", "multiclass": "multi_error"},
    "catboost": {"binary": "AUC", "multiclass": "Accuracy"},
}


def _require(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as error:
        message = f"the {module} model needs the {module} package: pip install {module}"
        raise MissingDependencyError(message) from error


class BoosterModel:
    """Shared parts of the booster wrappers.

    Parameters
    ----------
    params : dict
        Model params (``n_estimators``, ``early_stopping_rounds`` and library params).
    context : FitContext
        Task, classes, categorical columns, seed, threads and device.

    Attributes (after ``fit``)
    --------------------------
    device_ : str
        The device the library actually used (``"cpu"`` or ``"cuda"``).
    n_iterations_ : int
        Boosting rounds kept (the best iteration when early stopping ran).
    val_curve_ : ndarray or None
        The validation loss (with ``stop_on="score"``: the score) after each round
        (``None`` without a validation part).
    """

    library: ClassVar[str]

    def __init__(self, *, params: dict[str, Any], context: FitContext) -> None:
        self.params = params
        self.context = context
        self.device_ = "cpu"
        self.n_iterations_: int | None = None
        self.val_curve_: np.ndarray | None = None

    def _rounds(self) -> tuple[int, int, dict[str, Any]]:
        params = dict(self.params)
        rounds = int(params.pop("n_estimators", MAX_ROUNDS))
        if self.context.max_rounds is not None:
            rounds = min(rounds, self.context.max_rounds)
        stop = int(params.pop("early_stopping_rounds", EARLY_STOPPING_ROUNDS))
        self._stop_on = params.pop("stop_on", "loss")
        if self._stop_on not in STOP_ON:
            message = (f"model {self.library!r}: stop_on must be one of "
                       f"{', '.join(map(repr, STOP_ON))}; got {self._stop_on!r}")
            raise ConfigError(message)
        return rounds, stop, params

    def _score_metric(self) -> str | None:
        """The library's name of the validation score to stop on, or ``None`` for the loss
        (``stop_on="loss"``, or regression, where RMSE is the score)."""
        if self._stop_on != "score":
            return None
        return _SCORE_METRICS[self.library].get(self.context.task)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> BoosterModel:
        """Fit on the training rows, early-stopping on ``(X_val, y_val)`` when given."""
        raise NotImplementedError

    def _raw_predict(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, shape ``(n, n_classes)``, float64, rows summing to 1."""
        if self.context.task == "regression":
            raise AttributeError("predict_proba is only available for classification")
        raw = np.asarray(self._raw_predict(X), dtype=np.float64)
        if raw.ndim == 1:
            return np.column_stack([1.0 - raw, raw])
        return raw / raw.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class codes (classification) or values (regression)."""
        if self.context.task == "regression":
            return np.asarray(self._raw_predict(X), dtype=np.float64)
        return self.predict_proba(X).argmax(axis=1)


# --- XGBoost -------------------------------------------------------------------------------


class XGBoostModel(BoosterModel):
    """XGBoost (``hist``), categorical columns as ``feature_types='c'``."""

    library = "xgboost"

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> BoosterModel:
        """Fit on the training rows, early-stopping on ``(X_val, y_val)`` when given."""
        xgb = _require("xgboost")
        ctx = self.context
        rounds, stop, params = self._rounds()
        device = xgboost_device_params(ctx.device)
        params = {
            "tree_method": "hist",
            **_xgboost_objective(ctx),
            **params,
            **device,
            "nthread": ctx.n_threads,
            "seed": ctx.seed,
            "verbosity": 0,
        }
        if metric := self._score_metric():
            params["eval_metric"] = metric
        categorical = set(ctx.categorical)
        self._feature_types = ["c" if j in categorical else "q" for j in range(X.shape[1])]
        data = {
            "feature_types": self._feature_types,
            "enable_categorical": True,
            "nthread": ctx.n_threads,
            "max_bin": params.get("max_bin", 256),
        }
        train = xgb.QuantileDMatrix(X, y, **data)
        evals = (
            [] if X_val is None else [(xgb.QuantileDMatrix(X_val, y_val, ref=train, **data), "val")]
        )
        history: dict[str, Any] = {}
        booster = xgb.train(
            params,
            train,
            num_boost_round=rounds,
            evals=evals,
            early_stopping_rounds=stop if evals else None,
            evals_result=history,
            verbose_eval=False,
        )
        self.booster_ = booster
        self.device_ = device["device"]
        if evals:
            self.n_iterations_ = booster.best_iteration + 1
            self.val_curve_ = np.asarray(history["val"][params["eval_metric"]])
        else:
            self.n_iterations_ = booster.num_boosted_rounds()
        return self

    def _raw_predict(self, X: np.ndarray) -> np.ndarray:
        rounds = (0, self.n_iterations_)
        if self.device_ == "cuda":  # inplace_predict on host data would warn and copy
            xgb = _require("xgboost")
            data = xgb.DMatrix(X, feature_types=self._feature_types, enable_categorical=True)
            return self.booster_.predict(data, iteration_range=rounds)
        return self.booster_.inplace_predict(X, iteration_range=rounds)


def _xgboost_objective(ctx: FitContext) -> dict[str, Any]:
    if ctx.task == "regression":
        return {"objective": "reg:squarederror", "eval_metric": "rmse"}
    if ctx.task == "binary":
        return {"objective": "binary:logistic", "eval_metric": "logloss"}
    return {"objective": "multi:softprob", "num_class": ctx.n_classes, "eval_metric": "mlogloss"}


def _zero_or_log(trial: Any, name: str, low: float, high: float) -> float:
    """0 with probability 1/2, else log-uniform in ``[low, high]`` (TabReD's ``?loguniform``)."""
    if trial.suggest_categorical(f"{name}_nonzero", [False, True]):
        return trial.suggest_float(name, low, high, log=True)
    return 0.0


def _xgboost_space(trial: Any) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-3, 1.0, log=True),
        "max_depth": trial.suggest_int("max_depth", 3, 10),
        "min_child_weight": trial.suggest_float("min_child_weight", 1e-8, 1e5, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "colsample_bylevel": trial.suggest_float("colsample_bylevel", 0.5, 1.0),
        "gamma": _zero_or_log(trial, "gamma", 1e-8, 1e2),
        "reg_lambda": _zero_or_log(trial, "reg_lambda", 1e-8, 1e2),
        "reg_alpha": _zero_or_log(trial, "reg_alpha", 1e-8, 1e2),
    }


# --- LightGBM ------------------------------------------------------------------------------


class LightGBMModel(BoosterModel):
    """LightGBM, categorical columns as ``categorical_feature`` indices."""

    library = "lightgbm"

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> BoosterModel:
        """Fit on the training rows, early-stopping on ``(X_val, y_val)`` when given."""
        lgb = _require("lightgbm")
        ctx = self.context
        rounds, stop, params = self._rounds()
        device = lightgbm_device_params(ctx.device)
        layout = {} if "force_col_wise" in params else {"force_row_wise": True}
        params = {
            **_lightgbm_objective(ctx),
            "deterministic": True,
            **layout,
            **params,
            **device,
            "num_threads": ctx.n_threads,
            "seed": ctx.seed,
            "verbosity": -1,
        }
        if metric := self._score_metric():
            params["metric"] = metric
        train = lgb.Dataset(X, y, categorical_feature=list(ctx.categorical), params=params)
        callbacks = []
        history: dict[str, Any] = {}
        valid_sets = []
        if X_val is not None:
            valid_sets = [lgb.Dataset(X_val, y_val, reference=train)]
            callbacks = [
                lgb.early_stopping(stop, first_metric_only=True, verbose=False),
                lgb.record_evaluation(history),
            ]
        booster = lgb.train(
            params, train, num_boost_round=rounds, valid_sets=valid_sets, callbacks=callbacks
        )
        self.booster_ = booster
        self.device_ = "cuda" if device["device_type"] == "gpu" else "cpu"
        self.n_iterations_ = booster.best_iteration or booster.current_iteration()
        if valid_sets:
            self.val_curve_ = np.asarray(history["valid_0"][params["metric"]])
        return self

    def _raw_predict(self, X: np.ndarray) -> np.ndarray:
        return self.booster_.predict(X, num_iteration=self.n_iterations_,
                                     num_threads=self.context.n_threads)


def _lightgbm_objective(ctx: FitContext) -> dict[str, Any]:
    if ctx.task == "regression":
        return {"objective": "regression", "metric": "l2"}
    if ctx.task == "binary":
        return {"objective": "binary", "metric": "binary_logloss"}
    return {"objective": "multiclass", "num_class": ctx.n_classes, "metric": "multi_logloss"}


def _lightgbm_space(trial: Any) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-3, 1.0, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 768),
        "min_child_weight": trial.suggest_float("min_child_weight", 1e-5, 1e2, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 2, 100),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.5, 1.0),
        "reg_lambda": _zero_or_log(trial, "reg_lambda", 1e-5, 1.0),
    }


# --- CatBoost ------------------------------------------------------------------------------


class CatBoostModel(BoosterModel):
    """CatBoost, categorical columns as integer ``cat_features`` (missing → -1)."""

    library = "catboost"

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> BoosterModel:
        """Fit on the training rows, early-stopping on ``(X_val, y_val)`` when given."""
        catboost = _require("catboost")
        ctx = self.context
        rounds, stop, params = self._rounds()
        device = catboost_device_params(ctx.device)
        params = {
            "iterations": rounds,
            **_catboost_objective(ctx),
            # combinations of one categorical feature only: CatBoost's default (up to 4)
            # cost 2.5-3.9x the fit time on the suite's multiclass tables for no measurable
            # validation score (docs/measurements.md, benchmarks/catboost_cost.py)
            "max_ctr_complexity": 1,
            **params,
            **device,
            "random_seed": ctx.seed,
            "thread_count": ctx.n_threads,
            "logging_level": "Silent",
            "allow_writing_files": False,
        }
        if metric := self._score_metric():
            params["eval_metric"] = metric
        if X_val is not None:
            params |= {"early_stopping_rounds": stop, "use_best_model": True}
        cls = (
            catboost.CatBoostRegressor if ctx.task == "regression" else catboost.CatBoostClassifier
        )
        model = cls(**params)
        eval_set = None if X_val is None else self._pool(X_val, y_val)
        model.fit(self._pool(X, y), eval_set=eval_set)
        self.model_ = model
        self.device_ = "cuda" if device["task_type"] == "GPU" else "cpu"
        if eval_set is not None:
            self.n_iterations_ = model.get_best_iteration() + 1
            curves = model.get_evals_result()["validation"]
            self.val_curve_ = np.asarray(curves[params.get("eval_metric",
                                                           params["loss_function"])])
        else:
            self.n_iterations_ = model.tree_count_
        return self

    def _pool(self, X: np.ndarray, y: np.ndarray | None = None) -> Any:
        # CatBoost wants integers or strings in categorical columns: a pandas frame holds
        # them as int64 (missing → -1) next to the float32 numeric columns.
        catboost = _require("catboost")
        categorical = set(self.context.categorical)
        if not categorical:
            return catboost.Pool(X, y)
        # deferred: pandas is heavy to import
        import pandas as pd

        columns = {}
        for j in range(X.shape[1]):
            column = X[:, j]
            if j in categorical:
                column = np.nan_to_num(column, nan=-1.0).astype(np.int64)
            columns[f"f{j}"] = column
        return catboost.Pool(pd.DataFrame(columns), y, cat_features=sorted(categorical))

    def _raw_predict(self, X: np.ndarray) -> np.ndarray:
        pool = self._pool(X)
        if self.context.task == "regression":
            return self.model_.predict(pool, thread_count=self.context.n_threads)
        return self.model_.predict_proba(pool, thread_count=self.context.n_threads)


def _catboost_objective(ctx: FitContext) -> dict[str, Any]:
    if ctx.task == "regression":
        return {"loss_function": "RMSE"}
    classes = list(range(ctx.n_classes))
    loss = "Logloss" if ctx.task == "binary" else "MultiClass"
    return {"loss_function": loss, "class_names": classes}


def _catboost_space(trial: Any) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 1e-3, 1.0, log=True),
        "depth": trial.suggest_int("depth", 3, 8),
        "l2_leaf_reg": trial.suggest_float("l2_leaf_reg", 0.1, 10.0),
        "bagging_temperature": trial.suggest_float("bagging_temperature", 0.0, 1.0),
        "leaf_estimation_iterations": trial.suggest_int("leaf_estimation_iterations", 1, 10),
    }


# --- Registration --------------------------------------------------------------------------

_ROUNDS = {"n_estimators": MAX_ROUNDS, "early_stopping_rounds": EARLY_STOPPING_ROUNDS}


def _builder(cls: type[BoosterModel]) -> Any:
    def build(params: dict[str, Any], context: FitContext) -> BoosterModel:
        return cls(params=dict(params), context=context)

    return build


register_model(
    ModelSpec(
        name="xgboost",
        task_types=TASKS,
        family="gbdt",
        build=_builder(XGBoostModel),
        default_params={
            **_ROUNDS,
            "learning_rate": 0.1,
            "max_depth": 6,
            "min_child_weight": 1.0,
            "subsample": 1.0,
            "colsample_bytree": 1.0,
            "colsample_bylevel": 1.0,
        },
        search_space=_xgboost_space,
        supports_gpu=True,
        description="XGBoost hist trees with native categorical splits.",
        cost=2,
    )
)
register_model(
    ModelSpec(
        name="lightgbm",
        task_types=TASKS,
        family="gbdt",
        build=_builder(LightGBMModel),
        default_params={
            **_ROUNDS,
            "learning_rate": 0.1,
            "num_leaves": 31,
            "min_child_weight": 1e-3,
            "min_child_samples": 20,
            "subsample": 1.0,
            "subsample_freq": 1,
            "colsample_bytree": 1.0,
        },
        search_space=_lightgbm_space,
        # The PyPI wheel's GPU mode (OpenCL) is used only when it works on the machine
        # (see tabbench.core.device); detecting it would import lightgbm at registration.
        supports_gpu=False,
        description="LightGBM leaf-wise trees with native categorical splits.",
        cost=1,
    )
)
register_model(
    ModelSpec(
        name="catboost",
        task_types=TASKS,
        family="gbdt",
        build=_builder(CatBoostModel),
        default_params={**_ROUNDS, "learning_rate": 0.1, "depth": 6, "l2_leaf_reg": 3.0},
        search_space=_catboost_space,
        supports_gpu=True,
        description="CatBoost oblivious trees with ordered target statistics for categories.",
        cost=4,
        revision=1,  # 1: max_ctr_complexity = 1
    )
)
