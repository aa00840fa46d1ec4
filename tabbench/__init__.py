"""tabbench: benchmark machine learning on tabular data, under random and time-based splits.

The public API is imported lazily, so ``import tabbench`` stays light (no torch, xgboost,
lightgbm, catboost or dask until a function that needs them is called).

Examples
--------
>>> import tabbench
>>> spec = tabbench.get_spec("bikeshare")          # doctest: +SKIP
>>> dataset = tabbench.load_dataset(spec)          # doctest: +SKIP
>>> summary = tabbench.run_benchmark(tabbench.load_config())  # doctest: +SKIP

Your own model, splitter or metric is a plugin (see :mod:`tabbench.methods.plugins`):

>>> from sklearn.ensemble import ExtraTreesClassifier           # doctest: +SKIP
>>> tabbench.sklearn_model("extra-trees", classifier=ExtraTreesClassifier)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "BenchmarkConfig": "tabbench.execution.config",
    "Budget": "tabbench.execution.config",
    "load_config": "tabbench.execution.config",
    "Dataset": "tabbench.data.datasets.dataset",
    "DatasetSpec": "tabbench.data.datasets.spec",
    "load_dataset": "tabbench.data.datasets.load",
    "get_spec": "tabbench.data.datasets.registry",
    "list_specs": "tabbench.data.datasets.registry",
    "add_dataset": "tabbench.data.datasets.registry",
    "build_suite": "tabbench.data.datasets.registry",
    "suite_specs": "tabbench.data.datasets.registry",
    "Split": "tabbench.data.splits",
    "make_splits": "tabbench.data.splits",
    "ModelSpec": "tabbench.methods.models.base",
    "get_model": "tabbench.methods.models",
    "model_names": "tabbench.methods.models",
    "register_model": "tabbench.methods.plugins",
    "sklearn_model": "tabbench.methods.plugins",
    "register_split": "tabbench.methods.plugins",
    "register_metric": "tabbench.methods.plugins",
    "load_plugins": "tabbench.methods.plugins",
    "loaded_plugins": "tabbench.methods.plugins",
    "FitContext": "tabbench.methods.models.base",
    "get_metric": "tabbench.data.metrics",
    "Job": "tabbench.execution.job",
    "run_job": "tabbench.execution.job",
    "plan": "tabbench.execution.runner",
    "run_benchmark": "tabbench.execution.runner",
    "read_results": "tabbench.core.results",
    "standings": "tabbench.analysis.leaderboard",
    "upgrade_results": "tabbench.core.results",
    "TabbenchError": "tabbench.exceptions",
    "compare_splits": "tabbench.analysis.compare",
    "diagnose_shift": "tabbench.analysis.drift",
    "build_report": "tabbench.studies.report",
    "rank_features": "tabbench.methods.features",
    "explain_model": "tabbench.studies.explain",
    "run_ncd": "tabbench.studies.ncd.runner",
}

__all__ = [*sorted(_API), "__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'tabbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
