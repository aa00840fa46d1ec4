"""The exception hierarchy: every user mistake raises a subclass of :class:`TabbenchError`.

The CLI prints such errors as one line and exits with code 2; anything else is a bug.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ConfigError",
    "DatasetError",
    "MissingDependencyError",
    "PluginError",
    "SplitError",
    "TabbenchError",
    "TabbenchWarning",
    "UnknownNameError",
    "UnsplittableError",
]


class TabbenchError(Exception):
    """Base class of errors caused by user input (files, configs, names, options).

    ``parameter`` names the function parameter the message starts with (``top_k must be
    at least 1``); the CLI replaces it with the command-line flag (``--top-k``).
    """

    def __init__(self, *args: object, parameter: str | None = None) -> None:
        super().__init__(*args)
        self.parameter = parameter


class ConfigError(TabbenchError):
    """A benchmark config or TOML file is invalid."""


class DatasetError(TabbenchError):
    """A dataset file or its registry entry is invalid."""


class SplitError(TabbenchError):
    """A split cannot be made with the requested parameters."""


class UnsplittableError(SplitError):
    """Valid split parameters that this dataset's rows cannot satisfy: too few rows, rows
    whose timestamps do not separate, too few groups or class members, a missing column.
    A run warns, records that strategy's jobs on the dataset as failed, and goes on."""


class MissingDependencyError(TabbenchError):
    """An optional package needed for the requested feature is not installed."""


class PluginError(TabbenchError):
    """A plugin cannot be found or imported, or what it registers is incomplete or taken."""


class UnknownNameError(TabbenchError, KeyError):
    """A name (model, dataset, metric, split, budget…) is not registered."""

    def __init__(self, kind: str, name: str, valid: Iterable[str], where: str = "", *,
                 parameter: str | None = None) -> None:
        self.kind, self.name, self.valid = kind, name, sorted(valid)
        where = parameter or where
        prefix = f"{where}: " if where else ""
        message = f"{prefix}unknown {kind} {name!r}; valid names are: {', '.join(self.valid)}"
        super().__init__(message, parameter=parameter)

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class TabbenchWarning(UserWarning):
    """A problem in the input that tabbench repaired (non-finite values, dropped columns…)."""
