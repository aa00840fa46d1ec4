"""One fit and its scores, and tuning studies shared between processes through a stored study."""

from __future__ import annotations

import multiprocessing as mp

import numpy as np
import optuna
import polars as pl

from tabbench.data.datasets.dataset import Dataset
from tabbench.data.datasets.spec import DatasetSpec
from tabbench.data.metrics import score
from tabbench.data.splits import make_splits
from tabbench.methods.models import get_model
from tabbench.methods.preprocess import ClassicPreprocessor, prepare_data
from tabbench.methods.tuning import fit_and_score, fit_model, open_study, predict

N_ENQUEUED = 40


def _dataset(n_rows: int = 200) -> Dataset:
    rng = np.random.default_rng(0)
    x = rng.normal(size=n_rows)
    frame = pl.DataFrame({"x": x, "c": rng.choice(["a", "b"], n_rows),
                          "y": (x > 0).astype(np.int8)})
    spec = DatasetSpec(name="t", task="binary", target="y", generator="x")
    return Dataset(spec=spec, frame=frame, features={"x": "numeric", "c": "categorical"},
                   fingerprint="abc", classes=(0, 1))


def test_prepare_data_keeps_the_fitted_preprocessor_and_fit_model_is_the_jobs_fit():
    dataset = _dataset()
    split = make_splits(dataset, "random", {}, seed=0)[0]
    data = prepare_data(dataset, split, "classic", metric="roc_auc", seed=0, n_threads=1,
                        device="cpu")
    assert isinstance(data.preprocessor, ClassicPreprocessor)
    assert np.array_equal(data.preprocessor.transform(dataset.frame[split.test]), data.X_test)
    spec = get_model("linear")
    estimator, seconds = fit_model(spec, {}, data, seed=3)
    assert seconds >= 0 and estimator.device_ == "cpu"
    outcome = fit_and_score(spec, {}, data, seed=3, parts=("val", "test"))
    for part in ("val", "test"):
        X, y = data.part(part)
        assert outcome.scores[part] == score("roc_auc", y, predict(estimator, X, "binary"))


def _claim_enqueued(url: str, name: str, n_trials: int) -> None:
    """Run ``n_trials`` trials of the shared study; each takes the next enqueued one."""
    study = open_study("maximize", storage=url, study_name=name)
    study.optimize(lambda trial: float(trial.suggest_int("x", 0, 10 * N_ENQUEUED)),
                   n_trials=n_trials)


def test_processes_sharing_a_sqlite_study_each_claim_a_waiting_trial_once(tmp_path):
    # SQLite ignores SELECT ... FOR UPDATE, so two processes could both read a trial as
    # waiting, both run it, and the second one's tell fails ("Cannot tell a COMPLETE trial")
    url = f"sqlite:///{tmp_path}/optuna.db"
    study = open_study("maximize", storage=url, study_name="race")  # enqueues the default
    for x in range(1, N_ENQUEUED):
        study.enqueue_trial({"x": x})
    context = mp.get_context("forkserver")
    workers = [context.Process(target=_claim_enqueued, args=(url, "race", N_ENQUEUED // 2))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    assert [worker.exitcode for worker in workers] == [0, 0]
    trials = optuna.load_study(study_name="race", storage=url).trials
    assert len(trials) == N_ENQUEUED
    assert {t.state for t in trials} == {optuna.trial.TrialState.COMPLETE}
    assert sorted(t.params["x"] for t in trials[1:]) == list(range(1, N_ENQUEUED))
