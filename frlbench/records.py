"""Run records: one JSON file per run, written atomically, read back with validation.

This module knows nothing of torch: reporting reads records through it and never trains.

Layout of a results directory::

    <out>/runs/<run-id>/record.json   the RunRecord
    <out>/runs/<run-id>/weights.pt    trained state dict (model runs only)
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

SCHEMA_VERSION = 1
Status = Literal["ok", "diverged", "failed"]
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
        status: ``ok``, ``diverged`` or ``failed``.
        reason: Why a run diverged or failed ("" when ok).
        train_resolution: ρ0.
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
        env: Library versions, git commit, python, platform, host.
        created: ISO time the record was written.
        schema: Record schema version.
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
    train_resolution: int = 0
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
    env: dict[str, str] = field(default_factory=dict)
    created: str = ""
    schema: int = SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (NaN stays NaN: Python's json writes and reads it)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        """Rebuild a record, rejecting unknown schemas and missing keys."""
        if data.get("schema") != SCHEMA_VERSION:
            raise RecordError(f"schema {data.get('schema')!r}, expected {SCHEMA_VERSION}")
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in data]
        unknown = sorted(set(data) - names)
        if missing or unknown:
            raise RecordError(f"missing keys {missing}, unknown keys {unknown}")
        data = dict(data)
        data["metrics"] = [ResolutionMetrics(**m) for m in data["metrics"]]
        return cls(**data)

    def metric(self, resolution: int) -> ResolutionMetrics | None:
        """Metrics at ``resolution``, if evaluated."""
        return next((m for m in self.metrics if m.resolution == resolution), None)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write JSON to ``path`` through a temporary file and a rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_record(path: Path, record: RunRecord) -> None:
    """Write one record atomically."""
    write_json_atomic(path, record.to_dict())


def read_record(path: Path) -> RunRecord:
    """Read and validate one record.

    Raises:
        RecordError: Naming the file, if it cannot be parsed or does not match the schema.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
        return RunRecord.from_dict(data)
    except FileNotFoundError:
        raise RecordError(f"{path}: no such record") from None
    except (json.JSONDecodeError, RecordError, TypeError, KeyError) as exc:
        raise RecordError(f"{path}: unreadable record ({exc})") from None


def iter_records(runs_dir: Path) -> Iterator[tuple[Path, RunRecord | RecordError]]:
    """Yield ``(path, record or error)`` for every ``<runs_dir>/*/record.json``."""
    for path in sorted(Path(runs_dir).glob("*/record.json")):
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
            row.pop("rollout_rmse")
            rows.append(row)
    return rows
