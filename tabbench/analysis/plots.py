"""Figures for leaderboards: critical-difference diagram, Elo intervals, Pareto front,
per-dataset scores, the random → time slope chart, Elo per split strategy, shift against rank
change and tuning curves; for feature rankings: the ranking's bars and the top-k comparison.
Each returns a matplotlib Figure."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from tabbench.methods.features.rankers import RANKERS

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from tabbench.analysis.compare import ShiftRankChange, SplitComparison, StrategyStatistics
    from tabbench.analysis.stats import EloResult, FriedmanResult
    from tabbench.methods.features.ranking import Ranking


def _figure(width: float, height: float) -> Figure:
    # deferred: matplotlib is heavy to import
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def cd_diagram(result: FriedmanResult, models: list[str], unit: str = "tasks") -> Figure:
    """Demšar's critical-difference diagram: mean ranks on an axis (best on the left), with a
    thick bar joining models whose mean ranks differ by less than the Nemenyi CD; ``unit``
    names the blocks in the title (tasks, datasets)."""
    k = len(models)
    order = np.argsort(result.mean_ranks)
    ranks = result.mean_ranks[order]
    names = [models[i] for i in order]
    fig = _figure(7.5, 1.0 + 0.22 * k)
    ax = fig.add_subplot()
    ax.set_xlim(1, k)
    ax.set_ylim(-((k + 1) // 2 + 0.8) * 0.6, 2.0)
    ax.axis("off")
    ax.hlines(0, 1, k, color="black", lw=1)
    for r in range(1, k + 1):
        ax.vlines(r, 0, 0.15, color="black", lw=1)
        ax.text(r, 0.3, str(r), ha="center", fontsize=8)
    cd = result.critical_difference
    ax.hlines(1.3, 1, 1 + cd, color="black", lw=2)
    ax.text(1 + cd / 2, 1.55, f"CD = {cd:.2f}", ha="center", fontsize=8)
    half = (k + 1) // 2
    for i, (name, rank) in enumerate(zip(names, ranks, strict=True)):
        left = i < half
        y = -(i + 1) * 0.6 if left else -(k - i) * 0.6
        x_text = 0.9 if left else k + 0.1
        ax.plot([rank, rank, x_text], [0, y, y], color="0.3", lw=0.8, clip_on=False)
        ax.text(x_text - 0.05 if left else x_text + 0.05, y, f"{name} ({rank:.2f})",
                ha="right" if left else "left", va="center", fontsize=8)
    cliques = _cliques(ranks, cd)
    for j, (a, b) in enumerate(cliques):
        ax.hlines(-0.25 - 0.18 * j, ranks[a] - 0.03, ranks[b] + 0.03, color="tab:red", lw=3)
    ax.set_title(f"Mean rank over {result.n_tasks} {unit} (Friedman p = {result.pvalue:.2g})",
                 fontsize=9)
    return fig


def _cliques(ranks: np.ndarray, cd: float) -> list[tuple[int, int]]:
    """Maximal runs of sorted mean ranks spanning less than ``cd`` (not significantly different)."""
    out: list[tuple[int, int]] = []
    for a in range(len(ranks)):
        b = a
        while b + 1 < len(ranks) and ranks[b + 1] - ranks[a] < cd:
            b += 1
        if b > a and not any(x <= a and b <= y for x, y in out):
            out.append((a, b))
    return out


def elo_chart(elo: EloResult) -> Figure:
    """Elo ratings with their bootstrap intervals, best at the top."""
    order = np.argsort(elo.rating)
    fig = _figure(6, 0.8 + 0.35 * len(order))
    ax = fig.add_subplot()
    y = np.arange(len(order))
    ax.errorbar(elo.rating[order], y, xerr=[elo.rating[order] - elo.low[order],
                                           elo.high[order] - elo.rating[order]],
                fmt="o", color="tab:blue", capsize=3)
    ax.set_yticks(y, [elo.models[i] for i in order])
    ax.set_xlabel(f"Elo (Bradley–Terry fit, {elo.scale}, 95% bootstrap interval)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def elo_strategies_chart(statistics: list[StrategyStatistics]) -> Figure:
    """Each model's Elo under each split strategy with its interval, one colour per strategy;
    models ordered by their mean Elo over the strategies, best at the top."""
    elos = [(item.strategy, item.elo) for item in statistics if item.elo is not None]
    models = sorted({m for _, elo in elos for m in elo.models})
    mean = {m: np.mean([elo.rating[elo.models.index(m)] for _, elo in elos if m in elo.models])
            for m in models}
    models.sort(key=lambda m: mean[m])
    fig = _figure(6.5, 1.0 + 0.4 * len(models))
    ax = fig.add_subplot()
    offsets = np.linspace(-0.25, 0.25, len(elos)) if len(elos) > 1 else np.zeros(1)
    for offset, (strategy, elo) in zip(offsets, elos, strict=True):
        rows = [i for i, m in enumerate(models) if m in elo.models]
        at = [elo.models.index(models[i]) for i in rows]
        ax.errorbar(elo.rating[at], np.array(rows) + offset,
                    xerr=[elo.rating[at] - elo.low[at], elo.high[at] - elo.rating[at]],
                    fmt="o", capsize=3, markersize=4, label=strategy)
    ax.set_yticks(np.arange(len(models)), models)
    ax.set_xlabel("Elo (Bradley–Terry fit over datasets, 95% bootstrap interval)")
    fig.legend(loc="outside upper center", ncols=max(len(elos), 1), fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    return fig


def shift_scatter(shift: ShiftRankChange) -> Figure:
    """Per dataset (one labelled point each): the shift of the target split against the
    rank change 1 − tau, one panel per shift measure, Spearman's rho in the title."""
    labels = {"adversarial_auc": f"adversarial-validation AUC ({shift.target} split)",
              "drifting_share": f"share of features with PSI ≥ 0.25 ({shift.target} split)"}
    rows = list(shift.correlations.iter_rows(named=True))
    fig = _figure(4.6 * max(len(rows), 1), 4.0)
    axes = fig.subplots(1, max(len(rows), 1), squeeze=False)[0]
    y = shift.table["rank_change"].to_numpy()
    for ax, row in zip(axes, rows, strict=False):
        x = shift.table[row["measure"]].to_numpy()
        ax.scatter(x, y, color="tab:blue", zorder=3)
        for name, xi, yi in zip(shift.table["dataset"].to_list(), x, y, strict=True):
            ax.annotate(name, (xi, yi), textcoords="offset points", xytext=(4, 3), fontsize=7)
        rho = row["spearman"]
        if rho == rho:
            title = (f"Spearman ρ = {rho:.2f} [{row['low']:.2f}, {row['high']:.2f}], "
                     f"p = {row['pvalue']:.2g}, n = {row['n_datasets']}")
        else:
            title = f"Spearman ρ: none ({row['note']})"
        ax.set_title(title, fontsize=8)
        ax.margins(x=0.15, y=0.1)  # room for the labels of the outermost points
        ax.set_xlabel(labels.get(row["measure"], row["measure"]), fontsize=8)
        ax.set_ylabel(f"rank change: 1 − Kendall tau ({shift.reference} vs {shift.target})",
                      fontsize=8)
        ax.grid(alpha=0.3)
    return fig


def pareto_chart(summary: pl.DataFrame) -> Figure:
    """Normalized score against mean training time per model, the Pareto front highlighted.

    ``summary`` has columns ``model``, ``normalized_score`` and ``seconds``.
    """
    fig = _figure(6, 4)
    ax = fig.add_subplot()
    x = np.maximum(summary["seconds"].to_numpy(), 1e-3)
    y = summary["normalized_score"].to_numpy()
    front = _pareto_front(x, y)
    ax.scatter(x, y, color=["tab:red" if f else "tab:gray" for f in front], zorder=3)
    for name, xi, yi in zip(summary["model"].to_list(), x, y, strict=True):
        ax.annotate(name, (xi, yi), textcoords="offset points", xytext=(5, 4), fontsize=8)
    idx = np.flatnonzero(front)
    idx = idx[np.argsort(x[idx])]
    ax.step(x[idx], y[idx], where="post", color="tab:red", alpha=0.5)
    ax.set_xscale("log")
    ax.set_xlabel("mean seconds per job (tuning + fit), log scale")
    ax.set_ylabel("normalized score (1 = best, 0 = dummy or worse)")
    ax.grid(alpha=0.3)
    return fig


def _pareto_front(cost: np.ndarray, value: np.ndarray) -> np.ndarray:
    """True for points no other point beats on both (lower cost, higher value)."""
    return np.array([
        not np.any((cost <= c) & (value >= v) & ((cost < c) | (value > v)))
        for c, v in zip(cost, value, strict=True)
    ])


def per_dataset_chart(table: pl.DataFrame) -> Figure:
    """Test score per model on each dataset, with error bars: the bootstrap interval of the
    test rows when ``table`` has ``low``/``high`` (stored predictions), else the std over
    seeds or eval seeds.

    ``table`` has columns ``dataset``, ``metric``, ``model``, ``test_score``, ``std`` and
    optionally ``low``, ``high``.
    """
    datasets = table["dataset"].unique(maintain_order=True).to_list()
    fig = _figure(7, 2.2 * len(datasets))
    axes = fig.subplots(len(datasets), 1, squeeze=False)[:, 0]
    for ax, dataset in zip(axes, datasets, strict=True):
        part = table.filter(pl.col("dataset") == dataset)
        y = np.arange(part.height)
        score = part["test_score"].to_numpy()
        if "low" in part.columns and part["low"].null_count() < part.height:
            err = np.nan_to_num(np.vstack([score - part["low"].cast(pl.Float64).to_numpy(),
                                           part["high"].cast(pl.Float64).to_numpy() - score]))
        else:
            err = np.nan_to_num(part["std"].cast(pl.Float64).to_numpy())
        ax.barh(y, score, xerr=err, color="tab:blue", alpha=0.7, capsize=3)
        ax.set_yticks(y, part["model"].to_list())
        ax.invert_yaxis()
        ax.set_title(f"{dataset} ({part['metric'][0]})", fontsize=9)
        low = float(np.min(score - (err[0] if err.ndim == 2 else err)))
        high = float(np.max(score + (err[1] if err.ndim == 2 else err)))
        pad = (high - low) * 0.15 or abs(high) * 0.05 or 1.0
        ax.set_xlim(max(low - pad, 0) if low >= 0 else low - pad, high + pad)
    return fig


def slope_chart(comparison: SplitComparison, reference: str = "random",
                target: str = "time") -> Figure:
    """Each model's rank under ``reference`` (left) and ``target`` (right), per dataset."""
    table = comparison.moves
    datasets = table["dataset"].unique(maintain_order=True).to_list()
    fig = _figure(3.2 * max(len(datasets), 1), 3.6)
    axes = fig.subplots(1, max(len(datasets), 1), squeeze=False)[0]
    for ax, dataset in zip(axes, datasets, strict=True):
        part = table.filter(pl.col("dataset") == dataset)
        n = part.height
        for row in part.iter_rows(named=True):
            a, b = row[f"rank_{reference}"], row[f"rank_{target}"]
            color = "tab:red" if b > a else ("tab:green" if b < a else "0.5")
            ax.plot([0, 1], [a, b], marker="o", color=color)
            ax.text(-0.05, a, row["model"], ha="right", va="center", fontsize=7)
            ax.text(1.05, b, row["model"], ha="left", va="center", fontsize=7)
        ax.set_xlim(-0.9, 1.9)
        ax.set_ylim(n + 0.5, 0.5)
        ax.set_xticks([0, 1], [reference, target])
        ax.set_yticks([])
        ax.set_title(dataset, fontsize=9)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    fig.suptitle(f"Rank under the {reference} split → rank under the {target} split", fontsize=9)
    return fig


def ranking_chart(ranking: Ranking, top: int = 30) -> Figure:
    """The ``top`` best features of a ranking as bars, best at the top, in the column its
    ranker charts; features with a data-quality flag in orange."""
    ranker = RANKERS.get(ranking.method)
    rows = ranking.features.head(top)
    names = rows["feature"].to_list()[::-1]
    scores = rows[ranker.chart].fill_nan(None).fill_null(0.0).to_list()[::-1]
    flagged = [bool(f) for f in (rows["flags"].fill_null("").to_list()[::-1])]
    fig = _figure(7.5, 0.9 + 0.28 * max(len(names), 1))
    ax = fig.add_subplot()
    colors = ["#d95f02" if f else "#1b9e77" for f in flagged]
    ax.barh(names, scores, color=colors)
    ax.set_xlabel(ranker.chart_label)
    title = f"{ranking.dataset or 'table'} {ranking.split_id or ''}: top {len(names)} features"
    ax.set_title(title + (" (orange: data-quality flag)" if any(flagged) else ""), fontsize=10)
    ax.tick_params(axis="y", labelsize=8)
    ax.axvline(0.0, color="black", linewidth=0.6)
    return fig


def topk_chart(table: pl.DataFrame, dataset: str, split_id: str, metric: str,
               n_features: int) -> Figure:
    """Per model, the test score (left) and the tuning speed-up over all features (right)
    against the number of features kept, all features dotted.

    ``table`` is :attr:`tabbench.studies.topk.Evaluation.table`.
    """
    fig = _figure(10, 4)
    score_ax, speed_ax = fig.subplots(1, 2)
    for (model,), group in table.sort("k").group_by("model", maintain_order=True):
        ks, scores, speedups = group["k"].to_list(), group["test_score"].to_list(), \
            group["speedup"].to_list()
        line, = score_ax.plot(ks, scores, marker="o", label=model)
        all_score = group.filter(pl.col("variant") == "tuned")["test_score"]
        if all_score.len():
            score_ax.axhline(all_score[0], color=line.get_color(), linestyle=":", linewidth=1)
        speed_ax.plot(ks, speedups, marker="o", label=model, color=line.get_color())
    score_ax.set_xlabel(f"features kept (all = {n_features})")
    score_ax.set_ylabel(f"test {metric}")
    score_ax.set_title(f"{dataset} {split_id}: test score (dotted: all features)", fontsize=10)
    speed_ax.axhline(1.0, color="black", linewidth=0.6)
    speed_ax.set_xlabel(f"features kept (all = {n_features})")
    speed_ax.set_ylabel("tuning speed-up vs all features (×)")
    speed_ax.set_title("tuning-time speed-up (ranking time included)", fontsize=10)
    score_ax.legend(fontsize=8)
    return fig


def tuning_curves_chart(summary: pl.DataFrame, leave_out: tuple[str, ...] = ()) -> Figure:
    """Per model, the mean normalized best validation score so far (0 = the default-params
    trial, 1 = the final best) against the number of trials, one panel per split strategy.

    ``summary`` is :attr:`tabbench.analysis.tuning_curves.TuningCurves.summary` (``model``,
    ``split_strategy``, ``trial``, ``normalized``); models in ``leave_out`` (one trial only:
    no curve) are not drawn. A model keeps its colour in every panel.
    """
    summary = summary.filter(~pl.col("model").is_in(list(leave_out)))
    strategies = summary["split_strategy"].unique(maintain_order=True).to_list()
    models = sorted(summary["model"].unique().to_list())
    fig = _figure(4.2 * max(len(strategies), 1), 3.8)
    axes = fig.subplots(1, max(len(strategies), 1), squeeze=False, sharey=True)[0]
    colors = {m: f"C{i % 10}" for i, m in enumerate(models)}
    for ax, strategy in zip(axes, strategies, strict=False):
        part = summary.filter(pl.col("split_strategy") == strategy).sort("model", "trial")
        for (model,), group in part.group_by("model", maintain_order=True):
            ax.plot(group["trial"].to_numpy(), group["normalized"].to_numpy(), marker="o",
                    markersize=3, color=colors[model], label=model)
        ax.axhline(1.0, color="black", linewidth=0.6, linestyle=":")
        ax.set_ylim(-0.05, 1.08)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel("trials (1 = default params)")
        ax.set_title(f"{strategy} split", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("best so far (0 = default, 1 = final best)")
    if models:
        handles = [axes[0].plot([], [], color=colors[m], marker="o", markersize=3)[0]
                   for m in models]
        fig.legend(handles, models, loc="outside right center", fontsize=8)
    return fig


def save(fig: Figure, path) -> None:
    """Write ``fig`` as a PNG."""
    fig.savefig(path, format="png")
