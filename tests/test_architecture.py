"""The package's architecture: the import-linter contracts of pyproject.toml hold."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    lint = shutil.which("lint-imports")
    if lint is None:
        pytest.fail("lint-imports is missing: pip install -e '.[dev]' installs import-linter")
    result = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"]
    assert f"{len(contracts)} kept, 0 broken" in result.stdout


def test_modules_stay_small():
    """At most three modules over 500 lines, none over 700: a longer one holds two jobs."""
    sizes = {path.relative_to(ROOT).as_posix(): len(path.read_text().splitlines())
             for path in (ROOT / "tabbench").rglob("*.py")}
    assert not {name: n for name, n in sizes.items() if n > 700}
    assert len([n for n in sizes.values() if n > 500]) <= 3, sorted(sizes.items(),
                                                                   key=lambda kv: -kv[1])[:5]


def test_the_package_root_holds_only_the_layers():
    """``ls tabbench/`` shows the layers (and the public error hierarchy), not modules."""
    entries = {p.name for p in (ROOT / "tabbench").iterdir() if p.name != "__pycache__"}
    assert entries == {"__init__.py", "py.typed", "exceptions.py", "core", "data", "methods",
                       "execution", "analysis", "studies", "cli"}
