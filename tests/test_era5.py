"""The era5 task on small synthetic WeatherBench2-layout files made here."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr

from frlbench import metrics
from frlbench.catalog import builtin_task_file
from frlbench.data.era5 import build_era5, forecast
from frlbench.data.era5_values import GRAVITY, standard_height
from frlbench.data.latlon import (
    ConservativeRegridder,
    area_weights,
    model_latitudes,
    pole_latitudes,
    regular_longitudes,
)
from frlbench.data.standin import simulate_standin
from frlbench.data.swe import SphereSWE, SWEParams, write_wb2
from frlbench.data.weather import WB2Error, WB2Source
from frlbench.spec import ConfigError, load_task, resolve_task

VARIABLES = ["geopotential@500", "u_component_of_wind@500", "2m_temperature"]


def smooth_field(lat: np.ndarray, lon: np.ndarray, t: float, k: int) -> np.ndarray:
    la, lo = np.deg2rad(lat)[:, None], np.deg2rad(lon)[None, :]
    return np.cos(la) ** 2 * np.sin(k * lo + t) + 0.3 * np.sin(2 * la) + k


def make_wb2(
    path: Path,
    *,
    nlon: int = 48,
    nlat: int = 25,
    poles: bool = True,
    descending: bool = False,
    steps: int = 40,
    hours: int = 6,
    start: str = "2000-01-01",
) -> Path:
    lat = pole_latitudes(nlat) if poles else model_latitudes(nlat)
    lon = regular_longitudes(nlon)
    times = np.datetime64(start) + np.arange(steps) * np.timedelta64(hours, "h")
    rng = np.random.default_rng(0)
    level = np.array([250, 500, 850])

    def anomaly(k: int) -> np.ndarray:
        base = np.stack([smooth_field(lat, lon, 0.1 * i, k) - k for i in range(steps)])
        return base + 0.01 * rng.standard_normal(base.shape)

    # Physically plausible values (the loader checks ranges): geopotential about g times the
    # standard height of each level (m² s⁻²), wind in m/s, temperature in K.
    heights = GRAVITY * np.array([standard_height(p) for p in level])
    z = heights[None, :, None, None] + 800.0 * anomaly(2)[:, None]
    u = 10.0 * np.stack([anomaly(3) * (j + 1) for j in range(len(level))], axis=1)
    data = {
        "geopotential": (("time", "level", "latitude", "longitude"), z),
        "u_component_of_wind": (("time", "level", "latitude", "longitude"), u),
        "2m_temperature": (("time", "latitude", "longitude"), 280.0 + 15.0 * anomaly(1)),
    }
    ds = xr.Dataset(data, coords={"time": times, "level": level, "latitude": lat, "longitude": lon})
    if descending:
        ds = ds.isel(latitude=slice(None, None, -1))
    ds.to_netcdf(path, engine="scipy")
    return path


def era5_task(tmp_path: Path, data_path: Path | str, **data: object):
    """The shipped era5 task, smoke profile, pointed at ``data_path``."""
    text = builtin_task_file("era5").read_text()
    toml = tmp_path / "era5.toml"
    toml.write_text(text)
    task = load_task(toml)
    smoke = task.profiles["smoke"]
    options = {
        "path": str(data_path),
        "variables": VARIABLES,
        "lead_hours": 6,
        "pairs_per_trajectory": 2,
        "train_period": ["2000-01-01", "2000-01-05"],
        "val_period": ["2000-01-06", "2000-01-07"],
        "test_period": ["2000-01-08", "2000-01-10"],
        "climatology_stride_hours": 6,
        **data,
    }
    profile = dataclasses.replace(smoke, data=options)
    # z500, u500 and t2m are all even under the north-south mirror: no odd channel
    return dataclasses.replace(
        task, channels=("z500", "u500", "t2m"), odd_channels=(), profiles={"smoke": profile}
    )


# -- regridding -----------------------------------------------------------------------------
@pytest.mark.parametrize("poles", [True, False])
@pytest.mark.parametrize("target", [(20, 10), (20, 11), (36, 18), (48, 24)])
def test_regridding_conserves_area_weighted_mean(poles, target):
    nlon, nlat = 96, 49 if poles else 48
    lat = pole_latitudes(nlat) if poles else model_latitudes(nlat)
    dst_lat = pole_latitudes(target[1]) if target[1] % 2 else model_latitudes(target[1])
    x = torch.randn(3, nlat, nlon, dtype=torch.float64)
    regrid = ConservativeRegridder(
        lat, regular_longitudes(nlon), dst_lat, regular_longitudes(target[0])
    )
    y = regrid(x)
    assert y.shape == (3, target[1], target[0])
    w_src = torch.from_numpy(area_weights(lat)).reshape(-1, 1)
    w_dst = torch.from_numpy(area_weights(dst_lat)).reshape(-1, 1)
    mean_src = (x * w_src).mean(dim=(-2, -1))
    mean_dst = (y * w_dst).mean(dim=(-2, -1))
    torch.testing.assert_close(mean_dst, mean_src, rtol=0, atol=1e-13)
    # A constant stays constant.
    torch.testing.assert_close(
        regrid(torch.ones(nlat, nlon, dtype=torch.float64)),
        torch.ones(target[1], target[0], dtype=torch.float64),
    )


def test_model_grid_weights_are_cell_areas():
    """metrics.latitude_weights (cos of the centre) equals exact cell areas on the model grid."""
    for nlat in (8, 32, 90):
        expected = torch.from_numpy(area_weights(model_latitudes(nlat)))
        torch.testing.assert_close(metrics.latitude_weights(nlat), expected, rtol=1e-12, atol=0)


# -- metrics --------------------------------------------------------------------------------
def test_lat_weighted_rmse_equals_direct_computation():
    gen = torch.Generator().manual_seed(1)
    pred, truth = torch.randn(2, 4, 3, 16, 32, generator=gen, dtype=torch.float64)
    lat = np.deg2rad(model_latitudes(16))
    direct = 0.0
    for i in range(16):
        direct += np.cos(lat[i]) * float(((pred[..., i, :] - truth[..., i, :]) ** 2).mean())
    direct = (direct / np.cos(lat).sum()) ** 0.5
    w = metrics.latitude_weights(16).reshape(-1, 1)
    assert metrics.rmse(pred, truth, w) == pytest.approx(direct, rel=1e-12)


def test_acc_perfect_and_independent():
    gen = torch.Generator().manual_seed(2)
    clim = torch.randn(1, 3, 16, 32, generator=gen, dtype=torch.float64)
    truth = clim + torch.randn(64, 3, 16, 32, generator=gen, dtype=torch.float64)
    w = metrics.latitude_weights(16).reshape(-1, 1)
    assert metrics.acc(truth, truth, clim, w) == pytest.approx(1.0, abs=1e-12)
    random_pred = clim + torch.randn(64, 3, 16, 32, generator=gen, dtype=torch.float64)
    assert abs(metrics.acc(random_pred, truth, clim, w)) < 0.02
    names = ("a", "b", "c")
    per = metrics.per_variable(truth, truth, names, w, clim)
    assert set(per) == set(names) and all(v["acc"] == pytest.approx(1.0) for v in per.values())


def test_zonal_band_errors_sum_to_weighted_mse():
    gen = torch.Generator().manual_seed(3)
    pred, truth = torch.randn(2, 3, 2, 32, 64, generator=gen, dtype=torch.float64)
    seen, unseen = metrics.zonal_band_errors(pred, truth, 16)
    w = metrics.latitude_weights(32).reshape(-1, 1)
    assert seen + unseen == pytest.approx(metrics.rmse(pred, truth, w) ** 2, rel=1e-12)
    assert unseen > seen  # white noise: most zonal modes lie above m = 8


# -- loader ---------------------------------------------------------------------------------
def test_both_latitude_orders_load_identically(tmp_path):
    asc = WB2Source(make_wb2(tmp_path / "asc.nc"), VARIABLES)
    desc = WB2Source(make_wb2(tmp_path / "desc.nc", descending=True), VARIABLES)
    assert torch.equal(asc.read([0, 3, 5]), desc.read([0, 3, 5]))
    assert torch.equal(asc.regridder(16)(asc.read([1])), desc.regridder(16)(desc.read([1])))


def test_pole_conventions_agree(tmp_path):
    """721-style rows vs the same file without its south pole row: equal on shared latitudes,
    and a 720-row cell-centred sampling of the same smooth field regrids to nearly the same."""
    full = make_wb2(tmp_path / "poles.nc", nlat=25)
    ds = xr.open_dataset(full, engine="scipy").load()
    dropped = tmp_path / "dropped.nc"
    ds.isel(latitude=slice(1, None)).to_netcdf(dropped, engine="scipy")
    a = WB2Source(full, VARIABLES).read([0, 1])
    b = WB2Source(dropped, VARIABLES).read([0, 1])
    assert torch.equal(a[..., 1:, :], b)
    centred = WB2Source(make_wb2(tmp_path / "centred.nc", nlat=24, poles=False), VARIABLES)
    poles = WB2Source(full, VARIABLES)
    coarse_a = poles.regridder(16)(poles.read([0]))
    coarse_b = centred.regridder(16)(centred.read([0]))
    scale = coarse_a.abs().max()
    assert (coarse_a - coarse_b).abs().max() / scale < 0.02


def test_builder_on_synthetic_wb2(tmp_path):
    task = era5_task(tmp_path, make_wb2(tmp_path / "era5.nc"))
    ds = build_era5(resolve_task(task, "smoke"), progress=False)
    test = ds.splits["test"]
    assert test.resolutions == [16, 32] and test.inputs[32].shape == (2, 3, 16, 32)
    assert ds.metadata["data_source"] == f"ERA5 (netCDF3 file at {tmp_path / 'era5.nc'})"
    assert set(ds.climatology) == {16, 32} and ds.climatology[16].shape == (3, 8, 16)
    with pytest.raises(Exception, match="real ERA5"):
        forecast(resolve_task(task, "smoke"), ds.denormalize(test.inputs[16]), 16)


# -- bad input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"variables": ["geopotential@500", "u_component_of_wind@500", "missing_var"]},
            "variable 'missing_var'.*not found",
        ),
        (
            {"variables": ["geopotential@700", "u_component_of_wind@500", "2m_temperature"]},
            "level 700 of variable 'geopotential' not found; levels: \\[250, 500, 850\\]",
        ),
        (
            {"variables": ["geopotential", "u_component_of_wind@500", "2m_temperature"]},
            "has levels",
        ),
        ({"path": "/nonexistent/era5.zarr"}, "does not exist"),
        ({"test_period": ["2000-01-10T00", "2000-01-10T06"]}, "too few time steps"),
    ],
)
def test_bad_input_names_file_and_expectation(tmp_path, change, message):
    path = make_wb2(tmp_path / "era5.nc")
    task = era5_task(tmp_path, path, **change)
    with pytest.raises(ConfigError, match=message) as info:
        build_era5(resolve_task(task, "smoke"), progress=False)
    expected = change.get("path", str(path))
    assert str(expected) in str(info.value)


def test_bad_grids(tmp_path):
    # Non-monotonic latitude.
    path = make_wb2(tmp_path / "era5.nc")
    ds = xr.open_dataset(path, engine="scipy").load()
    lat = ds["latitude"].values.copy()
    lat[[3, 4]] = lat[[4, 3]]
    bad = tmp_path / "nonmono.nc"
    ds.assign_coords(latitude=lat).to_netcdf(bad, engine="scipy")
    with pytest.raises(WB2Error, match=f"{bad}: latitude is not monotonic"):
        WB2Source(bad, VARIABLES)
    # Wrong dims: an extra ensemble dimension.
    wrong = tmp_path / "dims.nc"
    ds.expand_dims(member=2).to_netcdf(wrong, engine="scipy")
    with pytest.raises(WB2Error, match=r"dims .* expected"):
        WB2Source(wrong, VARIABLES)
    # Resolution finer than the data's grid (48×25).
    task = era5_task(tmp_path, make_wb2(tmp_path / "small.nc", nlon=24, nlat=13))
    with pytest.raises(WB2Error, match="finer than the data's finest grid 24×13"):
        build_era5(resolve_task(task, "smoke"), progress=False)


# -- stand-in -------------------------------------------------------------------------------
def test_standin_round_trip_is_bit_identical(tmp_path):
    task = load_task(builtin_task_file("era5"))
    resolved = resolve_task(task, "smoke")
    fields, lat, times, facts = simulate_standin(resolved, resolved.options)
    path = tmp_path / "standin.nc"
    write_wb2(path, fields, lat, times, {"source": "test"})
    names = [
        "geopotential@500",
        "u_component_of_wind@500",
        "v_component_of_wind@500",
        "vorticity@500",
    ]
    back = WB2Source(path, names, check_ranges=False).read(list(range(len(times))))
    solver = torch.stack(
        [torch.from_numpy(fields[n.partition("@")[0]]) for n in names], dim=1
    ).flip(-2)  # the solver's rows run north to south; the loader's south to north
    assert torch.equal(back, solver.double())
    assert np.isfinite(facts["kinetic_energy_drift"])


def test_smoke_profile_builds_the_standin_and_its_references(tmp_path, monkeypatch):
    from frlbench.data import load_dataset
    from frlbench.evaluation.evaluate import EvalProtocol, evaluate
    from frlbench.runner.reference import reference_forecaster, run_reference

    elsewhere = tmp_path / "default-cache"
    monkeypatch.setenv("FRLBENCH_CACHE", str(elsewhere))
    monkeypatch.delenv("FRLBENCH_ERA5", raising=False)
    task = load_task(builtin_task_file("era5"))
    named = tmp_path / "named-cache"
    ds = load_dataset(resolve_task(task, "smoke"), cache_dir=named, progress=False)
    # The stand-in's netCDF goes to the cache directory the user named, nowhere else.
    assert len(list(named.glob("era5-standin-*.nc"))) == 1
    assert not elsewhere.exists()
    assert ds.metadata["data_source"].startswith(
        "frlbench shallow-water stand-in for ERA5 (not real ERA5"
    )
    assert abs(ds.metadata["kinetic_energy_drift"]) < 1.0
    # Members start independently: not clones of one flow (branching off one state by a small
    # perturbation gave 0.998 on the quick profile).
    assert ds.metadata["member_vorticity_correlation"] < 0.9
    record = run_reference("persistence", resolve_task(task, "smoke"), data=ds)
    assert record.data_source == ds.metadata["data_source"] == ds.data_source
    for name in ("persistence", "solver"):
        protocol = EvalProtocol.from_task(resolve_task(task, "smoke"))
        results = evaluate(
            reference_forecaster(name, resolve_task(task, "smoke")), ds, protocol
        ).metrics
        # The stand-in's solver did not produce the truth (another grid, then an average):
        # unlike fluid3d's, it is scored on the reference grid too.
        assert [m.resolution for m in results] == [16, 32]
        assert all(m.acc is not None and set(m.per_variable) == set(task.channels) for m in results)


def test_standin_forcing_is_the_same_field_on_every_grid():
    """The spin-up grid, the data's grid and the solver reference's grids are forced alike."""
    params = SWEParams(forcing_degree=6, forcing_width=2)
    coarse, fine = SphereSWE(32, params), SphereSWE(64, params)
    assert torch.equal(fine.forcing[: coarse.lmax, : coarse.mmax], coarse.forcing)
    assert fine.forcing[coarse.lmax :].abs().max() == 0
    grid = fine.isht(fine.forcing)
    weights = torch.from_numpy(area_weights(fine.latitudes[::-1].copy())[::-1].copy())
    rms = ((grid**2).mean(-1) * weights).sum() / weights.sum()
    assert rms.sqrt().item() == pytest.approx(params.forcing_amplitude / 86400, rel=1e-3)
    # Random initial conditions draw the same degrees 1-20 on every grid that holds them (their
    # RMS wind is set on each grid's points: equal to about 1 %).
    ic64, ic96 = SphereSWE(64, params).random_initial_condition(3), SphereSWE(96, params)
    ic96 = ic96.random_initial_condition(3)[1, :21, :21]
    assert torch.allclose(ic96, ic64[1, :21, :21], rtol=0, atol=0.01 * ic64[1].abs().max())


def test_spectral_truncation_option_matches_averaging_on_smooth_fields():
    from frlbench.data.latlon import spectral_truncation, to_model_grid

    lat, lon = np.deg2rad(model_latitudes(32)), np.deg2rad(regular_longitudes(64))
    field = np.cos(lat)[:, None] ** 2 * np.sin(2 * lon)[None, :] + np.sin(lat)[:, None] + 3.0
    f = torch.from_numpy(field)
    truncated = spectral_truncation(f, 32)
    averaged = to_model_grid(f, model_latitudes(32), regular_longitudes(64), 32)
    assert truncated.shape == averaged.shape == (16, 32)
    assert (truncated - averaged).abs().max() < 0.02
    # White noise is not smooth: truncation removes its high degrees, so the two differ.
    noise = torch.randn(32, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    diff = spectral_truncation(noise, 16) - to_model_grid(
        noise, model_latitudes(32), regular_longitudes(64), 16
    )
    assert diff.abs().max() > 0.05


def test_tune_scores_persistence_lat_weighted_like_the_models(tmp_path):
    """tune's printed skill ratio divides by persistence scored the leaderboard's way."""
    from frlbench.tools.tune import persistence_rmse

    task = era5_task(tmp_path, make_wb2(tmp_path / "era5.nc"))
    ds = build_era5(resolve_task(task, "smoke"), progress=False)
    test = ds.splits["test"]
    scores = persistence_rmse(ds, resolve_task(task, "smoke"))
    assert set(scores) == {16, 32}
    for res, score in scores.items():
        diff = (ds.denormalize(test.inputs[res]) - ds.denormalize(test.targets[res])).double()
        w = metrics.latitude_weights(diff.shape[-2]).reshape(-1, 1)
        # float32 storage of z500 (about 5e4 m² s⁻²) limits the agreement to ~1e-6
        assert score == pytest.approx(float((diff**2 * w).mean().sqrt()), rel=1e-5)
        assert score != pytest.approx(float((diff**2).mean().sqrt()), rel=1e-5)
