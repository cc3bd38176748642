"""Homogeneous turbulence: random initial conditions and statistics of velocity fields.

Used by the ``fluid3d`` builder (:mod:`frlbench.data.fluid3d`) to draw initial conditions with
a prescribed spectrum and to record, in the dataset metadata, what its data look like: energy,
dissipation, Taylor-scale Reynolds number, Kolmogorov scale, velocity-derivative skewness, the
energy spectrum, and the share of energy above the training Nyquist wavenumber.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from frlbench import spectral
from frlbench.data.ns3d import NS3DSolver, dealias_cutoff


def model_spectrum(
    k: torch.Tensor, peak_wavenumber: float, slope: float = -5.0 / 3.0
) -> torch.Tensor:
    """Unnormalized von Kármán-type spectrum: ``k⁴`` at low ``k``, ``k^slope`` at high ``k``.

    ``E(k) = x⁴ / (1 + x²)^((4 − slope)/2)`` with ``x = (k / k_p) · 2/√(−slope)``, which puts
    the maximum at ``k = peak_wavenumber``.
    """
    if not slope < 0:
        raise ValueError(f"spectral slope must be < 0, got {slope}")
    x = (k / peak_wavenumber) * (2 / math.sqrt(-slope))
    return x**4 / (1 + x**2) ** ((4 - slope) / 2)


def random_velocity(
    n: int,
    seed: int,
    *,
    peak_wavenumber: float = 3.0,
    energy: float = 0.5,
    slope: float = -5.0 / 3.0,
    length: float = spectral.TWO_PI,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """A random divergence-free velocity ``(3, n, n, n)`` with a prescribed energy spectrum.

    Gaussian white noise drawn from ``seed`` (on the CPU, so every device gets the same field)
    is projected onto divergence-free fields, shaped so that the shell spectrum follows
    :func:`model_spectrum`, restricted to the 2/3-rule modes of an ``n`` grid, and scaled to
    kinetic energy ``½⟨|u|²⟩ = energy``.

    Args:
        n: Grid points per axis.
        seed: Random seed; the field is a deterministic function of it.
        peak_wavenumber: Wavenumber of the spectral peak.
        energy: Kinetic energy ``½⟨|u|²⟩``.
        slope: Spectral slope above the peak.
        length: Side of the box.
        dtype: Real dtype of the result.
        device: Device of the result.
    """
    gen = torch.Generator().manual_seed(int(seed))
    noise = torch.randn((3, n, n, n), generator=gen, dtype=torch.float64)
    solver = NS3DSolver(n, 0.0, dtype=torch.float64, length=length)
    coeffs = solver.project(solver.to_spectral(noise))
    kmag = torch.sqrt(solver.k2)
    # A shell of radius k holds ~4πk² modes (in units of the fundamental wavenumber).
    k_units = kmag * length / spectral.TWO_PI
    amplitude = torch.sqrt(
        model_spectrum(k_units, peak_wavenumber, slope) / k_units.clamp_min(1.0) ** 2
    )
    amplitude = torch.where(kmag > 0, amplitude, 0.0)
    coeffs = coeffs * amplitude
    coeffs = coeffs * math.sqrt(energy / solver.energy(coeffs).item())
    return solver.to_physical(coeffs).to(dtype=dtype, device=device)


def taylor_reynolds(energy: float, dissipation: float, viscosity: float) -> float:
    """Taylor-microscale Reynolds number ``Re_λ = u' λ / ν`` of isotropic turbulence.

    ``u' = √(2K/3)`` is the rms of one velocity component and ``λ = √(15 ν u'² / ε)``.
    """
    if viscosity <= 0 or dissipation <= 0:
        return math.inf
    u_rms = math.sqrt(2 * energy / 3)
    taylor_scale = math.sqrt(15 * viscosity * u_rms**2 / dissipation)
    return u_rms * taylor_scale / viscosity


def kolmogorov_scale(dissipation: float, viscosity: float) -> float:
    """Kolmogorov length ``η = (ν³/ε)^{1/4}``."""
    if dissipation <= 0:
        return math.inf
    return (viscosity**3 / dissipation) ** 0.25


class FieldStatistics:
    """Running statistics of velocity fields on a solver's grid, as plain JSON data.

    Args:
        solver: The solver whose grid the fields live on (its viscosity sets ε = 2νΩ).
        lengths: Physical side lengths of the box, for the energy spectrum.
        dt: Solver time step, for the largest CFL number seen.
    """

    def __init__(self, solver: NS3DSolver, lengths: tuple[float, ...], dt: float) -> None:
        self.solver, self.lengths, self.dt = solver, lengths, dt
        self.frames = 0
        self.energy = self.dissipation = self.skew_num = self.skew_den = self.cfl = 0.0
        self.spectrum: torch.Tensor | None = None
        self.k: torch.Tensor | None = None

    def add(self, frames: torch.Tensor) -> None:
        """Accumulate physical fields ``(T, 3, n, n, n)``."""
        solver = self.solver
        coeffs = solver.to_spectral(frames)
        self.cfl = max(self.cfl, solver.cfl(frames, self.dt))
        self.energy += solver.energy(coeffs).sum().item()
        self.dissipation += solver.dissipation(coeffs).sum().item()
        # Longitudinal derivatives ∂u/∂x, ∂v/∂y, ∂w/∂z for the derivative skewness.
        grads = torch.stack([ik * coeffs[:, i] for i, ik in enumerate(solver.ik)], dim=1)
        grads = solver.to_physical(grads)
        self.skew_num += (grads**3).mean().item() * frames.shape[0]
        self.skew_den += (grads**2).mean().item() * frames.shape[0]
        k, spectrum = spectral.energy_spectrum(frames.double(), self.lengths, ndim=3)
        self.k = k
        total = spectrum * frames.shape[0]
        self.spectrum = total if self.spectrum is None else self.spectrum + total
        self.frames += frames.shape[0]

    def metadata(self) -> dict[str, Any]:
        """Means over every field added: energy, dissipation, Re_λ, η, skewness, spectrum."""
        nu = self.solver.viscosity
        energy = self.energy / self.frames
        dissipation = self.dissipation / self.frames
        skew = (self.skew_num / self.frames) / (self.skew_den / self.frames) ** 1.5
        assert self.spectrum is not None and self.k is not None
        spectrum = self.spectrum / self.frames
        eta = kolmogorov_scale(dissipation, nu) if nu > 0 else 0.0
        kmax = dealias_cutoff(self.solver.n) * spectral.TWO_PI / self.solver.length
        return {
            "kinetic_energy": energy,
            "dissipation_rate": dissipation,
            "taylor_reynolds": taylor_reynolds(energy, dissipation, nu),
            "kolmogorov_length": eta,
            "kmax_eta": kmax * eta,
            "velocity_derivative_skewness": skew,
            "max_cfl_observed": self.cfl,
            "energy_spectrum": {"k": spectrum_list(self.k), "E": spectrum_list(spectrum)},
        }


def spectrum_list(x: torch.Tensor) -> list[float]:
    """A 1-D tensor as a list of plain floats (JSON)."""
    return [float(v) for v in x.tolist()]


def band_fractions(
    frames: torch.Tensor, lengths: tuple[float, ...], train_resolution: int, resolutions: list[int]
) -> dict[str, float]:
    """Fraction of the energy at each resolution above the training Nyquist (cubic grids)."""
    seen = spectral.nyquist_wavenumber(train_resolution, lengths[0])
    out = {}
    for r in resolutions:
        if r <= train_resolution:
            continue
        field = spectral.resample(frames.double(), (r,) * len(lengths))
        bands = spectral.band_mse(field, [seen], lengths, ndim=len(lengths), norm="max")
        out[str(r)] = float(bands[1] / bands.sum())
    return out


def persistence_error(inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """RMSE of persistence (predicting ``u(t+Δt) = u(t)``) relative to the targets' rms."""
    return float(((targets - inputs) ** 2).mean().sqrt() / (targets**2).mean().sqrt())
