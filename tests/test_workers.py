"""Worker processes of the ``local`` backend are reused from run to run: a run's record is the
same in a reused worker as in a fresh one, and each run's peak memory is its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from frlbench.env import peak_rss_mib, reset_peak_rss
from frlbench.records import load_records
from tests.test_runner import make_project


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux only")
def test_reset_peak_rss_forgets_an_earlier_peak():
    block = bytearray(300 * 2**20)  # touched: resident
    block[::4096] = b"x" * len(block[::4096])
    high = peak_rss_mib()
    del block
    assert reset_peak_rss()
    assert peak_rss_mib() < high - 200


def _run(project: Path, out: Path, seeds: str) -> None:
    env = {**os.environ, "FRLBENCH_CACHE": str(project / "cache")}
    cmd = [sys.executable, "-m", "frlbench.cli", "run", "--task", "adv", "--backbone",
           "probe_conv", "--profile", "smoke", "--backend", "local", "--jobs", "1",
           "--frl", "off", "--seeds", seeds, "--out", str(out), "--no-progress",
           "--no-report", "--no-references", "--tasks-dir", str(project / "tasks"),
           "--baselines-dir", str(project / "baselines")]  # fmt: skip
    subprocess.run(cmd, env=env, check=True, capture_output=True)


@pytest.mark.slow
def test_a_run_in_a_reused_worker_gives_the_record_of_a_fresh_one(tmp_path: Path):
    project = make_project(tmp_path / "proj")
    _run(project, project / "reused", "0,1")  # one worker: seed 1 runs after seed 0
    _run(project, project / "fresh", "1")  # seed 1 alone, in a fresh worker
    reused = {r.seed: r for r in load_records(project / "reused" / "runs")[0]}
    (fresh,) = load_records(project / "fresh" / "runs")[0]
    again = reused[1]
    assert again.run_id == fresh.run_id and again.status == fresh.status == "ok"
    assert again.history == fresh.history and again.best_step == fresh.best_step
    assert [m.rmse for m in again.metrics] == [m.rmse for m in fresh.metrics]
    weights = [
        torch.load(root / "runs" / fresh.run_id / "weights.pt", weights_only=True)
        for root in (project / "reused", project / "fresh")
    ]
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert again.peak_memory_mb <= 1.2 * fresh.peak_memory_mb
