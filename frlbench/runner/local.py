"""Local backend: runs in worker processes on this machine, up to ``jobs`` at a time.

A worker is a separate process, which keeps a crash (even a segfault or an out-of-memory kill)
from taking the grid down: a worker that dies without writing its record gets a ``failed``
record naming its exit code, and a fresh worker takes the next run. Workers are reused from run
to run, so torch and the catalog are imported once per worker, not once per run (seconds each,
most of a smoke run's wall time). Each run resets the worker's peak resident memory first
(:func:`frlbench.env.reset_peak_rss`), so its ``peak_memory_mb`` is its own; where that reset
is not possible, a worker executes one run and exits.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from frlbench.env import reset_peak_rss
from frlbench.errors import describe_failure
from frlbench.registry import register_backend
from frlbench.runner.execute import execute_run, failed_record
from frlbench.runner.progress import GridProgress
from frlbench.runner.store import RunStore
from frlbench.spec import RunPlan

#: Message a worker sends after a run's record is stored.
DONE = "done"


def _worker(tasks: Any, messages: Any, out: Path, options: dict[str, Any]) -> None:
    """Execute the plans sent on ``tasks`` until ``None`` arrives (or, where the peak memory
    cannot be reset, after one run)."""
    while True:
        plan = tasks.get()
        if plan is None:
            return
        reusable = reset_peak_rss()

        def report(info: dict[str, Any], run_id: str = plan.run_id) -> None:
            messages.put((run_id, info))

        try:
            execute_run(plan, out, progress=report, **options)
        except KeyboardInterrupt:  # only if SIGINT reached it anyway; the parent says it once
            os._exit(130)
        except OSError as exc:  # even the failure could not be stored (a full disk)
            print(f"frlbench: run {plan.run_id}: {describe_failure(exc)}", file=sys.stderr)
            os._exit(1)
        messages.put((plan.run_id, DONE))
        if not reusable:
            return


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


@dataclass
class _Worker:
    """A worker process, the queue it takes plans from, and the run it is executing."""

    proc: Any
    tasks: Any
    plan: RunPlan | None = None


@register_backend("local", description="worker processes on this machine (default)")
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
    """Execute ``plans`` in worker processes, ``jobs`` at a time, reporting to ``display``."""
    if jobs > 1:
        # Idle OpenMP threads otherwise spin and steal the cores of concurrent runs (measured
        # here: 3-20x slower steps with 2 runs on 2 cores). Inherited by the spawned workers.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    ctx = mp.get_context("spawn")
    messages = ctx.Queue()
    options = {"device": device, "cache_dir": cache_dir, "jobs": jobs, "plugins_dir": plugins_dir}

    def spawn() -> _Worker:
        tasks = ctx.Queue()
        proc = ctx.Process(
            target=_worker, args=(tasks, messages, out, options), name="frlbench-worker"
        )
        _start_ignoring_sigint(proc)
        return _Worker(proc, tasks)

    workers: list[_Worker] = []
    try:
        _loop(list(plans), workers, spawn, messages, RunStore(out), jobs, display)
    except BaseException:  # Ctrl-C or an error here: stop the workers, write no records
        for worker in workers:
            worker.proc.terminate()
        for worker in workers:
            worker.proc.join(timeout=10)
        raise
    for worker in workers:
        worker.tasks.put(None)
    for worker in workers:
        worker.proc.join(timeout=30)
        if worker.proc.is_alive():
            worker.proc.terminate()


def _loop(
    pending: list[RunPlan],
    workers: list[_Worker],
    spawn: Any,
    messages: Any,
    store: RunStore,
    jobs: int,
    display: GridProgress,
) -> None:
    """Hand plans to idle workers, relay their progress, and replace workers that died."""

    def finish(worker: _Worker) -> None:
        assert worker.plan is not None
        display.finished(worker.plan.run_id, store.read(worker.plan.run_id).status)
        worker.plan = None

    while pending or any(w.plan is not None for w in workers):
        idle = [w for w in workers if w.plan is None and w.proc.is_alive()]
        while pending and len(workers) < jobs:
            workers.append(spawn())
            idle.append(workers[-1])
        for worker in idle:
            if pending:
                worker.plan = pending.pop(0)
                worker.tasks.put(worker.plan)
                display.started(worker.plan.run_id)
        try:
            run_id, info = messages.get(timeout=0.2)
        except queue.Empty:
            pass
        else:
            holder = next((w for w in workers if w.plan and w.plan.run_id == run_id), None)
            if info == DONE:
                if holder is not None:
                    finish(holder)
            else:
                display.update(run_id, info)
        for worker in [w for w in workers if not w.proc.is_alive()]:
            worker.proc.join()
            workers.remove(worker)
            if worker.plan is not None:
                _dead_worker(worker, store)
                finish(worker)


def _dead_worker(worker: _Worker, store: RunStore) -> None:
    """A worker exited while executing ``worker.plan``: Ctrl-C, or a crash to be recorded."""
    assert worker.plan is not None
    run_id, code = worker.plan.run_id, worker.proc.exitcode
    if code in (130, -signal.SIGINT) and not store.record_path(run_id).exists():
        raise KeyboardInterrupt  # the worker saw Ctrl-C first; the run stays unfinished
    if store.state(run_id) in ("missing", "corrupt"):
        reason = f"worker process exited with code {code} before writing a record"
        store.save(failed_record(worker.plan, reason), None)


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
