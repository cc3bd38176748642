"""GNN: message passing on the grid graph, with neighbourhoods defined in physical units.

Plain torch (no torch-geometric): on a regular grid every node has the same set of neighbour
*offsets*, so gathering the neighbours along one offset is a periodic shift (``torch.roll``)
of the whole node-feature array, and message passing is a loop over offsets. Memory stays
``O(nodes × width)`` per offset, never ``O(edges × width)`` at once.

Neighbourhood (the ``neighbourhood`` option), with ``radius`` given as a fraction of each
axis's physical length:

* ``"star"`` (default): the ``2 × ndim`` neighbours at physical distance ``radius`` along each
  axis, i.e. ``round(radius × n)`` cells away on an ``n``-point axis (at least one cell). The
  stencil is fixed in physical units: with ``radius = 1/16`` a node talks to its direct
  neighbours on the 16³ training grid and to the nodes 4 cells away on a 64³ grid, so the
  cost per node does not grow with resolution (64³ inference stays small).
* ``"ball"``: every node within physical distance ``radius`` (at least the direct
  neighbours); the graph refines with resolution and the neighbour count grows as
  ``(radius × n)^ndim``, a graph-kernel-operator view that is costly at 64³.

Edge features are the relative physical position ``Δx / (radius L)`` and its length, so a
shift rounded to whole cells is seen as the displacement it really is. Messages are averaged
(a mean approximates an integral over the neighbourhood). Shifts wrap around every axis:
on a lat-lon grid latitude is treated as periodic too (a simplification).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from frlbench.models.common import GridBackbone, family_config
from frlbench.registry import register_backbone
from frlbench.spec import BackboneSpec, InvalidValue, TaskSpec


@dataclass(frozen=True)
class GNNOptions:
    """Hyper-parameters of the grid GNN (keys of a baseline's ``[options]`` table).

    Attributes:
        width: Node feature width.
        layers: Message-passing layers.
        radius: Neighbourhood radius as a fraction of each axis's physical length.
        neighbourhood: ``"star"`` (fixed physical stencil) or ``"ball"`` (all nodes within).
    """

    width: int = 32
    layers: int = 4
    radius: float = 1 / 16
    neighbourhood: Literal["star", "ball"] = "star"

    def __post_init__(self) -> None:
        if self.width < 1:
            raise InvalidValue("width", self.width, ">= 1")
        if self.layers < 1:
            raise InvalidValue("layers", self.layers, ">= 1")
        if not 0 < self.radius < 0.5:
            raise InvalidValue("radius", self.radius, "0 < radius < 0.5 (fraction of length)")


PRESETS = {
    "tiny": GNNOptions(width=8, layers=2),
    "small": GNNOptions(width=32, layers=4),
    "base": GNNOptions(width=64, layers=8),
}


def neighbour_offsets(
    shape: Sequence[int], radius: float, neighbourhood: str
) -> list[tuple[tuple[int, ...], tuple[float, ...]]]:
    """Cell offsets of the neighbours on a grid and their displacement in units of the radius.

    Args:
        shape: Grid points per axis.
        radius: Neighbourhood radius as a fraction of each axis's length.
        neighbourhood: ``"star"`` or ``"ball"``.

    Returns:
        ``(offset, displacement)`` pairs: the integer cell offset per axis, and
        ``offset / (radius n)`` per axis (the physical displacement divided by the radius).
    """
    cells = [radius * n for n in shape]  # the radius in cells, per axis
    ndim = len(shape)
    offsets: list[tuple[int, ...]] = []
    if neighbourhood == "ball" and min(cells) >= 1:
        reach = [math.floor(c) for c in cells]
        for offset in itertools.product(*(range(-r, r + 1) for r in reach)):
            distance2 = sum((o / c) ** 2 for o, c in zip(offset, cells, strict=True))
            if any(offset) and distance2 <= 1 + 1e-9:
                offsets.append(offset)
    else:  # star, or a ball smaller than one cell: the nearest stencil in physical units
        for axis in range(ndim):
            step = max(1, round(cells[axis]))
            for sign in (-1, 1):
                offset = [0] * ndim
                offset[axis] = sign * step
                offsets.append(tuple(offset))
    return [(o, tuple(oi / c for oi, c in zip(o, cells, strict=True))) for o in offsets]


class MessagePassing(nn.Module):
    """One layer: ``h_i += φ([h_i, mean_j ψ(h_i, h_j, e_ij)])`` on channels-last features.

    ``ψ`` is a two-layer MLP whose first layer is split into node terms (computed once per
    node) and an edge term (one vector per offset on a regular grid), so each edge costs only
    an addition and a GELU; its second layer is linear and commutes with the mean.
    """

    def __init__(self, width: int, ndim: int) -> None:
        super().__init__()
        self.receiver = nn.Linear(width, width)
        self.sender = nn.Linear(width, width, bias=False)
        self.edge = nn.Linear(ndim + 1, width, bias=False)
        self.message_out = nn.Linear(width, width)
        self.update = nn.Sequential(nn.Linear(2 * width, width), nn.GELU(), nn.Linear(width, width))
        self.act = nn.GELU()

    def forward(
        self, h: torch.Tensor, offsets: list[tuple[tuple[int, ...], tuple[float, ...]]]
    ) -> torch.Tensor:
        grid_dims = range(1, h.dim() - 1)
        receiver, sender = self.receiver(h), self.sender(h)
        total = torch.zeros_like(h)
        for offset, displacement in offsets:
            rel = torch.tensor(displacement, dtype=h.dtype, device=h.device)
            edge = self.edge(torch.cat([rel, rel.norm().reshape(1)]))
            # Neighbour j = i + offset, brought to node i by shifting the array by -offset,
            # along the shifted axes only. (Padding once and slicing views was measured: it
            # saves little at inference and makes training slower, as every slice's backward
            # fills a full-size gradient.)
            dims = [d for d, o in zip(grid_dims, offset, strict=True) if o]
            neighbour = torch.roll(sender, shifts=[-offset[d - 1] for d in dims], dims=dims)
            total.add_(self.act(torch.add(receiver, neighbour).add_(edge)))
        aggregated = self.message_out(total / len(offsets))
        return h + self.update(torch.cat([h, aggregated], dim=-1))


class GridGNN(GridBackbone):
    """Encoder (pointwise MLP), message-passing layers, decoder (pointwise MLP).

    Args:
        options: Hyper-parameters.
        in_channels: Input channels.
        out_channels: Output channels.
        ndim: Spatial dimensions.
    """

    def __init__(self, options: GNNOptions, in_channels: int, out_channels: int, ndim: int):
        super().__init__("gnn", in_channels, out_channels, ndim)
        self.radius = options.radius
        self.neighbourhood = options.neighbourhood
        width = options.width
        self.encoder = nn.Sequential(
            nn.Linear(in_channels, width), nn.GELU(), nn.Linear(width, width)
        )
        self.layers = nn.ModuleList(MessagePassing(width, ndim) for _ in range(options.layers))
        self.decoder = nn.Sequential(
            nn.Linear(width, width), nn.GELU(), nn.Linear(width, out_channels)
        )

    def forward_grid(self, x: torch.Tensor) -> torch.Tensor:
        offsets = neighbour_offsets(x.shape[2:], self.radius, self.neighbourhood)
        h = self.encoder(x.movedim(1, -1))
        for layer in self.layers:
            h = layer(h, offsets)
        return self.decoder(h).movedim(-1, 1).contiguous()


@register_backbone(
    "gnn", family="GNN", presets=PRESETS, options=GNNOptions, grid_scaled={"radius": -1}
)
def build_gnn(spec: BackboneSpec, task: TaskSpec, in_channels: int, out_channels: int):
    """Message passing on the grid graph with a neighbourhood fixed in physical units."""
    return GridGNN(family_config(spec, PRESETS), in_channels, out_channels, task.ndim)
