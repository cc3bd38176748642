"""Real ERA5 inputs: the published layouts read alike, bad files and values refused, and the
data source in the dataset cache key, the run ids and every record of a run."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from typer.testing import CliRunner

from frlbench.catalog import builtin_task_file
from frlbench.cli import app
from frlbench.data.cache import dataset_key
from frlbench.data.weather import WB2Error, WB2Source
from frlbench.spec import load_task, resolve_task, task_identity
from tests.conftest import PROBE_BASELINE, PROBES
from tests.era5_layouts import cds_dataset, smoke_times, write_cds_netcdf, write_wb2_zarr

SELECTED = ["geopotential@500", "u_component_of_wind@500", "v_component_of_wind@500"]


@pytest.fixture
def era5_task():
    return load_task(builtin_task_file("era5"))


# -- formats --------------------------------------------------------------------------------
def test_wb2_zarr_and_cds_downloads_read_the_same_fields(tmp_path):
    reference = WB2Source(write_wb2_zarr(tmp_path / "wb2.zarr"), SELECTED)
    assert reference.kind == "zarr" and (tmp_path / "wb2.zarr" / ".zmetadata").is_file()
    want = reference.read([0, 5, 9, 15])
    cds = write_cds_netcdf(tmp_path / "cds.nc", cds_dataset())
    assert xr.open_dataset(cds, engine="h5netcdf")["z"].dims[0] == "valid_time"
    assert torch.equal(WB2Source(cds, SELECTED).read([0, 5, 9, 15]), want)
    # Packed int16 (scale_factor/add_offset) and ERA5 + ERA5T as an expver dimension: equal to
    # the packing's resolution (its scale factor).
    for name, ds in (("packed", cds_dataset()), ("expver", cds_dataset(expver_dim=True))):
        path = write_cds_netcdf(tmp_path / f"{name}.nc", ds, packed=True)
        stored = xr.open_dataset(path, engine="h5netcdf")
        scales = torch.tensor([stored[v].encoding["scale_factor"] for v in ("z", "u", "v")])
        assert stored["z"].encoding["dtype"] == np.int16
        source = WB2Source(path, SELECTED)
        assert source.kind == "netcdf4"
        error = (source.read([0, 5, 9, 15]) - want).abs().amax(dim=(0, 2, 3))
        assert torch.all(error <= scales), (name, error, scales)


def test_ensemble_is_refused(tmp_path):
    ds = cds_dataset().drop_vars("number").expand_dims(number=[0, 1])
    path = write_cds_netcdf(tmp_path / "ens.nc", ds)
    with pytest.raises(WB2Error, match=r"ens.nc: holds 2 ensemble members"):
        WB2Source(path, SELECTED)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b"z500 u500 v500\n1 2 3\n", "not a netCDF or zarr file"),
        (b"GRIB\x00\x00\x01", "a GRIB file.*grib_to_netcdf.*cfgrib"),
        (b"\x89HDF\r\n\x1a\n" + b"\x00" * 64, "cannot be decoded as a netCDF4 file"),
    ],
)
def test_undecodable_files_name_path_and_reason(tmp_path, content, reason):
    path = tmp_path / "era5.nc"
    path.write_bytes(content)
    with pytest.raises(WB2Error, match=reason) as info:
        WB2Source(path, SELECTED)
    assert str(path) in str(info.value)


def test_directory_that_is_no_zarr_store(tmp_path):
    with pytest.raises(WB2Error, match=r"a directory without \.zmetadata"):
        WB2Source(tmp_path, SELECTED)


# -- values ---------------------------------------------------------------------------------
def test_nonfinite_values_name_variable_time_and_count(tmp_path):
    ds = cds_dataset()
    z = ds["z"].values.copy()
    z[9, 1, :3, :4] = np.nan  # 12 NaN at 500 hPa, time 9
    z[10, 1, 0, 0] = np.inf
    path = write_cds_netcdf(tmp_path / "nan.nc", ds.assign(z=(ds["z"].dims, z, ds["z"].attrs)))
    source = WB2Source(path, SELECTED)
    source.read([0, 1, 2])  # clean times read fine
    with pytest.raises(WB2Error) as info:
        source.read([8, 9, 10])
    message = str(info.value)
    assert str(path) in message and "'geopotential@500'" in message
    assert "13 non-finite value(s)" in message and "at 2 time(s)" in message
    assert f"first at {smoke_times()[9]}" in message


@pytest.mark.parametrize(
    ("variable", "factor", "offset", "expected"),
    [
        ("z", 1 / 9.80665, 0.0, "expected geopotential in m² s⁻².*multiply by g"),
        ("u", 3.6, 0.0, "expected at most 35 m/s.*wind in km/h"),
        ("u", 10.0, 0.0, "expected -150..150 m/s; wind in km/h"),
    ],
)
def test_unit_mixups_are_refused(tmp_path, variable, factor, offset, expected):
    ds = cds_dataset()
    wrong = ds[variable] * factor + offset
    wrong.attrs = ds[variable].attrs
    path = write_cds_netcdf(tmp_path / "units.nc", ds.assign({variable: wrong}))
    with pytest.raises(WB2Error, match=expected) as info:
        WB2Source(path, SELECTED).read([0, 1])
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("values", "expected"), [(15.0, "expected 150..350 K; temperatures in °C"), (288.0, None)]
)
def test_temperature_in_celsius_is_refused(tmp_path, values, expected):
    ds = cds_dataset()
    t = xr.full_like(ds["z"], values).assign_attrs(units="K", long_name="Temperature")
    path = write_cds_netcdf(tmp_path / "t.nc", ds.assign(t=t))
    source = WB2Source(path, [*SELECTED, "temperature@850"])
    if expected is None:
        assert source.read([0]).shape[1] == 4
    else:
        with pytest.raises(WB2Error, match=expected):
            source.read([0])


def test_lead_that_is_not_a_multiple_of_the_step_names_the_hourly_store(tmp_path, era5_task):
    from frlbench.data.era5 import build_era5

    path = write_wb2_zarr(tmp_path / "wb2.zarr")
    smoke = era5_task.profiles["smoke"]
    data = {**smoke.data, "path": str(path), "lead_hours": 3}
    data["standin"] = {**data["standin"], "dt": 900.0}
    task = dataclasses.replace(era5_task, profiles={"smoke": dataclasses.replace(smoke, data=data)})
    with pytest.raises(WB2Error, match=r"lead_hours = 3 h is not a multiple of the data's time"):
        build_era5(resolve_task(task, "smoke"), progress=False)


# -- source identity ------------------------------------------------------------------------
def test_source_enters_cache_key_and_ids_only_for_real_data(tmp_path, era5_task, monkeypatch):
    from frlbench.runner.reference import reference_run_id

    monkeypatch.delenv("FRLBENCH_ERA5", raising=False)
    standin_key = dataset_key(resolve_task(era5_task, "smoke"))
    standin_identity = task_identity(resolve_task(era5_task, "smoke"))
    standin_ref = reference_run_id(resolve_task(era5_task, "smoke"), "persistence")
    assert "data_source_identity" not in standin_identity
    (tmp_path / "a").mkdir()
    first = write_cds_netcdf(tmp_path / "a" / "era5.nc", cds_dataset())
    copy = tmp_path / "copy.nc"
    shutil.copy(first, copy)
    other = write_wb2_zarr(tmp_path / "wb2.zarr")
    keys, ids = {}, {}
    for name, path in (("first", first), ("copy", copy), ("other", other)):
        monkeypatch.setenv("FRLBENCH_ERA5", str(path))
        resolved = resolve_task(era5_task, "smoke")
        keys[name] = dataset_key(resolved)
        ids[name] = reference_run_id(resolve_task(era5_task, "smoke"), "persistence")
        assert task_identity(resolve_task(era5_task, "smoke"))["data_source_identity"][
            "format"
        ] in (
            "netcdf4",
            "zarr",
        )
    # Never the stand-in's key or id; a copy of the same file: another cache entry (another
    # path), the same run id (the same content wherever it lives).
    assert standin_key not in keys.values() and standin_ref not in ids.values()
    assert len(set(keys.values())) == 3
    assert ids["first"] == ids["copy"] != ids["other"]
    monkeypatch.setenv("FRLBENCH_ERA5", str(tmp_path / "missing.zarr"))
    with pytest.raises(WB2Error, match=r"missing\.zarr: ERA5 path does not exist"):
        dataset_key(resolve_task(era5_task, "smoke"))


# -- through the CLI ------------------------------------------------------------------------
def project(root: Path) -> Path:
    (root / "baselines").mkdir(parents=True)
    shutil.copy(PROBES, root / "baselines" / "probe_backbones.py")
    (root / "baselines" / "probe_conv.toml").write_text(
        PROBE_BASELINE.format(epochs=1, backbone="probe_conv")
    )
    return root


def run_smoke(root: Path, era5: Path | None, *extra: str):
    args = ["run", "--task", "era5", "--backbone", "probe_conv", "--profile", "smoke",
            "--frl", "off", "--seeds", "0", "--out", str(root / "results"), "--no-progress",
            "--baselines-dir", str(root / "baselines"), *extra]  # fmt: skip
    env = {"FRLBENCH_CACHE": str(root / "cache"), "FRLBENCH_HOME": str(root)}
    if era5 is not None:
        env["FRLBENCH_ERA5"] = str(era5)
    return CliRunner().invoke(app, args, env=env)


def sources_of(results: Path) -> dict[str, str]:
    return {
        p.parent.name: json.loads(p.read_text())["data_source"]
        for p in (results / "runs").glob("*/record.json")
    }


@pytest.mark.parametrize("name", ["text.nc", "empty.nc", "missing.nc"])
def test_cli_refuses_bad_paths_before_any_work(tmp_path, name):
    root = project(tmp_path / "proj")
    path = tmp_path / name
    if name != "missing.nc":
        path.write_text("" if name == "empty.nc" else "not netCDF\n")
    result = run_smoke(root, path, "--no-report")
    assert result.exit_code == 2, result.output
    assert str(path) in result.output and "internal error" not in result.output
    assert not (root / "results" / "runs").exists() or not list((root / "results").rglob("*.json"))


@pytest.mark.slow
@pytest.mark.ci
def test_cli_smoke_run_on_a_cds_netcdf4_download(tmp_path):
    root = project(tmp_path / "proj")
    path = write_cds_netcdf(tmp_path / "era5.nc", cds_dataset(), packed=True)
    result = run_smoke(root, path)
    assert result.exit_code == 0, result.output
    sources = sources_of(root / "results")
    # the model, persistence, the band oracle, the solver (not applicable)
    assert len(sources) == 4
    assert set(sources.values()) == {f"ERA5 (netCDF4 file at {path})"}
    board = (root / "results" / "leaderboard.md").read_text()
    assert f"**Data:** ERA5 (netCDF4 file at {path})." in board
    assert "stand-in" not in board


@pytest.mark.slow
def test_cli_real_data_after_the_standin_was_cached(tmp_path):
    root = project(tmp_path / "proj")
    result = run_smoke(root, None, "--no-report")
    assert result.exit_code == 0, result.output
    standin = sources_of(root / "results")
    assert all(s.startswith("frlbench shallow-water stand-in") for s in standin.values())
    # A configured path that does not exist: an error, not the cached stand-in.
    missing = tmp_path / "nowhere.zarr"
    result = run_smoke(root, missing, "--no-report")
    assert result.exit_code == 2 and f"{missing}: ERA5 path does not exist" in result.output
    store = write_wb2_zarr(tmp_path / "wb2.zarr")
    result = run_smoke(root, store)
    assert result.exit_code == 0, result.output
    real = {k: v for k, v in sources_of(root / "results").items() if k not in standin}
    assert len(real) == 3 and set(real.values()) == {f"ERA5 (zarr store at {store})"}
    board = (root / "results" / "leaderboard.md").read_text()
    assert f"ERA5 (zarr store at {store})" in board


def test_damaged_zarr_chunk_names_variable_and_times(tmp_path):
    store = write_wb2_zarr(tmp_path / "wb2.zarr")
    (store / "geopotential" / "5.0.0.0").write_bytes(b"\x00garbage")
    source = WB2Source(store, SELECTED)
    with pytest.raises(WB2Error, match=r"variable 'geopotential@500' at .* cannot be read"):
        source.read([5])
