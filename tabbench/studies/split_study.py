"""The compare-splits study: run the missing jobs, compare the rankings, diagnose the shift.

:func:`study_splits` is what ``tabbench compare-splits`` runs: it benchmarks a config's
models under its split strategies (results already in the run folder are reused), ranks
them per strategy, measures the agreement (Kendall tau), tests the rankings (Friedman,
Nemenyi, Elo), diagnoses the shift of each dataset's time split, relates shift to rank
change, and writes the shift table and the two charts into the run folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from tabbench.analysis.compare import (
    NoiseBaseline,
    ShiftRankChange,
    SplitComparison,
    StrategyStatistics,
    compare_splits,
    noise_baseline,
    save_shifts,
    shift_vs_rank_change,
    strategy_statistics,
)
from tabbench.analysis.drift import shift_table
from tabbench.analysis.leaderboard import dataset_confidence
from tabbench.analysis.plots import save, shift_scatter, slope_chart
from tabbench.core.results import read_results
from tabbench.data.datasets.registry import get_spec
from tabbench.exceptions import TabbenchError
from tabbench.execution.config import BenchmarkConfig
from tabbench.execution.runner import run_benchmark

__all__ = ["REQUIRED_STRATEGIES", "SplitStudy", "check_strategies", "study_splits"]

#: The strategies every study compares (the question is random against time).
REQUIRED_STRATEGIES = ("random", "time")
SLOPE_CHART = "compare-splits.png"
SHIFT_CHART = "compare-splits-shift.png"


@dataclass(frozen=True, eq=False)
class SplitStudy:
    """What a compare-splits run found, and the files it wrote."""

    out_dir: Path
    results: pl.DataFrame            # this config's result rows only
    comparison: SplitComparison
    noise_baseline: NoiseBaseline
    statistics: list[StrategyStatistics]
    shifts: pl.DataFrame             # one row per dataset and strategy (shift_table)
    shift: ShiftRankChange
    slope_chart: Path
    shift_chart: Path


def check_strategies(config: BenchmarkConfig) -> None:
    """Raise if ``config`` does not split both randomly and by time."""
    if set(REQUIRED_STRATEGIES) <= set(config.splits):
        return
    got = ",".join(config.splits)
    if "splits" in config.from_flags:
        raise TabbenchError(f"splits must include random and time, got {got}",
                            parameter="splits")
    raise TabbenchError(f"{config.source}: splits must include random and time, got {got}")


def study_splits(config: BenchmarkConfig, *, datasets_dirs: list[Path] | None = None,
                 on_start: Callable[[int], None] | None = None,
                 on_result: Callable[[Any, dict[str, Any]], None] | None = None) -> SplitStudy:
    """Run ``config``'s missing jobs and compare its split strategies (see the module).

    ``on_start``/``on_result`` report the jobs' progress as in
    :func:`~tabbench.execution.runner.run_benchmark`.
    """
    check_strategies(config)
    summary = run_benchmark(config, datasets_dirs=datasets_dirs, on_start=on_start,
                            on_result=on_result)
    # this config's jobs only: the folder may hold other models, variants or thread counts
    results = read_results(summary.out_dir).filter(
        pl.col("job_id").is_in(list(summary.job_ids)))
    comparison = compare_splits(results, confidence=dataset_confidence(summary.out_dir, results))
    specs = [get_spec(name, datasets_dirs) for name in config.datasets]
    shifts = shift_table(specs, list(REQUIRED_STRATEGIES), max_rows=config.max_rows,
                         split_params=config.split_params)
    save_shifts(summary.out_dir, shifts)
    shift = shift_vs_rank_change(comparison, shifts)
    slope, scatter = summary.out_dir / SLOPE_CHART, summary.out_dir / SHIFT_CHART
    save(slope_chart(comparison), slope)
    save(shift_scatter(shift), scatter)
    return SplitStudy(summary.out_dir, results, comparison, noise_baseline(results),
                      strategy_statistics(comparison), shifts, shift, slope, scatter)
