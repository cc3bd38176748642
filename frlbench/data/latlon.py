"""Regular latitude-longitude grids and conservative (area-weighted) regridding between them.

frlbench's lat-lon *model* grid at resolution ``n`` has ``n`` longitudes ``i · 360°/n`` and
``n / 2`` cell-centred latitudes ``-90° + (j + 1/2) · 360°/n``, south to north (the grid of
:meth:`frlbench.spec.ResolvedTask.grid_shape` and :func:`frlbench.metrics.latitude_weights`); it is
named ``"<lon>×<lat>"`` (``64×32``). Data grids may instead include the poles (ERA5's 1440×721:
latitudes ``-90° + j · 180°/(m - 1)``, whose first and last cells are half cells capped at the
pole).

Every grid is a tiling of the sphere by cells centred on its points. Conservative regridding
gives each target cell the area-weighted mean of the source cells it overlaps (overlap areas
computed exactly: ``Δ(sin φ) · Δλ``), so the area-weighted mean of any field is conserved to
rounding error whatever the ratio of the two grids (1440×721 → 180×90 or 180×91 alike).
The operator is separable: one matrix per axis, ``out = R_lat · x · R_lonᵀ``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch


def grid_name(nlon: int, nlat: int) -> str:
    """The name of a lat-lon grid: ``"<longitudes>×<latitudes>"``."""
    return f"{nlon}×{nlat}"


def model_latitudes(nlat: int) -> np.ndarray:
    """Cell-centred latitudes (degrees, ascending) of the model grid with ``nlat`` rows."""
    return -90.0 + (np.arange(nlat) + 0.5) * (180.0 / nlat)


def pole_latitudes(nlat: int) -> np.ndarray:
    """Latitudes (degrees, ascending) of a regular grid with poles: ``-90 .. 90`` in ``nlat``."""
    return np.linspace(-90.0, 90.0, nlat)


def regular_longitudes(nlon: int) -> np.ndarray:
    """Longitudes (degrees) ``i · 360 / nlon``, starting at 0."""
    return np.arange(nlon) * (360.0 / nlon)


def latitude_edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges (degrees, ``len + 1``) of a regular ascending latitude grid, capped at ±90°.

    Raises:
        ValueError: If the latitudes are not ascending and evenly spaced within [-90°, 90°].
    """
    centres = np.asarray(centres, dtype=np.float64)
    if centres.ndim != 1 or len(centres) < 2:
        raise ValueError(f"need at least two latitudes, got {centres.shape}")
    spacing = np.diff(centres)
    step = spacing.mean()
    if step <= 0 or not np.allclose(spacing, step, rtol=1e-6, atol=1e-6):
        raise ValueError("latitudes must be ascending and evenly spaced")
    if centres[0] < -90 - 1e-9 or centres[-1] > 90 + 1e-9:
        raise ValueError("latitudes must lie within [-90, 90] degrees")
    edges = np.concatenate([centres - step / 2, centres[-1:] + step / 2])
    # A grid that keeps one pole row but drops the other (720 of ERA5's 721 rows) leaves a
    # polar cap thinner than a cell uncovered: the outermost cell absorbs it, so the cells
    # still tile the sphere.
    if edges[0] - step < -90.0:
        edges[0] = -90.0
    if edges[-1] + step > 90.0:
        edges[-1] = 90.0
    return np.clip(edges, -90.0, 90.0)


def _latitude_matrix(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``(len(dst), len(src))`` weights: area fraction of each target row in each source row."""
    se, de = np.sin(np.deg2rad(latitude_edges(src))), np.sin(np.deg2rad(latitude_edges(dst)))
    lo = np.maximum(de[:-1, None], se[None, :-1])
    hi = np.minimum(de[1:, None], se[None, 1:])
    overlap = np.clip(hi - lo, 0.0, None)
    return overlap / (de[1:] - de[:-1])[:, None]


def _longitude_matrix(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``(len(dst), len(src))`` overlap fractions of periodic longitude cells."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    for name, lon in (("source", src), ("target", dst)):
        step = 360.0 / len(lon)
        expected = (lon[0] + np.arange(len(lon)) * step) % 360.0
        if not np.allclose(np.mod(lon, 360.0), expected, atol=1e-6):
            raise ValueError(f"{name} longitudes must be evenly spaced over 360 degrees")
    ds, dd = 360.0 / len(src), 360.0 / len(dst)
    s0, s1 = src - ds / 2, src + ds / 2
    d0, d1 = dst - dd / 2, dst + dd / 2
    overlap = np.zeros((len(dst), len(src)))
    for shift in (-720.0, -360.0, 0.0, 360.0, 720.0):
        lo = np.maximum(d0[:, None], s0[None, :] + shift)
        hi = np.minimum(d1[:, None], s1[None, :] + shift)
        overlap += np.clip(hi - lo, 0.0, None)
    return overlap / dd


class ConservativeRegridder:
    """Area-weighted averaging from one regular lat-lon grid to a coarser (or equal) one.

    Args:
        src_lat: Source latitudes (degrees, ascending, evenly spaced; poles allowed).
        src_lon: Source longitudes (degrees, evenly spaced over 360°).
        dst_lat: Target latitudes.
        dst_lon: Target longitudes.
    """

    def __init__(
        self,
        src_lat: np.ndarray,
        src_lon: np.ndarray,
        dst_lat: np.ndarray,
        dst_lon: np.ndarray,
    ) -> None:
        self.lat_matrix = torch.from_numpy(_latitude_matrix(src_lat, dst_lat))
        self.lon_matrix = torch.from_numpy(_longitude_matrix(src_lon, dst_lon))
        self.src_shape = (len(src_lat), len(src_lon))
        self.dst_shape = (len(dst_lat), len(dst_lon))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """Regrid ``(..., lat, lon)`` on the source grid to the target grid, in ``x``'s dtype
        (differentiable)."""
        if tuple(x.shape[-2:]) != self.src_shape:
            raise ValueError(f"field grid {tuple(x.shape[-2:])} is not {self.src_shape}")
        dtype = x.dtype if x.is_floating_point() else torch.float64
        lat = self.lat_matrix.to(device=x.device, dtype=dtype)
        lon = self.lon_matrix.to(device=x.device, dtype=dtype)
        return torch.einsum("ij,...jk,lk->...il", lat, x.to(dtype), lon)


def to_model_grid(
    x: torch.Tensor, src_lat: np.ndarray, src_lon: np.ndarray, resolution: int
) -> torch.Tensor:
    """Conservatively average ``(..., lat, lon)`` onto the model grid at ``resolution``."""
    nlat = resolution // 2
    regrid = ConservativeRegridder(
        src_lat, src_lon, model_latitudes(nlat), regular_longitudes(resolution)
    )
    return regrid(x)


def area_weights(lat: np.ndarray) -> np.ndarray:
    """Cell areas of a latitude grid normalized to mean 1 (exact ``Δ sin φ``, poles included)."""
    edges = np.sin(np.deg2rad(latitude_edges(lat)))
    w = np.diff(edges)
    return w / w.mean()


def spectral_truncation(x: torch.Tensor, resolution: int) -> torch.Tensor:
    """Spherical-harmonic truncation of model-grid fields to a coarser model grid (an option).

    A field ``(..., n/2, n)`` on the cell-centred model grid is interpolated in latitude to the
    equiangular grid with poles that ``torch_harmonics`` transforms, truncated to the degrees
    and orders below ``resolution / 2``, evaluated back on that fine grid and averaged over the
    coarse model grid's cells. Offered beside the conservative averaging for the protocol
    audit; the data builders use the averaging.
    """
    import torch_harmonics as th

    nlat, nlon = x.shape[-2:]
    fine = _to_pole_grid(x.double(), nlat + 1)
    kw = {"grid": "equiangular"}
    coeffs = th.RealSHT(nlat + 1, nlon, **kw).double()(fine)
    degree = torch.arange(coeffs.shape[-2]).reshape(-1, 1)
    order = torch.arange(coeffs.shape[-1]).reshape(1, -1)
    kept = torch.where((degree < resolution // 2) & (order < resolution // 2), coeffs, 0)
    smooth = th.InverseRealSHT(nlat + 1, nlon, **kw).double()(kept).flip(-2)  # south first
    regrid = ConservativeRegridder(
        pole_latitudes(nlat + 1),
        regular_longitudes(nlon),
        model_latitudes(resolution // 2),
        regular_longitudes(resolution),
    )
    return regrid(smooth).to(x.dtype)


def _to_pole_grid(x: torch.Tensor, nlat_poles: int, nlon: int | None = None) -> torch.Tensor:
    """Linear interpolation in latitude from the cell-centred grid to a grid with poles
    (north first, as ``torch_harmonics`` orders it; pole rows are the zonal mean of the
    nearest row), and Fourier interpolation in longitude to ``nlon`` points."""
    if nlon is not None and nlon != x.shape[-1]:
        coeffs = torch.fft.rfft(x, dim=-1, norm="forward")
        keep = min(coeffs.shape[-1], nlon // 2 + 1)
        padded = coeffs.new_zeros(*coeffs.shape[:-1], nlon // 2 + 1)
        padded[..., :keep] = coeffs[..., :keep]
        if x.shape[-1] % 2 == 0 and keep == x.shape[-1] // 2 + 1 and nlon > x.shape[-1]:
            padded[..., keep - 1] /= 2  # split the old Nyquist mode between ±m
        x = torch.fft.irfft(padded, n=nlon, dim=-1, norm="forward")
    nlat = x.shape[-2]
    src = model_latitudes(nlat)
    dst = pole_latitudes(nlat_poles)[::-1].copy()
    idx = np.clip(np.searchsorted(src, dst) - 1, 0, nlat - 2)
    frac = np.clip((dst - src[idx]) / (src[idx + 1] - src[idx]), 0.0, 1.0)
    lo = x[..., torch.from_numpy(idx), :]
    hi = x[..., torch.from_numpy(idx + 1), :]
    f = torch.from_numpy(frac).to(x).reshape(-1, 1)
    out = lo * (1 - f) + hi * f
    out[..., 0, :] = x[..., -1, :].mean(dim=-1, keepdim=True)
    out[..., -1, :] = x[..., 0, :].mean(dim=-1, keepdim=True)
    return out


@functools.lru_cache(maxsize=32)
def model_grid_regridder(src_shape: tuple[int, int], dst_shape: tuple[int, int]):
    """Cached :class:`ConservativeRegridder` between two model grids ``(nlat, nlon)``."""
    return ConservativeRegridder(
        model_latitudes(src_shape[0]),
        regular_longitudes(src_shape[1]),
        model_latitudes(dst_shape[0]),
        regular_longitudes(dst_shape[1]),
    )
