"""One short GPU check of the ``paper`` profile: data generation, training steps, FRL ratios.

Runs in a few minutes on one GPU and writes what it measured as JSON::

    python benchmarks/gpu_check.py --out gpu_check.json --budget-s 270
    python benchmarks/gpu_check.py --task era5 --out era5_check.json --budget-s 270
    python benchmarks/gpu_check.py --out /tmp/dry.json --dry-run     # CPU, seconds: does it run?

Parts, in order (each skipped, with the reason in the JSON, once ``--budget-s`` is spent):

1. ``data``: the ``--task`` dataset of the ``paper`` profile (fluid3d: reference grid 128³,
   train 32³; era5: the shallow-water stand-in solved at 1440×721, train 180×90, test up to
   1440×720) with ``--trajectories`` training trajectories (era5: members) and one validation
   and one test trajectory, built from scratch into a temporary cache that is removed at the
   end, and timed (seconds per trajectory, to extrapolate to the profile's count).
2. ``train``: for each backbone (``fno``, ``cnn``) at its ``paper`` size and batch size, and each
   FRL variant (``off``, ``full``, ``full-sched``): ``--steps`` Adam steps on the generated
   training pairs (32³; era5 180×90) after ``--warmup`` steps, ``torch.cuda.synchronize()``
   around every timed step; mean and median step time, peak CUDA memory of training
   (``max_memory_allocated`` since the variant's model was built), one batch-1 forward pass at
   the finest test grid with its own peak memory, and the ratio of every variant's mean step
   time and peak memory to ``off``'s. Also an estimate of one full ``paper`` training run (the
   budget's optimizer steps × the mean step).

``--dry-run`` uses the ``smoke`` profile's data (reference 32³, train 8³), the ``tiny`` sizes,
3 steps and the CPU, so the whole script is exercised in seconds without a GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from frlbench.catalog import Catalog, get_baseline, get_task
from frlbench.data.cache import load_dataset
from frlbench.frl import FRLObjective
from frlbench.registry import FRL_VARIANTS
from frlbench.spec import RunSpec, resolve_task
from frlbench.train import build_model, resolve_device, seed_everything


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_mib(device: torch.device) -> float | None:
    """Peak CUDA memory allocated since the last reset, in MiB (None off the GPU)."""
    return torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None


class Budget:
    """Wall-clock budget of the whole script; parts check it before they start."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def left(self) -> float:
        return self.seconds - self.elapsed()


def generate_data(
    task, profile: str, trajectories: int, cache_dir: Path
) -> tuple[Any, dict[str, Any]]:
    """Build the task's data under ``profile`` with ``trajectories`` training trajectories,
    from scratch, into ``cache_dir`` (the era5 stand-in writes its netCDF there too)."""
    full = task.profiles[profile]
    sizes = dataclasses.replace(full, n_train=trajectories, n_val=1, n_test=1)
    task = dataclasses.replace(task, profiles={**task.profiles, profile: sizes})
    start = time.perf_counter()
    data = load_dataset(
        resolve_task(task, profile), cache_dir=cache_dir, progress=False, rebuild=True
    )
    seconds = time.perf_counter() - start
    total = trajectories + 2
    # Scalar facts the builder measured (the stand-in's kinetic-energy drift, say); not the
    # path, which is in the temporary cache.
    facts = {
        k: v for k, v in data.metadata.items() if isinstance(v, int | float | str) and k != "path"
    }
    return (task, data), {
        "facts": facts,
        "task": task.name,
        "profile": profile,
        "reference_resolution": sizes.reference_resolution,
        "train_resolution": sizes.train_resolution,
        "trajectories": total,
        "seconds": seconds,
        "seconds_per_trajectory": seconds / total,
        "profile_trajectories": full.n_train + full.n_val + full.n_test,
    }


def measure_variant(
    task,
    data,
    profile: str,
    backbone: str,
    variant: str,
    size: str | None,
    steps: int,
    warmup: int,
    device: torch.device,
) -> dict[str, Any]:
    """Step times and peak memory of one (backbone, FRL variant) on the generated data."""
    baseline = get_baseline(backbone)
    if size is not None:
        profiles = {
            **baseline.profiles,
            profile: {**baseline.profiles.get(profile, {}), "size": size},
        }
        baseline = dataclasses.replace(baseline, profiles=profiles)
    spec = RunSpec(task, baseline, FRL_VARIANTS.get(variant), 0, profile).resolve()
    settings = spec.settings  # the task's and the FRL variant's own settings included
    seed_everything(0)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    model = build_model(spec, device)
    objective = FRLObjective(spec.frl, spec.task, data.train_resolution)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    train = data.splits["train"]
    x_all = train.inputs[data.train_resolution]
    y_all = train.targets[data.train_resolution]
    batch = min(settings.batch_size, len(x_all))
    batches = [
        (x_all[i : i + batch].to(device), y_all[i : i + batch].to(device))
        for i in range(0, len(x_all) - batch + 1, batch)
    ]

    def step(i: int) -> None:
        x, y = batches[i % len(batches)]
        optimizer.zero_grad(set_to_none=True)
        loss, _ = objective(model, x, y)
        loss.backward()
        if settings.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()

    for i in range(warmup):
        step(i)
    _sync(device)
    times = []
    for i in range(steps):
        start = time.perf_counter()
        step(warmup + i)
        _sync(device)
        times.append(time.perf_counter() - start)
    finest = max(data.splits["test"].resolutions)
    x_test = data.splits["test"].inputs[finest][:1].to(device)
    peak = _peak_mib(device)
    optimizer.zero_grad(set_to_none=True)
    model.eval()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with torch.no_grad():
        model(x_test)  # warm-up
        _sync(device)
        start = time.perf_counter()
        model(x_test)
        _sync(device)
        forward_s = time.perf_counter() - start
    peak_eval = _peak_mib(device)
    pairs = task.profiles[profile]
    # One training run of the whole profile: its budget over the profile's training pairs.
    pairs_full = get_task(task.name).profiles[profile].n_train * pairs.data["pairs_per_trajectory"]
    full_steps = settings.total_steps(pairs_full)
    mean = statistics.fmean(times)
    return {
        "backbone": backbone,
        "variant": variant,
        "size": settings.size,
        "batch_size": batch,
        "params": sum(p.numel() for p in model.parameters()),
        "steps": steps,
        "mean_step_s": mean,
        "median_step_s": statistics.median(times),
        "min_step_s": min(times),
        "peak_cuda_mib": peak,
        f"forward_{finest}_batch1_s": forward_s,
        f"peak_cuda_mib_forward_{finest}_batch1": peak_eval,
        "train_resolution": pairs.train_resolution,
        "full_run_steps": full_steps,
        "estimated_full_run_train_s": full_steps * mean,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="JSON file to write")
    parser.add_argument("--task", default="fluid3d", help="fluid3d or era5 (any loaded task)")
    parser.add_argument("--budget-s", type=float, default=270.0, help="skip parts after this")
    parser.add_argument("--trajectories", type=int, default=2, help="training trajectories")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--backbones", nargs="+", default=["fno", "cnn"])
    parser.add_argument("--variants", nargs="+", default=["off", "full", "full-sched"])
    parser.add_argument("--dry-run", action="store_true", help="smoke data, tiny, 3 steps, CPU")
    args = parser.parse_args(argv)
    Catalog.default().load()
    if args.dry_run:
        profile, size, device = "smoke", "tiny", torch.device("cpu")
        args.steps, args.warmup = min(args.steps, 3), 1
    else:
        profile, size, device = "paper", None, resolve_device("auto")
    budget = Budget(args.budget_s)
    result: dict[str, Any] = {
        "device": str(device),
        "card": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "dry_run": args.dry_run,
        "budget_s": args.budget_s,
        "skipped": [],
        "train": [],
    }

    def write() -> None:
        result["elapsed_s"] = budget.elapsed()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")

    with tempfile.TemporaryDirectory(prefix="frlbench-gpu-check-") as cache:
        (task, data), result["data"] = generate_data(
            get_task(args.task), profile, args.trajectories, Path(cache)
        )
    print(json.dumps(result["data"]), flush=True)
    write()
    per_backbone: dict[str, dict[str, dict[str, Any]]] = {}
    for backbone in args.backbones:
        for variant in args.variants:
            if budget.left() <= 0:
                result["skipped"].append(f"{backbone}/{variant}: budget of {args.budget_s} s spent")
                continue
            row = measure_variant(
                task, data, profile, backbone, variant, size, args.steps, args.warmup, device
            )
            per_backbone.setdefault(backbone, {})[variant] = row
            result["train"].append(row)
            print(json.dumps(row), flush=True)
            write()
    ratios = {}
    for backbone, rows in per_backbone.items():
        off = rows.get("off")
        if off is None:
            continue
        for variant, row in rows.items():
            if variant == "off":
                continue
            ratios[f"{backbone}/{variant}"] = {
                "time_mean": row["mean_step_s"] / off["mean_step_s"],
                "time_median": row["median_step_s"] / off["median_step_s"],
                "peak_cuda_memory": (
                    row["peak_cuda_mib"] / off["peak_cuda_mib"] if off["peak_cuda_mib"] else None
                ),
            }
    result["frl_ratios"] = ratios
    write()
    print(json.dumps({"frl_ratios": ratios, "elapsed_s": result["elapsed_s"]}), flush=True)
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    # A `timeout` or a lent machine's limit sends SIGTERM: exit through the `with` blocks so the
    # temporary data cache is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    main()
