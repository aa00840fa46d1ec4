"""The ``tabbench`` command line: a thin layer over the Python API (typer + rich).

Each command parses its options, calls one API function and renders the result; errors
that name a library parameter are printed with the flag instead (``_with_flag``). Longer
than 500 lines because typer declares every option where its command is. The commands
import their API, and polars, inside the function: ``tabbench --help``, ``datasets list``,
``plugins`` and a usage error then answer without importing polars, numpy, scikit-learn,
scipy, Optuna, matplotlib and the model libraries (tests/test_cli_light.py checks it).
"""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tabbench.exceptions import TabbenchError, TabbenchWarning
from tabbench.formatting import format_cell
from tabbench.paths import check_name, safe_join

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Benchmark machine learning on tabular data, under random and time splits.")
datasets_app = typer.Typer(no_args_is_help=True, help="List, show and add registered datasets.")
app.add_typer(datasets_app, name="datasets")

console = Console()
err_console = Console(stderr=True)

DatasetsDir = Annotated[
    list[Path] | None,
    typer.Option("--datasets-dir", help="Extra folder of dataset TOMLs (repeatable)."),
]
BUDGET_HELP = ("smoke, quick, standard or paper (TabReD's protocol: a run with it prints "
               "what still differs from TabReD's code).")
PluginOption = Annotated[
    list[str] | None,
    typer.Option("--plugin", help="A plugin: a .py file or an importable module that "
                                  "registers models, splitters or metrics (repeatable)."),
]


def _load_plugins(refs: list[str] | None) -> None:
    """Load the ``--plugin`` files and modules (before any name is checked)."""
    if refs:
        from tabbench.plugins import load_plugins

        load_plugins(refs)


def _split_names(value: str | None) -> list[str] | None:
    return [v.strip().lower() for v in value.split(",") if v.strip()] if value else None


@app.command()
def run(
    config: Annotated[Path | None, typer.Argument(help="Benchmark config TOML.")] = None,
    dataset: Annotated[list[str] | None, typer.Option("--dataset", "-d",
                                                      help="Dataset name (repeatable).")] = None,
    models: Annotated[str | None, typer.Option(help="Comma-separated model names.")] = None,
    splits: Annotated[str | None, typer.Option(help="Comma-separated split strategies.")] = None,
    budget: Annotated[str | None, typer.Option(help=BUDGET_HELP)] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Parallel jobs.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder.")] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds.")] = None,
    train_rows: Annotated[str | None, typer.Option(
        help="Comma-separated training sizes (learning curves): each split's training part "
             "cut to each, validation and test rows unchanged.")] = None,
    max_rows: Annotated[int | None, typer.Option(help="Subsample datasets to this many rows.")] = None,
    time_limit: Annotated[float | None, typer.Option(help="Seconds per job.")] = None,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL.")] = None,
    executor: Annotated[str | None, typer.Option(help="local or dask.")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address, e.g. tcp://HOST:8786 (implies --executor dask).")] = None,
    tuning_workers: Annotated[int | None, typer.Option(
        help="Dask workers tuning one study at once (needs --storage).")] = None,
    threads: Annotated[int | None, typer.Option(help="Threads per job.")] = None,
    retry_failed: Annotated[bool, typer.Option(help="Run failed and timed-out jobs again.")] = False,
    predictions: Annotated[bool | None, typer.Option(
        "--predictions/--no-predictions",
        help="Keep each job's validation and test predictions (default: the config's, "
             "on).")] = None,
    ensemble: Annotated[bool | None, typer.Option(
        "--ensemble/--no-ensemble",
        help="Build post-hoc ensembles from the stored predictions after the jobs "
             "(default: the config's, off).")] = None,
    top_k: Annotated[int | None, typer.Option(
        "--top-k", help="Tune on the K best features (ranked by the config's [features] "
                        "method, default jmi, on each training part); 0 = all features.")] = None,
    datasets_dir: DatasetsDir = None,
    plugin: PluginOption = None,
) -> None:
    """Run a benchmark (default: configs/default.toml) and print the ranking.

    Example: ``tabbench run --dataset bikeshare --models lightgbm,linear --budget smoke``;
    your own model: ``tabbench run --plugin my_models.py --models dummy,lightgbm,my-model``
    """
    from tabbench.config import load_config
    from tabbench.runner import run_benchmark

    _load_plugins(plugin)
    cfg = load_config(config)
    cfg = cfg.override(
        plugins=plugin or None,
        datasets=dataset or None, models=_split_names(models), splits=_split_names(splits),
        budget=budget, jobs=jobs, out=out, max_rows=max_rows, time_limit=time_limit,
        storage=storage, executor=executor, scheduler=scheduler,
        tuning_workers=tuning_workers, threads=threads,
        seeds=_seed_list(seeds) if seeds else None,
        train_rows=_int_list(train_rows, "--train-rows", minimum=10) if train_rows else None,
        store_predictions=predictions, ensemble=ensemble,
        features=_feature_sets(cfg, top_k),
    )
    _describe_budget(cfg.budget)
    with _progress(cfg.name) as callbacks:
        summary = run_benchmark(cfg, datasets_dirs=datasets_dir, retry_failed=retry_failed,
                                **callbacks)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()))
    console.print(f"{summary.planned} jobs planned, {summary.skipped} already done"
                  + (f", {counts}" if counts else "")
                  + (f"; {summary.ensembles} ensembles" if summary.ensembles else ""))
    _print_leaderboard(summary.out_dir)
    console.print(f"Results: [bold]{summary.out_dir}/results/*.parquet[/] "
                  f"(trials in {summary.out_dir}/trials/)")


def _describe_budget(budget: Any) -> None:
    """Print a budget's description when it has one (``paper``: TabReD's protocol and what
    still differs from it), before its jobs start."""
    if budget.description:
        console.print(f"Budget {budget.name}: {budget.description}", markup=False,
                      highlight=False)


@contextmanager
def _progress(name: str) -> Iterator[dict[str, Callable[..., None]]]:
    """A rich progress bar (ETA, last finished job) and the callbacks that drive it."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), TextColumn("{task.fields[last]}"), console=console,
                  transient=False) as progress:
        task = progress.add_task(f"run {name}", total=None, last="")

        def on_start(n: int) -> None:
            progress.update(task, total=n)

        def on_result(job, row) -> None:
            mark = {"ok": "[green]ok", "failed": "[red]failed", "timeout": "[yellow]timeout"}
            last = f"{job.spec.name} {job.split_id} {job.model}: {mark[row['status']]}[/]"
            progress.update(task, advance=1, last=last)

        yield {"on_start": on_start, "on_result": on_result}


def _feature_sets(config, top_k: int | None):
    """``--top-k``: ``None`` keeps the config's feature sets, 0 means all features."""
    from tabbench.config import FeatureSelection
    from tabbench.features.rankers import DEFAULT_SELECTION_METHOD

    if top_k is None:
        return None
    if top_k < 0:
        raise TabbenchError(f"--top-k must be 0 (all features) or more, got {top_k}")
    if top_k == 0:
        return (None,)
    methods = [s.method for s in config.features if s is not None]
    return (FeatureSelection(top_k=top_k,
                             method=methods[0] if methods else DEFAULT_SELECTION_METHOD),)


#: What the leaderboard's "tied with best" counts (the report's wording; the terminal
#: prints :data:`TIED_NOTES`).
TIED_FOOTNOTE = (
    "tied with best: datasets where the model's score, averaged over the dataset's splits and "
    "seeds, is the best or not significantly worse, all of the dataset's models compared at "
    "once (95%: the chance of calling any model worse when none is stays near 5% per "
    "dataset); paired bootstrap of the test rows: drawn together across splits and seeds for "
    "random splits, circular blocks in time order for time-based splits (length from the "
    "data, Politis-White)")
NORMALIZED_FOOTNOTE = ("normalized score: 1 = the best model, 0 = the dummy baseline or worse "
                       "(clipped)")
#: :data:`TIED_FOOTNOTE`, shorter, for the terminal.
TIED_NOTE = ("tied with best: datasets where it is the best or not significantly worse (95%, "
             "all models at once); paired bootstrap of the test rows, drawn together across "
             "splits and seeds for random splits, circular blocks in time order for time splits")


@app.command()
def leaderboard(
    path: Annotated[Path, typer.Argument(help="A run folder, e.g. leaderboard/default.")],
    plugin: PluginOption = None,
) -> None:
    """Print per model: mean rank, normalized score, win rate and datasets; and per dataset.

    Example: ``tabbench leaderboard leaderboard/default``
    """
    _load_plugins(plugin)  # a plugin's baseline model is then known as one
    _print_leaderboard(path)


def _print_leaderboard(path: Path) -> None:
    from tabbench.leaderboard import dataset_confidence, ncd_table, standings, surrogate_table
    from tabbench.results import read_results

    results = read_results(path)
    failed = results.filter(results["status"] != "ok")
    confidence = dataset_confidence(path, results)
    for standing in standings(results, confidence):
        tied = "tied_with_best" in standing.summary.columns
        table = _table(f"Ranking under the {standing.strategy} split")
        columns = ["model", "mean\nrank", "normalized\nscore", "win\nrate", "datasets"]
        for column in columns + (["tied with\nbest"] if tied else []):
            _add_column(table, column, number=column != "model")
        for row in standing.summary.iter_rows(named=True):
            cells = [row["model"], f"{row['mean_rank']:.2f}", f"{row['normalized_score']:.3f}",
                     format_cell(row["win_rate"], ".0%"), str(row["n_datasets"])]
            if tied:
                cells.append(format_cell(row["tied_with_best"]))
            table.add_row(*cells)
        _print_table(table)
        intervals = "low" in standing.per_dataset.columns
        detail = _table(f"Per dataset ({standing.strategy} split)")
        for column in ("dataset", "metric", "model", "test score", "rank"):
            _add_column(detail, column, number=column in ("test score", "rank"))
        for row in standing.per_dataset.iter_rows(named=True):
            spread = row["std"]
            std = f" ± {spread:.4f}" if spread and spread == spread else ""  # none for 1 seed
            interval = (f" [{row['low']:.4f}, {row['high']:.4f}]"
                        if intervals and row["low"] is not None else "")
            detail.add_row(row["dataset"], row["metric"], row["model"],
                           f"{row['test_score']:.4f}{std}{interval}", f"{row['rank']:.1f}")
        seeds = any(v and v == v for v in standing.per_dataset["std"])  # shown: not NaN, not 0
        _print_table(detail, *(["± the std over seeds"] if seeds else []),
                     *(["[95% interval of the score averaged over splits and seeds: paired "
                        "bootstrap of the test rows]"] if intervals else []))
    if confidence is not None:
        _notes(TIED_NOTE)
    _notes(NORMALIZED_FOOTNOTE)
    surrogates = surrogate_table(results)
    if surrogates.height:
        _print_frame(surrogates, "Surrogate interpreters",
                     {"metric_fidelity_kappa": ".4f", "metric_fidelity": ".4f",
                      "metric_black_box_score": ".4f",
                      "test_score": ".4f", "metric_n_rules": ".0f"},
                     headers={"split_id": "split", "metric_fidelity_kappa": "kappa",
                              "metric_fidelity": "fidelity", "metric_n_rules": "rules",
                              "metric_black_box_score": "black box\nscore",
                              "test_score": "test\nscore"},
                     footnotes=["fidelity to the black box: kappa (beyond chance, a constant "
                                "scores 0), then plain agreement"])
    ncd_rows = ncd_table(results)
    if ncd_rows.height:
        _print_frame(ncd_rows, "Novel class discovery (clustering of the novel classes)",
                     {"metric_acc": ".4f", "test_score_std": ".4f", "metric_nmi": ".4f",
                      "metric_ari": ".4f", "metric_k_hat": ".1f"},
                     headers={"split_id": "split", "metric_acc": "acc",
                              "test_score_std": "acc sd", "metric_nmi": "nmi",
                              "metric_ari": "ari", "metric_k_hat": "k_hat"})
    if failed.height:
        console.print(f"[yellow]{failed.height} job(s) did not finish ok:")
        for row in failed.head(10).iter_rows(named=True):
            console.print(f"  {row['dataset']} {row['split_id']} {row['model']}: "
                          f"{row['status']}: {row['error']}", markup=False)


@datasets_app.command("list")
def datasets_list(datasets_dir: DatasetsDir = None) -> None:
    """List the registered datasets. Example: ``tabbench datasets list``"""
    from tabbench.datasets.registry import list_specs

    # two tables, so that each fits 80 columns: the entries, then where their data comes from
    table, sources = _table("Registered datasets"), _table("Sources")
    for column in ("name", "task", "target", "time column", "rows", "metric"):
        _add_column(table, column, number=column == "rows")
    for column in ("name", "source"):
        _add_column(sources, column, number=False)
    unbuilt: dict[str, None] = {}  # suites with a file still to build, in order
    for spec in list_specs(datasets_dir).values():
        source = str(spec.path.name) if spec.path else f"generator {spec.generator}"
        if spec.build is not None:
            built = spec.path is not None and spec.path.is_file()
            source = f"{spec.build.package} {spec.build.dataset}" + ("" if built else " *")
            if not built:
                unbuilt[spec.build.suite] = None
        table.add_row(spec.name, spec.task, spec.target, spec.time_column or "",
                      str(spec.n_rows or ""), spec.metric or "")
        sources.add_row(spec.name, source)
    _print_table(table)
    _print_table(sources, *(f"* not built yet: tabbench datasets build-suite {suite}"
                            for suite in unbuilt))


@datasets_app.command("show")
def datasets_show(name: str, datasets_dir: DatasetsDir = None) -> None:
    """Load a dataset and show its spec and columns. Example: ``tabbench datasets show flights``"""
    from tabbench.datasets.load import load_dataset
    from tabbench.datasets.registry import get_spec

    spec = get_spec(name, datasets_dir)
    dataset = load_dataset(spec)
    console.print(f"[bold]{spec.name}[/] ({spec.task}) from {spec.where}")
    if spec.description:
        console.print(spec.description)
    console.print(f"rows: {dataset.n_rows}, target: {spec.target}, time column: "
                  f"{spec.time_column}, classes: {list(dataset.classes) or '-'}")
    console.print(f"license: {spec.license or '?'}  source: {spec.source_url or '?'}")
    table = _table("Features")
    for column in ("column", "kind", "distinct", "missing"):
        _add_column(table, column, number=column in ("distinct", "missing"))
    for column, kind in dataset.features.items():
        series = dataset.frame.get_column(column)
        table.add_row(column, kind, str(series.n_unique()), str(series.null_count()))
    _print_table(table)


@datasets_app.command("add")
def datasets_add(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file.")],
    target: Annotated[str, typer.Option(help="Target column.")],
    time_column: Annotated[str | None, typer.Option(help="Timestamp column.")] = None,
    name: Annotated[str | None, typer.Option(help="Registry name (default: file name).")] = None,
    task: Annotated[str | None, typer.Option(help="binary, multiclass or regression.")] = None,
    datasets_dir: Annotated[Path | None, typer.Option(help="Where to write the TOML.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing entry.")] = False,
    drop: Annotated[list[str] | None, typer.Option(
        help="A column to leave out, e.g. a leak the audit reports (repeatable).")] = None,
    keep: Annotated[list[str] | None, typer.Option(
        help="Keep a column that the audit would drop as a row id in time order "
             "(repeatable).")] = None,
) -> None:
    """Validate a file, infer its task and column kinds, audit it, and register it.

    With --time-column, the leakage audit drops a row number (unique per row, in time
    order; --keep keeps it) and reports a column that alone predicts the target on the
    time split's validation part, with the command that drops it.

    Example: ``tabbench datasets add sales.csv --target churned --time-column date``
    """
    from tabbench.datasets.registry import add_dataset
    from tabbench.datasets.spec import TASK_TYPES

    if task is not None and task not in TASK_TYPES:
        raise TabbenchError(f"--task: unknown task {task!r}; valid names are: "
                            f"{', '.join(TASK_TYPES)}")
    toml_path = add_dataset(file, target, time_column=time_column, name=name, task=task,
                            datasets_dir=datasets_dir, force=force, drop=drop or (),
                            keep=keep or ())
    console.print(f"Wrote {toml_path}:")
    console.print(toml_path.read_text(), markup=False, highlight=False, soft_wrap=True)


@datasets_app.command("build-suite")
def datasets_build_suite(
    name: Annotated[str, typer.Argument(help="Suite name, e.g. temporal.")],
    force: Annotated[bool, typer.Option(help="Rebuild the files that exist too.")] = False,
    datasets_dir: DatasetsDir = None,
) -> None:
    """Build a suite's missing data files from installed packages; print the leakage audit.

    Example: ``tabbench datasets build-suite temporal`` (needs the packages of the ``suite``
    extra; the command says how to install them when one is missing)
    """
    import polars as pl
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from tabbench.datasets.registry import build_suite, suite_specs
    from tabbench.datasets.suites import SUITES
    from tabbench.datasets.suites.audit import findings

    SUITES.get(name)  # an unknown name lists the suites, before any progress bar
    results = []
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  console=console) as progress:
        task = progress.add_task(f"suite {name}", total=None)

        def on_start(spec) -> None:
            if progress.tasks[task].total is None:
                progress.update(task, total=len(suite_specs(name, datasets_dir)))
            progress.update(task, description=f"{spec.name}")

        def on_progress(result) -> None:
            results.append(result)
            state = "[green]built[/]" if result.built else "present"
            progress.console.print(f"{result.spec.name:<20} {state:<7} {result.n_rows:>9,} rows "
                                   f"{result.seconds:6.1f} s", highlight=False)
            progress.update(task, advance=1, description=f"suite {name}")

        build_suite(name, force=force, on_start=on_start, on_progress=on_progress,
                    datasets_dirs=datasets_dir)
    built = sum(r.built for r in results)
    console.print(f"{built} built, {len(results) - built} already present")
    audits = [r.audit for r in results if r.audit is not None]
    if not audits:
        return
    flagged = findings(pl.concat(audits))
    if flagged.height == 0:
        console.print("Leakage audit: no column flagged")
        return
    evidence = pl.when(pl.col("flag").str.contains("predicts")).then(
        pl.format("{} {}", "metric", pl.col("score").round(3))
    ).otherwise(pl.format("rho {}", pl.col("time_rho").round(3)))
    handled = pl.col("handled").str.extract(r"^([^:]+)").fill_null("NOT HANDLED")
    _print_frame(flagged.select("dataset", "column", "flag", evidence.alias("evidence"),
                                handled.alias("handled")),
                 "Leakage audit: flagged columns",
                 footnotes=["reasons in each TOML's [drop_reasons] or [audit]"])


@app.command("rank-features")
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
    from tabbench.features.rankers import DEFAULT_METHOD, DEFAULT_SELECTION_METHOD, RANKERS
    from tabbench.topk import rank_and_save

    _load_plugins(plugin)
    method = method or (DEFAULT_SELECTION_METHOD if evaluate else DEFAULT_METHOD)
    RANKERS.get(method, parameter="method")
    seed_list = _seed_list(seeds)
    if k is not None:
        _int_list(k, "--k", minimum=1)
    model_list = _split_names(models) or []
    if evaluate:
        from tabbench.config import BUDGETS, BenchmarkConfig

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


def _int_list(text: str, option: str, minimum: int | None = None) -> list[int]:
    """Comma-separated integers of ``option``, each at least ``minimum`` when given."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise TabbenchError(f"{option}: expected comma-separated integers, got {text!r}") from None
    if minimum is not None and any(v < minimum for v in values):
        raise TabbenchError(f"{option}: every value must be at least {minimum}, got {text!r}")
    return values


def _seed_list(text: str, option: str = "--seeds") -> list[int]:
    """Seeds: at least one non-negative integer."""
    values = _int_list(text, option, minimum=0)
    if not values:
        raise TabbenchError(f"{option}: expected comma-separated non-negative integers, "
                            f"got {text!r}")
    return values


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

    from tabbench.topk import evaluate_top_k

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


@app.command()
def explain(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="A registered dataset.")],
    model: Annotated[str, typer.Option("--model", "-m", help="The model to explain.")],
    split: Annotated[str | None, typer.Option(
        help="Split id (default time-0, or random-0 without a time column).")] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1,
                                       help="Features the surrogate may use.")] = 10,
    surrogate: Annotated[str, typer.Option(
        help="Surrogate kind: tree, rules or linear (readable), random-forest or boosted-trees "
             "(faithful, not readable).")] = "tree",
    row: Annotated[int | None, typer.Option(
        min=0, help="Also explain this row of the test part (0-based).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Run folder: tuned params are read from it, the result row and the files are "
             "written to it (default leaderboard/default).")] = None,
    max_rows: Annotated[int, typer.Option(
        min=0, help="Subsample the dataset to this many rows, seeded as `run` does; 0 = all rows.")
    ] = 50_000,
    seed: Annotated[int, typer.Option(
        min=0, help="Seed of the model, permutations and surrogate.")] = 0,
    threads: Annotated[int, typer.Option(min=1, help="Threads of the model.")] = 1,
    datasets_dir: DatasetsDir = None,
    plugin: PluginOption = None,
) -> None:
    """Explain a model with a small surrogate that mimics it; print its fidelity.

    Fits the model on the training part (tuned params from --out if any),
    ranks the features by permutation importance on the validation part,
    fits a surrogate on the top-k and prints its fidelity and rules.
    Writes OUT/results/ and OUT/explain/DATASET-SPLIT-MODEL/.

    Example: ``tabbench explain -d flights -m lightgbm --surrogate rules``
    """
    from tabbench.explain import explain_dataset

    _load_plugins(plugin)
    with console.status(f"explaining {model} on {dataset}…") as status:
        explanation = explain_dataset(
            dataset, model, split_id=split, kind=surrogate, top_k=top_k, row=row, out=out,
            max_rows=max_rows or None, seed=seed, n_threads=threads, datasets_dirs=datasets_dir,
            on_step=lambda text: status.update(f"explaining {model} on {dataset}: {text}…"))
    _print_explanation(explanation)


def _print_explanation(explanation) -> None:
    r = explanation.row
    table = _table(f"{r['variant']} surrogate of {_black_box(r)} on {r['dataset']} "
                   f"{r['split_id']}")
    _add_column(table, "measure", number=False)
    _add_column(table, "value", number=True)
    classification = r.get("metric_fidelity_kappa") is not None or \
        r.get("metric_fidelity_baseline") is not None
    rows = [("fidelity on test: kappa (beyond chance; a constant: 0)",
             r.get("metric_fidelity_kappa")),
            ("fidelity on test: agreement" if classification
             else "fidelity on test: R² against the black box", r["metric_fidelity"]),
            ("fidelity on test: agreement of a constant (majority class)",
             r.get("metric_fidelity_baseline")),
            ("fidelity on test: AUC", r.get("metric_fidelity_auc")),
            ("fidelity on validation: agreement (size chosen by kappa)" if classification
             else "fidelity on validation: R² (chose the size)", r["metric_fidelity_val"]),
            (f"surrogate test {r['metric']}", r["test_score"]),
            (f"black box test {r['metric']}", r["metric_black_box_score"])]
    for label, value in rows:
        if value is not None:
            table.add_row(label, format_cell(value, ".4f"))
    size = {"tree": "leaves", "linear": "terms", "random-forest": "leaves in all",
            "boosted-trees": "leaves in all"}.get(r["variant"], "rules")
    table.add_row(size, str(int(r["metric_n_rules"])))
    table.add_row("depth", str(int(r["metric_depth"])))
    _print_table(table, f"top {len(explanation.features)} features; black box: "
                        f"{explanation.params_source}")
    ranked = _table("Feature importance on the validation part")
    for column in ("rank", "feature", "permutation", "native\ncontribution"):
        _add_column(ranked, column, number=column != "feature")
    for item in explanation.importances.head(len(explanation.features)).iter_rows(named=True):
        ranked.add_row(str(item["rank"]), item["feature"],
                       format_cell(item["permutation_importance"], ".4f"),
                       format_cell(item["native_contribution"], ".4f"))
    _print_table(ranked)
    console.print(f"[bold]Rules[/] ({int(r['metric_n_rules'])} {size}, depth "
                  f"{int(r['metric_depth'])}):")
    console.print(explanation.rules, markup=False, highlight=False, soft_wrap=True)
    if explanation.local is not None:
        console.print("[bold]Local explanation[/]:")
        console.print(explanation.local, markup=False, highlight=False, soft_wrap=True)
    for label, path in explanation.files.items():
        console.print(f"{label}: [bold]{path}[/]", soft_wrap=True, highlight=False)


def _black_box(row: dict) -> str:
    return row["model"].removeprefix("surrogate:")


@app.command("compare-splits")
def compare_splits_command(
    config: Annotated[Path | None, typer.Argument(
        help="Benchmark config TOML (its datasets, models, splits and seeds).")] = None,
    dataset: Annotated[list[str] | None, typer.Option("--dataset", "-d",
                                                      help="Dataset name (repeatable).")] = None,
    models: Annotated[str | None, typer.Option(help="Comma-separated model names.")] = None,
    splits: Annotated[str | None, typer.Option(
        help="Split strategies to compare (default: the config's, or random,time,"
             "sliding-window without a config).")] = None,
    budget: Annotated[str | None, typer.Option(help=BUDGET_HELP)] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Parallel jobs.")] = None,
    max_rows: Annotated[int | None, typer.Option(help="Subsample datasets to this many rows.")] = None,
    seeds: Annotated[str | None, typer.Option(
        help="Comma-separated seeds (3+ add a seed interval beside the test-row one).")] = None,
    train_rows: Annotated[str | None, typer.Option(
        help="Comma-separated training sizes (each split's training part cut to each).")] = None,
    out: Annotated[Path | None, typer.Option(help="Run folder (results are reused).")] = None,
    details: Annotated[bool, typer.Option(
        "--details", help="Also print the per-dataset ranks and taus, the models whose rank "
                          "moved, Friedman and Elo per strategy and the shift tables.")] = False,
    datasets_dir: DatasetsDir = None,
    plugin: PluginOption = None,
) -> None:
    """Rank the same models under random and time-based splits, and measure the shift.

    Runs the jobs that are missing (results already in the run folder are reused), then
    prints the rankings side by side; Kendall tau between strategies with 95% intervals
    (per dataset over the test rows of the stored predictions, and over seeds with 3+ seeds;
    pooled over datasets); the mean per-dataset tau, which answers
    "does the random-split ranking predict the time-split ranking?"; the models whose rank
    moved; Friedman, Nemenyi CD and Elo per strategy over the datasets; shift diagnostics
    and their correlation with the rank change. Writes the slope chart
    ``compare-splits.png``, the scatter ``compare-splits-shift.png`` and the shift table
    ``compare-splits-shift.parquet`` (for ``tabbench report``) into the run folder.

    The terminal gets the answer first: the headline, the mean ranks side by side and the
    mean per-dataset tau; ``--details`` adds the other tables, and ``tabbench report`` on
    the run folder has them all.

    Example: ``tabbench compare-splits configs/temporal.toml`` or
    ``tabbench compare-splits --dataset flights --models lightgbm,linear``
    """
    from tabbench.config import load_config
    from tabbench.split_study import study_splits

    _load_plugins(plugin)
    if config is None and splits is None:
        splits = "random,time,sliding-window"
    cfg = load_config(config).override(
        plugins=plugin or None, datasets=dataset or None, models=_split_names(models), splits=_split_names(splits),
        budget=budget, jobs=jobs, out=out, max_rows=max_rows,
        seeds=_seed_list(seeds) if seeds else None,
        train_rows=_int_list(train_rows, "--train-rows", minimum=10) if train_rows else None)
    _describe_budget(cfg.budget)
    with _progress(cfg.name) as callbacks:
        study = study_splits(cfg, datasets_dirs=datasets_dir, **callbacks)
    _print_split_study(study, details)


def _print_split_study(study, details: bool) -> None:
    """``compare-splits``' answer: headline, mean ranks, mean per-dataset tau; with
    ``details`` the rest (per-dataset tables, moves, Friedman, Elo, shift)."""
    comparison = study.comparison
    for headline in (comparison.headline(), *comparison.paired_headlines()):
        console.print(headline, markup=False, highlight=False)
    console.print(study.noise_baseline.sentence(), markup=False, highlight=False)
    _print_frame(comparison.side_by_side(), "Mean rank over datasets",
                 {s: ".2f" for s in comparison.strategies},
                 footnotes=["1 = best; a model's rank per dataset, averaged over the datasets"])
    intervals = {"low": ".2f", "high": ".2f"}
    _print_frame(_pairs(comparison.agreement), "Mean per-dataset Kendall tau",
                 {"mean_tau": ".2f", **intervals},
                 headers={"mean_tau": "mean tau", "n_datasets": "datasets"},
                 notes=("interval",),
                 footnotes=["baselines left out; 95% interval from resampling datasets"])
    if not details:
        console.print("More with --details: per-dataset ranks and taus, rank moves, Friedman, "
                      "Elo, shift", highlight=False)
    else:
        _print_split_details(study)
    console.print(f"Slope chart: [bold]{study.slope_chart}[/]; shift against rank change: "
                  f"[bold]{study.shift_chart}[/]")


def _print_split_details(study) -> None:
    import polars as pl

    from tabbench.compare import elo_columns, friedman_table

    comparison = study.comparison
    for name in comparison.rankings["dataset"].unique(maintain_order=True).to_list():
        _print_frame(comparison.side_by_side(name), f"Rank of each model on {name}",
                     {s: ".1f" for s in comparison.strategies})
    intervals = {"low": ".2f", "high": ".2f"}
    taus = comparison.taus
    for (a, b), pair in taus.group_by("strategy_a", "strategy_b", maintain_order=True):
        _print_frame(pair.drop("strategy_a", "strategy_b"),
                     f"Kendall tau between strategies: {a} and {b}",
                     {"tau": ".2f", **intervals, "seed_low": ".2f", "seed_high": ".2f"},
                     headers={"n_models": "models", "seed_low": "seed\nlow",
                              "seed_high": "seed\nhigh"},
                     notes=("interval",),
                     footnotes=[comparison.left_out(),
                                "95% interval: per dataset from resampling the test rows, or "
                                "the seeds where no predictions are stored; pooled from "
                                "resampling datasets; seed low-high from resampling seeds "
                                "(3+), which covers fitting and tuning noise only"])
    moved = comparison.moves.filter(pl.col("rank_change") != 0).drop("metric")
    _print_frame(moved, "Models whose rank moved (random → time)",
                 {"score_random": ".4f", "score_time": ".4f", "score_change_pct": "+.1f"},
                 headers={c: c.replace("_", "\n", 1) for c in moved.columns
                          if c not in ("dataset", "model")}
                 | {"score_change_pct": "score\nchange %"})
    _print_frame(friedman_table(study.statistics), "Friedman test per strategy, datasets as "
                 "blocks", {"chi2": ".2f", "pvalue": ".3g", "critical_difference": ".2f"},
                 headers={"n_datasets": "datasets", "n_models": "models", "pvalue": "p",
                          "critical_difference": "CD"},
                 notes=("note",),
                 footnotes=["CD: Nemenyi critical difference at α = 0.05, in mean ranks"])
    _print_frame(elo_columns(study.statistics), "Elo per strategy, datasets as blocks",
                 footnotes=["rating [95% interval from resampling datasets]; random-forest = "
                            "1000 when it ran (TabArena's convention), else the mean"])
    _print_frame(study.shifts, "Shift between training and test rows",
                 {"adversarial_auc": ".3f", "drifting_share": ".2f"},
                 headers={"split_id": "split", "adversarial_auc": "adversarial\nauc",
                          "drifting_share": "drifting\nshare"},
                 footnotes=["adversarial-validation AUC: 0.5 = no shift; drifting share: "
                            "features with PSI ≥ 0.25"])
    _print_frame(study.shift.table, "Shift of the time split against rank change",
                 {"adversarial_auc": ".3f", "drifting_share": ".2f",
                  "tau": ".2f", "rank_change": ".2f"},
                 footnotes=["rank_change: 1 − tau, random vs time"])
    _print_frame(study.shift.correlations, "Spearman correlation across datasets of shift and "
                 "rank change", {"spearman": ".2f", **intervals, "pvalue": ".3g"},
                 headers={"n_datasets": "datasets", "pvalue": "p"}, notes=("note",),
                 footnotes=["95% interval from resampling datasets; two-sided permutation p"])


def _pairs(frame):
    """``strategy_a`` and ``strategy_b`` as one column ``strategies`` (``random/time``)."""
    import polars as pl

    pair = pl.format("{}/{}", "strategy_a", "strategy_b").alias("strategies")
    return frame.select(pair, pl.exclude("strategy_a", "strategy_b"))


@app.command()
def ncd(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="digits, blobs or a registered classification dataset.")] = "digits",
    novel_classes: Annotated[str, typer.Option(help="Comma-separated novel class codes.")] = "",
    estimate_k: Annotated[bool, typer.Option(
        "--estimate-k", help="Estimate the number of novel classes (silhouette) and use it.")] = False,
    methods: Annotated[str | None, typer.Option(help="Comma-separated NCD methods.")] = None,
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0",
    n_trials: Annotated[int, typer.Option(
        min=0, help="Optuna trials (class-hiding CV); 0 = defaults.")] = 0,
    max_rows: Annotated[int | None, typer.Option(
        min=1, help="Use a stratified sample of this many rows (seeded, the same for every "
        "method and seed).")] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("leaderboard/ncd"),
    plugin: PluginOption = None,
) -> None:
    """Discover novel classes: cluster the unlabelled rows helped by the known classes.

    A method whose memory estimate exceeds the memory available runs on a stratified
    sample that fits (one warning line says so); one that fails, out of memory included,
    gives a failed row and the others go on.

    Example: ``tabbench ncd --dataset digits --novel-classes 0,3,5,6,7 --estimate-k``
    """
    import polars as pl

    from tabbench.ncd import run_ncd

    _load_plugins(plugin)
    novel = _int_list(novel_classes, "--novel-classes", minimum=0)
    if not novel:
        raise TabbenchError("--novel-classes: give at least one class code, e.g. 0,3,5")
    rows = run_ncd(dataset, novel, methods=_split_names(methods),
                   seeds=_seed_list(seeds), estimate=estimate_k, n_trials=n_trials,
                   out=out, max_rows=max_rows)
    columns = {"model": "model", "status": "status", "metric_acc": "acc",
               "test_score_std": "acc_sd", "metric_nmi": "nmi", "metric_ari": "ari",
               "metric_k_hat": "k_hat", "fit_seconds": "fit_s"}
    _print_frame(pl.DataFrame([{name: r.get(key) for key, name in columns.items()}
                               for r in rows]),
                 f"Novel class discovery on {dataset} (novel classes {novel_classes})",
                 {"acc": ".4f", "acc_sd": ".4f", "nmi": ".4f", "ari": ".4f", "k_hat": ".1f",
                  "fit_s": ".1f"},
                 footnotes=[f"{rows[0]['variant']}; acc, nmi, ari: means over seeds, "
                            f"acc_sd: std"])
    for row in rows:
        if row["status"] != "ok":
            err_console.print(f"[red]{escape(row['model'])}: failed: {escape(row['error'])}",
                              markup=True, highlight=False, soft_wrap=True)
    console.print(f"Wrote {len(rows)} row(s) to [bold]{out / 'results'}[/]")


@app.command()
def ensemble(
    path: Annotated[Path, typer.Argument(help="A run folder, e.g. leaderboard/default.")],
    iterations: Annotated[int, typer.Option(
        min=1, help="Rounds of greedy selection (members chosen with replacement).")] = 25,
    plugin: PluginOption = None,
) -> None:
    """Build post-hoc ensembles from the run folder's stored predictions (no refit).

    For each (dataset, split, seed): Caruana's greedy selection with replacement on the
    validation predictions, scored on test, written as result rows of model ``ensemble``
    that every leaderboard ranks like a model. Unchanged ensembles are kept.

    Example: ``tabbench ensemble leaderboard/default``
    """
    import polars as pl

    from tabbench.ensemble import build_ensembles
    from tabbench.results import read_results

    _load_plugins(plugin)
    outcomes = build_ensembles(path, iterations=iterations)
    if not outcomes:
        raise TabbenchError(f"{path}: no stored predictions of ok jobs to ensemble (run with "
                            f"--predictions, the default)")
    names = {row["job_id"]: row["model"] if row["variant"] == "tuned"
             else f"{row['model']} ({row['variant']})"
             for row in read_results(path).iter_rows(named=True)}
    rows = []
    for outcome in outcomes:
        row = outcome.row
        members = json.loads(row["best_params"])["members"]
        rows.append({"dataset": row["dataset"], "split": row["split_id"], "seed": row["seed"],
                     "metric": row["metric"], "test_score": row["test_score"],
                     "members": ", ".join(f"{names.get(job_id, job_id)} {weight:.2f}"
                                          for job_id, weight in members.items()),
                     "built": "now" if outcome.built else "kept"})
        for job_id, why in outcome.left_out.items():
            if why != "the baseline":
                console.print(f"[yellow]left out:[/] {job_id}: {why}", highlight=False)
    _print_frame(pl.DataFrame(rows), "Ensembles (weights from validation; scored on test)",
                 {"test_score": ".4f"})
    _print_leaderboard(path)


@app.command()
def report(
    path: Annotated[Path, typer.Argument(help="A run folder, e.g. leaderboard/default.")],
    out: Annotated[Path | None, typer.Option(help="Where to write (default DIR/report.html).")]
        = None,
    plugin: PluginOption = None,
) -> None:
    """Write one self-contained report.html (tables and figures) for a run folder.

    Example: ``tabbench report leaderboard/default``
    """
    from tabbench.report import build_report

    _load_plugins(plugin)  # a plugin's baseline model is then known as one
    console.print(f"Wrote [bold]{build_report(path, out)}[/]")


@app.command("plugins")
def plugins_command(
    config: Annotated[Path | None, typer.Argument(
        help="A benchmark config whose plugins to load too.")] = None,
    plugin: PluginOption = None,
) -> None:
    """List the loaded plugins: where each came from, its provenance, what it registered.

    Installed distributions that declare the entry-point group ``tabbench.plugins`` load
    automatically (TABBENCH_DISABLE_PLUGIN_AUTOLOAD=1 turns that off); --plugin and a
    config's ``plugins`` add files and modules.

    Example: ``tabbench plugins --plugin my_models.py``
    """
    from tabbench.plugins import loaded_plugins

    _load_plugins(plugin)
    if config is not None:
        from tabbench.config import load_config  # the models, rankers and splitters: ~1 s

        load_config(config)
    infos = loaded_plugins()
    if not infos:
        console.print("No plugins loaded. Add one with --plugin FILE_OR_MODULE, the config "
                      "key plugins = [...], or install a distribution that declares the "
                      "entry-point group tabbench.plugins.", highlight=False)
        return
    console.print("Loaded plugins", highlight=False)
    for info in infos:  # a block per plugin: a sha256 alone is 71 characters
        kinds: dict[str, list[str]] = {}
        for kind, name in info.registered:
            kinds.setdefault(kind, []).append(name)
        registered = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in kinds.items())
        block = Table.grid(padding=(0, 2), pad_edge=True)
        block.add_column(no_wrap=True)
        block.add_column(overflow="fold")
        for label, value in (("from", info.plugin.origin), ("registered", registered or "nothing"),
                             ("provenance", info.plugin.provenance)):
            block.add_row(label, value)
        console.print(f"[bold]{escape(info.plugin.name)}[/]", highlight=False)
        console.print(block, highlight=False)


# Rendering: every table fits an 80-column terminal. No border, the header ruled off and two
# spaces between columns; numbers never wrap; what explains a table is printed under it as
# footnote lines (dim), never as a column of wrapped sentences. The report keeps it all.

#: Marks of the footnotes that replace a column of explanations (``_print_frame(notes=)``).
_MARKS = "¹²³⁴⁵⁶⁷⁸⁹"


def _table(title: str) -> Table:
    """An empty table in the terminal layout, with a one-line title where it can."""
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                 pad_edge=False, collapse_padding=True)


def _add_column(table: Table, header: str, *, number: bool) -> None:
    """A right-aligned column that never wraps (``number``), or a left-aligned one that wraps
    between words."""
    if number:
        table.add_column(header, justify="right", no_wrap=True)
    else:
        table.add_column(header, justify="left", overflow="fold")


def _notes(*notes: str) -> None:
    """Footnotes under a table, each wrapped to the terminal with its next lines indented."""
    import textwrap

    for note in notes:
        for line in textwrap.wrap(note, width=console.width, subsequent_indent="  ",
                                  break_long_words=False, break_on_hyphens=False):
            console.print(line, style="dim", markup=False, highlight=False)


def _print_table(table: Table, *footnotes: str) -> None:
    """``table`` under its title (a line of its own: a table narrower than its title would
    wrap it), then ``footnotes``."""
    title, table.title = table.title, None
    if title:
        console.print(title, style="table.title", markup=False, highlight=False)
    console.print(table)
    _notes(*footnotes)


def _print_frame(frame, title: str, formats: dict[str, str] | None = None, *,
                 headers: dict[str, str] | None = None, notes: tuple[str, ...] = (),
                 footnotes: tuple[str, ...] | list[str] = ()) -> None:
    """A polars frame as a table: numbers formatted by column (``formats``), columns
    renamed by ``headers``; each text column in ``notes`` (a sentence per row: how an
    interval was drawn, why a test is missing) shows a mark and its sentences become
    footnote lines, after ``footnotes``."""
    import polars as pl

    formats, headers = formats or {}, headers or {}
    marks: dict[str, dict[str, str]] = {column: {} for column in notes if column in frame.columns}
    for column, seen in marks.items():
        for value in frame[column].drop_nulls().unique(maintain_order=True):
            if value:
                seen[value] = _MARKS[len(seen)] if len(seen) < len(_MARKS) else f"({len(seen) + 1})"
    table = _table(title)
    for column in frame.columns:
        text = frame[column].dtype == pl.String
        _add_column(table, headers.get(column, column), number=not text or column in marks)
    for row in frame.iter_rows(named=True):
        table.add_row(*(marks[column].get(value or "", "") if column in marks
                        else format_cell(value, formats.get(column))
                        for column, value in row.items()))
    _print_table(table, *footnotes, *(f"{mark} {value}" for column in marks
                                      for value, mark in marks[column].items()))


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, TabbenchWarning):
        err_console.print(f"[yellow]warning:[/] {escape(str(message))}", markup=True,
                          highlight=False, soft_wrap=True)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def _usage_error_types() -> tuple[type[Exception], type[Exception], type[Exception]]:
    """(UsageError, ClickException, Abort) of the click that parses our arguments, and of
    plain click: typer >= 0.25 raises its own vendored copies."""
    import click

    try:
        from typer._click import exceptions as vendored
    except ImportError:  # an older typer uses click itself
        vendored = click.exceptions
    return ((vendored.UsageError, click.exceptions.UsageError),
            (vendored.ClickException, click.exceptions.ClickException),
            (typer.Abort, click.exceptions.Abort))


def _usage_line(exc: Exception) -> str:
    """One line for a usage error: the command, what was wrong, where to read more."""
    ctx = getattr(exc, "ctx", None)
    command = ctx.command_path if ctx is not None else "tabbench"
    message = " ".join(exc.format_message().split()).rstrip(".")
    message = message[:1].lower() + message[1:]
    return f"{command}: {message} (see '{command} --help')"


def main() -> None:
    """Entry point: run the app; user errors print one red line and exit with code 2."""
    warnings.showwarning = _show_warning
    usage_errors, click_errors, aborts = _usage_error_types()
    try:
        app(standalone_mode=False)
    except TabbenchError as exc:
        _print_error(_with_flag(exc))
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted: finished jobs are saved; run again to resume")
        sys.exit(130)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code)
    except usage_errors as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare group: its help is the answer
            console.print(exc.ctx.get_help() if exc.ctx else exc.format_message(),
                          markup=False, highlight=False)
            sys.exit(0)
        _print_error(_usage_line(exc))
        sys.exit(2)
    except click_errors as exc:
        _print_error(" ".join(exc.format_message().split()))
        sys.exit(2)
    except aborts:
        sys.exit(130)


#: Command-line flags whose name is not the library parameter's (``--`` + the parameter,
#: ``_`` → ``-``, otherwise).
_FLAGS = {"kind": "--surrogate", "split_id": "--split", "n_threads": "--threads",
          "datasets_dirs": "--datasets-dir", "out_dir": "--out"}


def _with_flag(exc: TabbenchError) -> str:
    """The error's message, its leading library parameter (if any) written as the flag."""
    message, parameter = str(exc), getattr(exc, "parameter", None)
    if parameter and message.startswith(parameter):
        flag = _FLAGS.get(parameter, f"--{parameter.replace('_', '-')}")
        message = flag + message[len(parameter):]
    return message


def _print_error(message: str) -> None:
    err_console.print(f"[red]error:[/] {escape(message)}", markup=True, highlight=False,
                      soft_wrap=True)


if __name__ == "__main__":
    main()
