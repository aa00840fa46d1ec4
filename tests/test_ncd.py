"""Novel class discovery: metrics, task setup, the tuning guard, every method, the CLI."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest

from tabbench.analysis.leaderboard import is_ncd, ncd_table, task_scores
from tabbench.core.results import read_results
from tabbench.exceptions import TabbenchError
from tabbench.methods.models import FitContext, get_model
from tabbench.studies.ncd import (
    NovelLabelLeak,
    cluster_accuracy,
    estimate_k,
    make_task,
    ncd_scores,
    tune_ncd,
    tuning_guard,
)
from tabbench.studies.ncd.runner import ncd_methods, run_ncd
from tabbench.studies.ncd.task import load_ncd_data

METHODS = ["kmeans", "ncd-kmeans", "ncd-spectral", "pbn"]

def blobs_task(seed: int = 0):
    from tabbench.data.datasets.synthetic import generate

    frame = generate("blobs", n_rows=300, n_classes=5, n_features=4, separation=6.0, seed=1)
    X, y = frame.drop("target").to_numpy(), frame["target"].to_numpy()
    return make_task(X, y, [3, 4], seed=seed, dataset="blobs")


def build(name: str, n_novel: int, seed: int = 0):
    spec = get_model(name)
    params = {**spec.default_params, "n_novel": n_novel}
    return spec.build(params, FitContext(task="ncd", n_classes=0, feature_names=(), seed=seed))


# --- metrics ---------------------------------------------------------------------------------


def test_cluster_accuracy_matches_clusters_to_classes():
    assert cluster_accuracy(np.array([0, 0, 1, 1]), np.array([5, 5, 2, 2])) == 1.0
    assert cluster_accuracy(np.array([0, 0, 1, 1]), np.array([1, 1, 1, 0])) == 0.75
    scores = ncd_scores(np.array([0, 0, 1, 1]), np.array([1, 1, 0, 0]))
    assert scores == {"acc": 1.0, "nmi": 1.0, "ari": 1.0}
    with pytest.raises(ValueError, match="1-D of one length"):
        cluster_accuracy(np.array([0, 1]), np.array([0]))


# --- task and guard ----------------------------------------------------------------------------


def test_task_hides_novel_labels_and_guard_refuses_them():
    task = blobs_task()
    assert task.novel_classes == (3, 4) and task.known_classes == (0, 1, 2)
    assert set(np.unique(task.y)) == {-1, 0, 1, 2}
    X_known, y_known = task.known_view()
    assert set(np.unique(y_known)) == {0, 1, 2} and len(X_known) == len(y_known)
    assert set(np.unique(task.novel_labels())) == {3, 4}
    with tuning_guard(), pytest.raises(NovelLabelLeak, match="tuning tried to read the labels"):
        task.novel_labels()
    task.novel_labels()  # readable again once tuning is over


def test_task_rejects_bad_novel_classes():
    X, y = np.zeros((6, 2)), np.array([0, 0, 1, 1, 2, 2])
    with pytest.raises(TabbenchError, match=r"proper subset of the classes \[0, 1, 2\]; got \[7\]"):
        make_task(X, y, [7])


def test_tuning_cannot_read_novel_labels():
    task = blobs_task()
    spec = get_model("ncd-kmeans")
    best, score, study = tune_ncd(spec, task, n_trials=3)
    assert 0.5 <= score <= 1.0 and set(best) == {"n_init"} and len(study.trials) == 3
    # other novel labels change nothing: tuning never saw them
    blanked = replace(task, _novel=np.zeros_like(task._novel))
    assert tune_ncd(spec, blanked, n_trials=3)[:2] == (best, score)

    # and a method that tries to read them during tuning is stopped
    def snooping(params, context):
        task.novel_labels()
        return spec.build(params, context)

    with pytest.raises(NovelLabelLeak, match="tuning may only use known-class rows"):
        tune_ncd(replace(spec, build=snooping), task, n_trials=1)


# --- conformance: every NCD method -------------------------------------------------------------


def test_every_ncd_method_is_registered():
    assert set(METHODS) <= set(ncd_methods())
    for name in METHODS:
        assert get_model(name).family == "ncd"


@pytest.mark.parametrize("name", METHODS)
def test_ncd_method_conformance(name):
    task = blobs_task()
    model = build(name, task.n_novel)
    assert model.fit(task.X, task.y) is model
    n_unlabelled = int((task.y < 0).sum())
    assert model.labels_.shape == (n_unlabelled,)
    assert set(np.unique(model.labels_)) <= set(range(task.n_novel))
    assert model.embedding_.shape[0] == len(task.X)
    assert np.isfinite(model.embedding_).all()
    acc = cluster_accuracy(task.novel_labels(), model.labels_[task.is_test])
    assert acc >= 0.9, (name, acc)
    again = build(name, task.n_novel).fit(task.X, task.y)
    np.testing.assert_array_equal(again.labels_, model.labels_)  # deterministic for a seed
    k_hat, scores = estimate_k(model, k_max=4)
    assert set(scores) == {2, 3, 4} and k_hat in scores
    assert len(np.unique(model.labels_)) == k_hat
    with pytest.raises(ValueError, match="n_novel must be in"):
        build(name, n_unlabelled + 1).fit(task.X, task.y)


@pytest.mark.parametrize("name", ["ncd-kmeans", "ncd-spectral"])
def test_estimate_k_ignores_the_k_the_model_was_fitted_with(name):
    # usable instead of a given k: each candidate is judged in the representation the
    # method builds for it (ncd-spectral: n_known + k eigenvectors), not the fitted one
    task = blobs_task()
    estimates = [estimate_k(build(name, n_novel).fit(task.X, task.y), k_max=5)
                 for n_novel in (2, 4)]
    assert estimates[0][0] == estimates[1][0] == task.n_novel
    assert estimates[0][1] == pytest.approx(estimates[1][1], abs=1e-9)


# --- done-when on digits -----------------------------------------------------------------------


def test_ncd_kmeans_on_digits_reaches_090():
    rows = run_ncd("digits", [0, 3, 5, 6, 7], methods=["ncd-kmeans"], seeds=[0, 1])
    assert rows[0]["metric_acc"] >= 0.90, rows[0]["metric_acc"]


def test_pbn_on_digits_reaches_090():
    rows = run_ncd("digits", [0, 3, 5, 6, 7], methods=["pbn"], seeds=[0, 1])
    assert rows[0]["metric_acc"] >= 0.90, rows[0]["metric_acc"]


def test_ncd_kmeans_estimates_five_novel_classes_on_digits():
    rows = run_ncd("digits", [0, 3, 5, 6, 7], methods=["ncd-kmeans"], seeds=[0, 1],
                   estimate=True, k_max=8)
    assert rows[0]["metric_k_hat"] == 5
    assert rows[0]["metric_acc"] >= 0.90


def test_ncd_spectral_estimates_five_novel_classes_on_digits_on_every_seed():
    X, y = load_ncd_data("digits")
    for seed in (0, 1):
        task = make_task(X, y, [0, 3, 5, 6, 7], seed=seed, dataset="digits")
        # fitted with the true k, as the runner does: the estimate must not lean on it
        model = build("ncd-spectral", task.n_novel, seed).fit(task.X, task.y)
        k_hat, scores = estimate_k(model, k_max=8)
        assert k_hat == 5, (seed, scores)
        assert cluster_accuracy(task.novel_labels(), model.labels_[task.is_test]) >= 0.95


@pytest.mark.slow
def test_pbn_estimate_averages_the_curves_of_five_fits_on_digits():
    from tabbench.studies.ncd.estimate import ESTIMATE_FITS, estimate_k_averaged

    X, y = load_ncd_data("digits")
    task = make_task(X, y, [0, 3, 5, 6, 7], seed=1, dataset="digits")
    models = [build("pbn", task.n_novel, fit_seed).fit(task.X, task.y)
              for fit_seed in [1] + [1000 + r for r in range(1, ESTIMATE_FITS)]]
    single, _ = estimate_k(models[0], k_max=8)
    k_hat, scores = estimate_k_averaged(models, k_max=8)
    assert single == 6  # this fit's latent splits digit 5 in two
    assert k_hat == 5, scores
    assert cluster_accuracy(task.novel_labels(), models[0].labels_[task.is_test]) >= 0.90


# --- CLI and leaderboard -----------------------------------------------------------------------


def test_cli_ncd_writes_rows_kept_out_of_rankings(cli, tmp_path):
    code, out, err = cli("ncd", "--dataset", "blobs", "--novel-classes", "5,6,7",
                         "--methods", "kmeans,ncd-kmeans", "--seeds", "0,1", "--out", tmp_path)
    assert code == 0, err
    results = read_results(tmp_path)
    assert results.height == 2 and set(results["task"]) == {"ncd"}
    assert {"metric_acc", "metric_nmi", "metric_ari", "metric_k_hat"} <= set(results.columns)
    assert results.filter(is_ncd()).height == 2
    assert task_scores(results).is_empty()
    table = ncd_table(results)
    assert table["model"].to_list() == ["kmeans", "ncd-kmeans"]
    assert (table["metric_acc"] == pl.Series([*results.sort("model")["test_score"]])).all()
    code, out, _ = cli("leaderboard", tmp_path)
    assert code == 0 and "Novel class discovery" in out
    code, _, err = cli("ncd", "--dataset", "blobs", "--novel-classes", "5,6,7", "--methods",
                       "ncd-kmeans", "--n-trials", "2", "--estimate-k", "--out", tmp_path)
    assert code == 0, err
    tuned = read_results(tmp_path).filter(pl.col("variant") == "tuned-k-estimated")
    assert tuned.height == 1 and tuned["n_trials"].item() == 2
    assert tuned["metric_k_hat"].item() >= 2


def test_cli_ncd_errors_are_one_line(cli):
    code, _, err = cli("ncd", "--dataset", "nope", "--novel-classes", "1")
    assert code == 2 and "digits" in err
    code, _, err = cli("ncd", "--dataset", "digits", "--novel-classes", "1",
                       "--methods", "lightgbm")
    assert code == 2 and "not an NCD method" in err
    code, _, err = cli("ncd", "--dataset", "digits", "--novel-classes", "0,42")
    assert code == 2 and "proper subset" in err


def test_builtin_data():
    X, y = load_ncd_data("digits")
    assert X.shape == (1797, 64) and set(np.unique(y)) == set(range(10))


def test_registered_classification_dataset_can_be_used(tmp_path, monkeypatch):


    rng = np.random.default_rng(0)
    centers = rng.normal(0, 6, size=(4, 3))
    labels = np.repeat(["ant", "bee", "cat", "dog"], 60)
    points = centers[np.repeat(np.arange(4), 60)] + rng.normal(size=(240, 3))
    frame = pl.DataFrame({"a": points[:, 0], "b": points[:, 1], "c": points[:, 2], "y": labels})
    frame.write_csv(tmp_path / "pets.csv")
    (tmp_path / "pets.toml").write_text('name = "pets"\ntask = "multiclass"\ntarget = "y"\n'
                                        'path = "pets.csv"\n')
    monkeypatch.setenv("TABBENCH_DATASETS", str(tmp_path))
    X, y = load_ncd_data("pets")
    assert X.shape == (240, 3) and sorted(set(y.tolist())) == [0, 1, 2, 3]
    with pytest.raises(TabbenchError, match="unknown NCD dataset 'nope'"):
        load_ncd_data("nope")
    with pytest.raises(TabbenchError, match="regression dataset"):
        load_ncd_data("bikeshare")
