"""Data-quality checks per feature, reported next to the ranking.

For each feature column (on the rows given, for ranking: the training part):

``coverage``
    Share of rows where the value is present (not null, not NaN).
``cardinality``
    Number of distinct present values (of the raw values, not of the quantile bins).
``majority_share``
    Share of the present values taken by the most frequent one.
``duplicate_of``
    The first earlier column holding exactly the same values (nulls included), if any.
Flags (``flags``, comma-separated):

* ``constant`` — at most one distinct present value;
* ``quasi-constant`` — one value takes at least ``QUASI_CONSTANT`` (99%) of the present
  values;
* ``low-coverage`` — coverage below ``LOW_COVERAGE`` (5%);
* ``duplicate`` — an exact copy of an earlier column (``duplicate_of``);
* ``id-like`` — a categorical or integer column whose cardinality is at least
  ``ID_LIKE`` (95%) of its present values: it identifies rows rather than describing them;
* ``leak`` — suspected target leak: the normalized mutual information with the target
  (corrected MI divided by the target's entropy, i.e. the share of the target's uncertainty
  the feature removes) is at least ``LEAK`` (0.95).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import polars as pl

__all__ = ["ID_LIKE", "LEAK", "LOW_COVERAGE", "QUASI_CONSTANT", "quality_report"]

QUASI_CONSTANT = 0.99
LOW_COVERAGE = 0.05
ID_LIKE = 0.95
LEAK = 0.95
_MIN_ROWS_ID_LIKE = 20


def quality_report(frame: pl.DataFrame, features: Mapping[str, str],
                   normalized_mi: Mapping[str, float] | None = None) -> pl.DataFrame:
    """One row of quality measures and flags per feature.

    Parameters
    ----------
    frame : polars.DataFrame
        The rows to check.
    features : mapping of str to str
        Feature columns and their kinds (``numeric``, ``categorical``, ``boolean``).
    normalized_mi : mapping of str to float, optional
        Corrected MI with the target divided by the target's entropy, per feature; the
        ``leak`` flag is raised at ``LEAK`` or more. Without it no leak is flagged.

    Returns
    -------
    polars.DataFrame
        Columns ``feature``, ``coverage``, ``cardinality``, ``majority_share``,
        ``duplicate_of`` and ``flags``.

    Examples
    --------
    >>> frame = pl.DataFrame({"a": [1, 1, 1, 1], "b": [1.0, None, 2.0, 3.0], "c": [1.0, None, 2.0, 3.0]})
    >>> quality_report(frame, {"a": "numeric", "b": "numeric", "c": "numeric"})["flags"].to_list()
    ['constant', '', 'duplicate']
    """
    names = list(features)
    n_rows = frame.height
    if not names:
        return pl.DataFrame(schema={"feature": pl.String, "coverage": pl.Float64,
                                    "cardinality": pl.Int64, "majority_share": pl.Float64,
                                    "duplicate_of": pl.String, "flags": pl.String})
    present_exprs = []
    for name in names:
        column = pl.col(name)
        if frame.schema[name].is_float():
            column = column.fill_nan(None)
        present_exprs.append(column.drop_nulls().alias(name))
    # one sort per column (polars runs the columns in parallel and computes the shared
    # sort once): the runs of equal values give the distinct count and the most frequent
    # value's count; a hash of the whole column narrows the duplicate search
    exprs = []
    for name, present in zip(names, present_exprs, strict=True):
        runs = present.sort().rle().struct.field("len")
        exprs += [present.len().alias(f"{name}\0present"), runs.len().alias(f"{name}\0unique"),
                  runs.max().alias(f"{name}\0mode"),
                  pl.col(name).hash(seed=7).sum().alias(f"{name}\0hash")]
    stats = frame.select(exprs).row(0, named=True)
    rows = []
    seen: dict[tuple, list[str]] = {}
    for name in names:
        present = int(stats[f"{name}\0present"])
        unique = int(stats[f"{name}\0unique"] or 0)
        mode = int(stats[f"{name}\0mode"] or 0)
        coverage = present / n_rows if n_rows else 0.0
        majority = mode / present if present else 1.0
        key = (str(frame.schema[name]), present, unique, stats[f"{name}\0hash"])
        duplicate_of = None
        for other in seen.get(key, []):
            if frame.get_column(name).equals(frame.get_column(other), null_equal=True):
                duplicate_of = other
                break
        seen.setdefault(key, []).append(name)
        flags = []
        if unique <= 1:
            flags.append("constant")
        elif majority >= QUASI_CONSTANT:
            flags.append("quasi-constant")
        if coverage < LOW_COVERAGE:
            flags.append("low-coverage")
        if duplicate_of is not None:
            flags.append("duplicate")
        dtype = frame.schema[name]
        discrete = features[name] == "categorical" or dtype.is_integer()
        if discrete and present > _MIN_ROWS_ID_LIKE and unique >= ID_LIKE * present:
            flags.append("id-like")
        if normalized_mi is not None and normalized_mi.get(name, 0.0) >= LEAK:
            flags.append("leak")
        rows.append({"feature": name, "coverage": coverage, "cardinality": unique,
                     "majority_share": float(np.float64(majority)),
                     "duplicate_of": duplicate_of, "flags": ",".join(flags)})
    return pl.DataFrame(rows, schema={"feature": pl.String, "coverage": pl.Float64,
                                      "cardinality": pl.Int64, "majority_share": pl.Float64,
                                      "duplicate_of": pl.String, "flags": pl.String})
