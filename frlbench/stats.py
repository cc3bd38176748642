"""Statistics across resolutions, seeds and test trajectories (numpy and scipy; no torch).

The anchoring slope is the least-squares slope of log RMSE against log resolution: about 0
when the error is anchored at its training-resolution level, negative when error falls as
the grid is refined (a spectral solver on smooth data falls steeply).

A label needs evidence: the slope's 95% interval is compared with an equivalence margin
:data:`EQUIVALENCE_MARGIN` (δ), fixed before any result. "anchored" only when the whole
interval lies inside (−δ, δ), "improves with resolution" only when it lies below −δ,
"degrades with resolution" only when it lies above δ, else "undetermined". The interval
comes from a nested bootstrap (:func:`nested_bootstrap_slope`: seeds, then test
trajectories within each seed) or, without per-trajectory errors, from a bootstrap over
seeds only (:func:`seed_bootstrap_slope`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

#: Equivalence margin δ on the anchoring slope (about 3.5% change of RMSE per doubling of
#: resolution: 2^0.05 ≈ 1.035). Fixed before any result; documented in docs/reading_results.md.
EQUIVALENCE_MARGIN = 0.05
#: Bootstrap draws and the fixed seed of the resampling generator.
BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_SEED = 0
#: Fewest seeds a seeds-only bootstrap interval is given for: with two seeds the percentile
#: interval is just their range (about 50% coverage), so it would read noise as evidence.
MIN_SEEDS_BOOTSTRAP = 3

IMPROVES = "improves with resolution"
ANCHORED = "anchored"
DEGRADES = "degrades with resolution"
UNDETERMINED = "undetermined"
#: Label of a model without skill at the training grid (RMSE ≥ persistence's).
NO_SKILL = "no skill"

#: Mechanisms a label names (:func:`mechanism`): the band the model was trained on gets worse
#: on finer grids, only the band above the training Nyquist does, both do, or neither does.
MISMATCH = "discretization mismatch"
SCALE_ANCHORING = "scale anchoring"
BOTH = "both"
NEITHER = "neither"
MECHANISMS = (MISMATCH, SCALE_ANCHORING, BOTH, NEITHER)

#: How a slope interval was obtained (``Interval.method``).
NESTED = "seeds × trajectories"
SEEDS_ONLY = "seeds only"


def t_quantile_975(dof: int) -> float:
    """Two-sided 95% Student-t quantile for ``dof`` degrees of freedom (NaN below 1)."""
    if dof < 1:
        return math.nan
    return float(scipy_stats.t.ppf(0.975, dof))


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
    """A mean with a 95% interval.

    Attributes:
        mean: Mean over seeds.
        low: Lower end of the 95% interval (NaN when there is none).
        high: Upper end of the 95% interval (NaN when there is none).
        n: Number of finite per-seed values.
        method: How the interval was obtained ("t", :data:`NESTED`, :data:`SEEDS_ONLY`).
    """

    mean: float
    low: float
    high: float
    n: int
    method: str = "t"

    @property
    def half_width(self) -> float:
        """Half the interval's width (NaN when there is none)."""
        return (self.high - self.low) / 2


def _finite(values: Sequence[float]) -> np.ndarray:
    return np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)


def mean_interval(values: Sequence[float]) -> Interval:
    """Mean and 95% Student-t interval (seeds only) of the finite ``values``."""
    arr = _finite(values)
    n = arr.size
    if n == 0:
        return Interval(math.nan, math.nan, math.nan, 0)
    mean = float(arr.mean())
    if n == 1:
        return Interval(mean, math.nan, math.nan, 1)
    half = t_quantile_975(n - 1) * float(arr.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def _percentiles(draws: np.ndarray) -> tuple[float, float]:
    draws = draws[np.isfinite(draws)]
    if draws.size == 0:
        return math.nan, math.nan
    low, high = np.percentile(draws, [2.5, 97.5])
    return float(low), float(high)


def seed_bootstrap_slope(
    slopes: Sequence[float], *, draws: int = BOOTSTRAP_DRAWS, seed: int = BOOTSTRAP_SEED
) -> Interval:
    """Percentile 95% interval of the mean per-seed slope, resampling seeds only.

    Used when the records hold no per-trajectory errors. With fewer than
    :data:`MIN_SEEDS_BOOTSTRAP` seeds there is no interval (NaN ends).
    """
    arr = _finite(slopes)
    n = arr.size
    mean = float(arr.mean()) if n else math.nan
    if n < MIN_SEEDS_BOOTSTRAP:
        return Interval(mean, math.nan, math.nan, n, SEEDS_ONLY)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(draws, n))
    low, high = _percentiles(arr[picks].mean(axis=1))
    return Interval(mean, low, high, n, SEEDS_ONLY)


def _slopes_of(log_res: np.ndarray, log_rmse: np.ndarray) -> np.ndarray:
    """Least-squares slopes along the last axis of ``log_rmse`` against ``log_res``."""
    centred = log_res - log_res.mean()
    return (log_rmse * centred).sum(axis=-1) / (centred**2).sum()


def nested_bootstrap_slope(
    resolutions: Sequence[float],
    rmse_per_trajectory: np.ndarray,
    *,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = BOOTSTRAP_SEED,
) -> Interval:
    """Nested-bootstrap 95% interval of the mean per-seed anchoring slope.

    Each draw resamples the seeds with replacement, then, within each drawn seed, its test
    trajectories with replacement (the same trajectories at every resolution, since they
    are paired); the RMSE at each resolution is recomputed as the root of the mean squared
    per-trajectory RMSE, the slope is fitted per drawn seed and averaged. The interval is
    the 2.5/97.5 percentiles over draws; the mean is that of the per-seed slopes on all
    trajectories.

    Args:
        resolutions: Test resolutions, one per column of axis 1.
        rmse_per_trajectory: ``(seeds, resolutions, trajectories)`` RMSE of each test
            trajectory (every trajectory has the same number of pairs).
        draws: Bootstrap draws.
        seed: Seed of the resampling generator (fixed: the same records give the same
            interval).

    Raises:
        ValueError: If the shape does not match ``resolutions`` or fewer than two
            resolutions are given.
    """
    errors = np.asarray(rmse_per_trajectory, dtype=float)
    log_res = np.log(np.asarray(resolutions, dtype=float))
    if errors.ndim != 3 or errors.shape[1] != log_res.size or log_res.size < 2:
        raise ValueError(
            f"rmse_per_trajectory of shape {errors.shape} does not match "
            f"{log_res.size} resolutions (need (seeds, resolutions, trajectories), ≥ 2 grids)"
        )
    n_seeds, _, n_traj = errors.shape
    squared = errors**2
    with np.errstate(divide="ignore", invalid="ignore"):
        point = _slopes_of(log_res, 0.5 * np.log(squared.mean(axis=2)))
        rng = np.random.default_rng(seed)
        seeds = rng.integers(0, n_seeds, size=(draws, n_seeds))
        trajectories = rng.integers(0, n_traj, size=(draws, n_seeds, 1, n_traj))
        picked = np.take_along_axis(squared[seeds], trajectories, axis=3)  # (B, S, R, T)
        slopes = _slopes_of(log_res, 0.5 * np.log(picked.mean(axis=3)))  # (B, S)
    low, high = _percentiles(slopes.mean(axis=1))
    mean = float(point.mean()) if np.isfinite(point).all() else math.nan
    return Interval(mean, low, high, n_seeds, NESTED)


def nested_bootstrap_ratio(
    numerator: np.ndarray,
    denominator: np.ndarray,
    *,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = BOOTSTRAP_SEED,
) -> Interval:
    """Nested-bootstrap 95% interval of the mean per-seed ratio of two root-mean-square errors.

    Per seed the ratio is ``sqrt(mean over trajectories of numerator / same of denominator)``
    (e.g. the seen-band MSE at the finest grid over the MSE at ρ0). Each draw resamples the
    seeds with replacement, then, within each drawn seed, its test trajectories with
    replacement, the *same* trajectories for numerator and denominator (they are paired), and
    averages the drawn seeds' ratios; the interval is the 2.5/97.5 percentiles over draws, the
    mean that of the per-seed ratios on all trajectories (as :func:`nested_bootstrap_slope`).

    Args:
        numerator: ``(seeds, trajectories)`` squared errors (per trajectory, mean over its pairs).
        denominator: The same shape, the same seeds and trajectories.
        draws: Bootstrap draws.
        seed: Seed of the resampling generator (fixed).

    Raises:
        ValueError: If the shapes differ or are not ``(seeds, trajectories)`` with both ≥ 1.
    """
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    if num.shape != den.shape or num.ndim != 2 or 0 in num.shape:
        raise ValueError(
            f"numerator {num.shape} and denominator {den.shape}: need one (seeds, trajectories)"
            " shape, both ≥ 1"
        )
    n_seeds, n_traj = num.shape
    with np.errstate(divide="ignore", invalid="ignore"):
        point = np.sqrt(num.mean(axis=1) / den.mean(axis=1))
        rng = np.random.default_rng(seed)
        seeds = rng.integers(0, n_seeds, size=(draws, n_seeds))
        picks = rng.integers(0, n_traj, size=(draws, n_seeds, n_traj))
        drawn_num = np.take_along_axis(num[seeds], picks, axis=2).mean(axis=2)
        drawn_den = np.take_along_axis(den[seeds], picks, axis=2).mean(axis=2)
        ratios = np.sqrt(drawn_num / drawn_den).mean(axis=1)
    low, high = _percentiles(ratios)
    mean = float(point.mean()) if np.isfinite(point).all() else math.nan
    return Interval(mean, low, high, n_seeds, NESTED)


def tolerance_factor(
    resolution: float, train_resolution: float, margin: float = EQUIVALENCE_MARGIN
) -> float:
    """The growth of an RMSE from ρ0 to ``resolution`` that the equivalence margin δ tolerates:
    ``2^(δ · log2(ρ / ρ0))`` (a slope of exactly δ over that span; 1.072 for 64 / 16)."""
    return float(2.0 ** (margin * math.log2(resolution / train_resolution)))


def anchoring_label(interval: Interval, margin: float = EQUIVALENCE_MARGIN) -> str:
    """Label of a slope interval against the equivalence margin δ = ``margin``.

    "improves with resolution" if the whole 95% interval lies below −δ, "degrades with
    resolution" if it lies above δ, "anchored" if it lies inside (−δ, δ), and "undetermined"
    otherwise (an interval straddling ±δ, or no interval at all).
    """
    low, high = interval.low, interval.high
    if not (math.isfinite(low) and math.isfinite(high)):
        return UNDETERMINED
    if high < -margin:
        return IMPROVES
    if low > margin:
        return DEGRADES
    if -margin < low and high < margin:
        return ANCHORED
    return UNDETERMINED


def mechanism(seen_ratio: Interval, unseen_factor: Interval, tolerance: float) -> str:
    """The mechanism behind a model's error at the finest grid, from two nested-bootstrap
    intervals and the growth the equivalence margin tolerates (:func:`tolerance_factor`).

    - **discretization mismatch** when the seen-band ratio's lower 95% bound exceeds the
      tolerance: the error in the band the model was trained on (|k| ≤ ρ0/2) grows on the
      finer grid;
    - **scale anchoring** when only the band above the training Nyquist adds error: the
      unseen factor (finest-grid RMSE over its seen-band RMSE, how much the band above the
      Nyquist multiplies the error) has its lower bound above the tolerance, and the seen-band
      ratio does not;
    - **both** when both hold; **neither** when neither does;
    - ``""`` when an interval is missing (records without per-trajectory band errors).
    """
    ends = (seen_ratio.low, unseen_factor.low)
    if not all(math.isfinite(x) for x in ends):
        return ""
    mismatch = seen_ratio.low > tolerance
    anchoring = unseen_factor.low > tolerance
    if mismatch and anchoring:
        return BOTH
    if mismatch:
        return MISMATCH
    return SCALE_ANCHORING if anchoring else NEITHER
