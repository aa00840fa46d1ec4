"""``explain``: a model explained by a small surrogate. The command is registered in
``tabbench/cli/__init__.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tabbench.cli.options import DatasetsDir, PluginOption, _load_plugins
from tabbench.cli.render import _add_column, _print_table, _table, console
from tabbench.core.formatting import format_cell


def explain(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="A registered dataset.")],
    model: Annotated[str, typer.Option("--model", "-m", help="The model to explain.")],
    split: Annotated[str | None, typer.Option(
        help="Split id (default time-0, or random-0 without a time column).")] = None,
    top_k: Annotated[int, typer.Option("--top-k", min=1,
                                       help="Features the surrogate may use.")] = 10,
    surrogate: Annotated[str, typer.Option(
        help="Surrogate kind: tree, rules or linear (readable), random-forest or boosted-trees "
             "(faithful, not readable).")] = "tree",
    row: Annotated[int | None, typer.Option(
        min=0, help="Also explain this row of the test part (0-based).")] = None,
    out: Annotated[Path | None, typer.Option(
        help="Run folder: tuned params are read from it, the result row and the files are "
             "written to it (default leaderboard/default).")] = None,
    max_rows: Annotated[int, typer.Option(
        min=0, help="Subsample the dataset to this many rows, seeded as `run` does; 0 = all rows.")
    ] = 50_000,
    seed: Annotated[int, typer.Option(
        min=0, help="Seed of the model, permutations and surrogate.")] = 0,
    threads: Annotated[int, typer.Option(min=1, help="Threads of the model.")] = 1,
    datasets_dir: DatasetsDir = None,
    plugin: PluginOption = None,
) -> None:
    """Explain a model with a small surrogate that mimics it; print its fidelity.

    Fits the model on the training part (tuned params from --out if any),
    ranks the features by permutation importance on the validation part,
    fits a surrogate on the top-k and prints its fidelity and rules.
    Writes OUT/results/ and OUT/explain/DATASET-SPLIT-MODEL/.

    Example: ``tabbench explain -d flights -m lightgbm --surrogate rules``
    """
    from tabbench.studies.explain import explain_dataset

    _load_plugins(plugin)
    with console.status(f"explaining {model} on {dataset}…") as status:
        explanation = explain_dataset(
            dataset, model, split_id=split, kind=surrogate, top_k=top_k, row=row, out=out,
            max_rows=max_rows or None, seed=seed, n_threads=threads, datasets_dirs=datasets_dir,
            on_step=lambda text: status.update(f"explaining {model} on {dataset}: {text}…"))
    _print_explanation(explanation)


def _print_explanation(explanation) -> None:
    r = explanation.row
    table = _table(f"{r['variant']} surrogate of {_black_box(r)} on {r['dataset']} "
                   f"{r['split_id']}")
    _add_column(table, "measure", number=False)
    _add_column(table, "value", number=True)
    classification = r.get("metric_fidelity_kappa") is not None or \
        r.get("metric_fidelity_baseline") is not None
    rows = [("fidelity on test: kappa (beyond chance; a constant: 0)",
             r.get("metric_fidelity_kappa")),
            ("fidelity on test: agreement" if classification
             else "fidelity on test: R² against the black box", r["metric_fidelity"]),
            ("fidelity on test: agreement of a constant (majority class)",
             r.get("metric_fidelity_baseline")),
            ("fidelity on test: AUC", r.get("metric_fidelity_auc")),
            ("fidelity on validation: agreement (size chosen by kappa)" if classification
             else "fidelity on validation: R² (chose the size)", r["metric_fidelity_val"]),
            (f"surrogate test {r['metric']}", r["test_score"]),
            (f"black box test {r['metric']}", r["metric_black_box_score"])]
    for label, value in rows:
        if value is not None:
            table.add_row(label, format_cell(value, ".4f"))
    size = {"tree": "leaves", "linear": "terms", "random-forest": "leaves in all",
            "boosted-trees": "leaves in all"}.get(r["variant"], "rules")
    table.add_row(size, str(int(r["metric_n_rules"])))
    table.add_row("depth", str(int(r["metric_depth"])))
    _print_table(table, f"top {len(explanation.features)} features; black box: "
                        f"{explanation.params_source}")
    ranked = _table("Feature importance on the validation part")
    for column in ("rank", "feature", "permutation", "native\ncontribution"):
        _add_column(ranked, column, number=column != "feature")
    for item in explanation.importances.head(len(explanation.features)).iter_rows(named=True):
        ranked.add_row(str(item["rank"]), item["feature"],
                       format_cell(item["permutation_importance"], ".4f"),
                       format_cell(item["native_contribution"], ".4f"))
    _print_table(ranked)
    console.print(f"[bold]Rules[/] ({int(r['metric_n_rules'])} {size}, depth "
                  f"{int(r['metric_depth'])}):")
    console.print(explanation.rules, markup=False, highlight=False, soft_wrap=True)
    if explanation.local is not None:
        console.print("[bold]Local explanation[/]:")
        console.print(explanation.local, markup=False, highlight=False, soft_wrap=True)
    for label, path in explanation.files.items():
        console.print(f"{label}: [bold]{path}[/]", soft_wrap=True, highlight=False)


def _black_box(row: dict) -> str:
    return row["model"].removeprefix("surrogate:")
