"""Per-shell and per-step curves of each configuration (frequency response, rollout).

Both are means over seeds (duplicate records of one seed averaged first), sorted in
leaderboard order; see :mod:`frlbench.report.aggregate` for the rest of the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from frlbench.records import ResolutionMetrics, RunRecord
from frlbench.report.keys import CONFIG_KEYS, sort_configs
from frlbench.stats import mean_interval


def interval_columns(prefix: str, values: Sequence[float]) -> dict[str, float]:
    """``<prefix>_{mean,low,high}``: mean and 95% Student-t interval of ``values``."""
    interval = mean_interval(values)
    return {
        f"{prefix}_mean": interval.mean,
        f"{prefix}_low": interval.low,
        f"{prefix}_high": interval.high,
    }


def _truth_energy(metric: ResolutionMetrics) -> list[float]:
    """The truth's energy per shell if the record holds it, else NaN per shell."""
    energy = list(getattr(metric, "freq_truth_energy", None) or [])
    return energy if len(energy) == len(metric.freq_k) else [math.nan] * len(metric.freq_k)


def frequency_frame(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Mean frequency response over seeds per (configuration, resolution, shell).

    ``k`` is the shell wavenumber normalized by the training Nyquist (1 = training Nyquist);
    ``response`` the energy of the prediction over the energy of the truth in that shell;
    ``truth_energy`` the truth's own energy in that shell (``freq_truth_energy`` of the
    record's metrics, NaN where the record does not hold it).
    """
    columns = [*CONFIG_KEYS, "resolution", "k", "response", "truth_energy", "n_seeds"]
    rows = [
        {
            **{k: getattr(rec, k) for k in CONFIG_KEYS},
            "seed": rec.seed,
            "resolution": m.resolution,
            "k": round(float(k), 9),
            "response": float(v),
            "truth_energy": float(e),
        }
        for rec in records
        if rec.status == "ok"
        for m in rec.metrics
        for k, v, e in zip(m.freq_k, m.freq_response, _truth_energy(m), strict=False)
    ]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    keys = [*CONFIG_KEYS, "resolution", "k"]
    per_seed = (
        frame.groupby([*keys, "seed"], sort=False)[["response", "truth_energy"]]
        .mean()
        .reset_index()
    )
    grouped = per_seed.groupby(keys, sort=False)
    out = grouped[["response", "truth_energy"]].mean().reset_index()
    out["n_seeds"] = grouped["seed"].nunique().to_numpy()
    return sort_configs(out[columns], extra=("resolution", "k"))


def rollout_frame(records: Sequence[RunRecord]) -> pd.DataFrame:
    """Autoregressive-rollout RMSE over seeds per (configuration, resolution, step).

    ``step`` counts from 1: the value after ``step`` forecasts fed back as inputs
    (``ResolutionMetrics.rollout_rmse[step - 1]``). ``rmse_{mean,low,high}`` is the rollout
    RMSE; ``rmse_ratio_{mean,low,high}`` the *rollout ratio*: the run's rollout RMSE at this
    resolution over its rollout RMSE at its training resolution at the same step, taken per
    seed (1 at the training resolution; NaN where the run has no rollout there). At the
    finest resolution it asks whether the error stays anchored to the training grid under
    rollout. Both are a mean over seeds with a 95% interval; ``n_seeds`` counts the seeds
    with a value at that step.

    Returns:
        The frame, sorted; empty (with its columns) when no finished record has a rollout.
    """
    columns = [
        *CONFIG_KEYS,
        "resolution",
        "step",
        "n_seeds",
        "rmse_mean",
        "rmse_low",
        "rmse_high",
        "rmse_ratio_mean",
        "rmse_ratio_low",
        "rmse_ratio_high",
    ]
    rows = [
        {
            **{k: getattr(rec, k) for k in CONFIG_KEYS},
            "seed": rec.seed,
            "train_resolution": rec.train_resolution,
            "resolution": m.resolution,
            "step": step,
            "rmse": float(value),
        }
        for rec in records
        if rec.status == "ok"
        for m in rec.metrics
        for step, value in enumerate(m.rollout_rmse, start=1)
    ]
    if not rows:
        return pd.DataFrame(columns=columns)
    # Several records of one seed (e.g. a re-run under a changed config) are averaged per seed.
    per_seed = (
        pd.DataFrame(rows)
        .groupby([*CONFIG_KEYS, "seed", "resolution", "step"], sort=False)
        .agg(rmse=("rmse", "mean"), train_resolution=("train_resolution", "first"))
        .reset_index()
    )
    run_step = [*CONFIG_KEYS, "seed", "step"]
    at_train = per_seed.loc[
        per_seed["resolution"] == per_seed["train_resolution"], [*run_step, "rmse"]
    ].rename(columns={"rmse": "rmse_train"})
    per_seed = per_seed.merge(at_train, on=run_step, how="left")
    per_seed["rmse_ratio"] = per_seed["rmse"] / per_seed["rmse_train"].where(
        per_seed["rmse_train"] > 0
    )

    keys = [*CONFIG_KEYS, "resolution", "step"]
    out = []
    for key, group in per_seed.groupby(keys, sort=False):
        row = dict(zip(keys, key, strict=True))
        row["n_seeds"] = int(group["seed"].nunique())
        row.update(interval_columns("rmse", group["rmse"]))
        row.update(interval_columns("rmse_ratio", group["rmse_ratio"]))
        out.append(row)
    frame = pd.DataFrame(out)
    frame["resolution"] = frame["resolution"].astype(int)
    frame["step"] = frame["step"].astype(int)
    return sort_configs(frame[columns], extra=("resolution", "step"))
