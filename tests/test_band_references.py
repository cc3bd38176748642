"""Per-trajectory band errors, the ρ0-band oracle and ρ0-then-pad, on the tiny advection task."""

from __future__ import annotations

import math

import pytest
import torch

from frlbench import metrics, spectral
from frlbench.data import load_dataset
from frlbench.evaluation.evaluate import EvalProtocol, ModelForecaster, evaluate, trajectories
from frlbench.evaluation.oracle import BAND_ORACLE, band_limit
from frlbench.evaluation.rho0_pad import evaluate_with_rho0_pad
from frlbench.runner.reference import run_reference
from frlbench.spec import resolve_task
from tests.conftest import make_task


@pytest.fixture(scope="module")
def advection(tmp_path_factory):
    """The 2-D advection smoke task (ρ0 = 8, tested at 8, 16, 32) and its dataset."""
    task = resolve_task(make_task(ndim=2, channels=2, tests=(8, 16, 32), ref=32), "smoke")
    cache = tmp_path_factory.mktemp("bands-cache")
    return task, load_dataset(task, cache_dir=cache, progress=False)


def test_band_errors_per_trajectory_sum_to_the_total(advection):
    """Per trajectory seen² + unseen² = total² (Parseval), and their means are the grid's."""
    task, data = advection
    evaluation = evaluate(PersistenceLike(), data, EvalProtocol.from_task(task))
    groups = trajectories(data.splits["test"])
    for m in evaluation.metrics:
        seen, unseen = m.mse_seen_per_trajectory, m.mse_unseen_per_trajectory
        assert len(seen) == len(unseen) == len(m.rmse_per_trajectory) == len(groups)
        for s, u, total in zip(seen, unseen, m.rmse_per_trajectory, strict=True):
            assert s + u == pytest.approx(total**2, rel=1e-9)
        assert sum(seen) / len(seen) == pytest.approx(m.mse_seen, rel=1e-9)
        assert sum(unseen) / len(unseen) == pytest.approx(m.mse_unseen, rel=1e-9, abs=1e-30)
        if m.resolution > task.train_resolution:
            assert min(unseen) > 0  # persistence misses the fine modes' motion
        else:
            assert max(unseen) == pytest.approx(0.0, abs=1e-25)


class PersistenceLike:
    """Persistence, slightly damped so that its error is not the plain increment."""

    name = "damped persistence"
    units = "physical"
    exact_at_reference = False

    def forecast(self, states, resolution):
        return 0.9 * states


def test_band_oracle_rmse_is_the_root_of_the_target_unseen_power(advection, tmp_path):
    task, data = advection
    record = run_reference(BAND_ORACLE, task, data=data)
    assert record.status == "ok", record.reason
    test = data.splits["test"]
    for m in record.metrics:
        target = data.denormalize(test.targets[m.resolution].double())
        _, unseen = metrics.band_errors(target, torch.zeros_like(target), task, 8)
        assert m.rmse == pytest.approx(math.sqrt(unseen), rel=1e-9, abs=1e-15)
        assert m.mse_seen == pytest.approx(0.0, abs=1e-20)
        assert m.rollout_rmse == []
        share = m.target_energy_above_nyquist
        assert (share > 0) == (m.resolution > 8) and share < 0.5
    assert record.metrics[0].resolution == 8 and record.metrics[0].rmse < 1e-12
    assert record.metrics[-1].rmse > 0
    assert record.evaluation["rollout_steps"] == 0


def test_band_limit_keeps_exactly_the_seen_band(advection):
    task, _ = advection
    torch.manual_seed(0)
    x = torch.randn(2, 2, 32, 32, dtype=torch.float64)
    kept = band_limit(x, task, 8)
    seen, unseen = metrics.band_errors(x, kept, task, 8)
    assert seen == pytest.approx(0.0, abs=1e-25)
    assert unseen == pytest.approx(metrics.band_errors(x, 0 * x, task, 8)[1], rel=1e-12)


class BandLimitedModel(torch.nn.Module):
    """A linear model that reads and writes only the modes of the 8-point grid: halves the
    field, shifted by one cell of that grid and smoothed, then low-passed."""

    def forward(self, x):
        n = x.shape[-1]
        coarse = spectral.truncate(x, (8, 8))
        out = 0.5 * torch.roll(coarse, 1, dims=-1) + 0.25 * coarse
        return spectral.zero_pad(out, (n, n)) if n > 8 else out


class CellKernelModel(torch.nn.Module):
    """A 3-point stencil in grid cells: not band-limited, so native and ρ0-then-pad differ."""

    def forward(self, x):
        return 0.5 * x + 0.25 * (torch.roll(x, 1, dims=-1) + torch.roll(x, -1, dims=-1))


def test_rho0_then_pad_of_a_band_limited_model_equals_its_native_run(advection):
    task, data = advection
    protocol = EvalProtocol.from_task(task)
    evaluation = evaluate_with_rho0_pad(
        ModelForecaster(BandLimitedModel(), torch.device("cpu")), data, protocol
    )
    for m in evaluation.metrics:
        assert m.rho0_pad_rmse == pytest.approx(m.rmse, rel=1e-5)
        assert m.rho0_pad_rmse_per_trajectory == pytest.approx(m.rmse_per_trajectory, rel=1e-5)
    other = evaluate_with_rho0_pad(
        ModelForecaster(CellKernelModel(), torch.device("cpu")), data, protocol
    )
    at_8, at_32 = other.metrics[0], other.metrics[-1]
    assert at_8.rho0_pad_rmse == at_8.rmse  # at ρ0 the wrapper is the model itself
    assert abs(at_32.rho0_pad_rmse / at_32.rmse - 1) > 1e-3


@pytest.mark.slow
def test_lat_lon_oracle_and_rho0_then_pad(tmp_path):
    """era5's smoke stand-in (ρ0 = 16, tested at 16 and 32): the oracle's RMSE is the root of
    the targets' zonal power above m = 8, and ρ0-then-pad (conservative coarsening, bilinear
    back) is scored beside the native run."""
    from frlbench.catalog import builtin_task_file
    from frlbench.spec import load_task

    task = resolve_task(load_task(builtin_task_file("era5")), "smoke")
    data = load_dataset(task, cache_dir=tmp_path, progress=False)
    record = run_reference(BAND_ORACLE, task, data=data)
    test = data.splits["test"]
    for m in record.metrics:
        target = data.denormalize(test.targets[m.resolution].double())
        _, unseen = metrics.band_errors(target, torch.zeros_like(target), task, 16)
        assert m.rmse == pytest.approx(math.sqrt(unseen), rel=1e-9, abs=1e-9)
    evaluation = evaluate_with_rho0_pad(
        ModelForecaster(CellKernelModel(), torch.device("cpu")), data, EvalProtocol.from_task(task)
    )
    at_16, at_32 = evaluation.metrics
    assert at_16.rho0_pad_rmse == at_16.rmse
    assert math.isfinite(at_32.rho0_pad_rmse) and at_32.rho0_pad_rmse != at_32.rmse
    assert len(at_32.mse_seen_per_trajectory) == len(at_32.rmse_per_trajectory) == 1
