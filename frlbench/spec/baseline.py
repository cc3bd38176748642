"""The baseline spec: ``baselines/<name>.toml``, its training settings and override cascade."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from frlbench.spec.frl import FRLConfig
from frlbench.spec.parse import (
    SAFE_NAME_RULE,
    ConfigError,
    check,
    is_safe_name,
    load_toml,
    parse_dataclass,
)

#: Keys of a ``[...frl.<variant>]`` table that are not training settings: the FRL settings
#: this baseline trains the variant with, and how its settings were chosen.
FRL_TABLE_KEYS = ("frl_settings", "selected_by")
#: How a baseline's settings were chosen: by the validation RMSE at the training grid
#: (``"rho0"``), or by the resolution-transfer validation (``"hop"``, docs/frl_selection.md).
SELECTIONS = ("rho0", "hop")


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
        check(self.steps >= 1, "steps", self.steps, ">= 1")
        check(self.epochs >= 0, "epochs", self.epochs, ">= 0 (0: use steps)")
        check(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        check(self.lr > 0, "lr", self.lr, "> 0")
        check(self.warmup_steps >= 0, "warmup_steps", self.warmup_steps, ">= 0")
        check(self.weight_decay >= 0, "weight_decay", self.weight_decay, ">= 0")
        check(self.grad_clip >= 0, "grad_clip", self.grad_clip, ">= 0 (0 disables)")
        check(self.eval_every >= 0, "eval_every", self.eval_every, ">= 0 (0: no validation)")

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
            (settings of one FRL variant, e.g. its own ``lr``; its ``frl_settings`` table
            changes the variant's FRL settings for this baseline, and ``selected_by`` says how
            they were chosen, see :meth:`frl_config`) and ``tasks.<task>`` (settings chosen on
            one task, with its own ``options`` and ``frl.<variant>``).
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
        check(is_safe_name(self.name), "name", self.name, SAFE_NAME_RULE)

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
                merged.update({k: v for k, v in per_frl[frl].items() if k not in FRL_TABLE_KEYS})
                prefix = f"{where}.frl.{frl}"
        return parse_dataclass(TrainSettings, merged, self.source or self.name, prefix=prefix)

    def frl_config(self, profile: str, cfg: FRLConfig, task: str | None = None) -> FRLConfig:
        """``cfg`` (a registered FRL variant) with this baseline's ``frl_settings`` for it under
        ``profile`` (and ``task``) applied, e.g. the settings the resolution-transfer
        selection chose: ``[profiles.quick.tasks.fluid3d.frl.full] frl_settings =
        {encoding_frequencies = 8}``. Unchanged (the same object) without such a table, so
        runs of baselines without one keep their ids.

        Raises:
            ConfigError: For an unknown key or bad value (the key path is named), or a
                ``name`` key (a variant keeps its name).
        """
        merged: dict[str, Any] = {}
        prefix = ""
        for where, table in self._frl_tables(profile, cfg.name, task):
            extra = table.get("frl_settings", {})
            if not isinstance(extra, dict) or "name" in extra:
                raise ConfigError(
                    f"{self.source or self.name}: key '{where}.frl_settings': expected a table "
                    f"of FRL settings other than 'name'; got {extra!r}"
                )
            merged.update(extra)
            prefix = f"{where}.frl_settings"
        if not merged:
            return cfg
        values = {**dataclasses.asdict(cfg), **merged}
        return parse_dataclass(FRLConfig, values, self.source or self.name, prefix=prefix)

    def selected_by(self, profile: str, frl: str, task: str | None = None) -> str:
        """How the settings of variant ``frl`` under ``profile`` (and ``task``) were chosen:
        the ``selected_by`` key of its ``frl.<variant>`` tables, default ``"rho0"``.

        Raises:
            ConfigError: For a value not in :data:`SELECTIONS`.
        """
        value = "rho0"
        for where, table in self._frl_tables(profile, frl, task):
            if "selected_by" in table:
                value = table["selected_by"]
                check(value in SELECTIONS, f"{where}.selected_by", value, f"one of {SELECTIONS}")
        return value

    def _frl_tables(
        self, profile: str, frl: str, task: str | None
    ) -> list[tuple[str, dict[str, Any]]]:
        """The ``frl.<frl>`` tables of ``profile`` (and ``task``), in the order they apply."""
        out = []
        for where, table in self._layers(profile, task):
            per_frl = table.get("frl", {})
            if isinstance(per_frl, dict) and isinstance(per_frl.get(frl), dict):
                out.append((f"{where}.frl.{frl}", per_frl[frl]))
        return out

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
            spec.frl_config(profile, FRLConfig(name=frl))
            spec.selected_by(profile, frl)
        for task in spec.task_overrides(profile):
            spec.settings(profile, task=task)
            spec.profile_options(profile, task)
            for frl in spec.frl_overrides(profile, task):
                spec.settings(profile, frl, task)
                spec.frl_config(profile, FRLConfig(name=frl), task)
                spec.selected_by(profile, frl, task)
    return spec
