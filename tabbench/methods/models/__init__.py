"""The model zoo: every built-in model registered, and lookups by name.

Importing this package imports the zoo's modules (light: each defers its library to the
first fit), which register their :class:`~tabbench.methods.models.base.ModelSpec` in
:data:`~tabbench.methods.models.base.MODELS`. A new model is a ``register_model(ModelSpec(...))``
in one of them, or in a new module imported below.
"""

from __future__ import annotations

from tabbench.methods.models import classic, gbdt, ncd, nn  # noqa: F401  (each registers its models)
from tabbench.methods.models.base import (
    MODELS,
    FitContext,
    ModelSpec,
    library_versions,
    register_model,
)

__all__ = ["MODELS", "FitContext", "ModelSpec", "baseline_models", "get_model",
           "library_versions", "model_names", "register_model"]


def get_model(name: str, where: str = "", *, parameter: str | None = None) -> ModelSpec:
    """The model registered as ``name``; an unknown name raises ``UnknownNameError``."""
    return MODELS.get(name, where, parameter=parameter)


def model_names() -> list[str]:
    """Names of all registered models, in registration order."""
    return MODELS.names()


def baseline_models() -> list[str]:
    """Names of the registered models marked ``baseline`` (left out of rank correlations)."""
    return [name for name in MODELS.names() if MODELS.get(name).baseline]
