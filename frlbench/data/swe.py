"""Offline ERA5 stand-in: forced shallow-water flow on the rotating sphere.

The shallow-water equations in vorticity-divergence form, spectral in space with
``torch_harmonics`` spherical-harmonic transforms (its shallow-water example shows the method;
this is frlbench's own solver) and third-order Adams-Bashforth in time::

    ∂ζ/∂t = -∇·((ζ + f) u) + F - ζ/τ_drag
    ∂δ/∂t =  k·∇×((ζ + f) u) - ∇²(Φ + |u|²/2) - δ/τ_drag
    ∂Φ/∂t = -∇·(Φ u) - (Φ - gH)/τ_relax

with implicit hyperdiffusion ∇⁸ on ζ and δ (e-folding time ``hyperdiffusion_hours`` at the
largest degree). ``F`` is a fixed random vorticity forcing in a band of spherical-harmonic
degrees, so after a spin-up the flow is statistically steady: forcing balances drag, and the
builder measures the drift of the stored states' energy. Initial conditions are random
(``"random"``) or the barotropically unstable mid-latitude jet of Galewsky et al. (2004) with its
height bump (``"galewsky"``).

The solver runs on the equiangular grid *with poles* (``nlon × (nlon/2 + 1)``, ERA5's pole
convention) and writes geopotential, winds and vorticity in the WeatherBench2 layout
(:func:`write_wb2`), so the stand-in is read back by the very loader used for real ERA5.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch_harmonics as th

from frlbench.safeio import atomic_path, resolve_root

#: WeatherBench2 names of the stand-in's variables (all at one pseudo pressure level).
STANDIN_LEVEL = 500
EARTH_RADIUS = 6.37122e6
EARTH_OMEGA = 7.292e-5
GRAVITY = 9.80616
HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True)
class SWEParams:
    """Physical and numerical parameters of the stand-in solver.

    Attributes:
        mean_depth: Mean fluid depth H (m); gravity waves travel at √(gH).
        dt: Time step (s).
        drag_days: Linear drag time on vorticity and divergence (days).
        relax_days: Relaxation time of the geopotential towards gH (days).
        hyperdiffusion_hours: ∇⁸ e-folding time at the largest retained degree (hours).
        forcing_amplitude: RMS of the vorticity forcing F (1/s per day).
        forcing_degree: Central spherical-harmonic degree of the forcing band.
        forcing_width: Half-width of the forcing band in degree.
        truncation: Fraction of the grid's degrees retained (2/3 removes quadratic aliasing).
        seed: Seed of the forcing pattern and of random initial conditions.
    """

    mean_depth: float = 1000.0
    dt: float = 300.0
    drag_days: float = 5.0
    relax_days: float = 5.0
    hyperdiffusion_hours: float = 3.0
    forcing_amplitude: float = 2e-5
    forcing_degree: int = 10
    forcing_width: int = 3
    truncation: float = 2.0 / 3.0
    seed: int = 0


class SphereSWE:
    """Forced shallow-water solver on an ``nlon × (nlon/2 + 1)`` equiangular grid with poles.

    Args:
        nlon: Longitudes (even); latitudes are ``nlon // 2 + 1`` from the north pole southwards.
        params: Physical and numerical parameters.
        dtype: Real dtype of the computation.
        device: Torch device.
    """

    def __init__(
        self,
        nlon: int,
        params: SWEParams,
        dtype: torch.dtype = torch.float64,
        device: str | torch.device = "cpu",
    ) -> None:
        if nlon % 2 or nlon < 8:
            raise ValueError(f"nlon must be even and >= 8, got {nlon}")
        self.nlon, self.nlat = nlon, nlon // 2 + 1
        self.params, self.dtype, self.device = params, dtype, torch.device(device)
        self.lmax = max(int(params.truncation * (self.nlat - 1)), 4)
        self.mmax = self.lmax
        kw = {"lmax": self.lmax, "mmax": self.mmax, "grid": "equiangular", "csphase": False}
        args = (self.nlat, self.nlon)
        self.sht = th.RealSHT(*args, **kw).to(self.device, dtype)
        self.isht = th.InverseRealSHT(*args, **kw).to(self.device, dtype)
        self.vsht = th.RealVectorSHT(*args, **kw).to(self.device, dtype)
        self.ivsht = th.InverseRealVectorSHT(*args, **kw).to(self.device, dtype)
        a = EARTH_RADIUS
        degree = torch.arange(self.lmax, dtype=torch.float64).reshape(-1, 1)
        degree = degree.expand(self.lmax, self.mmax)
        self.lap = (-degree * (degree + 1) / a**2).to(self.device)
        inv = -(a**2) / (degree * (degree + 1))
        inv[0] = 0.0
        self.invlap = inv.to(self.device)
        colat = torch.linspace(0.0, math.pi, self.nlat, dtype=torch.float64)
        self.latitudes = 90.0 - torch.rad2deg(colat).numpy()  # north to south
        lat = (math.pi / 2 - colat).to(self.device)
        self.coriolis = (2 * EARTH_OMEGA * torch.sin(lat)).reshape(-1, 1).to(dtype)
        scaled = (self.lap / self.lap[-1, 0]) ** 4
        self.hyperdiffusion = torch.exp(-params.dt / (params.hyperdiffusion_hours * HOUR) * scaled)
        ones = torch.ones(self.nlat, self.nlon, dtype=dtype, device=self.device)
        #: Degree-0 coefficient of the uniform geopotential gH.
        self.mean_geopotential_coefficient = complex(
            self.sht(ones * GRAVITY * params.mean_depth)[0, 0]
        )
        self.forcing = self._forcing_pattern()

    # -- transforms -----------------------------------------------------------------------
    def vrtdiv(self, uv: torch.Tensor) -> torch.Tensor:
        """Spectral vorticity and divergence ``(..., 2, L, M)`` of a wind ``(..., 2, lat, lon)``."""
        return self.lap * EARTH_RADIUS * self.vsht(uv)

    def winds(self, vrtdiv: torch.Tensor) -> torch.Tensor:
        """Grid winds ``(u, v)`` of spectral vorticity and divergence."""
        return self.ivsht(self.invlap * vrtdiv / EARTH_RADIUS)

    def to_grid(self, state: torch.Tensor) -> dict[str, torch.Tensor]:
        """Grid fields of spectral states ``(..., 3, L, M)`` = (Φ, ζ, δ), north first."""
        uv = self.winds(state[..., 1:, :, :])
        return {
            "geopotential": self.isht(state[..., 0, :, :]),
            "u_component_of_wind": uv[..., 0, :, :],
            "v_component_of_wind": uv[..., 1, :, :],
            "vorticity": self.isht(state[..., 1, :, :]),
        }

    def from_grid(self, phi: torch.Tensor, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """Spectral state ``(..., 3, L, M)`` from grid geopotential and winds (north first)."""
        vd = self.vrtdiv(torch.stack([u, v], dim=-3))
        return torch.cat([self.sht(phi).unsqueeze(-3), vd], dim=-3)

    # -- dynamics -------------------------------------------------------------------------
    def _forcing_pattern(self) -> torch.Tensor:
        # Drawn on the forcing band's own (degree, order) table, not on this grid's, and scaled
        # by its area RMS (orthonormal coefficients, orders > 0 counted twice), so every grid
        # (the spin-up's, the data's, the solver reference's) is forced by the same field.
        p = self.params
        gen = torch.Generator().manual_seed(p.seed + 7_919)
        size = p.forcing_degree + p.forcing_width + 1
        coeffs = _random_coefficients((size, size), gen)
        degree = torch.arange(size).reshape(-1, 1)
        order = torch.arange(size).reshape(1, -1)
        band = (degree - p.forcing_degree).abs() <= p.forcing_width
        coeffs = torch.where(band & (order <= degree) & (order > 0), coeffs, 0)
        rms = (2 * coeffs.abs().pow(2).sum() / (4 * math.pi)).sqrt()
        return self.resize(coeffs * (p.forcing_amplitude / DAY / rms))

    @property
    def _ctype(self) -> torch.dtype:
        return torch.complex128 if self.dtype == torch.float64 else torch.complex64

    def tendency(self, state: torch.Tensor) -> torch.Tensor:
        """``∂(Φ, ζ, δ)/∂t`` in spectral space of states ``(..., 3, L, M)``."""
        p = self.params
        phi = self.isht(state[..., 0, :, :])
        vort = self.isht(state[..., 1, :, :])
        uv = self.winds(state[..., 1:, :, :])
        flux = self.vrtdiv(uv * (vort + self.coriolis).unsqueeze(-3))  # curl, div of (ζ + f) u
        energy = self.sht(phi + 0.5 * (uv**2).sum(dim=-3))
        mass = self.vrtdiv(uv * phi.unsqueeze(-3))
        drag = 1.0 / (p.drag_days * DAY)
        anomaly = state[..., 0, :, :].clone()
        anomaly[..., 0, 0] -= self.mean_geopotential_coefficient
        return torch.stack(
            [
                -mass[..., 1, :, :] - anomaly / (p.relax_days * DAY),
                -flux[..., 1, :, :] + self.forcing - drag * state[..., 1, :, :],
                flux[..., 0, :, :] - self.lap * energy - drag * state[..., 2, :, :],
            ],
            dim=-3,
        )

    def run(
        self,
        state: torch.Tensor,
        steps: int,
        save_every: int,
        on_step: Callable[[int], None] | None = None,
    ) -> list[torch.Tensor]:
        """Advance ``steps`` AB3 steps (Euler, AB2 start); return every ``save_every``-th state.

        Raises:
            FloatingPointError: If the state becomes non-finite.
        """
        dt = self.params.dt
        history: list[torch.Tensor] = []
        saved = []
        for step in range(1, steps + 1):
            history = [self.tendency(state), *history[:2]]
            if len(history) == 1:
                update = history[0]
            elif len(history) == 2:
                update = 1.5 * history[0] - 0.5 * history[1]
            else:
                update = (23 * history[0] - 16 * history[1] + 5 * history[2]) / 12
            state = state + dt * update
            state[..., 1:, :, :] = state[..., 1:, :, :] * self.hyperdiffusion
            if on_step is not None:
                on_step(step)
            if step % save_every == 0:
                if not torch.isfinite(torch.view_as_real(state)).all():
                    raise FloatingPointError(f"shallow-water state non-finite at step {step}")
                saved.append(state.clone())
        return saved

    def resize(self, state: torch.Tensor) -> torch.Tensor:
        """A spectral state of another solver, truncated or zero-padded to this one's degrees
        (orthonormal coefficients do not depend on the grid)."""
        out = torch.zeros(
            *state.shape[:-2], self.lmax, self.mmax, dtype=self._ctype, device=self.device
        )
        lmax, mmax = min(self.lmax, state.shape[-2]), min(self.mmax, state.shape[-1])
        out[..., :lmax, :mmax] = state[..., :lmax, :mmax].to(out)
        return out

    # -- initial conditions ---------------------------------------------------------------
    def random_initial_condition(self, seed: int, wind: float = 10.0) -> torch.Tensor:
        """Random large-scale vorticity (RMS wind ≈ ``wind`` m/s), rest state height."""
        gen = torch.Generator().manual_seed(seed)
        # Degrees 1..20 drawn on their own table: the same vorticity on every grid.
        size = 21
        vort = _random_coefficients((size, size), gen)
        degree = torch.arange(size).reshape(-1, 1)
        vort = torch.where(degree >= 1, vort / (1.0 + degree), 0)
        state = torch.zeros(3, self.lmax, self.mmax, dtype=self._ctype, device=self.device)
        state[1] = self.resize(torch.tril(vort))
        speed = self.winds(state[1:]).pow(2).sum(0).mean().sqrt()
        state[1] *= wind / speed
        state[0, 0, 0] = self.mean_geopotential_coefficient
        return self.balanced(state)

    def galewsky_initial_condition(self) -> torch.Tensor:
        """Galewsky et al. (2004): a zonal jet at 45°N with a perturbing height bump."""
        lat = torch.from_numpy(np.deg2rad(self.latitudes)).reshape(-1, 1).to(self.device)
        lon = torch.linspace(0, 2 * math.pi, self.nlon + 1, dtype=torch.float64)[:-1]
        lon = lon.reshape(1, -1).to(self.device)
        umax, lat0, lat1 = 80.0, math.pi / 7, math.pi / 2 - math.pi / 7
        norm = math.exp(-4.0 / (lat1 - lat0) ** 2)
        inside = (lat > lat0) & (lat < lat1)
        safe = torch.where(inside, (lat - lat0) * (lat - lat1), -1.0)
        u = torch.where(inside, umax / norm * torch.exp(1.0 / safe), 0.0).expand(-1, self.nlon)
        state = self.from_grid(
            torch.zeros_like(u).to(self.dtype), u.to(self.dtype), torch.zeros_like(u).to(self.dtype)
        )
        state[0, 0, 0] = self.mean_geopotential_coefficient
        state = self.balanced(state)
        bump = 120.0 * torch.cos(lat) * torch.exp(-(((lon - math.pi) / (1 / 3)) ** 2))
        bump = bump * torch.exp(-(((math.pi / 4 - lat) / (1 / 15) ** 0.5) ** 2))
        state[0] += self.sht((GRAVITY * bump).to(self.dtype))
        return state

    def balanced(self, state: torch.Tensor) -> torch.Tensor:
        """Replace Φ by the geopotential in nonlinear balance with the rotational wind.

        With δ = 0 and ∂δ/∂t = 0 the divergence equation gives
        ∇²(Φ + |u|²/2) = k·∇×((ζ + f) u); the mean geopotential is kept.
        """
        state = state.clone()
        state[2] = 0
        vort = self.isht(state[1])
        uv = self.winds(state[1:])
        flux = self.vrtdiv(uv * (vort + self.coriolis))
        mean = state[0, 0, 0].clone()
        state[0] = self.invlap * flux[0] - self.sht(0.5 * (uv**2).sum(dim=0))
        state[0, 0, 0] = mean
        return state


def _random_coefficients(shape: tuple[int, int], gen: torch.Generator) -> torch.Tensor:
    """Complex standard-normal spherical-harmonic coefficients (float64 parts)."""
    return torch.complex(
        torch.randn(shape, generator=gen, dtype=torch.float64),
        torch.randn(shape, generator=gen, dtype=torch.float64),
    )


def write_wb2(
    path: Path,
    fields: dict[str, np.ndarray],
    latitudes: np.ndarray,
    times: np.ndarray,
    attrs: dict[str, str],
) -> None:
    """Write ``(time, lat, lon)`` fields as a WeatherBench2-layout netCDF file (atomic rename).

    Variables get dims ``(time, level, latitude, longitude)`` with one pressure level
    (:data:`STANDIN_LEVEL`); latitudes are stored ascending (south to north).
    """
    import xarray as xr

    order = np.argsort(latitudes)
    nlon = next(iter(fields.values())).shape[-1]
    coords = {
        "time": times,
        "level": np.array([STANDIN_LEVEL], dtype=np.int32),
        "latitude": np.asarray(latitudes, dtype=np.float64)[order],
        "longitude": np.arange(nlon) * (360.0 / nlon),
    }
    data = {
        name: (("time", "level", "latitude", "longitude"), values[:, None][:, :, order])
        for name, values in fields.items()
    }
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    root = resolve_root(path.parent)
    with atomic_path(root / path.name, root=root) as tmp:
        ds.to_netcdf(tmp, engine="scipy")
