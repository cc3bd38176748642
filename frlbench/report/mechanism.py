"""The mechanism behind each label, and the limits a model is read against (records only).

- :func:`add_mechanism`: per model row of the summary, at the finest test grid ρ and the
  training grid ρ0, three nested-bootstrap ratios (:func:`frlbench.stats.nested_bootstrap_ratio`:
  seeds, then test trajectories within each seed, paired across the two errors):

  * the **seen-band ratio**: RMSE of the error in |k| ≤ ρ0/2 at ρ over the RMSE at ρ0 (the
    RMSE_Ratio the model would have with a perfect band above the training Nyquist);
  * the **unseen factor**: RMSE at ρ over its seen-band RMSE (how much the band above the
    training Nyquist multiplies the error; RMSE_Ratio = seen-band ratio × unseen factor);
  * **native / ρ0-then-pad**: RMSE at ρ of the model run natively over that of the model run at
    ρ0 and its forecast zero-padded (or interpolated) to ρ.

  and the ``mechanism`` (:func:`frlbench.stats.mechanism`) for model rows with skill whose label
  is not "improves with resolution".
- :func:`mechanism_table`, :func:`limits_table` (the ρ0-band oracle's RMSE beside the targets'
  energy above the training Nyquist per grid) and :func:`mechanism_counts` (for the verdict).

Records without per-trajectory band errors (written before they existed), and configurations
with fewer than :data:`frlbench.stats.MIN_SEEDS_BOOTSTRAP` seeds, get the point estimates from
their per-grid band errors, no interval and no mechanism ("—").
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import pandas as pd

from frlbench.records import RunRecord
from frlbench.report.document import Table
from frlbench.report.evidence import config_key
from frlbench.report.formatting import MISSING, fmt_interval, fmt_num
from frlbench.stats import (
    BOOTSTRAP_DRAWS,
    EQUIVALENCE_MARGIN,
    IMPROVES,
    MECHANISMS,
    MIN_SEEDS_BOOTSTRAP,
    NO_SKILL,
    Interval,
    mechanism,
    nested_bootstrap_ratio,
    tolerance_factor,
)

#: The ρ0-band oracle's reference name (:mod:`frlbench.evaluation.oracle`; kept as text here:
#: the report does not import the evaluation layer).
BAND_ORACLE = "band-oracle"
#: Ratios computed per model row, each with ``_mean``, ``_low`` and ``_high`` columns.
RATIOS = ("seen_ratio", "unseen_factor", "native_over_pad")
_NONE = Interval(math.nan, math.nan, math.nan, 0)


def is_band_oracle(record: RunRecord) -> bool:
    """The ρ0-band oracle's reference record (read in :func:`limits_table` only)."""
    return record.kind == "reference" and record.baseline == BAND_ORACLE


def _squares(values: Sequence[float]) -> list[float]:
    return [v * v for v in values]


def _arrays(runs: Sequence[RunRecord], rho0: int, finest: int) -> dict[str, np.ndarray] | None:
    """Per-trajectory squared errors ``(seeds, trajectories)`` of every seed, or None when a
    seed lacks them or the trajectory counts differ."""
    names = ("seen", "total", "base", "pad")
    blocks: dict[str, list[list[float]]] = {n: [] for n in names}
    for rec in runs:
        at, base = rec.metric(finest), rec.metric(rho0)
        if at is None or base is None:
            return None
        blocks["seen"].append(list(at.mse_seen_per_trajectory))
        blocks["total"].append(_squares(at.rmse_per_trajectory))
        blocks["base"].append(_squares(base.rmse_per_trajectory))
        blocks["pad"].append(_squares(at.rho0_pad_rmse_per_trajectory))
    core = [row for n in ("seen", "total", "base") for row in blocks[n]]
    if len({len(row) for row in core}) != 1 or not core[0]:
        return None
    out = {n: np.asarray(blocks[n], dtype=float) for n in ("seen", "total", "base")}
    pads = blocks["pad"]
    if all(len(row) == len(core[0]) for row in pads):
        out["pad"] = np.asarray(pads, dtype=float)
    return out


def _point(runs: Sequence[RunRecord], rho0: int, finest: int) -> dict[str, float]:
    """Means over seeds of the three ratios from the per-grid numbers (old records)."""
    values: dict[str, list[float]] = defaultdict(list)
    for rec in runs:
        at, base = rec.metric(finest), rec.metric(rho0)
        if at is None or base is None or not base.rmse > 0:
            continue
        seen = math.sqrt(at.mse_seen) if at.mse_seen >= 0 else math.nan
        values["seen_ratio"].append(seen / base.rmse)
        values["unseen_factor"].append(at.rmse / seen if seen > 0 else math.nan)
        pad = at.rho0_pad_rmse
        values["native_over_pad"].append(at.rmse / pad if pad > 0 else math.nan)
        values["rmse_pad"].append(pad)
    return {k: float(np.mean(v)) if v else math.nan for k, v in values.items()}


def _evidence(runs: Sequence[RunRecord], rho0: int, finest: int) -> dict[str, object]:
    """The ratio intervals and pad RMSE of one configuration's runs (one per seed)."""
    point = _point(runs, rho0, finest)
    intervals = dict.fromkeys(RATIOS, _NONE)
    # As for the seeds-only bootstrap: with fewer seeds the interval reads noise as evidence.
    arrays = _arrays(runs, rho0, finest) if len(runs) >= MIN_SEEDS_BOOTSTRAP else None
    trajectories = 0
    if arrays is not None:
        trajectories = arrays["total"].shape[1]
        intervals["seen_ratio"] = nested_bootstrap_ratio(arrays["seen"], arrays["base"])
        intervals["unseen_factor"] = nested_bootstrap_ratio(arrays["total"], arrays["seen"])
        if "pad" in arrays and np.isfinite(arrays["pad"]).all():
            intervals["native_over_pad"] = nested_bootstrap_ratio(arrays["total"], arrays["pad"])
    row: dict[str, object] = {
        "rmse_pad_finest": point.get("rmse_pad", math.nan),
        "band_trajectories": trajectories,
    }
    for name in RATIOS:
        interval = intervals[name]
        mean = interval.mean if math.isfinite(interval.mean) else point.get(name, math.nan)
        row.update(
            {f"{name}_mean": mean, f"{name}_low": interval.low, f"{name}_high": interval.high}
        )
    return row


def add_mechanism(summary: pd.DataFrame, records: Sequence[RunRecord]) -> pd.DataFrame:
    """``summary`` with the columns of the module docstring: ``{seen_ratio, unseen_factor,
    native_over_pad}_{mean,low,high}``, ``rmse_pad_finest``, ``band_trajectories`` (test
    trajectories per seed the intervals resampled; 0 without per-trajectory errors),
    ``tolerance`` (:func:`frlbench.stats.tolerance_factor` from ρ0 to the finest grid) and
    ``mechanism`` ("" for references, rows without skill or improving, and without intervals).
    """
    if summary.empty:
        return summary
    by_config: dict[tuple, dict[int, RunRecord]] = defaultdict(dict)
    for rec in sorted(records, key=lambda r: r.run_id):
        if rec.status == "ok" and rec.kind == "model":
            by_config[config_key(rec)].setdefault(rec.seed, rec)
    rows = []
    for row in summary.to_dict("records"):
        key = tuple(row[k] for k in ("task", "profile", "kind", "baseline", "frl"))
        seeds = by_config.get(key, {})
        rho0, finest = int(row["train_resolution"]), int(row["finest_resolution"])
        extra: dict[str, object] = {"tolerance": tolerance_factor(finest, rho0), "mechanism": ""}
        if seeds and rho0 > 0:
            extra.update(_evidence([seeds[s] for s in sorted(seeds)], rho0, finest))
            if row["label"] not in (NO_SKILL, IMPROVES):
                extra["mechanism"] = mechanism(
                    _interval(extra, "seen_ratio"),
                    _interval(extra, "unseen_factor"),
                    extra["tolerance"],  # type: ignore[arg-type]
                )
        rows.append({**row, **extra})
    return pd.DataFrame(rows, columns=_columns(summary))


def _columns(summary: pd.DataFrame) -> list[str]:
    ratios = [f"{n}_{p}" for n in RATIOS for p in ("mean", "low", "high")]
    added = [*ratios, "rmse_pad_finest", "band_trajectories", "tolerance", "mechanism"]
    return [*summary.columns, *(c for c in added if c not in summary.columns)]


def _interval(row: dict, name: str) -> Interval:
    return Interval(row[f"{name}_mean"], row[f"{name}_low"], row[f"{name}_high"], 0)


def fmt_bounds(row: dict, name: str) -> str:
    """``mean [low, high]`` of the ratio ``name`` of a summary row (the mean alone without an
    interval, "—" without a value)."""
    mean = row.get(f"{name}_mean", math.nan)
    low, high = row.get(f"{name}_low", math.nan), row.get(f"{name}_high", math.nan)
    if not math.isfinite(mean):
        return MISSING
    if math.isfinite(low) and math.isfinite(high):
        return f"{fmt_num(mean)} [{fmt_num(low)}, {fmt_num(high)}]"
    return fmt_num(mean)


def _text(value: object) -> str:
    """A text cell: the string, or "—" for none (unfinished rows hold NaN)."""
    return value if isinstance(value, str) and value else MISSING


def _beats(row: dict) -> str:
    """Whether native zero-shot beats ρ0-then-pad at the finest grid, by the interval."""
    low, high = row.get("native_over_pad_low", math.nan), row.get("native_over_pad_high", math.nan)
    if not (math.isfinite(low) and math.isfinite(high)):
        return MISSING
    if high < 1:
        return "yes"
    return "no (pad better)" if low > 1 else "undetermined"


def mechanism_table(summary: pd.DataFrame, finest: int, train_resolution: int) -> Table:
    """Per model row: ratio, seen-band ratio, unseen factor, mechanism, native vs ρ0-then-pad."""
    models = [r for r in summary.to_dict("records") if r["kind"] == "model"]
    rows = []
    for row in models:
        cells = [fmt_bounds(row, name) for name in RATIOS]
        rows.append(
            [
                row["baseline"],
                row["frl"],
                fmt_interval(row["rmse_ratio_mean"], row["rmse_ratio_low"], row["rmse_ratio_high"]),
                cells[0],
                cells[1],
                _text(row.get("mechanism")),
                fmt_num(row["rmse_finest"]),
                fmt_num(row.get("rmse_pad_finest", math.nan)),
                cells[2],
                _beats(row),
            ]
        )
    counts = (r.get("band_trajectories", 0) for r in models)
    trajectories = sorted({int(n) for n in counts if n == n and n > 0})  # NaN: unfinished
    tolerance = tolerance_factor(finest, train_resolution) if train_resolution else math.nan
    where = f" — {models[0]['task']}, {models[0]['profile']} profile" if models else ""
    return Table(
        title=f"Mechanism and ρ0-then-pad @{finest}{where}",
        columns=[
            "Backbone",
            "FRL",
            f"RMSE_Ratio @{finest}",
            f"Seen-band ratio @{finest}",
            f"Unseen factor @{finest}",
            "Mechanism",
            f"RMSE @{finest} native",
            f"RMSE @{finest} ρ0-then-pad",
            "Native / ρ0-then-pad",
            "Native beats ρ0-then-pad?",
        ],
        rows=rows,
        text=(0, 1, 5, 9),
        note=mechanism_note(finest, train_resolution, tolerance, trajectories, _seeds(models)),
    )


def _seeds(models: Sequence[dict]) -> list[int]:
    """The distinct seed counts of the model rows (NaN for unfinished ones left out)."""
    counts = (r.get("n_seeds", 0) for r in models)
    return sorted({int(n) for n in counts if n == n and n > 0})


def mechanism_note(
    finest: int,
    train_resolution: int,
    tolerance: float,
    trajectories: Sequence[int],
    seeds: Sequence[int] = (),
) -> str:
    """How to read :func:`mechanism_table`."""
    per_seed = "/".join(str(t) for t in trajectories) if trajectories else "no"
    n_seeds = "/".join(str(n) for n in seeds) if seeds else "none"
    return (
        f"Seen-band ratio: RMSE of the error in |k| ≤ ρ0/2 = {train_resolution / 2:g} at "
        f"{finest} over the RMSE at ρ0 = {train_resolution} (the RMSE_Ratio with a perfect band "
        "above the training Nyquist). Unseen factor: RMSE over seen-band RMSE at "
        f"{finest} (RMSE_Ratio = seen-band ratio × unseen factor). [low, high]: 95% nested "
        f"bootstrap, {BOOTSTRAP_DRAWS} resamples of the seeds ({n_seeds}), then of the test "
        f"trajectories within each seed ({per_seed} per seed), paired across the two errors; "
        f"none with fewer than {MIN_SEEDS_BOOTSTRAP} seeds. "
        "Mechanism (rows with skill that do not improve): discretization mismatch when the "
        f"seen-band ratio's lower bound exceeds 2^(δ·log2({finest}/{train_resolution})) = "
        f"{tolerance:.3f} (δ = {EQUIVALENCE_MARGIN:g}), scale anchoring when only the unseen "
        "factor's does, both when both, neither when neither; '—' without per-trajectory "
        "band errors. ρ0-then-pad: the model run at ρ0 on the input coarsened to it, its "
        f"forecast zero-padded (periodic) or interpolated bilinearly (lat-lon) to {finest}; "
        "native beats it when the interval of native / ρ0-then-pad lies below 1."
    )


def mechanism_counts(models: pd.DataFrame) -> str:
    """The verdict's count of mechanisms over ``models`` (model rows with skill), e.g.
    ``"mechanism: 3 discretization mismatch, 2 scale anchoring, 1 both, 0 neither"``; "" when
    no row names one."""
    if models.empty or "mechanism" not in models:
        return ""
    named = models["mechanism"].fillna("")
    if not (named != "").any():
        return ""
    counts = ", ".join(f"{int((named == m).sum())} {m}" for m in MECHANISMS)
    missing = int(((named == "") & (models["label"] != IMPROVES)).sum())
    tail = f", {missing} without band intervals" if missing else ""
    return f"mechanism of the rows with skill that do not improve: {counts}{tail}"


def limits_table(records: Sequence[RunRecord], task: str, profile: str) -> Table | None:
    """The ρ0-band oracle's RMSE per test grid beside the targets' energy above the training
    Nyquist (means over its records); None without a finished oracle record."""
    oracle = [
        r
        for r in records
        if is_band_oracle(r) and r.status == "ok" and (r.task, r.profile) == (task, profile)
    ]
    if not oracle:
        return None
    grids = sorted({m.resolution for r in oracle for m in r.metrics})
    rows = []
    for grid in grids:
        at = [m for r in oracle if (m := r.metric(grid)) is not None]
        share = np.mean([m.target_energy_above_nyquist for m in at])
        rows.append(
            [
                str(grid),
                f"{100 * share:.3g}%" if math.isfinite(share) else MISSING,
                fmt_num(float(np.mean([m.rmse for m in at]))),
            ]
        )
    rho0 = oracle[0].train_resolution
    return Table(
        title=f"Limits — {task}, {profile} profile",
        columns=["Grid", f"Target energy above ρ0/2 = {rho0 / 2:g}", "ρ0-band oracle RMSE"],
        rows=rows,
        text=(),
        note=(
            "The ρ0-band oracle forecasts the true target with every mode above the training "
            f"Nyquist removed (perfect on every mode the ρ0 = {rho0} grid holds, nothing "
            "above): its RMSE is the error a model reaches by being perfect where it was "
            "trained, and zero at ρ0 (so it has no ratio). Energy: share of the test targets' "
            "energy (spatial means removed) above the training Nyquist."
        ),
    )
