"""A profile: a named budget of seeds, FRL variants and device; a named grid: a fixed set of
runs beside a profile's main grid (e.g. the ablations)."""

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


@dataclass(frozen=True)
class GridCell:
    """Tasks × baselines × FRL variants: one block of a named grid.

    Attributes:
        tasks: Task names.
        baselines: Baseline names; empty: every loaded baseline.
        frl: FRL variant names.
        declared_only: Keep a (task, baseline, variant) only if the baseline's TOML has a
            ``[profiles.<profile>.tasks.<task>.frl.<variant>]`` table (e.g. the ρ0-chosen
            rows, which exist only where the selection moved an arm).
    """

    tasks: tuple[str, ...]
    baselines: tuple[str, ...]
    frl: tuple[str, ...]
    declared_only: bool = False


@dataclass(frozen=True)
class NamedGrid:
    """A fixed set of runs with a name (``frlbench run --grid <name>``), beside the main grid.

    Attributes:
        name: Grid name (registered in ``frlbench.registry.GRIDS``).
        description: One line shown by ``frlbench list grids``.
        profile: The profile its runs are sized and trained at.
        seeds: Seeds of every cell.
        cells: Its blocks; a run in two blocks runs once.
    """

    name: str
    description: str
    profile: str
    seeds: tuple[int, ...]
    cells: tuple[GridCell, ...]
