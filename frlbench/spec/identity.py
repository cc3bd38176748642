"""Run identity: what determines a run's trained weights, hashed into its deterministic id."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from frlbench.registry import BACKBONES, TASK_BUILDERS
from frlbench.spec.baseline import BackboneSpec, TrainSettings
from frlbench.spec.frl import FRL_VERSION, FRLConfig
from frlbench.spec.task import EVALUATION_KEYS, TaskSpec


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
    """The task under ``profile`` as it determines training data: evaluation keys excluded,
    and the identity of the files it reads (:func:`data_source_identity`) where there are any."""
    data = task_fields(task)
    sizes = data["profiles"][profile]
    data["profiles"] = {profile: {k: v for k, v in sizes.items() if k not in EVALUATION_KEYS}}
    source = data_source_identity(task, profile)
    if source is not None:
        data["data_source_identity"] = source
    return data


def data_source_identity(task: TaskSpec, profile: str) -> dict[str, Any] | None:
    """The identity of the files the task's data are read from (e.g. real ERA5), independent of
    where the copy lives; ``None`` for generated data (the stand-in, solvers), whose ids stay as
    they were. From the ``source_identity`` hook a task builder registers, its ``"run"`` part.

    Raises:
        ConfigError: If a configured data path does not exist or cannot be read.
    """
    if task.builder not in TASK_BUILDERS:
        return None
    identify = TASK_BUILDERS.entry(task.builder).metadata.get("source_identity")
    source = identify(task, profile) if identify is not None else None
    return None if source is None else source["run"]


def backbone_version(backbone: str) -> str:
    """The code version a backbone family registered (``version=`` metadata, default ``"1"``).

    Bump it by hand when a change to the family's code changes what it computes.
    """
    if backbone not in BACKBONES:
        return "1"
    return str(BACKBONES.entry(backbone).metadata.get("version", "1"))
