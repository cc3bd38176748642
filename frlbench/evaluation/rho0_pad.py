"""ρ0-then-pad: the floor a model run natively on a finer grid must beat.

Zero-shot super-resolution is worth doing only if running a model on the finer grid beats the
obvious alternative: run it on the training grid ρ0 and interpolate its forecast. This module
is that alternative as a forecaster wrapper, scored by the one
:func:`~frlbench.evaluation.evaluate.evaluate` (no second scorer)::

    evaluation = evaluate_with_rho0_pad(ModelForecaster(model, device), data, protocol)

:class:`Rho0ThenPadForecaster` coarsens the input at ρ to ρ0 by the task's own truth
construction (spectral truncation on periodic grids, area-weighted conservative averaging on
lat-lon grids: what makes the stored coarse test grids), runs the model at ρ0, and brings its
forecast to ρ by spectral zero-padding (periodic) or bilinear interpolation (lat-lon,
:func:`~frlbench.evaluation.truth.bilinear_latlon`). It costs one ρ0 forward per test grid.
Every operator here is linear and keeps constants, so it commutes with the per-channel
normalization: the wrapper works in the forecaster's own units.
"""

from __future__ import annotations

import dataclasses

import torch

from frlbench import spectral
from frlbench.data import PairedDataset
from frlbench.evaluation import truth as protocols
from frlbench.evaluation.evaluate import (
    EvalProtocol,
    Evaluation,
    Forecaster,
    NotApplicable,
    Units,
    evaluate,
)
from frlbench.spec import ResolvedTask

#: The metrics of the ρ0-then-pad evaluation (stored as ``rho0_pad_rmse*``).
PAD_METRICS = ("rmse", "rmse_per_trajectory")

__all__ = ["PAD_METRICS", "Rho0ThenPadForecaster", "evaluate_with_rho0_pad", "score_rho0_pad"]


class Rho0ThenPadForecaster:
    """``inner`` run at the training grid on the coarsened input, its forecast brought to the
    test grid (see the module docstring). At ρ0 itself it is ``inner``.

    Args:
        inner: The forecaster (a trained model).
        task: The task at its profile.
        train_resolution: ρ0.
    """

    def __init__(self, inner: Forecaster, task: ResolvedTask, train_resolution: int) -> None:
        self.inner = inner
        self.task = task
        self.train_resolution = train_resolution
        self.name = f"{inner.name} (ρ0-then-pad)"
        self.units: Units = inner.units
        self.exact_at_reference = inner.exact_at_reference

    def forecast(self, states: torch.Tensor, resolution: int) -> torch.Tensor:
        rho0 = self.train_resolution
        if resolution == rho0:
            return self.inner.forecast(states, resolution)
        if resolution < rho0:
            raise NotApplicable(f"ρ0-then-pad: grid {resolution} is coarser than ρ0 = {rho0}")
        task = self.task
        coarse = protocols.coarsen(states, task, protocols.default_truth(task), rho0, resolution)
        out = self.inner.forecast(coarse, rho0)
        if task.geometry.spherical:
            return protocols.bilinear_latlon(out, resolution)
        return spectral.zero_pad(out, task.grid_shape(resolution))


def score_rho0_pad(
    forecaster: Forecaster, data: PairedDataset, protocol: EvalProtocol, evaluation: Evaluation
) -> None:
    """Score :class:`Rho0ThenPadForecaster` around ``forecaster`` on the grids ≥ ρ0 of
    ``protocol`` (one step, RMSE and per-trajectory RMSE) and write the numbers into
    ``evaluation``'s metrics (``rho0_pad_rmse``, ``rho0_pad_rmse_per_trajectory``).

    Only under the task's stored truth construction: under another (an audit's), the coarse
    grids are made otherwise and the comparison would mix two protocols. Nothing is written then.
    """
    task = protocol.task
    rho0 = protocol.train_resolution
    if protocol.truth != protocols.default_truth(task):
        return
    pad_protocol = dataclasses.replace(
        protocol,
        test_resolutions=tuple(r for r in protocol.test_resolutions if r >= rho0),
        rollout_steps=0,
        metrics=PAD_METRICS,
    )
    padded = evaluate(Rho0ThenPadForecaster(forecaster, task, rho0), data, pad_protocol)
    by_resolution = {m.resolution: m for m in padded.metrics}
    for m in evaluation.metrics:
        pad = by_resolution.get(m.resolution)
        if pad is not None:
            m.rho0_pad_rmse = pad.rmse
            m.rho0_pad_rmse_per_trajectory = list(pad.rmse_per_trajectory)


def evaluate_with_rho0_pad(
    forecaster: Forecaster, data: PairedDataset, protocol: EvalProtocol
) -> Evaluation:
    """:func:`~frlbench.evaluation.evaluate.evaluate`, then :func:`score_rho0_pad`: a trained
    model's evaluation with its ρ0-then-pad RMSEs beside the native ones."""
    evaluation = evaluate(forecaster, data, protocol)
    score_rho0_pad(forecaster, data, protocol, evaluation)
    return evaluation
