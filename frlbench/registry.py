"""Named registries: backbones, task builders, FRL variants, profiles, metrics, backends.

One generic :class:`Registry` serves every kind of named component::

    from frlbench.registry import register_backbone

    @register_backbone("my_cnn", family="CNN", sizes=("tiny", "small", "base"), version="1")
    def build(spec, task, in_channels, out_channels):
        ...

``sizes`` is the one list of the sizes a backbone accepts (a plugin may declare its own, e.g.
``"xl"``); ``version`` (default ``"1"``) is part of every run id of the backbone: bump it when
a code change alters what the family computes, and finished runs are no longer "finished".

This module is a leaf: it imports nothing from frlbench. Built-in components and plugins are
registered from one composition place, :mod:`frlbench.catalog` (``discover_plugins``).
"""

from __future__ import annotations

import difflib
import fnmatch
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


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
METRICS: Registry[Any] = Registry("metric")

register_backbone = BACKBONES.register
register_task_builder = TASK_BUILDERS.register
register_backend = BACKENDS.register
register_metric = METRICS.register
