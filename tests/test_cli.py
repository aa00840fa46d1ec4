"""The CLI: every user mistake prints one line naming the file and key, exits 2, no traceback."""

from __future__ import annotations

from pathlib import Path

import pytest


def assert_one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.mark.parametrize(
    ("content", "args", "needles"),
    [
        (None, ["--target", "y"], ["missing.csv", "file not found"]),
        ("", ["--target", "y"], ["data.csv", "file is empty"]),
        ("a,b\n1,2\n3,4\n", ["--target", "y"], ["data.csv", "target 'y' not found",
                                                 "columns are: 'a', 'b'"]),
        ("a,y\n1,\n2,\n", ["--target", "y"], ["data.csv", "missing in every row"]),
        ("a,y\n1,1\n2,1\n", ["--target", "y"], ["data.csv", "only one class"]),
        ("a,y\n1,x\n2,z\n3,w\n", ["--target", "y", "--task", "regression"],
         ["data.csv", "regression target 'y' must be numeric"]),
        ("a,y,ts\n1,0,2024-01-01\n2,1,soon\n", ["--target", "y", "--time-column", "ts"],
         ["data.csv", "time column 'ts'", "offending value: 'soon'"]),
        ("a,a,y\n1,2,0\n3,4,1\n", ["--target", "y"], ["data.csv", "duplicate column names: 'a'"]),
        ("a,y\n1,0\n2,1\n", ["--target", "y", "--task", "ordinal"],
         ["--task", "unknown task 'ordinal'", "binary, multiclass, regression"]),
    ],
)
def test_datasets_add_errors(cli, tmp_path: Path, content, args, needles):
    path = tmp_path / ("missing.csv" if content is None else "data.csv")
    if content is not None:
        path.write_text(content)
    code, _, err = cli("datasets", "add", path, *args, "--datasets-dir", tmp_path / "reg")
    assert_one_line_error(code, err, *needles)
    assert not (tmp_path / "reg").exists() or not list((tmp_path / "reg").glob("*.toml"))


def test_unknown_key_in_config(cli, tmp_path):
    config = tmp_path / "bench.toml"
    config.write_text('name = "x"\ndatasets = ["bikeshare"]\nmodles = ["dummy"]\n')
    code, _, err = cli("run", config)
    assert_one_line_error(code, err, "bench.toml", "unknown key 'modles'", "allowed keys are")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--models", "dummy,gpt"], ["unknown model 'gpt'", "valid names are", "lightgbm"]),
        (["--dataset", "nowhere"], ["unknown dataset 'nowhere'", "bikeshare"]),
        (["--splits", "chrono"], ["unknown split 'chrono'", "time", "random"]),
        (["--budget", "huge"], ["unknown budget 'huge'", "smoke", "paper"]),
    ],
)
def test_unknown_names(cli, tmp_path, args, needles):
    code, _, err = cli("run", "--out", tmp_path / "out", *args)
    assert_one_line_error(code, err, *needles)


def test_unknown_metric_in_dataset_toml(cli, tmp_path):
    (tmp_path / "d.csv").write_text("a,y\n" + "".join(f"{i % 7},{i % 2}\n" for i in range(30)))
    (tmp_path / "d.toml").write_text(
        'name = "d"\ntask = "binary"\ntarget = "y"\npath = "d.csv"\nmetric = "f7"\n')
    code, _, err = cli("run", "--dataset", "d", "--datasets-dir", tmp_path, "--splits",
                       "random", "--models", "dummy", "--out", tmp_path / "out")
    assert_one_line_error(code, err, "d.toml", "unknown metric 'f7'", "roc_auc")


@pytest.mark.parametrize(
    ("split_params", "needles"),
    [
        ("fractions = [0.5, 0.2, 0.2]", ["sum to 1"]),
        ("fractions = [0.98, 0.01, 0.01]", ["too few rows", "empty"]),
    ],
)
def test_bad_split_params(cli, tmp_path, split_params, needles):
    config = tmp_path / "bench.toml"
    config.write_text(f'name = "x"\ndatasets = ["bikeshare"]\nmodels = ["dummy"]\n'
                      f'splits = ["time"]\nmax_rows = 60\n[split_params.time]\n{split_params}\n')
    code, _, err = cli("run", config, "--out", tmp_path / "out")
    assert_one_line_error(code, err, *needles)


def test_time_split_on_too_few_rows(cli, tmp_path):
    (tmp_path / "d.csv").write_text("a,y,ts\n1,0,2024-01-01\n2,1,2024-01-02\n")
    (tmp_path / "d.toml").write_text('name = "d"\ntask = "binary"\ntarget = "y"\n'
                                     'path = "d.csv"\ntime_column = "ts"\n')
    code, _, err = cli("run", "--dataset", "d", "--datasets-dir", tmp_path, "--models", "dummy",
                       "--splits", "time", "--out", tmp_path / "out")
    assert_one_line_error(code, err, "too few rows")


def test_datasets_list_and_show(cli):
    code, out, _ = cli("datasets", "list")
    assert code == 0
    for name in ("flights", "bikeshare", "hotel-rates", "synthetic-drift"):
        assert name in out
    code, out, _ = cli("datasets", "show", "bikeshare")
    assert code == 0 and "regression" in out and "weathersit" in out


def test_datasets_add_then_listed(cli, tmp_path, write_csv):
    path = write_csv("ts,a,b,y\n" + "".join(
        f"2024-01-{1 + i % 28:02d},{i},{'xyz'[i % 3]},{(i * 7) % 10 / 3:.3f}\n" for i in range(60)))
    code, out, err = cli("datasets", "add", path, "--target", "y", "--time-column", "ts",
                         "--name", "fresh", "--datasets-dir", tmp_path / "reg")
    assert code == 0, err
    assert 'task = "regression"' in out and 'categorical = ["b"]' in out
    code, out, _ = cli("datasets", "list", "--datasets-dir", tmp_path / "reg")
    assert code == 0 and "fresh" in out


def test_messages_are_printed_as_text_not_markup(cli, tmp_path, write_csv):
    path = write_csv("[/],[b]\n0,1\n1,2\n")
    code, _, err = cli("datasets", "add", path, "--target", "z", "--datasets-dir", tmp_path / "r")
    assert_one_line_error(code, err, "target 'z' not found", "'[/]', '[b]'")


def test_added_toml_stays_valid_with_odd_column_names(cli, tmp_path, write_csv):
    rows = "".join(f"{'xyz'[i % 3]},{'ab'[i % 2]}{i % 3},\"q{i % 2}\",{i % 2}\n"
                   for i in range(40))
    path = write_csv('"line\nbreak","tab\tx","quote""d",y\n' + rows)
    code, _, err = cli("datasets", "add", path, "--target", "y", "--name", "odd",
                       "--datasets-dir", tmp_path / "reg")
    assert code == 0, err
    import tomllib

    written = tomllib.loads((tmp_path / "reg" / "odd.toml").read_text())
    assert {"line\nbreak", "tab\tx"} <= set(written["categorical"])
    assert len(written["categorical"]) == 3
    code, _, err = cli("datasets", "show", "odd", "--datasets-dir", tmp_path / "reg")
    assert code == 0, err
