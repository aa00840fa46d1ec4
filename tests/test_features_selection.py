"""Ranking before tuning: the [features] config section, jobs on the top-k features."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest

from tabbench.data.datasets.sample import load_subsample
from tabbench.exceptions import ConfigError, UnknownNameError
from tabbench.execution.config import FeatureSelection, load_config
from tabbench.execution.job import find_split, run_job
from tabbench.execution.runner import plan
from tabbench.methods.features.ranking import rank_features

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text('datasets = ["synthetic-drift"]\nbudget = "smoke"\n' + text)
    return path


def test_features_section_is_read_into_a_selection(tmp_path):
    config = load_config(write(tmp_path, '[features]\nselect = "rank"\ntop_k = 5\n'))
    assert config.features == (FeatureSelection(top_k=5),)
    assert config.features[0].label == "top5-jmi"
    config = load_config(write(tmp_path, '[features]\nselect = "Rank"\ntop_k = 3\n'
                                         'method = "3mr"\n'))
    assert config.features == (FeatureSelection(top_k=3, method="3mr"),)
    assert config.features[0].label == "top3-3mr"
    # select = "outrank" runs OutRank's own scores, not JMI
    config = load_config(write(tmp_path, '[features]\nselect = "OutRank"\ntop_k = 5\n'))
    assert config.features == (FeatureSelection(top_k=5, method="outrank", select="outrank"),)
    assert config.features[0].label == "top5-outrank"
    config = load_config(write(tmp_path, '[features]\nselect = "outrank"\ntop_k = 5\n'
                                         'method = "outrank-3mr"\n'))
    assert config.features[0].method == "outrank-3mr"
    assert load_config(write(tmp_path, "")).features == (None,)


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ('[features]\nselect = "outrank"\ntop_k = 5\nk = 3\n', ConfigError,
         r"bench.toml: \[features\]: unknown key 'k'; allowed keys are: method, select, top_k"),
        ('[features]\nselect = "outrank"\n', ConfigError, "missing required key 'top_k'"),
        ("[features]\ntop_k = 5\n", ConfigError, "missing required key 'select'"),
        ('[features]\nselect = "outrank"\ntop_k = 0\n', ConfigError,
         "top_k must be an integer of at least 1, got 0"),
        ('[features]\nselect = "outrank"\ntop_k = "ten"\n', ConfigError,
         "key 'features.top_k' must be int"),
        ('[features]\nselect = "boruta"\ntop_k = 5\n', ConfigError,
         "unknown select 'boruta'; valid names are: rank, outrank"),
        ('[features]\nselect = "rank"\ntop_k = 5\nmethod = "gini"\n', UnknownNameError,
         "unknown ranker 'gini'; valid names are: 3mr, jmi, mi, mi-corrected, mi-heldout, "
         "outrank, outrank-3mr"),
        ('[features]\nselect = "outrank"\ntop_k = 5\nmethod = "jmi"\n', ConfigError,
         r"select = 'outrank' ranks by OutRank's own scores, method 'outrank' or "
         r"'outrank-3mr'; got method 'jmi' \(for it, write select = 'rank'\)"),
        ('features = 5\n', ConfigError, "key 'features' must be dict"),
    ],
)
def test_bad_features_sections(tmp_path, text, error, message):
    with pytest.raises(error, match=message):
        load_config(write(tmp_path, text))


def test_top_k_larger_than_the_features_fails_at_plan(tmp_path):
    config = load_config(write(tmp_path, '[features]\nselect = "outrank"\ntop_k = 99\n'))
    with pytest.raises(ConfigError, match="top_k = 99 is more than the 22 features of dataset "
                                          "'synthetic-drift'"):
        plan(replace(config, max_rows=500))


def test_a_top_k_job_trains_on_k_features_with_its_own_job_id(tmp_path):
    config = load_config(ROOT / "configs" / "smoke.toml")
    config = replace(config, models=("lightgbm",), splits=("random",), out=tmp_path, jobs=2,
                     features=(None, FeatureSelection(top_k=4)))  # jobs=2: one thread each
    all_features, top4 = plan(config)
    assert all_features.features is None and top4.features == FeatureSelection(top_k=4)
    assert top4.job_id != all_features.job_id
    assert "-lightgbm-tuned-top4-jmi-s0-" in top4.job_id
    assert top4.job_id == replace(top4).job_id  # deterministic
    other_method = replace(top4, features=FeatureSelection(top_k=4, method="3mr"))
    assert other_method.job_id not in (top4.job_id, all_features.job_id)

    row = run_job(top4).row
    assert row["status"] == "ok", row.get("error")
    assert row["n_features"] == 4 and row["variant"] == "tuned-top4-jmi"
    base = run_job(all_features).row
    assert base["n_features"] == 22 and base["variant"] == "tuned"
    assert set(row) == set(base)  # same columns: the selection lives in variant and job_id

    # the ranking is made on the training part of the job's split only
    dataset = load_subsample(top4.spec, top4.max_rows)
    split = find_split(dataset, top4)
    ranking = rank_features(dataset, split, quality=False)
    assert ranking.n_rows == len(split.train)


def test_selected_rows_are_told_apart_in_the_leaderboard(tmp_path):
    from tabbench.analysis.leaderboard import task_scores
    from tabbench.core.results import write_result
    from tabbench.core.schema import result_frame

    config = load_config(ROOT / "configs" / "smoke.toml")
    config = replace(config, models=("dummy",), splits=("random",), out=tmp_path,
                     features=(None, FeatureSelection(top_k=3)))
    for job in plan(config):
        output = run_job(job)
        row, trials = output.row, output.trials
        write_result(tmp_path, row, trials)

    # one glob read works: top-k rows have exactly the columns of the other rows
    results = pl.read_parquet(tmp_path / "results" / "*.parquet").sort("variant")
    assert results.columns == list(result_frame([]).columns)
    assert results["variant"].to_list() == ["tuned", "tuned-top3-jmi"]
    # the dummy has nothing to tune: the top-k row's tune_seconds is its ranking time
    assert results["tune_seconds"][0] == 0.0 and results["tune_seconds"][1] > 0.0
    entries = sorted(task_scores(results)["entry"])
    assert entries == ["dummy", "dummy (tuned-top3-jmi)"]
