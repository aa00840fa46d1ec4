"""Per-model-family feature transforms, fitted on the training rows only.

``fit`` receives the training rows and nothing else, so no statistic can come from the
validation or test rows; ``transform`` then applies the frozen state to any rows.
Unseen categories and missing values never raise.

Families
--------
``gbdt``
    Numeric and boolean columns as float32 (NaN for missing, magnitudes beyond float32
    clipped to its largest finite value); categorical columns as
    codes ``0..c-1`` of the categories seen in training (sorted), NaN for missing or unseen.
``classic``
    Numeric and boolean columns: median imputation, a ``<column>__missing`` indicator for
    columns with missing training values, standardization (bounded by ±1e6). Categorical columns: one-hot
    of the (at most 20) most frequent training categories, ``<column>=<value>``; other,
    unseen and missing values are all zeros (a column without any training category
    gives one all-zero column ``<column>``).
``nn``
    TabReD's "noisy-quantile" transform for neural networks. Numeric columns: a
    scikit-learn ``QuantileTransformer(output_distribution="normal")`` per column, fitted on
    the training values plus a little seeded Gaussian noise (standard deviation
    ``1e-3 / max(std, 1e-3)``, as in TabReD, so columns with few distinct values spread out);
    missing values become 0 (the median of the output) with a ``<column>__missing``
    indicator when the training part has missing values. Boolean columns: 0/1, missing → 0
    (with the indicator). Categorical columns with at most ``MAX_ONE_HOT`` (20) training
    categories: one-hot of all of them (missing and unseen → all zeros); more categories:
    codes ``0..c-1`` listed in ``categorical_`` (NaN for missing or unseen), which the
    networks embed; none: one all-zero column ``<column>``.

Output names are distinct: a derived name (``a__missing``, ``c=x``) that is already taken
by an input column or another output gets a suffix (``a__missing_2``).
"""

from __future__ import annotations

import math
import zlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Self

import numpy as np
import polars as pl

from tabbench.core._registry import Registry
from tabbench.exceptions import DatasetError
from tabbench.methods.models.base import FitContext

if TYPE_CHECKING:
    from tabbench.data.datasets.dataset import Dataset
    from tabbench.data.splits import Split

__all__ = [
    "PREPROCESSORS",
    "ClassicPreprocessor",
    "GBDTPreprocessor",
    "NNPreprocessor",
    "PreparedData",
    "Preprocessor",
    "make_preprocessor",
    "prepare_data",
    "register_preprocessor",
]

KINDS = ("numeric", "categorical", "boolean")
MAX_ONE_HOT = 20  # classic: the most frequent categories kept; nn: the most one-hot encoded
FLOAT32_MAX = float(np.finfo(np.float32).max)
MAX_STANDARDIZED = 1e6  # bound on |standardized value|: extreme inputs cannot overflow a model


class Preprocessor(ABC):
    """Turns a polars frame into the float32 matrix a model family expects.

    Attributes (after ``fit``)
    --------------------------
    feature_names_ : tuple of str
        Names of the output columns.
    categorical_ : tuple of int
        Output columns holding category codes (empty when the family encodes them away).
    cardinalities_ : tuple of int
        Number of training categories of each column in ``categorical_``.
    """

    family: ClassVar[str]

    def __init__(self) -> None:
        self._exprs: list[pl.Expr] | None = None
        self._inputs: tuple[str, ...] = ()
        self.feature_names_: tuple[str, ...] = ()
        self.categorical_: tuple[int, ...] = ()
        self.cardinalities_: tuple[int, ...] = ()

    def fit(self, frame: pl.DataFrame, features: Mapping[str, str]) -> Self:
        """Learn the transform from the training rows.

        Parameters
        ----------
        frame : polars.DataFrame
            The training rows (other columns, such as the target, are ignored).
        features : mapping of str to {"numeric", "categorical", "boolean"}
            The feature columns and their kinds, in output order.

        Returns
        -------
        Preprocessor
            ``self``, fitted.
        """
        _check_features(frame, features)
        self._inputs = tuple(features)
        exprs: list[pl.Expr] = []
        categorical: list[int] = []
        cardinalities: list[int] = []
        sources: list[str] = []
        for column, kind in features.items():
            series = frame.get_column(column)
            for expr, cardinality in self._fit_column(series, kind):
                if cardinality is not None:
                    categorical.append(len(exprs))
                    cardinalities.append(cardinality)
                exprs.append(expr)
                sources.append(column)
        names = _unique_names([expr.meta.output_name() for expr in exprs], sources)
        self._exprs = [expr.alias(name) for expr, name in zip(exprs, names, strict=True)]
        self.feature_names_ = tuple(names)
        self.categorical_ = tuple(categorical)
        self.cardinalities_ = tuple(cardinalities)
        return self

    def transform(self, frame: pl.DataFrame) -> np.ndarray:
        """Apply the fitted transform.

        Parameters
        ----------
        frame : polars.DataFrame
            Rows to transform; must hold the fitted feature columns.

        Returns
        -------
        numpy.ndarray
            float32, C-contiguous, shape ``(frame.height, len(feature_names_))``.
        """
        if self._exprs is None:
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet; call fit first")
        missing = [column for column in self._inputs if column not in frame.columns]
        if missing:
            message = f"cannot transform: feature columns {missing} are missing from the frame"
            raise DatasetError(message)
        if not self._exprs:
            return np.empty((frame.height, 0), dtype=np.float32)
        matrix = frame.select(self._exprs).to_numpy(order="c")
        return np.ascontiguousarray(matrix, dtype=np.float32)

    def fit_transform(self, frame: pl.DataFrame, features: Mapping[str, str]) -> np.ndarray:
        """``fit(frame, features)`` then ``transform(frame)``."""
        return self.fit(frame, features).transform(frame)

    def fit_context(
        self, task: str, n_classes: int, seed: int = 0, n_threads: int = 1, device: str = "cpu"
    ) -> FitContext:
        """The :class:`FitContext` describing this transform's output, for a model factory."""
        if self._exprs is None:
            raise RuntimeError(f"this {type(self).__name__} is not fitted yet; call fit first")
        return FitContext(
            task=task,
            n_classes=n_classes,
            feature_names=self.feature_names_,
            categorical=self.categorical_,
            cardinalities=self.cardinalities_,
            seed=seed,
            n_threads=n_threads,
            device=device,
        )

    @abstractmethod
    def _fit_column(self, series: pl.Series, kind: str) -> list[tuple[pl.Expr, int | None]]:
        """Output expressions of one input column, each with its cardinality if categorical."""


def _check_features(frame: pl.DataFrame, features: Mapping[str, str]) -> None:
    missing = [column for column in features if column not in frame.columns]
    if missing:
        message = (
            f"feature columns {missing} are not in the frame; its columns are: {frame.columns}"
        )
        raise DatasetError(message)
    for column, kind in features.items():
        if kind not in KINDS:
            message = f"feature column {column!r} has kind {kind!r}; allowed kinds are: {', '.join(KINDS)}"
            raise DatasetError(message)


def _unique_names(names: list[str], sources: list[str]) -> list[str]:
    """Output names made distinct: a derived name (``a__missing``, ``c=x``) that equals an
    input column's name, or another derived name, becomes ``a__missing_2``, ``_3``…;
    ``sources[i]`` is the input column of output ``i``, which keeps its own name."""
    own = {name for name, source in zip(names, sources, strict=True) if name == source}
    taken = set(names)
    seen: set[str] = set()
    unique = []
    for name, source in zip(names, sources, strict=True):
        if name in seen or (name in own and name != source):
            candidate, number = f"{name}_2", 3
            while candidate in taken:
                candidate, number = f"{name}_{number}", number + 1
            name = candidate
            taken.add(name)
        seen.add(name)
        unique.append(name)
    return unique


def _category_dtype(series: pl.Series) -> pl.DataType:
    """The dtype categories are compared in (polars categoricals compare as strings)."""
    dtype = series.dtype
    return pl.String() if isinstance(dtype, pl.Categorical | pl.Enum) else dtype


def _categories(series: pl.Series) -> tuple[pl.Series, pl.DataType]:
    """The non-missing values of a categorical column in its comparison dtype."""
    dtype = _category_dtype(series)
    values = series.cast(dtype).drop_nulls()
    if dtype.is_float():
        values = values.filter(values.is_not_nan())
    return values, dtype


class GBDTPreprocessor(Preprocessor):
    """Float32 numbers and integer category codes, for gradient-boosted trees."""

    family = "gbdt"

    def _fit_column(self, series: pl.Series, kind: str) -> list[tuple[pl.Expr, int | None]]:
        name = series.name
        if kind != "categorical":
            number = pl.col(name)
            if series.dtype == pl.Float64 or not series.dtype.is_numeric():
                # only 64-bit floats (and oddities cast to them) can overflow float32
                number = number.cast(pl.Float64, strict=False).clip(-FLOAT32_MAX, FLOAT32_MAX)
            return [(number.cast(pl.Float32), None)]
        values, dtype = _categories(series)
        categories = values.unique().sort()
        codes = pl.Series(np.arange(len(categories), dtype=np.float32))
        expr = (
            pl.col(name)
            .cast(dtype, strict=False)
            .replace_strict(old=categories, new=codes, default=None, return_dtype=pl.Float32)
        )
        return [(expr, len(categories))]


class ClassicPreprocessor(Preprocessor):
    """Imputed, standardized numbers and one-hot categories, for linear models and forests."""

    family = "classic"

    def _fit_column(self, series: pl.Series, kind: str) -> list[tuple[pl.Expr, int | None]]:
        if kind == "categorical":
            return [(expr, None) for expr in self._one_hot(series)]
        return [(expr, None) for expr in self._numeric(series)]

    @staticmethod
    def _numeric(series: pl.Series) -> list[pl.Expr]:
        name = series.name
        values = series.cast(pl.Float64, strict=False).fill_nan(None)
        median = values.median()
        median = 0.0 if median is None or math.isnan(median) else float(median)
        imputed = values.fill_null(median)
        mean = float(imputed.mean()) if len(imputed) else 0.0
        std = float(imputed.std(ddof=0)) if len(imputed) else 0.0
        std = std if std > 0 and math.isfinite(std) else 1.0
        column = pl.col(name).cast(pl.Float64, strict=False).fill_nan(None)
        standardized = ((column.fill_null(median) - mean) / std).clip(
            -MAX_STANDARDIZED, MAX_STANDARDIZED
        )
        exprs = [standardized.cast(pl.Float32).alias(name)]
        if values.null_count() > 0:
            indicator = column.is_null().cast(pl.Float32).alias(f"{name}__missing")
            exprs.append(indicator)
        return exprs

    @staticmethod
    def _one_hot(series: pl.Series) -> list[pl.Expr]:
        name = series.name
        values, dtype = _categories(series)
        counts = values.rename("value").value_counts(name="count")
        top = counts.sort(["count", "value"], descending=[True, False]).head(MAX_ONE_HOT)
        if top.height == 0:  # no category in the training rows
            return [_zeros(name)]
        column = pl.col(name).cast(dtype, strict=False)
        return [
            (column == pl.lit(value, dtype=dtype))
            .fill_null(False)
            .cast(pl.Float32)
            .alias(f"{name}={value}")
            for value in top.get_column("value").to_list()
        ]


def _zeros(name: str) -> pl.Expr:
    """An all-zero column: every input column gives at least one output column, so that no
    model is handed a matrix without columns (which every model rejects)."""
    return pl.repeat(0.0, pl.len(), dtype=pl.Float32).alias(name)


def _codes(name: str, categories: pl.Series, dtype: pl.DataType) -> pl.Expr:
    """Codes ``0..c-1`` of the (sorted) training categories as float32, NaN for the others."""
    codes = pl.Series(np.arange(len(categories), dtype=np.float32))
    return (
        pl.col(name)
        .cast(dtype, strict=False)
        .replace_strict(old=categories, new=codes, default=None, return_dtype=pl.Float32)
    )


class NNPreprocessor(Preprocessor):
    """Noisy-quantile numbers, indicators, one-hot or coded categories, for neural networks.

    Parameters
    ----------
    seed : int
        Seeds the noise added to the training values before the quantiles are computed.
    noise : float
        TabReD's noise scale (``1e-3``); 0 fits the quantiles on the exact values.
    """

    family = "nn"

    def __init__(self, *, seed: int = 0, noise: float = 1e-3) -> None:
        super().__init__()
        self.seed = seed
        self.noise = noise

    def _fit_column(self, series: pl.Series, kind: str) -> list[tuple[pl.Expr, int | None]]:
        name = series.name
        if kind == "categorical":
            values, dtype = _categories(series)
            categories = values.unique().sort()
            if len(categories) > MAX_ONE_HOT:
                return [(_codes(name, categories, dtype), len(categories))]
            if len(categories) == 0:  # no category in the training rows
                return [(_zeros(name), None)]
            column = pl.col(name).cast(dtype, strict=False)
            return [
                ((column == pl.lit(value, dtype=dtype)).fill_null(False).cast(pl.Float32)
                 .alias(f"{name}={value}"), None)
                for value in categories.to_list()
            ]
        values = series.cast(pl.Float64, strict=False).fill_nan(None)
        column = pl.col(name).cast(pl.Float64, strict=False).fill_nan(None)
        if kind == "boolean":
            expr = column.fill_null(0.0).cast(pl.Float32).alias(name)
        else:
            expr = self._quantile(name, values.drop_nulls().to_numpy())
        exprs = [(expr, None)]
        if values.null_count() > 0:
            exprs.append((column.is_null().cast(pl.Float32).alias(f"{name}__missing"), None))
        return exprs

    def _quantile(self, name: str, values: np.ndarray) -> pl.Expr:
        if values.size == 0:
            return pl.lit(0.0, dtype=pl.Float32).alias(name)
        # deferred: scikit-learn is heavy to import
        from sklearn.preprocessing import QuantileTransformer

        # one generator per column, keyed by its name: adding a column leaves the others' noise
        rng = np.random.default_rng([self.seed, zlib.crc32(name.encode())])
        std = float(np.std(values)) if np.isfinite(values).all() else math.inf
        noise_std = self.noise / max(std, self.noise) if self.noise > 0 else 0.0
        noisy = values + noise_std * rng.standard_normal(values.size)
        n_quantiles = min(max(min(values.size // 30, 1000), 10), values.size)
        transformer = QuantileTransformer(
            n_quantiles=n_quantiles,
            output_distribution="normal",
            subsample=1_000_000_000,
            random_state=self.seed,
        ).fit(noisy.reshape(-1, 1))
        low, high = float(transformer.quantiles_[0, 0]), float(transformer.quantiles_[-1, 0])

        def transform(series: pl.Series) -> pl.Series:
            x = series.to_numpy().astype(np.float64, copy=True)
            missing = np.isnan(x)
            # beyond the training range the output saturates anyway; clipping also tames ±inf
            out = transformer.transform(np.clip(x, low, high).reshape(-1, 1))[:, 0]
            out[missing] = 0.0
            return pl.Series(name, out, dtype=pl.Float32)

        column = pl.col(name).cast(pl.Float64, strict=False).fill_nan(None)
        return column.map_batches(transform, return_dtype=pl.Float32, is_elementwise=True).alias(
            name
        )


PREPROCESSORS: Registry[type[Preprocessor]] = Registry("preprocessing family")


def register_preprocessor(family: str, cls: type[Preprocessor]) -> type[Preprocessor]:
    """Register the preprocessor class of a model family (duplicate names raise)."""
    return PREPROCESSORS.register(family, cls)


register_preprocessor("gbdt", GBDTPreprocessor)
register_preprocessor("classic", ClassicPreprocessor)
register_preprocessor("nn", NNPreprocessor)


def make_preprocessor(family: str, **options: Any) -> Preprocessor:
    """A new, unfitted preprocessor for a model family.

    Parameters
    ----------
    family : str
        A registered family: ``gbdt``, ``classic``, ``nn`` (others may be registered).
    **options
        Passed to the preprocessor's constructor.

    Raises
    ------
    UnknownNameError
        If the family is not registered.

    Examples
    --------
    >>> import polars as pl
    >>> frame = pl.DataFrame({"x": [1.0, None], "c": ["a", "b"]})
    >>> pre = make_preprocessor("gbdt").fit(frame, {"x": "numeric", "c": "categorical"})
    >>> pre.transform(pl.DataFrame({"x": [2.0], "c": ["z"]})).tolist()
    [[2.0, nan]]
    """
    return PREPROCESSORS.get(family)(**options)


@dataclass(frozen=True, eq=False)
class PreparedData:
    """The preprocessed matrices of one split, ready for a model of one family.

    ``preprocessor`` is the fitted transform that made them (``None`` when the matrices
    were built otherwise), for callers that transform more rows the same way.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    context: FitContext
    metric: str
    preprocessor: Preprocessor | None = None

    def part(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """``(X, y)`` of the part called ``name`` (train, val or test)."""
        return getattr(self, f"X_{name}"), getattr(self, f"y_{name}")


def prepare_data(dataset: Dataset, split: Split, family: str, *, metric: str, seed: int,
                 n_threads: int, device: str, max_rounds: int | None = None) -> PreparedData:
    """Fit the family's preprocessing on the training part and transform all three parts."""
    frame, y = dataset.frame, dataset.target()
    preprocessor = make_preprocessor(family).fit(frame[split.train], dataset.features)
    # one transform of the whole table (row-wise, with the state learned from train only),
    # then cheap row gathers of the matrix
    X = preprocessor.transform(frame)
    matrices = [X[idx] for idx in (split.train, split.val, split.test)]
    context = preprocessor.fit_context(dataset.task, dataset.n_classes, seed, n_threads, device)
    context = replace(context, max_rounds=max_rounds)
    return PreparedData(matrices[0], y[split.train], matrices[1], y[split.val], matrices[2],
                        y[split.test], context, metric, preprocessor)
