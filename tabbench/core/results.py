"""A run folder's result files: written atomically, read with damage checks, upgraded.

One Parquet file per job in ``<run>/results/`` (and its Optuna trials in ``<run>/trials/``),
with the columns of :data:`~tabbench.core.schema.RESULT_SCHEMA`. Reading skips damaged files
with a warning; the run driver moves them into ``<run>/damaged/`` so their jobs run again.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from tabbench.core._atomic import write_parquet_atomic
from tabbench.core.paths import safe_join
from tabbench.core.schema import RESULT_SCHEMA, result_frame
from tabbench.exceptions import TabbenchError, TabbenchWarning


def write_result(out_dir: Path, row: dict[str, Any], trials: pl.DataFrame | None) -> Path:
    """Write a job's row (and its trials table) atomically; return the result file's path."""
    name = f"{row['job_id']}.parquet"
    if trials is not None and trials.height:
        write_parquet_atomic(safe_join(out_dir, "trials", name), trials)
    path = safe_join(out_dir, "results", name)
    write_parquet_atomic(path, result_frame([row]))
    return path


def upgrade_results(out_dir: Path) -> int:
    """Rewrite the result files of ``out_dir`` whose columns are not the declared schema.

    Files written before a column was added to :data:`~tabbench.core.schema.RESULT_SCHEMA` (the
    29-column files from before ``kind``, surrogate and NCD files with only their own
    ``metric_*`` columns) get every declared column, in order, the missing ones null; a
    missing ``kind`` is inferred from the row (:func:`inferred_kind`). Each file is
    replaced atomically, so an interrupted upgrade leaves old or new files, never a broken
    one. Files that cannot be read are left alone (they count as missing, as in a run);
    files with undeclared columns are left alone with a warning, since dropping a column
    would lose data. Returns the number of files rewritten.

    Every command that writes into a run folder calls this first, so that a folder never
    mixes schemas and one glob read of ``results/*.parquet`` keeps working.
    """
    folder = Path(out_dir) / "results"
    if not folder.is_dir():
        return 0
    expected = list(pl.Schema(RESULT_SCHEMA).items())  # names, order and dtypes
    rewritten = 0
    for file in parquet_files(folder):
        try:
            if list(pl.read_parquet_schema(file).items()) == expected:
                continue
            frame = pl.read_parquet(file)
        except (Exception, pl.exceptions.PanicException):
            continue  # unreadable: left alone, and its job counts as missing
        undeclared = [c for c in frame.columns if c not in RESULT_SCHEMA]
        if undeclared:
            message = (f"{file}: columns {undeclared} are not in the result schema "
                       "(tabbench/core/schema.py); the file is left as it is, so a glob read of "
                       f"{folder} may fail")
            warnings.warn(message, TabbenchWarning, stacklevel=2)
            continue
        try:
            upgraded = _to_schema(frame)
        except pl.exceptions.PolarsError as exc:
            message = (f"{file}: cannot be converted to the result schema ({exc}); the "
                       "file is left as it is")
            warnings.warn(message, TabbenchWarning, stacklevel=2)
            continue
        write_parquet_atomic(file, upgraded)
        rewritten += 1
    return rewritten


def _to_schema(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` (declared columns only) with every declared column, in order, and its dtype."""
    missing = [pl.lit(None, dtype).alias(name) for name, dtype in RESULT_SCHEMA.items()
               if name not in frame.columns]
    frame = frame.with_columns(missing)
    frame = frame.with_columns(pl.coalesce(pl.col("kind"), inferred_kind()).alias("kind"))
    return frame.select(pl.col(name).cast(dtype) for name, dtype in RESULT_SCHEMA.items())


#: Columns every result file has had since the first schema; a file without them is damaged.
KEY_COLUMNS = ("job_id", "dataset", "split_id", "model", "variant", "status")

#: What each per-job folder of a run holds, as a warning names it.
JOB_FOLDERS = {"results": "result file", "trials": "trials file"}


class DamagedFileError(TabbenchError):
    """A file of a run folder is truncated, empty, not Parquet or lacks its key columns."""

    def __init__(self, path: Path, what: str, problem: str) -> None:
        self.path, self.what, self.problem = path, what, problem
        super().__init__(f"{path}: damaged {what} ({problem})")


def parquet_files(folder: Path) -> list[Path]:
    """The ``*.parquet`` files of ``folder``, sorted.

    Hidden files are left out: other tools' dotfiles (macOS ``._<name>.parquet``) are
    never results. (The temporary file of an atomic write in flight,
    ``.<name>.<random>.tmp``, does not match ``*.parquet`` in the first place.)
    """
    return sorted(f for f in Path(folder).glob("*.parquet")
                  if not f.name.startswith(".") and f.is_file())


def read_checked(path: Path, what: str = "result file", required: Sequence[str] = (),
                 min_rows: int = 0) -> pl.DataFrame:
    """The table in ``path``; raises :class:`DamagedFileError` saying what is wrong with it.

    A disk that filled up or a copy that stopped leaves an empty or truncated file, and a
    stray file may not be Parquet at all; ``required`` columns and ``min_rows`` rows
    must be there too.
    """
    path = Path(path)
    try:
        frame = pl.read_parquet(path)
    except (Exception, pl.exceptions.PanicException) as exc:
        raise DamagedFileError(path, what, _diagnose(path, exc)) from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        columns = ", ".join(repr(c) for c in missing)
        raise DamagedFileError(path, what, f"Parquet without the column(s) {columns}")
    if frame.height < min_rows:
        raise DamagedFileError(path, what, f"{frame.height} rows, expected at least {min_rows}")
    return frame


def _diagnose(path: Path, exc: BaseException) -> str:
    """What is wrong with a file that polars cannot read, in a few words."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(4)
            handle.seek(max(0, size - 4))
            tail = handle.read(4)
    except OSError as error:
        return f"cannot be read: {error.strerror or error}"
    if size == 0:
        return "empty file, 0 bytes"
    if head != b"PAR1":
        return f"not a Parquet file, {size} bytes"
    if size < 12 or tail not in (b"PAR1", b"PARE"):
        return f"truncated Parquet file, {size} bytes with no footer"
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    return f"unreadable Parquet: {lines[0][:120]}"


def read_results(path: Path) -> pl.DataFrame:
    """All result rows under ``path`` (a run folder or its ``results/`` folder).

    A damaged file is skipped with a :class:`~tabbench.exceptions.TabbenchWarning` naming
    it and what is wrong (reading never changes a run folder: ``tabbench run`` moves such
    files aside and reruns their jobs).
    """
    path = Path(path)
    folder = path / "results" if (path / "results").is_dir() else path
    files = parquet_files(folder)
    frames = []
    for file in files:
        try:
            frames.append(read_checked(file, "result file", KEY_COLUMNS, min_rows=1))
        except DamagedFileError as exc:
            warnings.warn(f"{exc}; skipped", TabbenchWarning, stacklevel=2)
    if not frames:
        damaged = f", only {len(files)} damaged one(s)" if files else ""
        raise TabbenchError(f"{path}: no result files found{damaged} (expected "
                            f"{folder}/*.parquet)")
    return pl.concat(frames, how="diagonal_relaxed")


def statuses(out_dir: Path, *, set_aside: bool = False) -> dict[str, str]:
    """``job_id → status`` of the readable result files in ``out_dir``.

    A job whose result or trials file is damaged (see :func:`read_checked`) is left out,
    so that it runs again. With ``set_aside`` (the run driver, which holds the run-folder
    lock), each damaged file is moved into ``damaged/<folder>/`` under its name plus a
    UTC timestamp, with a warning naming it; a run folder's files are never deleted.
    """
    out_dir = Path(out_dir)
    found: dict[str, str] = {}
    damaged: set[str] = set()
    for folder, what in JOB_FOLDERS.items():
        for file in parquet_files(out_dir / folder):
            try:
                frame = read_checked(file, what, KEY_COLUMNS if folder == "results" else (),
                                     min_rows=1 if folder == "results" else 0)
            except DamagedFileError as exc:
                damaged.add(file.stem)
                if set_aside:
                    moved = _set_aside(out_dir, file, exc)
                    warnings.warn(f"{exc}; moved to {moved}, its job runs again",
                                  TabbenchWarning, stacklevel=2)
                continue
            if folder == "results":
                found[file.stem] = frame["status"][0]
    return {job_id: status for job_id, status in found.items() if job_id not in damaged}


def _set_aside(out_dir: Path, file: Path, damage: DamagedFileError) -> Path:
    """Move ``file`` into ``out_dir/damaged/<its folder>/`` without replacing any file there."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = out_dir / "damaged" / file.parent.name
    target = folder / f"{file.name}.{stamp}"
    n = 1
    while target.exists():  # an earlier file of the same name, moved in the same second
        target, n = folder / f"{file.name}.{stamp}-{n}", n + 1
    try:
        folder.mkdir(parents=True, exist_ok=True)
        os.rename(file, target)
    except OSError as exc:
        message = (f"{damage}; could not move it to {target} ({exc.strerror or exc}): move "
                   f"or delete it yourself and run again")
        raise TabbenchError(message) from None
    return target


#: The model name of a surrogate row is ``surrogate:<black box>``.
SURROGATE_PREFIX = "surrogate:"

def inferred_kind() -> pl.Expr:
    """The ``kind`` of a row written before the column existed, from its model and task."""
    return (pl.when(pl.col("model").str.starts_with(SURROGATE_PREFIX)).then(pl.lit("surrogate"))
            .when(pl.col("task") == "ncd").then(pl.lit("ncd"))
            .otherwise(pl.lit("benchmark")))


def with_kind(results: pl.DataFrame) -> pl.DataFrame:
    """``results`` with a ``kind`` for every row, inferred where a file predates the column.

    Reading is never a reason to rewrite a run folder, so rows of files that
    :func:`upgrade_results` has not upgraded yet get their kind here.
    """
    if "kind" not in results.columns:
        return results.with_columns(inferred_kind().alias("kind"))
    if results["kind"].null_count():
        return results.with_columns(pl.coalesce(pl.col("kind"), inferred_kind()).alias("kind"))
    return results
