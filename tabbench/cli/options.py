"""Options and option values shared by several commands: ``--datasets-dir``, ``--plugin``,
``--budget``'s help, and the parsers of comma-separated names and integers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tabbench.exceptions import TabbenchError

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
        from tabbench.methods.plugins import load_plugins

        load_plugins(refs)


def _split_names(value: str | None) -> list[str] | None:
    return [v.strip().lower() for v in value.split(",") if v.strip()] if value else None


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
