"""Estimate the number of novel classes: best silhouette over k = 2…K."""

from __future__ import annotations

import numpy as np


def estimate_k(model, k_max: int = 10) -> tuple[int, dict[int, float]]:
    """Silhouette of the model's clustering of its unlabelled rows for k = 2…k_max.

    ``model`` is a fitted NCD clusterer; its representation (``embedding_``) is kept and
    only the clustering step is repeated. Returns ``(k_hat, {k: silhouette})``; the model is
    left clustered with ``k_hat``.
    """
    from sklearn.metrics import silhouette_score

    U = model.embedding_[model.y_ < 0]
    k_max = min(k_max, len(U) - 1)
    if k_max < 2:
        message = f"estimating k needs at least 3 unlabelled rows; got {len(U)}"
        raise ValueError(message)
    scores = {}
    for k in range(2, k_max + 1):
        labels = model.recluster(k).labels_
        scores[k] = float(silhouette_score(U, labels)) if len(np.unique(labels)) > 1 else -1.0
    k_hat = max(scores, key=lambda k: (scores[k], -k))
    model.recluster(k_hat)
    return k_hat, scores
