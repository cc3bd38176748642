"""Statistics across resolutions and seeds (numpy only; shared by metrics and report).

The anchoring slope is the least-squares slope of log RMSE against log resolution: about 0
when the error is anchored at its training-resolution level, negative when error falls as
the grid is refined (a spectral solver on smooth data falls steeply).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Two-sided 95% quantiles of Student's t for 1..30 degrees of freedom.
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip

IMPROVES = "improves with resolution"
ANCHORED = "anchored"
DEGRADES = "degrades with resolution"
UNDETERMINED = "undetermined"


def t_quantile_975(dof: int) -> float:
    """Two-sided 95% Student-t quantile (normal approximation above 30 dof)."""
    if dof < 1:
        return math.nan
    return _T975[dof - 1] if dof <= len(_T975) else 1.96


def anchoring_slope(resolutions: Sequence[float], rmses: Sequence[float]) -> float:
    """Least-squares slope of log RMSE against log resolution (NaN with < 2 finite points)."""
    res = np.asarray(resolutions, dtype=float)
    err = np.asarray(rmses, dtype=float)
    ok = np.isfinite(res) & np.isfinite(err) & (res > 0) & (err > 0)
    if ok.sum() < 2:
        return math.nan
    slope, _ = np.polyfit(np.log(res[ok]), np.log(err[ok]), 1)
    return float(slope)


@dataclass(frozen=True)
class Interval:
    """Mean of per-seed values with a 95% t-interval.

    Attributes:
        mean: Mean over seeds.
        low: Lower end of the 95% interval (NaN with one seed).
        high: Upper end of the 95% interval (NaN with one seed).
        n: Number of finite per-seed values.
    """

    mean: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        """Half the interval's width (NaN with one seed)."""
        return (self.high - self.low) / 2


def mean_interval(values: Sequence[float]) -> Interval:
    """Mean and 95% t-interval of the finite ``values``."""
    arr = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = arr.size
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(arr.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1)
    half = t_quantile_975(n - 1) * float(arr.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def anchoring_label(interval: Interval) -> str:
    """ "improves with resolution" if the whole 95% interval of the slope is below 0,
    "degrades with resolution" if it is above 0, "anchored" if it contains 0, and
    "undetermined" when there is no interval (fewer than two seeds)."""
    if interval.n < 2 or not math.isfinite(interval.low):
        return UNDETERMINED
    if interval.high < 0:
        return IMPROVES
    if interval.low > 0:
        return DEGRADES
    return ANCHORED
