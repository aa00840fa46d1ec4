"""Names are identifiers, never paths: nothing tabbench writes lands outside the given folders."""

from __future__ import annotations

from pathlib import Path

import pytest

from tabbench.core.paths import check_name, ensure_dir, safe_join
from tabbench.exceptions import DatasetError, TabbenchError


@pytest.mark.parametrize("name", ["flights", "hotel-rates", "a.b_c-1", "0", "x" * 100])
def test_valid_names(name):
    assert check_name(name, "dataset name") == name


@pytest.mark.parametrize("name", ["", "..", "../evil", "a/b", "a\\b", "/abs", ".hidden", "-x",
                                  "Upper", "a..b", "sp ace", "x" * 101, "é", "a\nb", 3, None])
def test_invalid_names(name):
    with pytest.raises(DatasetError, match="is not a valid name: use lowercase letters"):
        check_name(name, "dataset name", "d.toml", DatasetError)


def test_safe_join_refuses_to_leave_its_base(tmp_path):
    assert safe_join(tmp_path, "results", "x.parquet") == tmp_path.resolve() / "results" / "x.parquet"
    for parts in (("..", "x"), ("a", "..", "..", "x"), ("/etc/passwd",)):
        with pytest.raises(TabbenchError, match="outside this folder"):
            safe_join(tmp_path / "base", *parts)
    (tmp_path / "link").symlink_to(tmp_path.parent)
    with pytest.raises(TabbenchError, match="outside this folder"):
        safe_join(tmp_path, "link", "x")


def test_ensure_dir_explains_why_not(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(TabbenchError, match="a file of that name exists"):
        ensure_dir(tmp_path / "file", "run folder")
    with pytest.raises(TabbenchError, match="cannot create the run folder"):
        ensure_dir(tmp_path / "file" / "sub", "run folder")
    assert ensure_dir(tmp_path / "new" / "deep").is_dir()


EVIL = "../../evil"


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_traversal_names_write_nothing_outside(tabbench_script, tmp_path: Path):
    """Every command that takes a name, given one that climbs out of its folder."""
    base = tmp_path / "a" / "b" / "c"
    folders = {k: base / k for k in ("cwd", "home", "cache", "reg", "out", "badreg", "input")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    data = folders["input"] / "data.csv"
    data.write_text("ts,x,y\n" + "".join(f"2024-01-{1 + i % 28:02d},{i % 7},{i % 2}\n"
                                           for i in range(80)))
    (folders["badreg"] / "bad.toml").write_text(
        f'name = "{EVIL}"\ntask = "binary"\ntarget = "y"\npath = "../input/data.csv"\n')
    config = folders["input"] / "bench.toml"
    config.write_text(f'name = "{EVIL}"\ndatasets = ["bikeshare"]\nmodels = ["dummy"]\n')
    env = {"HOME": str(folders["home"]), "TABBENCH_CACHE": str(folders["cache"])}
    before = _files(tmp_path)
    reg, out = str(folders["reg"]), str(folders["out"])
    commands = [
        ["datasets", "add", data, "--target", "y", "--name", EVIL, "--datasets-dir", reg],
        ["datasets", "add", data, "--target", "y", "--name", "a/b", "--datasets-dir", reg],
        ["datasets", "add", data, "--target", "y", "--name", "/tmp/evil", "--datasets-dir", reg],
        ["datasets", "list", "--datasets-dir", folders["badreg"]],
        ["datasets", "show", EVIL],
        ["run", "--dataset", EVIL, "--models", "dummy", "--out", out],
        ["run", "--datasets-dir", folders["badreg"], "--models", "dummy", "--out", out],
        ["run", config],
        ["compare-splits", "--dataset", EVIL, "--models", "dummy", "--out", out],
        ["rank-features", EVIL],
        ["rank-features", "bikeshare", "--split", EVIL, "--out", out],
        ["explain", "-d", EVIL, "-m", "linear", "--out", out],
        ["explain", "-d", "bikeshare", "-m", EVIL, "--out", out],
        ["explain", "-d", "bikeshare", "-m", "linear", "--split", EVIL, "--out", out],
        ["ncd", "--dataset", EVIL, "--novel-classes", "0", "--out", out],
    ]
    for command in commands:
        code, _, err = tabbench_script(*command, cwd=folders["cwd"], env=env)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code == 2 and len(lines) == 1 and "Traceback" not in err, (command, err)
    written = _files(tmp_path) - before
    allowed = [folders[k] for k in ("cwd", "home", "cache", "reg", "out")]
    assert all(any(folder in path.parents for folder in allowed) for path in written), written
    assert not list(folders["reg"].glob("*.toml"))
    assert not any(p.name.startswith("evil") for p in tmp_path.rglob("*"))
