"""Training-step cost of FRL against plain training (asv benchmarks, and a ratio report).

asv runs :class:`TrainStep` (``time_*`` / ``peakmem_*``, fixed seeds, warm-up in ``setup``).
For the overhead ratios of the issue, run this file directly::

    python benchmarks/bench_frl.py                      # fno and unet, quick-profile sizes
    python benchmarks/bench_frl.py --backbones fno --variants off full multires-only

Time: every variant is built in the *same* process, warmed up, then timed step by step in an
interleaved order (off, full, off, full, ...) so that load from other processes on a shared
machine hits every variant alike; the median per variant is reported.

Memory: each (backbone, variant) runs in a fresh subprocess and reports the peak resident set
of that whole process (interpreter and libraries included): ``VmHWM`` of ``/proc/self/status``
on Linux. (``ru_maxrss`` is not used there: Linux carries the parent's high-water mark across
``fork`` + ``exec``, so a child spawned by a large parent reports the parent's peak.) Reported
both as the peak and as the increment over the resident set just before the first training step
(model, optimizer and batch already allocated): the part the training steps add.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import ClassVar

import psutil
import torch

from frlbench.catalog import discover_plugins
from frlbench.config import BackboneSpec, TrainSettings
from frlbench.env import peak_rss_mib
from frlbench.frl import FRLObjective, encoding_channels, wrap
from frlbench.models.zoo import zoo_task
from frlbench.registry import BACKBONES, FRL_VARIANTS

# Quick-profile sizes: 16³ grid, 3 channels, batch 8, backbone size "small".
RESOLUTION = 16
CHANNELS = 3
BATCH = 8
SIZE = "small"
SEED = 0
WARMUP_STEPS = 3


def make_step(backbone: str, variant: str, seed: int = SEED) -> Callable[[], float]:
    """One optimiser step of ``backbone`` under FRL ``variant`` on a fixed random batch."""
    discover_plugins()
    task = zoo_task(ndim=3, channels=CHANNELS, train_resolution=RESOLUTION)
    cfg = FRL_VARIANTS.get(variant)
    torch.manual_seed(seed)
    spec = BackboneSpec(name="bench", backbone=backbone, defaults=TrainSettings(size=SIZE))
    net = BACKBONES.get(backbone)(spec, task, CHANNELS + encoding_channels(cfg, task), CHANNELS)
    model = wrap(net, cfg, task, RESOLUTION)
    objective = FRLObjective(cfg, task, RESOLUTION)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(BATCH, CHANNELS, *task.grid_shape(RESOLUTION), generator=gen)
    y = torch.randn(BATCH, CHANNELS, *task.grid_shape(RESOLUTION), generator=gen)

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss, _ = objective(model, x, y)
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


class TrainStep:
    """asv: one training step of fno / unet with FRL off and full."""

    params: ClassVar = (["fno", "unet"], ["off", "full"])
    param_names: ClassVar = ["backbone", "variant"]
    timeout = 300

    def setup(self, backbone: str, variant: str) -> None:
        self.step = make_step(backbone, variant)
        for _ in range(WARMUP_STEPS):
            self.step()

    def time_train_step(self, backbone: str, variant: str) -> None:
        self.step()

    def peakmem_train_step(self, backbone: str, variant: str) -> None:
        self.step()


def _current_rss_mib() -> float:
    return psutil.Process().memory_info().rss / 2**20


def measure_memory(backbone: str, variant: str, steps: int) -> dict[str, float]:
    """Run in a fresh process: resident set before the first step and peak after ``steps``."""
    step = make_step(backbone, variant)
    before = _current_rss_mib()
    for _ in range(steps):
        step()
    peak = peak_rss_mib()
    return {"before_mib": before, "peak_mib": peak, "step_mib": peak - before}


def measure_time(
    backbone: str, variants: list[str], repeats: int, warmup: int
) -> dict[str, list[float]]:
    """Seconds per step of each variant, interleaved in one process after warm-up."""
    steps = {v: make_step(backbone, v) for v in variants}
    for _ in range(warmup):
        for step in steps.values():
            step()
    times: dict[str, list[float]] = {v: [] for v in variants}
    for r in range(repeats):
        order = variants if r % 2 == 0 else variants[::-1]
        for v in order:
            start = time.perf_counter()
            steps[v]()
            times[v].append(time.perf_counter() - start)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=["fno", "unet"])
    parser.add_argument("--variants", nargs="+", default=["off", "full"])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=WARMUP_STEPS)
    parser.add_argument("--memory-steps", type=int, default=3)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--memory-child", nargs=2, metavar=("BACKBONE", "VARIANT"))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_child:
        print(json.dumps(measure_memory(*args.memory_child, steps=args.memory_steps)))
        return
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; grid {RESOLUTION}^3, "
        f"{CHANNELS} channels, batch {BATCH}, size {SIZE!r}; median of {args.repeats} steps"
    )
    for backbone in args.backbones:
        times = measure_time(backbone, args.variants, args.repeats, args.warmup)
        base = statistics.median(times[args.variants[0]])
        base_min = min(times[args.variants[0]])
        for v in args.variants:
            med = statistics.median(times[v])
            q1, _, q3 = statistics.quantiles(times[v], n=4)
            line = (
                f"{backbone:6s} {v:14s} time median {1e3 * med:7.1f} ms "
                f"(IQR {1e3 * q1:.1f}-{1e3 * q3:.1f}) x{med / base:.3f}; "
                f"min {1e3 * min(times[v]):7.1f} ms x{min(times[v]) / base_min:.3f}"
            )
            print(line, flush=True)
        if args.skip_memory:
            continue
        mem = {}
        for v in args.variants:
            cmd = [sys.executable, __file__, "--memory-child", backbone, v]
            cmd += ["--memory-steps", str(args.memory_steps), "--threads", str(args.threads)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            mem[v] = json.loads(out.strip().splitlines()[-1])
        ref = mem[args.variants[0]]
        for v in args.variants:
            m = mem[v]
            print(
                f"{backbone:6s} {v:14s} peak RSS {m['peak_mib']:7.1f} MiB "
                f"x{m['peak_mib'] / ref['peak_mib']:.3f}; step adds {m['step_mib']:7.1f} MiB "
                f"x{m['step_mib'] / ref['step_mib']:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
