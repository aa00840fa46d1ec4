"""The dataset registry: TOML entries found in the project's and the user's dataset folders,
adding an entry for a user's file, and listing and building the entries of a suite."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

from tabbench._atomic import write_atomic_bytes
from tabbench.datasets.load import load_dataset
from tabbench.datasets.read import read_table
from tabbench.datasets.spec import DatasetSpec
from tabbench.datasets.suites import SUITES
from tabbench.datasets.suites.build import (
    BuildResult,
    audit_entry,
    build_entry,
    check_source,
    data_path,
)
from tabbench.exceptions import DatasetError, UnknownNameError
from tabbench.metrics import default_metric
from tabbench.paths import check_name, ensure_dir, safe_join

#: The project's own registry folder (the repository's ``datasets/``).
PROJECT_DATASETS = Path(__file__).resolve().parents[2] / "datasets"


def check_datasets_dirs(folders: list[Path] | None) -> None:
    """Raise :class:`DatasetError` naming the first of ``folders`` that is not a folder."""
    for folder in folders or []:
        if not Path(folder).is_dir():
            problem = "is not a folder" if Path(folder).exists() else "does not exist"
            raise DatasetError(f"datasets_dirs {folder}: {problem}", parameter="datasets_dirs")


def dataset_dirs(extra: list[Path] | None = None) -> list[Path]:
    """Registry folders, in lookup order: ``extra`` (``--datasets-dir``), ``$TABBENCH_DATASETS``,
    ``./datasets`` and the project's ``datasets/``; duplicates and missing folders removed."""
    check_datasets_dirs(extra)
    candidates = [*(extra or [])]
    candidates += [Path(p) for p in os.environ.get("TABBENCH_DATASETS", "").split(":") if p]
    candidates += [Path.cwd() / "datasets", PROJECT_DATASETS]
    seen: list[Path] = []
    for folder in candidates:
        resolved = folder.resolve()
        if resolved.is_dir() and resolved not in seen:
            seen.append(resolved)
    return seen


def list_specs(extra: list[Path] | None = None) -> dict[str, DatasetSpec]:
    """All registered datasets by name; the same name in two files is an error."""
    specs: dict[str, DatasetSpec] = {}
    for folder in dataset_dirs(extra):
        for toml_path in sorted(folder.glob("*.toml")):
            spec = DatasetSpec.from_toml(toml_path)
            if spec.name in specs:
                other = specs[spec.name].toml_path
                raise DatasetError(f"{toml_path}: dataset name {spec.name!r} is already "
                                   f"registered by {other}")
            specs[spec.name] = spec
    return specs


def get_spec(name: str, extra: list[Path] | None = None, where: str = "") -> DatasetSpec:
    """The registered dataset called ``name`` (unknown names list the valid ones)."""
    specs = list_specs(extra)
    try:
        return specs[name.lower()]
    except KeyError:
        raise UnknownNameError("dataset", name, specs, where) from None


def infer_task(target: pl.Series) -> str:
    """Guess the task from the target: two values → binary, few labels → multiclass, else regression."""
    values = target.drop_nulls()
    n_unique = values.n_unique()
    if n_unique <= 2:
        return "binary"
    if not values.dtype.is_numeric():
        return "multiclass"
    if values.dtype.is_integer() and n_unique <= min(50, max(3, len(values) // 20)):
        return "multiclass"
    return "regression"


def default_name(path: Path) -> str:
    """A registry name from a file name: lowercase, runs of other characters become '-'."""
    stem = path.name.split(".")[0]
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "dataset"


def add_dataset(
    path: Path,
    target: str,
    *,
    time_column: str | None = None,
    name: str | None = None,
    task: str | None = None,
    datasets_dir: Path | None = None,
    force: bool = False,
) -> Path:
    """Validate ``path``, infer its task and column kinds, and write its registry TOML.

    The TOML goes to ``datasets_dir``, else the first ``$TABBENCH_DATASETS`` folder, else
    ``./datasets``. Returns the TOML's path. Raises :class:`DatasetError` on bad input.
    """
    if name is not None:
        check_name(name, "--name", "datasets add", DatasetError)
    if time_column is not None and time_column == target:
        raise DatasetError(f"{path}: --time-column {time_column!r} is also the --target; "
                           f"the target must be another column")
    path = path.resolve()
    frame = read_table(path)
    if target not in frame.columns:
        raise DatasetError(f"{path}: target {target!r} not found; columns are: "
                           f"{', '.join(map(repr, frame.columns))}")
    task = task or infer_task(frame.get_column(target))
    name = (name or default_name(path)).lower()
    folder = datasets_dir or _default_add_dir()
    toml_path = safe_join(folder, f"{name}.toml")
    if toml_path.exists() and not force:
        raise DatasetError(f"{toml_path}: already exists; choose another --name or pass --force")
    if not force and name in list_specs([folder] if Path(folder).is_dir() else None):
        raise DatasetError(f"dataset name {name!r} is already registered; choose another --name")
    raw: dict = {"name": name, "task": task, "target": target, "path": str(path)}
    if time_column is not None:
        raw["time_column"] = time_column
    spec = DatasetSpec.from_dict(raw, where=str(path))
    dataset = load_dataset(spec)
    categorical = [c for c, kind in dataset.features.items() if kind == "categorical"]
    lines = [
        f"name = {_toml_str(name)}",
        f"task = {_toml_str(task)}",
        f"target = {_toml_str(target)}",
        f"path = {_toml_str(_relative_path(path, folder))}",
    ]
    if time_column is not None:
        lines.append(f"time_column = {_toml_str(time_column)}")
    lines.append(f"metric = {_toml_str(default_metric(task))}")
    if categorical:
        lines.append("categorical = [" + ", ".join(_toml_str(c) for c in categorical) + "]")
    lines.append(f"n_rows = {dataset.n_rows}")
    lines.append(f"description = {_toml_str(f'Added from {path.name} by tabbench datasets add.')}")
    ensure_dir(folder, "datasets folder")

    write_atomic_bytes(toml_path, ("\n".join(lines) + "\n").encode())
    return toml_path


def _default_add_dir() -> Path:
    env = [p for p in os.environ.get("TABBENCH_DATASETS", "").split(":") if p]
    return Path(env[0]) if env else Path.cwd() / "datasets"


def _relative_path(path: Path, folder: Path) -> str:
    try:
        return os.path.relpath(path, folder.resolve())
    except ValueError:
        return str(path)


def _toml_str(value: str) -> str:
    """``value`` as a TOML basic string (JSON's escapes, control characters included, are
    valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


def suite_specs(name: str, datasets_dirs: list[Path] | None = None) -> list[DatasetSpec]:
    """The registry entries of suite ``name``, sorted by dataset name.

    Raises :class:`~tabbench.exceptions.UnknownNameError` (listing the suites) for an
    unknown name.
    """
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
    todo = [spec for spec in specs if force or not data_path(spec).is_file()]
    for spec in todo:
        check_source(spec)
    built: list[Path] = []
    for spec in specs:
        if on_start is not None:
            on_start(spec)
        if spec in todo:
            result = build_entry(spec, audit=audit)
            built.append(result.path)
        else:
            start = time.perf_counter()
            path = data_path(spec)
            table = pl.read_parquet(path) if audit else None
            n_rows = table.height if table is not None else pl.scan_parquet(path).select(
                pl.len()).collect().item()
            report = audit_entry(spec, table) if table is not None else None
            result = BuildResult(spec, path, False, n_rows, time.perf_counter() - start, report)
        if on_progress is not None:
            on_progress(result)
    return built
