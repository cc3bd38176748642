"""Command-line interface: a thin layer over the library.

``frlbench list``, ``frlbench data``, ``frlbench run``, ``frlbench eval``, ``frlbench report``.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from frlbench.catalog import Catalog
from frlbench.config import ConfigError
from frlbench.registry import (
    BACKBONES,
    BASELINES,
    FRL_VARIANTS,
    PROFILES,
    TASKS,
    PluginError,
    UnknownNameError,
)

app = typer.Typer(
    help="frlbench: train backbones with and without FRL on coarse grids, test them on finer "
    "grids, and report whether their error falls with resolution or stays anchored.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

TasksDir = Annotated[
    Path | None,
    typer.Option(help="Directory of task TOML files (default: <project>/tasks)."),
]
BaselinesDir = Annotated[
    Path | None,
    typer.Option(
        help="Directory of baseline TOML files and *.py plugins (default: <project>/baselines)."
    ),
]


class ListWhat(StrEnum):
    """What ``frlbench list`` can list."""

    tasks = "tasks"
    backbones = "backbones"
    baselines = "baselines"
    frl = "frl"
    profiles = "profiles"


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print ``message`` as an error and return the exit to raise."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def load_catalog(tasks_dir: Path | None, baselines_dir: Path | None) -> Catalog:
    """Load tasks, baselines and plugins, turning configuration errors into clean exits."""
    default = Catalog.default()
    catalog = Catalog(tasks_dir or default.tasks_dir, baselines_dir or default.baselines_dir)
    try:
        catalog.load()
    except (ConfigError, PluginError, UnknownNameError) as exc:
        raise fail(str(exc)) from None
    return catalog


@app.command("list")
def list_cmd(
    what: Annotated[ListWhat, typer.Argument(help="What to list.")],
    pattern: Annotated[str, typer.Option(help="Shell-style name filter, e.g. 'u*'.")] = "*",
    tasks_dir: TasksDir = None,
    baselines_dir: BaselinesDir = None,
) -> None:
    """List registered tasks, backbones, baselines, FRL variants or profiles."""
    load_catalog(tasks_dir, baselines_dir)
    registry = {
        ListWhat.tasks: TASKS,
        ListWhat.backbones: BACKBONES,
        ListWhat.baselines: BASELINES,
        ListWhat.frl: FRL_VARIANTS,
        ListWhat.profiles: PROFILES,
    }[what]
    names = registry.list(pattern)
    table = Table(title=f"{len(names)} {registry.kind}(s)")
    keys: list[str] = []
    for name in names:
        for key in registry.entry(name).metadata:
            if key not in keys and key != "options":
                keys.append(key)
    table.add_column("name", style="bold")
    for key in keys:
        table.add_column(key)
    table.add_column("source", style="dim")
    for name in names:
        entry = registry.entry(name)
        cells = [_cell(entry.metadata.get(key, "")) for key in keys]
        table.add_row(name, *cells, entry.source)
    console.print(table)


def _cell(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


@app.command("data")
def data_cmd(
    task: Annotated[str, typer.Argument(help="Task name (see `frlbench list tasks`).")],
    profile: Annotated[str, typer.Option(help="Profile: smoke, quick or paper.")] = "quick",
    cache_dir: Annotated[
        Path | None,
        typer.Option(help="Dataset cache (default: $FRLBENCH_CACHE or ~/.cache/frlbench)."),
    ] = None,
    rebuild: Annotated[bool, typer.Option(help="Ignore a cached copy and rebuild.")] = False,
    tasks_dir: TasksDir = None,
    baselines_dir: BaselinesDir = None,
) -> None:
    """Build (or load from cache) the paired multi-resolution dataset of a task."""
    import time

    from frlbench.data import dataset_path, load_dataset

    load_catalog(tasks_dir, baselines_dir)
    try:
        spec = TASKS.get(task)
        PROFILES.get(profile)
        spec.profile(profile)
    except (UnknownNameError, ConfigError) as exc:
        raise fail(str(exc)) from None
    start = time.perf_counter()
    ds = load_dataset(spec, profile, cache_dir=cache_dir, rebuild=rebuild)
    elapsed = time.perf_counter() - start
    table = Table(title=f"{task} / {profile}: {dataset_path(spec, profile, cache_dir)}")
    for column in ("split", "pairs", "resolutions", "grid shapes"):
        table.add_column(column)
    for name, split in ds.splits.items():
        shapes = ", ".join(str(tuple(split.inputs[r].shape[2:])) for r in split.resolutions)
        table.add_row(name, str(len(split)), ", ".join(map(str, split.resolutions)), shapes)
    console.print(table)
    for key, value in ds.metadata.items():
        if not isinstance(value, list | dict):
            console.print(f"  {key}: {value}")
    console.print(f"ready in {elapsed:.2f} s")


def not_yet(command: str) -> None:
    """Say plainly that a command has nothing to do yet, and exit non-zero."""
    err_console.print(
        f"frlbench {command}: not available in this version yet; see README.md for what works.",
        highlight=False,
    )
    raise typer.Exit(3)


def main() -> None:  # pragma: no cover - console entry
    """Entry point that never shows a traceback for a user error."""
    try:
        app()
    except (ConfigError, UnknownNameError, PluginError) as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)


@app.command("run")
def run_cmd() -> None:
    """Train and evaluate a grid of runs (tasks x baselines x FRL variants x seeds)."""
    not_yet("run")


@app.command("report")
def report_cmd() -> None:
    """Render the leaderboard tables and figures from stored run records."""
    not_yet("report")
