"""Classic baselines from scikit-learn: dummy, linear, random forest (family ``classic``).

Each wraps a scikit-learn estimator behind the :class:`~tabbench.methods.models.base.Estimator`
interface; ``predict_proba`` always returns the ``n_classes`` columns of the context.
scikit-learn is imported when a model is built, so registering the zoo stays cheap.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from tabbench.exceptions import ConfigError
from tabbench.methods.models.base import FitContext, ModelSpec, register_model

__all__ = ["SklearnModel", "validation_kwargs"]

TASKS = ("binary", "multiclass", "regression")


class SklearnModel:
    """A scikit-learn estimator behind tabbench's estimator interface.

    Parameters
    ----------
    make : callable
        ``make(params, context) -> sklearn estimator`` (unfitted).
    params : dict
        Model params.
    context : FitContext
        Task, number of classes, seed and threads.
    validation : bool, default False
        Hand the validation part to the estimator's ``fit`` when it takes one: as
        ``X_val``/``y_val`` (pytabkit) or as ``eval_set=[(X_val, y_val)]`` (the boosters'
        scikit-learn API). The built-in models do not use it.
    """

    def __init__(
        self,
        *,
        make: Callable[[dict[str, Any], FitContext], Any],
        params: dict[str, Any],
        context: FitContext,
        validation: bool = False,
    ) -> None:
        self.make = make
        self.params = params
        self.context = context
        self.validation = validation
        self.device_ = "cpu"
        self.n_iterations_: int | None = None

    @property
    def _classification(self) -> bool:
        return self.context.task != "regression"

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> SklearnModel:
        """Fit on the training rows (and the validation part, with ``validation``, when the
        estimator's ``fit`` takes one)."""
        # deferred: SciPy and scikit-learn are heavy to import
        from scipy.linalg import LinAlgWarning
        from sklearn.dummy import DummyClassifier
        from sklearn.exceptions import ConvergenceWarning

        try:
            model = self.make(self.params, self.context)
        except TypeError as error:
            message = f"invalid params for this model: {error}; params were {self.params}"
            raise ConfigError(message) from error
        if self._classification and np.unique(y).size < 2:
            # A part with one class cannot fit most classifiers; the prior is the best guess.
            model = DummyClassifier(strategy="prior")
        extra = validation_kwargs(model, X_val, y_val) if self.validation else {}
        with threadpool_limits(limits=self.context.n_threads), warnings.catch_warnings():
            # these would print once per trial from the job's process: odd data (many
            # classes on few rows, collinear columns) is what the benchmark is given
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", LinAlgWarning)
            warnings.filterwarnings("ignore", "The number of unique classes is greater than",
                                    UserWarning)
            model.fit(X, y, **extra)
        self.model_ = model
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, shape ``(n, n_classes)``; classes absent from training get 0."""
        if not self._classification:
            raise AttributeError("predict_proba is only available for classification")
        if not hasattr(self.model_, "predict_proba"):
            message = (f"the classifier {type(self.model_).__name__} has no predict_proba; "
                       f"classification is scored on class probabilities")
            raise TypeError(message)
        with threadpool_limits(limits=self.context.n_threads):
            proba = np.asarray(self.model_.predict_proba(X), dtype=np.float64)
        classes = np.asarray(getattr(self.model_, "classes_", np.arange(self.context.n_classes)))
        if proba.shape != (X.shape[0], classes.size):
            message = (f"predict_proba returned shape {proba.shape} for {X.shape[0]} rows and "
                       f"the {classes.size} classes of classes_; expected "
                       f"{(X.shape[0], classes.size)}")
            raise ValueError(message)
        out = np.zeros((X.shape[0], self.context.n_classes), dtype=np.float64)
        out[:, classes.astype(np.int64)] = proba
        with np.errstate(invalid="ignore", divide="ignore"):  # a zero row is reported later
            return out / out.sum(axis=1, keepdims=True)  # float32 inputs give float32 sums

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class codes (classification) or values (regression)."""
        if self._classification:
            return self.predict_proba(X).argmax(axis=1)
        with threadpool_limits(limits=self.context.n_threads):
            return np.asarray(self.model_.predict(X), dtype=np.float64)


def validation_kwargs(model: Any, X_val: np.ndarray | None,
                      y_val: np.ndarray | None) -> dict[str, Any]:
    """The keywords that hand the validation part to ``model.fit``: ``X_val``/``y_val``
    or ``eval_set`` when its signature has them, else none (and none without a part)."""
    if X_val is None or y_val is None:
        return {}
    try:
        parameters = inspect.signature(model.fit).parameters
    except (TypeError, ValueError):
        return {}
    if "X_val" in parameters and "y_val" in parameters:
        return {"X_val": X_val, "y_val": y_val}
    if "eval_set" in parameters:
        return {"eval_set": [(X_val, y_val)]}
    return {}


def _builder(make: Callable[[dict[str, Any], FitContext], Any]) -> Callable[..., SklearnModel]:
    def build(params: dict[str, Any], context: FitContext) -> SklearnModel:
        return SklearnModel(make=make, params=dict(params), context=context)

    return build


def _make_dummy(params: dict[str, Any], context: FitContext) -> Any:
    # deferred: scikit-learn is heavy to import
    from sklearn.dummy import DummyClassifier, DummyRegressor

    if context.task == "regression":
        return DummyRegressor(**{"strategy": "mean", **params})
    return DummyClassifier(**{"strategy": "prior", **params})


def _make_linear(params: dict[str, Any], context: FitContext) -> Any:
    # The search space suggests both C (classification) and alpha (regression); the one
    # that does not apply to the task is ignored.
    # deferred: scikit-learn is heavy to import
    from sklearn.linear_model import LogisticRegression, Ridge

    params = dict(params)
    if context.task == "regression":
        params.pop("C", None)
        params.pop("max_iter", None)
        return Ridge(**params, random_state=context.seed)
    params.pop("alpha", None)
    return LogisticRegression(**params, random_state=context.seed)


def _linear_space(trial: Any) -> dict[str, Any]:
    return {
        "C": trial.suggest_float("C", 1e-4, 1e2, log=True),
        "alpha": trial.suggest_float("alpha", 1e-3, 1e3, log=True),
    }


def _make_forest(params: dict[str, Any], context: FitContext) -> Any:
    # deferred: scikit-learn is heavy to import
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    cls = RandomForestRegressor if context.task == "regression" else RandomForestClassifier
    return cls(**params, n_jobs=context.n_threads, random_state=context.seed)


def _forest_space(trial: Any) -> dict[str, Any]:
    return {
        "max_features": trial.suggest_float("max_features", 0.1, 1.0),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 64, log=True),
        "max_depth": trial.suggest_categorical("max_depth", [None, 4, 6, 8, 12, 16, 24]),
    }


register_model(
    ModelSpec(
        name="dummy",
        task_types=TASKS,
        family="classic",
        build=_builder(_make_dummy),
        description="Class prior (classification) or training mean (regression): the baseline.",
        cost=0.01,
        baseline=True,
    )
)
register_model(
    ModelSpec(
        name="linear",
        task_types=TASKS,
        family="classic",
        build=_builder(_make_linear),
        default_params={"C": 1.0, "alpha": 1.0, "max_iter": 1000},
        search_space=_linear_space,
        description="Logistic regression (C) or ridge regression (alpha) on standardized features.",
        cost=0.1,
    )
)
register_model(
    ModelSpec(
        name="random-forest",
        task_types=TASKS,
        family="classic",
        build=_builder(_make_forest),
        default_params={"n_estimators": 100},
        search_space=_forest_space,
        description="scikit-learn random forest; n_estimators is fixed, the tree shape is tuned.",
        cost=2,
    )
)
