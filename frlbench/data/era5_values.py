"""Value checks of ERA5 fields as they are read: non-finite values and unit mix-ups.

Every block of states read from a real ERA5 source is checked before it is regridded:

- NaN or inf in any selected variable at any selected time is an error naming the variable,
  the first such time and the count of non-finite values in the block;
- each selected variable with a known physical range is checked against it, to catch the classic
  unit mix-ups: geopotential (m² s⁻²) given as geopotential height (m), temperatures in °C
  instead of K, wind in km/h instead of m/s, humidity in g/kg, pressure in hPa.

The ranges are wide bounds on the real atmosphere (ERA5's extremes lie inside them), not
climatology; winds also have a bound on the root mean square of one global field (35 m/s aloft, 15
m/s at 10 m; ERA5's global RMS of a wind component stays near or below 20 and 7 m/s), so that km/h
are caught wherever the winds are not unusually weak. Geopotential on a pressure level is compared
with the standard atmosphere's height of that level (its field mean must lie within 0.5-1.5 ×
g·h(p)); at 925 hPa and below the level is too close to the ground for that test and only the plain
bounds apply. The stand-in is not range-checked (its shallow layer is not the atmosphere); its
values are checked for finiteness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from frlbench.data.era5_files import WB2Error

GRAVITY = 9.80665  # m s⁻², WMO standard, as ECMWF converts geopotential


@dataclass(frozen=True)
class ValueRange:
    """Plausible bounds of a variable's values and the mix-up they catch.

    Attributes:
        low: Smallest plausible value.
        high: Largest plausible value.
        units: The units frlbench expects (WB2/ERA5 convention).
        hint: What an out-of-range field most likely is, and the fix.
        rms_high: Largest plausible root-mean-square of one global field (0: not checked);
            catches a unit mix-up whose extremes still lie within the bounds (winds in km/h).
    """

    low: float
    high: float
    units: str
    hint: str
    rms_high: float = 0.0


_KELVIN = ValueRange(150.0, 350.0, "K", "temperatures in °C? add 273.15")
_WIND = ValueRange(-150.0, 150.0, "m/s", "wind in km/h? divide by 3.6", rms_high=35.0)
_WIND10 = ValueRange(-75.0, 75.0, "m/s", "wind in km/h? divide by 3.6", rms_high=15.0)
_PRESSURE = ValueRange(40_000.0, 110_000.0, "Pa", "pressure in hPa? multiply by 100")
#: Known variables (WB2 names) and their ranges.
RANGES = {
    "temperature": _KELVIN,
    "2m_temperature": _KELVIN,
    "u_component_of_wind": _WIND,
    "v_component_of_wind": _WIND,
    "10m_u_component_of_wind": _WIND10,
    "10m_v_component_of_wind": _WIND10,
    "specific_humidity": ValueRange(-1e-4, 0.05, "kg/kg", "humidity in g/kg? divide by 1000"),
    "mean_sea_level_pressure": _PRESSURE,
    "surface_pressure": _PRESSURE,
    "geopotential": ValueRange(
        -10_000.0, 600_000.0, "m² s⁻²", "geopotential height in m? multiply by g = 9.80665"
    ),
}


def standard_height(level_hpa: float) -> float:
    """Height (m) of a pressure level in the ICAO standard atmosphere (troposphere formula,
    continued isothermally above 226 hPa)."""
    if level_hpa >= 226.32:
        return 44_330.8 * (1 - (level_hpa / 1013.25) ** 0.190263)
    return 11_000.0 + 6_341.6 * np.log(226.32 / level_hpa)


def check_finite(block: np.ndarray, label: str, times: np.ndarray, where: str) -> None:
    """Raise if ``block`` ``(time, lat, lon)`` of variable ``label`` holds NaN or inf.

    Raises:
        WB2Error: Naming ``where`` (the file), the variable, the first bad time, the count.
    """
    bad = ~np.isfinite(block)
    if bad.any():
        per_time = bad.reshape(len(block), -1).sum(axis=1)
        first = int(np.flatnonzero(per_time)[0])
        raise WB2Error(
            f"{where}: variable {label!r} has {int(bad.sum())} non-finite value(s) (NaN or "
            f"inf) at {int((per_time > 0).sum())} time(s), first at {times[first]} "
            f"({int(per_time[first])} there); expected finite values at every selected time "
            "(select periods without gaps, or fill them before use)"
        )


def check_range(
    block: np.ndarray, name: str, level: int | None, label: str, times: np.ndarray, where: str
) -> None:
    """Raise if variable ``name`` (at ``level`` hPa) lies outside its plausible range.

    Raises:
        WB2Error: Naming the file, the variable, the time, what was found and what was
            expected, with the likely unit mix-up.
    """
    bounds = RANGES.get(name)
    if bounds is None:
        return
    low, high = float(block.min()), float(block.max())
    expected = f"{bounds.low:g}..{bounds.high:g} {bounds.units}"
    if name == "geopotential" and level is not None and level <= 850:
        height = standard_height(level)
        mean = float(block.mean())
        lo, hi = 0.5 * GRAVITY * height, 1.5 * GRAVITY * height
        if not lo <= mean <= hi:
            raise WB2Error(
                f"{where}: variable {label!r} from {times[0]}: field mean {mean:.6g}; expected "
                f"geopotential in m² s⁻², about g·h = {GRAVITY * height:.6g} at {level} hPa "
                f"(accepted {lo:.4g}..{hi:.4g}); {bounds.hint}"
            )
    if low < bounds.low or high > bounds.high:
        outside = ((block < bounds.low) | (block > bounds.high)).reshape(len(block), -1)
        at = times[int(np.flatnonzero(outside.any(axis=1))[0])]
        raise WB2Error(
            f"{where}: variable {label!r} at {at}: values {low:.6g}..{high:.6g}; expected "
            f"{expected}; {bounds.hint}"
        )
    if bounds.rms_high:
        rms = np.sqrt((block.astype(np.float64) ** 2).reshape(len(block), -1).mean(axis=1))
        if rms.max() > bounds.rms_high:
            raise WB2Error(
                f"{where}: variable {label!r} at {times[int(rms.argmax())]}: root mean square "
                f"{rms.max():.4g} {bounds.units}; expected at most {bounds.rms_high:g} "
                f"{bounds.units} (and values {expected}); {bounds.hint}"
            )
