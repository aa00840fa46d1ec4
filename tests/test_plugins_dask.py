"""Plugins on a real Dask ``LocalCluster`` with two workers: the ``tabbench run --plugin``
of the issue, and a plugin file that travels with the job (the workers run the bytes the
driver hashed, whatever the file holds now)."""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

import tabbench
from tabbench.core import _plugin_loader
from tabbench.execution.config import load_config
from tabbench.execution.runner import run_benchmark

dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
MY_MODELS = (Path(__file__).parent / "test_plugins_cli.py").read_text().split('MY_MODELS = """')[1] \
    .split('"""')[0]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scheduler():
    """Two single-threaded worker processes that may start child processes."""
    with (dask.config.set({"distributed.worker.daemon": False}),
          distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                   dashboard_address=None) as cluster):
        yield cluster.scheduler_address


def test_run_with_a_plugin_on_two_dask_workers(tabbench_script, tmp_path, scheduler):
    (tmp_path / "cwd" / "my_models.py").write_text(MY_MODELS)
    code, out, err = tabbench_script(
        "run", "--plugin", "my_models.py", "-d", "bikeshare", "--models",
        "dummy,lightgbm,extra-trees", "--budget", "smoke", "--scheduler", scheduler,
        "--max-rows", "1500", "--out", "out")
    assert code == 0, err
    assert "6 jobs planned, 0 already done, 6 ok" in out
    rows = pl.read_parquet(tmp_path / "cwd" / "out" / "results" / "*.parquet")
    assert sorted(rows.filter(model="extra-trees")["split_id"]) == ["random-0", "time-0"]


def test_a_plugin_file_travels_with_the_job(tmp_path, scheduler):
    plugin = tmp_path / "shipped.py"
    plugin.write_text(textwrap.dedent("""
        import tabbench
        from sklearn.dummy import DummyClassifier
        tabbench.sklearn_model("shipped-model", classifier=DummyClassifier)
    """))
    sha = _plugin_loader.file_sha256(plugin.read_bytes())
    [loaded] = tabbench.load_plugins([plugin])
    try:
        plugin.write_text("raise RuntimeError('the workers must not read this file')\n")
        config = replace(load_config(ROOT / "configs" / "smoke.toml"), out=tmp_path / "out",
                         models=("shipped-model",), executor="dask", scheduler=scheduler,
                         threads=1, max_rows=300)
        summary = run_benchmark(config)
    finally:
        _plugin_loader.forget(loaded)
    assert summary.counts == {"ok": 2}
    rows = tabbench.read_results(tmp_path / "out")
    assert {json.loads(v)["plugins"]["shipped.py"] for v in rows["versions"]} == {f"sha256:{sha}"}
