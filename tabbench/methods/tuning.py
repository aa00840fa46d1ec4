"""Fitting and tuning one job's model: one fit and its scores, and the Optuna search.

:func:`fit_model` is the one fit every path shares (a benchmark job's evaluation fits and
trials, and the black box of :mod:`tabbench.studies.explain`); :func:`tune` searches the model's
space with TPE, seeded, the model's default params as the first trial.
"""

from __future__ import annotations

import json
import os
import socket
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from tabbench.data.metrics import get_metric, score
from tabbench.exceptions import TabbenchError
from tabbench.methods.models.base import check_prediction

if TYPE_CHECKING:
    from tabbench.methods.models.base import Estimator, ModelSpec
    from tabbench.methods.preprocess import PreparedData


@dataclass(frozen=True)
class FitOutcome:
    """One fit: the scores on the requested parts and what it cost."""

    scores: dict[str, float]
    fit_seconds: float
    predict_seconds: float
    device: str
    n_iterations: int | None
    #: The predictions on each scored part, when asked for (``keep_predictions``).
    predictions: dict[str, np.ndarray] = field(default_factory=dict)


def fit_model(spec: ModelSpec, params: dict[str, Any], data: PreparedData, seed: int,
              report: Any = None) -> tuple[Estimator, float]:
    """Fit ``spec`` with ``params`` on the training part (the validation part for early stopping).

    ``report(epoch, val_prediction)`` is handed to iterative models (see ``FitContext``).

    Returns
    -------
    (estimator, float)
        The fitted estimator and the seconds its ``fit`` took.
    """
    context = replace(data.context, seed=seed, report=report)
    estimator = spec.build(dict(params), context)
    started = time.perf_counter()
    estimator.fit(data.X_train, data.y_train, data.X_val, data.y_val)
    return estimator, time.perf_counter() - started


def fit_and_score(spec: ModelSpec, params: dict[str, Any], data: PreparedData, seed: int,
                  parts: tuple[str, ...] = ("val",), report: Any = None,
                  keep_predictions: bool = False) -> FitOutcome:
    """Fit ``spec`` with ``params`` (see :func:`fit_model`) and score it on ``parts``
    (keeping the predictions on them with ``keep_predictions``)."""
    estimator, fit_seconds = fit_model(spec, params, data, seed, report)
    scores: dict[str, float] = {}
    predictions: dict[str, np.ndarray] = {}
    predict_seconds = 0.0
    for part in parts:
        X, y = data.part(part)
        started = time.perf_counter()
        prediction = predict(estimator, X, data.context.task, data.context.n_classes)
        predict_seconds += time.perf_counter() - started
        scores[part] = score(data.metric, y, prediction)
        if keep_predictions:
            predictions[part] = prediction
    return FitOutcome(scores, fit_seconds, predict_seconds, getattr(estimator, "device_", "cpu"),
                      getattr(estimator, "n_iterations_", None), predictions)


def predict(estimator: Any, X: np.ndarray, task: str, n_classes: int | None = None) -> np.ndarray:
    """Class probabilities for classification, values for regression; a wrong shape or a
    non-finite value raises ``ValueError`` saying so (a plugin's model may return either)."""
    raw = estimator.predict(X) if task == "regression" else estimator.predict_proba(X)
    return check_prediction(raw, X.shape[0], task, n_classes)


@dataclass(frozen=True)
class TuneResult:
    """The outcome of a study: best params and validation score, and the trials table."""

    best_params: dict[str, Any]
    best_value: float
    n_trials: int
    seconds: float
    trials: pl.DataFrame
    n_trials_here: int = 0


def open_study(direction: str, *, storage: str | None = None, study_name: str | None = None,
               sampler: Any = None, pruner: Any = None) -> Any:
    """Create (or, with ``storage``, load) a study; its first trial is the default params.

    The default trial is enqueued only into an empty study, so a resumed or shared study
    gets it once; for a study shared between workers the driver opens it before they start.
    """
    import optuna  # heavy: loaded only where a study is used, not by a plain fit

    # a failed trial is recorded in the trials table (and in the row's error if every trial
    # fails); Optuna's warning would print its traceback from the job's process
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    study = optuna.create_study(direction=direction, sampler=sampler,
                                storage=_open_storage(storage), study_name=study_name,
                                load_if_exists=storage is not None, pruner=pruner)
    if not study.trials:
        study.enqueue_trial({}, user_attrs={"default": True})
    return study


#: Seconds a SQLite connection waits for another process's write lock.
SQLITE_BUSY_SECONDS = 60.0


#: Seconds to wait for a storage server (PostgreSQL…) to answer when a run starts.
STORAGE_CONNECT_SECONDS = 10


def check_storage(url: str, where: str = "storage", *, parameter: str | None = None) -> None:
    """Open the Optuna storage at ``url`` once; raise :class:`TabbenchError` saying why not.

    Catches a misspelt URL, an SQLite file in a folder that cannot be written and a
    database server that does not answer before any job runs.
    """
    import optuna  # heavy: loaded only where a study is used, not by a plain fit
    from sqlalchemy.engine import make_url  # optuna's storage library, as heavy
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise TabbenchError(f"{where}: {url!r} is not a storage URL; expected e.g. "
                            f"sqlite:///studies.db or postgresql+psycopg://USER@HOST:PORT/DB",
                            parameter=parameter) from None
    connect_args = {} if parsed.get_backend_name() == "sqlite" else {
        "connect_timeout": STORAGE_CONNECT_SECONDS}
    try:
        storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": connect_args})
    except Exception as exc:  # the driver's own errors: no common base class
        reason = " ".join(str(exc).split("\n")[0].split())[:300]
        raise TabbenchError(f"{where}: cannot open the Optuna storage {url!r} "
                            f"({type(exc).__name__}: {reason})", parameter=parameter) from None
    storage.engine.dispose()


def _open_storage(url: str | None) -> Any:
    """The Optuna storage for ``url``; SQLite files get one writer transaction at a time.

    Optuna claims an enqueued trial by reading it as waiting and marking it running in one
    ``SELECT … FOR UPDATE`` transaction. SQLite ignores ``FOR UPDATE`` and pysqlite starts
    the transaction only at the write, so two processes sharing a study file could claim
    the same trial, both run it, and the second crash on ``tell`` ("Cannot tell a COMPLETE
    trial"). Starting every transaction with ``BEGIN IMMEDIATE`` (SQLAlchemy's recipe for
    pysqlite) takes the write lock before the read. Other URLs go to Optuna unchanged.
    """
    if url is None or not url.startswith("sqlite"):
        return url
    import optuna  # heavy: loaded only where a study is used, not by a plain fit
    from sqlalchemy import event  # optuna's storage library, as heavy

    storage = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {
        "isolation_level": None, "timeout": SQLITE_BUSY_SECONDS}})
    event.listen(storage.engine, "begin",
                 lambda connection: connection.exec_driver_sql("BEGIN IMMEDIATE"))
    return storage


def tune(spec: ModelSpec, data: PreparedData, *, n_trials: int, seed: int,
         timeout: float | None = None, storage: str | None = None,
         study_name: str | None = None, pruner: Any = None, sampler_seed: int | None = None,
         share: int | None = None, fixed: dict[str, Any] | None = None,
         prune: bool = True) -> TuneResult:
    """Search ``spec``'s space on the validation part.

    The first trial uses the model's default params, so the tuned model never loses to the
    default on validation. A trial that raises is recorded as failed and the search goes on;
    if every trial fails, the first error is raised. With ``storage`` (any Optuna storage
    URL) the study is persistent: a resumed study only runs the trials still missing.
    Iterative models report the validation metric after each epoch and ``pruner``
    (default: Optuna's ``MedianPruner`` after 5 trials and 5 epochs) stops hopeless trials;
    ``prune=False`` runs every trial to its end (TabReD's tuner, the ``paper`` budget).
    ``fixed`` params (the budget's, e.g. the rounds and patience) are set in every trial,
    over the defaults and the sampled params, and are part of each trial's ``params``.

    ``share``: other processes tune the same stored study at the same time (each with its
    own ``sampler_seed``) and this one runs at most ``share`` trials, its part of the
    budget: fixed parts add up to ``n_trials`` exactly, where "stop when the study is full"
    lets two workers that finish together both start one more. It also stops once the
    study holds ``n_trials`` trials counting those running elsewhere (a resumed study).
    Each trial records the host and process that ran it (``worker``). ``seconds`` is this call's wall
    time, or, when the study was already complete (tuned by other processes), the span
    from its first trial's start to its last trial's end.
    """
    import optuna  # heavy: loaded only where a study is used, not by a plain fit

    if not prune:
        pruner = optuna.pruners.NopPruner()
    elif pruner is None:
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5)
    sampler = optuna.samplers.TPESampler(seed=seed if sampler_seed is None else sampler_seed)
    study = open_study(get_metric(data.metric).direction, storage=storage,
                       study_name=study_name, sampler=sampler, pruner=pruner)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    errors: list[str] = []

    def objective(trial: optuna.Trial) -> float:
        params = dict(spec.default_params)
        if not trial.user_attrs.get("default") and spec.search_space is not None:
            params.update(spec.search_space(trial))
        params.update(fixed or {})
        trial.set_user_attr("params", json.dumps(params, sort_keys=True, default=str))
        trial.set_user_attr("worker", worker)

        def report(epoch: int, prediction: np.ndarray) -> None:
            trial.report(score(data.metric, data.y_val, prediction), epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        try:
            outcome = fit_and_score(spec, params, data, seed, report=report)
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            raise
        trial.set_user_attr("n_iterations", outcome.n_iterations)
        value = outcome.scores["val"]
        if not np.isfinite(value):
            errors.append(f"validation {data.metric} is not finite ({value}): the validation "
                          f"part may hold a single class or too few rows")
            raise ValueError(errors[-1])
        return value

    shared = share is not None
    waiting = optuna.trial.TrialState.WAITING
    # a shared study also counts the trials other workers are running
    taken = sum(t.state != waiting if shared else t.state.is_finished() for t in study.trials)
    budget = n_trials if spec.search_space is not None else 1
    remaining = max(min(budget - taken, share if shared else budget), 0)
    callbacks = [optuna.study.MaxTrialsCallback(budget, states=None)] if shared else None
    started = time.perf_counter()
    before = len(study.trials)
    if remaining:
        study.optimize(objective, n_trials=remaining, timeout=timeout, catch=(Exception,),
                       callbacks=callbacks)
    seconds = time.perf_counter() - started if remaining else _span_seconds(study.trials)
    trials = study.trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(errors[0] if errors else "no trial completed")
    best = study.best_trial
    return TuneResult(
        best_params=json.loads(best.user_attrs["params"]),
        best_value=float(best.value),
        n_trials=len(trials),
        seconds=seconds,
        trials=trials_table(study),
        n_trials_here=sum(t.user_attrs.get("worker") == worker for t in trials[before:]),
    )


def _span_seconds(trials: list[Any]) -> float:
    starts = [t.datetime_start for t in trials if t.datetime_start is not None]
    ends = [t.datetime_complete for t in trials if t.datetime_complete is not None]
    return (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0


def trials_table(study: Any) -> pl.DataFrame:
    """Optuna's trials as a flat table: one row per trial, params as ``param_<name>``."""
    rows = []
    for t in study.trials:
        row: dict[str, Any] = {
            "number": t.number,
            "state": t.state.name.lower(),
            "value": t.value,
            "duration_seconds": t.duration.total_seconds() if t.duration else None,
            "is_default": bool(t.user_attrs.get("default", False)),
            "params": t.user_attrs.get("params"),
            "n_iterations": t.user_attrs.get("n_iterations"),
            "worker": t.user_attrs.get("worker"),
        }
        row.update({f"param_{k}": json.dumps(v) for k, v in t.params.items()})
        rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()
