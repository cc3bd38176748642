"""Local backend: each run in its own process, up to ``jobs`` at a time.

A separate process per run isolates its peak-memory measurement and keeps a crash (even a
segfault or an out-of-memory kill) from taking the grid down: a process that dies without
writing its record gets a ``failed`` record naming its exit code.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from frlbench.errors import describe_failure
from frlbench.registry import register_backend
from frlbench.runner.execute import execute_run, failed_record
from frlbench.runner.progress import GridProgress
from frlbench.runner.store import RunStore
from frlbench.spec import RunPlan


def _child(plan: RunPlan, out: Path, messages: Any, options: dict[str, Any]) -> None:
    def report(info: dict[str, Any]) -> None:
        messages.put((plan.run_id, info))

    try:
        execute_run(plan, out, progress=report, **options)
    except KeyboardInterrupt:  # only if SIGINT reached it anyway; the parent says it once
        os._exit(130)
    except OSError as exc:  # even the failure could not be stored (a full disk)
        print(f"frlbench: run {plan.run_id}: {describe_failure(exc)}", file=sys.stderr)
        os._exit(1)


def _start_ignoring_sigint(proc: Any) -> None:
    """Start ``proc`` with SIGINT ignored: the ignored disposition survives the spawn's exec, so
    Ctrl-C to the process group reaches only the parent, which terminates the workers quietly
    (no worker prints a traceback, even one still importing torch)."""
    if threading.current_thread() is not threading.main_thread():  # signals: main thread only
        proc.start()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc.start()
    finally:
        signal.signal(signal.SIGINT, previous)


@register_backend("local", description="process per run on this machine (default)")
def run_local(
    plans: Sequence[RunPlan],
    out: Path,
    *,
    jobs: int = 1,
    device: str = "auto",
    cache_dir: Path | None = None,
    plugins_dir: Path | None = None,
    display: GridProgress,
    **_: Any,
) -> None:
    """Execute ``plans`` in fresh processes, ``jobs`` at a time, reporting to ``display``."""
    if jobs > 1:
        # Idle OpenMP threads otherwise spin and steal the cores of concurrent runs (measured
        # here: 3-20x slower steps with 2 runs on 2 cores). Inherited by the spawned workers.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    ctx = mp.get_context("spawn")
    messages = ctx.Queue()
    store = RunStore(out)
    options = {"device": device, "cache_dir": cache_dir, "jobs": jobs, "plugins_dir": plugins_dir}
    pending = list(plans)
    running: dict[str, tuple[Any, RunPlan]] = {}
    try:
        _loop(pending, running, ctx, messages, out, options, store, jobs, display)
    except BaseException:  # Ctrl-C or an error here: stop the workers, write no records
        for proc, _ in running.values():
            proc.terminate()
        for proc, _ in running.values():
            proc.join(timeout=10)
        raise


def _loop(
    pending: list[RunPlan],
    running: dict[str, tuple[Any, RunPlan]],
    ctx: Any,
    messages: Any,
    out: Path,
    options: dict[str, Any],
    store: RunStore,
    jobs: int,
    display: GridProgress,
) -> None:
    while pending or running:
        while pending and len(running) < jobs:
            plan = pending.pop(0)
            proc = ctx.Process(
                target=_child,
                args=(plan, out, messages, options),
                name=f"frlbench-{plan.run_id}",
            )
            _start_ignoring_sigint(proc)
            running[plan.run_id] = (proc, plan)
            display.started(plan.run_id)
        try:
            run_id, info = messages.get(timeout=0.2)
            display.update(run_id, info)
        except queue.Empty:
            pass
        for run_id, (proc, plan) in list(running.items()):
            if proc.is_alive():
                continue
            proc.join()
            if proc.exitcode in (130, -signal.SIGINT) and not store.record_path(run_id).exists():
                raise KeyboardInterrupt  # the worker saw Ctrl-C first; the run stays unfinished
            if store.state(run_id) in ("missing", "corrupt"):
                reason = f"worker process exited with code {proc.exitcode} before writing a record"
                store.save(failed_record(plan, reason), None)
            display.finished(run_id, store.read(run_id).status)
            del running[run_id]


@register_backend(
    "inprocess",
    description="one run after another in this process (tests, debugging; no crash isolation)",
)
def run_inprocess(
    plans: Sequence[RunPlan],
    out: Path,
    *,
    device: str = "auto",
    cache_dir: Path | None = None,
    plugins_dir: Path | None = None,
    display: GridProgress,
    **_: Any,
) -> None:
    """Execute ``plans`` sequentially in the calling process, reporting to ``display``.

    Used by the default test suite (a fresh interpreter per run costs seconds of imports). A
    crash kills the caller, and peak memory is that of the whole process: the spawning
    ``local`` backend is what real grids use. The caller's torch thread count is kept.
    """
    import torch

    threads = torch.get_num_threads()
    store = RunStore(out)
    try:
        for plan in plans:
            display.started(plan.run_id)

            def report(info: dict[str, Any], run_id: str = plan.run_id) -> None:
                display.update(run_id, info)

            execute_run(
                plan,
                out,
                device=device,
                cache_dir=cache_dir,
                plugins_dir=plugins_dir,
                progress=report,
                jobs=max(1, (os.cpu_count() or 1) // threads),
            )
            display.finished(plan.run_id, store.read(plan.run_id).status)
    finally:
        torch.set_num_threads(threads)
