"""The Ray and Slurm (submitit local executor) backends produce the same records as local."""

from __future__ import annotations

from pathlib import Path

import pytest

from frlbench.catalog import Catalog
from frlbench.records import load_records
from frlbench.runner import expand_grid, run_grid

from .test_runner import make_project

pytestmark = pytest.mark.distributed


def grid(tmp_path: Path):
    project = make_project(tmp_path / "proj")
    Catalog(project / "tasks", project / "baselines").load()
    specs = expand_grid(
        profile="smoke", tasks=["adv"], baselines=["probe_conv"], frl=["off"], seeds=[0, 1]
    )
    return project, specs


@pytest.mark.ci
def test_ray_backend(tmp_path: Path, monkeypatch):
    pytest.importorskip("ray")
    project, specs = grid(tmp_path)
    monkeypatch.setenv("FRLBENCH_CACHE", str(project / "cache"))
    summary = run_grid(
        specs, project / "out", backend="ray", jobs=2, show_progress=False,
        plugins_dir=project / "baselines", references=False,
    )  # fmt: skip
    assert summary.executed == 2 and not summary.failures
    records, bad = load_records(project / "out" / "runs")
    assert not bad and {r.run_id for r in records} == {s.run_id for s in specs}


def test_slurm_backend_with_local_executor(tmp_path: Path, monkeypatch):
    pytest.importorskip("submitit")
    project, specs = grid(tmp_path)
    monkeypatch.setenv("FRLBENCH_CACHE", str(project / "cache"))
    summary = run_grid(
        specs, project / "out", backend="slurm", show_progress=False,
        plugins_dir=project / "baselines", references=False, submitit_cluster="local",
    )  # fmt: skip
    assert summary.executed == 2 and not summary.failures, [r.reason for r in summary.records]
