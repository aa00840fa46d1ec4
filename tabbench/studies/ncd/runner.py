"""Run NCD methods on a dataset over seeds and write one result row per method."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from tabbench.core.paths import ensure_dir
from tabbench.core.results import upgrade_results, write_result
from tabbench.core.runlock import run_folder_lock
from tabbench.core.schema import JobIdentity
from tabbench.exceptions import TabbenchError, TabbenchWarning
from tabbench.execution.job import describe_error
from tabbench.methods.models import FitContext, get_model, library_versions, model_names
from tabbench.studies.ncd.estimate import ESTIMATE_FITS, estimate_k_averaged, silhouette_bytes
from tabbench.studies.ncd.memory import (
    BUDGET_SHARE,
    MIN_ROWS,
    available_bytes,
    gib,
    rows_that_fit,
    stratified_rows,
)
from tabbench.studies.ncd.metrics import ncd_scores
from tabbench.studies.ncd.task import load_ncd_data, make_task
from tabbench.studies.ncd.tuning import tune_ncd


def ncd_methods() -> list[str]:
    """Registered models whose task types include ``ncd``."""
    return [n for n in model_names() if "ncd" in get_model(n).task_types]


def run_ncd(dataset: str, novel: list[int], *, methods: list[str] | None = None,
            seeds: list[int] = (0,), estimate: bool = False, n_trials: int = 0, k_max: int = 10,
            out: Path | None = None, run: str = "ncd", n_threads: int = 1,
            on_result: Callable[[dict[str, Any]], None] | None = None,
            max_rows: int | None = None) -> list[dict[str, Any]]:
    """Evaluate NCD methods; return (and, with ``out``, write) one result row per method.

    ``test_score`` is the mean Hungarian accuracy over seeds on the test rows of the novel
    classes; ``metric_nmi``/``metric_ari`` are means too, ``metric_k_hat`` the mean estimate
    of the number of novel classes (with ``estimate``, the clusters use k̂ instead of k).
    ``max_rows`` keeps a stratified sample of that many rows (seeded, the same for every
    method and seed). Before the first method starts, each method's memory estimate is
    checked against the memory available (:mod:`tabbench.studies.ncd.memory`): a method that
    would not fit runs on the stratified sample that does, with a warning that says so,
    or the run is refused with one error when too few rows would be left. A method that
    fails, out of memory included, gives a ``failed`` row naming the error; the others go on.
    """
    X, y = load_ncd_data(dataset)
    names = methods or ncd_methods()
    for name in names:
        spec = get_model(name, parameter="methods")
        if "ncd" not in spec.task_types:
            message = (f"methods: {name!r} is not an NCD method; NCD methods are: "
                       f"{', '.join(ncd_methods())}")
            raise TabbenchError(message, parameter="methods")
    make_task(X, y, novel, seed=seeds[0], dataset=dataset)  # bad classes fail before any write
    n_source = len(y)
    if max_rows is not None and max_rows < len(y):
        X, y = _sample(X, y, max_rows, novel, dataset, "max_rows")
    plans = {name: _rows_in_memory(get_model(name), X, y, novel, seeds[0], dataset, estimate,
                                   k_max) for name in names}
    if out is None:
        return _run_methods(X, y, n_source, dataset, novel, names, plans, seeds, estimate,
                            n_trials, k_max, None, run, n_threads, on_result)
    out = ensure_dir(Path(out), "run folder")
    with run_folder_lock(out, "tabbench ncd"):
        upgrade_results(out)  # a run folder holds one schema, whoever wrote its files
        return _run_methods(X, y, n_source, dataset, novel, names, plans, seeds, estimate,
                            n_trials, k_max, out, run, n_threads, on_result)


def _sample(X: np.ndarray, y: np.ndarray, n_rows: int, novel: list[int], dataset: str,
            parameter: str) -> tuple[np.ndarray, np.ndarray]:
    """A stratified sample of ``n_rows`` rows (seed 0) that keeps every novel class."""
    rows = stratified_rows(y, n_rows)
    lost = sorted(set(novel) - {int(c) for c in np.unique(y[rows])})
    if lost:
        message = (f"{parameter}: a sample of {n_rows:,} rows of {dataset} has no row of the "
                   f"novel classes {lost}; allow more rows")
        raise TabbenchError(message, parameter=parameter)
    return X[rows], y[rows]


def _rows_in_memory(spec: Any, X: np.ndarray, y: np.ndarray, novel: list[int], seed: int,
                    dataset: str, estimate: bool, k_max: int) -> int | None:
    """The rows ``spec`` may use within the memory available (``None``: all of them).

    Warns in one line when the method must run on a sample; raises a one-line
    :class:`TabbenchError` when fewer than :data:`MIN_ROWS` rows would fit. A method
    without ``memory_bytes`` (a plugin's) is not checked.
    """
    task = make_task(X, y, novel, seed=seed, dataset=dataset)
    model = spec.build({**spec.default_params, "n_novel": task.n_novel},
                       FitContext(task="ncd", n_classes=0, feature_names=(), seed=seed))
    if not hasattr(model, "memory_bytes"):  # a plugin's method that states no memory model
        return None
    share, n_features = len(task.X) / len(y), task.X.shape[1]
    n_known, fits = len(task.known_classes), ESTIMATE_FITS if estimate else 1

    def bytes_for(rows: int) -> int:
        n = max(1, round(rows * share))
        need = model.memory_bytes(n, n_features, n_known)
        if estimate:
            n_unlabelled = max(1, round(int((task.y < 0).sum()) * rows / len(y)))
            kept = getattr(model, "kept_bytes", lambda *_: 0)(n, n_features, n_known)
            need += (fits - 1) * kept
            need += silhouette_bytes(n_unlabelled, k_max)
        return need

    available = available_bytes()
    budget = int(BUDGET_SHARE * available)
    fit = rows_that_fit(bytes_for, len(y), budget)
    if fit == len(y):
        return None
    need = f"{spec.name}: needs about {gib(bytes_for(len(y)))} for {len(y):,} rows"
    if fit < MIN_ROWS:
        message = (f"{need}, {gib(available)} available: fewer than {MIN_ROWS} rows would "
                   f"fit; free memory, or leave {spec.name} out of --methods")
        raise TabbenchError(message, parameter="methods")
    warnings.warn(f"{need}, {gib(available)} available; it runs on a stratified sample of "
                  f"{fit:,} rows (choose with --max-rows)", TabbenchWarning, stacklevel=3)
    return fit


def _run_methods(X, y, n_source: int, dataset: str, novel: list[int], names: list[str],
                 plans: dict[str, int | None], seeds, estimate: bool, n_trials: int,
                 k_max: int, out: Path | None, run: str, n_threads: int,
                 on_result: Callable[[dict[str, Any]], None] | None) -> list[dict[str, Any]]:
    """One result row per NCD method (written to ``out`` when given); ``n_source``: the
    dataset's rows before any sample."""
    rows = []
    for name in names:
        spec = get_model(name)
        started = datetime.now(UTC)
        Xm, ym = (X, y) if plans[name] is None else _sample(X, y, plans[name], novel, dataset,
                                                            "methods")
        identity = JobIdentity(
            kind="ncd", dataset=dataset, dataset_fingerprint=None, task="ncd",
            split_strategy="stratified", split_id="novel-" + "-".join(map(str, sorted(novel))),
            model=name,
            variant=("tuned" if n_trials else "default") + ("-k-estimated" if estimate else ""),
            seed=int(seeds[0]), metric="acc", label=(dataset, "ncd", name),
            key={"novel": sorted(novel), "model": name, "seeds": list(seeds),
                 "estimate": estimate, "n_trials": n_trials, "k_max": k_max,
                 # absent with all rows, so the ids of earlier runs never change
                 **({"max_rows": len(ym)} if len(ym) < n_source else {})})
        row = {**identity.base_row(run), "started_at": started,
               "versions": json.dumps(library_versions(spec), sort_keys=True)}
        try:
            # BLAS limited to the run's threads, as a benchmark job's libraries are
            with threadpool_limits(limits=n_threads):
                row.update(_evaluate(spec, Xm, ym, dataset, novel, seeds, estimate, n_trials,
                                     k_max, n_threads))
        except Exception as exc:  # out of memory or a failing method: a row, not a traceback
            row.update(status="failed", error=describe_error(exc))
        row["finished_at"] = datetime.now(UTC)
        if out is not None:
            write_result(out, row, None)
        if on_result is not None:
            on_result(row)
        rows.append(row)
    return rows


def _evaluate(spec: Any, X: np.ndarray, y: np.ndarray, dataset: str, novel: list[int], seeds,
              estimate: bool, n_trials: int, k_max: int, n_threads: int) -> dict[str, Any]:
    """The result columns of one method over ``seeds``."""
    per_seed, params_used = [], {}
    tune_s = fit_s = 0.0
    for seed in seeds:
        task = make_task(X, y, novel, seed=seed, dataset=dataset)
        params, t0 = dict(spec.default_params), time.perf_counter()
        if n_trials:
            params, _, _ = tune_ncd(spec, task, n_trials=n_trials, seed=seed,
                                    n_threads=n_threads)
        t1 = time.perf_counter()
        fit_seeds = [seed] + ([1000 * seed + r for r in range(1, ESTIMATE_FITS)]
                              if estimate else [])
        models = [spec.build({**params, "n_novel": task.n_novel},
                             FitContext(task="ncd", n_classes=0, feature_names=(),
                                        seed=fit_seed, n_threads=n_threads)
                             ).fit(task.X, task.y) for fit_seed in fit_seeds]
        model, k_hat = models[0], float("nan")
        if estimate:
            k_hat, _ = estimate_k_averaged(models, k_max)
        del models
        fit_s += time.perf_counter() - t1
        tune_s += t1 - t0
        scores = ncd_scores(task.novel_labels(), model.labels_[task.is_test])
        per_seed.append({**scores, "k_hat": float(k_hat)})
        params_used = params
    mean = {k: float(np.mean([s[k] for s in per_seed])) for k in per_seed[0]}
    accs = [s["acc"] for s in per_seed]
    return {
        "status": "ok", "error": None, "val_score": None, "test_score": mean["acc"],
        "test_score_std": float(np.std(accs)) if len(accs) > 1 else 0.0,
        "metric_acc": mean["acc"], "metric_nmi": mean["nmi"], "metric_ari": mean["ari"],
        "metric_k_hat": mean["k_hat"],
        "n_trials": n_trials, "best_params": json.dumps(params_used, sort_keys=True),
        "tune_seconds": tune_s, "fit_seconds": fit_s, "predict_seconds": 0.0,
        "n_train": int((task.y >= 0).sum()), "n_val": 0, "n_test": int(task.is_test.sum()),
        "n_features": int(task.X.shape[1]), "device": "cpu",
    }
