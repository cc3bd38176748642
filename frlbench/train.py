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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from frlbench.augment import augment_batch
from frlbench.compiled import compile_model, should_compile
from frlbench.data import PairedDataset, load_dataset
from frlbench.data.fingerprint import fingerprint_of
from frlbench.env import environment, peak_rss_mib
from frlbench.evaluation.evaluate import EvalProtocol, Evaluation, ModelForecaster
from frlbench.evaluation.rho0_pad import evaluate_with_rho0_pad
from frlbench.evaluation.rollout import check_rollout
from frlbench.frl import FRLObjective, encoding_channels, wrap
from frlbench.frl.wrap import training_loss_of
from frlbench.models import build_backbone, count_parameters
from frlbench.models.static import StaticInputs
from frlbench.records import RunRecord, model_record, now
from frlbench.spec import ConfigError, ResolvedTask, RunPlan, TrainSettings
from frlbench.validate import check_backbone_output

ProgressFn = Callable[[dict[str, Any]], None]


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


class Residual(torch.nn.Module):
    """Forecast = input + ``model(input)``: the model predicts the increment over Δt.

    Inputs and targets share one normalization, so the increment in normalized units is the
    physical increment divided by the channel scale.
    """

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.model(x)


def build_model(plan: RunPlan, device: torch.device) -> torch.nn.Module:
    """The backbone of ``plan`` at its size, fed the task's static inputs, wrapped by FRL (and
    :class:`Residual`)."""
    settings = plan.settings
    baseline = dataclasses.replace(plan.baseline, defaults=settings, options=dict(plan.options))
    channels = len(plan.task.channels)
    static = plan.task.static_inputs
    in_channels = channels + encoding_channels(plan.frl, plan.task) + len(static)
    backbone = build_backbone(baseline, plan.task, in_channels, channels)
    if static:
        backbone = StaticInputs(backbone, static)
    model = wrap(backbone, plan.frl, plan.task, plan.task.train_resolution)
    if settings.residual:
        if training_loss_of(model) is not None:
            raise ConfigError(
                f"{plan.baseline.source or plan.baseline.name}: key 'residual': backbone "
                f"{plan.baseline.backbone!r} trains with its own training_loss, which a residual "
                "wrapper would bypass; use the backbone's own residual option instead "
                "(valid here: residual = false)"
            )
        model = Residual(model)
    return model.to(device)


def warmup_cosine(step: int, warmup_steps: int, total_steps: int) -> float:
    """Learning-rate factor at ``step`` (0-based): linear warm-up to 1, then cosine to 0.

    Step ``s < warmup_steps`` gets ``(s + 1) / warmup_steps``; the remaining steps follow
    ``½(1 + cos(π · progress))`` with progress from 0 (first step after the warm-up) to 1
    (one step past the last), so no step runs at a zero rate.
    """
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    decay = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclasses.dataclass
class FitResult:
    """What :func:`fit` did.

    Attributes:
        steps: Optimizer steps taken.
        step_times: Seconds of each step.
        history: Mean training loss over each validation interval (or every 10 steps).
        val_rmse: Validation RMSE (normalized units, training grid) at each check.
        val_steps: Step after which each validation RMSE was measured.
        best_step: Step of the kept state (the budget's last step without validation).
        best_val_rmse: Its validation RMSE (NaN without validation).
        diverged: Reason training stopped on a non-finite loss, else ``""``.
    """

    steps: int = 0
    step_times: list[float] = dataclasses.field(default_factory=list)
    history: list[float] = dataclasses.field(default_factory=list)
    val_rmse: list[float] = dataclasses.field(default_factory=list)
    val_steps: list[int] = dataclasses.field(default_factory=list)
    best_step: int = 0
    best_val_rmse: float = math.nan
    diverged: str = ""

    def add_validation(self, step: int, val: float) -> bool:
        """Record the validation RMSE ``val`` after ``step``; True when it is the best so far."""
        self.val_rmse.append(val)
        self.val_steps.append(step)
        if not val >= self.best_val_rmse:  # first check, or a new best (NaN-safe)
            self.best_val_rmse, self.best_step = val, step
            return True
        return False


@torch.no_grad()
def validation_rmse(model: torch.nn.Module, data: PairedDataset, device: torch.device) -> float:
    """RMSE of ``model`` on the validation pairs at the validation grid (normalized units):
    the training grid, except in the resolution-transfer selection."""
    val = data.splits["val"]
    res = data.validation_resolution
    model.eval()
    pred = ModelForecaster(model, device).forecast(val.inputs[res], res)  # sets eval mode
    model.train()
    return float(torch.sqrt(torch.mean((pred - val.targets[res]) ** 2)))


def fit(
    model: torch.nn.Module,
    data: PairedDataset,
    objective: FRLObjective,
    settings: TrainSettings,
    device: torch.device,
    seed: int,
    progress: ProgressFn | None = None,
    *,
    task: ResolvedTask | None = None,
    forward: torch.nn.Module | None = None,
) -> FitResult:
    """Train ``model`` in place for the step budget of ``settings``; keep the best state.

    Adam with a linear warm-up and cosine decay (:func:`warmup_cosine`). Batches are drawn
    without replacement from a fresh permutation of the training pairs each pass. With
    ``eval_every > 0`` the validation RMSE is measured every ``eval_every`` steps and after
    the last one, and the state with the lowest is loaded back into ``model`` at the end.

    With ``settings.augment`` each batch is transformed by a random symmetry of ``task``
    (see :mod:`frlbench.augment`; none for a task without one), drawn from the same seeded
    generator as the batches.

    ``forward`` (default ``model``) is what the objective and validation call: a compiled
    wrapper sharing ``model``'s parameters; the optimizer and the kept state use ``model``.

    Raises:
        ValueError: If ``eval_every > 0`` and the dataset has no validation pairs.
        ValueError: If ``settings.augment`` is set and ``task`` is not given.
    """
    if settings.augment and task is None:
        raise ValueError("fit: settings.augment needs the task (its symmetry): pass task=")
    forward = model if forward is None else forward
    train = data.splits["train"]
    x_all = train.inputs[data.train_resolution]
    y_all = train.targets[data.train_resolution]
    total = settings.total_steps(len(x_all))
    if settings.eval_every > 0 and not _has_validation(data):
        raise ValueError("eval_every > 0 needs validation pairs (task key n_val >= 1)")
    optimizer, schedule = _optimizer(model, settings, total)
    generator = torch.Generator().manual_seed(seed)
    result = FitResult(best_step=total)
    best_state: dict[str, torch.Tensor] | None = None
    interval = settings.eval_every or 10
    losses: list[float] = []
    batches = _batch_indices(len(x_all), settings.batch_size, generator)
    model.train()
    for step in range(1, total + 1):
        idx = next(batches)
        x, y = x_all[idx].to(device), y_all[idx].to(device)
        if settings.augment:
            x, y = augment_batch(task, x, y, generator, data.mean, data.std)
        start = time.perf_counter()
        loss, _parts = objective(forward, x, y)
        if not torch.isfinite(loss):
            result.diverged = f"non-finite loss {loss.item()} at step {step}"
            return result
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if settings.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        optimizer.step()
        schedule.step()
        _sync(device)
        result.step_times.append(time.perf_counter() - start)
        result.steps = step
        losses.append(loss.item())
        if step % interval == 0 or step == total:
            result.history.append(float(np.mean(losses)))
            losses = []
            checked = settings.eval_every > 0
            if checked and result.add_validation(step, validation_rmse(forward, data, device)):
                best_state = _snapshot(model)
            if progress is not None:
                progress(_progress_info(result, step, total))
    if best_state is not None:
        model.load_state_dict(best_state)
    return result


def _batch_indices(n: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless batches of indices into ``n`` pairs, drawn without replacement from a fresh
    permutation each pass (a pass's remainder starts the next batch). A permutation is drawn
    from ``generator`` only when a batch needs it, so draws interleave with the caller's."""
    order = torch.empty(0, dtype=torch.long)
    while True:
        if len(order) < batch_size:
            order = torch.cat([order, torch.randperm(n, generator=generator)])
        idx, order = order[:batch_size], order[batch_size:]
        yield idx


def _has_validation(data: PairedDataset) -> bool:
    """Whether ``data`` holds validation pairs at its validation grid."""
    val = data.splits.get("val")
    res = data.validation_resolution
    return val is not None and res in val.inputs and len(val.inputs[res]) > 0


def _optimizer(
    model: torch.nn.Module, settings: TrainSettings, total: int
) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """Adam over ``model``'s parameters and its warm-up + cosine schedule over ``total`` steps."""
    optimizer = torch.optim.Adam(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_cosine(s, settings.warmup_steps, total)
    )
    return optimizer, schedule


def _progress_info(result: FitResult, step: int, total: int) -> dict[str, Any]:
    """What the progress callback gets after ``step``: loss, and validation RMSE if measured."""
    info: dict[str, Any] = {"step": step, "steps": total, "loss": result.history[-1]}
    if result.val_steps and result.val_steps[-1] == step:
        info["val_rmse"] = result.val_rmse[-1]
    return info


def evaluate_model(
    model: torch.nn.Module, data: PairedDataset, plan: RunPlan, device: torch.device
) -> tuple[dict[str, Any], Evaluation]:
    """Evaluate a trained model under ``plan``'s evaluation settings, with its ρ0-then-pad
    RMSEs (:mod:`frlbench.evaluation.rho0_pad`).

    Returns:
        The protocol as the record's ``evaluation`` section, and the evaluation.
    """
    protocol = EvalProtocol.of(plan.task, plan.evaluation)
    forecaster = ModelForecaster(model, device)
    return protocol.to_dict(), evaluate_with_rho0_pad(forecaster, data, protocol)


def train_and_evaluate(
    plan: RunPlan,
    *,
    device: str = "auto",
    cache_dir: Path | None = None,
    progress: ProgressFn | None = None,
    compile: bool | None = None,
) -> tuple[RunRecord, dict[str, torch.Tensor] | None]:
    """Train ``plan`` and evaluate it at every test resolution.

    A non-finite loss stops training and returns a record with status ``diverged``. Any
    other exception propagates (the runner records it as ``failed``).

    Args:
        plan: The run.
        device: ``auto``, ``cpu`` or ``cuda``.
        cache_dir: Dataset cache directory.
        progress: Called with ``{"step", "steps", "loss"}`` (optimizer step, budget, mean
            recent loss) at every validation check (every 10 steps without validation).
        compile: Run compiled training and evaluation steps (one static graph per grid size);
            ``None`` reads ``FRLBENCH_COMPILE`` and the family default
            (:func:`frlbench.compiled.should_compile`). Recorded as ``record.compiled``, not
            part of the run id.

    Returns:
        The record and the trained state dict (``None`` if training diverged).
    """
    dev = resolve_device(device)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    seed_everything(plan.seed)
    settings = plan.settings
    data = load_dataset(plan.task, cache_dir=cache_dir, progress=False)
    check_rollout(plan.task, data)  # before training, not after
    model = build_model(plan, dev)
    objective = FRLObjective(plan.frl, plan.task, data.train_resolution)
    train = data.splits["train"]
    check_backbone_output(
        model,
        train.inputs[data.train_resolution][:1].to(dev),
        train.targets[data.train_resolution].shape[1],
        backbone=plan.baseline.backbone,
        baseline=plan.baseline.name,
    )
    record = model_record(
        plan,
        data_source=data.data_source,
        params=count_parameters(model),
        device=str(dev),
        settings=dataclasses.asdict(settings),
        env=environment(dev),
    )
    record.compiled = should_compile(plan.baseline.backbone, model, compile)
    forward = compile_model(model) if record.compiled else model
    train_start = time.perf_counter()
    result = fit(
        model, data, objective, settings, dev, plan.seed, progress, task=plan.task, forward=forward
    )
    record.train_time_s = time.perf_counter() - train_start
    if result.diverged:
        record.status = "diverged"
        record.reason = result.diverged
    record.steps = result.steps
    record.history = result.history
    record.best_step = result.best_step
    record.val_rmse = result.best_val_rmse
    timed = result.step_times[1:] or result.step_times  # the first step pays one-off costs
    record.time_per_step_s = float(np.mean(timed)) if timed else math.nan
    if record.status == "ok":
        eval_start = time.perf_counter()
        protocol, evaluation = evaluate_model(forward, data, plan, dev)
        record.replace_evaluation(
            protocol, evaluation.metrics, evaluation.anchoring_slope, fingerprint_of(data)
        )
        record.mark_non_finite()  # weights kept: a re-evaluation may still use them
        record.env["evaluation_wall_s"] = round(time.perf_counter() - eval_start, 3)
    record.peak_memory_mb = peak_memory_mb(dev)
    record.created = now()
    state = None if result.diverged else _cpu_state(model)
    return record, state


def _snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of the state dict's tensors that later steps cannot change.

    Non-tensor entries (neuraloperator keeps constructor arguments under ``_metadata``) are
    left out: training never changes them, and ``load_state_dict`` rejects them.
    """
    return {
        k: v.detach().clone() for k, v in model.state_dict().items() if isinstance(v, torch.Tensor)
    }


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
    "FitResult",
    "Residual",
    "build_model",
    "configure_threads",
    "evaluate_model",
    "fit",
    "resolve_device",
    "seed_everything",
    "train_and_evaluate",
    "validation_rmse",
    "warmup_cosine",
]
