"""``frlbench list``, ``frlbench data``, ``frlbench zoo`` and ``frlbench tune``: what is
registered, the datasets, and the tools (:mod:`frlbench.tools`)."""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from frlbench import validate
from frlbench.cli import shell
from frlbench.cli.shell import BaselinesDir, CacheDir, TasksDir, app, console, fail
from frlbench.registry import (
    BACKBONES,
    BASELINES,
    FRL_VARIANTS,
    GRIDS,
    PROFILES,
    TASKS,
    UnknownNameError,
)
from frlbench.spec import ConfigError, resolve_task
from frlbench.terminal import SafeTable


class ListWhat(StrEnum):
    """What ``frlbench list`` can list."""

    tasks = "tasks"
    backbones = "backbones"
    baselines = "baselines"
    frl = "frl"
    profiles = "profiles"
    grids = "grids"


@app.command("list")
def list_cmd(
    what: Annotated[ListWhat, typer.Argument(help="What to list.")],
    pattern: Annotated[str, typer.Option(help="Shell-style name filter, e.g. 'u*'.")] = "*",
    tasks_dir: TasksDir = None,
    baselines_dir: BaselinesDir = None,
) -> None:
    """List registered tasks, backbones, baselines, FRL variants, profiles or named grids."""
    shell.load_catalog(tasks_dir, baselines_dir)
    registry = {
        ListWhat.tasks: TASKS,
        ListWhat.backbones: BACKBONES,
        ListWhat.baselines: BASELINES,
        ListWhat.frl: FRL_VARIANTS,
        ListWhat.profiles: PROFILES,
        ListWhat.grids: GRIDS,
    }[what]
    names = registry.list(pattern)
    if what == ListWhat.backbones:
        _list_backbones(names)
        return
    table = SafeTable(title=f"{len(names)} {registry.kind}(s)")
    keys = [f.name for f in dataclasses.fields(registry.info_type)]
    table.add_column("name", style="bold")
    for key in keys:
        table.add_column(key)
    table.add_column("source", style="dim")
    for name in names:
        entry = registry.entry(name)
        cells = [_cell(getattr(entry.info, key)) for key in keys]
        table.add_row(name, *cells, entry.source)
    console.print(table)


def _list_backbones(names: list[str]) -> None:
    """Backbones with family, sizes and parameter counts (3D, 3 channels, built on 'meta')."""
    from frlbench.tools.param_counts import default_count_cache
    from frlbench.tools.zoo import describe_backbones

    counts = default_count_cache()
    rows = describe_backbones(names=names, counts=counts)
    counts.save()
    sizes = list(dict.fromkeys(size for row in rows for size in row["sizes"]))
    table = SafeTable(title=f"{len(names)} backbone(s); parameters for a 3D task with 3 channels")
    for column in ("name", "family", *sizes, "source"):
        table.add_column(column, justify="right" if column in sizes else "left")
    for row in rows:
        counts = row["parameters"]
        cells = [
            "" if size not in counts else "?" if counts[size] is None else f"{counts[size]:,}"
            for size in sizes
        ]
        table.add_row(row["name"], row["family"], *cells, row["source"] + row["error"])
    console.print(table)


def _cell(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


@app.command("data")
def data_cmd(
    task: Annotated[str, typer.Argument(help="Task name (see `frlbench list tasks`).")],
    profile: Annotated[str, typer.Option(help="Profile (see `frlbench list profiles`).")] = "quick",
    cache_dir: CacheDir = None,
    rebuild: Annotated[bool, typer.Option(help="Ignore a cached copy and rebuild.")] = False,
    verify: Annotated[
        bool,
        typer.Option(
            help="Compare the data's fingerprint with the published runs' (exit 1 if not equal)."
        ),
    ] = False,
    tasks_dir: TasksDir = None,
    baselines_dir: BaselinesDir = None,
) -> None:
    """Build (or load from cache) the paired multi-resolution dataset of a task."""
    import time

    from frlbench.data import dataset_path, load_dataset

    validate.check_output_dir(cache_dir, "--cache-dir")
    shell.load_catalog(tasks_dir, baselines_dir)
    try:
        PROFILES.get(profile)
        resolved = resolve_task(TASKS.get(task), profile)
    except (UnknownNameError, ConfigError) as exc:
        raise fail(str(exc)) from None
    validate.check_task_memory([resolved])
    start = time.perf_counter()
    ds = load_dataset(resolved, cache_dir=cache_dir, rebuild=rebuild)
    elapsed = time.perf_counter() - start
    table = SafeTable(title=f"{task} / {profile}: {dataset_path(resolved, cache_dir)}")
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
    if verify:
        from frlbench.cli.benchmark import verify_data

        verify_data(ds, resolved.name, profile)


@app.command("zoo")
def zoo_cmd(
    output: Annotated[Path, typer.Option(help="Markdown file to write.")] = Path(
        "docs/model_zoo.md"
    ),
    backbone: Annotated[
        list[str] | None, typer.Option(help="Backbone to measure (repeatable; default: all).")
    ] = None,
    size: Annotated[
        list[str] | None, typer.Option(help="Size to measure (repeatable; default: all).")
    ] = None,
    ndim: Annotated[int, typer.Option(min=1, max=3, help="Spatial dimensions.")] = 3,
    channels: Annotated[int, typer.Option(min=1, help="Input and output channels.")] = 3,
    train_resolution: Annotated[
        int, typer.Option(min=2, help="Training grid points per axis.")
    ] = 16,
    scale: Annotated[
        int, typer.Option(min=1, help="Inference grid = scale x the training grid, batch 1.")
    ] = 4,
    threads: Annotated[
        int | None, typer.Option(help="torch threads per measurement (1 is steadiest).")
    ] = None,
    baselines_dir: BaselinesDir = None,
) -> None:
    """Measure every backbone's parameters, time and peak memory; write the model-zoo table."""
    from frlbench.tools.zoo import write_model_zoo

    shell.load_catalog(None, baselines_dir)
    write_model_zoo(output, backbones=backbone, sizes=size, ndim=ndim, channels=channels,
                    train_resolution=train_resolution, scale=scale, threads=threads,
                    progress=console.print)  # fmt: skip
    console.print(f"model zoo written: {output}")


@app.command(
    "tune",
    add_help_option=False,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def tune_cmd(ctx: typer.Context) -> None:
    """Choose a baseline's learning rate from a fixed grid by validation RMSE.

    `frlbench tune --help` lists the options (:mod:`frlbench.tools.tune`).
    """
    if "--budget-check" in ctx.args:
        from frlbench.runner.budget_check import main as budget_main

        budget_main([a for a in ctx.args if a != "--budget-check"])
        return
    from frlbench.tools.tune import main as tune_main

    tune_main(ctx.args)
