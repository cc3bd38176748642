"""ERA5 files on disk: recognise the format, open lazily, normalise to the WeatherBench2 names,
and identify the source cheaply for cache keys and run ids.

Formats (recognised by content, not by the file name):

- a WeatherBench2 (WB2) **zarr** store (a directory: zarr v2 ``.zgroup``/``.zmetadata``,
  consolidated or not, or zarr v3 ``zarr.json``), read with ``zarr``;
- a **netCDF4/HDF5** file (``\\x89HDF`` signature), read with ``h5netcdf``: WB2's layout, or
  the Copernicus Climate Data Store (CDS) download;
- a **netCDF3** file (``CDF\\x01``/``CDF\\x02``), read with ``scipy``.

GRIB (``GRIB`` signature), empty files and anything else are refused with the path and the
reason; GRIB names a conversion route.

Normalisation maps both published layouts onto WB2's: dims ``time``, ``level`` (hPa),
``latitude``, ``longitude``; variables by their WB2 long names. A CDS download (new CDS,
2024 on) has ``valid_time`` and ``pressure_level`` dims, ECMWF short names (``z``, ``u``,
``v``, ``t``, ...), latitudes from north to south, a scalar ``number`` coordinate and an
``expver`` coordinate along ``valid_time``; older CDS netCDF files have ``time``/``level``,
packed ``int16`` values with ``scale_factor``/``add_offset`` (decoded by xarray) and, when
ERA5 and ERA5T are mixed, an ``expver`` *dimension* (merged: ERA5 where it has a value, else
ERA5T).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from frlbench.spec import ConfigError

#: Installation hint named by every missing-library error.
INSTALL_HINT = "pip install -e . (frlbench depends on xarray, zarr, h5netcdf and h5py)"
#: Dims and coordinates of other layouts, renamed to WB2's on opening.
DIM_ALIASES = {
    "lat": "latitude",
    "lon": "longitude",
    "valid_time": "time",
    "pressure_level": "level",
    "isobaricInhPa": "level",
}
#: ECMWF short names (CDS downloads) -> WB2 variable names.
SHORT_NAMES = {
    "z": "geopotential",
    "t": "temperature",
    "u": "u_component_of_wind",
    "v": "v_component_of_wind",
    "q": "specific_humidity",
    "w": "vertical_velocity",
    "vo": "vorticity",
    "d": "divergence",
    "r": "relative_humidity",
    "t2m": "2m_temperature",
    "u10": "10m_u_component_of_wind",
    "v10": "10m_v_component_of_wind",
    "msl": "mean_sea_level_pressure",
    "sp": "surface_pressure",
}
#: Known first bytes of files and what they are.
_SIGNATURES = {
    b"\x89HDF\r\n\x1a\n": "netcdf4",
    b"CDF\x01": "netcdf3",
    b"CDF\x02": "netcdf3",
    b"GRIB": "grib",
}
_ZARR_MARKERS = (".zmetadata", ".zgroup", "zarr.json")
FORMAT_NAMES = {"zarr": "zarr store", "netcdf4": "netCDF4 file", "netcdf3": "netCDF3 file"}


class WB2Error(ConfigError):
    """An ERA5 dataset cannot be read, or does not match what the task expects."""


def detect_format(path: Path) -> str:
    """``"zarr"``, ``"netcdf4"`` or ``"netcdf3"`` from the path's content.

    Raises:
        WB2Error: Naming the path and the reason: missing, empty, GRIB (with a conversion
            route), a directory that is not a zarr store, or an unknown file type.
    """
    if not path.exists():
        raise WB2Error(
            f"{path}: ERA5 path does not exist (it is configured by the task's data option "
            f"'path' or $FRLBENCH_ERA5; frlbench does not fall back to its stand-in when a "
            "path is set); valid: a WeatherBench2 zarr store or a netCDF4 file"
        )
    if path.is_dir():
        if any((path / marker).exists() for marker in _ZARR_MARKERS):
            return "zarr"
        raise WB2Error(
            f"{path}: a directory without {', '.join(_ZARR_MARKERS)}; expected a zarr store "
            "(a WeatherBench2 store as downloaded, e.g. with gsutil -m cp -r)"
        )
    with path.open("rb") as fh:
        head = fh.read(8)
    if not head:
        raise WB2Error(f"{path}: the file is empty (0 bytes); expected a netCDF4 file")
    kind = next((k for sig, k in _SIGNATURES.items() if head.startswith(sig)), None)
    if kind is None:
        raise WB2Error(
            f"{path}: not a netCDF or zarr file (first bytes {head!r}); expected a netCDF4 "
            "file (HDF5), a netCDF3 file or a zarr store"
        )
    if kind == "grib":
        raise WB2Error(
            f"{path}: a GRIB file; frlbench reads netCDF4 and zarr. Convert it first, e.g. "
            "with ecCodes `grib_to_netcdf -D NC_FLOAT -o era5.nc era5.grib`, or with "
            "`pip install cfgrib` and xarray: "
            "xr.open_dataset('era5.grib', engine='cfgrib').to_netcdf('era5.nc'); or request "
            "netCDF from the CDS"
        )
    return kind


def _engine(kind: str, path: Path) -> str:
    module, engine = {"zarr": ("zarr", "zarr"), "netcdf4": ("h5netcdf", "h5netcdf")}.get(
        kind, ("scipy", "scipy")
    )
    try:
        __import__(module)
    except ModuleNotFoundError:
        raise WB2Error(
            f"{path}: reading a {FORMAT_NAMES[kind]} needs the '{module}' package; install "
            f"frlbench with its dependencies: {INSTALL_HINT}"
        ) from None
    return engine


def open_era5(path: Path) -> tuple[Any, str]:
    """Open ``path`` lazily (no values read) and normalise it to the WB2 layout.

    Returns:
        ``(dataset, kind)``: the normalised ``xarray.Dataset`` and the format key.

    Raises:
        WB2Error: If the file cannot be recognised or decoded (path and reason).
    """
    import xarray as xr

    path = Path(path)
    kind = detect_format(path)
    engine = _engine(kind, path)
    try:
        ds = xr.open_dataset(path, engine=engine, chunks=None)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WB2Error(
            f"{path}: cannot be decoded as a {FORMAT_NAMES[kind]} ({type(exc).__name__}: {exc})"
        ) from None
    return normalize(ds, path), kind


def normalize(ds: Any, path: Path) -> Any:
    """Rename a CDS (or other) layout to WB2's dims and variable names; merge ``expver``.

    Raises:
        WB2Error: For an ensemble (``number`` with several members) or an ambiguous name.
    """
    ds = ds.rename({k: v for k, v in DIM_ALIASES.items() if k in ds.variables and v not in ds})
    renames = {s: w for s, w in SHORT_NAMES.items() if s in ds.data_vars and w not in ds}
    ds = ds.rename(renames)
    if "number" in ds.dims:
        if ds.sizes["number"] != 1:
            raise WB2Error(
                f"{path}: holds {ds.sizes['number']} ensemble members (dim 'number'); expected "
                "the ERA5 reanalysis (one member): select one before use"
            )
        ds = ds.isel(number=0)
    if "expver" in ds.dims:
        # ERA5 (expver 1) where it has values, else the preliminary ERA5T (expver 5).
        merged = ds.isel(expver=0)
        for k in range(1, ds.sizes["expver"]):
            merged = merged.fillna(ds.isel(expver=k))
        ds = merged
    drop = [c for c in ("number", "expver", "step", "surface") if c in ds.coords]
    return ds.drop_vars(drop)


def _stat_key(path: Path, kind: str) -> tuple[int, int]:
    """Size and modification time of the file (or of a zarr store's metadata file)."""
    if kind == "zarr":
        marker = next(path / m for m in _ZARR_MARKERS if (path / m).exists())
        stat = marker.stat()
        return stat.st_size, max(stat.st_mtime_ns, path.stat().st_mtime_ns)
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def _array_digest(values: np.ndarray) -> str:
    array = np.ascontiguousarray(values)
    if array.dtype.kind == "M":
        array = array.astype("datetime64[ns]").view(np.int64)
    return hashlib.sha256(array.tobytes()).hexdigest()[:16]


def layout_digest(ds: Any, extra: dict[str, Any]) -> str:
    """Hash of a normalised dataset's metadata: dims, coordinate values, and every variable's
    name, dims, dtype, attributes and packing (``scale_factor``/``add_offset``)."""
    packing = ("dtype", "scale_factor", "add_offset", "_FillValue")
    content = {
        "dims": {str(k): int(v) for k, v in ds.sizes.items()},
        "coords": {str(k): _array_digest(ds[k].values) for k in sorted(map(str, ds.coords))},
        "variables": {
            str(name): {
                "dims": list(map(str, var.dims)),
                "dtype": str(var.dtype),
                "attrs": {str(k): str(v) for k, v in var.attrs.items()},
                "encoding": {k: str(var.encoding[k]) for k in packing if k in var.encoding},
            }
            for name, var in sorted(ds.data_vars.items(), key=lambda kv: str(kv[0]))
        },
        **extra,
    }
    blob = json.dumps(content, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@functools.lru_cache(maxsize=32)
def _identity(resolved: str, kind: str, stat: tuple[int, int]) -> str:
    ds, _ = open_era5(Path(resolved))
    try:
        extra = {"size": stat[0]} if kind != "zarr" else {}
        return layout_digest(ds, {"format": kind, **extra})
    finally:
        ds.close()


def source_identity(path: Path) -> dict[str, dict[str, Any]]:
    """Cheap identity of an ERA5 source, opened once per content (metadata only).

    Returns:
        ``{"run": {...}, "cache": {...}}``: ``run`` (hashed into run ids) is the format and
        the layout digest (:func:`layout_digest`; a netCDF file's size too), independent of where
        the copy lives; ``cache`` (the dataset cache key) adds the resolved path and the size and
        modification time of the file or of a zarr store's metadata. Values rewritten in place
        with the same layout and times are not noticed by the run id; the cache key notices a
        netCDF file's new mtime.

    Raises:
        WB2Error: If the path does not exist or cannot be read.
    """
    resolved = Path(os.path.abspath(Path(path).expanduser()))
    kind = detect_format(resolved)
    stat = _stat_key(resolved, kind)
    digest = _identity(str(resolved), kind, stat)
    run = {"format": kind, "layout": digest}
    return {"run": run, "cache": {**run, "path": str(resolved), "size_mtime": list(stat)}}
