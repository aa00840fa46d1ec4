"""RealMLP with tuned defaults (Holzmüller et al., 2024) from pytabkit, as a tabbench plugin.

    pip install -e ".[realmlp]"          # pytabkit (torch is already a dependency)
    tabbench run --plugin examples/plugins/realmlp.py --models dummy,lightgbm,realmlp

RealMLP_TD_Classifier / RealMLP_TD_Regressor take tabbench's validation part for their
best-epoch selection (their ``fit`` takes ``X_val``/``y_val``), run on the CPU with the
job's seed and thread count, and are not tuned: "TD" are the defaults the authors tuned
on a meta-benchmark, which is what this plugin benchmarks. The inputs are tabbench's
``classic`` preprocessing (median-imputed, standardized numbers, one-hot categories);
RealMLP adds its own robust scaling and smooth clipping on top.
"""

from __future__ import annotations

import importlib.util
import warnings

import tabbench
from tabbench.exceptions import MissingDependencyError

if importlib.util.find_spec("pytabkit") is None:
    raise MissingDependencyError("the realmlp plugin needs pytabkit: pip install "
                                 "'tabbench[realmlp]' (or pip install pytabkit)")


# noise printed once per fit from each worker: lightning's deprecation notice, and torch's
# note that tabbench's shared (read-only) arrays are not writable (pytabkit copies them)
warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
warnings.filterwarnings("ignore", message=r"The given NumPy array is not writable")


def _classifier(params, context):
    from pytabkit import RealMLP_TD_Classifier  # deferred: imports torch and lightning

    return RealMLP_TD_Classifier(device=context.device, random_state=context.seed,
                                 n_threads=context.n_threads, verbosity=0, **params)


def _regressor(params, context):
    from pytabkit import RealMLP_TD_Regressor  # deferred: imports torch and lightning

    return RealMLP_TD_Regressor(device=context.device, random_state=context.seed,
                                n_threads=context.n_threads, verbosity=0, **params)


tabbench.sklearn_model(
    "realmlp",
    classifier=_classifier,
    regressor=_regressor,
    family="classic",
    packages=("pytabkit", "torch"),
    description="RealMLP with tuned defaults (pytabkit RealMLP_TD_*), validation part for "
                "the best epoch, not tuned further.",
    cost=5.0,
)
