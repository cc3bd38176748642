"""The leaderboard's tables, verdicts and text, built from the aggregated frames.

Numbers come from :mod:`frlbench.report.aggregate`; this module only chooses what to show and
formats it. Cells comparing the baseline with FRL read ``baseline → FRL``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from frlbench.frl.variants import FULL, OFF
from frlbench.records import RunRecord
from frlbench.report.aggregate import SOLVER, Leaderboard, Section, frl_rank, overhead
from frlbench.report.document import Block, Bullets, Heading, Image, Paragraph, Table
from frlbench.report.extras import extra_metrics_table
from frlbench.stats import IMPROVES

MISSING = "—"
FRL = FULL

HOW_TO_READ = (
    "RMSE_Ratio is the RMSE at a test resolution divided by the RMSE at the training "
    "resolution ρ0: ≈ 1 means the error is anchored at its training-resolution level, < 1 "
    "that it falls as the grid is refined (what a numerical solver does), > 1 that it grows. "
    "The anchoring slope is the least-squares slope of log RMSE against log resolution over "
    "the test resolutions, taken per seed; its label is 'improves with resolution' when the "
    "whole 95% interval across seeds lies below 0, 'anchored' when it contains 0, 'degrades "
    "with resolution' when it lies above 0, and 'undetermined' with fewer than two seeds. "
    "The solver's slope, on the same data, is the target. Seen / unseen split the error at "
    "the training Nyquist ρ0/2 by physical wavenumber: 'seen' is the RMSE of the error in "
    "modes with |k| ≤ ρ0/2, which the model saw in training, 'unseen' the RMSE of the error "
    "above it (seen² + unseen² = RMSE²). Every number is a mean over seeds of a per-seed "
    "value; ± is the half-width of its 95% Student-t interval across seeds (absent with one "
    "seed). Only finished runs (status ok) enter the numbers."
)


def _sig(value: float, digits: int = 3) -> str:
    """``digits`` significant digits, trailing zeros kept but no bare trailing point."""
    text = f"{value:#.{digits}g}"
    return text[:-1] if text.endswith(".") else text


def fmt_num(value: float) -> str:
    """Three significant digits, trailing zeros kept (0.120, 1.03, 12.0, 320)."""
    return _sig(value) if math.isfinite(value) else MISSING


def _slope_digits(value: float, sign: str) -> str:
    """Two decimals, or two significant digits where two decimals would print 0.00."""
    if value == 0 or abs(value) >= 0.005:
        return f"{value:{sign}.2f}"
    return f"{value:{sign}.2g}"


def fmt_interval(mean: float, low: float, high: float, *, slope: bool = False) -> str:
    """``mean ± half-width`` (just the mean when there is no interval).

    Slopes read with two decimals (``-0.10 ± 0.08``); a slope or half-width that would print
    as 0.00 keeps two significant digits instead (``+0.0031 ± 0.0012``), so a label decided
    by a small but nonzero interval is not shown next to ``+0.00 ± 0.00``.
    """
    if not math.isfinite(mean):
        return MISSING
    text = _slope_digits(mean, "+") if slope else fmt_num(mean)
    half = (high - low) / 2
    if math.isfinite(half):
        text += f" ± {_slope_digits(half, '')}" if slope else f" ± {_sig(half, 2)}"
    return text


def fmt_seconds(value: float) -> str:
    """A duration with a readable unit (s, ms, µs)."""
    if not math.isfinite(value):
        return MISSING
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if abs(value) >= scale:
            return f"{_sig(value / scale)} {unit}"
    return f"{_sig(value / 1e-9)} ns"


def fmt_count(value: float) -> str:
    """A parameter count (1.23M, 45.6k, 789)."""
    if not math.isfinite(value) or value <= 0:
        return MISSING
    for scale, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{_sig(value / scale)}{unit}"
    return f"{int(value)}"


def fmt_ratio(value: float) -> str:
    """An overhead or speed-up factor (1.25×)."""
    return f"{_sig(value)}×" if math.isfinite(value) else MISSING


def fmt_resolution(value: float, resolutions: Sequence[int]) -> str:
    """An equivalent resolution: a number, ``< min`` or ``> max`` of the measured range."""
    if math.isnan(value):
        return MISSING
    if value == -math.inf:
        return f"< {min(resolutions)}"
    if value == math.inf:
        return f"> {max(resolutions)}"
    return f"{value:.0f}"


def pair(off: str, frl: str) -> str:
    """``baseline → FRL`` cell."""
    return MISSING if off == frl == MISSING else f"{off} → {frl}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' * (n != 1)}"


def _index(frame: pd.DataFrame, keys: Sequence[str]) -> dict[tuple, dict]:
    return {tuple(row[k] for k in keys): row for row in frame.to_dict("records")}


def _reason(text: str, limit: int = 160) -> str:
    """First line of a reason, shortened for a table cell."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _references(summary: pd.DataFrame) -> list[dict]:
    return [r for r in summary.to_dict("records") if r["kind"] == "reference"]


def _models(summary: pd.DataFrame) -> list[str]:
    models = summary[summary["kind"] == "model"]
    return list(dict.fromkeys(models["baseline"]))


def main_table(board: Leaderboard, section: Section) -> Table:
    """Backbones with FRL off → full side by side, then the reference rows."""
    summary = section.select(board.summary)
    per_res = _index(
        section.select(board.per_resolution), ["kind", "baseline", "frl", "resolution"]
    )
    rows_by_config = _index(summary, ["kind", "baseline", "frl"])
    time_x = overhead(board.summary, "time_per_step_s")
    memory_x = overhead(board.summary, "peak_memory_mb")
    finest = section.finest
    columns = [
        "Backbone",
        "Params",
        *(f"RMSE @{r}" for r in section.resolutions),
        f"RMSE_Ratio @{finest}",
        "Slope",
        "Label",
        f"Seen RMSE @{finest}",
        f"Unseen RMSE @{finest}",
        "Time ×",
        "Memory ×",
    ]

    def cells(kind: str, baseline: str, frl: str) -> list[str]:
        row = rows_by_config.get((kind, baseline, frl))
        if row is None:
            return [MISSING] * (len(columns) - 3)  # all but Backbone, Time ×, Memory ×
        rmses = [
            fmt_num(per_res[key]["rmse_mean"]) if key in per_res else MISSING
            for key in ((kind, baseline, frl, r) for r in section.resolutions)
        ]
        return [
            fmt_count(row["params"]),
            *rmses,
            fmt_interval(row["rmse_ratio_mean"], row["rmse_ratio_low"], row["rmse_ratio_high"]),
            fmt_interval(row["slope_mean"], row["slope_low"], row["slope_high"], slope=True),
            row["label"],
            fmt_num(row["seen_rmse"]),
            fmt_num(row["unseen_rmse"]),
        ]

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
        note=(
            "Cells read baseline (FRL off) → FRL (full). Time × and Memory × are FRL over "
            "baseline: ratio of the mean time per optimiser step and of the mean peak memory. "
            "Reference rows are not trained; the solver's slope is the target slope."
        ),
    )


def ablation_table(board: Leaderboard, section: Section) -> Table:
    """Every FRL variant present per backbone: RMSE, RMSE_Ratio and slope at the finest grid."""
    summary = section.select(board.summary)
    models = summary[summary["kind"] == "model"].to_dict("records")
    models.sort(key=lambda r: (r["baseline"], frl_rank(r["frl"])))
    finest = section.finest
    rows = [
        [
            row["baseline"],
            row["frl"],
            str(row["n_seeds"]),
            fmt_num(row["rmse_finest"]),
            fmt_interval(row["rmse_ratio_mean"], row["rmse_ratio_low"], row["rmse_ratio_high"]),
            fmt_interval(row["slope_mean"], row["slope_low"], row["slope_high"], slope=True),
            row["label"],
            f"{100 * row['unseen_fraction']:.0f}%"
            if math.isfinite(row["unseen_fraction"])
            else MISSING,
        ]
        for row in models
    ]
    return Table(
        title=f"Ablations — {section.task}, {section.profile} profile",
        columns=[
            "Backbone",
            "FRL variant",
            "Seeds",
            f"RMSE @{finest}",
            f"RMSE_Ratio @{finest}",
            "Slope",
            "Label",
            f"Unseen share @{finest}",
        ],
        rows=rows,
        text=(0, 1, 6),
        note="Unseen share: fraction of the squared error above the training Nyquist.",
    )


def cost_table(board: Leaderboard, section: Section) -> Table:
    """Inference time per sample, speed-up over the solver, equivalent solver resolution."""
    summary = section.select(board.summary)
    per_res = _index(
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
                fmt_resolution(row["equivalent_solver_resolution"], _solver_range(board, section)),
            ]
        )
    note = (
        "Time: inference wall time per sample (after warm-up); in brackets the speed-up over "
        "the solver at the same resolution (> 1×: faster). Equivalent solver resolution: the "
        f"resolution at which the solver reaches the model's RMSE @{finest}, interpolated "
        "log-log between the solver's measured resolutions ('< min' / '> max' outside them)."
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


def rollout_steps(rollout: pd.DataFrame, section: Section) -> int:
    """Rollout length k shown for a section: the last step at its finest resolution.

    Falls back to the last step at any resolution when no run rolled out at the finest one;
    0 when the section has no rollout rows.
    """
    rows = section.select(rollout)
    if rows.empty:
        return 0
    at_finest = rows[rows["resolution"] == section.finest]
    return int((at_finest if not at_finest.empty else rows)["step"].max())


def rollout_table(board: Leaderboard, section: Section) -> Table:
    """Rollout RMSE at the finest resolution per step, baseline → FRL, then the references.

    Raises:
        ValueError: If the section has no rollout rows (the document then leaves it out).
    """
    frame = section.select(board.rollout)
    steps = rollout_steps(board.rollout, section)
    if not steps:
        raise ValueError(f"{section.task} ({section.profile}): no rollout rows to tabulate")
    finest = section.finest
    by_step = _index(frame[frame["resolution"] == finest], ["kind", "baseline", "frl", "step"])
    columns = [
        "Backbone",
        *(f"RMSE @{finest} step {s}" for s in range(1, steps + 1)),
        f"RMSE_Ratio @{finest} step {steps}",
    ]

    def cells(kind: str, baseline: str, frl: str) -> list[str]:
        rmses = [
            fmt_num(by_step[key]["rmse_mean"]) if key in by_step else MISSING
            for key in ((kind, baseline, frl, s) for s in range(1, steps + 1))
        ]
        last = by_step.get((kind, baseline, frl, steps))
        ratio = (
            fmt_interval(last["rmse_ratio_mean"], last["rmse_ratio_low"], last["rmse_ratio_high"])
            if last is not None
            else MISSING
        )
        return [*rmses, ratio]

    rows = []
    for baseline in _models(frame):
        off, full = cells("model", baseline, OFF), cells("model", baseline, FRL)
        rows.append([baseline, *(pair(a, b) for a, b in zip(off, full, strict=True))])
    references = frame[frame["kind"] == "reference"].drop_duplicates(["baseline", "frl"])
    rows += [
        [f"{baseline} (reference)", *cells("reference", baseline, frl)]
        for baseline, frl in zip(references["baseline"], references["frl"], strict=True)
    ]
    rows += [
        [f"{rec.baseline} (reference)", *["n/a"] * (len(columns) - 1)]
        for rec in board.not_applicable(section)
    ]
    return Table(
        title=f"Rollout — {section.task}, {section.profile} profile",
        columns=columns,
        rows=rows,
        note=(
            f"Autoregressive rollout at resolution {finest}: the model's own forecast is fed "
            f"back as its next input {steps} times, starting from every test state with "
            f"{steps} successors in its trajectory, and the state after step j is compared "
            "with the paired truth j "
            f"steps ahead; RMSE @{finest} step j is the RMSE after step j (mean over seeds). "
            "Reference rows are rolled out the same way with their own forecast. "
            f"RMSE_Ratio @{finest} step {steps} is the rollout RMSE at {finest} over the "
            f"rollout RMSE at the training resolution ρ0 = {section.train_resolution} at step "
            f"{steps}, taken per seed. Cells read baseline (FRL off) → FRL (full)."
        ),
    )


def _solver_range(board: Leaderboard, section: Section) -> list[int]:
    frame = section.select(board.per_resolution)
    solver = frame[(frame["kind"] == "reference") & (frame["baseline"] == SOLVER)]
    return sorted(int(r) for r in solver["resolution"]) or section.resolutions


def verdict(board: Leaderboard, section: Section) -> str:
    """One computed sentence: how many backbones improve with resolution, and the solver slope."""
    summary = section.select(board.summary)
    models = summary[summary["kind"] == "model"]
    by_variant = {v: models[models["frl"] == v] for v in (OFF, FRL)}
    counts = {v: (int((f["label"] == IMPROVES).sum()), len(f)) for v, f in by_variant.items()}
    parts = []
    k, n = counts[FRL]
    k0, n0 = counts[OFF]
    if n:
        verb = "improves" if n == 1 else "improve"
        parts.append(f"under FRL {k} of {_count(n, 'backbone')} {verb} with resolution")
    else:
        parts.append("no finished FRL (full) runs")
    parts.append(f"without FRL {k0} of {n0}" if n0 else "no finished baseline (off) runs")
    both = by_variant[OFF].merge(by_variant[FRL], on="baseline", suffixes=("_off", "_frl"))
    if not both.empty:
        better = int((both["rmse_ratio_mean_frl"] < both["rmse_ratio_mean_off"]).sum())
        parts.append(f"FRL lowers RMSE_Ratio @{section.finest} for {better} of {len(both)}")
    solver = summary[(summary["kind"] == "reference") & (summary["baseline"] == SOLVER)]
    na = [r for r in board.not_applicable(section) if r.baseline == SOLVER]
    if not solver.empty and math.isfinite(solver["slope_mean"].iloc[0]):
        parts.append(f"solver slope {solver['slope_mean'].iloc[0]:+.2f}")
    elif na:
        why = _reason(na[0].reason)
        parts.append(f"solver n/a ({why})")
    else:
        parts.append("no solver reference")
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


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


def build_document(
    board: Leaderboard, figures: dict[str, list[Image]] | None = None
) -> list[Block]:
    """The whole leaderboard as blocks; ``figures`` maps a section slug to its images."""
    figures = figures or {}
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
    for section in board.sections:
        resolutions = ", ".join(str(r) for r in section.resolutions)
        blocks += [
            Heading(f"{section.task} — {section.profile} profile"),
            Paragraph(
                f"Trained at ρ0 = {section.train_resolution}; tested at {resolutions} "
                f"(training Nyquist ρ0/2 = {section.train_resolution / 2:g})."
            ),
            Paragraph(verdict(board, section), lead="Verdict:"),
            main_table(board, section),
            ablation_table(board, section),
            cost_table(board, section),
        ]
        if rollout_steps(board.rollout, section):
            blocks.append(rollout_table(board, section))
        extra = extra_metrics_table(recs.ok, section.task, section.profile, section.finest)
        if extra is not None:
            blocks.append(extra)
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
