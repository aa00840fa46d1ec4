"""The NCD task: known classes keep their labels, novel-class rows are unlabelled.

The true labels of the novel classes are sealed in the task: :meth:`NCDTask.novel_labels`
refuses to open them while :func:`tuning_guard` is active, so hyperparameter tuning cannot
read them, by construction rather than by convention.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from tabbench.core._registry import Registry
from tabbench.data.datasets.load import load_dataset
from tabbench.data.datasets.registry import list_specs
from tabbench.data.datasets.synthetic import generate
from tabbench.exceptions import TabbenchError, UnknownNameError
from tabbench.methods.preprocess import make_preprocessor

__all__ = ["NCD_DATASETS", "NCDTask", "NovelLabelLeak", "load_ncd_data", "make_task",
           "tuning_guard"]

_TUNING = contextvars.ContextVar("ncd_tuning", default=False)


class NovelLabelLeak(TabbenchError):
    """Raised when code running under :func:`tuning_guard` asks for novel-class labels."""


@contextlib.contextmanager
def tuning_guard() -> Iterator[None]:
    """While active, reading the novel-class labels of any task raises :class:`NovelLabelLeak`."""
    token = _TUNING.set(True)
    try:
        yield
    finally:
        _TUNING.reset(token)


@dataclass(frozen=True)
class NCDTask:
    """One NCD problem, for one seed.

    ``X`` holds the rows the methods see: the training part (known-class rows labelled in
    ``y``, novel-class rows with ``y == -1``) and the test part's novel-class rows (also
    ``-1``). ``is_test`` marks, among the unlabelled rows in order, those that are scored.
    """

    dataset: str
    X: np.ndarray
    y: np.ndarray
    is_test: np.ndarray
    known_classes: tuple[int, ...]
    novel_classes: tuple[int, ...]
    seed: int
    _novel: np.ndarray = field(repr=False)

    @property
    def n_novel(self) -> int:
        return len(self.novel_classes)

    def known_view(self) -> tuple[np.ndarray, np.ndarray]:
        """The labelled known-class rows: all that tuning may use."""
        labelled = self.y >= 0
        return self.X[labelled], self.y[labelled]

    def novel_labels(self) -> np.ndarray:
        """True classes of the scored (test) unlabelled rows; refused while tuning."""
        if _TUNING.get():
            message = (f"{self.dataset}: tuning tried to read the labels of the novel classes "
                       f"{list(self.novel_classes)}; tuning may only use known-class rows")
            raise NovelLabelLeak(message)
        return self._novel[self.is_test].copy()


def make_task(X: np.ndarray, y: np.ndarray, novel: list[int], *, seed: int = 0,
              test_size: float = 0.3, dataset: str = "data") -> NCDTask:
    """Split rows into train/test (stratified, seeded) and hide the novel classes' labels."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    classes = sorted(int(c) for c in np.unique(y))
    unknown = sorted(set(novel) - set(classes))
    if unknown or not novel or len(set(novel)) == len(classes):
        message = (f"{dataset}: novel classes must be a non-empty proper subset of the classes "
                   f"{classes}; got {sorted(novel)}")
        raise TabbenchError(message)
    rng = np.random.default_rng(seed)
    is_test_row = np.zeros(len(y), dtype=bool)
    for c in classes:
        rows = np.flatnonzero(y == c)
        is_test_row[rng.choice(rows, round(test_size * len(rows)), replace=False)] = True
    is_novel = np.isin(y, novel)
    keep = ~is_test_row | is_novel  # known-class test rows play no part
    Xk, yk, nk, tk = X[keep], y[keep], is_novel[keep], is_test_row[keep]
    return NCDTask(
        dataset=dataset, X=Xk, y=np.where(nk, -1, yk), is_test=tk[nk],
        known_classes=tuple(c for c in classes if c not in novel),
        novel_classes=tuple(sorted(novel)), seed=seed, _novel=yk[nk],
    )


NCD_DATASETS: Registry[Callable[[], tuple[np.ndarray, np.ndarray]]] = Registry("NCD dataset")


def _digits() -> tuple[np.ndarray, np.ndarray]:
    # deferred: scikit-learn is heavy to import
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X, y


def _blobs() -> tuple[np.ndarray, np.ndarray]:
    frame = generate("blobs", n_rows=1200, n_classes=8, n_features=6, seed=0)
    return frame.drop("target").to_numpy(), frame["target"].to_numpy()


NCD_DATASETS.register("digits", _digits)
NCD_DATASETS.register("blobs", _blobs)


def load_ncd_data(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and integer classes of a built-in NCD dataset (``digits``, ``blobs``) or of
    any registered classification dataset.

    A registered dataset's features go through the ``classic`` preprocessing (imputed,
    standardized, one-hot), fitted on all rows: NCD treats every row's features as
    unlabelled data; its classes are the dataset's class codes (indices into the sorted
    class labels).
    """
    if name in NCD_DATASETS:
        return NCD_DATASETS.get(name)()
    specs = list_specs()
    if name.lower() not in specs:
        raise UnknownNameError("NCD dataset", name, [*NCD_DATASETS.names(), *specs],
                               parameter="dataset")
    dataset = load_dataset(specs[name.lower()])
    if dataset.task == "regression":
        raise TabbenchError(f"dataset: {name!r} is a regression dataset; novel class "
                            "discovery needs classes", parameter="dataset")
    X = make_preprocessor("classic").fit(dataset.frame, dataset.features).transform(dataset.frame)
    return X.astype(np.float64), dataset.target()
