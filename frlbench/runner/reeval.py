"""Re-evaluating stored runs under new evaluation settings, from their weights, no retraining.

``frlbench eval`` and ``frlbench run`` (when a finished run's stored evaluation differs from
what its task profile now asks for) both end here; the new evaluation replaces the record's
current one, which moves to ``record.evaluation_history``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from torch.nn import Module

from frlbench.data import load_dataset
from frlbench.errors import UserError
from frlbench.evaluation.evaluate import EvalProtocol, ModelForecaster, same_settings
from frlbench.evaluation.rho0_pad import evaluate_with_rho0_pad
from frlbench.evaluation.rollout import check_rollout
from frlbench.records import RecordError, RunRecord, iter_records, write_json_atomic, write_record
from frlbench.registry import UnknownNameError
from frlbench.runner.lock import RunLock
from frlbench.runner.store import RunStore
from frlbench.spec import ConfigError, RunPlan, RunSpec
from frlbench.train import build_model, resolve_device


def with_resolutions(plan: RunPlan, resolutions: Sequence[int]) -> RunPlan:
    """``plan`` testing at ``resolutions`` (the training resolution is always kept).

    The reference resolution is raised if a new resolution exceeds it, which regenerates the
    ground truth at that finer grid.
    """
    task = plan.task
    res = tuple(sorted({*resolutions, task.train_resolution}))
    return plan.with_sizes(
        test_resolutions=res, reference_resolution=max(task.reference_resolution, res[-1])
    )


def with_rollout(plan: RunPlan, steps: int) -> RunPlan:
    """``plan`` evaluating an autoregressive rollout of ``steps`` steps."""
    return plan.with_sizes(rollout_steps=steps)


def needs_evaluation(record: RunRecord, plan: RunPlan) -> bool:
    """True when a finished model run was evaluated under other settings than ``plan``'s."""
    if record.kind != "model" or record.status != "ok":
        return False
    return not same_settings(record.evaluation, EvalProtocol.of(plan.task, plan.evaluation))


def reevaluate(
    store: RunStore,
    run_id: str,
    *,
    plan: RunPlan | None = None,
    resolutions: Sequence[int] | None = None,
    rollout_steps: int | None = None,
    device: str = "auto",
    cache_dir: Path | None = None,
) -> RunRecord:
    """Load a finished run's weights, evaluate again, and store the updated record.

    Args:
        store: The results store.
        run_id: The run.
        plan: The run's plan with the evaluation settings to use (default: the stored one).
        resolutions: Override the test resolutions.
        rollout_steps: Override the rollout length.
        device: ``auto``, ``cpu`` or ``cuda``.
        cache_dir: Dataset cache directory.

    Raises:
        ConfigError: If the run is not a finished model run with stored weights, or ``plan``
            is another run's.
    """
    record = check_weights(store, run_id, store.read(run_id))
    if plan is None:
        plan = restore_spec(store, run_id, record)
    elif plan.run_id != run_id:
        raise ConfigError(f"spec of run {plan.run_id} given to re-evaluate run {run_id}")
    else:
        store.save_spec(plan)  # later `frlbench eval` calls start from these settings
    if resolutions:
        plan = with_resolutions(plan, resolutions)
    if rollout_steps is not None:
        plan = with_rollout(plan, rollout_steps)
    dev = resolve_device(device)
    model = load_model(store, run_id, plan, dev)
    data = load_dataset(plan.task, cache_dir=cache_dir, progress=False)
    try:
        check_rollout(plan.task, data)
    except ConfigError as exc:
        if rollout_steps is None:
            raise
        limit = str(exc).split(", but ", 1)[-1]
        raise ConfigError(f"--rollout-steps {rollout_steps}: {limit}") from None
    protocol = EvalProtocol.of(plan.task, plan.evaluation)
    evaluation = evaluate_with_rho0_pad(ModelForecaster(model, dev), data, protocol)
    record.replace_evaluation(protocol.to_dict(), evaluation.metrics, evaluation.anchoring_slope)
    record.mark_non_finite()
    record.env = {**record.env, "reevaluated_on": str(dev)}
    record.data_source = data.data_source  # records from before the field gain it here
    # Written into the folder that was read, whatever run id the record carries (a copied
    # run folder must never overwrite its original).
    write_record(store.record_path(run_id), record, root=store.out)
    return record


def check_weights(store: RunStore, run_id: str, record: RunRecord) -> RunRecord:
    """``record`` (a checksum added if it had none) when it is a finished model run whose
    ``weights.pt`` exists and matches.

    Raises:
        ConfigError: If the run is not a finished model run or has no stored weights.
        RecordError: If the weights fail their checksum.
    """
    if record.kind != "model" or record.status != "ok":
        raise ConfigError(f"run {run_id} is a {record.kind} run with status {record.status}")
    if not store.weights_path(run_id).exists():
        raise ConfigError(f"run {run_id} has no stored weights ({store.weights_path(run_id)})")
    return store.verify_weights(run_id, record)


def load_model(store: RunStore, run_id: str, plan: RunPlan, device: torch.device) -> Module:
    """The model of ``plan`` on ``device`` with the run's stored weights.

    Raises:
        RecordError: If the weights do not fit the model (the plan and weights disagree).
    """
    model = build_model(plan, device)
    try:
        model.load_state_dict(store.load_weights(run_id))
    except RuntimeError as exc:  # shapes of another model
        raise RecordError(
            f"{store.weights_path(run_id)}: does not fit the model of "
            f"{store.spec_path(run_id)} ({str(exc).splitlines()[0]})"
        ) from None
    return model


def restore_spec(store: RunStore, run_id: str, record: RunRecord) -> RunPlan:
    """The run's ``spec.json``; if it was deleted, rebuilt from the record and the loaded
    task and baseline files (and written back) when they still give the record's run id.

    Raises:
        RecordError: If ``spec.json`` is unreadable, or missing and cannot be rebuilt.
    """
    path = store.spec_path(run_id)
    if path.exists():
        return store.load_spec(run_id)
    from frlbench.registry import BASELINES, FRL_VARIANTS, TASKS

    try:
        plan = RunSpec(
            task=TASKS.get(record.task),
            baseline=BASELINES.get(record.baseline),
            frl=FRL_VARIANTS.get(record.frl),
            seed=record.seed,
            profile=record.profile,
        ).resolve()
    except (UnknownNameError, ConfigError) as exc:
        raise RecordError(
            f"{path}: missing, and cannot be rebuilt from the record ({exc})"
        ) from None
    if plan.run_id != record.run_id:
        raise RecordError(
            f"{path}: missing, and the task/baseline files changed since the run (they now give "
            f"run id {plan.run_id}, the record says {record.run_id}); restore spec.json"
        )
    spec = dataclasses.asdict(plan.request())
    write_json_atomic(path, spec, root=store.out)  # this folder, not the id's
    return plan


def finished_model_runs(store: RunStore, run_ids: Sequence[str] | None = None) -> list[str]:
    """The run folders ``frlbench eval`` re-evaluates: ``run_ids`` (each checked), or every
    finished model run under the store (folder names, not the ids inside the records: a
    copied folder is its own run).

    Raises:
        UserError: If the store has no runs folder, a named run has no record, or nothing is
            left to evaluate.
    """
    if not store.runs_dir.is_dir():
        raise UserError(f"--out {store.out}: no runs directory {store.runs_dir}")
    if run_ids:
        for rid in run_ids:
            if not store.record_path(rid).is_file():
                raise UserError(f"--run-id {rid}: no record {store.record_path(rid)}")
        return list(run_ids)
    ids = [
        path.parent.name
        for path, rec in iter_records(store.runs_dir)
        if not isinstance(rec, Exception) and rec.kind == "model" and rec.status == "ok"
    ]
    if not ids:
        raise UserError(f"no finished model runs under {store.runs_dir}")
    return ids


def reevaluate_runs(
    store: RunStore,
    run_ids: Sequence[str],
    *,
    resolutions: Sequence[int] | None = None,
    rollout_steps: int | None = None,
    device: str = "auto",
    cache_dir: Path | None = None,
    warn: Callable[[str], None] | None = None,
) -> Iterator[tuple[str, RunRecord]]:
    """:func:`reevaluate` each run in turn, under its lock; yields each folder and its updated
    record. ``warn`` is told of each stale lock taken over.

    Raises:
        UserError: If another command holds a run's lock, or a run cannot be re-evaluated
            (the message starts with its id).
    """
    for rid in run_ids:
        with RunLock(store.run_dir(rid), store.out) as lock:
            if not lock.acquire():
                raise UserError(
                    f"run {rid}: another frlbench command holds {lock.path}; wait for it "
                    "(a lock of a process that has exited is taken over automatically)"
                )
            if lock.taken_over and warn is not None:
                warn(lock.taken_over)
            try:
                record = reevaluate(
                    store,
                    rid,
                    resolutions=resolutions,
                    rollout_steps=rollout_steps,
                    device=device,
                    cache_dir=cache_dir,
                )
            except (ConfigError, UnknownNameError, FileNotFoundError, RecordError) as exc:
                raise UserError(f"{rid}: {exc}") from None
        yield rid, record
