"""Canonical text of a recorded output folder (see record_outputs.sh), for `diff -r`.

Every Parquet file under OUT/raw becomes a CSV under OUT/canonical, its rows sorted and
its timing columns (seconds, timestamps, versions) dropped; every command's printed output
loses its timing lines and the folder prefix.
"""

import re
import sys
from pathlib import Path

import polars as pl

TIMING = re.compile(r"seconds|_at$|^versions$|^elapsed|^duration|^wall|^speedup$")
out = Path(sys.argv[1])
canonical = out / "canonical"
for parquet in sorted((out / "raw").rglob("*.parquet")):
    relative = parquet.relative_to(out / "raw")
    if relative.parts[0] == "cache" or "trials" in relative.parts:
        continue
    frame = pl.read_parquet(parquet)
    frame = frame.drop([c for c in frame.columns if TIMING.search(c)])
    frame = frame.select(sorted(frame.columns))
    # list columns (the predictions' class probabilities) as their text, then like the rest
    frame = frame.with_columns(pl.col(c).map_elements(str, return_dtype=pl.String)
                               for c, dtype in frame.schema.items()
                               if isinstance(dtype, pl.List))
    frame = frame.with_columns(pl.col(c).cast(pl.String).str.replace_all(str(out), "OUT",
                                                                       literal=True)
                               for c in frame.columns)
    target = canonical / relative.with_suffix(".csv")
    target.parent.mkdir(parents=True, exist_ok=True)
    frame.sort(frame.columns, nulls_last=True).write_csv(target)
for text in sorted((out / "text").glob("*.txt")):
    lines = text.read_text().replace(str(out), "OUT").splitlines()
    kept = [line for line in lines
            if not re.search(r"\d+:\d\d:\d\d|seconds|\bs\b.*wall|took|in \d+(\.\d+)? ?s\b", line)]
    target = canonical / "text" / text.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(kept) + "\n")
print(f"canonical outputs in {canonical}")
