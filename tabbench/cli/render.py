"""The terminal output of every command: the consoles, tables that fit 80 columns, footnotes,
and the progress bar of a benchmark run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from tabbench.core.formatting import format_cell

console = Console()
err_console = Console(stderr=True)


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
