"""What a label rests on: the solver's true target and the slope intervals of each configuration.

- :func:`drop_reference_rows`: the solver at its reference grid *is* the truth (its own
  output), so that row says nothing and would fake a steep target slope; it is dropped before
  any number is computed and its resolution remembered per section (shown as "= truth").
- :func:`nested_slope_intervals`: the nested bootstrap of the anchoring slope (seeds, then
  test trajectories) for every configuration whose records hold per-trajectory RMSEs.

Both read records only (no torch).
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from frlbench.records import ResolutionMetrics, RunRecord
from frlbench.stats import Interval, nested_bootstrap_slope

SOLVER = "solver"
PERSISTENCE = "persistence"
#: An old solver record without ``reference_resolution``: its reference grid is the largest
#: test resolution where its RMSE is below this fraction of persistence's there.
TRUTH_TOLERANCE = 1e-6

ConfigKey = tuple[str, str, str, str, str]  # task, profile, kind, baseline, frl


def config_key(record: RunRecord) -> ConfigKey:
    """``(task, profile, kind, baseline, frl)`` of a record."""
    return (record.task, record.profile, record.kind, record.baseline, record.frl)


def _persistence_rmse(records: Sequence[RunRecord]) -> dict[tuple[str, str, int], float]:
    values: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for rec in records:
        if rec.kind == "reference" and rec.baseline == PERSISTENCE:
            for m in rec.metrics:
                values[(rec.task, rec.profile, m.resolution)].append(m.rmse)
    return {key: float(np.mean(v)) for key, v in values.items()}


def solver_reference_resolution(
    record: RunRecord, persistence: dict[tuple[str, str, int], float]
) -> int | None:
    """The grid on which a solver record is its own truth (None for other records).

    ``record.reference_resolution`` when the record has it, unless the record was scored there
    and is not the truth (RMSE at least :data:`TRUTH_TOLERANCE` × persistence's: a solver that
    did not produce the truth, like era5's stand-in); for older records, the largest test
    resolution where the solver's RMSE is below that tolerance (None when there is none).
    """
    if record.kind != "reference" or record.baseline != SOLVER:
        return None

    def is_truth(metric: ResolutionMetrics) -> bool:
        ref = persistence.get((record.task, record.profile, metric.resolution))
        return bool(ref) and metric.rmse < TRUTH_TOLERANCE * ref

    explicit = getattr(record, "reference_resolution", None)
    if explicit is not None:
        # Current records leave that grid out where the solver is the truth; a solver that is
        # not (era5's stand-in) is scored there, and that row is kept.
        row = next((m for m in record.metrics if m.resolution == int(explicit)), None)
        return int(explicit) if row is None or is_truth(row) else None
    hits = [m.resolution for m in record.metrics if is_truth(m)]
    return max(hits) if hits else None


def drop_reference_rows(
    records: Sequence[RunRecord],
) -> tuple[list[RunRecord], dict[tuple[str, str], int]]:
    """Solver records without their reference-grid row; the reference grid per section.

    A record that loses a row gets a NaN ``anchoring_slope`` so that the slope is refitted on
    the grids coarser than the reference. Other records are returned unchanged.

    Returns:
        The records (same order) and ``{(task, profile): reference resolution}``.
    """
    persistence = _persistence_rmse(records)
    out, references = [], {}
    for rec in records:
        reference = solver_reference_resolution(rec, persistence)
        if reference is None:
            out.append(rec)
            continue
        references[(rec.task, rec.profile)] = reference
        kept = [m for m in rec.metrics if m.resolution != reference]
        if len(kept) == len(rec.metrics):
            out.append(rec)
        else:
            out.append(dataclasses.replace(rec, metrics=kept, anchoring_slope=math.nan))
    return out, references


def _per_trajectory(metric: ResolutionMetrics) -> list[float]:
    return list(getattr(metric, "rmse_per_trajectory", None) or [])


def _trajectory_array(runs: Sequence[RunRecord]) -> tuple[list[int], np.ndarray] | None:
    """``(resolutions, (seeds, resolutions, trajectories) array)`` or None if incomplete."""
    resolutions = sorted({m.resolution for m in runs[0].metrics})
    blocks = []
    for rec in runs:
        by_res = {m.resolution: _per_trajectory(m) for m in rec.metrics}
        if sorted(by_res) != resolutions:
            return None
        blocks.append([by_res[r] for r in resolutions])
    lengths = {len(row) for block in blocks for row in block}
    if len(resolutions) < 2 or len(lengths) != 1 or 0 in lengths:
        return None
    array = np.asarray(blocks, dtype=float)
    return (resolutions, array) if np.isfinite(array).all() else None


def nested_slope_intervals(records: Sequence[RunRecord]) -> dict[ConfigKey, Interval]:
    """Nested-bootstrap slope interval per configuration with per-trajectory RMSEs.

    One record per seed (the first by run id when a seed has several). A configuration is
    left out — and falls back to a bootstrap over seeds — when any of its seeds lacks
    per-trajectory RMSEs at a resolution, or when their resolutions or trajectory counts
    differ.
    """
    by_config: dict[ConfigKey, dict[int, RunRecord]] = defaultdict(dict)
    for rec in sorted(records, key=lambda r: r.run_id):
        if rec.status == "ok" and rec.metrics:
            by_config[config_key(rec)].setdefault(rec.seed, rec)
    out = {}
    for key, seeds in by_config.items():
        found = _trajectory_array([seeds[s] for s in sorted(seeds)])
        if found is not None:
            out[key] = nested_bootstrap_slope(*found)
    return out
