"""Estimate the number of novel classes: best silhouette over k = 2…K."""

from __future__ import annotations

import numpy as np


def estimate_k(model, k_max: int = 10) -> tuple[int, dict[int, float]]:
    """Silhouette of the model's clustering of its unlabelled rows for k = 2…k_max.

    ``model`` is a fitted NCD clusterer. Each candidate k is judged as the method would
    run with k novel classes: its clustering, in the representation it builds for k
    (``embedding_`` after ``recluster(k)``: the same for every k for most methods; for
    ``ncd-spectral`` the ``n_known + k`` eigenvectors), on the unlabelled rows only. The k
    the model was fitted with plays no part. Returns ``(k_hat, {k: silhouette})``; the model
    is left clustered with ``k_hat``.
    """
    from sklearn.metrics import silhouette_score

    is_unlabelled = model.y_ < 0
    n_unlabelled = int(is_unlabelled.sum())
    k_max = min(k_max, n_unlabelled - 1)
    if k_max < 2:
        message = f"estimating k needs at least 3 unlabelled rows; got {n_unlabelled}"
        raise ValueError(message)
    scores = {}
    # widest first: a representation that grows with k is then computed once
    for k in range(k_max, 1, -1):
        labels = model.recluster(k).labels_
        U = model.embedding_[is_unlabelled]
        scores[k] = float(silhouette_score(U, labels)) if len(np.unique(labels)) > 1 else -1.0
    scores = dict(sorted(scores.items()))
    k_hat = max(scores, key=lambda k: (scores[k], -k))
    model.recluster(k_hat)
    return k_hat, scores
