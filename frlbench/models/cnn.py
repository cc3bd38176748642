"""CNN: a residual convolutional network with periodic (circular) padding.

Its kernels have a fixed size in grid cells, so on a finer grid each layer sees a smaller
physical neighbourhood: it runs on any grid, but is not a discretization of one operator.
That is the classic behaviour the benchmark measures, kept on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from frlbench.models.common import GridBackbone, GridConv, family_config, periodic_axes
from frlbench.registry import register_backbone
from frlbench.spec import BackboneSpec, InvalidValue, TaskSpec


@dataclass(frozen=True)
class CNNOptions:
    """Hyper-parameters of the residual CNN (keys of a baseline's ``[options]`` table).

    Attributes:
        width: Channels of every hidden layer.
        blocks: Residual blocks (two convolutions each).
        kernel_size: Odd kernel size, in grid cells.
    """

    width: int = 32
    blocks: int = 4
    kernel_size: int = 3

    def __post_init__(self) -> None:
        if self.width < 1:
            raise InvalidValue("width", self.width, ">= 1")
        if self.blocks < 1:
            raise InvalidValue("blocks", self.blocks, ">= 1")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise InvalidValue("kernel_size", self.kernel_size, "an odd integer >= 1")


PRESETS = {
    "tiny": CNNOptions(width=8, blocks=1),
    "small": CNNOptions(width=16, blocks=4),
    "base": CNNOptions(width=64, blocks=8),
}


class ResidualBlock(nn.Module):
    """``x + conv(gelu(conv(x)))`` with grid-preserving convolutions."""

    def __init__(self, width: int, ndim: int, kernel_size: int, periodic: Sequence[bool]):
        super().__init__()
        self.conv1 = GridConv(width, width, ndim, kernel_size, periodic)
        self.conv2 = GridConv(width, width, ndim, kernel_size, periodic)
        self.act = nn.GELU()

    def forward(self, x):
        return x + self.conv2(self.act(self.conv1(self.act(x))))


class ResidualCNN(GridBackbone):
    """Lift (1x1 conv), residual blocks, project (1x1 conv).

    Args:
        options: Hyper-parameters.
        in_channels: Input channels.
        out_channels: Output channels.
        ndim: Spatial dimensions.
        periodic: Which axes wrap around (circular padding); the others repeat the edge.
    """

    def __init__(
        self,
        options: CNNOptions,
        in_channels: int,
        out_channels: int,
        ndim: int,
        periodic: Sequence[bool],
    ):
        super().__init__("cnn", in_channels, out_channels, ndim)
        k = options.kernel_size
        self.lift = GridConv(in_channels, options.width, ndim, 1, periodic)
        self.blocks = nn.Sequential(
            *(ResidualBlock(options.width, ndim, k, periodic) for _ in range(options.blocks))
        )
        self.project = GridConv(options.width, out_channels, ndim, 1, periodic)

    def forward_grid(self, x):
        return self.project(self.blocks(self.lift(x)))


@register_backbone("cnn", family="CNN", presets=PRESETS, options=CNNOptions)
def build_cnn(spec: BackboneSpec, task: TaskSpec, in_channels: int, out_channels: int):
    """Residual CNN with circular padding (edge-repeat in latitude on lat-lon grids)."""
    options = family_config(spec, PRESETS)
    return ResidualCNN(options, in_channels, out_channels, task.ndim, periodic_axes(task))
