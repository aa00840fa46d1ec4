"""Load a registered dataset: read CSV/Parquet with polars, infer column kinds, validate, cache.

Every problem with the user's file raises :class:`~tabbench.exceptions.DatasetError` with a
message that names the file and the column; problems that can be repaired (non-finite
numbers, constant or all-missing columns, rows without a target) are repaired with a
:class:`~tabbench.exceptions.TabbenchWarning`. The cleaned table is cached as Parquet under
a key that hashes the file's bytes and the spec, so a changed file is never served stale.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from tabbench.core._atomic import write_atomic_bytes, write_parquet_atomic
from tabbench.core.paths import cache_dir, safe_join
from tabbench.data.datasets import synthetic
from tabbench.data.datasets.dataset import ColumnKind, Dataset, time_as_int64
from tabbench.data.datasets.read import read_table
from tabbench.data.datasets.spec import DatasetSpec
from tabbench.data.datasets.suites.build import ensure_built
from tabbench.exceptions import DatasetError, TabbenchError, TabbenchWarning

#: Bumped whenever cleaning changes, so that cached tables are rebuilt.
CLEANING_VERSION = "1"
#: Share of parseable values above which a string column is taken as datetime.
_DATETIME_SHARE = 0.95
_ID_LIKE_SHARE = 0.95
#: Largest magnitude of a regression target: models (LightGBM labels, torch) use float32.
_FLOAT32_MAX = float(np.finfo(np.float32).max)

_DATETIME_PARTS = ("year", "month", "day", "weekday", "hour")


def fingerprint(spec: DatasetSpec) -> str:
    """Hash of the data file's bytes (or the generator's code version) and the spec."""
    ensure_built(spec)  # a suite entry's file is built from its package on first use
    digest = hashlib.blake2b(digest_size=16)
    digest.update(json.dumps(spec.to_dict(), sort_keys=True, default=str).encode())
    digest.update(CLEANING_VERSION.encode())
    if spec.path is not None:
        _check_file(spec)
        stat = spec.path.stat()
        digest.update(_file_digest(spec.path.resolve(), stat.st_size, stat.st_mtime_ns,
                                   stat.st_ino))
    else:
        digest.update(_generator_source().encode())
    return digest.hexdigest()


@functools.lru_cache(maxsize=64)
def _file_digest(path: Path, size: int, mtime_ns: int, inode: int) -> bytes:
    """The file's content hash, computed once per process for an unchanged file (the
    size, modification time and inode are part of the key)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "blake2b").digest()


@functools.cache
def _generator_source() -> str:
    return inspect.getsource(synthetic)


def load_dataset(spec: DatasetSpec, *, use_cache: bool = True, key: str | None = None) -> Dataset:
    """Read, validate and clean the dataset described by ``spec``.

    Examples
    --------
    >>> from tabbench.data.datasets.registry import get_spec
    >>> ds = load_dataset(get_spec("bikeshare"))  # doctest: +SKIP
    >>> ds.task, ds.n_rows  # doctest: +SKIP
    ('regression', 8645)
    """
    ensure_built(spec)  # a suite entry's file is built from its package on first use
    key = key or fingerprint(spec)  # callers that already hashed the file pass its key
    cached = _cache_paths(spec, key)
    if use_cache and cached[0].is_file() and cached[1].is_file():
        try:
            return _read_cache(spec, key, *cached)
        except (OSError, ValueError, pl.exceptions.PolarsError):
            pass  # a damaged cache entry is rebuilt below
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", TabbenchWarning)
        dataset = _build(spec, key)
    messages = [str(w.message) for w in caught if issubclass(w.category, TabbenchWarning)]
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if use_cache:
        _write_cache(dataset, [_portable(m, _source(spec)) for m in messages], *cached)
    return dataset


#: Stands for the data file in a cached warning: the same content added from another path
#: (or the same file moved) has the same cache key, and its warning names the file read now.
_SOURCE = "\x00source\x00"


def _source(spec: DatasetSpec) -> str:
    """The file (or entry) that the loading warnings name."""
    return str(spec.path) if spec.path is not None else spec.where


def _portable(message: str, source: str) -> str:
    prefix = f"{source}: "
    return _SOURCE + message[len(source):] if message.startswith(prefix) else message


def _check_file(spec: DatasetSpec) -> None:
    assert spec.path is not None
    if not spec.path.is_file():
        raise DatasetError(f"{spec.where}: data file {spec.path} not found")
    if spec.path.stat().st_size == 0:
        raise DatasetError(f"{spec.path}: file is empty")


def _raw_frame(spec: DatasetSpec) -> tuple[pl.DataFrame, str]:
    if spec.path is not None:
        return read_table(spec.path), _source(spec)
    assert spec.generator is not None
    return synthetic.generate(spec.generator, where=spec.where, **spec.generator_params), spec.where


def _build(spec: DatasetSpec, key: str) -> Dataset:
    frame, where = _raw_frame(spec)
    columns = frame.columns
    for role in ("target", "time_column", "group_column"):
        column = getattr(spec, role)
        if column is not None and column not in columns:
            raise DatasetError(
                f"{where}: {role} {column!r} not found; columns are: {_quote(columns)}"
            )
    for role in ("drop", "categorical"):
        unknown = [c for c in getattr(spec, role) if c not in columns]
        if unknown:
            raise DatasetError(
                f"{spec.where}: {role} lists unknown column {unknown[0]!r}; "
                f"columns are: {_quote(columns)}"
            )
    frame = frame.drop(list(spec.drop))
    frame, classes = _clean_target(frame, spec, where)
    if spec.time_column is not None:
        frame = parse_time(frame, spec.time_column, where)
    roles = {spec.target, spec.time_column, spec.group_column}
    feature_columns = [c for c in frame.columns if c not in roles]
    frame, features = _infer_features(frame, feature_columns, set(spec.categorical), where)
    roles_kept = (c for c in (spec.target, spec.time_column, spec.group_column) if c is not None)
    keep = [*features, *roles_kept]  # "is not None": an empty header is a valid name
    return Dataset(spec=spec, frame=frame.select(keep), features=features, fingerprint=key,
                   classes=classes)


def _quote(columns: list[str], limit: int = 30) -> str:
    shown = ", ".join(repr(c) for c in columns[:limit])
    return shown + (f", … ({len(columns)} in all)" if len(columns) > limit else "")


def _clean_target(frame: pl.DataFrame, spec: DatasetSpec, where: str) -> tuple[pl.DataFrame, tuple]:
    target = spec.target
    column = frame.get_column(target)
    if column.dtype.is_float():
        frame = frame.with_columns(
            pl.when(pl.col(target).is_finite()).then(pl.col(target)).otherwise(None).alias(target)
        )
        column = frame.get_column(target)
    n_missing = column.null_count()
    if n_missing == frame.height:
        raise DatasetError(f"{where}: target {target!r} is missing in every row")
    if n_missing:
        warnings.warn(f"{where}: dropped {n_missing} rows whose target {target!r} is missing",
                      TabbenchWarning, stacklevel=3)
        frame = frame.filter(pl.col(target).is_not_null())
        column = frame.get_column(target)
    if spec.task == "regression":
        if not column.dtype.is_numeric():
            example = column.head(1).to_list()[0]
            raise DatasetError(
                f"{where}: regression target {target!r} must be numeric, found "
                f"{column.dtype} values such as {example!r}; use task 'binary' or 'multiclass'"
            )
        largest = column.cast(pl.Float64).abs().max()
        if largest is not None and largest > _FLOAT32_MAX:
            raise DatasetError(
                f"{where}: regression target {target!r} has values as large as {largest:.3g}; "
                f"models compute in float32, so they must stay within ±{_FLOAT32_MAX:.3g}; "
                "rescale the target (divide it by a power of ten, or take a log)"
            )
        return frame, ()
    classes = tuple(sorted(column.unique().to_list()))
    if len(classes) < 2:
        raise DatasetError(
            f"{where}: target {target!r} has only one class ({classes[0]!r}); "
            "classification needs at least two"
        )
    if spec.task == "binary" and len(classes) > 2:
        raise DatasetError(
            f"{where}: task 'binary' but target {target!r} has {len(classes)} classes; "
            "use task 'multiclass'"
        )
    return frame, classes


def parse_time(frame: pl.DataFrame, column: str, where: str) -> pl.DataFrame:
    """``frame`` with its time ``column`` as dates, datetimes or integers (strings parsed);
    a :class:`DatasetError` naming ``where`` for values that do not parse or are missing."""
    series = frame.get_column(column)
    if series.dtype.is_temporal() or series.dtype.is_integer():
        parsed = series
    elif series.dtype == pl.String:
        parsed = _parse_datetime_strings(series)
        bad = series.filter(parsed.is_null() & series.is_not_null())
        if len(bad):
            raise DatasetError(
                f"{where}: time column {column!r} is not parseable as a date or time; "
                f"offending value: {bad[0]!r}"
            )
    else:
        raise DatasetError(
            f"{where}: time column {column!r} must hold dates, times or integers, "
            f"found {series.dtype}"
        )
    if parsed.null_count():
        raise DatasetError(
            f"{where}: time column {column!r} has {parsed.null_count()} missing values"
        )
    beyond = series.filter(time_as_int64(parsed, strict=False).is_null())
    if len(beyond):
        raise DatasetError(
            f"{where}: time column {column!r} must lie within the years 1678 to 2261 (dates) "
            f"or the int64 range (integers); offending value: {beyond[0]!r}"
        )
    return frame.with_columns(parsed.alias(column))


def _parse_datetime_strings(series: pl.Series) -> pl.Series:
    """Parse strings as datetimes (UTC-aware ISO strings become UTC); failures become null."""
    try:
        parsed = series.str.to_datetime(strict=False, time_zone="UTC", time_unit="us")
    except pl.exceptions.PolarsError:
        parsed = pl.Series(series.name, [None] * len(series), dtype=pl.Datetime("us", "UTC"))
    if parsed.null_count() > series.null_count():
        try:
            naive = series.str.to_datetime(strict=False, time_unit="us")
            if naive.null_count() < parsed.null_count():
                return naive
        except pl.exceptions.PolarsError:
            pass
    return parsed


def _infer_features(
    frame: pl.DataFrame, columns: list[str], declared: set[str], where: str
) -> tuple[pl.DataFrame, dict[str, ColumnKind]]:
    features: dict[str, ColumnKind] = {}
    replacements: list[pl.Series] = []
    non_finite: list[str] = []
    dropped: list[str] = []
    taken = set(frame.columns)  # names a datetime part must not reuse
    n_rows = frame.height
    for name in columns:
        series = frame.get_column(name)
        kind = _column_kind(series, name in declared)
        if kind == "categorical":
            series = series.cast(pl.String)
        elif kind == "numeric" and series.dtype.is_float():
            finite = series.is_finite() | series.is_null()
            if not finite.all():
                non_finite.append(name)
                series = pl.select(
                    pl.when(finite).then(series).otherwise(None).alias(name)
                ).to_series()
        elif kind == "datetime" and series.dtype == pl.String:
            series = _parse_datetime_strings(series)
        if kind == "datetime":
            parts = [p for p in _expand_datetime(series) if p.drop_nulls().n_unique() > 1]
            if not parts:
                dropped.append(name)
            for part in parts:
                part = part.alias(_free_name(part.name, taken))
                taken.add(part.name)
                replacements.append(part)
                features[part.name] = "numeric"
            continue
        if series.drop_nulls().n_unique() <= 1:
            dropped.append(name)
            continue
        if _id_like(series, kind, n_rows):
            warnings.warn(f"{where}: column {name!r} looks like an id (almost every value "
                          "is distinct); consider listing it in 'drop'", TabbenchWarning,
                          stacklevel=4)
        replacements.append(series)
        features[name] = kind
    if non_finite:
        warnings.warn(f"{where}: non-finite values in {_quote(non_finite)} became missing",
                      TabbenchWarning, stacklevel=4)
    if dropped:
        warnings.warn(f"{where}: dropped constant or all-missing columns {_quote(dropped)}",
                      TabbenchWarning, stacklevel=4)
    if not features:
        raise DatasetError(f"{where}: no usable feature columns remain")
    others = [c for c in frame.columns if c not in columns]
    # a dict keeps every name: a list of series would rename an empty header to 'column_0'
    table = {s.name: s for s in [*replacements, *frame.select(others).get_columns()]}
    return pl.DataFrame(table), features


def _free_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``… when a column of the file already has it."""
    candidate, number = name, 2
    while candidate in taken:
        candidate, number = f"{name}_{number}", number + 1
    return candidate


def _id_like(series: pl.Series, kind: str, n_rows: int) -> bool:
    """Almost every value distinct (categorical), or every value distinct (integer)."""
    if n_rows <= 20:
        return False
    if kind == "categorical":
        return series.n_unique() >= _ID_LIKE_SHARE * n_rows
    return series.dtype.is_integer() and series.null_count() == 0 and series.n_unique() == n_rows


def _column_kind(series: pl.Series, declared_categorical: bool) -> ColumnKind:
    dtype = series.dtype
    if declared_categorical:
        return "categorical"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_numeric():
        return "numeric"
    if dtype.is_temporal() and dtype != pl.Duration:
        return "datetime"
    if dtype == pl.Duration:
        return "numeric"
    if dtype == pl.String:
        sample = series.drop_nulls().head(1000)
        if len(sample) and sample.str.contains(r"^\d{4}-\d{2}-\d{2}").mean() >= _DATETIME_SHARE:
            parsed = _parse_datetime_strings(series)
            if parsed.is_not_null().sum() >= _DATETIME_SHARE * series.is_not_null().sum():
                return "datetime"
    return "categorical"


def _expand_datetime(series: pl.Series) -> list[pl.Series]:
    """Turn a date/datetime feature into numeric parts (year, month, day, weekday, hour)."""
    if series.dtype == pl.Duration:
        return [series.dt.total_seconds().cast(pl.Float64)]
    name = series.name
    parts = {
        "year": series.dt.year(), "month": series.dt.month(), "day": series.dt.day(),
        "weekday": series.dt.weekday(),
    }
    if series.dtype != pl.Date:
        parts["hour"] = series.dt.hour()
    return [values.cast(pl.Float64).alias(f"{name}_{part}") for part, values in parts.items()]


def _cache_paths(spec: DatasetSpec, key: str) -> tuple[Path, Path]:
    stem = f"{spec.name}-{key[:20]}"
    return safe_join(cache_dir(), f"{stem}.parquet"), safe_join(cache_dir(), f"{stem}.json")


def _write_cache(dataset: Dataset, messages: list[str], table: Path, meta: Path) -> None:
    try:
        table.parent.mkdir(parents=True, exist_ok=True)
        write_parquet_atomic(table, dataset.frame, compression="lz4")
        info: dict[str, Any] = {
            "features": dataset.features, "classes": list(dataset.classes),
            "source_warnings": messages, "fingerprint": dataset.fingerprint,
        }
        write_atomic_bytes(meta, json.dumps(info, default=_json_default).encode())
    except (OSError, TabbenchError) as exc:
        warnings.warn(f"could not write the dataset cache in {table.parent}: {exc}",
                      TabbenchWarning, stacklevel=3)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _read_cache(spec: DatasetSpec, key: str, table: Path, meta: Path) -> Dataset:
    info = json.loads(meta.read_text())
    if info.get("fingerprint") != key or "source_warnings" not in info:
        raise ValueError("stale cache entry")  # or one whose warnings name a file of its own
    for message in info["source_warnings"]:
        warnings.warn(message.replace(_SOURCE, _source(spec), 1), TabbenchWarning, stacklevel=3)
    frame = pl.read_parquet(table)
    return Dataset(spec=spec, frame=frame, features=info["features"], fingerprint=key,
                   classes=tuple(info["classes"]))
