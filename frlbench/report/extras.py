"""A table of every metric beyond the fixed schema (``ResolutionMetrics.extra``).

A metric registered with ``@register_metric`` lands in ``extra``; this table shows whatever
names appear there, so a new metric reaches the report without editing the report.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence

from frlbench.records import RunRecord
from frlbench.report.document import Table


def extra_metrics_table(
    records: Sequence[RunRecord], task: str, profile: str, resolution: int
) -> Table | None:
    """Mean over seeds of every ``extra`` metric at ``resolution``, per configuration.

    Returns:
        ``None`` when no finished record of the section has an extra metric.
    """
    values: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    names: list[str] = []
    for rec in records:
        if rec.status != "ok" or rec.task != task or rec.profile != profile:
            continue
        m = rec.metric(resolution)
        if m is None:
            continue
        for name, value in m.extra.items():
            if name not in names:
                names.append(name)
            values[(rec.kind, rec.baseline, rec.frl)][name].append(value)
    if not names:
        return None
    rows = []
    for (kind, baseline, frl), by_name in sorted(values.items()):
        label = f"{baseline} (reference)" if kind == "reference" else baseline
        cells = []
        for name in names:
            seen = [v for v in by_name.get(name, []) if math.isfinite(v)]
            cells.append(f"{sum(seen) / len(seen):.4g}" if seen else "—")
        rows.append([label, frl if kind == "model" else "—", *cells])
    return Table(
        title=f"Other metrics @{resolution} — {task}, {profile} profile",
        columns=["Baseline", "FRL", *names],
        rows=rows,
        note="Registered metrics beyond the fixed columns; mean over seeds.",
        text=(0, 1),
    )
