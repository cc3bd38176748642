"""Transformer with linear (Galerkin-type) attention over grid points.

Every grid point is a token. Its position enters as Fourier features of its *physical*
coordinates, ``sin(2π m x / L)`` and ``cos(2π m x / L)`` for ``m = 1..M`` per axis, computed
for whatever grid comes in: there is no learned table tied to one resolution. Attention is
the Galerkin form of Cao (2021): ``Q (LN(K)^T LN(V)) / N``, a mean over the grid points that
approximates an integral over the domain, so it is consistent across resolutions and costs
``O(N d^2)`` time and ``O(N d)`` memory (64³ = 262 144 tokens fit in well under 1 GB).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from frlbench.models.common import (
    GridBackbone,
    GridConv,
    family_config,
    fourier_position_features,
    periodic_axes,
)
from frlbench.registry import register_backbone
from frlbench.spec import BackboneSpec, InvalidValue, TaskSpec


@dataclass(frozen=True)
class TransformerOptions:
    """Hyper-parameters of the Galerkin transformer (keys of a baseline's ``[options]``).

    Attributes:
        width: Token dimension.
        layers: Transformer blocks (attention + MLP).
        heads: Attention heads; must divide ``width``.
        mlp_ratio: Hidden width of each block's MLP, as a multiple of ``width``.
        pos_frequencies: Fourier features per axis (``m = 1..M`` cycles per domain length).
        stem_kernel: Odd kernel size (grid cells) of the convolutional stem that lifts the
            input to tokens; 1 is a pointwise lift. With 3, every token carries its
            neighbourhood, so the pointwise blocks can form the local derivatives a one-step
            increment needs (a pointwise lift could not fit the quick training pairs at all).
    """

    width: int = 64
    layers: int = 4
    heads: int = 4
    mlp_ratio: float = 2.0
    pos_frequencies: int = 4
    stem_kernel: int = 1

    def __post_init__(self) -> None:
        if self.stem_kernel < 1 or self.stem_kernel % 2 == 0:
            raise InvalidValue("stem_kernel", self.stem_kernel, "an odd integer >= 1")
        if self.width < 1:
            raise InvalidValue("width", self.width, ">= 1")
        if self.layers < 1:
            raise InvalidValue("layers", self.layers, ">= 1")
        if self.heads < 1 or self.width % self.heads:
            raise InvalidValue("heads", self.heads, f"a divisor of width = {self.width}")
        if self.mlp_ratio <= 0:
            raise InvalidValue("mlp_ratio", self.mlp_ratio, "> 0")
        if self.pos_frequencies < 0:
            raise InvalidValue("pos_frequencies", self.pos_frequencies, ">= 0")


PRESETS = {
    "tiny": TransformerOptions(width=16, layers=1, heads=2, pos_frequencies=2),
    "small": TransformerOptions(width=48, layers=3, heads=4, pos_frequencies=4, stem_kernel=3),
    "base": TransformerOptions(width=128, layers=8, heads=8, pos_frequencies=8, stem_kernel=3),
}


class GalerkinAttention(nn.Module):
    """Softmax-free linear attention with layer-normalised keys and values (Cao 2021).

    All heads are computed with two batched matrix products on ``(batch, tokens, width)``
    arrays: ``K^T V`` over all channels, masked to its per-head diagonal blocks, then ``Q``
    times that block-diagonal matrix. This avoids reshaping the token arrays per head, which
    on CPU costs more than the extra ``width²`` products.
    """

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = width // heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.norm_k = nn.LayerNorm(self.head_dim)
        self.norm_v = nn.LayerNorm(self.head_dim)
        self.out = nn.Linear(width, width)
        head = torch.arange(width) // self.head_dim
        self.register_buffer("block_mask", (head[:, None] == head[None, :]).float(), False)

    def _per_head_norm(self, norm: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, width = x.shape
        return norm(x.view(batch, tokens, self.heads, self.head_dim)).view(batch, tokens, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.shape[1]
        q = self.query(x)
        k = self._per_head_norm(self.norm_k, self.key(x))
        v = self._per_head_norm(self.norm_v, self.value(x))
        # (batch, width, width), a mean over tokens (a domain integral), one block per head
        kv = torch.bmm(k.transpose(1, 2), v) * (self.block_mask / tokens)
        return self.out(torch.bmm(q, kv))


class Block(nn.Module):
    """Pre-norm transformer block: attention then MLP, each with a residual connection."""

    def __init__(self, width: int, heads: int, mlp_ratio: float) -> None:
        super().__init__()
        hidden = max(1, round(width * mlp_ratio))
        self.norm1 = nn.LayerNorm(width)
        self.attention = GalerkinAttention(width, heads)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class GalerkinTransformer(GridBackbone):
    """Convolutional (or pointwise) lift with positional features, Galerkin blocks, pointwise
    projection.

    Args:
        options: Hyper-parameters.
        in_channels: Input channels.
        out_channels: Output channels.
        lengths: Physical length of each axis (``TaskSpec.lengths``).
        periodic: Which axes wrap around (decides where grid points sit, see
            :func:`~frlbench.models.common.grid_coordinates`).
    """

    def __init__(
        self,
        options: TransformerOptions,
        in_channels: int,
        out_channels: int,
        lengths: Sequence[float],
        periodic: Sequence[bool],
    ) -> None:
        super().__init__("transformer", in_channels, out_channels, len(lengths))
        self.lengths = tuple(lengths)
        self.periodic = tuple(periodic)
        self.pos_frequencies = options.pos_frequencies
        n_pos = 2 * options.pos_frequencies * len(lengths)
        self.lift = GridConv(
            in_channels + n_pos, options.width, len(lengths), options.stem_kernel, periodic
        )
        self.blocks = nn.Sequential(
            *(Block(options.width, options.heads, options.mlp_ratio) for _ in range(options.layers))
        )
        self.norm = nn.LayerNorm(options.width)
        self.project = nn.Sequential(
            nn.Linear(options.width, options.width),
            nn.GELU(),
            nn.Linear(options.width, out_channels),
        )

    def positional_features(self, shape: Sequence[int], x: torch.Tensor) -> torch.Tensor:
        """``(*grid, 2 M ndim)`` sin/cos features of the physical coordinates."""
        return fourier_position_features(
            shape, self.lengths, self.periodic, self.pos_frequencies, dtype=x.dtype, device=x.device
        )

    def forward_grid(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, *shape = x.shape
        if self.pos_frequencies:
            pos = self.positional_features(shape, x).movedim(-1, 0)  # (features, *grid)
            x = torch.cat([x, pos.expand(batch, *pos.shape)], dim=1)
        h = self.lift(x).flatten(2).transpose(1, 2)  # (batch, tokens, width)
        h = self.project(self.norm(self.blocks(h)))
        return h.view(batch, *shape, self.out_channels).movedim(-1, 1).contiguous()


#: Bumped when a change alters what a trained transformer computes (part of the run id).
#: 2: convolutional stem (``stem_kernel``) in the small and base presets.
VERSION = "2"


@register_backbone(
    "transformer",
    family="Transformer",
    presets=PRESETS,
    options=TransformerOptions,
    version=VERSION,
)
def build_transformer(spec: BackboneSpec, task: TaskSpec, in_channels: int, out_channels: int):
    """Galerkin (linear-attention) transformer over grid points."""
    options = family_config(spec, PRESETS)
    return GalerkinTransformer(
        options, in_channels, out_channels, task.lengths, periodic_axes(task)
    )
