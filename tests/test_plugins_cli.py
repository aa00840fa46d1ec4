"""Plugins through the installed ``tabbench`` script: the config key, an installed
distribution's entry point picked up with no flag, and every bad input as one error line.
(``--plugin`` on a real run with two workers, and an edit that re-runs only the plugin's
jobs, are in test_docs_plugins.py, which runs docs/your-model.md as written.)
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]

MY_MODELS = """
import tabbench
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor

tabbench.sklearn_model(
    "extra-trees",
    classifier=ExtraTreesClassifier,
    regressor=ExtraTreesRegressor,
    default_params={"n_estimators": 50, "min_samples_leaf": 2},
    search_space=lambda trial: {
        "n_estimators": 50,
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 1, 32, log=True),
    },
)
"""


def write(folder: Path, name: str, code: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))
    return path


def one_error_line(code: int, err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_a_config_loads_plugins_relative_to_its_folder(tabbench_script, tmp_path):
    write(tmp_path / "cfg" / "plugins", "my_models.py", MY_MODELS)
    config = write(tmp_path / "cfg", "mine.toml", """
        name = "mine"
        datasets = ["bikeshare"]
        models = ["dummy", "extra-trees"]
        plugins = ["plugins/my_models.py"]
    """)
    code, out, err = tabbench_script("plugins", config)
    assert code == 0, err
    assert "my_models.py" in out and "model: extra-trees" in out and "sha256:" in out
    write(tmp_path / "cfg", "missing.toml", 'name = "x"\nplugins = ["nope.py"]\n')
    line = one_error_line(*tabbench_script("run", tmp_path / "cfg" / "missing.toml")[::2])
    assert "missing.toml: plugins: plugin 'nope.py': no such file" in line


@pytest.mark.slow
def test_an_installed_distribution_is_loaded_with_no_flag(tabbench_script, tmp_path):
    """A ``*.dist-info`` folder with entry_points.txt on PYTHONPATH declares a distribution:
    ``tabbench plugins`` lists it and the run's workers load it too."""
    site = tmp_path / "site"
    write(site, "tbplug_models.py", """
        import tabbench
        from sklearn.linear_model import Ridge
        tabbench.sklearn_model("ep-ridge", regressor=Ridge, default_params={"alpha": 1.0})
    """)
    write(site, "tbplug-0.3.dist-info/METADATA", "Metadata-Version: 2.1\nName: tbplug\nVersion: 0.3\n")
    write(site, "tbplug-0.3.dist-info/entry_points.txt", "[tabbench.plugins]\nridge = tbplug_models\n")
    env = {"PYTHONPATH": str(site)}
    code, out, err = tabbench_script("plugins", env=env)
    assert code == 0, err
    assert "distribution tbplug 0.3" in out and "tbplug==0.3" in out and "model: ep-ridge" in out
    code, out, err = tabbench_script("run", "-d", "bikeshare", "--models", "dummy,ep-ridge",
                                     "--splits", "random", "--budget", "smoke", "--jobs", "2",
                                     "--max-rows", "600", "--out", "out", env=env)
    assert code == 0, err
    assert "2 jobs planned, 0 already done, 2 ok" in out
    rows = pl.read_parquet(tmp_path / "cwd" / "out" / "results" / "*ep-ridge*.parquet")
    assert json.loads(rows["versions"][0])["plugins"] == {"ridge": "tbplug==0.3"}
    # a broken installed plugin stops the command with one line that says how to skip it
    write(site, "tbplug_models.py", "import tabbench\nraise RuntimeError('not configured')\n")
    line = one_error_line(*tabbench_script("run", "-d", "bikeshare", "--models", "dummy",
                                           env=env)[::2])
    assert "plugin ridge failed to load: RuntimeError: not configured" in line
    assert "tbplug_models.py, line 2" in line and "TABBENCH_DISABLE_PLUGIN_AUTOLOAD=1" in line
    code, out, err = tabbench_script("plugins", env={**env, "TABBENCH_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert code == 0 and "No plugins loaded" in out


BAD_PLUGINS = {
    "raises.py": ("import tabbench\nsettings = {}\nthreshold = settings['threshold']\n",
                  r"plugin raises.py failed to load: KeyError: 'threshold' \(.*raises.py, line 3\)"),
    "syntax.py": ("import tabbench\ndef f(:\n",
                  r"plugin syntax.py failed to load: SyntaxError: invalid syntax \(.*syntax.py, "
                  r"line 2\)"),
    "taken.py": ("import tabbench\nfrom sklearn.linear_model import Ridge\n"
                 "tabbench.sklearn_model('lightgbm', regressor=Ridge)\n",
                 r"model 'lightgbm' is already registered \(a built-in model\); choose another "
                 r"name \(.*taken.py, line 3\)"),
    "incomplete.py": ("import tabbench\ntabbench.register_model(tabbench.ModelSpec("
                      "name='half', task_types=(), family='classic', build=None))\n",
                      r"model 'half': task_types must be a non-empty tuple of binary, "
                      r"multiclass, regression, ncd; got \(\); build must be a function"),
}


@pytest.mark.parametrize("name", sorted(BAD_PLUGINS))
def test_a_bad_plugin_is_one_line_before_any_job(tabbench_script, tmp_path, name):
    import re

    code, expected = BAD_PLUGINS[name]
    write(tmp_path / "cwd", name, code)
    line = one_error_line(*tabbench_script("run", "--plugin", name, "-d", "bikeshare",
                                           "--models", "dummy", "--out", "out")[::2])
    assert re.search(expected, line), line
    assert not (tmp_path / "cwd" / "out").exists()  # before any job, before the run folder


def test_a_missing_plugin_and_two_plugins_with_one_name_are_one_line(tabbench_script, tmp_path):
    line = one_error_line(*tabbench_script("run", "--plugin", "nope.py")[::2])
    assert line == f"error: --plugin 'nope.py': no such file ({tmp_path / 'cwd' / 'nope.py'})"
    line = one_error_line(*tabbench_script("plugins", "--plugin", "no_such_module.sub")[::2])
    assert "--plugin 'no_such_module.sub': no module of that name can be imported" in line
    ridge = "import tabbench\nfrom sklearn.linear_model import Ridge\n" \
            "tabbench.sklearn_model('ridge', regressor=Ridge)\n"
    write(tmp_path / "cwd", "a.py", ridge)
    write(tmp_path / "cwd", "b.py", ridge)
    line = one_error_line(*tabbench_script("plugins", "--plugin", "a.py", "--plugin", "b.py")[::2])
    assert "plugin b.py failed to load: model 'ridge' is already registered by plugin a.py" in line


@pytest.mark.slow
def test_a_broken_estimator_gives_a_failed_row_and_the_run_goes_on(tabbench_script, tmp_path):
    write(tmp_path / "cwd", "bad_models.py", """
        import numpy as np
        import tabbench
        from sklearn.dummy import DummyClassifier

        class FitRaises(DummyClassifier):
            def fit(self, X, y):
                raise ValueError("this estimator cannot fit")

        class WrongShape(DummyClassifier):
            def predict_proba(self, X):
                return np.full((X.shape[0], 3), 1 / 3)

        class NonFinite(DummyClassifier):
            def predict_proba(self, X):
                proba = super().predict_proba(X)
                proba[::2] = np.nan
                return proba

        tabbench.sklearn_model("fit-raises", classifier=FitRaises)
        tabbench.sklearn_model("wrong-shape", classifier=WrongShape)
        tabbench.sklearn_model("non-finite", classifier=NonFinite)
    """)
    code, out, err = tabbench_script(
        "run", ROOT / "configs" / "smoke.toml", "--plugin", "bad_models.py", "--models",
        "dummy,fit-raises,wrong-shape,non-finite", "--splits", "random", "--max-rows", "300",
        "--out", "out")
    assert code == 0, err
    assert "4 jobs planned, 0 already done, 3 failed, 1 ok" in out
    rows = pl.read_parquet(tmp_path / "cwd" / "out" / "results" / "*.parquet")
    errors = dict(zip(rows["model"], rows["error"], strict=True))
    assert errors["dummy"] is None
    assert errors["fit-raises"].startswith("ValueError: this estimator cannot fit (at bad_models.py:")
    assert "predict_proba returned shape (60, 3)" in errors["wrong-shape"]
    assert "predict_proba returned 60 non-finite value(s)" in errors["non-finite"]


@pytest.mark.slow
def test_explain_fits_a_plugin_model_and_records_its_provenance(tabbench_script, tmp_path):
    (tmp_path / "cwd" / "my_models.py").write_text(MY_MODELS)
    code, _, err = tabbench_script("explain", "-d", "bikeshare", "-m", "extra-trees",
                                     "--plugin", "my_models.py", "--max-rows", "800",
                                     "--top-k", "3", "--out", "out")
    assert code == 0, err
    row = pl.read_parquet(tmp_path / "cwd" / "out" / "results" / "*.parquet").row(0, named=True)
    assert row["model"] == "surrogate:extra-trees"
    assert "my_models.py" in json.loads(row["versions"])["plugins"]
