"""The fluid3d task: options, bad input, the paired smoke dataset and its cache."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from frlbench import spectral
from frlbench.catalog import builtin_task_file, validate_task
from frlbench.data import fluid3d, load_dataset
from frlbench.data.base import PairedDataset
from frlbench.data.cache import dataset_path
from frlbench.data.fluid3d import Fluid3DOptions, SimulationBlowUp, build_fluid3d
from frlbench.registry import TASK_BUILDERS
from frlbench.spec import ConfigError, TaskSpec, load_task, resolve_task

TASK_FILE = builtin_task_file("fluid3d")


@pytest.fixture(scope="module")
def task() -> TaskSpec:
    return load_task(TASK_FILE)


@pytest.fixture(scope="module")
def smoke(fluid3d_smoke) -> tuple[PairedDataset, Path]:
    """The shipped smoke dataset and its cache (built once per session, see conftest)."""
    _task, data, cache = fluid3d_smoke
    return data, cache


def with_profile(task: TaskSpec, profile: str = "smoke", **changes: Any) -> TaskSpec:
    """A copy of ``task`` whose ``profile`` has ``changes``; keys ``data.X`` edit the options."""
    sizes = task.profiles[profile]
    data = dict(sizes.data)
    plain = {}
    for key, value in changes.items():
        if key.startswith("data."):
            data[key.removeprefix("data.")] = value
        else:
            plain[key] = value
    new = dataclasses.replace(sizes, data=data, **plain)
    return dataclasses.replace(task, profiles={**task.profiles, profile: new})


def test_shipped_profiles_are_valid(task: TaskSpec) -> None:
    validate_task(task)
    for profile in ("smoke", "quick", "paper"):
        opts = resolve_task(task, profile).options
        fluid3d.check_profile(resolve_task(task, profile), opts)
    assert task.channels == ("u", "v", "w") and task.ndim == 3


def test_smoke_dataset_shapes_and_splits(smoke: tuple[PairedDataset, Path], task: TaskSpec) -> None:
    ds, _ = smoke
    sizes = task.profiles["smoke"]
    opts = resolve_task(task, "smoke").options
    pairs = opts.pairs_per_trajectory
    assert ds.splits["train"].resolutions == [sizes.train_resolution]
    assert ds.splits["val"].resolutions == [sizes.train_resolution]
    assert ds.splits["test"].resolutions == list(sizes.test_resolutions)
    for name, count in (("train", sizes.n_train), ("val", sizes.n_val), ("test", sizes.n_test)):
        split = ds.splits[name]
        assert len(split) == count * pairs == len(split.sample_seeds)
        for r in split.resolutions:
            assert split.inputs[r].shape == (count * pairs, 3, r, r, r)
            assert split.inputs[r].dtype == torch.float32
    seeds = {name: set(split.sample_seeds) for name, split in ds.splits.items()}
    assert not seeds["train"] & seeds["val"] and not seeds["train"] & seeds["test"]
    assert not seeds["val"] & seeds["test"]
    # Consecutive pairs of one trajectory share a state: target i is input i + 1.
    train = ds.splits["train"]
    r = sizes.train_resolution
    assert torch.equal(train.targets[r][0], train.inputs[r][1])
    # Normalization statistics come from the training inputs at the training resolution.
    x = train.inputs[r].double()
    assert torch.allclose(x.mean(dim=(0, 2, 3, 4)), torch.zeros(3, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(x.std(dim=(0, 2, 3, 4)), torch.ones(3, dtype=torch.float64), atol=1e-5)


def test_coarse_test_resolutions_are_truncations_of_the_finest(
    smoke: tuple[PairedDataset, Path],
) -> None:
    ds, _ = smoke
    test = ds.splits["test"]
    finest = max(test.resolutions)
    for which in (test.inputs, test.targets):
        fine = which[finest].double()
        for r in test.resolutions[:-1]:
            truncated = spectral.truncate(fine, (r, r, r))
            assert torch.allclose(which[r].double(), truncated, atol=1e-5)


def test_smoke_metadata(smoke: tuple[PairedDataset, Path], task: TaskSpec) -> None:
    ds, _ = smoke
    meta = ds.metadata
    assert json.loads(json.dumps(meta)) == meta
    opts = resolve_task(task, "smoke").options
    assert meta["viscosity"] == opts.viscosity and meta["dt"] == opts.dt
    assert meta["forcing"]["kind"] == opts.forcing
    assert math.isfinite(meta["taylor_reynolds"]) and meta["taylor_reynolds"] > 1
    k, energy = meta["energy_spectrum"]["k"], meta["energy_spectrum"]["E"]
    assert len(k) == len(energy) and energy[0] < 1e-20  # no mean flow
    assert sum(energy) == pytest.approx(meta["kinetic_energy"], rel=1e-9)
    unseen = meta["unseen_energy_fraction"]
    assert set(unseen) == {"16", "32"} and 0 < unseen["16"] <= unseen["32"] < 1
    persistence = meta["persistence_relative_rmse"]
    assert all(0 < v < 2 for v in persistence.values())


def test_cache_hit_and_corrupted_file_is_rebuilt(
    smoke: tuple[PairedDataset, Path], task: TaskSpec, monkeypatch: pytest.MonkeyPatch
) -> None:
    ds, cache = smoke
    path = dataset_path(resolve_task(task, "smoke"), cache)
    assert path.exists()

    def must_not_build(name: str) -> Any:
        raise AssertionError("the cached dataset should have been loaded")

    monkeypatch.setattr(TASK_BUILDERS, "get", must_not_build)
    again = load_dataset(resolve_task(task, "smoke"), cache_dir=cache)
    assert torch.equal(again.splits["test"].inputs[32], ds.splits["test"].inputs[32])
    assert again.metadata == ds.metadata

    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    path.write_bytes(bytes(blob))
    calls = []

    def count_builds(name: str) -> Any:
        calls.append(name)
        return lambda task, progress=True: ds

    monkeypatch.setattr(TASK_BUILDERS, "get", count_builds)
    rebuilt = load_dataset(resolve_task(task, "smoke"), cache_dir=cache)
    assert calls == ["fluid3d"] and rebuilt is ds
    monkeypatch.setattr(TASK_BUILDERS, "get", must_not_build)
    assert load_dataset(resolve_task(task, "smoke"), cache_dir=cache).metadata == ds.metadata


@pytest.mark.parametrize(
    ("changes", "key", "valid"),
    [
        ({"data.viscosity": -0.01}, "profiles.smoke.data.viscosity", ">= 0"),
        ({"data.forcing": "magic"}, "profiles.smoke.data.forcing", "'kolmogorov'"),
        ({"data.max_cfl": 3.0}, "profiles.smoke.data.max_cfl", "RK4 stability limit"),
        ({"data.steps_per_pair": 0}, "profiles.smoke.data.steps_per_pair", ">= 1"),
        ({"data.forcing_wavenumber": 1.5, "data.forcing": "kolmogorov"}, "forcing_wavenumber", ""),
        ({"data.unknown": 1}, "profiles.smoke.data.unknown", "valid keys"),
    ],
)
def test_bad_options_name_the_key(task: TaskSpec, changes: dict, key: str, valid: str) -> None:
    with pytest.raises(ConfigError, match=key) as info:
        validate_task(with_profile(task, **changes))
    assert valid in str(info.value)


@pytest.mark.parametrize(
    ("changes", "key", "valid"),
    [
        ({"test_resolutions": (8, 12, 32)}, "test_resolutions", "divide reference_resolution"),
        ({"train_resolution": 4, "test_resolutions": (4, 16, 32)}, "train_resolution", ">= 8"),
        (
            {"reference_resolution": 30, "test_resolutions": (10, 15, 30), "train_resolution": 10},
            "test_resolutions",
            "[10, 30]",
        ),
        (
            {"data.forcing_wavenumber": 12.0},
            "reference_resolution",
            "forcing_wavenumber = 12",
        ),
        (
            {"data.coarse_spinup_time": 1.0, "data.coarse_spinup_resolution": 32},
            "coarse_spinup_resolution",
            "< reference_resolution = 32",
        ),
    ],
)
def test_bad_resolutions_name_the_key(task: TaskSpec, changes: dict, key: str, valid: str) -> None:
    bad = with_profile(task, **changes)
    with pytest.raises(ConfigError, match=f"profiles.smoke.*{key}") as info:
        build_fluid3d(resolve_task(bad, "smoke"), progress=False)
    assert valid in str(info.value)


def test_unstable_dt_is_refused_before_generation(task: TaskSpec) -> None:
    with pytest.raises(ConfigError, match=r"profiles\.smoke\.data\.dt': got 0\.5") as info:
        build_fluid3d(resolve_task(with_profile(task, **{"data.dt": 0.5}), "smoke"), progress=False)
    assert "0 < dt <= " in str(info.value) and "max_cfl" in str(info.value)


def test_blow_up_names_the_seed_and_time(task: TaskSpec, monkeypatch: pytest.MonkeyPatch) -> None:
    real = fluid3d.initial_condition

    def poisoned(solver: Any, opts: Fluid3DOptions, seed: int) -> torch.Tensor:
        u0 = real(solver, opts, seed)
        if seed == opts.seed:
            u0[1, 2, 3, 4] = math.nan
        return u0

    monkeypatch.setattr(fluid3d, "initial_condition", poisoned)
    with pytest.raises(SimulationBlowUp, match=r"sample seed 0 blew up at t = 0\.02") as info:
        build_fluid3d(resolve_task(task, "smoke"), progress=False)
    assert info.value.seed == 0 and info.value.time == pytest.approx(0.02)


def test_coarse_spinup_runs_and_is_recorded(task: TaskSpec) -> None:
    small = with_profile(
        task,
        n_train=1,
        n_val=1,
        n_test=1,
        **{
            "data.coarse_spinup_time": 0.1,
            "data.coarse_spinup_resolution": 16,
            "data.spinup_time": 0.2,
            "data.pairs_per_trajectory": 1,
        },
    )
    ds = build_fluid3d(resolve_task(small, "smoke"), progress=False)
    assert ds.metadata["coarse_spinup_resolution"] == 16
    assert ds.metadata["coarse_spinup_time"] == pytest.approx(0.1)
    assert len(ds.splits["test"]) == 1


def test_solver_forecast_reproduces_the_reference(
    smoke: tuple[PairedDataset, Path], task: TaskSpec
) -> None:
    """The registered solver forecast: exact at the reference grid, and better than persistence
    below it."""
    ds, _ = smoke
    assert TASK_BUILDERS.entry("fluid3d").info.solver is fluid3d.forecast
    test = ds.splits["test"]
    for r in test.resolutions:
        inputs = ds.denormalize(test.inputs[r].double())
        truth = ds.denormalize(test.targets[r].double())
        predicted = fluid3d.forecast(resolve_task(task, "smoke"), inputs, r)
        error = ((predicted - truth).norm() / truth.norm()).item()
        persistence = ((inputs - truth).norm() / truth.norm()).item()
        if r == max(test.resolutions):
            assert error < 1e-5
        else:
            assert error < persistence
