"""``frlbench run``, ``eval``, ``audit``, ``report`` and ``migrate``: the commands over a
results directory (the work itself is in :mod:`frlbench.runner`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from frlbench import validate
from frlbench.cli import shell
from frlbench.cli.shell import (
    BaselinesDir,
    CacheDir,
    Out,
    Published,
    ResultsProfile,
    TasksDir,
    app,
    console,
    err_console,
    fail,
    render,
)
from frlbench.registry import UnknownNameError
from frlbench.spec import ConfigError
from frlbench.terminal import SafeTable

if TYPE_CHECKING:
    from frlbench.runner import GridSummary
    from frlbench.runner.estimate import GridEstimate


TaskNames = Annotated[
    list[str] | None,
    typer.Option(help="Task names: comma-separated and/or repeated, e.g. fluid3d."),
]
BaselineNames = Annotated[
    list[str] | None,
    typer.Option(
        "--backbone",
        "--baseline",
        help="Baseline names (see `list baselines`): comma-separated and/or repeated, "
        "e.g. cnn,unet.",
    ),
]
FRLNames = Annotated[
    list[str] | None,
    typer.Option(
        help="FRL variants: comma-separated and/or repeated, e.g. off,full "
        "(default: the profile's)."
    ),
]
Report = Annotated[bool, typer.Option(help="Render the leaderboard afterwards.")]


@app.command("run")
def run_cmd(
    all_: Annotated[
        bool, typer.Option("--all", help="Every task and baseline, then the report.")
    ] = False,
    grid: Annotated[
        str | None,
        typer.Option(
            help="A named grid (see `frlbench list grids`), e.g. ablation: its runs at its "
            "profile and seeds."
        ),
    ] = None,
    task: TaskNames = None,
    backbone: BaselineNames = None,
    frl: FRLNames = None,
    seeds: Annotated[str | None, typer.Option(help="Comma-separated seeds, e.g. 0,1.")] = None,
    profile: Annotated[
        str, typer.Option(help="Profile (see `frlbench list profiles`); quick is the CPU default.")
    ] = "quick",
    jobs: Annotated[int, typer.Option(min=1, help="Runs executed at once.")] = 1,
    out: Out = None,
    device: Annotated[
        str, typer.Option(help="auto (CUDA if available), cpu, cuda[:i] or mps.")
    ] = "auto",
    backend: Annotated[str, typer.Option(help="local, ray or slurm.")] = "local",
    ray_address: Annotated[str | None, typer.Option(help="Ray cluster address.")] = None,
    slurm_partition: Annotated[str | None, typer.Option(help="Slurm partition.")] = None,
    cache_dir: CacheDir = None,
    report: Report = True,
    references: Annotated[
        bool, typer.Option(help="Also evaluate persistence and the task's solver.")
    ] = True,
    progress: Annotated[bool, typer.Option(help="Show the live progress display.")] = True,
    published: Published = True,
    dry_run: Annotated[
        bool,
        typer.Option(help="Print the plan (run ids, finished or not, time estimate) and exit."),
    ] = False,
    tasks_dir: TasksDir = None,
    baselines_dir: BaselinesDir = None,
) -> None:
    """Train and evaluate a grid of runs (tasks x baselines x FRL variants x seeds).

    Finished runs are skipped, so an interrupted grid resumes where it stopped.
    """
    from frlbench.registry import BACKENDS
    from frlbench.runner import run_grid
    from frlbench.runner.migrate import refuse_schema_1

    _check_selection(all_, grid, task, backbone, bool(frl or seeds))
    seed_list = validate.parse_seeds(seeds)
    out = shell.results_dir(out, profile)
    for path, option in ((out, "--out"), (cache_dir, "--cache-dir")):
        validate.check_output_dir(path, option)
    refuse_schema_1(out)
    catalog = shell.load_catalog(tasks_dir, baselines_dir)
    try:
        BACKENDS.get(backend)
        validate.check_backend(backend)
        device = validate.check_device(device)
        specs = _plans(grid, profile, task, backbone, frl, seed_list)
        profile = specs[0].profile
    except (UnknownNameError, ConfigError, ValueError) as exc:
        raise fail(str(exc)) from None
    validate.check_task_memory(list({s.task.name: s.task for s in specs}.values()))
    console.print(f"{len(specs)} runs ({profile}) -> {out / 'runs'}; finished runs are skipped")
    estimate = _estimate(specs, out, jobs, cache_dir, report, references, dry_run)
    if dry_run:
        return
    try:
        summary = run_grid(specs, out, backend=backend, jobs=jobs, device=device,
                           cache_dir=cache_dir, plugins_dir=catalog.baselines_dir,
                           show_progress=progress, references=references, estimate=estimate,
                           ray_address=ray_address, slurm_partition=slurm_partition)  # fmt: skip
    except ConfigError as exc:  # e.g. a task's data cannot hold its profile's rollout
        raise fail(str(exc)) from None
    _print_summary(summary)
    if report:
        render(out, published)
    if any(r.status == "failed" for r in summary.failures):
        raise typer.Exit(1)


def _check_selection(all_: bool, grid: str | None, task, backbone, narrowed: bool) -> None:
    """One of ``--all``, ``--grid`` or ``--task``/``--backbone``, with nothing narrowing a
    whole grid (``--frl``/``--seeds`` may narrow ``--all``, not a named grid)."""
    if not (all_ or grid or task or backbone):
        raise fail(
            "say what to run: --all, --grid NAME, or --task/--backbone (see `frlbench run --help`)"
        )
    if (all_ or grid) and (task or backbone or (grid and (all_ or narrowed))):
        given = "--task" if task else "--backbone" if backbone else "--all/--frl/--seeds"
        whole = "--all runs every task and baseline" if all_ else f"--grid {grid} is fixed"
        raise fail(
            f"{whole}, and {given} narrows or changes it: give one of them "
            "(--all, --grid NAME, or --task/--backbone)"
        )


def _plans(grid, profile, task, backbone, frl, seeds) -> list:
    """The resolved runs of ``frlbench run``'s selection: a named grid, or the profile's grid
    narrowed by the name options."""
    from frlbench.registry import GRIDS
    from frlbench.runner import expand_grid, expand_named_grid

    if grid:
        return expand_named_grid(GRIDS.get(grid))
    return expand_grid(
        profile=profile,
        tasks=validate.split_list(task, "--task", what="task names"),
        baselines=validate.split_list(backbone, "--backbone", what="baseline names"),
        frl=validate.split_list(frl, "--frl", what="FRL variants"),
        seeds=seeds,
    )


def _estimate(
    specs: list,
    out: Path,
    jobs: int,
    cache_dir: Path | None,
    report: bool,
    references: bool,
    table: bool,
) -> GridEstimate:
    """Print the grid's size and estimated wall time (with ``table``, every run of the plan)."""
    from frlbench.runner import RunStore
    from frlbench.runner.estimate import estimate_grid, format_duration

    estimate = estimate_grid(specs, RunStore(out), jobs=jobs, cache_dir=cache_dir,
                             report=report, references=references)  # fmt: skip
    if table:
        grid = SafeTable(title="plan")
        for column in ("run", "state", "estimate"):
            grid.add_column(column)
        for run in estimate.runs:
            state = "finished" if run.finished else "to do"
            cost = "" if run.finished or not estimate.measured else format_duration(run.seconds)
            grid.add_row(run.run_id, state, cost + (" (guessed)" if run.guessed and cost else ""))
        console.print(grid)
    console.print(estimate.describe(), highlight=False)
    return estimate


def _print_summary(summary: GridSummary) -> None:
    """What ``frlbench run`` did: counts, corrupt records, busy runs, runs that failed."""
    console.print(
        f"done: {summary.executed} executed, {summary.skipped} already finished, "
        f"{len(summary.corrupt)} corrupt records redone, {summary.reevaluated} re-evaluated "
        "from stored weights (evaluation settings changed)"
    )
    for path in summary.corrupt:
        err_console.print(f"[yellow]corrupt record moved aside and rerun:[/] {path}")
    for line in summary.taken_over:
        err_console.print(f"[yellow]{escape(line)}[/]", highlight=False)
    for run_id in summary.busy:
        err_console.print(
            f"[yellow]left to the other frlbench command running it:[/] {run_id}", highlight=False
        )
    if summary.failures:
        table = SafeTable(title="runs that did not finish")
        for column in ("run", "status", "reason"):
            table.add_column(column)
        for rec in summary.failures:
            table.add_row(rec.run_id, rec.status, rec.reason)
        console.print(table)


def _warn(line: str) -> None:
    err_console.print(f"[yellow]{escape(line)}[/]", highlight=False)


@app.command("eval")
def eval_cmd(
    out: Out = None,
    profile: ResultsProfile = "quick",
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
    cache_dir: CacheDir = None,
    report: Report = True,
    tasks_dir: TasksDir = None,
    baselines_dir: BaselinesDir = None,
) -> None:
    """Re-evaluate stored runs (new resolutions or metrics) from their weights, no retraining."""
    out = shell.results_dir(out, profile)
    from frlbench.runner import RunStore
    from frlbench.runner.migrate import refuse_schema_1
    from frlbench.runner.reeval import finished_model_runs, reevaluate_runs, restore_spec

    device = validate.check_device(device)
    validate.parse_ints(
        resolutions, "--resolutions", minimum=2, what="grid sizes", example="16,32,64"
    )
    validate.check_output_dir(cache_dir, "--cache-dir")
    run_ids = validate.split_list(run_id, "--run-id", what="run ids")
    for rid in run_ids or []:
        validate.check_run_id(rid)
    store = RunStore(out)
    refuse_schema_1(out)
    shell.load_catalog(tasks_dir, baselines_dir)  # registers plugin backbones the runs may use
    ids = finished_model_runs(store, run_ids)
    res = None
    for rid in ids:  # every option checked against every run before any work
        plan = restore_spec(store, rid, store.read(rid))
        res = validate.parse_resolutions(resolutions, [plan.task])
    settings = dict(resolutions=res, rollout_steps=rollout_steps, device=device)
    for rid, rec in reevaluate_runs(store, ids, **settings, cache_dir=cache_dir, warn=_warn):
        ratios = ", ".join(f"{m.resolution}: {m.rmse_ratio:.3f}" for m in rec.metrics)
        console.print(f"{rid}: RMSE_Ratio {ratios}")
        if rec.status != "ok":
            err_console.print(f"[yellow]{rid}: {rec.status}:[/] {escape(rec.reason)}")
    if report:
        render(out)


@app.command("audit")
def audit_cmd(
    out: Out = None,
    profile: ResultsProfile = "quick",
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
    cache_dir: CacheDir = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    tasks_dir: TasksDir = None,
    baselines_dir: BaselinesDir = None,
) -> None:
    """Re-evaluate stored runs under every truth construction and normalization.

    Nothing is retrained; writes <out>/protocol_audit.{md,csv} and figures/protocol_audit.png.
    """
    from frlbench.report.audit import write_audit
    from frlbench.runner import RunStore
    from frlbench.runner.audit import audit_store, check_protocols

    out = shell.results_dir(out, profile)
    device = validate.check_device(device)
    validate.check_output_dir(cache_dir, "--cache-dir")
    try:
        truths = check_protocols(validate.split_list(protocols, "--protocols", what="truths"))
    except ValueError as exc:
        raise fail(str(exc)) from None
    shell.load_catalog(tasks_dir, baselines_dir)
    result = audit_store(RunStore(out), tasks=validate.split_list(task, "--task"),
                         backbones=validate.split_list(backbone, "--backbone"),
                         frl=validate.split_list(frl, "--frl"), truths=truths,
                         max_rollout=max_rollout, trajectories=trajectories, device=device,
                         cache_dir=cache_dir, progress=progress, console=console)  # fmt: skip
    for path in write_audit(result, out):
        console.print(f"written: {path}", highlight=False)
    for item in result.skipped:
        err_console.print(f"[yellow]skipped:[/] {escape(item.label)}: {escape(item.reason)}")


@app.command("report")
def report_cmd(
    out: Out = None, profile: ResultsProfile = "quick", published: Published = True
) -> None:
    """Render the leaderboard tables and figures from stored run records (never trains)."""
    from frlbench.runner.migrate import refuse_schema_1

    out = shell.results_dir(out, profile)
    if not (out / "runs").is_dir():
        raise fail(f"--out {out}: no runs under {out / 'runs'}; run `frlbench run --all` first")
    refuse_schema_1(out)
    render(out, published)


@app.command("migrate")
def migrate_cmd(
    out: Out = None,
    profile: ResultsProfile = "quick",
    tasks_dir: TasksDir = None,
    baselines_dir: BaselinesDir = None,
) -> None:
    """Adopt runs stored by an earlier frlbench (record schema 1) under their current ids.

    Weights are untouched. `run`, `eval` and `report` refuse a store that holds such runs.
    """
    from frlbench.runner.migrate import migrate_store

    out = shell.results_dir(out, profile)
    if not (out / "runs").is_dir():
        raise fail(f"--out {out}: no runs directory {out / 'runs'}")
    shell.load_catalog(tasks_dir, baselines_dir)  # the tasks and baselines the runs used
    summary = migrate_store(out)
    for old, new in summary.adopted:
        console.print(f"adopted: {old} -> {new}" if old != new else f"rewritten: {new}")
    for folder, why in summary.left:
        err_console.print(f"[yellow]not adopted:[/] {escape(folder)}: {escape(why)}")
    console.print(f"{len(summary.adopted)} run(s) adopted, {len(summary.left)} left as they were")
    if summary.left:
        raise typer.Exit(1)
