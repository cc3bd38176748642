"""Expanding a selection of tasks × baselines × FRL variants × seeds into RunPlans.

Each run is resolved here, once (:meth:`frlbench.spec.RunSpec.resolve`).

Every name is checked before any work starts, with a did-you-mean error for unknown ones.
"""

from __future__ import annotations

from collections.abc import Sequence

from frlbench.frl.multires import level_resolutions
from frlbench.registry import BASELINES, FRL_VARIANTS, PROFILES, TASKS
from frlbench.spec import (
    BackboneSpec,
    ConfigError,
    FRLConfig,
    InvalidValue,
    NamedGrid,
    RunPlan,
    RunSpec,
    TaskSpec,
)


def _select(registry, names: Sequence[str] | None) -> list:
    chosen = registry.list() if not names else list(dict.fromkeys(names))
    return [registry.get(n) for n in chosen]  # raises UnknownNameError with did-you-mean


def expand_grid(
    *,
    profile: str,
    tasks: Sequence[str] | None = None,
    baselines: Sequence[str] | None = None,
    frl: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
) -> list[RunPlan]:
    """The resolved runs of the grid, in a deterministic order (task, baseline, FRL variant, seed).

    Args:
        profile: Profile name; its seeds and FRL variants are the defaults.
        tasks: Task names (default: every loaded task).
        baselines: Baseline names (default: every loaded baseline).
        frl: FRL variant names (default: the profile's).
        seeds: Seeds (default: the profile's).

    Raises:
        UnknownNameError: For an unknown profile, task, baseline or variant.
        ConfigError: If a task does not define ``profile``, or the grid is empty.
    """
    prof = PROFILES.get(profile)
    task_specs: list[TaskSpec] = _select(TASKS, tasks)
    baseline_specs: list[BackboneSpec] = _select(BASELINES, baselines)
    frl_configs: list[FRLConfig] = _select(FRL_VARIANTS, frl or prof.frl_variants)
    seed_list = list(dict.fromkeys(seeds)) if seeds else list(prof.seeds)
    specs = [
        RunSpec(task=t, baseline=b, frl=f, seed=s, profile=profile).resolve()
        for t in task_specs
        for b in baseline_specs
        for f in frl_configs
        for s in seed_list
    ]
    if not specs:
        raise ConfigError("the selection is empty: no tasks or no baselines are loaded")
    for plan in specs:
        check_levels(plan)
    return specs


def check_levels(plan: RunPlan) -> None:
    """Refuse, before any work, an FRL variant with more levels than the training grid holds.

    Raises:
        ConfigError: Naming the variant, the task and profile, and the valid range.
    """
    if not plan.frl.multires:
        return
    try:
        level_resolutions(plan.task.train_resolution, plan.frl.levels, plan.frl.min_resolution)
    except InvalidValue as exc:
        raise ConfigError(
            f"FRL variant {plan.frl.name!r} on task {plan.task.name!r} at profile "
            f"{plan.profile!r} (train_resolution {plan.task.train_resolution}): {exc}"
        ) from None


def expand_named_grid(grid: NamedGrid) -> list[RunPlan]:
    """The resolved runs of a named grid, block by block; a run in two blocks comes once."""
    plans: dict[str, RunPlan] = {}
    for cell in grid.cells:
        for plan in expand_grid(
            profile=grid.profile,
            tasks=cell.tasks,
            baselines=cell.baselines or None,
            frl=cell.frl,
            seeds=grid.seeds,
        ):
            declared = plan.frl.name in plan.baseline.frl_overrides(grid.profile, plan.task.name)
            if declared or not cell.declared_only:
                plans.setdefault(plan.run_id, plan)
    return list(plans.values())
