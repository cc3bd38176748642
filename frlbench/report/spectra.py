"""The report's spectral figures: energy response per wavenumber shell, and the squared
error split at the training Nyquist into the seen and unseen bands."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from frlbench.frl.variants import FULL
from frlbench.report.aggregate import SOLVER, Section
from frlbench.report.plotting import (
    REFERENCE_STYLE,
    SHOWN_VARIANTS,
    category_ticks,
    legend_below,
    legend_columns,
    log_rmse_axes,
    model_names,
    panels,
    variant_color,
    variant_label,
)
from frlbench.spec import FRLConfig

#: Legend entry of the dotted lines at the FRL encoding's wavenumbers.
ENCODING_LABEL = "FRL encoding wavenumbers (m/M of this grid's Nyquist)"


def encoding_positions(section: Section) -> list[float]:
    """The wavenumbers of ``full``'s encoding channels at the finest grid, in units of the
    training Nyquist: m/M of that grid's Nyquist, m = 1..M. An FRL model whose forecast
    carries its own input encoding shows spikes of energy there (the spikes at 1 and 2 on the
    era5 quick leaderboard's 256-grid are its m = 1, 2 channels)."""
    m_max = FRLConfig().encoding_frequencies
    scale = section.finest / section.train_resolution
    return [m / m_max * scale for m in range(1, m_max + 1)]


def _encoding_lines(ax: Axes, section: Section, k_max: float) -> None:
    """Dotted lines at FRL's encoding wavenumbers inside the plotted range."""
    shown = [x for x in encoding_positions(section) if x <= k_max]
    for j, x in enumerate(shown):
        ax.axvline(x, color=variant_color(FULL), linewidth=0.8, linestyle=(0, (1, 3)),
                   label=ENCODING_LABEL if j == 0 else None)  # fmt: skip


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
    backbones = model_names(frequency)
    fig, axes = panels(
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
                ax.plot(
                    curve["k"],
                    curve["response"],
                    color=variant_color(frl),
                    label=variant_label(frl),
                )
        for name, curve in refs.groupby("baseline", sort=True):
            curve = curve.sort_values("k")
            ax.plot(
                curve["k"],
                curve["response"],
                linewidth=1,
                label=f"{name} (reference)",
                **REFERENCE_STYLE.get(name, {"color": "#999999"}),
            )
        ax.axvline(1.0, color="black", linewidth=1, linestyle="-.", label=nyquist)  # red: a variant
        if (model["frl"] == FULL).any():
            _encoding_lines(ax, section, float(frequency["k"].max()))
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
    log_rmse_axes(axes)
    legend_below(fig, axes)
    return fig


def plot_band_errors(per_resolution: pd.DataFrame, section: Section) -> Figure:
    """Seen / unseen squared error at the finest resolution, baseline vs FRL per backbone.

    First: the two bands' MSE side by side on a log axis (the unseen band and the solver's error
    are small beside a model's seen band). Second: the unseen share of the MSE. The solver is
    shown as a last group; persistence is left out.

    Args:
        per_resolution: Rows of :func:`~frlbench.report.aggregate.per_resolution_frame` for
            one section at one resolution.
        section: The section.
    """
    groups = model_names(per_resolution)
    rows = {(r["baseline"], r["frl"]): r for r in per_resolution.to_dict("records")}
    has_solver = any(r["kind"] == "reference" and b == SOLVER for (b, _), r in rows.items())
    width = 0.38
    bars = []  # (position, row, color)
    for i, backbone in enumerate(groups):
        for j, frl in enumerate(SHOWN_VARIANTS):
            if (backbone, frl) in rows:
                bars.append((i + (j - 0.5) * width, rows[(backbone, frl)], variant_color(frl)))
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
    # Side by side on a log axis, not stacked: the unseen band is a few percent of a model's
    # error and the solver's error a fraction of the models', and both must stay visible.
    half = width / 2
    mse_ax.bar(pos - half / 2, seen, half, color=colors, alpha=0.4, edgecolor=colors)
    mse_ax.bar(pos + half / 2, unseen, half, color=colors, edgecolor="#333333", hatch="///",
               linewidth=0.5)  # fmt: skip
    positive = np.concatenate([seen[seen > 0], unseen[unseen > 0]])
    if positive.size:
        mse_ax.set_yscale("log")
        mse_ax.set_ylim(positive.min() / 2, positive.max() * 2)
    mse_ax.set_ylabel(f"MSE @{section.finest} (log scale)")
    mse_ax.set_title("error per band: seen (light), unseen (hatched)", fontsize=10)
    share_ax.bar(pos, 100 * share, width, color=colors, edgecolor="#333333", hatch="///",
                 linewidth=0.5)  # fmt: skip
    share_ax.set_ylim(0, min(105.0, 140 * float(share.max(initial=0.0)) + 2))
    share_ax.set_ylabel("unseen share of the MSE (%)")
    share_ax.set_title("unseen share", fontsize=10)
    for ax in (mse_ax, share_ax):
        category_ticks(ax, np.arange(len(groups)), groups)
        ax.set_xlim(-0.7, len(groups) - 0.3)  # one group's bars would otherwise fill the axes
        ax.tick_params(axis="x", labelbottom=True)
        ax.grid(True, axis="y", alpha=0.3)
    nyquist = f"{section.train_resolution / 2:g}"
    handles = [
        Patch(facecolor=variant_color(frl), label=variant_label(frl)) for frl in SHOWN_VARIANTS
    ] + [
        Patch(facecolor="#999999", alpha=0.4, label=f"seen (|k| ≤ {nyquist})"),
        Patch(
            facecolor="#999999", edgecolor="#333333", hatch="///", label=f"unseen (|k| > {nyquist})"
        ),
    ]
    labels = [h.get_label() for h in handles]
    fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=legend_columns(fig, labels),
        frameon=False,
    )
    fig.suptitle(f"{section.task} ({section.profile}): error by band @{section.finest}")
    return fig
