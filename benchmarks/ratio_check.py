"""CI timing check on cost *ratios*, each against a committed baseline.

Absolute times do not survive a noisy shared CI machine; ratios of two costs measured in the
same process, interleaved, after warm-up, largely do. Each check measures a numerator and a
denominator with the functions the asv benchmarks use:

* ``frl_full_over_off`` (fno) and ``frl_full_over_off_unet`` -- median training step of the
  backbone at size ``small`` (16³, batch 8) with FRL ``full`` over FRL ``off``, in the mode
  the family trains in (eager or compiled, :func:`frlbench.compiled.family_compiles`), timed
  in process CPU time (:func:`benchmarks.bench_frl.measure_time`);
* ``harness_over_plain`` -- frlbench's training loop over a plain torch loop, same fno model
  and data (:func:`benchmarks.bench_harness.overhead_ratio`);
* ``solver_step_over_fft_32`` -- one fluid3d RK4 step at 32³ (float64) over its FFT work
  (:func:`benchmarks.bench_fluid3d.interleaved`);
* ``eval_per_sample_over_forward`` -- :func:`frlbench.train.evaluate_model` time per test sample
  (predictions, metrics, spectra, over every test grid) over one batch-1 forward pass per test
  grid.

A check fails when its ratio exceeds ``baseline × (1 + tolerance)`` (tolerance 0.25). Baselines
live in ``benchmarks/ratio_baselines.json``: the measured value rounded *up* to the next 0.01
(well under the allowed 5%), written by ``--write-baselines``. Run from the repository root::

    python -m benchmarks.ratio_check                     # check, print each ratio and baseline
    python -m benchmarks.ratio_check --write-baselines   # measure and (re)write the baselines

``FRLBENCH_RATIO_SLOWDOWN="frl_full_over_off=1.3"`` multiplies that check's measured numerator
by 1.3 (a step made 30% slower, deterministically); the tests use it to show the check fails.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

BASELINES = Path(__file__).with_name("ratio_baselines.json")
TOLERANCE = 0.25
SLOWDOWN_ENV = "FRLBENCH_RATIO_SLOWDOWN"
BACKBONE = "fno"

# A check measures (numerator seconds, denominator seconds) in this process.
Measure = Callable[[], tuple[float, float]]


def frl_full_over_off(backbone: str = BACKBONE) -> tuple[float, float]:
    """Median step CPU time of FRL full and off, interleaved after warm-up, in the mode the
    family of ``backbone`` trains in (the warm-up pays a compiled family's compilation)."""
    from benchmarks.bench_frl import measure_time

    times = measure_time(backbone, ["off", "full"], repeats=12, warmup=3, clock="cpu")
    return statistics.median(times["full"]), statistics.median(times["off"])


def harness_over_plain() -> tuple[float, float]:
    """Best-of-3 training wall time of the harness and of a plain torch loop."""
    from benchmarks.bench_harness import overhead_ratio

    result = overhead_ratio(BACKBONE, repeats=3)
    return result["harness_s"], result["plain_s"]


def solver_step_over_fft_32() -> tuple[float, float]:
    """Median 32³ solver step and median FFT work of a step, interleaved."""
    from benchmarks.bench_fluid3d import _StepCase, interleaved

    result = interleaved(_StepCase(32, "float64"), repeats=20)
    return result["step_ms"], result["fft_ms"]


def eval_per_sample_over_forward(repeats: int = 3) -> tuple[float, float]:
    """Evaluation time per test sample over one forward pass per test grid (best of repeats)."""
    from benchmarks.bench_harness import _spec
    from frlbench.data import load_dataset
    from frlbench.train import build_model, evaluate_model

    spec = _spec(BACKBONE).with_sizes(
        test_resolutions=(16, 32), reference_resolution=32, n_train=1, n_test=4
    )
    data = load_dataset(spec.task, cache_dir=Path(tempfile.mkdtemp()), progress=False)
    device = torch.device("cpu")
    torch.manual_seed(0)
    model = build_model(spec, device).eval()
    test = data.splits["test"]
    samples = len(test.inputs[16])

    def forward() -> None:
        with torch.no_grad():
            for res in spec.task.test_resolutions:
                model(test.inputs[res][:1])

    forward()  # warm-up
    evaluate_model(model, data, spec, device)
    per_sample, one_forward = math.inf, math.inf
    for _ in range(repeats):  # interleaved, best of each
        start = time.perf_counter()
        evaluate_model(model, data, spec, device)
        per_sample = min(per_sample, (time.perf_counter() - start) / samples)
        start = time.perf_counter()
        forward()
        one_forward = min(one_forward, time.perf_counter() - start)
    return per_sample, one_forward


CHECKS: dict[str, Measure] = {
    "frl_full_over_off": frl_full_over_off,
    "frl_full_over_off_unet": functools.partial(frl_full_over_off, "unet"),
    "harness_over_plain": harness_over_plain,
    "solver_step_over_fft_32": solver_step_over_fft_32,
    "eval_per_sample_over_forward": eval_per_sample_over_forward,
}


def parse_slowdown(text: str | None) -> dict[str, float]:
    """``"name=1.3,other=1.1"`` -> ``{"name": 1.3, ...}``; names must be known checks."""
    out: dict[str, float] = {}
    for item in filter(None, (text or "").split(",")):
        name, sep, factor = item.partition("=")
        if not sep or name.strip() not in CHECKS:
            raise SystemExit(
                f"{SLOWDOWN_ENV}: bad item {item!r}; expected NAME=FACTOR with NAME one of "
                f"{', '.join(CHECKS)}"
            )
        out[name.strip()] = float(factor)
    return out


def measure_ratios(names: list[str], slowdown: dict[str, float] | None = None) -> dict[str, float]:
    """Measure each named check once; ``slowdown`` scales a check's numerator (test hook)."""
    slowdown = slowdown or {}
    ratios = {}
    for name in names:
        numerator, denominator = CHECKS[name]()
        ratios[name] = numerator * slowdown.get(name, 1.0) / denominator
    return ratios


def round_up(value: float) -> float:
    """The baseline of a measured ratio: rounded up to the next 0.01 (< 1% above it)."""
    return math.ceil(value * 100 - 1e-9) / 100


def compare(
    ratios: dict[str, float], baselines: dict[str, float], tolerance: float = TOLERANCE
) -> list[str]:
    """One report line per ratio; the failing ones start with ``FAIL``."""
    lines = []
    for name, ratio in ratios.items():
        baseline = baselines.get(name)
        if baseline is None:
            lines.append(f"FAIL {name}: {ratio:.3f}, no baseline in the baselines file")
            continue
        limit = baseline * (1 + tolerance)
        status = "ok  " if ratio <= limit else "FAIL"
        lines.append(
            f"{status} {name}: {ratio:.3f} (baseline {baseline:.2f}, limit {limit:.3f}, "
            f"{ratio / baseline - 1:+.0%})"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baselines", type=Path, default=BASELINES)
    parser.add_argument("--write-baselines", action="store_true")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE)
    parser.add_argument("--only", nargs="+", choices=list(CHECKS), help="checks to run")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    slowdown = parse_slowdown(os.environ.get(SLOWDOWN_ENV))
    names = args.only or list(CHECKS)
    start = time.perf_counter()
    ratios = measure_ratios(names, slowdown)
    elapsed = time.perf_counter() - start
    if args.write_baselines:
        old = json.loads(args.baselines.read_text()) if args.baselines.exists() else {}
        old.update({name: round_up(r) for name, r in ratios.items()})
        args.baselines.write_text(json.dumps(old, indent=2, sort_keys=True) + "\n")
        for name, ratio in ratios.items():
            print(f"{name}: measured {ratio:.4f}, baseline {old[name]:.2f}")
        print(f"wrote {args.baselines} ({elapsed:.0f} s)")
        return 0
    if not args.baselines.exists():
        print(f"no baselines file {args.baselines}; run with --write-baselines", file=sys.stderr)
        return 1
    lines = compare(ratios, json.loads(args.baselines.read_text()), args.tolerance)
    print("\n".join(lines))
    failed = [line for line in lines if line.startswith("FAIL")]
    print(
        f"ratio check: {len(lines) - len(failed)}/{len(lines)} within {args.tolerance:.0%} "
        f"of baseline ({elapsed:.0f} s, load average {os.getloadavg()[0]:.1f})"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
