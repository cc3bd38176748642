"""Tables beyond the fixed columns: registered extra metrics, and ACC and per-variable errors.

A metric registered with ``@register_metric`` lands in ``ResolutionMetrics.extra``; its table
shows whatever names appear there, so a new metric reaches the report without editing the
report. Weather tasks (records with an ACC) get a table of ACC and per-variable RMSE.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence

from frlbench.records import RunRecord
from frlbench.report.document import Table


def _config_means(
    records: Sequence[RunRecord],
    task: str,
    profile: str,
    values: Callable[[RunRecord], dict[str, float]],
) -> tuple[list[str], list[list[str]]]:
    """Column names (first-seen order) and one row per configuration: the mean over seeds of
    each of ``values(record)`` over the section's finished records ("—" where none is finite)."""
    collected: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    names: list[str] = []
    for rec in records:
        if rec.status != "ok" or rec.task != task or rec.profile != profile:
            continue
        for name, value in values(rec).items():
            if name not in names:
                names.append(name)
            collected[(rec.kind, rec.baseline, rec.frl)][name].append(value)
    rows = []
    for (kind, baseline, frl), by_name in sorted(collected.items()):
        label = f"{baseline} (reference)" if kind == "reference" else baseline
        cells = []
        for name in names:
            seen = [v for v in by_name.get(name, []) if math.isfinite(v)]
            cells.append(f"{sum(seen) / len(seen):.4g}" if seen else "—")
        rows.append([label, frl if kind == "model" else "—", *cells])
    return names, rows


def extra_metrics_table(
    records: Sequence[RunRecord], task: str, profile: str, resolution: int
) -> Table | None:
    """Mean over seeds of every ``extra`` metric at ``resolution``, per configuration.

    Returns:
        ``None`` when no finished record of the section has an extra metric.
    """

    def values(rec: RunRecord) -> dict[str, float]:
        m = rec.metric(resolution)
        return dict(m.extra) if m is not None else {}

    names, rows = _config_means(records, task, profile, values)
    if not names:
        return None
    return Table(
        title=f"Other metrics @{resolution} — {task}, {profile} profile",
        columns=["Baseline", "FRL", *names],
        rows=rows,
        note="Registered metrics beyond the fixed columns; mean over seeds.",
        text=(0, 1),
    )


def weather_table(
    records: Sequence[RunRecord], task: str, profile: str, train_resolution: int, finest: int
) -> Table | None:
    """ACC at the training and finest resolutions, and RMSE and ACC per variable at the finest.

    Returns:
        ``None`` when no finished record of the section has an ACC (not a weather task).
    """

    def values(rec: RunRecord) -> dict[str, float]:
        out: dict[str, float] = {}
        for resolution in dict.fromkeys((train_resolution, finest)):
            m = rec.metric(resolution)
            if m is not None and m.acc is not None:
                out[f"ACC @{resolution}"] = m.acc
        m = rec.metric(finest)
        if not out or m is None:
            return {}
        for variable, metrics in m.per_variable.items():
            for name in ("rmse", "acc"):
                if name in metrics:
                    out[f"{name.upper()} {variable} @{finest}"] = metrics[name]
        return out

    names, rows = _config_means(records, task, profile, values)
    if not names:
        return None
    return Table(
        title=f"ACC and per-variable errors — {task}, {profile} profile",
        columns=["Baseline", "FRL", *names],
        rows=rows,
        note=(
            "Mean over seeds. ACC: latitude-weighted anomaly correlation with the truth, "
            "anomalies from the training period's climatology (1 = perfect, 0 = no skill "
            "beyond climatology). Per-variable RMSE: latitude-weighted, in the variable's "
            "physical units (the RMSE columns above pool every variable)."
        ),
        text=(0, 1),
    )
