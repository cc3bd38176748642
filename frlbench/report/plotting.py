"""What the report's figures share: colours and labels of the FRL variants, panel grids,
category ticks, legends, and saving with fixed metadata (so the same records give the same
files)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogFormatterSciNotation, LogLocator

from frlbench.frl.variants import FULL, OFF, VARIANT_NAMES
from frlbench.safeio import atomic_path

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
    "seen_band_ratio",
)
VARIANT_LABELS = {OFF: "baseline (FRL off)", FULL: "FRL"}


def variant_label(frl: str) -> str:
    """The legend label of an FRL variant."""
    return VARIANT_LABELS.get(frl, f"FRL {frl}")


def variant_color(frl: str) -> str:
    """The colour of an FRL variant (grey for one without its own)."""
    return VARIANT_COLORS.get(frl, "#999999")


def panels(n: int, title: str, xlabel: str, ylabel: str) -> tuple[Figure, list[Axes]]:
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


def category_ticks(ax: Axes, positions: np.ndarray, names: list[str]) -> None:
    """Tick labels under groups of bars, slanted when they would not fit side by side."""
    width_in = ax.get_figure().get_figwidth() * ax.get_position().width
    longest = max((len(line) for n in names for line in n.splitlines()), default=0)
    crowded = longest * 0.085 > width_in / max(len(names), 1)
    if crowded:
        ax.set_xticks(positions, names, rotation=25, ha="right", rotation_mode="anchor")
    else:
        ax.set_xticks(positions, names)


def legend_columns(fig: Figure, labels: list[str]) -> int:
    """As many legend columns as fit the figure's width (rough width of an entry in inches)."""
    entry = 0.9 + 0.075 * max(len(label) for label in labels)
    fit = max(1, int(fig.get_figwidth() // entry))
    return min(len(labels), fit)


def legend_below(fig: Figure, axes: list[Axes]) -> None:
    """One legend under the panels, each label once."""
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
            ncols=legend_columns(fig, labels),
            frameon=False,
        )


def model_names(frame: pd.DataFrame) -> list[str]:
    """The model (not reference) baselines of ``frame``, in order of appearance."""
    return list(dict.fromkeys(frame.loc[frame["kind"] == "model", "baseline"]))


def log_rmse_axes(axes: list[Axes]) -> None:
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
