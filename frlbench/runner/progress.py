"""Live progress of a grid: run i of N with an ETA, and the current runs' step and loss.

The ETA comes from the runs' own times, not from the bar's average speed: each run's estimated
seconds (:mod:`frlbench.runner.estimate`) are scaled by how long the finished runs actually took
against their estimates, so one slow task early in the grid does not mislead it. Without
estimates, the finished runs' mean time stands in for every remaining run.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from frlbench.runner.estimate import format_duration


class _EtaColumn(ProgressColumn):
    """The grid's ETA, computed by its :class:`GridProgress`; blank on the per-run lines."""

    def __init__(self, owner: GridProgress) -> None:
        super().__init__()
        self.owner = owner

    def render(self, task: Any) -> Text:
        if task.id != self.owner.grid:
            return Text("")
        eta = self.owner.eta_seconds()
        return Text("ETA ?" if eta is None else f"ETA {format_duration(eta)}", style="cyan")


class GridProgress:
    """A rich display with one bar for the grid and one line per active run.

    Args:
        total: Runs to execute.
        enabled: False gives a silent display (tests, non-interactive use).
        console: Where to draw.
        expected: Estimated seconds of each run to execute, by run id (may be empty).
        jobs: Runs executed at once.
        clock: Seconds since an arbitrary origin (tests pass a fake one).
    """

    def __init__(
        self,
        total: int,
        *,
        enabled: bool = True,
        console: Console | None = None,
        expected: Mapping[str, float] | None = None,
        jobs: int = 1,
        clock: Any = time.monotonic,
    ):
        self.enabled, self.total, self.jobs, self.clock = enabled, total, max(1, jobs), clock
        self.expected = dict(expected or {})
        self.started_at: dict[str, float] = {}
        self.actual: dict[str, float] = {}
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            _EtaColumn(self),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self.grid = self.progress.add_task("runs", total=total, info="")
        self.active: dict[str, TaskID] = {}

    def __enter__(self) -> GridProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def started(self, run_id: str) -> None:
        """A run began."""
        self.started_at[run_id] = self.clock()
        self.active[run_id] = self.progress.add_task(f"  {run_id}", total=None, info="starting")

    def update(self, run_id: str, info: dict[str, Any]) -> None:
        """A run reported ``{"step", "steps", "loss"}`` (optimizer steps)."""
        task = self.active.get(run_id)
        if task is not None:
            text = f"step {info['step']}/{info['steps']} loss {info['loss']:.4g}"
            self.progress.update(task, total=info["steps"], completed=info["step"], info=text)

    def finished(self, run_id: str, status: str) -> None:
        """A run ended with ``status``."""
        if run_id in self.started_at:
            self.actual[run_id] = self.clock() - self.started_at.pop(run_id)
        task = self.active.pop(run_id, None)
        if task is not None:
            self.progress.remove_task(task)
        self.progress.advance(self.grid)
        if status != "ok":
            self.progress.console.print(f"[yellow]{run_id}: {status}[/]", highlight=False)

    def eta_seconds(self) -> float | None:
        """Seconds until the last run ends; ``None`` before anything is known."""
        now = self.clock()
        remaining = self.total - len(self.actual)
        if remaining <= 0:
            return 0.0
        if self.expected:
            done = [r for r in self.actual if r in self.expected]
            spent = sum(self.actual[r] for r in done)
            planned = sum(self.expected[r] for r in done)
            ratio = spent / planned if planned > 0 and spent > 0 else 1.0
            cost = {r: s * ratio for r, s in self.expected.items() if r not in self.actual}
        elif self.actual:
            mean = sum(self.actual.values()) / len(self.actual)
            cost = {f"#{i}": mean for i in range(remaining - len(self.started_at))}
            cost.update(dict.fromkeys(self.started_at, mean))
        else:
            return None
        for run_id, begun in self.started_at.items():  # a running run has part of it behind it
            cost[run_id] = max(0.0, cost.get(run_id, 0.0) - (now - begun))
        return sum(cost.values()) / min(self.jobs, max(1, remaining))
