"""The one trainer shared by the deep models: AdamW on mini-batches, early stopping, pruning.

This module imports torch at import: only :mod:`tabbench.models.nn` imports it, inside the
methods that train or predict.

- The training matrix becomes a tensor once (on the CPU it shares the numpy array's memory;
  on a GPU it is copied there once); each mini-batch is a row gather from it, in an order
  drawn from a seeded ``torch.Generator``. Predictions are made in batches.
- Loss: cross-entropy (classification) or squared error on the standardized target
  (regression), averaged over the ``k`` predictions of a network — for TabM, the mean of its
  members' losses. Predictions average the members' probabilities (or values).
- After each epoch the validation loss (log loss of the averaged probabilities, or squared
  error) is computed; training stops ``patience`` epochs after its best value, and the
  weights of the best epoch are kept. ``on_epoch(epoch, validation predictions)`` is called
  after every epoch; what it raises (``optuna.TrialPruned``) stops the fit.
- AdamW with a constant learning rate, gradients clipped to norm 1. On CUDA the forward
  pass runs under bf16 autocast.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "TrainResult",
    "TrainSettings",
    "eval_batch_size",
    "fit_network",
    "predict_network",
    "torch_session",
    "train_batch_size",
]

GRAD_CLIP = 1.0
#: Elements of the widest activation (rows × k × width) in one prediction batch: about 2 MB,
#: which keeps CPU prediction in cache (measured fastest) and memory small on any device.
EVAL_ELEMENTS = 1 << 19
#: The same on a GPU, where larger batches pay for the kernel launches.
EVAL_ELEMENTS_CUDA = 1 << 25
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


def eval_batch_size(width: int, k: int, device: str = "cpu") -> int:
    """Rows per prediction batch: the widest activation holds about 512K elements (32M on
    a GPU)."""
    elements = EVAL_ELEMENTS_CUDA if device == "cuda" else EVAL_ELEMENTS
    return int(min(65536, max(64, elements // max(width * k, 1))))


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
    max_epochs: int
    patience: int
    seed: int
    device: str
    classification: bool
    on_epoch: Callable[[int, np.ndarray], None] | None = field(default=None, compare=False)


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
    width = _widest(network)
    eval_batch = eval_batch_size(width, getattr(network, "k", 1), device.type)
    n = X_t.shape[0]
    curve: list[float] = []
    best_loss, best_epoch, best_state = np.inf, 0, None
    epoch = 0
    for epoch in range(1, settings.max_epochs + 1):
        network.train()
        order = torch.randperm(n, generator=generator).to(device)
        for start in range(0, n, settings.batch_size):
            rows = order[start : start + settings.batch_size]
            if rows.numel() < 2:  # BatchNorm cannot train on one row; one row is noise anyway
                continue
            with _autocast(device):
                out = network(X_t[rows])
            loss = _loss(out.float(), y_t[rows], settings.classification)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(network.parameters(), GRAD_CLIP)
            optimizer.step()
        if X_val_t is None or y_val is None:
            best_epoch = epoch
            continue
        prediction = _predict(network, X_val_t, device, settings.classification, eval_batch)
        val_loss = _val_loss(prediction, y_val, settings.classification)
        curve.append(val_loss)
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        if settings.on_epoch is not None:
            settings.on_epoch(epoch, prediction)
        if epoch - best_epoch >= settings.patience:
            break
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return TrainResult(best_epoch=best_epoch, epochs=epoch, val_curve=tuple(curve))


def _widest(network: nn.Module) -> int:
    widths = [m.out_features for m in network.modules() if isinstance(m, nn.Linear)]
    return max(widths, default=1)


def predict_network(network: nn.Module, X: np.ndarray, device: str, *, classification: bool,
                    batch_size: int | None = None) -> np.ndarray:
    """Predictions averaged over the network's ``k`` outputs, made in batches, as float64.

    Classification: the mean of the members' softmax probabilities, ``(n, d_out)``;
    regression: the mean of their values, ``(n,)``.
    """
    X_t = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))
    batch_size = batch_size or eval_batch_size(_widest(network), getattr(network, "k", 1), device)
    return _predict(network, X_t, torch.device(device), classification, batch_size)


@torch.inference_mode()
def _predict(network: nn.Module, X: Tensor, device: torch.device, classification: bool,
             batch_size: int) -> np.ndarray:
    network.eval()
    outputs = []
    for start in range(0, X.shape[0], batch_size):
        batch = X[start : start + batch_size].to(device, non_blocking=True)
        with _autocast(device):
            out = network(batch).float()
        outputs.append(torch.softmax(out, dim=-1).mean(1) if classification
                       else out[..., 0].mean(1))
    if not outputs:
        return np.empty((0, 0) if classification else (0,), dtype=np.float64)
    return torch.cat(outputs).cpu().numpy().astype(np.float64)
