"""A linear advection–diffusion task with an exact solution, for tests and sanity checks.

Initial conditions are random band-limited fields with a power-law spectrum, drawn at the
reference resolution from a seed; the target is the exact solution after ``dt`` (a phase
shift and a viscous decay of every Fourier mode). Coarser resolutions are spectral
truncations of the same samples. Any model that learns the operator exactly breaks scale
anchoring on this task, which makes it a useful control.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from frlbench import spectral
from frlbench.data.base import (
    SPLIT_SEED_OFFSET,
    SPLITS,
    PairedDataset,
    assemble_dataset,
)
from frlbench.geometry import PERIODIC
from frlbench.registry import register_task_builder
from frlbench.spec import InvalidValue, ResolvedTask


@dataclass(frozen=True)
class AdvectionOptions:
    """Options of the ``advection`` builder (``[profiles.<name>.data]``).

    Attributes:
        velocity: Advection speed per axis (physical units); shorter lists are repeated.
        viscosity: Diffusion coefficient ν ≥ 0.
        dt: Time between input and target.
        spectrum_slope: Energy spectrum slope of initial conditions, E(k) ∝ k^slope.
        peak_wavenumber: Wavenumber below which the spectrum is flat.
        seed: Base seed; sample i of split s uses seed ``seed + offset(s) + i``.
        pairs_per_trajectory: Consecutive pairs ``(u(t + jΔt), u(t + (j+1)Δt))`` taken from
            each initial condition (more than one allows a rollout evaluation).
    """

    velocity: tuple[float, ...] = (1.0,)
    viscosity: float = 0.01
    dt: float = 0.5
    spectrum_slope: float = -2.0
    peak_wavenumber: float = 2.0
    seed: int = 0
    pairs_per_trajectory: int = 1

    def __post_init__(self) -> None:
        if self.pairs_per_trajectory < 1:
            raise InvalidValue("pairs_per_trajectory", self.pairs_per_trajectory, ">= 1")
        if self.viscosity < 0:
            raise InvalidValue("viscosity", self.viscosity, ">= 0")
        if self.dt <= 0:
            raise InvalidValue("dt", self.dt, "> 0")
        if self.peak_wavenumber <= 0:
            raise InvalidValue("peak_wavenumber", self.peak_wavenumber, "> 0")


def random_field(
    shape: tuple[int, ...], lengths: tuple[float, ...], opts: AdvectionOptions, seed: int
) -> torch.Tensor:
    """One random real field with a power-law spectrum, fully determined by ``seed``."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(shape, generator=gen, dtype=torch.float64)
    kmag = spectral.wavenumber_magnitude(shape, lengths, real=True)
    k = torch.clamp(kmag, min=opts.peak_wavenumber)
    # Energy per shell ∝ k^slope and shells hold ~k^(d-1) modes: amplitude² ∝ k^(slope-d+1).
    amplitude = k ** ((opts.spectrum_slope - len(shape) + 1) / 2)
    amplitude[(0,) * len(shape)] = 0.0
    dims = tuple(range(len(shape)))
    field = torch.fft.irfftn(torch.fft.rfftn(noise, dim=dims) * amplitude, s=shape, dim=dims)
    return field / field.std()


def advect(x: torch.Tensor, lengths: tuple[float, ...], opts: AdvectionOptions) -> torch.Tensor:
    """Exact advection–diffusion of a real periodic field ``(..., *grid)`` over ``opts.dt``."""
    ndim = len(lengths)
    shape = tuple(x.shape[-ndim:])
    dims = tuple(range(x.dim() - ndim, x.dim()))
    velocity = (opts.velocity * ndim)[:ndim] if len(opts.velocity) < ndim else opts.velocity
    ks = spectral.wavenumber_grid(shape, lengths, real=True)
    phase = sum(v * k for v, k in zip(velocity, ks, strict=False))
    k2 = sum(k**2 for k in ks)
    factor = torch.exp(-1j * phase * opts.dt - opts.viscosity * k2 * opts.dt)
    return torch.fft.irfftn(torch.fft.rfftn(x, dim=dims) * factor, s=shape, dim=dims)


def forecast(task: ResolvedTask, inputs: torch.Tensor, resolution: int) -> torch.Tensor:
    """The task's solver: exact evolution of ``inputs`` (physical units) on their own grid."""
    return advect(inputs, task.lengths, task.options)


@register_task_builder(
    "advection",
    options=AdvectionOptions,
    solver=forecast,
    geometry=PERIODIC,
    version=1,
    data_source="frlbench's exact advection-diffusion solution (synthetic test data)",
)
def build_advection(task: ResolvedTask, progress: bool = True) -> PairedDataset:
    """Build the paired advection–diffusion dataset of ``task`` at its profile."""
    opts = task.options
    sizes = task.sizes
    lengths = task.lengths
    ref_shape = task.grid_shape(sizes.reference_resolution)
    counts = {"train": sizes.n_train, "val": sizes.n_val, "test": sizes.n_test}
    raw = {}
    for split in SPLITS:
        seeds = [opts.seed + SPLIT_SEED_OFFSET[split] + i for i in range(counts[split])]
        u0 = torch.stack([random_field(ref_shape, lengths, opts, s) for s in seeds])
        states = [u0.unsqueeze(1).repeat(1, len(task.channels), *([1] * task.ndim))]
        for _ in range(opts.pairs_per_trajectory):
            states.append(advect(states[-1], lengths, opts))
        trajectories = torch.stack(states, dim=1)  # (samples, pairs + 1, C, *grid)
        u0 = trajectories[:, :-1].flatten(0, 1)
        u1 = trajectories[:, 1:].flatten(0, 1)
        resolutions = sizes.test_resolutions if split == "test" else (sizes.train_resolution,)
        inputs = {r: spectral.resample(u0, task.grid_shape(r)) for r in resolutions}
        targets = {r: spectral.resample(u1, task.grid_shape(r)) for r in resolutions}
        pair_seeds = [s for s in seeds for _ in range(opts.pairs_per_trajectory)]
        raw[split] = (inputs, targets, pair_seeds)
    metadata = {"builder": "advection", "viscosity": opts.viscosity, "dt": opts.dt}
    return assemble_dataset(task, raw, metadata)
