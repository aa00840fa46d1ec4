"""ModelSpec, the fit context handed to model factories, and the registry they join.

The zoo's modules (:mod:`~tabbench.methods.models.classic`, ``gbdt``, ``nn``, ``ncd``) register
their specs here when :mod:`tabbench.methods.models` imports them; look models up with
:func:`tabbench.methods.models.get_model`.
"""

from __future__ import annotations

import functools
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal, Protocol

import numpy as np

from tabbench.core import _plugin_loader
from tabbench.core._registry import Registry

Family = Literal["gbdt", "classic", "nn"]


@dataclass(frozen=True)
class FitContext:
    """What a model needs to know about the data and the machine, beyond its params.

    ``X`` handed to ``fit``/``predict`` is a float32 matrix whose columns are
    ``feature_names``, which the model must not modify (the jobs of one worker share it); the columns listed in ``categorical`` hold integer category codes
    ``0..cardinality-1`` stored as floats, with NaN for missing or unseen categories.
    ``max_rounds``, when set by the tuning budget, caps the boosting rounds (or epochs) of
    iterative models. ``report``, when set (during tuning), is to be called by iterative
    models after each epoch with ``(epoch, validation predictions)`` — probabilities for
    classification, values for regression; it may raise ``optuna.TrialPruned``, which the
    model must let through to stop the fit.
    """

    task: str
    n_classes: int
    feature_names: tuple[str, ...]
    categorical: tuple[int, ...] = ()
    cardinalities: tuple[int, ...] = ()
    seed: int = 0
    n_threads: int = 1
    device: str = "cpu"
    max_rounds: int | None = None
    report: Callable[[int, np.ndarray], None] | None = field(default=None, compare=False)


class Estimator(Protocol):
    """What a model factory returns (scikit-learn style)."""

    device_: str

    def fit(self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None = None,
            y_val: np.ndarray | None = None) -> Estimator: ...

    def predict(self, X: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class ModelSpec:
    """One model of the zoo.

    ``build(params, context)`` returns an unfitted estimator; ``search_space(trial)``
    returns the params of an Optuna trial; ``default_params`` is enqueued as the first
    trial. ``family`` picks the preprocessing (see :mod:`tabbench.methods.preprocess`). ``cost`` is
    a rough relative run time, used only to start the slowest jobs first. ``baseline``
    marks a reference point (the ``dummy``): it is ranked in leaderboards and anchors the
    normalized score, but it is left out of rank correlations between split strategies,
    where a model that is last under every split makes every pair of rankings agree.
    ``packages`` are distributions whose versions the results depend on beyond those of
    the family (a plugin's library, e.g. ``("pytabkit",)``); they go into ``versions``.
    ``revision`` counts the changes to the model's defaults or search space that change
    its results: when it is above 0 it is part of the job id, so the jobs of an earlier
    revision run again and their rows are set aside (``<run>/superseded/``).
    """

    name: str
    task_types: tuple[str, ...]
    family: Family
    build: Callable[[dict[str, Any], FitContext], Estimator]
    default_params: dict[str, Any] = field(default_factory=dict)
    search_space: Callable[[Any], dict[str, Any]] | None = None
    supports_gpu: bool = False
    extra: str | None = None
    description: str = ""
    cost: float = 1.0
    baseline: bool = False
    packages: tuple[str, ...] = ()
    revision: int = 0

    @property
    def tunable(self) -> bool:
        """Whether the model has a search space."""
        return self.search_space is not None


#: Built-in models register here directly; plugins through :func:`tabbench.register_model`.
MODELS: Registry[ModelSpec] = Registry("model", prepare=_plugin_loader.autoload)
_plugin_loader.track("model", MODELS)

_COMMON_PACKAGES = ("tabbench", "numpy", "scikit-learn", "optuna", "polars")
_FAMILY_PACKAGES = {"nn": ("torch", "rtdl_num_embeddings", "tabm")}


def library_versions(spec: ModelSpec, n_threads: int | None = None) -> dict[str, Any]:
    """Python and package versions a model's results depend on (and its thread count).

    A plugin's model adds ``"plugins": {plugin name: provenance}`` (its distribution and
    version, or its file's sha256; see :mod:`tabbench.methods.plugins`).
    """
    plugin = _plugin_loader.owner("model", spec.name)
    found = dict(_versions(spec.name, spec.family, n_threads, spec.packages, plugin is None))
    if plugin is not None:
        found["plugins"] = {plugin.name: plugin.provenance}
    return found


@functools.lru_cache(maxsize=64)
def _versions(name: str, family: str, n_threads: int | None, extra: tuple[str, ...] = (),
              builtin: bool = True) -> tuple[tuple[str, Any], ...]:
    """:func:`library_versions`, looked up once per process (package metadata is slow to
    read and does not change while a process runs). A built-in booster is named after its
    library; a plugin's model names its libraries in ``extra``."""
    packages = list(_COMMON_PACKAGES)
    if family == "gbdt":
        packages += [name] if builtin else []
    else:
        packages += list(_FAMILY_PACKAGES.get(family, ()))
    packages += [p for p in extra if p not in packages]
    found: dict[str, Any] = {"python": platform.python_version()}
    if n_threads is not None:
        found["n_threads"] = n_threads
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = None
    return tuple(found.items())


def register_model(spec: ModelSpec) -> ModelSpec:
    """Add a built-in model to the registry (duplicate names raise).

    A plugin registers with :func:`tabbench.register_model` instead, which checks the spec
    and records where it came from, so that worker processes load it too.
    """
    return MODELS.register(spec.name, spec)


def check_prediction(prediction: Any, n_rows: int, task: str,
                     n_classes: int | None = None) -> np.ndarray:
    """``prediction`` as float64, or a ``ValueError`` saying what is wrong with it.

    Classification needs probabilities of shape ``(n_rows, n_classes)``; regression values
    of shape ``(n_rows,)`` (a single column is accepted). Every value must be finite.
    """
    values = np.asarray(prediction, dtype=np.float64)
    if task == "regression":
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
        expected: tuple[int, ...] = (n_rows,)
        what = "predict"
    else:
        expected = (n_rows, n_classes if n_classes is not None else values.shape[-1])
        what = "predict_proba"
    if values.shape != expected:
        message = (f"{what} returned shape {values.shape} for {n_rows} rows of a {task} "
                   f"task; expected {expected}")
        raise ValueError(message)
    bad = int(values.size - np.isfinite(values).sum())
    if bad:
        message = f"{what} returned {bad} non-finite value(s) (NaN or infinity) of {values.size}"
        raise ValueError(message)
    return values
