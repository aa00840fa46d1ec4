"""tabbench's per-job overhead against calling the booster library directly.

For LightGBM and XGBoost on the bundled flights data (time split, default params, one
seed, no tuning), this times

* **tabbench (warm)**: a whole job as a worker of the local executor runs it after its
  first job on the same data: the loaded dataset, its splits and the family's
  preprocessing are kept in the worker, so the job fits (early stopping on the validation
  part), predicts validation and test, scores and builds its row and prediction frame.
  Its files are written by the driver while the worker already runs the next job; they are
  timed apart (**writes**: result and predictions, atomically) and ``warm+writes`` adds
  them, as a run with one worker and no overlap would pay;
* **tabbench (cold)**: the job and its writes in a fresh process: load the dataset from
  the Parquet cache, split, preprocess, then the same;
* **raw**: the library's own ``train`` and ``predict`` called directly on the same arrays
  (already in memory) with the same params and the same early stopping.

Repetitions are interleaved (the order rotates each repetition) so that machine noise hits
all alike; the script prints medians and the ratios to raw (target for warm: <= 1.05).

    python benchmarks/overhead.py [--reps 5] [--threads 1] [--max-rows N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from tabbench.core.predictions import write_predictions
from tabbench.core.results import write_result
from tabbench.data import splits as splits_module
from tabbench.data.datasets import load as load_module
from tabbench.data.datasets import sample as sample_module
from tabbench.data.datasets.load import load_dataset
from tabbench.data.datasets.registry import get_spec
from tabbench.data.datasets.sample import load_subsample
from tabbench.data.metrics import score
from tabbench.execution import job as job_module
from tabbench.execution.config import Budget
from tabbench.execution.job import Job, find_split, run_job
from tabbench.methods.models import get_model
from tabbench.methods.models.gbdt import EARLY_STOPPING_ROUNDS
from tabbench.methods.preprocess import prepare_data


def library_params(params: dict) -> dict:
    """The model's default params minus the round counts, which go to ``train`` itself."""
    return {k: v for k, v in params.items() if k not in ("n_estimators", "early_stopping_rounds")}


def raw_lightgbm(data, params: dict, threads: int) -> tuple[np.ndarray, int]:
    """LightGBM's own API: Dataset → train with early stopping → predict."""
    import lightgbm as lgb

    params = {
        "objective": "binary", "metric": "binary_logloss", "deterministic": True,
        "force_row_wise": True, **library_params(params),
        "num_threads": threads, "seed": 0, "verbosity": -1,
    }
    categorical = list(data.context.categorical)
    train = lgb.Dataset(data.X_train, data.y_train, categorical_feature=categorical, params=params)
    valid = lgb.Dataset(data.X_val, data.y_val, reference=train)
    booster = lgb.train(params, train, num_boost_round=2000, valid_sets=[valid],
                        callbacks=[lgb.early_stopping(EARLY_STOPPING_ROUNDS, verbose=False)])
    # predict with the job's thread count too (LightGBM's predict otherwise uses every core)
    prediction = booster.predict(data.X_test, num_iteration=booster.best_iteration,
                                 num_threads=threads)
    return prediction, booster.best_iteration


def raw_xgboost(data, params: dict, threads: int) -> tuple[np.ndarray, int]:
    """XGBoost's own API: QuantileDMatrix → train with early stopping → inplace_predict."""
    import xgboost as xgb

    categorical = set(data.context.categorical)
    types = ["c" if j in categorical else "q" for j in range(data.X_train.shape[1])]
    train = xgb.QuantileDMatrix(data.X_train, data.y_train, feature_types=types,
                                enable_categorical=True, nthread=threads)
    valid = xgb.QuantileDMatrix(data.X_val, data.y_val, ref=train, feature_types=types,
                                enable_categorical=True, nthread=threads)
    lib_params = {
        "tree_method": "hist", "objective": "binary:logistic", "eval_metric": "logloss",
        **library_params(params), "nthread": threads, "seed": 0, "verbosity": 0, "device": "cpu",
    }
    booster = xgb.train(lib_params, train, num_boost_round=2000, evals=[(valid, "val")],
                        early_stopping_rounds=EARLY_STOPPING_ROUNDS, verbose_eval=False)
    rounds = booster.best_iteration + 1
    return booster.inplace_predict(data.X_test, iteration_range=(0, rounds)), rounds


RAW = {"lightgbm": raw_lightgbm, "xgboost": raw_xgboost}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-rows", type=int, default=None)
    parser.add_argument("--models", default="lightgbm,xgboost")
    args = parser.parse_args()

    spec = get_spec("flights")
    load_dataset(spec)  # warm the Parquet cache: tabbench jobs read the cleaned table from it
    budget = Budget("overhead", n_trials=0, n_trials_gbdt=0, eval_seeds=1)
    out = Path(tempfile.mkdtemp(prefix="tabbench-overhead-"))
    models = args.models.split(",")
    jobs, arrays = {}, {}
    for model in models:
        jobs[model] = Job(run="overhead", spec=spec, dataset_fingerprint="", split_strategy="time",
                          split_id="time-0", model=model, variant="default", seed=0,
                          budget=budget, metric="roc_auc", max_rows=args.max_rows,
                          device="cpu", n_threads=args.threads)
        dataset = load_subsample(spec, args.max_rows)
        split = find_split(dataset, jobs[model])
        arrays[model] = prepare_data(dataset, split, "gbdt", metric="roc_auc", seed=0,
                                     n_threads=args.threads, device="cpu")
    n_train, n_features = arrays[models[0]].X_train.shape
    print(f"flights: {n_train} training rows x {n_features} features, {args.threads} thread(s), "
          f"{args.reps} interleaved repetitions")

    sides = ("warm", "cold", "raw")
    times: dict[tuple[str, str], list[float]] = {
        (m, s): [] for m in models for s in (*sides, "writes")}
    checks: dict[str, tuple[float, float]] = {}
    for model in models:
        run_job(jobs[model])  # the worker's first job on this data: the warm side's state
    for rep in range(args.reps):
        for model in models:
            order = sides[rep % 3:] + sides[:rep % 3]
            for side in order:
                if side == "raw":
                    data = arrays[model]
                    params = get_model(model).default_params
                    started = time.perf_counter()
                    prediction, _ = RAW[model](data, params, args.threads)
                    elapsed = time.perf_counter() - started
                    raw_score = score("roc_auc", data.y_test, prediction)
                else:
                    if side == "cold":  # a fresh process: nothing loaded, split or prepared
                        forget()
                    started = time.perf_counter()
                    output = run_job(jobs[model])
                    ran = time.perf_counter()
                    write_predictions(out, jobs[model].job_id, output.predictions)
                    write_result(out, output.row, output.trials)
                    elapsed = time.perf_counter() - started
                    if side == "warm":
                        times[(model, "writes")].append(elapsed - (ran - started))
                        elapsed = ran - started
                    assert output.row["status"] == "ok", output.row.get("error")
                    tabbench_score = output.row["test_score"]
                times[(model, side)].append(elapsed)
            checks[model] = (tabbench_score, raw_score)

    print(f"{'model':<10} {'warm s':>7} {'writes s':>9} {'cold s':>7} {'raw s':>7} "
          f"{'warm/raw':>9} {'warm+writes/raw':>16} {'cold/raw':>9}   test ROC AUC "
          f"(tabbench / raw)")
    for model in models:
        warm, cold, raw, writes = (statistics.median(times[(model, side)])
                                   for side in (*sides, "writes"))
        a, b = checks[model]
        print(f"{model:<10} {warm:>7.3f} {writes:>9.3f} {cold:>7.2f} {raw:>7.3f} "
              f"{warm / raw:>9.3f} {(warm + writes) / raw:>16.3f} {cold / raw:>9.3f}   "
              f"{a:.5f} / {b:.5f}")
    print("per-repetition seconds:")
    for (model, side), values in times.items():
        print(f"  {model:<9} {side:<5} " + " ".join(f"{v:.2f}" for v in values))


def forget() -> None:
    """Drop what a worker keeps between jobs, as a fresh process would not have it."""
    sample_module._LOADED.clear()
    splits_module._MADE.clear()
    job_module._PREPARED.clear()
    load_module._file_digest.cache_clear()


if __name__ == "__main__":
    main()
