"""The one evaluation path: a :class:`Forecaster` scored on a dataset under an evaluation protocol.

Training, reference rows (persistence, the task's solver) and ``frlbench eval`` all call
:func:`evaluate`, so their numbers are computed by the same code at the same resolutions
against the same paired truth::

    protocol = EvalProtocol.from_task(task)
    evaluation = evaluate(ModelForecaster(model, device), data, protocol)
    record.replace_evaluation(protocol.to_dict(), evaluation.metrics, evaluation.anchoring_slope)

A forecaster is anything with a ``units`` attribute and a ``forecast(states, resolution)``
method: a trained model (normalized states in, normalized states out), persistence or a
numerical solver (physical units, float64). A stochastic sampler is a model whose forward
pass samples. Rollouts (the forecast fed back as the next input) are scored here too.
"""

from __future__ import annotations

import dataclasses
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
from frlbench.registry import METRICS, TASK_BUILDERS
from frlbench.spec import EvalSettings, ResolvedTask

#: Grid points a forward pass may hold at once during evaluation (batch × points).
EVAL_POINTS_PER_CHUNK = 2 * 64**3

Units = Literal["normalized", "physical"]
#: A solver registered with a task builder: ``forecast(task, states, resolution)``.
SolverFn = Callable[[ResolvedTask, torch.Tensor, int], torch.Tensor]


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
class EvalProtocol(EvalSettings):
    """Evaluation settings on their task: what :func:`evaluate` scores a forecaster under.

    The settings (:class:`~frlbench.spec.EvalSettings`, a run plan's ``evaluation``) are
    checked against the task here: the truth construction must apply to its grid. Stored as a
    record's ``evaluation`` section (:meth:`to_dict`), never in a run id.

    Attributes:
        task: The task at its profile (grid, lengths, channels); not part of :meth:`to_dict`.
    """

    task: ResolvedTask = field(repr=False, compare=False, kw_only=True)

    def __post_init__(self) -> None:
        if not self.truth:
            object.__setattr__(self, "truth", protocols.default_truth(self.task))
        if not self.metrics:
            object.__setattr__(self, "metrics", tuple(METRICS))
        unknown = [name for name in self.metrics if name not in METRICS]
        if unknown:
            raise ValueError(METRICS.unknown_message(unknown[0]))
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
    def of(cls, task: ResolvedTask, settings: EvalSettings) -> EvalProtocol:
        """``settings`` (e.g. a run plan's ``evaluation``) applied to ``task``."""
        values = {f.name: getattr(settings, f.name) for f in dataclasses.fields(EvalSettings)}
        return cls(**values, task=task)

    @classmethod
    def from_task(cls, task: ResolvedTask) -> EvalProtocol:
        """The protocol the task's profile asks for (every registered metric)."""
        return cls.of(task, EvalSettings.of_task(task))

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the record's ``evaluation`` section (JSON round-trips equal).

        The truth construction, normalization and trajectory subset are written only when
        they are not the defaults, so records evaluated the default way compare equal to
        those stored before these options existed; ``metrics`` names the metrics computed
        (compare with :func:`same_settings`, which leaves it out).
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
            "metrics": list(self.metrics),
        }


def same_settings(stored: dict[str, Any], protocol: EvalProtocol) -> bool:
    """Whether a record's stored ``evaluation`` section asked for ``protocol``'s settings.

    The metric names are left out: records stored before they were written lack them, and a
    metric registered later (a plugin) does not make a stored evaluation out of date.
    """
    current = protocol.to_dict()
    current.pop("metrics")
    return {k: v for k, v in stored.items() if k != "metrics"} == current


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
        solver: ``forecast(task, states, resolution)`` in physical units.
        task: The task at its profile.
        exact_at_reference: Whether this solver produced the ground truth on the reference
            grid (then it is scored only on coarser grids). A builder registered with
            ``solver_is_truth=False`` (e.g. era5's stand-in, whose truth comes from another
            grid and a conservative average) is scored on every grid.
    """

    name = "solver"
    units: Units = "physical"

    def __init__(
        self, solver: SolverFn, task: ResolvedTask, *, exact_at_reference: bool = True
    ) -> None:
        self.solver, self.task = solver, task
        self.exact_at_reference = exact_at_reference

    def forecast(self, states: torch.Tensor, resolution: int) -> torch.Tensor:
        try:
            return self.solver(self.task, states, resolution)
        except SolverNotApplicable as exc:  # e.g. real ERA5: no numerical model to run
            raise NotApplicable(str(exc)) from None


def solver_for(task: ResolvedTask) -> SolverFn | None:
    """The forecast function the task's builder registered, if any."""
    return TASK_BUILDERS.entry(task.builder).info.solver


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
    task: ResolvedTask,
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
            names=protocol.metrics,
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
    "same_settings",
    "solver_for",
    "timed_forecast",
    "trajectories",
]
