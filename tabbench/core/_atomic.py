"""Atomic file writes: write to a temporary name in the same folder, fsync, then rename."""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from tabbench.exceptions import TabbenchError

if TYPE_CHECKING:
    import polars as pl

_UMASK = os.umask(0)
os.umask(_UMASK)


def write_atomic_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one.

    A failed write (for instance, a full disk) raises :class:`TabbenchError` naming the
    file and leaves any earlier file at ``path`` untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the usual permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise TabbenchError(f"{path}: could not write ({exc.strerror or exc})") from None


def parquet_bytes(frame: pl.DataFrame, *, compression: str = "zstd",
                  compression_level: int | None = None) -> bytes:
    """``frame`` as the bytes of a Parquet file."""
    buffer = io.BytesIO()
    frame.write_parquet(buffer, compression=compression, compression_level=compression_level)
    return buffer.getvalue()


def write_parquet_atomic(path: Path, frame: pl.DataFrame, *, compression: str = "zstd",
                         compression_level: int | None = None) -> Path:
    """Write ``frame`` to ``path`` as Parquet, atomically (see :func:`write_atomic_bytes`)."""
    write_atomic_bytes(path, parquet_bytes(frame, compression=compression,
                                           compression_level=compression_level))
    return path
