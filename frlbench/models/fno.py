"""Neural operators: neuraloperator 2.0's FNO and TFNO, wrapped (not re-implemented).

``n_modes`` follows neuraloperator 2.0: ``n_modes = m`` keeps the integer wavenumbers
``-m/2 <= k < m/2`` on each axis (``0 <= k <= m/2`` on the last, real-FFT axis), so
``n_modes = 16`` is what keeps *every* mode of a 16-point axis; ``n_modes = 8`` keeps only
``|k| <= 4``. The sizes are chosen so that each keeps every mode of the training grid it is
meant for, i.e. everything up to the training Nyquist wavenumber:

======  =======  =================================================
size    n_modes  meant for
======  =======  =================================================
tiny    8        smoke profile (8-point training grids)
small   16       quick profile (16-point training grids)
base    32       paper profile (32-point training grids)
======  =======  =================================================

On a grid with fewer points than ``n_modes`` the layer uses the modes that grid has (the
centre of the weight tensor); on a finer grid the extra modes pass through the pointwise
skip path only. The FFT treats every axis as periodic, so on a lat-lon grid latitude is
treated as periodic too (the two poles are joined) unless ``latitude_padding`` pads that axis
with zeros first (neuraloperator's domain padding, cropped after the Fourier layers). The
positional embedding is neuraloperator's grid embedding, the coordinates ``x / L`` in
``[0, 1)``, which gives the same value to a physical point on every grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from neuralop.models import FNO, TFNO

from frlbench.models.common import CheckedModule, family_config
from frlbench.registry import register_backbone
from frlbench.spec import BackboneSpec, InvalidValue, TaskSpec


@dataclass(frozen=True)
class FNOOptions:
    """Hyper-parameters of an FNO (keys of a baseline's ``[options]`` table).

    Attributes:
        n_modes: Fourier modes kept per axis, neuraloperator 2.0 convention (``m`` keeps
            ``|k| < m/2``): to keep every mode of an ``n``-point training grid pass ``n``.
        hidden_channels: Width of the Fourier layers.
        n_layers: Number of Fourier layers.
        lifting_channel_ratio: Hidden width of the lifting MLP, as a multiple of the width.
        projection_channel_ratio: Hidden width of the projection MLP, as a multiple.
        positional_embedding: Append the coordinates ``x / L`` as input channels.
        latitude_padding: On a lat-lon grid, the fraction of the latitude axis added as zeros
            at each pole before the Fourier layers and cropped after them, so that the
            periodic FFT does not join the two poles (0: no padding). The same fraction on
            every grid. No effect on a periodic grid, whose axes are all periodic.
        channel_mlp_dropout: Dropout rate inside each Fourier layer's channel MLP, during
            training only (neuraloperator's ``channel_mlp_dropout``; 0: none).
    """

    n_modes: int = 16
    hidden_channels: int = 20
    n_layers: int = 4
    lifting_channel_ratio: float = 2.0
    projection_channel_ratio: float = 2.0
    positional_embedding: bool = True
    latitude_padding: float = 0.0
    channel_mlp_dropout: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.latitude_padding <= 1:
            raise InvalidValue("latitude_padding", self.latitude_padding, "0 <= value <= 1")
        if not 0 <= self.channel_mlp_dropout < 1:
            raise InvalidValue("channel_mlp_dropout", self.channel_mlp_dropout, "0 <= value < 1")
        if self.n_modes < 2:
            raise InvalidValue("n_modes", self.n_modes, ">= 2")
        if self.hidden_channels < 1:
            raise InvalidValue("hidden_channels", self.hidden_channels, ">= 1")
        if self.n_layers < 1:
            raise InvalidValue("n_layers", self.n_layers, ">= 1")


@dataclass(frozen=True)
class TFNOOptions(FNOOptions):
    """Hyper-parameters of a TFNO: an FNO whose spectral weights are factorized.

    Attributes:
        factorization: Tensor factorization of the spectral weights.
        rank: Rank as a fraction of the dense weight's parameters (0.1 keeps about 10%).
    """

    factorization: Literal["tucker", "cp", "tt"] = "tucker"
    rank: float = 0.1

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.rank <= 1:
            raise InvalidValue("rank", self.rank, "0 < rank <= 1")


FNO_PRESETS = {
    "tiny": FNOOptions(n_modes=8, hidden_channels=8, n_layers=2),
    "small": FNOOptions(n_modes=16, hidden_channels=20, n_layers=4),
    "base": FNOOptions(n_modes=32, hidden_channels=32, n_layers=4),
}
TFNO_PRESETS = {
    size: TFNOOptions(**{**vars(preset), "rank": 0.1}) for size, preset in FNO_PRESETS.items()
}


class NeuralOperator(CheckedModule):
    """A neuraloperator model behind the shared input check, refusing odd-sized axes."""

    def forward_grid(self, x: torch.Tensor) -> torch.Tensor:
        grid = tuple(x.shape[2:])
        if any(n % 2 for n in grid[:-1]):
            raise ValueError(
                f"{self.backbone_name}: every grid axis but the last must have an even size "
                f"(neuraloperator 2.0 misplaces Fourier modes on odd sizes); got grid {grid} "
                f"(input shape {tuple(x.shape)})"
            )
        return self.net(x)


def _build(
    name: str, options: FNOOptions, task: TaskSpec, in_channels: int, out_channels: int
) -> NeuralOperator:
    model_cls, kwargs = FNO, {}
    if isinstance(options, TFNOOptions):
        model_cls = TFNO
        kwargs = {"factorization": options.factorization, "rank": options.rank}
    if task.geometry.spherical and options.latitude_padding > 0:
        # Grid axes are (latitude, longitude): pad latitude only; longitude is periodic.
        kwargs["domain_padding"] = [options.latitude_padding, 0.0]
    net = model_cls(
        n_modes=(options.n_modes,) * task.ndim,
        in_channels=in_channels,
        out_channels=out_channels,
        hidden_channels=options.hidden_channels,
        n_layers=options.n_layers,
        lifting_channel_ratio=options.lifting_channel_ratio,
        projection_channel_ratio=options.projection_channel_ratio,
        positional_embedding="grid" if options.positional_embedding else None,
        channel_mlp_dropout=options.channel_mlp_dropout,
        **kwargs,
    )
    return NeuralOperator(name, net, in_channels, out_channels, task.ndim)


@register_backbone(
    "fno",
    family="neural operator",
    presets=FNO_PRESETS,
    options=FNOOptions,
    grid_scaled={"n_modes": 1},
)
def build_fno(
    spec: BackboneSpec, task: TaskSpec, in_channels: int, out_channels: int
) -> NeuralOperator:
    """Fourier Neural Operator (Li et al. 2021), neuraloperator 2.0's ``FNO``."""
    return _build("fno", family_config(spec, FNO_PRESETS), task, in_channels, out_channels)


@register_backbone(
    "tfno",
    family="neural operator",
    presets=TFNO_PRESETS,
    options=TFNOOptions,
    grid_scaled={"n_modes": 1},
)
def build_tfno(
    spec: BackboneSpec, task: TaskSpec, in_channels: int, out_channels: int
) -> NeuralOperator:
    """Tucker-factorized FNO (Kossaifi et al. 2023), neuraloperator 2.0's ``TFNO``."""
    return _build("tfno", family_config(spec, TFNO_PRESETS), task, in_channels, out_channels)
