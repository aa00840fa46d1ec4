"""docs/your-model.md runs as written: its files are written, its ``$`` commands run through the
installed ``tabbench`` script; then an edit of the plugin re-runs only the plugin's jobs."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import polars as pl
import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "your-model.md"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def page_blocks() -> tuple[dict[str, str], list[list[str]]]:
    """The page's files (``python title="NAME"`` blocks) and commands (``$`` lines)."""
    files, commands = {}, []
    for language, info, body in FENCE.findall(PAGE.read_text()):
        title = re.search(r'title="([^"]+)"', info)
        if language == "python" and title:
            files[title.group(1)] = body
        elif language == "console":
            commands += [shlex.split(line[2:]) for line in body.splitlines()
                         if line.startswith("$ ")]
    return files, commands


@pytest.mark.slow
def test_the_plugins_page_runs_as_written(tabbench_script, tmp_path):
    files, commands = page_blocks()
    assert set(files) == {"my_models.py", "my_splits.py"} and len(commands) == 3
    cwd = tmp_path / "cwd"
    cwd.mkdir(exist_ok=True)
    for name, code in files.items():
        (cwd / name).write_text(code)
    outputs = []
    for command in commands:
        assert command[0] == "tabbench"
        code, out, err = tabbench_script(*command[1:])
        assert code == 0, f"{shlex.join(command)}\n{err}"
        outputs.append(out)
    assert "model: extra-trees" in outputs[0]
    assert "6 jobs planned, 0 already done, 6 ok" in outputs[1]
    rows = pl.read_parquet(cwd / "leaderboard" / "default" / "results" / "*.parquet")
    ours = rows.filter(model="extra-trees")
    assert sorted(ours["split_id"]) == ["random-0", "time-0"] and set(ours["status"]) == {"ok"}
    assert json.loads(ours["versions"][0])["plugins"]["my_models.py"].startswith("sha256:")
    weeks = pl.read_parquet(cwd / "leaderboard" / "weeks" / "results" / "*.parquet")
    assert set(weeks["split_id"]) == {"last-weeks-0"} and set(weeks["status"]) == {"ok"}
    plugins_of = {row["model"]: set(json.loads(row["versions"])["plugins"])
                  for row in weeks.iter_rows(named=True)}
    assert plugins_of == {"dummy": {"my_splits.py"}, "extra-trees": {"my_models.py", "my_splits.py"}}

    # editing the plugin re-runs only its jobs; the old rows leave the ranking
    plugin = cwd / "my_models.py"
    plugin.write_text(plugin.read_text().replace('"min_samples_leaf": 2}', '"min_samples_leaf": 4}'))
    code, out, err = tabbench_script(*commands[1][1:])
    assert code == 0, err
    assert "6 jobs planned, 4 already done, 2 ok" in out
    assert "2 result(s) of an earlier version of plugin my_models.py moved" in err
    now = pl.read_parquet(cwd / "leaderboard" / "default" / "results" / "*.parquet")
    assert now.height == 6
    assert set(now["job_id"]) - set(rows["job_id"]) == set(now.filter(model="extra-trees")["job_id"])
    assert len(list((cwd / "leaderboard" / "default" / "superseded" / "results").glob("*"))) == 2

