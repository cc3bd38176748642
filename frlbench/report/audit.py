"""The protocol audit's outputs: ``protocol_audit.csv``, ``protocol_audit.md`` and
``figures/protocol_audit.png`` (from :func:`frlbench.runner.audit.run_audit`'s result).

The CSV is long form (one row per task, configuration, seed, protocol, normalization, grid and
lead); the Markdown aggregates seeds (mean ± 95% Student-t half-width) with FRL variants side by
side, and prints the spectral diagnostics beside the table.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from frlbench.report import CSV_FLOAT_FORMAT
from frlbench.report.document import Bullets, Heading, Image, Paragraph, Table, to_markdown
from frlbench.report.formatting import MISSING, fmt_interval
from frlbench.report.keys import config_rank, frl_rank
from frlbench.safeio import atomic_path, resolve_root, write_atomic
from frlbench.stats import mean_interval

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from frlbench.evaluation.audit_result import AuditResult

CSV_NAME = "protocol_audit.csv"
MD_NAME = "protocol_audit.md"
FIGURE_STEM = "protocol_audit"
#: Plotting order of truth constructions (names of :data:`frlbench.evaluation.truth.TRUTHS`).
PROTOCOL_ORDER = ("truncation", "conservative", "subsample", "box", "bilinear", "paper-grid")
#: One colour per truth construction, none of them an FRL variant's (blue and orange mean FRL
#: off and on in every other figure), each a hue of its own.
PROTOCOL_COLORS = ("#1b9e9e", "#2d6a4f", "#e0b100", "#5e4b8b", "#8d99ae", "#b5838d", "#444444")
#: Shown in the Markdown where the lead fills in what the committed audit found.
FINDINGS_PLACEHOLDER = (
    "FINDINGS PLACEHOLDER: what this audit shows on the committed quick results is to be "
    "written here by whoever reads it."
)


def audit_frame(result: AuditResult) -> pd.DataFrame:
    """The long-form rows of ``result``, in leaderboard order."""
    frame = pd.DataFrame([dataclasses.asdict(r) for r in result.rows])
    if frame.empty:
        return frame
    keys = [
        (
            r["task"],
            r["profile"],
            config_rank(r["kind"], r["baseline"], r["frl"]),
            r["seed"],
            r["protocol"],
            r["normalization"],
            r["resolution"],
            r["lead"],
        )
        for r in frame.to_dict("records")
    ]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    return frame.iloc[order].reset_index(drop=True)


def seed_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Mean and 95% interval over seeds of RMSE and RMSE_Ratio per configuration, protocol,
    normalization, grid and lead."""
    keys = [
        "task",
        "profile",
        "kind",
        "baseline",
        "frl",
        "protocol",
        "normalization",
        "resolution",
        "lead",
        "ratio_resolution",
    ]
    rows = []
    for key, group in frame.groupby(keys, sort=False):
        row = dict(zip(keys, key, strict=True))
        for column in ("rmse", "rmse_ratio"):
            interval = mean_interval(group[column].tolist())
            row |= {
                f"{column}_mean": interval.mean,
                f"{column}_low": interval.low,
                f"{column}_high": interval.high,
            }
        row["seeds"] = len(group)
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(row: pd.Series | None, column: str) -> str:
    if row is None:
        return MISSING
    return fmt_interval(row[f"{column}_mean"], row[f"{column}_low"], row[f"{column}_high"])


def _main_table(summary: pd.DataFrame, task: str, profile: str) -> Table:
    """RMSE at the ratio grid and at the finest grid, and RMSE_Ratio, per model row,
    protocol and normalization; FRL variants side by side."""
    part = summary[(summary["task"] == task) & (summary["profile"] == profile)]
    part = part[part["lead"] == 1]
    variants = sorted(part["frl"].unique(), key=frl_rank)
    columns = ["Model", "Protocol", "Normalization", "Grids"]
    for v in variants:
        columns += [f"RMSE @ρ0 ({v})", f"RMSE @finest ({v})", f"RMSE_Ratio ({v})"]
    index = {
        (r.kind, r.baseline, r.frl, r.protocol, r.normalization, r.resolution): r
        for r in part.itertuples(index=False)
    }
    configs = sorted(
        {(r.kind, r.baseline, r.protocol, r.normalization) for r in part.itertuples()},
        key=lambda k: (config_rank(k[0], k[1], "off"), k[2], k[3]),
    )
    rows = []
    for kind, baseline, protocol, norm in configs:
        grids = part[
            (part["baseline"] == baseline)
            & (part["kind"] == kind)
            & (part["protocol"] == protocol)
            & (part["normalization"] == norm)
        ]
        finest, base = int(grids["resolution"].max()), int(grids["ratio_resolution"].iloc[0])
        cells = [baseline, protocol, norm, f"{finest}/{base}"]
        for v in variants:
            at_base = index.get((kind, baseline, v, protocol, norm, base))
            at_finest = index.get((kind, baseline, v, protocol, norm, finest))
            cells += [
                _cell(_series(at_base), "rmse"),
                _cell(_series(at_finest), "rmse"),
                _cell(_series(at_finest), "rmse_ratio"),
            ]
        rows.append(cells)
    return Table(
        title=f"{task} ({profile}): one-step RMSE and RMSE_Ratio (finest grid / ratio grid)",
        columns=columns,
        rows=rows,
        text=(0, 1, 2, 3),
        note="Mean ± 95% half-width over seeds. Grids: finest / the ratio's denominator.",
    )


def _series(row: tuple | None) -> pd.Series | None:
    return None if row is None else pd.Series(row._asdict())


def _lead_table(summary: pd.DataFrame, task: str, profile: str) -> Table | None:
    """RMSE_Ratio at the finest grid by lead (training normalization), variants side by side."""
    part = summary[(summary["task"] == task) & (summary["profile"] == profile)]
    part = part[part["normalization"] != "per-resolution"]
    leads = sorted(part["lead"].unique())
    if len(leads) < 2:
        return None
    variants = sorted(part["frl"].unique(), key=frl_rank)
    columns = ["Model", "Protocol"] + [f"lead {j} ({v})" for v in variants for j in leads]
    rows = []
    for (kind, baseline, protocol), group in part.groupby(["kind", "baseline", "protocol"]):
        finest = group[group["resolution"] == group["resolution"].max()]
        cells = [baseline, protocol]
        for v in variants:
            for j in leads:
                hit = finest[(finest["frl"] == v) & (finest["lead"] == j)]
                cells.append(_cell(hit.iloc[0], "rmse_ratio") if len(hit) else MISSING)
        rows.append((config_rank(kind, baseline, "off"), protocol, cells))
    return Table(
        title=f"{task} ({profile}): RMSE_Ratio at the finest grid by lead",
        columns=columns,
        rows=[cells for *_, cells in sorted(rows, key=lambda r: r[:2])],
        text=(0, 1),
        note="Lead 1: the one-step score over every scored pair; lead j > 1: the j-th step of "
        "the autoregressive rollout (over the profile's rollout trajectories), each divided by "
        "the ratio grid's RMSE at the same lead. Training normalization.",
    )


def _percent(value: float) -> str:
    return f"{100 * value:.3g}%" if math.isfinite(value) else MISSING


def _diagnostics_table(result: AuditResult, task: str, profile: str) -> Table:
    rows = [d for d in result.diagnostics if d.task == task and d.profile == profile]
    return Table(
        title=f"{task} ({profile}): what the truth holds",
        columns=["Protocol", "Grid", "Energy above training Nyquist", "Aliased by subsampling"],
        rows=[
            [
                d.protocol,
                str(d.resolution),
                _percent(d.energy_above_train_nyquist),
                _percent(d.aliased_energy),
            ]
            for d in rows
        ],
        text=(0,),
        note=f"Fractions of the test targets' energy (spatial means removed, channels in "
        f"training-normalized units) above the training Nyquist (ρ0 = "
        f"{rows[0].train_resolution if rows else MISSING}), and the part of the reference "
        "targets' energy that point subsampling folds into each coarser grid's resolved band "
        "(lat-lon: along longitude, by zonal wavenumber, at the reference latitudes).",
    )


def _protocol_rank(name: str) -> int:
    """Fixed plotting order (and colour) of a truth construction; defaults first."""
    return PROTOCOL_ORDER.index(name) if name in PROTOCOL_ORDER else len(PROTOCOL_ORDER)


def plot_audit(summary: pd.DataFrame) -> Figure:
    """RMSE_Ratio at each model's finest scored grid (one step, training normalization) by
    protocol: one panel per task and FRL variant, bars per model grouped by protocol (a row
    scored only on its ratio grid, such as a solver that is the truth above it, is left out)."""
    from matplotlib.figure import Figure

    from frlbench.report.plotting import category_ticks

    part = summary[(summary["lead"] == 1) & (summary["normalization"] != "per-resolution")]
    keys = ["task", "profile", "frl", "baseline", "protocol"]
    finest = part.groupby(keys)["resolution"].transform("max")
    part = part[(part["resolution"] == finest) & (finest > part["ratio_resolution"])]
    panels = sorted(
        {(r.task, r.profile, r.frl) for r in part.itertuples()},
        key=lambda p: (p[0], p[1], frl_rank(p[2])),
    )
    if not panels:
        raise ValueError("protocol audit: no evaluated rows to plot")
    fig = Figure(figsize=(9.0, 3.2 * len(panels) + 0.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(len(panels), 1, squeeze=False)[:, 0])
    for ax, (task, profile, frl) in zip(axes, panels, strict=True):
        sel = part[(part["task"] == task) & (part["profile"] == profile) & (part["frl"] == frl)]
        kinds = dict(zip(sel["baseline"], sel["kind"], strict=True))
        models = sorted(kinds, key=lambda b: config_rank(kinds[b], b, frl))
        truths = sorted(set(sel["protocol"]), key=_protocol_rank)
        width = 0.8 / max(len(truths), 1)
        for i, truth in enumerate(truths):
            rows = sel[sel["protocol"] == truth]
            by_model = {r.baseline: r for r in rows.itertuples()}
            mean = np.array([getattr(by_model.get(m), "rmse_ratio_mean", np.nan) for m in models])
            half = np.array(
                [
                    (by_model[m].rmse_ratio_high - by_model[m].rmse_ratio_low) / 2
                    if m in by_model
                    else np.nan
                    for m in models
                ]
            )
            pos = np.arange(len(models)) + (i - (len(truths) - 1) / 2) * width
            color = PROTOCOL_COLORS[_protocol_rank(truth) % len(PROTOCOL_COLORS)]
            ax.bar(pos, np.nan_to_num(mean), width, label=truth, color=color)
            ok = np.isfinite(half) & np.isfinite(mean)
            lower = np.minimum(half[ok], mean[ok])  # a ratio is positive: whiskers stop at 0
            ax.errorbar(pos[ok], mean[ok], yerr=np.vstack([lower, half[ok]]), fmt="none",
                        ecolor="black", capsize=2)  # fmt: skip
        ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
        ax.set_ylim(bottom=0)
        category_ticks(ax, np.arange(len(models)), models)
        ax.set_ylabel("RMSE_Ratio (finest grid)")
        ax.set_title(f"{task} ({profile}), FRL {frl}")
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def write_audit(result: AuditResult, out: Path, *, figure: bool = True) -> list[Path]:
    """Write the audit's CSV, Markdown and (with ``figure``) PNG under ``out``; return them."""
    out = resolve_root(out)
    frame = audit_frame(result)
    written = [out / CSV_NAME, out / MD_NAME]
    with atomic_path(written[0], root=out) as tmp:
        frame.to_csv(tmp, index=False, float_format=CSV_FLOAT_FORMAT)
    summary = seed_summary(frame) if not frame.empty else frame
    blocks = _document(result, summary)
    if figure and not summary.empty:
        from frlbench.report.figures import save_figure

        stem = out / "figures" / FIGURE_STEM
        save_figure(plot_audit(summary), stem, root=out)
        written.append(stem.with_suffix(".png"))
        blocks.insert(
            2,
            Image(
                f"figures/{FIGURE_STEM}",
                "RMSE_Ratio at the finest grid under each truth construction (bars from 0; "
                "error bars: 95% interval across seeds, clipped at 0). Look for conclusions that "
                "change with the colour: a ratio that falls below 1 under subsampling only is "
                "made by the protocol, not the model.",
            ),
        )
    write_atomic(written[1], to_markdown(blocks), root=out)
    return written


def _document(result: AuditResult, summary: pd.DataFrame) -> list:
    subset = (
        f"the first {result.trajectories} test trajectories of each task"
        if result.trajectories
        else "every test trajectory"
    )
    evaluated = {r.protocol for r in result.rows}
    applied = [p for p in result.protocols if p in evaluated] or list(result.protocols)
    rollout = ", ".join(f"{t}: 1 to {k}" for t, k in sorted(result.max_rollout.items()))
    blocks: list = [
        Heading("Protocol audit", level=1),
        Paragraph(
            "Stored runs re-evaluated from their weights (nothing retrained) by the evaluation "
            f"layer training uses, under the truth constructions {', '.join(applied)} "
            "(those that apply to each task's grid) and the normalizations train and "
            f"per-resolution; persistence and the solver work in physical units (normalization "
            f"'physical'). Scored on {subset}; rollout lengths {rollout or 'none'}. Wall time "
            f"{result.wall_s:.0f} s. The default protocol (truncation or conservative, train) "
            'is the leaderboard\'s. See docs/reading_results.md, "Reading a ratio".',
        ),
        Paragraph(FINDINGS_PLACEHOLDER, lead="Findings:"),
    ]
    if not summary.empty:
        for task, profile in dict.fromkeys(zip(summary["task"], summary["profile"], strict=True)):
            blocks.append(Heading(f"{task} ({profile})"))
            blocks.append(_main_table(summary, task, profile))
            lead = _lead_table(summary, task, profile)
            if lead is not None:
                blocks.append(lead)
            blocks.append(_diagnostics_table(result, task, profile))
    for title, items in (
        ("Skipped runs", result.skipped),
        ("Not applicable", result.not_applicable),
    ):
        if items:
            blocks.append(Heading(title))
            blocks.append(Bullets([f"{s.label} ({s.run_id}): {s.reason}" for s in items]))
    if summary.empty:
        blocks.append(Paragraph("No run could be audited."))
    return blocks


__all__ = [
    "CSV_NAME",
    "FINDINGS_PLACEHOLDER",
    "MD_NAME",
    "audit_frame",
    "plot_audit",
    "seed_summary",
    "write_audit",
]
