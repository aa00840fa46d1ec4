"""Novel class discovery on real suite tables: the gain of each method, its time and memory.

Three tables of the temporal suite with six or more classes, about a third of the classes
hidden (every class code that is 2 modulo 3), a stratified sample of ``--max-rows`` rows
(seed 0, the same for every method and seed), three seeds (each seed: another stratified
train/test partition and another initialization):

* portal-rodents (10 genera; novel 2, 5, 8), gss-occupation (11 occupation groups; novel
  2, 5, 8), bird-strikes (7 phases of flight; novel 2, 5).

Each (table, method) runs in a fresh process, ``run_ncd`` once per seed (one result row
per seed, written to ``--out``, by default ``leaderboard/ncd-suite``), so the peak
resident memory of that process (``wait4``'s ``ru_maxrss``) is the method's peak with
Python, the libraries and the table loaded; a process that only loads the table and
makes the task gives that floor (method ``(load only)``). ``(all in one cluster)``: the
ACC of a single cluster, the largest novel class's share (NMI and ARI 0), the floor ACC
is read against. Wall time: the whole process,
and the fit seconds of the rows. Metrics: Hungarian accuracy (ACC), NMI and ARI on the
test rows of the novel classes, as ``mean [min, max]`` over the 3 seeds (the range says
how much a result moves with the partition and the initialization; it resamples nothing). With ``--estimate-k`` the clusters use the estimated number of novel
classes (mean silhouette curve of 5 fits) and the table shows it.

Run: ``python benchmarks/ncd_suite.py [--max-rows 20000] [--estimate-k]``; it prints the
table as Markdown and writes it, with the per-run measurements, next to the results
(``table.md``/``table-k-estimated.md``, ``measurements.csv``); ``--table-only`` prints it
again from those files.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

TABLES = {"portal-rodents": [2, 5, 8], "gss-occupation": [2, 5, 8], "bird-strikes": [2, 5]}
METHODS = ["kmeans", "ncd-kmeans", "ncd-spectral", "pbn"]
SEEDS = [0, 1, 2]
LOAD_ONLY = "(load only)"
ONE_CLUSTER = "(all in one cluster)"


def one(dataset: str, method: str, max_rows: int, out: Path, estimate: bool) -> None:
    """In a child process: run ``method`` on ``dataset`` for every seed, one row per seed."""
    from tabbench.studies.ncd import run_ncd
    from tabbench.studies.ncd.runner import _sample
    from tabbench.studies.ncd.task import load_ncd_data, make_task

    if method == LOAD_ONLY:
        X, y = load_ncd_data(dataset)
        if max_rows < len(y):
            X, y = _sample(X, y, max_rows, TABLES[dataset], dataset, "max_rows")
        make_task(X, y, TABLES[dataset], seed=0, dataset=dataset)
        return
    for seed in SEEDS:
        run_ncd(dataset, TABLES[dataset], methods=[method], seeds=[seed], estimate=estimate,
                out=out, run="ncd-suite", max_rows=max_rows)


def measure(dataset: str, method: str, max_rows: int, out: Path,
            estimate: bool) -> dict[str, object]:
    """Run :func:`one` in a fresh process; its wall time and peak resident memory."""
    command = [sys.executable, __file__, "--one", dataset, method, "--max-rows",
               str(max_rows), "--out", str(out)] + (["--estimate-k"] if estimate else [])
    started = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"{dataset} {method}: exit code {process.returncode}")
    return {"dataset": dataset, "method": method, "estimate_k": estimate,
            "max_rows": max_rows, "wall_s": round(wall, 1),
            "peak_rss_mib": round(usage.ru_maxrss / 1024)}  # Linux: KiB


def majority_shares(dataset: str, max_rows: int) -> list[float]:
    """Per seed, the ACC of putting every scored row in one cluster: the largest novel
    class's share of the scored rows (the floor ACC is read against)."""
    from tabbench.studies.ncd.runner import _sample
    from tabbench.studies.ncd.task import load_ncd_data, make_task

    X, y = load_ncd_data(dataset)
    if max_rows < len(y):
        X, y = _sample(X, y, max_rows, TABLES[dataset], dataset, "max_rows")
    shares = []
    for seed in SEEDS:
        truth = make_task(X, y, TABLES[dataset], seed=seed, dataset=dataset).novel_labels()
        shares.append(float(np.bincount(truth).max() / len(truth)))
    return shares


def interval(values: list[float]) -> str:
    """``mean [min, max]`` over the seeds (three seeds: a t-interval would be 4.3 standard
    errors wide and leave the metric's range; the spread itself is what they show)."""
    a = np.asarray(values, dtype=float)
    return f"{a.mean():.3f} [{a.min():.3f}, {a.max():.3f}]"


def table(out: Path, measurements: list[dict[str, object]], estimate: bool) -> str:
    """The Markdown table of the rows in ``out`` and the measured time and memory."""
    import polars as pl

    from tabbench.core.results import read_results

    variant = "default-k-estimated" if estimate else "default"
    results = read_results(out).filter(pl.col("variant") == variant)
    lines = ["| table | method | ACC | NMI | ARI |" + (" k̂ (true) |" if estimate else "")
             + " fit s / seed | wall s | peak MiB |",
             "| --- | --- | --- | --- | --- |" + (" --- |" if estimate else "")
             + " --- | --- | --- |"]
    for dataset in TABLES:
        floor = next(m for m in measurements if m["dataset"] == dataset
                     and m["method"] == LOAD_ONLY)
        for method in METHODS:
            rows = results.filter((pl.col("dataset") == dataset) & (pl.col("model") == method)
                                  & pl.col("seed").is_in(SEEDS))
            measured = next(m for m in measurements if m["dataset"] == dataset
                            and m["method"] == method)
            if rows.height != len(SEEDS) or (rows["status"] != "ok").any():
                errors = "; ".join(e for e in rows["error"].to_list() if e)
                lines.append(f"| {dataset} | {method} | failed: {errors} |")
                continue
            cells = [interval(rows[f"metric_{m}"].to_list()) for m in ("acc", "nmi", "ari")]
            if estimate:
                k_hats = ", ".join(f"{k:g}" for k in rows.sort("seed")["metric_k_hat"])
                cells.append(f"{k_hats} ({len(TABLES[dataset])})")
            cells += [f"{rows['fit_seconds'].mean():.1f}", f"{measured['wall_s']}",
                      f"{measured['peak_rss_mib']}"]
            lines.append(f"| {dataset} | {method} | " + " | ".join(cells) + " |")
        lines.append(f"| {dataset} | {ONE_CLUSTER} | "
                     f"{interval(majority_shares(dataset, int(floor['max_rows'])))} | 0 | 0 |"
                     + (" |" if estimate else "") + " | | |")
        lines.append(f"| {dataset} | {LOAD_ONLY} | | | |" + (" |" if estimate else "")
                     + f" | {floor['wall_s']} | {floor['peak_rss_mib']} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-rows", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=Path("leaderboard/ncd-suite"))
    parser.add_argument("--estimate-k", action="store_true")
    parser.add_argument("--tables", default=",".join(TABLES),
                        help="Comma-separated tables to run (default: all three).")
    parser.add_argument("--one", nargs=2, metavar=("DATASET", "METHOD"))
    parser.add_argument("--table-only", action="store_true",
                        help="Only print the table of the rows and measurements already there.")
    args = parser.parse_args()
    if args.one:
        one(*args.one, args.max_rows, args.out, args.estimate_k)
        return
    if args.table_only:
        with (args.out / "measurements.csv").open() as handle:
            measured = [{**r, "wall_s": float(r["wall_s"]), "peak_rss_mib": int(r["peak_rss_mib"])}
                        for r in csv.DictReader(handle)
                        if r["estimate_k"] == str(args.estimate_k)]
        print(table(args.out, measured, args.estimate_k))
        return
    measurements = []
    for dataset in args.tables.split(","):
        for method in [LOAD_ONLY, *METHODS]:
            measured = measure(dataset, method, args.max_rows, args.out, args.estimate_k)
            print(json.dumps(measured), flush=True)
            measurements.append(measured)
    file = args.out / "measurements.csv"
    done = {(m["dataset"], m["method"], str(m["estimate_k"])) for m in measurements}
    kept = []
    if file.exists():  # the measurements of other tables and of the other variant stay
        with file.open() as handle:
            kept = [{**r, "wall_s": float(r["wall_s"]), "peak_rss_mib": int(r["peak_rss_mib"])}
                    for r in csv.DictReader(handle)
                    if (r["dataset"], r["method"], r["estimate_k"]) not in done]
    with file.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(measurements[0]))
        writer.writeheader()
        writer.writerows(kept + measurements)
    measurements = [m for m in kept + measurements
                    if str(m["estimate_k"]) == str(args.estimate_k)]
    if {m["dataset"] for m in measurements} < set(TABLES):
        print("measured so far:", json.dumps(measurements))
        return
    text = table(args.out, measurements, args.estimate_k)
    (args.out / ("table-k-estimated.md" if args.estimate_k else "table.md")).write_text(
        text + "\n")
    print(text)


if __name__ == "__main__":
    main()
