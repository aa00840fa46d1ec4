"""Build one suite entry's data file from its source package, check its shape, audit it."""

from __future__ import annotations

import hashlib
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from tabbench.core._atomic import write_parquet_atomic
from tabbench.core.paths import safe_join
from tabbench.data.datasets.spec import DatasetSpec
from tabbench.data.datasets.suites.audit import audit_table
from tabbench.data.datasets.suites.builders import BUILDERS, package_dir
from tabbench.exceptions import DatasetError, TabbenchWarning

__all__ = [
    "BuildResult",
    "audit_entry",
    "build_dataset",
    "build_entry",
    "check_source",
    "content_fingerprint",
    "data_path",
    "ensure_built",
]

#: zstd level of the written files: the level the bundled files were written with, so
#: that rebuilding them gives the committed bytes (with the same polars version).
_ZSTD_LEVEL = 19


@dataclass(frozen=True)
class BuildResult:
    """What happened to one suite dataset: built now (or already there), rows, seconds, audit."""

    spec: DatasetSpec
    path: Path
    built: bool
    n_rows: int
    seconds: float
    audit: pl.DataFrame | None = field(default=None, compare=False)


def build_dataset(spec: DatasetSpec) -> Path:
    """Build ``spec``'s data file from its source package, audit it, and return its path.

    The file is written atomically inside the TOML's folder (a ``path`` that leaves it is
    refused). An existing file that already holds the same table is left as it is, so its
    bytes, and the dataset's fingerprint, do not change with the writer's version.
    """
    return build_entry(spec, audit=True).path


def ensure_built(spec: DatasetSpec) -> None:
    """Build ``spec``'s file if it is a suite entry whose file is missing (the lazy build)."""
    if spec.build is not None and spec.path is not None and not spec.path.exists():
        build_dataset(spec)


def content_fingerprint(frame: pl.DataFrame) -> str:
    """A hash of a table's column names, dtypes and values (not of a file's bytes).

    It does not depend on the Parquet writer (whose version is stored in the file), so it
    can be pinned in a test: the same source package gives the same fingerprint.
    """
    digest = hashlib.blake2b(digest_size=16)
    for name, dtype in frame.schema.items():
        digest.update(f"{name}\x1f{dtype}\x1e".encode())
    digest.update(frame.write_csv(null_value="\x00", float_precision=None).encode())
    return digest.hexdigest()


def data_path(spec: DatasetSpec) -> Path:
    """``spec.path``, checked to lie inside the TOML's folder."""
    if spec.path is None:
        raise DatasetError(f"{spec.where}: a suite entry needs 'path'")
    if spec.toml_path is None:
        return spec.path
    base = spec.toml_path.parent
    return safe_join(base, os.path.relpath(spec.path, base.resolve()))


def check_source(spec: DatasetSpec) -> None:
    """Check that ``spec``'s builder exists and its source package is installed."""
    assert spec.build is not None
    BUILDERS.get(spec.build.builder, f"{spec.where}: [build] builder")
    package_dir(spec.build.package, spec.name)


def build_entry(spec: DatasetSpec, *, audit: bool) -> BuildResult:
    """Build ``spec``'s file (kept when it already holds the same table), audited if asked."""
    if spec.build is None:
        raise DatasetError(f"{spec.where}: not a suite entry (no [build] table)")
    start = time.perf_counter()
    check_source(spec)
    path = data_path(spec)
    frame = BUILDERS.get(spec.build.builder, f"{spec.where}: [build] builder")(
        spec.build.dataset, spec.name)
    _check_shape(spec, frame)
    if not (path.is_file() and _same_table(path, frame)):
        write_parquet_atomic(path, frame, compression_level=_ZSTD_LEVEL)
    report = audit_entry(spec, frame) if audit else None
    return BuildResult(spec, path, True, frame.height, time.perf_counter() - start, report)


def audit_entry(spec: DatasetSpec, frame: pl.DataFrame) -> pl.DataFrame | None:
    """The leakage audit of ``frame`` (``None`` for an entry without a time column)."""
    if spec.time_column is None:
        return None
    return audit_table(spec, frame)


def _check_shape(spec: DatasetSpec, frame: pl.DataFrame) -> None:
    """The built table must have the rows and columns its TOML documents."""
    for key, found in (("n_rows", frame.height), ("n_columns", frame.width)):
        expected = getattr(spec, key)
        if expected is not None and expected != found:
            message = (f"{spec.where}: {key} = {expected}, but the table built from "
                       f"{spec.build.package if spec.build else '?'} has {found}; check the "
                       f"installed package version against pyproject.toml's [suite] pins")
            raise DatasetError(message)


def _same_table(path: Path, frame: pl.DataFrame) -> bool:
    """The file holds ``frame``: the same names, dtypes (``equals`` ignores them) and values."""
    try:
        existing = pl.read_parquet(path)
        return existing.schema == frame.schema and existing.equals(frame)
    except (OSError, pl.exceptions.PolarsError) as exc:
        warnings.warn(f"{path}: unreadable ({exc}); rebuilding it", TabbenchWarning,
                      stacklevel=3)
        return False
