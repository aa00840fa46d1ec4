"""Tuning NCD methods without novel labels: cross-validation that hides known classes.

Each fold takes some known classes, hides their labels and scores how well the method
rediscovers them (Hungarian accuracy); Optuna searches the method's space on the mean.
Everything runs under :func:`~tabbench.studies.ncd.task.tuning_guard` and sees only
:meth:`NCDTask.known_view`, so the novel labels are out of reach.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tabbench.methods.models.base import FitContext, ModelSpec
from tabbench.studies.ncd.metrics import cluster_accuracy
from tabbench.studies.ncd.task import NCDTask, tuning_guard


def hidden_class_folds(classes: list[int], n_folds: int, n_hidden: int,
                       seed: int = 0) -> list[list[int]]:
    """``n_folds`` sets of ``n_hidden`` known classes to hide, cycling through the classes."""
    if len(classes) < n_hidden + 1:
        message = f"class-hiding CV needs more than {n_hidden} known classes; got {classes}"
        raise ValueError(message)
    order = list(np.random.default_rng(seed).permutation(classes))
    return [[int(order[(f * n_hidden + i) % len(order)]) for i in range(n_hidden)]
            for f in range(n_folds)]


def cv_score(spec: ModelSpec, params: dict[str, Any], X: np.ndarray, y: np.ndarray,
             folds: list[list[int]], seed: int = 0, n_threads: int = 1) -> float:
    """Mean accuracy at rediscovering the hidden known classes of each fold."""
    scores = []
    for hidden in folds:
        is_hidden = np.isin(y, hidden)
        model = spec.build({**params, "n_novel": len(hidden)},
                           FitContext(task="ncd", n_classes=0, feature_names=(), seed=seed,
                                      n_threads=n_threads))
        model.fit(X, np.where(is_hidden, -1, y))
        scores.append(cluster_accuracy(y[is_hidden], model.labels_))
    return float(np.mean(scores))


def tune_ncd(spec: ModelSpec, task: NCDTask, *, n_trials: int = 10, n_folds: int = 3,
             seed: int = 0, n_threads: int = 1) -> tuple[dict[str, Any], float, Any]:
    """Search ``spec``'s space by class-hiding CV; return ``(best params, best score, study)``.

    The default params are the first trial, so tuning never does worse on the CV score.
    """
    # deferred: Optuna is heavy to import
    import optuna

    with tuning_guard():
        X, y = task.known_view()
        known = sorted(int(c) for c in np.unique(y))
        # hide at least two classes when possible: one hidden class is trivially clustered
        n_hidden = max(1, min(max(2, min(task.n_novel, len(known) // 2)), len(known) - 1))
        folds = hidden_class_folds(known, n_folds, n_hidden, seed)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        study = optuna.create_study(direction="maximize",
                                    sampler=optuna.samplers.TPESampler(seed=seed))
        study.enqueue_trial(dict(spec.default_params))

        def objective(trial: optuna.Trial) -> float:
            params = {**spec.default_params, **spec.search_space(trial)}
            return cv_score(spec, params, X, y, folds, seed, n_threads)

        if spec.search_space is None or n_trials < 1:
            best = cv_score(spec, dict(spec.default_params), X, y, folds, seed, n_threads)
            return dict(spec.default_params), best, None
        study.optimize(objective, n_trials=n_trials)
        return {**spec.default_params, **study.best_params}, float(study.best_value), study
