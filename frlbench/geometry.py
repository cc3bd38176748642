"""Grid geometries: the periodic box and the latitude-longitude sphere, as typed core data.

A task names its geometry in its TOML (``grid = "periodic"`` or ``grid = "latlon"``); the name
resolves here to a :class:`Geometry` that says what the grid is: the array shape at a
resolution, the physical side lengths the spectral helpers take, which axes wrap around, and
which truth constructions apply (:mod:`frlbench.evaluation.truth`). Code asks the geometry,
not the name::

    task.geometry.grid_shape(64, task.ndim)      # (32, 64) on lat-lon, (64, 64, 64) on a 3-D box
    task.geometry.spherical                      # latitude weights, zonal bands, polar rows

This module is core: it imports nothing from frlbench.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Geometry:
    """The kind of grid a task lives on.

    Attributes:
        name: What a task file writes (``grid = "<name>"``) and what records store.
        spherical: A latitude-longitude grid on the sphere (half as many latitudes as
            longitudes, latitude-weighted metrics, bands by zonal wavenumber), else a periodic
            box with the same number of points on every axis.
        truths: Truth constructions that apply to it; the first is the default (what the task
            builders store).
    """

    name: str
    spherical: bool
    truths: tuple[str, ...]

    def grid_shape(self, resolution: int, ndim: int) -> tuple[int, ...]:
        """Array shape of one field at ``resolution`` (points per axis; longitudes on lat-lon)."""
        if self.spherical:
            return (resolution // 2, resolution)
        return (resolution,) * ndim

    def lengths(self, ndim: int, domain_length: float) -> tuple[float, ...]:
        """Physical side lengths per axis, for the spectral helpers (radians on the sphere)."""
        if self.spherical:
            return (math.pi, 2 * math.pi)
        return (domain_length,) * ndim

    def periodic_axes(self, ndim: int) -> tuple[bool, ...]:
        """Which axes wrap around: all of a box; longitude only on the sphere."""
        if self.spherical:
            return (False, True)
        return (True,) * ndim

    @property
    def default_truth(self) -> str:
        """The truth construction the task builders store."""
        return self.truths[0]


PERIODIC = Geometry(
    "periodic", spherical=False, truths=("truncation", "subsample", "box", "paper-grid")
)
LATLON = Geometry("latlon", spherical=True, truths=("conservative", "bilinear", "subsample"))
#: Every geometry by name (``grid`` in a task file).
GEOMETRIES: dict[str, Geometry] = {g.name: g for g in (PERIODIC, LATLON)}


def geometry(name: str) -> Geometry:
    """The geometry called ``name``.

    Raises:
        ValueError: For an unknown name, listing the valid ones.
    """
    if name not in GEOMETRIES:
        raise ValueError(f"unknown grid {name!r}; valid: {', '.join(GEOMETRIES)}")
    return GEOMETRIES[name]
