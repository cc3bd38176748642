"""Typed, validated configuration: tasks, baselines, FRL variants, profiles and runs.

TOML files in ``tasks/`` and ``baselines/`` are turned into frozen dataclasses by
:func:`parse_dataclass`, which checks every key against the dataclass fields. A wrong key,
type or value raises :class:`ConfigError` naming the file, the key, what was given and what
is valid.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

from frlbench.registry import BACKBONES
from frlbench.static_inputs import static_input_error

C = TypeVar("C")

GRIDS = ("periodic", "latlon")

#: Version of what FRL computes (multi-resolution levels, encoding, spectral loss). Part of every
#: run's identity: bump it by hand when a change to :mod:`frlbench.frl` changes trained weights,
#: so finished runs are no longer "finished" (as neuraloperator keeps a ``_version`` with weights).
FRL_VERSION = "1"

#: Keys of a task profile that only say how a run is *evaluated*; they are not part of the run's
#: identity, so changing them re-evaluates stored weights instead of retraining.
EVALUATION_KEYS = ("test_resolutions", "n_test", "rollout_steps", "rollout_trajectories")


SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
SAFE_NAME_RULE = (
    "letters, digits, '_', '-' and '.', starting with a letter or digit, no '..', "
    "at most 128 characters"
)


def is_safe_name(name: object) -> bool:
    """Whether ``name`` can be used as one path component (no separators, no ``..``)."""
    return isinstance(name, str) and SAFE_NAME.fullmatch(name) is not None and ".." not in name


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the file, key, value and valid choices."""


class InvalidValue(ConfigError):
    """A dataclass rejected one of its values; :func:`parse_dataclass` adds file and key path.

    Attributes:
        key: The field name.
        value: The value given.
        valid: What would be valid, in words.
    """

    def __init__(self, key: str, value: Any, valid: str) -> None:
        super().__init__(f"key {key!r}: got {value!r}; valid: {valid}")
        self.key, self.value, self.valid = key, value, valid


def _where(source: str, key: str) -> str:
    return f"{source}: key {key!r}" if key else source


def _type_name(tp: Any) -> str:
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in get_args(tp))
    if origin is not None:
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, source: str, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert TOML types to it."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        choices = get_args(tp)
        if value not in choices:
            raise ConfigError(
                f"{_where(source, key)}: got {value!r}; valid choices: "
                + ", ".join(repr(c) for c in choices)
            )
        return value
    if origin in (typing.Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, source, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{_where(source, key)}: got {value!r}; expected {_type_name(tp)}")
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ConfigError(
                f"{_where(source, key)}: got {value!r}; expected a list of {_type_name(tp)}"
            )
        args = get_args(tp)
        item_tp = args[0] if args else Any
        items = [_coerce(v, item_tp, source, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{_where(source, key)}: got {value!r}; expected a table")
        _, val_tp = get_args(tp)
        return {k: _coerce(v, val_tp, source, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{_where(source, key)}: got {value!r}; expected a table")
        return parse_dataclass(tp, value, source, prefix=key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{_where(source, key)}: got {value!r}; expected true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{_where(source, key)}: got {value!r}; expected an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{_where(source, key)}: got {value!r}; expected a number")
        if not math.isfinite(float(value)):
            raise ConfigError(f"{_where(source, key)}: got {value!r}; expected a finite number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{_where(source, key)}: got {value!r}; expected a string")
        return value
    raise TypeError(f"unsupported annotation {tp!r} for {key!r}")


def parse_dataclass(cls: type[C], data: dict[str, Any], source: str, prefix: str = "") -> C:
    """Build dataclass ``cls`` from a mapping, validating keys and types.

    Args:
        cls: The dataclass to build.
        data: Keys and values, as read from TOML.
        source: Where the values came from (a file path), used in error messages.
        prefix: Dotted key of the enclosing table, used in error messages.

    Raises:
        ConfigError: For an unknown key, a missing required key, a wrong type, or a value
            rejected by the dataclass's own ``__post_init__`` check.
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"{_where(source, _join(prefix, unknown[0]))}: unknown key; valid keys: "
            + ", ".join(sorted(fields))
        )
    kwargs = {}
    for name, f in fields.items():
        full = _join(prefix, name)
        if name in data:
            kwargs[name] = _coerce(data[name], hints[name], source, full)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{_where(source, full)}: missing required key")
    try:
        return cls(**kwargs)
    except InvalidValue as exc:
        where = _where(source, _join(prefix, exc.key))
        raise ConfigError(f"{where}: got {exc.value!r}; valid: {exc.valid}") from None
    except ValueError as exc:
        raise ConfigError(f"{_where(source, prefix)}: {exc}") from None


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def load_toml(path: Path) -> dict[str, Any]:
    """Read a TOML file, turning a syntax error into a :class:`ConfigError` naming the file."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None


def _check(condition: bool, key: str, value: Any, valid: str) -> None:
    if not condition:
        raise InvalidValue(key, value, valid)


@dataclass(frozen=True)
class TaskProfile:
    """Sizes of one task under one profile.

    Attributes:
        train_resolution: Grid points per axis of the training data (ρ0); for lat-lon grids
            the number of longitudes, with half as many latitudes.
        test_resolutions: Resolutions evaluated, ascending; must include ``train_resolution``.
        reference_resolution: Resolution at which ground truth is generated; every other
            resolution is derived from it, so it must be at least the largest test resolution.
        n_train: Number of training trajectories (initial conditions).
        n_val: Number of validation trajectories.
        n_test: Number of test trajectories.
        rollout_steps: Autoregressive rollout evaluated at every test resolution: each
            model (and reference) is fed its own forecast back this many times, starting
            from every test state that has that many successors in its trajectory; 0
            (default) evaluates one step only. At most the number of consecutive test pairs
            a trajectory has.
        rollout_trajectories: Score the rollout on the first this many test trajectories
            only (a fixed subset, the same for every model and reference); 0 (default): all
            of them. One-step metrics always use every test trajectory. Rolling a model out
            at the finest grid costs ``rollout_steps`` forecasts per window, which dominates
            the evaluation of the slower backbones.
        data: Builder-specific options, validated by the task builder's own dataclass.
    """

    train_resolution: int
    test_resolutions: tuple[int, ...]
    reference_resolution: int
    n_train: int
    n_val: int
    n_test: int
    rollout_steps: int = 0
    rollout_trajectories: int = 0
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(self.train_resolution >= 2, "train_resolution", self.train_resolution, ">= 2")
        res = self.test_resolutions
        _check(len(res) > 0, "test_resolutions", res, "a non-empty list")
        _check(list(res) == sorted(set(res)), "test_resolutions", res, "strictly ascending")
        _check(
            self.train_resolution in res,
            "test_resolutions",
            res,
            f"a list that includes train_resolution = {self.train_resolution}",
        )
        _check(
            self.reference_resolution >= max(res),
            "reference_resolution",
            self.reference_resolution,
            f">= the largest test resolution ({max(res)})",
        )
        for key in ("n_train", "n_val", "n_test"):
            value = getattr(self, key)
            _check(value >= 1, key, value, ">= 1")
        _check(self.rollout_steps >= 0, "rollout_steps", self.rollout_steps, ">= 0")
        _check(
            0 <= self.rollout_trajectories <= self.n_test,
            "rollout_trajectories",
            self.rollout_trajectories,
            f"0 (all) to n_test = {self.n_test}",
        )


@dataclass(frozen=True)
class TaskSpec:
    """A forecasting task, read from ``tasks/<name>.toml``.

    Attributes:
        name: Task name (what users type), equal to the file stem.
        builder: Registered task builder that generates or loads the data.
        description: One line shown by ``frlbench list tasks``.
        grid: ``"periodic"`` (box of side ``domain_length`` per axis) or ``"latlon"``.
        ndim: Number of spatial dimensions (2 or 3).
        channels: Names of the physical variables, one channel each.
        domain_length: Physical side length of the periodic box (ignored for lat-lon grids).
        profiles: Sizes per profile name (``smoke``, ``quick``, ``paper``).
        source: The TOML file this spec was read from.
        symmetry: Symmetries of the dynamics that training may use to augment the data
            (``augment = true`` in a baseline): ``"none"``, or ``"cube"`` for a periodic box
            whose channels are the vector components along the axes, in axis order, and whose
            dynamics commute with the 48 rotations and reflections of the cube (permuting axes
            permutes the components, reflecting an axis negates its component); or
            ``"equator"`` for a lat-lon grid whose dynamics commute with the north-south
            mirror (the channels named in ``odd_channels`` change sign); see
            :mod:`frlbench.augment`.
        odd_channels: Channels that change sign under the ``"equator"`` mirror (e.g. the
            meridional wind); empty otherwise.
        static_inputs: Fields appended to every model's input on every grid, not forecast
            (see :mod:`frlbench.static_inputs`), e.g. ``["sin_latitude", "cos_latitude"]``.
    """

    name: str
    builder: str
    ndim: int
    channels: tuple[str, ...]
    profiles: dict[str, TaskProfile]
    description: str = ""
    grid: Literal["periodic", "latlon"] = "periodic"
    domain_length: float = 2 * math.pi
    source: str = ""
    symmetry: Literal["none", "cube", "equator"] = "none"
    odd_channels: tuple[str, ...] = ()
    static_inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check(is_safe_name(self.name), "name", self.name, SAFE_NAME_RULE)
        _check(self.ndim in (1, 2, 3), "ndim", self.ndim, "1, 2 or 3")
        _check(len(self.channels) >= 1, "channels", self.channels, "at least one name")
        _check(self.domain_length > 0, "domain_length", self.domain_length, "> 0")
        if self.symmetry == "cube":
            _check(
                self.grid == "periodic" and len(self.channels) == self.ndim,
                "symmetry",
                self.symmetry,
                "'none' unless the grid is periodic and there is one channel per axis "
                f"(grid {self.grid!r}, {len(self.channels)} channels, ndim {self.ndim})",
            )
        if self.symmetry == "equator":
            _check(
                self.grid == "latlon",
                "symmetry",
                self.symmetry,
                f"'none' or 'cube' unless the grid is 'latlon' (grid {self.grid!r})",
            )
        unknown = [name for name in self.odd_channels if name not in self.channels]
        _check(
            not unknown,
            "odd_channels",
            list(self.odd_channels),
            f"names among channels {list(self.channels)}",
        )
        _check(
            not self.odd_channels or self.symmetry == "equator",
            "odd_channels",
            list(self.odd_channels),
            f"empty unless symmetry = 'equator' (symmetry {self.symmetry!r})",
        )
        if self.grid == "latlon":
            _check(self.ndim == 2, "ndim", self.ndim, "2 for a lat-lon grid")
        problem = static_input_error(self.static_inputs, self.grid)
        _check(problem is None, "static_inputs", list(self.static_inputs), str(problem))

    def profile(self, name: str) -> TaskProfile:
        """Sizes under profile ``name``; a clear error if the task does not define it."""
        if name not in self.profiles:
            raise ConfigError(
                f"{self.source or self.name}: key 'profiles.{name}': task {self.name!r} does "
                f"not define profile {name!r}; defined: {', '.join(sorted(self.profiles))}"
            )
        return self.profiles[name]

    def grid_shape(self, resolution: int) -> tuple[int, ...]:
        """Array shape of one field at ``resolution``; lat-lon grids have half as many latitudes."""
        if self.grid == "latlon":
            return (resolution // 2, resolution)
        return (resolution,) * self.ndim

    @property
    def lengths(self) -> tuple[float, ...]:
        """Physical side lengths per axis, for the spectral helpers."""
        if self.grid == "latlon":
            return (math.pi, 2 * math.pi)
        return (self.domain_length,) * self.ndim


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation settings of one baseline under one profile (and FRL variant).

    The budget is counted in optimizer steps, not epochs: with a few dozen training pairs an
    epoch is a handful of steps, so epochs say little about how much a model has learned.

    Attributes:
        size: Backbone size, one of the sizes its backbone registered (``tiny``, ``small``,
            ``base`` for the built-ins; a plugin may declare others); checked when the catalog
            loads the baseline.
        steps: Optimizer steps (batches drawn by reshuffling the training pairs each pass).
        epochs: Deprecated budget of older TOMLs: when > 0 it replaces ``steps`` by
            ``epochs · ceil(training pairs / batch_size)``. 0 (the default) uses ``steps``.
        batch_size: Training pairs per optimizer step.
        lr: Peak learning rate of Adam.
        warmup_steps: Steps of linear warm-up from 0 to ``lr``; a cosine decay to zero follows.
        weight_decay: Adam weight decay.
        grad_clip: Gradient-norm clip; 0 disables clipping.
        eval_every: Steps between validation RMSEs; the state with the lowest one (and the
            final state, always checked) is kept. 0 keeps the final state without validation.
        residual: The backbone predicts the increment: forecast = input + backbone(input).
        augment: Transform each training batch by a random symmetry of the task (its
            ``symmetry`` key; no change on a task whose symmetry is ``"none"``). Validation
            and test data are never transformed.
    """

    size: str = "small"
    steps: int = 200
    epochs: int = 0
    batch_size: int = 8
    lr: float = 1e-3
    warmup_steps: int = 0
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    eval_every: int = 0
    residual: bool = False
    augment: bool = False

    def __post_init__(self) -> None:
        _check(self.steps >= 1, "steps", self.steps, ">= 1")
        _check(self.epochs >= 0, "epochs", self.epochs, ">= 0 (0: use steps)")
        _check(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        _check(self.lr > 0, "lr", self.lr, "> 0")
        _check(self.warmup_steps >= 0, "warmup_steps", self.warmup_steps, ">= 0")
        _check(self.weight_decay >= 0, "weight_decay", self.weight_decay, ">= 0")
        _check(self.grad_clip >= 0, "grad_clip", self.grad_clip, ">= 0 (0 disables)")
        _check(self.eval_every >= 0, "eval_every", self.eval_every, ">= 0 (0: no validation)")

    def total_steps(self, n_train: int) -> int:
        """Optimizer steps of the budget for ``n_train`` training pairs."""
        if self.epochs > 0:
            return self.epochs * math.ceil(n_train / self.batch_size)
        return self.steps


@dataclass(frozen=True)
class BackboneSpec:
    """A baseline configuration, read from ``baselines/<name>.toml``.

    Attributes:
        name: Baseline name used in run ids and the leaderboard (the file stem).
        backbone: Registered backbone builder.
        description: One line shown by ``frlbench list backbones``.
        options: Extra keyword options passed to the builder (validated by the builder).
        defaults: Training settings shared by every profile.
        profiles: Per-profile overrides of ``defaults`` (any subset of its keys), with optional
            sub-tables ``options`` (builder options of that profile), ``frl.<variant>``
            (settings of one FRL variant, e.g. its own ``lr``) and ``tasks.<task>`` (settings
            chosen on one task, with its own ``options`` and ``frl.<variant>``).
        source: The TOML file this spec was read from.
    """

    name: str
    backbone: str
    description: str = ""
    options: dict[str, Any] = field(default_factory=dict)
    defaults: TrainSettings = field(default_factory=TrainSettings)
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = ""

    def __post_init__(self) -> None:
        _check(is_safe_name(self.name), "name", self.name, SAFE_NAME_RULE)

    def settings(
        self, profile: str, frl: str | None = None, task: str | None = None
    ) -> TrainSettings:
        """Training settings under ``profile``, FRL variant ``frl`` and task ``task``.

        ``defaults``, updated by ``[profiles.<profile>]``, by ``[profiles.<profile>.frl.<frl>]``
        (e.g. an FRL variant's own learning rate), by ``[profiles.<profile>.tasks.<task>]`` (a
        budget or rate chosen on that task) and last by
        ``[profiles.<profile>.tasks.<task>.frl.<frl>]``.
        """
        merged = dataclasses.asdict(self.defaults)
        prefix = "defaults"
        for where, table in self._layers(profile, task):
            override = {k: v for k, v in table.items() if k not in ("options", "tasks")}
            per_frl = override.pop("frl", {})
            if not isinstance(per_frl, dict) or not all(
                isinstance(v, dict) for v in per_frl.values()
            ):
                raise ConfigError(
                    f"{self.source or self.name}: key '{where}.frl': expected tables "
                    f"[{where}.frl.<variant>] of training settings; got {per_frl!r}"
                )
            merged.update(override)
            prefix = where
            if frl is not None and frl in per_frl:
                merged.update(per_frl[frl])
                prefix = f"{where}.frl.{frl}"
        return parse_dataclass(TrainSettings, merged, self.source or self.name, prefix=prefix)

    def _layers(self, profile: str, task: str | None) -> list[tuple[str, dict[str, Any]]]:
        """The override tables of ``profile`` (and of ``task`` under it), in the order they
        apply, each with the key path that names it in errors."""
        layers = [(f"profiles.{profile}", self.profiles.get(profile, {}))]
        if task is not None:
            layers.append((f"profiles.{profile}.tasks.{task}", self.task_table(profile, task)))
        return layers

    def _tasks_tables(self, profile: str) -> dict[str, dict[str, Any]]:
        """The ``[profiles.<profile>.tasks.<task>]`` tables, checked to be tables."""
        tables = self.profiles.get(profile, {}).get("tasks", {})
        if not isinstance(tables, dict) or not all(isinstance(v, dict) for v in tables.values()):
            raise ConfigError(
                f"{self.source or self.name}: key 'profiles.{profile}.tasks': expected tables "
                f"[profiles.{profile}.tasks.<task>] of training settings; got {tables!r}"
            )
        return tables

    def task_table(self, profile: str, task: str) -> dict[str, Any]:
        """The ``[profiles.<profile>.tasks.<task>]`` table (empty when the baseline has none)."""
        return self._tasks_tables(profile).get(task, {})

    def profile_options(self, profile: str, task: str | None = None) -> dict[str, Any]:
        """Builder options under ``profile``: ``options`` updated by
        ``[profiles.<profile>.options]`` (e.g. a width that suits the profile's hardware), then
        by ``[profiles.<profile>.tasks.<task>.options]``."""
        merged = dict(self.options)
        for where, table in self._layers(profile, task):
            extra = table.get("options", {})
            if not isinstance(extra, dict):
                raise ConfigError(
                    f"{self.source or self.name}: key '{where}.options': expected a table "
                    f"of builder options; got {extra!r}"
                )
            merged.update(extra)
        return merged

    def frl_overrides(self, profile: str, task: str | None = None) -> list[str]:
        """FRL variants with their own ``[profiles.<profile>.frl.<variant>]`` table (or, with
        ``task``, ``[profiles.<profile>.tasks.<task>.frl.<variant>]``)."""
        table = self.profiles.get(profile, {}) if task is None else self.task_table(profile, task)
        return sorted(table.get("frl", {}) or {})

    def task_overrides(self, profile: str) -> list[str]:
        """Tasks with their own ``[profiles.<profile>.tasks.<task>]`` table."""
        return sorted(self._tasks_tables(profile))

    @property
    def size(self) -> str:
        """Default size (profiles may override it)."""
        return self.defaults.size


@dataclass(frozen=True)
class FRLConfig:
    """Frequency Representation Learning switches and hyper-parameters.

    Attributes:
        name: Variant name (``off``, ``full``, ablations).
        multires: Train on levels ρ0 / 2^j built by spectral truncation (step 1).
        encoding: Append Nyquist-normalized sin/cos encoding channels (step 2).
        spectral_loss: Add the Fourier-domain and cross-level consistency terms (step 3).
        levels: Number of coarser levels J below the training resolution.
        min_resolution: Smallest grid allowed for a level.
        encoding_frequencies: Frequencies M per axis; f_m = (m / M) · k_Nyquist, m = 1..M.
        encoding_convention: ``"nyquist"`` (fractions of each grid's own Nyquist) or
            ``"physical"`` (fractions of the training grid's Nyquist, fixed in physical units).
        lambda_spec: Weight of the Fourier-domain error term.
        lambda_cons: Weight of the cross-level consistency term.
        coarse_every: Visit the coarser multires levels on every ``N``-th training step only
            (the first, the ``N+1``-th, ...), with their loss terms weighted ``N`` times, so
            the objective averaged over ``N`` steps is the every-step one. ``1`` (default):
            every step. Cuts the extra coarse-level passes to ``1/N`` of the steps.
    """

    name: str = "off"
    multires: bool = False
    encoding: bool = False
    spectral_loss: bool = False
    levels: int = 2
    min_resolution: int = 4
    encoding_frequencies: int = 4
    encoding_convention: Literal["nyquist", "physical"] = "nyquist"
    lambda_spec: float = 0.1
    lambda_cons: float = 0.1
    coarse_every: int = 1

    def __post_init__(self) -> None:
        _check(self.levels >= 0, "levels", self.levels, ">= 0")
        _check(self.min_resolution >= 2, "min_resolution", self.min_resolution, ">= 2")
        _check(
            self.encoding_frequencies >= 1,
            "encoding_frequencies",
            self.encoding_frequencies,
            ">= 1",
        )
        _check(self.lambda_spec >= 0, "lambda_spec", self.lambda_spec, ">= 0")
        _check(self.lambda_cons >= 0, "lambda_cons", self.lambda_cons, ">= 0")
        _check(self.coarse_every >= 1, "coarse_every", self.coarse_every, ">= 1")

    @property
    def enabled(self) -> bool:
        """True when any FRL step is switched on."""
        return self.multires or self.encoding or self.spectral_loss


@dataclass(frozen=True)
class Profile:
    """A named budget: which runs a grid holds and how large they are.

    Attributes:
        name: Profile name (registered in ``frlbench.registry.PROFILES``).
        description: One line shown by ``frlbench list profiles``.
        seeds: Seeds run for every (task, baseline, FRL variant).
        frl_variants: FRL variants run by ``frlbench run --all``.
        device: Preferred device (``auto`` picks CUDA when available).
    """

    name: str
    description: str
    seeds: tuple[int, ...] = (0, 1)
    frl_variants: tuple[str, ...] = ("off", "full")
    device: Literal["auto", "cpu", "cuda"] = "auto"


@dataclass(frozen=True)
class RunSpec:
    """One training run: everything needed to reproduce it, and nothing else.

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

    def fingerprint(self) -> dict[str, Any]:
        """What determines the trained weights (file paths and evaluation settings excluded).

        The task's data configuration and training part of the profile, the baseline and its
        settings, the FRL configuration, the seed, and the code versions of the backbone family
        (registered with it, default ``"1"``) and of FRL (:data:`FRL_VERSION`). Test
        resolutions, ``n_test`` and ``rollout_steps`` are left out: changing them re-evaluates.
        """
        baseline = dataclasses.asdict(self.baseline)
        for key in ("source", "description", "defaults", "profiles"):
            baseline.pop(key)
        baseline["options"] = self.baseline.profile_options(self.profile, self.task.name)
        baseline["settings"] = dataclasses.asdict(self.settings)
        frl = dataclasses.asdict(self.frl)
        # Added after results were stored: at its default (every step, the earlier behaviour)
        # it is left out so that the ids of existing runs do not change.
        if frl["coarse_every"] == 1:
            del frl["coarse_every"]
        return {
            "task": task_identity(self.task, self.profile),
            "baseline": baseline,
            "frl": frl,
            "seed": self.seed,
            "profile": self.profile,
            "versions": {"backbone": backbone_version(self.baseline.backbone), "frl": FRL_VERSION},
        }

    @property
    def settings(self) -> TrainSettings:
        """Training settings of this run (profile, FRL variant and task overrides applied)."""
        return self.baseline.settings(self.profile, self.frl.name, self.task.name)

    @property
    def run_id(self) -> str:
        """Deterministic id: readable prefix plus a hash of :meth:`fingerprint`."""
        digest = content_hash(self.fingerprint())
        return f"{self.task.name}-{self.baseline.name}-{self.frl.name}-s{self.seed}-{digest}"

    def legacy_run_id(self) -> str:
        """The id schema-1 records used (evaluation settings hashed in, no versions).

        Only used to find runs stored by earlier versions and adopt them under :attr:`run_id`.
        """
        task = task_fields(self.task)
        task["profiles"] = {self.profile: task["profiles"][self.profile]}
        fingerprint = self.fingerprint()
        fingerprint["task"] = task
        fingerprint.pop("versions")
        digest = content_hash(fingerprint)
        return f"{self.task.name}-{self.baseline.name}-{self.frl.name}-s{self.seed}-{digest}"


def content_hash(content: Any) -> str:
    """Short stable hash of plain data (the one hashing rule of every run id)."""
    blob = json.dumps(content, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def task_fields(task: TaskSpec) -> dict[str, Any]:
    """The task's fields as plain data for hashing into ids: ``source`` left out, and
    ``static_inputs`` and ``odd_channels`` too when empty (added later: absent, the ids of
    stored runs stay the same)."""
    data = dataclasses.asdict(task)
    data.pop("source")
    for key in ("static_inputs", "odd_channels"):
        if not data[key]:
            del data[key]
    return data


def task_identity(task: TaskSpec, profile: str) -> dict[str, Any]:
    """The task under ``profile`` as it determines training data: evaluation keys excluded."""
    data = task_fields(task)
    sizes = data["profiles"][profile]
    data["profiles"] = {profile: {k: v for k, v in sizes.items() if k not in EVALUATION_KEYS}}
    return data


def backbone_version(backbone: str) -> str:
    """The code version a backbone family registered (``version=`` metadata, default ``"1"``).

    Bump it by hand when a change to the family's code changes what it computes.
    """
    if backbone not in BACKBONES:
        return "1"
    return str(BACKBONES.entry(backbone).metadata.get("version", "1"))


def load_task(path: Path) -> TaskSpec:
    """Read and validate ``tasks/<name>.toml``; ``name`` defaults to the file stem."""
    path = Path(path)
    data = load_toml(path)
    data.setdefault("name", path.stem)
    data["source"] = str(path)
    return parse_dataclass(TaskSpec, data, str(path))


def load_baseline(path: Path) -> BackboneSpec:
    """Read and validate ``baselines/<name>.toml``; ``name`` defaults to the file stem."""
    path = Path(path)
    data = load_toml(path)
    data.setdefault("name", path.stem)
    data["source"] = str(path)
    spec = parse_dataclass(BackboneSpec, data, str(path))
    for profile in spec.profiles:
        spec.settings(profile)  # validate overrides now, not at run time
        spec.profile_options(profile)
        for frl in spec.frl_overrides(profile):
            spec.settings(profile, frl)
        for task in spec.task_overrides(profile):
            spec.settings(profile, task=task)
            spec.profile_options(profile, task)
            for frl in spec.frl_overrides(profile, task):
                spec.settings(profile, frl, task)
    return spec
