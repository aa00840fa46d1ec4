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


def imported_by(*args: str, cwd, env: dict[str, str] | None = None) -> set[str]:
    """The packages of ``HEAVY`` in ``sys.modules`` after ``tabbench ARGS`` ran in a fresh
    interpreter (the command's exit code must be 0)."""
    code = (f"import sys\nsys.argv = ['tabbench', *{list(args)!r}]\n"
            "from tabbench.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")
    finished = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True,
                              text=True, timeout=120,
                              env={**os.environ, "COLUMNS": "80", "MPLBACKEND": "Agg",
                                   **(env or {})})
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


def test_datasets_show_of_a_file_reads_the_table_once_until_the_file_changes(tmp_path):
    registry, cache = tmp_path / "reg", tmp_path / "cache"
    registry.mkdir()
    data = registry / "d.csv"
    data.write_text("x,c,y\n" + "".join(f"{i},{'ab'[i % 2]},{i % 2}\n" for i in range(30)))
    (registry / "d.toml").write_text('name = "d"\ntask = "binary"\ntarget = "y"\n'
                                     'path = "d.csv"\n')
    env = {"TABBENCH_CACHE": str(cache)}

    def show() -> str:
        finished = subprocess.run(
            [sys.executable, "-m", "tabbench.cli", "datasets", "show", "d",
             "--datasets-dir", str(registry)], capture_output=True, text=True, timeout=120,
            cwd=tmp_path, env={**os.environ, "COLUMNS": "80", **env})
        assert finished.returncode == 0, finished.stderr
        return finished.stdout

    first = show()
    assert "rows: 30" in first and "\nx       numeric            30        0\n" in first
    assert imported_by("datasets", "show", "d", "--datasets-dir", str(registry),
                       cwd=tmp_path, env=env) == set()  # the counts come from the cache
    assert show() == first
    data.write_text(data.read_text() + "".join(f"{i},c,{i % 2}\n" for i in range(30, 40)))
    changed = show()  # another size and time: counted again
    assert "rows: 40" in changed and changed != first


def test_rank_features_imports_no_scipy_or_sklearn(tmp_path):
    imported = imported_by("rank-features", "synthetic-drift", "--max-rows", "400", "--top",
                           "3", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert "matplotlib" in imported  # the chart
    assert imported.isdisjoint({"scipy", "sklearn", "pandas", "optuna", "torch"})
