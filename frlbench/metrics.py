"""Cross-resolution metrics of a forecast against paired ground truth.

Every function takes ``(N, C, *grid)`` tensors in physical units. Wavenumbers come from
:mod:`frlbench.spectral`; band errors split at the *training* Nyquist wavenumber by physical
wavenumber, so "seen" and "unseen" mean the same modes at every test resolution.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from frlbench import spectral
from frlbench.records import ResolutionMetrics
from frlbench.registry import METRICS, register_metric
from frlbench.spec import ResolvedTask
from frlbench.stats import anchoring_slope

__all__ = [
    "Metric",
    "MetricContext",
    "acc",
    "anchoring_slope",
    "band_errors",
    "evaluate_fields",
    "fill_ratios",
    "frequency_response",
    "latitude_weights",
    "latitude_weights_for",
    "rel_l2",
    "rmse",
]


def latitude_weights(nlat: int, *, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """Area weights of equiangular latitude cells (cos of the cell-centre latitude), mean 1.

    As in WeatherBench2, weights are normalized to mean one so a weighted RMSE of a constant
    error equals that constant.
    """
    lat = (torch.arange(nlat, dtype=dtype) + 0.5) * (math.pi / nlat) - math.pi / 2
    weights = torch.cos(lat)
    return weights / weights.mean()


def latitude_weights_for(task: ResolvedTask, x: torch.Tensor) -> torch.Tensor | None:
    """Broadcastable latitude weights for lat-lon tasks, ``None`` on periodic grids."""
    if not task.geometry.spherical:
        return None
    w = latitude_weights(x.shape[-2], dtype=x.dtype).to(x.device)
    return w.reshape(-1, 1)


def rmse(pred: torch.Tensor, truth: torch.Tensor, weights: torch.Tensor | None = None) -> float:
    """Root-mean-square error over every element, area-weighted when ``weights`` is given."""
    sq = (pred - truth) ** 2
    if weights is not None:
        sq = sq * weights
    return float(sq.mean().sqrt())


def rel_l2(pred: torch.Tensor, truth: torch.Tensor) -> float:
    """Relative L2 error per sample, ``||pred - truth|| / ||truth||``, averaged over samples."""
    err = (pred - truth).flatten(1).norm(dim=1)
    ref = truth.flatten(1).norm(dim=1).clamp_min(1e-30)
    return float((err / ref).mean())


def acc(
    pred: torch.Tensor,
    truth: torch.Tensor,
    climatology: torch.Tensor,
    weights: torch.Tensor | None = None,
) -> float:
    """Anomaly correlation coefficient against ``climatology``, per sample and channel, averaged.

    Args:
        pred: Forecast ``(N, C, *grid)``.
        truth: Verifying state ``(N, C, *grid)``.
        climatology: Climatological state broadcastable to ``truth``.
        weights: Optional area weights broadcastable over the grid.
    """
    p = pred - climatology
    t = truth - climatology
    w = torch.ones_like(p) if weights is None else torch.broadcast_to(weights, p.shape)
    dims = tuple(range(2, p.dim()))
    num = (w * p * t).sum(dims)
    den = ((w * p * p).sum(dims) * (w * t * t).sum(dims)).sqrt().clamp_min(1e-30)
    return float((num / den).mean())


def _zonal_power(x: torch.Tensor) -> torch.Tensor:
    """Lat-weighted mean power per zonal wavenumber ``m = 0..nlon/2`` of ``(..., lat, lon)``."""
    nlon = x.shape[-1]
    coeffs = torch.fft.rfft(x, dim=-1)
    power = coeffs.real**2 + coeffs.imag**2
    power[..., 1:] *= 2.0  # negative wavenumbers of a real signal
    if nlon % 2 == 0:
        power[..., -1] /= 2.0  # the Nyquist mode has no negative twin
    power = power / nlon**2
    w = latitude_weights(x.shape[-2], dtype=x.dtype).to(x.device).reshape(-1, 1)
    return (power * w).reshape(-1, power.shape[-1]).mean(dim=0)


def zonal_band_errors(
    pred: torch.Tensor, truth: torch.Tensor, train_resolution: int
) -> tuple[float, float]:
    """Lat-lon band errors by *zonal* wavenumber m (an FFT along each latitude circle).

    "Seen" holds |m| ≤ ρ0/2 (the training grid's longitudinal Nyquist), "unseen" the rest;
    with the latitude weights of :func:`latitude_weights` they sum to the lat-weighted
    ``rmse ** 2`` exactly (Parseval along longitude). A latitude FFT is not a spectrum on
    the sphere, so the split is per-axis (zonal), not by spherical-harmonic degree.
    """
    per_m = _zonal_power(pred - truth)
    seen = torch.arange(len(per_m), device=per_m.device) <= train_resolution // 2
    return float(per_m[seen].sum()), float(per_m[~seen].sum())


def per_variable(
    pred: torch.Tensor,
    truth: torch.Tensor,
    channels: Sequence[str],
    weights: torch.Tensor | None = None,
    climatology: torch.Tensor | None = None,
) -> dict[str, dict[str, float]]:
    """RMSE (and ACC with a climatology) of every channel, by channel name."""
    out = {}
    for c, name in enumerate(channels):
        p, t = pred[:, c : c + 1], truth[:, c : c + 1]
        entry = {"rmse": rmse(p, t, weights)}
        if climatology is not None:
            entry["acc"] = acc(p, t, climatology[..., c : c + 1, :, :], weights)
        out[name] = entry
    return out


def band_errors(
    pred: torch.Tensor, truth: torch.Tensor, task: ResolvedTask, train_resolution: int
) -> tuple[float, float]:
    """Mean squared error seen in training (|k| ≤ training Nyquist, max-norm) and above it.

    On periodic grids the two sum to ``rmse(pred, truth) ** 2`` exactly (Parseval); lat-lon
    grids split by zonal wavenumber (:func:`zonal_band_errors`).
    """
    if task.geometry.spherical:
        return zonal_band_errors(pred, truth, train_resolution)
    ndim = task.ndim
    lengths = task.lengths
    # Per-axis training Nyquist; on a periodic box all axes share one length.
    cutoff = spectral.nyquist_wavenumber(task.grid_shape(train_resolution)[-1], lengths[-1])
    bands = spectral.band_mse(pred - truth, [cutoff], lengths, ndim=ndim, norm="max")
    return float(bands[0]), float(bands[1])


def frequency_response(
    pred: torch.Tensor, truth: torch.Tensor, task: ResolvedTask, train_resolution: int
) -> tuple[list[float], list[float], list[float]]:
    """Energy of the prediction over energy of the truth per wavenumber shell.

    Returns:
        ``(k, ratio, truth_energy)``: shell wavenumbers divided by the training Nyquist
        wavenumber, the energy ratio per shell (1 = right amount of energy at that scale, 0 =
        none) and the truth's own energy per shell. Shells where the truth holds no energy are
        dropped.
    """
    lengths = task.lengths
    if task.geometry.spherical:  # zonal wavenumber m, lat-weighted (see zonal_band_errors)
        e_pred, e_true = _zonal_power(pred), _zonal_power(truth)
        k = torch.arange(len(e_true), dtype=e_true.dtype)
        nyquist = train_resolution / 2
    else:
        k, e_pred = spectral.energy_spectrum(pred, lengths, ndim=task.ndim)
        _, e_true = spectral.energy_spectrum(truth, lengths, ndim=task.ndim)
        nyquist = spectral.nyquist_wavenumber(task.grid_shape(train_resolution)[-1], lengths[-1])
    keep = e_true > 1e-14 * e_true.max()
    keep[0] = False  # the mean carries no scale information
    ratio = e_pred[keep] / e_true[keep]
    return (k[keep] / nyquist).tolist(), ratio.tolist(), e_true[keep].tolist()


@dataclass(frozen=True)
class MetricContext:
    """What a metric may need besides the two fields.

    Attributes:
        task: The task (grid kind, lengths, channel names).
        resolution: The test resolution of the fields.
        train_resolution: ρ0, where band splits sit.
        weights: Broadcastable latitude weights on lat-lon grids, else ``None``.
        climatology: Climatological state for ACC (weather tasks), else ``None``.
        trajectories: Pair indices of each test trajectory, in test trajectory order.
    """

    task: ResolvedTask
    resolution: int
    train_resolution: int
    weights: torch.Tensor | None = None
    climatology: torch.Tensor | None = None
    trajectories: tuple[tuple[int, ...], ...] = ()


class Metric:
    """One metric of a forecast against paired truth, as in WeatherBench2's ``metrics.py``.

    Subclasses set :attr:`name` and implement :meth:`compute`. A metric whose name is a field
    of :class:`~frlbench.records.ResolutionMetrics` fills that field; a metric returning a
    mapping fills one field per key; any other metric's value (a float) lands in
    ``ResolutionMetrics.extra[name]``, which the CSV and report print as a column. Register a
    new one with ``@register_metric("name")`` on the class: nothing else needs editing.
    """

    name: str = ""

    def compute(self, pred: torch.Tensor, truth: torch.Tensor, ctx: MetricContext) -> Any:
        """The metric's value for float64 physical-unit fields ``(N, C, *grid)``."""
        raise NotImplementedError


@register_metric("rmse")
class RMSE(Metric):
    """Root-mean-square error (latitude-weighted on lat-lon grids)."""

    name = "rmse"

    def compute(self, pred, truth, ctx):
        return rmse(pred, truth, ctx.weights)


@register_metric("rel_l2")
class RelativeL2(Metric):
    """Relative L2 error per sample, averaged."""

    name = "rel_l2"

    def compute(self, pred, truth, ctx):
        return rel_l2(pred, truth)


@register_metric("bands")
class BandErrors(Metric):
    """Squared error seen in training and above the training Nyquist."""

    name = "bands"

    def compute(self, pred, truth, ctx):
        seen, unseen = band_errors(pred, truth, ctx.task, ctx.train_resolution)
        return {"mse_seen": seen, "mse_unseen": unseen}


@register_metric("acc")
class ACC(Metric):
    """Anomaly correlation against the climatology (``None`` without one)."""

    name = "acc"

    def compute(self, pred, truth, ctx):
        if ctx.climatology is None:
            return None
        return acc(pred, truth, ctx.climatology.double(), ctx.weights)


@register_metric("frequency_response")
class FrequencyResponse(Metric):
    """Energy of the prediction over that of the truth per wavenumber shell."""

    name = "frequency_response"

    def compute(self, pred, truth, ctx):
        k, response, energy = frequency_response(pred, truth, ctx.task, ctx.train_resolution)
        return {"freq_k": k, "freq_response": response, "freq_truth_energy": energy}


@register_metric("rmse_per_trajectory")
class RMSEPerTrajectory(Metric):
    """RMSE of each test trajectory over its pairs, in trajectory order."""

    name = "rmse_per_trajectory"

    def compute(self, pred, truth, ctx):
        groups = ctx.trajectories or tuple((i,) for i in range(len(pred)))
        return [rmse(pred[list(g)], truth[list(g)], ctx.weights) for g in groups]


@register_metric("bands_per_trajectory")
class BandErrorsPerTrajectory(Metric):
    """:class:`BandErrors` of each test trajectory over its pairs, in trajectory order (what a
    bootstrap over trajectories resamples; seen + unseen = ``rmse_per_trajectory``²)."""

    name = "bands_per_trajectory"

    def compute(self, pred, truth, ctx):
        groups = ctx.trajectories or tuple((i,) for i in range(len(pred)))
        bands = [
            band_errors(pred[list(g)], truth[list(g)], ctx.task, ctx.train_resolution)
            for g in groups
        ]
        return {
            "mse_seen_per_trajectory": [seen for seen, _ in bands],
            "mse_unseen_per_trajectory": [unseen for _, unseen in bands],
        }


@register_metric("per_variable")
class PerVariable(Metric):
    """RMSE per channel (and ACC per channel where a climatology exists), by channel name."""

    name = "per_variable"

    def compute(self, pred, truth, ctx):
        return per_variable(pred, truth, ctx.task.channels, ctx.weights, ctx.climatology)


def evaluate_fields(
    pred: torch.Tensor,
    truth: torch.Tensor,
    task: ResolvedTask,
    resolution: int,
    train_resolution: int,
    *,
    climatology: torch.Tensor | None = None,
    trajectories: Sequence[Sequence[int]] = (),
    names: Sequence[str] = (),
) -> ResolutionMetrics:
    """The metrics ``names`` of a forecast, every registered one by default (ratios are filled
    by :func:`fill_ratios`).

    Args:
        pred: Forecast in physical units ``(N, C, *grid)``.
        truth: Paired ground truth in physical units, same shape.
        task: The task (grid kind, lengths).
        resolution: The test resolution of ``pred``.
        train_resolution: ρ0, where the band split sits.
        climatology: For weather tasks, the climatology for ACC.
        trajectories: Pair indices of each test trajectory (default: one pair each).
        names: Registered metrics to compute (default: all of them).

    Raises:
        UnknownNameError: For a name that is not a registered metric.
    """
    if pred.shape != truth.shape:
        raise ValueError(f"prediction shape {tuple(pred.shape)} != truth {tuple(truth.shape)}")
    pred = pred.double()
    truth = truth.double()
    if climatology is not None:
        climatology = climatology.double().to(truth.device)
        if climatology.dim() == truth.dim() - 1:
            climatology = climatology.unsqueeze(0)
    ctx = MetricContext(
        task=task,
        resolution=resolution,
        train_resolution=train_resolution,
        weights=latitude_weights_for(task, truth),
        climatology=climatology,
        trajectories=tuple(tuple(t) for t in trajectories),
    )
    fields = {f.name for f in dataclasses.fields(ResolutionMetrics)}
    result = ResolutionMetrics(resolution=resolution, rmse=math.nan, rel_l2=math.nan)
    for name in names or list(METRICS):
        value = METRICS.get(name)().compute(pred, truth, ctx)
        if isinstance(value, dict) and value and set(value) <= fields:
            for key, item in value.items():
                setattr(result, key, item)
        elif name in fields:
            setattr(result, name, value)
        else:
            result.extra[name] = float(value)
    return result


def fill_ratios(metrics: Sequence[ResolutionMetrics], train_resolution: int) -> float:
    """Set ``rmse_ratio`` on every entry and return the anchoring slope over them.

    Raises:
        ValueError: If the training resolution was not evaluated.
    """
    base = next((m for m in metrics if m.resolution == train_resolution), None)
    if base is None:
        raise ValueError(f"training resolution {train_resolution} was not evaluated")
    for m in metrics:
        m.rmse_ratio = m.rmse / base.rmse if base.rmse > 0 else math.nan
    return anchoring_slope([m.resolution for m in metrics], [m.rmse for m in metrics])
