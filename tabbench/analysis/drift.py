"""Shift diagnostics for a split: can a classifier tell training rows from test rows, and which
features moved the most?

* **Adversarial validation**: a gradient-boosting classifier is cross-validated on the task
  "is this row from the test part?"; its ROC AUC is 0.5 when the parts look alike and
  approaches 1 when they are easy to tell apart (covariate shift).
* **Per-feature drift**: the population stability index (PSI) between the training and the
  test part (quantile bins of the training part for numbers, categories for categoricals),
  and for numeric features the two-sample Kolmogorov–Smirnov statistic (scipy).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import stats

from tabbench.data.datasets.dataset import Dataset
from tabbench.data.datasets.sample import load_subsample
from tabbench.data.splits import Split, make_splits
from tabbench.methods.preprocess import make_preprocessor

#: PSI over 0.25 is the usual threshold for a major shift, 0.1–0.25 a moderate one.
PSI_MAJOR = 0.25
_EPS = 1e-4


@dataclass(frozen=True)
class ShiftReport:
    """Adversarial-validation AUC of a split and the drift of each feature, worst first."""

    split_id: str
    adversarial_auc: float
    features: pl.DataFrame  # feature, kind, psi, ks_statistic, ks_pvalue


def diagnose_shift(dataset: Dataset, split: Split, *, max_rows: int = 20_000, seed: int = 0,
                   n_threads: int = 1) -> ShiftReport:
    """Adversarial-validation AUC and per-feature drift between ``split.train`` and ``split.test``."""
    rng = np.random.default_rng(seed)
    train = _sample(split.train, max_rows // 2, rng)
    test = _sample(split.test, max_rows // 2, rng)
    auc = adversarial_auc(dataset, train, test, seed=seed, n_threads=n_threads)
    rows = []
    for name, kind in dataset.features.items():
        column = dataset.frame.get_column(name)
        a, b = column.gather(train), column.gather(test)
        if kind == "categorical":
            psi, ks, p = _categorical_psi(a, b), None, None
        else:
            x, y = _finite(a), _finite(b)
            psi = _numeric_psi(x, y)
            ks, p = (stats.ks_2samp(x, y)[:2] if len(x) and len(y) else (None, None))
        rows.append({"feature": name, "kind": kind, "psi": psi, "ks_statistic": ks,
                     "ks_pvalue": p})
    table = pl.DataFrame(rows, schema={"feature": pl.String, "kind": pl.String,
                                       "psi": pl.Float64, "ks_statistic": pl.Float64,
                                       "ks_pvalue": pl.Float64})
    return ShiftReport(split.id, auc, table.sort("psi", descending=True, nulls_last=True))


def adversarial_auc(dataset: Dataset, train: np.ndarray, test: np.ndarray, *, seed: int = 0,
                    n_threads: int = 1, folds: int = 3) -> float:
    """Cross-validated ROC AUC of a classifier separating ``train`` rows from ``test`` rows."""
    # deferred: scikit-learn is heavy to import
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from threadpoolctl import threadpool_limits

    rows = np.concatenate([train, test])
    frame = dataset.frame[rows]
    preprocessor = make_preprocessor("gbdt").fit(frame, dataset.features)
    X = preprocessor.transform(frame)
    y = np.r_[np.zeros(len(train)), np.ones(len(test))]
    categorical = np.zeros(X.shape[1], dtype=bool)
    categorical[list(preprocessor.categorical_)] = True
    high = [j for j, c in zip(preprocessor.categorical_, preprocessor.cardinalities_, strict=True)
            if c > 255]
    categorical[high] = False  # HistGradientBoosting takes at most 255 categories: use codes
    model = HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, random_state=seed,
                                           categorical_features=categorical)
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    with threadpool_limits(n_threads):
        proba = cross_val_predict(model, X, y, cv=cv, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, proba))


def _sample(rows: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    return rows if len(rows) <= limit else np.sort(rng.choice(rows, limit, replace=False))


def _finite(series: pl.Series) -> np.ndarray:
    values = series.cast(pl.Float64).drop_nulls().to_numpy()
    return values[np.isfinite(values)]


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected = np.clip(expected, _EPS, None)
    actual = np.clip(actual, _EPS, None)
    return float(((actual - expected) * np.log(actual / expected)).sum())


def _numeric_psi(train: np.ndarray, test: np.ndarray, bins: int = 10) -> float | None:
    if not len(train) or not len(test):
        return None
    edges = np.unique(np.quantile(train, np.linspace(0, 1, bins + 1)[1:-1]))
    expected = np.bincount(np.searchsorted(edges, train, side="right"), minlength=len(edges) + 1)
    actual = np.bincount(np.searchsorted(edges, test, side="right"), minlength=len(edges) + 1)
    return _psi(expected / expected.sum(), actual / actual.sum())


def _categorical_psi(train: pl.Series, test: pl.Series, top: int = 20) -> float:
    """PSI over the ``top`` most frequent training categories plus one bin for the rest:
    without pooling, rare levels of a high-cardinality column inflate PSI by chance."""
    name = train.name
    train, test = (s.cast(pl.String).fill_null("<missing>") for s in (train, test))
    kept = train.value_counts(sort=True).head(top)[name]
    pool = pl.when(pl.col(name).is_in(kept.implode())).then(pl.col(name)).otherwise(pl.lit("<other>"))
    a = train.to_frame().select(pool)[name].value_counts(name="n_train")
    b = test.to_frame().select(pool)[name].value_counts(name="n_test")
    joined = a.join(b, on=name, how="full", coalesce=True).fill_null(0)
    expected = joined["n_train"].to_numpy() / max(len(train), 1)
    actual = joined["n_test"].to_numpy() / max(len(test), 1)
    return _psi(expected, actual)


def shift_table(specs: list, strategies: list[str], *, max_rows: int | None = None,
                split_params: dict | None = None, n_threads: int = 1) -> pl.DataFrame:
    """Adversarial AUC, the share of drifting features and the three most drifting ones for
    the first split of each (dataset, strategy) — one row each, for the CLI and the report."""
    rows = []
    for spec in specs:
        dataset = load_subsample(spec, max_rows)
        for strategy in strategies:
            if spec.time_column is None and strategy != "random":
                continue
            params = (split_params or {}).get(strategy, {})
            split = make_splits(dataset, strategy, params, seed=0)[0]
            report = diagnose_shift(dataset, split, n_threads=n_threads)
            top = report.features.head(3)
            drifting = ", ".join(f"{f} ({p:.2f})" for f, p in top.select("feature", "psi").iter_rows()
                                 if p is not None)
            rows.append({"dataset": spec.name, "strategy": strategy, "split_id": split.id,
                         "adversarial_auc": report.adversarial_auc,
                         "drifting_share": drifting_share(report.features),
                         "most_drifting (PSI)": drifting})
    return pl.DataFrame(rows, schema={"dataset": pl.String, "strategy": pl.String,
                                      "split_id": pl.String, "adversarial_auc": pl.Float64,
                                      "drifting_share": pl.Float64,
                                      "most_drifting (PSI)": pl.String})


def drifting_share(features: pl.DataFrame) -> float:
    """Share of the features (with a PSI) whose PSI is at least :data:`PSI_MAJOR`: a drift
    score that, unlike the adversarial AUC, does not saturate once one feature separates
    the parts (a calendar column makes every time split's AUC 1.0)."""
    psi = features["psi"].drop_nulls().drop_nans()
    return float((psi >= PSI_MAJOR).mean()) if len(psi) else float("nan")
