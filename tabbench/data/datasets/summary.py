"""What ``tabbench datasets show`` prints of a dataset's columns, cached by its file.

Counting distinct and missing values needs the whole table (polars, the file read, the
column kinds inferred); the counts are kept in the cache folder under a key of the spec's
TOML and the data file's path, size and modification time, so that showing a dataset
again reads one small JSON file and imports no data library. A generated dataset (no file)
is summarized each time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

from tabbench.core._atomic import write_atomic_bytes
from tabbench.core.paths import cache_dir
from tabbench.data.datasets.spec import DatasetSpec

__all__ = ["dataset_summary"]

#: Bumped when the summary's fields change.
_VERSION = 1


def dataset_summary(spec: DatasetSpec) -> dict[str, Any]:
    """``n_rows``, ``classes`` and per feature ``[column, kind, distinct, missing]``."""
    cached = _cache_file(spec)
    if cached is not None and cached.is_file():
        try:
            return json.loads(cached.read_text())
        except (OSError, ValueError):
            pass  # a damaged entry is recomputed and rewritten
    summary = _summarize(spec)
    if cached is not None:  # a read-only cache only costs the next call its time
        with contextlib.suppress(OSError):
            write_atomic_bytes(cached, json.dumps(summary).encode())
    return summary


def _summarize(spec: DatasetSpec) -> dict[str, Any]:
    from tabbench.data.datasets.load import load_dataset

    dataset = load_dataset(spec)
    features = [[column, kind, dataset.frame.get_column(column).n_unique(),
                 dataset.frame.get_column(column).null_count()]
                for column, kind in dataset.features.items()]
    return {"n_rows": dataset.n_rows, "classes": [_plain(c) for c in dataset.classes],
            "features": features}


def _plain(value: Any) -> Any:
    """A class label as JSON holds it (numpy scalars as Python numbers)."""
    return value.item() if hasattr(value, "item") else value


def _cache_file(spec: DatasetSpec) -> Path | None:
    if spec.path is None or spec.toml_path is None:
        return None
    data = Path(spec.path)
    if not data.is_absolute():
        data = spec.toml_path.parent / data
    try:
        stat = data.stat()
        toml = spec.toml_path.read_bytes()
    except OSError:
        return None  # a missing file: load_dataset says so
    key = hashlib.sha256(b"\0".join([
        str(_VERSION).encode(), toml, str(data.resolve()).encode(),
        str(stat.st_size).encode(), str(stat.st_mtime_ns).encode()])).hexdigest()[:24]
    return cache_dir() / "summaries" / f"{key}.json"
