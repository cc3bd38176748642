"""Step 2 of FRL: Nyquist-normalized frequency encoding channels.

For every spatial axis of ``n`` points and length ``L`` and every ``m = 1..M`` the encoding
holds ``cos(k_m x)`` and ``sin(k_m x)`` at the grid points ``x_i``, with

* ``"nyquist"`` convention (default): ``k_m = (m / M) · k_Nyq(n)``, a fixed fraction of *this*
  grid's Nyquist wavenumber ``π n / L`` (:func:`frlbench.spectral.nyquist_wavenumber`). On a
  periodic axis (``x_i = i L / n``) the phase is ``k_m x_i = π m i / M`` whatever ``n`` is, so
  "0.8 of Nyquist" gives the same features on every grid, and the top frequency ``m = M`` is the
  grid's Nyquist mode ``cos(π i) = (-1)^i``;
* ``"physical"`` convention (ablation): ``k_m = (m / M) · k_Nyq(n0)`` with ``n0`` points on the
  *training* grid's axis, a fixed physical wavenumber on every grid (aliased on grids coarser
  than the training grid).

One channel of the top frequency is dropped: under the ``"nyquist"`` convention one of
``cos(k_M x)``, ``sin(k_M x)`` is identically zero on every grid (the sine, ``sin(π i)``, on a
periodic axis), a channel that carries nothing. Under the ``"physical"`` convention it is zero on
the training grid but not on finer test grids, so a kept channel would reach the backbone through
weights that training never updated. Dropping it gives ``2M - 1`` channels per axis under both
conventions, the same count on every grid.

Phases are reduced modulo 2π in integer arithmetic before the cosine and sine, so equal
normalized frequencies give bit-identical features on every grid. On a periodic axis the
features are periodic (exact Fourier modes) when ``M`` divides ``n / 2``; on coarser grids the
fractional frequencies are plain sinusoids sampled on the grid.

Lat-lon grids use each axis's own Nyquist (``n_lat`` points over π, ``n_lon`` over 2π).
Latitudes are cell centres ``x_i = (i + 1/2) L / n`` (as in :mod:`frlbench.models.common`), so
there the top-frequency *cosine* is the zero channel that is dropped.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from frlbench.spec import FRLConfig, TaskSpec

# Encodings kept per wrapper, keyed by (grid shape, device, dtype); a run touches a handful.
_CACHE_SIZE = 16


def channels_per_axis(frequencies: int) -> int:
    """Encoding channels per spatial axis: ``M`` cosines and ``M - 1`` sines."""
    return 2 * frequencies - 1


def encoding_channels(cfg: FRLConfig, task: TaskSpec) -> int:
    """Extra input channels the encoding appends (0 when ``cfg.encoding`` is off).

    Backbones are built with ``len(task.channels) + encoding_channels(cfg, task)`` inputs.
    """
    if not cfg.encoding:
        return 0
    return task.ndim * channels_per_axis(cfg.encoding_frequencies)


def axis_features(
    n: int,
    frequencies: int,
    *,
    reference_points: int | None = None,
    centred: bool = False,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Encoding of one axis of ``n`` points, shape ``(2M - 1, n)``.

    Rows are ``cos_1..cos_M`` then ``sin_1..sin_M`` with the top-frequency zero channel dropped
    (``sin_M``; ``cos_M`` when ``centred``). Row ``m`` has wavenumber
    ``(m / M) · k_Nyq(reference_points)``: ``reference_points = n`` (the default) is the
    Nyquist-normalized encoding, ``reference_points = n0`` the fixed-physical-frequency one. The
    axis length cancels: the phase at point ``i`` is ``π m (i + δ) n0 / (M n)``, ``δ = 1/2``
    for cell-centred axes (latitude) and 0 otherwise.

    Args:
        n: Points on the axis.
        frequencies: ``M >= 1``.
        reference_points: Points ``n0`` of the grid whose Nyquist sets the frequencies.
        centred: Points at cell centres ``(i + 1/2) L / n`` instead of ``i L / n``.
        dtype: Floating dtype of the result.
        device: Device of the result.
    """
    if frequencies < 1:
        raise ValueError(f"encoding_frequencies must be >= 1, got {frequencies}")
    n0 = n if reference_points is None else reference_points
    m = torch.arange(1, frequencies + 1, dtype=torch.int64).unsqueeze(1)
    position = 2 * torch.arange(n, dtype=torch.int64).unsqueeze(0) + int(centred)  # 2(i + δ)
    # phase = π · r / (2 M n) with r = m · 2(i + δ) · n0 mod 4Mn: exact reduction modulo 2π.
    r = m * position * n0 % (4 * frequencies * n)
    phase = r.to(torch.float64) * (math.pi / (2 * frequencies * n))
    cos, sin = torch.cos(phase), torch.sin(phase)
    rows = torch.cat([cos[:-1], sin]) if centred else torch.cat([cos, sin[:-1]])
    return rows.to(dtype=dtype, device=device)


class FrequencyEncoding(nn.Module):
    """Appends the frequency-encoding channels to a ``(B, C, *grid)`` input, for any grid.

    The features depend only on the grid shape, so they are built once per
    (shape, device, dtype) and reused; a forward pass costs one concatenation.

    Args:
        cfg: FRL configuration (``encoding_frequencies``, ``encoding_convention``).
        task: The task (spatial dims and grid kind).
        train_resolution: ρ0, used by the ``"physical"`` convention.
    """

    def __init__(self, cfg: FRLConfig, task: TaskSpec, train_resolution: int) -> None:
        super().__init__()
        self.ndim = task.ndim
        self.frequencies = cfg.encoding_frequencies
        self.convention = cfg.encoding_convention
        self.train_shape = task.grid_shape(train_resolution)
        # Latitude (axis 0 of a lat-lon grid) is cell-centred; every other axis starts at 0.
        self.centred = tuple(task.geometry.spherical and axis == 0 for axis in range(task.ndim))
        self.channels = task.ndim * channels_per_axis(cfg.encoding_frequencies)
        self._cache: dict[tuple, torch.Tensor] = {}

    def features(
        self, shape: tuple[int, ...], device: torch.device, dtype: torch.dtype
    ) -> torch.Tensor:
        """The ``(1, channels, *shape)`` encoding of one grid (cached)."""
        key = (tuple(shape), device, dtype)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        if len(shape) != self.ndim:
            raise ValueError(f"expected a {self.ndim}-D grid, got shape {tuple(shape)}")
        blocks = []
        for axis, n in enumerate(shape):
            reference = n if self.convention == "nyquist" else self.train_shape[axis]
            rows = axis_features(
                n,
                self.frequencies,
                reference_points=reference,
                centred=self.centred[axis],
                dtype=dtype,
            )
            view = [rows.shape[0]] + [1] * self.ndim
            view[axis + 1] = n
            blocks.append(rows.reshape(view).expand(rows.shape[0], *shape))
        feats = torch.cat(blocks).unsqueeze(0).to(device).contiguous()
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = feats
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(x.shape[2:])
        feats = self.features(shape, x.device, x.dtype)
        return torch.cat([x, feats.expand(x.shape[0], *feats.shape[1:])], dim=1)

    def extra_repr(self) -> str:
        return (
            f"ndim={self.ndim}, frequencies={self.frequencies}, "
            f"convention={self.convention!r}, channels={self.channels}"
        )
