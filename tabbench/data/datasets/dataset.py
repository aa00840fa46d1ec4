"""Dataset: a loaded, validated table with the kinds of its feature columns."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

import numpy as np
import polars as pl

from tabbench.data.datasets.spec import DatasetSpec

ColumnKind = Literal["numeric", "categorical", "boolean", "datetime"]


@dataclass(frozen=True, eq=False)
class Dataset:
    """A loaded dataset.

    ``frame`` holds the feature columns, the target and (when set) the time and group
    columns, already cleaned (non-finite numbers are null, constant columns dropped).
    ``features`` maps each feature column to its kind, in column order. Datetime features
    have already been expanded into numeric columns at load, so the kinds seen by
    models are ``numeric``, ``categorical`` and ``boolean``.
    """

    spec: DatasetSpec
    frame: pl.DataFrame
    features: dict[str, ColumnKind]
    fingerprint: str
    classes: tuple = field(default=())

    @property
    def name(self) -> str:
        """The registry name."""
        return self.spec.name

    @property
    def task(self) -> str:
        """``binary``, ``multiclass`` or ``regression``."""
        return self.spec.task

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return self.frame.height

    @property
    def n_classes(self) -> int:
        """Number of classes (0 for regression)."""
        return len(self.classes)

    def target(self) -> np.ndarray:
        """The target: class codes ``0..k-1`` (int64) for classification, float64 otherwise."""
        return self._target

    @cached_property
    def _target(self) -> np.ndarray:
        column = self.frame.get_column(self.spec.target)
        if self.task == "regression":
            values = column.cast(pl.Float64).to_numpy()
        else:
            codes = column.replace_strict(list(self.classes), list(range(len(self.classes))),
                                          return_dtype=pl.Int64)
            values = codes.to_numpy()
        values.flags.writeable = False
        return values

    def time(self) -> np.ndarray | None:
        """The time column as int64 (nanoseconds for datetimes), or ``None``."""
        if self.spec.time_column is None:
            return None
        return time_as_int64(self.frame.get_column(self.spec.time_column)).to_numpy()

    def groups(self) -> np.ndarray | None:
        """The group column's values, or ``None``."""
        if self.spec.group_column is None:
            return None
        return self.frame.get_column(self.spec.group_column).to_numpy()


def time_as_int64(column: pl.Series, *, strict: bool = True) -> pl.Series:
    """A time column as int64: nanoseconds since the epoch for dates and datetimes, the
    values themselves for integers (durations and times of day: their own units).

    With ``strict=False`` the values that do not fit (datetimes outside the years 1678 to
    2261, integers beyond int64) become null instead of raising.
    """
    if column.dtype == pl.Date or column.dtype == pl.Datetime:
        column = column.cast(pl.Datetime("ns"), strict=strict).dt.epoch("ns")
    return column.cast(pl.Int64, strict=strict)
