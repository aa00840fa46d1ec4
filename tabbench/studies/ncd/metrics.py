"""Clustering metrics of NCD: Hungarian-matched accuracy, NMI and ARI."""

from __future__ import annotations

import numpy as np


def cluster_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Accuracy after the best one-to-one matching of clusters to classes (Hungarian).

    >>> cluster_accuracy(np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]))
    1.0
    """
    # deferred: SciPy is heavy to import
    from scipy.optimize import linear_sum_assignment

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        message = f"y_true and y_pred must be 1-D of one length; got {y_true.shape}, {y_pred.shape}"
        raise ValueError(message)
    if not len(y_true):
        return float("nan")
    classes, t = np.unique(y_true, return_inverse=True)
    clusters, p = np.unique(y_pred, return_inverse=True)
    counts = np.zeros((len(clusters), len(classes)))
    np.add.at(counts, (p, t), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / len(y_true))


def ncd_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """``acc``, ``nmi`` and ``ari`` of a clustering against the true classes."""
    # deferred: scikit-learn is heavy to import
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {"acc": cluster_accuracy(y_true, y_pred),
            "nmi": float(normalized_mutual_info_score(y_true, y_pred)),
            "ari": float(adjusted_rand_score(y_true, y_pred))}
