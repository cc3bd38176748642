"""Cost of the evaluation metrics on 64³ fields (asv; fixed seeds).

:func:`frlbench.metrics.evaluate_fields` computes every per-resolution metric of a forecast
(RMSE, relative L2, seen/unseen band errors, frequency response, per-channel scores) for a
model trained at 16³ and scored at 64³: the spectral work of one test grid of the quick
profile, on 4 samples of 3 channels.
"""

from __future__ import annotations

from typing import ClassVar

import torch

from frlbench.metrics import evaluate_fields
from frlbench.tools.zoo import zoo_task

SEED = 0
SAMPLES = 4
CHANNELS = 3
TRAIN_RESOLUTION = 16


class EvaluateFields:
    """All metrics of one forecast against its truth at 64³."""

    params: ClassVar = [64]
    param_names: ClassVar = ["resolution"]

    def setup(self, resolution: int) -> None:
        self.task = zoo_task(channels=CHANNELS, train_resolution=TRAIN_RESOLUTION)
        gen = torch.Generator().manual_seed(SEED)
        shape = (SAMPLES, CHANNELS, *self.task.grid_shape(resolution))
        self.truth = torch.randn(shape, generator=gen)
        self.pred = self.truth + 0.1 * torch.randn(shape, generator=gen)
        self.evaluate(resolution)  # warm-up (wavenumber grids, FFT plans)

    def evaluate(self, resolution: int) -> None:
        evaluate_fields(self.pred, self.truth, self.task, resolution, TRAIN_RESOLUTION)

    def time_evaluate_fields(self, resolution: int) -> None:
        self.evaluate(resolution)

    def peakmem_evaluate_fields(self, resolution: int) -> None:
        self.evaluate(resolution)
