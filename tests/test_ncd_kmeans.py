"""NCD k-means as PracticalNCD defines it: the known-class centroids steer the seeding only,
and restarts keep the least inertia on the unlabelled rows (docs/ncd.md quotes the code)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from tabbench.methods.models.ncd import _class_means, _sq_dist, _standardize, ncd_kmeans
from tabbench.studies.ncd import cluster_accuracy, make_task
from tabbench.studies.ncd.memory import stratified_rows
from tabbench.studies.ncd.task import load_ncd_data

PORTAL = Path(__file__).resolve().parents[1] / "datasets/data/temporal/portal-rodents.parquet"


def test_novel_seeds_are_drawn_away_from_the_known_centroids():
    # unlabelled rows at two places: on top of the known centroid (distance 0, never drawn
    # by the authors' rule, p ∝ distance to the nearest centroid) and 10 away from it
    U = np.vstack([np.zeros((50, 2)), np.full((50, 2), 10.0)])
    for seed in range(5):
        _, centers, _ = ncd_kmeans(U, np.zeros((1, 2)), 1, n_init=1, max_iter=0, seed=seed)
        np.testing.assert_array_equal(centers, [[10.0, 10.0]])


def test_restarts_keep_the_least_inertia_on_the_unlabelled_rows():
    rng = np.random.default_rng(0)
    U = np.vstack([rng.normal(c, 1.0, size=(60, 2)) for c in ((0, 0), (6, 0), (0, 6))])
    known = np.array([[20.0, 20.0]])
    singles = [ncd_kmeans(U, known, 3, n_init=1, seed=s)[2] for s in range(10)]
    labels, centers, inertia = ncd_kmeans(U, known, 3, n_init=10, seed=0)
    assert inertia <= min(singles) + 1e-9
    assert inertia == pytest.approx(_sq_dist(U, centers).min(1).sum())
    assert len(np.unique(labels)) == 3


@pytest.mark.skipif(not PORTAL.exists(), reason="suite data not built "
                    "(tabbench datasets build-suite temporal)")
def test_on_portal_rodents_the_seeding_finds_the_genera_and_the_inertia_rule_drops_them():
    X, y = load_ncd_data("portal-rodents")
    rows = stratified_rows(y, 20_000)
    task = make_task(X[rows], y[rows], [2, 5, 8], seed=0, dataset="portal-rodents")
    Z = _standardize(task.X)
    U, known = Z[task.y < 0], _class_means(Z, task.y)
    truth = task.novel_labels()

    def acc(labels):
        return cluster_accuracy(truth, labels[task.is_test])

    # one start each: seeded away from the known genera, NCD k-means finds the novel ones
    # (ACC 0.85) where k-means++ does not; that partition has the larger inertia
    single, _, single_inertia = ncd_kmeans(U, known, 3, n_init=1, seed=0)
    plain = KMeans(3, n_init=1, random_state=0).fit(U)
    assert acc(single) > 0.8 > acc(plain.labels_) + 0.2
    # ten starts, the least inertia kept (the authors' rule): both end at one partition,
    # with ACC 0.47, whatever the known classes say
    best, _, best_inertia = ncd_kmeans(U, known, 3, n_init=10, seed=0)
    plain = KMeans(3, n_init=10, random_state=0).fit(U)
    assert best_inertia < single_inertia
    assert best_inertia == pytest.approx(plain.inertia_, rel=1e-6)
    assert adjusted_rand_score(best, plain.labels_) == 1.0
    assert acc(best) < 0.5
