"""Benchmark configs: strict keys, budgets, overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from tabbench.exceptions import ConfigError, UnknownNameError
from tabbench.execution.config import BUDGETS, load_config

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return path


def test_default_config_is_the_main_job():
    config = load_config(ROOT / "configs" / "default.toml")
    assert config.datasets == ("flights", "bikeshare", "hotel-rates")
    assert config.splits == ("time", "random")
    assert config.budget == BUDGETS.get("quick")
    assert set(config.models) >= {"dummy", "linear", "random-forest", "xgboost", "lightgbm",
                                  "catboost"}


def test_budget_presets_follow_tabred_for_paper():
    paper = BUDGETS.get("paper")
    assert (paper.n_trials_gbdt, paper.n_trials, paper.eval_seeds) == (200, 100, 15)
    assert paper.trials_for("gbdt") == 200 and paper.trials_for("classic") == 100
    assert paper.trials_for("nn") == 100
    for name in ("smoke", "quick"):  # nets: default params only
        assert BUDGETS.get(name).trials_for("nn") == 1 and BUDGETS.get(name).trials_for("gbdt") > 1


def test_overrides_replace_config_values(tmp_path):
    config = load_config(write(tmp_path, 'datasets = ["bikeshare"]\nbudget = "quick"\n'))
    changed = config.override(budget="smoke", models=["dummy"], jobs=None)
    assert changed.budget.name == "smoke" and changed.models == ("dummy",)
    assert changed.jobs == config.jobs


def test_n_trials_override_changes_budget(tmp_path):
    config = load_config(write(tmp_path, 'budget = "standard"\nn_trials = 3\n'))
    assert config.budget.trials_for("gbdt") == 3 and config.budget.eval_seeds == 3


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ('colour = "red"\n', ConfigError, "bench.toml: unknown key 'colour'"),
        ('models = ["dummy", "gpt"]\n', UnknownNameError, "unknown model 'gpt'"),
        ('splits = ["chrono"]\n', UnknownNameError, "unknown split 'chrono'"),
        ('budget = "huge"\n', UnknownNameError, "unknown budget 'huge'"),
        ('variants = ["best"]\n', ConfigError, "unknown variant 'best'"),
        ("jobs = 0\n", ConfigError, "jobs must be at least 1"),
        ('jobs = "two"\n', ConfigError, "key 'jobs' must be int"),
        ("seeds = [0.5]\n", ConfigError, "list of integers"),
        ("name = \n", ConfigError, "not valid TOML"),
    ],
)
def test_bad_configs(tmp_path, text, error, message):
    with pytest.raises(error, match=message):
        load_config(write(tmp_path, text))


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.toml")
