"""The ``tabbench`` command line: a thin layer over the Python API (typer + rich).

Each command parses its options, calls one API function and renders the result; errors
that name a library parameter are printed with the flag instead (``errors._with_flag``).
One module per command group: ``benchmark`` (run, leaderboard, ensemble, report),
``datasets`` (the ``datasets`` sub-app), ``features`` (rank-features), ``explain``,
``compare`` (compare-splits), ``ncd`` and ``plugins``; ``render`` draws every table to fit
80 columns, ``options`` holds the shared options and parsers, ``errors`` the one-line
errors. The commands are registered here, in the order ``tabbench --help`` lists them.

The commands import their API, and polars, inside the function: ``tabbench --help``,
``datasets list``, ``plugins`` and a usage error then answer without importing polars,
numpy, scikit-learn, scipy, Optuna, matplotlib and the model libraries
(tests/test_cli_light.py checks it).
"""

from __future__ import annotations

import sys
import warnings

import typer

from tabbench.cli import benchmark, compare, datasets, explain, features, ncd, plugins
from tabbench.cli.errors import (
    _print_error,
    _show_warning,
    _usage_error_types,
    _usage_line,
    _with_flag,
)
from tabbench.cli.render import console, err_console
from tabbench.exceptions import TabbenchError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Benchmark machine learning on tabular data, under random and time splits.")
app.add_typer(datasets.app, name="datasets")
app.command()(benchmark.run)
app.command()(benchmark.leaderboard)
app.command("rank-features")(features.rank_features)
app.command()(explain.explain)
app.command("compare-splits")(compare.compare_splits_command)
app.command()(ncd.ncd)
app.command()(benchmark.ensemble)
app.command()(benchmark.report)
app.command("plugins")(plugins.plugins_command)

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
