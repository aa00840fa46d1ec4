"""Memory for NCD runs: what this process may still use, and how many rows fit in it.

Every NCD method states its memory model (``memory_model``, in words) and estimates its
peak (``memory_bytes``) from the rows, features and classes. Before a method starts, the
runner compares that estimate with :func:`available_bytes`; a run that would not fit is
cut to the rows that do (a stratified sample, said in one warning line), or refused in
one error line when too few rows would be left.
"""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np

#: Share of the available memory a method's estimate may take (estimates are rough, and
#: other processes allocate too).
BUDGET_SHARE = 0.7

#: Fewer rows than this after a memory cut: the run is refused rather than shrunk.
MIN_ROWS = 500


def available_bytes() -> int:
    """Bytes this process can still allocate: the least of the kernel's ``MemAvailable``,
    the cgroup's ``memory.max`` headroom and the ``RLIMIT_AS`` headroom (``ulimit -v``)."""
    found = []
    meminfo = _read_kib(Path("/proc/meminfo"), "MemAvailable:")
    if meminfo is not None:
        found.append(meminfo)
    limit, used = Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory.current")
    try:
        text = limit.read_text().strip()
        if text != "max":
            found.append(int(text) - int(used.read_text()))
    except (OSError, ValueError):
        pass
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        size = _read_kib(Path("/proc/self/status"), "VmSize:")
        found.append(soft - (size or 0))
    return max(0, min(found)) if found else 2**62


def _read_kib(path: Path, key: str) -> int | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def rows_that_fit(bytes_for, n_rows: int, budget: int) -> int:
    """The most rows (at most ``n_rows``) whose estimate ``bytes_for(rows)`` is within
    ``budget`` (estimates grow with the rows; a bisection finds the boundary)."""
    if bytes_for(n_rows) <= budget:
        return n_rows
    low, high = 0, n_rows
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (middle, high) if bytes_for(middle) <= budget else (low, middle)
    return low


def stratified_rows(y: np.ndarray, n_rows: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``n_rows`` rows with the class shares of ``y`` (scikit-learn's
    ``resample`` with ``stratify``), seeded."""
    # deferred: scikit-learn is heavy to import
    from sklearn.utils import resample

    picked = resample(np.arange(len(y)), n_samples=n_rows, replace=False, stratify=y,
                      random_state=seed)
    return np.sort(picked)


def gib(n_bytes: float) -> str:
    """``n_bytes`` as GiB with two decimals, e.g. ``'6.41 GiB'``."""
    return f"{n_bytes / 2**30:.2f} GiB"
