"""Command-line interface: a thin layer over the library.

``frlbench list``, ``frlbench data``, ``frlbench run``, ``frlbench eval``, ``frlbench audit``,
``frlbench report``.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from frlbench import validate
from frlbench.catalog import Catalog
from frlbench.errors import debug_enabled, error_boundary
from frlbench.records import RecordError
from frlbench.registry import (
    BACKBONES,
    BASELINES,
    FRL_VARIANTS,
    PROFILES,
    TASKS,
    PluginError,
    UnknownNameError,
)
from frlbench.spec import ConfigError, resolve_task


class GuardedGroup(TyperGroup):
    """The command group whose every command runs inside :func:`~frlbench.errors.error_boundary`
    (so ``CliRunner`` tests and the console script behave the same)."""

    def invoke(self, ctx: typer.Context) -> object:
        with error_boundary(lambda: bool(ctx.meta.get("frlbench.debug")) or debug_enabled()):
            return super().invoke(ctx)


app = typer.Typer(
    cls=GuardedGroup,
    help="frlbench: train backbones with and without FRL on coarse grids, test them on finer "
    "grids, and report whether their error falls with resolution or stays anchored.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the Python traceback of an error.")
    ] = False,
) -> None:
    """Options of every command (``--debug``); the help text is the app's."""
    ctx.meta["frlbench.debug"] = debug


TasksDir = Annotated[
    Path | None,
    typer.Option(
        help="Your task TOML files, added to the built-in tasks (default: ./tasks, or "
        "$FRLBENCH_HOME/tasks)."
    ),
]
BaselinesDir = Annotated[
    Path | None,
    typer.Option(
        help="Your baseline TOML files and *.py backbone plugins, added to the built-ins "
        "(default: ./baselines, or $FRLBENCH_HOME/baselines)."
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
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False)
    return typer.Exit(code)


def load_catalog(tasks_dir: Path | None, baselines_dir: Path | None) -> Catalog:
    """Load tasks, baselines and plugins, turning configuration errors into clean exits."""
    validate.check_input_dir(tasks_dir, "--tasks-dir")
    validate.check_input_dir(baselines_dir, "--baselines-dir")
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
    if what == ListWhat.backbones:
        _list_backbones(names)
        return
    table = Table(title=f"{len(names)} {registry.kind}(s)")
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
    from frlbench.tools.zoo import describe_backbones

    rows = describe_backbones(names=names)
    sizes = list(dict.fromkeys(size for row in rows for size in row["sizes"]))
    table = Table(title=f"{len(names)} backbone(s); parameters for a 3D task with 3 channels")
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


@app.command("zoo")
def zoo_cmd(
    output: Annotated[Path, typer.Option(help="Markdown file to write.")] = Path(
        "docs/model_zoo.md"
    ),
    backbone: Annotated[
        list[str] | None, typer.Option(help="Backbone to measure (repeatable; default: all).")
    ] = None,
    threads: Annotated[
        int | None, typer.Option(help="torch threads per measurement (1 is steadiest).")
    ] = None,
    baselines_dir: BaselinesDir = None,
) -> None:
    """Measure every backbone's parameters, time and peak memory; write the model-zoo table."""
    from frlbench.tools.zoo import write_model_zoo

    load_catalog(None, baselines_dir)
    write_model_zoo(output, backbones=backbone, threads=threads, progress=console.print)
    console.print(f"model zoo written: {output}")


def _cell(value: object) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


@app.command("data")
def data_cmd(
    task: Annotated[str, typer.Argument(help="Task name (see `frlbench list tasks`).")],
    profile: Annotated[str, typer.Option(help="Profile (see `frlbench list profiles`).")] = "quick",
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

    validate.check_output_dir(cache_dir, "--cache-dir")
    load_catalog(tasks_dir, baselines_dir)
    try:
        PROFILES.get(profile)
        resolved = resolve_task(TASKS.get(task), profile)
    except (UnknownNameError, ConfigError) as exc:
        raise fail(str(exc)) from None
    start = time.perf_counter()
    ds = load_dataset(resolved, cache_dir=cache_dir, rebuild=rebuild)
    elapsed = time.perf_counter() - start
    table = Table(title=f"{task} / {profile}: {dataset_path(resolved, cache_dir)}")
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
    """Entry point that never shows a traceback for a user error (see :class:`GuardedGroup`)."""
    app()


Out = Annotated[Path, typer.Option(help="Results directory (records in <out>/runs).")]


def split_names(values: list[str] | None) -> list[str] | None:
    """Names given as repetitions and/or comma-separated lists, in order, without repeats.

    ``["cnn,unet", "fno"]`` -> ``["cnn", "unet", "fno"]``; ``None`` or nothing -> ``None``.
    """
    names = [n.strip() for value in values or [] for n in value.split(",") if n.strip()]
    return list(dict.fromkeys(names)) or None


@app.command("run")
def run_cmd(
    all_: Annotated[
        bool, typer.Option("--all", help="Every task and baseline, then the report.")
    ] = False,
    task: Annotated[
        list[str] | None,
        typer.Option(help="Task names: comma-separated and/or repeated, e.g. fluid3d."),
    ] = None,
    backbone: Annotated[
        list[str] | None,
        typer.Option(
            "--backbone",
            "--baseline",
            help="Baseline names (see `list baselines`): comma-separated and/or repeated, "
            "e.g. cnn,unet.",
        ),
    ] = None,
    frl: Annotated[
        list[str] | None,
        typer.Option(
            help="FRL variants: comma-separated and/or repeated, e.g. off,full "
            "(default: the profile's)."
        ),
    ] = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds, e.g. 0,1.")] = None,
    profile: Annotated[
        str, typer.Option(help="Profile (see `frlbench list profiles`); quick is the CPU default.")
    ] = "quick",
    jobs: Annotated[int, typer.Option(min=1, help="Runs executed at once.")] = 1,
    out: Out = Path("results"),
    device: Annotated[
        str, typer.Option(help="auto (CUDA if available), cpu, cuda[:i] or mps.")
    ] = "auto",
    backend: Annotated[str, typer.Option(help="local, ray or slurm.")] = "local",
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address.")] = None,
    slurm_partition: Annotated[str | None, typer.Option(help="Slurm partition.")] = None,
    cache_dir: Annotated[Path | None, typer.Option(help="Dataset cache directory.")] = None,
    report: Annotated[bool, typer.Option(help="Render the leaderboard afterwards.")] = True,
    references: Annotated[
        bool, typer.Option(help="Also evaluate persistence and the task's solver.")
    ] = True,
    progress: Annotated[bool, typer.Option(help="Show the live progress display.")] = True,
    tasks_dir: TasksDir = None,
    baselines_dir: BaselinesDir = None,
) -> None:
    """Train and evaluate a grid of runs (tasks x baselines x FRL variants x seeds).

    Finished runs are skipped, so an interrupted grid resumes where it stopped.
    """
    from frlbench.registry import BACKENDS
    from frlbench.runner import expand_grid, run_grid

    if not (all_ or task or backbone):
        raise fail("say what to run: --all, or --task/--backbone (see `frlbench run --help`)")
    seed_list = validate.parse_seeds(seeds)
    validate.check_output_dir(out, "--out")
    validate.check_output_dir(cache_dir, "--cache-dir")
    catalog = load_catalog(tasks_dir, baselines_dir)
    try:
        BACKENDS.get(backend)
        validate.check_backend(backend)
        device = validate.check_device(device)
        specs = expand_grid(
            profile=profile,
            tasks=split_names(task),
            baselines=split_names(backbone),
            frl=split_names(frl),
            seeds=seed_list,
        )
    except (UnknownNameError, ConfigError, ValueError) as exc:
        raise fail(str(exc)) from None
    console.print(
        f"{len(specs)} runs ({profile} profile) -> {out / 'runs'}; finished runs are skipped"
    )
    try:
        summary = run_grid(
            specs,
            out,
            backend=backend,
            jobs=jobs,
            device=device,
            cache_dir=cache_dir,
            plugins_dir=catalog.baselines_dir,
            show_progress=progress,
            references=references,
            ray_address=ray_address,
            slurm_partition=slurm_partition,
        )
    except ConfigError as exc:  # e.g. a task's data cannot hold its profile's rollout
        raise fail(str(exc)) from None
    console.print(
        f"done: {summary.executed} executed, {summary.skipped} already finished, "
        f"{len(summary.corrupt)} corrupt records redone, {summary.reevaluated} re-evaluated "
        "from stored weights (evaluation settings changed)"
    )
    for path in summary.corrupt:
        err_console.print(f"[yellow]corrupt record moved aside and rerun:[/] {path}")
    for run_id in summary.busy:
        err_console.print(
            f"[yellow]left to the other frlbench command running it:[/] {run_id}", highlight=False
        )
    if summary.failures:
        table = Table(title="runs that did not finish")
        for column in ("run", "status", "reason"):
            table.add_column(column)
        for rec in summary.failures:
            table.add_row(rec.run_id, rec.status, rec.reason)
        console.print(table)
    if report:
        _render(out)
    if any(r.status == "failed" for r in summary.failures):
        raise typer.Exit(1)


def _render(out: Path) -> None:
    from frlbench.report import render_report

    summary = render_report(out)
    for verdict in summary.verdicts:
        console.print(verdict, highlight=False)
    console.print(f"leaderboard written: {out / 'leaderboard.md'} ({summary.n_records} records)")
    for error in summary.unreadable:
        err_console.print(f"[yellow]unreadable record skipped:[/] {error}")
    for path in summary.removed:
        console.print(f"removed stale output (no longer produced): {path}", highlight=False)


@app.command("eval")
def eval_cmd(
    out: Out = Path("results"),
    run_id: Annotated[
        list[str] | None, typer.Option(help="Run id (repeatable); default: every finished run.")
    ] = None,
    resolutions: Annotated[
        str | None, typer.Option(help="Comma-separated test resolutions, e.g. 16,32,64,128.")
    ] = None,
    rollout_steps: Annotated[
        int | None,
        typer.Option(
            min=0, help="Autoregressive rollout length to evaluate (default: as the run was)."
        ),
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda[:i] or mps.")] = "auto",
    cache_dir: Annotated[Path | None, typer.Option(help="Dataset cache directory.")] = None,
    report: Annotated[bool, typer.Option(help="Render the leaderboard afterwards.")] = True,
    tasks_dir: TasksDir = None,
    baselines_dir: BaselinesDir = None,
) -> None:
    """Re-evaluate stored runs (new resolutions or metrics) from their weights, no retraining."""
    from frlbench.records import iter_records
    from frlbench.runner import RunStore
    from frlbench.runner.lock import RunLock
    from frlbench.runner.reeval import reevaluate, restore_spec

    device = validate.check_device(device)
    validate.parse_ints(
        resolutions, "--resolutions", minimum=2, what="grid sizes", example="16,32,64"
    )
    validate.check_output_dir(cache_dir, "--cache-dir")
    run_ids = split_names(run_id)
    for rid in run_ids or []:
        validate.check_run_id(rid)
    store = RunStore(out)
    if not store.runs_dir.is_dir():
        raise fail(f"--out {out}: no runs directory {store.runs_dir}")
    load_catalog(tasks_dir, baselines_dir)  # registers plugin backbones the runs may use
    if run_ids:
        ids = run_ids
        for rid in ids:
            if not store.record_path(rid).is_file():
                raise fail(f"--run-id {rid}: no record {store.record_path(rid)}")
    else:  # folder names, not the ids inside the records (a copied folder is its own run)
        ids = [
            path.parent.name
            for path, rec in iter_records(store.runs_dir)
            if not isinstance(rec, Exception) and rec.kind == "model" and rec.status == "ok"
        ]
    if not ids:
        raise fail(f"no finished model runs under {store.runs_dir}")
    res = None
    for rid in ids:  # every option checked against every run before any work
        plan = restore_spec(store, rid, store.read(rid))
        res = validate.parse_resolutions(resolutions, [plan.task])
    for rid in ids:
        with RunLock(store.run_dir(rid)) as lock:
            if not lock.acquire():
                raise fail(
                    f"run {rid}: another frlbench command holds {lock.path}; wait for it "
                    "(a lock of a process that has exited is taken over automatically)"
                )
            try:
                rec = reevaluate(
                    store,
                    rid,
                    resolutions=res,
                    rollout_steps=rollout_steps,
                    device=device,
                    cache_dir=cache_dir,
                )
            except (ConfigError, UnknownNameError, FileNotFoundError, RecordError) as exc:
                raise fail(f"{rid}: {exc}") from None
        ratios = ", ".join(f"{m.resolution}: {m.rmse_ratio:.3f}" for m in rec.metrics)
        console.print(f"{rid}: RMSE_Ratio {ratios}")
    if report:
        _render(out)


@app.command("audit")
def audit_cmd(
    out: Out = Path("results"),
    task: Annotated[
        list[str] | None, typer.Option(help="Task name patterns (default: all).")
    ] = None,
    backbone: Annotated[
        list[str] | None, typer.Option(help="Baseline/backbone patterns (default: all).")
    ] = None,
    frl: Annotated[
        list[str] | None,
        typer.Option(help="FRL variants of model runs, e.g. off,full (default: all)."),
    ] = None,
    protocols: Annotated[
        list[str] | None,
        typer.Option(help="Truth constructions, comma-separated (default: every one)."),
    ] = None,
    max_rollout: Annotated[
        int | None, typer.Option(min=0, help="Rollout lengths 1..K (default: the profile's).")
    ] = None,
    trajectories: Annotated[
        int, typer.Option(min=0, help="Score the first N test trajectories (0: all).")
    ] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda[:i] or mps.")] = "auto",
    cache_dir: Annotated[Path | None, typer.Option(help="Dataset cache directory.")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    tasks_dir: TasksDir = None,
    baselines_dir: BaselinesDir = None,
) -> None:
    """Re-evaluate stored runs under every truth construction and normalization (no
    retraining); write <out>/protocol_audit.{md,csv} and figures/protocol_audit.png."""
    from frlbench.report.audit import write_audit
    from frlbench.runner import RunStore
    from frlbench.runner.audit import check_protocols, run_audit

    device = validate.check_device(device)
    validate.check_output_dir(cache_dir, "--cache-dir")
    try:
        truths = check_protocols(split_names(protocols))
    except ValueError as exc:
        raise fail(str(exc)) from None
    store = RunStore(out)
    if not store.runs_dir.is_dir():
        raise fail(f"--out {out}: no runs directory {store.runs_dir}")
    load_catalog(tasks_dir, baselines_dir)
    frl_names = split_names(frl) or []
    try:
        for name in frl_names:
            if not any(c in name for c in "*?["):
                FRL_VARIANTS.get(name)  # a typo names the valid variants, not "no run matches"
    except UnknownNameError as exc:
        raise fail(f"--frl: {exc}") from None
    try:
        result = run_audit(store, tasks=split_names(task) or (), backbones=split_names(backbone)
                           or (), frl=frl_names, truths=truths, max_rollout=max_rollout,
                           trajectories=trajectories, device=device, cache_dir=cache_dir,
                           progress=progress, console=console)  # fmt: skip
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if not (result.rows or result.skipped or result.not_applicable):
        raise fail(f"no stored run under {store.runs_dir} matches --task/--backbone/--frl")
    for path in write_audit(result, out):
        console.print(f"written: {path}", highlight=False)
    for item in result.skipped:
        err_console.print(f"[yellow]skipped:[/] {escape(item.label)}: {escape(item.reason)}")


@app.command("report")
def report_cmd(out: Out = Path("results")) -> None:
    """Render the leaderboard tables and figures from stored run records (never trains)."""
    if not (out / "runs").is_dir():
        raise fail(f"--out {out}: no runs under {out / 'runs'}; run `frlbench run --all` first")
    _render(out)


if __name__ == "__main__":  # pragma: no cover - `python -m frlbench.cli`
    main()
