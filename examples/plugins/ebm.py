"""The Explainable Boosting Machine from interpret (interpret-core), as a tabbench plugin.

    pip install -e ".[ebm]"              # interpret-core, without the dashboard extras
    tabbench run --plugin examples/plugins/ebm.py --models dummy,lightgbm,ebm

An EBM is a generalized additive model fitted by cyclic boosting, with a few pairwise
interactions: one shape function per feature, readable as it is. Its ``fit`` keeps its own
validation split for early stopping (``validation_size``), so tabbench's validation part is
used only to choose among the tuning trials. It gets the ``gbdt`` preprocessing (numbers as
they are, NaN for missing, categories as integer codes), runs single-process bags with the
job's thread count and is seeded with the job's seed.
"""

from __future__ import annotations

import importlib.util

import tabbench
from tabbench.exceptions import MissingDependencyError

if importlib.util.find_spec("interpret") is None:
    raise MissingDependencyError("the ebm plugin needs interpret-core: pip install "
                                 "'tabbench[ebm]' (or pip install interpret-core)")

#: Fewer outer bags than interpret's 14: each bag is a full boosting run, and a benchmark
#: refits the model once per trial.
DEFAULTS = {"outer_bags": 4, "learning_rate": 0.015, "max_leaves": 3, "interactions": 0.9}


def _classifier(params, context):
    from interpret.glassbox import ExplainableBoostingClassifier

    return ExplainableBoostingClassifier(random_state=context.seed, n_jobs=context.n_threads,
                                         **params)


def _regressor(params, context):
    from interpret.glassbox import ExplainableBoostingRegressor

    return ExplainableBoostingRegressor(random_state=context.seed, n_jobs=context.n_threads,
                                        **params)


def _space(trial):
    return {
        "outer_bags": DEFAULTS["outer_bags"],
        "learning_rate": trial.suggest_float("learning_rate", 0.005, 0.1, log=True),
        "max_leaves": trial.suggest_int("max_leaves", 2, 4),
        "min_samples_leaf": trial.suggest_int("min_samples_leaf", 2, 20, log=True),
        "interactions": trial.suggest_categorical("interactions", [0, 0.5, 0.9]),
    }


tabbench.sklearn_model(
    "ebm",
    classifier=_classifier,
    regressor=_regressor,
    default_params=DEFAULTS,
    search_space=_space,
    family="gbdt",
    packages=("interpret-core",),
    description="Explainable Boosting Machine (interpret): an additive model with pairwise "
                "interactions, fitted by cyclic boosting.",
    cost=3.0,
)
