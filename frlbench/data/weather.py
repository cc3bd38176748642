"""ERA5 in the WeatherBench2 layout: open, check, select variables, regrid, cut forecast pairs.

A WeatherBench2 (WB2) dataset is a zarr store or netCDF file with dims ``time``, ``latitude``,
``longitude`` and, for upper-air variables, ``level`` (hPa); a Copernicus (CDS) netCDF
download is renamed to that layout on opening (:mod:`frlbench.data.era5_files`). Variables
are named as in WB2 (``geopotential``, ``temperature``, ``2m_temperature``,
``10m_u_component_of_wind``, ...); a task selects them as ``"name"`` or ``"name@level"``
(``"geopotential@500"``). Latitudes may be stored in either order and with or without the
poles (721 or 720 rows at 0.25°); fields are returned south to north. Every model grid is a
conservative (area-weighted) average of the data's own grid (:mod:`frlbench.data.latlon`), so
all resolutions come from the same fields.

Every layout check runs when the dataset is opened (:meth:`WB2Source.check`), before any
training; values are checked as they are read (:mod:`frlbench.data.era5_values`). Each error
names the file and what was expected.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from frlbench.data.era5_files import FORMAT_NAMES, WB2Error, open_era5
from frlbench.data.era5_values import check_finite, check_range
from frlbench.data.latlon import ConservativeRegridder, model_latitudes, regular_longitudes
from frlbench.spec import ConfigError

ENV_PATH = "FRLBENCH_ERA5"
SPATIAL_DIMS = ("latitude", "longitude")
#: The hourly WeatherBench2 ERA5 store, named where a lead needs hourly data.
WB2_HOURLY = "gs://weatherbench2/datasets/era5/1959-2022-full_37-1h-0p25deg-chunk-1.zarr-v2"


@dataclass(frozen=True)
class VariableSpec:
    """One selected variable: WB2 name and optional pressure level (hPa)."""

    name: str
    level: int | None = None

    @classmethod
    def parse(cls, text: str) -> VariableSpec:
        """``"geopotential@500"`` → name and level; ``"2m_temperature"`` → no level."""
        name, _, level = text.partition("@")
        if not name or (level and not level.lstrip("-").isdigit()):
            raise ConfigError(f"variable {text!r}: expected 'name' or 'name@level' (hPa)")
        return cls(name, int(level) if level else None)

    def __str__(self) -> str:
        return self.name if self.level is None else f"{self.name}@{self.level}"


def resolve_path(configured: str) -> Path | None:
    """The ERA5 path: the task option if set, else ``$FRLBENCH_ERA5``, else ``None`` (stand-in)."""
    text = configured or os.environ.get(ENV_PATH, "")
    return Path(text).expanduser() if text else None


class WB2Source:
    """A checked WB2 dataset: selected variables, ascending latitudes, times.

    Args:
        path: Zarr store or netCDF file (:mod:`frlbench.data.era5_files` reads and normalises it).
        variables: Selected variables (``"name"`` or ``"name@level"``).
        check_ranges: Check every block read against the variables' physical ranges
            (:mod:`frlbench.data.era5_values`; off for the stand-in, whose shallow layer is not the
            atmosphere). Non-finite values are refused either way.

    Raises:
        WB2Error: Naming the file and what was expected, for a missing variable or level, wrong
            dims, latitudes that are not monotonic and evenly spaced, or times not increasing.
    """

    def __init__(
        self, path: Path, variables: list[str] | tuple[str, ...], check_ranges: bool = True
    ) -> None:
        self.path = Path(path)
        self.variables = [VariableSpec.parse(v) for v in variables]
        self.check_ranges = check_ranges
        self.ds, self.kind = open_era5(self.path)
        self.check()
        self._descending = bool(self.ds["latitude"].values[0] > self.ds["latitude"].values[-1])

    @property
    def format_name(self) -> str:
        """The format in words (``"zarr store"``, ``"netCDF4 file"``, ``"netCDF3 file"``)."""
        return FORMAT_NAMES[self.kind]

    def _error(self, what: str) -> WB2Error:
        return WB2Error(f"{self.path}: {what}")

    def check(self) -> None:
        """Validate dims, coordinates, variables and levels (see the class docstring)."""
        ds = self.ds
        for dim in ("time", *SPATIAL_DIMS):
            if dim not in ds.dims:
                raise self._error(
                    f"missing dimension {dim!r}; expected dims time, latitude, longitude "
                    f"(and level for upper-air variables), found {sorted(ds.dims)}"
                )
        lat = np.asarray(ds["latitude"].values, dtype=np.float64)
        steps = np.diff(lat)
        if not (np.all(steps > 0) or np.all(steps < 0)):
            raise self._error("latitude is not monotonic; expected ascending or descending")
        if not np.allclose(np.abs(steps), np.abs(steps).mean(), rtol=1e-4):
            raise self._error("latitude is not evenly spaced; expected a regular grid")
        if np.abs(lat).max() > 90 + 1e-6:
            raise self._error(f"latitude outside [-90, 90]: {lat.min()}..{lat.max()}")
        lon = np.asarray(ds["longitude"].values, dtype=np.float64)
        dlon = 360.0 / len(lon)
        if not np.allclose(np.diff(lon), dlon, atol=1e-4):
            raise self._error(
                f"longitude must be ascending and evenly spaced over 360° ({len(lon)} points "
                f"imply a spacing of {dlon:g}°)"
            )
        times = np.asarray(ds["time"].values)
        if len(times) > 1 and not np.all(np.diff(times) > np.timedelta64(0)):
            raise self._error("time is not strictly increasing")
        for var in self.variables:
            if var.name not in ds.data_vars:
                raise self._error(
                    f"variable {var.name!r} (selected as {str(var)!r}) not found; available: "
                    + ", ".join(sorted(map(str, ds.data_vars)))
                )
            dims = set(ds[var.name].dims)
            if var.level is None and "level" in dims:
                levels = [int(v) for v in ds["level"].values]
                raise self._error(
                    f"variable {var.name!r} has levels {levels}; select one as '{var.name}@<level>'"
                )
            if var.level is not None:
                if "level" not in dims:
                    raise self._error(
                        f"variable {var.name!r} has no 'level' dimension; select it as "
                        f"{var.name!r} without '@{var.level}'"
                    )
                levels = [int(v) for v in ds["level"].values]
                if var.level not in levels:
                    raise self._error(
                        f"level {var.level} of variable {var.name!r} not found; levels: {levels}"
                    )
            expected = {"time", *SPATIAL_DIMS} | ({"level"} if var.level is not None else set())
            if dims != expected:
                raise self._error(
                    f"variable {var.name!r} has dims {sorted(dims)}; expected {sorted(expected)}"
                )

    @property
    def latitudes(self) -> np.ndarray:
        """Latitudes, ascending (south to north)."""
        return np.sort(np.asarray(self.ds["latitude"].values, dtype=np.float64))

    @property
    def longitudes(self) -> np.ndarray:
        """Longitudes as stored (ascending)."""
        return np.asarray(self.ds["longitude"].values, dtype=np.float64)

    @property
    def times(self) -> np.ndarray:
        """Time coordinate (``datetime64``)."""
        return np.asarray(self.ds["time"].values)

    @property
    def grid(self) -> tuple[int, int]:
        """``(nlat, nlon)`` of the data's native grid."""
        return len(self.ds["latitude"]), len(self.ds["longitude"])

    def check_resolution(self, resolution: int, key: str) -> None:
        """Raise if the model grid ``resolution × resolution/2`` is finer than the data's grid."""
        nlat, nlon = self.grid
        if resolution > nlon or resolution // 2 > nlat:
            raise self._error(
                f"{key} = {resolution} asks for a {resolution}×{resolution // 2} grid, finer than "
                f"the data's finest grid {nlon}×{nlat}; valid: at most {nlon} longitudes and "
                f"{nlat} latitudes"
            )

    def read(self, indices: np.ndarray | list[int]) -> torch.Tensor:
        """Native fields at the given time indices: ``(T, C, lat, lon)`` float64, south first.

        Only those times are read from disk. Each variable's block is checked for non-finite
        values and (with ``check_ranges``) its physical range.

        Raises:
            WB2Error: Naming the file, variable and time of a non-finite or implausible value.
        """
        indices = [int(i) for i in indices]
        times = self.times[indices]
        out = np.empty((len(indices), len(self.variables), *self.grid), dtype=np.float64)
        for c, var in enumerate(self.variables):
            da = self.ds[var.name]
            if var.level is not None:
                da = da.sel(level=var.level)
            try:
                block = np.asarray(da.isel(time=indices).transpose("time", *SPATIAL_DIMS).values)
            except (OSError, ValueError, KeyError, RuntimeError) as exc:  # a damaged chunk
                raise self._error(
                    f"variable {str(var)!r} at {times[0]}..{times[-1]} cannot be read "
                    f"({type(exc).__name__}: {exc})"
                ) from None
            if self._descending:
                block = block[:, ::-1]
            check_finite(block, str(var), times, str(self.path))
            if self.check_ranges:
                check_range(block, var.name, var.level, str(var), times, str(self.path))
            out[:, c] = block
        return torch.from_numpy(out)

    def time_step_hours(self) -> float | None:
        """The data's time step (h): the smallest spacing of its times (None for one time)."""
        times = self.times
        if len(times) < 2:
            return None
        return float(np.diff(times).min() / np.timedelta64(1, "h"))

    def check_lead(self, lead_hours: int, key: str) -> None:
        """Raise unless ``lead_hours`` is a whole multiple of the data's time step.

        Raises:
            WB2Error: Naming the lead, the data's step and the hourly WB2 store.
        """
        step = self.time_step_hours()
        if step is None or (lead_hours / step).is_integer():
            return
        raise self._error(
            f"{key} = {lead_hours} h is not a multiple of the data's time step {step:g} h; valid: "
            f"a lead that is a multiple of {step:g} h (set lead_hours in your own task file), or "
            f"an hourly store such as WeatherBench2's {WB2_HOURLY}"
        )

    def regridder(self, resolution: int) -> ConservativeRegridder:
        """Conservative averaging from the native grid to the model grid at ``resolution``."""
        return ConservativeRegridder(
            self.latitudes,
            self.longitudes,
            model_latitudes(resolution // 2),
            regular_longitudes(resolution),
        )

    def period_indices(self, period: tuple[str, str], key: str) -> np.ndarray:
        """Time indices within ``[start, end]`` (inclusive; ISO dates or date-times)."""
        times = self.times
        start, end = np.datetime64(period[0]), np.datetime64(period[1])
        if len(period[1]) <= 10:  # a date: the whole day is included
            mask = (times >= start) & (times < end + np.timedelta64(1, "D"))
        else:
            mask = (times >= start) & (times <= end)
        idx = np.flatnonzero(mask)
        if len(idx) == 0:
            raise self._error(f"{key} = {list(period)} holds no time steps")
        return idx

    def segments(
        self, period: tuple[str, str], count: int, states: int, lead_hours: int, key: str
    ) -> list[np.ndarray]:
        """``count`` segments of ``states`` times, ``lead_hours`` apart, spread over a period.

        Segment starts are evenly spaced over the period; each segment's states are consecutive
        lead times, so they give ``states - 1`` consecutive forecast pairs (and a rollout).

        Raises:
            WB2Error: If the period has too few time steps, or lacks a time at some lead.
        """
        idx = self.period_indices(period, key)
        times = self.times[idx]
        lead = np.timedelta64(lead_hours, "h")
        span = (states - 1) * lead
        last_start = times[-1] - span
        starts = idx[times <= last_start]
        if len(starts) < count:
            raise self._error(
                f"{key} = {list(period)} has too few time steps: {count} segment(s) of "
                f"{states} states {lead_hours} h apart need {count} start time(s) at least "
                f"{(states - 1) * lead_hours} h before the period's end; found {len(starts)}"
            )
        picks = starts[np.linspace(0, len(starts) - 1, count).round().astype(int)]
        lookup = {t: i for i, t in enumerate(self.times)}
        out = []
        for start in picks:
            wanted = [self.times[start] + k * lead for k in range(states)]
            missing = [str(t) for t in wanted if t not in lookup]
            if missing:
                raise self._error(
                    f"{key}: lead time {lead_hours} h needs time {missing[0]}, which the data "
                    "lack; choose a lead that is a multiple of the data's time step"
                )
            out.append(np.array([lookup[t] for t in wanted]))
        return out


def period_mean(source: WB2Source, indices: np.ndarray, chunk: int = 8) -> torch.Tensor:
    """Time mean ``(C, lat, lon)`` over the given native time indices, read in chunks."""
    total, count = None, 0
    for i in range(0, len(indices), chunk):
        block = source.read(indices[i : i + chunk])
        total = block.sum(0) if total is None else total + block.sum(0)
        count += block.shape[0]
    if total is None:
        raise WB2Error(f"{source.path}: no time steps for the climatology")
    return total / count
