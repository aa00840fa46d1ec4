"""tabbench: benchmark machine learning on tabular data, under random and time-based splits.

The public API is imported lazily, so ``import tabbench`` stays light (no torch, xgboost,
lightgbm, catboost or dask until a function that needs them is called).

Examples
--------
>>> import tabbench
>>> spec = tabbench.get_spec("bikeshare")          # doctest: +SKIP
>>> dataset = tabbench.load_dataset(spec)          # doctest: +SKIP
>>> summary = tabbench.run_benchmark(tabbench.load_config())  # doctest: +SKIP

Your own model, splitter or metric is a plugin (see :mod:`tabbench.plugins`):

>>> from sklearn.ensemble import ExtraTreesClassifier           # doctest: +SKIP
>>> tabbench.sklearn_model("extra-trees", classifier=ExtraTreesClassifier)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_API = {
    "BenchmarkConfig": "tabbench.config",
    "Budget": "tabbench.config",
    "load_config": "tabbench.config",
    "Dataset": "tabbench.datasets.dataset",
    "DatasetSpec": "tabbench.datasets.spec",
    "load_dataset": "tabbench.datasets.load",
    "get_spec": "tabbench.datasets.registry",
    "list_specs": "tabbench.datasets.registry",
    "add_dataset": "tabbench.datasets.registry",
    "build_suite": "tabbench.datasets.registry",
    "suite_specs": "tabbench.datasets.registry",
    "Split": "tabbench.splits",
    "make_splits": "tabbench.splits",
    "ModelSpec": "tabbench.models.base",
    "get_model": "tabbench.models",
    "model_names": "tabbench.models",
    "register_model": "tabbench.plugins",
    "sklearn_model": "tabbench.plugins",
    "register_split": "tabbench.plugins",
    "register_metric": "tabbench.plugins",
    "load_plugins": "tabbench.plugins",
    "loaded_plugins": "tabbench.plugins",
    "FitContext": "tabbench.models.base",
    "get_metric": "tabbench.metrics",
    "Job": "tabbench.job",
    "run_job": "tabbench.job",
    "plan": "tabbench.runner",
    "run_benchmark": "tabbench.runner",
    "read_results": "tabbench.results",
    "standings": "tabbench.leaderboard",
    "upgrade_results": "tabbench.results",
    "TabbenchError": "tabbench.exceptions",
    "compare_splits": "tabbench.compare",
    "diagnose_shift": "tabbench.drift",
    "build_report": "tabbench.report",
    "rank_features": "tabbench.features",
    "explain_model": "tabbench.explain",
    "run_ncd": "tabbench.ncd.runner",
}

__all__ = [*sorted(_API), "__version__"]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'tabbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
