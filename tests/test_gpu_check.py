"""benchmarks/gpu_check.py runs end to end on the CPU (its --dry-run), so the GPU run is one try."""

from __future__ import annotations

import json

import pytest

from benchmarks import gpu_check
from frlbench.catalog import get_task


@pytest.mark.slow
def test_dry_run_writes_times_memory_and_ratios(tmp_path):
    out = tmp_path / "gpu.json"
    gpu_check.main(["--out", str(out), "--dry-run", "--backbones", "cnn"])
    result = json.loads(out.read_text())
    assert result["dry_run"] and result["data"]["reference_resolution"] == 32
    assert {row["variant"] for row in result["train"]} == {"off", "full", "full-sched"}
    assert all(row["mean_step_s"] > 0 for row in result["train"])
    assert set(result["frl_ratios"]) == {"cnn/full", "cnn/full-sched"}


@pytest.mark.slow
def test_budget_skips_the_remaining_parts(tmp_path):
    out = tmp_path / "gpu.json"
    gpu_check.main(["--out", str(out), "--dry-run", "--budget-s", "0", "--backbones", "cnn"])
    result = json.loads(out.read_text())
    assert result["train"] == [] and len(result["skipped"]) == 3


@pytest.mark.slow
def test_dry_run_on_era5_builds_the_standin_in_a_temporary_cache(tmp_path, monkeypatch):
    cache = tmp_path / "user-cache"
    monkeypatch.setenv("FRLBENCH_CACHE", str(cache))
    out = tmp_path / "era5.json"
    gpu_check.main(
        ["--task", "era5", "--out", str(out), "--dry-run", "--backbones", "cnn",
         "--variants", "off", "full", "--trajectories", "1"]
    )  # fmt: skip
    result = json.loads(out.read_text())
    assert result["data"]["task"] == "era5" and result["data"]["reference_resolution"] == 32
    smoke = get_task("era5").profiles["smoke"]
    assert result["data"]["trajectories"] == 3  # 1 training member, 1 validation, 1 test
    assert result["data"]["profile_trajectories"] == smoke.n_train + smoke.n_val + smoke.n_test
    assert "kinetic_energy_drift" in result["data"]["facts"]
    row = result["train"][0]
    assert row["mean_step_s"] > 0 and row["full_run_steps"] > 0
    assert "forward_32_batch1_s" in row
    assert set(result["frl_ratios"]) == {"cnn/full"}
    assert not cache.exists()  # nothing written to the user's cache
