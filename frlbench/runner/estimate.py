"""How long a grid will take, said before any work starts.

Each run's time is its baseline's step budget × the stored seconds per step of that (profile,
task, baseline, FRL variant), plus its stored evaluation time and a fixed per-run cost; the
grid adds the data builds it still needs, the reference rows, the report and the workers'
start. The stored timings (``frlbench/catalog_data/timings.json``, outside the hashed TOMLs, so
re-measuring them moves no run id) are seconds on the machine they were measured on, as it was
loaded then, with that machine's wall time of a fixed one-thread probe workload (per profile);
the same probe here, now (well under 1 s), scales them to this machine as it is loaded. A run
without stored timings (a plugin, an unmeasured FRL variant) borrows the median of its task's
measured baselines and is counted as guessed.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from frlbench.runner.store import RunStore
from frlbench.spec import RunPlan

#: Wall seconds after which the probe stops repeating (once it has three timings).
PROBE_BUDGET_S = 1.5
#: The printed range around the central estimate: a run's time varies with the machine's load
#: and the scaled timings carry the probe's own noise.
LOW, HIGH = 0.75, 1.35


def timings_path() -> Path:
    """The stored timings shipped with the package."""
    return Path(str(resources.files("frlbench") / "catalog_data" / "timings.json"))


def load_timings(path: Path | None = None) -> dict[str, Any]:
    """The stored timings (see :mod:`frlbench.runner.estimate`); empty where there are none."""
    path = path or timings_path()
    if not path.exists():
        return {"profiles": {}}
    return json.loads(path.read_text())


def probe_seconds(repeats: int = 9, *, cpu: bool = False, threads: int = 1) -> float:
    """Median seconds of a fixed one-thread training step (a small 3D convolution, forward and
    backward): this machine's speed, as loaded now, on the kind of work runs do. Under 1 s on a
    quiet machine, about 2 s at most on a loaded one.

    With ``cpu``, the process's CPU seconds instead of wall seconds: what the step would take
    on this machine with nothing else running (a quiet reference). ``threads`` torch threads
    (a run's own count: on a busy machine a multi-threaded step suffers more than one thread).
    """
    import torch

    tick = time.process_time if cpu else time.perf_counter
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        generator = torch.Generator().manual_seed(0)
        conv = torch.nn.Conv3d(8, 8, 3, padding=1)
        x = torch.randn(4, 8, 16, 16, 16, generator=generator)
        times: list[float] = []
        began = time.perf_counter()
        for i in range(repeats + 2):
            if len(times) >= 3 and time.perf_counter() - began > PROBE_BUDGET_S:
                break  # a heavily loaded machine: three repeats say enough
            start = tick()
            for _ in range(2):
                conv(x).square().mean().backward()
            if i >= 2:  # two warm-up repeats
                times.append(tick() - start)
        return statistics.median(times)
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class RunEstimate:
    """One run of the plan.

    Attributes:
        run_id: The run's id.
        seconds: Estimated seconds of the run on this machine (0 when finished).
        finished: Whether its record is already stored (it will be skipped).
        guessed: No stored timing for its baseline and FRL variant: a task median was used.
    """

    run_id: str
    seconds: float
    finished: bool
    guessed: bool


@dataclass(frozen=True)
class GridEstimate:
    """The estimated wall time of a grid on this machine.

    Attributes:
        runs: Every run of the grid, in order.
        overhead_s: Data builds still needed, reference rows, the report and worker starts.
        jobs: Runs executed at once.
        scale: This machine's probe time over the timings machine's (1 without a probe).
        measured: Whether any run to do has stored timings for its profile and task (else
            there is no estimate).
    """

    runs: tuple[RunEstimate, ...]
    overhead_s: float
    jobs: int
    scale: float
    measured: bool = True

    @property
    def todo(self) -> list[RunEstimate]:
        """The runs that will be executed."""
        return [r for r in self.runs if not r.finished]

    @property
    def seconds(self) -> float:
        """Central estimate of the wall time, in seconds."""
        work = sum(r.seconds for r in self.todo)
        return work / max(1, min(self.jobs, len(self.todo) or 1)) + self.overhead_s

    def describe(self) -> str:
        """One line: runs to do, finished ones, and the estimate as a range."""
        todo = self.todo
        done = len(self.runs) - len(todo)
        text = f"{len(self.runs)} runs, {len(todo)} to do ({done} already finished)"
        if not todo:
            return text
        if not self.measured:
            return text + "; no stored timings for this profile and task, so no time estimate"
        low, high = LOW * self.seconds, HIGH * self.seconds
        text += f"; estimated wall time {format_duration(low)} to {format_duration(high)}"
        if self.scale > 1.3:
            text += f" (this machine now runs {self.scale:.1f}x slower than the timings' quiet one)"
        guessed = sum(r.guessed for r in todo)
        if guessed:
            text += f" ({guessed} runs without stored timings, guessed from similar ones)"
        return text


def format_duration(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``, ``2 h 14 min``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _run_seconds(plan: RunPlan, task_timings: dict[str, Any]) -> tuple[float, bool]:
    """Seconds of one run on the timings machine, and whether they were guessed."""
    runs = task_timings.get("runs", {})
    entry = runs.get(f"{plan.baseline.name}/{plan.frl.name}")
    guessed = entry is None
    if entry is None:  # same baseline, the FRL variant closest in kind; else the task median
        family = "off" if plan.frl.name == "off" else "full"
        entry = runs.get(f"{plan.baseline.name}/{family}")
    if entry is None and runs:
        entry = {
            key: statistics.median(e[key] for e in runs.values())
            for key in ("train_s_per_step", "eval_s")
        }
    if entry is None:
        return 0.0, True
    steps = plan.settings.total_steps(plan.task.n_train)
    fixed = task_timings.get("run_fixed_s", 0.0)
    return steps * entry["train_s_per_step"] + entry["eval_s"] + fixed, guessed


def _task_timings(timings: dict[str, Any], profile: str, task: str) -> dict[str, Any]:
    return timings.get("profiles", {}).get(profile, {}).get("tasks", {}).get(task, {})


def estimate_grid(
    plans: Sequence[RunPlan],
    store: RunStore,
    *,
    jobs: int = 1,
    cache_dir: Path | None = None,
    timings: dict[str, Any] | None = None,
    probe_s: float | None = None,
    report: bool = True,
    references: bool = True,
) -> GridEstimate:
    """Estimate the wall time of ``plans`` on this machine.

    Args:
        plans: The grid.
        store: Where finished runs are looked up (they cost nothing).
        jobs: Runs executed at once.
        cache_dir: Dataset cache, to see which data must still be built.
        timings: Stored timings (default :func:`load_timings`).
        probe_s: This machine's probe time (default: measured now by :func:`probe_seconds`).
        report: Whether the report is rendered afterwards.
        references: Whether the reference rows are evaluated.
    """
    from frlbench.data.cache import dataset_path

    timings = timings if timings is not None else load_timings()
    runs, overhead, measured = [], 0.0, False
    todo_tasks: dict[tuple[str, str], Any] = {}
    for plan in plans:
        task_timings = _task_timings(timings, plan.profile, plan.task.name)
        seconds, guessed = _run_seconds(plan, task_timings)
        finished = store.state(plan.run_id) == "done"
        if not finished:
            todo_tasks[(plan.task.name, plan.profile)] = plan.task
            measured = measured or bool(task_timings)
        runs.append(RunEstimate(plan.run_id, 0.0 if finished else seconds, finished, guessed))
    for (name, profile), task in todo_tasks.items():
        task_timings = _task_timings(timings, profile, name)
        if not dataset_path(task, cache_dir).exists():
            overhead += task_timings.get("data_s", 0.0)
        overhead += task_timings.get("references_s", 0.0) if references else 0.0
    if todo_tasks:
        profile_timings = timings.get("profiles", {}).get(plans[0].profile, {})
        overhead += profile_timings.get("worker_start_s", 0.0)
        overhead += profile_timings.get("report_s", 0.0) if report else 0.0
    scale = 1.0
    reference = timings.get("profiles", {}).get(plans[0].profile, {}).get("probe", {})
    if measured and reference.get("seconds"):  # probe only where there is something to scale
        # One thread, whatever the runs use: on an oversubscribed machine a multi-threaded
        # step's time is dominated by threads waiting on each other (a 2-thread probe step
        # took 0.40 to 0.57 s at load 8-11 against 0.011 s of CPU), too noisy to scale by.
        probe_s = probe_seconds(threads=reference.get("threads", 1)) if probe_s is None else probe_s
        scale = probe_s / reference["seconds"]
    runs = [dataclasses.replace(r, seconds=r.seconds * scale) for r in runs]
    return GridEstimate(tuple(runs), overhead * scale, jobs, scale, measured)
    return GridEstimate(tuple(runs), overhead * scale, jobs, scale)
