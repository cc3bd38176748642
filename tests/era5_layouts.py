"""Small ERA5 inputs in the published layouts, written with xarray for the tests.

- :func:`write_wb2_zarr`: a WeatherBench2 store as ``gs://weatherbench2/datasets/era5/...zarr``
  holds it: zarr v2, consolidated metadata, dims ``time``/``level``/``latitude``/``longitude``
  (latitude ascending, poles included), variables by long name (``geopotential``,
  ``u_component_of_wind``, ...) with ERA5's ``long_name``/``short_name``/``standard_name``/
  ``units`` attributes, float32.
- :func:`write_cds_netcdf`: a netCDF4 download of ``reanalysis-era5-pressure-levels`` from the
  Copernicus Climate Data Store (2024 on): dims ``valid_time``/``pressure_level``/``latitude``/
  ``longitude``, latitude from north to south, short names ``z``/``u``/``v`` with ``GRIB_*``
  attributes, a scalar ``number`` coordinate and an ``expver`` coordinate (``"0001"``) along
  ``valid_time``; optionally packed as int16 with ``scale_factor``/``add_offset`` (as the CDS's
  legacy netCDF was), and optionally with ``expver`` as a dimension (ERA5 and ERA5T mixed: each
  time has values under one of them, NaN under the other).

The fields are smooth and physically plausible: geopotential near g times the standard height
of each level (m² s⁻²), winds with a global RMS of about 12 m/s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from frlbench.data.era5_values import GRAVITY, standard_height
from frlbench.data.latlon import pole_latitudes, regular_longitudes

LEVELS = (250, 500, 850)
#: ERA5 attributes of the three variables: (WB2 name, short name, long name, units, GRIB id).
VARIABLES = (
    ("geopotential", "z", "Geopotential", "m**2 s**-2", 129),
    ("u_component_of_wind", "u", "U component of wind", "m s**-1", 131),
    ("v_component_of_wind", "v", "V component of wind", "m s**-1", 132),
)


def smoke_times() -> np.ndarray:
    """6-hourly times inside the era5 smoke profile's ERA5 periods (train 1979-2015, val 2016,
    test 2020): two days, then one day in each of 2016 and 2020."""
    six = np.timedelta64(6, "h")
    starts = [("1979-01-01", 8), ("2016-01-01", 4), ("2020-01-01", 4)]
    return np.concatenate(
        [np.datetime64(day, "ns") + np.arange(n) * six for day, n in starts]
    ).astype("datetime64[ns]")


def fields(
    times: np.ndarray, nlat: int = 33, nlon: int = 64, levels: tuple[int, ...] = LEVELS
) -> dict[str, np.ndarray]:
    """WB2 name -> ``(time, level, lat, lon)`` float32, latitudes ascending (with poles)."""
    lat = np.deg2rad(pole_latitudes(nlat))[None, :, None]
    lon = np.deg2rad(regular_longitudes(nlon))[None, None, :]
    t = np.arange(len(times))[:, None, None] * 0.3
    out = {}
    for k, (name, *_) in enumerate(VARIABLES):
        anomaly = np.cos(lat) ** 2 * np.sin((k + 2) * lon + t) + 0.3 * np.sin(2 * lat) * np.cos(t)
        per_level = []
        for p in levels:
            base = GRAVITY * standard_height(p) if name == "geopotential" else 0.0
            scale = 800.0 if name == "geopotential" else 25.0
            per_level.append(base + scale * anomaly)
        out[name] = np.stack(per_level, axis=1).astype(np.float32)
    return out


def _wb2_dataset(times: np.ndarray, nlat: int, nlon: int) -> xr.Dataset:
    data = {
        name: (
            ("time", "level", "latitude", "longitude"),
            values,
            {"long_name": long, "short_name": short, "standard_name": name, "units": units},
        )
        for (name, short, long, units, _), values in zip(
            VARIABLES, fields(times, nlat, nlon).values(), strict=True
        )
    }
    coords = {
        "time": times,
        "level": ("level", np.array(LEVELS, dtype=np.int64), {"units": "millibars"}),
        "latitude": (
            "latitude",
            pole_latitudes(nlat).astype(np.float32),
            {"units": "degrees_north"},
        ),
        "longitude": (
            "longitude",
            regular_longitudes(nlon).astype(np.float32),
            {"units": "degrees_east"},
        ),
    }
    return xr.Dataset(data, coords=coords)


def write_wb2_zarr(
    path: Path, times: np.ndarray | None = None, nlat: int = 33, nlon: int = 64
) -> Path:
    """A WeatherBench2-layout zarr v2 store (consolidated, one time per chunk)."""
    times = smoke_times() if times is None else times
    ds = _wb2_dataset(times, nlat, nlon)
    chunks = {name: {"chunks": (1, len(LEVELS), nlat, nlon)} for name in ds.data_vars}
    ds.to_zarr(path, zarr_format=2, consolidated=True, mode="w", encoding=chunks)
    return path


def cds_dataset(
    times: np.ndarray | None = None, nlat: int = 33, nlon: int = 64, expver_dim: bool = False
) -> xr.Dataset:
    """The CDS netCDF layout of the same fields (see the module docstring)."""
    times = smoke_times() if times is None else times
    wb2 = _wb2_dataset(times, nlat, nlon).isel(latitude=slice(None, None, -1))
    data = {}
    for name, short, long, units, grib in VARIABLES:
        attrs = {
            "GRIB_paramId": grib,
            "GRIB_shortName": short,
            "GRIB_units": units,
            "GRIB_name": long,
            "long_name": long,
            "units": units,
            "standard_name": "geopotential" if short == "z" else "unknown",
        }
        data[short] = (
            ("valid_time", "pressure_level", "latitude", "longitude"),
            wb2[name].values,
            attrs,
        )
    coords = {
        "valid_time": ("valid_time", times, {"standard_name": "time", "long_name": "time"}),
        "pressure_level": ("pressure_level", np.array(LEVELS, dtype=np.float64), {"units": "hPa"}),
        "latitude": wb2["latitude"].values.astype(np.float64),
        "longitude": wb2["longitude"].values.astype(np.float64),
        "number": np.int64(0),
        "expver": ("valid_time", np.array(["0001"] * len(times))),
    }
    attrs = {
        "GRIB_centre": "ecmf",
        "Conventions": "CF-1.7",
        "institution": "European Centre for Medium-Range Weather Forecasts",
    }
    ds = xr.Dataset(data, coords=coords, attrs=attrs)
    if expver_dim:
        # Legacy ERA5 + ERA5T: the last day only under expver 5, the rest only under expver 1.
        ds = ds.drop_vars("expver").rename({"valid_time": "time", "pressure_level": "level"})
        late = ds["time"] >= ds["time"][-4]
        ds = xr.concat(
            [ds.where(~late), ds.where(late)],
            dim=xr.DataArray([1, 5], dims="expver", name="expver"),
        )
        ds = ds.transpose("time", "expver", ...)
    return ds


def write_cds_netcdf(path: Path, ds: xr.Dataset, packed: bool = False) -> Path:
    """Write a CDS-layout dataset as netCDF4 (HDF5), float32 or int16-packed."""
    encoding = {}
    for name in ds.data_vars:
        if packed:
            values = ds[name].values
            low, high = np.nanmin(values), np.nanmax(values)
            scale = (high - low) / (2**16 - 4)  # ±32766: -32767 is the fill value
            encoding[name] = {
                "dtype": "int16",
                "scale_factor": float(scale),
                "add_offset": float((high + low) / 2),
                "_FillValue": np.int16(-32767),
            }
        else:
            encoding[name] = {"dtype": "float32", "zlib": True}
    ds.to_netcdf(path, engine="h5netcdf", encoding=encoding)
    return path
