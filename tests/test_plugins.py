"""Plugins in-process: sklearn_model's estimator contract, the registration checks, the
splitter and metric doors, provenance in job ids, and workers that load the driver's plugins
(module-level registration, a replaced worker). The command line is in test_plugins_cli.py.
"""

from __future__ import annotations

import json
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import tabbench
from tabbench.core import _plugin_loader
from tabbench.data.splits import TIME_KINDS, Split, is_time_based, make_splits
from tabbench.exceptions import PluginError, SplitError
from tabbench.execution.config import load_config
from tabbench.execution.executors.local import LocalExecutor
from tabbench.execution.runner import plan, run_benchmark
from tabbench.methods.models import FitContext, get_model

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _forget_plugins():
    """Whatever a test registers is unregistered after it (the registries are global)."""
    before = set(_plugin_loader._LOADED)
    yield
    for key in set(_plugin_loader._LOADED) - before:
        _plugin_loader.forget(_plugin_loader._LOADED[key])


def write(folder: Path, name: str, code: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(code))
    return path


def context(task: str = "binary", n_classes: int = 2, **changes) -> FitContext:
    return FitContext(task=task, n_classes=n_classes, feature_names=("a", "b"), **changes)


# --- sklearn_model ---------------------------------------------------------------------


class Recorder:
    """A scikit-learn-style classifier that records what fit received."""

    def __init__(self, *, random_state=None, n_jobs=None, scale=1.0):
        self.random_state, self.n_jobs, self.scale = random_state, n_jobs, scale

    def get_params(self, deep=True):
        return {"random_state": self.random_state, "n_jobs": self.n_jobs, "scale": self.scale}

    def set_params(self, **params):
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def fit(self, X, y, X_val=None, y_val=None):
        self.seen_val_ = X_val is not None and y_val is not None
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        # columns in the order of classes_, which may lack a class of the task
        return np.tile(np.linspace(1, 2, self.classes_.size) / np.linspace(1, 2, self.classes_.size).sum(),
                       (X.shape[0], 1))


def test_sklearn_model_handles_class_order_seeds_threads_and_validation():
    spec = tabbench.sklearn_model("recorder-test", classifier=Recorder,
                                  default_params={"scale": 2.0})
    assert spec.task_types == ("binary", "multiclass") and get_model("recorder-test") is spec
    model = spec.build(dict(spec.default_params), context("multiclass", 3, seed=7, n_threads=2))
    X = np.zeros((4, 2), dtype=np.float32)
    y = np.array([0, 2, 0, 2])  # class 1 absent from the training part
    model.fit(X, y, X[:2], y[:2])
    inner = model.model_
    assert (inner.random_state, inner.n_jobs, inner.scale, inner.seen_val_) == (7, 2, 2.0, True)
    proba = model.predict_proba(X)
    assert proba.shape == (4, 3)
    np.testing.assert_allclose(proba[0], [1 / 3, 0.0, 2 / 3])


def test_sklearn_model_passes_eval_set_and_a_two_argument_factory_gets_the_context():
    seen = {}

    class EvalSet(Recorder):
        def fit(self, X, y, eval_set=None):
            seen["eval_set"] = eval_set is not None
            return super().fit(X, y)

    def factory(params, ctx):
        seen["task"] = ctx.task
        return EvalSet(**params)

    spec = tabbench.sklearn_model("evalset-test", classifier=factory)
    model = spec.build({}, context())
    model.fit(np.zeros((4, 2)), np.array([0, 1, 0, 1]), np.zeros((2, 2)), np.array([0, 1]))
    assert seen == {"task": "binary", "eval_set": True}


@pytest.mark.parametrize(("kwargs", "match"), [
    ({}, "give a classifier, a regressor or both"),
    ({"classifier": 3}, "classifier must be a class or a function"),
    ({"classifier": Recorder, "family": "trees"}, "family must be one of gbdt, classic, nn"),
    ({"classifier": Recorder, "search_space": {"a": 1}}, "search_space must be a function"),
])
def test_an_incomplete_spec_says_what_is_missing(kwargs, match):
    with pytest.raises(PluginError, match=match):
        tabbench.sklearn_model("broken-test", **kwargs)
    assert "broken-test" not in tabbench.model_names()


def test_a_name_taken_by_a_builtin_or_another_plugin_is_refused(tmp_path):
    with pytest.raises(PluginError, match=r"model 'lightgbm' is already registered \(a built-in"):
        tabbench.sklearn_model("lightgbm", classifier=Recorder)
    first = write(tmp_path, "first.py", """
        import tabbench
        from sklearn.dummy import DummyClassifier
        tabbench.sklearn_model("shared-name", classifier=DummyClassifier)
    """)
    second = write(tmp_path, "second.py", first.read_text())
    tabbench.load_plugins([first])
    with pytest.raises(PluginError, match=r"plugin second.py failed to load: model "
                                          r"'shared-name' is already registered by plugin "
                                          r"first.py .*second.py, line 4"):
        tabbench.load_plugins([second])
    # loading the same file again is a no-op, not a clash with itself
    assert tabbench.load_plugins([first])[0].name == "first.py"


def test_a_failing_plugin_leaves_nothing_registered(tmp_path):
    bad = write(tmp_path, "half.py", """
        import tabbench
        from sklearn.dummy import DummyClassifier
        tabbench.sklearn_model("half-registered", classifier=DummyClassifier)
        1 / 0
    """)
    with pytest.raises(PluginError, match=r"ZeroDivisionError: division by zero \(.*half.py, line 5\)"):
        tabbench.load_plugins([bad])
    assert "half-registered" not in tabbench.model_names()
    assert all(p.name != "half.py" for p in _plugin_loader.loaded())


# --- splitters and metrics -------------------------------------------------------------


def test_register_split_time_based_replaces_the_hand_kept_list(tmp_path):
    def last_quarter(n_rows, *, time, share=0.25):
        order = np.argsort(time, kind="stable")
        cut = int(n_rows * (1 - share))
        val = int(cut * 0.8)
        return [Split("last-quarter-0", np.sort(order[:val]), np.sort(order[val:cut]),
                      np.sort(order[cut:]))]

    tabbench.register_split("last-quarter", last_quarter, time_based=True)
    assert is_time_based("last-quarter") and "last-quarter" in TIME_KINDS
    assert not is_time_based("random") and "random" not in TIME_KINDS
    dataset = tabbench.load_dataset(tabbench.get_spec("bikeshare"))
    [split] = make_splits(dataset, "last-quarter", {"share": 0.1})
    assert len(split.test) == dataset.n_rows - int(dataset.n_rows * 0.9)
    with pytest.raises(SplitError, match=r"unknown parameter 'gap'; allowed parameters are: share"):
        make_splits(dataset, "last-quarter", {"gap": 3})


def test_a_splitter_that_returns_wrong_ids_is_one_clear_error():
    tabbench.register_split("badids", lambda n_rows: [Split("x-0", [0], [1], [2])],
                            time_based=False)
    dataset = tabbench.load_dataset(tabbench.get_spec("bikeshare"))
    with pytest.raises(SplitError, match=r"splitter 'badids' must return distinct split ids "
                                         r"badids-0, .*returned 'x-0'"):
        make_splits(dataset, "badids")
    with pytest.raises(PluginError, match="split name 'Bad_Name' is not valid"):
        tabbench.register_split("Bad_Name", lambda n_rows: [], time_based=False)
    with pytest.raises(PluginError, match="time_based must be True or False"):
        tabbench.register_split("no-flag", lambda n_rows: [], time_based="yes")


def test_register_metric_sets_the_direction():
    metric = tabbench.register_metric("mape_test", lambda y, p: float(np.mean(np.abs(p - y) / y)),
                                      greater_is_better=False, task_types=("regression",))
    assert tabbench.get_metric("mape_test") is metric and metric.direction == "minimize"
    with pytest.raises(PluginError, match="greater_is_better must be True or False"):
        tabbench.register_metric("other_test", lambda y, p: 0.0, greater_is_better=None)
    with pytest.raises(PluginError, match="metric 'roc_auc' is already registered"):
        tabbench.register_metric("roc_auc", lambda y, p: 0.0, greater_is_better=True)


@pytest.mark.slow
def test_a_plugin_metric_scores_a_dataset_that_names_it(tmp_path):
    plugin = write(tmp_path, "metric_plugin.py", """
        import numpy as np
        import tabbench
        tabbench.register_metric("max_error_test",
                                 lambda y, p: float(np.max(np.abs(np.asarray(p) - y))),
                                 greater_is_better=False, task_types=("regression",))
    """)
    tabbench.load_plugins([plugin])
    data = ROOT / "datasets" / "data" / "bikeshare.parquet"
    write(tmp_path / "sets", "bikes-max.toml", f"""
        name = "bikes-max"
        task = "regression"
        target = "bikers"
        path = "{data}"
        time_column = "timestamp"
        metric = "max_error_test"
    """)
    config = replace(load_config(ROOT / "configs" / "smoke.toml"), datasets=("bikes-max",),
                     models=("dummy",), splits=("random",), out=tmp_path / "out", max_rows=400)
    summary = run_benchmark(config, datasets_dirs=[tmp_path / "sets"])
    assert summary.counts == {"ok": 1}
    row = tabbench.read_results(tmp_path / "out").row(0, named=True)
    assert row["metric"] == "max_error_test" and row["test_score"] > 0
    assert json.loads(row["versions"])["plugins"] == {"metric_plugin.py": (
        "sha256:" + _plugin_loader.file_sha256(plugin.read_bytes()))}


# --- provenance and job ids ------------------------------------------------------------


def smoke_config(tmp_path: Path, models: tuple[str, ...], **changes):
    config = load_config(ROOT / "configs" / "smoke.toml")
    changes = {"splits": ("random",), **changes}
    return replace(config, models=models, out=tmp_path / "out", max_rows=300, **changes)


def test_a_plugin_jobs_id_follows_its_file_and_builtin_ids_do_not(tmp_path):
    plugin = write(tmp_path, "prov.py", """
        import tabbench
        from sklearn.dummy import DummyClassifier
        tabbench.sklearn_model("prov-model", classifier=DummyClassifier)
    """)
    tabbench.load_plugins([plugin])
    config = smoke_config(tmp_path, ("dummy", "prov-model"))
    before = {job.model: job for job in plan(config)}
    sha = _plugin_loader.file_sha256(plugin.read_bytes())
    assert before["prov-model"].provenance == (("prov.py", f"sha256:{sha}"),)
    assert before["dummy"].provenance == ()
    plugin.write_text(plugin.read_text() + "# edited\n")
    tabbench.load_plugins([plugin])  # the changed file replaces the loaded one
    after = {job.model: job for job in plan(config)}
    assert after["prov-model"].job_id != before["prov-model"].job_id
    assert after["dummy"].job_id == before["dummy"].job_id


def test_builtin_job_ids_of_the_main_job_are_unchanged():
    jobs = plan(load_config(ROOT / "configs" / "default.toml"))
    committed = {p.stem for p in (ROOT / "leaderboard" / "main-job" / "results").glob("*.parquet")}
    assert {job.job_id for job in jobs} == committed


# --- workers ---------------------------------------------------------------------------


@pytest.mark.slow
def test_a_module_level_registration_reaches_the_workers(tmp_path, monkeypatch):
    write(tmp_path, "regmod_test.py", """
        import tabbench
        from sklearn.linear_model import LogisticRegression
        tabbench.sklearn_model("regmod-logit", classifier=LogisticRegression,
                               default_params={"C": 0.5})
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "regmod_test", raising=False)
    __import__("regmod_test")
    assert _plugin_loader.owner("model", "regmod-logit").source == "module"
    summary = run_benchmark(smoke_config(tmp_path, ("dummy", "regmod-logit"), jobs=2))
    assert summary.counts == {"ok": 2}
    rows = tabbench.read_results(tmp_path / "out").filter(model="regmod-logit")
    assert "regmod_test" in json.loads(rows["versions"][0])["plugins"]


def test_a_registration_inside_a_function_is_refused_before_any_job(tmp_path):
    from sklearn.dummy import DummyClassifier

    tabbench.sklearn_model("inside-function", classifier=DummyClassifier)
    with pytest.raises(PluginError, match=r"registered inside test_a_registration_inside_a_"
                                          r"function_is_refused_before_any_job\(\)"):
        plan(smoke_config(tmp_path, ("inside-function",)))


@pytest.mark.slow
def test_replaced_workers_load_the_plugins_again(tmp_path):
    """A job that kills its worker, then workers retired after every job: each fresh
    process loads the plugin file before its job."""
    plugin = write(tmp_path, "crash.py", """
        import os
        import tabbench
        from sklearn.dummy import DummyClassifier

        class Crash(DummyClassifier):
            def fit(self, X, y):
                os._exit(3)

        tabbench.sklearn_model("crash-model", classifier=Crash)
        tabbench.sklearn_model("steady-model", classifier=DummyClassifier)
    """)
    tabbench.load_plugins([plugin])
    config = smoke_config(tmp_path, ("crash-model", "steady-model"), splits=("random", "time"))
    jobs = sorted(plan(config), key=lambda job: job.model)  # the crashes first
    statuses = [(job.model, out.row["status"], out.row.get("error"))
                for job, out in LocalExecutor(jobs=1).run(jobs)]
    assert sorted(s[:2] for s in statuses) == [("crash-model", "failed")] * 2 + \
        [("steady-model", "ok")] * 2
    assert all("died (exit code 3)" in error for model, _, error in statuses
               if model == "crash-model")
    retired = LocalExecutor(jobs=1, max_tasks=1)
    outputs = [out.row["status"] for _, out in retired.run(
        [job for job in jobs if job.model == "steady-model"])]
    assert outputs == ["ok", "ok"]


def test_an_entry_point_may_name_a_function_to_call(tmp_path, monkeypatch):
    from importlib.metadata import EntryPoint

    write(tmp_path, "epfn_test.py", """
        import tabbench
        from sklearn.dummy import DummyRegressor

        def register():
            tabbench.sklearn_model("epfn-model", regressor=DummyRegressor)
    """)
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = EntryPoint("epfn", "epfn_test:register", "tabbench.plugins")
    plugin = _plugin_loader.load_entry_point(entry)
    assert (plugin.source, plugin.module) == ("entry-point", "epfn_test")
    assert _plugin_loader.registered(plugin) == [("model", "epfn-model")]
    assert _plugin_loader.unreachable("model", "epfn-model") is None
