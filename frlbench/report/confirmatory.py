"""The confirmatory test fixed in ``docs/frl_selection.md``: does FRL ``full`` forecast with a
lower RMSE than FRL ``off`` at the finest test grid, per family and task?

- **Effect:** the relative RMSE reduction ``1 − RMSE_full / RMSE_off`` at the finest grid,
  each RMSE the root of the mean squared per-trajectory RMSE over every seed and test
  trajectory of its arm (positive: FRL is better).
- **Paired bootstrap**, 10 000 draws with a fixed generator: each draw resamples the seeds of
  each arm with replacement, and within each drawn pair of seeds the test trajectories, the
  same trajectories for both arms (they forecast the same test states: that is the pairing).
- **One-sided test** of "no reduction" at α = 0.05: ``p = (1 + #draws ≤ 0) / (draws + 1)``,
  Holm-corrected across the families of a task (and profile).
- **Smallest detectable effect** (80% power at α = 0.05 one-sided):
  ``(z_0.95 + z_0.80) × the bootstrap standard deviation`` of the effect.

Everything else on the leaderboard (ablation rows, ratios, other grids) is exploratory.
Computing only; the tables are rendered by the caller.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from frlbench.frl.variants import FULL, OFF
from frlbench.records import RunRecord
from frlbench.report.document import Table

DRAWS = 10_000
ALPHA = 0.05
#: z_0.95 + z_0.80: the smallest effect a one-sided 5% test detects with 80% power, in
#: standard deviations of its estimate.
DETECTABLE_Z = 1.6449 + 0.8416
SEED = 20261207


@dataclass(frozen=True)
class PairedEffect:
    """The effect of ``full`` over ``off`` and its bootstrap.

    Attributes:
        effect: ``1 − RMSE_full / RMSE_off`` on every seed and trajectory.
        lower: One-sided 95% lower bound (5th percentile of the draws).
        p: One-sided bootstrap p-value of "no reduction".
        detectable: Smallest effect detectable with 80% power at α = 0.05.
        seeds: ``(off seeds, full seeds)``.
        trajectories: Test trajectories (shared by both arms).
    """

    effect: float
    lower: float
    p: float
    detectable: float
    seeds: tuple[int, int]
    trajectories: int


def paired_effect(
    off: np.ndarray, full: np.ndarray, *, draws: int = DRAWS, seed: int = SEED
) -> PairedEffect:
    """The effect of ``full`` over ``off`` from ``(seeds, trajectories)`` per-trajectory RMSEs.

    Raises:
        ValueError: If the arms have different trajectory counts or no seed.
    """
    off, full = np.asarray(off, dtype=float) ** 2, np.asarray(full, dtype=float) ** 2
    if off.ndim != 2 or full.ndim != 2 or off.shape[1] != full.shape[1] or not len(off) * len(full):
        raise ValueError(
            "need (seeds, trajectories) arrays of one trajectory count, got "
            f"{off.shape} and {full.shape}"
        )
    n_traj = off.shape[1]
    slots = max(len(off), len(full))
    point = 1.0 - math.sqrt(full.mean() / off.mean())
    rng = np.random.default_rng(seed)
    pick_off = rng.integers(0, len(off), size=(draws, slots))
    pick_full = rng.integers(0, len(full), size=(draws, slots))
    traj = rng.integers(0, n_traj, size=(draws, slots, n_traj))
    off_ms = np.take_along_axis(off[pick_off], traj, axis=2).mean(axis=(1, 2))
    full_ms = np.take_along_axis(full[pick_full], traj, axis=2).mean(axis=(1, 2))
    effects = 1.0 - np.sqrt(full_ms / off_ms)
    p = (1 + int(np.sum(effects <= 0))) / (draws + 1)
    return PairedEffect(
        effect=point,
        lower=float(np.percentile(effects, 100 * ALPHA)),
        p=p,
        detectable=DETECTABLE_Z * float(effects.std(ddof=1)),
        seeds=(len(off), len(full)),
        trajectories=n_traj,
    )


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (monotone, capped at 1), in the input's order."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [0.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def _finest_errors(records: Sequence[RunRecord], finest: int) -> np.ndarray | None:
    """``(seeds, trajectories)`` per-trajectory RMSEs at grid ``finest``, one record per seed
    (the first by run id); ``None`` if a seed lacks them."""
    by_seed: dict[int, RunRecord] = {}
    for rec in sorted(records, key=lambda r: r.run_id):
        by_seed.setdefault(rec.seed, rec)
    rows = []
    for rec in by_seed.values():
        metric = next((m for m in rec.metrics if m.resolution == finest), None)
        values = list(getattr(metric, "rmse_per_trajectory", None) or [])
        if not values:
            return None
        rows.append(values)
    if len({len(r) for r in rows}) != 1:
        return None
    return np.asarray(rows, dtype=float)


def confirmatory_frame(records: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per (task, profile, baseline) with finished ``off`` and ``full`` runs.

    Columns: task, profile, baseline, resolution, selection (how each arm's settings were
    chosen), effect, lower, p, p_holm, significant, detectable, seeds_off, seeds_full,
    trajectories.
    """
    arms: dict[tuple[str, str, str], dict[str, list[RunRecord]]] = defaultdict(
        lambda: {OFF: [], FULL: []}
    )
    for rec in records:
        if rec.kind == "model" and rec.status == "ok" and rec.frl in (OFF, FULL) and rec.metrics:
            arms[(rec.task, rec.profile, rec.baseline)][rec.frl].append(rec)
    rows = []
    for (task, profile, baseline), by_arm in sorted(arms.items()):
        if not (by_arm[OFF] and by_arm[FULL]):
            continue
        finest = min(max(m.resolution for m in r.metrics) for r in by_arm[OFF] + by_arm[FULL])
        off, full = (_finest_errors(by_arm[a], finest) for a in (OFF, FULL))
        if off is None or full is None or off.shape[1] != full.shape[1]:
            continue
        result = paired_effect(off, full)
        selection = "/".join(
            sorted({getattr(r, "selection", "rho0") for r in by_arm[OFF] + by_arm[FULL]})
        )
        rows.append({
            "task": task, "profile": profile, "baseline": baseline, "resolution": finest,
            "selection": selection, "effect": result.effect, "lower": result.lower,
            "p": result.p, "detectable": result.detectable, "seeds_off": result.seeds[0],
            "seeds_full": result.seeds[1], "trajectories": result.trajectories,
        })  # fmt: skip
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame["p_holm"] = math.nan
    for _, index in frame.groupby(["task", "profile"]).groups.items():
        frame.loc[index, "p_holm"] = holm(frame.loc[index, "p"].tolist())
    frame["significant"] = frame["p_holm"] < ALPHA
    return frame


def confirmatory_table(frame: pd.DataFrame, task: str, profile: str) -> Table | None:
    """The test's rows of one task and profile as a leaderboard table (``None`` if none)."""
    if frame.empty:
        return None
    rows = frame[(frame["task"] == task) & (frame["profile"] == profile)]
    if rows.empty:
        return None
    body = [
        [
            r["baseline"],
            SELECTION_TEXT.get(r["selection"], r["selection"]),
            f"{r['seeds_off']} / {r['seeds_full']}",
            str(r["trajectories"]),
            f"{100 * r['effect']:+.1f}%",
            f"{100 * r['lower']:+.1f}%",
            f"{r['p']:.4f}",
            f"{r['p_holm']:.4f}",
            "yes" if r["significant"] else "no",
            f"{100 * r['detectable']:.1f}%",
        ]
        for r in rows.to_dict("records")
    ]
    finest = int(rows["resolution"].max())
    return Table(
        title=f"Confirmatory test — does FRL full lower the RMSE @{finest}? ({task}, {profile})",
        columns=[
            "Backbone",
            "Settings chosen by",
            "Seeds off / full",
            "Test trajectories",
            "RMSE reduction",
            "One-sided 95% lower bound",
            "p",
            "p (Holm)",
            f"Reduction at α = {ALPHA:g}",
            "Smallest detectable",
        ],
        rows=body,
        text=(0, 1, 8),
        note=(
            "Fixed before the runs (docs/frl_selection.md): RMSE reduction = 1 − RMSE_full / "
            "RMSE_off at the finest grid; paired bootstrap over seeds and, within them, the same "
            f"test trajectories for both arms ({DRAWS:,} draws), one-sided, Holm-corrected "
            "across the backbones of the task. Smallest detectable: the reduction this many "
            "seeds and trajectories detect with 80% power. Every other table is exploratory."
        ),
    )


#: How a row's settings were chosen, in words.
SELECTION_TEXT = {
    "hop": "resolution transfer (ρ0/2 → ρ0)",
    "rho0": "validation at ρ0",
    "hop/rho0": "mixed: one arm at ρ0",
}
