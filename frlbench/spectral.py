"""Spectral helpers: the single source of truth for wavenumbers in frlbench.

Conventions:
    * Fields are real tensors whose last ``d`` dimensions are the spatial grid; leading
      dimensions (batch, channel, time) are carried along.
    * A periodic axis of ``n`` points and physical length ``L`` holds the angular wavenumbers
      ``k = (2π / L) · m`` with integer ``m`` in ``fftfreq`` order; its Nyquist wavenumber is
      ``π n / L`` (``n / 2`` on the 2π box).
    * Fourier coefficients are amplitudes (``norm="forward"``): ``x = Σ_k c_k e^{i k·x}``, so
      the same physical mode has the same coefficient on every grid, and by Parseval
      ``mean(x²) = Σ_k |c_k|²``.
    * Resampling is a tensor product of 1-D operations. For an even coarse size ``m`` the
      coarse Nyquist coefficient is the sum of the fine ``±m/2`` coefficients (truncation), and
      zero-padding splits it evenly between them, so ``truncate(zero_pad(x)) == x`` for every
      coarse ``x`` and ``zero_pad(truncate(y)) == y`` for every ``y`` band-limited below the
      coarse Nyquist.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Literal

import torch

Norm = Literal["max", "euclidean"]

TWO_PI = 2 * math.pi


def wavenumbers(
    n: int,
    length: float = TWO_PI,
    *,
    real: bool = False,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Angular wavenumbers of a periodic axis, in FFT order.

    Args:
        n: Grid points on the axis.
        length: Physical length of the axis.
        real: Return the non-negative half used by ``rfft`` (``n // 2 + 1`` entries).
        dtype: Floating dtype of the result.
        device: Device of the result.
    """
    freqs = torch.fft.rfftfreq(n, d=1.0 / n) if real else torch.fft.fftfreq(n, d=1.0 / n)
    return freqs.to(dtype=dtype, device=device) * (TWO_PI / length)


def nyquist_wavenumber(n: int, length: float = TWO_PI) -> float:
    """Nyquist angular wavenumber ``π n / L`` of an axis with ``n`` points and length ``L``."""
    return math.pi * n / length


def wavenumber_grid(
    shape: Sequence[int],
    lengths: Sequence[float] | None = None,
    *,
    real: bool = False,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> list[torch.Tensor]:
    """Per-axis wavenumbers shaped to broadcast over a ``len(shape)``-D spectral grid.

    Args:
        shape: Spatial grid shape.
        lengths: Physical length per axis (default 2π each).
        real: Use the ``rfftn`` layout (last axis halved).
        dtype: Floating dtype of the result.
        device: Device of the result.
    """
    ndim = len(shape)
    lengths = _lengths(lengths, ndim)
    grids = []
    for axis, (n, length) in enumerate(zip(shape, lengths, strict=True)):
        last = axis == ndim - 1
        k = wavenumbers(n, length, real=real and last, dtype=dtype, device=device)
        view = [1] * ndim
        view[axis] = k.numel()
        grids.append(k.reshape(view))
    return grids


def wavenumber_magnitude(
    shape: Sequence[int],
    lengths: Sequence[float] | None = None,
    *,
    norm: Norm = "euclidean",
    real: bool = False,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """|k| on a spectral grid: ``"euclidean"`` (shells) or ``"max"`` (largest axis component).

    The ``"max"`` norm matches what a grid can hold: a grid of ``n`` points represents exactly
    the modes with max-norm ``|k| ≤ π n / L``.
    """
    grids = wavenumber_grid(shape, lengths, real=real, dtype=dtype, device=device)
    if norm == "euclidean":
        total = sum(k**2 for k in grids)
        return torch.sqrt(torch.broadcast_to(total, _spectral_shape(shape, real)))
    if norm == "max":
        out = torch.zeros(_spectral_shape(shape, real), dtype=dtype, device=device)
        for k in grids:
            out = torch.maximum(out, k.abs())
        return out
    raise ValueError(f"norm must be 'max' or 'euclidean', got {norm!r}")


def _spectral_shape(shape: Sequence[int], real: bool) -> tuple[int, ...]:
    shape = tuple(shape)
    return (*shape[:-1], shape[-1] // 2 + 1) if real else shape


def _lengths(lengths: Sequence[float] | None, ndim: int) -> tuple[float, ...]:
    if lengths is None:
        return (TWO_PI,) * ndim
    lengths = tuple(float(v) for v in lengths)
    if len(lengths) != ndim:
        raise ValueError(f"got {len(lengths)} lengths for a {ndim}-D grid")
    return lengths


def _check_field(x: torch.Tensor, ndim: int) -> None:
    if x.dim() < ndim:
        raise ValueError(f"field of shape {tuple(x.shape)} has fewer than {ndim} spatial dims")
    if x.is_complex():
        raise ValueError("spectral resampling expects a real field")


def _resample_axis(x: torch.Tensor, dim: int, m: int) -> torch.Tensor:
    """Spectral truncation (``m < n``) or zero-padding (``m > n``) of one real axis."""
    n = x.shape[dim]
    if m == n:
        return x
    coeffs = torch.fft.rfft(x, dim=dim, norm="forward")
    keep = min(m, n) // 2 + 1
    coeffs = coeffs.narrow(dim, 0, keep)
    if m < n and m % 2 == 0:
        # Fine modes ±m/2 alias to the coarse Nyquist mode: their sum is 2·Re(c_{m/2}).
        nyq = coeffs.narrow(dim, m // 2, 1)
        coeffs = torch.cat([coeffs.narrow(dim, 0, m // 2), 2 * nyq.real.to(nyq.dtype)], dim=dim)
    elif m > n:
        if n % 2 == 0:
            # Split the coarse Nyquist coefficient evenly between fine modes ±n/2.
            scale = torch.ones(keep, dtype=x.dtype, device=x.device)
            scale[n // 2] = 0.5
            view = [1] * x.dim()
            view[dim] = keep
            coeffs = coeffs * scale.reshape(view)
        pad = [0] * (2 * (x.dim() - dim))
        pad[-1] = m // 2 + 1 - keep
        coeffs = torch.nn.functional.pad(coeffs, pad)
    return torch.fft.irfft(coeffs, n=m, dim=dim, norm="forward")


def resample(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Resample the last ``len(shape)`` dims of a real periodic field to ``shape`` spectrally.

    Each axis is truncated (fine → coarse) or zero-padded (coarse → fine) independently.
    """
    shape = tuple(int(s) for s in shape)
    ndim = len(shape)
    _check_field(x, ndim)
    for i, m in enumerate(shape):
        if m < 1:
            raise ValueError(f"target size must be >= 1, got {shape}")
        x = _resample_axis(x, x.dim() - ndim + i, m)
    return x


def truncate(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Spectral truncation of a real periodic field to the coarser grid ``shape``."""
    grid = tuple(x.shape[x.dim() - len(shape) :])
    if any(m > n for m, n in zip(shape, grid, strict=True)):
        raise ValueError(f"truncate needs a coarser target: {grid} -> {tuple(shape)}")
    return resample(x, shape)


def zero_pad(x: torch.Tensor, shape: Sequence[int]) -> torch.Tensor:
    """Spectral zero-padding (band-limited interpolation) of a real periodic field to ``shape``."""
    grid = tuple(x.shape[x.dim() - len(shape) :])
    if any(m < n for m, n in zip(shape, grid, strict=True)):
        raise ValueError(f"zero_pad needs a finer target: {grid} -> {tuple(shape)}")
    return resample(x, shape)


def _power(x: torch.Tensor, ndim: int) -> torch.Tensor:
    """|c_k|² on the full FFT grid of the last ``ndim`` dims."""
    dims = tuple(range(x.dim() - ndim, x.dim()))
    return torch.fft.fftn(x, dim=dims, norm="forward").abs() ** 2


def energy_spectrum(
    x: torch.Tensor, lengths: Sequence[float] | None = None, *, ndim: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Radially averaged (shell-summed) energy spectrum ``E(k)``.

    Energy ``½|c_k|²`` is summed over leading dimension 1 (channels, if present) and over the
    modes of each shell ``round(|k| / Δk)``, where ``Δk`` is the smallest fundamental
    wavenumber, then averaged over any further leading dimensions (batch). ``Σ E = ½ mean(x²)``
    summed over channels.

    Args:
        x: Real field ``(..., *grid)``; with ``ndim`` spatial dims.
        lengths: Physical length per axis (default 2π each).
        ndim: Spatial dims (default: ``len(lengths)`` or ``x.dim()``).

    Returns:
        ``(k, E)``: shell wavenumbers ``m · Δk`` for ``m = 0..max`` and the energy per shell.
    """
    if ndim is None:
        ndim = len(lengths) if lengths is not None else x.dim()
    lengths = _lengths(lengths, ndim)
    shape = tuple(x.shape[x.dim() - ndim :])
    power = _power(x, ndim)
    lead = power.shape[: power.dim() - ndim]
    power = power.reshape(-1, *shape)
    if len(lead) >= 2:  # (batch..., channel, *grid): sum channels, average the rest
        power = power.reshape(-1, lead[-1], *shape).sum(dim=1)
    delta_k = TWO_PI / max(lengths)
    kmag = wavenumber_magnitude(shape, lengths, norm="euclidean", device=x.device)
    shell = torch.round(kmag / delta_k).long().reshape(-1)
    n_shells = int(shell.max().item()) + 1
    energy = torch.zeros(power.shape[0], n_shells, dtype=power.dtype, device=x.device)
    energy.index_add_(1, shell, 0.5 * power.reshape(power.shape[0], -1))
    k = torch.arange(n_shells, dtype=power.dtype, device=x.device) * delta_k
    return k, energy.mean(dim=0)


def band_masks(
    shape: Sequence[int],
    cutoffs: Sequence[float],
    lengths: Sequence[float] | None = None,
    *,
    norm: Norm = "max",
    device: torch.device | str | None = None,
) -> list[torch.Tensor]:
    """Boolean masks on the full FFT grid splitting modes at ascending ``cutoffs``.

    Band 0 is ``|k| ≤ c_0``, band i is ``c_{i-1} < |k| ≤ c_i``, the last band is ``|k| > c_last``;
    the masks partition the grid. Cutoffs are physical wavenumbers (use
    :func:`nyquist_wavenumber` for a grid's Nyquist).
    """
    cutoffs = [float(c) for c in cutoffs]
    if cutoffs != sorted(cutoffs):
        raise ValueError(f"cutoffs must be ascending, got {cutoffs}")
    kmag = wavenumber_magnitude(shape, lengths, norm=norm, device=device)
    # A relative tolerance keeps a mode sitting exactly on a cutoff in the lower band.
    tol = 1e-9 * max(1.0, max(cutoffs, default=1.0))
    edges = [-math.inf, *cutoffs, math.inf]
    return [(kmag > lo + tol) & (kmag <= hi + tol) for lo, hi in itertools.pairwise(edges)]


def band_mse(
    error: torch.Tensor,
    cutoffs: Sequence[float],
    lengths: Sequence[float] | None = None,
    *,
    ndim: int | None = None,
    norm: Norm = "max",
) -> torch.Tensor:
    """Split the mean squared error into wavenumber bands; the bands sum to ``mean(error²)``.

    Args:
        error: Real ``prediction - truth`` of shape ``(..., *grid)``.
        cutoffs: Ascending physical wavenumbers separating the bands (see :func:`band_masks`).
        lengths: Physical length per axis (default 2π each).
        ndim: Spatial dims (default: ``len(lengths)`` or ``error.dim()``).
        norm: ``"max"`` (modes a grid can hold) or ``"euclidean"`` (shells).

    Returns:
        A tensor of ``len(cutoffs) + 1`` band MSEs.
    """
    if ndim is None:
        ndim = len(lengths) if lengths is not None else error.dim()
    shape = tuple(error.shape[error.dim() - ndim :])
    power = _power(error, ndim).reshape(-1, *shape).mean(dim=0)
    masks = band_masks(shape, cutoffs, lengths, norm=norm, device=error.device)
    return torch.stack([power[m].sum() for m in masks])
