"""Records as long-form rows: one per (run, resolution), for pandas before any table or plot.

The per-shell, per-step and per-trajectory lists of :class:`~frlbench.records.ResolutionMetrics`
are left out; per-variable metrics become ``<metric>[<variable>]`` columns and registered extra
metrics columns of their own.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from frlbench.records import RunRecord

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
