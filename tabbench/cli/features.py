"""``rank-features``: rank a dataset's features, and with ``--evaluate`` tune models on the top k.
The command is registered in ``tabbench/cli/__init__.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tabbench.cli.options import (
    DatasetsDir,
    PluginOption,
    _int_list,
    _load_plugins,
    _seed_list,
    _split_names,
)
from tabbench.cli.render import _add_column, _print_table, _table, console
from tabbench.core.formatting import format_cell
from tabbench.core.paths import check_name, safe_join


def rank_features(
    dataset: Annotated[str, typer.Argument(help="A registered dataset.")],
    split: Annotated[str | None, typer.Option(
        help="Split id (default time-0, or random-0 without a time column).")] = None,
    method: Annotated[str | None, typer.Option(
        help="mi, mi-corrected, mi-heldout, 3mr, jmi, outrank or outrank-3mr (the last two: "
             "OutRank's scores as its package computes them; default: mi-corrected; with "
             "--evaluate, jmi).")] = None,
    top: Annotated[int, typer.Option(min=1, help="Features shown in the table and the chart.")
                   ] = 20,
    interactions: Annotated[int, typer.Option(
        min=1, max=3, help="Score feature combinations up to this order (1 = none, 2, 3).")] = 1,
    bins: Annotated[int, typer.Option(min=2, max=65535,
                                      help="Quantile bins of numeric features.")] = 32,
    permutations: Annotated[int, typer.Option(
        min=1, help="Permuted targets of the chance correction.")] = 5,
    max_rows: Annotated[int | None, typer.Option(
        min=10, help="Subsample the dataset to this many rows (as `run` does).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Run folder (default leaderboard/features-DATASET).")] = None,
    evaluate: Annotated[bool, typer.Option(
        "--evaluate", help="Also tune --models on all features and on each --k, and compare.")
    ] = False,
    models: Annotated[str, typer.Option(help="--evaluate: comma-separated models.")] = "lightgbm",
    k: Annotated[str | None, typer.Option(
        "--k", help="--evaluate: comma-separated numbers of features (default: a quarter "
                    "and half of them).")] = None,
    budget: Annotated[str, typer.Option(help="--evaluate: tuning budget.")] = "quick",
    seeds: Annotated[str, typer.Option(help="--evaluate: comma-separated seeds.")] = "0",
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1,
                                      help="--evaluate: parallel jobs.")] = 1,
    time_limit: Annotated[float | None, typer.Option(help="--evaluate: seconds per job.")] = 900.0,
    datasets_dir: DatasetsDir = None,
    plugin: PluginOption = None,
) -> None:
    """Rank a dataset's features by (corrected) mutual information on a training part.

    Writes ``OUT/features/DATASET-SPLIT.parquet`` and a bar chart beside it, and prints
    the ranking with data-quality flags.

    Example: ``tabbench rank-features flights --split time-0 --method outrank --top 10``;
    ``tabbench rank-features flights --evaluate --models lightgbm --k 5,10``
    """
    from tabbench.methods.features.rankers import DEFAULT_METHOD, DEFAULT_SELECTION_METHOD, RANKERS
    from tabbench.studies.topk import rank_and_save

    _load_plugins(plugin)
    method = method or (DEFAULT_SELECTION_METHOD if evaluate else DEFAULT_METHOD)
    RANKERS.get(method, parameter="method")
    seed_list = _seed_list(seeds)
    if k is not None:
        _int_list(k, "--k", minimum=1)
    model_list = _split_names(models) or []
    if evaluate:
        from tabbench.execution.config import BUDGETS, BenchmarkConfig

        # the options --evaluate passes to a benchmark, checked before the ranking runs
        BenchmarkConfig(models=tuple(model_list), jobs=jobs, time_limit=time_limit,
                        seeds=tuple(seed_list)).validate("rank-features", flags=True)
        BUDGETS.get(budget, parameter="budget")
    out_dir = out or safe_join(Path.cwd() / "leaderboard",
                               f"features-{check_name(dataset.lower(), 'dataset', 'rank-features')}")
    _import_in_background("matplotlib.figure", "matplotlib.backends.backend_agg")  # the chart
    with console.status(f"ranking the features of {dataset}…"):
        ranking, parquet, png = rank_and_save(
            dataset, out_dir=out_dir, top=top, split_id=split, max_rows=max_rows,
            datasets_dirs=datasets_dir, method=method, bins=bins, permutations=permutations,
            interactions=interactions)
    _print_ranking(ranking, top)
    console.print(f"Ranking: [bold]{parquet}[/]  chart: [bold]{png}[/]")
    if not evaluate:
        return
    n = len(ranking.features)
    ks = k if k is not None else ",".join(str(v) for v in sorted({max(1, n // 4), max(1, n // 2)}))
    _evaluate(dataset, ranking.split_id, method, model_list, ks, budget, seed_list, max_rows,
              jobs, time_limit, out_dir, datasets_dir)


def _import_in_background(*modules: str) -> None:
    """Import ``modules`` in a thread while the command loads and ranks the data (polars and
    numpy work with the GIL released): matplotlib's ~0.4 s of imports then overlap with
    that work instead of following it. The command's own import waits for the thread's
    where it is not finished (Python's per-module import locks); a failure is left to it."""
    import importlib
    import threading

    def load() -> None:
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception:  # the command's own import reports it
                return

    threading.Thread(target=load, name="import-chart", daemon=True).start()


def _print_ranking(ranking, top: int) -> None:
    import polars as pl

    features = ranking.features
    title = f"Features ranked by {ranking.method} on the training part of {ranking.split_id}"
    shown = features.head(top)
    columns = ["rank", "feature", "score", "MI", "chance", "codes", "distinct", "cover"]
    with_flags = bool(shown["flags"].fill_null("").str.len_chars().sum())
    table = _table(title)
    for column in [*columns, "flags"] if with_flags else columns:
        _add_column(table, column, number=column not in ("feature", "flags"))
    for row in shown.iter_rows(named=True):
        cells = [str(row["rank"]), row["feature"], f"{row['score']:.4f}", f"{row['mi']:.4f}",
                 format_cell(row["mi_null"], ".4f"), str(row["codes"]), str(row["cardinality"] or ""),
                 format_cell(row["coverage"], ".0%")]
        if with_flags:
            cells.append(f"[yellow]{row['flags']}[/]" if row["flags"] else "")
        table.add_row(*cells)
    _print_table(table, f"{ranking.dataset}: {ranking.n_rows:,} training rows, ranked in "
                        f"{ranking.seconds:.2f} s")
    if features.height > top:
        console.print(f"… and {features.height - top} more features (all in the Parquet file)")
    combos = ranking.interactions
    if combos.height:
        detail = _table("Feature combinations (exact combined codes)")
        for column in ("order", "rank", "combination", "score", "gain over\nbest part"):
            _add_column(detail, column, number=column != "combination")
        for row in combos.head(top).iter_rows(named=True):
            detail.add_row(str(row["order"]), str(row["rank"]), row["feature"],
                           f"{row['score']:.4f}", f"{row['gain']:+.4f}")
        _print_table(detail)
    flagged = features.filter(pl.col("flags").fill_null("") != "")
    for row in flagged.iter_rows(named=True):
        extra = f" (copy of {row['duplicate_of']})" if row["duplicate_of"] else ""
        console.print(f"[yellow]quality:[/] {row['feature']}: {row['flags']}{extra}",
                      highlight=False)


def _evaluate(dataset, split_id, method, models, ks, budget, seeds, max_rows, jobs, time_limit,
              out_dir, datasets_dir) -> None:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from tabbench.studies.topk import evaluate_top_k

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[last]}"), console=console) as progress:
        task = progress.add_task("evaluate", total=None, last="")

        def on_start(n: int) -> None:
            progress.update(task, total=n)

        def on_result(job, row) -> None:
            progress.update(task, advance=1,
                            last=f"{job.model} {row['variant']}: {row['status']}")

        result = evaluate_top_k(dataset, models=models, ks=ks, split_id=split_id, method=method,
                                budget=budget, seeds=seeds, max_rows=max_rows, jobs=jobs,
                                time_limit=time_limit, out=out_dir, datasets_dirs=datasets_dir,
                                on_start=on_start, on_result=on_result)
    table = _table(f"Top-k vs all features on {result.dataset} {result.split_id} "
                   f"(test {result.metric}, {result.table['better'][0]} is better)")
    for column in ("model", "features", "test score", "change", "tune s", "speed-up"):
        _add_column(table, column, number=column != "model")
    for row in result.table.iter_rows(named=True):
        is_all = row["variant"] == "tuned"
        std = f" ± {row['seed_std']:.4f}" if row["seed_std"] == row["seed_std"] and \
            row["seed_std"] is not None else ""
        table.add_row(row["model"], "all" if is_all else f"top {row['k']}",
                      f"{row['test_score']:.4f}{std}",
                      "" if is_all else f"{row['change_pct']:+.2f}%",
                      f"{row['tune_seconds']:.1f}",
                      "1.00×" if is_all else f"{row['speedup']:.2f}×")
    _print_table(table, f"top k: the k best features by {method}, ranked on each job's "
                        f"training part",
                 "tune s: median tuning seconds over seeds; a top-k job's includes its ranking")
    console.print(f"Results: [bold]{out_dir}/results/*.parquet[/]  comparison: "
                  f"[bold]{result.parquet}[/]  plot: [bold]{result.plot}[/]")
