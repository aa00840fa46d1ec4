"""Statistics over leaderboards: ranks with ties (more in later issues)."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def rank_scores(scores: np.ndarray, *, maximize: bool) -> np.ndarray:
    """Rank 1 = best; ties share the mean of their ranks; NaN scores rank last.

    Examples
    --------
    >>> rank_scores(np.array([0.9, 0.7, 0.9]), maximize=True).tolist()
    [1.5, 3.0, 1.5]
    """
    scores = np.asarray(scores, dtype=float)
    signed = -scores if maximize else scores
    signed = np.where(np.isnan(signed), np.inf, signed)
    return rankdata(signed, method="average")
