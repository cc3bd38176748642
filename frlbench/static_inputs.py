"""Static input channels: fields known at every grid point that are not forecast.

A task lists them under ``static_inputs`` in its TOML; every model of that task, with and
without FRL, gets them appended to its input channels, recomputed on each grid it is run on
(so they are exact at every test resolution). Weather models commonly take such fields
(latitude, orography, land-sea mask) because the dynamics on a lat-lon grid are not the same
at every latitude: the Coriolis parameter grows with sin(latitude) and the east-west size of a
cell shrinks with cos(latitude), while convolutions, spectral layers and message passing apply
one rule everywhere. On the era5 task, sin/cos latitude moved the quick cnn's validation RMSE
from 0.0709 to 0.0594, and adding sin/cos longitude as well gave 0.0639
(docs/weather.md, "The era5 task").
"""

from __future__ import annotations

#: Names a task's ``static_inputs`` may list -> the grids each is defined on. The fields
#: themselves are computed by :mod:`frlbench.models.static` (this module stays torch-free: the
#: config and the report import it).
STATIC_INPUT_GRIDS: dict[str, tuple[str, ...]] = {
    "sin_latitude": ("latlon",),
    "cos_latitude": ("latlon",),
}

#: Names a task's ``static_inputs`` may list.
STATIC_INPUTS: tuple[str, ...] = tuple(STATIC_INPUT_GRIDS)


def static_input_error(names: tuple[str, ...], grid: str) -> str | None:
    """What valid static inputs on ``grid`` would be, in words, if ``names`` are not; else None."""
    for i, name in enumerate(names):
        if name not in STATIC_INPUT_GRIDS:
            return f"names among {', '.join(STATIC_INPUTS)} ({name!r} is not one)"
        grids = STATIC_INPUT_GRIDS[name]
        if grid not in grids:
            return f"none on a {grid!r} grid ({name!r} needs a {' or '.join(grids)} grid)"
        if name in names[:i]:
            return f"each name once ({name!r} is listed twice)"
    return None
