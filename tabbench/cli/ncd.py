"""``ncd``: novel class discovery. The command is registered in ``tabbench/cli/__init__.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from tabbench.cli.options import PluginOption, _int_list, _load_plugins, _seed_list, _split_names
from tabbench.cli.render import _print_frame, console, err_console
from tabbench.exceptions import TabbenchError


def ncd(
    dataset: Annotated[str, typer.Option("--dataset", "-d", help="digits, blobs or a registered classification dataset.")] = "digits",
    novel_classes: Annotated[str, typer.Option(help="Comma-separated novel class codes.")] = "",
    estimate_k: Annotated[bool, typer.Option(
        "--estimate-k", help="Estimate the number of novel classes (silhouette) and use it.")] = False,
    methods: Annotated[str | None, typer.Option(help="Comma-separated NCD methods.")] = None,
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0",
    n_trials: Annotated[int, typer.Option(
        min=0, help="Optuna trials (class-hiding CV); 0 = defaults.")] = 0,
    max_rows: Annotated[int | None, typer.Option(
        min=1, help="Use a stratified sample of this many rows (seeded, the same for every "
        "method and seed).")] = None,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("leaderboard/ncd"),
    plugin: PluginOption = None,
) -> None:
    """Discover novel classes: cluster the unlabelled rows helped by the known classes.

    A method whose memory estimate exceeds the memory available runs on a stratified
    sample that fits (one warning line says so); one that fails, out of memory included,
    gives a failed row and the others go on.

    Example: ``tabbench ncd --dataset digits --novel-classes 0,3,5,6,7 --estimate-k``
    """
    import polars as pl

    from tabbench.studies.ncd import run_ncd

    _load_plugins(plugin)
    novel = _int_list(novel_classes, "--novel-classes", minimum=0)
    if not novel:
        raise TabbenchError("--novel-classes: give at least one class code, e.g. 0,3,5")
    rows = run_ncd(dataset, novel, methods=_split_names(methods),
                   seeds=_seed_list(seeds), estimate=estimate_k, n_trials=n_trials,
                   out=out, max_rows=max_rows)
    columns = {"model": "model", "status": "status", "metric_acc": "acc",
               "test_score_std": "acc_sd", "metric_nmi": "nmi", "metric_ari": "ari",
               "metric_k_hat": "k_hat", "fit_seconds": "fit_s"}
    _print_frame(pl.DataFrame([{name: r.get(key) for key, name in columns.items()}
                               for r in rows]),
                 f"Novel class discovery on {dataset} (novel classes {novel_classes})",
                 {"acc": ".4f", "acc_sd": ".4f", "nmi": ".4f", "ari": ".4f", "k_hat": ".1f",
                  "fit_s": ".1f"},
                 footnotes=[f"{rows[0]['variant']}; acc, nmi, ari: means over seeds, "
                            f"acc_sd: std"])
    for row in rows:
        if row["status"] != "ok":
            err_console.print(f"[red]{escape(row['model'])}: failed: {escape(row['error'])}",
                              markup=True, highlight=False, soft_wrap=True)
    console.print(f"Wrote {len(rows)} row(s) to [bold]{out / 'results'}[/]")
