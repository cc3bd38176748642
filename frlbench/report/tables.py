"""The leaderboard's tables, verdicts and text, built from the aggregated frames.

Numbers come from :mod:`frlbench.report.aggregate`; this module only chooses what to show and
formats it. Cells comparing the baseline with FRL read ``baseline → FRL``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from frlbench.frl.variants import FULL, OFF
from frlbench.records import RunRecord
from frlbench.report.ablation import ablation_table
from frlbench.report.aggregate import SOLVER, Leaderboard, Section, overhead
from frlbench.report.confirmatory import confirmatory_frame, confirmatory_table
from frlbench.report.document import Block, Bullets, Heading, Image, Paragraph, Table
from frlbench.report.extras import extra_metrics_table, weather_table
from frlbench.report.formatting import (
    MISSING,
    TRUTH,
    fmt_count,
    fmt_interval,
    fmt_label,
    fmt_num,
    fmt_ratio,
    fmt_resolution,
    fmt_seconds,
    fmt_skill,
    fmt_slope,
    pair,
)
from frlbench.report.keys import index_rows
from frlbench.report.mechanism import limits_table, mechanism_counts, mechanism_table
from frlbench.report.profile_note import skill_note
from frlbench.report.rollout import rollout_steps, rollout_table
from frlbench.report.schedule import schedule_table
from frlbench.stats import EQUIVALENCE_MARGIN, IMPROVES

FRL = FULL

HOW_TO_READ = (
    "Skill @ρ0 is 1 − RMSE / RMSE of persistence at the training resolution ρ0 (means over "
    "seeds): > 0 means the model beats 'nothing changes'. A model row with skill ≤ 0 is "
    "labelled 'no skill': it has not learned the dynamics, so its RMSE_Ratio and slope say "
    "nothing about scale anchoring; it is shown but not counted in the verdict. "
    "RMSE_Ratio is the RMSE at a test resolution divided by the RMSE at ρ0: ≈ 1 means the "
    "error is anchored at its training-resolution level, < 1 that it falls as the grid is "
    "refined (what a numerical solver does), > 1 that it grows. "
    "The anchoring slope is the least-squares slope of log RMSE against log resolution over "
    "the test resolutions, taken per seed and averaged; [low, high] is its 95% bootstrap "
    "interval, resampling seeds and, within each seed, test trajectories (marked 'seeds "
    "only' where the records hold no per-trajectory errors). Its label needs evidence against "
    f"an equivalence margin δ = {EQUIVALENCE_MARGIN:g} (about 3.5% per doubling of "
    "resolution): 'anchored' when the whole interval lies inside (−δ, δ), 'improves with "
    "resolution' when it lies below −δ, 'degrades with resolution' when it lies above δ, "
    "'undetermined' otherwise. The solver is not scored on the grid its truth was computed "
    "on (there it is the truth: '= truth'); its slope over the coarser grids is the target. "
    "Seen / unseen split the error at the training Nyquist ρ0/2 by physical wavenumber: "
    "'seen' is the RMSE of the error in modes with |k| ≤ ρ0/2, which the model saw in "
    "training, 'unseen' the RMSE of the error above it (seen² + unseen² = RMSE²). ± is the "
    "half-width of a 95% Student-t interval across seeds (absent with one seed). Only "
    "finished runs (status ok) enter the numbers."
)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _reason(text: str, limit: int = 160) -> str:
    """First line of a reason, shortened for a table cell."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _references(summary: pd.DataFrame) -> list[dict]:
    return [r for r in summary.to_dict("records") if r["kind"] == "reference"]


def _models(summary: pd.DataFrame) -> list[str]:
    models = summary[summary["kind"] == "model"]
    return list(dict.fromkeys(models["baseline"]))


def _main_cells(
    section: Section,
    rows_by_config: dict,
    per_res: dict,
    config: tuple[str, str, str],
    n_columns: int,
) -> list[str]:
    """The main table's cells of one ``(kind, baseline, frl)`` after the Backbone column
    (the Time × and Memory × columns are the caller's)."""
    row = rows_by_config.get(config)
    if row is None:
        return [MISSING] * (n_columns - 3)  # all but Backbone, Time ×, Memory ×
    kind, baseline, frl = config
    truth = section.reference_resolution if baseline == SOLVER else None
    rmses = [
        TRUTH
        if key[-1] == truth
        else fmt_num(per_res[key]["rmse_mean"])
        if key in per_res
        else MISSING
        for key in ((kind, baseline, frl, r) for r in section.resolutions)
    ]
    ratio = (
        TRUTH
        if section.finest == truth
        else fmt_interval(row["rmse_ratio_mean"], row["rmse_ratio_low"], row["rmse_ratio_high"])
    )
    return [
        fmt_count(row["params"]),
        *rmses,
        fmt_skill(row["skill"]),
        ratio,
        fmt_slope(row["slope_mean"], row["slope_low"], row["slope_high"]),
        fmt_label(row),
        fmt_num(row["seen_rmse"]),
        fmt_num(row["unseen_rmse"]),
    ]


def _main_note(section: Section) -> str:
    """How to read the main table."""
    return (
        "Cells read baseline (FRL off) → FRL (full). Skill: 1 − RMSE / persistence's RMSE "
        f"at ρ0 = {section.train_resolution}. Time × and Memory × are FRL over "
        "baseline: ratio of the mean time per optimiser step and of the mean peak memory. "
        "Reference rows are not trained; the solver's slope is the target slope"
        + (
            f", fitted on the grids coarser than its reference grid "
            f"{section.reference_resolution} (there it is the truth)."
            if section.reference_resolution
            else "."
        )
    )


def main_table(board: Leaderboard, section: Section) -> Table:
    """Backbones with FRL off → full side by side, then the reference rows."""
    summary = section.select(board.summary)
    per_res = index_rows(
        section.select(board.per_resolution), ["kind", "baseline", "frl", "resolution"]
    )
    rows_by_config = index_rows(summary, ["kind", "baseline", "frl"])
    time_x = overhead(board.summary, "time_per_step_s")
    memory_x = overhead(board.summary, "peak_memory_mb")
    finest = section.finest
    columns = [
        "Backbone",
        "Params",
        *(f"RMSE @{r}" for r in section.resolutions),
        f"Skill @{section.train_resolution}",
        f"RMSE_Ratio @{finest}",
        "Slope",
        "Label",
        f"Seen RMSE @{finest}",
        f"Unseen RMSE @{finest}",
        "Time ×",
        "Memory ×",
    ]

    def cells(kind: str, baseline: str, frl: str) -> list[str]:
        return _main_cells(section, rows_by_config, per_res, (kind, baseline, frl), len(columns))

    rows = []
    for baseline in _models(summary):
        off, full = cells("model", baseline, OFF), cells("model", baseline, FRL)
        key = (section.task, section.profile, baseline)
        rows.append(
            [
                baseline,
                *(pair(a, b) for a, b in zip(off, full, strict=True)),
                fmt_ratio(time_x.get(key, math.nan)),
                fmt_ratio(memory_x.get(key, math.nan)),
            ]
        )
    for ref in _references(summary):
        values = cells("reference", ref["baseline"], ref["frl"])
        if ref["baseline"] == SOLVER:
            values[columns.index("Slope") - 1] += " (target)"
        rows.append([f"{ref['baseline']} (reference)", *values, MISSING, MISSING])
    for rec in board.not_applicable(section):
        na = [MISSING, *["n/a"] * (len(columns) - 4), MISSING, MISSING]
        na[columns.index("Label") - 1] = f"n/a: {_reason(rec.reason)}"
        rows.append([f"{rec.baseline} (reference)", *na])
    return Table(
        text=(0, columns.index("Label")),
        title=f"Main table — {section.task}, {section.profile} profile",
        columns=columns,
        rows=rows,
        note=_main_note(section),
    )


def cost_table(board: Leaderboard, section: Section) -> Table:
    """Inference time per sample, speed-up over the solver, equivalent solver resolution."""
    summary = section.select(board.summary)
    per_res = index_rows(
        section.select(board.per_resolution), ["kind", "baseline", "frl", "resolution"]
    )
    has_solver = any(r["baseline"] == SOLVER for r in _references(summary))
    finest = section.finest
    configs = [r for r in summary.to_dict("records") if r["kind"] == "model"]
    configs += [r for r in _references(summary) if r["baseline"] == SOLVER]
    rows = []
    for row in configs:
        times = []
        for r in section.resolutions:
            at = per_res.get((row["kind"], row["baseline"], row["frl"], r))
            if at is None:
                times.append(MISSING)
                continue
            text = fmt_seconds(at["inference_s_per_sample"])
            if row["kind"] == "model" and math.isfinite(at["speedup_vs_solver"]):
                text += f" ({fmt_ratio(at['speedup_vs_solver'])})"
            times.append(text)
        label = row["baseline"] + (" (reference)" if row["kind"] == "reference" else "")
        rows.append(
            [
                label,
                row["frl"] if row["kind"] == "model" else MISSING,
                *times,
                fmt_num(row["rmse_finest"]),
                fmt_resolution(row["equivalent_solver_resolution"]),
            ]
        )
    note = (
        "Time: inference wall time per sample (after warm-up); in brackets the speed-up over "
        "the solver at the same resolution (> 1×: faster). Equivalent solver resolution: the "
        f"resolution at which the solver reaches the model's RMSE @{finest}, interpolated "
        "log-log between the solver's measured resolutions ('coarser than' the coarsest when the "
        "solver beats the model everywhere, 'finer than' the finest when it never does)."
    )
    if not has_solver:
        note += " No finished solver reference for this task: no speed-up or equivalent."
    return Table(
        title=f"Cost — {section.task}, {section.profile} profile",
        columns=[
            "Model",
            "FRL",
            *(f"Time/sample @{r}" for r in section.resolutions),
            f"RMSE @{finest}",
            "Equivalent solver resolution",
        ],
        rows=rows,
        text=(0, 1),
        note=note,
    )


def _has_skill(frame: pd.DataFrame) -> pd.Series:
    return frame["skill"] > 0


def verdict(board: Leaderboard, section: Section) -> str:
    """One computed sentence: skill, how many backbones improve with resolution, the solver slope.

    Rows without skill at ρ0 are left out of the anchoring counts and the RMSE_Ratio
    comparison; how many rows had skill, and for how many backbones FRL lost the skill its
    FRL-off baseline had, are stated separately.
    """
    summary = section.select(board.summary)
    models = summary[summary["kind"] == "model"]
    by_variant = {v: models[models["frl"] == v] for v in (OFF, FRL)}
    skilled = {v: f[_has_skill(f)] for v, f in by_variant.items()}
    counts = {v: (int((f["label"] == IMPROVES).sum()), len(f)) for v, f in skilled.items()}
    parts = []
    k, n = counts[FRL]
    k0, n0 = counts[OFF]
    if not by_variant[FRL].empty:
        verb = "improves" if n == 1 else "improve"
        parts.append(f"under FRL {k} of {_count(n, 'backbone')} with skill {verb} with resolution")
    else:
        parts.append("no finished FRL (full) runs")
    if not by_variant[OFF].empty:
        parts.append(f"without FRL {k0} of {n0}")
    else:
        parts.append("no finished baseline (off) runs")
    if not models.empty:
        parts.append(
            f"{int(_has_skill(models).sum())} of {_count(len(models), 'model row')} "
            f"{'has' if len(models) == 1 else 'have'} skill at ρ0 = {section.train_resolution}"
        )
    mechanisms = mechanism_counts(models[_has_skill(models)])
    if mechanisms:
        parts.append(mechanisms)
    both = by_variant[OFF].merge(by_variant[FRL], on="baseline", suffixes=("_off", "_frl"))
    if not both.empty:
        had = both[both["skill_off"] > 0]
        lost = int((~(had["skill_frl"] > 0)).sum())
        parts.append(
            f"FRL lost the skill of its baseline for {lost} of {len(had)} "
            f"{'backbone' if len(had) == 1 else 'backbones'} with skill without FRL"
        )
        kept = had[had["skill_frl"] > 0]
        if not kept.empty:
            better = int((kept["rmse_ratio_mean_frl"] < kept["rmse_ratio_mean_off"]).sum())
            parts.append(f"where both have skill, FRL lowers RMSE_Ratio @{section.finest} for "
                         f"{better} of {len(kept)}")  # fmt: skip
    solver = summary[(summary["kind"] == "reference") & (summary["baseline"] == SOLVER)]
    na = [r for r in board.not_applicable(section) if r.baseline == SOLVER]
    if not solver.empty and math.isfinite(solver["slope_mean"].iloc[0]):
        text = f"solver slope {solver['slope_mean'].iloc[0]:+.2f}"
        if section.reference_resolution:
            text += f" (below its reference grid {section.reference_resolution})"
        parts.append(text)
    elif na:
        why = _reason(na[0].reason)
        parts.append(f"solver n/a ({why})")
    else:
        parts.append("no solver reference")
    text = "; ".join(parts) + "."
    text = text[0].upper() + text[1:]
    return skill_note(section.profile) + text


def not_finished_table(records: Sequence[RunRecord]) -> Table:
    """Diverged and failed runs with their reasons (excluded from every number)."""
    rows = [
        [
            r.run_id,
            r.task,
            r.profile,
            r.baseline,
            r.frl,
            str(r.seed),
            r.status,
            _reason(r.reason, limit=400),
        ]
        for r in sorted(records, key=lambda r: (r.task, r.profile, r.run_id))
    ]
    return Table(
        title="",
        columns=["Run", "Task", "Profile", "Baseline", "FRL", "Seed", "Status", "Reason"],
        rows=rows,
        text=tuple(range(8)),
    )


def data_source_text(section: Section) -> str:
    """Where the section's data came from, in plain words (its records' ``data_source``)."""
    sources = section.data_sources
    if not sources:
        return "source not recorded (records written before frlbench recorded it)."
    if len(sources) == 1:
        return f"{sources[0]}."
    return (
        "records of this section name different data sources; their numbers are not "
        "comparable: " + "; ".join(sources) + "."
    )


def _section_head(
    board: Leaderboard, section: Section, extras: tuple[list[Block], list[Block]]
) -> list[Block]:
    """A section's heading, data, grids and verdict, then its main table between ``extras``."""
    resolutions = ", ".join(str(r) for r in section.resolutions)
    return [
        Heading(f"{section.task} — {section.profile} profile"),
        Paragraph(data_source_text(section), lead="Data:"),
        Paragraph(
            f"Trained at ρ0 = {section.train_resolution}; tested at {resolutions} "
            f"(training Nyquist ρ0/2 = {section.train_resolution / 2:g})."
        ),
        Paragraph(verdict(board, section), lead="Verdict:"),
        *extras[0],
        main_table(board, section),
        *extras[1],
    ]


def build_document(
    board: Leaderboard,
    figures: dict[str, list[Image]] | None = None,
    extras: Mapping[str, tuple[list[Block], list[Block]]] | None = None,
) -> list[Block]:
    """The whole leaderboard as blocks; ``figures`` maps a section slug to its images, and
    ``extras`` to blocks shown before and after its main table (the published rows' pairing,
    :mod:`frlbench.report.pairing`)."""
    figures = figures or {}
    extras = extras or {}
    recs = board.records
    n_read = len(recs.ok) + len(recs.not_finished) + len(recs.not_applicable)
    blocks: list[Block] = [
        Heading("frlbench leaderboard", level=1),
        Paragraph(
            f"Built from {_count(len(recs.ok), 'finished run')} out of "
            f"{_count(n_read, 'readable record')} ({len(recs.not_finished)} did not finish, "
            f"{_count(len(recs.not_applicable), 'reference')} not applicable, "
            f"{_count(len(recs.unreadable), 'unreadable record file')})."
        ),
        Heading("How to read this"),
        Paragraph(HOW_TO_READ),
    ]
    if not board.sections:
        blocks.append(Paragraph("No finished runs: nothing to rank yet."))
    confirmatory = confirmatory_frame(recs.ok)
    for section in board.sections:
        blocks += _section_head(board, section, extras.get(section.slug, ([], [])))
        confirm = confirmatory_table(confirmatory, section.task, section.profile)
        blocks += [] if confirm is None else [confirm]
        blocks += [
            ablation_table(board, section),
            mechanism_table(
                section.select(board.summary), section.finest, section.train_resolution
            ),
            cost_table(board, section),
        ]
        limits = limits_table(recs.ok, section.task, section.profile)
        if limits is not None:
            blocks.append(limits)
        schedule = schedule_table(board, section)
        if schedule is not None:
            blocks.append(schedule)
        if rollout_steps(board.rollout, section):
            blocks.append(rollout_table(board, section))
        weather = weather_table(
            recs.ok, section.task, section.profile, section.train_resolution, section.finest
        )
        extra = extra_metrics_table(recs.ok, section.task, section.profile, section.finest)
        blocks += [table for table in (weather, extra) if table is not None]
        if figures.get(section.slug):
            blocks += [Heading("Figures", level=3), *figures[section.slug]]
    blocks.append(Heading("Runs that did not finish"))
    if recs.not_finished:
        blocks += [
            Paragraph("Diverged or failed runs; they are excluded from every number above."),
            not_finished_table(recs.not_finished),
        ]
    else:
        blocks.append(Paragraph("None: every run finished."))
    if recs.unreadable:
        blocks += [
            Heading("Unreadable records"),
            Paragraph("These record files could not be read and were not used:"),
            Bullets(list(recs.unreadable)),
        ]
    if board.duplicates:
        blocks += [
            Heading("Seeds with several records"),
            Paragraph("Their values were averaged per seed before the statistics across seeds:"),
            Bullets([" / ".join(key) for key in board.duplicates]),
        ]
    return blocks
