"""Re-evaluating stored runs under new evaluation settings, from their weights, no retraining.

``frlbench eval`` and ``frlbench run`` (when a finished run's stored evaluation differs from
what its task profile now asks for) both end here; the new evaluation replaces the record's
current one, which moves to ``record.evaluation_history``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from frlbench.config import ConfigError, RunSpec
from frlbench.data import load_dataset
from frlbench.evaluate import EvalProtocol, ModelForecaster, evaluate
from frlbench.records import RunRecord
from frlbench.rollout import check_rollout
from frlbench.runner.store import RunStore
from frlbench.train import build_model, resolve_device


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


def needs_evaluation(record: RunRecord, spec: RunSpec) -> bool:
    """True when a finished model run was evaluated under other settings than ``spec``'s."""
    if record.kind != "model" or record.status != "ok":
        return False
    return record.evaluation != EvalProtocol.from_task(spec.task, spec.profile).to_dict()


def reevaluate(
    store: RunStore,
    run_id: str,
    *,
    spec: RunSpec | None = None,
    resolutions: Sequence[int] | None = None,
    rollout_steps: int | None = None,
    device: str = "auto",
    cache_dir: Path | None = None,
) -> RunRecord:
    """Load a finished run's weights, evaluate again, and store the updated record.

    Args:
        store: The results store.
        run_id: The run.
        spec: The run's spec with the evaluation settings to use (default: the stored one).
        resolutions: Override the test resolutions.
        rollout_steps: Override the rollout length.
        device: ``auto``, ``cpu`` or ``cuda``.
        cache_dir: Dataset cache directory.

    Raises:
        ConfigError: If the run is not a finished model run with stored weights, or ``spec``
            is another run's.
    """
    record = store.read(run_id)
    if record.kind != "model" or record.status != "ok":
        raise ConfigError(f"run {run_id} is a {record.kind} run with status {record.status}")
    if not store.weights_path(run_id).exists():
        raise ConfigError(f"run {run_id} has no stored weights ({store.weights_path(run_id)})")
    if spec is None:
        spec = store.load_spec(run_id)
    elif spec.run_id != run_id:
        raise ConfigError(f"spec of run {spec.run_id} given to re-evaluate run {run_id}")
    else:
        store.save_spec(spec)  # later `frlbench eval` calls start from these settings
    if resolutions:
        spec = with_resolutions(spec, resolutions)
    if rollout_steps is not None:
        spec = with_rollout(spec, rollout_steps)
    dev = resolve_device(device)
    model = build_model(spec, dev)
    model.load_state_dict(store.load_weights(run_id))
    data = load_dataset(spec.task, spec.profile, cache_dir=cache_dir, progress=False)
    check_rollout(spec.task, spec.profile, data)
    protocol = EvalProtocol.from_task(spec.task, spec.profile)
    evaluation = evaluate(ModelForecaster(model, dev), data, protocol)
    record.replace_evaluation(protocol.to_dict(), evaluation.metrics, evaluation.anchoring_slope)
    record.env = {**record.env, "reevaluated_on": str(dev)}
    store.save(record, None)
    return record
