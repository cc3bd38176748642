"""Run identity: what determines a run's trained weights, hashed into its deterministic id."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from frlbench.registry import BACKBONES
from frlbench.spec.task import TaskSpec


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


def backbone_version(backbone: str) -> str:
    """The code version a backbone family registered (``version=`` metadata, default ``"1"``).

    Bump it by hand when a change to the family's code changes what it computes.
    """
    if backbone not in BACKBONES:
        return "1"
    return BACKBONES.entry(backbone).info.version
