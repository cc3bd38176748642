"""What ``frlbench audit`` measured: plain rows, no torch (see :mod:`frlbench.runner.audit`).

:mod:`frlbench.runner.audit` fills an :class:`AuditResult`; :mod:`frlbench.report.audit`
renders it. Keeping these types here lets the report read them without importing the runner.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: The normalization label of reference rows (persistence and solver work in physical units).
PHYSICAL = "physical"


@dataclass
class AuditRow:
    """One RMSE of one run under one protocol at one grid and lead (a CSV row).

    Attributes:
        lead: Steps forecast: 1 is the one-step score over every scored pair; j > 1 is the
            autoregressive rollout's j-th step (over the rollout windows).
        ratio_resolution: The grid whose RMSE at the same lead divides ``rmse``.
        trajectories: Test trajectories scored (one-step); rollouts use the profile's subset
            of them.
    """

    task: str
    profile: str
    kind: str
    baseline: str
    frl: str
    seed: int
    run_id: str
    protocol: str
    normalization: str
    resolution: int
    lead: int
    rmse: float
    rmse_ratio: float
    ratio_resolution: int
    trajectories: int


@dataclass
class Skipped:
    """A run or evaluation left out, and why."""

    run_id: str
    label: str
    reason: str


@dataclass
class Diagnostic:
    """Spectral facts of the truth of one task under one protocol at one grid.

    Attributes:
        energy_above_train_nyquist: Fraction of the targets' energy (spatial means removed,
            channels in training-normalized units) above the training Nyquist.
        aliased_energy: Fraction of the reference targets' energy that point subsampling to
            this grid folds into the resolved band (power-of-two grids; NaN elsewhere).
    """

    task: str
    profile: str
    protocol: str
    resolution: int
    train_resolution: int
    energy_above_train_nyquist: float
    aliased_energy: float


@dataclass
class AuditResult:
    """Everything ``frlbench audit`` measured, for :mod:`frlbench.report.audit`."""

    rows: list[AuditRow] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    not_applicable: list[Skipped] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    protocols: tuple[str, ...] = ()
    max_rollout: dict[str, int] = field(default_factory=dict)
    trajectories: int = 0
    wall_s: float = 0.0
