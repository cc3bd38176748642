"""Keep runs of different data sources apart: one leaderboard section per data source.

Runs of one task and profile can have been scored on different data (the era5 task on its
stand-in and on real ERA5, or on two ERA5 copies). Their numbers are not comparable, so the
report never pools them: where the records of a ``(task, profile)`` name several data sources,
each source's records get a profile label of their own, ``"<profile> [source <i>]"`` (``i``
counting the sources in sorted order), and so a section of their own, whose "Data:" line names
the source. Records that name no source (written before frlbench recorded it) keep the plain
profile. A single source leaves every record as it is.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Sequence

from frlbench.records import RunRecord


def separate_data_sources(records: Sequence[RunRecord]) -> list[RunRecord]:
    """``records`` with the profile of each multi-source group labelled by its source
    (copies; the records given are not changed)."""
    sources: dict[tuple[str, str], set[str]] = defaultdict(set)
    for rec in records:
        if rec.data_source:
            sources[(rec.task, rec.profile)].add(rec.data_source)
    out = []
    for rec in records:
        found = sorted(sources.get((rec.task, rec.profile), ()))
        if len(found) > 1 and rec.data_source:
            label = f"{rec.profile} [source {found.index(rec.data_source) + 1}]"
            rec = dataclasses.replace(rec, profile=label)
        out.append(rec)
    return out
