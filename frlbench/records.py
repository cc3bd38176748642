"""Run records: one JSON file per run, written atomically, read back with validation.

This module knows nothing of torch: reporting reads records through it and never trains.

Layout of a results directory::

    <out>/runs/<run-id>/record.json   the RunRecord
    <out>/runs/<run-id>/weights.pt    trained state dict (model runs only)
"""

from __future__ import annotations

import dataclasses
import json
import math
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from frlbench.safeio import write_atomic

if TYPE_CHECKING:
    from frlbench.spec import RunPlan

SCHEMA_VERSION = 2
Status = Literal["ok", "diverged", "failed", "not_applicable"]
STATUSES: tuple[str, ...] = typing.get_args(Status)
Kind = Literal["model", "reference"]


class RecordError(ValueError):
    """A record file is missing, truncated, corrupted or of an unknown schema."""


@dataclass
class ResolutionMetrics:
    """Metrics of one run at one test resolution (physical units unless stated).

    Attributes:
        resolution: Grid points per axis (lat-lon: longitudes).
        rmse: Root-mean-square error (latitude-weighted on lat-lon grids).
        rel_l2: Relative L2 error ||pred - truth|| / ||truth||, averaged over samples.
        rmse_ratio: ``rmse`` divided by the rmse at the training resolution.
        mse_seen: Squared error in modes with |k| ≤ training Nyquist (max-norm).
        mse_unseen: Squared error in modes above the training Nyquist; seen + unseen = rmse².
        acc: Anomaly correlation coefficient against climatology (weather tasks), else None.
        freq_k: Shell wavenumbers normalized by the training Nyquist.
        freq_response: Energy of prediction / energy of truth per shell.
        inference_s_per_sample: Wall time of one forward pass per sample (after warm-up).
        rollout_rmse: RMSE after each autoregressive step (empty when no rollout).
        rmse_per_trajectory: RMSE of each test trajectory over its pairs (physical units,
            latitude-weighted on lat-lon grids), in test trajectory order.
        freq_truth_energy: Energy of the truth per shell (same shells as ``freq_k``).
        mse_seen_per_trajectory: ``mse_seen`` of each test trajectory over its pairs, in test
            trajectory order (empty in records written before it existed).
        mse_unseen_per_trajectory: ``mse_unseen`` of each test trajectory; per trajectory
            seen + unseen = ``rmse_per_trajectory``² (Parseval).
        rho0_pad_rmse: RMSE of the ρ0-then-pad forecast at this grid: the model run at the
            training grid on the input coarsened to it, its forecast zero-padded spectrally
            (periodic) or interpolated bilinearly (lat-lon) to this grid (model runs; NaN for
            references and in records written before it existed).
        rho0_pad_rmse_per_trajectory: ``rho0_pad_rmse`` of each test trajectory.
        target_energy_above_nyquist: Fraction of the test targets' energy (spatial means
            removed) above the training Nyquist at this grid (band-oracle rows; else NaN).
        per_variable: Channel name -> {"rmse": .., "acc": ..} (acc on lat-lon grids only).
        extra: Any other registered metric (``frlbench.registry.METRICS``), by name; the CSV
            and report print these as columns without knowing them.
    """

    resolution: int
    rmse: float
    rel_l2: float
    rmse_ratio: float = float("nan")
    mse_seen: float = float("nan")
    mse_unseen: float = float("nan")
    acc: float | None = None
    freq_k: list[float] = field(default_factory=list)
    freq_response: list[float] = field(default_factory=list)
    inference_s_per_sample: float = float("nan")
    rollout_rmse: list[float] = field(default_factory=list)
    freq_truth_energy: list[float] = field(default_factory=list)
    rmse_per_trajectory: list[float] = field(default_factory=list)
    mse_seen_per_trajectory: list[float] = field(default_factory=list)
    mse_unseen_per_trajectory: list[float] = field(default_factory=list)
    rho0_pad_rmse: float = float("nan")
    rho0_pad_rmse_per_trajectory: list[float] = field(default_factory=list)
    target_energy_above_nyquist: float = float("nan")
    per_variable: dict[str, dict[str, float]] = field(default_factory=dict)
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class RunRecord:
    """Everything measured in one run; the unit the leaderboard is built from.

    Attributes:
        run_id: Deterministic id from the run's spec.
        kind: ``"model"`` (a trained backbone) or ``"reference"`` (persistence, solver).
        task: Task name.
        baseline: Baseline name (for reference rows: ``persistence`` or ``solver``).
        backbone: Registered backbone (reference rows: the reference name).
        size: Backbone size (tiny, small, base; reference rows: "").
        frl: FRL variant name (reference rows: ``"off"``).
        seed: Random seed.
        profile: Profile name.
        data_source: Where the run's data came from, in plain words
            (:attr:`frlbench.data.PairedDataset.data_source`; "" when the run failed before
            loading its data, and in records written before the field existed).
        status: ``ok``, ``diverged``, ``failed`` or ``not_applicable`` (a reference the task
            cannot have, e.g. no numerical solver).
        reason: Why a run diverged, failed or does not apply ("" when ok).
        train_resolution: ρ0.
        reference_resolution: Resolution the ground truth was generated at (the solver row is
            not scored there: it is the truth); ``None`` in records from before schema 2.
        metrics: Per test resolution, ascending.
        anchoring_slope: Slope of log RMSE against log resolution over the test resolutions.
        train_time_s: Wall time of training.
        time_per_step_s: Mean wall time of one optimiser step (after the first, warm-up step).
        steps: Optimiser steps taken.
        peak_memory_mb: CUDA max allocated, or peak resident memory of the run's process on CPU.
        params: Trainable parameter count.
        device: Device the run used.
        frl_config: The full FRL configuration.
        settings: The training settings used.
        history: Mean training loss over each validation interval (every 10 steps without
            validation).
        best_step: Optimizer step of the kept (best-validation) state; the last step when the
            run had no validation checks.
        val_rmse: Validation RMSE of the kept state (normalized units, training grid; NaN
            without validation checks).
        evaluation: The evaluation settings ``metrics`` were computed under (test resolutions,
            n_test, rollout_steps, ...); not part of the run id.
        evaluation_history: Earlier evaluations this one replaced, oldest first, each
            ``{"evaluation", "metrics", "anchoring_slope", "replaced"}``.
        env: Library versions, git commit, python, platform, host.
        created: ISO time the record was written.
        schema: Record schema version.
        weights_sha256: SHA-256 of the run's ``weights.pt`` ("" for runs without weights, and
            in records written before checksums existed, until the weights load cleanly).
        compiled: Whether training and evaluation ran ``torch.compile``d steps
            (:mod:`frlbench.compiled`); recorded, not part of the run id. False in records
            written before the option existed.
        selection: How the run's settings were chosen: ``"rho0"`` (validation RMSE at the
            training grid; records written before the field existed) or ``"hop"`` (the
            resolution-transfer validation, docs/frl_selection.md). Not part of the run id.
    """

    run_id: str
    kind: Kind
    task: str
    baseline: str
    backbone: str
    size: str
    frl: str
    seed: int
    profile: str
    status: Status
    reason: str = ""
    data_source: str = ""
    train_resolution: int = 0
    reference_resolution: int | None = None
    metrics: list[ResolutionMetrics] = field(default_factory=list)
    anchoring_slope: float = float("nan")
    train_time_s: float = 0.0
    time_per_step_s: float = float("nan")
    steps: int = 0
    peak_memory_mb: float = float("nan")
    params: int = 0
    device: str = "cpu"
    frl_config: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    history: list[float] = field(default_factory=list)
    best_step: int = 0
    val_rmse: float = float("nan")
    evaluation: dict[str, Any] = field(default_factory=dict)
    evaluation_history: list[dict[str, Any]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    created: str = ""
    schema: int = SCHEMA_VERSION
    weights_sha256: str = ""
    compiled: bool = False
    selection: str = "rho0"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (NaN stays NaN: Python's json writes and reads it)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """Rebuild a record, migrating older schemas; rejects unknown schemas and missing keys."""
        if data.get("schema") == 1:
            data = migrate_v1(data)
        if data.get("schema") != SCHEMA_VERSION:
            raise RecordError(f"schema {data.get('schema')!r}, expected {SCHEMA_VERSION}")
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [
            f.name for f in dataclasses.fields(cls) if f.name not in data and f.name not in OPTIONAL
        ]
        unknown = sorted(set(data) - names)
        if missing or unknown:
            raise RecordError(f"missing keys {missing}, unknown keys {unknown}")
        data = dict(data)
        if not isinstance(data["metrics"], list) or not all(
            isinstance(m, dict) for m in data["metrics"]
        ):
            raise RecordError("key 'metrics': expected a list of tables")
        data["metrics"] = [ResolutionMetrics(**m) for m in data["metrics"]]
        record = cls(**data)
        check_types(record)
        for i, m in enumerate(record.metrics):
            check_types(m, f"metrics[{i}].")
        return record

    def mark_non_finite(self) -> bool:
        """Set status ``diverged`` if the forecast held NaN or inf at some test grid (its RMSE
        or a rollout step's is not finite); the reason names the grids. Returns whether it did.
        """
        grids = [
            m.resolution
            for m in self.metrics
            if not math.isfinite(m.rmse) or not all(math.isfinite(x) for x in m.rollout_rmse)
        ]
        if self.status != "ok" or not grids:
            return False
        self.status = "diverged"
        self.reason = f"non-finite forecast (NaN or inf) at test grid {', '.join(map(str, grids))}"
        return True

    def metric(self, resolution: int) -> ResolutionMetrics | None:
        """Metrics at ``resolution``, if evaluated."""
        return next((m for m in self.metrics if m.resolution == resolution), None)

    def replace_evaluation(
        self, evaluation: dict[str, Any], metrics: list[ResolutionMetrics], slope: float
    ) -> None:
        """Install a new evaluation; the current one (if any) moves to ``evaluation_history``."""
        if self.metrics or self.evaluation:
            self.evaluation_history.append(
                {
                    "evaluation": self.evaluation,
                    "metrics": [dataclasses.asdict(m) for m in self.metrics],
                    "anchoring_slope": self.anchoring_slope,
                    "replaced": now(),
                }
            )
        self.evaluation = dict(evaluation)
        self.metrics = list(metrics)
        self.anchoring_slope = slope


def now() -> str:
    """The current UTC time, ISO format, to the second (the ``created`` stamp of records)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_record(
    *,
    run_id: str,
    kind: Kind,
    task: str,
    baseline: str,
    profile: str,
    backbone: str = "",
    size: str = "",
    frl: str = "off",
    seed: int = 0,
    status: Status = "ok",
    reason: str = "",
    **fields: Any,
) -> RunRecord:
    """The one way records are made (training, failures, reference rows).

    Args:
        run_id: The run's id.
        kind: ``model`` or ``reference``.
        task: Task name.
        baseline: Baseline name (reference rows: the reference's name).
        profile: Profile name.
        backbone: Registered backbone (default: ``baseline``).
        size: Backbone size ("" for reference rows).
        frl: FRL variant name.
        seed: Seed.
        status: One of :data:`STATUSES`.
        reason: Required unless ``status`` is ``ok``.
        **fields: Any other :class:`RunRecord` field.

    Raises:
        ValueError: For an unknown status or a missing reason.
    """
    if status not in STATUSES:
        raise ValueError(f"status {status!r}; valid: {', '.join(STATUSES)}")
    if status != "ok" and not reason:
        raise ValueError(f"a record with status {status!r} needs a reason")
    fields.setdefault("created", now())
    return RunRecord(
        run_id=run_id,
        kind=kind,
        task=task,
        baseline=baseline,
        backbone=backbone or baseline,
        size=size,
        frl=frl,
        seed=seed,
        profile=profile,
        status=status,
        reason=reason,
        **fields,
    )


def model_record(
    plan: RunPlan, status: Status = "ok", reason: str = "", **fields: Any
) -> RunRecord:
    """:func:`new_record` for a training run, its identity fields taken from ``plan``."""
    fields.setdefault("train_resolution", plan.task.train_resolution)
    fields.setdefault("reference_resolution", plan.task.reference_resolution)
    fields.setdefault("frl_config", dataclasses.asdict(plan.frl))
    fields.setdefault("selection", plan.selection)
    return new_record(
        run_id=plan.run_id,
        kind="model",
        task=plan.task.name,
        baseline=plan.baseline.name,
        backbone=plan.baseline.backbone,
        size=plan.size,
        frl=plan.frl.name,
        seed=plan.seed,
        profile=plan.profile,
        status=status,
        reason=reason,
        **fields,
    )


def migrate_v1(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 -> 2: new fields get defaults, and a reference row that was ``failed`` with a
    reason starting "n/a:" becomes ``not_applicable`` with the rest of the reason."""
    data = dict(data)
    reason = str(data.get("reason", ""))
    if data.get("status") == "failed" and reason.strip().lower().startswith("n/a"):
        data["status"] = "not_applicable"
        data["reason"] = reason.strip()[3:].lstrip(": ").strip() or "not applicable"
    data.setdefault("reference_resolution", None)
    data.setdefault("evaluation", {})
    data.setdefault("evaluation_history", [])
    data["schema"] = SCHEMA_VERSION
    return data


#: Keys a record may lack (written before they existed); their defaults apply.
OPTIONAL = frozenset({"weights_sha256", "data_source", "compiled", "selection"})

_NUMBER = (int, float)
_CHECKS: dict[str, Any] = {
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, _NUMBER) and not isinstance(v, bool),
    "float | None": lambda v: v is None or (isinstance(v, _NUMBER) and not isinstance(v, bool)),
    "list[float]": lambda v: (
        isinstance(v, list) and all(isinstance(x, _NUMBER) and not isinstance(x, bool) for x in v)
    ),
    "dict[str, str]": lambda v: isinstance(v, dict),
    "dict[str, Any]": lambda v: isinstance(v, dict),
}


def check_types(obj: Any, prefix: str = "") -> None:
    """Check the plain-typed fields of a record dataclass (str, int, float, lists of floats).

    Raises:
        RecordError: Naming the key, its value and the expected type.
    """
    for f in dataclasses.fields(obj):
        check = _CHECKS.get(str(f.type))
        value = getattr(obj, f.name)
        if check is not None and not check(value):
            raise RecordError(f"key '{prefix}{f.name}': got {value!r}; expected {f.type}")


def write_json_atomic(path: Path, data: dict[str, Any], *, root: Path | None = None) -> None:
    """Write JSON to ``path`` through :func:`frlbench.safeio.write_atomic`: never half-written,
    never through a symlink below ``root``."""
    write_atomic(path, json.dumps(data, indent=1, sort_keys=True), root=root, durable=True)


def write_record(path: Path, record: RunRecord, *, root: Path | None = None) -> None:
    """Write one record atomically (inside ``root``)."""
    write_json_atomic(path, record.to_dict(), root=root)


def read_record(path: Path) -> RunRecord:
    """Read and validate one record.

    Raises:
        RecordError: Naming the file, if it cannot be parsed or does not match the schema.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict):
            raise RecordError(f"expected a JSON object, got a {type(data).__name__}")
        return RunRecord.from_dict(data)
    except FileNotFoundError:
        raise RecordError(f"{path}: no such record") from None
    except IsADirectoryError:
        raise RecordError(f"{path}: is a directory, expected a record file") from None
    except UnicodeDecodeError:
        raise RecordError(f"{path}: unreadable record (not UTF-8 text)") from None
    except (json.JSONDecodeError, RecordError, TypeError, KeyError) as exc:
        raise RecordError(f"{path}: unreadable record ({exc})") from None


def iter_records(runs_dir: Path) -> Iterator[tuple[Path, RunRecord | RecordError]]:
    """Yield ``(path, record or error)`` for every ``<runs_dir>/*/record.json``.

    A run folder or record that is a symlink is not followed: local runs are read only inside
    ``runs_dir``; it yields an error naming the link.
    """
    for path in sorted(Path(runs_dir).glob("*/record.json")):
        link = next((p for p in (path.parent, path) if p.is_symlink()), None)
        if link is not None:
            yield path, RecordError(f"{link}: is a symlink; runs are read only inside {runs_dir}")
            continue
        try:
            yield path, read_record(path)
        except RecordError as exc:
            yield path, exc


def load_records(runs_dir: Path) -> tuple[list[RunRecord], list[RecordError]]:
    """All readable records under ``runs_dir`` and the errors of unreadable ones."""
    good: list[RunRecord] = []
    bad: list[RecordError] = []
    for _, item in iter_records(runs_dir):
        (bad if isinstance(item, RecordError) else good).append(item)  # type: ignore[arg-type]
    return good, bad


#: Per-trajectory lists of :class:`ResolutionMetrics`, left out of the long-form rows.
PER_TRAJECTORY = (
    "rmse_per_trajectory",
    "mse_seen_per_trajectory",
    "mse_unseen_per_trajectory",
    "rho0_pad_rmse_per_trajectory",
)


def records_to_rows(records: list[RunRecord]) -> list[dict[str, Any]]:
    """Long-form rows, one per (run, resolution), for pandas before any table or plot."""
    rows = []
    for rec in records:
        base = {
            "run_id": rec.run_id,
            "kind": rec.kind,
            "task": rec.task,
            "baseline": rec.baseline,
            "backbone": rec.backbone,
            "size": rec.size,
            "frl": rec.frl,
            "seed": rec.seed,
            "profile": rec.profile,
            "data_source": rec.data_source,
            "status": rec.status,
            "train_resolution": rec.train_resolution,
            "anchoring_slope": rec.anchoring_slope,
            "train_time_s": rec.train_time_s,
            "time_per_step_s": rec.time_per_step_s,
            "peak_memory_mb": rec.peak_memory_mb,
            "params": rec.params,
            "device": rec.device,
        }
        if not rec.metrics:
            rows.append({**base, "resolution": None})
        for m in rec.metrics:
            row = {**base, **dataclasses.asdict(m)}
            row.pop("freq_k")
            row.pop("freq_response")
            row.pop("freq_truth_energy")
            row.pop("rollout_rmse")
            for name in PER_TRAJECTORY:
                row.pop(name)
            per_variable = row.pop("per_variable")
            extra = row.pop("extra")
            for variable, values in per_variable.items():
                for name, value in values.items():
                    row[f"{name}[{variable}]"] = value
            row.update(extra)
            rows.append(row)
    return rows
