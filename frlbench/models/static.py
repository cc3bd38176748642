"""The fields behind a task's ``static_inputs`` (see :mod:`frlbench.static_inputs`), and the
wrapper that appends them to a backbone's input on every grid."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from frlbench.data.latlon import model_latitudes

#: Feature name -> its values from the cell-centre latitudes (radians) of an ``(nlat, nlon)`` grid.
FIELDS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "sin_latitude": torch.sin,
    "cos_latitude": torch.cos,
}


def static_fields(names: tuple[str, ...], shape: tuple[int, ...]) -> torch.Tensor:
    """The named fields on a grid of ``shape`` (``(nlat, nlon)``), ``(len(names), *shape)``."""
    nlat, nlon = shape
    lat = torch.from_numpy(np.deg2rad(model_latitudes(nlat)))[:, None].expand(nlat, nlon)
    return torch.stack([FIELDS[name](lat) for name in names])


class StaticInputs(nn.Module):
    """Append a task's static fields to the input of ``net`` (built with that many more
    input channels). A backbone's own ``training_loss`` gets the same augmented input.

    Args:
        net: The backbone.
        names: Static input names (see :data:`frlbench.static_inputs.STATIC_INPUTS`).
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
