"""``report.html``: one self-contained page (figures embedded, no network) for a run folder.

Every string that comes from data or config (dataset, column, model names, errors) goes
through :func:`html.escape`.
"""

from __future__ import annotations

import base64
import html
import io
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from tabbench.analysis.compare import (
    compare_splits,
    elo_columns,
    friedman_table,
    load_shifts,
    noise_baseline,
    shift_vs_rank_change,
    strategy_statistics,
)
from tabbench.analysis.leaderboard import dataset_confidence, entry_label, standings, task_scores
from tabbench.analysis.plots import (
    cd_diagram,
    elo_chart,
    elo_strategies_chart,
    pareto_chart,
    per_dataset_chart,
    shift_scatter,
    slope_chart,
    tuning_curves_chart,
)
from tabbench.analysis.stats import elo_with_intervals, friedman, score_matrix
from tabbench.analysis.tuning_curves import tuning_curves
from tabbench.core._atomic import write_atomic_bytes
from tabbench.core.formatting import format_cell
from tabbench.core.results import DamagedFileError, parquet_files, read_checked, read_results
from tabbench.exceptions import TabbenchWarning

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:1100px;color:#222;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;
margin-top:2rem}h3{font-size:1.05rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
th,td{border:1px solid #ddd;padding:.25rem .55rem;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
img{max-width:100%;height:auto;display:block;margin:.6rem 0}
.note{color:#555;font-size:.9rem}.bad{color:#b00}
"""


def build_report(run_dir: Path, out: Path | None = None) -> Path:
    """Write ``report.html`` for the results in ``run_dir`` and return its path."""
    run_dir = Path(run_dir)
    results = read_results(run_dir)
    sections = [_overview(run_dir, results)]
    confidence = dataset_confidence(run_dir, results)
    tables = standings(results, confidence)
    for standing in tables:
        sections.append(_leaderboard_section(standing))
    # statistics on the time-based strategy with the most tasks (sliding windows, if run)
    preferred = ("sliding-window", "expanding-window", "time")
    ranked = sorted(tables, key=lambda s: preferred.index(s.strategy)
                    if s.strategy in preferred else len(preferred))
    primary = ranked[0] if ranked else None
    if primary is not None:
        sections.append(_statistics_section(results, primary.strategy))
        sections.append(_pareto_section(results, primary))
        sections.append(_per_dataset_section(primary))
    strategies = set(results.filter(pl.col("status") == "ok")["split_strategy"].to_list())
    if {"random", "time"} <= strategies:
        sections.append(_comparison_section(results, run_dir, confidence))
    features = parquet_files(run_dir / "features")
    if features:
        sections.append(_features_section(features))
    sections.append(_tuning_section(run_dir, results))
    sections.append(_failures_section(results))
    page = _page(f"tabbench report: {run_dir.name}", "\n".join(s for s in sections if s))
    path = out or run_dir / "report.html"
    write_atomic_bytes(path, page.encode())
    return path


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n"
            f"<body>\n<h1>{_e(title)}</h1>\n{body}\n</body></html>\n")


def _table(frame: pl.DataFrame, formats: dict[str, str] | None = None) -> str:
    formats = formats or {}
    head = "".join(f"<th>{_e(c)}</th>" for c in frame.columns)
    rows = []
    for row in frame.iter_rows():
        cells = [f"<td>{_e(format_cell(value, formats.get(column)))}</td>"
                 for column, value in zip(frame.columns, row, strict=True)]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _image(fig: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{data}">'


def _overview(run_dir: Path, results: pl.DataFrame) -> str:
    counts = results["status"].value_counts().sort("status")
    status = ", ".join(f"{n} {s}" for s, n in counts.iter_rows())
    datasets = ", ".join(sorted(results["dataset"].unique().to_list()))
    runs = ", ".join(sorted(results["run"].unique().to_list()))
    return (f'<p class="note">Run folder <code>{_e(run_dir)}</code> (run {_e(runs)}); '
            f"{results.height} jobs: {_e(status)}. Datasets: {_e(datasets)}. "
            f"Written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.</p>")


def _leaderboard_section(standing) -> str:
    formats = {"mean_rank": ".2f", "normalized_score": ".3f", "win_rate": ".0%"}
    return (f"<h2>Leaderboard: {_e(standing.strategy)} split</h2>"
            '<p class="note">Models ranked per dataset and split (1 = best, ties share the '
            "mean rank); normalized score: 1 = best model, 0 = the dummy baseline or worse "
            "(clipped; TabArena's rescaled loss puts 0 at the worst model instead); win rate: "
            "share of other models beaten."
            + (" tied_with_best: on how many datasets the model's score, averaged over the "
               "dataset's splits and seeds, is the best or not significantly worse, all of the "
               "dataset's models compared at once (95%: the chance of calling any model worse "
               "when none is stays near 5% per dataset); a paired bootstrap of the test rows "
               "from the stored predictions (circular blocks in time order for time-based "
               "splits)."
               if "tied_with_best" in standing.summary.columns else "")
            + "</p>" + _table(standing.summary, formats))


def _task_matrix(results: pl.DataFrame, strategy: str):
    scores = task_scores(results.filter(pl.col("split_strategy") == strategy))
    return score_matrix(scores.with_columns(pl.lit(0).alias("seed")))


def dataset_matrix(results: pl.DataFrame, strategy: str):
    """Scores of the models of ``strategy`` with **datasets as the rows**: a model's score on a
    dataset is its mean over the strategy's splits and seeds (the windows of one dataset
    are not independent tasks, so they are not the blocks of a rank test)."""
    scores = task_scores(results.filter(pl.col("split_strategy") == strategy))
    per_dataset = scores.group_by("dataset", "entry", "metric").agg(pl.col("test_score").mean())
    return score_matrix(per_dataset, task_keys=("dataset",))


def _statistics_section(results: pl.DataFrame, strategy: str) -> str:
    matrix = _task_matrix(results, strategy)
    by_dataset = dataset_matrix(results, strategy)
    parts = [f"<h2>Statistics ({_e(strategy)} split)</h2>"]
    n_datasets, n_ranked = by_dataset.values.shape
    if n_ranked >= 3 and n_datasets >= 2:
        test = friedman(by_dataset.values)
        parts.append(
            f"<p>Friedman test over {n_datasets} datasets and {n_ranked} models (a model's "
            "score on a dataset is its mean over the dataset's splits and seeds): "
            f"χ² = {test.statistic:.2f}, p = {test.pvalue:.3g}. Nemenyi critical difference "
            f"(α = 0.05): {test.critical_difference:.2f} ranks.</p>"
            '<p class="note">How to read the critical-difference diagram: models sit on the '
            "axis at their mean rank, best on the left. A red bar joins models whose mean "
            "ranks differ by less than the critical difference: the data cannot tell them "
            "apart. Models not joined by a bar differ significantly.</p>"
            + _image(cd_diagram(test, by_dataset.models, "datasets"),
                     "critical-difference diagram"))
    else:
        parts.append('<p class="note">The Friedman test needs at least 3 models and 2 '
                     f"datasets; this run has {n_ranked} models on {n_datasets} datasets.</p>")
    n_tasks, n_models = matrix.values.shape
    if n_models >= 2 and n_tasks >= 1:
        # a dataset's splits (sliding windows) are resampled together, as TabArena's folds
        elo = elo_with_intervals(matrix, blocks=[task[0] for task in matrix.tasks])
        table = pl.DataFrame({"model": elo.models, "elo": elo.rating, "low": elo.low,
                              "high": elo.high}).sort("elo", descending=True)
        parts.append("<h3>Elo</h3><p class=\"note\">Bradley–Terry fit to all pairwise "
                     f"comparisons (a 400-point gap means 10:1 odds; {_e(elo.scale)}, "
                     "TabArena's convention); 95% intervals from resampling the datasets.</p>"
                     + _table(table, {"elo": ".0f", "low": ".0f", "high": ".0f"})
                     + _image(elo_chart(elo), "Elo ratings with intervals"))
    return "".join(parts)


def _pareto_section(results: pl.DataFrame, standing) -> str:
    ok = results.filter((pl.col("status") == "ok")
                        & (pl.col("split_strategy") == standing.strategy))
    seconds = ok.group_by(entry_label().alias("model")).agg(
        (pl.col("tune_seconds").fill_null(0) + pl.col("fit_seconds").fill_null(0)).mean()
        .alias("seconds"))
    summary = standing.summary.join(seconds, on="model")
    return (f"<h2>Score against time ({_e(standing.strategy)} split)</h2>"
            '<p class="note">Red points form the Pareto front: no other model is both faster '
            "and better.</p>" + _image(pareto_chart(summary), "score against training time"))


def _per_dataset_section(standing) -> str:
    formats = {"test_score": ".4f", "std": ".4f", "rank": ".1f", "low": ".4f", "high": ".4f"}
    bars = ("error bars and low–high: 95% interval of the test score averaged over the splits "
            "and seeds, a paired bootstrap of the test rows (circular blocks in time order for "
            "time-based splits)" if "low" in standing.per_dataset.columns
            else "error bars: standard deviation over seeds")
    return (f"<h2>Per dataset ({_e(standing.strategy)} split)</h2>"
            f'<p class="note">{_e(bars)}.</p>'
            + _image(per_dataset_chart(standing.per_dataset), "per-dataset scores")
            + _table(standing.per_dataset, formats))


def _comparison_section(results: pl.DataFrame, run_dir: Path,
                        confidence: pl.DataFrame | None) -> str:
    comparison = compare_splits(results, confidence=confidence)
    moved = comparison.moves.filter(pl.col("rank_change") != 0)
    return ("<h2>Random split against time split</h2>"
            '<p class="note">Kendall tau between the rankings (1 = identical order, '
            "−1 = reversed); pooled = between the mean ranks over all datasets; "
            f"{_e(comparison.left_out())}. low–high: 95% bootstrap interval; per dataset "
            "from resampling the test rows of the stored predictions (circular blocks in time "
            "order for time-based splits), or else each model's seeds; seed_low–seed_high: "
            "from resampling seeds (3+ seeds), which covers fitting and tuning noise only "
            "(every seed has the same test rows); pooled from resampling datasets. No p-values: a test of tau = 0 is not the question; the "
            "noise baseline below is.</p>"
            + _table(comparison.taus, {"tau": ".2f", "low": ".2f", "high": ".2f",
                                       "seed_low": ".2f", "seed_high": ".2f"})
            + "<h3>Does the random-split ranking predict the time-split ranking?</h3>"
            + f"<p>{_e(comparison.headline())}</p>"
            + f"<p>{_e(noise_baseline(results).sentence())}</p>"
            + '<p class="note">Mean over datasets of the per-dataset tau of each pair of '
            "strategies, 95% interval from resampling datasets.</p>"
            + _table(comparison.agreement, {"mean_tau": ".2f", "low": ".2f", "high": ".2f"})
            + _image(slope_chart(comparison), "rank under random split against time split")
            + "<h3>Models whose rank moved</h3>"
            + _table(moved, {"score_change_pct": "+.1f"})
            + _strategies_section(comparison)
            + _shift_section(comparison, run_dir))


def _strategies_section(comparison) -> str:
    statistics = strategy_statistics(comparison)
    parts = ["<h3>Friedman test and Elo per split strategy (datasets as blocks)</h3>"
             '<p class="note">Each model\'s score on a dataset is its mean over the '
             "strategy's splits and seeds; the Friedman test asks whether the models rank "
             "alike over the datasets, the Nemenyi critical difference (α = 0.05) is how far "
             "apart two mean ranks must be to differ. Elo: Bradley–Terry fit, 95% interval "
             "from resampling datasets (rough with few datasets).</p>",
             _table(friedman_table(statistics), {"chi2": ".2f", "pvalue": ".3g",
                                                 "critical_difference": ".2f"})]
    for item in statistics:
        if item.friedman is not None:
            parts.append(f"<p>{_e(item.strategy)} split:</p>"
                         + _image(cd_diagram(item.friedman, item.matrix.models, "datasets"),
                                  f"critical-difference diagram, {item.strategy} split"))
    elo = elo_columns(statistics)
    if elo.width > 1:
        parts.append(_table(elo) + _image(elo_strategies_chart(statistics),
                                          "Elo per split strategy"))
    return "".join(parts)


def _shift_section(comparison, run_dir: Path) -> str:
    head = "<h3>Shift against rank change</h3>"
    shifts = load_shifts(run_dir)
    if shifts is None:
        return (head + '<p class="note">No shift table in this run folder: '
                "<code>tabbench compare-splits</code> measures each split's shift "
                "(adversarial-validation AUC, drifting features) and writes it here.</p>")
    result = shift_vs_rank_change(comparison, shifts)
    return (head + '<p class="note">One point per dataset: the shift of its time split '
            "against how much its ranking changed (1 − Kendall tau, random vs time). "
            "Spearman's rho across datasets, 95% interval from resampling datasets, "
            "two-sided permutation p-value. Adversarial AUC: a classifier telling training "
            "from test rows (0.5 = no shift); drifting share: features with PSI ≥ 0.25.</p>"
            + _table(result.correlations, {"spearman": ".2f", "low": ".2f", "high": ".2f",
                                           "pvalue": ".3g"})
            + _image(shift_scatter(result), "shift against rank change, one point per dataset")
            + _table(result.table, {"adversarial_auc": ".3f", "drifting_share": ".2f",
                                    "tau": ".2f", "rank_change": ".2f"})
            + _table(shifts, {"adversarial_auc": ".3f", "drifting_share": ".2f"}))


def _features_section(files: list[Path]) -> str:
    parts = ["<h2>Feature rankings</h2>"]
    for file in files:
        try:
            table = read_checked(file, "feature ranking file")
        except DamagedFileError as exc:
            warnings.warn(f"{exc}; skipped", TabbenchWarning, stacklevel=2)
            continue
        keep = [c for c in ("feature", "score", "rank", "cardinality", "coverage", "flags")
                if c in table.columns]
        parts.append(f"<h3>{_e(file.stem)}</h3>" + _table(table.select(keep).head(20),
                                                          {"score": ".4f", "coverage": ".2f"}))
    return "".join(parts)


def _tuning_section(run_dir: Path, results: pl.DataFrame) -> str:
    curves = tuning_curves(run_dir, results)
    if curves is None:
        return ""
    single = curves.single_trial_models()
    budget = curves.budget.filter(~pl.col("model").is_in(single))
    parts = ["<h2>Tuning curves</h2>"
             '<p class="note">Per model, the best validation score so far against the number '
             "of Optuna trials, read from this run's trials tables. Per task (dataset × split "
             "× seed), 0 = the first trial (the default params) and 1 = the task's final best; "
             "the line is the mean over tasks, so every curve ends at 1. How to read it: a "
             "curve still rising at the last trial says a bigger budget would likely help; a "
             "curve flat over its last trials says the budget was enough. at_half_budget: the "
             "mean after half the trials; improved_late: share of tasks whose final best came "
             "in the last quarter of the trials; gain_pct: mean gain of the final best over "
             "the default params, in % of the default's validation score.</p>"]
    if not budget.is_empty():
        parts.append(_image(tuning_curves_chart(curves.summary, tuple(single)),
                            "best validation score so far against the number of trials")
                     + _table(budget, {"at_half_budget": ".2f", "improved_late": ".0%",
                                       "gain_pct": "+.2f"}))
    if single:
        parts.append('<p class="note">One trial only, no curve (no search space, or a '
                     f"budget that runs the defaults): {_e(', '.join(single))}.</p>")
    return "".join(parts)


def _failures_section(results: pl.DataFrame) -> str:
    bad = results.filter(pl.col("status") != "ok")
    if bad.is_empty():
        return ""
    return ('<h2 class="bad">Jobs that did not finish ok</h2>'
            + _table(bad.select("dataset", "split_id", "model", "variant", "status", "error")))
