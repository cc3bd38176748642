"""Estimates before work and the ETA during it (frlbench.runner.estimate, .progress)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from frlbench.runner.estimate import (
    GridEstimate,
    RunEstimate,
    estimate_grid,
    format_duration,
    load_timings,
    probe_seconds,
)
from frlbench.runner.grid import expand_grid
from frlbench.runner.progress import GridProgress
from frlbench.runner.store import RunStore
from tests.test_runner import cli, make_project


@pytest.fixture
def catalog(tmp_path: Path) -> None:
    """The built-in tasks and baselines, loaded (as the CLI does)."""
    from frlbench.catalog import Catalog

    Catalog(tmp_path / "tasks", tmp_path / "baselines").load()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_eta_scales_the_remaining_estimates_by_the_finished_runs_actual_times():
    clock = Clock()
    display = GridProgress(3, enabled=False, expected={"a": 10, "b": 10, "c": 20}, clock=clock)
    assert display.eta_seconds() == 40  # nothing finished: the estimates themselves
    display.started("a")
    clock.now = 20.0  # a took twice its estimate
    display.finished("a", "ok")
    assert display.eta_seconds() == pytest.approx(60)  # (10 + 20) x 2
    display.started("b")
    clock.now = 25.0
    assert display.eta_seconds() == pytest.approx(55)  # b has 5 s behind it


def test_eta_without_estimates_uses_the_finished_runs_mean():
    clock = Clock()
    display = GridProgress(4, enabled=False, jobs=2, clock=clock)
    assert display.eta_seconds() is None
    display.started("a")
    clock.now = 8.0
    display.finished("a", "ok")
    assert display.eta_seconds() == pytest.approx(3 * 8 / 2)


def test_progress_speaks_of_steps():
    display = GridProgress(1, enabled=False)
    display.started("a")
    display.update("a", {"step": 3, "steps": 10, "loss": 0.5})
    task = display.progress.tasks[-1]
    assert task.fields["info"] == "step 3/10 loss 0.5" and "epoch" not in task.fields["info"]


def _timings(per_step: float = 0.5, eval_s: float = 2.0) -> dict:
    runs = {f"cnn/{frl}": {"train_s_per_step": per_step, "eval_s": eval_s} for frl in ("off",)}
    return {
        "profiles": {
            "smoke": {
                "worker_start_s": 3.0,
                "probe": {"seconds": 0.1, "threads": 1, "kind": "wall"},
                "report_s": 5.0,
                "tasks": {
                    "fluid3d": {
                        "data_s": 7.0,
                        "references_s": 1.0,
                        "run_fixed_s": 1.0,
                        "runs": runs,
                    },
                },
            }
        },
    }


def test_estimate_is_budget_times_step_time_scaled_by_the_probe(tmp_path: Path, catalog):
    plans = expand_grid(profile="smoke", tasks=["fluid3d"], baselines=["cnn", "fno"],
                        frl=["off"], seeds=[0])  # fmt: skip
    cnn = plans[0]
    store = RunStore(tmp_path / "out")
    est = estimate_grid(plans, store, cache_dir=tmp_path / "cache", timings=_timings(),
                        probe_s=0.2)  # fmt: skip
    assert est.scale == pytest.approx(2.0)
    steps = cnn.settings.total_steps(cnn.task.n_train)
    first = (steps * 0.5 + 2.0 + 1.0) * 2.0
    assert est.runs[0].seconds == pytest.approx(first) and not est.runs[0].guessed
    assert est.runs[1].guessed  # fno has no timings: the task's median per step
    assert est.overhead_s == pytest.approx((7.0 + 1.0 + 3.0 + 5.0) * 2.0)
    assert "2 runs, 2 to do (0 already finished)" in est.describe()
    assert "1 runs without stored timings" in est.describe()


def test_finished_runs_and_cached_data_cost_nothing(tmp_path: Path, catalog):
    plans = expand_grid(profile="smoke", tasks=["fluid3d"], baselines=["cnn"], frl=["off"],
                        seeds=[0])  # fmt: skip
    store = RunStore(tmp_path / "out")
    run_dir = store.run_dir(plans[0].run_id)
    run_dir.mkdir(parents=True)
    est = estimate_grid(plans, store, timings=_timings(), probe_s=0.1, cache_dir=tmp_path)
    assert est.runs[0].finished is False
    from frlbench.data.cache import dataset_path

    dataset_path(plans[0].task, tmp_path).write_bytes(b"")  # present: not rebuilt
    est = estimate_grid(plans, store, timings=_timings(), probe_s=0.1, cache_dir=tmp_path)
    assert est.overhead_s == pytest.approx(1.0 + 3.0 + 5.0)


def test_describe_prints_a_range_and_durations_read_well():
    est = GridEstimate((RunEstimate("a", 100.0, False, False),), 20.0, 1, 1.0)
    assert est.describe() == "1 runs, 1 to do (0 already finished); estimated wall time " + (
        f"{format_duration(90)} to {format_duration(162)}"
    )
    assert [format_duration(s) for s in (42, 185, 8040)] == ["42 s", "3 min 5 s", "2 h 14 min"]


def test_the_stored_timings_cover_every_built_in_baseline(catalog):
    timings = load_timings()
    assert timings["machine"]
    for profile in ("smoke", "quick"):
        for task in ("fluid3d", "era5"):
            assert timings["profiles"][profile]["probe"]["seconds"] > 0
            entry = timings["profiles"][profile]["tasks"][task]
            plans = expand_grid(profile=profile, tasks=[task])
            for plan in plans:
                assert f"{plan.baseline.name}/{plan.frl.name}" in entry["runs"], plan.run_id


def test_probe_is_short():
    assert 0 < probe_seconds() < 0.5 and 0 < probe_seconds(cpu=True, threads=2) < 0.5


def test_dry_run_prints_the_plan_and_writes_nothing(tmp_path: Path):
    project = make_project(tmp_path / "proj")
    out = project / "results"
    result = cli(project, "run", "--task", "adv", "--backbone", "probe_conv", "--profile",
                 "smoke", "--frl", "off,full", "--out", str(out), "--dry-run")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 runs, 2 to do (0 already finished)" in result.output
    assert "adv-probe_conv-off-s0-" in result.output and "to do" in result.output
    assert not (out / "runs").exists() and not (project / "cache").exists()
    json.dumps(load_timings())  # plain data


def _timed_run(tmp_path: Path, *selection: str) -> tuple[float, float]:
    """The estimate ``frlbench run`` prints for a selection, and the measured wall time of the
    command (fresh data cache and results folder)."""
    import os
    import re
    import subprocess
    import sys
    import time

    from frlbench.runner.estimate import LOW

    env = {**os.environ, "FRLBENCH_CACHE": str(tmp_path / "cache"), "MPLBACKEND": "Agg"}
    cmd = [sys.executable, "-m", "frlbench.cli", "run", *selection, "--out",
           str(tmp_path / "out"), "--no-progress"]  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    line = next(x for x in done.stdout.splitlines() if "estimated wall time" in x)
    low = re.search(r"estimated wall time (.+?) to ", line).group(1)
    return _seconds(low) / LOW, wall


def _seconds(text: str) -> float:
    import re

    units = {"h": 3600, "min": 60, "s": 1}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+) (h|min|s)\b", text))


def test_seconds_parse_the_printed_durations():
    assert [_seconds(format_duration(s)) for s in (42, 185, 8040)] == [42, 185, 8040]


@pytest.mark.slow
def test_smoke_grid_estimate_is_within_35_percent_of_its_wall_time(tmp_path: Path):
    estimate, wall = _timed_run(tmp_path, "--all", "--profile", "smoke")
    assert abs(estimate - wall) <= 0.35 * wall, (estimate, wall)


@pytest.mark.slow
def test_one_quick_run_estimate_is_within_35_percent_of_its_wall_time(tmp_path: Path):
    # --jobs 2: one thread per run, as the quick timings were taken
    selection = ("--task", "era5", "--backbone", "cnn", "--frl", "off", "--seeds", "0",
                 "--jobs", "2", "--no-report")  # fmt: skip
    estimate, wall = _timed_run(tmp_path, *selection)
    assert abs(estimate - wall) <= 0.35 * wall, (estimate, wall)
