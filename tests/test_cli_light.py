"""The light commands stay light: which libraries each command imports.

Listing TOML files or printing help must not pay for polars, scipy or scikit-learn (each
a few tenths of a second to import); ``rank-features`` needs polars and matplotlib but not
scipy or scikit-learn. Times are measured in ``benchmarks/light_commands.py``, never here:
what a test can check on a shared machine is the import chain.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HEAVY = ("polars", "numpy", "scipy", "sklearn", "pandas", "matplotlib", "optuna", "torch")


def imported_by(*args: str, cwd) -> set[str]:
    """The packages of ``HEAVY`` in ``sys.modules`` after ``tabbench ARGS`` ran in a fresh
    interpreter (the command's exit code must be 0)."""
    code = (f"import sys\nsys.argv = ['tabbench', *{list(args)!r}]\n"
            "from tabbench.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")
    finished = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                              text=True, timeout=120,
                              env={**os.environ, "COLUMNS": "80", "MPLBACKEND": "Agg"})
    assert finished.returncode == 0, finished.stderr
    return set(finished.stderr.strip().splitlines()[-1].split()) \
        if finished.stderr.strip() else set()


@pytest.mark.parametrize("args", [("--help",), ("datasets", "list"), ("run", "--help")])
def test_help_and_listing_import_no_data_library(args, tmp_path):
    assert imported_by(*args, cwd=tmp_path) == set()


def test_plugins_imports_no_data_library(tmp_path):
    # the plugin loader's own record: not the registries, which are built on numpy
    assert imported_by("plugins", cwd=tmp_path) == set()


def test_datasets_show_reads_with_polars_only(tmp_path):
    assert imported_by("datasets", "show", "synthetic-drift", cwd=tmp_path) <= {"polars", "numpy"}


def test_rank_features_imports_no_scipy_or_sklearn(tmp_path):
    imported = imported_by("rank-features", "synthetic-drift", "--max-rows", "400", "--top",
                           "3", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert "matplotlib" in imported  # the chart
    assert imported.isdisjoint({"scipy", "sklearn", "pandas", "optuna", "torch"})
