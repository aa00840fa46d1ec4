"""The Dask executor on a real ``LocalCluster``: same rows as local, lost workers, time
limits, a killed driver, and trials of one study shared between workers (SQLite and a real
PostgreSQL server when ``.ci/run`` started one).

The tests that kill a worker come last: a restarted worker starts cold (its forkserver
imports the libraries again), which would let the other worker take every trial of a
shared study before it is ready.
"""

from __future__ import annotations

import os
import signal
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from tabbench.core.predictions import read_predictions
from tabbench.core.results import read_results
from tabbench.core.schema import TIMING_COLUMNS
from tabbench.exceptions import ConfigError
from tabbench.execution.config import BUDGETS, load_config
from tabbench.execution.runner import run_benchmark

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
POSTGRES = os.environ.get("TABBENCH_TEST_POSTGRES")


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes that may start child processes."""
    # the setting must hold while the cluster lives: a nanny reads it when it restarts a worker
    with (dask.config.set({"distributed.worker.daemon": False}),
          distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None) as local,
          distributed.Client(local) as client):
        yield local, client


def smoke(out: Path, scheduler: str, **changes):
    config = load_config(ROOT / "configs" / "smoke.toml")
    return replace(config, out=out, executor="dask", scheduler=scheduler, threads=1, **changes)


def test_dask_run_gives_the_rows_of_a_local_run(cluster, tmp_path):
    local_cluster, _ = cluster
    summary = run_benchmark(smoke(tmp_path / "dask", local_cluster.scheduler_address))
    assert summary.counts == {"ok": 6}
    local = replace(smoke(tmp_path / "local", local_cluster.scheduler_address),
                    executor="local", scheduler=None, jobs=2)
    run_benchmark(local)
    on_dask = read_results(tmp_path / "dask").drop(TIMING_COLUMNS).sort("job_id")
    on_local = read_results(tmp_path / "local").drop(TIMING_COLUMNS).sort("job_id")
    assert on_dask.equals(on_local)
    # workers send the predictions back with the row; the driver writes the same files
    stored = {name: read_predictions(tmp_path / name).sort("job_id", "part", "row")
              for name in ("dask", "local")}
    assert stored["dask"]["job_id"].n_unique() == 6 and stored["dask"].equals(stored["local"])


def test_dask_executor_without_scheduler_starts_its_own_cluster(tmp_path):
    config = replace(smoke(tmp_path, None, models=("dummy",), splits=("random",)), jobs=2)
    assert config.executor == "dask" and config.scheduler is None
    summary = run_benchmark(config)
    assert summary.counts == {"ok": 1}
    assert read_results(tmp_path)["status"].to_list() == ["ok"]


def test_job_over_its_time_limit_becomes_timeout_row_on_dask(cluster, tmp_path):
    local_cluster, _ = cluster
    config = smoke(tmp_path, local_cluster.scheduler_address, models=("lightgbm",),
                   splits=("random",), time_limit=0.05)
    summary = run_benchmark(config)
    assert summary.counts == {"timeout": 1}
    assert read_results(tmp_path)["error"].str.contains("time limit").all()


def _shared_tuning(tmp_path: Path, scheduler: str, storage: str) -> tuple[dict, pl.DataFrame]:
    """Tune one LightGBM job with 8 trials on 2 workers; return its row and trials table."""
    budget = replace(BUDGETS.get("smoke"), name="smoke-8", n_trials=8, n_trials_gbdt=8)
    config = smoke(tmp_path, scheduler, models=("lightgbm",), splits=("random",),
                   budget=budget, storage=storage, tuning_workers=2)
    summary = run_benchmark(config)
    assert summary.counts == {"ok": 1}
    row = read_results(tmp_path).row(0, named=True)
    trials = pl.read_parquet(tmp_path / "trials" / f"{row['job_id']}.parquet")
    assert trials["is_default"].sum() == 1
    assert row["val_score"] == trials.filter(pl.col("state") == "complete")["value"].max()
    return row, trials


def test_two_workers_tune_one_sqlite_study(cluster, tmp_path):
    row, trials = _shared_tuning(tmp_path, cluster[0].scheduler_address,
                                 f"sqlite:///{tmp_path}/optuna.db")
    assert row["n_trials"] == trials.height == 8
    assert trials["worker"].n_unique() == 2  # both tuning workers took trials of the study


@pytest.mark.skipif(not POSTGRES, reason="no PostgreSQL server: .ci/run starts one and sets "
                                         "TABBENCH_TEST_POSTGRES")
def test_two_workers_tune_one_postgresql_study(cluster, tmp_path):
    import optuna

    storage = optuna.storages.RDBStorage(POSTGRES)
    for study in optuna.get_all_study_summaries(storage):  # each test run starts clean
        optuna.delete_study(study_name=study.study_name, storage=storage)
    row, trials = _shared_tuning(tmp_path, cluster[0].scheduler_address, POSTGRES)
    assert row["n_trials"] == trials.height == 8
    assert trials["worker"].n_unique() == 2


def test_shared_tuning_needs_dask_and_a_shared_storage():
    config = load_config(ROOT / "configs" / "smoke.toml")
    with pytest.raises(ConfigError, match=r"^tuning_workers set to 2 needs executor 'dask' and "
                                          r"a shared Optuna storage") as error:
        config.override(tuning_workers=2)
    assert error.value.parameter == "tuning_workers"  # the CLI prints it as --tuning-workers
    with pytest.raises(ConfigError, match="needs executor 'dask'"):
        replace(config, scheduler="tcp://127.0.0.1:8786").validate("x")
    assert config.override(scheduler="tcp://127.0.0.1:8786").executor == "dask"


def test_unreachable_scheduler_is_one_line_error(cli, tmp_path):
    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        code, _, err = cli("run", ROOT / "configs" / "smoke.toml", "--out", tmp_path,
                           "--scheduler", "tcp://127.0.0.1:9")
    assert code == 2
    assert "tcp://127.0.0.1:9: cannot connect to a Dask scheduler" in err
    assert "Traceback" not in err


def test_jobs_of_a_killed_worker_are_run_again(cluster, tmp_path):
    local_cluster, client = cluster
    config = smoke(tmp_path, local_cluster.scheduler_address,
                   models=("dummy", "linear", "random-forest", "lightgbm"))
    pids_before = set(client.run(os.getpid).values())
    kill = _kill_a_busy_worker(client)
    summary = run_benchmark(config, on_result=kill)
    killed = kill.killed
    assert killed, "no worker was busy when the first result came back"
    assert summary.counts == {"ok": summary.planned} and summary.planned == 8
    results = read_results(tmp_path)
    assert results.height == 8 and results["job_id"].n_unique() == 8
    assert set(results["status"]) == {"ok"}
    client.wait_for_workers(2, timeout=60)  # the nanny started a new worker process
    assert killed[0] in pids_before and killed[0] not in set(client.run(os.getpid).values())


def _kill_a_busy_worker(client) -> list[int]:
    """An ``on_result`` callback that SIGKILLs, once, a worker that has a job to run."""
    killed: list[int] = []

    def callback(job, row) -> None:
        busy = [address for address, tasks in client.processing().items() if tasks]
        if busy and not killed:
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            killed.append(pid)
            os.kill(pid, signal.SIGKILL)

    callback.killed = killed
    return callback


def test_job_that_keeps_losing_its_worker_becomes_failed_row(tmp_path):
    # a scheduler that allows no lost worker per task: the first loss is final
    with (dask.config.set({"distributed.worker.daemon": False,
                           "distributed.scheduler.allowed-failures": 0}),
          distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None) as local,
          distributed.Client(local) as client):
        kill = _kill_a_busy_worker(client)
        config = smoke(tmp_path, local.scheduler_address, splits=("random",),
                       models=("dummy", "linear", "lightgbm", "random-forest"))
        summary = run_benchmark(config, on_result=kill)
    assert kill.killed
    assert summary.counts["failed"] >= 1 and sum(summary.counts.values()) == 4
    failed = read_results(tmp_path).filter(pl.col("status") == "failed")
    assert failed["error"].str.contains("lost with its Dask worker").all()
    assert failed["error"].str.contains("KilledWorker").all()


@pytest.mark.slow
def test_killed_driver_resumes_on_the_same_cluster(cluster, kill_driver_and_resume):
    results = kill_driver_and_resume("--scheduler", cluster[0].scheduler_address,
                                     "--threads", "1")
    assert results.height == results["job_id"].n_unique() == 8
    assert set(results["status"]) == {"ok"}
