"""The one trainer shared by the deep models: AdamW on mini-batches, early stopping, pruning.

This module imports torch at import: only :mod:`tabbench.methods.models.nn` imports it, inside the
methods that train or predict.

- The training matrix becomes a tensor once (on the CPU it shares the numpy array's memory;
  on a GPU it is copied there once); each mini-batch is a row gather from it, in an order
  drawn from a seeded ``torch.Generator``. Predictions are made in batches.
- Memory is bounded by budgets, not by the batch size: the bytes autograd keeps per training
  row (:func:`saved_bytes_per_row`) and the widest activation per predicted row
  (:func:`widest_activation`) are measured once on a few rows. A mini-batch whose
  activations would exceed :data:`TRAIN_ACTIVATION_BYTES` runs as equal micro-batches whose
  gradients add up to the mini-batch's (TabM's ``k = 32`` members make each row cost 32
  rows of an MLP); networks with BatchNorm are never split, as that would change their batch
  statistics. A prediction batch holds :data:`EVAL_ELEMENTS` in its widest activation.
- Loss: cross-entropy (classification) or squared error on the standardized target
  (regression), averaged over the ``k`` predictions of a network — for TabM, the mean of its
  members' losses. Predictions average the members' probabilities (or values).
- After each epoch the validation loss (log loss of the averaged probabilities, or squared
  error) is computed; training stops ``patience`` epochs after its best value (or, with
  ``stop_on="score"``, after the best validation score, TabReD's rule: ROC AUC or
  accuracy), and the weights of the best epoch are kept. Without an epoch cap
  (``max_epochs=None``) patience alone ends training. ``on_epoch(epoch, validation predictions)`` is called
  after every epoch; what it raises (``optuna.TrialPruned``) stops the fit.
- AdamW with a constant learning rate, gradients clipped to norm 1 (``grad_clip``; none
  under the ``paper`` budget, as TabReD). On CUDA the forward pass runs under bf16
  autocast.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "TrainResult",
    "TrainSettings",
    "backward",
    "eval_batch_size",
    "fit_network",
    "micro_batches",
    "predict_network",
    "saved_bytes_per_row",
    "torch_session",
    "train_batch_size",
    "widest_activation",
]

GRAD_CLIP = 1.0
#: What early stopping watches: the validation loss, or TabReD's validation score.
STOP_ON = ("loss", "score")
#: Elements of the widest activation (rows × k × width) in one prediction batch: about 2 MB,
#: which keeps CPU prediction in cache and memory small on any device.
EVAL_ELEMENTS = 1 << 19
#: The same on a GPU, where larger batches pay for the kernel launches.
EVAL_ELEMENTS_CUDA = 1 << 25
#: Bytes of activations autograd may keep for one backward pass on the CPU (the backward
#: pass adds a few activation-sized temporaries on top); a mini-batch that needs more runs
#: as micro-batches. 8 MB is far below any training matrix worth a deep model and still
#: makes large matmuls (TabM's default runs a mini-batch as a few micro-batches; the MLP,
#: MLP-PLR and ResNet defaults fit in one; measured speed and memory: docs/gpus.md,
#: "Memory").
TRAIN_ACTIVATION_BYTES = 8 << 20
#: The same on a GPU, whose memory is large and whose kernels want large batches: in
#: practice no default network is split there.
TRAIN_ACTIVATION_BYTES_CUDA = 1 << 30
#: Training rows a network is probed on to measure its activations.
PROBE_ROWS = 8
LOG_EPS = 1e-15


def train_batch_size(n_rows: int) -> int:
    """TabReD's batch size of 256, smaller for tiny and larger for large training parts.

    Fewer than 2,048 rows: ``n_rows / 8`` rounded down to a power of two (at least 32), so
    an epoch has about 8 steps; up to 100,000 rows: 256; up to 400,000: 512; more: 1,024.
    """
    if n_rows < 2048:
        return max(32, 1 << max(int(n_rows // 8).bit_length() - 1, 0))
    if n_rows <= 100_000:
        return 256
    return 512 if n_rows <= 400_000 else 1024


def eval_batch_size(elements_per_row: int, device: str = "cpu") -> int:
    """Rows per prediction batch: the widest activation holds about 512K elements (32M on
    a GPU), given the elements it holds per row (for TabM, ``k`` × the widest layer)."""
    elements = EVAL_ELEMENTS_CUDA if device == "cuda" else EVAL_ELEMENTS
    return int(min(65536, max(1, elements // max(elements_per_row, 1))))


def micro_batches(batch_size: int, bytes_per_row: float, device: str = "cpu") -> int:
    """Into how many equal parts a training mini-batch is cut so that the activations kept
    for one backward pass stay within :data:`TRAIN_ACTIVATION_BYTES` (1 when they fit)."""
    budget = TRAIN_ACTIVATION_BYTES_CUDA if device == "cuda" else TRAIN_ACTIVATION_BYTES
    rows = max(1, int(budget // max(bytes_per_row, 1.0)))
    return max(1, -(-batch_size // rows))


def saved_bytes_per_row(network: nn.Module, X: Tensor) -> float:
    """Bytes autograd keeps for the backward pass per training row, measured on ``X`` (at
    least 2 rows; a few are enough).

    One forward pass in training mode records, through autograd's saved-tensor hooks, every
    storage kept for the backward pass, parameters excluded and views of one storage counted
    once (TabM's ``(rows, k, width)`` activations included). The pass changes neither the
    network nor the random streams: the generators are forked and the buffers (BatchNorm's
    running statistics) restored.
    """
    parameters = {p.untyped_storage().data_ptr() for p in network.parameters()}
    kept: dict[int, int] = {}

    def pack(tensor: Tensor) -> Tensor:
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters:
            kept[storage.data_ptr()] = storage.nbytes()
        return tensor

    was_training = network.training
    buffers = [b.detach().clone() for b in network.buffers()]
    devices = [X.device.index or 0] if X.device.type == "cuda" else []
    try:
        with torch.random.fork_rng(devices=devices):
            network.train()
            hooks = torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor)
            with hooks, _autocast(X.device):
                network(X)
    finally:
        with torch.no_grad():
            for buffer, saved in zip(network.buffers(), buffers, strict=True):
                buffer.copy_(saved)
        network.train(was_training)
    return sum(kept.values()) / X.shape[0]


def widest_activation(network: nn.Module, X: Tensor) -> int:
    """Elements per row of the largest module output in prediction, measured on ``X``
    (for TabM: ``k`` × its widest layer, or × its input width)."""
    rows = max(X.shape[0], 1)
    widest = [1]

    def record(_module: nn.Module, _inputs: object, output: object) -> None:
        if isinstance(output, Tensor):
            widest[0] = max(widest[0], -(-output.numel() // rows))

    was_training = network.training
    handles = [m.register_forward_hook(record) for m in network.modules()]
    try:
        network.eval()
        with torch.inference_mode(), _autocast(X.device):
            network(X)
    finally:
        for handle in handles:
            handle.remove()
        network.train(was_training)
    return widest[0]


def _splittable(network: nn.Module) -> bool:
    """Whether a mini-batch may run as micro-batches: not with BatchNorm, whose statistics
    are those of the batch."""
    return not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in network.modules())


@contextlib.contextmanager
def torch_session(*, n_threads: int, device: str, seed: int | None = None) -> Iterator[None]:
    """Limit torch to ``n_threads``; with ``seed``, seed it and make CPU kernels deterministic.

    torch's global state (thread count, random generators, deterministic mode) is restored on
    exit, so a fit never changes what other code in the process sees.
    """
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    with contextlib.ExitStack() as stack:
        if seed is not None:
            devices = [torch.cuda.current_device()] if device == "cuda" else []
            stack.enter_context(torch.random.fork_rng(devices=devices))
            torch.manual_seed(seed)
            if device == "cpu":
                torch.use_deterministic_algorithms(True)
        torch.set_num_threads(max(1, n_threads))
        try:
            yield
        finally:
            torch.set_num_threads(threads)
            torch.use_deterministic_algorithms(deterministic)


def _autocast(device: torch.device) -> contextlib.AbstractContextManager[None]:
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


@dataclass(frozen=True)
class TrainSettings:
    """How to train: optimizer, batches, epochs, early stopping, seed and device."""

    lr: float
    weight_decay: float
    batch_size: int
    #: ``None``: no cap (patience ends training; needs a validation part).
    max_epochs: int | None
    patience: int
    seed: int
    device: str
    classification: bool
    on_epoch: Callable[[int, np.ndarray], None] | None = field(default=None, compare=False)
    #: ``"loss"``: stop on the validation loss; ``"score"``: on TabReD's validation score
    #: (ROC AUC for 2 classes, accuracy for more; the loss, i.e. RMSE, for regression).
    stop_on: str = "loss"
    #: Gradient norm clip; ``None``: no clipping.
    grad_clip: float | None = GRAD_CLIP


@dataclass(frozen=True)
class TrainResult:
    """What training did: the best epoch (1-based), the epochs run, the validation losses."""

    best_epoch: int
    epochs: int
    val_curve: tuple[float, ...]


def _loss(out: Tensor, target: Tensor, classification: bool) -> Tensor:
    # out: (batch, k, d_out); every member is scored against the same target
    k = out.shape[1]
    if classification:
        return nn.functional.cross_entropy(out.flatten(0, 1), target.repeat_interleave(k))
    return nn.functional.mse_loss(out[..., 0], target.unsqueeze(1).expand(-1, k))


def _val_loss(prediction: np.ndarray, y: np.ndarray, classification: bool) -> float:
    if classification:
        p = prediction[np.arange(len(y)), y]
        return float(-np.log(np.clip(p, LOG_EPS, 1.0)).mean())
    return float(np.mean((prediction - y) ** 2))


def _val_score(prediction: np.ndarray, y: np.ndarray) -> float:
    """TabReD's validation score of a classifier: ROC AUC for 2 classes, else accuracy
    (``nan`` when undefined, e.g. one class in the validation part)."""
    # deferred: the metrics pull in scikit-learn
    from tabbench.data.metrics import score

    return score("roc_auc" if prediction.shape[1] == 2 else "accuracy", y, prediction)


def _monitored(prediction: np.ndarray, y: np.ndarray, loss: float,
               settings: TrainSettings) -> float:
    """What early stopping minimizes: the loss, or minus the score (the loss where the
    score is undefined; regression's score, RMSE, orders epochs as the loss does)."""
    if settings.stop_on != "score" or not settings.classification:
        return loss
    value = _val_score(prediction, y)
    return -value if np.isfinite(value) else loss


def backward(network: nn.Module, X: Tensor, y: Tensor, rows: Tensor, parts: int, *,
             classification: bool) -> None:
    """Add the gradient of the mean loss over ``rows`` of ``(X, y)`` to the parameters'
    ``.grad``, computed in ``parts`` (near) equal micro-batches.

    The mean loss of the mini-batch is the row-weighted sum of its parts' mean losses, so the
    gradient is the mini-batch's (up to float rounding) while only one part's activations
    are alive at a time. With ``parts = 1`` it is one plain forward and backward pass.
    """
    for part in rows.tensor_split(max(1, min(parts, rows.numel()))):
        with _autocast(X.device):
            out = network(X[part])
        loss = _loss(out.float(), y[part], classification)
        if parts > 1:
            loss = loss * (part.numel() / rows.numel())
        loss.backward()


def fit_network(network: nn.Module, X: np.ndarray, y: np.ndarray, X_val: np.ndarray | None,
                y_val: np.ndarray | None, settings: TrainSettings) -> TrainResult:
    """Train ``network`` in place and leave it with the weights of its best epoch.

    ``y`` holds class codes (classification) or standardized values (regression). Call it
    inside :func:`torch_session` for a seeded, thread-limited run.
    """
    device = torch.device(settings.device)
    network.to(device)
    X_t = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(device)
    y_dtype = torch.long if settings.classification else torch.float32
    y_t = torch.as_tensor(y, dtype=y_dtype).to(device)
    X_val_t = None
    if X_val is not None and y_val is not None:
        X_val_t = torch.from_numpy(np.ascontiguousarray(X_val, dtype=np.float32)).to(device)
    optimizer = torch.optim.AdamW(network.parameters(), lr=settings.lr,
                                  weight_decay=settings.weight_decay)
    generator = torch.Generator().manual_seed(settings.seed)
    n = X_t.shape[0]
    probe = X_t[:PROBE_ROWS]
    eval_batch = eval_batch_size(widest_activation(network, probe) if n else 1, device.type)
    parts = 1
    if n >= 2 and _splittable(network):
        parts = micro_batches(settings.batch_size, saved_bytes_per_row(network, probe),
                              device.type)
    curve: list[float] = []
    best_loss, best_epoch, best_state = np.inf, 0, None
    epoch = 0
    epochs = itertools.count(1) if settings.max_epochs is None else range(
        1, settings.max_epochs + 1)
    for epoch in epochs:
        network.train()
        order = torch.randperm(n, generator=generator).to(device)
        for start in range(0, n, settings.batch_size):
            rows = order[start : start + settings.batch_size]
            if rows.numel() < 2:  # BatchNorm cannot train on one row; one row is noise anyway
                continue
            optimizer.zero_grad(set_to_none=True)
            backward(network, X_t, y_t, rows, parts, classification=settings.classification)
            if settings.grad_clip is not None:
                nn.utils.clip_grad_norm_(network.parameters(), settings.grad_clip)
            optimizer.step()
        if X_val_t is None or y_val is None:
            best_epoch = epoch
            continue
        prediction = _predict(network, X_val_t, device, settings.classification, eval_batch)
        val_loss = _val_loss(prediction, y_val, settings.classification)
        curve.append(val_loss)
        monitored = _monitored(prediction, y_val, val_loss, settings)
        if monitored < best_loss:
            best_loss, best_epoch = monitored, epoch
            best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        if settings.on_epoch is not None:
            settings.on_epoch(epoch, prediction)
        if epoch - best_epoch >= settings.patience:
            break
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return TrainResult(best_epoch=best_epoch, epochs=epoch, val_curve=tuple(curve))


def predict_network(network: nn.Module, X: np.ndarray, device: str, *, classification: bool,
                    batch_size: int | None = None) -> np.ndarray:
    """Predictions averaged over the network's ``k`` outputs, made in batches, as float64.

    Classification: the mean of the members' softmax probabilities, ``(n, d_out)``;
    regression: the mean of their values, ``(n,)``.
    """
    X_t = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    if batch_size is None:
        probe = X_t[:PROBE_ROWS].to(device)
        batch_size = eval_batch_size(widest_activation(network, probe) if len(probe) else 1,
                                     device)
    return _predict(network, X_t, torch.device(device), classification, batch_size)


@torch.inference_mode()
def _predict(network: nn.Module, X: Tensor, device: torch.device, classification: bool,
             batch_size: int) -> np.ndarray:
    network.eval()
    n = X.shape[0]
    # one result tensor, written batch by batch: small per-batch outputs kept alive between
    # the batches' large temporaries would pin the allocator's heap, which then grows with
    # every batch
    result: Tensor | None = None
    for start in range(0, n, batch_size):
        batch = X[start : start + batch_size].to(device, non_blocking=True)
        with _autocast(device):
            out = network(batch).float()
        mean = torch.softmax(out, dim=-1).mean(1) if classification else out[..., 0].mean(1)
        del out
        if result is None:
            result = torch.empty((n, *mean.shape[1:]), dtype=mean.dtype, device=device)
        result[start : start + len(mean)] = mean
    if result is None:
        return np.empty((0, 0) if classification else (0,), dtype=np.float64)
    return result.cpu().numpy().astype(np.float64)
