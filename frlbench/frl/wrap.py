"""The FRL model wrapper: the backbone itself when the encoding is off, else encoding + backbone.

Only step 2 (the frequency encoding) changes what the model sees; steps 1 and 3 live in the
training objective (:class:`frlbench.frl.spectral_loss.FRLObjective`). The backbone is built by
its ordinary builder with ``len(task.channels) + encoding_channels(cfg, task)`` input channels,
so every backbone works with FRL without special cases.
"""

from __future__ import annotations

import torch
from torch import nn

from frlbench.config import FRLConfig, TaskSpec
from frlbench.frl.encoding import FrequencyEncoding


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
