"""The FRL model wrapper: the backbone itself when the encoding is off, else encoding + backbone.

Only step 2 (the frequency encoding) changes what the model sees; steps 1 and 3 live in the
training objective (:class:`frlbench.frl.spectral_loss.FRLObjective`). The backbone is built by
its ordinary builder with ``len(task.channels) + encoding_channels(cfg, task)`` input channels,
so every backbone works with FRL without special cases.

A backbone may define its own ``training_loss(inputs, targets)`` (a diffusion model's denoising
objective); :func:`training_loss_of` finds it through the wrapper, with the encoding applied to
the inputs, so the objective trains the same thing whether FRL is on or off.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import torch
from torch import nn

from frlbench.frl.encoding import FrequencyEncoding
from frlbench.spec import FRLConfig, TaskSpec


class EncodedModel(nn.Module):
    """A backbone fed with its input plus the frequency-encoding channels of that input's grid.

    Args:
        backbone: Module mapping ``(B, C + encoding channels, *grid)`` to ``(B, C_out, *grid)``.
        cfg: FRL configuration with ``encoding`` on.
        task: The task.
        train_resolution: ρ0 (used by the ``"physical"`` encoding convention).
    """

    def __init__(
        self, backbone: nn.Module, cfg: FRLConfig, task: TaskSpec, train_resolution: int
    ) -> None:
        super().__init__()
        self.encoding = FrequencyEncoding(cfg, task, train_resolution)
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.encoding(x))


def wrap(model: nn.Module, cfg: FRLConfig, task: TaskSpec, train_resolution: int) -> nn.Module:
    """The model to train and evaluate under ``cfg``.

    Args:
        model: The backbone, built with ``encoding_channels(cfg, task)`` extra input channels.
        cfg: FRL configuration.
        task: The task.
        train_resolution: ρ0.

    Returns:
        ``model`` itself when ``cfg.encoding`` is off (FRL off, or an ablation without the
        encoding); otherwise an :class:`EncodedModel` that works on any grid size.
    """
    if not cfg.encoding:
        return model
    return EncodedModel(model, cfg, task, train_resolution)


#: Signature of a backbone's own training loss (see :func:`training_loss_of`).
TrainingLoss = Callable[..., "torch.Tensor | tuple[torch.Tensor, torch.Tensor]"]


def training_loss_of(model: nn.Module) -> TrainingLoss | None:
    """The model's own ``training_loss(inputs, targets)``, seen through FRL's wrapper, or None.

    For an :class:`EncodedModel` the returned function encodes the inputs first, exactly as
    ``forward`` does. Keyword arguments (``return_estimate``) are passed through.
    """
    if isinstance(model, EncodedModel):
        inner = training_loss_of(model.backbone)
        if inner is None:
            return None
        return lambda x, y, **kwargs: inner(model.encoding(x), y, **kwargs)
    return getattr(model, "training_loss", None)


def returns_estimate(model: nn.Module) -> bool:
    """Whether the model's own ``training_loss`` accepts ``return_estimate`` (FRL's spectral
    term needs the forecast implied by the loss's denoised estimate)."""
    inner = model.backbone if isinstance(model, EncodedModel) else model
    loss_fn = getattr(inner, "training_loss", None)
    if loss_fn is None:
        return False
    return "return_estimate" in inspect.signature(loss_fn).parameters
