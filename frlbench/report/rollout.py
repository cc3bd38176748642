"""The rollout table: RMSE after each autoregressive step at the finest grid, baseline → FRL."""

from __future__ import annotations

import pandas as pd

from frlbench.frl.variants import FULL as FRL
from frlbench.frl.variants import OFF
from frlbench.report.aggregate import Leaderboard, Section
from frlbench.report.document import Table
from frlbench.report.formatting import MISSING, fmt_interval, fmt_num, pair
from frlbench.report.keys import index_rows


def _models(frame: pd.DataFrame) -> list[str]:
    """The model (not reference) baselines of ``frame``, in order of appearance."""
    return list(dict.fromkeys(frame.loc[frame["kind"] == "model", "baseline"]))


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
    by_step = index_rows(frame[frame["resolution"] == finest], ["kind", "baseline", "frl", "step"])
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
