"""Cost of the fluid3d solver step against its FFT work, and of dataset generation (asv).

asv runs :class:`SolverStep`, :class:`DatasetGeneration` and :class:`DatasetLoading`
(``time_*`` / ``peakmem_*`` / ``track_*``, fixed seeds, warm-up in ``setup``)::

    asv run --python=same --quick --bench bench_fluid3d

For the step-over-FFT ratios of the report, run this file directly::

    python benchmarks/bench_fluid3d.py                    # 32³ and 64³, float64 and float32
    python benchmarks/bench_fluid3d.py --quick-dataset    # also time the quick-profile build

FFT work of one step: RK4 evaluates the nonlinear term four times, each with one inverse
``irfftn`` of six fields (velocity and vorticity) and one forward ``rfftn`` of three (u × ω),
on the full grid. The step and that FFT work are timed in the same process, interleaved
(step, FFTs, step, FFTs, ...), so that load from other processes on a shared machine hits both
alike; the ratio of the medians is reported (and the ratio of the minima, the least disturbed).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

import torch

from frlbench.catalog import builtin_task_file
from frlbench.data import load_dataset
from frlbench.data.fluid3d import build_fluid3d
from frlbench.data.ns3d import DTYPES, Forcing, NS3DSolver
from frlbench.data.turbulence import random_velocity
from frlbench.spec import load_task, resolve_task

SEED = 0


class _StepCase:
    """A solver, a developed-looking state, and full-grid FFT buffers of one size."""

    def __init__(self, n: int, precision: str) -> None:
        torch.manual_seed(SEED)
        dtype = DTYPES[precision]
        self.solver = NS3DSolver(n, 0.01, Forcing("linear", power=0.1), dtype=dtype)
        u0 = random_velocity(n, SEED, peak_wavenumber=2.5, energy=0.5, dtype=dtype)
        self.coeffs = self.solver.project(self.solver.to_spectral(u0))
        self.dt = self.solver.cfl_dt(u0, 0.5)
        cdtype = self.solver.cdtype
        spectral_shape = self.solver.full_spectral_shape
        self.inverse_in = torch.randn((6, *spectral_shape), dtype=cdtype)
        self.step()  # warm-up: buffers, FFT plans
        self.fft_work()

    def step(self) -> None:
        self.solver.step(self.coeffs, self.dt)

    def fft_work(self) -> None:
        shape = self.solver.shape
        for _ in range(4):
            physical = torch.fft.irfftn(self.inverse_in, s=shape, dim=(-3, -2, -1), norm="forward")
            torch.fft.rfftn(physical[:3], dim=(-3, -2, -1), norm="forward")


class SolverStep:
    """One integrating-factor RK4 step, next to the FFT work it has to do."""

    params = ([32, 64], ["float64", "float32"])
    param_names = ["n", "precision"]

    def setup(self, n: int, precision: str) -> None:
        self.case = _StepCase(n, precision)

    def time_step(self, n: int, precision: str) -> None:
        self.case.step()

    def time_fft_work(self, n: int, precision: str) -> None:
        self.case.fft_work()

    def peakmem_step(self, n: int, precision: str) -> None:
        self.case.step()

    def track_step_over_fft(self, n: int, precision: str) -> float:
        return interleaved(self.case, repeats=10)["median_ratio"]

    track_step_over_fft.unit = "ratio"  # type: ignore[attr-defined]


class DatasetGeneration:
    """Building the smoke dataset, and three trajectories of the quick one, from scratch.

    The whole quick build (22 trajectories at 64³, each with its long spin-up) takes about 6 min
    on 2 quiet cores (these three take 44.5 s). One trajectory per split goes through the same
    builder, grids and spin-up, so its time tracks the build's per-trajectory cost.
    """

    timeout = 1200
    number = 1
    repeat = 1
    rounds = 1
    warmup_time = 0.0

    def setup(self) -> None:
        self.task = load_task(builtin_task_file("fluid3d"))
        one_each = replace(
            self.task.profiles["quick"], n_train=1, n_val=1, n_test=1, rollout_trajectories=1
        )
        self.quick_three = replace(self.task, profiles={**self.task.profiles, "quick": one_each})

    def time_build_smoke(self) -> None:
        build_fluid3d(resolve_task(self.task, "smoke"), progress=False)

    def peakmem_build_smoke(self) -> None:
        build_fluid3d(resolve_task(self.task, "smoke"), progress=False)

    def time_build_quick_three_trajectories(self) -> None:
        build_fluid3d(resolve_task(self.quick_three, "quick"), progress=False)


class DatasetLoading:
    """Loading a cached dataset (what every run does before training).

    The smoke profile's only: caching the quick one first would cost another ~6 min
    build in every ``asv run`` (:class:`DatasetGeneration` times its per-trajectory cost).
    """

    params: ClassVar = ["smoke"]
    param_names: ClassVar = ["profile"]
    timeout = 1200

    def setup_cache(self) -> str:
        cache = tempfile.mkdtemp(prefix="frlbench-asv-")
        task = load_task(builtin_task_file("fluid3d"))
        for profile in self.params:
            load_dataset(resolve_task(task, profile), cache_dir=Path(cache), progress=False)
        return cache

    def setup(self, cache: str, profile: str) -> None:
        self.task = load_task(builtin_task_file("fluid3d"))

    def time_load(self, cache: str, profile: str) -> None:
        load_dataset(resolve_task(self.task, profile), cache_dir=Path(cache), progress=False)

    def peakmem_load(self, cache: str, profile: str) -> None:
        load_dataset(resolve_task(self.task, profile), cache_dir=Path(cache), progress=False)


def _timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def interleaved(case: _StepCase, repeats: int) -> dict[str, float]:
    """Median and minimum of step and FFT-work times, measured alternately."""
    steps, ffts = [], []
    for _ in range(repeats):
        steps.append(_timed(case.step))
        ffts.append(_timed(case.fft_work))
    return {
        "step_ms": 1e3 * statistics.median(steps),
        "fft_ms": 1e3 * statistics.median(ffts),
        "median_ratio": statistics.median(steps) / statistics.median(ffts),
        "min_ratio": min(steps) / min(ffts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--precisions", nargs="+", default=["float64", "float32"])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--quick-dataset", action="store_true", help="also time the quick build")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s)")
    print(f"{'n':>4} {'precision':>9} {'step ms':>9} {'FFT ms':>8} {'ratio':>6} {'min ratio':>9}")
    for n in args.sizes:
        for precision in args.precisions:
            r = interleaved(_StepCase(n, precision), args.repeats)
            print(
                f"{n:>4} {precision:>9} {r['step_ms']:9.2f} {r['fft_ms']:8.2f} "
                f"{r['median_ratio']:6.2f} {r['min_ratio']:9.2f}"
            )
    if args.quick_dataset:
        task = load_task(builtin_task_file("fluid3d"))
        seconds = _timed(lambda: build_fluid3d(resolve_task(task, "quick"), progress=False))
        print(f"quick-profile dataset generation: {seconds:.1f} s")


if __name__ == "__main__":
    main()
