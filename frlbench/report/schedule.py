"""Can a cheaper FRL scheme replace the one it approximates? The table that decides.

A variant named ``<name>-sched`` (coarse levels visited on a schedule, e.g. ``full-sched``) may
become the default in place of ``<name>`` only if, at every test grid, its mean RMSE over seeds
lies inside the 95% seed interval of ``<name>``'s RMSE there. This module shows that rule per
backbone, next to the ratio of their training step times, so the decision can be read off the
committed leaderboard instead of being made by eye.
"""

from __future__ import annotations

import math

from frlbench.report.aggregate import Leaderboard, Section
from frlbench.report.document import Table
from frlbench.report.formatting import MISSING, fmt_interval, fmt_num, fmt_ratio, pair
from frlbench.report.keys import index_rows

#: Name suffix of a scheduled variant; the variant without it is the scheme it approximates.
SCHED_SUFFIX = "-sched"


def within(mean: float, low: float, high: float) -> bool | None:
    """``mean`` inside ``[low, high]``; None when there is no interval (fewer than 2 seeds)."""
    if not (math.isfinite(low) and math.isfinite(high) and math.isfinite(mean)):
        return None
    return low <= mean <= high


def schedule_rows(board: Leaderboard, section: Section) -> list[dict]:
    """One dict per (backbone, scheduled variant with its every-step variant present).

    Keys: ``baseline``, ``variant``, ``base`` (the every-step variant), ``n_seeds`` (the
    smaller of the two), ``cells`` (per test resolution: the base's mean, low, high and the
    variant's mean), ``outside`` (resolutions where the variant's mean lies outside the base's
    interval), ``eligible`` (True / False, None without intervals), ``time_ratio`` (variant's
    mean step time over the base's).
    """
    per_res = section.select(board.per_resolution)
    per_res = per_res[per_res["kind"] == "model"]
    summary = section.select(board.summary)
    summary = summary[summary["kind"] == "model"]
    step_time = {
        key: row["time_per_step_s"] for key, row in index_rows(summary, ["baseline", "frl"]).items()
    }
    rmse = index_rows(per_res, ["baseline", "frl", "resolution"])
    rows = []
    for baseline, variant in sorted(step_time):
        base = variant.removesuffix(SCHED_SUFFIX)
        if base == variant or (baseline, base) not in step_time:
            continue
        cells, outside, verdicts, seeds = {}, [], [], []
        for res in section.resolutions:
            ref, cheap = rmse.get((baseline, base, res)), rmse.get((baseline, variant, res))
            if ref is None or cheap is None:
                continue
            cells[res] = (ref["rmse_mean"], ref["rmse_low"], ref["rmse_high"], cheap["rmse_mean"])
            verdict = within(cheap["rmse_mean"], ref["rmse_low"], ref["rmse_high"])
            verdicts.append(verdict)
            seeds += [int(ref["n_seeds"]), int(cheap["n_seeds"])]
            if verdict is False:
                outside.append(res)
        if not cells:
            continue
        eligible = None if None in verdicts else not outside
        base_time = step_time[(baseline, base)]
        rows.append(
            {
                "baseline": baseline,
                "variant": variant,
                "base": base,
                "n_seeds": min(seeds),
                "cells": cells,
                "outside": outside,
                "eligible": eligible,
                "time_ratio": step_time[(baseline, variant)] / base_time
                if base_time > 0
                else math.nan,
            }
        )
    return rows


def _decision(row: dict) -> str:
    if row["eligible"] is None:
        return "no interval (one seed)"
    if row["eligible"]:
        return "yes: within at every grid"
    return "no: outside at " + ", ".join(str(r) for r in row["outside"])


def schedule_table(board: Leaderboard, section: Section) -> Table | None:
    """The rule above per backbone; None when the section has no scheduled variant."""
    rows = schedule_rows(board, section)
    if not rows:
        return None
    body = []
    for row in rows:
        cells = []
        for res in section.resolutions:
            if res not in row["cells"]:
                cells.append(MISSING)
                continue
            mean, low, high, cheap = row["cells"][res]
            cells.append(pair(fmt_interval(mean, low, high), fmt_num(cheap)))
        body.append(
            [
                row["baseline"],
                f"{row['base']} → {row['variant']}",
                str(row["n_seeds"]),
                *cells,
                fmt_ratio(row["time_ratio"]),
                _decision(row),
            ]
        )
    return Table(
        title=f"Cheaper FRL schemes — {section.task}, {section.profile} profile",
        columns=[
            "Backbone",
            "Scheme",
            "Seeds",
            *[f"RMSE @{r}" for r in section.resolutions],
            "Step time ×",
            "Could be the default",
        ],
        rows=body,
        text=(0, 1, len(section.resolutions) + 4),
        note=(
            "RMSE cells read 'every-step scheme (mean ± 95% seed interval) → scheduled "
            "scheme (mean)'. A scheduled scheme could replace the every-step one only if its "
            "mean lies inside that interval at every test grid. Step time × is its training "
            "step time over the every-step scheme's, as measured in these runs."
        ),
    )
