"""Read a user's CSV or Parquet file into polars, with one clear error for an unusable file."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import polars as pl

from tabbench.exceptions import DatasetError

__all__ = ["read_table"]


def read_table(path: Path, where: str | None = None) -> pl.DataFrame:
    """Read a CSV or Parquet file into polars, with clear errors for unusable files."""
    where = where or str(path)
    if not path.is_file():
        raise DatasetError(f"{where}: file not found")
    if path.stat().st_size == 0:
        raise DatasetError(f"{where}: file is empty")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        # deferred: pyarrow is heavy to import
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(path).names
        except Exception as exc:
            raise DatasetError(f"{where}: not a readable Parquet file ({exc})") from None
        _check_unique(names, where)
        frame = pl.read_parquet(path)
    elif suffix in (".csv", ".tsv", ".txt", ".gz"):
        separator = "\t" if ".tsv" in path.name.lower() else ","
        _check_unique(_csv_header(path, separator), where)
        try:
            frame = pl.read_csv(path, separator=separator, infer_schema_length=20_000,
                                null_values=["", "NA", "NaN", "nan", "null", "NULL", "None"])
        except pl.exceptions.PolarsError as exc:
            first = str(exc).splitlines()[0]
            message = _too_many_fields(path, separator, where) or \
                f"{where}: cannot parse as CSV ({first})"
            if "utf-8" in first.lower():
                message = f"{where}: cannot parse as CSV ({first}); save the file as UTF-8"
            raise DatasetError(message) from None
    else:
        raise DatasetError(f"{where}: unsupported file type {suffix!r}; expected .csv or .parquet")
    if frame.width == 0 or frame.height == 0:
        raise DatasetError(f"{where}: file has no data rows")
    return frame


def _csv_header(path: Path, separator: str) -> list[str]:
    opener = __import__("gzip").open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="", encoding="utf-8", errors="replace") as handle:
        return next(csv.reader(handle, delimiter=separator), [])


def _too_many_fields(path: Path, separator: str, where: str) -> str | None:
    """The error for the first row with more fields than the header (polars does not say
    which row), or ``None`` when every row fits."""
    opener = __import__("gzip").open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", newline="", encoding="utf-8") as handle:
            reader = csv.reader(handle, delimiter=separator)
            width = len(next(reader, []))
            for row in reader:
                if len(row) > width:
                    return (f"{where}: line {reader.line_num} has {len(row)} fields, the "
                            f"header has {width}; quote cells that contain {separator!r}")
    except (OSError, UnicodeDecodeError, csv.Error):
        pass
    return None


def _check_unique(names: list[str], where: str) -> None:
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise DatasetError(f"{where}: duplicate column names: {', '.join(map(repr, duplicates))}")
