"""Re-evaluating stored runs at new resolutions or with new metrics, without retraining."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from frlbench.config import ConfigError, RunSpec
from frlbench.data import load_dataset
from frlbench.records import RecordError, RunRecord, write_json_atomic, write_record
from frlbench.registry import UnknownNameError
from frlbench.rollout import check_rollout
from frlbench.runner.store import RunStore
from frlbench.train import build_model, evaluate, resolve_device


def with_resolutions(spec: RunSpec, resolutions: Sequence[int]) -> RunSpec:
    """``spec`` whose task tests at ``resolutions`` (the training resolution is always kept).

    The reference resolution is raised if a new resolution exceeds it, which regenerates the
    ground truth at that finer grid.
    """
    sizes = spec.task.profile(spec.profile)
    res = tuple(sorted({*resolutions, sizes.train_resolution}))
    new_sizes = dataclasses.replace(
        sizes,
        test_resolutions=res,
        reference_resolution=max(sizes.reference_resolution, res[-1]),
    )
    task = dataclasses.replace(spec.task, profiles={**spec.task.profiles, spec.profile: new_sizes})
    return dataclasses.replace(spec, task=task)


def with_rollout(spec: RunSpec, steps: int) -> RunSpec:
    """``spec`` whose task profile evaluates an autoregressive rollout of ``steps`` steps."""
    sizes = dataclasses.replace(spec.task.profile(spec.profile), rollout_steps=steps)
    task = dataclasses.replace(spec.task, profiles={**spec.task.profiles, spec.profile: sizes})
    return dataclasses.replace(spec, task=task)


def reevaluate(
    store: RunStore,
    run_id: str,
    *,
    resolutions: Sequence[int] | None = None,
    rollout_steps: int | None = None,
    device: str = "auto",
    cache_dir: Path | None = None,
) -> RunRecord:
    """Load a finished run's weights, evaluate again, and store the updated record.

    ``resolutions`` and ``rollout_steps`` override the stored run's test resolutions and
    rollout length (``None``: as trained).

    Raises:
        ConfigError: If the run is not a finished model run with stored weights.
    """
    record = store.read(run_id)
    if record.kind != "model" or record.status != "ok":
        raise ConfigError(f"run {run_id} is a {record.kind} run with status {record.status}")
    if not store.weights_path(run_id).exists():
        raise ConfigError(f"run {run_id} has no stored weights ({store.weights_path(run_id)})")
    record = store.verify_weights(run_id, record)
    spec = restore_spec(store, run_id, record)
    if resolutions:
        spec = with_resolutions(spec, resolutions)
    if rollout_steps is not None:
        spec = with_rollout(spec, rollout_steps)
    dev = resolve_device(device)
    model = build_model(spec, dev)
    try:
        model.load_state_dict(store.load_weights(run_id))
    except RuntimeError as exc:  # shapes of another model: the spec and weights disagree
        raise RecordError(
            f"{store.weights_path(run_id)}: does not fit the model of "
            f"{store.spec_path(run_id)} ({str(exc).splitlines()[0]})"
        ) from None
    data = load_dataset(spec.task, spec.profile, cache_dir=cache_dir)
    try:
        check_rollout(spec.task, spec.profile, data)
    except ConfigError as exc:
        if rollout_steps is None:
            raise
        limit = str(exc).split(", but ", 1)[-1]
        raise ConfigError(f"--rollout-steps {rollout_steps}: {limit}") from None
    record.metrics, record.anchoring_slope = evaluate(model, data, spec, dev)
    record.env = {**record.env, "reevaluated_on": str(dev)}
    # Written into the folder that was read, whatever run id the record carries (a copied
    # run folder must never overwrite its original).
    write_record(store.record_path(run_id), record)
    return record


def restore_spec(store: RunStore, run_id: str, record: RunRecord) -> RunSpec:
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
        spec = RunSpec(
            task=TASKS.get(record.task),
            baseline=BASELINES.get(record.baseline),
            frl=FRL_VARIANTS.get(record.frl),
            seed=record.seed,
            profile=record.profile,
        )
    except (UnknownNameError, ConfigError) as exc:
        raise RecordError(
            f"{path}: missing, and cannot be rebuilt from the record ({exc})"
        ) from None
    if spec.run_id != record.run_id:
        raise RecordError(
            f"{path}: missing, and the task/baseline files changed since the run (they now give "
            f"run id {spec.run_id}, the record says {record.run_id}); restore spec.json"
        )
    write_json_atomic(path, dataclasses.asdict(spec))  # this folder, not the id's
    return spec
