"""Executing one RunPlan and storing its outcome; what every backend runs in its worker.

Whatever happens inside training, a record is written: ``ok``, ``diverged`` (non-finite
loss) or ``failed`` (any exception, with its reason; the traceback goes to ``error.log``).
"""

from __future__ import annotations

import contextlib
import traceback
from pathlib import Path
from typing import Any

from frlbench.catalog import discover_plugins
from frlbench.errors import describe_failure
from frlbench.records import RunRecord, model_record
from frlbench.runner.store import RunStore
from frlbench.safeio import write_atomic
from frlbench.spec import RunPlan
from frlbench.train import ProgressFn, configure_threads, train_and_evaluate


def failed_record(plan: RunPlan, reason: str) -> RunRecord:
    """A ``failed`` record for ``plan`` carrying ``reason``."""
    return model_record(plan, status="failed", reason=reason)


def execute_run(
    plan: RunPlan,
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
    store.save_spec(plan)
    try:
        record, state = train_and_evaluate(
            plan, device=device, cache_dir=cache_dir, progress=progress
        )
    except Exception as exc:  # recorded, never fatal for the grid
        record, state = failed_record(plan, describe_failure(exc)), None
        log = store.run_dir(plan.run_id) / "error.log"
        with contextlib.suppress(OSError):  # a full disk: the record's reason says so
            write_atomic(log, traceback.format_exc(), root=store.out)
    try:
        store.save(record, state)
    except OSError as exc:  # e.g. the disk filled while writing the weights
        record = failed_record(plan, describe_failure(exc))
        store.save(record, None)  # if even this fails, the caller reports the OSError
    return record.to_dict()
