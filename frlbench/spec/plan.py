"""The resolved run: a task at its profile, its evaluation settings, and the immutable RunPlan.

A grid names its runs (task, baseline, FRL variant, seed, profile): a :class:`RunSpec`, which is
what ``spec.json`` stores. :meth:`RunSpec.resolve` turns those names into a :class:`RunPlan`
once, at grid expansion; everything downstream (data builders, solvers, training, evaluation,
records) reads the plan's attributes and never looks a profile up again::

    plan = RunSpec(task, baseline, FRL_VARIANTS.get("full"), seed=0, profile="quick").resolve()
    plan.task.train_resolution, plan.settings.steps, plan.evaluation.test_resolutions, plan.run_id

The run id hashes the plan's training part only (:meth:`RunPlan.fingerprint`): the evaluation
settings, and the metrics computed, can change without retraining.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any

from frlbench.geometry import Geometry
from frlbench.registry import METRICS, TASK_BUILDERS
from frlbench.spec.baseline import BackboneSpec, TrainSettings
from frlbench.spec.frl import FRL_VERSION, FRLConfig
from frlbench.spec.identity import backbone_version, content_hash, task_fields
from frlbench.spec.parse import ConfigError, parse_dataclass
from frlbench.spec.task import EVALUATION_KEYS, TaskProfile, TaskSpec


@dataclass(frozen=True)
class ResolvedTask:
    """A task at one profile: everything a builder, solver, model or metric reads of it.

    Attributes:
        spec: The task spec it was resolved from (its identity and its file, for errors).
        profile: Profile name, as data: it names the dataset file and is shown, never used to
            look sizes up again.
        sizes: The profile's sizes (``[profiles.<profile>]`` of the task file).
    """

    spec: TaskSpec
    profile: str
    sizes: TaskProfile

    @functools.cached_property
    def options(self) -> Any:
        """The builder's data options (``[profiles.<profile>.data]``), an instance of the
        options dataclass its builder registered; the plain table when it registers none.

        Parsed when first read (:func:`resolve_task` reads it, so a bad value fails there) and
        not pickled: a worker process parses it again once its plugins are registered.
        """
        task = self.spec
        options_cls = None
        if task.builder in TASK_BUILDERS:
            options_cls = TASK_BUILDERS.entry(task.builder).info.options
        if options_cls is None:
            return dict(self.sizes.data)
        where = task.source or task.name
        return parse_dataclass(options_cls, self.sizes.data, where, prefix=self.data_key)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("options", None)
        return state

    @property
    def name(self) -> str:
        """Task name."""
        return self.spec.name

    @property
    def builder(self) -> str:
        """Registered task builder."""
        return self.spec.builder

    @property
    def source(self) -> str:
        """The task file, for error messages."""
        return self.spec.source

    @property
    def where(self) -> str:
        """The task file (or the task's name) that errors about it name."""
        return self.spec.source or self.spec.name

    @property
    def description(self) -> str:
        """One line shown by ``frlbench list tasks``."""
        return self.spec.description

    @property
    def grid(self) -> str:
        """Name of the grid's geometry: ``"periodic"`` or ``"latlon"``."""
        return self.spec.grid

    @property
    def geometry(self) -> Geometry:
        """The grid's geometry (periodic box or lat-lon sphere)."""
        return self.spec.geometry

    @property
    def ndim(self) -> int:
        """Spatial dimensions."""
        return self.spec.ndim

    @property
    def channels(self) -> tuple[str, ...]:
        """Names of the forecast variables, one channel each."""
        return self.spec.channels

    @property
    def domain_length(self) -> float:
        """Side length of the periodic box."""
        return self.spec.domain_length

    @property
    def symmetry(self) -> str:
        """Symmetry group training may augment with (see :class:`TaskSpec`)."""
        return self.spec.symmetry

    @property
    def odd_channels(self) -> tuple[str, ...]:
        """Channels that change sign under the equator mirror."""
        return self.spec.odd_channels

    @property
    def static_inputs(self) -> tuple[str, ...]:
        """Fields appended to every model's input."""
        return self.spec.static_inputs

    @property
    def lengths(self) -> tuple[float, ...]:
        """Physical side lengths per axis, for the spectral helpers."""
        return self.spec.lengths

    def grid_shape(self, resolution: int) -> tuple[int, ...]:
        """Array shape of one field at ``resolution``."""
        return self.spec.grid_shape(resolution)

    @property
    def train_resolution(self) -> int:
        """ρ0: grid points per axis of the training data."""
        return self.sizes.train_resolution

    @property
    def test_resolutions(self) -> tuple[int, ...]:
        """Resolutions the dataset holds test pairs at, ascending."""
        return self.sizes.test_resolutions

    @property
    def reference_resolution(self) -> int:
        """Where the ground truth is generated."""
        return self.sizes.reference_resolution

    @property
    def n_train(self) -> int:
        """Training trajectories."""
        return self.sizes.n_train

    @property
    def n_val(self) -> int:
        """Validation trajectories."""
        return self.sizes.n_val

    @property
    def n_test(self) -> int:
        """Test trajectories."""
        return self.sizes.n_test

    @property
    def data_key(self) -> str:
        """Key path of the data options in the task file (``profiles.<profile>.data``)."""
        return f"profiles.{self.profile}.data"

    def with_sizes(self, **changes: Any) -> ResolvedTask:
        """This task with some sizes changed (e.g. other test resolutions), checked again."""
        sizes = dataclasses.replace(self.sizes, **changes)
        spec = dataclasses.replace(self.spec, profiles={**self.spec.profiles, self.profile: sizes})
        return dataclasses.replace(self, spec=spec, sizes=sizes)


def resolve_task(task: TaskSpec, profile: str) -> ResolvedTask:
    """``task`` at ``profile``, its data options parsed by its builder's options dataclass.

    The one place a task's profile is looked up.

    Raises:
        ConfigError: If the task does not define ``profile``, or its data options are invalid.
    """
    if profile not in task.profiles:
        raise ConfigError(
            f"{task.source or task.name}: key 'profiles.{profile}': task {task.name!r} does "
            f"not define profile {profile!r}; defined: {', '.join(sorted(task.profiles))}"
        )
    resolved = ResolvedTask(spec=task, profile=profile, sizes=task.profiles[profile])
    resolved.options  # noqa: B018  (validated now, not when the data are built)
    return resolved


def task_identity(task: ResolvedTask) -> dict[str, Any]:
    """The task at its profile as it determines training data: evaluation keys excluded, and
    the identity of the files it reads (:func:`data_source_identity`) where there are any."""
    data = task_fields(task.spec)
    sizes = data["profiles"][task.profile]
    data["profiles"] = {task.profile: {k: v for k, v in sizes.items() if k not in EVALUATION_KEYS}}
    source = data_source_identity(task)
    if source is not None:
        data["data_source_identity"] = source
    return data


def data_source_identity(task: ResolvedTask) -> dict[str, Any] | None:
    """The identity of the files the task's data are read from (e.g. real ERA5), independent of
    where the copy lives; ``None`` for generated data (the stand-in, solvers), whose ids stay as
    they were. From the ``source_identity`` hook a task builder registers, its ``"run"`` part.

    Raises:
        ConfigError: If a configured data path does not exist or cannot be read.
    """
    if task.builder not in TASK_BUILDERS:
        return None
    identify = TASK_BUILDERS.entry(task.builder).info.source_identity
    source = identify(task) if identify is not None else None
    return None if source is None else source["run"]


@dataclass(frozen=True)
class EvalSettings:
    """How a run is evaluated; stored in its record beside the metrics, never in its id.

    Attributes:
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
        metrics: Names of the registered metrics computed (``frlbench.registry.METRICS``);
            empty: every registered one.
    """

    test_resolutions: tuple[int, ...]
    n_test: int
    rollout_steps: int
    rollout_trajectories: int
    reference_resolution: int
    train_resolution: int
    truth: str = ""
    normalization: str = "train"
    trajectories: int = 0
    metrics: tuple[str, ...] = field(default=(), kw_only=True)

    @classmethod
    def of_task(cls, task: ResolvedTask, metrics: tuple[str, ...] = ()) -> EvalSettings:
        """The settings the task's profile asks for."""
        sizes = task.sizes
        return cls(
            test_resolutions=tuple(sizes.test_resolutions),
            n_test=sizes.n_test,
            rollout_steps=sizes.rollout_steps,
            rollout_trajectories=sizes.rollout_trajectories,
            reference_resolution=sizes.reference_resolution,
            train_resolution=sizes.train_resolution,
            metrics=metrics,
        )


@dataclass(frozen=True)
class RunPlan:
    """One run, resolved once: what trains it, how it is evaluated, and its id.

    Attributes:
        task: The task at its profile.
        baseline: The baseline spec (its file, backbone and override tables).
        frl: The FRL configuration.
        seed: Random seed for python, numpy and torch.
        settings: Training settings (profile, FRL variant and task overrides applied).
        options: The backbone's builder options (profile and task overrides applied).
        evaluation: How the run is evaluated (not part of its id).
        selection: How its settings were chosen: ``"rho0"`` (validation RMSE at the training
            grid) or ``"hop"`` (the resolution-transfer validation); not part of its id.
    """

    task: ResolvedTask
    baseline: BackboneSpec
    frl: FRLConfig
    seed: int
    settings: TrainSettings
    options: dict[str, Any]
    evaluation: EvalSettings
    selection: str = "rho0"

    @property
    def run_id(self) -> str:
        """Deterministic id: readable prefix plus a hash of :meth:`fingerprint`."""
        digest = content_hash(self.fingerprint())
        return f"{self.task.name}-{self.baseline.name}-{self.frl.name}-s{self.seed}-{digest}"

    @property
    def profile(self) -> str:
        """Profile name (display and ids only)."""
        return self.task.profile

    @property
    def backbone(self) -> str:
        """Registered backbone family."""
        return self.baseline.backbone

    @property
    def size(self) -> str:
        """Backbone size."""
        return self.settings.size

    def fingerprint(self) -> dict[str, Any]:
        """What determines the trained weights (file paths and evaluation settings excluded).

        The task's data configuration and training part of the profile, the baseline and its
        settings, the FRL configuration, the seed, and the code versions of the backbone family
        (registered with it, default ``"1"``) and of FRL (:data:`FRL_VERSION`). Test
        resolutions, ``n_test``, rollout and metrics are left out: changing them re-evaluates.
        """
        baseline = dataclasses.asdict(self.baseline)
        for key in ("source", "description", "defaults", "profiles"):
            baseline.pop(key)
        baseline["options"] = dict(self.options)
        baseline["settings"] = dataclasses.asdict(self.settings)
        frl = dataclasses.asdict(self.frl)
        # Added after results were stored: at its default (every step, the earlier behaviour)
        # it is left out so that the ids of existing runs do not change.
        if frl["coarse_every"] == 1:
            del frl["coarse_every"]
        return {
            "task": task_identity(self.task),
            "baseline": baseline,
            "frl": frl,
            "seed": self.seed,
            "profile": self.profile,
            "versions": {"backbone": backbone_version(self.baseline.backbone), "frl": FRL_VERSION},
        }

    def request(self) -> RunSpec:
        """The names and specs this plan was resolved from (what ``spec.json`` stores)."""
        return RunSpec(self.task.spec, self.baseline, self.frl, self.seed, self.profile)

    def with_sizes(self, **changes: Any) -> RunPlan:
        """This plan with some task sizes changed (e.g. ``frlbench eval --resolutions``); its
        evaluation settings follow, keeping the metric names."""
        task = self.task.with_sizes(**changes)
        evaluation = EvalSettings.of_task(task, self.evaluation.metrics)
        return dataclasses.replace(self, task=task, evaluation=evaluation)


@dataclass(frozen=True)
class RunSpec:
    """One run by name: the task and baseline specs, FRL configuration, seed and profile.

    What ``spec.json`` stores; :meth:`resolve` turns it into the :class:`RunPlan` that
    everything downstream reads.

    Attributes:
        task: The task spec.
        baseline: The baseline spec.
        frl: The FRL configuration.
        seed: Random seed for python, numpy and torch.
        profile: Profile name (selects sizes in ``task`` and settings in ``baseline``).
    """

    task: TaskSpec
    baseline: BackboneSpec
    frl: FRLConfig
    seed: int
    profile: str

    def resolve(self) -> RunPlan:
        """The run resolved at its profile (every metric registered now is computed).

        Raises:
            ConfigError: If the task does not define the profile, or a setting is invalid.
        """
        task = resolve_task(self.task, self.profile)
        name = self.task.name
        return RunPlan(
            task=task,
            baseline=self.baseline,
            frl=self.baseline.frl_config(self.profile, self.frl, name),
            seed=self.seed,
            settings=self.baseline.settings(self.profile, self.frl.name, name),
            options=self.baseline.profile_options(self.profile, name),
            evaluation=EvalSettings.of_task(task, tuple(METRICS)),
            selection=self.baseline.selected_by(self.profile, self.frl.name, name),
        )
