"""Novel class discovery: task setup, metrics, k estimation, class-hiding tuning, runner.

The methods themselves live in :mod:`tabbench.models.ncd` (model registry, task ``ncd``).
"""

from __future__ import annotations

from tabbench.ncd.estimate import estimate_k
from tabbench.ncd.metrics import cluster_accuracy, ncd_scores
from tabbench.ncd.runner import run_ncd
from tabbench.ncd.task import NCDTask, NovelLabelLeak, make_task, tuning_guard
from tabbench.ncd.tuning import tune_ncd

__all__ = ["NCDTask", "NovelLabelLeak", "cluster_accuracy", "estimate_k", "make_task",
           "ncd_scores", "run_ncd", "tune_ncd", "tuning_guard"]
