"""The dataset registry: TOML entries found in the project's and the user's dataset folders,
adding an entry for a user's file, and listing and building the entries of a suite.

Listing and looking up entries reads TOML only: polars, numpy and the loading, building and
audit code are imported by the functions that read data (``add_dataset``, ``build_suite``),
so ``tabbench datasets list`` answers without them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tabbench.core._atomic import write_atomic_bytes
from tabbench.core.paths import check_name, ensure_dir, safe_join
from tabbench.data.datasets.spec import DatasetSpec
from tabbench.data.datasets.suites import SUITES
from tabbench.exceptions import DatasetError, TabbenchWarning, UnknownNameError, UnsplittableError

if TYPE_CHECKING:
    import polars as pl

    from tabbench.data.datasets.suites.build import BuildResult

#: The project's own registry folder (the repository's ``datasets/``).
PROJECT_DATASETS = Path(__file__).resolve().parents[3] / "datasets"


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


#: Fewest rows for the leakage audit of ``datasets add``: on fewer, a column can look like
#: a row id in time order, or predict a validation part of a few rows, by chance.
AUDIT_MIN_ROWS = 20


def add_dataset(
    path: Path,
    target: str,
    *,
    time_column: str | None = None,
    name: str | None = None,
    task: str | None = None,
    datasets_dir: Path | None = None,
    force: bool = False,
    drop: tuple[str, ...] | list[str] = (),
    keep: tuple[str, ...] | list[str] = (),
) -> Path:
    """Validate ``path``, infer its task and column kinds, audit it, and write its registry TOML.

    With a ``time_column``, the suite's leakage audit (:func:`audit_table`) runs on the
    table (of more than :data:`AUDIT_MIN_ROWS` rows): a column that is unique per row and
    ordered like the time column (a row number) is dropped, with a warning, unless it is
    in ``keep``; a column that alone scores above 0.99 on the time split's validation part
    is reported with the command that drops it. ``drop`` columns are left out. The TOML
    goes to ``datasets_dir``, else the first ``$TABBENCH_DATASETS`` folder, else
    ``./datasets``. Returns the TOML's path. Raises :class:`DatasetError` on bad input.
    """
    from tabbench.data.datasets.load import load_dataset
    from tabbench.data.datasets.read import read_table
    from tabbench.data.metrics import default_metric

    if name is not None:
        check_name(name, "--name", "datasets add", DatasetError)
    if time_column is not None and time_column == target:
        raise DatasetError(f"{path}: --time-column {time_column!r} is also the --target; "
                           f"the target must be another column")
    given = path
    path = path.resolve()
    frame = read_table(path)
    if target not in frame.columns:
        raise DatasetError(f"{path}: target {target!r} not found; columns are: "
                           f"{', '.join(map(repr, frame.columns))}")
    _check_drop_keep(path, frame.columns, target, time_column, list(drop), list(keep))
    given_task, task = task, task or infer_task(frame.get_column(target))
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
    reasons = {column: "dropped by --drop in tabbench datasets add" for column in drop}
    if time_column is not None and frame.height > AUDIT_MIN_ROWS:
        with warnings.catch_warnings():  # the data is checked here; its warnings come below
            warnings.simplefilter("ignore", TabbenchWarning)
            load_dataset(DatasetSpec.from_dict({**raw, "drop": list(drop)}, where=str(path)),
                         use_cache=False)
        command = _add_command(given, target, time_column, name, given_task, datasets_dir,
                               drop, keep)
        reasons |= _audit_added(path, raw, frame.drop(list(drop)), set(keep), command)
    if reasons:
        raw["drop"] = list(reasons)
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
    if reasons:
        lines.append("drop = [" + ", ".join(_toml_str(c) for c in reasons) + "]")
    lines.append(f"n_rows = {dataset.n_rows}")
    lines.append(f"description = {_toml_str(f'Added from {path.name} by tabbench datasets add.')}")
    if reasons:
        lines += ["", "[drop_reasons]", *(f"{_toml_str(c)} = {_toml_str(why)}"
                                          for c, why in reasons.items())]
    if keep:
        lines += ["", "[audit]", *(f"{_toml_str(c)} = "
                                   f"{_toml_str('kept by --keep in tabbench datasets add')}"
                                   for c in keep)]
    ensure_dir(folder, "datasets folder")

    write_atomic_bytes(toml_path, ("\n".join(lines) + "\n").encode())
    return toml_path


def _check_drop_keep(path: Path, columns: list[str], target: str, time_column: str | None,
                     drop: list[str], keep: list[str]) -> None:
    """``--drop`` and ``--keep`` name columns of the file, other than the target and the
    time column, and no column is in both."""
    for flag, names in (("--drop", drop), ("--keep", keep)):
        for column in names:
            problem = ""
            if column not in columns:
                problem = f"{column!r} is not a column; columns are: " \
                          f"{', '.join(map(repr, columns))}"
            elif column in (target, time_column):
                role = "--target" if column == target else "--time-column"
                problem = f"{column!r} is the {role}, which cannot be dropped or kept"
            if problem:
                raise DatasetError(f"{path}: {flag} {problem}")
    both = [column for column in drop if column in keep]
    if both:
        raise DatasetError(f"{path}: column {both[0]!r} is in both --drop and --keep; "
                           f"choose one")


def _audit_added(path: Path, raw: dict, frame: pl.DataFrame, keep: set[str],
                 command: list[str]) -> dict[str, str]:
    """The leakage audit of an added table: warn about its findings and return the row ids
    in time order to drop (column → reason), those in ``keep`` left alone."""
    import polars as pl

    from tabbench.data.datasets.load import parse_time
    from tabbench.data.datasets.suites.audit import audit_table

    where = str(path)
    time_column = raw["time_column"]
    frame = parse_time(frame, time_column, where)
    spec = DatasetSpec.from_dict(raw, where=where)
    try:
        table = audit_table(spec, frame, warn=False)
    except UnsplittableError as exc:  # the runs will say so too; the entry is still useful
        warnings.warn(f"{exc}; the leakage audit needs the time split and is skipped",
                      TabbenchWarning, stacklevel=3)
        return {}
    dropped: dict[str, str] = {}
    for row in table.filter(pl.col("flag").is_not_null()).iter_rows(named=True):
        column = row["column"]
        if column in keep:
            continue
        if "time order" in row["flag"]:
            why = (f"unique per row ({row['distinct_share']:.0%} distinct) and in time order "
                   f"(Spearman rho {row['time_rho']:.3f} with {time_column!r}): a row number, "
                   f"from which a model reads the time")
            dropped[column] = why
            warnings.warn(f"{where}: dropped column {column!r}: {why}; to keep it: "
                          f"--keep {shlex.quote(column)}", TabbenchWarning, stacklevel=3)
        else:
            again = shlex.join([*command, "--drop", column, "--force"])
            warnings.warn(f"{where}: column {column!r} alone scores {row['metric']} "
                          f"{row['score']:.3f} on the time split's validation part; if its "
                          f"value is not known when {raw['target']!r} is predicted, it leaks "
                          f"the target; to drop it: {again}", TabbenchWarning, stacklevel=3)
    return dropped


def _add_command(given: Path, target: str, time_column: str | None, name: str,
                 task: str | None, datasets_dir: Path | None, drop: tuple[str, ...] | list[str],
                 keep: tuple[str, ...] | list[str]) -> list[str]:
    """The ``tabbench datasets add`` command line of this call (the file as it was given)."""
    command = ["tabbench", "datasets", "add", str(given), "--target", target]
    if time_column is not None:
        command += ["--time-column", time_column]
    command += ["--name", name]
    if task is not None:
        command += ["--task", task]
    if datasets_dir is not None:
        command += ["--datasets-dir", str(datasets_dir)]
    for flag, names in (("--drop", drop), ("--keep", keep)):
        for column in names:
            command += [flag, column]
    return command


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


def build_entry(spec: DatasetSpec, *, audit: bool) -> BuildResult:
    """Build one suite entry's data file (:func:`tabbench.data.datasets.suites.build.build_entry`,
    imported when a suite is built; tests replace this name to build nothing)."""
    from tabbench.data.datasets.suites import build

    return build.build_entry(spec, audit=audit)


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
    import polars as pl

    from tabbench.data.datasets.suites.build import (
        BuildResult,
        audit_entry,
        check_source,
        data_path,
    )

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
