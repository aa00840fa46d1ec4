"""The leakage audit: single columns that predict the target too well, and row ids in time order.

The table is split in time (:func:`tabbench.data.splits.make_splits` with the ``time`` strategy,
the benchmark's own ``time-0`` split); each column alone is fitted on the training part and
scored on the validation part:

- numeric (and boolean, and dates as numbers): a depth-4 decision tree for classes (a few
  thresholds are all a class needs); for a regression target, the better of a tree with
  up to 256 leaves (a depth-4 tree has 16 steps, too coarse to reproduce even an exact
  copy of a continuous target: R² 0.98) and a straight line (which, unlike a tree,
  extrapolates a copy of a trending target). Missing values go to one side of each split,
  as scikit-learn's trees do (the mean, for the line);
- categorical: the training mean of the target per level (binary, regression) or its most
  frequent class per level (multiclass); unseen levels get the training mean or majority.

The score is ROC AUC (binary), R² (regression) or, for multiclass, the accuracy's gain
over always predicting the training majority class, ``(acc - base) / (1 - base)``: 1 is
perfect, 0 is no better than the majority. A score above :data:`THRESHOLD` flags the
column (``"predicts the target"``). A column whose values are (almost) all distinct and
whose order follows the time column (Spearman ``|rho|`` above :data:`THRESHOLD`) is
flagged too (``"row id in time order"``): a model can read the time, or the row's
position, from it.

A flagged column must be handled by the registry TOML: listed in ``drop`` (with its
reason in ``[drop_reasons]``) or explained in ``[audit]``. An unhandled one is a
:class:`~tabbench.exceptions.TabbenchWarning` naming the TOML and the column.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import polars as pl

from tabbench.data.datasets.dataset import Dataset
from tabbench.data.datasets.read import read_table
from tabbench.data.datasets.spec import DatasetSpec
from tabbench.data.splits import make_splits
from tabbench.exceptions import DatasetError, TabbenchWarning

#: A column scoring above this alone, or a row id correlating above it with time, is flagged.
THRESHOLD = 0.99
#: Share of distinct values from which a column counts as unique per row.
UNIQUE_SHARE = 0.95
#: Depth of the single-feature trees for classes: shallow, so a flag means one column says it all.
TREE_DEPTH = 4
#: Leaves of the single-feature trees for a regression target (at least 5 rows each).
REGRESSION_LEAVES = 256

_METRIC = {"binary": "roc_auc", "regression": "r2", "multiclass": "accuracy_gain"}
_NULL_LEVEL = "\x00missing"

#: The columns of the table :func:`audit_table` returns.
AUDIT_COLUMNS = {
    "dataset": pl.String, "column": pl.String, "kind": pl.String, "metric": pl.String,
    "score": pl.Float64, "distinct_share": pl.Float64, "time_rho": pl.Float64,
    "flag": pl.String, "handled": pl.String,
}


def audit_table(spec: DatasetSpec, frame: pl.DataFrame | None = None, *,
                warn: bool = True) -> pl.DataFrame:
    """Score every column of ``spec``'s data file (``drop`` columns included) alone.

    Parameters
    ----------
    spec : DatasetSpec
        The registry entry: its task, target, time column, ``drop``, ``[drop_reasons]`` and
        ``[audit]`` tables. It needs a ``time_column``.
    frame : polars.DataFrame, optional
        The table to audit; by default the entry's data file is read.
    warn : bool, default True
        Emit a :class:`TabbenchWarning` for each flagged column the TOML does not handle.

    Returns
    -------
    polars.DataFrame
        One row per column (not the target or the time column), with the columns of
        :data:`AUDIT_COLUMNS`: ``flag`` is null for a column that passed, ``handled`` says
        how the TOML deals with a flagged one (null when it does not).

    Examples
    --------
    >>> import polars as pl
    >>> from tabbench.data.datasets.spec import DatasetSpec
    >>> spec = DatasetSpec.from_dict({"name": "toy", "task": "binary", "target": "y",
    ...                               "path": "toy.parquet", "time_column": "t"})
    >>> toy = pl.DataFrame({"t": range(100), "y": [0, 1] * 50, "copy": [0, 1] * 50})
    >>> audit_table(spec, toy, warn=False).select("column", "score", "flag").row(0)
    ('copy', 1.0, 'predicts the target')
    """
    if spec.time_column is None:
        raise DatasetError(f"{spec.where}: the leakage audit needs a time_column")
    if frame is None:
        if spec.path is None:
            raise DatasetError(f"{spec.where}: the leakage audit needs a data file ('path')")
        frame = read_table(spec.path, spec.where)
    _check_columns(spec, frame)
    frame = frame.filter(pl.col(spec.target).is_not_null())
    dataset = _as_dataset(spec, frame)
    train, val = _time_parts(dataset)
    y = dataset.target()
    time = dataset.time()
    rows: list[dict[str, Any]] = []
    for column in frame.columns:
        if column in (spec.target, spec.time_column):
            continue
        series = frame.get_column(column)
        kind, score = _score(series, y, train, val, spec.task)
        share, rho = _time_order(series, time)
        flags = []
        if score is not None and score > THRESHOLD:
            flags.append("predicts the target")
        if rho is not None and abs(rho) > THRESHOLD:
            flags.append("row id in time order")
        flag = "; ".join(flags) or None
        rows.append({"dataset": spec.name, "column": column, "kind": kind,
                     "metric": _METRIC[spec.task], "score": score, "distinct_share": share,
                     "time_rho": rho, "flag": flag,
                     "handled": _handled(spec, column) if flag else None})
    table = pl.DataFrame(rows, schema=AUDIT_COLUMNS)
    if warn:
        for row in table.filter(pl.col("flag").is_not_null() & pl.col("handled").is_null()
                                ).iter_rows(named=True):
            warnings.warn(unhandled_message(spec, row), TabbenchWarning, stacklevel=2)
    return table


def findings(table: pl.DataFrame) -> pl.DataFrame:
    """The flagged rows of an audit table."""
    return table.filter(pl.col("flag").is_not_null())


def unhandled_message(spec: DatasetSpec, row: dict[str, Any]) -> str:
    """The warning for a flagged column that the TOML neither drops nor explains."""
    detail = _detail(row)
    return (f"{spec.where}: leakage audit: column {row['column']!r} {row['flag']} ({detail}); "
            f"add it to 'drop' with a reason in [drop_reasons], or say in [audit] why it is "
            f"legitimate")


def _detail(row: dict[str, Any]) -> str:
    parts = []
    if row["score"] is not None and "predicts" in (row["flag"] or ""):
        parts.append(f"{row['metric']} {row['score']:.3f} alone on the validation part")
    if row["time_rho"] is not None and "time order" in (row["flag"] or ""):
        parts.append(f"{row['distinct_share']:.0%} distinct, Spearman rho with time "
                     f"{row['time_rho']:.3f}")
    return "; ".join(parts)


def _handled(spec: DatasetSpec, column: str) -> str | None:
    if column in spec.drop:
        return f"dropped: {spec.drop_reasons.get(column, 'listed in drop')}"
    if column in spec.audit:
        return f"legitimate: {spec.audit[column]}"
    if column == spec.group_column:
        return "group column (not a feature)"
    return None


def _check_columns(spec: DatasetSpec, frame: pl.DataFrame) -> None:
    for role in ("target", "time_column"):
        column = getattr(spec, role)
        if column not in frame.columns:
            raise DatasetError(f"{spec.where}: {role} {column!r} not found; columns are: "
                               f"{', '.join(map(repr, frame.columns))}")
    unknown = [c for c in spec.audit if c not in frame.columns]
    if unknown:
        raise DatasetError(f"{spec.where}: [audit] names unknown column {unknown[0]!r}; "
                           f"columns are: {', '.join(map(repr, frame.columns))}")


def _as_dataset(spec: DatasetSpec, frame: pl.DataFrame):
    """The table as a :class:`Dataset` for the splitter (every column kept, none cleaned)."""
    time = frame.get_column(spec.time_column)
    if not (time.dtype.is_temporal() or time.dtype.is_integer()):
        raise DatasetError(f"{spec.where}: time column {spec.time_column!r} must hold dates, "
                           f"times or integers for the audit, found {time.dtype}")
    if time.null_count():
        raise DatasetError(f"{spec.where}: time column {spec.time_column!r} has "
                           f"{time.null_count()} missing values")
    classes: tuple = ()
    if spec.task != "regression":
        classes = tuple(sorted(frame.get_column(spec.target).unique().to_list()))
    return Dataset(spec=replace(spec, drop=(), group_column=None), frame=frame, features={},
                   fingerprint="leakage-audit", classes=classes)


def _time_parts(dataset) -> tuple[np.ndarray, np.ndarray]:
    split = make_splits(dataset, "time", {}, seed=0)[0]
    return split.train, split.val


def _score(series: pl.Series, y: np.ndarray, train: np.ndarray, val: np.ndarray,
           task: str) -> tuple[str, float | None]:
    """The column's kind and its validation score alone (``None`` when undefined)."""
    dtype = series.dtype
    if dtype.is_numeric() or dtype == pl.Boolean or dtype.is_temporal():
        values = series
        if dtype.is_temporal():
            values = series.dt.epoch("s") if dtype != pl.Duration else series.dt.total_seconds()
        x = values.cast(pl.Float64).to_numpy().copy()
        x[~np.isfinite(x)] = np.nan
        if np.all(np.isnan(x[train])):
            return "numeric", None
        prediction = _tree(x, y, train, val, task)
        return "numeric", _metric(task, y, train, val, prediction)
    levels = series.cast(pl.String).fill_null(_NULL_LEVEL).to_numpy()
    return "categorical", _metric(task, y, train, val, _encode(levels, y, train, val, task))


def _tree(x: np.ndarray, y: np.ndarray, train: np.ndarray, val: np.ndarray,
          task: str) -> np.ndarray:
    # deferred: scikit-learn is heavy to import
    from sklearn.tree import DecisionTreeClassifier

    if task == "regression":
        return _regression(x, y, train, val)
    model = DecisionTreeClassifier(max_depth=TREE_DEPTH, random_state=0)
    model.fit(x[train, None], y[train])
    if task == "binary":
        proba = model.predict_proba(x[val, None])
        return proba[:, 1] if proba.shape[1] == 2 else np.zeros(len(val))
    return model.predict(x[val, None])


def _regression(x: np.ndarray, y: np.ndarray, train: np.ndarray, val: np.ndarray) -> np.ndarray:
    """The validation predictions of a fine tree or of a line, whichever scores better."""
    # deferred: scikit-learn is heavy to import
    from sklearn.metrics import r2_score
    from sklearn.tree import DecisionTreeRegressor

    tree = DecisionTreeRegressor(max_leaf_nodes=REGRESSION_LEAVES, min_samples_leaf=5,
                                 random_state=0).fit(x[train, None], y[train])
    candidates = [tree.predict(x[val, None])]
    filled = np.where(np.isnan(x), np.nanmean(x[train]), x)
    if np.ptp(filled[train]) > 0:
        slope, intercept = np.polyfit(filled[train], y[train], 1)
        candidates.append(slope * filled[val] + intercept)
    if np.var(y[val]) == 0:
        return candidates[0]
    return max(candidates, key=lambda prediction: r2_score(y[val], prediction))


def _encode(levels: np.ndarray, y: np.ndarray, train: np.ndarray, val: np.ndarray,
            task: str) -> np.ndarray:
    """Per-level training mean (binary, regression) or most frequent class (multiclass)."""
    fit = pl.DataFrame({"level": levels[train], "y": y[train]})
    if task == "multiclass":
        counts = fit.group_by("level", "y").len()
        table = counts.sort(["level", "len", "y"], descending=[False, True, False]) \
            .unique("level", keep="first").select("level", value=pl.col("y").cast(pl.Float64))
        default = float(np.bincount(y[train]).argmax())
    else:
        table = fit.group_by("level").agg(value=pl.col("y").cast(pl.Float64).mean())
        default = float(np.mean(y[train]))
    mapping = dict(zip(table.get_column("level").to_list(),
                       table.get_column("value").to_list(), strict=True))
    return np.array([mapping.get(level, default) for level in levels[val]], dtype=float)


def _metric(task: str, y: np.ndarray, train: np.ndarray, val: np.ndarray,
            prediction: np.ndarray) -> float | None:
    # deferred: scikit-learn is heavy to import
    from sklearn.metrics import r2_score, roc_auc_score

    truth = y[val]
    if task == "binary":
        if len(np.unique(truth)) < 2:
            return None
        return float(roc_auc_score(truth, prediction))
    if task == "regression":
        if np.var(truth) == 0:
            return None
        return float(r2_score(truth, prediction))
    base = float(np.mean(truth == np.bincount(y[train]).argmax()))
    if base == 1.0:
        return None
    accuracy = float(np.mean(truth == prediction.astype(np.int64)))
    return (accuracy - base) / (1.0 - base)


def _time_order(series: pl.Series, time: np.ndarray) -> tuple[float, float | None]:
    """Share of distinct values, and Spearman rho with time for a near-unique column."""
    n_rows = len(series)
    share = series.n_unique() / n_rows if n_rows else 0.0
    known = series.is_not_null().to_numpy()
    if share < UNIQUE_SHARE or known.sum() < 3:
        return share, None
    ranks = series.filter(series.is_not_null()).rank("average").to_numpy()
    times = time[known]
    if np.all(times == times[0]) or np.all(ranks == ranks[0]):
        return share, None
    # deferred: SciPy is heavy to import
    from scipy.stats import spearmanr

    return share, float(spearmanr(ranks, times).statistic)
