"""The example plugins of examples/plugins/ (RealMLP from pytabkit, the EBM from interpret):
each loads, fits and predicts on tiny data for both kinds of task, skipped when its optional
package is absent; without it, loading is one error line naming the extra to install."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import tabbench
from tabbench.core import _plugin_loader
from tabbench.exceptions import PluginError
from tabbench.methods.models import FitContext, get_model

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "plugins"
PLUGINS = {"realmlp": ("realmlp.py", "pytabkit"), "ebm": ("ebm.py", "interpret")}


@pytest.fixture
def plugin(request):
    file, package = PLUGINS[request.param]
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"{package} is not installed (pip install -e '.[{request.param}]')")
    [loaded] = tabbench.load_plugins([EXAMPLES / file])
    yield get_model(request.param)
    _plugin_loader.forget(loaded)


@pytest.mark.slow
@pytest.mark.parametrize("plugin", sorted(PLUGINS), indirect=True)
def test_example_plugin_fits_both_tasks(plugin):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(240, 4)).astype(np.float32)
    labels = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    values = 2 * X[:, 0] - X[:, 2]
    params = dict(plugin.default_params)
    for task, y in (("binary", labels), ("regression", values)):
        context = FitContext(task=task, n_classes=2 if task == "binary" else 0,
                             feature_names=("a", "b", "c", "d"), seed=1, n_threads=1)
        model = plugin.build(params, context).fit(X[:160], y[:160], X[160:200], y[160:200])
        if task == "binary":
            proba = model.predict_proba(X[200:])
            assert proba.shape == (40, 2) and np.allclose(proba.sum(axis=1), 1)
            assert (proba.argmax(axis=1) == y[200:]).mean() > 0.7
        else:
            prediction = model.predict(X[200:])
            assert prediction.shape == (40,)
            assert np.corrcoef(prediction, y[200:])[0, 1] > 0.7


@pytest.mark.parametrize(("name", "extra"), [("realmlp", "realmlp"), ("ebm", "ebm")])
def test_example_plugin_without_its_package_says_which_extra(name, extra, monkeypatch):
    file, package = PLUGINS[name]
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda module, *a: None if module == package else real(module, *a))
    with pytest.raises(PluginError, match=rf"plugin {file} failed to load: the {name} plugin "
                                          rf"needs .*pip install 'tabbench\[{extra}\]'"):
        tabbench.load_plugins([EXAMPLES / file])
