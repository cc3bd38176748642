"""U-Net with periodic (circular) padding.

Each level halves the grid by average pooling and doubles the channels; the decoder
upsamples by nearest neighbour and concatenates the skip connection. A grid is accepted
when every axis is divisible by ``2 ** depth``; any other grid is refused with a clear error
rather than silently cropped or interpolated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from frlbench.models.common import GridBackbone, GridConv, family_config, periodic_axes
from frlbench.registry import register_backbone
from frlbench.spec import BackboneSpec, InvalidValue, TaskSpec


@dataclass(frozen=True)
class UNetOptions:
    """Hyper-parameters of the U-Net (keys of a baseline's ``[options]`` table).

    Attributes:
        width: Channels at the finest level (doubled at every coarser level).
        depth: Number of downsampling steps; grids must be divisible by ``2 ** depth``.
        kernel_size: Odd kernel size, in grid cells.
    """

    width: int = 16
    depth: int = 2
    kernel_size: int = 3

    def __post_init__(self) -> None:
        if self.width < 1:
            raise InvalidValue("width", self.width, ">= 1")
        if self.depth < 1:
            raise InvalidValue("depth", self.depth, ">= 1")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise InvalidValue("kernel_size", self.kernel_size, "an odd integer >= 1")


PRESETS = {
    "tiny": UNetOptions(width=8, depth=2),
    "small": UNetOptions(width=16, depth=2),
    "base": UNetOptions(width=32, depth=3),
}


class ConvBlock(nn.Sequential):
    """Two grid-preserving convolutions, each followed by GELU."""

    def __init__(
        self, cin: int, cout: int, ndim: int, kernel_size: int, periodic: Sequence[bool]
    ) -> None:
        super().__init__(
            GridConv(cin, cout, ndim, kernel_size, periodic),
            nn.GELU(),
            GridConv(cout, cout, ndim, kernel_size, periodic),
            nn.GELU(),
        )


class UNet(GridBackbone):
    """Encoder-decoder with skip connections on a periodic grid.

    Args:
        options: Hyper-parameters.
        in_channels: Input channels.
        out_channels: Output channels.
        ndim: Spatial dimensions.
        periodic: Which axes wrap around (circular padding); the others repeat the edge.
    """

    def __init__(
        self,
        options: UNetOptions,
        in_channels: int,
        out_channels: int,
        ndim: int,
        periodic: Sequence[bool],
    ):
        super().__init__("unet", in_channels, out_channels, ndim)
        self.depth = options.depth
        k = options.kernel_size
        widths = [options.width * 2**level for level in range(options.depth + 1)]
        self.encoders = nn.ModuleList()
        cin = in_channels
        for w in widths:
            self.encoders.append(ConvBlock(cin, w, ndim, k, periodic))
            cin = w
        self.decoders = nn.ModuleList(
            ConvBlock(widths[level + 1] + widths[level], widths[level], ndim, k, periodic)
            for level in reversed(range(options.depth))
        )
        self.project = GridConv(widths[0], out_channels, ndim, 1, periodic)
        self.pool = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}[ndim]

    @property
    def grid_multiple(self) -> int:
        """Every grid axis must be a multiple of this."""
        return 2**self.depth

    def forward_grid(self, x: torch.Tensor) -> torch.Tensor:
        grid = tuple(x.shape[2:])
        if any(n % self.grid_multiple for n in grid):
            raise ValueError(
                f"unet (depth {self.depth}): every grid axis must be divisible by "
                f"{self.grid_multiple}; got grid {grid} (input shape {tuple(x.shape)})"
            )
        skips = []
        for level, encoder in enumerate(self.encoders):
            if level > 0:
                x = self.pool(x, 2)
            x = encoder(x)
            skips.append(x)
        skips.pop()
        for decoder in self.decoders:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = decoder(torch.cat([x, skips.pop()], dim=1))
        return self.project(x)


@register_backbone("unet", family="U-Net", presets=PRESETS, options=UNetOptions)
def build_unet(spec: BackboneSpec, task: TaskSpec, in_channels: int, out_channels: int):
    """U-Net with circular padding (edge-repeat in latitude on lat-lon grids)."""
    options = family_config(spec, PRESETS)
    return UNet(options, in_channels, out_channels, task.ndim, periodic_axes(task))
