"""Helpers shared by every backbone family: sizes, options, input checks, grid padding.

A family module declares one frozen dataclass of hyper-parameters (its *options*) and one
preset per size; :func:`family_config` merges the preset of the requested size with the
baseline's ``[options]`` table, so a typo in a TOML key fails with the valid keys listed.
Every module subclasses :class:`GridBackbone`, whose ``forward`` checks the input shape
before the family's own :meth:`GridBackbone.forward_grid` runs.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

import torch
from torch import nn
from torch.nn import functional as F

from frlbench.registry import BACKBONES
from frlbench.spec import BackboneSpec, TaskSpec, TrainSettings, parse_dataclass

C = TypeVar("C")


def backbone_sizes(backbone: str) -> tuple[str, ...]:
    """The sizes a registered backbone declares (``sizes=`` at registration)."""
    return BACKBONES.entry(backbone).info.sizes


def resolve_size(spec: BackboneSpec, size: str | None = None) -> str:
    """The size to build: ``size`` if given, else ``spec.size``, checked against the registry.

    A backbone registered without ``sizes=`` accepts any size (there is nothing to check).

    The trainer passes ``dataclasses.replace(spec, defaults=spec.settings(profile))``, so
    ``spec.size`` is already the size of the profile being run.

    Raises:
        ValueError: If the size is not one the backbone declares; the message lists the valid
            sizes and the closest match.
    """
    size = spec.size if size is None else size
    valid = backbone_sizes(spec.backbone)
    if valid and size not in valid:  # a plugin that declares no sizes is not checked
        close = difflib.get_close_matches(size, valid, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        where = f"{spec.source}: " if spec.source else ""
        raise ValueError(
            f"{where}unknown size {size!r} for backbone {spec.backbone!r}.{hint} "
            f"Valid sizes: {', '.join(valid)}"
        )
    return size


def family_config(spec: BackboneSpec, presets: Mapping[str, C], size: str | None = None) -> C:
    """The hyper-parameters to build: the preset of the size, updated by ``spec.options``.

    Args:
        spec: The baseline; its ``options`` table may override any field of the preset.
        presets: One options dataclass instance per size.
        size: Size to build (default: ``spec.size``).

    Raises:
        ValueError: For an unknown size (valid sizes listed).
        ConfigError: For an unknown option key or a wrong type (valid keys listed).
    """
    size = resolve_size(spec, size)
    preset = presets[size]
    merged = {**dataclasses.asdict(preset), **spec.options}
    source = spec.source or f"baseline {spec.name!r}"
    return parse_dataclass(type(preset), merged, source, prefix="options")


def make_spec(
    backbone: str, size: str = "tiny", options: Mapping[str, Any] | None = None
) -> BackboneSpec:
    """An in-memory baseline for ``backbone`` at ``size`` (used by tests and the model zoo).

    Raises:
        UnknownNameError: For an unknown backbone.
        ValueError: For a size the backbone does not declare.
    """
    spec = BackboneSpec(
        name=backbone,
        backbone=backbone,
        options=dict(options or {}),
        defaults=TrainSettings(size=size),  # type: ignore[arg-type]  (checked just below)
    )
    resolve_size(spec)
    return spec


def build_backbone(
    spec: BackboneSpec, task: TaskSpec, in_channels: int, out_channels: int
) -> nn.Module:
    """Build the backbone of a baseline at ``spec.size``, checking the size first.

    Prefer it to calling the registered builder directly: it works for built-in and plugin
    backbones alike, and an unknown size fails with the valid sizes listed even when a
    plugin's builder does not check it itself.

    Raises:
        UnknownNameError: For an unknown backbone (known ones and the closest match listed).
        ValueError: For a size the backbone does not declare (valid sizes listed).
    """
    builder = BACKBONES.get(spec.backbone)
    resolve_size(spec)
    return builder(spec, task, in_channels, out_channels)


def create_backbone(
    backbone: str,
    task: TaskSpec,
    in_channels: int,
    out_channels: int,
    size: str = "tiny",
    **options: Any,
) -> nn.Module:
    """Build a registered backbone by name, like ``timm.create_model``.

    Args:
        backbone: Registered name (see ``frlbench list backbones``).
        task: The task; gives the number of spatial dimensions, the grid kind and lengths.
        in_channels: Input channels.
        out_channels: Output channels.
        size: ``tiny``, ``small`` or ``base``.
        **options: Overrides of the size's hyper-parameters (same keys as ``[options]``).

    Raises:
        UnknownNameError: For an unknown backbone (known ones and the closest match listed).
        ValueError: For an unknown size (valid sizes listed).
    """
    BACKBONES.get(backbone)  # unknown name: fail with the known names listed
    return build_backbone(make_spec(backbone, size, options), task, in_channels, out_channels)


def count_parameters(module: nn.Module) -> int:
    """Trainable real-valued parameters; a complex parameter counts twice (real and imaginary)."""
    return sum(
        p.numel() * (2 if p.is_complex() else 1) for p in module.parameters() if p.requires_grad
    )


def periodic_axes(task: TaskSpec) -> tuple[bool, ...]:
    """Which spatial axes wrap around: all of them on a periodic box; longitude only on lat-lon."""
    return task.geometry.periodic_axes(task.ndim)


def check_input(x: torch.Tensor, in_channels: int, ndim: int, name: str) -> None:
    """Check that ``x`` is ``(batch, in_channels, *grid)`` with ``ndim`` grid axes.

    Raises:
        ValueError: Naming the backbone, the expected shape and the given shape.
    """
    grid = ", ".join(["n"] * ndim)
    if x.dim() != ndim + 2 or x.shape[1] != in_channels:
        raise ValueError(
            f"{name}: expected input of shape (batch, {in_channels}, {grid}) "
            f"({ndim} spatial dims, {in_channels} channels); got {tuple(x.shape)}"
        )


class GridBackbone(nn.Module):
    """Base class of every backbone: checks the input shape, then calls :meth:`forward_grid`.

    Args:
        name: Backbone name, used in error messages.
        in_channels: Channels of the input.
        out_channels: Channels of the output.
        ndim: Number of spatial dimensions.
    """

    def __init__(self, name: str, in_channels: int, out_channels: int, ndim: int) -> None:
        super().__init__()
        self.backbone_name = name
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.ndim = ndim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(batch, in_channels, *grid)`` to ``(batch, out_channels, *grid)``."""
        check_input(x, self.in_channels, self.ndim, self.backbone_name)
        return self.forward_grid(x)

    def forward_grid(self, x: torch.Tensor) -> torch.Tensor:
        """The family's forward pass on an input whose shape has been checked."""
        raise NotImplementedError


class CheckedModule(GridBackbone):
    """Any grid-to-grid module behind the shared input check (see :func:`with_input_check`)."""

    def __init__(
        self, name: str, net: nn.Module, in_channels: int, out_channels: int, ndim: int
    ) -> None:
        super().__init__(name, in_channels, out_channels, ndim)
        self.net = net

    def forward_grid(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def with_input_check(
    net: nn.Module, name: str, in_channels: int, out_channels: int, ndim: int
) -> CheckedModule:
    """Wrap ``net`` so that a wrong input shape fails with the expected and given shape.

    Plugin backbones built from plain torch modules use this to get the same error
    messages as the built-in ones.
    """
    return CheckedModule(name, net, in_channels, out_channels, ndim)


def pad_grid(x: torch.Tensor, width: int, periodic: Sequence[bool]) -> torch.Tensor:
    """Pad every spatial axis by ``width`` cells on both sides.

    Periodic axes wrap around (circular padding); the others (latitude on a lat-lon grid)
    repeat their edge value.
    """
    if width == 0:
        return x
    if all(periodic):
        return F.pad(x, [width] * (2 * len(periodic)), mode="circular")
    for axis, wraps in enumerate(periodic):
        dim = 2 + axis
        n = x.shape[dim]
        if wraps:
            before, after = x.narrow(dim, n - width, width), x.narrow(dim, 0, width)
        else:
            shape = list(x.shape)
            shape[dim] = width
            before = x.narrow(dim, 0, 1).expand(shape)
            after = x.narrow(dim, n - 1, 1).expand(shape)
        x = torch.cat([before, x, after], dim=dim)
    return x


def conv_cls(ndim: int) -> type[nn.Module]:
    """``nn.Conv1d``, ``nn.Conv2d`` or ``nn.Conv3d``."""
    return {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[ndim]


class GridConv(nn.Module):
    """A convolution with odd kernel size whose output has the grid of its input.

    Padding follows :func:`pad_grid`: circular on periodic axes, edge-repeat elsewhere.

    Args:
        in_channels: Input channels.
        out_channels: Output channels.
        ndim: Spatial dimensions.
        kernel_size: Odd kernel size (in grid cells).
        periodic: Which axes wrap around.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        ndim: int,
        kernel_size: int,
        periodic: Sequence[bool],
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd; got {kernel_size}")
        self.periodic = tuple(periodic)
        self.width = kernel_size // 2
        self.conv = conv_cls(ndim)(in_channels, out_channels, kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(pad_grid(x, self.width, self.periodic))


def grid_coordinates(
    shape: Sequence[int],
    lengths: Sequence[float],
    periodic: Sequence[bool],
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> list[torch.Tensor]:
    """Physical coordinate of every grid point along each axis, one 1-D tensor per axis.

    A periodic axis of ``n`` points has points at ``i L / n``; a non-periodic one (latitude)
    at cell centres ``(i + 1/2) L / n``. Either way the same physical point has the same
    coordinate on every grid that contains it.
    """
    coords = []
    for n, length, wraps in zip(shape, lengths, periodic, strict=True):
        offset = 0.0 if wraps else 0.5
        coords.append((torch.arange(n, dtype=dtype, device=device) + offset) * (length / n))
    return coords


def fourier_position_features(
    shape: Sequence[int],
    lengths: Sequence[float],
    periodic: Sequence[bool],
    frequencies: int,
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``(*grid, 2 M ndim)`` features ``sin(2π m x / L)``, ``cos(2π m x / L)``, ``m = 1..M``.

    They are functions of the physical coordinates (:func:`grid_coordinates`), computed for
    whatever grid comes in, so a point has the same features on every grid that contains it.
    """
    coords = grid_coordinates(shape, lengths, periodic, device=device)
    m = torch.arange(1, frequencies + 1, dtype=torch.float32, device=device)
    per_axis = []
    for axis, (c, length) in enumerate(zip(coords, lengths, strict=True)):
        phase = (2 * torch.pi / length) * c[:, None] * m  # (n, M)
        feats = torch.cat([phase.sin(), phase.cos()], dim=-1)
        view = [1] * len(shape) + [feats.shape[-1]]
        view[axis] = shape[axis]
        per_axis.append(feats.view(view).expand(*shape, feats.shape[-1]))
    return torch.cat(per_axis, dim=-1).to(dtype)
