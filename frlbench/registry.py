"""Named registries for backbones, task builders, FRL variants, profiles and execution backends.

One generic :class:`Registry` serves every kind of named component::

    from frlbench.registry import register_backbone

    @register_backbone("my_cnn", family="CNN", sizes=("tiny", "small", "base"))
    def build(spec, task, in_channels, out_channels):
        ...

Backbones written outside frlbench are found by :func:`discover_plugins`: every ``*.py``
file of a baselines directory is imported, and so is every module exposed by an installed
package under the ``frlbench.backbones`` entry-point group.
"""

from __future__ import annotations

import difflib
import fnmatch
import hashlib
import importlib.util
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")

ENTRY_POINT_GROUP = "frlbench.backbones"


class UnknownNameError(KeyError):
    """Raised when a name is not in a registry; the message lists the valid names."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class PluginError(RuntimeError):
    """Raised when a plugin file or entry point fails to import."""


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered component.

    Attributes:
        name: The registered name (what users type).
        obj: The registered object (a builder function, a config, a class).
        metadata: Free-form descriptive fields given at registration (family, sizes, ...).
        source: Where the entry was registered from: a module name or a plugin file path.
    """

    name: str
    obj: T
    metadata: dict[str, Any] = field(default_factory=dict)
    source: str = ""


class Registry(Generic[T]):
    """A mapping from names to components with helpful errors.

    Args:
        kind: What the registry holds, in the singular ("backbone", "task"); used in errors.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}

    def register(self, name: str, **metadata: Any) -> Callable[[T], T]:
        """Return a decorator that registers its argument under ``name``.

        Raises:
            ValueError: If ``name`` is already registered from a different source.
        """

        def decorator(obj: T) -> T:
            self.add(name, obj, **metadata)
            return obj

        return decorator

    def add(self, name: str, obj: T, *, source: str | None = None, **metadata: Any) -> None:
        """Register ``obj`` under ``name`` (the non-decorator form of :meth:`register`).

        Args:
            name: The name users type.
            obj: The component.
            source: Where it comes from (default: the object's module); registering the same
                name again from the same source replaces the entry.
            **metadata: Descriptive fields shown by ``frlbench list``.
        """
        if source is None:
            source = getattr(obj, "__module__", "") or ""
        existing = self._entries.get(name)
        if existing is not None and existing.source != source:
            raise ValueError(
                f"{self.kind} {name!r} is already registered by {existing.source!r}; "
                f"pick another name for the one in {source!r}"
            )
        self._entries[name] = Entry(name=name, obj=obj, metadata=dict(metadata), source=source)

    def get(self, name: str) -> T:
        """Return the component registered under ``name``.

        Raises:
            UnknownNameError: With the known names and the closest match.
        """
        return self.entry(name).obj

    def entry(self, name: str) -> Entry[T]:
        """Return the full :class:`Entry` registered under ``name``."""
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownNameError(self.unknown_message(name)) from None

    def unknown_message(self, name: str) -> str:
        """The error text for an unknown ``name``: known names and the closest match."""
        known = sorted(self._entries)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        listing = ", ".join(known) if known else "(none registered)"
        return f"unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {listing}"

    def list(self, pattern: str = "*") -> list[str]:
        """Sorted names matching the shell-style ``pattern`` (fnmatch)."""
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def clear(self) -> None:
        """Forget every entry (used when a catalog directory is loaded afresh)."""
        self._entries.clear()

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))

    def __len__(self) -> int:
        return len(self._entries)


BACKBONES: Registry[Callable[..., Any]] = Registry("backbone")
TASK_BUILDERS: Registry[Any] = Registry("task builder")
FRL_VARIANTS: Registry[Any] = Registry("FRL variant")
PROFILES: Registry[Any] = Registry("profile")
BACKENDS: Registry[Any] = Registry("backend")
TASKS: Registry[Any] = Registry("task")
BASELINES: Registry[Any] = Registry("baseline")

register_backbone = BACKBONES.register
register_task_builder = TASK_BUILDERS.register
register_backend = BACKENDS.register

_loaded_plugin_files: set[Path] = set()
_loaded_entry_points = False


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
    import frlbench.builtins  # noqa: F401  (registers built-in components)

    if baselines_dir is not None and Path(baselines_dir).is_dir():
        for path in sorted(Path(baselines_dir).glob("*.py")):
            if not path.name.startswith("_"):
                load_plugin_file(path)
    load_entry_points()
