"""Integer codes for mutual information: one small-integer array per column.

Mutual information is computed from contingency tables, so every column is first turned
into dense codes ``0..c-1``:

* categorical (and string) columns: one code per distinct value;
* boolean columns: 0 / 1;
* numeric columns: quantile bins (``bins``, default 32). The bin edges are quantiles
  (``method="higher"``, so every edge is an observed value) of at most ``EDGE_SAMPLE`` seeded
  sampled values; a value equal to an edge goes to the upper bin, and repeated values
  collapse edges, so a column with few distinct values keeps (nearly) one code per value;
* missing values (null or NaN): one extra code of their own, in every kind.

Codes are stored in the smallest unsigned dtype that holds them (``uint8`` for the
default 32 bins), which keeps the permutation passes of the corrected MI cheap.
Combinations of columns get exact codes (``code1 * cardinality2 + code2``, compacted with
``numpy.unique`` when that product gets large), never hashes.

Examples
--------
>>> import polars as pl
>>> frame = pl.DataFrame({"x": [0.5, 1.5, None, 3.5], "c": ["a", "b", "a", None]})
>>> encoded = encode_features(frame, {"x": "numeric", "c": "categorical"}, bins=2)
>>> encoded.codes[1].tolist(), int(encoded.cardinalities[1])
([0, 1, 0, 2], 3)
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from tabbench.exceptions import TabbenchError

__all__ = [
    "DEFAULT_BINS",
    "EDGE_SAMPLE",
    "EncodedFeatures",
    "combine_codes",
    "dense_limit",
    "encode_column",
    "encode_features",
    "encode_target",
]

DEFAULT_BINS = 32
#: Quantile edges come from at most this many sampled values (the quantile error of a
#: 65,536-value sample, about 0.4% of the rows, is far below one bin's 3%).
EDGE_SAMPLE = 65_536
#: Tables (and combined codes) with more cells than ``max(2 * rows, DENSE_CELLS)`` are
#: counted over the occurring cells only (``numpy.unique``) instead of a dense ``bincount``.
DENSE_CELLS = 1 << 16


def dense_limit(n_rows: int) -> int:
    """Most cells a table of ``n_rows`` rows is counted densely with (see ``DENSE_CELLS``)."""
    return max(2 * int(n_rows), DENSE_CELLS)


@dataclass(frozen=True, eq=False)
class EncodedFeatures:
    """Dense integer codes of feature columns, one array per column.

    Attributes
    ----------
    names : tuple of str
        The column names.
    kinds : tuple of str
        ``numeric``, ``categorical`` or ``boolean`` per column.
    codes : list of numpy.ndarray
        Codes ``0..cardinalities[j]-1`` per column (unsigned ints, one per row).
    cardinalities : numpy.ndarray
        Number of codes of each column (an upper bound on the codes in use; the missing
        code is counted when the column has missing values).
    n_missing : numpy.ndarray
        Missing values per column.
    """

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    codes: list[np.ndarray]
    cardinalities: np.ndarray
    n_missing: np.ndarray

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.codes[0]) if self.codes else 0

    def index(self, name: str) -> int:
        """Position of column ``name``."""
        return self.names.index(name)


def _small(codes: np.ndarray, n_codes: int) -> np.ndarray:
    """``codes`` in the smallest unsigned dtype that holds ``n_codes`` codes."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if n_codes <= np.iinfo(dtype).max + 1:
            return codes.astype(dtype, copy=False)
    return codes.astype(np.int64, copy=False)


def _densify(raw: np.ndarray) -> tuple[np.ndarray, int]:
    """Map non-negative integer labels onto ``0..c-1`` (keeping their order)."""
    if raw.size == 0:
        return raw.astype(np.uint8), 0
    top = int(raw.max())
    if top <= 4 * raw.size + 1024:
        present = np.bincount(raw, minlength=top + 1) > 0
        remap = np.cumsum(present) - 1
        n_codes = int(present.sum())
        return _small(remap[raw], n_codes), n_codes
    uniques, inverse = np.unique(raw, return_inverse=True)
    return _small(inverse, len(uniques)), len(uniques)


def _bin_numeric(values: np.ndarray, bins: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Quantile-bin a numeric array (NaN = missing) into codes; missing gets the last code."""
    missing = np.isnan(values) if values.dtype.kind == "f" else None
    n = values.size
    sample = values if n <= EDGE_SAMPLE else values[rng.integers(0, n, EDGE_SAMPLE)]
    if missing is not None:
        sample = sample[~np.isnan(sample)]
    if sample.size == 0:
        codes = np.zeros(n, dtype=np.uint8)
        return codes, 1
    levels = np.arange(1, bins) / bins
    edges = np.unique(np.quantile(sample, levels, method="higher"))
    edges = edges[edges > sample.min()]  # an edge at the minimum would leave bin 0 empty
    # a value v gets the number of edges <= v (what searchsorted(side="right") gives),
    # summed from vectorized comparisons, several times faster than a binary search
    dtype = np.uint8 if len(edges) + 2 <= 256 else np.uint16
    codes = np.zeros(n, dtype=dtype)
    above = np.empty(n, dtype=bool)
    for edge in edges.tolist():
        np.greater_equal(values, edge, out=above)
        codes += above
    n_codes = len(edges) + 1
    if missing is not None and missing.any():
        codes[missing] = n_codes
        n_codes += 1
    return codes, n_codes


def encode_column(series: pl.Series, kind: str, *, bins: int = DEFAULT_BINS,
                  seed: int = 0) -> tuple[np.ndarray, int]:
    """Codes and number of codes of one column (see the module docstring).

    Parameters
    ----------
    series : polars.Series
        The column's values.
    kind : {"numeric", "categorical", "boolean"}
        How to encode it.
    bins : int
        Quantile bins of a numeric column.
    seed : int
        Seed of the sample the quantile edges are computed from.

    Returns
    -------
    (numpy.ndarray, int)
        Codes (unsigned ints) and the number of codes.
    """
    if kind == "numeric" and series.dtype.is_numeric():
        if series.dtype.is_integer() and series.null_count() == 0:
            values = series.to_numpy()
        else:
            values = series.cast(pl.Float64).to_numpy() if not series.dtype.is_float() \
                else series.fill_null(float("nan")).to_numpy()
        rng = np.random.default_rng([seed, zlib_crc(series.name)])
        return _bin_numeric(values, bins, rng)
    if series.dtype == pl.Boolean:
        raw = series.cast(pl.Int64)
    elif series.dtype in (pl.String, pl.Categorical) or isinstance(series.dtype, pl.Enum):
        raw = series.cast(pl.String).cast(pl.Categorical).to_physical().cast(pl.Int64)
    elif series.dtype.is_integer():
        low = series.min()
        raw = (series.cast(pl.Int64) - (low if low is not None else 0))
        top = raw.max()
        if top is not None and top > 4 * len(series) + 1024:
            raw = series.rank("dense").cast(pl.Int64) - 1
    else:
        raw = series.rank("dense").cast(pl.Int64) - 1
    # missing values take one code past every present label, so they come out last
    top = raw.max()
    filled = raw.fill_null((top if top is not None else -1) + 1).to_numpy()
    return _densify(filled)


def zlib_crc(text: str) -> int:
    """A stable 32-bit number from a column name (``hash()`` changes between processes)."""
    return zlib.crc32(text.encode())


def encode_features(frame: pl.DataFrame, features: Mapping[str, str], *,
                    bins: int = DEFAULT_BINS, seed: int = 0) -> EncodedFeatures:
    """Encode the feature columns of ``frame``.

    Parameters
    ----------
    frame : polars.DataFrame
        The rows to encode (for ranking: the training part only).
    features : mapping of str to {"numeric", "categorical", "boolean"}
        The columns to encode and their kinds.
    bins : int, default 32
        Quantile bins of numeric columns (2 to 65,535).
    seed : int
        Seed of the samples the quantile edges come from.

    Returns
    -------
    EncodedFeatures
    """
    if not 2 <= bins <= 65_535:
        message = f"bins must be between 2 and 65535, got {bins}"
        raise TabbenchError(message)
    missing = [name for name in features if name not in frame.columns]
    if missing:
        message = f"feature columns not in the table: {', '.join(map(repr, missing))}"
        raise TabbenchError(message)
    codes, cards, n_missing = [], [], []
    for name, kind in features.items():
        series = frame.get_column(name)
        column_codes, n_codes = encode_column(series, kind, bins=bins, seed=seed)
        codes.append(column_codes)
        cards.append(max(n_codes, 1))
        nulls = series.null_count()
        if series.dtype.is_float():
            nulls += int(series.is_nan().sum() or 0)
        n_missing.append(nulls)
    return EncodedFeatures(tuple(features), tuple(features.values()), codes,
                           np.asarray(cards, dtype=np.int64), np.asarray(n_missing, dtype=np.int64))


def encode_target(y: np.ndarray, task: str, *, bins: int = DEFAULT_BINS,
                  seed: int = 0) -> tuple[np.ndarray, int]:
    """Codes of the target: class codes for classification, quantile bins for regression.

    Returns
    -------
    (numpy.ndarray, int)
        Dense codes and their number; rows with a missing target must be removed first.
    """
    if task == "regression":
        values = np.asarray(y, dtype=np.float64)
        if np.isnan(values).any():
            message = "the target has missing values; drop those rows before ranking"
            raise TabbenchError(message)
        return _bin_numeric(values, bins, np.random.default_rng([seed, 1]))
    values = np.asarray(y)
    if values.dtype.kind not in "iub":
        values = pl.Series(values).rank("dense").cast(pl.Int64).to_numpy() - 1
    return _densify(values.astype(np.int64) - int(values.min(initial=0)))


def combine_codes(a: np.ndarray, card_a: int, b: np.ndarray, card_b: int) -> tuple[np.ndarray, int]:
    """Exact codes of the pair ``(a, b)``: ``a * card_b + b``, compacted when large.

    When ``card_a * card_b`` exceeds :func:`dense_limit` the pair codes are renumbered to
    the pairs that occur (``numpy.unique``), so contingency tables stay as small as the data.
    """
    joint = a.astype(np.int64) * int(card_b) + b
    size = int(card_a) * int(card_b)
    if size <= dense_limit(a.size):
        return _small(joint, size), size
    uniques, inverse = np.unique(joint, return_inverse=True)
    return _small(inverse, len(uniques)), len(uniques)
