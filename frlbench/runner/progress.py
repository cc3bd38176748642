"""Live progress of a grid: run i of N with ETA, and the current runs' epoch and loss."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class GridProgress:
    """A rich display with one bar for the grid and one line per active run.

    Args:
        total: Runs to execute.
        enabled: False gives a silent display (tests, non-interactive use).
    """

    def __init__(self, total: int, *, enabled: bool = True, console: Console | None = None):
        self.enabled = enabled
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
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
        self.active[run_id] = self.progress.add_task(f"  {run_id}", total=None, info="starting")

    def update(self, run_id: str, info: dict[str, Any]) -> None:
        """A run reported ``{"epoch", "epochs", "loss"}``."""
        task = self.active.get(run_id)
        if task is not None:
            text = f"epoch {info['epoch']}/{info['epochs']} loss {info['loss']:.4g}"
            self.progress.update(task, total=info["epochs"], completed=info["epoch"], info=text)

    def finished(self, run_id: str, status: str) -> None:
        """A run ended with ``status``."""
        task = self.active.pop(run_id, None)
        if task is not None:
            self.progress.remove_task(task)
        self.progress.advance(self.grid)
        if status != "ok":
            self.progress.console.print(f"[yellow]{run_id}: {status}[/]", highlight=False)
