"""How numbers look in tables: one formatter for the terminal tables and the HTML report."""

from __future__ import annotations

from typing import Any

__all__ = ["format_cell"]


def format_cell(value: Any, spec: str | None = None) -> str:
    """``value`` as table text: empty for a missing or NaN value, numbers with ``spec``
    (a :func:`format` spec such as ``.4f`` or ``.0%``), anything else as ``str``.

    >>> format_cell(0.12345, ".3f"), format_cell(float("nan"), ".3f"), format_cell(0.5, ".0%")
    ('0.123', '', '50%')
    """
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if spec and isinstance(value, int | float):
        return format(value, spec)
    return str(value)
