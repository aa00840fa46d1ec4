"""Shared fixtures: an isolated dataset cache, small CSV writers, and a CLI runner."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets a private dataset cache and no user dataset folders."""
    monkeypatch.setenv("TABBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("TABBENCH_DATASETS", raising=False)


@pytest.fixture
def write_csv(tmp_path: Path):
    """Write ``text`` to a CSV file in the test's folder and return its path."""

    def write(text: str, name: str = "data.csv") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture):
    """Run ``tabbench ARGS`` in-process; return ``(exit_code, stdout, stderr)``."""
    from tabbench.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["tabbench", *map(str, args)])
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def script_runner(workdir: Path):
    """A function that runs the installed ``tabbench`` console script in a subprocess in
    ``workdir`` and returns ``(exit_code, stdout, stderr)``."""
    import shutil
    import subprocess

    script = shutil.which("tabbench")
    if script is None:
        pytest.fail("the tabbench console script is not installed (pip install -e .)")
    workdir.mkdir(exist_ok=True)

    def run(*args: str, timeout: float = 300, cwd: Path | None = None,
            env: dict[str, str] | None = None) -> tuple[int, str, str]:
        finished = subprocess.run([script, *map(str, args)], cwd=cwd or workdir,
                                  env={**os.environ, "COLUMNS": "200", **(env or {})},
                                  capture_output=True, text=True, timeout=timeout)
        return finished.returncode, finished.stdout, finished.stderr

    return run


@pytest.fixture
def tabbench_script(tmp_path: Path):
    """Run the installed ``tabbench`` console script in a subprocess, in a fresh folder;
    return ``(exit_code, stdout, stderr)``."""
    return script_runner(tmp_path / "cwd")


@pytest.fixture(scope="module")
def module_tabbench_script(tmp_path_factory: pytest.TempPathFactory):
    """:func:`tabbench_script` for module-scoped fixtures (one folder per test module)."""
    return script_runner(tmp_path_factory.mktemp("cwd"))


@pytest.fixture
def kill_driver_and_resume(tmp_path: Path):
    """Run ``tabbench run <smoke config> --models <4 models> EXTRA`` in a subprocess, SIGKILL
    it once 2 results exist, run it again, and check that nothing was lost or duplicated;
    return the final result rows."""
    import signal
    import subprocess
    import time

    import polars as pl

    from tabbench.core.results import read_results

    root = Path(__file__).resolve().parents[1]

    def run(*extra: str):
        out = tmp_path / "out"
        command = [sys.executable, "-m", "tabbench.cli", "run",
                   str(root / "configs" / "smoke.toml"), "--out", str(out),
                   "--models", "dummy,linear,lightgbm,random-forest", *extra]
        env = {**os.environ, "PYTHONPATH": str(root)}
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and len(list((out / "results").glob("*.parquet"))) < 2:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        done = {f.name: f.stat().st_mtime_ns for f in (out / "results").glob("*.parquet")}
        assert 2 <= len(done) < 8
        for file in (out / "results").glob("*.parquet"):
            pl.read_parquet(file)
        finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert finished.returncode == 0, finished.stderr
        assert f"{len(done)} already done" in finished.stdout
        files = {f.name: f.stat().st_mtime_ns for f in (out / "results").glob("*.parquet")}
        assert len(files) == 8
        assert all(files[name] == mtime for name, mtime in done.items())
        assert not list((out / "results").glob(".*.tmp"))
        return read_results(out)

    return run
