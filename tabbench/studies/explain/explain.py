"""Explain one model on one split: black box → importances → top-k → surrogate → result row.

:func:`explain_model` does the work on a loaded dataset and split:

1. fit the black box as a benchmark job does (:func:`tabbench.methods.preprocess.prepare_data` for
   the model's family, :func:`tabbench.methods.tuning.fit_model`: early stopping on the validation
   part);
2. rank the features on the validation part by permutation importance and, for the
   boosters, by their native contributions (:mod:`tabbench.studies.explain.importance`); with
   more than ``prefilter_above`` features only the ``prefilter_keep`` best by the
   booster's gain (other models: ``mi-corrected``) are permuted (steps 1 and 2:
   :mod:`tabbench.studies.explain.black_box`);
3. keep the ``top_k`` features and fit a surrogate of each candidate size on the training
   part to the black box's predictions, keeping the smallest one that is (nearly) the most
   faithful on the validation part by kappa (classification) or R²
   (:func:`tabbench.studies.explain.surrogate.fit_surrogate`);
4. measure on the test part: fidelity (classification: Cohen's kappa against the black
   box's classes first, since a constant's plain agreement is the majority's share; the
   agreement, the fidelity AUC and a constant's agreement beside it; regression: R²), the
   surrogate's own score, the black box's score.

Everything happens in the interpretable space of :mod:`tabbench.studies.explain.space` (numbers in
their own units, category codes); models of other families see it through their own
preprocessing. :func:`explain_dataset` loads a registered dataset, takes the model's tuned
params from a previous run when there are some, and writes the result row and the files.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score
from threadpoolctl import threadpool_limits

from tabbench.core._atomic import write_atomic_bytes, write_parquet_atomic
from tabbench.core.device import resolve_device
from tabbench.core.paths import ensure_dir, safe_join
from tabbench.core.results import read_results, upgrade_results, write_result
from tabbench.core.runlock import run_folder_lock
from tabbench.core.schema import JobIdentity
from tabbench.data.datasets.registry import get_spec
from tabbench.data.datasets.sample import load_subsample
from tabbench.data.metrics import default_metric, score
from tabbench.data.splits import find_split
from tabbench.exceptions import TabbenchError
from tabbench.methods.models import get_model, library_versions
from tabbench.studies.explain.black_box import BlackBox, Step, fit_black_box, rank_by_importance
from tabbench.studies.explain.surrogate import (
    Surrogate,
    fidelity,
    fidelity_kappa,
    fit_surrogate,
    make_surrogate,
)

if TYPE_CHECKING:
    from tabbench.data.datasets.dataset import Dataset
    from tabbench.data.splits import Split

__all__ = [
    "DEFAULT_MAX_ROWS",
    "Explanation",
    "explain_dataset",
    "explain_model",
    "tuned_params",
]

DEFAULT_TOP_K = 10
DEFAULT_MAX_ROWS = 50_000    # explain_dataset subsamples bigger tables (seeded, as `run` does)
PREFILTER_ABOVE = 1_000      # more features than this: permute only a shortlist …
PREFILTER_KEEP = 256         # … of this many, by the booster's gain (else mi-corrected)


@dataclass(frozen=True, eq=False)
class Explanation:
    """The outcome of explaining one model on one split.

    Attributes
    ----------
    row : dict
        The result row (kind ``surrogate``, model ``surrogate:<model>``, variant = the
        surrogate kind, with ``metric_fidelity`` and the other ``metric_*`` columns).
    importances : polars.DataFrame
        ``feature, permutation_importance, native_contribution, rank``, best first.
    features : tuple of str
        The top-k features the surrogate uses, best first.
    surrogate : Surrogate
        The fitted surrogate (its columns are ``features``).
    sizes : polars.DataFrame
        The size search: ``size, fidelity, kappa, n_rules, depth, chosen`` (validation).
    rules : str
        The surrogate as text (categories by name).
    local : str or None
        With ``row``: the explanation of that test row.
    params_source : str
        Where the black box's params came from (``default params`` or a result file).
    files : dict of str to Path
        What :func:`explain_dataset` wrote (empty from :func:`explain_model`).
    """

    row: dict[str, Any]
    importances: pl.DataFrame
    features: tuple[str, ...]
    surrogate: Surrogate
    sizes: pl.DataFrame
    rules: str
    local: str | None = None
    params_source: str = "default params"
    files: dict[str, Path] = field(default_factory=dict)


def explain_model(dataset: Dataset, split: Split, model: str, *,
                  params: dict[str, Any] | None = None, kind: str = "tree",
                  top_k: int = DEFAULT_TOP_K, seed: int = 0, n_threads: int = 1,
                  device: str = "cpu", row: int | None = None, n_repeats: int = 5,
                  run: str = "explain", params_source: str = "default params",
                  prefilter_above: int = PREFILTER_ABOVE, prefilter_keep: int = PREFILTER_KEEP,
                  on_step: Step | None = None) -> Explanation:
    """Explain ``model`` on ``split`` of ``dataset`` with a surrogate of ``kind``.

    Parameters
    ----------
    dataset, split
        The loaded dataset and one of its splits.
    model : str
        A registered model (the black box).
    params : dict, optional
        The black box's params (default: the model's default params).
    kind : str
        A registered surrogate kind: ``tree``, ``rules``, ``linear`` (readable), or
        ``random-forest``, ``boosted-trees`` (faithful, not readable).
    top_k : int
        Features the surrogate may use (all of them when the dataset has fewer).
    seed, n_threads, device
        Seed of the black box, the permutations and the surrogate; threads and device
        of the black box.
    row : int, optional
        Explain this row of the test part (0-based) as well.
    n_repeats : int
        Shuffles per feature in permutation importance.
    run : str
        The ``run`` column of the result row.
    prefilter_above, prefilter_keep
        The high-dimensional shortlist (see the module doc).
    on_step : callable, optional
        Called with a short description as each step starts (for progress display).

    Returns
    -------
    Explanation

    Examples
    --------
    >>> from tabbench.data.datasets.sample import load_subsample  # doctest: +SKIP
    >>> from tabbench.data.datasets.registry import get_spec         # doctest: +SKIP
    >>> from tabbench.data.splits import make_splits                 # doctest: +SKIP
    >>> data = load_subsample(get_spec("bikeshare"), None)    # doctest: +SKIP
    >>> split = make_splits(data, "time")[0]                    # doctest: +SKIP
    >>> print(explain_model(data, split, "lightgbm", kind="rules").rules)  # doctest: +SKIP
    """
    step = on_step or (lambda _: None)
    spec = get_model(model, parameter="model")
    # an unknown kind fails before any fit
    make_surrogate(kind, parameter="kind", task=dataset.task)
    if dataset.task not in spec.task_types:
        message = (f"model {model!r} does not handle {dataset.task} tasks (dataset "
                   f"{dataset.name!r}); it handles: {', '.join(spec.task_types)}")
        raise TabbenchError(message)
    if top_k < 1:
        message = f"top_k must be at least 1, got {top_k}"
        raise TabbenchError(message, parameter="top_k")
    if row is not None and not 0 <= row < len(split.test):
        message = (f"row must be a row of the test part, 0 to {len(split.test) - 1}; "
                   f"got {row}")
        raise TabbenchError(message, parameter="row")
    started_at = datetime.now(UTC)
    metric = dataset.spec.metric or default_metric(dataset.task)
    params = dict(spec.default_params if params is None else params)
    box = fit_black_box(dataset, split, spec, params, metric, seed, n_threads, device, step)
    # threadpoolctl limits the libraries loaded so far, and the model's own (the OpenMP
    # runtime of a booster) is loaded by its fit, so the pools are limited only now: a
    # booster predicting on all cores for each of thousands of permutations is several
    # times slower than on its share of them.
    with threadpool_limits(limits=n_threads):
        importance_started = time.perf_counter()
        importances = rank_by_importance(box, dataset, split, metric, n_repeats, seed,
                                         prefilter_above, prefilter_keep, step)
        importance_seconds = time.perf_counter() - importance_started
        top = tuple(importances["feature"].head(min(top_k, len(box.space.names))).to_list())
        columns = [box.space.names.index(name) for name in top]
        categorical = [i for i, j in enumerate(columns) if j in box.space.categories]
        Zk = {name: Z[:, columns] for name, Z in box.Z.items()}
        step(f"fitting {kind} surrogates on {len(top)} features")
        search_started = time.perf_counter()
        surrogate, sizes = fit_surrogate(kind, Zk["train"], box.targets["train"], Zk["val"],
                                         box.targets["val"], task=dataset.task,
                                         n_classes=dataset.n_classes, categorical=categorical,
                                         seed=seed, class_names=[str(c) for c in dataset.classes])
        search_seconds = time.perf_counter() - search_started
        identity = _identity(dataset, split, model, params, kind, len(top), seed, metric)
        result = identity.base_row(run)
        result.update(_scores(dataset, split, metric, box, surrogate, sizes, Zk))
        result.update(
            n_trials=sizes.height,
            best_params=json.dumps({"black_box": params, "params_source": params_source,
                                    "surrogate": {"size": _size_value(surrogate.size)},
                                    "features": list(top)}, sort_keys=True, default=str),
            tune_seconds=search_seconds, fit_seconds=box.fit_seconds,
            predict_seconds=box.predict_seconds, n_train=len(split.train),
            n_val=len(split.val), n_test=len(split.test), n_features=len(top),
            device=getattr(box.estimator, "device_", "cpu"),
            versions=json.dumps(library_versions(spec), sort_keys=True),
            metric_top_k=float(len(top)), metric_importance_seconds=importance_seconds,
            started_at=started_at, finished_at=datetime.now(UTC),
        )
        vocab = box.space.vocab()
        local = None
        if row is not None:
            local = _local_text(row, split, dataset, box, top, columns, surrogate, model, kind,
                                vocab)
        rules = surrogate.rules_text(top, vocab)
    return Explanation(result, importances, top, surrogate, sizes, rules, local, params_source)


def _scores(dataset: Dataset, split: Split, metric: str, box: BlackBox, surrogate: Surrogate,
            sizes: pl.DataFrame, Zk: dict[str, np.ndarray]) -> dict[str, Any]:
    """Fidelity, the surrogate's and the black box's scores, and the surrogate's size."""
    task, y, targets = dataset.task, dataset.target(), box.targets
    out: dict[str, Any] = {
        "status": "ok",
        "val_score": score(metric, y[split.val], surrogate.prediction(Zk["val"])),
        "test_score": score(metric, y[split.test], surrogate.prediction(Zk["test"])),
        "metric_fidelity": fidelity(task, targets["test"], surrogate.predict(Zk["test"])),
        "metric_fidelity_val": float(sizes.filter(pl.col("chosen"))["fidelity"][0]),
        "metric_black_box_score": score(metric, y[split.test], box.outputs["test"]),
        "metric_n_rules": float(surrogate.n_rules_),
        "metric_depth": float(surrogate.depth_),
    }
    if task != "regression":
        majority = np.bincount(targets["train"], minlength=dataset.n_classes).argmax()
        out["metric_fidelity_baseline"] = float(np.mean(targets["test"] == majority))
        # the headline: agreement beyond chance, which a constant cannot win
        out["metric_fidelity_kappa"] = fidelity_kappa(targets["test"],
                                                      surrogate.predict(Zk["test"]),
                                                      dataset.n_classes)
    if task == "binary":
        out["metric_fidelity_auc"] = _auc(targets["test"],
                                          surrogate.predict_proba(Zk["test"])[:, 1])
    return out


def _auc(reference: np.ndarray, probability: np.ndarray) -> float:
    """ROC AUC of the surrogate's P(class 1) against the black box's class (NaN if one class)."""
    if len(np.unique(reference)) < 2:
        return math.nan
    return float(roc_auc_score(reference, probability))


def _size_value(size: Any) -> Any:
    return size.item() if hasattr(size, "item") else size


def _identity(dataset: Dataset, split: Split, model: str, params: dict[str, Any], kind: str,
              top_k: int, seed: int, metric: str) -> JobIdentity:
    """What the row is about; its ``job_id`` hashes what determines the result."""
    key = {"dataset": dataset.fingerprint, "n_rows": dataset.n_rows, "split": split.id,
           "black_box": model, "params": params, "surrogate": kind, "top_k": top_k,
           "seed": seed, "metric": metric,
           # the surrogate's size is chosen by kappa since this key: older rows, chosen by
           # agreement, keep their ids and are never served for it
           "size_chosen_by": "kappa"}
    return JobIdentity(
        kind="surrogate", dataset=dataset.name, dataset_fingerprint=dataset.fingerprint,
        task=dataset.task, split_strategy=split.id.rsplit("-", 1)[0], split_id=split.id,
        model=f"surrogate:{model}", variant=kind, seed=seed, metric=metric,
        label=(dataset.name, split.id, "surrogate", model, kind, f"k{top_k}", f"s{seed}"),
        key=key,
    )


def _local_text(row: int, split: Split, dataset: Dataset, box: BlackBox, top: Sequence[str],
                columns: Sequence[int], surrogate: Surrogate, model: str, kind: str,
                vocab: dict[str, list[str]]) -> str:
    index = int(split.test[row])
    x = box.Z["test"][row, columns]
    values = []
    for name, j, value in zip(top, columns, x, strict=True):
        if math.isnan(value):
            shown = "missing"
        elif j in box.space.categories:
            shown = vocab[name][int(value)]
        else:
            shown = f"{value:.6g}"
        values.append(f"    {name} = {shown}")
    black_box = box.outputs["test"][row]
    mine = surrogate.prediction(x[None, :])[0]
    truth = dataset.target()[index]
    if dataset.task == "regression":
        said = (f"black box ({model}): {black_box:.6g}\nsurrogate ({kind}): {mine:.6g}\n"
                f"truth: {truth:.6g}")
    else:
        labels = [str(c) for c in dataset.classes]
        said = (f"black box ({model}): class {labels[int(np.argmax(black_box))]} "
                f"({_proba_text(black_box, labels)})\n"
                f"surrogate ({kind}): class {labels[int(np.argmax(mine))]} "
                f"({_proba_text(mine, labels)})\n"
                f"truth: class {labels[int(truth)]}")
    return (f"row {row} of the test part of {dataset.name} {split.id} (row {index} of the "
            f"table)\nthe surrogate's features:\n" + "\n".join(values) + f"\n{said}\n"
            f"why (the surrogate):\n{surrogate.explain_row(x, top, vocab)}\n")


def _proba_text(proba: np.ndarray, labels: Sequence[str]) -> str:
    return ", ".join(f"P({label}) = {p:.3f}" for label, p in zip(labels, proba, strict=True))


# --- registered datasets, tuned params and output files ------------------------------------


def tuned_params(out_dir: Path, dataset: Dataset, split_id: str,
                 model: str) -> tuple[dict[str, Any] | None, str]:
    """The best params of the model's latest ``ok`` tuned row for (dataset, split) in ``out_dir``.

    Only rows of the same dataset content (fingerprint) count. Returns ``(params, source)``,
    or ``(None, "default params")`` when the run folder has no such row.
    """
    folder = Path(out_dir) / "results"
    if not any(folder.glob("*.parquet")):
        return None, "default params"
    results = read_results(Path(out_dir))
    found = results.filter(
        (pl.col("dataset") == dataset.name) & (pl.col("split_id") == split_id)
        & (pl.col("model") == model) & (pl.col("variant") == "tuned")
        & (pl.col("status") == "ok") & (pl.col("dataset_fingerprint") == dataset.fingerprint)
        & pl.col("best_params").is_not_null()
    ).sort("finished_at", "job_id", nulls_last=False)
    if found.is_empty():
        return None, "default params"
    last = found.row(-1, named=True)
    return json.loads(last["best_params"]), f"tuned params of {folder / last['job_id']}.parquet"


def explain_dataset(name: str, model: str, *, split_id: str | None = None, kind: str = "tree",
                    top_k: int = DEFAULT_TOP_K, row: int | None = None, out: Path | None = None,
                    max_rows: int | None = DEFAULT_MAX_ROWS, seed: int = 0, n_threads: int = 1,
                    device: str = "auto", datasets_dirs: list[Path] | None = None,
                    on_step: Step | None = None) -> Explanation:
    """Explain ``model`` on a registered dataset and write the row and the files.

    The dataset is loaded (and subsampled to ``max_rows``) as a benchmark job loads it; the
    split defaults to ``time-0`` (``random-0`` without a time column). The black box gets
    the tuned params of the run folder ``out`` (default ``leaderboard/default``) when it
    holds an ``ok`` tuned row for (dataset, split, model), else its default params.

    Writes ``out/results/<job_id>.parquet`` and, in ``out/explain/<dataset>-<split>-<model>/``,
    ``rules.txt``, ``importances.parquet`` and (with ``row``) ``local.txt``.
    """
    if max_rows is not None and max_rows < 1:
        message = f"max_rows must be at least 1, got {max_rows}"
        raise TabbenchError(message, parameter="max_rows")
    spec = get_model(model, parameter="model")
    out_dir = Path(out) if out is not None else Path.cwd() / "leaderboard" / "default"
    (on_step or (lambda _: None))(f"loading {name}")
    dataset = load_subsample(get_spec(name, datasets_dirs, "explain"), max_rows)
    split = find_split(dataset, split_id)
    ensure_dir(out_dir, "run folder")
    with run_folder_lock(out_dir, "tabbench explain"):
        params, source = tuned_params(out_dir, dataset, split.id, spec.name)
        device = resolve_device(device) if spec.supports_gpu else "cpu"
        explanation = explain_model(dataset, split, spec.name, params=params, kind=kind,
                                    top_k=top_k, seed=seed, n_threads=n_threads, device=device,
                                    row=row, run=out_dir.name, params_source=source,
                                    on_step=on_step)
        folder = safe_join(out_dir, "explain", f"{dataset.name}-{split.id}-{spec.name}")
        upgrade_results(out_dir)  # a run folder holds one schema, whoever wrote its files
        files = {"result": write_result(out_dir, explanation.row, None)}
        files["rules"] = folder / "rules.txt"
        write_atomic_bytes(files["rules"],
                           (_header(explanation) + explanation.rules + "\n").encode())
        files["importances"] = write_parquet_atomic(folder / "importances.parquet",
                                                    explanation.importances)
        if explanation.local is not None:
            files["local"] = folder / "local.txt"
            write_atomic_bytes(files["local"], explanation.local.encode())
    return replace(explanation, files=files)


def _fidelity_line(row: dict[str, Any]) -> str:
    """The test fidelity, chance-corrected first (classification), agreement beside it."""
    if "metric_fidelity_kappa" not in row:
        return f"# test fidelity (R² against the black box) {row['metric_fidelity']:.4f}"
    return (f"# test fidelity kappa {row['metric_fidelity_kappa']:.4f} (agreement beyond "
            f"chance); agreement {row['metric_fidelity']:.4f}, a constant's "
            f"{row['metric_fidelity_baseline']:.4f}"
            + (f", fidelity AUC {row['metric_fidelity_auc']:.4f}"
               if "metric_fidelity_auc" in row else ""))


def _header(explanation: Explanation) -> str:
    row = explanation.row
    lines = [
        f"# {row['model']} on {row['dataset']} {row['split_id']}: {row['variant']} surrogate "
        f"on the top {len(explanation.features)} features",
        f"# black box params: {explanation.params_source}",
        f"# features: {', '.join(explanation.features)}",
        _fidelity_line(row) + f"; rules {int(row['metric_n_rules'])}, depth "
        f"{int(row['metric_depth'])}",
        f"# test {row['metric']}: surrogate {row['test_score']:.4f}, black box "
        f"{row['metric_black_box_score']:.4f}",
        "",
    ]
    return "\n".join(lines) + "\n"
