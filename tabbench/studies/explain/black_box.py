"""The black box of an explanation: the model fitted as a benchmark job fits it, and its
features ranked by importance.

:func:`fit_black_box` fits the model on its family's preprocessing
(:func:`tabbench.methods.preprocess.prepare_data`, :func:`tabbench.methods.tuning.fit_model`: early
stopping on the validation part) and builds the interpretable matrix of
:mod:`tabbench.studies.explain.space` (the boosters' own columns; for the other families the gbdt
preprocessing fitted on the training part, which they see through their own).
:func:`rank_by_importance` ranks the features on the validation part by permutation
importance and, for the boosters, by their native contributions
(:mod:`tabbench.studies.explain.importance`); on wide tables only a shortlist is permuted.
:mod:`tabbench.studies.explain.explain` fits the surrogate on the top of that ranking.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from tabbench.methods.features.ranking import select_top_k
from tabbench.methods.preprocess import make_preprocessor, prepare_data
from tabbench.methods.tuning import fit_model, predict
from tabbench.studies.explain.importance import (
    gain_importance,
    importance_table,
    native_contributions,
    permutation_scores,
)
from tabbench.studies.explain.space import FeatureSpace, feature_space

if TYPE_CHECKING:
    from tabbench.data.datasets.dataset import Dataset
    from tabbench.data.splits import Split
    from tabbench.methods.models import ModelSpec

__all__ = ["CONTRIBUTION_ROWS", "PERMUTATION_ROWS", "BlackBox", "Step", "fit_black_box",
           "rank_by_importance"]

PERMUTATION_ROWS = 10_000    # validation rows permuted (a seeded sample of them)
CONTRIBUTION_ROWS = 5_000    # validation rows whose native contributions are averaged

#: Called with a short description as each step starts (for progress display).
Step = Callable[[str], None]


@dataclass(frozen=True, eq=False)
class BlackBox:
    """The fitted model, the interpretable matrix ``Z`` and the model's predictions."""

    estimator: Any
    space: FeatureSpace
    Z: dict[str, np.ndarray]                      # the interpretable matrix per part
    predict_z: Callable[[np.ndarray], np.ndarray]  # the model as a function of Z
    native: bool                                  # whether the model's columns are Z's
    outputs: dict[str, np.ndarray]                # probabilities or values per part
    targets: dict[str, np.ndarray]                # classes or values per part
    fit_seconds: float
    predict_seconds: float


def _parts(split: Split) -> dict[str, np.ndarray]:
    return {"train": split.train, "val": split.val, "test": split.test}


def fit_black_box(dataset: Dataset, split: Split, spec: ModelSpec, params: dict[str, Any],
                  metric: str, seed: int, n_threads: int, device: str,
                  step: Step) -> BlackBox:
    """Fit the model as a benchmark job does (no round cap); build the interpretable matrix."""
    task = dataset.task
    step("preprocessing")
    data = prepare_data(dataset, split, spec.family, metric=metric, seed=seed,
                        n_threads=n_threads, device=device, max_rounds=None)
    own = data.preprocessor
    native = spec.family == "gbdt"  # the model's own columns are the interpretable ones
    train_frame = dataset.frame[split.train]
    if native:
        gbdt, Z = own, {name: data.part(name)[0] for name in _parts(split)}
    else:
        gbdt = make_preprocessor("gbdt").fit(train_frame, dataset.features)
        whole = gbdt.transform(dataset.frame)
        Z = {name: whole[idx] for name, idx in _parts(split).items()}
    space = feature_space(gbdt, train_frame, dataset.features)
    step(f"fitting the black box ({spec.name})")
    estimator, fit_seconds = fit_model(spec, params, data, seed)
    started = time.perf_counter()
    outputs = {name: predict(estimator, data.part(name)[0], task) for name in _parts(split)}
    predict_seconds = time.perf_counter() - started
    targets = {name: out.argmax(axis=1) if task != "regression" else out
               for name, out in outputs.items()}

    def predict_z(Zp: np.ndarray) -> np.ndarray:
        matrix = Zp if native else own.transform(space.decode(Zp))
        return predict(estimator, matrix, task)

    return BlackBox(estimator, space, Z, predict_z, native, outputs, targets,
                    fit_seconds, predict_seconds)


def rank_by_importance(box: BlackBox, dataset: Dataset, split: Split, metric: str,
                       n_repeats: int, seed: int, prefilter_above: int, prefilter_keep: int,
                       step: Step) -> pl.DataFrame:
    """Permutation importance on (a sample of) the validation part, and native contributions."""
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.permutation(len(split.val))[:PERMUTATION_ROWS])
    Z_val, y_val = box.Z["val"][sample], dataset.target()[split.val][sample]
    candidates = _shortlist(box.estimator, dataset, split, box.space, prefilter_above,
                            prefilter_keep)
    step(f"permutation importance of {len(candidates)} features")
    permutation = permutation_scores(box.predict_z, Z_val, y_val, metric, columns=candidates,
                                     n_repeats=n_repeats, seed=seed)
    native = None
    if box.native:
        step("native contributions")
        native = native_contributions(box.estimator, Z_val[:CONTRIBUTION_ROWS])
    return importance_table(box.space.names, permutation, native)


def _shortlist(estimator: Any, dataset: Dataset, split: Split, space: FeatureSpace,
               above: int, keep: int) -> list[int]:
    """The columns to permute: all, or on wide tables the ``keep`` best by a cheap score."""
    n = len(space.names)
    if n <= above:
        return list(range(n))
    gain = gain_importance(estimator, n)
    if gain is not None:
        order = np.argsort(-gain, kind="stable")
        return sorted(order[:keep].tolist())
    names, _ = select_top_k(dataset, split, min(keep, n), method="mi-corrected")  # cheap
    return sorted(space.names.index(name) for name in names)
