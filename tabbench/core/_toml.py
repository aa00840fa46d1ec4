"""Strict TOML reading: unknown keys and wrong types are errors that name the file and key."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tabbench.exceptions import ConfigError, TabbenchError


def read_toml(path: Path, error: type[TabbenchError] = ConfigError) -> dict[str, Any]:
    """Parse ``path`` as TOML, raising ``error`` with the file name on any problem."""
    if not path.is_file():
        raise error(f"{path}: file not found")
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML ({exc})") from None


def check_keys(
    table: Mapping[str, Any],
    allowed: Iterable[str],
    where: str,
    error: type[TabbenchError] = ConfigError,
    required: Iterable[str] = (),
) -> None:
    """Raise ``error`` naming the first unknown or missing key of ``table``."""
    allowed = sorted(allowed)
    for key in table:
        if key not in allowed:
            message = f"{where}: unknown key {key!r}; allowed keys are: {', '.join(allowed)}"
            raise error(message)
    for key in required:
        if key not in table:
            raise error(f"{where}: missing required key {key!r}")


def expect(value: Any, types: type | tuple[type, ...], key: str, where: str,
           error: type[TabbenchError] = ConfigError) -> Any:
    """Return ``value`` if it is an instance of ``types``; else raise naming ``key``."""
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        ok = False
    else:
        ok = isinstance(value, types)
    if not ok:
        names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
        raise error(f"{where}: key {key!r} must be {names}, got {value!r}")
    return value
