"""``tabbench datasets``: list, show, add and build registered datasets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tabbench.cli.options import DatasetsDir
from tabbench.cli.render import _add_column, _print_frame, _print_table, _table, console
from tabbench.exceptions import TabbenchError

app = typer.Typer(no_args_is_help=True, help="List, show and add registered datasets.")


@app.command("list")
def datasets_list(datasets_dir: DatasetsDir = None) -> None:
    """List the registered datasets. Example: ``tabbench datasets list``"""
    from tabbench.data.datasets.registry import list_specs

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


@app.command("show")
def datasets_show(name: str, datasets_dir: DatasetsDir = None) -> None:
    """Load a dataset and show its spec and columns. Example: ``tabbench datasets show flights``"""
    from tabbench.data.datasets.registry import get_spec
    from tabbench.data.datasets.summary import dataset_summary

    spec = get_spec(name, datasets_dir)
    summary = dataset_summary(spec)  # cached by the file: a second show reads no table
    console.print(f"[bold]{spec.name}[/] ({spec.task}) from {spec.where}")
    if spec.description:
        console.print(spec.description)
    console.print(f"rows: {summary['n_rows']}, target: {spec.target}, time column: "
                  f"{spec.time_column}, classes: {summary['classes'] or '-'}")
    console.print(f"license: {spec.license or '?'}  source: {spec.source_url or '?'}")
    table = _table("Features")
    for column in ("column", "kind", "distinct", "missing"):
        _add_column(table, column, number=column in ("distinct", "missing"))
    for column, kind, distinct, missing in summary["features"]:
        table.add_row(column, kind, str(distinct), str(missing))
    _print_table(table)


@app.command("add")
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
    from tabbench.data.datasets.registry import add_dataset
    from tabbench.data.datasets.spec import TASK_TYPES

    if task is not None and task not in TASK_TYPES:
        raise TabbenchError(f"--task: unknown task {task!r}; valid names are: "
                            f"{', '.join(TASK_TYPES)}")
    toml_path = add_dataset(file, target, time_column=time_column, name=name, task=task,
                            datasets_dir=datasets_dir, force=force, drop=drop or (),
                            keep=keep or ())
    console.print(f"Wrote {toml_path}:")
    console.print(toml_path.read_text(), markup=False, highlight=False, soft_wrap=True)


@app.command("build-suite")
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

    from tabbench.data.datasets.registry import build_suite, suite_specs
    from tabbench.data.datasets.suites import SUITES
    from tabbench.data.datasets.suites.audit import findings

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
