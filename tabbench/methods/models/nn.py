"""Deep models for tables: MLP, MLP-PLR, ResNet and TabM (family ``nn``).

The four share one estimator (:class:`NeuralNetModel`), one trainer
(:mod:`tabbench.methods.models.nn_train`) and TabReD's search space for the MLP body: ``n_blocks``
1–5, ``d_block`` 64–1024, ``dropout`` 0 or uniform[0, 0.5], ``lr`` log-uniform[3e-5, 1e-3],
``weight_decay`` 0 or log-uniform[1e-4, 0.1].

- ``mlp``: Linear–ReLU–Dropout blocks (``tabm.MLPBackbone``) and a linear head.
- ``mlp-plr``: the same MLP on periodic embeddings of the continuous columns
  (``rtdl_num_embeddings.PeriodicEmbeddings(lite=False)``; ``n_frequencies`` int[16, 96],
  ``d_embedding`` int[16, 32], ``frequency_init_scale`` log-uniform[0.01, 10]).
- ``resnet``: the tabular ResNet of Gorishniy et al. (2021).
- ``tabm``: ``tabm.TabM.make`` with ``k = 32`` members, trained on the mean of the members'
  losses; it predicts the mean of their probabilities.

torch, ``rtdl_num_embeddings`` and ``tabm`` are imported when a model is fitted or loaded,
never at the import of this module. Inputs come from the ``nn`` preprocessor (see
:mod:`tabbench.methods.preprocess`): continuous columns get the periodic embeddings (``mlp-plr``),
0/1 columns (one-hot, indicators, booleans) go in as they are, and the categorical code
columns of the context are embedded (16 numbers each, one slot for missing or unseen).

Defaults are modest so that a CPU fit is quick: 2 blocks of 256 (128 for TabM, whose 32
members cost 32 MLPs), dropout 0.1, ``lr`` 1e-3, ``weight_decay`` 1e-4; PLR with 48
frequencies, embeddings of 24 and an initial frequency scale of 0.1; TabM with ``k`` = 32.
Params besides these: ``max_epochs`` (capped by ``context.max_rounds``; ``None``: no cap,
patience ends training), ``patience`` (early stopping, 16), ``stop_on`` (``"loss"``: the
validation loss, default; ``"score"``: TabReD's validation score, ROC AUC for binary,
accuracy for multiclass, RMSE for regression), ``grad_clip`` (1.0; ``None``: no clipping,
as TabReD), ``batch_size`` (``None``: 256, smaller for tiny and larger for large data, see
:func:`tabbench.methods.models.nn_train.train_batch_size`).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tabbench.exceptions import ConfigError
from tabbench.methods.models.base import FitContext, ModelSpec, register_model

if TYPE_CHECKING:
    from tabbench.methods.models.nn_modules import Layout

__all__ = ["NeuralNetModel"]

TASKS = ("binary", "multiclass", "regression")
PATIENCE = 16
MAX_EPOCHS = 400
SAVE_FORMAT = "tabbench-nn/1"

BODY_DEFAULTS: dict[str, Any] = {
    "n_blocks": 2,
    "d_block": 256,
    "dropout": 0.1,
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "max_epochs": MAX_EPOCHS,
    "patience": PATIENCE,
}
PLR_DEFAULTS: dict[str, Any] = {"n_frequencies": 48, "d_embedding": 24, "frequency_init_scale": 0.1}
TABM_DEFAULTS: dict[str, Any] = {"k": 32, "d_block": 128}
#: Params besides the defaults: ``batch_size``, ``stop_on`` (``"loss"`` or ``"score"``) and
#: ``grad_clip`` (``None``: no clipping), which the ``paper`` budget sets.
_EXTRA_KEYS = {"batch_size", "stop_on", "grad_clip"}


def _defaults(architecture: str) -> dict[str, Any]:
    extra = {"mlp-plr": PLR_DEFAULTS, "tabm": TABM_DEFAULTS}.get(architecture, {})
    return {**BODY_DEFAULTS, **extra}


class NeuralNetModel:
    """A deep model behind tabbench's estimator interface.

    Parameters
    ----------
    architecture : {"mlp", "mlp-plr", "resnet", "tabm"}
        The network.
    params : dict
        Body, embedding and training params (see the module docstring); missing keys take
        the architecture's defaults, unknown keys raise :class:`ConfigError` at ``fit``.
    context : FitContext
        Task, classes, categorical columns, seed, threads, device, ``max_rounds`` (cap on
        epochs) and ``report`` (called after every epoch with the validation predictions).

    Attributes (after ``fit``)
    --------------------------
    device_ : str
        The device used (``"cuda"`` only when torch sees a GPU).
    n_iterations_ : int
        The epoch whose weights were kept (the best on validation).
    n_epochs_ : int
        Epochs run.
    val_curve_ : ndarray or None
        The validation loss after each epoch (``None`` without a validation part).

    Examples
    --------
    >>> from tabbench.methods.models import FitContext, get_model
    >>> X = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    >>> y = (X[:, 0] > 0).astype(np.int64)
    >>> context = FitContext(task="binary", n_classes=2, feature_names=("a", "b", "c"))
    >>> model = get_model("mlp").build({"max_epochs": 3}, context).fit(X, y, X, y)
    >>> model.predict_proba(X).shape
    (64, 2)
    """

    def __init__(self, *, architecture: str, params: dict[str, Any], context: FitContext) -> None:
        self.architecture = architecture
        self.params = params
        self.context = context
        self.device_ = "cpu"
        self.n_iterations_: int | None = None
        self.n_epochs_: int | None = None
        self.val_curve_: np.ndarray | None = None

    @property
    def _classification(self) -> bool:
        return self.context.task != "regression"

    def _resolved_params(self) -> dict[str, Any]:
        defaults = _defaults(self.architecture)
        unknown = sorted(set(self.params) - set(defaults) - _EXTRA_KEYS)
        if unknown:
            allowed = ", ".join(sorted(set(defaults) | _EXTRA_KEYS))
            message = (
                f"model {self.architecture!r}: unknown params {unknown}; allowed params are: "
                f"{allowed}"
            )
            raise ConfigError(message)
        return {**defaults, **self.params}

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> NeuralNetModel:
        """Train on the training rows, early-stopping on ``(X_val, y_val)`` when given."""
        # deferred: torch is heavy to import
        from tabbench.methods.models import nn_modules, nn_train

        ctx = self.context
        params = self._resolved_params()
        self.device_ = _torch_device(ctx.device)
        self.layout_ = _layout(X, ctx)
        y_fit, y_val_fit = self._encode_target(y, y_val)
        max_epochs = None if params["max_epochs"] is None else max(1, int(params["max_epochs"]))
        if ctx.max_rounds is not None:
            max_epochs = min(max_epochs or ctx.max_rounds, int(ctx.max_rounds))
        stop_on = params.get("stop_on", "loss")
        if stop_on not in nn_train.STOP_ON:
            message = (f"model {self.architecture!r}: stop_on must be one of "
                       f"{', '.join(map(repr, nn_train.STOP_ON))}; got {stop_on!r}")
            raise ConfigError(message)
        if max_epochs is None and X_val is None:
            message = (f"model {self.architecture!r}: max_epochs = None (no cap) needs a "
                       f"validation part to stop on")
            raise ConfigError(message)
        batch_size = params.get("batch_size") or nn_train.train_batch_size(X.shape[0])
        clip = params.get("grad_clip", nn_train.GRAD_CLIP)
        settings = nn_train.TrainSettings(
            lr=float(params["lr"]),
            weight_decay=float(params["weight_decay"]),
            batch_size=int(batch_size),
            max_epochs=max_epochs,
            patience=int(params["patience"]),
            stop_on=stop_on,
            grad_clip=None if clip is None else float(clip),
            seed=ctx.seed,
            device=self.device_,
            classification=self._classification,
            on_epoch=None if ctx.report is None else self._report,
        )
        d_out = ctx.n_classes if self._classification else 1
        with nn_train.torch_session(n_threads=ctx.n_threads, device=self.device_, seed=ctx.seed):
            self.network_ = nn_modules.build_network(self.architecture, params, self.layout_,
                                                     d_out)
            result = nn_train.fit_network(self.network_, X, y_fit, X_val, y_val_fit, settings)
        self.params_ = params
        self.n_iterations_ = result.best_epoch
        self.n_epochs_ = result.epochs
        self.val_curve_ = np.asarray(result.val_curve) if X_val is not None else None
        return self

    def _encode_target(
        self, y: np.ndarray, y_val: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        if self._classification:
            self.target_ = (0.0, 1.0)
            return np.asarray(y, dtype=np.int64), (
                None if y_val is None else np.asarray(y_val, dtype=np.int64)
            )
        y = np.asarray(y, dtype=np.float64)
        mean = float(y.mean()) if y.size else 0.0
        std = float(y.std()) if y.size else 1.0
        std = std if std > 0 and math.isfinite(std) else 1.0
        self.target_ = (mean, std)
        scaled_val = None if y_val is None else (np.asarray(y_val, dtype=np.float64) - mean) / std
        return (y - mean) / std, scaled_val

    def _decode(self, raw: np.ndarray) -> np.ndarray:
        if self._classification:
            return raw / raw.sum(axis=1, keepdims=True)  # float32 softmax sums are not exact
        mean, std = self.target_
        return raw * std + mean

    def _report(self, epoch: int, raw: np.ndarray) -> None:
        assert self.context.report is not None
        self.context.report(epoch, self._decode(raw))

    def _raw_predict(self, X: np.ndarray) -> np.ndarray:
        # deferred: torch is heavy to import
        from tabbench.methods.models import nn_train

        if not hasattr(self, "network_"):
            raise RuntimeError("this NeuralNetModel is not fitted yet; call fit first")
        with nn_train.torch_session(n_threads=self.context.n_threads, device=self.device_):
            return nn_train.predict_network(self.network_, X, self.device_,
                                            classification=self._classification)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities, shape ``(n, n_classes)``, float64, rows summing to 1."""
        if not self._classification:
            raise AttributeError("predict_proba is only available for classification")
        return self._decode(self._raw_predict(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class codes (classification) or values (regression), float64 for regression."""
        if self._classification:
            return self.predict_proba(X).argmax(axis=1)
        return self._decode(self._raw_predict(X))

    # --- saving --------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the fitted model to ``path``: a state dict and plain-data metadata.

        The file is read back by :meth:`load` with ``torch.load(..., weights_only=True)``.
        """
        # deferred: torch is heavy to import
        import torch

        if not hasattr(self, "network_"):
            raise RuntimeError("this NeuralNetModel is not fitted yet; call fit first")
        ctx = self.context
        state = {k: v.detach().cpu() for k, v in self.network_.state_dict().items()}
        payload = {
            "format": SAVE_FORMAT,
            "architecture": self.architecture,
            # plain Python values only: weights_only loading refuses numpy scalars
            "params": {k: _plain(v) for k, v in self.params_.items() if v is not None},
            "context": {
                "task": ctx.task,
                "n_classes": int(ctx.n_classes),
                "feature_names": [str(name) for name in ctx.feature_names],
                "categorical": [int(j) for j in ctx.categorical],
                "cardinalities": [int(c) for c in ctx.cardinalities],
                "seed": int(ctx.seed),
            },
            "layout": self.layout_.to_dict(),
            "target": [float(v) for v in self.target_],
            "n_iterations": None if self.n_iterations_ is None else int(self.n_iterations_),
            "state_dict": state,
        }
        torch.save(payload, Path(path))

    @classmethod
    def load(cls, path: str | Path, *, device: str = "cpu", n_threads: int = 1) -> NeuralNetModel:
        """Read a model written by :meth:`save` (safely: ``weights_only=True``)."""
        # deferred: torch is heavy to import
        import torch

        from tabbench.methods.models import nn_modules

        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != SAVE_FORMAT:
            raise ValueError(f"{path}: not a tabbench deep model (format {SAVE_FORMAT})")
        info = payload["context"]
        context = FitContext(
            task=info["task"],
            n_classes=int(info["n_classes"]),
            feature_names=tuple(info["feature_names"]),
            categorical=tuple(info["categorical"]),
            cardinalities=tuple(info["cardinalities"]),
            seed=int(info["seed"]),
            n_threads=n_threads,
            device=device,
        )
        model = cls(architecture=payload["architecture"], params=payload["params"],
                    context=context)
        model.params_ = {**_defaults(model.architecture), **payload["params"]}
        model.layout_ = nn_modules.Layout.from_dict(payload["layout"])
        model.target_ = tuple(payload["target"])
        model.n_iterations_ = payload["n_iterations"]
        model.device_ = _torch_device(device)
        d_out = context.n_classes if model._classification else 1
        network = nn_modules.build_network(model.architecture, model.params_, model.layout_, d_out)
        network.load_state_dict(payload["state_dict"])
        model.network_ = network.to(model.device_).eval()
        return model


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _torch_device(requested: str) -> str:
    """``"cuda"`` when requested and torch sees a GPU; otherwise ``"cpu"`` (with a warning)."""
    if requested != "cuda":
        return "cpu"
    # deferred: torch is heavy to import
    import torch

    if torch.cuda.is_available():
        return "cuda"
    warnings.warn("torch cannot use the GPU (this torch build has no CUDA support or sees no "
                  "device); running on CPU", stacklevel=3)
    return "cpu"


def _layout(X: np.ndarray, context: FitContext) -> Layout:
    """Split the columns into continuous, binary (only 0/1 in training) and categorical."""
    # deferred: torch is heavy to import
    from tabbench.methods.models.nn_modules import Layout

    categorical = set(context.categorical)
    binary = np.ones(X.shape[1], dtype=bool)
    for start in range(0, X.shape[0], 65536):  # chunks: no full-size temporary
        chunk = X[start : start + 65536]
        binary &= ((chunk == 0) | (chunk == 1)).all(axis=0)
    columns = [j for j in range(X.shape[1]) if j not in categorical]
    return Layout(
        continuous=tuple(j for j in columns if not binary[j]),
        binary=tuple(j for j in columns if binary[j]),
        categorical=tuple(context.categorical),
        cardinalities=tuple(context.cardinalities),
    )


# --- search spaces -------------------------------------------------------------------------


def _zero_or(trial: Any, name: str, low: float, high: float, *, log: bool) -> float:
    """0 with probability 1/2, else uniform (or log-uniform) in ``[low, high]`` (TabReD's ``?``)."""
    if trial.suggest_categorical(f"{name}_nonzero", [False, True]):
        return trial.suggest_float(name, low, high, log=log)
    return 0.0


def _body_space(trial: Any) -> dict[str, Any]:
    return {
        "n_blocks": trial.suggest_int("n_blocks", 1, 5),
        "d_block": trial.suggest_int("d_block", 64, 1024),
        "dropout": _zero_or(trial, "dropout", 0.0, 0.5, log=False),
        "lr": trial.suggest_float("lr", 3e-5, 1e-3, log=True),
        "weight_decay": _zero_or(trial, "weight_decay", 1e-4, 0.1, log=True),
    }


def _plr_space(trial: Any) -> dict[str, Any]:
    return {
        **_body_space(trial),
        "n_frequencies": trial.suggest_int("n_frequencies", 16, 96),
        "d_embedding": trial.suggest_int("d_embedding", 16, 32),
        "frequency_init_scale": trial.suggest_float("frequency_init_scale", 0.01, 10.0, log=True),
    }


# --- registration --------------------------------------------------------------------------


def _builder(architecture: str) -> Any:
    def build(params: dict[str, Any], context: FitContext) -> NeuralNetModel:
        return NeuralNetModel(architecture=architecture, params=dict(params), context=context)

    return build


# cost: run time relative to lightgbm's (1), from one default fit of each (docs/measurements.md)
_MODELS = (
    ("mlp", _body_space, "Multilayer perceptron (TabReD's MLP), quantile-normalized inputs.", 30),
    ("mlp-plr", _plr_space, "MLP on periodic embeddings of the numbers (PLR, "
                            "rtdl_num_embeddings): TabReD's strongest deep model.", 40),
    ("resnet", _body_space, "Tabular ResNet (Gorishniy et al., 2021).", 70),
    ("tabm", _body_space, "TabM (tabm package): 32 weight-sharing MLPs trained together, "
                          "predictions averaged.", 300),
)

for _name, _space, _description, _cost in _MODELS:
    register_model(
        ModelSpec(
            name=_name,
            task_types=TASKS,
            family="nn",
            build=_builder(_name),
            default_params=_defaults(_name),
            search_space=_space,
            supports_gpu=True,
            extra=None,
            description=_description,
            cost=_cost,
        )
    )
