"""The torch modules of the deep models: an input encoder, the backbones, and their assembly.

This module imports torch, ``rtdl_num_embeddings`` and ``tabm`` at import: only
:mod:`tabbench.methods.models.nn` imports it, inside the methods that build a network.

Every network maps a float32 matrix ``(batch, n_features)`` to ``(batch, k, d_out)``: ``k``
predictions per row, ``k = 1`` for the single models and ``k`` members for TabM.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import rtdl_num_embeddings
import tabm
import torch
from torch import Tensor, nn

__all__ = ["ARCHITECTURES", "CATEGORY_EMBEDDING", "Layout", "Network", "build_network"]

#: Size of the learned embedding of each high-cardinality categorical column.
CATEGORY_EMBEDDING = 16
#: ResNet's hidden width as a multiple of ``d_block`` (Gorishniy et al., 2021).
RESNET_HIDDEN_FACTOR = 2
ARCHITECTURES = ("mlp", "mlp-plr", "resnet", "tabm")


@dataclass(frozen=True)
class Layout:
    """Which input columns are continuous, binary (0/1) and categorical codes.

    Continuous columns get the periodic embeddings (``mlp-plr``); binary columns always go
    in as they are; categorical columns hold codes ``0..c-1`` (NaN: missing or unseen) and
    are embedded, with one extra slot for NaN.
    """

    continuous: tuple[int, ...]
    binary: tuple[int, ...]
    categorical: tuple[int, ...]
    cardinalities: tuple[int, ...]

    def to_dict(self) -> dict[str, list[int]]:
        """Plain lists, for saving."""
        return {key: list(value) for key, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Layout:
        """The inverse of :meth:`to_dict`."""
        return cls(**{key: tuple(int(v) for v in data[key]) for key in cls.__dataclass_fields__})


class InputEncoder(nn.Module):
    """``(batch, n_features)`` → ``(batch, d_out)``: the flat input of a backbone."""

    def __init__(self, layout: Layout, periodic: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.register_buffer("continuous", torch.tensor(layout.continuous, dtype=torch.long),
                             persistent=False)
        self.register_buffer("binary", torch.tensor(layout.binary, dtype=torch.long),
                             persistent=False)
        self.register_buffer("categorical", torch.tensor(layout.categorical, dtype=torch.long),
                             persistent=False)
        n_continuous = len(layout.continuous)
        self.periodic = None
        d_continuous = n_continuous
        if periodic is not None and n_continuous:
            self.periodic = rtdl_num_embeddings.PeriodicEmbeddings(n_continuous, **periodic,
                                                                   lite=False)
            d_continuous = n_continuous * self.periodic.get_output_shape()[1]
        d_out = d_continuous + len(layout.binary)
        self.embedding = None
        if layout.categorical:
            slots = [c + 1 for c in layout.cardinalities]  # the last slot of each: NaN
            offsets = torch.tensor([0, *slots[:-1]], dtype=torch.long).cumsum(0)
            self.register_buffer("offsets", offsets, persistent=False)
            self.register_buffer("missing", torch.tensor(layout.cardinalities,
                                                         dtype=torch.float32), persistent=False)
            self.embedding = nn.Embedding(sum(slots), CATEGORY_EMBEDDING)
            d_out += len(slots) * CATEGORY_EMBEDDING
        self.d_out = d_out

    def forward(self, x: Tensor) -> Tensor:
        parts = []
        if self.continuous.numel():
            numbers = torch.nan_to_num(x[:, self.continuous])
            parts.append(numbers if self.periodic is None else self.periodic(numbers).flatten(1))
        if self.binary.numel():
            parts.append(torch.nan_to_num(x[:, self.binary]))
        if self.embedding is not None:
            codes = x[:, self.categorical]
            codes = torch.where(torch.isnan(codes), self.missing, codes)
            codes = torch.minimum(codes.clamp_min(0), self.missing).long() + self.offsets
            parts.append(self.embedding(codes).flatten(1))
        return torch.cat(parts, dim=1)


class ResNet(nn.Module):
    """The tabular ResNet of Gorishniy et al. (2021), with TabReD's shared body params.

    A linear layer to ``d_block``, then ``n_blocks`` residual blocks (BatchNorm → Linear to
    ``2 · d_block`` → ReLU → Dropout → Linear back), then BatchNorm → ReLU → Linear.
    """

    def __init__(self, *, d_in: int, d_out: int, n_blocks: int, d_block: int,
                 dropout: float) -> None:
        super().__init__()
        d_hidden = RESNET_HIDDEN_FACTOR * d_block
        self.first = nn.Linear(d_in, d_block)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.BatchNorm1d(d_block),
                nn.Linear(d_block, d_hidden),
                nn.ReLU(),
                nn.Dropout(dropout),
                nn.Linear(d_hidden, d_block),
            )
            for _ in range(n_blocks)
        )
        self.head = nn.Sequential(nn.BatchNorm1d(d_block), nn.ReLU(), nn.Linear(d_block, d_out))

    def forward(self, x: Tensor) -> Tensor:
        x = self.first(x)
        for block in self.blocks:
            x = x + block(x)
        return self.head(x)


class Network(nn.Module):
    """Encoder + body; the output always has an ensemble axis: ``(batch, k, d_out)``."""

    def __init__(self, encoder: InputEncoder, body: nn.Module, k: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.body = body
        self.k = k

    def forward(self, x: Tensor) -> Tensor:
        out = self.body(self.encoder(x))
        return out if out.ndim == 3 else out.unsqueeze(1)


def build_network(architecture: str, params: dict[str, Any], layout: Layout,
                  d_out: int) -> Network:
    """The network of ``architecture`` (one of :data:`ARCHITECTURES`), freshly initialized.

    ``params`` holds the body params (``n_blocks``, ``d_block``, ``dropout``), the periodic
    embedding params for ``mlp-plr`` (``n_frequencies``, ``d_embedding``,
    ``frequency_init_scale``) and ``k`` for ``tabm``. The caller seeds torch's generator.
    """
    body_params = {key: params[key] for key in ("n_blocks", "d_block", "dropout")}
    periodic = None
    if architecture == "mlp-plr":
        periodic = {key: params[key] for key in
                    ("n_frequencies", "d_embedding", "frequency_init_scale")}
    encoder = InputEncoder(layout, periodic)
    d_in = encoder.d_out
    body: nn.Module
    k = 1
    if architecture in ("mlp", "mlp-plr"):
        backbone = tabm.MLPBackbone(d_in=d_in, **body_params)
        body = nn.Sequential(backbone, nn.Linear(body_params["d_block"], d_out))
    elif architecture == "resnet":
        body = ResNet(d_in=d_in, d_out=d_out, **body_params)
    elif architecture == "tabm":
        k = int(params["k"])
        body = tabm.TabM.make(n_num_features=d_in, d_out=d_out, k=k, **body_params)
    else:
        raise ValueError(f"unknown architecture {architecture!r}; valid: {ARCHITECTURES}")
    return Network(encoder, body, k)
