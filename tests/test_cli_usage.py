"""Every command-line mistake, through the installed ``tabbench`` script: one line, exit 2.

These run the real console script in a subprocess (not the in-process runner), so the
exceptions of the argument parser that typer raises are caught exactly as a user meets them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

#: (arguments, words the one error line must contain). ``{tmp}`` is the test's folder.
USAGE_ERRORS = [
    # the argument parser: wrong type, unknown option, missing argument or option
    (["run", "--seeds", "x"], ["--seeds", "integers", "'x'"]),
    (["run", "--jobs", "abc"], ["--jobs", "integer"]),
    (["run", "--max-rows", "1.5"], ["--max-rows", "integer"]),
    (["run", "--time-limit", "soon"], ["--time-limit", "number"]),
    (["run", "--no-such-option"], ["no such option", "--no-such-option"]),
    (["run", "--executor"], ["--executor", "requires an argument"]),
    (["run", "a.toml", "b", "c"], ["unexpected extra argument"]),
    (["nosuchcommand"], ["no such command", "nosuchcommand"]),
    (["explain"], ["explain", "missing option", "--dataset"]),
    (["explain", "-d", "bikeshare"], ["missing option", "--model"]),
    (["explain", "-d", "bikeshare", "-m", "linear", "--top-k", "many"], ["--top-k", "integer"]),
    (["datasets", "add"], ["datasets add", "missing argument", "file"]),
    (["datasets", "add", "x.csv"], ["missing option", "--target"]),
    (["datasets", "show"], ["datasets show", "missing argument", "name"]),
    (["datasets", "nope"], ["no such command", "nope"]),
    (["datasets", "list", "--bogus"], ["no such option", "--bogus"]),
    (["leaderboard"], ["leaderboard", "missing argument", "path"]),
    (["report"], ["report", "missing argument", "path"]),
    (["rank-features"], ["rank-features", "missing argument", "dataset"]),
    (["rank-features", "bikeshare", "--bins", "x"], ["--bins", "integer"]),
    (["compare-splits", "--jobs", "x"], ["--jobs", "integer"]),
    (["ncd", "--n-trials", "q"], ["--n-trials", "integer"]),
    # values the parser accepts but tabbench must refuse before any job runs
    (["run", "--seeds", "-1"], ["--seeds", "at least 0"]),
    (["run", "--seeds", ","], ["--seeds", "non-negative integers"]),
    (["run", "--time-limit", "-1"], ["--time-limit", "greater than 0", "-1"]),
    (["run", "--time-limit", "0"], ["--time-limit", "greater than 0"]),
    (["run", "--time-limit", "nan"], ["--time-limit", "greater than 0"]),
    (["run", "--jobs", "0"], ["--jobs", "at least 1"]),
    (["run", "--threads", "0"], ["--threads", "at least 1"]),
    (["run", "--max-rows", "3"], ["--max-rows", "at least 10"]),
    (["run", "--top-k", "-1"], ["--top-k", "0 (all features) or more"]),
    (["run", "--tuning-workers", "0"], ["--tuning-workers", "at least 1"]),
    (["run", "--executor", "slurm"], ["--executor", "local, dask", "'slurm'"]),
    (["run", "--budget", "huge"], ["--budget", "unknown budget 'huge'"]),
    (["run", "--models", "gpt"], ["unknown model 'gpt'"]),
    (["run", "--storage", "foo://bar", "--models", "dummy"],
     ["--storage", "cannot open", "foo://bar"]),
    (["run", "--storage", "sqlite:///{tmp}/no/such/folder/s.db", "--models", "dummy"],
     ["--storage", "cannot open", "unable to open database file"]),
    (["run", "--storage", "notaurl", "--models", "dummy"], ["--storage", "not a storage URL"]),
    (["run", "--out", "{tmp}/afile/out", "--models", "dummy"],
     ["afile/out", "cannot create the run folder"]),
    (["run", "--datasets-dir", "{tmp}/missing", "--models", "dummy"],
     ["--datasets-dir", "missing", "does not exist"]),
    (["datasets", "list", "--datasets-dir", "{tmp}/missing"], ["--datasets-dir", "does not exist"]),
    (["rank-features", "bikeshare", "--top", "0"], ["--top", "greater than or equal to 1"]),
    (["rank-features", "bikeshare", "--interactions", "4"], ["--interactions", "less than or equal to 3"]),
    (["rank-features", "bikeshare", "--bins", "1"], ["--bins", "greater than or equal to 2"]),
    (["rank-features", "bikeshare", "--permutations", "-1"], ["--permutations", "greater than or equal to 1"]),
    (["rank-features", "bikeshare", "--max-rows", "3"], ["--max-rows", "greater than or equal to 10"]),
    (["rank-features", "bikeshare", "--seeds", "-2"], ["--seeds", "at least 0"]),
    (["rank-features", "bikeshare", "--evaluate", "--jobs", "0"], ["--jobs", "greater than or equal to 1"]),
    (["rank-features", "bikeshare", "--evaluate", "--time-limit", "0"],
     ["--time-limit", "greater than 0"]),
    (["rank-features", "bikeshare", "--evaluate", "--k", "0"], ["--k", "every value must be at least 1"]),
    (["rank-features", "bikeshare", "--method", "magic"], ["--method", "unknown", "'magic'"]),
    (["explain", "-d", "bikeshare", "-m", "linear", "--top-k", "0"], ["--top-k", "greater than or equal to 1"]),
    (["explain", "-d", "bikeshare", "-m", "linear", "--row", "-1"], ["--row", "greater than or equal to 0"]),
    (["explain", "-d", "bikeshare", "-m", "linear", "--seed", "-1"], ["--seed", "greater than or equal to 0"]),
    (["explain", "-d", "bikeshare", "-m", "linear", "--threads", "0"], ["--threads", "greater than or equal to 1"]),
    (["explain", "-d", "bikeshare", "-m", "linear", "--max-rows", "-5"], ["--max-rows"]),
    (["explain", "-d", "bikeshare", "-m", "linear", "--surrogate", "oracle"],
     ["--surrogate", "'oracle'", "tree"]),
    (["ncd", "--n-trials", "-1"], ["--n-trials", "greater than or equal to 0"]),
    (["ncd", "--novel-classes", "x"], ["--novel-classes", "integers"]),
    (["ncd", "--novel-classes", "0,3", "--seeds", "-1"], ["--seeds", "at least 0"]),
    (["ncd", "--novel-classes", "0,3", "--methods", "magic"], ["unknown", "'magic'"]),
    (["compare-splits", "--jobs", "0"], ["--jobs", "at least 1"]),
    (["compare-splits", "--splits", "time"], ["--splits", "random and time"]),
    (["leaderboard", "{tmp}/nothing-here"], ["nothing-here", "no result files"]),
    (["report", "{tmp}/nothing-here"], ["nothing-here", "no result files"]),
    (["datasets", "show", "nope"], ["unknown dataset 'nope'", "bikeshare"]),
]


def assert_one_error_line(code: int, err: str, needles: list[str]) -> str:
    """Exit 2, exactly one non-empty stderr line, no traceback, every needle in it."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, (code, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.mark.parametrize(("args", "needles"), USAGE_ERRORS,
                         ids=[" ".join(args) for args, _ in USAGE_ERRORS])
def test_usage_error_is_one_line(tabbench_script, tmp_path: Path, args, needles):
    (tmp_path / "afile").write_text("not a folder")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, _, err = tabbench_script(*args)
    assert_one_error_line(code, err, [n.replace("{tmp}", str(tmp_path)) for n in needles])
    # a rejected value leaves nothing behind in the default run folders
    assert not list((tmp_path / "cwd").rglob("*.parquet"))


def test_bare_commands_print_help(tabbench_script):
    for args in ([], ["datasets"]):
        code, out, err = tabbench_script(*args)
        assert code == 0, err
        assert "Usage" in out and "Traceback" not in err


def test_config_values_are_checked_with_file_and_key(tabbench_script, tmp_path: Path):
    cases = [
        ("time_limit = -1", "time_limit must be a number of seconds greater than 0"),
        ("seeds = [-1]", "seeds must be non-negative integers"),
        ("jobs = 0", "jobs must be at least 1"),
        ("n_trials = 0", "n_trials must be at least 1"),
        ('device = "tpu"', "device must be one of auto, cpu, cuda"),
        ('storage = "foo://bar"', "storage: cannot open the Optuna storage 'foo://bar'"),
        ('name = "../up"', "run name '../up' is not a valid name"),
    ]
    for body, needle in cases:
        config = tmp_path / "bench.toml"
        config.write_text(f'datasets = ["bikeshare"]\nmodels = ["dummy"]\n{body}\n')
        code, _, err = tabbench_script("run", config, "--out", tmp_path / "out")
        assert_one_error_line(code, err, ["bench.toml", needle])
        assert not (tmp_path / "out" / "results").exists()


def test_target_as_time_column_is_refused(tabbench_script, tmp_path: Path):
    data = tmp_path / "d.csv"
    data.write_text("ts,a\n2024-01-01,1\n2024-01-02,2\n")
    code, _, err = tabbench_script("datasets", "add", data, "--target", "ts", "--time-column",
                                   "ts", "--datasets-dir", tmp_path / "reg")
    assert_one_error_line(code, err, ["d.csv", "--time-column 'ts' is also the --target"])
    assert not (tmp_path / "reg").exists()
