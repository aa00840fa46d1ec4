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
