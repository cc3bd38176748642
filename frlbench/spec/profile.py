"""A profile: a named budget of seeds, FRL variants and device."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Profile:
    """A named budget: which runs a grid holds and how large they are.

    Attributes:
        name: Profile name (registered in ``frlbench.registry.PROFILES``).
        description: One line shown by ``frlbench list profiles``.
        seeds: Seeds run for every (task, baseline, FRL variant).
        frl_variants: FRL variants run by ``frlbench run --all``.
        device: Preferred device (``auto`` picks CUDA when available).
        expects_skill: Whether its models are trained long enough to be expected to beat
            persistence (``smoke``'s few steps are not: its leaderboard says so).
    """

    name: str
    description: str
    seeds: tuple[int, ...] = (0, 1)
    frl_variants: tuple[str, ...] = ("off", "full")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    expects_skill: bool = True
