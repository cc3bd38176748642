"""Records → tidy DataFrames: the computing half of the leaderboard (nothing is rendered here).

Only records with ``status == "ok"`` enter the numbers. Every statistic is first taken per
seed (one run = one seed; duplicate records of one seed are averaged) and then summarised
across seeds as a mean with a 95% t-interval (:func:`frlbench.stats.mean_interval`); the
anchoring slope's interval is a bootstrap (:mod:`frlbench.report.evidence`). A solver record's
row at its reference grid (where it is the truth) is dropped before anything is computed.

Frames built here, all sorted deterministically:

- :func:`per_seed_frame`: one row per (configuration, seed, resolution).
- :func:`per_resolution_frame`: one row per (configuration, resolution), means over seeds.
- :func:`summary_frame`: one row per configuration, with the statistics at the finest test
  resolution, the anchoring slope and its label, cost and the equivalent solver resolution.
- :func:`~.curves.frequency_frame`: mean frequency response per (configuration, resolution,
  shell).
- :func:`~.curves.rollout_frame`: mean autoregressive-rollout RMSE and its ratio to the training
  resolution per (configuration, resolution, step); empty when no run did a rollout.

A *configuration* is ``(task, profile, kind, baseline, frl)``; a *section* is ``(task, profile)``,
one per data source (:mod:`frlbench.report.sources`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from frlbench.frl.variants import FULL, OFF
from frlbench.records import RecordError, RunRecord, records_to_rows
from frlbench.report.curves import frequency_frame, interval_columns, rollout_frame
from frlbench.report.equivalence import solver_equivalent_text
from frlbench.report.evidence import (
    PERSISTENCE,
    SOLVER,
    ConfigKey,
    drop_reference_rows,
    nested_slope_intervals,
)
from frlbench.report.keys import (
    CONFIG_KEYS,
    SECTION_KEYS,
    sort_configs,
)
from frlbench.report.mechanism import add_mechanism, is_band_oracle
from frlbench.report.sources import separate_data_sources
from frlbench.report.unfinished import add_unfinished_rows, drop_unfinished, unfinished_configs
from frlbench.stats import (
    NO_SKILL,
    Interval,
    anchoring_label,
    anchoring_slope,
    seed_bootstrap_slope,
)


@dataclass
class RecordSet:
    """Records sorted by what the leaderboard does with them.

    Attributes:
        ok: Finished runs; the only ones whose numbers are used.
        not_finished: Diverged or failed runs, listed with their reasons.
        not_applicable: Runs that do not apply to a task (status ``not_applicable``, e.g. a
            solver reference for a task without a solver), shown as n/a in the task's table.
        unreadable: Messages of record files that could not be read.
    """

    ok: list[RunRecord] = field(default_factory=list)
    not_finished: list[RunRecord] = field(default_factory=list)
    not_applicable: list[RunRecord] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def is_not_applicable(record: RunRecord) -> bool:
    """A run that does not apply to its task (status ``not_applicable``)."""
    return record.status == "not_applicable"


def split_records(records: Iterable[RunRecord], errors: Iterable[RecordError] = ()) -> RecordSet:
    """Sort records into finished, not finished and not applicable (each by run id)."""
    out = RecordSet(unreadable=sorted(str(e) for e in errors))
    for rec in sorted(records, key=lambda r: r.run_id):
        if rec.status == "ok":
            out.ok.append(rec)
        elif is_not_applicable(rec):
            out.not_applicable.append(rec)
        else:
            out.not_finished.append(rec)
    return out


def _sqrt(values: pd.Series) -> pd.Series:
    return np.sqrt(values.astype(float).where(values.astype(float) >= 0))


def per_seed_frame(records: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per (configuration, seed, resolution) from finished records.

    Built from :func:`frlbench.records.records_to_rows`. ``rmse_ratio`` falls back to the
    run's rmse over its own rmse at the training resolution when the record left it NaN, and
    ``anchoring_slope`` to the slope over the run's metrics. ``seen_rmse`` and ``unseen_rmse``
    are the square roots of the band MSEs (``seen_rmse² + unseen_rmse² = rmse²``).
    """
    columns = [
        *CONFIG_KEYS,
        "seed",
        "resolution",
        "backbone",
        "size",
        "train_resolution",
        "rmse",
        "rmse_ratio",
        "mse_seen",
        "mse_unseen",
        "seen_rmse",
        "unseen_rmse",
        "inference_s_per_sample",
        "anchoring_slope",
        "time_per_step_s",
        "peak_memory_mb",
        "params",
    ]
    finished = [r for r in records if r.status == "ok"]
    rows = [r for r in records_to_rows(finished) if r["resolution"] is not None]
    if not rows:
        return pd.DataFrame(columns=columns)
    long = pd.DataFrame(rows)
    for col in ("rmse", "rmse_ratio", "mse_seen", "mse_unseen", "inference_s_per_sample"):
        long[col] = long[col].astype(float)

    by_run = {r.run_id: r for r in finished}
    ratio, slope = [], []
    for run_id, res, value, run_slope in zip(
        long["run_id"], long["resolution"], long["rmse_ratio"], long["anchoring_slope"], strict=True
    ):
        rec = by_run[run_id]
        if not math.isfinite(value):
            own = rec.metric(rec.train_resolution)
            here = rec.metric(int(res))
            value = here.rmse / own.rmse if own and here and own.rmse > 0 else math.nan
        if not math.isfinite(run_slope):
            run_slope = anchoring_slope(
                [m.resolution for m in rec.metrics], [m.rmse for m in rec.metrics]
            )
        ratio.append(value)
        slope.append(run_slope)
    long["rmse_ratio"] = ratio
    long["anchoring_slope"] = slope
    long["seen_rmse"] = _sqrt(long["mse_seen"])
    long["unseen_rmse"] = _sqrt(long["mse_unseen"])

    keys = [*CONFIG_KEYS, "seed", "resolution"]
    labels = ["backbone", "size", "train_resolution"]
    numeric = [c for c in columns if c not in keys and c not in labels]
    # Several records of one seed (e.g. a re-run under a changed config) are averaged per seed.
    grouped = long.groupby(keys, sort=False, dropna=False)
    seeds = grouped[numeric].mean().reset_index()
    first = grouped[labels].first().reset_index()
    seeds = seeds.merge(first, on=keys)
    seeds["resolution"] = seeds["resolution"].astype(int)
    seeds["seed"] = seeds["seed"].astype(int)
    return sort_configs(seeds[columns], extra=("seed", "resolution"))


def duplicate_seeds(records: Sequence[RunRecord]) -> list[tuple[str, ...]]:
    """(task, profile, baseline, frl, seed) combinations with more than one finished record."""
    counts: dict[tuple[str, ...], int] = {}
    for rec in records:
        if rec.status == "ok":
            key = (rec.task, rec.profile, rec.baseline, rec.frl, str(rec.seed))
            counts[key] = counts.get(key, 0) + 1
    return sorted(k for k, n in counts.items() if n > 1)


def section_resolutions(seeds: pd.DataFrame) -> dict[tuple[str, str], list[int]]:
    """Test resolutions of each section: those of its model runs (references if none)."""
    out = {}
    for key, group in seeds.groupby(SECTION_KEYS, sort=True):
        models = group[group["kind"] == "model"]
        source = models if not models.empty else group
        out[key] = sorted(int(r) for r in source["resolution"].unique())
    return out


def per_resolution_frame(seeds: pd.DataFrame) -> pd.DataFrame:
    """One row per (configuration, resolution): means over seeds, intervals where useful.

    ``speedup_vs_solver`` is the solver's inference time per sample at the same resolution
    divided by this configuration's (> 1: faster than the solver); NaN without a solver.
    """
    rows = []
    for key, group in seeds.groupby([*CONFIG_KEYS, "resolution"], sort=False):
        row = dict(zip([*CONFIG_KEYS, "resolution"], key, strict=True))
        row["n_seeds"] = int(group["seed"].nunique())
        row.update(interval_columns("rmse", group["rmse"]))
        row.update(interval_columns("rmse_ratio", group["rmse_ratio"]))
        for col in ("seen_rmse", "unseen_rmse", "mse_seen", "mse_unseen"):
            row[col] = float(group[col].mean())
        row["inference_s_per_sample"] = float(group["inference_s_per_sample"].mean())
        rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    solver = frame[(frame["kind"] == "reference") & (frame["baseline"] == SOLVER)]
    solver_time = {
        (t, p, r): s
        for t, p, r, s in zip(
            solver["task"],
            solver["profile"],
            solver["resolution"],
            solver["inference_s_per_sample"],
            strict=True,
        )
    }
    frame["speedup_vs_solver"] = [
        solver_time.get((t, p, r), math.nan) / s if s > 0 else math.nan
        for t, p, r, s in zip(
            frame["task"],
            frame["profile"],
            frame["resolution"],
            frame["inference_s_per_sample"],
            strict=True,
        )
    ]
    return sort_configs(frame, extra=("resolution",))


def _mean_rmse(per_resolution: pd.DataFrame) -> dict[tuple, float]:
    """Mean RMSE over seeds per (task, profile, kind, baseline, frl, resolution)."""
    keys = [*CONFIG_KEYS, "resolution"]
    return {
        tuple(row[k] for k in keys): row["rmse_mean"]
        for row in per_resolution[[*keys, "rmse_mean"]].to_dict("records")
    }


def summary_frame(
    seeds: pd.DataFrame,
    per_resolution: pd.DataFrame,
    nested: Mapping[ConfigKey, Interval] | None = None,
) -> pd.DataFrame:
    """One row per configuration: the leaderboard's numbers.

    Columns: the configuration keys, ``backbone``, ``size``, ``n_seeds``,
    ``train_resolution``, ``finest_resolution`` (largest test resolution of the section),
    ``rmse_finest`` (mean over seeds), ``rmse_ratio_{mean,low,high}`` (95% t-interval across
    seeds), ``skill`` (1 − RMSE / persistence's RMSE at the training resolution, both means
    over seeds; NaN without persistence), ``slope_mean`` (mean of the per-seed slopes) and
    ``slope_{low,high}`` (95% bootstrap interval: ``nested[key]`` when given, else over seeds
    only), ``slope_interval`` (how it was obtained: ``"seeds × trajectories"`` or ``"seeds
    only"``), ``label`` (:data:`frlbench.stats.NO_SKILL` for a model with skill ≤ 0, else
    :func:`frlbench.stats.anchoring_label`), ``seen_rmse``/``unseen_rmse`` and
    ``unseen_fraction`` (unseen share of the squared error) at the finest resolution,
    ``time_per_step_s`` and ``peak_memory_mb`` (means), ``params`` and, for models,
    ``equivalent_solver_resolution`` (text, see
    :func:`~frlbench.report.equivalence.equivalent_resolution_text`).
    """
    if seeds.empty:
        return pd.DataFrame()
    nested = nested or {}
    mean_rmse = _mean_rmse(per_resolution)
    sections = section_resolutions(seeds)
    solver_curves = {
        (t, p): group
        for (t, p), group in per_resolution[
            (per_resolution["kind"] == "reference") & (per_resolution["baseline"] == SOLVER)
        ].groupby(SECTION_KEYS)
    }
    rows = []
    for key, group in seeds.groupby(CONFIG_KEYS, sort=False):
        row = dict(zip(CONFIG_KEYS, key, strict=True))
        finest = sections[(row["task"], row["profile"])][-1]
        at_finest = group[group["resolution"] == finest]
        per_run = group.groupby("seed")
        train = group["train_resolution"].mode()
        row.update(
            backbone=str(group["backbone"].iloc[0]),
            size=str(group["size"].iloc[0]),
            n_seeds=int(group["seed"].nunique()),
            train_resolution=int(train.iloc[0]) if not train.empty else 0,
            finest_resolution=finest,
            rmse_finest=float(at_finest["rmse"].mean()),
        )
        row.update(interval_columns("rmse_ratio", at_finest["rmse_ratio"]))
        own = mean_rmse.get((*key, row["train_resolution"]), math.nan)
        ref = mean_rmse.get(
            (row["task"], row["profile"], "reference", PERSISTENCE, "off", row["train_resolution"]),
            math.nan,
        )
        row["skill"] = 1 - own / ref if ref > 0 else math.nan
        slopes = per_run["anchoring_slope"].first()
        interval = nested.get(key) or seed_bootstrap_slope(slopes)
        row.update(
            slope_mean=float(slopes.mean()) if slopes.notna().any() else math.nan,
            slope_low=interval.low,
            slope_high=interval.high,
            slope_interval=interval.method,
        )
        no_skill = row["kind"] == "model" and row["skill"] <= 0
        row["label"] = NO_SKILL if no_skill else anchoring_label(interval)
        mse_total = at_finest["mse_seen"] + at_finest["mse_unseen"]
        row.update(
            seen_rmse=float(at_finest["seen_rmse"].mean()),
            unseen_rmse=float(at_finest["unseen_rmse"].mean()),
            unseen_fraction=float((at_finest["mse_unseen"] / mse_total).mean()),
            time_per_step_s=float(per_run["time_per_step_s"].first().mean()),
            peak_memory_mb=float(per_run["peak_memory_mb"].first().mean()),
            params=int(per_run["params"].first().median()),
        )
        curve = solver_curves.get((row["task"], row["profile"]))
        row["equivalent_solver_resolution"] = solver_equivalent_text(row, curve)
        rows.append(row)
    return sort_configs(pd.DataFrame(rows))


def overhead(summary: pd.DataFrame, column: str, variant: str = FULL) -> dict[tuple, float]:
    """Ratio of means ``variant`` / ``off`` of ``column`` per (task, profile, baseline)."""
    models = summary[summary["kind"] == "model"].set_index([*SECTION_KEYS, "baseline", "frl"])
    out = {}
    for (task, profile, baseline, frl), value in models[column].items():
        if frl != variant or (task, profile, baseline, OFF) not in models.index:
            continue
        base = models.loc[(task, profile, baseline, OFF), column]
        out[(task, profile, baseline)] = float(value / base) if base > 0 else math.nan
    return out


@dataclass
class Section:
    """One task under one profile: a section of the leaderboard.

    Attributes:
        task: Task name.
        profile: Profile name.
        train_resolution: ρ0 of the section's runs (the most common one).
        resolutions: Test resolutions, ascending.
        reference_resolution: The grid the solver's truth was computed on, where the solver
            is not scored (None without a solver, or when it was not scored there anyway).
        data_sources: The distinct data sources its records name, in plain words (more than
            one means numbers from different data were put side by side); empty when no
            record names one.
    """

    task: str
    profile: str
    train_resolution: int
    resolutions: list[int]
    reference_resolution: int | None = None
    data_sources: tuple[str, ...] = ()

    @property
    def finest(self) -> int:
        """Largest test resolution."""
        return self.resolutions[-1]

    @property
    def slug(self) -> str:
        """File-name-safe ``<task>_<profile>``."""
        raw = f"{self.task}_{self.profile}"
        return "".join(c if c.isalnum() or c in "-_." else "-" for c in raw)

    def select(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Rows of ``frame`` that belong to this section."""
        if frame.empty:
            return frame
        mask = (frame["task"] == self.task) & (frame["profile"] == self.profile)
        return frame[mask].reset_index(drop=True)


@dataclass
class Leaderboard:
    """Everything the tables and figures are rendered from.

    Attributes:
        records: The records sorted by use (finished, not finished, n/a, unreadable).
        sections: One per (task, profile) with finished runs, sorted.
        seeds: :func:`per_seed_frame`.
        per_resolution: :func:`per_resolution_frame`.
        summary: :func:`summary_frame`.
        frequency: :func:`frequency_frame`.
        rollout: :func:`rollout_frame` (empty when no run did a rollout).
        duplicates: Seeds with several finished records (averaged per seed).
    """

    records: RecordSet
    sections: list[Section]
    seeds: pd.DataFrame
    per_resolution: pd.DataFrame
    summary: pd.DataFrame
    frequency: pd.DataFrame
    rollout: pd.DataFrame
    duplicates: list[tuple[str, ...]]

    def not_applicable(self, section: Section) -> list[RunRecord]:
        """References that do not apply to ``section``'s task."""
        return [
            r
            for r in self.records.not_applicable
            if (r.task, r.profile) == (section.task, section.profile)
        ]


def build_leaderboard(
    records: Sequence[RunRecord], errors: Sequence[RecordError] = ()
) -> Leaderboard:
    """Aggregate records (as returned by :func:`frlbench.records.load_records`).

    The solver's reference-grid row is dropped first (:func:`~.evidence.drop_reference_rows`);
    ``Leaderboard.records`` keeps the records as read, but for the profile label of runs of one
    task and profile scored on several data sources (:mod:`frlbench.report.sources`). A
    configuration with a seed that diverged or failed enters no number (:mod:`~.unfinished`);
    its summary row only counts them.
    """
    split = split_records(separate_data_sources(records), errors)
    unfinished = unfinished_configs(split.ok, split.not_finished)
    scored, references = drop_reference_rows(drop_unfinished(split.ok, unfinished))
    scored = [r for r in scored if not is_band_oracle(r)]  # read in its own table (limits)
    seeds = per_seed_frame(scored)
    per_resolution = per_resolution_frame(seeds)
    sections = []
    for (task, profile), resolutions in section_resolutions(seeds).items():
        trained = seeds[(seeds["task"] == task) & (seeds["profile"] == profile)]
        models = trained[trained["kind"] == "model"]
        train = (models if not models.empty else trained)["train_resolution"].mode()
        reference = references.get((task, profile))
        sources = sorted(
            {
                r.data_source
                for r in (*split.ok, *split.not_applicable)
                if (r.task, r.profile) == (task, profile) and r.data_source
            }
        )
        sections.append(
            Section(task, profile, int(train.iloc[0]), resolutions, reference, tuple(sources))
        )
    return Leaderboard(
        records=split,
        sections=sections,
        seeds=seeds,
        per_resolution=per_resolution,
        summary=add_unfinished_rows(
            add_mechanism(
                summary_frame(seeds, per_resolution, nested_slope_intervals(scored)), scored
            ),
            unfinished,
            records,
        ),
        frequency=frequency_frame(scored),
        rollout=rollout_frame(scored),
        duplicates=duplicate_seeds(split.ok),
    )
