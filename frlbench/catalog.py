"""Finding and loading the project's declarative files: ``tasks/*.toml`` and ``baselines/``.

The project directory is ``$FRLBENCH_HOME`` if set, else the current directory if it holds
``tasks/``, else the source checkout frlbench was installed from (an editable install).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from frlbench.config import BackboneSpec, ConfigError, TaskSpec, load_baseline, load_task
from frlbench.registry import BACKBONES, BASELINES, TASK_BUILDERS, TASKS, discover_plugins


def project_dir() -> Path:
    """The directory holding ``tasks/`` and ``baselines/``."""
    env = os.environ.get("FRLBENCH_HOME")
    if env:
        return Path(env)
    cwd = Path.cwd()
    if (cwd / "tasks").is_dir():
        return cwd
    return Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Catalog:
    """Where tasks and baselines are read from.

    Attributes:
        tasks_dir: Directory of ``<task>.toml`` files.
        baselines_dir: Directory of ``<baseline>.toml`` files and ``*.py`` backbone plugins.
    """

    tasks_dir: Path
    baselines_dir: Path

    @classmethod
    def default(cls) -> Catalog:
        """The catalog of :func:`project_dir`."""
        root = project_dir()
        return cls(root / "tasks", root / "baselines")

    def load(self) -> None:
        """Register built-ins and plugins, then every task and baseline file (validated).

        Tasks and baselines loaded before are forgotten: the registries reflect this catalog.
        """
        discover_plugins(self.baselines_dir)
        TASKS.clear()
        BASELINES.clear()
        for path in sorted(self.tasks_dir.glob("*.toml")):
            task = load_task(path)
            validate_task(task)
            _add(TASKS, task.name, task, path, task.description)
        for path in sorted(self.baselines_dir.glob("*.toml")):
            spec = load_baseline(path)
            if spec.backbone not in BACKBONES:
                raise ConfigError(
                    f"{path}: key 'backbone': {BACKBONES.unknown_message(spec.backbone)}"
                )
            _add(BASELINES, spec.name, spec, path, spec.description)


def _add(registry, name: str, spec: object, path: Path, description: str) -> None:
    """Register one file's spec; a name another file already took is a ConfigError."""
    if name in registry and registry.entry(name).source != str(path):
        raise ConfigError(
            f"{path}: key 'name': {registry.kind} {name!r} is already defined in "
            f"{registry.entry(name).source}; give one of them another name"
        )
    registry.add(name, spec, source=str(path), description=description)


def validate_task(task: TaskSpec) -> None:
    """Check that the task's builder exists and every profile's ``data`` table is valid."""
    from frlbench.data.base import builder_options

    where = task.source or task.name
    if task.builder not in TASK_BUILDERS:
        raise ConfigError(f"{where}: key 'builder': {TASK_BUILDERS.unknown_message(task.builder)}")
    options_cls = TASK_BUILDERS.entry(task.builder).metadata.get("options")
    if options_cls is not None:
        for profile in task.profiles:
            builder_options(task, profile, options_cls)


def get_task(name: str) -> TaskSpec:
    """A loaded task by name (did-you-mean error if unknown)."""
    return TASKS.get(name)


def get_baseline(name: str) -> BackboneSpec:
    """A loaded baseline by name (did-you-mean error if unknown)."""
    return BASELINES.get(name)
