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
from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation, LogLocator, MaxNLocator

from frlbench.frl.variants import FULL, OFF, VARIANT_NAMES
from frlbench.report.aggregate import SOLVER, Leaderboard, Section
from frlbench.report.document import Image
from frlbench.safeio import atomic_path
from frlbench.stats import NO_SKILL

PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#8172b3", "#937860", "#da8bc3", "#8c8c8c", "#c44e52")
VARIANT_COLORS = dict(zip(VARIANT_NAMES, PALETTE, strict=False))
REFERENCE_STYLE = {
    "persistence": {"color": "#7f7f7f", "linestyle": "--"},
    "solver": {"color": "#222222", "linestyle": ":"},
}
SHOWN_VARIANTS = (OFF, FULL)
#: File-name prefixes of the figures this module writes (``<kind>_<task>_<profile>.png``).
FIGURE_KINDS = (
    "rmse_ratio",
    "rmse_vs_resolution",
    "frequency_response",
    "band_errors",
    "rollout",
)
VARIANT_LABELS = {OFF: "baseline (FRL off)", FULL: "FRL"}


def _variant_label(frl: str) -> str:
    return VARIANT_LABELS.get(frl, f"FRL {frl}")


def _color(frl: str) -> str:
    return VARIANT_COLORS.get(frl, "#999999")


def _panels(n: int, title: str, xlabel: str, ylabel: str) -> tuple[Figure, list[Axes]]:
    """A grid of ``n`` panels (up to four per row) sharing both axes."""
    if n < 1:
        raise ValueError(f"{title}: no model rows to plot")
    ncols = min(n, 4)
    nrows = math.ceil(n / ncols)
    width = max(3.6 * ncols + 0.4, 5.0)  # room for the title and legend under one panel
    fig = Figure(figsize=(width, 3.0 * nrows + 0.9), layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True)
    axes = list(grid.flat[:n])
    for ax in grid.flat[n:]:
        ax.set_visible(False)
    for i, ax in enumerate(axes):
        if i % ncols == 0:
            ax.set_ylabel(ylabel)
        if i + ncols >= n:  # no panel below: this one carries the x labels
            ax.xaxis.set_tick_params(labelbottom=True)
            ax.set_xlabel(xlabel)
    fig.suptitle(title)
    return fig, axes


def _category_ticks(ax: Axes, positions: np.ndarray, names: list[str]) -> None:
    """Tick labels under groups of bars, slanted when they would not fit side by side."""
    width_in = ax.get_figure().get_figwidth() * ax.get_position().width
    longest = max((len(line) for n in names for line in n.splitlines()), default=0)
    crowded = longest * 0.085 > width_in / max(len(names), 1)
    if crowded:
        ax.set_xticks(positions, names, rotation=25, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticks(positions, names)


def _legend_columns(fig: Figure, labels: list[str]) -> int:
    """As many legend columns as fit the figure's width (rough width of an entry in inches)."""
    entry = 0.9 + 0.075 * max(len(label) for label in labels)
    fit = max(1, int(fig.get_figwidth() // entry))
    return min(len(labels), fit)


def _legend_below(fig: Figure, axes: list[Axes]) -> None:
    handles, labels = {}, []
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in handles:
                handles[label] = handle
                labels.append(label)
    if labels:
        fig.legend(
            [handles[lb] for lb in labels],
            labels,
            loc="outside lower center",
            ncols=_legend_columns(fig, labels),
            frameon=False,
        )


def _models(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame.loc[frame["kind"] == "model", "baseline"]))


def plot_rmse_ratio(summary: pd.DataFrame, section: Section) -> Figure:
    """Bars of RMSE_Ratio at the finest resolution, baseline vs FRL per backbone.

    Rows without skill at ρ0 are hatched and faded: their ratio says nothing about anchoring.

    Args:
        summary: Rows of :func:`~frlbench.report.aggregate.summary_frame` for one section.
        section: The section (for the resolutions in the labels).
    """
    backbones = _models(summary)
    fig = Figure(figsize=(max(4.5, 1.3 * len(backbones) + 2.5), 3.8), layout="constrained")
    ax = fig.subplots()
    width = 0.38
    x = np.arange(len(backbones))
    rows = {(r["baseline"], r["frl"]): r for r in summary.to_dict("records")}
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
            pos, np.nan_to_num(means), width, color=_color(frl), label=_variant_label(frl)
        )
        for bar, backbone in zip(bars, backbones, strict=True):
            if rows.get((backbone, frl), {}).get("label") == NO_SKILL:
                bar.set_alpha(0.45)
                bar.set_hatch("///")
                no_skill = True
        has_ci = np.isfinite(halves) & np.isfinite(means)
        if has_ci.any():
            ax.errorbar(
                pos[has_ci],
                means[has_ci],
                yerr=halves[has_ci],
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
    _category_ticks(ax, x, backbones)
    ax.set_xlim(-0.7, len(backbones) - 0.3)
    ax.set_ylim(0, max(tops) * 1.15)
    ax.set_ylabel(f"RMSE_Ratio  (RMSE @{section.finest} / RMSE @{section.train_resolution})")
    ax.set_title(f"{section.task} ({section.profile}): RMSE_Ratio @{section.finest}")
    variants = {_variant_label(frl): frl for frl in SHOWN_VARIANTS}
    handles = [  # plain patches: a hatched first bar must not restyle the legend entry
        Patch(facecolor=_color(variants[label]), label=label) if label in variants else handle
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
                color=_color(frl),
                label=_variant_label(frl),
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
    backbones = _models(per_resolution)
    fig, axes = _panels(
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
                    run["resolution"], run["rmse"], color=_color(frl), alpha=0.35, linewidth=0.8
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
    _log_rmse_axes(axes)
    _legend_below(fig, axes)
    return fig


def _log_rmse_axes(axes: list[Axes]) -> None:
    """Log-scale y axes (shared) with labelled ticks whatever range the curves span.

    RMSE curves of models often span less than a decade, where plain decade ticks would
    leave the axis unlabelled: there, 1-2-5 ticks. A solver that reproduces the truth at the
    reference resolution (RMSE ~1e-8) stretches the axis over many decades: there, decade
    ticks (every few decades when many). Call after every curve is drawn.
    """
    for ax in axes:
        ax.set_yscale("log")
        ax.minorticks_off()
    low, high = axes[0].get_ylim()
    decades = math.log10(high / low) if low > 0 and high > low else 0.0
    for ax in axes:
        if decades <= 2:
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        else:
            ax.yaxis.set_major_locator(LogLocator(base=10, numticks=6))
            ax.yaxis.set_major_formatter(LogFormatterSciNotation(base=10))


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
    backbones = _models(rollout)
    fig, axes = _panels(
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
    _log_rmse_axes(axes)
    _legend_below(fig, axes)
    return fig


def plot_frequency_response(frequency: pd.DataFrame, section: Section) -> Figure:
    """Energy ratio prediction/truth per shell at the finest resolution, per backbone.

    The ratio is drawn on a log axis (it spans decades where a model puts too much or too
    little energy at small scales), with ratio 1 and the training Nyquist marked. The truth's
    own shell spectrum is drawn on a second log axis (right), so that ratios in shells that
    hold almost no energy are read as such; records without it say so in the legend.

    Args:
        frequency: Rows of :func:`~frlbench.report.aggregate.frequency_frame` for one section
            at one resolution.
        section: The section.
    """
    backbones = _models(frequency)
    fig, axes = _panels(
        len(backbones),
        f"{section.task} ({section.profile}): frequency response @{section.finest}",
        xlabel="k / training Nyquist",
        ylabel="energy ratio prediction / truth",
    )
    refs = frequency[frequency["kind"] == "reference"]
    truth = (
        frequency.dropna(subset=["truth_energy"]).groupby("k", sort=True)["truth_energy"].mean()
        if "truth_energy" in frequency
        else pd.Series(dtype=float)
    )
    truth = truth[truth > 0]
    nyquist = f"training Nyquist (ρ0/2 = {section.train_resolution / 2:g})"
    ncols = min(len(backbones), 4)
    twins = []
    for i, (ax, backbone) in enumerate(zip(axes, backbones, strict=True)):
        model = frequency[(frequency["kind"] == "model") & (frequency["baseline"] == backbone)]
        for frl in SHOWN_VARIANTS:
            curve = model[model["frl"] == frl].sort_values("k")
            if not curve.empty:
                ax.plot(curve["k"], curve["response"], color=_color(frl), label=_variant_label(frl))
        for name, curve in refs.groupby("baseline", sort=True):
            curve = curve.sort_values("k")
            ax.plot(
                curve["k"],
                curve["response"],
                linewidth=1,
                label=f"{name} (reference)",
                **REFERENCE_STYLE.get(name, {"color": "#999999"}),
            )
        ax.axvline(1.0, color="#c44e52", linewidth=1, label=nyquist)
        ax.axhline(1.0, color="#bbbbbb", linewidth=0.8, zorder=0)
        ax.set_title(backbone, fontsize=10)
        ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        if truth.empty:
            ax.add_line(Line2D([], [], color="none", label="truth spectrum: not in the records"))
            continue
        twin = ax.twinx()
        twin.fill_between(truth.index, truth.to_numpy(), color="#999999", alpha=0.18, zorder=0)
        twin.plot(truth.index, truth.to_numpy(), color="#777777", linewidth=0.8)
        twin.set_yscale("log")
        if i % ncols == ncols - 1 or i == len(backbones) - 1:
            twin.set_ylabel("truth energy per shell (shaded)", color="#555555")
        else:
            twin.tick_params(labelright=False)
        twins.append(twin)
        ax.add_line(Line2D([], [], color="#777777", linewidth=0.8, label="truth spectrum (right)"))
    if twins:
        low = min(t.get_ylim()[0] for t in twins)
        high = max(t.get_ylim()[1] for t in twins)
        for twin in twins:
            twin.set_ylim(low, high)
    _log_rmse_axes(axes)
    _legend_below(fig, axes)
    return fig


def plot_band_errors(per_resolution: pd.DataFrame, section: Section) -> Figure:
    """Seen / unseen squared error at the finest resolution, baseline vs FRL per backbone.

    Left: the two bands stacked to the MSE. Right: the unseen share of the MSE. The solver is
    shown as a last group; persistence is left out (its error would dwarf the models').

    Args:
        per_resolution: Rows of :func:`~frlbench.report.aggregate.per_resolution_frame` for
            one section at one resolution.
        section: The section.
    """
    groups = _models(per_resolution)
    rows = {(r["baseline"], r["frl"]): r for r in per_resolution.to_dict("records")}
    has_solver = any(r["kind"] == "reference" and b == SOLVER for (b, _), r in rows.items())
    width = 0.38
    bars = []  # (position, row, color)
    for i, backbone in enumerate(groups):
        for j, frl in enumerate(SHOWN_VARIANTS):
            if (backbone, frl) in rows:
                bars.append((i + (j - 0.5) * width, rows[(backbone, frl)], _color(frl)))
    if has_solver:
        solver_row = next(r for (b, _), r in rows.items() if b == SOLVER)
        bars.append((len(groups), solver_row, REFERENCE_STYLE[SOLVER]["color"]))
        groups = [*groups, "solver\n(reference)"]
    pos = np.array([b[0] for b in bars], dtype=float)
    colors = [b[2] for b in bars]
    seen = np.nan_to_num(np.array([b[1]["mse_seen"] for b in bars], dtype=float))
    unseen = np.nan_to_num(np.array([b[1]["mse_unseen"] for b in bars], dtype=float))
    total = seen + unseen
    share = np.divide(unseen, total, out=np.zeros_like(total), where=total > 0)

    stacked = len(groups) > 4  # many groups: one panel above the other, not a long strip
    fig = Figure(
        figsize=(max(8.0, (1.0 if stacked else 2.4) * len(groups) + 1.5), 7.0 if stacked else 4.0),
        layout="constrained",
    )
    mse_ax, share_ax = fig.subplots(2 if stacked else 1, 1 if stacked else 2, sharex=True)
    mse_ax.bar(pos, seen, width, color=colors, alpha=0.4, edgecolor=colors)
    mse_ax.bar(pos, unseen, width, bottom=seen, color=colors, edgecolor="white", hatch="///")
    mse_ax.set_ylabel(f"MSE @{section.finest}")
    mse_ax.set_title("error by band (stacked)", fontsize=10)
    share_ax.bar(pos, 100 * share, width, color=colors, edgecolor="white", hatch="///")
    share_ax.set_ylim(0, 105)
    share_ax.set_ylabel("unseen share of the MSE (%)")
    share_ax.set_title("unseen share", fontsize=10)
    for ax in (mse_ax, share_ax):
        _category_ticks(ax, np.arange(len(groups)), groups)
        ax.set_xlim(-0.7, len(groups) - 0.3)  # one group's bars would otherwise fill the axes
        ax.tick_params(axis="x", labelbottom=True)
        ax.grid(True, axis="y", alpha=0.3)
    nyquist = f"{section.train_resolution / 2:g}"
    handles = [
        Patch(facecolor=_color(frl), label=_variant_label(frl)) for frl in SHOWN_VARIANTS
    ] + [
        Patch(facecolor="#999999", alpha=0.4, label=f"seen (|k| ≤ {nyquist})"),
        Patch(
            facecolor="#999999", edgecolor="white", hatch="///", label=f"unseen (|k| > {nyquist})"
        ),
    ]
    labels = [h.get_label() for h in handles]
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=_legend_columns(fig, labels),
        frameon=False,
    )
    fig.suptitle(f"{section.task} ({section.profile}): error by band @{section.finest}")
    return fig


def save_figure(fig: Figure, stem: Path, *, root: Path | None = None) -> list[Path]:
    """Write ``stem.png`` and ``stem.pdf`` with fixed metadata (atomically, inside ``root``);
    return both paths."""
    png, pdf = stem.with_suffix(".png"), stem.with_suffix(".pdf")
    with atomic_path(png, root=root) as tmp:
        fig.savefig(tmp, format="png", dpi=150, metadata={"Software": None})
    with atomic_path(pdf, root=root) as tmp:
        metadata = {"CreationDate": None, "ModDate": None, "Producer": None}
        fig.savefig(tmp, format="pdf", metadata=metadata)
    return [png, pdf]


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
    ci = "error bars: 95% interval across seeds"
    plots = [
        (
            "rmse_ratio",
            lambda: plot_rmse_ratio(section.select(board.summary), section),
            f"RMSE_Ratio @{finest} (vs training resolution {section.train_resolution}), "
            f"baseline vs FRL per backbone; {ci}; dashed: ratio 1 (anchored); hatched: no "
            "skill at ρ0 (the ratio says nothing about anchoring there).",
        ),
        (
            "rmse_vs_resolution",
            lambda: plot_rmse_vs_resolution(per_res, section.select(board.seeds), section),
            "RMSE against resolution (log-log) per backbone, mean over seeds (thin lines: "
            "single seeds), with the persistence and solver references; a lat-lon resolution "
            "n is the n × n/2 grid (n longitudes).",
        ),
        (
            "frequency_response",
            lambda: plot_frequency_response(frequency, section),
            f"Energy ratio prediction/truth per wavenumber shell @{finest} (log scale; 1 = "
            "the right energy at that scale); k normalized by the training Nyquist (vertical "
            "line at 1); shaded: the truth's own energy per shell (right axis) where the "
            "records hold it.",
        ),
        (
            "band_errors",
            lambda: plot_band_errors(at_finest, section),
            f"Squared error @{finest} split at the training Nyquist: seen (light) and unseen "
            "(hatched) bands stack to the MSE (left); unseen share of the MSE (right).",
        ),
        (
            "rollout",
            lambda: plot_rollout(rollout, section),
            f"RMSE @{finest} after each step of an autoregressive rollout (the forecast fed "
            "back as the next input), mean over seeds, log scale, with the persistence and "
            "solver references.",
        ),
    ]
    images: list[Image] = []
    paths: list[Path] = []
    if not _models(per_res):  # only references finished: nothing to compare
        return images, paths
    for name, make, caption in plots:
        if name == "frequency_response" and frequency.empty:
            continue
        if name == "rollout" and not _models(rollout):
            continue
        stem = f"{name}_{section.slug}"
        paths += save_figure(make(), figures_dir / stem, root=root)
        images.append(Image(stem=f"{figures_dir.name}/{stem}", caption=caption))
    return images, paths
