"""Step 1 of FRL: multi-resolution levels built from each training batch.

From a batch at the training resolution ρ0, level ``j`` is the batch at ``ρ0 / 2^j`` for
``j = 0..J`` (``J = cfg.levels``), made with the operator that made the data: spectral
truncation (:func:`frlbench.spectral.truncate`) on periodic grids. Every level is truncated
directly from level 0, so level ``j`` *is* ``truncate(batch, grid_j)``, the coarse truth the
dataset itself would hold at that resolution (inputs and targets alike).

On lat-lon grids level ``j`` is the conservative (area-weighted) average of level 0 to the
model grid ``ρ0/2^j × ρ0/2^{j+1}`` (:func:`frlbench.data.latlon.model_grid_regridder`), the
operator the era5 builder uses for its own coarse grids. Latitude cells of the model grids nest
exactly under halving; longitude cells (centred on ``λ = 0``) do not, so a level is the average
of the training grid, which can differ slightly from the dataset's average of the native grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from frlbench import spectral
from frlbench.data.latlon import model_grid_regridder
from frlbench.geometry import PERIODIC, Geometry
from frlbench.spec import FRLConfig, InvalidValue, TaskSpec


def max_levels(train_resolution: int, min_resolution: int) -> int:
    """Largest ``J`` such that every ``ρ0 / 2^j``, ``j <= J``, is an integer ``>= min_resolution``.

    Returns -1 when ``train_resolution < min_resolution`` (not even level 0 is allowed).
    """
    if train_resolution < min_resolution:
        return -1
    levels, resolution = 0, train_resolution
    while resolution % 2 == 0 and resolution // 2 >= min_resolution:
        levels, resolution = levels + 1, resolution // 2
    return levels


def level_resolutions(train_resolution: int, levels: int, min_resolution: int) -> tuple[int, ...]:
    """Resolutions ``ρ0 / 2^j`` for ``j = 0..levels``, finest first.

    Raises:
        InvalidValue: On key ``'levels'`` (with the valid range) when ``ρ0 / 2^levels`` is not an
            integer ``>= min_resolution`` -- more levels than the grid allows -- or on key
            ``'min_resolution'`` when ``min_resolution`` exceeds ρ0 itself.
    """
    allowed = max_levels(train_resolution, min_resolution)
    if allowed < 0:
        raise InvalidValue(
            "min_resolution",
            min_resolution,
            f"<= train_resolution ({train_resolution}); more levels than the grid allows: "
            "even level 0 is below min_resolution",
        )
    if levels > allowed:
        raise InvalidValue(
            "levels",
            levels,
            f"0..{allowed} -- more levels than the grid allows: train_resolution "
            f"{train_resolution} halves into integer grids >= min_resolution {min_resolution} "
            f"only {allowed} time(s); lower 'levels' or 'min_resolution'",
        )
    return tuple(train_resolution // 2**j for j in range(levels + 1))


def level_shapes(
    cfg: FRLConfig, task: TaskSpec, train_resolution: int
) -> tuple[tuple[int, ...], ...]:
    """Grid shapes of the multires levels of ``task`` (just ρ0 when ``cfg.multires`` is off).

    Raises:
        InvalidValue: More levels than the grid allows (see :func:`level_resolutions`).
    """
    if not cfg.multires:
        return (task.grid_shape(train_resolution),)
    resolutions = level_resolutions(train_resolution, cfg.levels, cfg.min_resolution)
    return tuple(task.grid_shape(r) for r in resolutions)


def coarsen(x: torch.Tensor, shape: Sequence[int], geometry: Geometry = PERIODIC) -> torch.Tensor:
    """``x`` on a coarser grid by the data's own operator: spectral truncation on periodic
    grids, conservative area-weighted averaging on lat-lon grids."""
    if geometry.spherical:
        src = tuple(x.shape[-2:])
        return model_grid_regridder(src, tuple(shape))(x)
    return spectral.truncate(x, shape)


def build_levels(
    x: torch.Tensor, shapes: Sequence[Sequence[int]], geometry: Geometry = PERIODIC
) -> list[torch.Tensor]:
    """The batch ``x`` (``(B, C, *grid)``, at ``shapes[0]``) coarsened to every level's grid.

    Level 0 is ``x`` itself (no copy); level ``j`` is ``coarsen(x, shapes[j], geometry)``.
    """
    grid_shape = tuple(x.shape[x.dim() - len(shapes[0]) :])
    if grid_shape != tuple(shapes[0]):
        raise ValueError(f"batch grid {grid_shape} is not the training grid {tuple(shapes[0])}")
    return [x, *(coarsen(x, shape, geometry) for shape in shapes[1:])]
