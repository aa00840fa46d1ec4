"""Run NCD methods on a dataset over seeds and write one result row per method."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from tabbench.exceptions import TabbenchError
from tabbench.models import FitContext, get_model, library_versions, model_names
from tabbench.ncd.estimate import ESTIMATE_FITS, estimate_k_averaged
from tabbench.ncd.metrics import ncd_scores
from tabbench.ncd.task import load_ncd_data, make_task
from tabbench.ncd.tuning import tune_ncd
from tabbench.paths import ensure_dir
from tabbench.results import upgrade_results, write_result
from tabbench.runlock import run_folder_lock
from tabbench.schema import JobIdentity


def ncd_methods() -> list[str]:
    """Registered models whose task types include ``ncd``."""
    return [n for n in model_names() if "ncd" in get_model(n).task_types]


def run_ncd(dataset: str, novel: list[int], *, methods: list[str] | None = None,
            seeds: list[int] = (0,), estimate: bool = False, n_trials: int = 0, k_max: int = 10,
            out: Path | None = None, run: str = "ncd", n_threads: int = 1,
            on_result: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Evaluate NCD methods; return (and, with ``out``, write) one result row per method.

    ``test_score`` is the mean Hungarian accuracy over seeds on the test rows of the novel
    classes; ``metric_nmi``/``metric_ari`` are means too, ``metric_k_hat`` the mean estimate
    of the number of novel classes (with ``estimate``, the clusters use k̂ instead of k).
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
    if out is None:
        return _run_methods(X, y, dataset, novel, names, seeds, estimate, n_trials, k_max,
                            None, run, n_threads, on_result)
    out = ensure_dir(Path(out), "run folder")
    with run_folder_lock(out, "tabbench ncd"):
        upgrade_results(out)  # a run folder holds one schema, whoever wrote its files
        return _run_methods(X, y, dataset, novel, names, seeds, estimate, n_trials, k_max,
                            out, run, n_threads, on_result)


def _run_methods(X, y, dataset: str, novel: list[int], names: list[str], seeds, estimate: bool,
                 n_trials: int, k_max: int, out: Path | None, run: str, n_threads: int,
                 on_result: Callable[[dict[str, Any]], None] | None) -> list[dict[str, Any]]:
    """One result row per NCD method (written to ``out`` when given)."""
    rows = []
    for name in names:
        spec = get_model(name)
        started, per_seed, params_used = datetime.now(UTC), [], {}
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
            fit_s += time.perf_counter() - t1
            tune_s += t1 - t0
            scores = ncd_scores(task.novel_labels(), model.labels_[task.is_test])
            per_seed.append({**scores, "k_hat": float(k_hat)})
            params_used = params
        mean = {k: float(np.mean([s[k] for s in per_seed])) for k in per_seed[0]}
        accs = [s["acc"] for s in per_seed]
        identity = JobIdentity(
            kind="ncd", dataset=dataset, dataset_fingerprint=None, task="ncd",
            split_strategy="stratified", split_id="novel-" + "-".join(map(str, sorted(novel))),
            model=name,
            variant=("tuned" if n_trials else "default") + ("-k-estimated" if estimate else ""),
            seed=int(seeds[0]), metric="acc", label=(dataset, "ncd", name),
            key={"novel": sorted(novel), "model": name, "seeds": list(seeds),
                 "estimate": estimate, "n_trials": n_trials, "k_max": k_max})
        row = {
            **identity.base_row(run), "status": "ok", "error": None, "val_score": None, "test_score": mean["acc"],
            "test_score_std": float(np.std(accs)) if len(accs) > 1 else 0.0,
            "metric_acc": mean["acc"], "metric_nmi": mean["nmi"], "metric_ari": mean["ari"],
            "metric_k_hat": mean["k_hat"],
            "n_trials": n_trials, "best_params": json.dumps(params_used, sort_keys=True),
            "tune_seconds": tune_s, "fit_seconds": fit_s, "predict_seconds": 0.0,
            "n_train": int((task.y >= 0).sum()), "n_val": 0, "n_test": int(task.is_test.sum()),
            "n_features": int(task.X.shape[1]), "device": "cpu",
            "versions": json.dumps(library_versions(spec), sort_keys=True),
            "started_at": started, "finished_at": datetime.now(UTC),
        }
        if out is not None:
            write_result(out, row, None)
        if on_result is not None:
            on_result(row)
        rows.append(row)
    return rows
