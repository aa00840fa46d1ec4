"""Tuning studies shared between processes through a stored Optuna study."""

from __future__ import annotations

import multiprocessing as mp

import optuna

from tabbench.tuning import open_study

N_ENQUEUED = 40


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
