"""How the command line reports a problem: warnings and errors as one line on stderr, a usage
error with the command and where to read more, a library parameter written as its flag."""

from __future__ import annotations

import warnings

import typer
from rich.markup import escape

from tabbench.cli.render import err_console
from tabbench.exceptions import TabbenchError, TabbenchWarning


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
