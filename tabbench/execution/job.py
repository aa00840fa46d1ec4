"""One job: (dataset, split, model, variant, seed) → preprocess → tune → refit → one result row."""

from __future__ import annotations

import json
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from threadpoolctl import threadpool_limits

from tabbench.core._recent import Recent
from tabbench.core.device import resolve_device
from tabbench.core.predictions import prediction_frame
from tabbench.core.schema import JobIdentity
from tabbench.data import splits
from tabbench.data.datasets.sample import load_subsample
from tabbench.data.datasets.spec import DatasetSpec
from tabbench.exceptions import TabbenchError, TabbenchWarning
from tabbench.execution.config import Budget, FeatureSelection
from tabbench.methods import plugins
from tabbench.methods.features.ranking import select_top_k
from tabbench.methods.models import get_model, library_versions
from tabbench.methods.preprocess import PreparedData, prepare_data
from tabbench.methods.tuning import fit_and_score, tune

if TYPE_CHECKING:
    import polars as pl

    from tabbench.data.datasets.dataset import Dataset
    from tabbench.data.splits import Split


@dataclass(frozen=True)
class Job:
    """Everything that determines one result row (and nothing that does not)."""

    run: str
    spec: DatasetSpec
    dataset_fingerprint: str
    split_strategy: str
    split_id: str
    model: str
    variant: str
    seed: int
    budget: Budget
    metric: str
    split_params: dict[str, Any] = field(default_factory=dict)
    max_rows: int | None = None
    device: str = "auto"
    n_threads: int = 1
    storage: str | None = None
    features: FeatureSelection | None = None
    #: Training rows kept of the split's training part (learning curves); ``None``: all.
    train_rows: int | None = None
    #: Keep the validation and test predictions (``<run>/predictions/``); not part of the id.
    store_predictions: bool = True
    #: ``(plugin name, provenance)`` of the plugins the model, splitter and metric come
    #: from (:func:`tabbench.methods.plugins.provenance_of`); part of the id when there are any.
    provenance: tuple[tuple[str, str], ...] = ()
    #: The model's :attr:`~tabbench.methods.models.ModelSpec.revision`; part of the id when above 0.
    model_revision: int = 0
    #: The driver's plugins, loaded by the worker before the job; not part of the id.
    plugins: tuple[plugins.Plugin, ...] = field(default=(), compare=False, repr=False)

    @property
    def variant_label(self) -> str:
        """``variant``, plus the feature selection when there is one (``tuned-top10-jmi``)
        and the training size when it is cut (``tuned-train5000``).

        The result schema has a fixed set of columns, so these are recorded in the row's
        ``variant`` column; the leaderboard then lists ``lightgbm (tuned-top10-jmi)``
        beside ``lightgbm`` (all features).
        """
        label = self.variant if self.features is None else (
            f"{self.variant}-{self.features.label}")
        return label if self.train_rows is None else f"{label}-train{self.train_rows}"

    @cached_property
    def identity(self) -> JobIdentity:
        """The row's identity; its ``key`` holds the fields that determine the result (not
        the run name or the thread count)."""
        key = {
            "dataset": self.dataset_fingerprint, "split": self.split_id,
            "split_params": splits.identity_params(self.split_strategy, self.split_params),
            "model": self.model, "variant": self.variant,
            "budget": [self.budget.trials_for("gbdt"), self.budget.n_trials,
                       self.budget.trials_for("nn"),
                       self.budget.eval_seeds, self.budget.max_rounds, self.budget.timeout],
            "seed": self.seed, "metric": self.metric, "max_rows": self.max_rows,
        }
        if protocol := self.budget.protocol_key():  # absent for budgets without one
            key["budget_protocol"] = protocol
        if self.train_rows is not None:  # absent otherwise: whole-training-part ids unchanged
            key["train_rows"] = self.train_rows
        if self.features is not None:  # absent otherwise, so all-features ids never change
            key["features"] = {"select": self.features.select, "top_k": self.features.top_k,
                               "method": self.features.method}
        if self.provenance:  # absent for built-ins, whose ids never change
            key["plugins"] = dict(self.provenance)
        if self.model_revision:  # absent at revision 0: the ids of unchanged models stay
            key["model_revision"] = self.model_revision
        return JobIdentity(
            kind="benchmark", dataset=self.spec.name,
            dataset_fingerprint=self.dataset_fingerprint, task=self.spec.task,
            split_strategy=self.split_strategy, split_id=self.split_id, model=self.model,
            variant=self.variant_label, seed=self.seed, metric=self.metric,
            label=(self.spec.name, self.split_id, self.model, self.variant_label,
                   f"s{self.seed}"),
            key=key)

    @property
    def job_id(self) -> str:
        """The id of the job's result (and of its files)."""
        return self.identity.job_id

    def base_row(self) -> dict[str, Any]:
        """The columns of the result row known before the job runs."""
        return self.identity.base_row(self.run)


def select_features(dataset: Dataset, split: Split,
                    selection: FeatureSelection) -> tuple[Dataset, float]:
    """``dataset`` restricted to the ``top_k`` features ranked on the training part of ``split``.

    The ranking sees the training rows only (never validation or test rows) and runs
    before preprocessing, so every model family gets the same columns. Returns the
    restricted dataset and the ranking's wall time, which the job adds to its
    ``tune_seconds``: choosing the inputs is part of the search, and a separate column
    would exist in some result files of a run and not in others, which breaks reading
    them with one ``pl.read_parquet("results/*.parquet")``.
    """
    if selection.top_k > len(dataset.features):
        raise TabbenchError(f"{dataset.spec.where}: [features] top_k = {selection.top_k} is "
                            f"more than the {len(dataset.features)} features of dataset "
                            f"{dataset.name!r}")
    keep, seconds = select_top_k(dataset, split, selection.top_k, selection.method)
    chosen = set(keep)
    kept = {c: k for c, k in dataset.features.items() if c in chosen}
    return replace(dataset, features=kept), seconds


@dataclass(frozen=True, eq=False)
class JobOutput:
    """What a job hands back to the driver: its result row, its trials table (tuned jobs)
    and its stored predictions (see :mod:`tabbench.core.predictions`), the last two ``None``
    when there are none."""

    row: dict[str, Any]
    trials: pl.DataFrame | None = None
    predictions: pl.DataFrame | None = None


def find_split(dataset: Dataset, job: Job) -> Split:
    """The split of ``job``."""
    return splits.find_split(dataset, job.split_id, job.split_params)


def run_job(job: Job, dataset: Dataset | None = None) -> JobOutput:
    """Run ``job`` and return its row, trials and predictions; errors become a ``failed`` row.

    ``dataset`` is the job's dataset when it is already in memory (a Dask worker's copy);
    otherwise it is read from the dataset's file (once per process).
    """
    row = job.base_row()
    row["started_at"] = datetime.now(UTC)
    trials = predictions = None
    try:
        with threadpool_limits(limits=job.n_threads):
            trials, predictions = _run(job, row, dataset)
        row["status"] = "ok"
    except Exception as exc:  # a failing model or trial must not stop the run
        row["status"] = "failed"
        row["error"] = describe_error(exc)
    row["finished_at"] = datetime.now(UTC)
    return JobOutput(row, trials, predictions)


def tune_shared(job: Job, dataset: Dataset | None = None, worker: int = 0,
                n_workers: int = 1) -> int:
    """Run tuning worker ``worker``'s part of ``job``'s study (in ``job.storage``).

    ``n_workers`` processes call this at once on one shared study, each with its own
    sampler seed and an equal part of the budget's trials (the first ones take the
    remainder); the job itself then finds the study complete, takes its best trial and
    only refits and scores. Returns the number of trials run here.
    """
    if job.storage is None:
        raise TabbenchError(f"job {job.job_id}: shared tuning needs an Optuna storage URL")
    spec = _job_model(job)
    with threadpool_limits(limits=job.n_threads):
        data, _, _ = _prepare(job, spec, dataset, {})
        n_trials = job.budget.trials_for(spec.family, spec.name)
        share = n_trials // n_workers + (worker < n_trials % n_workers)
        result = tune(spec, data, n_trials=n_trials, seed=job.seed,
                      timeout=job.budget.timeout, storage=job.storage, study_name=job.job_id,
                      sampler_seed=job.seed * 1000 + worker + 1, share=share,
                      fixed=job.budget.params_for(spec.family), prune=job.budget.prune)
    return result.n_trials_here


def _job_model(job: Job) -> Any:
    """The job's model spec, once the driver's plugins are loaded in this process."""
    plugins.ensure_plugins(job.plugins)
    for kind, name in (("model", job.model), ("split", job.split_strategy),
                       ("metric", job.metric)):
        plugins.check_registered(kind, name, job.plugins)
    return get_model(job.model)


def describe_error(exc: BaseException) -> str:
    """A failed row's ``error``: the message, and for other than a TabbenchError its type
    and the line that raised it; an out-of-memory error says so first."""
    if isinstance(exc, TabbenchError):
        return str(exc)
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename.split('/')[-1]}:{frames[-1].lineno})" if frames else ""
    prefix = "out of memory: " if isinstance(exc, MemoryError) else ""
    return f"{prefix}{type(exc).__name__}: {exc}{where}"


def _prepare(job: Job, spec: Any, dataset: Dataset | None,
             row: dict[str, Any]) -> tuple[PreparedData, float, Callable[[dict], pl.DataFrame]]:
    """The job's preprocessed data, the feature ranking's seconds (sizes noted in ``row``)
    and the function that turns the predictions on each part into the stored frame."""
    if dataset is None:
        # the driver showed the dataset's warnings when it planned the run; a job's child
        # process would print each of them again, once per job, as raw Python warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TabbenchWarning)
            dataset = load_subsample(job.spec, job.max_rows)
    split = splits.training_subset(find_split(dataset, job), job.train_rows)
    rank_seconds = 0.0
    if job.features is not None:
        dataset, rank_seconds = select_features(dataset, split, job.features)
    device = resolve_device(job.device) if spec.supports_gpu else "cpu"
    data = _prepared(dataset, split, job, spec.family)
    data = replace(data, metric=job.metric, context=replace(
        data.context, seed=job.seed, n_threads=job.n_threads, device=device,
        max_rounds=job.budget.max_rounds))
    row.update(n_train=len(split.train), n_val=len(split.val), n_test=len(split.test),
               n_features=data.X_train.shape[1])
    time = dataset.time()

    def stored(predictions: dict[str, np.ndarray]) -> pl.DataFrame:
        return prediction_frame({part: (getattr(split, part), data.part(part)[1], values)
                                 for part, values in predictions.items()}, time)

    return data, rank_seconds, stored


#: Preprocessed splits kept per process: the jobs of one worker on the same data, split,
#: features and model family (e.g. LightGBM and XGBoost) share one preprocessing.
_PREPARED: Recent[PreparedData] = Recent(2)


def _prepared(dataset: Dataset, split: Split, job: Job, family: str) -> PreparedData:
    """``prepare_data`` for the job's split and family, done once per process (the
    context's seed, threads and device to be set by the caller; models never modify their
    inputs, see :class:`~tabbench.methods.models.base.FitContext`)."""
    key = (dataset.fingerprint, dataset.n_rows, tuple(dataset.features.items()), split.id,
           json.dumps(job.split_params, sort_keys=True, default=str), job.train_rows, family)
    return _PREPARED.get(key, lambda: prepare_data(
        dataset, split, family, metric=job.metric, seed=job.seed, n_threads=job.n_threads,
        device="cpu"))


def _run(job: Job, row: dict[str, Any],
         dataset: Dataset | None) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """Tune, refit and score; fill ``row``; return the trials table and the predictions."""
    spec = _job_model(job)
    data, rank_seconds, stored = _prepare(job, spec, dataset, row)
    trials = None
    if job.variant == "tuned" and spec.tunable:
        result = tune(spec, data, n_trials=job.budget.trials_for(spec.family, spec.name),
                      seed=job.seed, timeout=job.budget.timeout, storage=job.storage,
                      study_name=job.job_id, fixed=job.budget.params_for(spec.family),
                      prune=job.budget.prune)
        params, trials = result.best_params, result.trials
        row.update(n_trials=result.n_trials, tune_seconds=rank_seconds + result.seconds,
                   val_score=result.best_value)
    else:
        params = {**spec.default_params, **job.budget.params_for(spec.family)}
        row.update(n_trials=0, tune_seconds=rank_seconds)
    outcomes = [
        fit_and_score(spec, params, data, seed=1000 * job.seed + i, parts=("val", "test"),
                      keep_predictions=job.store_predictions)
        for i in range(job.budget.eval_seeds)
    ]
    test = np.array([o.scores["test"] for o in outcomes])
    row.update(
        test_score=float(test.mean()),
        test_score_std=float(test.std()),
        best_params=json.dumps(params, sort_keys=True, default=str),
        fit_seconds=float(np.mean([o.fit_seconds for o in outcomes])),
        predict_seconds=float(np.mean([o.predict_seconds for o in outcomes])),
        device=outcomes[0].device,
        versions=json.dumps(_versions(job, spec), sort_keys=True),
    )
    if row.get("val_score") is None:
        row["val_score"] = float(np.mean([o.scores["val"] for o in outcomes]))
    predictions = None
    if job.store_predictions:  # the mean over the evaluation seeds' fits
        predictions = stored({part: np.mean([o.predictions[part] for o in outcomes], axis=0)
                              for part in ("val", "test")})
    return trials, predictions


def _versions(job: Job, spec: Any) -> dict[str, Any]:
    """The row's ``versions``: the libraries, the provenance of the job's plugins and the
    model's revision (when above 0)."""
    found = library_versions(spec, job.n_threads)
    if job.provenance:
        found["plugins"] = dict(job.provenance)
    if job.model_revision:
        found["model_revision"] = job.model_revision
    return found
