"""The task spec: ``tasks/<name>.toml`` with its sizes per profile."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from frlbench.geometry import GEOMETRIES, Geometry, geometry
from frlbench.spec.parse import (
    SAFE_NAME_RULE,
    check,
    is_safe_name,
    load_toml,
    parse_dataclass,
)
from frlbench.static_inputs import static_input_error

GRIDS = tuple(GEOMETRIES)
#: Keys of a task profile that only say how a run is *evaluated*; they are not part of the run's
#: identity, so changing them re-evaluates stored weights instead of retraining.
EVALUATION_KEYS = ("test_resolutions", "n_test", "rollout_steps", "rollout_trajectories")


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
        check(self.train_resolution >= 2, "train_resolution", self.train_resolution, ">= 2")
        res = self.test_resolutions
        check(len(res) > 0, "test_resolutions", res, "a non-empty list")
        check(list(res) == sorted(set(res)), "test_resolutions", res, "strictly ascending")
        check(
            self.train_resolution in res,
            "test_resolutions",
            res,
            f"a list that includes train_resolution = {self.train_resolution}",
        )
        check(
            self.reference_resolution >= max(res),
            "reference_resolution",
            self.reference_resolution,
            f">= the largest test resolution ({max(res)})",
        )
        for key in ("n_train", "n_val", "n_test"):
            value = getattr(self, key)
            check(value >= 1, key, value, ">= 1")
        check(self.rollout_steps >= 0, "rollout_steps", self.rollout_steps, ">= 0")
        check(
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
        grid: ``"periodic"`` (box of side ``domain_length`` per axis) or ``"latlon"``; the
            name of its :attr:`geometry`.
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
            :mod:`frlbench.augment`. The set is open: a plugin registers another group with
            ``@register_symmetry`` (checked when the catalog loads the task).
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
    symmetry: str = "none"
    odd_channels: tuple[str, ...] = ()
    static_inputs: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check(is_safe_name(self.name), "name", self.name, SAFE_NAME_RULE)
        check(self.ndim in (1, 2, 3), "ndim", self.ndim, "1, 2 or 3")
        check(len(self.channels) >= 1, "channels", self.channels, "at least one name")
        check(self.domain_length > 0, "domain_length", self.domain_length, "> 0")
        if self.symmetry == "cube":
            check(
                not self.geometry.spherical and len(self.channels) == self.ndim,
                "symmetry",
                self.symmetry,
                "'none' unless the grid is periodic and there is one channel per axis "
                f"(grid {self.grid!r}, {len(self.channels)} channels, ndim {self.ndim})",
            )
        if self.symmetry == "equator":
            check(
                self.geometry.spherical,
                "symmetry",
                self.symmetry,
                f"'none' or 'cube' unless the grid is 'latlon' (grid {self.grid!r})",
            )
        unknown = [name for name in self.odd_channels if name not in self.channels]
        check(
            not unknown,
            "odd_channels",
            list(self.odd_channels),
            f"names among channels {list(self.channels)}",
        )
        check(
            not self.odd_channels or self.symmetry == "equator",
            "odd_channels",
            list(self.odd_channels),
            f"empty unless symmetry = 'equator' (symmetry {self.symmetry!r})",
        )
        if self.geometry.spherical:
            check(self.ndim == 2, "ndim", self.ndim, "2 for a lat-lon grid")
        problem = static_input_error(self.static_inputs, self.grid)
        check(problem is None, "static_inputs", list(self.static_inputs), str(problem))

    @property
    def geometry(self) -> Geometry:
        """The grid's geometry (periodic box or lat-lon sphere)."""
        return geometry(self.grid)

    def grid_shape(self, resolution: int) -> tuple[int, ...]:
        """Array shape of one field at ``resolution``; lat-lon grids have half as many latitudes."""
        return self.geometry.grid_shape(resolution, self.ndim)

    @property
    def lengths(self) -> tuple[float, ...]:
        """Physical side lengths per axis, for the spectral helpers."""
        return self.geometry.lengths(self.ndim, self.domain_length)


def load_task(path: Path) -> TaskSpec:
    """Read and validate ``tasks/<name>.toml``; ``name`` defaults to the file stem."""
    path = Path(path)
    data = load_toml(path)
    data.setdefault("name", path.stem)
    data["source"] = str(path)
    return parse_dataclass(TaskSpec, data, str(path))
