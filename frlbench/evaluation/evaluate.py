"""The one evaluation path: a :class:`Forecaster` scored on a dataset under an evaluation protocol.

Training, reference rows (persistence, the task's solver) and ``frlbench eval`` all call
:func:`evaluate`, so their numbers are computed by the same code at the same resolutions
against the same paired truth::

    protocol = EvalProtocol.from_task(task, profile)
    evaluation = evaluate(ModelForecaster(model, device), data, protocol)
    record.replace_evaluation(protocol.to_dict(), evaluation.metrics, evaluation.anchoring_slope)

A forecaster is anything with a ``units`` attribute and a ``forecast(states, resolution)``
method: a trained model (normalized states in, normalized states out), persistence or a
numerical solver (physical units, float64). A stochastic sampler is a model whose forward
pass samples. Rollouts (the forecast fed back as the next input) are scored here too.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import torch

from frlbench import metrics
from frlbench.data import PairedDataset, PairedSplit
from frlbench.data.base import SolverNotApplicable
from frlbench.evaluation import truth as protocols
from frlbench.evaluation.rollout import windows
from frlbench.records import ResolutionMetrics
from frlbench.registry import TASK_BUILDERS
from frlbench.spec import TaskSpec

#: Grid points a forward pass may hold at once during evaluation (batch × points).
EVAL_POINTS_PER_CHUNK = 2 * 64**3

Units = Literal["normalized", "physical"]
#: A solver registered with a task builder: ``forecast(task, profile, states, resolution)``.
SolverFn = Callable[[TaskSpec, str, torch.Tensor, int], torch.Tensor]


class Forecaster(Protocol):
    """Something that advances states by the task's Δt at any test resolution.

    Attributes:
        name: What it is (shown in errors).
        units: ``"normalized"``: takes and returns normalized float32 states (trained models);
            ``"physical"``: takes and returns float64 physical-unit states (persistence, solvers).
        exact_at_reference: True for the solver that produced the ground truth: on the reference
            grid it is compared with itself, so it is scored only on coarser grids.
    """

    name: str
    units: Units
    exact_at_reference: bool

    def forecast(self, states: torch.Tensor, resolution: int) -> torch.Tensor:
        """Advance ``states`` ``(N, C, *grid)`` at ``resolution`` by one step."""
        ...


@dataclass(frozen=True)
class EvalProtocol:
    """How a run is evaluated; stored as a record's ``evaluation`` section, not in its id.

    Attributes:
        task: The task (grid, lengths, channels); not part of :meth:`to_dict`.
        test_resolutions: Resolutions scored, ascending (the training resolution included).
        n_test: Test trajectories.
        rollout_steps: Autoregressive rollout length (0: one step only).
        rollout_trajectories: Roll out the first this many test trajectories (0: all).
        reference_resolution: Where the ground truth was generated.
        train_resolution: ρ0 (the RMSE_Ratio denominator).
        truth: How each test grid is made from the reference fields
            (:mod:`frlbench.evaluation.truth`; empty: the task's default, which the dataset stores).
        normalization: ``train`` (default) or ``per-resolution`` statistics.
        trajectories: Score only the first this many test trajectories (0: all).
    """

    task: TaskSpec = field(repr=False, compare=False)
    test_resolutions: tuple[int, ...]
    n_test: int
    rollout_steps: int
    rollout_trajectories: int
    reference_resolution: int
    train_resolution: int
    truth: str = ""
    normalization: str = "train"
    trajectories: int = 0

    def __post_init__(self) -> None:
        if not self.truth:
            object.__setattr__(self, "truth", protocols.default_truth(self.task))
        protocols.check_truth(self.task, self.truth)
        protocols.check_normalization(self.normalization)

    @property
    def is_default(self) -> bool:
        """True for the stored truth, training statistics and every test trajectory."""
        return (
            self.truth == protocols.default_truth(self.task)
            and self.normalization == protocols.NORMALIZATIONS[0]
            and self.trajectories == 0
        )

    @property
    def resolutions(self) -> tuple[int, ...]:
        """The grids scored (the test resolutions, or the paper-grid family)."""
        return protocols.truth_resolutions(
            self.task, self.truth, self.test_resolutions, self.reference_resolution
        )

    @property
    def ratio_resolution(self) -> int:
        """The grid whose RMSE divides every other (ρ0, or the paper-grid member nearest)."""
        return protocols.ratio_resolution(self.truth, self.resolutions, self.train_resolution)

    @classmethod
    def from_task(cls, task: TaskSpec, profile: str) -> EvalProtocol:
        """The protocol the task's profile asks for."""
        sizes = task.profile(profile)
        return cls(
            task=task,
            test_resolutions=tuple(sizes.test_resolutions),
            n_test=sizes.n_test,
            rollout_steps=sizes.rollout_steps,
            rollout_trajectories=sizes.rollout_trajectories,
            reference_resolution=sizes.reference_resolution,
            train_resolution=sizes.train_resolution,
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the record's ``evaluation`` section (JSON round-trips equal).

        The truth construction, normalization and trajectory subset are written only when
        they are not the defaults, so records evaluated the default way compare equal to
        those stored before these options existed.
        """
        options = {
            "truth": self.truth,
            "normalization": self.normalization,
            "trajectories": self.trajectories,
        }
        defaults = {"truth": protocols.default_truth(self.task), "normalization": "train"}
        return {
            "test_resolutions": list(self.test_resolutions),
            "n_test": self.n_test,
            "rollout_steps": self.rollout_steps,
            "rollout_trajectories": self.rollout_trajectories,
            "reference_resolution": self.reference_resolution,
            "train_resolution": self.train_resolution,
            **{k: v for k, v in options.items() if v != defaults.get(k, 0)},
        }


@dataclass
class Evaluation:
    """What :func:`evaluate` returns.

    Attributes:
        metrics: One entry per scored resolution, ascending.
        anchoring_slope: Slope of log RMSE against log resolution over them.
    """

    metrics: list[ResolutionMetrics]
    anchoring_slope: float


class NotApplicable(ValueError):
    """The forecaster cannot be scored under this protocol (the reason says why)."""


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class ModelForecaster:
    """A trained ``torch.nn.Module`` (in eval mode), run in memory-sized chunks.

    Args:
        model: Maps normalized ``(N, C, *grid)`` states to the next state.
        device: Where it runs; outputs come back on the CPU.
        name: Shown in errors.
    """

    units: Units = "normalized"
    exact_at_reference = False

    def __init__(self, model: torch.nn.Module, device: torch.device, name: str = "model") -> None:
        self.model = model.eval()
        self.device = device
        self.name = name

    @torch.no_grad()
    def forecast(self, states: torch.Tensor, resolution: int) -> torch.Tensor:
        points = math.prod(states.shape[2:])
        chunk = max(1, EVAL_POINTS_PER_CHUNK // points)
        outputs = [
            self.model(states[i : i + chunk].to(self.device)).cpu()
            for i in range(0, len(states), chunk)
        ]
        _sync(self.device)
        return torch.cat(outputs)


class PersistenceForecaster:
    """Tomorrow equals today: the no-skill reference every model must beat."""

    name = "persistence"
    units: Units = "physical"
    exact_at_reference = False

    def forecast(self, states: torch.Tensor, resolution: int) -> torch.Tensor:
        return states.clone()


class SolverForecaster:
    """The task's own numerical solver, registered with its builder (``solver=``).

    Args:
        solver: ``forecast(task, profile, states, resolution)`` in physical units.
        task: The task.
        profile: Profile name.
        exact_at_reference: Whether this solver produced the ground truth on the reference
            grid (then it is scored only on coarser grids). A builder registered with
            ``solver_is_truth=False`` (e.g. era5's stand-in, whose truth comes from another
            grid and a conservative average) is scored on every grid.
    """

    name = "solver"
    units: Units = "physical"

    def __init__(
        self, solver: SolverFn, task: TaskSpec, profile: str, *, exact_at_reference: bool = True
    ) -> None:
        self.solver, self.task, self.profile = solver, task, profile
        self.exact_at_reference = exact_at_reference

    def forecast(self, states: torch.Tensor, resolution: int) -> torch.Tensor:
        try:
            return self.solver(self.task, self.profile, states, resolution)
        except SolverNotApplicable as exc:  # e.g. real ERA5: no numerical model to run
            raise NotApplicable(str(exc)) from None


def solver_for(task: TaskSpec) -> SolverFn | None:
    """The forecast function the task's builder registered, if any."""
    return TASK_BUILDERS.entry(task.builder).metadata.get("solver")


def trajectories(split: PairedSplit) -> list[list[int]]:
    """Pair indices of each test trajectory (pairs sharing an initial-condition seed), in
    order of first appearance; one pair each when the split records no seeds."""
    seeds = split.sample_seeds or list(range(len(split)))
    groups: dict[int, list[int]] = {}
    for i, seed in enumerate(seeds):
        groups.setdefault(seed, []).append(i)
    return list(groups.values())


def _states(data: PairedDataset, x: torch.Tensor, units: Units) -> torch.Tensor:
    """Normalized stored states in the forecaster's units."""
    return data.denormalize(x.double()) if units == "physical" else x


def _physical(data: PairedDataset, x: torch.Tensor, units: Units) -> torch.Tensor:
    """A forecaster's output in float64 physical units."""
    return x.double() if units == "physical" else data.denormalize(x.double())


def timed_forecast(
    forecaster: Forecaster, states: torch.Tensor, resolution: int
) -> tuple[torch.Tensor, float]:
    """Forecast every state; seconds per sample, timed after a one-sample warm-up."""
    forecaster.forecast(states[:1], resolution)
    start = time.perf_counter()
    out = forecaster.forecast(states, resolution)
    return out, (time.perf_counter() - start) / len(states)


def rollout_rmse(
    forecaster: Forecaster,
    data: PairedDataset,
    task: TaskSpec,
    resolution: int,
    steps: int,
    n_trajectories: int = 0,
) -> list[float]:
    """RMSE in physical units after each of ``steps`` autoregressive steps at ``resolution``.

    Every window of ``steps`` consecutive test pairs of one trajectory starts from its first
    input; the state after step j is compared with the target of the window's j-th pair.
    With ``n_trajectories > 0`` only the windows of the first that many test trajectories
    (in the split's order) are rolled out.
    """
    if steps <= 0:
        return []
    test = data.splits["test"]
    spans = windows(test, steps)
    if n_trajectories > 0:
        keep = set(protocols.trajectory_subset(test, n_trajectories))
        spans = [w for w in spans if w[0] in keep]
    if not spans:
        raise ValueError(f"no run of {steps} consecutive test pairs to roll out")
    state = _states(data, test.inputs[resolution][[w[0] for w in spans]], forecaster.units)
    errors = []
    for j in range(steps):
        state = forecaster.forecast(state, resolution)
        truth = data.denormalize(test.targets[resolution][[w[j] for w in spans]].double())
        pred = _physical(data, state, forecaster.units)
        errors.append(metrics.rmse(pred, truth, metrics.latitude_weights_for(task, truth)))
    return errors


def evaluate(forecaster: Forecaster, data: PairedDataset, protocol: EvalProtocol) -> Evaluation:
    """Score ``forecaster`` at every resolution of ``protocol`` (one step, then the rollout).

    Resolutions at or above ``protocol.reference_resolution`` are skipped for a forecaster
    that is exact there (the solver that generated the truth). Under a truth construction
    other than the stored one, each grid's inputs and targets are made from the reference
    fields (:func:`frlbench.evaluation.truth.protocol_views`); the default uses the stored fields.

    Raises:
        NotApplicable: If no resolution is left to score, or a solver meets ``paper-grid``.
        ValueError: If a resolution is not in the dataset's test split.
    """
    task = protocol.task
    test = data.splits["test"]
    if protocol.truth == "paper-grid" and isinstance(forecaster, SolverForecaster):
        raise NotApplicable(
            "truth paper-grid: its grids are not uniform on the periodic domain, so the "
            "task's solver does not apply to them"
        )
    resolutions = list(protocol.resolutions)
    if forecaster.exact_at_reference:
        resolutions = [r for r in resolutions if r < protocol.reference_resolution]
    base = protocol.ratio_resolution
    if base not in resolutions:
        raise NotApplicable(
            f"{forecaster.name} is exact at the reference resolution "
            f"{protocol.reference_resolution}, and the training resolution "
            f"{protocol.train_resolution} is not coarser than it"
        )
    stored = protocol.truth == protocols.default_truth(task)
    needed = resolutions if stored else [protocol.reference_resolution]
    missing = [r for r in needed if r not in test.inputs]
    if missing:
        raise ValueError(f"test resolutions {missing} are not in the dataset ({test.resolutions})")
    views = protocols.protocol_views(
        data,
        task,
        truth=protocol.truth,
        normalization=protocol.normalization,
        resolutions=resolutions,
        reference_resolution=protocol.reference_resolution,
        n_trajectories=protocol.trajectories,
    )
    results = []
    for res in resolutions:
        view = views[res]
        split = view.splits["test"]
        states = _states(view, split.inputs[res], forecaster.units)
        pred, seconds = timed_forecast(forecaster, states, res)
        truth = view.denormalize(split.targets[res].double())
        m = metrics.evaluate_fields(
            _physical(view, pred, forecaster.units),
            truth,
            task,
            res,
            data.train_resolution,
            climatology=view.climatology.get(res),
            trajectories=trajectories(split),
        )
        m.inference_s_per_sample = seconds
        m.rollout_rmse = rollout_rmse(
            forecaster, view, task, res, protocol.rollout_steps, protocol.rollout_trajectories
        )
        results.append(m)
    slope = metrics.fill_ratios(results, base)
    return Evaluation(results, slope)


__all__ = [
    "EVAL_POINTS_PER_CHUNK",
    "EvalProtocol",
    "Evaluation",
    "Forecaster",
    "ModelForecaster",
    "NotApplicable",
    "PersistenceForecaster",
    "SolverForecaster",
    "evaluate",
    "rollout_rmse",
    "solver_for",
    "timed_forecast",
    "trajectories",
]
