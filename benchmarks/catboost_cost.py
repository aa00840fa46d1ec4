"""Where CatBoost's time goes on the temporal suite's multiclass tables, and what a cheaper
categorical setting costs in validation score.

CatBoost is about two thirds of the temporal suite's compute (sum of tune, fit and predict
seconds over ``leaderboard/temporal``; printed first). By default it builds combinations of
categorical features (``max_ctr_complexity`` 4 on the CPU), which on tables with several
categorical columns and many classes multiplies the cost of each tree. This script fits
CatBoost with tabbench's default params (early stopping on the validation part, one thread)
on each table's time split as the suite runs it (``max_rows`` 5,000: 3,000 training rows),
with CatBoost's own setting (``max_ctr_complexity = 4``, tabbench's before model revision 1)
and with tabbench's ``max_ctr_complexity = 1`` (no combinations), interleaved
(the order alternates each repetition), and prints median seconds, the speed-up and both
validation scores (the suite's metric, ROC AUC one-vs-rest).

    python benchmarks/catboost_cost.py [--reps 3] [--datasets bird-strikes,gss-occupation]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import polars as pl

from tabbench.data.datasets.registry import get_spec
from tabbench.data.datasets.sample import load_subsample
from tabbench.data.metrics import score
from tabbench.data.splits import make_splits
from tabbench.methods.models import get_model
from tabbench.methods.preprocess import prepare_data

MULTICLASS = ("bird-strikes", "gss-occupation", "portal-rodents", "bundesliga")
# "default": CatBoost's own CPU default, which tabbench used before revision 1 of the model
SETTINGS = {"default": {"max_ctr_complexity": 4}, "max_ctr_complexity=1": {"max_ctr_complexity": 1}}


def compute_shares(run_dir: Path) -> pl.DataFrame:
    """Seconds per model (tune + fit + predict) over a run folder's result rows."""
    rows = pl.read_parquet(run_dir / "results" / "*.parquet").with_columns(
        (pl.col("tune_seconds").fill_null(0) + pl.col("fit_seconds").fill_null(0)
         + pl.col("predict_seconds").fill_null(0)).alias("seconds"))
    total = rows["seconds"].sum()
    return (rows.group_by("model").agg(pl.col("seconds").sum(), pl.len().alias("jobs"))
            .with_columns((pl.col("seconds") / total).alias("share"))
            .sort("seconds", descending=True))


def fit_once(name: str, extra: dict, *, seed: int = 0) -> tuple[float, float, int]:
    """Seconds, validation score and trees of one CatBoost fit on ``name``'s time split."""
    spec = get_spec(name)
    dataset = load_subsample(spec, 5000)
    [split] = make_splits(dataset, "time")
    metric = spec.metric or "roc_auc"
    data = prepare_data(dataset, split, "gbdt", metric=metric, seed=seed, n_threads=1,
                        device="cpu", max_rounds=None)
    model_spec = get_model("catboost")
    params = {**model_spec.default_params, **extra}
    start = time.perf_counter()
    model = model_spec.build(params, data.context).fit(data.X_train, data.y_train,
                                                       data.X_val, data.y_val)
    seconds = time.perf_counter() - start
    return seconds, score(metric, data.y_val, model.predict_proba(data.X_val)), \
        int(model.n_iterations_)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--datasets", default=",".join(MULTICLASS))
    args = parser.parse_args()
    temporal = Path(__file__).resolve().parents[1] / "leaderboard" / "temporal"
    if temporal.is_dir():
        print("Compute per model over leaderboard/temporal (tune + fit + predict seconds):")
        print(compute_shares(temporal))
    print(f"\nCatBoost, default params, time split, 3,000 training rows, 1 thread, "
          f"{args.reps} interleaved repetitions (median seconds):")
    for name in args.datasets.split(","):
        times: dict[str, list[float]] = {s: [] for s in SETTINGS}
        scores, trees = {}, {}
        for rep in range(args.reps):
            order = list(SETTINGS) if rep % 2 == 0 else list(reversed(SETTINGS))
            for setting in order:
                seconds, value, n_trees = fit_once(name, SETTINGS[setting])
                times[setting].append(seconds)
                scores[setting], trees[setting] = value, n_trees
        base, cheap = (statistics.median(times[s]) for s in SETTINGS)
        print(f"{name:15s} default {base:6.1f} s ({trees['default']} trees, val "
              f"{scores['default']:.4f})  max_ctr_complexity=1 {cheap:6.1f} s "
              f"({trees['max_ctr_complexity=1']} trees, val "
              f"{scores['max_ctr_complexity=1']:.4f})  speed-up {base / cheap:.2f}x  "
              f"val change {scores['max_ctr_complexity=1'] - scores['default']:+.4f}")


if __name__ == "__main__":
    main()
