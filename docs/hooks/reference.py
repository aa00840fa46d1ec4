"""MkDocs hook: the generated parts of the reference pages.

- ``reference/cli.md``: ``<!-- cli-reference -->`` becomes one section per command, walked
  from the ``tabbench`` command itself (``tabbench.cli.app``): its usage line, help text and
  options table, as ``tabbench COMMAND --help`` states them. Nothing is copied by hand, so
  the page cannot drift from the command line.
- ``reference/api.md``: ``<!-- api-index -->`` becomes the table of every name that
  ``import tabbench`` offers (``tabbench.__all__``), each linked to where its module's page
  documents it, with the first line of its docstring.
"""

from __future__ import annotations

import importlib
import inspect
import re
from typing import Any

CLI_MARKER = "<!-- cli-reference -->"
API_MARKER = "<!-- api-index -->"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if CLI_MARKER in markdown:
        markdown = markdown.replace(CLI_MARKER, cli_reference())
    if API_MARKER in markdown:
        markdown = markdown.replace(API_MARKER, api_index())
    return markdown


# --- the command line --------------------------------------------------------------------


def cli_reference() -> str:
    """Markdown for every command of ``tabbench``, in the order ``--help`` lists them."""
    import typer

    from tabbench.cli import app

    root = typer.main.get_command(app)
    context = root.context_class(root, info_name="tabbench")
    sections = [_command_section(root, context, level=2)]
    sections += [_command_section(command, ctx, level=2 + depth)
                 for command, ctx, depth in _walk(root, context, depth=0)]
    return "\n\n".join(sections)


def _walk(group: Any, context: Any, depth: int):
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if command is None or getattr(command, "hidden", False):
            continue
        ctx = command.context_class(command, info_name=name, parent=context)
        yield command, ctx, depth
        if hasattr(command, "list_commands"):
            yield from _walk(command, ctx, depth + 1)


def _command_section(command: Any, context: Any, level: int) -> str:
    lines = [f"{'#' * level} `{context.command_path}`", ""]
    help_text = inspect.cleandoc(command.help or "")
    if help_text:
        lines += [_rst_to_markdown(help_text), ""]
    lines += ["```text", command.get_usage(context), "```", ""]
    rows = [record for param in command.params
            if not getattr(param, "hidden", False)
            and (record := param.get_help_record(context)) is not None]
    if rows:
        lines += ["| argument or option | meaning |", "| --- | --- |"]
        lines += [f"| `{_cell(names)}` | {_cell(_rst_to_markdown(text))} |" for names, text in rows]
    if hasattr(command, "list_commands"):
        subcommands = [(name, command.get_command(context, name))
                       for name in command.list_commands(context)]
        lines += ["| command | what it does |", "| --- | --- |"]
        lines += [f"| `{context.command_path} {name}` | {_cell(sub.get_short_help_str(200))} |"
                  for name, sub in subcommands if sub is not None and not sub.hidden]
    return "\n".join(lines).rstrip()


def _rst_to_markdown(text: str) -> str:
    """The help texts quote code RST-style (````x````); Markdown wants single backticks."""
    return text.replace("``", "`")


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


# --- the Python API ----------------------------------------------------------------------


def api_index() -> str:
    """A table of ``import tabbench``'s public names, each linked to its documentation."""
    import tabbench

    rows = ["| name | what it is | documented in |", "| --- | --- | --- |"]
    for name in tabbench.__all__:
        if name.startswith("__"):
            continue
        obj = getattr(tabbench, name)
        module = _home_module(tabbench, name)
        summary = _first_line(inspect.getdoc(obj) or "")
        rows.append(f"| [`tabbench.{name}`][{module}.{name}] | {_cell(summary)} | `{module}` |")
    return "\n".join(rows)


def _home_module(package: Any, name: str) -> str:
    """The module that defines ``name`` (where the API page documents it)."""
    module = package._API[name]
    importlib.import_module(module)
    return module


def _first_line(doc: str) -> str:
    first = doc.strip().split("\n\n", 1)[0]
    return re.sub(r"\s+", " ", _rst_to_markdown(first))
