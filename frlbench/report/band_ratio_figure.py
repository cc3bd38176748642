"""The seen-band ratio figure: RMSE_Ratio against seen-band ratio per model row, with intervals.

A point on the diagonal has no error above the training Nyquist (its ratio is all seen band);
a point far to the right of it is held up by the unseen band (scale anchoring); a point above
the tolerance line grows its error in the band it was trained on (discretization mismatch).
The numbers are the summary's (:mod:`frlbench.report.mechanism`); nothing is computed here.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from frlbench.report.plotting import variant_color, variant_label
from frlbench.stats import NO_SKILL, tolerance_factor


def _errors(rows: pd.DataFrame, name: str) -> np.ndarray:
    """``(2, n)`` distances from each mean to its interval's ends (0 where there is none)."""
    mean = rows[f"{name}_mean"].to_numpy(float)
    low = np.nan_to_num(mean - rows[f"{name}_low"].to_numpy(float))
    high = np.nan_to_num(rows[f"{name}_high"].to_numpy(float) - mean)
    return np.vstack([np.clip(low, 0, None), np.clip(high, 0, None)])


def plot_seen_band_ratio(summary: pd.DataFrame, task: str, profile: str) -> Figure:
    """RMSE_Ratio (x, 95% t-interval across seeds) against the seen-band ratio (y, 95% nested
    bootstrap) at the finest grid, one point per model row, coloured by FRL variant; hollow:
    no skill at ρ0.

    Raises:
        ValueError: If no model row has a seen-band ratio.
    """
    models = summary[(summary["kind"] == "model") & summary["seen_ratio_mean"].notna()]
    models = models[np.isfinite(models["rmse_ratio_mean"].to_numpy(float))]
    if models.empty:
        raise ValueError(f"{task} ({profile}): no model row with a seen-band ratio to plot")
    row0 = models.iloc[0]
    finest, rho0 = int(row0["finest_resolution"]), int(row0["train_resolution"])
    fig = Figure(figsize=(6.4, 5.2), layout="constrained")
    ax = fig.subplots()
    for frl, rows in models.groupby("frl", sort=False):
        color = variant_color(str(frl))
        skill = rows["label"] != NO_SKILL
        label: str | None = variant_label(str(frl))  # on the first marker drawn, filled or not
        for mask, face in ((skill, color), (~skill, "none")):
            part = rows[mask]
            if part.empty:
                continue
            ax.errorbar(
                part["rmse_ratio_mean"],
                part["seen_ratio_mean"],
                xerr=_errors(part, "rmse_ratio"),
                yerr=_errors(part, "seen_ratio"),
                fmt="o",
                color=color,
                markerfacecolor=face,
                capsize=2,
                label=label,
            )
            label = None
        for _, row in rows.iterrows():
            ax.annotate(
                row["baseline"], (row["rmse_ratio_mean"], row["seen_ratio_mean"]),
                xytext=(3, 3), textcoords="offset points", fontsize=7,
            )  # fmt: skip
    top = float(np.nanmax(models[["rmse_ratio_mean", "seen_ratio_mean"]].to_numpy(float)))
    span = np.array([0.0, max(top * 1.1, 1.2)])
    ax.plot(span, span, color="#777777", linestyle=":", linewidth=1, label="no unseen-band error")
    tolerance = tolerance_factor(finest, rho0) if rho0 else math.nan
    ax.axhline(1.0, color="#999999", linestyle="--", linewidth=0.8)
    ax.axhline(tolerance, color="#c44e52", linestyle="--", linewidth=1,
               label=f"tolerance {tolerance:.3f} (mismatch above)")  # fmt: skip
    ax.set_xlim(0, span[1])
    ax.set_ylim(0, span[1])
    ax.set_xlabel(f"RMSE_Ratio @{finest}")
    ax.set_ylabel(f"seen-band ratio @{finest} (modes ≤ ρ0/2 = {rho0 / 2:g})")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    fig.suptitle(f"{task} ({profile}): seen-band ratio vs RMSE_Ratio @{finest}")
    return fig
