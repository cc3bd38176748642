"""The ``fluid3d`` task: forced 3D incompressible turbulence on a periodic box.

Reference trajectories are generated at ``reference_resolution`` by :class:`NS3DSolver`
(:mod:`frlbench.data.ns3d`) from random divergence-free initial conditions, one seed per
trajectory. After a spin-up, ``pairs_per_trajectory + 1`` states are saved ``steps_per_pair``
solver steps apart, giving pairs ``(u(t), u(t + Δt))``. Every other resolution of the same
states is a spectral truncation of the reference (:func:`frlbench.spectral.resample`), so
errors at different resolutions are comparable. Splits use disjoint seed ranges; the train
and validation splits hold the training resolution only, the test split every test resolution.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from frlbench import spectral
from frlbench.data.base import (
    SPLIT_SEED_OFFSET,
    SPLITS,
    PairedDataset,
    assemble_dataset,
)
from frlbench.data.cache import resumable
from frlbench.data.fluid3d_options import Fluid3DOptions
from frlbench.data.ns3d import (
    DTYPES,
    MIN_RESOLUTION,
    BlowUpError,
    NS3DSolver,
)
from frlbench.data.turbulence import (
    FieldStatistics,
    band_fractions,
    persistence_error,
    random_velocity,
)
from frlbench.geometry import PERIODIC
from frlbench.registry import register_task_builder
from frlbench.spec import ConfigError, ResolvedTask


class SimulationBlowUp(ConfigError):
    """A reference trajectory became non-finite (or too fast for its time step).

    Attributes:
        seed: Initial-condition seed of the trajectory.
        time: Simulation time at which it was detected.
    """

    def __init__(self, message: str, seed: int, time: float) -> None:
        super().__init__(message)
        self.seed, self.time = seed, time


def _key_error(task: ResolvedTask, key: str, value: Any, valid: str) -> ConfigError:
    return ConfigError(f"{task.source or task.name}: key {key!r}: got {value!r}; valid: {valid}")


def check_profile(task: ResolvedTask, opts: Fluid3DOptions) -> None:
    """Check the task's resolutions at its profile against the solver and the options.

    Raises:
        ConfigError: Naming the key, for a reference grid that is odd, below
            :data:`MIN_RESOLUTION`, or whose dealiased band misses the forcing or the
            initial-condition peak; or a train/test resolution that is odd, below the minimum,
            or does not divide the reference resolution.
    """
    sizes = task.sizes
    prefix = f"profiles.{task.profile}"
    if task.ndim != 3 or task.geometry.spherical or len(task.channels) != 3:
        raise ConfigError(
            f"{task.source or task.name}: builder 'fluid3d' needs ndim = 3, grid = 'periodic' and "
            f"three channels (u, v, w); got ndim = {task.ndim}, grid = {task.grid!r}, "
            f"channels = {list(task.channels)}"
        )
    ref = sizes.reference_resolution
    needed = [opts.ic_peak_wavenumber]
    if opts.forcing != "none":
        needed.append(opts.forcing_wavenumber)
    smallest = max(MIN_RESOLUTION, 3 * math.floor(max(needed)) + 1)
    smallest += smallest % 2
    holds = f"ic_peak_wavenumber = {opts.ic_peak_wavenumber:g}" + (
        f" and forcing_wavenumber = {opts.forcing_wavenumber:g}" if len(needed) > 1 else ""
    )
    solver_grids = [(f"{prefix}.reference_resolution", ref, ref)]
    if opts.coarse_spinup_steps > 0:
        key = f"{prefix}.data.coarse_spinup_resolution"
        solver_grids.append((key, opts.coarse_resolution(ref), ref - 1))
    for key, n, largest in solver_grids:
        if n % 2 or not smallest <= n <= largest:
            below = "" if largest == ref else f" and < reference_resolution = {ref}"
            raise _key_error(
                task,
                key,
                n,
                f"an even solver grid >= {smallest}{below}: the 2/3 rule keeps |k| < n/3, "
                f"which must hold {holds}",
            )
    valid = [r for r in range(MIN_RESOLUTION, ref + 1, 2) if ref % r == 0]
    for key, values in (
        ("train_resolution", (sizes.train_resolution,)),
        ("test_resolutions", sizes.test_resolutions),
    ):
        bad = [r for r in values if r not in valid]
        if bad:
            given = values[0] if key == "train_resolution" else list(values)
            raise _key_error(
                task,
                f"{prefix}.{key}",
                given,
                f"even sizes >= {MIN_RESOLUTION} (the dealiasing minimum) that divide "
                f"reference_resolution = {ref}: {valid}",
            )
    for key in ("n_train", "n_val", "n_test"):
        count = getattr(sizes, key)
        if count > SPLIT_SEED_OFFSET["val"]:
            raise _key_error(
                task, f"{prefix}.{key}", count, f"<= {SPLIT_SEED_OFFSET['val']} (seed ranges)"
            )


def make_solver(task: ResolvedTask, opts: Fluid3DOptions, n: int) -> NS3DSolver:
    """The task's solver on an ``n``-point grid, on the device and precision of ``opts``."""
    device = opts.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return NS3DSolver(
        n,
        opts.viscosity,
        opts.forcing_spec(),
        dtype=DTYPES[opts.precision],
        device=device,
        length=task.domain_length,
    )


def initial_condition(solver: NS3DSolver, opts: Fluid3DOptions, seed: int) -> torch.Tensor:
    """The random initial velocity of trajectory ``seed`` on the solver's grid."""
    return random_velocity(
        solver.n,
        seed,
        peak_wavenumber=opts.ic_peak_wavenumber,
        energy=opts.ic_energy,
        slope=opts.ic_slope,
        length=solver.length,
        dtype=solver.dtype,
        device=solver.device,
    )


def _dt_error(
    task: ResolvedTask, opts: Fluid3DOptions, solver: NS3DSolver, speed: float, why: str
) -> ConfigError:
    limit = opts.max_cfl * solver.dx / speed
    return _key_error(
        task,
        f"profiles.{task.profile}.data.dt",
        opts.dt,
        f"0 < dt <= {limit:.4g} ({why}; CFL = dt·max(|u|+|v|+|w|)/dx must stay <= "
        f"max_cfl = {opts.max_cfl:g} at reference_resolution = {solver.n})",
    )


def simulate_trajectory(
    solver: NS3DSolver,
    opts: Fluid3DOptions,
    u0: torch.Tensor,
    coarse_solver: NS3DSolver | None = None,
    on_step: Any = None,
) -> torch.Tensor:
    """Spin up from ``u0`` and return the ``pairs_per_trajectory + 1`` saved states (CPU).

    Args:
        solver: Solver at the reference resolution.
        opts: Builder options.
        u0: Initial velocity on the reference grid.
        coarse_solver: Solver of the coarse spin-up (required when ``opts`` asks for one).
        on_step: Called after every solver step (progress bars).
    """
    t0 = 0.0
    if opts.coarse_spinup_steps > 0:
        if coarse_solver is None:
            raise ValueError("options ask for a coarse spin-up but no coarse_solver was given")
        steps = opts.coarse_spinup_steps
        # save_every = steps: the iterator yields the final coarse state only.
        t0, coarse = next(
            coarse_solver.iterate(
                spectral.resample(u0, coarse_solver.shape),
                steps,
                opts.coarse_dt,
                steps,
                max_cfl=opts.max_cfl,
                on_step=on_step,
            )
        )
        u0 = spectral.resample(coarse.to(solver.device), solver.shape)
    total = opts.spinup_steps + opts.pairs_per_trajectory * opts.steps_per_pair
    first_saved = t0 + (opts.spinup_steps - 0.5) * opts.dt
    frames = [
        u.cpu()
        for t, u in solver.iterate(
            u0, total, opts.dt, opts.steps_per_pair, max_cfl=opts.max_cfl, on_step=on_step, t0=t0
        )
        if t >= first_saved
    ]
    if opts.spinup_steps == 0:
        frames.insert(0, solver.to_physical(solver.project(solver.to_spectral(u0))).cpu())
    return torch.stack(frames)


def solver_grid(resolution: int, reference_resolution: int) -> int:
    """Grid on which the task's solver advances a state given on ``resolution`` points.

    The 2/3 rule on it keeps every mode of the ``resolution`` grid (the 3/2 rule of
    dealiasing); the reference grid is used as is, since the data are band-limited to it.
    """
    grid = 3 * resolution // 2 + 1
    return min(grid + grid % 2, reference_resolution)


def forecast(task: ResolvedTask, inputs: torch.Tensor, resolution: int) -> torch.Tensor:
    """The numerical solver as a forecaster: advance states ``(N, 3, r, r, r)`` by Δt.

    Physical-unit states on the ``resolution`` grid are advanced by ``steps_per_pair`` solver
    steps on :func:`solver_grid` and truncated back; at the reference resolution this
    reproduces the targets, below it the error is the solver's own resolution error. Registered
    with the builder (``solver=forecast``) for the reference rows of the leaderboard.
    """
    opts = task.options
    solver = make_solver(task, opts, solver_grid(resolution, task.sizes.reference_resolution))
    steps = opts.steps_per_pair
    outputs = []
    for state in inputs:
        padded = spectral.resample(state.to(torch.float64), solver.shape)
        _, advanced = next(solver.iterate(padded, steps, opts.dt, steps))
        outputs.append(spectral.resample(advanced.cpu().double(), task.grid_shape(resolution)))
    return torch.stack(outputs).to(inputs.dtype)


def _check_initial_dt(
    task: ResolvedTask, opts: Fluid3DOptions, solver: NS3DSolver, seeds: list[int]
) -> None:
    """Check dt on every initial condition before spending time on any trajectory.

    Raises:
        ConfigError: Naming the seed whose initial condition breaks the CFL limit.
    """
    for seed in seeds:
        u0 = initial_condition(solver, opts, seed)
        if solver.cfl(u0, opts.dt) > opts.max_cfl:
            speed = u0.abs().sum(dim=0).max().item()
            raise _dt_error(task, opts, solver, speed, f"initial condition of seed {seed}")


def _metadata(
    task: ResolvedTask,
    opts: Fluid3DOptions,
    raw: dict[str, Any],
    coarse: int | None,
    energies: list[list[float]],
    test_reference: list[torch.Tensor],
) -> dict[str, Any]:
    """The dataset's metadata: the physics and numerics used, drift, band energies,
    persistence's error (the field statistics are the caller's)."""
    sizes = task.sizes
    test_inputs, test_targets, _ = raw["test"]
    return {
        "builder": "fluid3d",
        "viscosity": opts.viscosity,
        "forcing": {
            "kind": opts.forcing,
            "power": opts.forcing_power,
            "wavenumber": opts.forcing_wavenumber,
            "amplitude": opts.forcing_amplitude,
        },
        "dt": opts.dt,
        "pair_dt": opts.pair_dt,
        "steps_per_pair": opts.steps_per_pair,
        "spinup_time": opts.spinup_steps * opts.dt,
        "coarse_spinup_time": opts.coarse_spinup_steps * opts.coarse_dt,
        "coarse_spinup_dt": opts.coarse_dt if coarse else None,
        "coarse_spinup_resolution": coarse,
        "reference_resolution": sizes.reference_resolution,
        "precision": opts.precision,
        "energy_drift": energy_drift(energies),
        "unseen_energy_fraction": band_fractions(
            torch.cat(test_reference),
            task.lengths,
            sizes.train_resolution,
            list(sizes.test_resolutions),
        ),
        "persistence_relative_rmse": {
            str(r): persistence_error(test_inputs[r], test_targets[r]) for r in test_inputs
        },
    }


@register_task_builder(
    "fluid3d",
    options=Fluid3DOptions,
    version=2,
    solver=forecast,
    geometry=PERIODIC,
    symmetries=("cube",),
    data_source=(
        "frlbench's pseudo-spectral Navier-Stokes solver (forced 3D incompressible turbulence "
        "in a periodic box; simulated, no measured data)"
    ),
)
def build_fluid3d(task: ResolvedTask, progress: bool = True) -> PairedDataset:
    """Build the paired multi-resolution turbulence dataset of ``task`` at its profile."""
    opts = task.options
    check_profile(task, opts)
    sizes = task.sizes
    solver = make_solver(task, opts, sizes.reference_resolution)
    coarse_solver = None
    if opts.coarse_spinup_steps > 0:
        coarse_solver = make_solver(task, opts, opts.coarse_resolution(sizes.reference_resolution))
    counts = {"train": sizes.n_train, "val": sizes.n_val, "test": sizes.n_test}
    # Disjoint seed ranges: trajectory i of split s starts from seed + offset(s) + i.
    seeds = {
        split: [opts.seed + SPLIT_SEED_OFFSET[split] + i for i in range(counts[split])]
        for split in SPLITS
    }
    _check_initial_dt(task, opts, solver, [x for split in SPLITS for x in seeds[split]])
    steps = (
        opts.coarse_spinup_steps
        + opts.spinup_steps
        + opts.pairs_per_trajectory * opts.steps_per_pair
    )
    stats = FieldStatistics(solver, task.lengths, opts.dt)
    raw: dict[str, Any] = {}
    test_reference: list[torch.Tensor] = []
    energies: list[list[float]] = []  # per trajectory, per saved state
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), disable=not progress) as bar:
        job = bar.add_task(f"fluid3d/{task.profile}", total=steps * sum(counts.values()))
        for split in SPLITS:
            resolutions = sizes.test_resolutions if split == "test" else (sizes.train_resolution,)
            inputs: dict[int, list[torch.Tensor]] = {r: [] for r in resolutions}
            targets: dict[int, list[torch.Tensor]] = {r: [] for r in resolutions}
            pair_seeds: list[int] = []
            for seed in seeds[split]:
                bar.update(job, description=f"fluid3d/{task.profile} {split} seed {seed}")
                frames, loaded = resumable(
                    f"trajectory-{seed}",
                    lambda seed=seed: _run(
                        task, opts, (solver, coarse_solver), seed, lambda _: bar.advance(job)
                    ),
                )
                if loaded:  # finished by an earlier, interrupted build
                    bar.advance(job, steps)
                stats.add(frames.to(solver.device))
                coeffs = solver.to_spectral(frames.to(solver.device))
                energies.append(solver.energy(coeffs).tolist())
                if split == "test":
                    test_reference.append(frames)
                for r in resolutions:
                    level = spectral.resample(frames, task.grid_shape(r))
                    inputs[r].append(level[:-1])
                    targets[r].append(level[1:])
                pair_seeds += [seed] * opts.pairs_per_trajectory
            raw[split] = (
                {r: torch.cat(v) for r, v in inputs.items()},
                {r: torch.cat(v) for r, v in targets.items()},
                pair_seeds,
            )
    coarse = opts.coarse_resolution(sizes.reference_resolution) if coarse_solver else None
    metadata = _metadata(task, opts, raw, coarse, energies, test_reference)
    metadata.update(stats.metadata())
    return assemble_dataset(task, raw, metadata)


def energy_drift(energies: list[list[float]]) -> dict[str, Any]:
    """How far the data are from statistically steady over the stored states.

    Args:
        energies: Kinetic energy of each saved state (first input to last target), one list
            per trajectory, all of the same length.

    Returns:
        ``relative``: (mean energy of the last saved state − that of the first) / the first,
        means over every trajectory of every split; ``max_trajectory``: the largest
        ``|relative|`` of a single trajectory; ``mean_energy``: the mean energy at each saved
        state.
    """
    table = torch.tensor(energies, dtype=torch.float64)
    mean = table.mean(dim=0)
    per_trajectory = (table[:, -1] - table[:, 0]) / table[:, 0]
    return {
        "relative": float((mean[-1] - mean[0]) / mean[0]),
        "max_trajectory": float(per_trajectory.abs().max()),
        "mean_energy": mean.tolist(),
    }


def _run(
    task: ResolvedTask,
    opts: Fluid3DOptions,
    solvers: tuple[NS3DSolver, NS3DSolver | None],
    seed: int,
    on_step: Any,
) -> torch.Tensor:
    """One reference trajectory, with blow-ups turned into errors naming the seed and time."""
    solver, coarse_solver = solvers
    u0 = initial_condition(solver, opts, seed)
    try:
        frames = simulate_trajectory(solver, opts, u0, coarse_solver, on_step=on_step)
    except BlowUpError as exc:
        if math.isfinite(exc.cfl):
            why = f"seed {seed} reached CFL {exc.cfl:.3g} at t = {exc.time:.6g}"
            raise _dt_error(task, opts, solver, exc.speed, why) from None
        raise SimulationBlowUp(
            f"{task.source or task.name}: profile {task.profile!r}: sample seed {seed} blew up at "
            f"t = {exc.time:.6g} (step {exc.step}): {exc}. Lower profiles.{task.profile}.data.dt "
            f"or raise profiles.{task.profile}.data.viscosity.",
            seed,
            exc.time,
        ) from None
    return frames.to(torch.float64)
