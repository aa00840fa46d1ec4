"""The ``tabbench`` command line: a thin layer over the Python API (typer + rich)."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from tabbench.exceptions import TabbenchError, TabbenchWarning

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


def _split_names(value: str | None) -> list[str] | None:
    return [v.strip().lower() for v in value.split(",") if v.strip()] if value else None


@app.command()
def run(
    config: Annotated[Path | None, typer.Argument(help="Benchmark config TOML.")] = None,
    dataset: Annotated[list[str] | None, typer.Option("--dataset", "-d",
                                                      help="Dataset name (repeatable).")] = None,
    models: Annotated[str | None, typer.Option(help="Comma-separated model names.")] = None,
    splits: Annotated[str | None, typer.Option(help="Comma-separated split strategies.")] = None,
    budget: Annotated[str | None, typer.Option(help="smoke, quick, standard or paper.")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Parallel jobs.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder.")] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds.")] = None,
    max_rows: Annotated[int | None, typer.Option(help="Subsample datasets to this many rows.")] = None,
    time_limit: Annotated[float | None, typer.Option(help="Seconds per job.")] = None,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL.")] = None,
    retry_failed: Annotated[bool, typer.Option(help="Run failed and timed-out jobs again.")] = False,
    datasets_dir: DatasetsDir = None,
) -> None:
    """Run a benchmark (default: configs/default.toml) and print the ranking.

    Example: ``tabbench run --dataset bikeshare --models lightgbm,linear --budget smoke``
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from tabbench.config import load_config
    from tabbench.runner import run_benchmark

    cfg = load_config(config).override(
        datasets=dataset or None, models=_split_names(models), splits=_split_names(splits),
        budget=budget, jobs=jobs, out=out, max_rows=max_rows, time_limit=time_limit,
        storage=storage,
        seeds=[int(s) for s in seeds.split(",")] if seeds else None,
    )
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), TextColumn("{task.fields[last]}"), console=console,
                  transient=False) as progress:
        task = progress.add_task(f"run {cfg.name}", total=None, last="")

        def on_start(n: int) -> None:
            progress.update(task, total=n)

        def on_result(job, row) -> None:
            mark = {"ok": "[green]ok", "failed": "[red]failed", "timeout": "[yellow]timeout"}
            last = f"{job.spec.name} {job.split_id} {job.model}: {mark[row['status']]}[/]"
            progress.update(task, advance=1, last=last)

        summary = run_benchmark(cfg, datasets_dirs=datasets_dir, retry_failed=retry_failed,
                                on_start=on_start, on_result=on_result)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()))
    console.print(f"{summary.planned} jobs planned, {summary.skipped} already done"
                  + (f", {counts}" if counts else ""))
    _print_leaderboard(summary.out_dir)
    console.print(f"Results: [bold]{summary.out_dir}/results/*.parquet[/] "
                  f"(trials in {summary.out_dir}/trials/)")


@app.command()
def leaderboard(
    path: Annotated[Path, typer.Argument(help="A run folder, e.g. leaderboard/default.")],
) -> None:
    """Print per model: mean rank, normalized score, win rate and datasets; and per dataset.

    Example: ``tabbench leaderboard leaderboard/default``
    """
    _print_leaderboard(path)


def _print_leaderboard(path: Path) -> None:
    from tabbench.leaderboard import read_results, standings

    results = read_results(path)
    failed = results.filter(results["status"] != "ok")
    for standing in standings(results):
        table = Table(title=f"Ranking under the {standing.strategy} split", title_justify="left")
        for column in ("model", "mean rank", "normalized score", "win rate", "datasets"):
            table.add_column(column, justify="left" if column == "model" else "right")
        for row in standing.summary.iter_rows(named=True):
            table.add_row(row["model"], f"{row['mean_rank']:.2f}",
                          f"{row['normalized_score']:.3f}", _pct(row["win_rate"]),
                          str(row["n_datasets"]))
        console.print(table)
        detail = Table(title=f"Per dataset ({standing.strategy} split)", title_justify="left")
        for column in ("dataset", "metric", "model", "test score", "rank"):
            detail.add_column(column, justify="right" if column in ("test score", "rank") else "left")
        for row in standing.per_dataset.iter_rows(named=True):
            std = f" ± {row['std']:.4f}" if row["std"] is not None and row["std"] == row["std"] else ""
            detail.add_row(row["dataset"], row["metric"], row["model"],
                           f"{row['test_score']:.4f}{std}", f"{row['rank']:.1f}")
        console.print(detail)
    if failed.height:
        console.print(f"[yellow]{failed.height} job(s) did not finish ok:")
        for row in failed.head(10).iter_rows(named=True):
            console.print(f"  {row['dataset']} {row['split_id']} {row['model']}: "
                          f"{row['status']}: {row['error']}", markup=False)


def _pct(value: float | None) -> str:
    return "" if value is None or value != value else f"{100 * value:.0f}%"


@datasets_app.command("list")
def datasets_list(datasets_dir: DatasetsDir = None) -> None:
    """List the registered datasets. Example: ``tabbench datasets list``"""
    from tabbench.datasets.registry import list_specs

    table = Table(title="Registered datasets", title_justify="left")
    table.add_column("name", no_wrap=True)
    for column in ("task", "target", "time column", "rows", "metric", "source"):
        table.add_column(column, overflow="fold")
    for spec in list_specs(datasets_dir).values():
        source = str(spec.path.name) if spec.path else f"generator {spec.generator}"
        table.add_row(spec.name, spec.task, spec.target, spec.time_column or "",
                      str(spec.n_rows or ""), spec.metric or "", source)
    console.print(table)


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
    table = Table(title="Features", title_justify="left")
    for column in ("column", "kind", "distinct", "missing"):
        table.add_column(column)
    for column, kind in dataset.features.items():
        series = dataset.frame.get_column(column)
        table.add_row(column, kind, str(series.n_unique()), str(series.null_count()))
    console.print(table)


@datasets_app.command("add")
def datasets_add(
    file: Annotated[Path, typer.Argument(help="CSV or Parquet file.")],
    target: Annotated[str, typer.Option(help="Target column.")],
    time_column: Annotated[str | None, typer.Option(help="Timestamp column.")] = None,
    name: Annotated[str | None, typer.Option(help="Registry name (default: file name).")] = None,
    task: Annotated[str | None, typer.Option(help="binary, multiclass or regression.")] = None,
    datasets_dir: Annotated[Path | None, typer.Option(help="Where to write the TOML.")] = None,
    force: Annotated[bool, typer.Option(help="Overwrite an existing entry.")] = False,
) -> None:
    """Validate a file, infer its task and column kinds, and register it.

    Example: ``tabbench datasets add sales.csv --target churned --time-column date``
    """
    from tabbench.datasets.registry import add_dataset
    from tabbench.datasets.spec import TASK_TYPES

    if task is not None and task not in TASK_TYPES:
        raise TabbenchError(f"--task: unknown task {task!r}; valid names are: "
                            f"{', '.join(TASK_TYPES)}")
    toml_path = add_dataset(file, target, time_column=time_column, name=name, task=task,
                            datasets_dir=datasets_dir, force=force)
    console.print(f"Wrote {toml_path}:")
    console.print(toml_path.read_text(), markup=False, highlight=False)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    if issubclass(category, TabbenchWarning):
        err_console.print(f"[yellow]warning:[/] {message}", markup=True, highlight=False,
                          soft_wrap=True)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main() -> None:
    """Entry point: run the app; user errors print one red line and exit with code 2."""
    warnings.showwarning = _show_warning
    try:
        app(standalone_mode=False)
    except TabbenchError as exc:
        err_console.print(f"[red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted: finished jobs are saved; run again to resume")
        sys.exit(130)
    except (typer.Exit, SystemExit) as exc:
        code = getattr(exc, "exit_code", getattr(exc, "code", 0))
        sys.exit(code)
    except Exception as exc:
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(2)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(130)
        raise


if __name__ == "__main__":
    main()
