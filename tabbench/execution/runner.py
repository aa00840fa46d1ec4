"""Plan the jobs of a benchmark config, skip those already done, run the rest, write results."""

from __future__ import annotations

import json
import os
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from tabbench.core.paths import ensure_dir
from tabbench.core.predictions import write_predictions
from tabbench.core.results import statuses, upgrade_results, write_result
from tabbench.core.runlock import run_folder_lock
from tabbench.data.datasets.registry import check_datasets_dirs, get_spec, list_specs
from tabbench.data.datasets.sample import load_subsample
from tabbench.data.metrics import default_metric, get_metric
from tabbench.data.splits import Split, make_splits, needs_time, run_strategies
from tabbench.exceptions import ConfigError, TabbenchWarning, UnsplittableError
from tabbench.execution.config import BenchmarkConfig
from tabbench.execution.executors import LocalExecutor, cores
from tabbench.execution.executors.dask_cluster import DaskExecutor
from tabbench.execution.job import Job
from tabbench.methods.ensemble import ensemble_run_folder
from tabbench.methods.models import get_model
from tabbench.methods.plugins import provenance_of, shipped
from tabbench.methods.tuning import check_storage


def plan(config: BenchmarkConfig, datasets_dirs: list[Path] | None = None) -> list[Job]:
    """All jobs of ``config``: datasets × splits × models × variants × seeds × feature sets.

    Each dataset is loaded (from the cache) and split here, so bad data or split
    parameters fail before any job starts; so does a feature selection whose ``top_k``
    exceeds a dataset's number of features. The feature sets of one job vary fastest, so
    the all-features job and its top-k jobs run next to each other (fair timings). Jobs are ordered slowest first (by the model's
    ``cost`` times the training rows), which shortens runs with several workers. Models that do not support a dataset's task,
    and time-based splits of a dataset without a time column, are skipped with a warning.
    A strategy that this dataset's rows cannot make (:class:`UnsplittableError`: too few
    rows, timestamps that do not separate) is one warning; its jobs are planned on
    ``<strategy>-0`` and fail in the worker with the same message, so the run goes on and
    the results say what is missing. When no strategy of any dataset can be made, that is
    the error.
    Every job carries the loaded plugins (its worker loads them) and, when its model,
    splitter or metric comes from a plugin, that plugin's provenance (in its id).
    """
    names = config.datasets or tuple(list_specs(datasets_dirs))
    if not names:
        raise ConfigError(f"{config.source or 'config'}: no datasets to run")
    where = str(config.source or "config")
    n_threads = config.threads or (1 if config.executor == "dask" else max(1, cores() // config.jobs))
    jobs: list[tuple[float, Job]] = []
    unmade: dict[tuple[str, str], UnsplittableError] = {}
    loaded = shipped()
    for name in names:
        spec = get_spec(name, datasets_dirs, where)
        dataset = load_subsample(spec, config.max_rows)
        metric = spec.metric or default_metric(spec.task)
        get_metric(metric, spec.where)
        strategies = [s for s in config.splits
                      if spec.time_column is not None or not needs_time(s)]
        if len(strategies) < len(config.splits):
            warnings.warn(f"{spec.where}: no time_column, so time-based splits are skipped",
                          TabbenchWarning, stacklevel=2)
        for selection in config.features:
            if selection is not None and selection.top_k > len(dataset.features):
                raise ConfigError(f"{where}: [features] top_k = {selection.top_k} is more than "
                                  f"the {len(dataset.features)} features of dataset "
                                  f"{spec.name!r}")
        models = [m for m in config.models if spec.task in get_model(m).task_types]
        for skipped in sorted(set(config.models) - set(models)):
            warnings.warn(f"{spec.where}: model {skipped!r} does not support task "
                          f"{spec.task!r}; skipped", TabbenchWarning, stacklevel=2)
        # ``random`` beside windows: the random splits paired with them (run_strategies)
        for strategy, params in run_strategies(strategies, config.split_params, where):
            for split in _splits_or_unmade(dataset, strategy, params, unmade):
                sizes = _training_sizes(config.train_rows, split, spec.where)
                for model in models:
                    provenance = provenance_of(model=model, split=strategy, metric=metric)
                    for variant in config.variants:
                        for seed in config.seeds:
                            jobs.extend((get_model(model).cost * (size or len(split.train)), Job(
                                run=config.name, spec=spec,
                                dataset_fingerprint=dataset.fingerprint,
                                split_strategy=strategy, split_id=split.id, model=model,
                                variant=variant, seed=seed, budget=config.budget, metric=metric,
                                split_params=params, max_rows=config.max_rows,
                                device=config.device, n_threads=n_threads,
                                storage=config.storage, features=selection,
                                store_predictions=config.store_predictions,
                                provenance=provenance, plugins=loaded, train_rows=size,
                                model_revision=get_model(model).revision,
                            )) for selection in config.features for size in sizes)
    if unmade and all((job.spec.name, job.split_strategy) in unmade for _, job in jobs):
        raise next(iter(unmade.values()))  # nothing of the run can be made
    for (dataset_name, _), exc in unmade.items():
        warnings.warn(f"{exc}; its jobs on dataset {dataset_name!r} are recorded as failed, "
                      f"the other splits run", TabbenchWarning, stacklevel=2)
    jobs.sort(key=lambda item: -item[0])  # slowest first: fewer idle workers at the end
    return [job for _, job in jobs]


def _splits_or_unmade(dataset: Any, strategy: str, params: dict[str, Any],
                      unmade: dict[tuple[str, str], UnsplittableError]) -> list[Split]:
    """``make_splits``, or, when the dataset's rows cannot be split that way, one empty
    split ``<strategy>-0`` (the reason kept in ``unmade``) whose jobs fail in the worker
    with that reason, so they leave ``failed`` rows. Invalid parameters still raise."""
    try:
        return make_splits(dataset, strategy, params, seed=0)
    except UnsplittableError as exc:
        unmade[dataset.name, strategy] = exc
        return [Split(f"{strategy}-0", [], [], [])]


def set_aside_superseded(out_dir: Path, jobs: list[Job]) -> list[str]:
    """Move the results of an earlier version of a plugin, or of an earlier revision of a
    built-in model, into ``out_dir/superseded/``.

    Such a job's id holds the plugin's provenance or the model's revision, so after a
    change the job runs again under a new id; the row of the old version (same dataset,
    split, model, variant and seed; another provenance or revision in its ``versions``)
    would be ranked beside the new one. Its result, trials and predictions files are moved
    (never deleted), with a warning. Returns the moved job ids.
    """
    current = {job.job_id.rsplit("-", 1)[0]: job for job in jobs
               if job.provenance or job.model_revision}
    results = out_dir / "results"
    if not current or not results.is_dir():
        return []
    moved: list[str] = []
    changed: set[str] = set()
    for file in sorted(results.glob("*.parquet")):
        job = current.get(file.stem.rsplit("-", 1)[0])
        if job is None or file.stem == job.job_id:
            continue
        what = _other_version(file, job)
        if what is None:
            continue
        for folder in ("results", "trials", "predictions"):
            source = out_dir / folder / file.name
            if source.is_file():
                target = ensure_dir(out_dir / "superseded" / folder) / file.name
                os.replace(source, target)
        moved.append(file.stem)
        changed.add(what)
    if moved:
        warnings.warn(f"{out_dir}: {len(moved)} result(s) of an earlier version of "
                      f"{', '.join(sorted(changed))} moved to {out_dir / 'superseded'} "
                      f"(their jobs run again)", TabbenchWarning, stacklevel=2)
    return moved


def _other_version(file: Path, job: Job) -> str | None:
    """What of ``job`` the result in ``file`` came from another version of (``plugin
    <name>`` or ``model <name>``), or ``None`` when it is not an earlier version."""
    try:
        versions = pl.read_parquet(file, columns=["versions"])["versions"][0]
        found = json.loads(versions or "{}")
    except Exception:  # a damaged file is the business of statuses(set_aside=True)
        return None
    used = found.get("plugins", {})
    for name, provenance in job.provenance:
        if name in used and used[name] != provenance:
            return f"plugin {name}"
    if job.model_revision and found.get("model_revision", 0) != job.model_revision:
        return f"model {job.model}"
    return None


def _training_sizes(sizes: tuple[int | None, ...], split: Any, where: str) -> list[int | None]:
    """The config's training sizes that ``split`` can give (a size over its training part
    is skipped with a warning: it would repeat the whole-part jobs under another name)."""
    if len(split.train) == 0:  # a split the rows cannot make: every job fails with the reason
        return list(sizes)
    kept = [n for n in sizes if n is None or n <= len(split.train)]
    for n in sorted(set(sizes) - set(kept)):
        warnings.warn(f"{where}: train_rows {n} is more than the {len(split.train)} training "
                      f"rows of {split.id}; skipped there", TabbenchWarning, stacklevel=3)
    return kept


def make_executor(config: BenchmarkConfig) -> Any:
    """The config's executor: local child processes, or a Dask cluster."""
    if config.executor == "dask":
        return DaskExecutor(config.scheduler, workers=config.jobs, time_limit=config.time_limit,
                            tuning_workers=config.tuning_workers)
    return LocalExecutor(jobs=config.jobs, time_limit=config.time_limit)


def check_run_inputs(config: BenchmarkConfig, datasets_dirs: list[Path] | None = None) -> Path:
    """Check what a run needs before any job starts; return the run folder, created.

    The dataset folders must exist, the Optuna storage must open (whether or not a job
    will use it) and the run folder must be creatable; each failure is one
    :class:`~tabbench.exceptions.TabbenchError` naming the option and why.
    """
    check_datasets_dirs(datasets_dirs)
    if config.storage is not None:
        flag = "storage" in config.from_flags or config.source is None
        if flag:
            check_storage(config.storage, "storage", parameter="storage")
        else:
            check_storage(config.storage, f"{config.source}: storage")
    return ensure_dir(config.out_dir, "run folder")


@dataclass
class RunSummary:
    """What a run did: counts by status, where the files are, and its jobs' ids."""

    out_dir: Path
    planned: int
    skipped: int
    counts: Counter = field(default_factory=Counter)
    job_ids: tuple[str, ...] = ()
    #: Ensembles in the folder after the run (``ensemble = true`` in the config), else 0.
    ensembles: int = 0


ProgressCallback = Callable[[Job, dict], None]


def run_benchmark(config: BenchmarkConfig, *, datasets_dirs: list[Path] | None = None,
                  retry_failed: bool = False, on_start: Callable[[int], None] | None = None,
                  on_result: ProgressCallback | None = None,
                  job_filter: Callable[[Job], bool] | None = None) -> RunSummary:
    """Run every job of ``config`` that has no result yet and write one file per job.

    Jobs with an ``ok`` row are never run again; ``failed`` and ``timeout`` rows are
    retried only with ``retry_failed``. Results are written as each job finishes, so an
    interrupted run loses only the jobs in flight. ``job_filter`` keeps only the planned
    jobs it returns true for (e.g. one split id).

    The run folder is locked for the whole run: a second driver on the same folder gets a
    :class:`~tabbench.core.runlock.RunFolderBusy` error naming this one. A damaged result or
    trials file is moved into ``damaged/`` (with a warning) and its job runs again.
    """
    out_dir = check_run_inputs(config, datasets_dirs)
    with run_folder_lock(out_dir, "tabbench run"):  # one driver per run folder
        upgrade_results(out_dir)  # files of an older schema: rewritten, so the folder has one
        jobs = plan(config, datasets_dirs)
        if job_filter is not None:
            jobs = [job for job in jobs if job_filter(job)]
        set_aside_superseded(out_dir, jobs)  # an earlier version of a plugin: never mixed
        done = statuses(out_dir, set_aside=True)  # damaged files: moved aside, rerun
        keep = {"ok"} if retry_failed else {"ok", "failed", "timeout"}
        pending = [job for job in jobs if done.get(job.job_id) not in keep]
        duplicates = [job_id for job_id, n in Counter(j.job_id for j in jobs).items() if n > 1]
        if duplicates:
            raise ConfigError(f"{config.source}: the config plans job {duplicates[0]!r} twice")
        summary = RunSummary(out_dir, planned=len(jobs), skipped=len(jobs) - len(pending),
                             job_ids=tuple(job.job_id for job in jobs))
        if on_start:
            on_start(len(pending))
        for job, output in make_executor(config).run(pending):
            if output.predictions is not None:  # before the row, which marks the job done
                write_predictions(out_dir, job.job_id, output.predictions)
            write_result(out_dir, output.row, output.trials)
            summary.counts[output.row["status"]] += 1
            if on_result:
                on_result(job, output.row)
        if config.ensemble:
            summary.ensembles = len(ensemble_run_folder(out_dir))
        return summary
