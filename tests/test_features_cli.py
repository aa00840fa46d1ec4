"""`tabbench rank-features` end to end, its --evaluate mode, and its one-line errors."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err, err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


def test_rank_features_writes_parquet_chart_and_prints_a_table(cli, tmp_path):
    code, out, err = cli("rank-features", "synthetic-drift", "--max-rows", "3000",
                         "--interactions", "2", "--top", "6", "--out", tmp_path)
    assert code == 0, err
    assert "ranked by mi-corrected on the training part" in out and "of time-0" in out
    assert "Feature combinations" in out and "… and 16 more features" in out
    parquet = tmp_path / "features" / "synthetic-drift-time-0.parquet"
    png = tmp_path / "features" / "synthetic-drift-time-0.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    table = pl.read_parquet(parquet)
    assert {"feature", "score", "rank", "cardinality", "coverage", "flags"} <= set(table.columns)
    singles = table.filter(pl.col("order") == 1)
    assert singles.height == 22 and singles["rank"].to_list() == list(range(1, 23))
    assert table.filter(pl.col("order") == 2).height > 0
    assert set(table["split_id"]) == {"time-0"} and set(table["method"]) == {"mi-corrected"}


def test_rank_features_with_3mr_on_a_random_split(cli, tmp_path):
    code, _, err = cli("rank-features", "synthetic-drift", "--max-rows", "2000", "--method",
                         "3mr", "--split", "random-0", "--out", tmp_path)
    assert code == 0, err
    table = pl.read_parquet(tmp_path / "features" / "synthetic-drift-random-0.parquet")
    assert set(table["method"]) == {"3mr"}


def test_evaluate_tunes_all_features_and_each_top_k(cli, tmp_path):
    # --jobs 2: one thread per LightGBM job, steadier on a busy machine
    code, out, err = cli("rank-features", "synthetic-drift", "--max-rows", "1500", "--evaluate",
                         "--models", "lightgbm", "--k", "3,6", "--budget", "smoke",
                         "--jobs", "2", "--out", tmp_path)
    assert code == 0, err
    assert "Top-k vs all features on synthetic-drift time-0" in out and "speed-up" in out
    results = pl.read_parquet(tmp_path / "results" / "*.parquet")  # one schema
    assert sorted(results["variant"]) == ["tuned", "tuned-top3-jmi", "tuned-top6-jmi"]
    assert sorted(results["n_features"]) == [3, 6, 22]
    assert set(results["status"]) == {"ok"} and set(results["split_id"]) == {"time-0"}
    stem = tmp_path / "features" / "synthetic-drift-time-0-jmi-evaluation"  # --evaluate: JMI
    comparison = pl.read_parquet(stem.with_suffix(".parquet"))
    assert comparison["k"].to_list() == [22, 6, 3]
    assert comparison.filter(pl.col("k") == 22)["change_pct"][0] == 0.0
    assert (comparison["speedup"] > 0).all()
    assert stem.with_suffix(".png").is_file()
    # a second run resumes: nothing is tuned again
    code, out, _ = cli("rank-features", "synthetic-drift", "--max-rows", "1500", "--evaluate",
                       "--models", "lightgbm", "--k", "3,6", "--budget", "smoke",
                       "--jobs", "2", "--out", tmp_path)
    assert code == 0 and "Top-k vs all features" in out


def test_run_with_top_k_option(cli, tmp_path):
    config = Path(__file__).resolve().parents[1] / "configs" / "smoke.toml"
    code, out, err = cli("run", config, "--models", "dummy", "--splits", "random",
                         "--top-k", "2", "--out", tmp_path)
    assert code == 0, err
    assert "dummy (tuned-top2-jmi)" in out
    code, _, err = cli("run", config, "--top-k", "50", "--out", tmp_path)
    assert_one_line_error(code, err, "top_k = 50 is more than the 22 features")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["nowhere"], ["unknown dataset 'nowhere'", "synthetic-drift"]),
        (["synthetic-drift", "--method", "gini"],
         ["--method: unknown ranker 'gini'", "3mr, jmi, mi, mi-corrected"]),
        (["synthetic-drift", "--split", "chrono-0"],
         ["unknown split id 'chrono-0'", "time-0 or random-0"]),
        (["synthetic-drift", "--split", "time-3"], ["no split 'time-3'", "makes: time-0"]),
        (["synthetic-drift", "--interactions", "4"], ["--interactions", "less than or equal to 3"]),
        (["synthetic-drift", "--evaluate", "--k", "5,40"],
         ["--k: 40 is not between 1 and the number of features (22)"]),
        (["synthetic-drift", "--evaluate", "--k", "five"], ["--k: expected comma-separated"]),
        (["synthetic-drift", "--evaluate", "--models", "gpt"], ["unknown model 'gpt'"]),
        (["synthetic-drift", "--top", "0"], ["--top", "greater than or equal to 1"]),
    ],
)
def test_rank_features_errors(cli, tmp_path, args, needles):
    code, _, err = cli("rank-features", *args, "--max-rows", "500", "--out", tmp_path)
    assert_one_line_error(code, err, *needles)


def test_time_split_of_a_dataset_without_time_column(cli, tmp_path):
    rows = "".join(f"{i % 7},{i % 3},{i % 2}\n" for i in range(60))
    (tmp_path / "d.csv").write_text("a,b,y\n" + rows)
    (tmp_path / "d.toml").write_text('name = "d"\ntask = "binary"\ntarget = "y"\npath = "d.csv"\n')
    code, _, err = cli("rank-features", "d", "--split", "time-0", "--datasets-dir", tmp_path,
                       "--out", tmp_path / "out")
    assert_one_line_error(code, err, "needs a time column", "use random-0")
    code, out, err = cli("rank-features", "d", "--datasets-dir", tmp_path, "--out",
                         tmp_path / "out")
    assert code == 0, err
    assert "training part of random-0" in out
