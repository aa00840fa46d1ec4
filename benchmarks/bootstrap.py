"""The paired bootstrap's speed: tabbench's vectorized scores against a loop over resamples.

For 10 models on ``--rows`` test rows (synthetic predictions), this times

* **tabbench**: :func:`tabbench.analysis.bootstrap.paired_bootstrap` with ``--resamples`` iid
  resamples (point scores, every resample's scores, intervals and ties);
* **reference**: the straightforward way, a Python loop over resamples that draws the
  rows and calls scikit-learn's metric (``roc_auc_score``, ``root_mean_squared_error``)
  on every model's resampled rows. It runs ``--reference-resamples`` resamples and its
  time is scaled linearly to ``--resamples`` (the loop's cost per resample is constant).

for ROC AUC on a binary task and RMSE on a regression task. Repetitions are interleaved
(tabbench, reference, reference, tabbench, …) so that machine noise hits both alike; the
script prints the medians and the ratio reference / tabbench. BLAS runs on ``--threads``
threads on both sides.

    python benchmarks/bootstrap.py [--reps 3] [--rows 20000] [--resamples 1000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
from sklearn import metrics as skm
from threadpoolctl import threadpool_limits

from tabbench.analysis.bootstrap import paired_bootstrap

N_MODELS = 10


def binary_task(rows: int, rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Binary targets and 10 models' probability matrices of increasing skill."""
    y = rng.integers(0, 2, rows)
    predictions = {}
    for m in range(N_MODELS):
        p = np.clip((0.1 + 0.03 * m) * y + rng.uniform(size=rows) * 0.8, 0, 1)
        predictions[f"model-{m}"] = np.column_stack([1 - p, p])
    return y, predictions


def regression_task(rows: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Regression targets and 10 models' predictions with decreasing noise."""
    y = rng.normal(size=rows)
    return y, {f"model-{m}": y + rng.normal(scale=1.0 - 0.05 * m, size=rows)
               for m in range(N_MODELS)}


def reference(metric: str, y: np.ndarray, predictions: dict[str, np.ndarray],
              n_resamples: int, seed: int) -> np.ndarray:
    """Every model's score on every resample, one scikit-learn call per (resample, model)."""
    rng = np.random.default_rng(seed)
    columns = {name: (p[:, 1] if metric == "roc_auc" else p) for name, p in predictions.items()}
    fn = skm.roc_auc_score if metric == "roc_auc" else skm.root_mean_squared_error
    out = np.empty((n_resamples, len(columns)))
    for r in range(n_resamples):
        rows = rng.integers(0, y.size, y.size)
        for j, values in enumerate(columns.values()):
            out[r, j] = fn(y[rows], values[rows])
    return out


def timed(fn: Callable[[], object]) -> float:
    """Wall seconds of one call."""
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--reference-resamples", type=int, default=50)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    tasks = {"roc_auc": binary_task(args.rows, rng), "rmse": regression_task(args.rows, rng)}
    scale = args.resamples / args.reference_resamples
    times: dict[tuple[str, str], list[float]] = {}
    with threadpool_limits(limits=args.threads, user_api="blas"):
        for rep in range(args.reps):
            for metric, (y, predictions) in tasks.items():
                runs = {
                    "tabbench": lambda y=y, p=predictions, m=metric, s=rep: paired_bootstrap(
                        m, y, p, n_resamples=args.resamples, seed=s),
                    "reference": lambda y=y, p=predictions, m=metric, s=rep: reference(
                        m, y, p, args.reference_resamples, seed=s),
                }
                order = list(runs) if rep % 2 == 0 else list(reversed(runs))
                for side in order:
                    seconds = timed(runs[side]) * (scale if side == "reference" else 1.0)
                    times.setdefault((metric, side), []).append(seconds)
                    print(f"rep {rep + 1}  {metric:<8} {side:<10} {seconds:8.2f} s", flush=True)
    print(f"\n{N_MODELS} models x {args.resamples} resamples on {args.rows} test rows, "
          f"{args.threads} BLAS thread(s), medians of {args.reps} interleaved repetitions;")
    print(f"the reference ran {args.reference_resamples} resamples, its time is scaled "
          f"x{scale:g} to {args.resamples}.")
    print(f"{'metric':<8} {'tabbench s':>11} {'reference s':>12} {'reference / tabbench':>21}")
    for metric in tasks:
        ours = statistics.median(times[(metric, "tabbench")])
        theirs = statistics.median(times[(metric, "reference")])
        print(f"{metric:<8} {ours:11.2f} {theirs:12.1f} {theirs / ours:20.0f}x")


if __name__ == "__main__":
    main()
