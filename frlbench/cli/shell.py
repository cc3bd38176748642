"""The ``frlbench`` command group: its error boundary, shared options and helpers.

The commands live in :mod:`frlbench.cli.catalog` (``list``, ``data``, ``zoo``, ``tune``) and
:mod:`frlbench.cli.runs` (``run``, ``eval``, ``audit``, ``report``, ``migrate``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from typer.core import TyperGroup

from frlbench import validate
from frlbench.catalog import Catalog
from frlbench.errors import debug_enabled, error_boundary
from frlbench.records import RecordError
from frlbench.registry import PluginError, UnknownNameError
from frlbench.spec import ConfigError
from frlbench.terminal import SafeConsole

#: The library's user-facing errors: their message is shown as is, without a traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError,
    RecordError,
    PluginError,
    UnknownNameError,
)


class GuardedGroup(TyperGroup):
    """The command group whose every command runs inside :func:`~frlbench.errors.error_boundary`
    (so ``CliRunner`` tests and the console script behave the same)."""

    def invoke(self, ctx: typer.Context) -> object:
        def debug() -> bool:
            return bool(ctx.meta.get("frlbench.debug")) or debug_enabled()

        with error_boundary(debug, USER_ERRORS):
            return super().invoke(ctx)


app = typer.Typer(
    cls=GuardedGroup,
    help="frlbench: train backbones with and without FRL on coarse grids, test them on finer "
    "grids, and report whether their error falls with resolution or stays anchored.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = SafeConsole()
err_console = SafeConsole(stderr=True, soft_wrap=True)


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the Python traceback of an error.")
    ] = False,
) -> None:
    """Options of every command (``--debug``); the help text is the app's."""
    ctx.meta["frlbench.debug"] = debug


def _path_of(option: str) -> Callable[[str], Path]:
    """The parser of a path option: an empty value is an error naming ``option``."""
    return lambda value: validate.nonempty_path(value, option)


TasksDir = Annotated[
    Path | None,
    typer.Option(
        parser=_path_of("--tasks-dir"),
        help="Your task TOML files, added to the built-in tasks (default: ./tasks, or "
        "$FRLBENCH_HOME/tasks).",
    ),
]
BaselinesDir = Annotated[
    Path | None,
    typer.Option(
        parser=_path_of("--baselines-dir"),
        help="Your baseline TOML files and *.py backbone plugins, added to the built-ins "
        "(default: ./baselines, or $FRLBENCH_HOME/baselines).",
    ),
]
CacheDir = Annotated[
    Path | None,
    typer.Option(
        parser=_path_of("--cache-dir"),
        help="Dataset cache (default: $FRLBENCH_CACHE or ~/.cache/frlbench).",
    ),
]
Published = Annotated[
    bool,
    typer.Option(
        help="Show the published runs of the same tasks and profiles beside yours (paired "
        "where the data fingerprints match; see docs/benchmark.md)."
    ),
]
Out = Annotated[
    Path | None,
    typer.Option(
        parser=_path_of("--out"),
        help="Results directory (records in <out>/runs; default: ./frlbench-results/<profile>).",
    ),
]
ResultsProfile = Annotated[
    str,
    typer.Option(
        "--profile",
        help="Whose default results directory to use without --out: ./frlbench-results/<profile>.",
    ),
]
#: Where results go without ``--out``: one folder per profile (git-ignored in a checkout), so a
#: smoke or partial run never lands beside, or over, another profile's leaderboard.
RESULTS_ROOT = Path("frlbench-results")


def results_dir(out: Path | None, profile: str) -> Path:
    """``out``, or the default results directory of ``profile``."""
    return out if out is not None else RESULTS_ROOT / profile


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


def render(out: Path, published: bool = True) -> None:
    """Render the leaderboard of ``out`` (with the published rows of its sections unless
    ``published`` is False) and say what was written (and what was skipped)."""
    from frlbench.report import render_report

    summary = render_report(out, published=published)
    for verdict in summary.verdicts:
        console.print(verdict, highlight=False)
    console.print(f"leaderboard written: {out / 'leaderboard.md'} ({summary.n_records} records)")
    for error in summary.unreadable:
        err_console.print(f"[yellow]unreadable record skipped:[/] {error}")
    for path in summary.removed:
        console.print(f"removed stale output (no longer produced): {path}", highlight=False)


def main() -> None:  # pragma: no cover - console entry
    """Entry point that never shows a traceback for a user error (see :class:`GuardedGroup`)."""
    app()
