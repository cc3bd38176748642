"""Cost of every registered backbone (asv benchmarks; fixed seeds, warm-up in ``setup``).

* :class:`TrainStep`: one Adam step at the quick profile's training setting (16³ grid,
  3 channels, batch 8) for the tiny and small sizes.
* :class:`Inference`: one forward pass at 4x the training resolution (64³, batch 1) for the
  small size: the zero-shot super-resolution setting, which must fit in 4 GB on CPU.
* :class:`ForwardBackward`: forward + backward of a mean-square loss (no optimizer step) for
  ``tiny`` and ``small`` at the training resolution (16³, batch 8) and for ``tiny`` at 4x
  (64³, batch 1); ``small`` at 64³ takes 3-13 s per pass on CPU (docs/model_zoo.md) and is
  skipped to keep ``asv run --quick`` within minutes.

Backbones are parametrized over the whole registry, so a new one is benchmarked the day it
is added. The full table of every size, with memory measured per subprocess, is produced by
``python -m frlbench.tools.zoo`` (docs/model_zoo.md).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from frlbench.catalog import discover_plugins
from frlbench.models import create_backbone
from frlbench.registry import BACKBONES
from frlbench.tools.zoo import zoo_task

discover_plugins()

TRAIN_RESOLUTION = 16
TEST_RESOLUTION = 4 * TRAIN_RESOLUTION
CHANNELS = 3
BATCH = 8
SEED = 0


def _batch(batch: int, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(SEED)
    shape = (batch, CHANNELS, *([resolution] * 3))
    return torch.randn(shape, generator=generator), torch.randn(shape, generator=generator)


class TrainStep:
    """One optimiser step at 16³, batch 8 (the quick profile's training step)."""

    params: ClassVar = (BACKBONES.list(), ["tiny", "small"])
    param_names: ClassVar = ["backbone", "size"]
    timeout = 300

    def setup(self, backbone: str, size: str) -> None:
        torch.manual_seed(SEED)
        self.model = create_backbone(backbone, zoo_task(), CHANNELS, CHANNELS, size=size)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.x, self.y = _batch(BATCH, TRAIN_RESOLUTION)
        self.step()  # warm-up

    def step(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(self.model(self.x), self.y).backward()
        self.optimizer.step()

    def time_train_step(self, backbone: str, size: str) -> None:
        self.step()

    def peakmem_train_step(self, backbone: str, size: str) -> None:
        self.step()


class Inference:
    """One forward pass at 64³, batch 1, small size (zero-shot super-resolution)."""

    params: ClassVar = (BACKBONES.list(), ["small"])
    param_names: ClassVar = ["backbone", "size"]
    number = 1
    repeat = (1, 3, 30.0)
    timeout = 600

    def setup(self, backbone: str, size: str) -> None:
        torch.manual_seed(SEED)
        self.model = create_backbone(backbone, zoo_task(), CHANNELS, CHANNELS, size=size)
        self.model.eval()
        self.x, _ = _batch(1, TEST_RESOLUTION)
        self.forward()  # warm-up

    def forward(self) -> None:
        with torch.no_grad():
            self.model(self.x)

    def time_forward(self, backbone: str, size: str) -> None:
        self.forward()

    def peakmem_forward(self, backbone: str, size: str) -> None:
        self.forward()


class ForwardBackward:
    """Forward + backward of the MSE loss at the training resolution and at 4x."""

    params: ClassVar = (BACKBONES.list(), ["tiny", "small"], [TRAIN_RESOLUTION, TEST_RESOLUTION])
    param_names: ClassVar = ["backbone", "size", "resolution"]
    timeout = 300

    def setup(self, backbone: str, size: str, resolution: int) -> None:
        if size != "tiny" and resolution != TRAIN_RESOLUTION:
            raise NotImplementedError("only tiny at 4x the training resolution (CPU time)")
        torch.manual_seed(SEED)
        self.model = create_backbone(backbone, zoo_task(), CHANNELS, CHANNELS, size=size)
        batch = BATCH if resolution == TRAIN_RESOLUTION else 1
        self.x, self.y = _batch(batch, resolution)
        self.forward_backward()  # warm-up

    def forward_backward(self) -> None:
        self.model.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(self.model(self.x), self.y).backward()

    def time_forward_backward(self, backbone: str, size: str, resolution: int) -> None:
        self.forward_backward()

    def peakmem_forward_backward(self, backbone: str, size: str, resolution: int) -> None:
        self.forward_backward()
