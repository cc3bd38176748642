"""pytest-benchmark timings of the fluid3d solver step and its FFT work (opt in: -m slow).

pytest -m slow tests/test_bench_fluid3d.py --benchmark-enable
"""

from __future__ import annotations

import pytest
import torch

from frlbench.data.ns3d import Forcing, NS3DSolver
from frlbench.data.turbulence import random_velocity

pytestmark = pytest.mark.slow


def make_case(n: int) -> tuple[NS3DSolver, torch.Tensor, float]:
    solver = NS3DSolver(n, 0.01, Forcing("linear", power=0.1))
    u0 = random_velocity(n, seed=0, peak_wavenumber=2.5, energy=0.5)
    coeffs = solver.project(solver.to_spectral(u0))
    dt = solver.cfl_dt(u0, 0.5)
    solver.step(coeffs, dt)  # warm-up
    return solver, coeffs, dt


@pytest.mark.parametrize("n", [32, 64])
def test_step(benchmark, n: int) -> None:
    solver, coeffs, dt = make_case(n)
    out = benchmark(solver.step, coeffs, dt)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("n", [32, 64])
def test_fft_work_of_one_step(benchmark, n: int) -> None:
    """Four inverse transforms of six fields and four forward transforms of three."""
    spectral_in = torch.randn(6, n, n, n // 2 + 1, dtype=torch.complex128)

    def fft_work() -> None:
        for _ in range(4):
            physical = torch.fft.irfftn(spectral_in, s=(n, n, n), dim=(-3, -2, -1))
            torch.fft.rfftn(physical[:3], dim=(-3, -2, -1))

    benchmark(fft_work)
