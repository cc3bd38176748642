"""Named registries: backbones, task builders, FRL variants, profiles, metrics, backends.

One generic :class:`Registry` serves every kind of named component::

    from frlbench.registry import register_backbone

    @register_backbone("my_cnn", family="CNN", sizes=("tiny", "small", "base"), version="1")
    def build(spec, task, in_channels, out_channels):
        ...

``sizes`` is the one list of the sizes a backbone accepts (a plugin may declare its own, e.g.
``"xl"``), or ``presets=`` (size -> hyper-parameters) from which the sizes are derived;
``version`` (default ``"1"``) is part of every run id of the backbone: bump it when a code
change alters what the family computes, and finished runs are no longer "finished".

What a registration declares is typed, one dataclass per kind of registry (as timm's
``PretrainedCfg``): :class:`BackboneInfo`, :class:`TaskBuilderInfo`, :class:`FRLVariantInfo`,
and :class:`Info` (a description) for the rest. An unknown keyword fails at registration with
the valid ones listed; readers use attributes (``BACKBONES.entry("fno").info.sizes``).

This module is a leaf: it imports nothing from frlbench. Built-in components and plugins are
registered from one composition place, :mod:`frlbench.catalog` (``discover_plugins``).
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
from collections.abc import Callable, Iterator, Mapping
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
class Info:
    """What a task, baseline, profile, backend or metric declares when registered.

    Attributes:
        description: One line shown by ``frlbench list``.
    """

    description: str = ""


@dataclass(frozen=True)
class FRLVariantInfo:
    """What an FRL variant declares.

    Attributes:
        steps: The FRL steps it switches on, in words (shown by ``frlbench list frl``).
    """

    steps: str = ""


@dataclass(frozen=True)
class BackboneInfo:
    """What a backbone family declares with ``@register_backbone``.

    Attributes:
        family: Architecture family (``"CNN"``, ``"neural operator"``, ...).
        sizes: Sizes a baseline may ask for; empty: any (nothing is checked). Derived from
            ``presets`` when those are given.
        version: Code version, part of every run id of the family.
        options: The frozen dataclass of its hyper-parameters (a baseline's ``[options]``).
        presets: Hyper-parameters per size; its keys are the sizes.
        grid_scaled: Options whose value is a size of the training grid, with the power of
            the grid's points per axis it scales with: ``{"n_modes": 1}`` (a count of the
            training grid's modes), ``{"radius": -1}`` (one training-grid cell as a fraction
            of the axis). The resolution-transfer selection (``frlbench tune --hop``) scales
            them to its coarser training grid; nothing else reads them, and they are not part
            of a run id.
    """

    family: str = ""
    sizes: tuple[str, ...] = ()
    version: str = "1"
    options: type | None = None
    presets: Mapping[str, Any] = field(default_factory=dict, repr=False)
    grid_scaled: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sizes = tuple(self.sizes) or tuple(self.presets)
        if self.presets and sizes != tuple(self.presets):
            raise ValueError(
                f"sizes {list(sizes)} differ from the presets' {list(self.presets)}; "
                "give one of them"
            )
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "version", str(self.version))


@dataclass(frozen=True)
class TaskBuilderInfo:
    """What a task builder declares with ``@register_task_builder``.

    Attributes:
        options: The frozen dataclass of its data options (``[profiles.<name>.data]``).
        solver: ``forecast(task, states, resolution)``: the numerical model that advances
            physical-unit states by the task's Δt (the ``solver`` reference row), if any.
        solver_is_truth: Whether that solver produced the ground truth on the reference grid
            (then it is scored only on coarser grids).
        data_source: Where the data come from, in plain words (records and leaderboard).
        version: Version of the generated data, part of the dataset cache key.
        source_identity: ``source_identity(task) -> {"run": ..., "cache": ...} | None``: the
            identity of the files a builder reads (real data), hashed into run ids and the
            dataset cache key; ``None`` (or a hook returning ``None``) for generated data.
        geometry: The :class:`frlbench.geometry.Geometry` its data live on; a task file whose
            ``grid`` names another is refused when the catalog loads it. ``None``: any grid.
        symmetries: Symmetry groups (``register_symmetry`` names) its dynamics commute with,
            which a task of this builder may name in ``symmetry`` besides ``"none"``; empty:
            not declared (any registered group is accepted).
    """

    options: type | None = None
    solver: Callable[..., Any] | None = None
    solver_is_truth: bool = True
    data_source: str = ""
    version: int = 1
    source_identity: Callable[..., Any] | None = None
    geometry: Any = None
    symmetries: tuple[str, ...] = ()


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered component.

    Attributes:
        name: The registered name (what users type).
        obj: The registered object (a builder function, a config, a class).
        info: What the registration declared, typed per registry kind (:class:`BackboneInfo`,
            :class:`TaskBuilderInfo`, ...).
        source: Where the entry was registered from: a module name or a plugin file path.
    """

    name: str
    obj: T
    info: Any = field(default_factory=Info)
    source: str = ""


class Registry(Generic[T]):
    """A mapping from names to components with helpful errors.

    Args:
        kind: What the registry holds, in the singular ("backbone", "task"); used in errors.
        info: The dataclass a registration's keyword fields are checked against and stored as.
    """

    def __init__(self, kind: str, info: type = Info) -> None:
        self.kind = kind
        self.info_type = info
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
            **metadata: Fields of the registry's info dataclass (e.g. ``family``, ``sizes``).

        Raises:
            ValueError: For another source's name, or a field the info dataclass lacks.
        """
        if source is None:
            source = getattr(obj, "__module__", "") or ""
        existing = self._entries.get(name)
        if existing is not None and existing.source != source:
            raise ValueError(
                f"{self.kind} {name!r} is already registered by {existing.source!r}; "
                f"pick another name for the one in {source!r}"
            )
        valid = [f.name for f in dataclasses.fields(self.info_type)]
        unknown = sorted(set(metadata) - set(valid))
        if unknown:
            raise ValueError(
                f"{self.kind} {name!r} ({source}): unknown registration field {unknown[0]!r}; "
                f"valid: {', '.join(valid)}"
            )
        info = self.info_type(**metadata)
        self._entries[name] = Entry(name=name, obj=obj, info=info, source=source)

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


BACKBONES: Registry[Callable[..., Any]] = Registry("backbone", BackboneInfo)
TASK_BUILDERS: Registry[Any] = Registry("task builder", TaskBuilderInfo)
FRL_VARIANTS: Registry[Any] = Registry("FRL variant", FRLVariantInfo)
PROFILES: Registry[Any] = Registry("profile")
#: Named grids of runs beside a profile's main grid (``frlbench run --grid <name>``).
GRIDS: Registry[Any] = Registry("grid")
BACKENDS: Registry[Any] = Registry("backend")
TASKS: Registry[Any] = Registry("task")
BASELINES: Registry[Any] = Registry("baseline")
METRICS: Registry[Any] = Registry("metric")
#: Symmetry groups a task may declare (``symmetry``): ``apply(task, x, y, generator, mean,
#: std) -> (x, y)`` transforms a normalized training batch (:mod:`frlbench.augment`).
SYMMETRIES: Registry[Callable[..., Any]] = Registry("symmetry")

register_backbone = BACKBONES.register
register_task_builder = TASK_BUILDERS.register
register_backend = BACKENDS.register
register_metric = METRICS.register
register_symmetry = SYMMETRIES.register
