"""Executing one RunSpec and storing its outcome; what every backend runs in its worker.

Whatever happens inside training, a record is written: ``ok``, ``diverged`` (non-finite
loss) or ``failed`` (any exception, with its reason; the traceback goes to ``error.log``).
"""

from __future__ import annotations

import dataclasses
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from frlbench.config import RunSpec
from frlbench.records import RunRecord
from frlbench.registry import discover_plugins
from frlbench.runner.store import RunStore
from frlbench.train import ProgressFn, configure_threads, train_and_evaluate


def failed_record(spec: RunSpec, reason: str) -> RunRecord:
    """A ``failed`` record for ``spec`` carrying ``reason``."""
    return RunRecord(
        run_id=spec.run_id,
        kind="model",
        task=spec.task.name,
        baseline=spec.baseline.name,
        backbone=spec.baseline.backbone,
        size=spec.settings.size,
        frl=spec.frl.name,
        seed=spec.seed,
        profile=spec.profile,
        status="failed",
        reason=reason,
        train_resolution=spec.task.profile(spec.profile).train_resolution,
        frl_config=dataclasses.asdict(spec.frl),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def execute_run(
    spec: RunSpec,
    out: Path,
    *,
    device: str = "auto",
    cache_dir: Path | None = None,
    jobs: int = 1,
    plugins_dir: Path | None = None,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Train, evaluate and store one run; return its record as plain data.

    Plain data (not the dataclass) crosses process boundaries cheaply for every backend.
    ``plugins_dir`` is imported first, so backbones from user files exist in fresh workers.
    """
    discover_plugins(plugins_dir)
    configure_threads(jobs)
    store = RunStore(out)
    store.save_spec(spec)
    try:
        record, state = train_and_evaluate(
            spec, device=device, cache_dir=cache_dir, progress=progress
        )
    except Exception as exc:  # recorded, never fatal for the grid
        record, state = failed_record(spec, f"{type(exc).__name__}: {exc}"), None
        log = store.run_dir(spec.run_id) / "error.log"
        log.write_text(traceback.format_exc())
    store.save(record, state)
    return record.to_dict()
