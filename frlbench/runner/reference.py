"""Reference rows: persistence and the task's own numerical solver at every test resolution.

The third row, the ρ0-band oracle (:mod:`frlbench.evaluation.oracle`: the truth with every mode
above the training Nyquist removed), is the limit of a model perfect on every mode it was trained
on; it is scored one step only (it forecasts only the stored test pairs, so it has no rollout).

A learned surrogate breaks scale anchoring only in comparison with something: these rows are
scored by the same :func:`frlbench.evaluation.evaluate.evaluate` as the models, at the same
resolutions, and stored as ordinary run records (``kind = "reference"``, no training). The solver
produced the ground truth on the reference grid, so it is scored only on coarser grids.

A task builder offers its solver by registering it with the builder::

    @register_task_builder("fluid3d", options=..., solver=forecast)

where ``forecast(task, inputs, resolution) -> outputs`` advances physical-unit
states ``(N, C, *grid)`` by the task's Δt on that grid.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from frlbench.data import PairedDataset, load_dataset
from frlbench.env import environment
from frlbench.evaluation.evaluate import (
    EvalProtocol,
    Forecaster,
    NotApplicable,
    PersistenceForecaster,
    SolverForecaster,
    evaluate,
    solver_for,
)
from frlbench.evaluation.oracle import BAND_ORACLE, BandOracleForecaster, record_target_energy
from frlbench.evaluation.rollout import check_rollout
from frlbench.records import RunRecord, new_record
from frlbench.registry import TASK_BUILDERS
from frlbench.spec import ResolvedTask, content_hash, task_identity

REFERENCES = ("persistence", "solver", BAND_ORACLE)

__all__ = [
    "REFERENCES",
    "reference_forecaster",
    "reference_protocol",
    "reference_run_id",
    "run_reference",
    "solver_for",
]


def reference_run_id(task: ResolvedTask, name: str) -> str:
    """Deterministic id of a reference row: the task's data configuration and the reference.

    Evaluation settings are not part of it (as for model runs): changing them re-evaluates.
    """
    identity = task_identity(task)
    digest = content_hash({"task": identity, "profile": task.profile, "name": name})
    return f"{task.name}-{name}-ref-{digest}"


def reference_protocol(name: str, task: ResolvedTask) -> EvalProtocol:
    """The evaluation protocol of reference ``name``: the task profile's, without the rollout
    for the band oracle (it forecasts only the stored test pairs)."""
    protocol = EvalProtocol.from_task(task)
    if name == BAND_ORACLE:
        return dataclasses.replace(protocol, rollout_steps=0, rollout_trajectories=0)
    return protocol


def reference_forecaster(
    name: str, task: ResolvedTask, data: PairedDataset | None = None
) -> Forecaster:
    """The forecaster of reference ``name``.

    Args:
        name: One of :data:`REFERENCES`.
        task: The task at its profile.
        data: The dataset scored (the band oracle reads its test targets).

    Raises:
        ValueError: For an unknown reference (valid ones listed).
        NotApplicable: If the task's builder has no numerical solver, or the band oracle is
            asked for without the dataset.
    """
    if name == "persistence":
        return PersistenceForecaster()
    if name == BAND_ORACLE:
        if data is None:
            raise NotApplicable(f"{BAND_ORACLE}: needs the dataset whose test targets it reads")
        return BandOracleForecaster(data, task)
    if name == "solver":
        solver = solver_for(task)
        if solver is None:
            raise NotApplicable(f"task builder {task.builder!r} has no numerical solver")
        exact = TASK_BUILDERS.entry(task.builder).info.solver_is_truth
        return SolverForecaster(solver, task, exact_at_reference=exact)
    raise ValueError(f"unknown reference {name!r}; valid: {', '.join(REFERENCES)}")


def run_reference(
    name: str,
    task: ResolvedTask,
    *,
    cache_dir: Path | None = None,
    data: PairedDataset | None = None,
) -> RunRecord:
    """Evaluate one reference row and return its record (status ``not_applicable`` with the
    reason where the reference does not apply to the task)."""
    if name not in REFERENCES:
        raise ValueError(f"unknown reference {name!r}; valid: {', '.join(REFERENCES)}")
    if data is None:
        data = load_dataset(task, cache_dir=cache_dir, progress=False)
    check_rollout(task, data)
    protocol = reference_protocol(name, task)
    record = new_record(
        run_id=reference_run_id(task, name),
        kind="reference",
        task=task.name,
        baseline=name,
        profile=task.profile,
        data_source=data.data_source,
        train_resolution=data.train_resolution,
        reference_resolution=protocol.reference_resolution,
        device="cpu",
    )
    start = time.perf_counter()
    try:
        evaluation = evaluate(reference_forecaster(name, task, data), data, protocol)
    except NotApplicable as exc:
        record.status, record.reason = "not_applicable", str(exc)
        record.evaluation = protocol.to_dict()
    else:
        if name == BAND_ORACLE:
            record_target_energy(evaluation.metrics, data, task)
        record.replace_evaluation(
            protocol.to_dict(), evaluation.metrics, evaluation.anchoring_slope
        )
    record.env = {**environment("cpu"), "evaluation_wall_s": f"{time.perf_counter() - start:.3f}"}
    return record
