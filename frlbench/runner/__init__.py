"""Running a grid of RunPlans: skip finished runs, build data once, dispatch to a backend.

A finished run whose stored evaluation differs from what its task profile now asks for (test
resolutions, n_test, rollout steps) is re-evaluated from its stored weights, never retrained:
those settings are not part of the run id. Runs stored by the record-schema-1 versions are
adopted once, by ``frlbench migrate`` (:mod:`frlbench.runner.migrate`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from frlbench.records import RunRecord
from frlbench.registry import BACKENDS
from frlbench.runner import distributed, local  # noqa: F401  (register backends)
from frlbench.runner.estimate import GridEstimate
from frlbench.runner.grid import expand_grid, expand_named_grid
from frlbench.runner.lock import RunLock
from frlbench.runner.progress import GridProgress
from frlbench.runner.store import RunStore
from frlbench.spec import RunPlan

__all__ = ["GridSummary", "RunStore", "expand_grid", "expand_named_grid", "run_grid"]


@dataclass
class GridSummary:
    """Outcome of :func:`run_grid`.

    Attributes:
        total: Runs in the grid.
        skipped: Runs already finished before this call (not redone).
        executed: Runs executed by this call.
        corrupt: Record files that were unreadable and whose runs were redone.
        records: Every record of the grid after this call.
        reevaluated: Finished runs re-evaluated from their weights because the evaluation
            settings changed (no retraining).
        busy: Runs left alone because another live ``frlbench run`` holds their lock.
        taken_over: One sentence per stale lock (its owner gone, or not a valid lock) that
            this call took over.
    """

    total: int
    skipped: int
    executed: int
    corrupt: list[str] = field(default_factory=list)
    records: list[RunRecord] = field(default_factory=list)
    reevaluated: int = 0
    busy: list[str] = field(default_factory=list)
    taken_over: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[RunRecord]:
        """Records that did not finish (``diverged`` or ``failed``; not ``not_applicable``)."""
        return [r for r in self.records if r.status in ("diverged", "failed")]


def plan(
    plans: Sequence[RunPlan],
    store: RunStore,
    locks: list[RunLock] | None = None,
    busy: list[str] | None = None,
) -> tuple[list[RunPlan], int, list[str]]:
    """Split ``plans`` into runs to execute and finished ones; move corrupt records aside.

    With ``locks``, each unfinished run is locked first (the lock is appended there, to be
    released by the caller); a run locked by another live command is listed in ``busy``.
    A finished run whose ``spec.json`` was deleted gets it back.
    """
    todo, skipped, corrupt = [], 0, []
    for plan in plans:
        if locks is not None:
            lock = RunLock(store.run_dir(plan.run_id), store.out)
            if not lock.acquire():
                if busy is not None:
                    busy.append(plan.run_id)
                continue
            locks.append(lock)
        state = store.state(plan.run_id)
        if state == "done":
            skipped += 1
            if not store.spec_path(plan.run_id).exists():
                store.save_spec(plan)
            continue
        if state == "corrupt":
            corrupt.append(str(store.quarantine(plan.run_id)))
        elif state == "failed":
            store.record_path(plan.run_id).unlink()
        todo.append(plan)
    return todo, skipped, corrupt


def prepare_data(plans: Sequence[RunPlan], cache_dir: Path | None, progress: bool) -> None:
    """Build (or find cached) every dataset the grid needs, once, before any run starts, and
    check that each holds the rollout its profile asks for (a clear error before any work)."""
    from frlbench.data import load_dataset
    from frlbench.evaluation.rollout import check_rollout

    seen = set()
    for plan in plans:
        key = (plan.task.name, plan.profile)
        if key not in seen:
            seen.add(key)
            data = load_dataset(plan.task, cache_dir=cache_dir, progress=progress)
            check_rollout(plan.task, data)


def run_grid(
    plans: Sequence[RunPlan],
    out: Path,
    *,
    backend: str = "local",
    jobs: int = 1,
    device: str = "auto",
    cache_dir: Path | None = None,
    plugins_dir: Path | None = None,
    show_progress: bool = True,
    references: bool = True,
    estimate: GridEstimate | None = None,
    **backend_options: Any,
) -> GridSummary:
    """Execute the unfinished runs of ``plans`` and return a summary of the whole grid.

    Args:
        plans: The grid.
        out: Results directory (records under ``out/runs``).
        backend: ``local``, ``ray`` or ``slurm``.
        jobs: Concurrent runs (local: processes; ray: CPUs of a local cluster).
        device: ``auto``, ``cpu`` or ``cuda``.
        cache_dir: Dataset cache directory.
        plugins_dir: Directory of ``*.py`` backbone plugins that workers import.
        show_progress: Show the live display.
        references: Also evaluate the persistence and solver rows of every task.
        estimate: The grid's estimate; the display's ETA scales its runs' estimates by the
            finished runs' actual over estimated times.
        **backend_options: Passed to the backend (``ray_address``, ``slurm_partition``, ...).
    """
    from frlbench.runner.migrate import refuse_schema_1

    execute = BACKENDS.get(backend)
    refuse_schema_1(out)
    store = RunStore(out)
    locks: list[RunLock] = []
    busy: list[str] = []
    try:
        todo, skipped, corrupt = plan(plans, store, locks, busy)
        if todo:
            prepare_data(todo, cache_dir, show_progress)
            expected = {r.run_id: r.seconds for r in estimate.todo} if estimate else {}
            if estimate is None or not estimate.measured:
                expected = {}
            display = GridProgress(len(todo), enabled=show_progress, expected=expected, jobs=jobs)
            with display:
                execute(
                    todo,
                    Path(out),
                    jobs=jobs,
                    device=device,
                    cache_dir=cache_dir,
                    plugins_dir=plugins_dir,
                    display=display,
                    **backend_options,
                )
        mine = [s for s in plans if s.run_id not in busy]
        reevaluated = reevaluate_changed(mine, store, device=device, cache_dir=cache_dir)
    finally:
        for lock in locks:
            lock.release()
    # A run another command holds may not have its record yet.
    records = [store.read(s.run_id) for s in plans if store.record_path(s.run_id).exists()]
    if references:
        records += run_references(plans, store, cache_dir)
    return GridSummary(
        len(plans),
        skipped,
        len(todo),
        corrupt,
        records,
        reevaluated=reevaluated,
        busy=busy,
        taken_over=[lock.taken_over for lock in locks if lock.taken_over],
    )


def reevaluate_changed(
    plans: Sequence[RunPlan], store: RunStore, *, device: str, cache_dir: Path | None
) -> int:
    """Re-evaluate, from stored weights, every finished run whose evaluation settings differ
    from its plan's; returns how many were re-evaluated."""
    from frlbench.runner.reeval import needs_evaluation, reevaluate

    count = 0
    for plan in plans:
        if store.state(plan.run_id) != "done":
            continue
        if needs_evaluation(store.read(plan.run_id), plan):
            reevaluate(store, plan.run_id, plan=plan, device=device, cache_dir=cache_dir)
            count += 1
    return count


def run_references(
    plans: Sequence[RunPlan], store: RunStore, cache_dir: Path | None
) -> list[RunRecord]:
    """Reference rows (persistence, solver, band oracle) for every (task, profile) of the grid,
    once each.

    A stored row evaluated under other settings than the task profile's is evaluated again
    (references have no weights: they are cheap); its old evaluation goes to the history.
    """
    from frlbench.evaluation.evaluate import same_settings
    from frlbench.runner.reference import (
        REFERENCES,
        reference_protocol,
        reference_run_id,
        run_reference,
    )

    records = []
    tasks = {(p.task.name, p.profile): p.task for p in plans}
    for _, task in sorted(tasks.items()):
        for name in REFERENCES:
            protocol = reference_protocol(name, task)
            run_id = reference_run_id(task, name)
            with RunLock(store.run_dir(run_id), store.out) as lock:
                if not lock.acquire():
                    continue  # another live command is computing it
                state = store.state(run_id)
                if state == "corrupt":
                    store.quarantine(run_id)
                old = store.read(run_id) if state == "done" else None
                # a row from before fingerprints is scored again to gain one (references are cheap)
                if (
                    old is None
                    or not same_settings(old.evaluation, protocol)
                    or (old.dataset_fingerprint is None)
                ):
                    record = run_reference(name, task, cache_dir=cache_dir)
                    if old is not None and old.metrics:
                        new_evaluation = (
                            record.evaluation,
                            record.metrics,
                            record.anchoring_slope,
                            record.dataset_fingerprint,
                        )
                        record.evaluation, record.metrics = old.evaluation, old.metrics
                        record.anchoring_slope = old.anchoring_slope
                        record.dataset_fingerprint = old.dataset_fingerprint
                        record.benchmark_version = old.benchmark_version
                        record.evaluation_history = old.evaluation_history
                        record.replace_evaluation(*new_evaluation)
                    store.save(record, None)
            records.append(store.read(run_id))
    return records
