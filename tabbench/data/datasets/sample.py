"""Seeded subsamples of a dataset, and the loaded subsamples kept once per process."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tabbench.core._recent import Recent
from tabbench.data.datasets.dataset import Dataset
from tabbench.data.datasets.load import fingerprint, load_dataset
from tabbench.data.datasets.spec import DatasetSpec

#: Loaded subsamples kept per process: a long-lived worker keeps the datasets of its last
#: jobs, not every dataset it ever ran.
_LOADED: Recent[Dataset] = Recent(2)


def load_subsample(spec: DatasetSpec, max_rows: int | None) -> Dataset:
    """The dataset of ``spec``, subsampled to ``max_rows`` if set; kept once loaded (the
    last two per process, keyed by the data's fingerprint, so a changed file is loaded
    again)."""
    digest = fingerprint(spec)
    return _LOADED.get((digest, max_rows),
                       lambda: subsample(load_dataset(spec, key=digest), max_rows))


def subsample(dataset: Dataset, max_rows: int | None) -> Dataset:
    """A seeded subsample of at most ``max_rows`` rows, keeping the original row order.

    The seed comes from the data's fingerprint, so every job, ranking and explanation of
    the same data and ``max_rows`` sees the same rows.
    """
    if max_rows is None or dataset.n_rows <= max_rows:
        return dataset
    seed = int(dataset.fingerprint[:8], 16)
    rows = np.sort(np.random.default_rng(seed).choice(dataset.n_rows, max_rows, replace=False))
    return replace(dataset, frame=dataset.frame[rows])
