"""Dataset registry, loading, type inference, validation and the content-fingerprinted cache."""

from __future__ import annotations

import warnings
from pathlib import Path

import polars as pl
import pytest

from tabbench.data.datasets.load import fingerprint, load_dataset
from tabbench.data.datasets.registry import add_dataset, get_spec, infer_task, list_specs
from tabbench.data.datasets.spec import DatasetSpec
from tabbench.exceptions import DatasetError, TabbenchWarning, UnknownNameError

CSV = """ts,x,city,flag,when,y
2024-01-01T00:00:00Z,1.0,a,true,2023-05-01,0
2024-01-02T00:00:00Z,2.0,b,false,2023-06-01,1
2024-01-03T00:00:00Z,3.5,a,true,2023-07-01,0
2024-01-04T00:00:00Z,,c,false,2023-08-01,1
"""


def spec_for(path: Path, **kwargs) -> DatasetSpec:
    raw = {"name": "t", "task": "binary", "target": "y", "path": str(path), **kwargs}
    return DatasetSpec.from_dict(raw, where=str(path))


def test_bundled_registry_has_three_real_time_stamped_datasets():
    specs = list_specs()
    for name in ("flights", "bikeshare", "hotel-rates"):
        spec = specs[name]
        assert spec.time_column and spec.license and spec.source_url and spec.n_rows
        assert spec.path is not None and spec.path.is_file()


def test_bundled_dataset_loads_with_declared_row_count():
    spec = get_spec("bikeshare")
    dataset = load_dataset(spec)
    assert dataset.n_rows == spec.n_rows == 8645
    assert dataset.task == "regression"
    assert dataset.features["mnth"] == "categorical"
    assert "timestamp" not in dataset.features and "bikers" not in dataset.features


def test_type_inference(write_csv):
    dataset = load_dataset(spec_for(write_csv(CSV), time_column="ts"))
    assert dataset.features == {
        "x": "numeric", "city": "categorical", "flag": "boolean",
        "when_month": "numeric", "when_weekday": "numeric",
    }
    assert dataset.classes == (0, 1)
    assert dataset.time().dtype.name == "int64"
    assert list(dataset.target()) == [0, 1, 0, 1]


def test_cache_is_used_and_never_stale(write_csv):
    path = write_csv(CSV)
    spec = spec_for(path, time_column="ts")
    first = load_dataset(spec)
    again = load_dataset(spec)
    assert again.fingerprint == first.fingerprint
    assert again.frame.equals(first.frame)
    path.write_text(CSV.replace("3.5", "9.5"))
    changed = load_dataset(spec)
    assert changed.fingerprint != first.fingerprint
    assert 9.5 in changed.frame["x"].to_list()


def test_parquet_source(tmp_path):
    path = tmp_path / "d.parquet"
    pl.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "y": [1.5, 2.5, 0.5, 1.0]}).write_parquet(path)
    dataset = load_dataset(spec_for(path, task="regression"))
    assert dataset.features == {"a": "numeric"}


def test_non_finite_become_missing_and_constant_columns_dropped(write_csv):
    path = write_csv("a,b,c,d,y\n1,inf,5,,0\n2,3,5,,1\n3,-inf,5,,0\n4,4,5,,1\n")
    with pytest.warns(TabbenchWarning) as record:
        dataset = load_dataset(spec_for(path))
    messages = " ".join(str(w.message) for w in record)
    assert "non-finite values in 'b'" in messages
    assert "dropped constant or all-missing columns 'c', 'd'" in messages
    assert dataset.frame["b"].null_count() == 2
    assert set(dataset.features) == {"a", "b"}


def test_rows_with_missing_target_are_dropped_with_a_warning(write_csv):
    path = write_csv("a,y\n1,0\n2,\n3,1\n4,0\n")
    with pytest.warns(TabbenchWarning, match="dropped 1 rows whose target 'y' is missing"):
        dataset = load_dataset(spec_for(path))
    assert dataset.n_rows == 3


def test_id_like_column_warns(write_csv):
    rows = "\n".join(f"id{i},{i % 7},{i % 2}" for i in range(40))
    path = write_csv("key,a,y\n" + rows + "\n")
    with pytest.warns(TabbenchWarning, match="'key' looks like an id"):
        load_dataset(spec_for(path))


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("", {}, "file is empty"),
        ("a,y\n", {}, "no data rows"),
        ("a,b\n1,2\n3,4\n", {}, r"target 'y' not found; columns are: 'a', 'b'"),
        ("a,y\n1,\n2,\n", {}, "target 'y' is missing in every row"),
        ("a,y\n1,1\n2,1\n", {}, r"target 'y' has only one class \(1\)"),
        ("a,y\n1,x\n2,z\n", {"task": "regression"}, "regression target 'y' must be numeric"),
        ("a,y,ts\n1,0,2024-01-01\n2,1,yesterday\n", {"time_column": "ts"},
         "time column 'ts' is not parseable.*offending value: 'yesterday'"),
        ("a,a,y\n1,2,0\n3,4,1\n", {}, "duplicate column names: 'a'"),
        ("a,y\n1,0\n2,1\n3,2\n", {}, "task 'binary' but target 'y' has 3 classes"),
        ("a,y\n1,0\n2,1\n", {"time_column": "when"}, "time_column 'when' not found"),
        ("a,y\n1,0\n2,1\n", {"drop": ["zzz"]}, "drop lists unknown column 'zzz'"),
        ("a,y\n1,1e300\n2,-2e300\n3,5\n", {"task": "regression"},
         r"regression target 'y' has values as large as 2e\+300; .*rescale the target"),
        ("ts,a,y\n0001-01-01,1,0\n2020-01-02,2,1\n", {"time_column": "ts"},
         "time column 'ts' must lie within the years 1678 to 2261.*offending value: '0001-01-01'"),
        ("ts,a,y\n1,1,0\n9223372036854775808,2,1\n", {"time_column": "ts"},
         "time column 'ts' must lie within .* offending value: 9223372036854775808"),
        ("a,y\n1,0\n2,1,3\n", {}, "line 3 has 3 fields, the header has 2; quote cells"),
    ],
)
def test_bad_files_raise_one_clear_error(write_csv, text, kwargs, message):
    path = write_csv(text)
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset(spec_for(path, **kwargs))
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_file_that_is_not_utf8_says_so(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("a,y\ncafé,0\nthé,1\n".encode("latin-1"))
    with pytest.raises(DatasetError, match=r"cannot parse as CSV .*; save the file as UTF-8"):
        load_dataset(spec_for(path))


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        load_dataset(spec_for(tmp_path / "nope.csv"))


def test_unknown_key_in_dataset_toml(tmp_path):
    toml = tmp_path / "bad.toml"
    toml.write_text('name = "b"\ntask = "binary"\ntarget = "y"\npath = "x.csv"\ncolour = "red"\n')
    with pytest.raises(DatasetError, match=r"bad.toml: unknown key 'colour'; allowed keys are"):
        DatasetSpec.from_toml(toml)


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(UnknownNameError, match=r"unknown dataset 'nope'; valid names are: .*flights"):
        get_spec("nope")


@pytest.mark.parametrize(
    ("values", "task"),
    [([0, 1, 1, 0], "binary"), (["a", "b", "c"], "multiclass"),
     ([1, 2, 3, 1, 2, 3] * 20, "multiclass"), ([0.5, 1.25, 3.0, 4.5], "regression")],
)
def test_infer_task(values, task):
    assert infer_task(pl.Series("y", values)) == task


def test_add_writes_a_toml_that_loads(write_csv, tmp_path):
    path = write_csv(CSV, name="My Sales.csv")
    folder = tmp_path / "registry"
    toml = add_dataset(path, "y", time_column="ts", datasets_dir=folder)
    assert toml == folder / "my-sales.toml"
    spec = get_spec("my-sales", [folder])
    assert (spec.task, spec.time_column, spec.categorical) == ("binary", "ts", ("city",))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_dataset(spec).n_rows == 4
    with pytest.raises(DatasetError, match="already exists"):
        add_dataset(path, "y", datasets_dir=folder)


def test_fingerprint_depends_on_spec(write_csv):
    path = write_csv(CSV)
    assert fingerprint(spec_for(path)) != fingerprint(spec_for(path, time_column="ts"))


def test_integer_row_number_column_warns_as_id(write_csv):
    rows = "\n".join(f"{i},{(i * 37) % 11},{i % 2}" for i in range(40))
    path = write_csv("rownames,a,y\n" + rows + "\n")
    with pytest.warns(TabbenchWarning, match="'rownames' looks like an id"):
        load_dataset(spec_for(path))


# --- found by the messy-CSV fuzz test (tests/test_fuzz_csv.py) ---------------------------


def test_empty_header_is_a_column_like_any_other(write_csv):
    # was: ColumnNotFoundError: unable to find column "" (an unnamed series became 'column_0')
    path = write_csv(",x,y\n1.5,a,0\n2.5,b,1\n0.5,a,0\n3.0,b,1\n")
    dataset = load_dataset(spec_for(path))
    assert dataset.features == {"": "numeric", "x": "categorical"}
    assert dataset.frame[""].to_list() == [1.5, 2.5, 0.5, 3.0]


def test_empty_header_can_be_the_target(write_csv):
    # was: the target "" was left out of the loaded frame ("if c" on its name), so
    # `tabbench run` died with ColumnNotFoundError: "" not found
    path = write_csv("x,\n1,0.5\n2,1.5\n3,2.5\n4,0.0\n")
    dataset = load_dataset(spec_for(path, task="regression", target=""))
    assert dataset.target().tolist() == [0.5, 1.5, 2.5, 0.0]


def test_datetime_parts_never_take_an_existing_column_name(write_csv):
    # was: DuplicateError: column with name 'when_month' has more than one occurrence
    path = write_csv("when,when_month,y\n2023-05-01,7,0\n2023-06-02,8,1\n"
                     "2023-07-03,7,0\n2023-08-04,9,1\n")
    dataset = load_dataset(spec_for(path))
    assert list(dataset.features) == ["when_month_2", "when_day", "when_weekday", "when_month"]
    assert dataset.frame["when_month"].to_list() == [7, 8, 7, 9]
    assert dataset.frame["when_month_2"].to_list() == [5.0, 6.0, 7.0, 8.0]


def test_datetime_column_without_varying_parts_is_reported_as_dropped(write_csv):
    path = write_csv("when,a,y\n2023-05-01,1,0\n2023-05-01,2,1\n2023-05-01,3,0\n")
    with pytest.warns(TabbenchWarning, match="dropped constant or all-missing columns 'when'"):
        dataset = load_dataset(spec_for(path))
    assert dataset.features == {"a": "numeric"}


def test_a_job_reloading_its_dataset_does_not_repeat_the_warnings(write_csv):
    # was: each job's child process printed the dataset's warnings again, as raw Python
    # warnings ("job.py:120: TabbenchWarning: ...") after the driver had shown them once
    from tabbench.execution.config import BUDGETS
    from tabbench.execution.job import Job, run_job

    rows = "".join(f"{i},5,{i % 2}\n" for i in range(12))
    spec = spec_for(write_csv("a,c,y\n" + rows))
    with pytest.warns(TabbenchWarning, match="dropped constant"):
        dataset = load_dataset(spec)  # the driver, planning the run
    job = Job(run="t", spec=spec, dataset_fingerprint=dataset.fingerprint,
              split_strategy="random", split_id="random-0", model="dummy", variant="default",
              seed=0, budget=BUDGETS.get("smoke"), metric="roc_auc")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        row = run_job(job).row
    assert row["status"] == "ok", row.get("error")
    assert not [w for w in caught if issubclass(w.category, TabbenchWarning)]


# --- datasets add: the leakage audit, and warnings that name the file read ---------------


def dated_table(path: Path, *, leak: bool = False, n: int = 200) -> Path:
    """``n`` rows in time order (ten per day): a row number, a noise feature, a target and,
    with ``leak``, a copy of the target plus noise."""
    lines = ["rownames,ts,a,y" + (",leak" if leak else "")]
    for i in range(n):
        y = (i * 7) % 5 < 2
        row = f"{i + 1},2024-01-{1 + i // 10:02d}T{i % 10:02d}:00:00,{(i * 37) % 101},{int(y)}"
        lines.append(row + (f",{5 * y + (i * 13) % 10 / 10}" if leak else ""))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_add_drops_a_row_number_in_time_order_and_keep_keeps_it(tmp_path):
    path = dated_table(tmp_path / "sales.csv")
    with pytest.warns(TabbenchWarning) as caught:
        toml = add_dataset(path, "y", time_column="ts", datasets_dir=tmp_path / "r")
    [line] = [str(w.message) for w in caught]
    assert line == (f"{path}: dropped column 'rownames': unique per row (100% distinct) and in "
                    f"time order (Spearman rho 1.000 with 'ts'): a row number, from which a "
                    f"model reads the time; to keep it: --keep rownames")
    spec = get_spec("sales", [tmp_path / "r"])
    assert spec.drop == ("rownames",) and "a row number" in spec.drop_reasons["rownames"]
    assert "rownames" not in load_dataset(spec).features
    toml = add_dataset(path, "y", time_column="ts", datasets_dir=tmp_path / "r", force=True,
                       keep=["rownames"])
    spec = DatasetSpec.from_toml(toml)
    assert spec.drop == () and spec.audit == {"rownames": "kept by --keep in tabbench datasets add"}
    assert "rownames" in load_dataset(spec).features


def test_add_reports_a_column_that_alone_predicts_the_target(tmp_path):
    path = dated_table(tmp_path / "sales.csv", leak=True)
    with pytest.warns(TabbenchWarning, match=r"column 'leak' alone scores roc_auc 1.000 on the "
                      r"time split's validation part; .* to drop it: tabbench datasets add .*"
                      r"sales.csv --target y --time-column ts --name sales --datasets-dir .* "
                      r"--drop leak --force$"):
        add_dataset(path, "y", time_column="ts", datasets_dir=tmp_path / "r")
    assert "leak" in load_dataset(get_spec("sales", [tmp_path / "r"])).features  # reported only
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        toml = add_dataset(path, "y", time_column="ts", datasets_dir=tmp_path / "r", force=True,
                           drop=["leak"])
    assert not [w for w in caught if "leak" in str(w.message)]
    assert DatasetSpec.from_toml(toml).drop == ("leak", "rownames")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"drop": ["nope"]}, r"--drop 'nope' is not a column; columns are: 'rownames', 'ts'"),
    ({"keep": ["ts"]}, "--keep 'ts' is the --time-column, which cannot be dropped or kept"),
    ({"drop": ["y"]}, "--drop 'y' is the --target"),
    ({"drop": ["a"], "keep": ["a"]}, "column 'a' is in both --drop and --keep"),
])
def test_add_drop_and_keep_name_columns_of_the_file(tmp_path, kwargs, message):
    path = dated_table(tmp_path / "sales.csv", n=30)
    with pytest.raises(DatasetError, match=message):
        add_dataset(path, "y", time_column="ts", datasets_dir=tmp_path / "r", **kwargs)


def test_add_on_timestamps_that_do_not_separate_skips_the_audit_and_says_why(tmp_path):
    rows = "".join(f"{i},{i % 2},2024-01-01\n" for i in range(40))
    path = tmp_path / "flat.csv"
    path.write_text("a,y,ts\n" + rows)
    with pytest.warns(TabbenchWarning, match=r"flat.csv: split 'time': the timestamps do not "
                      r"separate the rows: all 40 rows share one timestamp.*the leakage audit "
                      r"needs the time split and is skipped"):
        add_dataset(path, "y", time_column="ts", datasets_dir=tmp_path / "r")


def test_a_cached_table_warns_with_the_file_read_now(write_csv, tmp_path):
    # was: the cache key hashes the content, not the path, so the same table added from
    # b.csv re-printed the warning of a.csv, where it had been added first
    rows = "".join(f"{i % 5},7,{i % 2}\n" for i in range(30))
    first, second = write_csv("a,c,y\n" + rows, "a.csv"), write_csv("a,c,y\n" + rows, "b.csv")
    with pytest.warns(TabbenchWarning, match=f"^{first}: dropped constant"):
        load_dataset(spec_for(first))
    with pytest.warns(TabbenchWarning) as caught:
        load_dataset(spec_for(second))  # the same key: from the cache
    assert [str(w.message) for w in caught] == [f"{second}: dropped constant or all-missing "
                                                f"columns 'c'"]


def test_datasets_add_audit_through_the_installed_script(tmp_path, tabbench_script):
    import shlex

    cwd = tmp_path / "cwd"  # the script's working folder (made by the fixture)
    dated_table(cwd / "sales.csv", leak=True)
    code, out, err = tabbench_script("datasets", "add", "sales.csv", "--target", "y",
                                     "--time-column", "ts", "--datasets-dir", "reg")
    assert code == 0, err
    dropped, leak = err.strip().splitlines()
    assert dropped.startswith(f"warning: {cwd / 'sales.csv'}: dropped column 'rownames': "
                              f"unique per row")
    assert dropped.endswith("to keep it: --keep rownames")
    assert leak.startswith(f"warning: {cwd / 'sales.csv'}: column 'leak' alone scores roc_auc")
    assert 'drop = ["rownames"]' in out
    command = leak.split("to drop it: ")[1]
    assert command == ("tabbench datasets add sales.csv --target y --time-column ts --name "
                       "sales --datasets-dir reg --drop leak --force")
    # the command as printed, keeping the row number this time
    code, out, err = tabbench_script(*shlex.split(command)[1:], "--keep", "rownames")
    assert code == 0 and 'drop = ["leak"]' in out and '"rownames" = "kept by --keep' in out, err
    assert "alone scores" not in err and "dropped column" not in err
    assert f"warning: {cwd / 'sales.csv'}: column 'rownames' looks like an id" in err
    # the same table from another file, its cleaned table cached by the run above: the
    # warnings name the file passed
    (cwd / "copy.csv").write_bytes((cwd / "sales.csv").read_bytes())
    code, _, err = tabbench_script(*shlex.split(command.replace("sales.csv", "copy.csv"))[1:],
                                   "--keep", "rownames")
    assert code == 0 and f"warning: {cwd / 'copy.csv'}: column 'rownames' looks like an id" \
        in err, err
    assert "sales.csv" not in err
