"""Novel class discovery: task setup, metrics, k estimation, class-hiding tuning, runner.

The methods themselves live in :mod:`tabbench.methods.models.ncd` (model registry, task ``ncd``).
"""

from __future__ import annotations

from tabbench.studies.ncd.estimate import estimate_k
from tabbench.studies.ncd.metrics import cluster_accuracy, ncd_scores
from tabbench.studies.ncd.runner import run_ncd
from tabbench.studies.ncd.task import NCDTask, NovelLabelLeak, make_task, tuning_guard
from tabbench.studies.ncd.tuning import tune_ncd

__all__ = ["NCDTask", "NovelLabelLeak", "cluster_accuracy", "estimate_k", "make_task",
           "ncd_scores", "run_ncd", "tune_ncd", "tuning_guard"]
