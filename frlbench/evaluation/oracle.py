"""The ρ0-band oracle: the truth band-limited to the training Nyquist, as a forecaster.

A model trained at ρ0 can at best be perfect on every mode the training grid holds. The oracle
forecasts exactly that: the paired target with every mode above the training Nyquist removed
(the seen band of :func:`frlbench.metrics.band_errors`: max-norm |k| ≤ ρ0/2 on periodic grids,
zonal wavenumber m ≤ ρ0/2 on lat-lon grids). Its error is the target's unseen band, so its
RMSE at a test grid is the root of the target's power above the training Nyquist there, and
zero at ρ0. It is scored by the one :func:`~frlbench.evaluation.evaluate.evaluate` like any
forecaster, as a reference row (:mod:`frlbench.runner.reference`).

It knows the future, so it can only forecast the stored test pairs: each input must be a test
input of the dataset (in order, as :func:`~frlbench.evaluation.evaluate.evaluate` passes them);
anything else (a rollout's own forecast, another truth construction's grids) is refused.
"""

from __future__ import annotations

import torch

from frlbench import spectral
from frlbench.data import PairedDataset
from frlbench.evaluation.evaluate import NotApplicable, Units
from frlbench.evaluation.truth import energy_above_nyquist
from frlbench.records import ResolutionMetrics
from frlbench.spec import ResolvedTask

__all__ = ["BAND_ORACLE", "BandOracleForecaster", "band_limit", "record_target_energy"]

#: The oracle's reference name.
BAND_ORACLE = "band-oracle"


def band_limit(fields: torch.Tensor, task: ResolvedTask, train_resolution: int) -> torch.Tensor:
    """``fields`` ``(N, C, *grid)`` with every mode above the training Nyquist set to zero
    (the split of :func:`frlbench.metrics.band_errors`)."""
    if task.geometry.spherical:
        coeffs = torch.fft.rfft(fields, dim=-1)
        coeffs[..., train_resolution // 2 + 1 :] = 0
        return torch.fft.irfft(coeffs, n=fields.shape[-1], dim=-1)
    ndim = task.ndim
    lengths = task.lengths
    cutoff = spectral.nyquist_wavenumber(task.grid_shape(train_resolution)[-1], lengths[-1])
    shape = tuple(fields.shape[-ndim:])
    seen = spectral.band_masks(shape, [cutoff], lengths, norm="max", device=fields.device)[0]
    dims = tuple(range(fields.dim() - ndim, fields.dim()))
    coeffs = torch.fft.fftn(fields, dim=dims) * seen.to(fields.dtype)
    return torch.fft.ifftn(coeffs, dim=dims).real.to(fields.dtype)


class BandOracleForecaster:
    """The stored test targets, band-limited to the training Nyquist.

    Args:
        data: The dataset whose test split is scored (physical units come from its statistics).
        task: The task at its profile.
    """

    name = BAND_ORACLE
    units: Units = "physical"
    exact_at_reference = False

    def __init__(self, data: PairedDataset, task: ResolvedTask) -> None:
        self.data, self.task = data, task

    def forecast(self, states: torch.Tensor, resolution: int) -> torch.Tensor:
        test = self.data.splits["test"]
        if resolution not in test.inputs:
            raise NotApplicable(f"{self.name}: grid {resolution} is not in the test split")
        n = len(states)
        inputs = self.data.denormalize(test.inputs[resolution][:n].double())
        if states.shape != inputs.shape or not torch.equal(states.double(), inputs):
            raise NotApplicable(
                f"{self.name} forecasts only the stored test pairs, in order, under the "
                "stored truth construction (no rollout, no other construction)"
            )
        targets = self.data.denormalize(test.targets[resolution][:n].double())
        return band_limit(targets, self.task, self.data.train_resolution)


def record_target_energy(
    metrics: list[ResolutionMetrics], data: PairedDataset, task: ResolvedTask
) -> None:
    """Set ``target_energy_above_nyquist`` on each grid's metrics: the share of the test
    targets' energy above the training Nyquist (:func:`~frlbench.evaluation.truth.
    energy_above_nyquist`), what the oracle's row is read beside."""
    test = data.splits["test"]
    for m in metrics:
        targets = data.denormalize(test.targets[m.resolution].double())
        m.target_energy_above_nyquist = energy_above_nyquist(targets, task, data.train_resolution)
