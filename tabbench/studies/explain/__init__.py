"""Surrogate interpreters: explain any model of the zoo with a small, faithful rule set.

Following Karim et al. ("Interpreting black-box machine learning models for high
dimensional datasets"), a fitted model is probed for its top-k features (permutation
importance, and the boosters' native contributions), an interpretable surrogate is fitted
on those features to mimic it, and its fidelity to the model is measured on the test part.

Modules
-------
``space``        the interpretable feature space (original units, category names)
``importance``   permutation importance, native contributions, the high-dimensional pre-filter
``black_box``    the model fitted as a benchmark job fits it, its features ranked
``conditions``   readable conditions: thresholds and category sets
``surrogate``    the surrogate interface, its registry and the size search
``tree``         the tree-shaped surrogates: ``tree`` and ``rules``
``linear``       the sparse linear surrogate: ``linear``
``ensemble``     tree ensembles, faithful but not readable: ``random-forest``, ``boosted-trees``
``explain``      the pipeline, the result row and the output files

Examples
--------
>>> from tabbench.studies.explain import explain_dataset
>>> explanation = explain_dataset("flights", "lightgbm", top_k=10)  # doctest: +SKIP
>>> print(explanation.rules)                                         # doctest: +SKIP
"""

from __future__ import annotations

from tabbench.studies.explain.explain import (
    DEFAULT_MAX_ROWS,
    Explanation,
    explain_dataset,
    explain_model,
    tuned_params,
)
from tabbench.studies.explain.importance import (
    gain_importance,
    importance_table,
    native_contributions,
    permutation_scores,
)
from tabbench.studies.explain.space import FeatureSpace, feature_space
from tabbench.studies.explain.surrogate import (
    SURROGATES,
    Surrogate,
    fidelity,
    fidelity_kappa,
    fit_surrogate,
    make_surrogate,
    register_surrogate,
    surrogate_names,
)

# each family registers its kinds on import; in this order the registry lists them as
# tree, rules, linear, random-forest, boosted-trees
from tabbench.studies.explain import tree  # noqa: F401  # isort: skip
from tabbench.studies.explain import linear  # noqa: F401  # isort: skip
from tabbench.studies.explain import ensemble  # noqa: F401  # isort: skip

__all__ = [
    "DEFAULT_MAX_ROWS",
    "SURROGATES",
    "Explanation",
    "FeatureSpace",
    "Surrogate",
    "explain_dataset",
    "explain_model",
    "feature_space",
    "fidelity",
    "fidelity_kappa",
    "fit_surrogate",
    "gain_importance",
    "importance_table",
    "make_surrogate",
    "native_contributions",
    "permutation_scores",
    "register_surrogate",
    "surrogate_names",
    "tuned_params",
]
