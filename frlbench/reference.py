"""Reference rows: persistence and the task's own numerical solver at every test resolution.

A learned surrogate breaks scale anchoring only in comparison with something: these rows are
evaluated by the same metrics code as the models, at the same resolutions, and stored as
ordinary run records (``kind = "reference"``, no training).

A task builder offers its solver by registering it with the builder::

    @register_task_builder("fluid3d", options=..., solver=forecast)

where ``forecast(task, profile, inputs, resolution) -> outputs`` advances physical-unit
states ``(N, C, *grid)`` by the task's Δt on that grid.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import torch

from frlbench import metrics
from frlbench.config import TaskSpec
from frlbench.data import PairedDataset, load_dataset
from frlbench.data.base import SolverNotApplicable
from frlbench.env import environment
from frlbench.records import ResolutionMetrics, RunRecord
from frlbench.registry import TASK_BUILDERS
from frlbench.rollout import check_rollout, rollout_rmse

REFERENCES = ("persistence", "solver")
Forecast = Callable[[TaskSpec, str, torch.Tensor, int], torch.Tensor]


def reference_run_id(task: TaskSpec, profile: str, name: str) -> str:
    """Deterministic id of a reference row: the task's profile content and the reference name."""
    content = {
        "task": {k: v for k, v in dataclasses.asdict(task).items() if k not in ("source",)},
        "profile": profile,
        "name": name,
    }
    content["task"]["profiles"] = {profile: content["task"]["profiles"][profile]}
    blob = json.dumps(content, sort_keys=True, default=str).encode()
    return f"{task.name}-{name}-ref-{hashlib.sha256(blob).hexdigest()[:10]}"


def solver_for(task: TaskSpec) -> Forecast | None:
    """The forecast function the task's builder registered, if any."""
    return TASK_BUILDERS.entry(task.builder).metadata.get("solver")


def _persistence(task: TaskSpec, profile: str, inputs: torch.Tensor, resolution: int):
    return inputs.clone()


def _timed(
    forecast: Forecast, task: TaskSpec, profile: str, inputs: torch.Tensor, resolution: int
) -> tuple[torch.Tensor, float]:
    """Forecast every sample; seconds per sample measured after a one-sample warm-up."""
    forecast(task, profile, inputs[:1], resolution)
    start = time.perf_counter()
    outputs = forecast(task, profile, inputs, resolution)
    return outputs, (time.perf_counter() - start) / len(inputs)


def _normalized(
    forecast: Forecast, task: TaskSpec, profile: str, data: PairedDataset, resolution: int
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``forecast`` as a step on normalized states, computed in float64 physical units."""

    def step(x: torch.Tensor) -> torch.Tensor:
        physical = data.denormalize(x.double())
        return data.normalize(forecast(task, profile, physical, resolution).double())

    return step


def evaluate_reference(
    name: str, task: TaskSpec, profile: str, data: PairedDataset
) -> tuple[list[ResolutionMetrics], float] | str:
    """Metrics of reference ``name`` at every test resolution, or the reason it is n/a."""
    if name == "persistence":
        forecast: Forecast = _persistence
    else:
        solver = solver_for(task)
        if solver is None:
            return f"n/a: task builder {task.builder!r} has no numerical solver"
        forecast = solver
    test = data.splits["test"]
    results = []
    for res in test.resolutions:
        inputs = data.denormalize(test.inputs[res].double())
        truth = data.denormalize(test.targets[res].double())
        try:
            pred, seconds = _timed(forecast, task, profile, inputs, res)
        except SolverNotApplicable as exc:
            return str(exc)
        m = metrics.evaluate_fields(
            pred, truth, task, res, data.train_resolution, climatology=data.climatology.get(res)
        )
        m.inference_s_per_sample = seconds
        m.rollout_rmse = rollout_rmse(
            _normalized(forecast, task, profile, data, res),
            data,
            task,
            res,
            task.profile(profile).rollout_steps,
        )
        results.append(m)
    return results, metrics.fill_ratios(results, data.train_resolution)


def run_reference(
    name: str, task: TaskSpec, profile: str, *, cache_dir: Path | None = None
) -> RunRecord:
    """Evaluate one reference row and return its record (status ``failed`` with an "n/a:"
    reason where the reference does not apply)."""
    if name not in REFERENCES:
        raise ValueError(f"unknown reference {name!r}; valid: {', '.join(REFERENCES)}")
    data = load_dataset(task, profile, cache_dir=cache_dir, progress=False)
    check_rollout(task, profile, data)
    record = RunRecord(
        run_id=reference_run_id(task, profile, name),
        kind="reference",
        task=task.name,
        baseline=name,
        backbone=name,
        size="",
        frl="off",
        seed=0,
        profile=profile,
        status="ok",
        train_resolution=data.train_resolution,
        device="cpu",
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    start = time.perf_counter()
    outcome = evaluate_reference(name, task, profile, data)
    if isinstance(outcome, str):
        record.status, record.reason = "failed", outcome
    else:
        record.metrics, record.anchoring_slope = outcome
    record.train_time_s = 0.0
    record.time_per_step_s = math.nan
    record.env = {**environment("cpu"), "evaluation_wall_s": f"{time.perf_counter() - start:.3f}"}
    return record
