"""Static input channels: fields known at every grid point that are not forecast.

A task lists them under ``static_inputs`` in its TOML; every model of that task, with and
without FRL, gets them appended to its input channels, recomputed on each grid it is run on
(so they are exact at every test resolution). Weather models commonly take such fields
(latitude, orography, land-sea mask) because the dynamics on a lat-lon grid are not the same
at every latitude: the Coriolis parameter grows with sin(latitude) and the east-west size of a
cell shrinks with cos(latitude), while convolutions, spectral layers and message passing apply
one rule everywhere. On the era5 task, sin/cos latitude moved the quick cnn's validation RMSE
from 0.0709 to 0.0594, and adding sin/cos longitude as well gave 0.0639 (README, "Weather task").
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

#: Feature name -> (grids it is defined on, values on an ``(nlat, nlon)`` grid).
_FEATURES: dict[str, tuple[tuple[str, ...], Callable[[torch.Tensor], torch.Tensor]]] = {
    "sin_latitude": (("latlon",), torch.sin),
    "cos_latitude": (("latlon",), torch.cos),
}

#: Names a task's ``static_inputs`` may list.
STATIC_INPUTS: tuple[str, ...] = tuple(_FEATURES)


def static_input_error(names: tuple[str, ...], grid: str) -> str | None:
    """What valid static inputs on ``grid`` would be, in words, if ``names`` are not; else None."""
    for i, name in enumerate(names):
        if name not in _FEATURES:
            return f"names among {', '.join(STATIC_INPUTS)} ({name!r} is not one)"
        grids = _FEATURES[name][0]
        if grid not in grids:
            return f"none on a {grid!r} grid ({name!r} needs a {' or '.join(grids)} grid)"
        if name in names[:i]:
            return f"each name once ({name!r} is listed twice)"
    return None


def latitudes(nlat: int) -> torch.Tensor:
    """Cell-centre latitudes in radians, ascending, of the model grid with ``nlat`` rows
    (the layout of :func:`frlbench.data.latlon.model_latitudes`)."""
    return (torch.arange(nlat, dtype=torch.float64) + 0.5) * (math.pi / nlat) - math.pi / 2


def static_fields(names: tuple[str, ...], shape: tuple[int, ...]) -> torch.Tensor:
    """The named fields on a grid of ``shape`` (``(nlat, nlon)``), ``(len(names), *shape)``."""
    nlat, nlon = shape
    lat = latitudes(nlat)[:, None].expand(nlat, nlon)
    return torch.stack([_FEATURES[name][1](lat) for name in names])


class StaticInputs(nn.Module):
    """Append a task's static fields to the input of ``net`` (built with that many more
    input channels). A backbone's own ``training_loss`` gets the same augmented input.

    Args:
        net: The backbone.
        names: Static input names (see :data:`STATIC_INPUTS`).
    """

    def __init__(self, net: nn.Module, names: tuple[str, ...]) -> None:
        super().__init__()
        self.net = net
        self.names = tuple(names)
        self._cache: dict[tuple[Any, ...], torch.Tensor] = {}
        inner = getattr(net, "training_loss", None)
        if inner is not None:

            @functools.wraps(inner)
            def training_loss(x: torch.Tensor, y: torch.Tensor, **kwargs: Any) -> Any:
                return inner(self.append(x), y, **kwargs)

            self.training_loss = training_loss

    def append(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` with the static fields concatenated along channels."""
        key = (tuple(x.shape[2:]), x.device, x.dtype)
        if key not in self._cache:
            self._cache[key] = static_fields(self.names, key[0]).to(x.device, x.dtype)
        fields = self._cache[key]
        return torch.cat([x, fields.expand(x.shape[0], *fields.shape)], dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.append(x))
