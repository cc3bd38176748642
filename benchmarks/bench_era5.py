"""ERA5 input: regridding throughput (asv) and the paper profile's memory on 0.25° stores.

asv runs :class:`RegridThroughput` (``track_*``: MB of native float32 fields read from a
WeatherBench2-layout zarr store and conservatively regridded per second, fixed fields)::

    asv run --python=same --quick --bench bench_era5

The paper profile's build streams the store (one forecast segment of 5 states, or 8 climatology
states, read and regridded at a time), so its peak memory should not grow with the store's
length. To measure it, write two synthetic 0.25° (1440×721) stores of three variables and build
the era5 paper profile from each under ``/usr/bin/time -v``::

    python benchmarks/bench_era5.py write /tmp/era5-30d.zarr --days 30
    python benchmarks/bench_era5.py write /tmp/era5-120d.zarr --days 120
    /usr/bin/time -v python benchmarks/bench_era5.py build /tmp/era5-30d.zarr
    /usr/bin/time -v python benchmarks/bench_era5.py build /tmp/era5-120d.zarr

``build`` sets the periods to the store's first 2/3 (train), next 1/6 (val) and last 1/6 (test)
and builds and caches the dataset (into a temporary directory) as ``frlbench run`` would.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np

from frlbench.data.era5_values import GRAVITY, standard_height
from frlbench.data.latlon import pole_latitudes, regular_longitudes

VARIABLES = ("geopotential", "u_component_of_wind", "v_component_of_wind")
LEVEL = 500


def synthetic_state(step: int, nlat: int, nlon: int) -> dict[str, np.ndarray]:
    """One time of smooth plausible z500, u500, v500 ``(1, 1, lat, lon)`` float32 fields."""
    lat = np.deg2rad(pole_latitudes(nlat))[:, None]
    lon = np.deg2rad(regular_longitudes(nlon))[None, :]
    t = 0.25 * step
    out = {}
    for k, name in enumerate(VARIABLES):
        anomaly = np.cos(lat) ** 2 * np.sin((k + 3) * lon + t) + 0.3 * np.sin(2 * lat)
        base = GRAVITY * standard_height(LEVEL) if name == "geopotential" else 0.0
        scale = 800.0 if name == "geopotential" else 15.0
        out[name] = (base + scale * anomaly).astype(np.float32)[None, None]
    return out


def write_store(path: Path, days: int, nlat: int = 721, nlon: int = 1440, hours: int = 6) -> int:
    """Write a WB2-layout zarr v2 store (uncompressed, one time per chunk), one time at a time.

    Returns:
        The nominal size of the fields in bytes (time × variables × lat × lon × 4).
    """
    import xarray as xr

    steps = days * 24 // hours
    start = np.datetime64("2020-01-01T00", "ns")
    for i in range(steps):
        fields = synthetic_state(i, nlat, nlon)
        ds = xr.Dataset(
            {n: (("time", "level", "latitude", "longitude"), v) for n, v in fields.items()},
            coords={
                "time": [start + np.timedelta64(i * hours, "h")],
                "level": np.array([LEVEL], dtype=np.int64),
                "latitude": pole_latitudes(nlat).astype(np.float32),
                "longitude": regular_longitudes(nlon).astype(np.float32),
            },
        )
        if i == 0:
            encoding = {n: {"chunks": (1, 1, nlat, nlon), "compressors": None} for n in VARIABLES}
            encoding["time"] = {"units": "hours since 1959-01-01", "dtype": "int64"}
            ds.to_zarr(path, mode="w", zarr_format=2, consolidated=True, encoding=encoding)
        else:
            ds.to_zarr(path, append_dim="time", zarr_format=2, consolidated=True)
    return steps * len(VARIABLES) * nlat * nlon * 4


def paper_task(path: Path):
    """The shipped era5 task, paper profile, reading ``path`` with periods split 4:1:1."""
    import xarray as xr

    from frlbench.catalog import builtin_task_file
    from frlbench.spec import load_task

    times = xr.open_zarr(path, chunks=None)["time"].values
    first, last = times[0], times[-1]
    span = last - first

    def at(fraction: float) -> str:
        return str((first + span * fraction).astype("datetime64[h]"))

    task = load_task(builtin_task_file("era5"))
    paper = task.profiles["paper"]
    data = {
        **paper.data,
        "path": str(path),
        "train_period": [at(0), at(4 / 6)],
        "val_period": [at(4 / 6 + 0.01), at(5 / 6)],
        "test_period": [at(5 / 6 + 0.01), at(1)],
    }
    return dataclasses.replace(task, profiles={"paper": dataclasses.replace(paper, data=data)})


def build(path: Path) -> None:
    """Build (and cache, in a temporary directory) the paper profile's dataset from ``path``."""
    from frlbench.data import load_dataset

    task = paper_task(path)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as cache:
        ds = load_dataset(task, "paper", cache_dir=Path(cache), progress=False, rebuild=True)
    wall = time.perf_counter() - start
    test = ds.splits["test"]
    print(
        f"built era5/paper from {path}: {len(ds.splits['train'])} train pairs, test grids "
        f"{test.resolutions}, in {wall:.1f} s"
    )


class RegridThroughput:
    """Native fields read from a zarr store and regridded to a coarser grid, in MB/s."""

    params = [(181, 360), (361, 720)]
    param_names = ["native_grid"]
    unit = "MB/s"
    number = 1

    def setup(self, grid: tuple[int, int]) -> None:
        from frlbench.data.weather import WB2Source

        self.tmp = tempfile.TemporaryDirectory()
        path = Path(self.tmp.name) / "era5.zarr"
        write_store(path, days=2, nlat=grid[0], nlon=grid[1])
        self.source = WB2Source(path, [f"{n}@{LEVEL}" for n in VARIABLES])
        self.regrid = self.source.regridder(64)
        self.source.read([0])  # warm-up: metadata and the first chunk

    def teardown(self, grid: tuple[int, int]) -> None:
        self.tmp.cleanup()

    def track_read_and_regrid_mb_per_s(self, grid: tuple[int, int]) -> float:
        """MB of native float32 fields (3 variables, 8 times) read and regridded per second."""
        indices = list(range(8))
        start = time.perf_counter()
        self.regrid(self.source.read(indices))
        elapsed = time.perf_counter() - start
        return len(indices) * len(VARIABLES) * grid[0] * grid[1] * 4 / 1e6 / elapsed

    track_read_and_regrid_mb_per_s.unit = "MB/s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    write = sub.add_parser("write", help="write a synthetic 0.25° WB2-layout zarr store")
    write.add_argument("path", type=Path)
    write.add_argument("--days", type=int, default=30)
    sub.add_parser("build", help="build the era5 paper profile from a store").add_argument(
        "path", type=Path
    )
    args = parser.parse_args()
    if args.command == "write":
        size = write_store(args.path, args.days)
        print(f"wrote {args.path}: {args.days} days, 3 variables, {size / 2**30:.2f} GiB")
    else:
        build(args.path)


if __name__ == "__main__":
    main()
