"""A run folder someone else touched: damaged files, two drivers at once, a killed driver."""

from __future__ import annotations

import io
import os
import re
import signal
import socket
import subprocess
import sys
import warnings
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from tabbench.core.results import (
    KEY_COLUMNS,
    DamagedFileError,
    read_checked,
    read_results,
    statuses,
)
from tabbench.core.runlock import HOLDER_NAME, LOCK_NAME, holder, run_folder_lock
from tabbench.exceptions import TabbenchError, TabbenchWarning
from tabbench.execution.config import load_config
from tabbench.execution.runner import run_benchmark

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.toml"
# 4 jobs (dummy and linear, 2 seeds) in a few seconds; linear writes a trials file
RUN = ("--models", "dummy,linear", "--dataset", "bikeshare", "--splits", "random")

# holds the lock of the folder argv[1] until its stdin closes (or it is killed)
HOLD = """
import sys
from pathlib import Path
from tabbench.core.runlock import run_folder_lock
with run_folder_lock(Path(sys.argv[1]), "tabbench run"):
    print("locked", flush=True)
    sys.stdin.read()
"""


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


GOOD = parquet_bytes(pl.DataFrame({"job_id": ["j"], "dataset": ["d"], "split_id": ["random-0"],
                                   "model": ["dummy"], "variant": ["tuned"], "status": ["ok"]}))


@pytest.mark.parametrize(("data", "problem"), [
    (b"", r"\(empty file, 0 bytes\)"),
    (GOOD[: len(GOOD) // 2], r"\(truncated Parquet file, \d+ bytes with no footer\)"),
    (b"job_id,status\nj,ok\n", r"\(not a Parquet file, 19 bytes\)"),
    (parquet_bytes(pl.DataFrame({"a": [1]})), r"\(Parquet without the column\(s\) 'job_id', 'dataset', "),
    (parquet_bytes(pl.read_parquet(io.BytesIO(GOOD)).clear()),
     r"\(0 rows, expected at least 1\)"),
], ids=["empty", "truncated", "csv", "no-key-columns", "no-rows"])
def test_a_damaged_result_file_is_named_with_what_is_wrong(tmp_path, data, problem):
    file = tmp_path / "results" / "j.parquet"
    file.parent.mkdir()
    file.write_bytes(data)
    with pytest.raises(DamagedFileError, match=rf"^{re.escape(str(file))}: damaged result file "
                                               rf"{problem}"):
        read_checked(file, "result file", KEY_COLUMNS, min_rows=1)
    with pytest.warns(TabbenchWarning, match=rf"{re.escape(str(file))}: damaged .*; skipped$"), \
            pytest.raises(TabbenchError, match="no result files found, only 1 damaged one"):
        read_results(tmp_path)
    assert statuses(tmp_path) == {}  # a damaged file counts as missing
    assert file.read_bytes() == data  # reading never moves or changes a file


def test_set_aside_keeps_every_damaged_copy_and_ignores_hidden_files(tmp_path, monkeypatch):
    class Frozen(datetime):  # every move in the same second
        @classmethod
        def now(cls, tz=None):
            return datetime(2025, 1, 2, 3, 4, 5, tzinfo=tz)

    monkeypatch.setattr("tabbench.core.results.datetime", Frozen)
    results, trials = tmp_path / "results", tmp_path / "trials"
    results.mkdir()
    trials.mkdir()
    (results / "ok.parquet").write_bytes(GOOD)
    (trials / "ok.parquet").write_bytes(b"")  # a good result with damaged trials: rerun
    temporary = results / ".x.parquet.k2j4.tmp"  # an atomic write in flight
    temporary.write_bytes(b"partial")
    (results / "._x.parquet").write_bytes(b"another tool's dotfile")
    (results / "x.parquet").write_bytes(b"first")
    with pytest.warns(TabbenchWarning) as caught:
        assert statuses(tmp_path, set_aside=True) == {}
    assert sorted(str(w.message).split(":")[0] for w in caught) == [
        str(results / "x.parquet"), str(trials / "ok.parquet")]
    (results / "x.parquet").write_bytes(b"second")  # the same name again
    with pytest.warns(TabbenchWarning, match=r"x\.parquet: damaged result file \(not a Parquet "
                                             r"file, 6 bytes\); moved to .*, its job runs again$"):
        assert statuses(tmp_path, set_aside=True) == {"ok": "ok"}
    moved = sorted((tmp_path / "damaged" / "results").iterdir())
    assert [(f.name, f.read_bytes()) for f in moved] == [
        ("x.parquet.20250102T030405Z", b"first"), ("x.parquet.20250102T030405Z-1", b"second")]
    assert [f.read_bytes() for f in (tmp_path / "damaged" / "trials").iterdir()] == [b""]
    assert temporary.read_bytes() == b"partial"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert statuses(tmp_path, set_aside=True) == {"ok": "ok"}


def test_leaderboard_and_report_skip_damaged_files_and_run_redoes_their_jobs(tabbench_script,
                                                                              tmp_path):
    out = tmp_path / "run"
    code, _, err = tabbench_script("run", SMOKE, *RUN, "--seeds", "0,1", "--out", out)
    assert code == 0, err
    rows = read_results(out).sort("model", "seed")
    assert rows.height == 4
    ids = {(r["model"], r["seed"]): r["job_id"] for r in rows.iter_rows(named=True)}
    truncated = out / "results" / f"{ids['dummy', 0]}.parquet"
    garbage = out / "results" / f"{ids['linear', 0]}.parquet"
    empty_trials = out / "trials" / f"{ids['linear', 1]}.parquet"
    bad = {truncated: truncated.read_bytes()[:300], garbage: b"PK\x03\x04 not parquet",
           empty_trials: b""}
    for file, data in bad.items():
        file.write_bytes(data)

    for command in ("leaderboard", "report"):
        code, stdout, err = tabbench_script(command, out)
        assert code == 0, err
        lines = err.strip().splitlines()
        # the report also reads the trials (its tuning curves)
        assert len(lines) == (2 if command == "leaderboard" else 3), err
        assert lines[0] == (f"warning: {truncated}: damaged result file (truncated Parquet "
                            f"file, 300 bytes with no footer); skipped")
        assert lines[1] == (f"warning: {garbage}: damaged result file (not a Parquet file, "
                            f"{len(bad[garbage])} bytes); skipped")
        if command == "report":
            assert lines[2] == (f"warning: {empty_trials}: damaged trials file (empty file, "
                                f"0 bytes); left out of the tuning curves")
    assert (out / "report.html").is_file()

    code, stdout, err = tabbench_script("run", SMOKE, *RUN, "--seeds", "0,1", "--out", out)
    assert code == 0, err
    assert "4 jobs planned, 1 already done, 3 ok" in stdout
    lines = err.strip().splitlines()
    assert len(lines) == 3 and "Traceback" not in err, err
    for file, data in bad.items():
        (line,) = [line for line in lines if line.startswith(f"warning: {file}: damaged ")]
        moved = Path(line.split("; moved to ")[1].removesuffix(", its job runs again"))
        assert moved.parent == out / "damaged" / file.parent.name
        assert moved.name.startswith(file.name + ".")
        assert moved.read_bytes() == data  # kept, byte for byte
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no damaged file left
        final = read_results(out)
        for trials in (out / "trials").glob("*.parquet"):
            pl.read_parquet(trials)
    assert final.height == 4 and set(final["status"]) == {"ok"}
    assert set(final["job_id"]) == set(ids.values())
    assert empty_trials.stat().st_size > 0


@pytest.fixture
def lock_holder(tmp_path):
    """A child process holding the lock of ``tmp_path/run``; yields the process."""
    out = tmp_path / "run"
    out.mkdir()
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "locked"
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_second_driver_is_refused_in_one_line_naming_the_holder(tabbench_script, tmp_path,
                                                                  lock_holder):
    out = tmp_path / "run"
    code, _, err = tabbench_script("run", SMOKE, *RUN, "--out", out)
    assert code == 2
    assert err.strip() == (f"error: {out}: another tabbench run (pid {lock_holder.pid} on host "
                           f"{socket.gethostname()}) is using this run folder; wait for it or "
                           f"pass another --out")
    assert not (out / "results").exists()  # the second driver wrote nothing
    assert holder(out)["pid"] == lock_holder.pid


def test_the_lock_of_a_killed_driver_is_taken_over(tabbench_script, tmp_path, lock_holder):
    out = tmp_path / "run"
    lock_holder.send_signal(signal.SIGKILL)
    lock_holder.wait()
    assert holder(out)["pid"] == lock_holder.pid  # its record is still there, and stale
    code, stdout, err = tabbench_script("run", SMOKE, *RUN, "--out", out)
    assert code == 0, err
    assert "2 jobs planned, 0 already done, 2 ok" in stdout
    assert holder(out) is None and (out / LOCK_NAME).exists()


def test_run_benchmark_holds_the_folder_while_it_runs(tmp_path):
    from filelock import FileLock, Timeout

    out = tmp_path / "run"
    config = replace(load_config(SMOKE), out=out, datasets=("bikeshare",), models=("dummy",),
                     splits=("random",))
    seen = []

    def on_start(n: int) -> None:
        record = holder(out)
        assert record["pid"] == os.getpid() and record["command"] == "tabbench run"
        with pytest.raises(Timeout):  # any other holder (another open file) is refused
            FileLock(str(out / LOCK_NAME)).acquire(timeout=0)
        with run_folder_lock(out):  # re-entrant in the holding process
            seen.append(n)
        assert holder(out)["pid"] == os.getpid()

    summary = run_benchmark(config, on_start=on_start)
    assert seen == [1] and summary.counts["ok"] == 1
    assert not (out / HOLDER_NAME).exists()
    lock = FileLock(str(out / LOCK_NAME))
    lock.acquire(timeout=0)  # released at the end
    lock.release()
