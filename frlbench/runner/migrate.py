"""``frlbench migrate``: adopt runs stored by the record-schema-1 versions of frlbench.

Schema 1 hashed a run's evaluation settings into its id (and a reference row's id hashed the
whole task profile). ``frlbench migrate --out DIR`` moves each such run to its current id,
weights untouched, and rewrites its record in the current schema. ``run``, ``eval`` and
``report`` refuse a store that still holds a schema-1 record (:func:`refuse_schema_1`), so this
adoption runs once, when asked, instead of on every spec of every ``run``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from frlbench.errors import UserError
from frlbench.records import write_record
from frlbench.registry import TASKS, UnknownNameError
from frlbench.runner.grid import expand_grid
from frlbench.runner.reference import REFERENCES, reference_run_id
from frlbench.runner.store import RunStore
from frlbench.spec import (
    ConfigError,
    ResolvedTask,
    RunPlan,
    content_hash,
    data_source_identity,
    resolve_task,
    task_fields,
)

LEGACY_SCHEMA = 1


@dataclass
class MigrateSummary:
    """Outcome of :func:`migrate_store`.

    Attributes:
        adopted: ``(old id, new id)`` of every run moved and rewritten.
        left: ``(folder, why)`` of every schema-1 run no current run id matches.
    """

    adopted: list[tuple[str, str]] = field(default_factory=list)
    left: list[tuple[str, str]] = field(default_factory=list)


def legacy_run_id(spec: RunPlan) -> str:
    """The id schema-1 records used for ``spec`` (evaluation settings hashed in, no versions)."""
    task = task_fields(spec.task.spec)
    task["profiles"] = {spec.profile: task["profiles"][spec.profile]}
    fingerprint = spec.fingerprint()
    source = data_source_identity(spec.task)
    if source is not None:  # real data never adopt a stand-in run stored under schema 1
        task["data_source_identity"] = source
    fingerprint["task"] = task
    fingerprint.pop("versions")
    digest = content_hash(fingerprint)
    return f"{spec.task.name}-{spec.baseline.name}-{spec.frl.name}-s{spec.seed}-{digest}"


def legacy_reference_run_id(task: ResolvedTask, name: str) -> str:
    """The id schema-1 reference rows used (the whole task profile hashed)."""
    profile = task.profile
    content = {"task": task_fields(task.spec), "profile": profile, "name": name}
    content["task"]["profiles"] = {profile: content["task"]["profiles"][profile]}
    source = data_source_identity(task)
    if source is not None:  # real data never adopt a stand-in row stored under schema 1
        content["task"]["data_source_identity"] = source
    return f"{task.name}-{name}-ref-{content_hash(content)}"


def schema_1_runs(out: Path) -> list[str]:
    """Folders under ``out/runs`` whose ``record.json`` is of schema 1, sorted.

    Unreadable records are left to the commands that read them (they name the file).
    """
    runs = RunStore(out).runs_dir
    found = []
    for path in sorted(runs.glob("*/record.json")) if runs.is_dir() else []:
        try:
            schema = json.loads(path.read_text()).get("schema")
        except (OSError, ValueError, AttributeError):
            continue
        if schema == LEGACY_SCHEMA:
            found.append(path.parent.name)
    return found


def refuse_schema_1(out: Path) -> None:
    """Stop a command on a store that still holds schema-1 records.

    Raises:
        UserError: Naming the store, how many runs are old and the command that adopts them.
    """
    if old := schema_1_runs(out):
        raise UserError(
            f"{RunStore(out).runs_dir} holds {len(old)} run(s) of record schema 1 "
            f"(e.g. {old[0]}); adopt them first with `frlbench migrate --out {out}`"
        )


def _candidates(data: dict) -> list[RunPlan]:
    """The current specs a schema-1 model record may be a run of (same names and seed)."""
    try:
        return expand_grid(
            profile=data["profile"],
            tasks=[data["task"]],
            baselines=[data["baseline"]],
            frl=[data["frl"]],
            seeds=[int(data["seed"])],
        )
    except (KeyError, TypeError, ValueError, UnknownNameError, ConfigError):
        return []


def _new_id(folder: str, data: dict) -> tuple[str | None, RunPlan | None]:
    """The current id of the schema-1 run in ``folder`` (and its spec, for model runs)."""
    if data.get("kind") in REFERENCES:
        try:
            task = resolve_task(TASKS.get(str(data.get("task"))), str(data.get("profile")))
            if legacy_reference_run_id(task, data["kind"]) == folder:
                return reference_run_id(task, data["kind"]), None
        except (KeyError, UnknownNameError, ConfigError):
            pass
        return None, None
    for spec in _candidates(data):
        if folder in (legacy_run_id(spec), spec.run_id):
            return spec.run_id, spec
    return None, None


def migrate_store(out: Path) -> MigrateSummary:
    """Move every schema-1 run under ``out/runs`` to its current id and rewrite its record.

    The tasks and baselines the runs used must be registered (load the catalog first). A
    model run whose evaluation settings were hashed into its old id gets them as its stored
    evaluation (they were its spec's). Weights are renamed, never rewritten.
    """
    from frlbench.evaluation.evaluate import EvalProtocol

    store = RunStore(out)
    summary = MigrateSummary()
    for folder in schema_1_runs(out):
        data = json.loads(store.record_path(folder).read_text())
        new, spec = _new_id(folder, data)
        if new is None:
            summary.left.append((folder, "no current task, baseline and seed give this id"))
            continue
        if new != folder and store.state(new) != "missing":
            summary.left.append((folder, f"its current id {new} is taken"))
            continue
        if new != folder:
            store.move(folder, new)  # renames keep the weights' mtime
        record = store.read(new)  # the record reader converts schema 1 to the current one
        record.run_id = new
        if new != folder:
            record.env = {**record.env, "legacy_run_id": folder}
        if spec is not None and record.status == "ok" and not record.evaluation:
            record.evaluation = EvalProtocol.of(spec.task, spec.evaluation).to_dict()
        write_record(store.record_path(new), record, root=store.out)
        if spec is not None:
            store.save_spec(spec)
        summary.adopted.append((folder, new))
    return summary
