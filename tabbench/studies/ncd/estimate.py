"""Estimate the number of novel classes: best silhouette over k = 2…K."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Independently seeded fits whose silhouette curves are averaged by the runner.
ESTIMATE_FITS = 5

#: Unlabelled rows the silhouette is computed on at most (a seeded sample beyond): its
#: cost grows with their square.
SILHOUETTE_ROWS = 5000


def silhouette_bytes(n_unlabelled: int, k_max: int) -> int:
    """Peak memory of one silhouette curve: the distances among the sampled rows."""
    n = min(n_unlabelled, SILHOUETTE_ROWS)
    return 8 * 2 * n * n + 8 * n * k_max


def estimate_k_averaged(models: Sequence, k_max: int = 10) -> tuple[int, dict[int, float]]:
    """k̂ from the mean silhouette curve of several fits of one method on one task.

    A learned representation (``pbn``'s latent) and k-means' initialisation vary with the
    seed, and so does the silhouette curve: on digits (novel 0, 3, 5, 6, 7; one thread),
    single ``pbn`` fits put 6 ahead of 5 in 10 of 25 fits (5 tasks × 5 seeds), by a few
    thousandths; the mean curve of three fits still picked 6 on one task of five, that of
    five fits picks 5 on all five (by 0.0008–0.006, so the estimate stays a close call
    there). Each fit is scored as :func:`estimate_k` does; every model is left clustered
    with k̂. Returns ``(k_hat, {k: mean silhouette})``.
    """
    curves = [_silhouette_curve(model, k_max) for model in models]
    scores = {k: float(np.mean([curve[k] for curve in curves])) for k in curves[0]}
    k_hat = max(scores, key=lambda k: (scores[k], -k))
    for model in models:
        model.recluster(k_hat)
    return k_hat, scores


def estimate_k(model, k_max: int = 10) -> tuple[int, dict[int, float]]:
    """Silhouette of the model's clustering of its unlabelled rows for k = 2…k_max.

    ``model`` is a fitted NCD clusterer. Each candidate k is judged as the method would
    run with k novel classes: its clustering, in the representation it builds for k
    (``embedding_`` after ``recluster(k)``: the same for every k for most methods; for
    ``ncd-spectral`` the ``n_known + k`` eigenvectors), on the unlabelled rows only. The k
    the model was fitted with plays no part. Beyond :data:`SILHOUETTE_ROWS` unlabelled
    rows the silhouette is that of a seeded sample of them. Returns ``(k_hat, {k:
    silhouette})``; the model is left clustered with ``k_hat``.
    """
    return estimate_k_averaged([model], k_max)


def _silhouette_curve(model, k_max: int) -> dict[int, float]:
    # deferred: scikit-learn is heavy to import
    from sklearn.metrics import silhouette_score

    is_unlabelled = model.y_ < 0
    n_unlabelled = int(is_unlabelled.sum())
    k_max = min(k_max, n_unlabelled - 1)
    if k_max < 2:
        message = f"estimating k needs at least 3 unlabelled rows; got {n_unlabelled}"
        raise ValueError(message)
    # the same seeded sample of rows for every k; all rows up to SILHOUETTE_ROWS
    sample = SILHOUETTE_ROWS if n_unlabelled > SILHOUETTE_ROWS else None
    scores = {}
    # widest first: a representation that grows with k is then computed once
    for k in range(k_max, 1, -1):
        labels = model.recluster(k).labels_
        U = model.embedding_[is_unlabelled]
        scores[k] = (float(silhouette_score(U, labels, sample_size=sample, random_state=0))
                     if len(np.unique(labels)) > 1 else -1.0)
    return dict(sorted(scores.items()))
