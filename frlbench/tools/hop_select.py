"""Choose each arm's configuration from the hop scores, and check the procedure is usable.

The rules are the ones ``docs/frl_selection.md`` fixed before the search ran:

- per baseline, task and arm, the configuration of seed 0 with the lowest hop score wins; one
  within 0.5% of the best score of today's setting keeps today's setting;
- a configuration whose score is not below persistence's (diverged or collapsed) is never
  chosen, and a baseline with none below persistence falls back to ρ0 validation;
- if seed 0's and seed 1's rankings of a baseline's configurations agree with Kendall
  τ < 0.4 for at least half of a task's baselines, the whole task falls back.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence

from scipy.stats import kendalltau

from frlbench.tools.hop import ARMS, HopResult

#: A score within this fraction of the best goes to today's setting.
TIE = 0.005
#: Kendall τ below this is a disagreement between the seeds' rankings.
MIN_TAU = 0.4


@dataclasses.dataclass(frozen=True)
class ArmChoice:
    """The chosen configuration of one arm of one baseline on one task.

    Attributes:
        variant: FRL variant chosen (``off`` for the off arm).
        lr: Learning rate chosen.
        how: ``"hop"`` (chosen by the hop), or ``"rho0"`` (fell back to today's ρ0-chosen
            setting) with ``reason``.
        score: The chosen configuration's hop score (seed 0); ``nan`` if none.
        current_score: Today's setting's hop score (seed 0).
    """

    variant: str
    lr: float
    how: str
    score: float
    current_score: float
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class BaselineChoice:
    """Both arms' choices of one baseline on one task, and the checks behind them."""

    task: str
    baseline: str
    persistence: float
    tau: float
    beats_persistence: bool
    arms: dict[str, ArmChoice]


def _finite(rows: Iterable[HopResult]) -> list[HopResult]:
    return [r for r in rows if r.status == "ok" and math.isfinite(r.score)]


def choose_arm(rows: Sequence[HopResult], arm: str, persistence: float) -> ArmChoice:
    """The arm's choice among seed-0 ``rows`` (tie and persistence rules above)."""
    mine = [r for r in rows if r.arm == arm and r.seed == 0]
    current = next((r for r in mine if r.current), None)
    if current is None:
        raise ValueError(f"no seed-0 result of today's {arm!r} setting among {len(mine)} rows")
    current_score = current.score if current.status == "ok" else math.nan
    usable = [r for r in _finite(mine) if r.score < persistence]
    if not usable:
        return ArmChoice(current.variant, current.lr, "rho0", math.nan, current_score,
                         "no configuration beats persistence at the hop")  # fmt: skip
    best = min(usable, key=lambda r: r.score)
    if current in usable and current.score <= best.score * (1 + TIE):
        best = current
    return ArmChoice(best.variant, best.lr, "hop", best.score, current_score)


def ranking_tau(rows: Sequence[HopResult]) -> float:
    """Kendall τ between seed 0's and seed 1's hop scores of the same configurations (both
    arms together; a configuration that failed in either seed is left out); ``nan`` with
    fewer than 3 shared configurations."""
    by_seed: dict[int, dict[tuple[str, str, float], float]] = {0: {}, 1: {}}
    for r in _finite(rows):
        if r.seed in by_seed:
            by_seed[r.seed][(r.arm, r.variant, r.lr)] = r.score
    shared = sorted(set(by_seed[0]) & set(by_seed[1]))
    if len(shared) < 3:
        return math.nan
    tau = kendalltau([by_seed[0][k] for k in shared], [by_seed[1][k] for k in shared]).statistic
    return float(tau)


def choose(results: Sequence[HopResult]) -> list[BaselineChoice]:
    """Every (task, baseline)'s choice, with the task-wide Kendall fallback applied."""
    groups: dict[tuple[str, str], list[HopResult]] = {}
    for r in results:
        groups.setdefault((r.task, r.baseline), []).append(r)
    choices = []
    for (task, baseline), rows in sorted(groups.items()):
        persistence = rows[0].persistence
        arms = {arm: choose_arm(rows, arm, persistence) for arm in ARMS}
        beats = any(r.score < persistence for r in _finite(rows) if r.seed == 0)
        choices.append(BaselineChoice(task, baseline, persistence, ranking_tau(rows), beats, arms))
    return [_task_fallback(c, choices) for c in choices]


def task_unusable(task: str, choices: Sequence[BaselineChoice]) -> bool:
    """Whether seed 0's and seed 1's rankings disagree (τ < 0.4) for at least half of the
    task's baselines (a baseline without both seeds counts as agreeing: not yet known)."""
    mine = [c for c in choices if c.task == task]
    disagree = sum(1 for c in mine if math.isfinite(c.tau) and c.tau < MIN_TAU)
    return bool(mine) and 2 * disagree >= len(mine)


def _task_fallback(choice: BaselineChoice, choices: Sequence[BaselineChoice]) -> BaselineChoice:
    if not task_unusable(choice.task, choices):
        return choice
    reason = f"seed rankings disagree (τ < {MIN_TAU}) for at least half of the baselines"
    arms = {
        arm: dataclasses.replace(a, how="rho0", reason=reason) if a.how == "hop" else a
        for arm, a in choice.arms.items()
    }
    return dataclasses.replace(choice, arms=arms)


def format_choices(choices: Sequence[BaselineChoice]) -> str:
    """A Markdown table: per task and baseline, each arm's choice and the checks."""
    head = (
        "| task | baseline | persistence | off chosen | off score (today's) | full chosen | "
        "full score (today's) | τ seeds 0/1 | how |"
    )
    lines = [head, "|" + "---|" * 9]
    for c in choices:
        off, full = c.arms["off"], c.arms["full"]
        how = "hop" if off.how == full.how == "hop" else f"ρ0 ({off.reason or full.reason})"
        lines.append(
            f"| {c.task} | {c.baseline} | {c.persistence:.4f} | off@{off.lr:g} | "
            f"{_num(off.score)} ({_num(off.current_score)}) | {full.variant}@{full.lr:g} | "
            f"{_num(full.score)} ({_num(full.current_score)}) | {_num(c.tau, 2)} | {how} |"
        )
    return "\n".join(lines)


def format_scores(results: Sequence[HopResult]) -> str:
    """A Markdown table of every configuration's hop score, seeds side by side."""
    configs: dict[tuple[str, str], dict[str, dict[int, HopResult]]] = {}
    for r in results:
        configs.setdefault((r.task, r.baseline), {}).setdefault(f"{r.variant}@{r.lr:g}", {})[
            r.seed
        ] = r
    head = "| task | baseline | configuration | seed 0 | seed 1 | best step (s0) |"
    lines = [head, "|" + "---|" * 6]
    for (task, baseline), by_config in sorted(configs.items()):
        for name, seeds in by_config.items():
            cells = [_cell(seeds.get(s)) for s in (0, 1)]
            step = seeds[0].best_step if 0 in seeds else "—"
            lines.append(f"| {task} | {baseline} | {name} | {cells[0]} | {cells[1]} | {step} |")
    return "\n".join(lines)


def _cell(r: HopResult | None) -> str:
    if r is None:
        return "—"
    return _num(r.score) if r.status == "ok" else r.status


def _num(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}f}" if math.isfinite(x) else "—"
