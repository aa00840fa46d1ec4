"""Wall time of OutRank's corrected mutual information (tabbench.methods.features) on large tables.

Two synthetic tables from the ``drift`` generator (numeric and categorical features, a
binary target, 2% missing values, high-cardinality string columns):

* 100,000 rows × 49 features — target: corrected MI in at most 1 second on 2 cores;
* 1,000,000 rows × 100 features — target: at most 15 seconds.

Timed: ``rank_table(..., method="mi-corrected", quality=False)``, i.e. encoding (quantile
bins, category codes) plus plain MI plus 5 permuted-target passes, median over
``--reps`` repetitions. On the small table it is interleaved (A B A B …) with a
straightforward reference on the same codes (``sklearn.metrics.mutual_info_score`` per
feature, for the target and 5 permuted targets) and the ratio is printed. The data-quality
report, 3MR and JMI are timed once each, the held-out information (``mi-heldout``) like the
corrected MI. Memory: the peak of numpy allocations during one
ranking (``tracemalloc``) and the process's peak resident size.

Run: ``python benchmarks/feature_ranking.py [--reps 5] [--skip-large]``
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
import tracemalloc

import numpy as np
import polars as pl

from tabbench.data.datasets.synthetic import generate
from tabbench.methods.features.encode import encode_features, encode_target
from tabbench.methods.features.quality import quality_report
from tabbench.methods.features.ranking import rank_table

SMALL = {"n_rows": 100_000, "n_informative": 10, "n_uninformative": 25, "n_correlated": 5,
         "n_categorical": 6, "n_high_cardinality": 2, "cardinality": 20_000}      # 49 features
LARGE = {"n_rows": 1_000_000, "n_informative": 20, "n_uninformative": 54, "n_correlated": 10,
         "n_categorical": 10, "n_high_cardinality": 5, "cardinality": 50_000}     # 100 features


def table(params: dict) -> tuple[pl.DataFrame, dict[str, str], np.ndarray]:
    frame = generate("drift", seed=0, **params)
    kinds = {c: "categorical" if frame[c].dtype == pl.String else "numeric"
             for c in frame.columns if c not in ("ts", "target")}
    return frame, kinds, frame["target"].to_numpy()


def corrected(frame, kinds, y):
    return rank_table(frame, kinds, y, "binary", method="mi-corrected", quality=False)


def reference(frame, kinds, y, permutations: int = 5) -> list[float]:
    """Corrected MI the straightforward way: sklearn's MI per feature and permuted target."""
    from sklearn.metrics import mutual_info_score

    encoded = encode_features(frame, kinds)
    target, _ = encode_target(y, "binary")
    rng = np.random.default_rng(0)
    shuffled = [target[rng.permutation(target.size)] for _ in range(permutations)]
    return [mutual_info_score(target, codes)
            - float(np.mean([mutual_info_score(t, codes) for t in shuffled]))
            for codes in encoded.codes]


def timed(fn, *args) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def peak_numpy_mb(fn, *args) -> float:
    tracemalloc.start()
    fn(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args()

    frame, kinds, y = table(SMALL)
    print(f"table 1: {frame.height:,} rows × {len(kinds)} features "
          f"({sum(k == 'categorical' for k in kinds.values())} categorical), binary target")
    corrected(frame, kinds, y)  # warm-up (imports, caches)
    ours, theirs = [], []
    for _ in range(args.reps):
        ours.append(timed(corrected, frame, kinds, y))
        theirs.append(timed(reference, frame, kinds, y))
    ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
    encode_s = statistics.median(timed(encode_features, frame, kinds) for _ in range(args.reps))
    print(f"  corrected MI (encode + MI + 5 permutations): {ours_s:.3f} s median of "
          f"{args.reps} (encoding alone {encode_s:.3f} s); target <= 1 s")
    print(f"  reference (sklearn mutual_info_score x 6 per feature): {theirs_s:.2f} s "
          f"-> {theirs_s / ours_s:.0f}x faster")
    print(f"  corrected MI with the quality report: {timed(rank_table, frame, kinds, y, 'binary'):.3f}"
          f" s; quality report alone {timed(quality_report, frame, kinds):.3f} s")
    for method in ("3mr", "jmi"):
        for steps in (None, 10):
            seconds = timed(lambda m=method, k=steps: rank_table(
                frame, kinds, y, "binary", method=m, quality=False, greedy_steps=k))
            what = (f"full order, {len(kinds) * (len(kinds) - 1) // 2} pairs" if steps is None
                    else f"top {steps} as select_top_k picks them")
            print(f"  {method.upper()} ({what}): {seconds:.2f} s")
    heldout = [timed(lambda: rank_table(frame, kinds, y, "binary", method="mi-heldout",
                                        quality=False)) for _ in range(args.reps)]
    print(f"  held-out information (encode + 5 blocks): {statistics.median(heldout):.3f} s "
          f"median of {args.reps}")
    print(f"  peak numpy memory during one ranking: {peak_numpy_mb(corrected, frame, kinds, y):.0f} MB")
    check = corrected(frame, kinds, y).features
    ref = dict(zip(kinds, reference(frame, kinds, y), strict=True))
    worst = max(abs(ref[f] - s) for f, s in zip(check["feature"], check["mi_corrected"],
                                                   strict=True))
    print(f"  largest difference to the reference's corrected MI: {worst:.2e} nats "
          f"(same seeded permutations)")
    del frame

    if args.skip_large:
        return
    frame, kinds, y = table(LARGE)
    print(f"table 2: {frame.height:,} rows × {len(kinds)} features "
          f"({sum(k == 'categorical' for k in kinds.values())} categorical), "
          f"{frame.estimated_size() / 1e6:.0f} MB in polars")
    reps = max(1, min(args.reps, 3))
    times = [timed(corrected, frame, kinds, y) for _ in range(reps)]
    print(f"  corrected MI: {statistics.median(times):.2f} s median of {reps}; target <= 15 s")
    heldout = timed(lambda: rank_table(frame, kinds, y, "binary", method="mi-heldout",
                                       quality=False))
    print(f"  held-out information: {heldout:.2f} s")
    print(f"  quality report: {timed(quality_report, frame, kinds):.2f} s")
    print(f"  peak numpy memory during one ranking: {peak_numpy_mb(corrected, frame, kinds, y):.0f} MB")
    print(f"process peak resident memory: "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3:.0f} MB")


if __name__ == "__main__":
    main()
