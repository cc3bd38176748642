"""The ablation table: every FRL variant per backbone at the finest grid, read against the
paper's claims for each FRL step alone (exploratory; the confirmatory test is its own table)."""

from __future__ import annotations

import math

from frlbench.report.aggregate import Leaderboard, Section
from frlbench.report.document import Table
from frlbench.report.formatting import MISSING, fmt_interval, fmt_num, fmt_skill, fmt_slope
from frlbench.report.keys import frl_rank


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
            fmt_skill(row["skill"]),
            fmt_num(row["rmse_finest"]),
            fmt_interval(row["rmse_ratio_mean"], row["rmse_ratio_low"], row["rmse_ratio_high"]),
            fmt_slope(row["slope_mean"], row["slope_low"], row["slope_high"]),
            row.get("slope_interval", MISSING),
            row["label"],
            f"{100 * row['unseen_fraction']:.0f}%"
            if math.isfinite(row["unseen_fraction"])
            else MISSING,
            PAPER_CLAIMS.get(row["frl"], MISSING),
        ]
        for row in models
    ]
    return Table(
        title=f"Ablations (exploratory) — {section.task}, {section.profile} profile",
        columns=[
            "Backbone",
            "FRL variant",
            "Seeds",
            f"Skill @{section.train_resolution}",
            f"RMSE @{finest}",
            f"RMSE_Ratio @{finest}",
            "Slope",
            "Slope interval from",
            "Label",
            f"Unseen share @{finest}",
            "Paper's RMSE_Ratio",
        ],
        rows=rows,
        text=(0, 1, 7, 8, 10),
        note=(
            "Slope interval from: the bootstrap resampled seeds and test trajectories, or "
            "seeds only (records without per-trajectory errors). Unseen share: fraction of "
            "the squared error above the training Nyquist. Paper's RMSE_Ratio: what the "
            "paper reports for that component alone, to read each row against. -rho0 rows: "
            "an arm at the setting chosen by validation at ρ0, where the resolution-transfer "
            "selection chose another (docs/frl_selection.md)."
        ),
    )


#: The paper's claims for each FRL step alone (RMSE_Ratio at the finest grid).
PAPER_CLAIMS = {
    "encoding-only": "0.3–0.4",
    "encoding-only-physical": "0.3–0.4",
    "multires-only": "≈ 1.0",
    "loss-only": "≈ 1.0",
}
