"""The solver grid a model's error equals: where the numerical solver's RMSE against resolution
crosses a model's finest-grid RMSE (the summary's ``equivalent_solver_resolution``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd


def equivalent_resolution(
    resolutions: Sequence[float], rmses: Sequence[float], target_rmse: float
) -> float:
    """Resolution at which a reference (the solver) reaches ``target_rmse``.

    The reference's RMSE is interpolated linearly in log RMSE against log resolution between
    measured points, scanning from the coarsest grid; the first crossing is returned.

    Returns:
        The interpolated resolution; ``-inf`` when the reference is already at least as
        accurate at its coarsest resolution ("< min"); ``inf`` when it never gets as accurate
        ("> max"); NaN when there is no usable curve or target.
    """
    res = np.asarray(resolutions, dtype=float)
    err = np.asarray(rmses, dtype=float)
    ok = np.isfinite(res) & np.isfinite(err) & (res > 0) & (err > 0)
    if not ok.any() or not (math.isfinite(target_rmse) and target_rmse > 0):
        return math.nan
    order = np.argsort(res[ok])
    res, err = res[ok][order], err[ok][order]
    if err[0] == target_rmse:
        return float(res[0])
    if err[0] < target_rmse:
        return -math.inf
    for i in range(len(res) - 1):
        if err[i + 1] <= target_rmse < err[i]:
            frac = (math.log(target_rmse) - math.log(err[i])) / (
                math.log(err[i + 1]) - math.log(err[i])
            )
            return float(math.exp(math.log(res[i]) + frac * (math.log(res[i + 1] / res[i]))))
    return math.inf


def equivalent_resolution_text(value: float, resolutions: Sequence[int]) -> str:
    """An equivalent resolution as written in the summary: ``"22.63"``, ``"coarser than 16"``
    (the solver is at least as accurate on its coarsest grid), ``"finer than 32"`` (it is
    never as accurate on its measured grids) or ``""`` when there is none."""
    if math.isnan(value) or not resolutions:
        return ""
    if value == -math.inf:
        return f"coarser than {min(resolutions)}"
    if value == math.inf:
        return f"finer than {max(resolutions)}"
    return f"{value:.6g}"


def solver_equivalent_text(row: dict, curve: pd.DataFrame | None) -> str:
    """The solver grid whose error a model's finest-grid RMSE equals, as text ("" for a
    reference row or without a solver curve)."""
    if curve is None or row["kind"] != "model":
        return ""
    return equivalent_resolution_text(
        equivalent_resolution(curve["resolution"], curve["rmse_mean"], row["rmse_finest"]),
        sorted(int(r) for r in curve["resolution"]),
    )
