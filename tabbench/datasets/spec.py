"""DatasetSpec: one registry entry (``datasets/*.toml``), validated strictly."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from tabbench._toml import check_keys, expect, read_toml
from tabbench.exceptions import DatasetError

TaskType = Literal["binary", "multiclass", "regression"]
TASK_TYPES: tuple[str, ...] = ("binary", "multiclass", "regression")

_KEYS = (
    "name", "task", "target", "path", "generator", "generator_params", "time_column",
    "group_column", "categorical", "drop", "metric", "description", "license", "source_url",
    "n_rows",
)


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: where its rows come from and what the columns mean.

    Exactly one of ``path`` (a CSV or Parquet file, relative paths resolved against the
    TOML file's folder) and ``generator`` (a name in :mod:`tabbench.datasets.synthetic`) is set.
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
                    "metric"):
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
            drop=tuple(raw.get("drop", [])),
            metric=raw.get("metric"),
            description=raw.get("description", ""),
            license=raw.get("license", ""),
            source_url=raw.get("source_url", ""),
            n_rows=n_rows,
            toml_path=toml_path,
        )
