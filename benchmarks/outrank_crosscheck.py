"""tabbench's ``outrank`` and ``outrank-3mr`` against the ``outrank`` package, on the same codes.

For each table below, the training part of its split is encoded as every tabbench ranker
encodes it (quantile bins, category codes, missing as a code; a regression target in
quantile bins) and written as ``data.csv`` (codes zero-padded, so the package's category
codes are tabbench's codes; the target as column ``label``). Then:

* ``outrank`` vs ``outrank --heuristic MI-numba-randomized --target_ranking_only True``
  (package 0.97.5, the latest release): the per-feature scores;
* ``outrank-3mr`` vs ``outrank --heuristic MI-numba-3mr --interaction_order 1``
  (package 0.97.4: from 0.97.5 on, this heuristic falls through the package's dispatch
  and every score is 0 — ``"MI-numba-3mr not defined!"`` — so 0.97.5 ranks nothing):
  the relevance and redundancy scores (``pairwise_ranks.tsv``) and the ranking
  (``3mr_ranks.tsv``).

Both package runs use ``--subsampling 1`` (all rows) and the default ``--minibatch_size``
(16,384 rows per batch, scores the median over batches). The package does not belong in
tabbench's environment (it pulls numba and llvmlite, flake8, pre-commit, pathos, seaborn
and xxhash as runtime dependencies, and needs an xxhash older than the newest), so ``--record`` runs it from other
interpreters and writes ``benchmarks/outrank_reference.json``; without ``--record`` the
script compares tabbench with that file (as ``tests/test_features_outrank.py`` does)::

    python -m venv /tmp/or5 && /tmp/or5/bin/pip install outrank==0.97.5 xxhash==3.4.1
    python -m venv /tmp/or4 && /tmp/or4/bin/pip install outrank==0.97.4 xxhash==3.4.1
    python benchmarks/outrank_crosscheck.py --record --python-0975 /tmp/or5/bin/python \\
        --python-0974 /tmp/or4/bin/python
    python benchmarks/outrank_crosscheck.py            # compare, print both rankings

(xxhash 3.4.1: the package hashes ``str`` values, which the newest xxhash refuses.)
The tolerance (``TOLERANCE``) covers the package's float32 arithmetic (numba, fastmath);
the rankings must be identical up to exact ties (see :func:`same_up_to_ties`). The note also prints tabbench's own ``mi-corrected`` and
``3mr`` beside them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import polars as pl

from tabbench.data.datasets.registry import get_spec
from tabbench.data.datasets.sample import load_subsample
from tabbench.data.splits import find_split
from tabbench.methods.features.encode import DEFAULT_BINS, encode_features, encode_target
from tabbench.methods.features.outrank import _pair_terms, outrank_3mr, outrank_scores
from tabbench.methods.features.rankers import RankContext
from tabbench.methods.features.ranking import rank_features

REFERENCE = Path(__file__).with_name("outrank_reference.json")
#: Tables: (dataset, split, max_rows). flights at 60,000 rows has a 36,006-row training
#: part: two full batches and a 3,238-row remainder, so the batch medians are checked.
TABLES = (("hotel-rates", "time-0", None), ("flights", "time-0", 60_000))
#: Absolute tolerance on a score (nats): the package sums in float32.
TOLERANCE = 1e-5
LABEL = "label"


def context(name: str, split_id: str, max_rows: int | None) -> tuple[RankContext, list[str]]:
    """The codes every ranker gets for the training part of the split, as a RankContext."""
    dataset = load_subsample(get_spec(name), max_rows)
    split = find_split(dataset, split_id)
    frame = dataset.frame[split.train]
    y = dataset.target()[split.train]
    if dataset.task == "regression":
        keep = ~np.isnan(y.astype(np.float64))
        frame, y = frame.filter(pl.Series(keep)), y[keep]
    encoded = encode_features(frame, dataset.features, bins=DEFAULT_BINS, seed=0)
    target, n_classes = encode_target(y, dataset.task, bins=DEFAULT_BINS, seed=0)
    return RankContext(encoded, target, n_classes), list(encoded.names)


def write_codes(ctx: RankContext, names: list[str], folder: Path) -> None:
    """``folder/data.csv``: one zero-padded code column per feature, and the target."""
    for name in names:
        if "," in name or '"' in name or name == LABEL:
            raise SystemExit(f"column name {name!r} cannot go into the package's CSV")
    columns = {name: codes for name, codes in zip(names, ctx.encoded.codes, strict=True)}
    columns[LABEL] = np.asarray(ctx.target)
    frame = pl.DataFrame({name: pl.Series(values.astype(np.int64)).cast(pl.String)
                          .str.zfill(6) for name, values in columns.items()})
    frame.write_csv(folder / "data.csv")


def run_package(python: str, folder: Path, heuristic: str) -> dict:
    """Run the package's ranking on ``folder/data.csv``; its pairwise scores and 3MR order."""
    out = folder / f"out-{heuristic}"
    command = [python, "-m", "outrank", "--task", "ranking", "--data_path", str(folder),
               "--data_source", "csv-raw", "--heuristic", heuristic, "--label_column", LABEL,
               "--subsampling", "1", "--num_threads", "1", "--interaction_order", "1",
               "--target_ranking_only", "True", "--include_cardinality_in_feature_names",
               "False", "--disable_tqdm", "True", "--output_folder", str(out)]
    version = subprocess.run([python, "-c", "import importlib.metadata as m; print(', '.join("
                              "f'{p} {m.version(p)}' for p in ('outrank', 'numba', 'numpy', "
                              "'pandas', 'xxhash')))"], capture_output=True, text=True,
                             check=True).stdout.strip()
    subprocess.run(command, cwd=folder, check=True, capture_output=True, text=True)
    pairs = pl.read_csv(out / "pairwise_ranks.tsv", separator="\t")
    result = {"version": version, "command": " ".join(["outrank", *command[3:]]),
              "pairs": [[a, b, float(s)] for a, b, s in pairs.iter_rows()]}
    ranks = out / "3mr_ranks.tsv"
    if ranks.exists():
        result["order_3mr"] = pl.read_csv(ranks, separator="\t")["Feature"].to_list()
    return result


def record(python_0975: str, python_0974: str) -> None:
    """Run the package on every table and write :data:`REFERENCE`."""
    tables = []
    for name, split_id, max_rows in TABLES:
        ctx, names = context(name, split_id, max_rows)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            write_codes(ctx, names, folder)
            mi = run_package(python_0975, folder, "MI-numba-randomized")
            three = run_package(python_0974, folder, "MI-numba-3mr")
        scores = {a: s for a, b, s in mi["pairs"] if b == LABEL and a != LABEL}
        tables.append({"dataset": name, "split": split_id, "max_rows": max_rows,
                       "n_rows": int(ctx.encoded.n_rows), "features": names,
                       "outrank": {"version": mi["version"], "command": mi["command"],
                                   "scores": scores},
                       "outrank_3mr": {"version": three["version"], "command": three["command"],
                                       "pairs": three["pairs"], "order": three["order_3mr"]}})
        print(f"{name}: recorded ({ctx.encoded.n_rows:,} rows, {len(names)} features)")
    REFERENCE.write_text(json.dumps({"tables": tables}, indent=1) + "\n")
    print(f"wrote {REFERENCE}")


def same_up_to_ties(order: list[str], scores: np.ndarray, other: list[str]) -> bool:
    """Whether ``other`` is ``order`` with at most runs of exactly tied features reordered.

    Exact ties (constant features: relevance 0 and redundancy 0 with everything) are
    broken by the package in the iteration order of a Python ``set`` of names, which
    changes with ``PYTHONHASHSEED``; tabbench keeps the column order.
    """
    if sorted(order) != sorted(other):
        return False
    start = 0
    for end in range(1, len(order) + 1):
        if end == len(order) or scores[end] != scores[start]:
            if set(order[start:end]) != set(other[start:end]):
                return False
            start = end
    return True


def compare_table(table: dict) -> dict:
    """tabbench's scores and orders beside the recorded package's, and the largest gaps."""
    ctx, names = context(table["dataset"], table["split"], table["max_rows"])
    assert names == table["features"], "the table's features changed since the recording"
    ours = outrank_scores(ctx)
    theirs = np.array([table["outrank"]["scores"][n] for n in names])
    relevance, redundancy = _pair_terms(ctx)
    index = {n: i for i, n in enumerate(names)}
    gap_relevance = gap_redundancy = 0.0
    for a, b, score in table["outrank_3mr"]["pairs"]:
        if a == LABEL and b == LABEL:
            continue
        if LABEL in (a, b):
            mine = relevance[index[b if a == LABEL else a]]
            gap_relevance = max(gap_relevance, abs(mine - score))
        else:
            gap_redundancy = max(gap_redundancy, abs(redundancy[index[a], index[b]] - score))
    output = outrank_3mr(ctx)
    order_3mr = [names[j] for j in output.order]
    by_score = lambda s: [names[j] for j in np.argsort(-s, kind="stable")]  # noqa: E731
    return {"names": names, "ours": ours, "theirs": theirs,
            "gap_outrank": float(np.max(np.abs(ours - theirs))),
            "same_outrank_order": by_score(ours) == by_score(theirs),
            "gap_relevance": gap_relevance, "gap_redundancy": gap_redundancy,
            "order_3mr": order_3mr, "their_3mr": table["outrank_3mr"]["order"],
            "same_3mr_order": same_up_to_ties(order_3mr, output.scores[output.order],
                                              table["outrank_3mr"]["order"]),
            "by_ours": by_score(ours), "by_theirs": by_score(theirs)}


def compare() -> bool:
    """Print the comparison of every recorded table; whether all of them match."""
    tables = json.loads(REFERENCE.read_text())["tables"]
    ok = True
    for table in tables:
        result = compare_table(table)
        name, split_id, max_rows = table["dataset"], table["split"], table["max_rows"]
        rows = f"{table['n_rows']:,} training rows" + (f" of a {max_rows:,}-row sample"
                                                      if max_rows else "")
        print(f"\n{name} {split_id} ({rows}, {len(result['names'])} features)")
        print(f"  outrank vs package ({table['outrank']['version']}) MI-numba-randomized: "
              f"max |score gap| {result['gap_outrank']:.2e} nats, same order: "
              f"{result['same_outrank_order']}")
        print(f"  outrank-3mr vs package ({table['outrank_3mr']['version']}) MI-numba-3mr: max "
              f"|gap| relevance {result['gap_relevance']:.2e}, redundancy "
              f"{result['gap_redundancy']:.2e}; same order: {result['same_3mr_order']}")
        ok &= (result["gap_outrank"] <= TOLERANCE and result["same_outrank_order"]
               and result["gap_relevance"] <= TOLERANCE
               and result["gap_redundancy"] <= TOLERANCE and result["same_3mr_order"])
        dataset = load_subsample(get_spec(name), max_rows)
        split = find_split(dataset, split_id)
        own = {m: rank_features(dataset, split, method=m, quality=False).top(len(result["names"]))
               for m in ("mi-corrected", "3mr")}
        score = dict(zip(result["names"], result["ours"], strict=True))
        theirs = dict(zip(result["names"], result["theirs"], strict=True))
        print(f"  {'rank':>4}  {'outrank (score; package score)':<44} {'mi-corrected':<28} "
              f"{'outrank-3mr (= package)':<28} {'3mr':<28}")
        for i, feature in enumerate(result["by_ours"]):
            left = f"{feature} ({score[feature]:+.4f}; {theirs[feature]:+.4f})"
            print(f"  {i + 1:>4}  {left:<44} {own['mi-corrected'][i]:<28} "
                  f"{result['order_3mr'][i]:<28} {own['3mr'][i]:<28}")
    print(f"\n{'all match' if ok else 'MISMATCH'} (tolerance {TOLERANCE:g} nats; rankings "
          f"must be identical)")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--record", action="store_true",
                        help="run the package and write the reference file")
    parser.add_argument("--python-0975", help="a Python with outrank 0.97.5 installed")
    parser.add_argument("--python-0974", help="a Python with outrank 0.97.4 installed")
    args = parser.parse_args()
    if args.record:
        if not (args.python_0975 and args.python_0974):
            parser.error("--record needs --python-0975 and --python-0974")
        record(args.python_0975, args.python_0974)
    sys.exit(0 if compare() else 1)


if __name__ == "__main__":
    main()
