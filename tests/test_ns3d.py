"""Correctness of the pseudo-spectral Navier–Stokes solver on exact and known solutions."""

from __future__ import annotations

import math

import pytest
import torch

from frlbench import spectral
from frlbench.data.ns3d import (
    FORCINGS,
    BlowUpError,
    Forcing,
    NS3DSolver,
    steps_for,
)
from frlbench.data.turbulence import random_velocity, taylor_reynolds


def grid(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    return torch.meshgrid(x, x, x, indexing="ij")


def abc_flow(n: int, k: int, a: float = 1.0, b: float = 0.7, c: float = 0.4) -> torch.Tensor:
    """Arnold–Beltrami–Childress flow at wavenumber k: ω = k u, so u × ω = 0."""
    x, y, z = grid(n)
    return torch.stack(
        [
            a * torch.sin(k * z) + c * torch.cos(k * y),
            b * torch.sin(k * x) + a * torch.cos(k * z),
            c * torch.sin(k * y) + b * torch.cos(k * x),
        ]
    )


def taylor_green(n: int) -> torch.Tensor:
    x, y, z = grid(n)
    return torch.stack(
        [
            torch.sin(x) * torch.cos(y) * torch.cos(z),
            -torch.cos(x) * torch.sin(y) * torch.cos(z),
            torch.zeros_like(x),
        ]
    )


@pytest.mark.parametrize("n", [8, 16, 24, 30])
def test_dealiasing_keeps_exactly_the_two_thirds_cube(n: int) -> None:
    """The compact state holds exactly the modes with max-norm |k| < 2/3 of the Nyquist."""
    solver = NS3DSolver(n, 0.0)
    noise = torch.randn(3, n, n, n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    smoothed = solver.to_physical(solver.to_spectral(noise))
    kept = torch.fft.rfftn(smoothed, dim=(-3, -2, -1)).abs().sum(dim=0) > 1e-9
    kmax = spectral.wavenumber_magnitude((n, n, n), norm="max", real=True)
    assert torch.equal(kept, kmax < (2 / 3) * spectral.nyquist_wavenumber(n))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_beltrami_flow_decays_exactly(k: int) -> None:
    viscosity = 0.05
    solver = NS3DSolver(16, viscosity)
    u0 = abc_flow(16, k)
    frames = solver.simulate(u0, t_end=1.0, dt=0.05, save_every=10)
    exact = u0 * math.exp(-viscosity * k**2 * 1.0)
    assert frames.shape == (3, 3, 16, 16, 16)
    error = (frames[-1] - exact).norm() / exact.norm()
    assert error < 1e-8


def test_random_initial_condition_is_divergence_free_and_seeded() -> None:
    solver = NS3DSolver(24, 0.02, "linear")
    u0 = random_velocity(24, seed=7, peak_wavenumber=3.0, energy=0.5)
    coeffs = solver.to_spectral(u0)
    gradient_scale = torch.sqrt(solver.k2).max() * u0.abs().max()
    assert solver.divergence(coeffs).abs().max() < 1e-13 * gradient_scale
    assert solver.energy(coeffs).item() == pytest.approx(0.5, rel=1e-12)
    assert torch.equal(u0, random_velocity(24, seed=7, peak_wavenumber=3.0, energy=0.5))
    assert not torch.allclose(u0, random_velocity(24, seed=8, peak_wavenumber=3.0, energy=0.5))
    k, spectrum = spectral.energy_spectrum(u0, ndim=3)
    assert 2 <= k[spectrum.argmax()] <= 4  # the prescribed peak, up to shell sampling noise
    # The velocity stays divergence-free under forced nonlinear dynamics.
    frames = solver.simulate(u0, t_end=0.2, dt=0.02, save_every=5)
    for frame in frames:
        assert solver.divergence(solver.to_spectral(frame)).abs().max() < 1e-13 * gradient_scale


def energy_budget_error(dt: float, forcing: Forcing | None = None) -> float:
    """max |dK/dt − (P − ε)| / max ε along a trajectory, dK/dt by 4th-order differences."""
    viscosity = 0.03
    solver = NS3DSolver(16, viscosity, forcing)
    u0 = random_velocity(16, seed=3, peak_wavenumber=2.0, energy=0.5)
    coeffs = solver.to_spectral(solver.simulate(u0, t_end=0.4, dt=dt, save_every=1))
    energy, dissipation = solver.energy(coeffs), solver.dissipation(coeffs)
    power = forcing.power if forcing is not None and forcing.kind == "linear" else 0.0
    rate = (energy[:-4] - 8 * energy[1:-3] + 8 * energy[3:-1] - energy[4:]) / (12 * dt)
    residual = rate - (power - dissipation[2:-2])
    return (residual.abs().max() / dissipation.abs().max()).item()


def test_energy_decays_at_minus_two_nu_enstrophy_to_scheme_accuracy() -> None:
    coarse, fine = energy_budget_error(0.02), energy_budget_error(0.01)
    assert fine < 1e-5
    assert coarse / fine > 10  # fourth-order convergence (ideal ratio 16)


def test_linear_forcing_injects_its_power() -> None:
    assert energy_budget_error(0.01, Forcing("linear", power=0.2, wavenumber=2.0)) < 1e-5


def test_taylor_green_early_time() -> None:
    """Short-time Taylor–Green vortex: Ω(t) = Ω0 (1 + 5t²/48 + O(t⁴)) without viscosity.

    With viscosity ν, dK/dt = −2νΩ then gives K(t) = K0 e^{−6νt} (1 − 5νt³/24 + ...).
    """
    u0 = taylor_green(16)
    inviscid = NS3DSolver(16, 0.0)
    coeffs = inviscid.to_spectral(inviscid.simulate(u0, t_end=0.2, dt=0.01, save_every=5))
    energy, enstrophy = inviscid.energy(coeffs), inviscid.enstrophy(coeffs)
    assert energy[0].item() == pytest.approx(0.125, rel=1e-14)
    assert enstrophy[0].item() == pytest.approx(0.375, rel=1e-14)
    assert (energy - energy[0]).abs().max() < 1e-13  # Galerkin truncation conserves energy
    t = torch.tensor([0.05, 0.1, 0.15, 0.2], dtype=torch.float64)
    growth = (enstrophy[1:] / enstrophy[0] - 1) / t**2
    # Richardson extrapolation of the t² coefficient removes the O(t²) correction.
    coefficient = (4 * growth[0] - growth[1]) / 3
    assert coefficient.item() == pytest.approx(5 / 48, rel=1e-4)

    viscosity = 0.01
    solver = NS3DSolver(16, viscosity)
    coeffs = solver.to_spectral(solver.simulate(u0, t_end=0.4, dt=0.01, save_every=10))
    energy = solver.energy(coeffs)
    t = torch.arange(5, dtype=torch.float64) * 0.1
    deviation = energy / (energy[0] * torch.exp(-6 * viscosity * t)) - 1
    predicted = -5 * viscosity * t**3 / 24
    assert torch.allclose(deviation, predicted, rtol=0.05, atol=1e-9)


def test_kolmogorov_forcing_drives_the_laminar_profile() -> None:
    """From rest, u = F/(νk²)(1 − e^{−νk²t}) sin(k y) e_x exactly (u × ω is a gradient)."""
    viscosity, amplitude, k = 0.1, 0.5, 2
    solver = NS3DSolver(16, viscosity, Forcing("kolmogorov", amplitude=amplitude, wavenumber=k))
    frames = solver.simulate(torch.zeros(3, 16, 16, 16), t_end=1.0, dt=0.01, save_every=100)
    _, y, _ = grid(16)
    rate = viscosity * k**2
    exact = torch.zeros(3, 16, 16, 16, dtype=torch.float64)
    exact[0] = amplitude / rate * (1 - math.exp(-rate * 1.0)) * torch.sin(k * y)
    assert ((frames[-1] - exact).norm() / exact.norm()).item() < 1e-9


def test_unknown_forcing_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown forcing 'magic'") as info:
        NS3DSolver(16, 0.01, forcing="magic")
    for name in FORCINGS:
        assert repr(name) in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 16, "viscosity": -0.1}, "viscosity must be >= 0"),
        ({"n": 6, "viscosity": 0.1}, "even and >= 8"),
        ({"n": 15, "viscosity": 0.1}, "even and >= 8"),
    ],
)
def test_bad_solver_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        NS3DSolver(**kwargs)


def test_cfl_helpers_agree() -> None:
    solver = NS3DSolver(16, 0.01)
    u = random_velocity(16, seed=1)
    dt = solver.cfl_dt(u, 0.5)
    assert solver.cfl(u, dt) == pytest.approx(0.5)
    assert solver.cfl_dt(torch.zeros(3, 16, 16, 16), 0.5) == math.inf


def test_blow_up_reports_time_and_cfl() -> None:
    solver = NS3DSolver(16, 0.01)
    u0 = random_velocity(16, seed=1)
    u0[0, 3, 3, 3] = math.nan
    with pytest.raises(BlowUpError, match=r"non-finite velocity at t = 0\.02 \(step 1") as info:
        solver.simulate(u0, t_end=0.1, dt=0.02)
    assert info.value.time == pytest.approx(0.02)
    with pytest.raises(BlowUpError, match="exceeds max_cfl") as info:
        solver.simulate(random_velocity(16, seed=1), t_end=0.1, dt=0.02, max_cfl=1e-3)
    assert info.value.cfl > 1e-3 and info.value.time == pytest.approx(0.02)


def test_t_end_must_be_whole_steps() -> None:
    assert steps_for(1.0, 0.1) == 10
    with pytest.raises(ValueError, match="whole number of steps"):
        steps_for(1.0, 0.3)


def test_float32_solver_tracks_float64() -> None:
    u0 = random_velocity(16, seed=2)
    ref = NS3DSolver(16, 0.05).simulate(u0, t_end=0.2, dt=0.02, save_every=10)
    low = NS3DSolver(16, 0.05, dtype=torch.float32).simulate(u0, t_end=0.2, dt=0.02, save_every=10)
    assert low.dtype == torch.float32
    assert ((low.double() - ref).norm() / ref.norm()).item() < 1e-5


def test_taylor_reynolds_number() -> None:
    # u' = 1, ε = 15ν ⇒ λ = 1 and Re_λ = 1/ν.
    assert taylor_reynolds(1.5, 15 * 0.01, 0.01) == pytest.approx(100.0)


@pytest.mark.gpu
def test_cuda_matches_cpu() -> None:
    u0 = random_velocity(32, seed=4)
    cpu = NS3DSolver(32, 0.02, "linear").simulate(u0, t_end=0.1, dt=0.01, save_every=10)
    gpu = NS3DSolver(32, 0.02, "linear", device="cuda").simulate(
        u0.cuda(), t_end=0.1, dt=0.01, save_every=10
    )
    assert ((gpu.cpu() - cpu).norm() / cpu.norm()).item() < 1e-10
