"""The composition place: built-in components, plugins, tasks and baselines are registered here.

:mod:`frlbench.registry` is a leaf that imports nothing of frlbench; this module imports the
built-in modules (so their ``@register_*`` decorators run top-down), the user's plugin files
and entry points, and the declarative files.

Tasks and baselines form an overlay:

1. the built-in ``tasks/*.toml`` and ``baselines/*.toml`` shipped inside the package
   (``frlbench/catalog_data/``, installed with the wheel, so ``pip install .`` works);
2. the user's own ``tasks/`` and ``baselines/`` directories are *added* on top: the ones
   given with ``--tasks-dir`` / ``--baselines-dir``, else those of ``$FRLBENCH_HOME``, else
   those of the current directory. A user's ``baselines/*.py`` files are imported as plugins.

A name defined twice (a user file reusing a built-in name, or two files) is an error naming
both files.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

from frlbench.registry import (
    BACKBONES,
    BASELINES,
    PROFILES,
    SYMMETRIES,
    TASK_BUILDERS,
    TASKS,
    PluginError,
    Registry,
)
from frlbench.spec import (
    BackboneSpec,
    ConfigError,
    TaskSpec,
    load_baseline,
    load_task,
    resolve_task,
)

ENTRY_POINT_GROUP = "frlbench.backbones"
#: Where the built-in task and baseline files live inside the installed package.
BUILTIN_DIR = Path(__file__).resolve().parent / "catalog_data"

_loaded_plugin_files: set[Path] = set()
_loaded_entry_points = False


def register_builtins() -> None:
    """Import the built-in modules; their decorators register data builders, backbones, FRL
    variants, profiles, metrics and symmetry groups."""
    import frlbench.augment
    import frlbench.data
    import frlbench.frl
    import frlbench.metrics
    import frlbench.models
    import frlbench.profiles  # noqa: F401

    # Execution backends register when frlbench.runner is imported (the runner imports this
    # module, so importing it from here would make a cycle).


def load_plugin_file(path: Path) -> None:
    """Import one user plugin file so its registrations run (once per file and process).

    Raises:
        PluginError: Naming the file, if importing it fails.
    """
    path = Path(path).resolve()
    if path in _loaded_plugin_files:
        return
    # Named by content, so the same plugin copied to another directory is the same source
    # (re-registering replaces), while two different files claiming one name clash.
    digest = hashlib.sha1(path.read_bytes()).hexdigest()[:12]
    module_name = f"frlbench_plugin_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PluginError(f"cannot import plugin file {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise PluginError(f"plugin file {path} failed to import: {exc!r}") from exc
    _loaded_plugin_files.add(path)


def load_entry_points() -> None:
    """Import every module exposed under the ``frlbench.backbones`` entry-point group."""
    global _loaded_entry_points
    if _loaded_entry_points:
        return
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:
            raise PluginError(
                f"entry point {ep.name!r} ({ep.value}) in group {ENTRY_POINT_GROUP!r} "
                f"failed to load: {exc!r}"
            ) from exc
    _loaded_entry_points = True


def discover_plugins(baselines_dir: Path | None = None) -> None:
    """Register built-in components, then user plugins from files and entry points.

    Args:
        baselines_dir: A directory whose ``*.py`` files are imported (sorted by name).
            ``None`` skips file plugins.
    """
    register_builtins()
    if baselines_dir is not None and Path(baselines_dir).is_dir():
        for path in sorted(Path(baselines_dir).glob("*.py")):
            if not path.name.startswith("_"):
                load_plugin_file(path)
    load_entry_points()


def user_dir() -> Path:
    """The directory whose ``tasks/`` and ``baselines/`` are added to the built-ins:
    ``$FRLBENCH_HOME`` if set, else the current directory."""
    env = os.environ.get("FRLBENCH_HOME")
    return Path(env) if env else Path.cwd()


@dataclass(frozen=True)
class Catalog:
    """Where tasks and baselines are read from: the built-ins plus the user's directories.

    Attributes:
        tasks_dir: The user's directory of ``<task>.toml`` files (may not exist).
        baselines_dir: The user's directory of ``<baseline>.toml`` files and ``*.py`` plugins
            (may not exist).
        builtin_dir: Directory holding the built-in ``tasks/`` and ``baselines/``.
    """

    tasks_dir: Path
    baselines_dir: Path
    builtin_dir: Path = BUILTIN_DIR

    @classmethod
    def default(cls) -> Catalog:
        """The built-ins plus :func:`user_dir`'s ``tasks/`` and ``baselines/``."""
        root = user_dir()
        return cls(root / "tasks", root / "baselines")

    def task_files(self) -> list[Path]:
        """Built-in task files, then the user's (each group sorted by name)."""
        return _files(self.builtin_dir / "tasks", self.tasks_dir)

    def baseline_files(self) -> list[Path]:
        """Built-in baseline files, then the user's (each group sorted by name)."""
        return _files(self.builtin_dir / "baselines", self.baselines_dir)

    def load(self) -> None:
        """Register built-ins and plugins, then every task and baseline file (validated).

        Tasks and baselines loaded before are forgotten: the registries reflect this catalog.

        Raises:
            ConfigError: For an invalid file, or a name defined by two files (both named).
            PluginError: If a plugin file fails to import.
        """
        discover_plugins(self.baselines_dir)
        TASKS.clear()
        BASELINES.clear()
        for path in self.task_files():
            task = load_task(path)
            validate_task(task)
            _add(TASKS, task.name, task, path, description=task.description)
        for path in self.baseline_files():
            spec = load_baseline(path)
            validate_baseline(spec)
            _add(BASELINES, spec.name, spec, path, description=spec.description)


def _files(builtin: Path, user: Path) -> list[Path]:
    files = sorted(builtin.glob("*.toml"))
    if user.is_dir() and user.resolve() != builtin.resolve():
        files += sorted(user.glob("*.toml"))
    return files


def _add(registry: Registry, name: str, obj: object, path: Path, **metadata: object) -> None:
    if name in registry:
        raise ConfigError(
            f"{registry.kind} {name!r} is defined twice: in {registry.entry(name).source} and "
            f"in {path}; rename one of them (a user's file adds to the built-ins, it does not "
            "replace them)"
        )
    registry.add(name, obj, source=str(path), **metadata)


def validate_task(task: TaskSpec) -> None:
    """Check that the task's builder exists, its profiles are registered profiles, and every
    profile's ``data`` table is valid."""
    where = task.source or task.name
    if task.builder not in TASK_BUILDERS:
        raise ConfigError(f"{where}: key 'builder': {TASK_BUILDERS.unknown_message(task.builder)}")
    for profile in task.profiles:
        if profile not in PROFILES:
            raise ConfigError(
                f"{where}: key 'profiles.{profile}': {PROFILES.unknown_message(profile)}"
            )
    if task.symmetry not in SYMMETRIES:
        raise ConfigError(f"{where}: key 'symmetry': {SYMMETRIES.unknown_message(task.symmetry)}")
    info = TASK_BUILDERS.entry(task.builder).info
    if info.geometry is not None and task.geometry != info.geometry:
        raise ConfigError(
            f"{where}: key 'grid': got {task.grid!r}; builder {task.builder!r} makes data on a "
            f"{info.geometry.name!r} grid"
        )
    if info.symmetries and task.symmetry not in ("none", *info.symmetries):
        raise ConfigError(
            f"{where}: key 'symmetry': got {task.symmetry!r}; builder {task.builder!r} declares "
            f"the symmetries: {', '.join(('none', *info.symmetries))}"
        )
    for profile in task.profiles:
        resolve_task(task, profile)


def validate_baseline(spec: BackboneSpec) -> None:
    """Check the baseline's backbone, profile names, and sizes against the backbone's
    registered ``sizes`` (the one source of truth: a plugin may declare its own)."""
    where = spec.source or spec.name
    if spec.backbone not in BACKBONES:
        raise ConfigError(f"{where}: key 'backbone': {BACKBONES.unknown_message(spec.backbone)}")
    for profile in spec.profiles:
        if profile not in PROFILES:
            raise ConfigError(
                f"{where}: key 'profiles.{profile}': {PROFILES.unknown_message(profile)}"
            )
        for task in spec.task_overrides(profile):
            if task not in TASKS:
                raise ConfigError(
                    f"{where}: key 'profiles.{profile}.tasks.{task}': {TASKS.unknown_message(task)}"
                )
    sizes = BACKBONES.entry(spec.backbone).info.sizes
    if not sizes:
        return
    for profile in PROFILES:
        table = spec.profiles.get(profile, {})
        key = f"profiles.{profile}.size" if "size" in table else "defaults.size"
        checks = [(key, spec.settings(profile).size)]
        for task in spec.task_overrides(profile):
            if "size" in spec.task_table(profile, task):
                size = spec.settings(profile, task=task).size
                checks.append((f"profiles.{profile}.tasks.{task}.size", size))
        for key, size in checks:
            if size not in sizes:
                raise ConfigError(
                    f"{where}: key {key!r}: got {size!r}; backbone {spec.backbone!r} declares "
                    f"sizes {', '.join(sizes)}"
                )


def get_task(name: str) -> TaskSpec:
    """A loaded task by name (did-you-mean error if unknown)."""
    return TASKS.get(name)


def get_baseline(name: str) -> BackboneSpec:
    """A loaded baseline by name (did-you-mean error if unknown)."""
    return BASELINES.get(name)


def builtin_task_file(name: str) -> Path:
    """The built-in ``tasks/<name>.toml`` shipped with the package."""
    return BUILTIN_DIR / "tasks" / f"{name}.toml"
