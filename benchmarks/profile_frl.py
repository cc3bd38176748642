"""Where FRL ``full``'s step cost goes: the step built up one part at a time, each part timed.

Each *stage* below is a complete Adam step (forward, backward, optimizer) that adds one part of
FRL ``full`` to the stage before it, with the library's own functions; the last stage computes
exactly what :class:`frlbench.frl.FRLObjective` computes for ``full``. Timed interleaved in one
process after warm-up (as :func:`benchmarks.bench_frl.measure_time`), the difference between
two consecutive stages is what that part costs *in context*, forward and backward included
(the coarse level's pass, for instance, runs with the encoding's channels)::

    off         plain MSE of the backbone at ρ0
    encoding    + the frequency-encoding channels at ρ0
    coarse      + the coarse level: truncate inputs and targets to ρ0/2, forward, MSE, level mean
    spectral    + the per-shell Fourier error on both levels
    full        + the consistency term (the ρ0 prediction truncated to ρ0/2 against the coarse one)

First, FRL's own work outside the backbone (levels, spectral loss per level, consistency) is
timed alone on a step's shapes, forward and backward (:func:`frl_parts`).

Times are process CPU time by default (``--clock cpu``): waiting for a core on a loaded machine
does not inflate them, which wall time would (use one thread). ``torch.profiler`` op tables
were tried and left out: under load their per-op times were as noisy as wall time, and on fno
the profiler's event buffers grew to 6-8 GiB of resident memory.

    python benchmarks/profile_frl.py --backbones fno unet diffusion --threads 1
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from benchmarks.bench_frl import BATCH, CHANNELS, CLOCKS, RESOLUTION, SEED, SIZE
from frlbench.catalog import discover_plugins
from frlbench.frl import FRLObjective, build_levels, consistency_error, spectral_error, wrap
from frlbench.frl.encoding import encoding_channels
from frlbench.registry import BACKBONES, FRL_VARIANTS
from frlbench.spec import BackboneSpec, TrainSettings
from frlbench.tools.zoo import zoo_task

STAGES = ("off", "encoding", "coarse", "spectral", "full")


def make_stage(backbone: str, stage: str, seed: int = SEED) -> Callable[[], float]:
    """One Adam step of ``backbone`` with the parts of FRL ``full`` up to ``stage``."""
    discover_plugins()
    task = zoo_task(ndim=3, channels=CHANNELS, train_resolution=RESOLUTION)
    full = FRL_VARIANTS.get("full")
    cfg = FRL_VARIANTS.get("off") if stage == "off" else full
    torch.manual_seed(seed)
    spec = BackboneSpec(name="bench", backbone=backbone, defaults=TrainSettings(size=SIZE))
    net = BACKBONES.get(backbone)(spec, task, CHANNELS + encoding_channels(cfg, task), CHANNELS)
    model = wrap(net, cfg, task, RESOLUTION)
    shapes = FRLObjective(full, task, RESOLUTION).shapes
    levels = 1 if STAGES.index(stage) < STAGES.index("coarse") else 2
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(BATCH, CHANNELS, *task.grid_shape(RESOLUTION), generator=gen)
    y = torch.randn(BATCH, CHANNELS, *task.grid_shape(RESOLUTION), generator=gen)
    own_loss = getattr(net, "training_loss", None)
    spectral = STAGES.index(stage) >= STAGES.index("spectral")
    objective = FRLObjective(full, task, RESOLUTION)

    def loss_of() -> torch.Tensor:
        if stage == "full":
            return objective(model, x, y)[0]
        xs, ys = build_levels(x, shapes[:levels]), build_levels(y, shapes[:levels])
        if own_loss is not None and not spectral:
            loss_fn = own_loss if cfg is not full else (lambda a, b: own_loss(model.encoding(a), b))
            return torch.stack([loss_fn(a, b) for a, b in zip(xs, ys, strict=True)]).mean()
        if own_loss is not None:
            pairs = [
                own_loss(model.encoding(a), b, return_estimate=True)
                for a, b in zip(xs, ys, strict=True)
            ]
            data, preds = [d for d, _ in pairs], [p for _, p in pairs]
        else:
            preds = [model(a) for a in xs]
            data = [F.mse_loss(p, b) for p, b in zip(preds, ys, strict=True)]
        loss = torch.stack(data).mean()
        if spectral:
            errors = [spectral_error(p, b, task.lengths) for p, b in zip(preds, ys, strict=True)]
            loss = loss + full.lambda_spec * torch.stack(errors).mean()
        return loss

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_of()
        loss.backward()
        optimizer.step()
        return loss.item()

    return step


def measure_stages(
    backbone: str, repeats: int, warmup: int, clock: str = "cpu"
) -> dict[str, list[float]]:
    """Seconds per step of every stage, interleaved in one process after warm-up.

    ``clock`` is a key of :data:`benchmarks.bench_frl.CLOCKS` (``"cpu"``: process CPU time).
    """
    timer = CLOCKS[clock]
    steps = {s: make_stage(backbone, s) for s in STAGES}
    for _ in range(warmup):
        for step in steps.values():
            step()
    times: dict[str, list[float]] = {s: [] for s in STAGES}
    for r in range(repeats):
        for s in STAGES if r % 2 == 0 else STAGES[::-1]:
            start = timer()
            steps[s]()
            times[s].append(timer() - start)
    return times


def frl_parts(repeats: int = 30) -> dict[str, float]:
    """CPU milliseconds of FRL's own work per ``full`` step, outside the backbone, forward and
    backward, on a step's shapes (predictions that require grad, as the backbone's do)."""
    task = zoo_task(ndim=3, channels=CHANNELS, train_resolution=RESOLUTION)
    shapes = FRLObjective(FRL_VARIANTS.get("full"), task, RESOLUTION).shapes
    gen = torch.Generator().manual_seed(SEED)
    y0 = torch.randn(BATCH, CHANNELS, *shapes[0], generator=gen)
    y1 = torch.randn(BATCH, CHANNELS, *shapes[1], generator=gen)
    p0 = torch.randn(y0.shape, generator=gen).requires_grad_()
    p1 = torch.randn(y1.shape, generator=gen).requires_grad_()
    parts = {
        "levels (inputs and targets truncated to ρ0/2)": lambda: [
            build_levels(v, shapes) for v in (y0, y0)
        ],
        "spectral loss at ρ0": lambda: spectral_error(p0, y0, task.lengths).backward(),
        "spectral loss at ρ0/2": lambda: spectral_error(p1, y1, task.lengths).backward(),
        "consistency (truncation of the ρ0 prediction)": lambda: consistency_error(
            [p0, p1], shapes
        ).backward(),
    }
    out = {}
    for name, fn in parts.items():
        for _ in range(3):
            fn()
        start = time.process_time()
        for _ in range(repeats):
            fn()
        out[name] = 1e3 * (time.process_time() - start) / repeats
    return out


def report(backbone: str, times: dict[str, list[float]]) -> list[str]:
    """Lines: median per stage, its ratio to ``off`` and the step it adds (points of ``off``)."""
    medians = {s: statistics.median(ts) for s, ts in times.items()}
    base = medians["off"]
    lines, previous = [], None
    for s in STAGES:
        added = (
            "" if previous is None else f" (+{100 * (medians[s] - medians[previous]) / base:.0f})"
        )
        lines.append(
            f"{backbone:10s} {s:9s} {1e3 * medians[s]:7.1f} ms x{medians[s] / base:.3f}{added}"
        )
        previous = s
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbones", nargs="+", default=["fno", "unet"])
    parser.add_argument("--repeats", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--clock", choices=list(CLOCKS), default="cpu")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {RESOLUTION}^3, batch {BATCH}, "
        f"size {SIZE!r}, median {args.clock} time of {args.repeats}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    parts = frl_parts()
    for name, ms in parts.items():
        print(f"FRL's own work: {name:48s} {ms:6.2f} ms CPU, forward and backward")
    print(f"FRL's own work in all: {sum(parts.values()):.2f} ms CPU per step", flush=True)
    for backbone in args.backbones:
        times = measure_stages(backbone, args.repeats, args.warmup, args.clock)
        print("\n".join(report(backbone, times)))
        print(f"load average {os.getloadavg()[0]:.2f}", flush=True)


if __name__ == "__main__":
    main()
