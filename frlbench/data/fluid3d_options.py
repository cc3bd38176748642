"""Options of the ``fluid3d`` builder (``[profiles.<name>.data]``), validated on creation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from frlbench.data.ns3d import FORCINGS, MIN_RESOLUTION, RK4_CFL_LIMIT, Forcing
from frlbench.spec import InvalidValue


@dataclass(frozen=True)
class Fluid3DOptions:
    """Options of the ``fluid3d`` builder (``[profiles.<name>.data]``).

    Attributes:
        viscosity: Kinematic viscosity ν ≥ 0.
        forcing: ``"none"`` (decaying turbulence), ``"linear"`` (Lundgren's linear forcing at
            constant injected power) or ``"kolmogorov"`` (``sin(k_f y) e_x``).
        forcing_power: Energy injection rate ε of the linear forcing (> 0).
        forcing_wavenumber: Linear forcing: radius of the forced band (0 = every mode);
            Kolmogorov forcing: its integer wavenumber k_f.
        forcing_amplitude: Amplitude of the Kolmogorov forcing.
        dt: Solver time step; the CFL number ``dt·max(|u|+|v|+|w|)/dx`` at the reference
            resolution must stay at or below ``max_cfl``.
        max_cfl: Largest CFL number allowed (checked on every initial condition before the run
            and on every saved state during it); at most the RK4 limit ≈ 1.35.
        steps_per_pair: Solver steps between the input and the target of a pair (Δt =
            ``steps_per_pair · dt``).
        pairs_per_trajectory: Consecutive pairs taken from each trajectory.
        spinup_time: Time simulated at the reference resolution before the first saved state
            (rounded up to a whole number of pair intervals), so that the turbulence is developed.
        coarse_spinup_time: Time simulated first on the coarser grid
            ``coarse_spinup_resolution`` (rounded up to whole steps), whose state is then
            zero-padded to the reference grid; a cheap way to develop the large scales. 0 skips it.
        coarse_spinup_resolution: Grid of the coarse spin-up (0: half the reference resolution).
        coarse_spinup_dt: Time step of the coarse spin-up (0: ``dt``). On a grid half as fine
            the same CFL number allows twice the step, which halves the cost of a long spin-up.
        ic_peak_wavenumber: Peak wavenumber of the initial-condition spectrum.
        ic_energy: Kinetic energy ``½⟨|u|²⟩`` of the initial conditions.
        ic_slope: Spectral slope of the initial conditions above the peak.
        seed: Base seed; trajectory i of split s uses seed ``seed + offset(s) + i``.
        precision: Solver precision, ``"float64"`` or ``"float32"`` (data are stored as float32).
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    """

    viscosity: float = 0.01
    forcing: str = "linear"
    forcing_power: float = 0.1
    forcing_wavenumber: float = 2.0
    forcing_amplitude: float = 1.0
    dt: float = 0.01
    max_cfl: float = 0.6
    steps_per_pair: int = 10
    pairs_per_trajectory: int = 4
    spinup_time: float = 4.0
    coarse_spinup_time: float = 0.0
    coarse_spinup_resolution: int = 0
    coarse_spinup_dt: float = 0.0
    ic_peak_wavenumber: float = 3.0
    ic_energy: float = 0.5
    ic_slope: float = -5.0 / 3.0
    seed: int = 0
    precision: Literal["float64", "float32"] = "float64"
    device: Literal["auto", "cpu", "cuda"] = "auto"

    def __post_init__(self) -> None:
        _require(self.viscosity >= 0, "viscosity", self.viscosity, ">= 0")
        _require(
            self.forcing in FORCINGS,
            "forcing",
            self.forcing,
            "one of " + ", ".join(repr(f) for f in FORCINGS),
        )
        if self.forcing == "linear":
            _require(self.forcing_power > 0, "forcing_power", self.forcing_power, "> 0")
            _require(
                self.forcing_wavenumber >= 0,
                "forcing_wavenumber",
                self.forcing_wavenumber,
                ">= 0 for linear forcing (0 forces every mode)",
            )
        if self.forcing == "kolmogorov":
            _require(
                self.forcing_wavenumber >= 1 and float(self.forcing_wavenumber).is_integer(),
                "forcing_wavenumber",
                self.forcing_wavenumber,
                "an integer >= 1 for Kolmogorov forcing",
            )
        _require(self.dt > 0, "dt", self.dt, "> 0")
        _require(
            0 < self.max_cfl <= RK4_CFL_LIMIT,
            "max_cfl",
            self.max_cfl,
            f"0 < max_cfl <= {RK4_CFL_LIMIT:.3f} (the RK4 stability limit with the 2/3 rule)",
        )
        _require(self.steps_per_pair >= 1, "steps_per_pair", self.steps_per_pair, ">= 1")
        pairs = self.pairs_per_trajectory
        _require(pairs >= 1, "pairs_per_trajectory", pairs, ">= 1")
        _require(self.spinup_time >= 0, "spinup_time", self.spinup_time, ">= 0")
        _require(
            self.coarse_spinup_time >= 0, "coarse_spinup_time", self.coarse_spinup_time, ">= 0"
        )
        _require(
            self.coarse_spinup_resolution == 0
            or (
                self.coarse_spinup_resolution >= MIN_RESOLUTION
                and self.coarse_spinup_resolution % 2 == 0
            ),
            "coarse_spinup_resolution",
            self.coarse_spinup_resolution,
            f"0 (half the reference resolution) or an even size >= {MIN_RESOLUTION}",
        )
        _require(
            self.coarse_spinup_dt >= 0, "coarse_spinup_dt", self.coarse_spinup_dt, ">= 0 (0: dt)"
        )
        _require(self.ic_peak_wavenumber > 0, "ic_peak_wavenumber", self.ic_peak_wavenumber, "> 0")
        _require(self.ic_energy > 0, "ic_energy", self.ic_energy, "> 0")
        _require(self.ic_slope < 0, "ic_slope", self.ic_slope, "< 0")
        _require(self.seed >= 0, "seed", self.seed, ">= 0")

    def forcing_spec(self) -> Forcing:
        """The solver's :class:`Forcing` described by these options."""
        return Forcing(
            self.forcing,
            power=self.forcing_power,
            wavenumber=self.forcing_wavenumber,
            amplitude=self.forcing_amplitude,
        )

    @property
    def pair_dt(self) -> float:
        """Time Δt between the input and the target of a pair."""
        return self.steps_per_pair * self.dt

    @property
    def spinup_steps(self) -> int:
        """Solver steps before the first saved state: a whole number of pair intervals."""
        intervals = math.ceil(self.spinup_time / self.pair_dt - 1e-9)
        return max(intervals, 0) * self.steps_per_pair

    @property
    def coarse_dt(self) -> float:
        """Time step of the coarse spin-up."""
        return self.coarse_spinup_dt or self.dt

    @property
    def coarse_spinup_steps(self) -> int:
        """Solver steps of the coarse spin-up."""
        return max(math.ceil(self.coarse_spinup_time / self.coarse_dt - 1e-9), 0)

    def coarse_resolution(self, reference_resolution: int) -> int:
        """Grid of the coarse spin-up for a given reference resolution."""
        return self.coarse_spinup_resolution or reference_resolution // 2


def _require(condition: bool, key: str, value: Any, valid: str) -> None:
    if not condition:  # written so that NaN fails every check
        raise InvalidValue(key, value, valid)
