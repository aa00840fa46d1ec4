"""Compare split strategies: the same models ranked under random and time-based splits.

(Longer than 500 lines: the comparison, its noise baseline, the per-strategy statistics and
the shift relation all read one rankings table and share its bootstrap helpers.)

Per dataset, a model's score under a strategy is its mean test score over that strategy's
splits (e.g. the sliding windows) and seeds; models are ranked per (dataset, strategy).
Rankings are compared with Kendall's tau per dataset, and pooled: tau between the models'
mean ranks over all datasets (the two overall leaderboards).

**Baselines are left out of every tau** (per dataset, pooled, mean, the shift relation and
the noise baseline): the ``dummy`` is last under every split, so every pair with it agrees,
and with 7 models of which 6 are unrelated the expected tau would be about 0.29, not 0. They
stay in the rankings and the per-strategy statistics (Friedman, Elo), which are leaderboards.

Intervals are 95% percentile bootstraps, seeded (the same results give the same numbers):

* **per dataset**, over **test rows** when the run stored its predictions: each model's
  score averaged over the strategy's splits and seeds is recomputed on every resample of
  the test rows (circular blocks in time order for time-based splits; the two strategies
  resampled independently), re-ranked, and tau taken per resample. With 3+ seeds the
  interval over **seeds** is given beside it (``seed_low``, ``seed_high``): a job's seed
  changes its tuning and fitting but not its split, so that one covers fitting and tuning
  noise only. Without predictions the seed interval is the only one; with one seed and no
  predictions there is none, and the ``interval`` column says so.
* **pooled** tau and the **mean of the per-dataset taus**, over **datasets**, the units a
  benchmark's conclusion is meant to generalize over.

No p-value is given for a tau: the test of tau = 0 is not the question asked (whether two
rankings agree less than noise would make them agree is :func:`noise_baseline`'s question).

The mean per-dataset tau between the random and the time ranking is the answer to "does the
random-split ranking predict the time-split ranking?" (:meth:`SplitComparison.headline`).
With windows in the run, each window strategy is also compared with the random split paired
with it (random split ``i`` = window ``i``'s rows reshuffled, TabReD's comparison), which
differs from it in the split type only (:meth:`SplitComparison.paired_headlines`).
:func:`strategy_statistics` gives each strategy's Friedman test, Nemenyi critical
difference and Elo with datasets as the blocks, and :func:`shift_vs_rank_change` relates
each dataset's shift to how much its ranking changed.
"""

from __future__ import annotations

import warnings
import zlib
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import polars as pl

from tabbench.analysis.leaderboard import RANKED_KINDS, entry_label, pooled_resamples, task_scores
from tabbench.analysis.stats import (
    EloResult,
    FriedmanResult,
    ScoreMatrix,
    bootstrap_seed_means,
    elo_with_intervals,
    friedman,
    kendall_tau,
    kendall_tau_b,
    percentile_interval,
    rank_scores,
    resample_counts,
    score_matrix,
    sign_test_greater,
    spearman_with_interval,
)
from tabbench.core._atomic import write_parquet_atomic
from tabbench.core.results import DamagedFileError, read_checked, with_kind
from tabbench.data.metrics import get_metric
from tabbench.data.splits import ALL_ROWS_RANDOM, PAIRED_RANDOM
from tabbench.exceptions import TabbenchWarning
from tabbench.methods.models import baseline_models

POOLED = "(pooled)"
N_BOOTSTRAP = 1000
LEVEL = 0.95
#: Columns of :func:`tabbench.analysis.drift.shift_table` that :func:`shift_vs_rank_change` correlates.
SHIFT_MEASURES = ("adversarial_auc", "drifting_share")
#: Below this many datasets, an interval from resampling them is labelled rough: a
#: percentile bootstrap over a handful of units has few distinct resamples and undercovers.
FEW_DATASETS = 10
#: The shift table ``tabbench compare-splits`` leaves in the run folder for the report:
#: measuring shift loads every dataset and fits a classifier, which the report cannot do
#: from a run folder alone (user datasets, subsampling) and should not redo on each build.
SHIFT_FILE = "compare-splits-shift.parquet"


@dataclass(frozen=True)
class SplitComparison:
    """Rankings under each strategy, their agreement with intervals, and what moved."""

    strategies: list[str]
    rankings: pl.DataFrame  # dataset, model, strategy, metric, score, rank (baselines included)
    # dataset (or "(pooled)"), strategy_a, strategy_b, tau, low, high, n_models, interval
    taus: pl.DataFrame
    moves: pl.DataFrame     # dataset, model, rank_<a>, rank_<b>, rank_change, score_<a>, score_<b>, score_change_pct
    agreement: pl.DataFrame  # strategy_a, strategy_b, mean_tau, low, high, n_datasets, interval
    reference: str = "random"
    target: str = "time"
    #: Models left out of every tau and of ``moves`` (they stay in ``rankings``).
    baselines: tuple[str, ...] = ()

    def side_by_side(self, dataset: str | None = None) -> pl.DataFrame:
        """Ranks (and scores) of each model under each strategy, one column per strategy."""
        table = self.rankings if dataset is None else self.rankings.filter(
            pl.col("dataset") == dataset)
        if dataset is None:
            table = table.group_by("model", "strategy").agg(pl.col("rank").mean())
        wide = table.pivot(on="strategy", index="model", values="rank", aggregate_function="mean")
        order = [s for s in self.strategies if s in wide.columns]
        return wide.select("model", *order).sort(order[0] if order else "model")

    def left_out(self) -> str:
        """What the taus leave out, for a table's footnote."""
        if not self.baselines:
            return "no baseline model in these results"
        return f"baselines left out of every tau: {', '.join(self.baselines)}"

    def headline(self) -> str:
        """One sentence: does the ``reference`` ranking predict the ``target`` ranking?

        The number is the mean over datasets of Kendall's tau between the two rankings of a
        dataset (1 = the same order, 0 = no relation, −1 = reversed), baselines left out,
        with its interval from resampling datasets.
        """
        return self._headline(self.reference, self.target)

    def paired_headlines(self) -> list[str]:
        """:meth:`headline` for each window strategy in the rankings against the random
        split paired with it (:data:`tabbench.data.splits.PAIRED_RANDOM`: random split ``i``
        holds window ``i``'s rows), TabReD's comparison of the split type alone."""
        return [self._headline(paired, window) + f" ({paired}-i holds the rows of {window}-i.)"
                for window, paired in PAIRED_RANDOM.items()
                if window in self.strategies and paired in self.strategies]

    def _headline(self, reference: str, target: str) -> str:
        question = f"Does the {reference}-split ranking predict the {target}-split ranking?"
        row = _pair_rows(self.agreement, reference, target)
        if row.is_empty():
            return (f"{question} Not measured: no dataset has both a {reference} and a "
                    f"{target} ranking of two or more models.")
        mean, low, high, n = row.row(0)[2:6]
        rough = ", rough with so few" if n < FEW_DATASETS else ""
        interval = (f"95% CI [{low:.2f}, {high:.2f}] from resampling the {n} datasets{rough}"
                    if low == low else f"no interval from {n} dataset{'s' if n != 1 else ''}")
        left_out = f"; {self.left_out()}" if self.baselines else ""
        return (f"{question} Mean per-dataset Kendall tau = {mean:.2f}, {interval} "
                f"(1 = same order, 0 = no relation, −1 = reversed{left_out}).")


def compare_splits(results: pl.DataFrame, *, reference: str = "random", target: str = "time",
                   n_bootstrap: int = N_BOOTSTRAP, level: float = LEVEL, seed: int = 0,
                   baselines: tuple[str, ...] | None = None,
                   confidence: pl.DataFrame | None = None) -> SplitComparison:
    """Compare the rankings of the split strategies found in ``results`` (``ok`` rows only).

    ``rankings`` ranks every model, baselines included (a leaderboard). ``taus``,
    ``agreement`` and ``moves`` leave out ``baselines`` (default: the registered models
    marked ``baseline``, i.e. the ``dummy``), which would make every pair of rankings agree.

    ``moves`` compares ``reference`` (default the random split) with ``target`` (default the
    time split), ranking on each dataset the models both scored (Kendall's tau, which only
    counts pairs in the same order, needs no re-ranking): a positive ``rank_change`` means
    the model ranks worse under ``target``;
    ``score_change_pct`` is the relative change of the score, signed so that a negative
    value is always a loss (whatever the metric's direction).

    ``taus`` has each tau's ``level`` interval (``low``, ``high``) and says in ``interval``
    how it was made or why there is none. Per dataset, when ``confidence`` (the table of
    :func:`tabbench.analysis.leaderboard.dataset_confidence`, from the stored predictions) covers
    both strategies' models: from resampling the **test rows** (each model's score averaged
    over the strategy's splits and seeds on every resample, re-ranked, tau per resample;
    circular blocks in time order for time-based splits, the two strategies resampled
    independently), with the interval over **seeds** beside it in ``seed_low``/``seed_high``
    when every model has 3+ seeds; otherwise from resampling seeds (``n_bootstrap``
    resamples drawn from ``seed``), which covers fitting and tuning noise only. Pooled:
    from resampling datasets. ``agreement`` is the mean of the per-dataset taus of each
    pair of strategies, its interval from resampling datasets.
    """
    baselines = tuple(baseline_models() if baselines is None else baselines)
    scores = task_scores(results)
    if scores.is_empty():
        raise ValueError("no ok results to compare")
    per_strategy = (
        scores.group_by("dataset", "split_strategy", "entry", "metric")
        .agg(pl.col("test_score").mean().alias("score"))
        .rename({"split_strategy": "strategy", "entry": "model"})
    )
    rankings = pl.concat([
        group.with_columns(_ranks(group, "score", "rank"))
        for _, group in per_strategy.group_by("dataset", "strategy", maintain_order=True)
    ]).sort("dataset", "strategy", "rank")
    strategies = _order(rankings["strategy"].unique().to_list())
    compared = _without_baselines(results, baselines)
    seed_scores = _seed_scores(compared)
    entries = set(seed_scores["model"].to_list())
    ranked = rankings.filter(pl.col("model").is_in(list(entries)))
    samples = {} if confidence is None else row_tau_samples(confidence)
    taus = _taus(ranked, strategies, seed_scores, samples, n_bootstrap=n_bootstrap,
                 level=level, seed=seed)
    present = tuple(b for b in baselines if results["model"].is_in([b]).any())
    return SplitComparison(strategies, rankings, taus, _moves(ranked, reference, target),
                           _agreement(taus, strategies, n_bootstrap=n_bootstrap, level=level,
                                      seed=seed), reference, target, present)


def noise_taus(r0: np.ndarray, r1: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tau(r0, r1) and tau(r0, t) along the last axis (models; higher scores are better),
    batched over any leading axes: :class:`NoiseBaseline`'s two agreements."""
    return kendall_tau_b(r0, r1), kendall_tau_b(r0, t)


def noise_counts(tau_noise: np.ndarray, tau_across: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Along the last axis (datasets): how many have ``tau_across`` below ``tau_noise``, and
    how many are not tied (the sign test's n)."""
    return (tau_across < tau_noise).sum(-1), (tau_across != tau_noise).sum(-1)


def _without_baselines(results: pl.DataFrame, baselines: tuple[str, ...]) -> pl.DataFrame:
    return results.filter(~pl.col("model").is_in(list(baselines)))


@dataclass(frozen=True)
class NoiseBaseline:
    """Do the ``reference`` and ``target`` rankings agree less than noise would explain?

    Per dataset, with two reference splits ``r0`` and ``r1`` (for the random strategy: two
    draws of the test rows, of the same sizes) and the target split ``t``, each ranking
    from the models' mean scores over seeds: ``tau_noise`` = tau(r0, r1), two rankings that
    differ only by test rows and fitting; ``tau_across`` = tau(r0, t). Where the split does
    not matter, r1 and t are exchangeable, so ``tau_noise − tau_across`` is symmetric about
    0 and the one-sided sign test of ``n_lower`` (datasets where ``tau_across`` is lower)
    out of the ``n_decided`` untied datasets has its nominal level. Baselines are left out.
    """

    table: pl.DataFrame  # dataset, tau_noise, tau_across, n_models
    n_lower: int
    n_decided: int
    pvalue: float
    reference: str
    target: str
    note: str = ""

    @property
    def n_datasets(self) -> int:
        """Datasets with both reference splits and a target split."""
        return self.table.height

    def sentence(self) -> str:
        """One line: the noise agreement next to the across-strategy agreement, and the test."""
        if not self.n_datasets:
            return f"Noise baseline not measured: {self.note}."
        noise = self.table["tau_noise"].mean()
        across = self.table["tau_across"].mean()
        return (f"Noise baseline: two {self.reference} splits with different test rows agree "
                f"with mean tau {noise:.2f}; a {self.reference} and a {self.target} split, "
                f"{across:.2f}; lower across strategies on {self.n_lower} of "
                f"{self.n_decided} datasets (ties left out; one-sided sign test "
                f"p = {self.pvalue:.2g}, exact; baselines left out).")


def noise_baseline(results: pl.DataFrame, *, reference: str = "random", target: str = "time",
                   baselines: tuple[str, ...] | None = None) -> NoiseBaseline:
    """Test whether ``reference`` and ``target`` rankings agree less than two ``reference``
    splits do (see :class:`NoiseBaseline`).

    Needs at least two splits of ``reference`` (for ``random``: ``split_params.random.n_splits
    = 2``): ``<reference>-0`` and ``<reference>-1`` are the two; the target ranking is the
    mean over its splits (sliding windows count once). A dataset where a model lacks a score
    in one of the three rankings, or with fewer than 3 models, is left out. The p-value is
    the exact one-sided binomial test of ``n_lower`` in ``n_decided`` against 1/2.
    """
    baselines = tuple(baseline_models() if baselines is None else baselines)
    scores = _seed_scores(_without_baselines(results, baselines))
    r0, r1 = f"{reference}-0", f"{reference}-1"
    rankings = pl.concat([
        scores.filter(pl.col("split_id") == r0).with_columns(pl.lit("r0").alias("side")),
        scores.filter(pl.col("split_id") == r1).with_columns(pl.lit("r1").alias("side")),
        scores.filter(pl.col("strategy") == target).with_columns(pl.lit("t").alias("side")),
    ]).group_by("dataset", "side", "model", "metric").agg(pl.col("test_score").mean())
    rows = []
    for (dataset,), group in rankings.group_by("dataset", maintain_order=True):
        wide = group.pivot(on="side", index="model", values="test_score").drop_nulls()
        if not {"r0", "r1", "t"} <= set(wide.columns) or wide.height < 3:
            continue
        sign = 1.0 if get_metric(group["metric"][0]).direction == "maximize" else -1.0
        tau_noise, tau_across = noise_taus(*(sign * wide[c].to_numpy() for c in ("r0", "r1", "t")))
        rows.append((dataset, float(tau_noise), float(tau_across), wide.height))
    table = pl.DataFrame(rows, schema={"dataset": pl.String, "tau_noise": pl.Float64,
                                       "tau_across": pl.Float64, "n_models": pl.Int64},
                         orient="row").sort("dataset")
    valid = table.filter(pl.col("tau_noise").is_not_nan() & pl.col("tau_across").is_not_nan())
    lower, decided = noise_counts(valid["tau_noise"].to_numpy(), valid["tau_across"].to_numpy())
    pvalue = float(sign_test_greater(lower, decided))
    note = "" if table.height else (
        f"no dataset has splits {r0} and {r1} and a {target} split with 3+ models "
        f"(two {reference} splits: split_params.{reference}.n_splits = 2)")
    return NoiseBaseline(table, lower, decided, pvalue, reference, target, note)


def _ranks(group: pl.DataFrame, score: str, name: str) -> pl.Series:
    """Ranks (1 = best, ties averaged) of ``group[score]``, one dataset's models."""
    maximize = get_metric(group["metric"][0]).direction == "maximize"
    return pl.Series(name, rank_scores(group[score].to_numpy(), maximize=maximize))


def _order(strategies: list[str]) -> list[str]:
    preferred = ["random", ALL_ROWS_RANDOM, *PAIRED_RANDOM.values(), "stratified", "time",
                 *PAIRED_RANDOM, "group"]
    return sorted(strategies, key=lambda s: (preferred.index(s) if s in preferred else 99, s))


#: Fewest seeds for the seed interval beside a test-row interval (with 2, a model's
#: resampled mean takes only 3 values).
MIN_SEEDS_BESIDE_ROWS = 3


def _taus(rankings: pl.DataFrame, strategies: list[str], seeds: pl.DataFrame,
          row_samples: dict[tuple[str, str], tuple[list[str], np.ndarray]], *,
          n_bootstrap: int, level: float, seed: int) -> pl.DataFrame:
    datasets = sorted(rankings["dataset"].unique().to_list())
    models = sorted(rankings["model"].unique().to_list())
    ranks = _cube(rankings, "rank", datasets, strategies, models)
    boot, n_seeds = _seed_bootstrap(seeds, datasets, strategies, models, n_bootstrap, seed)
    counts = resample_counts(len(datasets), n_bootstrap, np.random.default_rng(seed))
    rows = []
    for (ia, a), (ib, b) in combinations(enumerate(strategies), 2):
        low, high = percentile_interval(kendall_tau_b(boot[:, :, ia], boot[:, :, ib]), level)
        pair = {"strategy_a": a, "strategy_b": b}
        for d, dataset in enumerate(datasets):
            both = ~np.isnan(ranks[d, ia]) & ~np.isnan(ranks[d, ib])
            if both.sum() < 2:
                continue
            tau = kendall_tau(ranks[d, ia, both], ranks[d, ib, both])
            seeds_used = n_seeds[d, [ia, ib]][:, both]  # inf: ranked, but no finite score
            fewest = int(np.where(np.isinf(seeds_used), 0, seeds_used).min())
            by_seed = (low[d], high[d]) if fewest > 1 else (np.nan, np.nan)
            by_rows = _row_tau_interval(row_samples, dataset, a, b,
                                        [m for m, keep in zip(models, both, strict=True) if keep],
                                        level)
            if by_rows is not None:
                interval = "bootstrap over test rows"
                shown, beside = by_rows, (by_seed if fewest >= MIN_SEEDS_BESIDE_ROWS
                                          else (np.nan, np.nan))
            else:
                interval = (f"bootstrap over seeds (min {fewest} per model)" if fewest > 1
                            else "none: 1 seed per model, no stored predictions" if fewest == 1
                            else "none: a model has no finite score")
                shown, beside = by_seed, (np.nan, np.nan)
            rows.append({"dataset": dataset, **pair, "tau": tau, "low": shown[0],
                         "high": shown[1], "n_models": int(both.sum()), "interval": interval,
                         "seed_low": beside[0], "seed_high": beside[1]})
        mean_a, mean_b = (_mean_ranks(ranks[:, i], np.ones((1, len(datasets))))[0]
                          for i in (ia, ib))
        both = ~np.isnan(mean_a) & ~np.isnan(mean_b)
        if both.sum() < 2:
            continue
        tau = kendall_tau(mean_a[both], mean_b[both])
        samples = pooled_tau_samples(ranks[:, ia], ranks[:, ib], counts)
        p_low, p_high = percentile_interval(samples, level) if len(datasets) > 1 else (
            np.nan, np.nan)
        rows.append({"dataset": POOLED, **pair, "tau": tau, "low": float(p_low),
                     "high": float(p_high), "n_models": int(both.sum()),
                     "interval": _over_datasets(len(datasets)), "seed_low": np.nan,
                     "seed_high": np.nan})
    schema = {"dataset": pl.String, "strategy_a": pl.String, "strategy_b": pl.String,
              "tau": pl.Float64, "low": pl.Float64, "high": pl.Float64,
              "n_models": pl.Int64, "interval": pl.String, "seed_low": pl.Float64,
              "seed_high": pl.Float64}
    return pl.DataFrame(rows, schema=schema)


def row_tau_samples(confidence: pl.DataFrame) -> dict[tuple[str, str], tuple[list[str], np.ndarray]]:
    """Per (dataset, strategy), the models and their scores averaged over the splits and
    seeds on each resample of the test rows, higher is better, ``(n_resamples, models)``
    (:func:`tabbench.analysis.leaderboard.pooled_resamples`)."""
    out = {}
    for item in pooled_resamples(confidence):
        sign = 1.0 if get_metric(item.metric).direction == "maximize" else -1.0
        out[item.dataset, item.strategy] = (item.models, sign * item.resampled)
    return out


def _row_tau_interval(row_samples: dict[tuple[str, str], tuple[list[str], np.ndarray]],
                      dataset: str, a: str, b: str, models: list[str],
                      level: float) -> tuple[float, float] | None:
    """The percentile interval of tau(a, b) over resamples of the test rows, or None when
    either strategy lacks stored predictions for one of ``models``. The two strategies'
    test rows are resampled independently."""
    found = [row_samples.get((dataset, strategy)) for strategy in (a, b)]
    if any(item is None or not set(models) <= set(item[0]) for item in found):
        return None
    columns = [item[1][:, [item[0].index(m) for m in models]] for item in found]
    n = min(c.shape[0] for c in columns)
    low, high = percentile_interval(kendall_tau_b(columns[0][:n], columns[1][:n]), level)
    return float(low), float(high)


def pooled_tau_samples(ranks_a: np.ndarray, ranks_b: np.ndarray,
                       counts: np.ndarray) -> np.ndarray:
    """Pooled tau of each resample of datasets, ``(n_bootstrap,)``.

    ``ranks_a`` and ``ranks_b`` are ``(datasets, models)`` (NaN: not ranked there);
    ``counts[r, d]`` is how often resample ``r`` drew dataset ``d``. Each resample's mean
    ranks weigh a dataset by its count; tau is taken over the models both strategies rank.
    """
    return kendall_tau_b(_mean_ranks(ranks_a, counts), _mean_ranks(ranks_b, counts))


def _mean_ranks(ranks: np.ndarray, counts: np.ndarray) -> np.ndarray:
    present = ~np.isnan(ranks)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (counts @ np.where(present, ranks, 0.0)) / (counts @ present)


def _cube(table: pl.DataFrame, column: str, datasets: list[str], strategies: list[str],
          models: list[str]) -> np.ndarray:
    """``table[column]`` as a ``(datasets, strategies, models)`` array, NaN where absent."""
    cube = np.full((len(datasets), len(strategies), len(models)), np.nan)
    d, s, m = ({name: i for i, name in enumerate(names)} for names in (datasets, strategies, models))
    for dataset, strategy, model, value in table.select(
            "dataset", "strategy", "model", column).iter_rows():
        cube[d[dataset], s[strategy], m[model]] = value
    return cube


def _seed_scores(results: pl.DataFrame) -> pl.DataFrame:
    """One score per (dataset, strategy, split, model, seed), the ok rows that are ranked."""
    ok = with_kind(results).filter(
        (pl.col("status") == "ok") & pl.col("kind").is_in(RANKED_KINDS)
        & pl.col("test_score").is_not_null() & pl.col("test_score").is_not_nan())
    return (ok.with_columns(entry_label().alias("model"))
            .group_by("dataset", "split_strategy", "split_id", "model", "metric", "seed")
            .agg(pl.col("test_score").mean())
            .rename({"split_strategy": "strategy"}))


def _seed_bootstrap(seeds: pl.DataFrame, datasets: list[str], strategies: list[str],
                    models: list[str], n_bootstrap: int,
                    seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores with seeds resampled, ``(n_bootstrap, datasets, strategies, models)`` (higher
    is better), and the fewest seeds of a split in each cell (``inf`` where absent).

    Each (dataset, strategy, model, split) draws from its own random stream, seeded by
    ``seed`` and its name, so rows of other models or datasets do not change its draws.
    """
    shape = (len(datasets), len(strategies), len(models))
    d, s, m = ({name: i for i, name in enumerate(names)} for names in (datasets, strategies, models))
    groups = (seeds.filter(pl.col("dataset").is_in(datasets) & pl.col("strategy").is_in(strategies)
                           & pl.col("model").is_in(models))
              .group_by("dataset", "strategy", "model", "split_id")
              .agg(pl.col("test_score").sort_by("seed"), pl.col("metric").first())
              .sort("dataset", "strategy", "model", "split_id"))
    width = max(groups["test_score"].list.len().max() or 1, 1)
    values = np.full((groups.height, width), np.nan)
    uniforms = np.zeros((n_bootstrap, groups.height, width))
    cells = np.zeros(groups.height, dtype=int)
    n_seeds = np.full(int(np.prod(shape)), np.inf)
    for g, (dataset, strategy, model, split, scores, metric) in enumerate(groups.iter_rows()):
        sign = 1.0 if get_metric(metric).direction == "maximize" else -1.0
        values[g, :len(scores)] = sign * np.asarray(scores, dtype=float)
        cells[g] = np.ravel_multi_index((d[dataset], s[strategy], m[model]), shape)
        n_seeds[cells[g]] = min(n_seeds[cells[g]], len(scores))
        key = zlib.crc32("\0".join((dataset, strategy, model, split)).encode())
        uniforms[:, g, :len(scores)] = np.random.default_rng([seed, key]).random(
            (n_bootstrap, len(scores)))
    boot = bootstrap_seed_means(values, cells, n_seeds.size, uniforms)
    return boot.reshape(n_bootstrap, *shape), n_seeds.reshape(shape)


def _agreement(taus: pl.DataFrame, strategies: list[str], *, n_bootstrap: int, level: float,
               seed: int) -> pl.DataFrame:
    """Mean per-dataset tau of each pair of strategies, interval from resampling datasets."""
    rows = []
    for a, b in combinations(strategies, 2):
        values = _pair_rows(taus.filter(pl.col("dataset") != POOLED), a, b).filter(
            pl.col("tau").is_not_nan())["tau"].to_numpy()
        n = len(values)
        if n == 0:
            continue
        low = high = np.nan
        if n > 1:
            counts = resample_counts(n, n_bootstrap, np.random.default_rng(seed))
            low, high = percentile_interval(counts @ values / n, level)
        rows.append({"strategy_a": a, "strategy_b": b, "mean_tau": float(values.mean()),
                     "low": float(low), "high": float(high), "n_datasets": n,
                     "interval": _over_datasets(n)})
    schema = {"strategy_a": pl.String, "strategy_b": pl.String, "mean_tau": pl.Float64,
              "low": pl.Float64, "high": pl.Float64, "n_datasets": pl.Int64,
              "interval": pl.String}
    return pl.DataFrame(rows, schema=schema)


def _over_datasets(n: int) -> str:
    """How an interval from resampling ``n`` datasets was made, or why there is none."""
    if n < 2:
        return "none: 1 dataset"
    return f"bootstrap over datasets ({n}{', rough' if n < FEW_DATASETS else ''})"


def _pair_rows(table: pl.DataFrame, a: str, b: str) -> pl.DataFrame:
    """The rows of ``table`` comparing strategies ``a`` and ``b`` (in either order)."""
    return table.filter(((pl.col("strategy_a") == a) & (pl.col("strategy_b") == b))
                        | ((pl.col("strategy_a") == b) & (pl.col("strategy_b") == a)))


def _moves(rankings: pl.DataFrame, reference: str, target: str) -> pl.DataFrame:
    a = rankings.filter(pl.col("strategy") == reference).select(
        "dataset", "model", "metric", pl.col("rank").alias(f"rank_{reference}"),
        pl.col("score").alias(f"score_{reference}"))
    b = rankings.filter(pl.col("strategy") == target).select(
        "dataset", "model", pl.col("rank").alias(f"rank_{target}"),
        pl.col("score").alias(f"score_{target}"))
    moves = a.join(b, on=["dataset", "model"])
    if moves.is_empty():
        return moves
    # ranks among the models both strategies scored: a model that only one of them has (a
    # top-k variant, a failed job) must not shift the others' ranks
    moves = pl.concat([
        group.with_columns(*(_ranks(group, f"score_{name}", f"rank_{name}")
                             for name in (reference, target)))
        for _, group in moves.group_by("dataset", maintain_order=True)])
    sign = np.array([1.0 if get_metric(m).direction == "maximize" else -1.0
                     for m in moves["metric"].to_list()])
    before, after = moves[f"score_{reference}"].to_numpy(), moves[f"score_{target}"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        change = 100.0 * sign * (after - before) / np.abs(before)
    return moves.with_columns(
        (pl.col(f"rank_{target}") - pl.col(f"rank_{reference}")).alias("rank_change"),
        pl.Series("score_change_pct", change),
    ).sort("dataset", f"rank_{reference}")


@dataclass(frozen=True)
class StrategyStatistics:
    """One strategy's models over the datasets: Friedman/Nemenyi and Elo (``None`` when
    there are too few datasets or models for them)."""

    strategy: str
    matrix: ScoreMatrix       # datasets × the models scored on all of them, higher is better
    dropped: list[str]        # models left out: not scored on every dataset
    friedman: FriedmanResult | None
    elo: EloResult | None


def strategy_statistics(comparison: SplitComparison, *, n_bootstrap: int = 200,
                        seed: int = 0) -> list[StrategyStatistics]:
    """Friedman's test, the Nemenyi critical difference and Elo (with intervals from
    resampling datasets) for each strategy, with **datasets as the blocks**.

    A model's score on a dataset is its mean over the strategy's splits and seeds, as in the
    rankings: windows of one dataset are not independent tasks, and one unit for every
    strategy makes their critical differences comparable. Models missing on some dataset
    (a failed job) are left out and named in ``dropped``. Friedman needs 3+ models and 2+
    datasets; Elo needs 2+ of each.
    """
    out = []
    for strategy in comparison.strategies:
        part = comparison.rankings.filter(pl.col("strategy") == strategy)
        n_datasets = part["dataset"].n_unique()
        coverage = part.group_by("model").agg(pl.col("dataset").n_unique().alias("n"))
        kept = sorted(coverage.filter(pl.col("n") == n_datasets)["model"].to_list())
        dropped = sorted(set(part["model"].to_list()) - set(kept))
        matrix = score_matrix(part.filter(pl.col("model").is_in(kept)).rename({"model": "entry"}),
                              task_keys=("dataset",), score="score")
        n_tasks, n_models = matrix.values.shape
        test = friedman(matrix.values) if n_models >= 3 and n_tasks >= 2 else None
        elo = (elo_with_intervals(matrix, n_bootstrap=n_bootstrap, seed=seed)
               if n_models >= 2 and n_tasks >= 2 else None)
        out.append(StrategyStatistics(strategy, matrix, dropped, test, elo))
    return out


def friedman_table(statistics: list[StrategyStatistics]) -> pl.DataFrame:
    """One row per strategy: Friedman's χ² and p, the Nemenyi CD (α = 0.05) and the best
    model by mean rank, or a note saying why there is no test."""
    rows = []
    for item in statistics:
        n_datasets, n_models = item.matrix.values.shape
        test = item.friedman
        notes = [] if test else [f"needs 3+ models and 2+ datasets, has {n_models} and "
                                 f"{n_datasets}"]
        if item.dropped:
            notes.append(f"left out (not on every dataset): {', '.join(item.dropped)}")
        best = item.matrix.models[int(np.argmin(test.mean_ranks))] if test else None
        rows.append({"strategy": item.strategy, "n_datasets": n_datasets, "n_models": n_models,
                     "chi2": test.statistic if test else None,
                     "pvalue": test.pvalue if test else None,
                     "critical_difference": test.critical_difference if test else None,
                     "best": best, "note": "; ".join(notes)})
    schema = {"strategy": pl.String, "n_datasets": pl.Int64, "n_models": pl.Int64,
              "chi2": pl.Float64, "pvalue": pl.Float64, "critical_difference": pl.Float64,
              "best": pl.String, "note": pl.String}
    return pl.DataFrame(rows, schema=schema)


def elo_table(statistics: list[StrategyStatistics]) -> pl.DataFrame:
    """Elo of each model under each strategy with its interval: model, strategy, elo, low,
    high (strategies without Elo are absent)."""
    frames = [pl.DataFrame({"model": item.elo.models, "strategy": item.strategy,
                            "elo": item.elo.rating, "low": item.elo.low, "high": item.elo.high})
              for item in statistics if item.elo is not None]
    schema = {"model": pl.String, "strategy": pl.String, "elo": pl.Float64,
              "low": pl.Float64, "high": pl.Float64}
    return pl.concat(frames) if frames else pl.DataFrame(schema=schema)


@dataclass(frozen=True)
class ShiftRankChange:
    """Per dataset, how shifted the target split is and how much the ranking changed."""

    table: pl.DataFrame         # dataset, <shift measures>, tau, rank_change (= 1 − tau)
    correlations: pl.DataFrame  # measure, spearman, low, high, pvalue, n_datasets, note
    reference: str
    target: str


def shift_vs_rank_change(comparison: SplitComparison, shifts: pl.DataFrame, *,
                         measures: tuple[str, ...] = SHIFT_MEASURES,
                         n_bootstrap: int = N_BOOTSTRAP, level: float = LEVEL,
                         seed: int = 0) -> ShiftRankChange:
    """Across datasets: the shift of the ``target`` split against the rank change
    ``1 − tau(reference, target)``, and Spearman's rho between them.

    ``shifts`` has one row per (dataset, strategy) with the ``measures`` columns, as
    :func:`tabbench.analysis.drift.shift_table` writes them (the adversarial-validation AUC of the
    first split, and the share of features whose PSI is over 0.25). Spearman, because the
    AUC saturates near 1 and only the order is meaningful; its interval resamples datasets
    (percentile, seeded), its p-value is scipy's (t approximation). A measure that is the
    same on every dataset (every time split separable: AUC 1.0), or fewer than 3 datasets,
    gives NaN and a note instead of a number.
    """
    reference, target = comparison.reference, comparison.target
    taus = _pair_rows(comparison.taus.filter(pl.col("dataset") != POOLED), reference, target)
    measures = tuple(m for m in measures if m in shifts.columns)
    shift = (shifts.filter(pl.col("strategy") == target)
             .group_by("dataset").agg(*(pl.col(m).mean() for m in measures)))
    table = (shift.join(taus.select("dataset", "tau"), on="dataset")
             .with_columns((1.0 - pl.col("tau")).alias("rank_change")).sort("dataset"))
    rows = []
    for measure in measures:
        result = spearman_with_interval(table[measure].to_numpy(), table["rank_change"].to_numpy(),
                                        n_bootstrap=n_bootstrap, level=level, seed=seed)
        note = ""
        if result.n < 3:
            note = f"needs 3+ datasets, has {result.n}"
        elif result.rho != result.rho:
            note = "no correlation: the same value on every dataset"
        elif result.n < FEW_DATASETS:
            note = f"rough interval: {result.n} datasets"
        rows.append({"measure": measure, "spearman": result.rho, "low": result.low,
                     "high": result.high, "pvalue": result.pvalue, "n_datasets": result.n,
                     "note": note})
    schema = {"measure": pl.String, "spearman": pl.Float64, "low": pl.Float64,
              "high": pl.Float64, "pvalue": pl.Float64, "n_datasets": pl.Int64,
              "note": pl.String}
    return ShiftRankChange(table, pl.DataFrame(rows, schema=schema), reference, target)


def save_shifts(run_dir: Path, shifts: pl.DataFrame) -> Path:
    """Write :func:`tabbench.analysis.drift.shift_table`'s rows to ``run_dir/compare-splits-shift.parquet``."""
    return write_parquet_atomic(Path(run_dir) / SHIFT_FILE, shifts)


def load_shifts(run_dir: Path) -> pl.DataFrame | None:
    """The shift table of ``run_dir`` if ``compare-splits`` wrote one (a damaged file is
    named in a warning and treated as missing)."""
    path = Path(run_dir) / SHIFT_FILE
    if not path.is_file():
        return None
    try:
        return read_checked(path, "shift table", required=("dataset", "strategy",
                                                           "adversarial_auc"))
    except DamagedFileError as exc:
        warnings.warn(f"{exc}; left out", TabbenchWarning, stacklevel=2)
        return None


def elo_columns(statistics: list[StrategyStatistics]) -> pl.DataFrame:
    """Elo per model (rows) and strategy (columns), each cell ``"elo [low, high]"``, models
    by their best rating: for printing."""
    table = elo_table(statistics)
    if table.is_empty():
        return pl.DataFrame(schema={"model": pl.String})
    cells = table.with_columns(pl.format("{} [{}, {}]", *(pl.col(c).round(0).cast(pl.Int64)
                                                          for c in ("elo", "low", "high")))
                               .alias("cell"))
    order = cells.group_by("model").agg(pl.col("elo").max()).sort("elo", descending=True)
    wide = cells.pivot(on="strategy", index="model", values="cell")
    return order.select("model").join(wide, on="model", how="left", maintain_order="left")
