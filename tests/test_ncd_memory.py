"""Memory: NCD that grows with the rows, runs that fit before they start, and out of memory
as a failed row (NCD and benchmark jobs), through the installed script where it counts."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tabbench.core.results import read_results
from tabbench.exceptions import TabbenchError, TabbenchWarning
from tabbench.methods.models import FitContext, get_model
from tabbench.studies.ncd import memory, run_ncd
from tabbench.studies.ncd.memory import rows_that_fit, stratified_rows

ROOT = Path(__file__).resolve().parents[1]

# --- the memory helpers --------------------------------------------------------------------------


def test_rows_that_fit_and_stratified_rows():
    assert rows_that_fit(lambda n: 10 * n, 1000, 20_000) == 1000
    assert rows_that_fit(lambda n: 10 * n, 1000, 5_005) == 500
    assert rows_that_fit(lambda n: 10 * n, 1000, 5) == 0
    y = np.repeat([0, 1, 2], [600, 300, 100])
    rows = stratified_rows(y, 100)
    assert len(rows) == 100 and np.all(np.diff(rows) > 0)
    assert np.bincount(y[rows]).tolist() == [60, 30, 10]
    np.testing.assert_array_equal(rows, stratified_rows(y, 100))  # seeded


def test_available_bytes_sees_an_address_space_limit():
    code = ("import resource; from tabbench.studies.ncd.memory import available_bytes; "
            "resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, resource.RLIM_INFINITY)); "
            "print(available_bytes())")
    found = int(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               check=True).stdout)
    assert 0 < found < 3 * 2**30


@pytest.mark.parametrize("name", ["kmeans", "ncd-kmeans", "ncd-spectral", "pbn"])
def test_every_method_states_a_memory_model_linear_in_the_rows(name):
    spec = get_model(name)
    model = spec.build({**spec.default_params, "n_novel": 3},
                       FitContext(task="ncd", n_classes=0, feature_names=(), seed=0))
    assert model.memory_model.startswith("O(n")
    small, large = (model.memory_bytes(n, 30, 7) for n in (10_000, 100_000))
    assert 0 < small < large < 12 * small  # ten times the rows: about ten times the memory
    assert large < 4 * 2**30  # 100,000 rows × 30 features within 4 GiB
    assert 0 <= model.kept_bytes(100_000, 30, 7) <= large


# --- ncd-spectral on 30,000 rows under a memory limit -------------------------------------------

SPECTRAL_30K = """
import resource, sys
import numpy as np
resource.setrlimit(resource.RLIMIT_AS, (int(2.5 * 2**30), resource.RLIM_INFINITY))
from tabbench.data.datasets.synthetic import generate
from tabbench.methods.models import FitContext, get_model
from tabbench.studies.ncd import cluster_accuracy, make_task
frame = generate("blobs", n_rows=30_300, n_classes=8, n_features=10, seed=0)
X, y = frame.drop("target").to_numpy(), frame["target"].to_numpy()
task = make_task(X, y, [5, 6, 7], seed=0, dataset="blobs", test_size=0.01)
spec = get_model("ncd-spectral")
model = spec.build({**spec.default_params, "n_novel": 3},
                   FitContext(task="ncd", n_classes=0, feature_names=(), seed=0))
model.fit(task.X, task.y)
print(len(task.X), cluster_accuracy(task.novel_labels(), model.labels_[task.is_test]),
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.slow
def test_ncd_spectral_on_30000_rows_within_2_5_gib_of_address_space():
    # the dense affinity of 30,000 rows alone is 6.7 GiB: it could not even be allocated
    done = subprocess.run([sys.executable, "-c", SPECTRAL_30K], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    n_rows, acc, peak_kib = done.stdout.split()
    assert int(n_rows) >= 30_000
    assert float(acc) >= 0.95
    assert int(peak_kib) < 2 * 2**20  # resident peak under 2 GiB


# --- a run that does not fit: sampled before it starts, or refused -------------------------------


def blobs(tmp_path, monkeypatch, n_rows=3000):
    from tabbench.data.datasets.synthetic import generate

    frame = generate("blobs", n_rows=n_rows, n_classes=6, n_features=5, separation=6.0, seed=2)
    frame.write_csv(tmp_path / "blobs6.csv")
    (tmp_path / "blobs6.toml").write_text('name = "blobs6"\ntask = "multiclass"\n'
                                          'target = "target"\npath = "blobs6.csv"\n')
    monkeypatch.setenv("TABBENCH_DATASETS", str(tmp_path))
    return "blobs6"


def test_a_method_over_the_memory_available_runs_on_a_sample_that_fits(tmp_path, monkeypatch):
    name = blobs(tmp_path, monkeypatch)
    full = run_ncd(name, [4, 5], methods=["ncd-kmeans"])[0]
    spec = get_model("ncd-kmeans")
    model = spec.build({**spec.default_params, "n_novel": 2},
                       FitContext(task="ncd", n_classes=0, feature_names=(), seed=0))
    # room for about half of the rows
    need = model.memory_bytes(full["n_train"] + full["n_test"] * 10 // 3, 5, 4)
    monkeypatch.setattr(memory, "available_bytes", lambda: int(need / 2 / memory.BUDGET_SHARE))
    monkeypatch.setattr("tabbench.studies.ncd.runner.available_bytes", memory.available_bytes)
    with pytest.warns(TabbenchWarning, match=r"ncd-kmeans: needs about .* GiB for 3,000 rows, "
                      r".* GiB available; it runs on a stratified sample of 1,\d{3} rows"):
        sampled = run_ncd(name, [4, 5], methods=["ncd-kmeans"], out=tmp_path / "out")[0]
    assert sampled["status"] == "ok" and sampled["metric_acc"] > 0.9
    assert 0.4 * full["n_train"] < sampled["n_train"] < 0.6 * full["n_train"]
    assert sampled["job_id"] != full["job_id"]  # the sample is part of the identity
    # too little for MIN_ROWS rows: refused in one line before anything is written
    monkeypatch.setattr("tabbench.studies.ncd.runner.available_bytes", lambda: 1000)
    with pytest.raises(TabbenchError, match=r"^ncd-kmeans: needs about .* for 3,000 rows, "
                       r"0.00 GiB available: fewer than 500 rows would fit"):
        run_ncd(name, [4, 5], methods=["ncd-kmeans"], out=tmp_path / "refused")
    assert not (tmp_path / "refused" / "results").exists()


def test_max_rows_is_a_stratified_sample_shared_by_methods_and_seeds(tabbench_script, tmp_path,
                                                                    monkeypatch):
    name = blobs(tmp_path, monkeypatch)
    code, _, err = tabbench_script("ncd", "-d", name, "--novel-classes", "4,5", "--methods",
                                     "kmeans,ncd-kmeans", "--seeds", "0,1", "--max-rows", "1200",
                                     "--out", tmp_path / "out",
                                     env={"TABBENCH_DATASETS": str(tmp_path)})
    assert code == 0, err
    rows = read_results(tmp_path / "out")
    assert rows["status"].to_list() == ["ok", "ok"]
    # 1,200 of 3,000 rows, the same for both methods: 70% of the 4 known classes' rows
    # labelled (~560), 30% of the 2 novel classes' rows scored (~120)
    assert rows["n_train"].n_unique() == 1 and 530 <= rows["n_train"][0] <= 590
    assert rows["n_test"].n_unique() == 1 and 105 <= rows["n_test"][0] <= 135
    code, _, err = tabbench_script("ncd", "-d", name, "--novel-classes", "4,5",
                                   "--max-rows", "0", env={"TABBENCH_DATASETS": str(tmp_path)})
    assert code == 2 and err.count("\n") == 1 and "--max-rows" in err


# --- out of memory: a failed row, never a traceback ----------------------------------------------

PLUGIN = '''
import os, resource, signal
import numpy as np
import tabbench


def _allocate_past_a_limit():
    """A genuine allocation failure: 8 GiB asked under a limit 256 MiB above this size."""
    size = int(open("/proc/self/status").read().split("VmSize:")[1].split()[0]) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (size + 2**28, hard))
    try:
        np.ones(2**30)
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class Hungry:
    def __init__(self, **params):
        self.params = params

    def get_params(self, deep=True):
        return dict(self.params)

    def set_params(self, **params):
        self.params.update(params)
        return self

    def fit(self, X, y):
        _allocate_past_a_limit()


class Killed(Hungry):
    def fit(self, X, y):
        os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer sends


class HungryNCD:
    def __init__(self, n_novel=2):
        self.n_novel = n_novel

    def fit(self, X, y):
        _allocate_past_a_limit()


tabbench.sklearn_model("hungry", classifier=Hungry, regressor=Hungry)
tabbench.sklearn_model("killed", classifier=Killed, regressor=Killed)
tabbench.register_model(tabbench.ModelSpec(
    name="hungry-ncd", task_types=("ncd",), family="classic",
    build=lambda params, context: HungryNCD(params.get("n_novel", 2))))
'''


@pytest.mark.slow
def test_out_of_memory_in_a_benchmark_job_is_a_failed_row(tabbench_script, tmp_path):
    plugin = tmp_path / "hungry.py"
    plugin.write_text(textwrap.dedent(PLUGIN))
    code, _, err = tabbench_script("run", "--plugin", plugin, "-d", "bikeshare", "--models",
                                     "dummy,hungry,killed", "--splits", "random", "--budget",
                                     "smoke", "--max-rows", "300", "--out", "out")
    assert code == 0, err
    assert "Traceback" not in err
    rows = {r["model"]: r for r in
            pl.read_parquet(tmp_path / "cwd" / "out" / "results" / "*.parquet")
            .iter_rows(named=True)}
    assert rows["dummy"]["status"] == "ok"
    assert rows["hungry"]["status"] == "failed"
    assert rows["hungry"]["error"].startswith("out of memory: ")
    assert "Unable to allocate 8.00 GiB" in rows["hungry"]["error"]
    assert rows["killed"]["status"] == "failed"
    assert rows["killed"]["error"] == ("the job's process died (exit code -9): killed by "
                                       "SIGKILL, as the kernel's out-of-memory killer does")


def test_out_of_memory_in_an_ncd_method_is_a_failed_row(tabbench_script, tmp_path):
    plugin = tmp_path / "hungry.py"
    plugin.write_text(textwrap.dedent(PLUGIN))
    code, _, err = tabbench_script("ncd", "--plugin", plugin, "-d", "blobs",
                                     "--novel-classes", "5,6,7", "--methods",
                                     "hungry-ncd,ncd-kmeans", "--out", "out")
    assert code == 0, err
    assert "Traceback" not in err
    assert "hungry-ncd: failed: out of memory: MemoryError: Unable to allocate 8.00 GiB" in err
    rows = {r["model"]: r for r in read_results(tmp_path / "cwd" / "out").iter_rows(named=True)}
    assert rows["hungry-ncd"]["status"] == "failed"
    assert rows["hungry-ncd"]["test_score"] is None
    assert rows["ncd-kmeans"]["status"] == "ok" and rows["ncd-kmeans"]["metric_acc"] > 0.9
