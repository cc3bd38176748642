"""The ERA5 stand-in's options and its generation: members of the shallow-water flow
(:mod:`frlbench.data.swe`) spun up, simulated and written in the WeatherBench2 layout.

Every member is one calendar year (``2000 + k``) of ``pairs_per_trajectory + 1`` states
``lead_hours`` apart. Members start from independent random initial conditions, are spun up
together on a coarser grid (whose truncation lies well above the forcing band, so its
equilibrium is the reference grid's) and then briefly on the reference grid.

Measured with the quick profile's former settings (a diagnostic run): members branched from
one shared spin-up by a 1 m/s perturbation were still correlated at 0.998 (vorticity, mean
over member pairs) after 3 days, i.e. clones of one flow. Independent initial conditions give
0.49 in the quick build (``member_vorticity_correlation`` in the metadata): what all members
share is the flow forced by the one forcing pattern. (``"galewsky"`` members differ only by
small perturbations and decorrelate only as fast as the flow is chaotic.)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch

from frlbench.data.latlon import area_weights, grid_name
from frlbench.data.swe import GRAVITY, HOUR, SphereSWE, SWEParams, write_wb2
from frlbench.spec import ConfigError, InvalidValue, ResolvedTask

STANDIN_YEAR0 = 2000


def _require(condition: bool, key: str, value: Any, valid: str) -> None:
    if not condition:
        raise InvalidValue(key, value, valid)


@dataclass(frozen=True)
class StandinOptions:
    """The shallow-water stand-in (``[profiles.<name>.data.standin]``); see :class:`SWEParams`.

    Attributes:
        mean_depth: Mean depth H (m).
        dt: Time step at the reference grid (s); ``lead_hours`` must be a whole number of steps.
        drag_days: Linear drag time (days).
        relax_days: Geopotential relaxation time (days).
        hyperdiffusion_hours: ∇⁸ e-folding time at the largest degree (hours).
        forcing_amplitude: RMS vorticity forcing (1/s per day).
        forcing_degree: Central degree of the forcing band.
        initial_condition: ``"random"`` or ``"galewsky"`` (needs a deep layer, H ≈ 10 km).
        spinup_days: Spin-up of every member on the coarse grid ``spinup_resolution`` (days).
        spinup_resolution: Longitudes of the coarse spin-up grid; its largest degree should lie
            well above the forcing band (the ∇⁸ damping at the grid's truncation otherwise
            reaches the forced scales and the reference grid re-equilibrates after the switch).
        spinup_dt: Time step of the coarse spin-up (s).
        fine_spinup_hours: Spin-up at the reference grid before the first saved state (hours).
        seed: Base seed (forcing pattern, member k's initial condition ``seed + k``).
        precision: ``"float64"`` or ``"float32"`` solver arithmetic (stored as float32).
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
    """

    mean_depth: float = 500.0
    dt: float = 600.0
    drag_days: float = 5.0
    relax_days: float = 5.0
    hyperdiffusion_hours: float = 3.0
    forcing_amplitude: float = 3e-5
    forcing_degree: int = 10
    initial_condition: Literal["random", "galewsky"] = "random"
    spinup_days: float = 10.0
    spinup_resolution: int = 96
    spinup_dt: float = 900.0
    fine_spinup_hours: float = 6.0
    seed: int = 0
    precision: Literal["float64", "float32"] = "float64"
    device: Literal["auto", "cpu", "cuda"] = "auto"

    def __post_init__(self) -> None:
        for key in ("mean_depth", "dt", "drag_days", "relax_days", "hyperdiffusion_hours"):
            _require(getattr(self, key) > 0, key, getattr(self, key), "> 0")
        _require(self.spinup_dt > 0, "spinup_dt", self.spinup_dt, "> 0")
        _require(self.forcing_amplitude >= 0, "forcing_amplitude", self.forcing_amplitude, ">= 0")
        _require(self.forcing_degree >= 2, "forcing_degree", self.forcing_degree, ">= 2")
        _require(self.spinup_days >= 0, "spinup_days", self.spinup_days, ">= 0")
        _require(self.fine_spinup_hours >= 0, "fine_spinup_hours", self.fine_spinup_hours, ">= 0")
        _require(
            self.spinup_resolution >= 16 and self.spinup_resolution % 2 == 0,
            "spinup_resolution",
            self.spinup_resolution,
            "an even number of longitudes >= 16",
        )

    def params(self, coarse: bool = False) -> SWEParams:
        """Solver parameters (the coarse spin-up's time step when ``coarse``)."""
        return SWEParams(
            mean_depth=self.mean_depth,
            dt=self.spinup_dt if coarse else self.dt,
            drag_days=self.drag_days,
            relax_days=self.relax_days,
            hyperdiffusion_hours=self.hyperdiffusion_hours,
            forcing_amplitude=self.forcing_amplitude,
            forcing_degree=self.forcing_degree,
            seed=self.seed,
        )

    def steps(self, hours: float) -> int:
        """Reference-grid steps in ``hours``."""
        return round(hours * HOUR / self.dt)


def standin_periods(sizes: Any) -> dict[str, tuple[str, str]]:
    """Calendar years of the stand-in's members: train, then val, then test."""
    out, year = {}, STANDIN_YEAR0
    for split, count in (("train", sizes.n_train), ("val", sizes.n_val), ("test", sizes.n_test)):
        out[split] = (f"{year}-01-01", f"{year + count - 1}-12-31")
        year += count
    return out


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


class ERA5OptionsLike(Protocol):
    """What the stand-in reads of the ``era5`` builder's options
    (:class:`frlbench.data.era5.ERA5Options`, declared there; named here by shape so that
    this module, which ``era5`` imports, does not import it back)."""

    lead_hours: int
    pairs_per_trajectory: int
    standin: StandinOptions


def standin_path(task: ResolvedTask, opts: ERA5OptionsLike) -> Path:
    """Where the stand-in of ``task`` is written: the cache directory of the dataset being
    built (``--cache-dir``), else the default cache directory."""
    from frlbench.data.cache import build_dir

    sizes = task.sizes
    content = {
        "standin": dataclasses.asdict(opts.standin),
        "reference_resolution": sizes.reference_resolution,
        "members": [sizes.n_train, sizes.n_val, sizes.n_test],
        "lead_hours": opts.lead_hours,
        "pairs": opts.pairs_per_trajectory,
        "version": 2,
    }
    key = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
    return build_dir() / f"era5-standin-{key}.nc"


def simulate_standin(
    task: ResolvedTask, opts: ERA5OptionsLike, bar: Any = None
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, dict[str, Any]]:
    """Run the stand-in: every member spun up, then its saved states.

    Returns:
        ``(fields, latitudes, times, facts)``: variable -> ``(time, lat, lon)`` float32 arrays
        (north first, as solved), solver latitudes, ``datetime64`` times (member k in year
        ``2000 + k``) and facts for the metadata (energy drift, solver grid).
    """
    sizes = task.sizes
    so = opts.standin
    members = sizes.n_train + sizes.n_val + sizes.n_test
    dtype = torch.float64 if so.precision == "float64" else torch.float32
    device = _device(so.device)
    fine = SphereSWE(sizes.reference_resolution, so.params(), dtype=dtype, device=device)
    coarse = SphereSWE(so.spinup_resolution, so.params(coarse=True), dtype=dtype, device=device)
    state = _initial_states(coarse, so, members)
    coarse_steps = math.ceil(so.spinup_days * 86400 / so.spinup_dt)
    lead_steps = so.steps(opts.lead_hours)
    fine_steps = so.steps(so.fine_spinup_hours)
    saved_states = opts.pairs_per_trajectory + 1
    total = coarse_steps + fine_steps + lead_steps * (saved_states - 1)
    job = bar.add_task(f"era5/{task.profile} stand-in", total=total) if bar is not None else None

    def blown_up(exc: FloatingPointError, key: str, value: float) -> ConfigError:
        return ConfigError(
            f"{task.source or task.name}: key 'profiles.{task.profile}.data.standin.{key}': got "
            f"{value:g}; the stand-in became non-finite ({exc}); valid: a smaller time step "
            "(gravity waves of speed √(g·mean_depth) and the winds limit it) or weaker forcing"
        )

    def tick(_: int) -> None:
        if bar is not None:
            bar.advance(job)

    try:
        if coarse_steps:
            state = coarse.run(state, coarse_steps, coarse_steps, on_step=tick)[-1]
    except FloatingPointError as exc:
        raise blown_up(exc, "spinup_dt", so.spinup_dt) from None
    try:
        state = fine.resize(state)
        if fine_steps:
            state = fine.run(state, fine_steps, fine_steps, on_step=tick)[-1]
        frames = [state]
        if saved_states > 1:
            frames += fine.run(state, lead_steps * (saved_states - 1), lead_steps, on_step=tick)
    except FloatingPointError as exc:
        raise blown_up(exc, "dt", so.dt) from None
    grids = [fine.to_grid(f) for f in frames]  # each: variable -> (members, lat, lon)
    fields = {
        name: torch.stack([g[name] for g in grids], dim=1).flatten(0, 1).cpu().float().numpy()
        for name in grids[0]
    }
    if fields["geopotential"].min() <= 0:
        raise ConfigError(
            f"{task.where}: key '{task.data_key}.standin.mean_depth': the "
            f"layer depth became negative (min geopotential {fields['geopotential'].min():.4g}); "
            "valid: a deeper layer or weaker forcing"
        )
    times = np.array(
        [
            np.datetime64(f"{STANDIN_YEAR0 + k}-01-01T00")
            + np.timedelta64(j * opts.lead_hours, "h")
            for k in range(members)
            for j in range(saved_states)
        ]
    ).astype("datetime64[ns]")
    return fields, fine.latitudes, times, _standin_facts(fine, fields, members, saved_states)


def _initial_states(coarse: SphereSWE, so: StandinOptions, members: int) -> torch.Tensor:
    """Every member's initial spectral state on the spin-up solver's grid.

    Independent members: a small perturbation of one shared state decorrelates far too slowly
    in this weakly chaotic flow (see the module docstring).
    """
    if so.initial_condition == "galewsky":  # one jet, each member with its own small noise
        noise = [coarse.random_initial_condition(so.seed + k, wind=1.0) for k in range(members)]
        state = torch.stack(noise)
        state[:, 0] = 0  # perturb vorticity only
        return state + coarse.galewsky_initial_condition()
    return torch.stack([coarse.random_initial_condition(so.seed + k) for k in range(members)])


def _standin_facts(
    fine: SphereSWE, fields: dict[str, np.ndarray], members: int, saved_states: int
) -> dict[str, Any]:
    """The stand-in's facts for the dataset metadata: solver grid, kinetic-energy drift over
    the saved states, how independent the members are, RMS wind and mean layer height."""
    weights = area_weights(fine.latitudes[::-1].copy())[::-1].reshape(-1, 1)
    u, v = fields["u_component_of_wind"], fields["v_component_of_wind"]
    energy = (0.5 * (u.astype(np.float64) ** 2 + v**2) * weights).mean(axis=(-2, -1))
    energy = energy.reshape(members, saved_states).mean(axis=0)
    vorticity = fields["vorticity"].reshape(members, saved_states, *fields["vorticity"].shape[1:])
    return {
        "solver_grid": grid_name(fine.nlon, fine.nlat),
        "solver_max_degree": fine.lmax,
        "kinetic_energy_per_saved_state": energy.tolist(),
        "kinetic_energy_drift": float(energy[-1] / energy[0] - 1),
        "member_vorticity_correlation": member_correlation(vorticity[:, 0], weights),
        "rms_wind": float(math.sqrt(2 * energy.mean())),
        "mean_geopotential_height_m": float(fields["geopotential"].mean() / GRAVITY),
    }


def member_correlation(fields: np.ndarray, weights: np.ndarray) -> float:
    """Mean area-weighted correlation over all pairs of members' ``(member, lat, lon)`` fields
    (about 0 for independent anomalies; 1 for clones)."""
    x = fields.astype(np.float64) * np.sqrt(weights)
    x = x.reshape(len(x), -1)
    x = x - x.mean(axis=1, keepdims=True)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    n = len(x)
    if n < 2:
        return float("nan")
    return float(((x @ x.T).sum() - n) / (n * (n - 1)))


def write_standin(task: ResolvedTask, opts: ERA5OptionsLike, bar: Any = None) -> dict:
    """Simulate the stand-in and write it in the WB2 layout; return its facts."""
    fields, latitudes, times, facts = simulate_standin(task, opts, bar)
    path = standin_path(task, opts)
    attrs = {
        "source": "frlbench shallow-water stand-in for ERA5",
        **{k: json.dumps(v) for k, v in facts.items()},
    }
    write_wb2(path, fields, latitudes, times, attrs)
    return facts
