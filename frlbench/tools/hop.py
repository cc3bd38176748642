"""Resolution-transfer validation ("the hop"): score a training configuration by training at
ρ0/2 and validating zero-shot at ρ0, so that settings are chosen by the quantity FRL exists to
improve while no data finer than ρ0 is touched.

The procedure, its grid, its rule for options that are sizes of the training grid, and when it
counts as unusable are fixed in ``docs/frl_selection.md``; this module runs it:

- :func:`hop_dataset`: the training split coarsened to ρ0/2 by the task's own truth
  construction (the operator that makes the test split's coarse grids), the validation split
  left at ρ0, the test split dropped.
- :func:`hop_options`: a backbone's ``grid_scaled`` options scaled to the hop's grid.
- :func:`search_grid`: the configurations of both arms (FRL ``off`` and ``full``) per baseline.
- :func:`run_config`: one configuration trained and scored (its best validation RMSE at ρ0).

Selection and the checks on the procedure live in :mod:`frlbench.tools.hop_select`; the
command line (``frlbench tune --hop``) in :mod:`frlbench.tools.hop_search`.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import torch

from frlbench.data import PairedDataset, load_dataset
from frlbench.data.base import PairedSplit
from frlbench.evaluation.truth import coarsen, default_truth
from frlbench.frl import FRLObjective
from frlbench.models.common import family_config
from frlbench.registry import BACKBONES, BASELINES, FRL_VARIANTS, TASKS
from frlbench.spec import BackboneSpec, ResolvedTask, RunSpec, resolve_task
from frlbench.train import build_model, fit, resolve_device, seed_everything

#: The learning rates both arms are searched over.
LR_GRID = (1e-3, 3e-3, 1e-2)
#: ``full`` and one change at a time around it, each at ``full``'s current learning rate.
FULL_VARIANTS = (
    "full",
    "full-physical",
    "full-m2",
    "full-m8",
    "full-cons0",
    "full-cons1",
    "full-spec1e-2",
)
#: The two arms of the main comparison.
ARMS = ("off", "full")


@dataclasses.dataclass(frozen=True)
class HopConfig:
    """One configuration of the search.

    Attributes:
        arm: ``"off"`` or ``"full"``: the arm of the main comparison it may be chosen for.
        variant: Registered FRL variant it trains with.
        lr: Peak learning rate.
        current: Whether it is today's setting of its arm (ties go to it).
    """

    arm: str
    variant: str
    lr: float
    current: bool = False

    @property
    def name(self) -> str:
        """``variant@lr``, e.g. ``full-m8@0.01``: one cell of a table."""
        return f"{self.variant}@{self.lr:g}"


@dataclasses.dataclass(frozen=True)
class HopJob:
    """One training run of the search: a configuration of a baseline on a task, one seed."""

    task: str
    profile: str
    baseline: str
    config: HopConfig
    seed: int

    @property
    def key(self) -> str:
        """Unique within a search: task, baseline, configuration, seed."""
        return f"{self.task}/{self.baseline}/{self.config.name}/s{self.seed}"


def search_grid(baseline: BackboneSpec, task: str, profile: str) -> tuple[HopConfig, ...]:
    """The configurations of ``baseline`` on ``task``: 9 of ``full`` and 3 of ``off``.

    ``full``: :data:`FULL_VARIANTS` at ``full``'s current learning rate, and ``full`` at the
    other rates of :data:`LR_GRID`. ``off``: every rate of :data:`LR_GRID`.
    """
    full_lr = baseline.settings(profile, "full", task).lr
    off_lr = baseline.settings(profile, "off", task).lr
    configs = [HopConfig("full", v, full_lr, current=v == "full") for v in FULL_VARIANTS]
    configs += [HopConfig("full", "full", lr) for lr in LR_GRID if not math.isclose(lr, full_lr)]
    configs += [HopConfig("off", "off", lr, current=math.isclose(lr, off_lr)) for lr in LR_GRID]
    return tuple(configs)


def hop_resolutions(task: ResolvedTask) -> tuple[int, int]:
    """(training grid, validation grid) of the hop: (ρ0/2, ρ0).

    Raises:
        ValueError: If ρ0 is odd (the hop's grid would not nest in ρ0's).
    """
    rho0 = task.train_resolution
    if rho0 % 2:
        raise ValueError(f"task {task.name!r}: the hop needs an even train_resolution, not {rho0}")
    return rho0 // 2, rho0


def hop_task(task: ResolvedTask) -> ResolvedTask:
    """``task`` with its training grid at ρ0/2 and ρ0 its only other grid, no rollout."""
    half, rho0 = hop_resolutions(task)
    return task.with_sizes(train_resolution=half, test_resolutions=(half, rho0), rollout_steps=0)


def hop_dataset(data: PairedDataset, task: ResolvedTask) -> PairedDataset:
    """``data`` as the hop sees it: training pairs coarsened to ρ0/2 by the task's truth
    construction, validation pairs at ρ0 (scored there), no test split.

    The normalization statistics stay ρ0's (both constructions preserve the mean, so the
    coarsened fields are normalized fields of the coarse grid).
    """
    half, rho0 = hop_resolutions(task)
    truth = default_truth(task)
    train, val = data.splits["train"], data.splits["val"]

    def down(x: torch.Tensor) -> torch.Tensor:
        return coarsen(x, task, truth, half, rho0).contiguous()

    coarse = PairedSplit(
        inputs={half: down(train.inputs[rho0])},
        targets={half: down(train.targets[rho0])},
        sample_seeds=list(train.sample_seeds),
    )
    held = PairedSplit(
        inputs={rho0: val.inputs[rho0]},
        targets={rho0: val.targets[rho0]},
        sample_seeds=list(val.sample_seeds),
    )
    return dataclasses.replace(
        data,
        train_resolution=half,
        splits={"train": coarse, "val": held},
        climatology={},
        val_resolution=rho0,
    )


def persistence_score(data: PairedDataset) -> float:
    """Persistence's RMSE on the validation pairs at the validation grid (normalized units)."""
    val = data.splits["val"]
    res = data.validation_resolution
    return float(torch.sqrt(torch.mean((val.inputs[res] - val.targets[res]) ** 2)))


def option_value(baseline: BackboneSpec, options: dict[str, Any], key: str) -> Any:
    """The value ``key`` is built with: the baseline's option, else its size's preset (the
    backbones' own merge, :func:`frlbench.models.common.family_config`)."""
    info = BACKBONES.entry(baseline.backbone).info
    if key in options or not info.presets:
        return options[key]
    return getattr(family_config(dataclasses.replace(baseline, options=options), info.presets), key)


def hop_options(baseline: BackboneSpec, options: dict[str, Any], factor: float) -> dict[str, Any]:
    """``options`` with the backbone's ``grid_scaled`` options scaled to a grid ``factor``
    times as fine per axis (½ for the hop): value × factor^power, integers rounded."""
    info = BACKBONES.entry(baseline.backbone).info
    scaled = dict(options)
    for key, power in info.grid_scaled.items():
        value = option_value(baseline, options, key)
        new = value * factor**power
        scaled[key] = max(1, round(new)) if isinstance(value, int) else new
    return scaled


@dataclasses.dataclass
class HopResult:
    """What one job gave: its hop score and how it was reached.

    Attributes:
        key: :attr:`HopJob.key`.
        score: Best validation RMSE at ρ0 (normalized units) over the checkpoints; ``nan`` if
            the run diverged or failed.
        persistence: Persistence's RMSE on the same pairs.
        best_step: Step of the best checkpoint.
        steps: Steps taken.
        train_s: Wall time of the job (training and validation).
        options: The options the backbone was built with (scaled ones included).
        status: ``"ok"``, ``"diverged"`` or ``"failed"``; ``reason`` says why.
    """

    key: str
    task: str
    baseline: str
    arm: str
    variant: str
    lr: float
    seed: int
    current: bool
    score: float
    persistence: float
    best_step: int
    steps: int
    train_s: float
    grids: tuple[int, int]
    options: dict[str, Any]
    status: str = "ok"
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        """A JSON object (``nan`` as ``null``)."""
        out = dataclasses.asdict(self)
        out["score"] = self.score if math.isfinite(self.score) else None
        out["grids"] = list(self.grids)
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HopResult:
        """Inverse of :meth:`to_json`."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in fields}
        values["score"] = math.nan if values.get("score") is None else float(values["score"])
        values["grids"] = tuple(values["grids"])
        return cls(**values)


def run_config(job: HopJob, *, cache_dir: Path | None = None, device: str = "cpu") -> HopResult:
    """Train ``job``'s configuration at ρ0/2 and score it at ρ0; never raises for a run that
    fails (the result says so), so one bad configuration does not stop a search."""
    start = time.perf_counter()
    task = resolve_task(TASKS.get(job.task), job.profile).with_sizes(rollout_steps=0)
    data = hop_dataset(load_dataset(task, cache_dir=cache_dir, progress=False), task)
    baseline = BASELINES.get(job.baseline)
    cfg = job.config
    settings = dataclasses.replace(baseline.settings(job.profile, cfg.variant, job.task), lr=cfg.lr)
    options = hop_options(baseline, baseline.profile_options(job.profile, job.task), 0.5)
    result = HopResult(
        key=job.key, task=job.task, baseline=job.baseline, arm=cfg.arm, variant=cfg.variant,
        lr=cfg.lr, seed=job.seed, current=cfg.current, score=math.nan,
        persistence=persistence_score(data), best_step=0, steps=0, train_s=0.0,
        grids=(data.train_resolution, data.validation_resolution), options=options,
    )  # fmt: skip
    try:
        tuned = dataclasses.replace(baseline, defaults=settings, options=options, profiles={})
        frl = FRL_VARIANTS.get(cfg.variant)
        plan = RunSpec(hop_task(task).spec, tuned, frl, job.seed, job.profile).resolve()
        dev = resolve_device(device)
        seed_everything(job.seed)
        model = build_model(plan, dev)
        objective = FRLObjective(frl, plan.task, data.train_resolution)
        fitted = fit(model, data, objective, settings, dev, job.seed, task=plan.task)
    except Exception as exc:  # recorded; the search goes on
        result.status, result.reason = "failed", f"{type(exc).__name__}: {exc}"
        result.train_s = time.perf_counter() - start
        return result
    result.steps, result.best_step = fitted.steps, fitted.best_step
    result.train_s = time.perf_counter() - start
    if fitted.diverged:
        result.status, result.reason = "diverged", fitted.diverged
    else:
        result.score = fitted.best_val_rmse
    return result
