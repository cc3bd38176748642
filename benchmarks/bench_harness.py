"""Harness overhead: frlbench's training loop against a plain torch loop, same model and data.

Both loops run in one process on the same built model and data, after a warm-up, with the
same optimiser, schedule and gradient clipping; the ratio of their wall times is the cost of
the harness (progress reporting, divergence checks, step timing, FRL objective dispatch).
Target: at most 1.05.

    python benchmarks/bench_harness.py            # prints the ratio
    asv run --bench HarnessOverhead               # the same, tracked by asv
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import torch

from frlbench.catalog import discover_plugins
from frlbench.registry import FRL_VARIANTS
from frlbench.spec import (
    BackboneSpec,
    RunPlan,
    RunSpec,
    TaskProfile,
    TaskSpec,
    TrainSettings,
)

EPOCHS = 3


def _spec(backbone: str = "fno") -> RunPlan:
    discover_plugins()
    task = TaskSpec(
        name="advection3d",
        builder="advection",
        ndim=3,
        channels=("a", "b", "c"),
        profiles={
            "quick": TaskProfile(
                train_resolution=16,
                test_resolutions=(16,),
                reference_resolution=16,
                n_train=32,
                n_val=1,
                n_test=1,
            )
        },
    )
    settings = TrainSettings(size="small", epochs=EPOCHS, batch_size=8)
    baseline = BackboneSpec(name=backbone, backbone=backbone, defaults=settings)
    return RunSpec(task, baseline, FRL_VARIANTS.get("off"), 0, "quick").resolve()


def plain_loop(model, x_all, y_all, settings: TrainSettings, seed: int) -> float:
    """The reference: the shortest correct torch loop doing the same work; returns seconds."""
    opt = torch.optim.Adam(model.parameters(), lr=settings.lr)
    steps = settings.epochs * math.ceil(len(x_all) / settings.batch_size)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(settings.epochs):
        order = torch.randperm(len(x_all), generator=gen)
        for i in range(0, len(order), settings.batch_size):
            idx = order[i : i + settings.batch_size]
            loss = torch.nn.functional.mse_loss(model(x_all[idx]), y_all[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
            opt.step()
            sched.step()
    return time.perf_counter() - start


def overhead_ratio(backbone: str = "fno", repeats: int = 3) -> dict[str, float]:
    """Harness training wall time over the plain loop's (best of ``repeats`` each)."""
    from frlbench.data import load_dataset
    from frlbench.train import build_model, train_and_evaluate

    spec = _spec(backbone)
    cache = Path(tempfile.mkdtemp())
    data = load_dataset(spec.task, cache_dir=cache, progress=False)
    train = data.splits["train"]
    x_all, y_all = train.inputs[16], train.targets[16]
    settings = spec.baseline.settings("quick")
    # Warm-up both paths once (allocator, kernels, first-call overheads).
    plain_loop(build_model(spec, torch.device("cpu")), x_all, y_all, settings, 0)
    train_and_evaluate(spec, device="cpu", cache_dir=cache)
    plain, harness = math.inf, math.inf
    for _ in range(repeats):  # interleaved, so drifting machine load hits both alike
        model = build_model(spec, torch.device("cpu"))
        plain = min(plain, plain_loop(model, x_all, y_all, settings, 0))
        record, _ = train_and_evaluate(spec, device="cpu", cache_dir=cache)
        harness = min(harness, record.train_time_s)
    return {"plain_s": plain, "harness_s": harness, "ratio": harness / plain}


class HarnessOverhead:
    """asv: harness / plain-loop training time ratio (lower is better, target <= 1.05)."""

    timeout = 600
    params = ["fno", "unet"]
    param_names = ["backbone"]

    def track_ratio(self, backbone: str) -> float:
        torch.manual_seed(0)
        return overhead_ratio(backbone)["ratio"]

    track_ratio.unit = "harness/plain"


if __name__ == "__main__":
    for name in ("fno", "unet"):
        result = overhead_ratio(name)
        print(
            f"{name}: plain loop {result['plain_s']:.2f} s, harness {result['harness_s']:.2f} s, "
            f"ratio {result['ratio']:.3f}"
        )
