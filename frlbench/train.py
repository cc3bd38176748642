"""One run: build data, backbone and FRL wrapper; train; evaluate at every test resolution.

:func:`train_and_evaluate` returns a :class:`~frlbench.records.RunRecord` and the trained
state dict; it never writes files or renders anything (the runner stores, the report renders).
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from frlbench import metrics
from frlbench.config import RunSpec
from frlbench.data import PairedDataset, load_dataset
from frlbench.env import environment, peak_rss_mib
from frlbench.frl import FRLObjective, encoding_channels, wrap
from frlbench.models import build_backbone, count_parameters
from frlbench.records import ResolutionMetrics, RunRecord
from frlbench.rollout import check_rollout, rollout_rmse

ProgressFn = Callable[[dict[str, Any]], None]

#: Grid points a forward pass may hold at once during evaluation (batch × points).
EVAL_POINTS_PER_CHUNK = 2 * 64**3


class Diverged(RuntimeError):
    """Training produced a non-finite loss."""


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` picks CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda was requested but no CUDA device is available")
    return torch.device(device)


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def peak_memory_mb(device: torch.device) -> float:
    """Peak CUDA memory allocated, or the peak resident memory of this process on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return peak_rss_mib()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_model(spec: RunSpec, device: torch.device) -> torch.nn.Module:
    """The backbone for ``spec`` at its profile's size, wrapped by FRL."""
    settings = spec.baseline.settings(spec.profile)
    baseline = dataclasses.replace(spec.baseline, defaults=settings)
    sizes = spec.task.profile(spec.profile)
    channels = len(spec.task.channels)
    in_channels = channels + encoding_channels(spec.frl, spec.task)
    backbone = build_backbone(baseline, spec.task, in_channels, channels)
    return wrap(backbone, spec.frl, spec.task, sizes.train_resolution).to(device)


@torch.no_grad()
def predict(
    model: torch.nn.Module, inputs: torch.Tensor, device: torch.device, *, warmup: bool = True
) -> tuple[torch.Tensor, float]:
    """Forecast ``inputs`` in chunks that fit in memory; returns predictions and s/sample.

    With ``warmup`` the first chunk is run once before timing; CUDA is synchronized around
    the timed region.
    """
    points = math.prod(inputs.shape[2:])
    chunk = max(1, EVAL_POINTS_PER_CHUNK // points)
    if warmup:
        model(inputs[:chunk].to(device))
    _sync(device)
    start = time.perf_counter()
    outputs = [model(inputs[i : i + chunk].to(device)).cpu() for i in range(0, len(inputs), chunk)]
    _sync(device)
    elapsed = time.perf_counter() - start
    return torch.cat(outputs), elapsed / len(inputs)


def evaluate(
    model: torch.nn.Module,
    data: PairedDataset,
    spec: RunSpec,
    device: torch.device,
    resolutions: list[int] | None = None,
) -> tuple[list[ResolutionMetrics], float]:
    """Metrics at every test resolution (or ``resolutions``) and the anchoring slope.

    With ``rollout_steps`` set in the task's profile, each resolution also gets the RMSE of
    an autoregressive rollout of that many steps (:mod:`frlbench.rollout`).
    """
    model.eval()
    test = data.splits["test"]
    steps = spec.task.profile(spec.profile).rollout_steps
    results = []
    for res in resolutions or test.resolutions:
        pred, seconds = predict(model, test.inputs[res], device)
        truth = data.denormalize(test.targets[res])
        m = metrics.evaluate_fields(
            data.denormalize(pred),
            truth,
            spec.task,
            res,
            data.train_resolution,
            climatology=data.climatology.get(res),
        )
        m.inference_s_per_sample = seconds
        m.rollout_rmse = rollout_rmse(
            lambda x: predict(model, x, device, warmup=False)[0], data, spec.task, res, steps
        )
        results.append(m)
    slope = metrics.fill_ratios(results, data.train_resolution)
    return results, slope


def train_and_evaluate(
    spec: RunSpec,
    *,
    device: str = "auto",
    cache_dir: Path | None = None,
    progress: ProgressFn | None = None,
) -> tuple[RunRecord, dict[str, torch.Tensor] | None]:
    """Train ``spec`` and evaluate it at every test resolution.

    A non-finite loss stops training and returns a record with status ``diverged``. Any
    other exception propagates (the runner records it as ``failed``).

    Args:
        spec: The run.
        device: ``auto``, ``cpu`` or ``cuda``.
        cache_dir: Dataset cache directory.
        progress: Called with ``{"epoch", "epochs", "loss"}`` after every epoch.

    Returns:
        The record and the trained state dict (``None`` if training diverged).
    """
    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    seed_everything(spec.seed)
    settings = spec.baseline.settings(spec.profile)
    data = load_dataset(spec.task, spec.profile, cache_dir=cache_dir, progress=False)
    check_rollout(spec.task, spec.profile, data)  # before training, not after
    model = build_model(spec, dev)
    objective = FRLObjective(spec.frl, spec.task, data.train_resolution)
    train = data.splits["train"]
    x_all = train.inputs[data.train_resolution]
    y_all = train.targets[data.train_resolution]
    steps_per_epoch = math.ceil(len(x_all) / settings.batch_size)
    total_steps = settings.epochs * steps_per_epoch
    optimizer = torch.optim.Adam(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    generator = torch.Generator().manual_seed(spec.seed)

    record = RunRecord(
        run_id=spec.run_id,
        kind="model",
        task=spec.task.name,
        baseline=spec.baseline.name,
        backbone=spec.baseline.backbone,
        size=settings.size,
        frl=spec.frl.name,
        seed=spec.seed,
        profile=spec.profile,
        status="ok",
        train_resolution=data.train_resolution,
        params=count_parameters(model),
        device=str(dev),
        frl_config=dataclasses.asdict(spec.frl),
        settings=dataclasses.asdict(settings),
        env=environment(dev),
    )
    step_times: list[float] = []
    train_start = time.perf_counter()
    try:
        for epoch in range(settings.epochs):
            model.train()
            order = torch.randperm(len(x_all), generator=generator)
            losses = []
            for i in range(0, len(order), settings.batch_size):
                idx = order[i : i + settings.batch_size]
                x, y = x_all[idx].to(dev), y_all[idx].to(dev)
                start = time.perf_counter()
                loss, _parts = objective(model, x, y)
                if not torch.isfinite(loss):
                    raise Diverged(f"non-finite loss {loss.item()} at epoch {epoch + 1}")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if settings.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
                optimizer.step()
                schedule.step()
                _sync(dev)
                step_times.append(time.perf_counter() - start)
                losses.append(loss.item())
            record.history.append(float(np.mean(losses)))
            if progress is not None:
                progress(
                    {"epoch": epoch + 1, "epochs": settings.epochs, "loss": record.history[-1]}
                )
    except Diverged as exc:
        record.status = "diverged"
        record.reason = str(exc)
    record.train_time_s = time.perf_counter() - train_start
    record.steps = len(step_times)
    timed = step_times[1:] or step_times  # the first step pays one-off warm-up costs
    record.time_per_step_s = float(np.mean(timed)) if timed else math.nan
    if record.status == "ok":
        record.metrics, record.anchoring_slope = evaluate(model, data, spec, dev)
    record.peak_memory_mb = peak_memory_mb(dev)
    record.created = datetime.now(UTC).isoformat(timespec="seconds")
    state = None if record.status != "ok" else _cpu_state(model)
    return record, state


def _cpu_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The tensors of the state dict, on the CPU.

    Non-tensor entries (neuraloperator keeps its constructor arguments, functions included,
    under ``_metadata``) are dropped so the file loads with ``torch.load(weights_only=True)``;
    the model is rebuilt from its spec, not from the file.
    """
    return {
        k: v.detach().cpu() for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)
    }


def configure_threads(jobs: int) -> None:
    """Share the machine's cores between ``jobs`` concurrent runs."""
    cores = os.cpu_count() or 1
    torch.set_num_threads(max(1, cores // max(1, jobs)))


__all__ = [
    "Diverged",
    "build_model",
    "configure_threads",
    "evaluate",
    "predict",
    "resolve_device",
    "seed_everything",
    "train_and_evaluate",
]
