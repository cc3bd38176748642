"""Typed, validated specs: tasks, baselines, FRL variants, profiles, and run identity.

TOML files in ``tasks/`` and ``baselines/`` become frozen dataclasses (:mod:`.parse`); a wrong
key, type or value raises :class:`ConfigError` naming the file, the key, what was given and
what is valid. One module per concept: :mod:`.task`, :mod:`.baseline`, :mod:`.frl`,
:mod:`.profile`, :mod:`.identity`, and the resolved run, :mod:`.plan`.
"""

from frlbench.spec.baseline import BackboneSpec, TrainSettings, load_baseline
from frlbench.spec.frl import FRL_VERSION, FRLConfig
from frlbench.spec.identity import backbone_version, content_hash, task_fields
from frlbench.spec.parse import (
    SAFE_NAME,
    SAFE_NAME_RULE,
    ConfigError,
    InvalidValue,
    is_safe_name,
    load_toml,
    parse_dataclass,
)
from frlbench.spec.plan import (
    EvalSettings,
    ResolvedTask,
    RunPlan,
    RunSpec,
    data_source_identity,
    resolve_task,
    task_identity,
)
from frlbench.spec.profile import GridCell, NamedGrid, Profile
from frlbench.spec.task import EVALUATION_KEYS, GRIDS, TaskProfile, TaskSpec, load_task

__all__ = [
    "EVALUATION_KEYS",
    "FRL_VERSION",
    "GRIDS",
    "SAFE_NAME",
    "SAFE_NAME_RULE",
    "BackboneSpec",
    "ConfigError",
    "EvalSettings",
    "FRLConfig",
    "GridCell",
    "InvalidValue",
    "NamedGrid",
    "Profile",
    "ResolvedTask",
    "RunPlan",
    "RunSpec",
    "TaskProfile",
    "TaskSpec",
    "TrainSettings",
    "backbone_version",
    "content_hash",
    "data_source_identity",
    "is_safe_name",
    "load_baseline",
    "load_task",
    "load_toml",
    "parse_dataclass",
    "resolve_task",
    "task_fields",
    "task_identity",
]
