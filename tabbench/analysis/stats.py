"""Statistics over leaderboards: ranks, normalized scores, win rates, Elo, Friedman/Nemenyi.

Most functions take a **score matrix**: one row per task (a dataset × split × seed), one
column per model, oriented so that *higher is better* (see :func:`score_matrix`, which
negates minimized metrics). scipy provides the tests where it has them (ranks, Friedman,
the studentized range for Nemenyi, Kendall tau); the Bradley–Terry fit is a small
maximum-likelihood problem solved with ``scipy.optimize.minimize``.

Elo is TabArena's (the ``bencheval`` package): the same fit, bootstrap and anchor
(``random-forest`` = 1000); ``tests/test_elo_bencheval.py`` checks the two against each other.
Only the default ridge differs (:data:`ELO_RIDGE`; :data:`TABARENA_RIDGE` gives TabArena's
numbers): TabArena's is near zero, which sends a model that never beats some group of others
thousands of points away, as happens on a leaderboard of a few datasets.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import optimize, stats

from tabbench.data.metrics import get_metric

#: Elo scale: a 400-point gap means 10:1 odds of winning.
ELO_SCALE = 400.0
ELO_MEAN = 1000.0
#: TabArena's anchor: when it is among the models, this one is rated exactly :data:`ELO_MEAN`.
ELO_ANCHOR = "random-forest"
#: Ridge on the natural-log strengths: keeps ratings finite and moderate when a model wins
#: (or loses) every comparison, as on a leaderboard of a few datasets with a dummy baseline.
ELO_RIDGE = 0.05
#: The ridge of TabArena's fit (``bencheval.elo_utils.BT_RIDGE``: scikit-learn's L2 penalty at
#: ``C=1e6``): with it, :func:`bradley_terry_elo` reproduces TabArena's ratings.
TABARENA_RIDGE = 0.5 / (1e6 * np.log(10.0) ** 2)


def rank_scores(scores: np.ndarray, *, maximize: bool) -> np.ndarray:
    """Rank 1 = best; ties share the mean of their ranks; NaN scores rank last.

    Examples
    --------
    >>> rank_scores(np.array([0.9, 0.7, 0.9]), maximize=True).tolist()
    [1.5, 3.0, 1.5]
    """
    scores = np.asarray(scores, dtype=float)
    signed = -scores if maximize else scores
    signed = np.where(np.isnan(signed), np.inf, signed)
    return stats.rankdata(signed, method="average")


@dataclass(frozen=True)
class ScoreMatrix:
    """Scores of ``models`` (columns) on ``tasks`` (rows), higher is better."""

    values: np.ndarray
    models: list[str]
    tasks: list[tuple]

    def ranks(self) -> np.ndarray:
        """Per-task ranks (1 = best, ties averaged)."""
        return np.vstack([rank_scores(row, maximize=True) for row in self.values])


def score_matrix(results: pl.DataFrame, *, entry: str = "entry",
                 task_keys: tuple[str, ...] = ("dataset", "split_id", "seed"),
                 score: str = "test_score") -> ScoreMatrix:
    """Pivot result rows into a :class:`ScoreMatrix`, keeping tasks where every model has a score.

    Minimized metrics (``rmse``, ``log_loss`` …) are negated so that higher is better.
    """
    signs = {m: (1.0 if get_metric(m).direction == "maximize" else -1.0)
             for m in results["metric"].unique().to_list()}
    signed = results.with_columns(
        (pl.col(score) * pl.col("metric").replace_strict(signs, return_dtype=pl.Float64))
        .alias("_signed")
    )
    wide = signed.pivot(on=entry, index=list(task_keys), values="_signed",
                        aggregate_function="mean").sort(list(task_keys))
    models = sorted(c for c in wide.columns if c not in task_keys)
    wide = wide.drop_nulls(subset=models)
    values = wide.select(models).to_numpy().astype(float)
    tasks = [tuple(row) for row in wide.select(list(task_keys)).iter_rows()]
    return ScoreMatrix(values, models, tasks)


def normalized_scores(values: np.ndarray, models: list[str], baseline: str = "dummy") -> np.ndarray:
    """Per task: 1 = the best model, 0 = the baseline model (the worst one if absent) or worse.

    Scores below the baseline's are clipped to 0, so the scale is [0, 1] and one model far
    worse than the dummy on one task cannot outweigh its other tasks. It differs from
    TabArena's rescaled loss (``bencheval``: ``(error − best) / (worst − best)`` per task, 0 =
    best): its 0 end is the dummy, not the worst model on the leaderboard, so adding or
    removing a weak model does not move the others' scores.
    """
    values = np.asarray(values, dtype=float)
    best = values.max(axis=1, keepdims=True)
    base = values[:, [models.index(baseline)]] if baseline in models else \
        values.min(axis=1, keepdims=True)
    span = best - base
    with np.errstate(invalid="ignore", divide="ignore"):
        normalized = (values - base) / span
    return np.where(span == 0, (values == best).astype(float), np.maximum(normalized, 0.0))


def win_rate_matrix(values: np.ndarray) -> np.ndarray:
    """``W[i, j]``: share of tasks where model ``i`` beats model ``j`` (ties count one half)."""
    values = np.asarray(values, dtype=float)
    a, b = values[:, :, None], values[:, None, :]
    wins = (a > b).mean(axis=0) + 0.5 * (a == b).mean(axis=0)
    np.fill_diagonal(wins, np.nan)
    return wins


@dataclass(frozen=True)
class FriedmanResult:
    """Friedman's test over tasks and the Nemenyi critical difference of mean ranks."""

    statistic: float
    pvalue: float
    mean_ranks: np.ndarray
    critical_difference: float
    n_tasks: int
    alpha: float


def nemenyi_critical_difference(n_models: int, n_tasks: int, alpha: float = 0.05) -> float:
    """Demšar (2006): ``q_α · sqrt(k (k + 1) / (6 N))``, with ``q_α`` from the studentized range."""
    q = stats.studentized_range.ppf(1 - alpha, n_models, np.inf) / np.sqrt(2)
    return float(q * np.sqrt(n_models * (n_models + 1) / (6.0 * n_tasks)))


def friedman(values: np.ndarray, alpha: float = 0.05) -> FriedmanResult:
    """Friedman's test that all models rank alike, and the Nemenyi CD (needs 3+ models)."""
    values = np.asarray(values, dtype=float)
    n_tasks, n_models = values.shape
    if n_models < 3 or n_tasks < 2:
        raise ValueError("the Friedman test needs at least 3 models and 2 tasks")
    statistic, pvalue = stats.friedmanchisquare(*values.T)
    ranks = np.vstack([rank_scores(row, maximize=True) for row in values])
    return FriedmanResult(float(statistic), float(pvalue), ranks.mean(axis=0),
                          nemenyi_critical_difference(n_models, n_tasks, alpha), n_tasks, alpha)


def _pairwise_outcomes(values: np.ndarray) -> np.ndarray:
    """``(tasks, k, k)``: 1 where model ``i`` beats model ``j`` on the task, 0.5 for a tie, 0
    for a loss, the diagonal and a pair where either score is NaN (no battle)."""
    values = np.asarray(values, dtype=float)
    a, b = values[:, :, None], values[:, None, :]
    outcomes = (a > b) + 0.5 * (a == b)
    diagonal = np.arange(values.shape[1])
    outcomes[:, diagonal, diagonal] = 0.0
    return outcomes


def _fit_elo(wins: np.ndarray, ridge: float) -> np.ndarray:
    """Bradley–Terry ratings, centred on :data:`ELO_MEAN`, from ``wins[i, j]``: the (weighted)
    battles ``i`` won against ``j``, ties counted half to each side."""
    games = wins + wins.T

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        log_p = -np.logaddexp(0.0, theta[None, :] - theta[:, None])  # log P(i beats j)
        nll = -(wins * log_p).sum() + ridge * (theta @ theta)
        grad = -(wins - games * np.exp(log_p)).sum(axis=1) + 2 * ridge * theta
        return nll, grad

    # tight tolerances: scipy's defaults stop short of the maximum on small, lopsided fields
    theta = optimize.minimize(loss, np.zeros(len(wins)), jac=True, method="L-BFGS-B",
                              options={"maxiter": 10_000, "ftol": 1e-15, "gtol": 1e-9}).x
    theta -= theta.mean()
    return ELO_MEAN + ELO_SCALE / np.log(10.0) * theta


def bradley_terry_elo(values: np.ndarray, *, ridge: float = ELO_RIDGE,
                      weights: np.ndarray | None = None) -> np.ndarray:
    """Elo ratings from a Bradley–Terry fit to all pairwise outcomes (ties = half a win).

    ``P(i beats j) = 1 / (1 + 10 ** ((r_j - r_i) / 400))``; ratings are centred on 1000.
    ``ridge`` penalizes the squared natural-log strengths, which keeps ratings finite when
    one model wins every comparison (:data:`TABARENA_RIDGE` gives TabArena's fit).
    ``weights`` (one per task, default 1) scale each task's battles; a pair with a NaN
    score on a task has no battle there.

    Examples
    --------
    >>> bradley_terry_elo(np.array([[1.0, 0.0], [0.0, 1.0]])).round(6).tolist()
    [1000.0, 1000.0]
    """
    outcomes = _pairwise_outcomes(values)
    weights = np.ones(len(outcomes)) if weights is None else np.asarray(weights, dtype=float)
    return _fit_elo(np.tensordot(weights, outcomes, axes=1), ridge)


@dataclass(frozen=True)
class EloResult:
    """Elo ratings with bootstrap confidence intervals.

    ``anchor`` is the model rated exactly :data:`ELO_MEAN` (TabArena's convention, see
    :data:`ELO_ANCHOR`), or ``None`` when the ratings are centred on a mean of 1000.
    """

    models: list[str]
    rating: np.ndarray
    low: np.ndarray
    high: np.ndarray
    anchor: str | None = None

    @property
    def scale(self) -> str:
        """What fixes the scale, for a caption: ``"random-forest = 1000"`` or ``"mean = 1000"``."""
        return f"{self.anchor or 'mean'} = {ELO_MEAN:.0f}"


def elo_with_intervals(matrix: ScoreMatrix, *, n_bootstrap: int = 200, level: float = 0.95,
                       seed: int = 0, anchor: str | None = ELO_ANCHOR,
                       blocks: Sequence[Hashable] | None = None,
                       ridge: float = ELO_RIDGE) -> EloResult:
    """Elo ratings and percentile intervals from resampling tasks (or blocks of tasks).

    TabArena's method (``bencheval``'s ``BenchmarkEvaluator.compute_elo``): a
    Bradley–Terry fit to every pairwise battle of every task, ties as half a win; a
    percentile interval from refitting on tasks drawn with replacement; then every rating
    and interval moved by one offset so that ``anchor`` sits at exactly 1000. The intervals
    are those of the mean-centred ratings, moved with them, so the anchor's own interval
    says how sure its place in the field is. Without the anchor among the models, ratings
    stay centred on a mean of 1000 (:attr:`EloResult.anchor` is ``None``). An interval
    always contains its rating (TabArena clips it the same way).

    Parameters
    ----------
    matrix : ScoreMatrix
        Tasks (rows) × models, higher is better.
    n_bootstrap, level, seed
        Resamples, interval coverage and the seed of the draws.
    anchor : str or None
        The model rated 1000 when present (``None``: always centre on the mean).
    blocks : sequence, optional
        One label per task: tasks with the same label (the splits of one dataset) are
        drawn together and share one unit of weight, as TabArena weighs the folds of a
        dataset. Default: each task is its own block.
    ridge : float
        See :func:`bradley_terry_elo`; :data:`TABARENA_RIDGE` reproduces TabArena's ratings.
    """
    outcomes = _pairwise_outcomes(matrix.values)
    n_tasks, k = outcomes.shape[:2]
    labels = range(n_tasks) if blocks is None else list(blocks)
    if len(labels) != n_tasks:
        message = f"blocks: {len(labels)} labels for {n_tasks} tasks; give one label per task"
        raise ValueError(message)
    index: dict[Hashable, int] = {}
    block = np.array([index.setdefault(label, len(index)) for label in labels], dtype=int)
    n_blocks = len(index)
    share = 1.0 / np.bincount(block, minlength=n_blocks)[block]  # a block weighs 1 in all
    block_wins = np.zeros((n_blocks, k, k))
    np.add.at(block_wins, block, outcomes * share[:, None, None])
    rating = _fit_elo(block_wins.sum(axis=0), ridge)
    rng = np.random.default_rng(seed)
    samples = np.vstack([
        _fit_elo(np.tensordot(np.bincount(rng.integers(0, n_blocks, n_blocks),
                                          minlength=n_blocks), block_wins, axes=1), ridge)
        for _ in range(n_bootstrap)
    ])
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(samples, [tail, 100 - tail], axis=0)
    low, high = np.minimum(low, rating), np.maximum(high, rating)
    anchor = anchor if anchor in matrix.models else None
    if anchor is not None:
        offset = ELO_MEAN - rating[matrix.models.index(anchor)]
        rating, low, high = rating + offset, low + offset, high + offset
    return EloResult(matrix.models, rating, low, high, anchor)


def kendall_tau(ranks_a: np.ndarray, ranks_b: np.ndarray) -> float:
    """Kendall's tau-b between two rankings of the same models.

    No p-value: scipy's switches to a normal approximation when there are ties, and it tests
    tau = 0, which is not the question a split comparison asks (see :mod:`tabbench.analysis.compare`).
    """
    return float(stats.kendalltau(ranks_a, ranks_b).statistic)


# --- bootstrap intervals for rank agreement (vectorized over resamples) -----------------------


def kendall_tau_b(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall's tau-b between ``x[..., :]`` and ``y[..., :]`` along the last axis, batched.

    Scores or ranks both work (tau only looks at the order of each pair). A model that is
    NaN in ``x`` or ``y`` is left out of that row, as if it were not there; a row with no
    untied pair in ``x`` or in ``y`` gives NaN. Equals :func:`kendall_tau` on each row.

    Examples
    --------
    >>> kendall_tau_b(np.array([[1, 2, 3], [1, 2, 3]]), np.array([[1, 2, 3], [3, 2, 1]])).tolist()
    [1.0, -1.0]
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    i, j = np.triu_indices(x.shape[-1], 1)
    dx, dy = np.sign(x[..., i] - x[..., j]), np.sign(y[..., i] - y[..., j])
    valid = ~(np.isnan(dx) | np.isnan(dy))
    dx, dy = np.where(valid, dx, 0.0), np.where(valid, dy, 0.0)
    # tau-b = (concordant - discordant) / sqrt(pairs untied in x * pairs untied in y)
    denominator = np.sqrt((dx != 0).sum(-1) * (dy != 0).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (dx * dy).sum(-1) / denominator, np.nan)


def sign_test_greater(n_greater: np.ndarray | int, n_decided: np.ndarray | int) -> np.ndarray:
    """Exact one-sided sign test: P(X ≥ ``n_greater``) for X ~ Binomial(``n_decided``, 1/2).

    Vectorized over arrays of counts (scipy's ``binomtest`` with ``alternative="greater"``
    gives the same value for one pair); NaN where nothing was decided.

    Examples
    --------
    >>> float(sign_test_greater(4, 4))
    0.0625
    """
    n_greater, n_decided = np.asarray(n_greater), np.asarray(n_decided)
    with np.errstate(invalid="ignore"):
        p = stats.binom.sf(n_greater - 1, n_decided, 0.5)
    return np.where(n_decided > 0, p, np.nan)


def resample_counts(n: int, n_bootstrap: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_bootstrap, n)``: how often each of ``n`` units is drawn in each resample (with
    replacement, ``n`` draws each)."""
    draws = rng.integers(0, n, size=(n_bootstrap, n))
    return (draws[:, :, None] == np.arange(n)).sum(axis=1)


def percentile_interval(samples: np.ndarray, level: float = 0.95,
                        axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval along ``axis``, ignoring NaN resamples (NaN if all are)."""
    tail = (1 - level) / 2 * 100
    samples = np.asarray(samples, dtype=float)
    empty = np.isnan(samples).all(axis=axis)
    filled = np.where(empty, 0.0, np.moveaxis(samples, axis, 0))  # no all-NaN warning
    low, high = np.nanpercentile(filled, [tail, 100 - tail], axis=0)
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def bootstrap_seed_means(values: np.ndarray, cells: np.ndarray, n_cells: int,
                         uniforms: np.ndarray) -> np.ndarray:
    """Cell means with each group's seeds resampled, ``(n_bootstrap, n_cells)``.

    ``values`` is ``(groups, max_seeds)``: one row per (cell, split), its seeds' scores,
    padded with NaN; ``cells[g]`` is the cell (e.g. a dataset × strategy × model) of group
    ``g``; ``uniforms`` is ``(n_bootstrap, groups, max_seeds)`` of uniform numbers in [0, 1)
    that pick the seeds. Each resample draws, within every group, as many seeds as it has,
    with replacement; a cell's score is the mean over its groups (splits) of those means,
    as in the point estimate (mean over splits of the mean over seeds). A cell without
    groups is NaN.
    """
    values = np.asarray(values, dtype=float)
    n_groups, width = values.shape
    counts = (~np.isnan(values)).sum(axis=1)
    picks = np.floor(uniforms * counts[None, :, None]).astype(int)
    drawn = values[np.arange(n_groups)[None, :, None], picks]
    used = np.arange(width)[None, None, :] < counts[None, :, None]
    group_means = np.where(used, drawn, 0.0).sum(axis=2) / counts
    membership = np.zeros((n_groups, n_cells))
    membership[np.arange(n_groups), cells] = 1.0
    size = membership.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (group_means @ membership) / np.where(size > 0, size, np.nan)


#: Random pairings behind :func:`spearman_with_interval`'s p-value.
N_PERMUTATIONS = 9999


def _permutation_pvalue(rank_x: np.ndarray, rank_y: np.ndarray, rho: float, seed: int) -> float:
    """Two-sided Monte Carlo permutation p-value of Spearman's ``rho`` (ranks given)."""
    rng = np.random.default_rng([seed, 1])
    shuffled = rng.permuted(np.broadcast_to(rank_y, (N_PERMUTATIONS, rank_y.size)), axis=1)
    cx = rank_x - rank_x.mean()
    cy = shuffled - shuffled.mean(axis=1, keepdims=True)
    samples = cy @ cx / np.sqrt((cx ** 2).sum() * (cy ** 2).sum(axis=1))
    hits = int((np.abs(samples) >= abs(rho) - 1e-12).sum())
    return (1 + hits) / (1 + N_PERMUTATIONS)


@dataclass(frozen=True)
class Correlation:
    """Spearman's rho across units (datasets), its p-value and a bootstrap interval."""

    rho: float
    pvalue: float
    low: float
    high: float
    n: int


def spearman_with_interval(x: np.ndarray, y: np.ndarray, *, n_bootstrap: int = 1000,
                           level: float = 0.95, seed: int = 0) -> Correlation:
    """Spearman's rho between ``x`` and ``y`` with a percentile interval from resampling the
    pairs (units) with replacement, and a two-sided permutation p-value of rho = 0
    (:data:`N_PERMUTATIONS` random pairings, ``(1 + hits) / (1 + permutations)``: valid at
    any size and with ties, unlike the t approximation). Pairs with a NaN are dropped; fewer
    than 3 pairs or a constant ``x`` or ``y`` give NaN, never a made-up number."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    n = len(x)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return Correlation(np.nan, np.nan, np.nan, np.nan, n)
    rho = float(stats.spearmanr(x, y).statistic)
    pvalue = _permutation_pvalue(stats.rankdata(x), stats.rankdata(y), rho, seed)
    draws = np.random.default_rng(seed).integers(0, n, size=(n_bootstrap, n))
    rx, ry = stats.rankdata(x[draws], axis=1), stats.rankdata(y[draws], axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        # a resample with one distinct x (or y) has no correlation: NaN, left out
        samples = (rx * ry).sum(1) / np.sqrt((rx ** 2).sum(1) * (ry ** 2).sum(1))
    low, high = percentile_interval(samples, level)
    return Correlation(float(rho), float(pvalue), float(low), float(high), n)
