"""``frlbench audit``: stored runs re-evaluated under every truth construction and normalization.

Nothing is retrained and no record is changed: each finished model run's weights are loaded
(as ``frlbench eval`` does) and scored by :func:`frlbench.evaluation.evaluate.evaluate` — the
evaluation layer training uses — under each protocol of :mod:`frlbench.evaluation.truth`, over
rollout lengths 1 to K. Persistence and the task's solver are audited too (the solver only where
it applies; both work in physical units, so normalization does not apply to them). The
diagnostics that explain the differences (energy above the training Nyquist, energy aliased by
subsampling) are computed from the reference test fields.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from frlbench.data import PairedDataset, load_dataset
from frlbench.data.cache import dataset_key
from frlbench.errors import UserError
from frlbench.evaluation import truth as protocols
from frlbench.evaluation.audit_result import (
    PHYSICAL,
    AuditResult,
    AuditRow,
    Diagnostic,
    Skipped,
)
from frlbench.evaluation.evaluate import (
    EvalProtocol,
    Evaluation,
    Forecaster,
    ModelForecaster,
    NotApplicable,
    evaluate,
)
from frlbench.evaluation.oracle import BAND_ORACLE
from frlbench.evaluation.rollout import check_rollout
from frlbench.records import RecordError, RunRecord, iter_records
from frlbench.registry import (
    BACKBONES,
    BASELINES,
    FRL_VARIANTS,
    TASKS,
    Registry,
    UnknownNameError,
)
from frlbench.runner.reeval import check_weights, load_model, restore_spec
from frlbench.runner.reference import reference_forecaster, reference_run_id
from frlbench.runner.store import RunStore
from frlbench.spec import ConfigError, ResolvedTask, RunPlan, resolve_task
from frlbench.train import resolve_device


@dataclass
class _Job:
    """One stored run to audit: its plan (models) or task at its profile (references)."""

    record: RunRecord
    folder: str
    task: ResolvedTask
    plan: RunPlan | None = None


def check_protocols(names: Sequence[str] | None) -> tuple[str, ...]:
    """The truth constructions to audit (every one when ``names`` is empty).

    Raises:
        ValueError: For an unknown name, listing the valid ones.
    """
    valid = protocols.all_truths()
    if not names:
        return valid
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ValueError(f"--protocols: unknown {', '.join(unknown)}; valid: {', '.join(valid)}")
    return tuple(dict.fromkeys(names))


def _label(record: RunRecord) -> str:
    if record.kind == "reference":
        return f"{record.task}/{record.baseline} (reference)"
    return f"{record.task}/{record.baseline}/frl={record.frl}/seed={record.seed}"


def _selected(
    record: RunRecord, tasks: Sequence[str], backbones: Sequence[str], frl: Sequence[str] = ()
) -> bool:
    def matches(values: Sequence[str], patterns: Sequence[str]) -> bool:
        return not patterns or any(fnmatch.fnmatch(v, p) for v in values for p in patterns)

    names = [record.baseline, record.backbone]
    return matches([record.task], tasks) and (
        record.kind == "reference" or (matches(names, backbones) and matches([record.frl], frl))
    )


def collect_jobs(
    store: RunStore,
    tasks: Sequence[str] = (),
    backbones: Sequence[str] = (),
    frl: Sequence[str] = (),
) -> tuple[list[_Job], list[Skipped]]:
    """Stored runs to audit, and those that cannot be (no weights, not finished, unreadable)."""
    jobs, skipped = [], []
    for path, record in iter_records(store.runs_dir):
        folder = path.parent.name
        if isinstance(record, RecordError):
            skipped.append(Skipped(folder, folder, f"unreadable record: {record}"))
            continue
        if not _selected(record, tasks, backbones, frl) or record.baseline == BAND_ORACLE:
            continue  # the band oracle forecasts only the stored pairs: no protocol to vary
        label = _label(record)
        if record.status != "ok":
            skipped.append(Skipped(folder, label, f"status {record.status} {record.reason}"))
            continue
        try:
            if record.kind == "reference":
                task = resolve_task(TASKS.get(record.task), record.profile)
                if reference_run_id(task, record.baseline) != folder:
                    raise ConfigError("the task file changed since this reference row was scored")
                jobs.append(_Job(record, folder, task))
            else:
                check_weights(store, folder, record)
                plan = restore_spec(store, folder, record)
                jobs.append(_Job(record, folder, plan.task, plan))
        except (ConfigError, RecordError, UnknownNameError) as exc:
            skipped.append(Skipped(folder, label, str(exc)))
    return jobs, skipped


def _rows(job: _Job, protocol: EvalProtocol, evaluation: Evaluation, norm: str) -> list[AuditRow]:
    """CSV rows of one evaluation: lead 1 (one step), then each rollout step."""
    rec = job.record
    base = protocol.ratio_resolution
    by_res = {m.resolution: m for m in evaluation.metrics}
    leads = max((len(m.rollout_rmse) for m in evaluation.metrics), default=0)
    rows = []
    for m in evaluation.metrics:
        values = [(1, m.rmse, m.rmse_ratio)]
        for j in range(1, leads):
            denominator = by_res[base].rollout_rmse[j]
            ratio = m.rollout_rmse[j] / denominator if denominator > 0 else math.nan
            values.append((j + 1, m.rollout_rmse[j], ratio))
        for lead, rmse, ratio in values:
            rows.append(
                AuditRow(
                    task=rec.task,
                    profile=rec.profile,
                    kind=rec.kind,
                    baseline=rec.baseline,
                    frl=rec.frl,
                    seed=rec.seed,
                    run_id=job.folder,
                    protocol=protocol.truth,
                    normalization=norm,
                    resolution=m.resolution,
                    lead=lead,
                    rmse=rmse,
                    rmse_ratio=ratio,
                    ratio_resolution=base,
                    trajectories=protocol.trajectories,
                )
            )
    return rows


def diagnostics(
    data: PairedDataset, protocol: EvalProtocol, truths: Sequence[str]
) -> list[Diagnostic]:
    """Energy above the training Nyquist of each protocol's targets at each of its grids, and
    the energy subsampling aliases into each power-of-two grid (from the reference targets)."""
    task, ref = protocol.task, protocol.reference_resolution
    test = data.splits["test"]
    keep = protocols.trajectory_subset(test, protocol.trajectories)
    reference = test.targets[ref][keep].double()
    out = []
    for truth in truths:
        p = dataclasses.replace(protocol, truth=truth)
        views = protocols.protocol_views(
            data,
            task,
            truth=truth,
            normalization="train",
            resolutions=p.resolutions,
            reference_resolution=ref,
            n_trajectories=protocol.trajectories,
        )
        for r, view in views.items():
            targets = view.splits["test"].targets[r]
            aliased = math.nan
            if truth == "subsample" and r < ref:
                aliased = protocols.aliased_energy(reference, task, r, ref)
            above = protocols.energy_above_nyquist(targets, task, protocol.train_resolution)
            out.append(
                Diagnostic(
                    data.task, data.profile, truth, r, protocol.train_resolution, above, aliased
                )
            )
    return out


def _evaluations(job: _Job, truths: Sequence[str]) -> Iterator[tuple[str, str]]:
    """(truth, normalization) pairs to score a job under, the truths of one normalization in a
    row (they share the reference-grid states: :class:`MemoForecaster`)."""
    norms = protocols.NORMALIZATIONS if job.plan is not None else (PHYSICAL,)
    for norm in norms:
        for truth in protocols.truths_for(job.task):
            if truth in truths:
                yield truth, norm


def check_trajectories(trajectories: int, task: ResolvedTask, data: PairedDataset) -> None:
    """``--trajectories`` must not ask for more test trajectories than the data hold.

    Raises:
        ConfigError: Naming the option, the task and the valid range.
    """
    test = data.splits["test"]
    count = len(dict.fromkeys(test.sample_seeds or range(len(test))))
    if trajectories > count:
        raise ConfigError(
            f"--trajectories {trajectories}: task {task.name} ({task.profile} profile) has "
            f"{count} test trajectories; valid: 0 (all) to {count}"
        )


def run_audit(
    store: RunStore,
    *,
    tasks: Sequence[str] = (),
    backbones: Sequence[str] = (),
    frl: Sequence[str] = (),
    truths: Sequence[str] | None = None,
    max_rollout: int | None = None,
    trajectories: int = 0,
    device: str = "auto",
    cache_dir: Path | None = None,
    progress: bool = True,
    console: Console | None = None,
) -> AuditResult:
    """Audit every selected stored run (see the module docstring).

    Args:
        store: The results store.
        tasks: Task name patterns (default: all).
        backbones: Baseline or backbone name patterns (default: all; references always).
        frl: FRL variant patterns of model runs (default: all; references always).
        truths: Truth constructions (default: every one that applies to each task).
        max_rollout: Longest rollout K scored (default: each task profile's rollout length).
        trajectories: Score only the first this many test trajectories (0: all).
        device: ``auto``, ``cpu`` or ``cuda``.
        cache_dir: Dataset cache directory.
        progress: Show a progress bar.
        console: Where the bar is drawn.

    Raises:
        ValueError: For an unknown truth construction.
        ConfigError: If ``max_rollout`` exceeds what a task's test data hold.
    """
    start = time.perf_counter()
    result = AuditResult(protocols=check_protocols(truths), trajectories=trajectories)
    jobs, result.skipped = collect_jobs(store, tasks, backbones, frl)
    total = sum(len(list(_evaluations(j, result.protocols))) for j in jobs)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not progress,
    )
    with bar:
        bar_task = bar.add_task("audit", total=total)
        dev = resolve_device(device)
        session = _Session(store, dev, result, max_rollout, trajectories, cache_dir, bar, bar_task)
        for job in jobs:
            _audit_job(session, job)
    result.wall_s = time.perf_counter() - start
    return result


@dataclass
class _Session:
    """What one audit shares across its runs: settings, results, loaded data, the bar."""

    store: RunStore
    device: torch.device
    result: AuditResult
    max_rollout: int | None
    trajectories: int
    cache_dir: Path | None
    bar: Progress
    bar_task: TaskID
    datasets: dict[tuple[str, str, str], PairedDataset] = field(default_factory=dict)
    diagnosed: set[tuple[str, str, str]] = field(default_factory=set)


def _job_setup(session: _Session, job: _Job) -> tuple[PairedDataset, int, EvalProtocol]:
    """The test data of ``job``'s task (loaded once per dataset), its rollout length K and
    the base protocol its evaluations vary; records the task's diagnostics once.

    Raises:
        ConfigError: If K exceeds what the task's test data hold.
    """
    result = session.result
    key = (job.task.name, job.task.profile, dataset_key(job.task))
    steps = job.task.sizes.rollout_steps
    if session.max_rollout is not None:
        steps = session.max_rollout
    if key not in session.datasets:
        session.datasets[key] = load_dataset(job.task, cache_dir=session.cache_dir, progress=False)
    data = session.datasets[key]
    task = job.task.with_sizes(rollout_steps=steps)
    try:
        check_rollout(task, data)
    except ConfigError as exc:
        limit = str(exc).split(", but ", 1)[-1]
        raise ConfigError(f"--max-rollout {steps} for task {task.name}: {limit}") from None
    result.max_rollout[task.name] = steps
    check_trajectories(session.trajectories, task, data)
    # Lead 1 is the one-step score; a rollout is only needed for leads 2..K.
    base = dataclasses.replace(
        EvalProtocol.from_task(task),
        trajectories=session.trajectories,
        rollout_steps=steps if steps > 1 else 0,
    )
    if key not in session.diagnosed:
        session.diagnosed.add(key)
        present = [t for t in protocols.truths_for(task) if t in result.protocols]
        result.diagnostics += diagnostics(data, base, present)
    return data, steps, base


def _audit_job(session: _Session, job: _Job) -> None:
    """Score one stored run under every protocol and normalization that applies to it."""
    rec, result, bar = job.record, session.result, session.bar
    data, steps, base = _job_setup(session, job)
    try:
        forecaster = _forecaster(
            job, session.store, session.device, base.reference_resolution, steps
        )
    except (RecordError, NotApplicable) as exc:  # weights that do not fit the spec
        result.skipped.append(Skipped(job.folder, _label(rec), str(exc)))
        bar.advance(session.bar_task, len(list(_evaluations(job, result.protocols))))
        return
    for truth, norm in _evaluations(job, result.protocols):
        bar.update(session.bar_task, description=f"{_label(rec)} {truth}/{norm}")
        protocol = dataclasses.replace(
            base, truth=truth, normalization="train" if norm == PHYSICAL else norm
        )
        try:
            evaluation = evaluate(forecaster, data, protocol)
        except (NotApplicable, RuntimeError, ValueError) as exc:  # e.g. a model on 17³
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            result.not_applicable.append(
                Skipped(job.folder, f"{_label(rec)} {truth}/{norm}", reason)
            )
        else:
            result.rows += _rows(job, protocol, evaluation, norm)
        bar.advance(session.bar_task)


def _patterns(names: Sequence[str] | None, option: str, *registries: Registry) -> list[str]:
    """Name patterns of an ``audit`` option; a plain name (no ``*?[``) must be registered, so a
    typo names the valid choices instead of matching nothing (or only the reference rows).

    Raises:
        UserError: Naming the option and the valid names.
    """
    for name in names or []:
        if any(c in name for c in "*?[") or any(name in r.list() for r in registries):
            continue
        try:
            registries[0].get(name)
        except UnknownNameError as exc:
            raise UserError(f"{option}: {exc}") from None
    return list(names or [])


def audit_store(
    store: RunStore,
    *,
    tasks: Sequence[str] | None = None,
    backbones: Sequence[str] | None = None,
    frl: Sequence[str] | None = None,
    **options: Any,
) -> AuditResult:
    """``frlbench audit``: check the request, then :func:`run_audit` (same arguments).

    Raises:
        UserError: If the store has no runs folder, a plain task, baseline or FRL variant name
            is not registered (the message lists the valid ones), or no stored run matches.
    """
    if not store.runs_dir.is_dir():
        raise UserError(f"--out {store.out}: no runs directory {store.runs_dir}")
    result = run_audit(
        store,
        tasks=_patterns(tasks, "--task", TASKS),
        backbones=_patterns(backbones, "--backbone", BASELINES, BACKBONES),
        frl=_patterns(frl, "--frl", FRL_VARIANTS),
        **options,
    )
    if not (result.rows or result.skipped or result.not_applicable):
        raise UserError(f"no stored run under {store.runs_dir} matches --task/--backbone/--frl")
    return result


def _forecaster(
    job: _Job, store: RunStore, device: torch.device, reference_resolution: int, steps: int
) -> Forecaster:
    """The reference forecaster of ``job``, or its trained model (weights loaded) remembering
    its reference-grid forecasts of one evaluation and its rollout (:class:`MemoForecaster`;
    references need none: persistence is free and the solver is not scored on that grid)."""
    if job.plan is None:
        return reference_forecaster(job.record.baseline, job.task)
    model = load_model(store, job.folder, job.plan, device)
    inner = ModelForecaster(model, device, name=_label(job.record))
    return MemoForecaster(inner, reference_resolution, capacity=steps + 2)


class MemoForecaster:
    """A forecaster that returns its earlier forecast for states it has already advanced.

    On the reference grid every truth construction but ``paper-grid`` leaves the fields as
    they are, so the audit feeds one run the same reference-grid states under ``truncation``,
    ``subsample`` and ``box`` (``conservative``, ``bilinear`` and ``subsample`` on lat-lon):
    the largest forward passes of the audit, which this wrapper makes once. States are matched
    by grid and a hash of their bytes; the last ``capacity`` forecasts are kept. A sampling
    forecaster then gives equal states one shared sample (common random numbers across the
    protocols), as a deterministic one gives the same numbers.

    Args:
        inner: The forecaster.
        resolution: The grid whose forecasts are remembered (the reference grid: coarser grids
            differ between constructions, so remembering them would only cost memory).
        capacity: Forecasts kept, oldest dropped first: one evaluation makes a one-sample
            warm-up, the one-step forecast and one per rollout step.

    Attributes:
        hits: Forecasts answered from memory.
    """

    def __init__(self, inner: Forecaster, resolution: int, capacity: int = 2) -> None:
        self.inner = inner
        self.name = inner.name
        self.units = inner.units
        self.exact_at_reference = inner.exact_at_reference
        self.resolution = resolution
        self.capacity = capacity
        self.hits = 0
        self._memory: dict[tuple, torch.Tensor] = {}

    def forecast(self, states: torch.Tensor, resolution: int) -> torch.Tensor:
        if resolution != self.resolution:
            return self.inner.forecast(states, resolution)
        data = states.detach().cpu().contiguous()
        digest = hashlib.blake2b(data.numpy().data, digest_size=16).hexdigest()
        key = (resolution, tuple(data.shape), str(data.dtype), digest)
        if key in self._memory:
            self.hits += 1
            return self._memory[key].clone()
        out = self.inner.forecast(states, resolution)
        self._memory[key] = out.clone()
        while len(self._memory) > self.capacity:
            self._memory.pop(next(iter(self._memory)))
        return out
