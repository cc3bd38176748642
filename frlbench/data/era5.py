"""The ``era5`` task: real ERA5 (WeatherBench2 layout) when configured, else the SWE stand-in.

Data source: the data option ``path`` or ``$FRLBENCH_ERA5`` names a WB2 zarr store or netCDF
file; with neither, frlbench generates its shallow-water stand-in (:mod:`frlbench.data.swe`),
writes it in the WB2 layout to the cache directory and reads it back through the same loader
(:class:`frlbench.data.weather.WB2Source`). The dataset's ``metadata["data_source"]`` says which,
in plain words.

Samples: a *segment* is ``pairs_per_trajectory + 1`` states ``lead_hours`` apart, giving that many
consecutive forecast pairs (t, t + lead). ``n_train``/``n_val``/``n_test`` segments are spread
evenly over ``train_period``/``val_period``/``test_period``. The stand-in's calendar years are
independent realizations of its statistically steady flow (one member per year, one segment
each), so its periods are its own years, not the options' ERA5 periods.

Every resolution is the conservative (area-weighted) average of the native fields to the model
grid ``n × n/2`` (:mod:`frlbench.data.latlon`). ACC uses the training period's time mean per
grid point as climatology (WB2 uses a day-of-year × hour climatology; the stand-in has no
seasons, so there the two agree in expectation).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from frlbench.data.base import (
    SPLITS,
    PairedDataset,
    SolverNotApplicable,
    assemble_dataset,
)
from frlbench.data.era5_files import source_identity as file_identity
from frlbench.data.latlon import (
    ConservativeRegridder,
    _to_pole_grid,
    area_weights,
    grid_name,
    model_latitudes,
    regular_longitudes,
)
from frlbench.data.standin import (
    StandinOptions,
    standin_path,
    standin_periods,
    write_standin,
)
from frlbench.data.swe import HOUR, SphereSWE
from frlbench.data.weather import WB2Source, period_mean, resolve_path
from frlbench.geometry import LATLON
from frlbench.registry import register_task_builder
from frlbench.spec import ConfigError, InvalidValue, ResolvedTask


def _require(condition: bool, key: str, value: Any, valid: str) -> None:
    if not condition:
        raise InvalidValue(key, value, valid)


@dataclass(frozen=True)
class ERA5Options:
    """Options of the ``era5`` builder (``[profiles.<name>.data]``).

    Attributes:
        path: WB2 zarr store or netCDF file of ERA5; empty: ``$FRLBENCH_ERA5``, else the stand-in.
        variables: Selected variables, ``"name@level"`` or ``"name"``, one per task channel.
        lead_hours: Forecast lead time (h), fixed before training.
        pairs_per_trajectory: Consecutive pairs per segment (a segment has one more state).
        train_period: ``[start, end]`` dates of the training segments and climatology (ERA5).
        val_period: ``[start, end]`` of the validation segments (ERA5).
        test_period: ``[start, end]`` of the test segments (ERA5).
        climatology_stride_hours: Spacing of the training-period states averaged into the
            climatology (ERA5; the stand-in uses all its training states).
        standin: The shallow-water stand-in's options.
    """

    path: str = ""
    variables: tuple[str, ...] = (
        "geopotential@500",
        "u_component_of_wind@500",
        "v_component_of_wind@500",
    )
    lead_hours: int = 6
    pairs_per_trajectory: int = 4
    train_period: tuple[str, ...] = ("1979-01-01", "2015-12-31")
    val_period: tuple[str, ...] = ("2016-01-01", "2016-12-31")
    test_period: tuple[str, ...] = ("2020-01-01", "2020-12-31")
    climatology_stride_hours: int = 24
    standin: StandinOptions = field(default_factory=StandinOptions)

    def __post_init__(self) -> None:
        _require(self.lead_hours >= 1, "lead_hours", self.lead_hours, ">= 1")
        _require(
            self.pairs_per_trajectory >= 1,
            "pairs_per_trajectory",
            self.pairs_per_trajectory,
            ">= 1",
        )
        for key in ("train_period", "val_period", "test_period"):
            value = getattr(self, key)
            _require(len(value) == 2, key, list(value), "[start, end] ISO dates")
            try:
                start, end = (np.datetime64(v) for v in value)
            except ValueError:
                raise InvalidValue(key, list(value), "[start, end] ISO dates") from None
            _require(start <= end, key, list(value), "start <= end")
        _require(
            self.climatology_stride_hours >= 1,
            "climatology_stride_hours",
            self.climatology_stride_hours,
            ">= 1",
        )
        steps = self.lead_hours * HOUR / self.standin.dt
        _require(
            abs(steps - round(steps)) < 1e-9,
            "standin.dt",
            self.standin.dt,
            f"a divisor of lead_hours = {self.lead_hours} h in seconds",
        )


def check_task(task: ResolvedTask, opts: ERA5Options) -> None:
    """Grid kind, channels against variables, and even resolutions, before any work."""
    where = task.source or task.name
    if not task.geometry.spherical or task.ndim != 2:
        raise ConfigError(
            f"{where}: builder 'era5' needs grid = 'latlon' and ndim = 2; got grid = "
            f"{task.grid!r}, ndim = {task.ndim}"
        )
    if len(task.channels) != len(opts.variables):
        raise ConfigError(
            f"{where}: key '{task.data_key}.variables': {len(opts.variables)} variables "
            f"{list(opts.variables)} for {len(task.channels)} channels {list(task.channels)}; "
            "valid: one variable per channel"
        )
    sizes = task.sizes
    for key, values in (
        ("train_resolution", [sizes.train_resolution]),
        ("test_resolutions", list(sizes.test_resolutions)),
        ("reference_resolution", [sizes.reference_resolution]),
    ):
        bad = [r for r in values if r % 2 or r < 8]
        if bad:
            raise ConfigError(
                f"{where}: key 'profiles.{task.profile}.{key}': got {bad}; valid: even numbers of "
                "longitudes >= 8 (the grid has half as many latitudes)"
            )


def forecast(task: ResolvedTask, inputs: torch.Tensor, resolution: int) -> torch.Tensor:
    """The stand-in's own solver at ``resolution`` as a forecaster (``solver=`` reference).

    States on the model grid are interpolated (linearly in latitude, by Fourier series in
    longitude) to the solver's pole grid, with 3/2 as many longitudes as ``resolution`` (at most
    the reference grid), advanced by ``lead_hours`` and averaged conservatively back. Needs channels
    geopotential, u and v wind (vorticity, if selected, is diagnosed).

    Raises:
        SolverNotApplicable: On real ERA5 (no numerical model of the atmosphere in frlbench).
    """
    opts = task.options
    if resolve_path(opts.path) is not None:
        raise SolverNotApplicable(
            "real ERA5 data; frlbench has no numerical weather model to run on it"
        )
    names = [v.partition("@")[0] for v in opts.variables]
    needed = ("geopotential", "u_component_of_wind", "v_component_of_wind")
    missing = [n for n in needed if n not in names]
    if missing:
        raise SolverNotApplicable(
            f"the stand-in's solver needs variables {list(needed)}; missing {missing}"
        )
    so = opts.standin
    # The 3/2 rule: the solver's retained degrees (2/3 of its grid's) cover every mode of the
    # resolution grid; the reference grid is used as is (the data are band-limited to it).
    grid = min(3 * resolution // 2 + (3 * resolution // 2) % 2, task.sizes.reference_resolution)
    solver = SphereSWE(max(grid, resolution), so.params(), dtype=torch.float64, device="cpu")
    steps = so.steps(opts.lead_hours)
    x = inputs.double()
    pole = {n: _to_pole_grid(x[:, names.index(n)], solver.nlat, solver.nlon) for n in needed}
    state = solver.from_grid(*(pole[n] for n in needed))
    advanced = solver.to_grid(solver.run(state, steps, steps)[-1])
    back = ConservativeRegridder(
        solver.latitudes[::-1].copy(),
        regular_longitudes(solver.nlon),
        model_latitudes(resolution // 2),
        regular_longitudes(resolution),
    )
    out = torch.stack([back(torch.flip(advanced[n], dims=(-2,))) for n in names], dim=1)
    return out.to(inputs.dtype)


def _split_arrays(
    source: WB2Source,
    segments: list[np.ndarray],
    resolutions: list[int],
    regridders: dict[int, ConservativeRegridder],
    dtype: torch.dtype,
) -> tuple[dict[int, torch.Tensor], dict[int, torch.Tensor], list[int]]:
    """Forecast pairs of every segment on every model grid, read and regridded one segment at a
    time into preallocated ``dtype`` tensors (no whole-store read, no concatenation copy)."""
    pairs = sum(len(seg) - 1 for seg in segments)
    channels = len(source.variables)
    shape = {r: (pairs, channels, r // 2, r) for r in resolutions}
    inputs = {r: torch.empty(shape[r], dtype=dtype) for r in resolutions}
    targets = {r: torch.empty(shape[r], dtype=dtype) for r in resolutions}
    ids: list[int] = []
    row = 0
    for seg in segments:
        native = source.read(seg)
        n = len(seg) - 1
        for r in resolutions:
            level = regridders[r](native)
            inputs[r][row : row + n] = level[:-1]
            targets[r][row : row + n] = level[1:]
        ids += [int(seg[0])] * n
        row += n
    return inputs, targets, ids


def source_identity(task: ResolvedTask) -> dict[str, dict[str, Any]] | None:
    """The real ERA5 source's identity (:func:`frlbench.data.era5_files.source_identity`), or
    ``None`` for the stand-in (its data follow from the task's options alone).

    Raises:
        WB2Error: If a configured path does not exist or cannot be read (never the stand-in).
    """
    path = resolve_path(task.options.path)
    return None if path is None else file_identity(path)


def _open_source(
    task: ResolvedTask, opts: ERA5Options, bar: Progress
) -> tuple[WB2Source, dict[str, tuple[str, ...]], str, dict[str, Any]]:
    """The checked source (real ERA5, or the stand-in, simulated first if not cached), its
    periods, its description in plain words and the stand-in's facts (empty for ERA5)."""
    sizes = task.sizes
    path = resolve_path(opts.path)
    if path is not None:
        source = WB2Source(path, opts.variables, check_ranges=True)
        periods = {
            "train": tuple(opts.train_period),
            "val": tuple(opts.val_period),
            "test": tuple(opts.test_period),
        }
        return source, periods, f"ERA5 ({source.format_name} at {path.resolve()})", {}
    path = standin_path(task, opts)
    facts = write_standin(task, opts, bar) if not path.exists() else {}
    source = WB2Source(path, opts.variables, check_ranges=False)
    if not facts and "kinetic_energy_drift" in source.ds.attrs:
        facts = {
            k: json.loads(v)
            for k, v in source.ds.attrs.items()
            if k not in ("source",) and isinstance(v, str)
        }
    described = (
        "frlbench shallow-water stand-in for ERA5 (not real ERA5: forced shallow-water "
        "equations on the rotating sphere, solved by frlbench at "
        f"{sizes.reference_resolution} longitudes with torch-harmonics)"
    )
    return source, standin_periods(sizes), described, facts


# The stand-in's truth is its solver on the pole grid, conservatively averaged to each model grid;
# the solver row's forecast on the reference model grid interpolates to that grid and back, so it
# is not the truth there and is scored on every grid.
@register_task_builder(
    "era5",
    options=ERA5Options,
    version=2,
    solver=forecast,
    solver_is_truth=False,
    source_identity=source_identity,
    geometry=LATLON,
    symmetries=("equator",),
)
def build_era5(task: ResolvedTask, progress: bool = True) -> PairedDataset:
    """Build the paired lat-lon dataset of ``task`` at its profile (ERA5 or the stand-in)."""
    opts = task.options
    check_task(task, opts)
    sizes = task.sizes
    path = resolve_path(opts.path)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, TimeElapsedColumn(), disable=not progress) as bar:
        real = path is not None
        source, periods, described, facts = _open_source(task, opts, bar)
        prefix = f"profiles.{task.profile}"
        source.check_lead(opts.lead_hours, f"{prefix}.data.lead_hours")
        for r in sizes.test_resolutions:
            source.check_resolution(r, f"{prefix}.test_resolutions")
        source.check_resolution(sizes.train_resolution, f"{prefix}.train_resolution")
        states = opts.pairs_per_trajectory + 1
        counts = {"train": sizes.n_train, "val": sizes.n_val, "test": sizes.n_test}
        segments = {
            split: source.segments(
                periods[split],
                counts[split],
                states,
                opts.lead_hours,
                f"{prefix}.data.{split}_period",
            )
            for split in SPLITS
        }
        # Real ERA5 is stored in float32 (or int16): its regridded fields are kept in float32,
        # halving the build's memory. The stand-in keeps float64 (its cached datasets unchanged).
        dtype = torch.float32 if real else torch.float64
        resolutions = sorted(set(sizes.test_resolutions) | {sizes.train_resolution})
        regridders = {r: source.regridder(r) for r in resolutions}
        job = bar.add_task(f"era5/{task.profile} regrid", total=sum(counts.values()))
        raw = {}
        for split in SPLITS:
            wanted = sizes.test_resolutions if split == "test" else (sizes.train_resolution,)
            raw[split] = _split_arrays(source, segments[split], list(wanted), regridders, dtype)
            bar.advance(job, counts[split])
        train_idx = np.concatenate(segments["train"])
        if real:
            stride = np.timedelta64(opts.climatology_stride_hours, "h")
            all_idx = source.period_indices(periods["train"], f"{prefix}.data.train_period")
            times = source.times[all_idx]
            keep = ((times - times[0]) % stride) == np.timedelta64(0)
            train_idx = all_idx[keep]
        clim_native = period_mean(source, np.unique(train_idx))
    climatology = {r: regridders[r](clim_native) for r in sizes.test_resolutions}
    test_inputs, test_targets, _ = raw["test"]
    weights = {
        r: torch.from_numpy(area_weights(model_latitudes(r // 2))).reshape(-1, 1)
        for r in test_inputs
    }
    persistence = {
        str(r): [
            float(((test_targets[r][:, c] - test_inputs[r][:, c]) ** 2 * weights[r]).mean().sqrt())
            for c in range(len(task.channels))
        ]
        for r in test_inputs
    }
    metadata = {
        "builder": "era5",
        "data_source": described,
        "path": str(source.path),
        "variables": list(opts.variables),
        "native_grid": grid_name(source.grid[1], source.grid[0]),
        "grids": {str(r): grid_name(r, r // 2) for r in resolutions},
        "regridding": "conservative (area-weighted) average of the native grid",
        "lead_hours": opts.lead_hours,
        "periods": {k: list(v) for k, v in periods.items()},
        "climatology": "time mean per grid point of the training period",
        "persistence_rmse_per_channel": persistence,
        **facts,
    }
    ds = assemble_dataset(task, raw, metadata)
    ds.climatology = climatology
    return ds
