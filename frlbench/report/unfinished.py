"""Configurations with a seed that did not finish: no mean, no ratio, no label, only a count.

A mean over the seeds that happened to finish would hide the ones that diverged (a model whose
forecast holds NaN at a fine grid would look as good as its finite seeds). Such a configuration
is left out of every number; its leaderboard row says ``k of n seeds diverged (grid 32)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd

from frlbench.records import RunRecord
from frlbench.report.keys import CONFIG_KEYS, sort_configs

#: How a diverged record's reason names the grids it failed at (see
#: :func:`frlbench.records.non_finite_reason`).
_GRIDS = re.compile(r"\bgrids? ((?:\d+)(?:, \d+)*)")


def config_key(record: RunRecord) -> tuple[str, ...]:
    """The configuration ``(task, profile, kind, baseline, frl)`` of a record."""
    return (record.task, record.profile, record.kind, record.baseline, record.frl)


def _grids(records: Sequence[RunRecord]) -> list[str]:
    found: dict[str, None] = {}
    for rec in records:
        match = _GRIDS.search(rec.reason)
        for grid in match.group(1).split(", ") if match else ():
            found[grid] = None
    return sorted(found, key=int)


def unfinished_configs(
    ok: Sequence[RunRecord], not_finished: Sequence[RunRecord]
) -> dict[tuple[str, ...], str]:
    """Configurations with at least one seed diverged or failed -> the text of their row."""
    bad: dict[tuple[str, ...], list[RunRecord]] = {}
    for rec in not_finished:
        bad.setdefault(config_key(rec), []).append(rec)
    texts = {}
    for key, records in bad.items():
        bad_seeds = {r.seed for r in records}
        seeds = bad_seeds | {r.seed for r in ok if config_key(r) == key}
        parts = []
        for status in ("diverged", "failed"):
            these = [r for r in records if r.status == status]
            count = len({r.seed for r in these})
            if not count:
                continue
            text = f"{count} of {len(seeds)} seeds {status}"
            grids = _grids(these)
            if status == "diverged":
                text += f" (grid {', '.join(grids)})" if grids else " (non-finite loss)"
            parts.append(text)
        texts[key] = "; ".join(parts)
    return texts


def add_unfinished_rows(
    summary: pd.DataFrame,
    unfinished: dict[tuple[str, ...], str],
    records: Sequence[RunRecord],
) -> pd.DataFrame:
    """``summary`` with one row per unfinished configuration: its keys, backbone, size, the
    number of finished seeds and the label ``k of n seeds diverged``; every number NaN."""
    if not unfinished:
        return summary
    rows = []
    for key, text in unfinished.items():
        mine = [r for r in records if config_key(r) == key]
        finished = {r.seed for r in mine if r.status == "ok"}
        row = dict(zip(CONFIG_KEYS, key, strict=True))
        row.update(
            backbone=mine[0].backbone,
            size=mine[0].size,
            n_seeds=len(finished),
            train_resolution=mine[0].train_resolution,
            label=text,
            slope_interval="",
            equivalent_solver_resolution="",
        )
        rows.append(row)
    extra = pd.DataFrame(rows)
    frame = extra if summary.empty else pd.concat([summary, extra], ignore_index=True)
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].where(frame[column].notna(), "")
    return sort_configs(frame)


def drop_unfinished(
    records: Sequence[RunRecord], unfinished: dict[tuple[str, ...], str]
) -> list[RunRecord]:
    """``records`` without those of an unfinished configuration."""
    return [r for r in records if config_key(r) not in unfinished]
