"""Truth construction and normalization as evaluation options (the protocol audit, issue 16).

How the coarse test fields are made from the reference grid decides what an RMSE_Ratio means.
Every operator here is applied to the stored test fields at the reference (finest) resolution,
to inputs and targets alike, so a model's input is always built by the same operator as its
truth:

Periodic grids (fluid3d):
    ``truncation`` (default): spectral truncation to the coarse grid's modes; exactly what the
        dataset stores (the builder made its coarse grids this way), so the default evaluation
        uses the stored fields unchanged and reproduces the leaderboard bit for bit.
    ``subsample``: point subsampling of the reference grid at power-of-two strides. Every mode
        above the coarse Nyquist aliases into the resolved band (:func:`aliased_energy`).
    ``box``: the mean of each ``stride``³ cell block (a finite-volume average).
    ``paper-grid``: image-style grids. The reference field on ``n`` points is extended to
        ``n + 1`` by repeating the periodic endpoint and subsampled at strides 1, 2, 3, 4
        (``n // s + 1`` points: 65, 33, 22, 17 from 64³; 129, 65, 43, 33 from 128³), then
        treated as a plain image. A stride that does not divide ``n`` gives a grid that is not
        uniform on the torus (its last interval is shorter), and every grid of the family holds
        one point twice over a period; that is part of what the audit measures. RMSE_Ratio is
        taken against the family member nearest the training resolution (17 for ρ0 = 16).

Lat-lon grids (era5):
    ``conservative`` (default): area-weighted averaging, what the dataset stores.
    ``bilinear``: linear interpolation from the reference cell centres to the coarse ones
        (periodic in longitude).
    ``subsample``: point subsampling: every ``stride``-th longitude (they coincide) and the
        reference row nearest each coarse cell centre (ties to the north, half a fine cell off).

Normalization: ``train`` (default) keeps the statistics of the training inputs at the training
resolution; ``per-resolution`` recomputes them on each evaluated grid's own test inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from frlbench import metrics, spectral
from frlbench.data.base import PairedDataset, PairedSplit, channel_stats
from frlbench.data.latlon import model_grid_regridder, model_latitudes, regular_longitudes
from frlbench.geometry import GEOMETRIES
from frlbench.spec import ResolvedTask

#: Truth constructions by task grid kind; the first is the default (what the builders store).
TRUTHS: dict[str, tuple[str, ...]] = {g.name: g.truths for g in GEOMETRIES.values()}
#: Normalizations; the first is the default.
NORMALIZATIONS = ("train", "per-resolution")
#: Strides of the paper-style grid family.
PAPER_GRID_STRIDES = (1, 2, 3, 4)


def all_truths() -> tuple[str, ...]:
    """Every truth construction of any grid kind, in order, without repeats."""
    return tuple(dict.fromkeys(name for names in TRUTHS.values() for name in names))


def truths_for(task: ResolvedTask) -> tuple[str, ...]:
    """The truth constructions that apply to ``task``'s grid, default first."""
    return task.geometry.truths


def default_truth(task: ResolvedTask) -> str:
    """The truth construction the task's builder stores."""
    return truths_for(task)[0]


def check_truth(task: ResolvedTask, name: str) -> str:
    """``name`` if it is a truth construction of ``task``'s grid.

    Raises:
        ValueError: Naming the valid constructions.
    """
    valid = truths_for(task)
    if name not in valid:
        raise ValueError(
            f"truth construction {name!r} does not apply to task {task.name!r} "
            f"({task.grid} grid); valid: {', '.join(valid)}"
        )
    return name


def check_normalization(name: str) -> str:
    """``name`` if it is a normalization.

    Raises:
        ValueError: Naming the valid ones.
    """
    if name not in NORMALIZATIONS:
        raise ValueError(f"normalization {name!r} is unknown; valid: {', '.join(NORMALIZATIONS)}")
    return name


def _stride(truth: str, resolution: int, reference_resolution: int) -> int:
    """Stride from the reference grid to ``resolution``; a power of two for the point and
    cell operators.

    Raises:
        ValueError: If ``resolution`` is not the reference divided by a power of two.
    """
    stride = reference_resolution // max(resolution, 1)
    if stride * resolution != reference_resolution or stride & (stride - 1):
        raise ValueError(
            f"truth construction {truth!r}: resolution {resolution} is not the reference "
            f"resolution {reference_resolution} divided by a power of two"
        )
    return stride


def truth_resolutions(
    task: ResolvedTask, truth: str, test_resolutions: Sequence[int], reference_resolution: int
) -> tuple[int, ...]:
    """The grids scored under ``truth``, ascending: the test resolutions, or for
    ``paper-grid`` the family ``n // s + 1`` for strides 1 to 4 of the reference grid.

    Raises:
        ValueError: If a test resolution cannot be made by ``truth`` (see :func:`coarsen`).
    """
    check_truth(task, truth)
    if truth == "paper-grid":
        return tuple(sorted({reference_resolution // s + 1 for s in PAPER_GRID_STRIDES}))
    if truth in ("subsample", "box"):
        for r in test_resolutions:
            _stride(truth, r, reference_resolution)
    return tuple(sorted(test_resolutions))


def ratio_resolution(truth: str, resolutions: Sequence[int], train_resolution: int) -> int:
    """The RMSE_Ratio denominator: the training resolution, or for ``paper-grid`` the
    family member nearest it (the coarser one on a tie)."""
    if truth != "paper-grid":
        return train_resolution
    return min(resolutions, key=lambda r: (abs(r - train_resolution), r))


def subsample_periodic(x: torch.Tensor, stride: int, ndim: int) -> torch.Tensor:
    """Every ``stride``-th point of the last ``ndim`` axes."""
    index = (Ellipsis, *(slice(None, None, stride),) * ndim)
    return x[index]


def box_average(x: torch.Tensor, stride: int, ndim: int) -> torch.Tensor:
    """Mean of each ``stride``-wide cell block of the last ``ndim`` axes."""
    lead = x.shape[: x.dim() - ndim]
    shape = list(lead)
    for n in x.shape[x.dim() - ndim :]:
        shape += [n // stride, stride]
    blocks = x.reshape(shape)
    return blocks.mean(dim=tuple(len(lead) + 2 * i + 1 for i in range(ndim)))


def paper_grid(x: torch.Tensor, size: int, ndim: int) -> torch.Tensor:
    """The image-style grid of ``size`` points per axis (see the module docstring): the
    periodic field extended to ``n + 1`` points, then every ``s``-th point with
    ``size = n // s + 1``.

    Raises:
        ValueError: If ``size`` is not of that form for a stride in 1 to 4.
    """
    n = x.shape[-1]
    stride = next((s for s in PAPER_GRID_STRIDES if n // s + 1 == size), None)
    if stride is None:
        valid = ", ".join(str(n // s + 1) for s in PAPER_GRID_STRIDES)
        raise ValueError(f"paper-grid: size {size} is not one of {valid} for a {n}-point grid")
    for axis in range(x.dim() - ndim, x.dim()):
        x = torch.cat([x, x.narrow(axis, 0, 1)], dim=axis)
    return subsample_periodic(x, stride, ndim)


def _linear_matrix(src: np.ndarray, dst: np.ndarray, period: float | None) -> torch.Tensor:
    """``(len(dst), len(src))`` linear-interpolation weights on ascending ``src`` points
    (periodic with ``period``, else clamped at the ends)."""
    out = np.zeros((len(dst), len(src)))
    if period is not None:
        step = period / len(src)
        pos = ((dst - src[0]) % period) / step
        lo = np.floor(pos).astype(int)
        frac = pos - lo
        out[np.arange(len(dst)), lo % len(src)] += 1 - frac
        out[np.arange(len(dst)), (lo + 1) % len(src)] += frac
        return torch.from_numpy(out)
    lo = np.clip(np.searchsorted(src, dst) - 1, 0, len(src) - 2)
    frac = np.clip((dst - src[lo]) / (src[lo + 1] - src[lo]), 0.0, 1.0)
    out[np.arange(len(dst)), lo] += 1 - frac
    out[np.arange(len(dst)), lo + 1] += frac
    return torch.from_numpy(out)


def bilinear_latlon(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """Linear interpolation of model-grid fields ``(..., n/2, n)`` to the model grid at
    ``resolution`` (latitudes clamped, longitudes periodic)."""
    nlat, nlon = x.shape[-2:]
    lat = _linear_matrix(model_latitudes(nlat), model_latitudes(resolution // 2), None)
    lon = _linear_matrix(regular_longitudes(nlon), regular_longitudes(resolution), 360.0)
    return torch.einsum("ij,...jk,lk->...il", lat.to(x), x, lon.to(x))


def subsample_latlon(x: torch.Tensor, stride: int) -> torch.Tensor:
    """Every ``stride``-th longitude, and the reference row nearest each coarse cell centre
    (ties to the north)."""
    return x[..., stride // 2 :: stride, ::stride]


def coarsen(
    x: torch.Tensor, task: ResolvedTask, truth: str, resolution: int, reference_resolution: int
) -> torch.Tensor:
    """Make fields ``(..., *grid)`` at ``reference_resolution`` into the grid ``resolution``
    by the truth construction ``truth`` (identity at the reference resolution, except for
    ``paper-grid``, whose grids all differ from it).

    Raises:
        ValueError: For a construction or resolution that does not apply.
    """
    check_truth(task, truth)
    if truth == "paper-grid":
        return paper_grid(x, resolution, task.ndim)
    if resolution == reference_resolution:
        return x
    if truth == "truncation":
        return spectral.truncate(x, task.grid_shape(resolution))
    if truth == "conservative":
        shape = task.grid_shape(resolution)
        return model_grid_regridder(tuple(x.shape[-2:]), shape)(x)
    if truth == "bilinear":
        return bilinear_latlon(x, resolution)
    stride = _stride(truth, resolution, reference_resolution)
    if truth == "box":
        return box_average(x, stride, task.ndim)
    if task.geometry.spherical:
        return subsample_latlon(x, stride)
    return subsample_periodic(x, stride, task.ndim)


def trajectory_subset(split: PairedSplit, n_trajectories: int) -> list[int]:
    """Pair indices of the first ``n_trajectories`` test trajectories (all for 0), in order."""
    seeds = split.sample_seeds or list(range(len(split)))
    keep = list(dict.fromkeys(seeds))
    if n_trajectories > 0:
        keep = keep[:n_trajectories]
    chosen = set(keep)
    return [i for i, s in enumerate(seeds) if s in chosen]


def protocol_views(
    data: PairedDataset,
    task: ResolvedTask,
    *,
    truth: str,
    normalization: str,
    resolutions: Sequence[int],
    reference_resolution: int,
    n_trajectories: int = 0,
) -> dict[int, PairedDataset]:
    """For each scored grid, a dataset whose test split holds that grid's pairs under the
    protocol, normalized by the protocol's statistics (its ``normalize``/``denormalize``).

    The default (stored truth, training statistics, every trajectory) returns ``data`` itself
    for every grid, so that evaluation is bit for bit the stored one.
    """
    check_normalization(normalization)
    test = data.splits["test"]
    stored = truth == default_truth(task)
    if stored and normalization == "train" and n_trajectories == 0:
        return {r: data for r in resolutions}
    keep = trajectory_subset(test, n_trajectories)
    seeds = [test.sample_seeds[i] for i in keep] if test.sample_seeds else []
    views = {}
    for r in resolutions:
        source = r if stored else reference_resolution
        if stored and normalization == "train":
            inputs, targets = test.inputs[r][keep], test.targets[r][keep]
            mean, std = data.mean, data.std
        else:
            made = [
                _physical(data, t[source][keep], task, truth, r, source)
                for t in (test.inputs, test.targets)
            ]
            if normalization == "train":
                mean, std = data.mean, data.std
            else:
                mean, std = (s.to(data.mean.dtype) for s in channel_stats(made[0]))
            scale = PairedDataset(data.task, data.profile, data.train_resolution, {}, mean, std)
            dtype = test.inputs[source].dtype
            inputs, targets = (scale.normalize(f).to(dtype) for f in made)
        climatology = data.climatology.get(source)
        if climatology is not None and not stored:
            climatology = coarsen(climatology, task, truth, r, reference_resolution)
        views[r] = PairedDataset(
            task=data.task,
            profile=data.profile,
            train_resolution=data.train_resolution,
            splits={"test": PairedSplit({r: inputs}, {r: targets}, seeds)},
            mean=mean,
            std=std,
            metadata=data.metadata,
            climatology={} if climatology is None else {r: climatology},
        )
    return views


def _physical(
    data: PairedDataset,
    x: torch.Tensor,
    task: ResolvedTask,
    truth: str,
    resolution: int,
    source: int,
) -> torch.Tensor:
    """Stored normalized fields at ``source`` in float64 physical units, made into the grid
    ``resolution`` by ``truth`` (unchanged when ``source`` is that grid already)."""
    phys = data.denormalize(x.double())
    if source == resolution and truth != "paper-grid":
        return phys
    return coarsen(phys, task, truth, resolution, source)


def _anomaly(fields: torch.Tensor, task: ResolvedTask) -> torch.Tensor:
    """``fields`` minus each sample's and channel's spatial mean."""
    dims = tuple(range(fields.dim() - task.ndim, fields.dim()))
    return fields - fields.mean(dim=dims, keepdim=True)


def _energy(fields: torch.Tensor, task: ResolvedTask) -> float:
    """Mean square (latitude-weighted on lat-lon grids)."""
    return (
        metrics.rmse(fields, torch.zeros_like(fields), metrics.latitude_weights_for(task, fields))
        ** 2
    )


def energy_above_nyquist(fields: torch.Tensor, task: ResolvedTask, train_resolution: int) -> float:
    """Fraction of the energy of ``fields`` ``(N, C, *grid)`` (spatial means removed) in modes
    above the training Nyquist: max-norm wavenumber on periodic grids, zonal wavenumber on
    lat-lon grids (the split of :func:`frlbench.metrics.band_errors`)."""
    anomaly = _anomaly(fields.double(), task)
    seen, unseen = metrics.band_errors(anomaly, torch.zeros_like(anomaly), task, train_resolution)
    total = seen + unseen
    return unseen / total if total > 0 else math.nan


def aliased_energy(
    fields: torch.Tensor, task: ResolvedTask, resolution: int, reference_resolution: int
) -> float:
    """Energy that point subsampling of reference fields to ``resolution`` aliases into the
    resolved band, as a fraction of the fields' energy (spatial means removed).

    Subsampling equals spectral truncation plus every mode above the coarse Nyquist folded onto
    its alias, so the mean square of ``subsample - truncation`` is exactly the folded energy
    (when no two folded modes land on one alias). On lat-lon grids this is measured along
    longitude (zonal wavenumbers, the split of :func:`frlbench.metrics.zonal_band_errors`) on
    the reference latitudes, latitude-weighted: latitude has no Fourier basis to alias in.
    """
    anomaly = _anomaly(fields.double(), task)
    stride = _stride("subsample", resolution, reference_resolution)
    if task.geometry.spherical:
        made = anomaly[..., ::stride]
        stored = spectral.truncate(anomaly, (anomaly.shape[-1] // stride,))
    else:
        made = subsample_periodic(anomaly, stride, task.ndim)
        stored = spectral.truncate(anomaly, task.grid_shape(resolution))
    total = _energy(anomaly, task)
    return _energy(made - stored, task) / total if total > 0 else math.nan
