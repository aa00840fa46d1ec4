"""``run``, ``leaderboard``, ``ensemble`` and ``report``: a benchmark and what is read from its
run folder. The commands are registered in ``tabbench/cli/__init__.py``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from tabbench.cli.options import (
    BUDGET_HELP,
    DatasetsDir,
    PluginOption,
    _int_list,
    _load_plugins,
    _seed_list,
    _split_names,
)
from tabbench.cli.render import (
    _add_column,
    _describe_budget,
    _notes,
    _print_frame,
    _print_table,
    _progress,
    _table,
    console,
)
from tabbench.core.formatting import format_cell
from tabbench.exceptions import TabbenchError


def run(
    config: Annotated[Path | None, typer.Argument(help="Benchmark config TOML.")] = None,
    dataset: Annotated[list[str] | None, typer.Option("--dataset", "-d",
                                                      help="Dataset name (repeatable).")] = None,
    models: Annotated[str | None, typer.Option(help="Comma-separated model names.")] = None,
    splits: Annotated[str | None, typer.Option(help="Comma-separated split strategies.")] = None,
    budget: Annotated[str | None, typer.Option(help=BUDGET_HELP)] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Parallel jobs.")] = None,
    out: Annotated[Path | None, typer.Option(help="Output folder.")] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds.")] = None,
    train_rows: Annotated[str | None, typer.Option(
        help="Comma-separated training sizes (learning curves): each split's training part "
             "cut to each, validation and test rows unchanged.")] = None,
    max_rows: Annotated[int | None, typer.Option(help="Subsample datasets to this many rows.")] = None,
    time_limit: Annotated[float | None, typer.Option(help="Seconds per job.")] = None,
    storage: Annotated[str | None, typer.Option(help="Optuna storage URL.")] = None,
    executor: Annotated[str | None, typer.Option(help="local or dask.")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Dask scheduler address, e.g. tcp://HOST:8786 (implies --executor dask).")] = None,
    tuning_workers: Annotated[int | None, typer.Option(
        help="Dask workers tuning one study at once (needs --storage).")] = None,
    threads: Annotated[int | None, typer.Option(help="Threads per job.")] = None,
    retry_failed: Annotated[bool, typer.Option(help="Run failed and timed-out jobs again.")] = False,
    predictions: Annotated[bool | None, typer.Option(
        "--predictions/--no-predictions",
        help="Keep each job's validation and test predictions (default: the config's, "
             "on).")] = None,
    ensemble: Annotated[bool | None, typer.Option(
        "--ensemble/--no-ensemble",
        help="Build post-hoc ensembles from the stored predictions after the jobs "
             "(default: the config's, off).")] = None,
    top_k: Annotated[int | None, typer.Option(
        "--top-k", help="Tune on the K best features (ranked by the config's [features] "
                        "method, default jmi, on each training part); 0 = all features.")] = None,
    datasets_dir: DatasetsDir = None,
    plugin: PluginOption = None,
) -> None:
    """Run a benchmark (default: configs/default.toml) and print the ranking.

    Example: ``tabbench run --dataset bikeshare --models lightgbm,linear --budget smoke``;
    your own model: ``tabbench run --plugin my_models.py --models dummy,lightgbm,my-model``
    """
    from tabbench.execution.config import load_config
    from tabbench.execution.runner import run_benchmark

    _load_plugins(plugin)
    cfg = load_config(config)
    cfg = cfg.override(
        plugins=plugin or None,
        datasets=dataset or None, models=_split_names(models), splits=_split_names(splits),
        budget=budget, jobs=jobs, out=out, max_rows=max_rows, time_limit=time_limit,
        storage=storage, executor=executor, scheduler=scheduler,
        tuning_workers=tuning_workers, threads=threads,
        seeds=_seed_list(seeds) if seeds else None,
        train_rows=_int_list(train_rows, "--train-rows", minimum=10) if train_rows else None,
        store_predictions=predictions, ensemble=ensemble,
        features=_feature_sets(cfg, top_k),
    )
    _describe_budget(cfg.budget)
    with _progress(cfg.name) as callbacks:
        summary = run_benchmark(cfg, datasets_dirs=datasets_dir, retry_failed=retry_failed,
                                **callbacks)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(summary.counts.items()))
    console.print(f"{summary.planned} jobs planned, {summary.skipped} already done"
                  + (f", {counts}" if counts else "")
                  + (f"; {summary.ensembles} ensembles" if summary.ensembles else ""))
    _print_leaderboard(summary.out_dir)
    console.print(f"Results: [bold]{summary.out_dir}/results/*.parquet[/] "
                  f"(trials in {summary.out_dir}/trials/)")


def _feature_sets(config, top_k: int | None):
    """``--top-k``: ``None`` keeps the config's feature sets, 0 means all features."""
    from tabbench.execution.config import FeatureSelection
    from tabbench.methods.features.rankers import DEFAULT_SELECTION_METHOD

    if top_k is None:
        return None
    if top_k < 0:
        raise TabbenchError(f"--top-k must be 0 (all features) or more, got {top_k}")
    if top_k == 0:
        return (None,)
    methods = [s.method for s in config.features if s is not None]
    return (FeatureSelection(top_k=top_k,
                             method=methods[0] if methods else DEFAULT_SELECTION_METHOD),)


#: What the leaderboard's "tied with best" counts (the report's wording; the terminal
#: prints :data:`TIED_NOTES`).
TIED_FOOTNOTE = (
    "tied with best: datasets where the model's score, averaged over the dataset's splits and "
    "seeds, is the best or not significantly worse, all of the dataset's models compared at "
    "once (95%: the chance of calling any model worse when none is stays near 5% per "
    "dataset); paired bootstrap of the test rows: drawn together across splits and seeds for "
    "random splits, circular blocks in time order for time-based splits (length from the "
    "data, Politis-White)")
NORMALIZED_FOOTNOTE = ("normalized score: 1 = the best model, 0 = the dummy baseline or worse "
                       "(clipped)")
#: :data:`TIED_FOOTNOTE`, shorter, for the terminal.
TIED_NOTE = ("tied with best: datasets where it is the best or not significantly worse (95%, "
             "all models at once); paired bootstrap of the test rows, drawn together across "
             "splits and seeds for random splits, circular blocks in time order for time splits")


def leaderboard(
    path: Annotated[Path, typer.Argument(help="A run folder, e.g. leaderboard/default.")],
    plugin: PluginOption = None,
) -> None:
    """Print per model: mean rank, normalized score, win rate and datasets; and per dataset.

    Example: ``tabbench leaderboard leaderboard/default``
    """
    _load_plugins(plugin)  # a plugin's baseline model is then known as one
    _print_leaderboard(path)


def _print_leaderboard(path: Path) -> None:
    from tabbench.analysis.leaderboard import (
        dataset_confidence,
        ncd_table,
        standings,
        surrogate_table,
    )
    from tabbench.core.results import read_results

    results = read_results(path)
    failed = results.filter(results["status"] != "ok")
    confidence = dataset_confidence(path, results)
    for standing in standings(results, confidence):
        tied = "tied_with_best" in standing.summary.columns
        table = _table(f"Ranking under the {standing.strategy} split")
        columns = ["model", "mean\nrank", "normalized\nscore", "win\nrate", "datasets"]
        for column in columns + (["tied with\nbest"] if tied else []):
            _add_column(table, column, number=column != "model")
        for row in standing.summary.iter_rows(named=True):
            cells = [row["model"], f"{row['mean_rank']:.2f}", f"{row['normalized_score']:.3f}",
                     format_cell(row["win_rate"], ".0%"), str(row["n_datasets"])]
            if tied:
                cells.append(format_cell(row["tied_with_best"]))
            table.add_row(*cells)
        _print_table(table)
        intervals = "low" in standing.per_dataset.columns
        detail = _table(f"Per dataset ({standing.strategy} split)")
        for column in ("dataset", "metric", "model", "test score", "rank"):
            _add_column(detail, column, number=column in ("test score", "rank"))
        for row in standing.per_dataset.iter_rows(named=True):
            spread = row["std"]
            std = f" ± {spread:.4f}" if spread and spread == spread else ""  # none for 1 seed
            interval = (f" [{row['low']:.4f}, {row['high']:.4f}]"
                        if intervals and row["low"] is not None else "")
            detail.add_row(row["dataset"], row["metric"], row["model"],
                           f"{row['test_score']:.4f}{std}{interval}", f"{row['rank']:.1f}")
        seeds = any(v and v == v for v in standing.per_dataset["std"])  # shown: not NaN, not 0
        _print_table(detail, *(["± the std over seeds"] if seeds else []),
                     *(["[95% interval of the score averaged over splits and seeds: paired "
                        "bootstrap of the test rows]"] if intervals else []))
    if confidence is not None:
        _notes(TIED_NOTE)
    _notes(NORMALIZED_FOOTNOTE)
    surrogates = surrogate_table(results)
    if surrogates.height:
        _print_frame(surrogates, "Surrogate interpreters",
                     {"metric_fidelity_kappa": ".4f", "metric_fidelity": ".4f",
                      "metric_black_box_score": ".4f",
                      "test_score": ".4f", "metric_n_rules": ".0f"},
                     headers={"split_id": "split", "metric_fidelity_kappa": "kappa",
                              "metric_fidelity": "fidelity", "metric_n_rules": "rules",
                              "metric_black_box_score": "black box\nscore",
                              "test_score": "test\nscore"},
                     footnotes=["fidelity to the black box: kappa (beyond chance, a constant "
                                "scores 0), then plain agreement"])
    ncd_rows = ncd_table(results)
    if ncd_rows.height:
        _print_frame(ncd_rows, "Novel class discovery (clustering of the novel classes)",
                     {"metric_acc": ".4f", "test_score_std": ".4f", "metric_nmi": ".4f",
                      "metric_ari": ".4f", "metric_k_hat": ".1f"},
                     headers={"split_id": "split", "metric_acc": "acc",
                              "test_score_std": "acc sd", "metric_nmi": "nmi",
                              "metric_ari": "ari", "metric_k_hat": "k_hat"})
    if failed.height:
        console.print(f"[yellow]{failed.height} job(s) did not finish ok:")
        for row in failed.head(10).iter_rows(named=True):
            console.print(f"  {row['dataset']} {row['split_id']} {row['model']}: "
                          f"{row['status']}: {row['error']}", markup=False)


def ensemble(
    path: Annotated[Path, typer.Argument(help="A run folder, e.g. leaderboard/default.")],
    iterations: Annotated[int, typer.Option(
        min=1, help="Rounds of greedy selection (members chosen with replacement).")] = 25,
    plugin: PluginOption = None,
) -> None:
    """Build post-hoc ensembles from the run folder's stored predictions (no refit).

    For each (dataset, split, seed): Caruana's greedy selection with replacement on the
    validation predictions, scored on test, written as result rows of model ``ensemble``
    that every leaderboard ranks like a model. Unchanged ensembles are kept.

    Example: ``tabbench ensemble leaderboard/default``
    """
    import polars as pl

    from tabbench.core.results import read_results
    from tabbench.methods.ensemble import build_ensembles

    _load_plugins(plugin)
    outcomes = build_ensembles(path, iterations=iterations)
    if not outcomes:
        raise TabbenchError(f"{path}: no stored predictions of ok jobs to ensemble (run with "
                            f"--predictions, the default)")
    names = {row["job_id"]: row["model"] if row["variant"] == "tuned"
             else f"{row['model']} ({row['variant']})"
             for row in read_results(path).iter_rows(named=True)}
    rows = []
    for outcome in outcomes:
        row = outcome.row
        members = json.loads(row["best_params"])["members"]
        rows.append({"dataset": row["dataset"], "split": row["split_id"], "seed": row["seed"],
                     "metric": row["metric"], "test_score": row["test_score"],
                     "members": ", ".join(f"{names.get(job_id, job_id)} {weight:.2f}"
                                          for job_id, weight in members.items()),
                     "built": "now" if outcome.built else "kept"})
        for job_id, why in outcome.left_out.items():
            if why != "the baseline":
                console.print(f"[yellow]left out:[/] {job_id}: {why}", highlight=False)
    _print_frame(pl.DataFrame(rows), "Ensembles (weights from validation; scored on test)",
                 {"test_score": ".4f"})
    _print_leaderboard(path)


def report(
    path: Annotated[Path, typer.Argument(help="A run folder, e.g. leaderboard/default.")],
    out: Annotated[Path | None, typer.Option(help="Where to write (default DIR/report.html).")]
        = None,
    plugin: PluginOption = None,
) -> None:
    """Write one self-contained report.html (tables and figures) for a run folder.

    Example: ``tabbench report leaderboard/default``
    """
    from tabbench.studies.report import build_report

    _load_plugins(plugin)  # a plugin's baseline model is then known as one
    console.print(f"Wrote [bold]{build_report(path, out)}[/]")
