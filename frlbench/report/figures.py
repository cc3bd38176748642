"""The leaderboard's figures: plot functions take aggregated DataFrames and return Figures.

Figures are built with :class:`matplotlib.figure.Figure` directly (no pyplot, no global
backend state; PNGs render with Agg) and saved as PNG and PDF with fixed metadata, so
re-rendering the same records gives the same files.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator

from frlbench.report.aggregate import SOLVER, Leaderboard, Section
from frlbench.report.band_ratio_figure import plot_seen_band_ratio
from frlbench.report.document import Image
from frlbench.report.plotting import (
    FIGURE_KINDS,
    REFERENCE_STYLE,
    SHOWN_VARIANTS,
    category_ticks,
    legend_below,
    log_rmse_axes,
    model_names,
    panels,
    save_figure,
    variant_color,
    variant_label,
)
from frlbench.report.spectra import plot_band_errors, plot_frequency_response
from frlbench.stats import NO_SKILL

__all__ = [
    "FIGURE_KINDS",
    "plot_band_errors",
    "plot_frequency_response",
    "plot_rmse_ratio",
    "plot_rmse_vs_resolution",
    "plot_rollout",
    "save_figure",
    "section_figures",
]


def _has_seen_band_ratio(summary: pd.DataFrame) -> bool:
    """Whether a model row of ``summary`` has a seen-band ratio and an RMSE_Ratio to plot."""
    if summary.empty or "seen_ratio_mean" not in summary:
        return False
    models = summary[summary["kind"] == "model"]
    both = models[["seen_ratio_mean", "rmse_ratio_mean"]].astype(float)
    return bool(np.isfinite(both.to_numpy()).all(axis=1).any())


def _error_bars(
    ax: Axes, pos: np.ndarray, means: np.ndarray, halves: np.ndarray, floor: float = 0.0
) -> list[float]:
    """95% intervals (where known; the lower whisker stops at ``floor``, the axis' bottom) and
    the mean's value over each bar; returns the bars' tops."""
    tops = []
    has_ci = np.isfinite(halves) & np.isfinite(means)
    if has_ci.any():
        lower = np.minimum(halves[has_ci], np.maximum(means[has_ci] - floor, 0.0))
        ax.errorbar(
            pos[has_ci],
            means[has_ci],
            yerr=np.vstack([lower, halves[has_ci]]),
            fmt="none",
            ecolor="black",
            capsize=3,
            linewidth=1,
        )
    for p, m, h in zip(pos, means, halves, strict=True):
        if math.isfinite(m):
            top = m + (h if math.isfinite(h) else 0)
            tops.append(top)
            ax.annotate(
                f"{m:.2f}",
                (p, top),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=8,
            )
    return tops


def squashed(tops: list[float]) -> bool:
    """Whether one bar's top (mean + interval) dwarfs the others: a linear axis would squash
    them, so the axis is logarithmic."""
    finite = [t for t in tops if math.isfinite(t) and t > 0]
    return len(finite) > 2 and max(finite) > 3 * float(np.median(finite))


def _ratio_scale(rows: dict) -> tuple[bool, float]:
    """Whether the ratio axis is logarithmic (one bar's interval dwarfs the others), and its
    bottom: 0 on a linear axis, half the smallest ratio (the solver's included) on a log one."""
    spans = [
        r["rmse_ratio_mean"] + (r["rmse_ratio_high"] - r["rmse_ratio_low"]) / 2
        for r in rows.values()
        if r["kind"] == "model" and r["frl"] in SHOWN_VARIANTS
    ]
    if not squashed([s if math.isfinite(s) else 0.0 for s in spans]):
        return False, 0.0
    means = [r["rmse_ratio_mean"] for r in rows.values()]
    return True, min((m for m in means if math.isfinite(m) and m > 0), default=1.0) / 2


def _ratio_axis(ax: Axes, log: bool, floor: float, top: float, section: Section) -> None:
    """Limits, scale and label of the RMSE_Ratio axis."""
    if log:  # one interval dwarfs the others: every bar stays readable
        ax.set_yscale("log")
        ax.set_ylim(floor, top * 1.6)
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.minorticks_off()
    else:
        ax.set_ylim(0, top * 1.15)
    scale = ", log scale" if log else ""
    ax.set_ylabel(f"RMSE_Ratio  (RMSE @{section.finest} / RMSE @{section.train_resolution}{scale})")


def plot_rmse_ratio(summary: pd.DataFrame, section: Section) -> Figure:
    """Bars of RMSE_Ratio at the finest resolution, baseline vs FRL per backbone.

    Rows without skill at ρ0 are hatched and faded: their ratio says nothing about anchoring.

    Args:
        summary: Rows of :func:`~frlbench.report.aggregate.summary_frame` for one section.
        section: The section (for the resolutions in the labels).
    """
    backbones = model_names(summary)
    fig = Figure(figsize=(max(4.5, 1.3 * len(backbones) + 2.5), 3.8), layout="constrained")
    ax = fig.subplots()
    width = 0.38
    x = np.arange(len(backbones))
    rows = {(r["baseline"], r["frl"]): r for r in summary.to_dict("records")}
    log, floor = _ratio_scale(rows)
    tops = [1.0]
    no_skill = False
    for i, frl in enumerate(SHOWN_VARIANTS):
        if not any((b, frl) in rows for b in backbones):
            continue
        means = np.array([rows.get((b, frl), {}).get("rmse_ratio_mean", np.nan) for b in backbones])
        halves = np.array(
            [
                (rows[(b, frl)]["rmse_ratio_high"] - rows[(b, frl)]["rmse_ratio_low"]) / 2
                if (b, frl) in rows
                else np.nan
                for b in backbones
            ]
        )
        pos = x + (i - 0.5) * width
        bars = ax.bar(
            pos, np.nan_to_num(means), width, color=variant_color(frl), label=variant_label(frl)
        )
        for bar, backbone in zip(bars, backbones, strict=True):
            if rows.get((backbone, frl), {}).get("label") == NO_SKILL:
                bar.set_alpha(0.45)
                bar.set_hatch("///")
                no_skill = True
        tops += _error_bars(ax, pos, means, halves, floor)
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="ratio 1 (anchored)")
    solver = summary[(summary["kind"] == "reference") & (summary["baseline"] == SOLVER)]
    if not solver.empty and math.isfinite(solver["rmse_ratio_mean"].iloc[0]):
        ax.axhline(
            solver["rmse_ratio_mean"].iloc[0],
            color=REFERENCE_STYLE[SOLVER]["color"],
            linestyle=":",
            linewidth=1.2,
            label="solver",
        )
    category_ticks(ax, x, backbones)
    ax.set_xlim(-0.7, len(backbones) - 0.3)
    _ratio_axis(ax, log, floor, max(tops), section)
    ax.set_title(f"{section.task} ({section.profile}): RMSE_Ratio @{section.finest}")
    variants = {variant_label(frl): frl for frl in SHOWN_VARIANTS}
    handles = [  # plain patches: a hatched first bar must not restyle the legend entry
        Patch(facecolor=variant_color(variants[label]), label=label)
        if label in variants
        else handle
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True)
    ]
    if no_skill:
        handles.append(
            Patch(facecolor="#bbbbbb", hatch="///", alpha=0.45, label="no skill at ρ0 (hatched)")
        )
    ax.legend(
        handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8
    )
    return fig


def _mean_curves(ax: Axes, frame: pd.DataFrame, backbone: str, x: str) -> None:
    """Mean RMSE (``rmse_mean``) against column ``x``: ``backbone``'s baseline and FRL curves
    (bold, with markers) and every reference row of ``frame``."""
    model = frame[(frame["kind"] == "model") & (frame["baseline"] == backbone)]
    for frl in SHOWN_VARIANTS:
        curve = model[model["frl"] == frl].sort_values(x)
        if not curve.empty:
            ax.plot(
                curve[x],
                curve["rmse_mean"],
                marker="o",
                linewidth=2,
                color=variant_color(frl),
                label=variant_label(frl),
            )
    for name, curve in frame[frame["kind"] == "reference"].groupby("baseline", sort=True):
        curve = curve.sort_values(x)
        ax.plot(
            curve[x],
            curve["rmse_mean"],
            marker=".",
            linewidth=1.2,
            label=f"{name} (reference)",
            **REFERENCE_STYLE.get(name, {"color": "#999999"}),
        )


def plot_rmse_vs_resolution(
    per_resolution: pd.DataFrame, seeds: pd.DataFrame, section: Section
) -> Figure:
    """RMSE against resolution (log-log), one panel per backbone, with the references.

    Persistence and the solver are drawn in every panel; the solver is not scored on its
    reference grid (it is the truth there), which the legend says.

    Args:
        per_resolution: Rows of :func:`~frlbench.report.aggregate.per_resolution_frame` for
            one section (the mean curves).
        seeds: Rows of :func:`~frlbench.report.aggregate.per_seed_frame` for the same section
            (one thin line per seed).
        section: The section (training resolution and test resolutions).
    """
    backbones = model_names(per_resolution)
    fig, axes = panels(
        len(backbones),
        f"{section.task} ({section.profile}): RMSE vs resolution",
        xlabel="resolution (grid points per axis)",
        ylabel="RMSE",
    )
    ticks = [
        f"{r}\n(train)" if r == section.train_resolution else str(r) for r in section.resolutions
    ]
    has_solver = bool(
        ((per_resolution["kind"] == "reference") & (per_resolution["baseline"] == SOLVER)).any()
    )
    for ax, backbone in zip(axes, backbones, strict=True):
        for frl in SHOWN_VARIANTS:
            mine = (seeds["kind"] == "model") & (seeds["baseline"] == backbone)
            for _, run in seeds[mine & (seeds["frl"] == frl)].groupby("seed"):
                run = run.sort_values("resolution")
                ax.plot(
                    run["resolution"],
                    run["rmse"],
                    color=variant_color(frl),
                    alpha=0.35,
                    linewidth=0.8,
                )
        _mean_curves(ax, per_resolution, backbone, "resolution")
        if section.reference_resolution and has_solver:
            ax.add_line(
                Line2D(
                    [],
                    [],
                    color="none",
                    label=f"solver at {section.reference_resolution} = truth (not scored)",
                )
            )
        if len(seeds["seed"].unique()) > 1:
            ax.add_line(Line2D([], [], color="#888888", linewidth=0.8, label="single seeds"))
        ax.set_title(backbone, fontsize=10)
        ax.set_xscale("log", base=2)
        ax.set_xticks(section.resolutions, ticks)
        ax.grid(True, which="major", alpha=0.3)
    log_rmse_axes(axes)
    legend_below(fig, axes)
    return fig


def plot_rollout(rollout: pd.DataFrame, section: Section) -> Figure:
    """RMSE at the finest resolution after each rollout step, one panel per backbone.

    Baseline and FRL are drawn as mean curves over seeds, with the persistence and solver
    references. No interval band: with few seeds the t-interval's lower end often falls
    below zero, which a log axis cannot show.

    Args:
        rollout: Rows of :func:`~frlbench.report.aggregate.rollout_frame` for one section at
            its finest resolution.
        section: The section.
    """
    backbones = model_names(rollout)
    fig, axes = panels(
        len(backbones),
        f"{section.task} ({section.profile}): rollout @{section.finest}",
        xlabel="rollout step",
        ylabel=f"RMSE @{section.finest}",
    )
    for ax, backbone in zip(axes, backbones, strict=True):
        _mean_curves(ax, rollout, backbone, "step")
        ax.set_title(backbone, fontsize=10)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, which="major", alpha=0.3)
    log_rmse_axes(axes)
    legend_below(fig, axes)
    return fig


def _ratio_caption(section: Section) -> str:
    return (
        f"RMSE_Ratio @{section.finest} (vs training resolution {section.train_resolution}), "
        "baseline vs FRL per backbone; error bars: 95% interval across seeds; dashed: ratio 1 "
        "(anchored); dotted: the solver; hatched: no skill at ρ0 (the ratio says nothing about "
        "anchoring there); a log axis when one bar would squash the others. Look for bars "
        "below 1, as the solver's; and read a lower FRL bar next to the RMSEs, not as a better "
        "model."
    )


def _frequency_caption(finest: int) -> str:
    return (
        f"Energy ratio prediction/truth per wavenumber shell @{finest} (log scale; 1 = the "
        "right energy at that scale); k normalized by the training Nyquist (dash-dotted line "
        "at 1); shaded: the truth's own energy per shell (right axis) where the records hold "
        "it. Look right of 1 (the band never seen in training): a curve far below 1 misses "
        "those scales; spikes of FRL curves on the dotted lines are the encoding's own "
        "wavenumbers leaking into the forecast."
    )


def section_figures(
    board: Leaderboard, section: Section, figures_dir: Path, *, root: Path | None = None
) -> tuple[list[Image], list[Path]]:
    """Render the figures of one section; returns their document images and files.

    The frequency-response figure is left out without spectra, the rollout figure without
    model rollouts at the finest resolution.
    """
    finest = section.finest
    per_res = section.select(board.per_resolution)
    at_finest = per_res[per_res["resolution"] == finest]
    frequency = section.select(board.frequency)
    frequency = frequency[frequency["resolution"] == finest] if not frequency.empty else frequency
    rollout = section.select(board.rollout)
    rollout = rollout[rollout["resolution"] == finest] if not rollout.empty else rollout
    plots = [
        (
            "rmse_ratio",
            lambda: plot_rmse_ratio(section.select(board.summary), section),
            _ratio_caption(section),
        ),
        (
            "rmse_vs_resolution",
            lambda: plot_rmse_vs_resolution(per_res, section.select(board.seeds), section),
            "RMSE against resolution (log-log) per backbone, mean over seeds (thin lines: "
            "single seeds), with the persistence and solver references; a lat-lon resolution "
            "n is the n × n/2 grid (n longitudes). Look for lines that fall as the solver's "
            "does: a rising or flat line is a model that gains nothing from a finer grid.",
        ),
        (
            "frequency_response",
            lambda: plot_frequency_response(frequency, section),
            _frequency_caption(finest),
        ),
        (
            "band_errors",
            lambda: plot_band_errors(at_finest, section),
            f"Squared error @{finest} split at the training Nyquist: seen (light) and unseen "
            "(hatched) band side by side (log scale; they sum to the MSE), and the unseen "
            "share of the MSE. Look at which band holds a model's error: a large seen band on "
            "the fine grid is discretization mismatch, a large unseen band scale anchoring.",
        ),
        (
            "seen_band_ratio",
            lambda: plot_seen_band_ratio(
                section.select(board.summary), section.task, section.profile
            ),
            f"Seen-band ratio @{finest} (error in |k| ≤ ρ0/2 over the RMSE at ρ0; 95% nested "
            "bootstrap) against RMSE_Ratio (95% t-interval across seeds) per model row; on the "
            "dotted diagonal the error has no unseen band; above the dashed red line the seen "
            "band grows beyond the tolerance (discretization mismatch); hollow: no skill.",
        ),
        (
            "rollout",
            lambda: plot_rollout(rollout, section),
            f"RMSE @{finest} after each step of an autoregressive rollout (the forecast fed "
            "back as the next input), mean over seeds, log scale, with the persistence and "
            "solver references. Look for models that stay below persistence to the last step.",
        ),
    ]
    images: list[Image] = []
    paths: list[Path] = []
    if not model_names(per_res):  # only references finished: nothing to compare
        return images, paths
    for name, make, caption in plots:
        if name == "frequency_response" and frequency.empty:
            continue
        if name == "rollout" and not model_names(rollout):
            continue
        if name == "seen_band_ratio" and not _has_seen_band_ratio(section.select(board.summary)):
            continue
        stem = f"{name}_{section.slug}"
        paths += save_figure(make(), figures_dir / stem, root=root)
        images.append(Image(stem=f"{figures_dir.name}/{stem}", caption=caption))
    return images, paths
