"""Neural ODE: a convolutional vector field integrated over the forecast interval (torchdiffeq).

The input is lifted pointwise to ``width`` channels, ``dh/dt = f(h)`` is integrated from
``t = 0`` to ``t = 1`` (one forecast interval, in units of the interval) with
:func:`torchdiffeq.odeint`, and the change of the state is projected pointwise and added to
the input state (``residual``, the default; the final state itself without it). ``f`` is a
small CNN with circular padding (edge-repeat in latitude on lat-lon grids), so the model runs on
any grid; like the CNN family its kernels are fixed in grid cells, so on a finer grid ``f`` sees a
smaller physical neighbourhood. Fixed-step RK4 is the default; adaptive solvers (``dopri5`` and
others) and the adjoint method (memory constant in the number of solver steps) are options.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torchdiffeq
from torch import nn

from frlbench.models.common import GridBackbone, GridConv, family_config, periodic_axes
from frlbench.registry import register_backbone
from frlbench.spec import BackboneSpec, InvalidValue, TaskSpec

VERSION = "1"

#: torchdiffeq methods on a fixed grid of ``steps`` steps over the interval.
FIXED_STEP_SOLVERS = ("euler", "midpoint", "rk4", "heun3", "explicit_adams", "implicit_adams")
#: torchdiffeq methods that choose their own steps from ``rtol`` / ``atol``.
ADAPTIVE_SOLVERS = ("dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun")
SOLVERS = FIXED_STEP_SOLVERS + ADAPTIVE_SOLVERS


@dataclass(frozen=True)
class NODEOptions:
    """Hyper-parameters of the Neural ODE (keys of a baseline's ``[options]`` table).

    Attributes:
        width: Channels of the ODE state.
        layers: Convolutions of the vector field (GELU between them).
        kernel_size: Odd kernel size of the vector field's convolutions, in grid cells.
        solver: A torchdiffeq method: one of :data:`FIXED_STEP_SOLVERS` or
            :data:`ADAPTIVE_SOLVERS`.
        steps: Steps over the forecast interval for a fixed-step solver.
        rtol: Relative tolerance of an adaptive solver.
        atol: Absolute tolerance of an adaptive solver.
        adjoint: Backpropagate with the adjoint ODE (``odeint_adjoint``) instead of through
            the solver's operations.
        residual: Forecast ``x[:, :C_out] + P(h(1) - h(0))``: the input state plus the
            projected change of the ODE state over the interval (persistence when ``f = 0``).
            Needs ``in_channels >= out_channels`` (the state first, as with FRL's encoding);
            otherwise the forecast is ``P(h(1))``.
    """

    width: int = 16
    layers: int = 2
    kernel_size: int = 3
    solver: str = "rk4"
    steps: int = 4
    rtol: float = 1e-3
    atol: float = 1e-4
    adjoint: bool = False
    residual: bool = True

    def __post_init__(self) -> None:
        if self.width < 1:
            raise InvalidValue("width", self.width, ">= 1")
        if self.layers < 1:
            raise InvalidValue("layers", self.layers, ">= 1")
        if self.kernel_size < 1 or self.kernel_size % 2 == 0:
            raise InvalidValue("kernel_size", self.kernel_size, "an odd integer >= 1")
        if self.solver not in SOLVERS:
            raise InvalidValue("solver", self.solver, ", ".join(SOLVERS))
        if self.steps < 1:
            raise InvalidValue("steps", self.steps, ">= 1")
        if self.rtol <= 0:
            raise InvalidValue("rtol", self.rtol, "> 0")
        if self.atol <= 0:
            raise InvalidValue("atol", self.atol, "> 0")


PRESETS = {
    "tiny": NODEOptions(width=8, layers=2, steps=1),
    "small": NODEOptions(width=16, layers=2, steps=2),
    "base": NODEOptions(width=48, layers=3, steps=8),
}


class VectorField(nn.Module):
    """``f(t, h)``: convolutions with GELU between them (autonomous: ``t`` is unused)."""

    def __init__(
        self, width: int, layers: int, ndim: int, kernel_size: int, periodic: Sequence[bool]
    ) -> None:
        super().__init__()
        modules: list[nn.Module] = []
        for layer in range(layers):
            if layer:
                modules.append(nn.GELU())
            modules.append(GridConv(width, width, ndim, kernel_size, periodic))
        self.net = nn.Sequential(*modules)

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        return self.net(h)


class NeuralODE(GridBackbone):
    """Lift, integrate ``dh/dt = f(h)`` over ``t ∈ [0, 1]``, project.

    Args:
        options: Hyper-parameters.
        in_channels: Input channels.
        out_channels: Output channels.
        ndim: Spatial dimensions.
        periodic: Which axes wrap around (circular padding); the others repeat the edge.
    """

    def __init__(
        self,
        options: NODEOptions,
        in_channels: int,
        out_channels: int,
        ndim: int,
        periodic: Sequence[bool],
    ) -> None:
        super().__init__("node", in_channels, out_channels, ndim)
        self.options = options
        self.residual = options.residual and in_channels >= out_channels
        self.lift = GridConv(in_channels, options.width, ndim, 1, periodic)
        self.field = VectorField(options.width, options.layers, ndim, options.kernel_size, periodic)
        self.project = GridConv(options.width, out_channels, ndim, 1, periodic)
        self.register_buffer("interval", torch.tensor([0.0, 1.0]), persistent=False)

    def integrate(self, h: torch.Tensor) -> torch.Tensor:
        """The ODE state at ``t = 1`` from the state ``h`` at ``t = 0``."""
        o = self.options
        if o.solver in FIXED_STEP_SOLVERS:
            kwargs = {"options": {"step_size": 1.0 / o.steps}}
        else:
            kwargs = {"rtol": o.rtol, "atol": o.atol}
        t = self.interval.to(h.dtype)
        if o.adjoint:
            path = torchdiffeq.odeint_adjoint(
                self.field, h, t, method=o.solver, adjoint_params=tuple(self.field.parameters()),
                **kwargs,
            )  # fmt: skip
        else:
            path = torchdiffeq.odeint(self.field, h, t, method=o.solver, **kwargs)
        return path[-1]

    def forward_grid(self, x: torch.Tensor) -> torch.Tensor:
        h0 = self.lift(x)
        h1 = self.integrate(h0)
        if self.residual:
            return x[:, : self.out_channels] + self.project(h1 - h0)
        return self.project(h1)


@register_backbone(
    "node", family="Neural ODE", presets=PRESETS, options=NODEOptions, version=VERSION
)  # fmt: skip
def build_node(spec: BackboneSpec, task: TaskSpec, in_channels: int, out_channels: int):
    """Neural ODE with a circular-padding convolutional vector field (torchdiffeq)."""
    options = family_config(spec, PRESETS)
    return NeuralODE(options, in_channels, out_channels, task.ndim, periodic_axes(task))
