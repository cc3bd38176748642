"""Autoregressive rollout: a forecast fed back as the next input, scored at every step.

A test split holds pairs ``(u(t), u(t + Δt))``; consecutive pairs of one trajectory chain
(pair i's target is pair i + 1's input). A k-step rollout starts from the input of every
pair that has k - 1 successors in its chain, applies the forecast k times, and compares the
state after step j with the target of the j-th pair of the window — the same paired truth,
at the same resolution, as the one-step metrics. Models and references (persistence, solver)
are rolled out by the same code
(:func:`frlbench.evaluation.evaluate.rollout_rmse`), so their curves are comparable.
"""

from __future__ import annotations

import torch

from frlbench.data import PairedDataset, PairedSplit
from frlbench.spec import ConfigError, ResolvedTask


def chains(split: PairedSplit) -> list[list[int]]:
    """Pair indices grouped into runs of consecutive pairs of one trajectory, in order.

    Two neighbouring pairs chain when they share an initial-condition seed and the target of
    the first equals the input of the second (checked at the coarsest resolution held).
    """
    res = split.resolutions[0]
    inputs, targets = split.inputs[res], split.targets[res]
    seeds = split.sample_seeds or list(range(len(split)))
    runs: list[list[int]] = []
    for i in range(len(split)):
        follows = (
            i > 0
            and seeds[i] == seeds[i - 1]
            and torch.allclose(targets[i - 1], inputs[i], rtol=1e-5, atol=1e-6)
        )
        if follows:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def windows(split: PairedSplit, steps: int) -> list[list[int]]:
    """Every run of ``steps`` consecutive pairs (one rollout each)."""
    return [c[i : i + steps] for c in chains(split) for i in range(len(c) - steps + 1)]


def check_rollout(task: ResolvedTask, data: PairedDataset) -> None:
    """Fail before any training if the profile asks for a longer rollout than the data holds.

    Raises:
        ConfigError: Naming the task file, ``profiles.<profile>.rollout_steps`` and the limit.
    """
    steps = task.sizes.rollout_steps
    if steps <= 1:
        return
    longest = max((len(c) for c in chains(data.splits["test"])), default=0)
    if steps > longest:
        raise ConfigError(
            f"{task.source or task.name}: profiles.{task.profile}.rollout_steps = {steps}, but the "
            f"longest run of consecutive test pairs of one trajectory has {longest}; valid: "
            f"0 to {longest}"
        )
