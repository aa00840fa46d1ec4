"""One result schema per run folder: every producer writes exactly the declared columns."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import warnings
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from tabbench.analysis.leaderboard import ncd_table, surrogate_table, task_scores
from tabbench.core.results import read_results, upgrade_results, write_result
from tabbench.core.schema import KINDS, METRIC_COLUMNS, RESULT_SCHEMA, result_frame
from tabbench.exceptions import TabbenchWarning

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tabbench"

#: The 29 columns of result files written before ``kind`` and the declared metrics.
OLD_COLUMNS = [c for c in RESULT_SCHEMA if c != "kind" and c not in METRIC_COLUMNS]


def _row(**changes) -> dict:
    row = {"run": "r", "kind": "benchmark", "job_id": "j1", "dataset": "d", "task": "binary",
           "split_strategy": "random", "split_id": "random-0", "model": "linear",
           "variant": "tuned", "seed": 0, "status": "ok", "metric": "roc_auc",
           "test_score": 0.75, "started_at": datetime(2024, 1, 2, tzinfo=UTC)}
    return {**row, **changes}


# --- result_frame --------------------------------------------------------------------------


def test_result_frame_has_exactly_the_declared_columns_in_order() -> None:
    frame = result_frame([_row(), _row(job_id="j2", kind="ncd", task="ncd", metric_acc=0.5)])
    assert frame.columns == list(RESULT_SCHEMA)
    assert frame.schema == pl.Schema(RESULT_SCHEMA)
    assert frame.columns[:3] == ["run", "kind", "job_id"]
    # the extra metrics sit between test_score_std and n_trials, all nullable Float64
    start = frame.columns.index("test_score_std") + 1
    assert frame.columns[start:start + len(METRIC_COLUMNS)] == list(METRIC_COLUMNS)
    assert frame.columns[start + len(METRIC_COLUMNS)] == "n_trials"
    assert all(dtype == pl.Float64 for dtype in METRIC_COLUMNS.values())
    assert all(name.startswith("metric_") for name in METRIC_COLUMNS)
    assert frame["metric_acc"].to_list() == [None, 0.5]
    assert frame["metric_fidelity"].to_list() == [None, None]
    # the same columns with no rows, and for a row of each kind
    assert result_frame([]).columns == list(RESULT_SCHEMA)
    assert result_frame([_row(kind=kind) for kind in KINDS]).columns == list(RESULT_SCHEMA)


def test_result_frame_rejects_undeclared_columns_and_kinds() -> None:
    with pytest.raises(ValueError, match=r"outside the schema: \['metric_bogus'\]"):
        result_frame([_row(), _row(metric_bogus=1.0)])
    with pytest.raises(ValueError, match=r"outside the schema: \['colour'\]"):
        result_frame([_row(colour="red")])
    with pytest.raises(ValueError, match="must have a kind, one of benchmark, ensemble, "
                                         "surrogate, ncd; found: None"):
        result_frame([{k: v for k, v in _row().items() if k != "kind"}])
    with pytest.raises(ValueError, match="found: surrogates"):
        result_frame([_row(kind="surrogates")])


def test_every_metric_column_the_package_names_is_declared() -> None:
    """A ``metric_<name>`` key written (or read) anywhere in the package is in the schema."""
    pattern = re.compile(r"""["']metric_([a-z_]+)["']|\bmetric_([a-z_]+)=""")
    not_columns = {"metric_names"}  # tabbench.data.metrics' __all__
    found: dict[str, str] = {}
    for file in PACKAGE.rglob("*.py"):
        if file.name == "schema.py":
            continue
        for match in pattern.finditer(file.read_text()):
            found[f"metric_{match.group(1) or match.group(2)}"] = str(file.relative_to(ROOT))
    undeclared = {name: where for name, where in found.items()
                  if name not in METRIC_COLUMNS and name not in not_columns}
    assert not undeclared
    assert {"metric_fidelity", "metric_acc", "metric_top_k"} <= set(found)


# --- every producer, read back by polars, pandas and DuckDB --------------------------------

_READER = textwrap.dedent("""
    import json, sys
    import duckdb
    import pandas as pd
    import polars as pl

    out = {}
    for folder in sys.argv[1:]:
        glob = f"{folder}/*.parquet"
        frames = {
            "polars": pl.read_parquet(glob),
            "pandas": pd.read_parquet(folder),
            "duckdb": duckdb.sql(f"select * from read_parquet('{glob}')").pl(),
        }
        out[folder] = {name: [len(f), list(f.columns)] for name, f in frames.items()}
        out[folder]["kinds"] = sorted(set(frames["polars"]["kind"]))
    out["tabbench_imported"] = any(m.split(".")[0] == "tabbench" for m in sys.modules)
    print(json.dumps(out))
""")


def test_every_command_writes_one_schema_that_polars_pandas_and_duckdb_read(
        tmp_path: Path, tabbench_script) -> None:
    run_dir, features_dir = tmp_path / "run", tmp_path / "features"
    commands = [
        ("run", ROOT / "configs" / "smoke.toml", "--models", "dummy,linear", "--dataset",
         "bikeshare", "--splits", "random", "--out", run_dir),
        ("explain", "-d", "bikeshare", "-m", "linear", "--out", run_dir, "--split", "random-0",
         "--max-rows", "2000"),
        ("ncd", "--dataset", "digits", "--novel-classes", "0,3", "--methods", "kmeans",
         "--out", run_dir),
        ("rank-features", "bikeshare", "--evaluate", "--models", "dummy", "--k", "3",
         "--budget", "smoke", "--max-rows", "2000", "--out", features_dir),
    ]
    for args in commands:
        code, out, err = tabbench_script(*args)
        assert code == 0, f"tabbench {args[0]}: {err or out}"

    folders = [str(run_dir / "results"), str(features_dir / "results")]
    finished = subprocess.run([sys.executable, "-c", _READER, *folders], capture_output=True,
                              text=True, timeout=120, cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    read = json.loads(finished.stdout)
    assert read.pop("tabbench_imported") is False
    expected_rows = {folders[0]: 4, folders[1]: 2}  # 2 jobs + 1 surrogate + 1 NCD; 2 jobs
    for folder in folders:
        for reader in ("polars", "pandas", "duckdb"):
            n_rows, columns = read[folder][reader]
            assert n_rows == expected_rows[folder], (folder, reader)
            assert columns == list(RESULT_SCHEMA), (folder, reader)
    assert read[folders[0]]["kinds"] == ["benchmark", "ncd", "surrogate"]
    assert read[folders[1]]["kinds"] == ["benchmark"]

    # the kind column keeps surrogates and NCD methods out of the ranking
    results = read_results(run_dir)
    assert sorted(task_scores(results)["entry"]) == ["dummy", "linear"]
    assert surrogate_table(results)["model"].to_list() == ["surrogate:linear"]
    assert ncd_table(results)["model"].to_list() == ["kmeans"]


# --- older run folders ---------------------------------------------------------------------


def _write_old(path: Path, frame: pl.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)


def test_upgrade_results_rewrites_older_files_into_the_schema(tmp_path: Path) -> None:
    results = tmp_path / "results"
    new = result_frame([_row(job_id="current", n_trials=3)])
    old = new.select(OLD_COLUMNS)
    # a 29-column benchmark file, and older surrogate and NCD files with their own metrics
    _write_old(results / "old.parquet", old.with_columns(pl.lit("old").alias("job_id")))
    _write_old(results / "surrogate.parquet", old.with_columns(
        pl.lit("surrogate").alias("job_id"), pl.lit("surrogate:linear").alias("model"),
        pl.lit(0.9).alias("metric_fidelity"), pl.lit(7.0).alias("metric_n_rules")))
    _write_old(results / "ncd.parquet", old.with_columns(
        pl.lit("ncd").alias("job_id"), pl.lit("ncd").alias("task"),
        pl.lit(0.8).alias("metric_acc")))
    write_result(tmp_path, _row(job_id="current", n_trials=3), None)
    (results / "damaged.parquet").write_bytes(b"not parquet")
    readable = sorted(str(f) for f in results.glob("*.parquet") if f.stem != "damaged")
    before = {f.name: f.stat().st_mtime_ns for f in results.iterdir()}
    with pytest.raises(pl.exceptions.PolarsError):  # the problem: one read of them all fails
        pl.read_parquet(readable)

    assert upgrade_results(tmp_path) == 3
    after = {f.name: f.stat().st_mtime_ns for f in results.iterdir()}
    assert after["current.parquet"] == before["current.parquet"]  # already in the schema
    assert (results / "damaged.parquet").read_bytes() == b"not parquet"  # left alone
    assert not list(results.glob(".*.tmp"))
    frame = pl.read_parquet(readable).sort("job_id")
    assert frame.columns == list(RESULT_SCHEMA) and frame.schema == pl.Schema(RESULT_SCHEMA)
    assert frame["job_id"].to_list() == ["current", "ncd", "old", "surrogate"]
    assert frame["kind"].to_list() == ["benchmark", "ncd", "benchmark", "surrogate"]
    assert frame["metric_fidelity"].to_list() == [None, None, None, 0.9]
    assert frame["metric_acc"].to_list() == [None, 0.8, None, None]
    # the other values of the 29-column file are kept as they were
    upgraded = frame.filter(pl.col("job_id") == "old").select(OLD_COLUMNS).drop("job_id")
    assert upgraded.equals(old.drop("job_id"))
    assert upgrade_results(tmp_path) == 0  # nothing left to do
    assert upgrade_results(tmp_path / "missing") == 0


def test_upgrade_results_leaves_files_with_undeclared_columns_alone(tmp_path: Path) -> None:
    path = tmp_path / "results" / "odd.parquet"
    _write_old(path, result_frame([_row()]).with_columns(pl.lit(1.0).alias("metric_new")))
    data = path.read_bytes()
    with pytest.warns(TabbenchWarning, match=r"odd.parquet: columns \['metric_new'\] are not "
                                             "in the result schema"):
        assert upgrade_results(tmp_path) == 0
    assert path.read_bytes() == data


def test_rankings_of_a_folder_not_yet_upgraded_infer_the_kind(tmp_path: Path) -> None:
    old = result_frame([_row(), _row(job_id="j2", model="surrogate:linear"),
                        _row(job_id="j3", task="ncd", model="kmeans")]).select(OLD_COLUMNS)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert task_scores(old)["entry"].to_list() == ["linear"]
        assert surrogate_table(old)["model"].to_list() == ["surrogate:linear"]
        assert ncd_table(old)["model"].to_list() == ["kmeans"]
