"""The mechanism in every label, on hand-made records (made here, not measured anywhere)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from frlbench.records import ResolutionMetrics, new_record, write_record
from frlbench.report import render_report
from frlbench.report.aggregate import build_leaderboard
from frlbench.report.formatting import fmt_label
from frlbench.stats import (
    BOTH,
    DEGRADES,
    MISMATCH,
    NEITHER,
    SCALE_ANCHORING,
    Interval,
    mechanism,
    nested_bootstrap_ratio,
    tolerance_factor,
)

RHO0, FINEST = 8, 32
TRAJECTORIES = 4
#: (seen-band growth, unseen MSE as a share of the seen MSE at the finest grid) per backbone.
CASES = {
    "mismatch": (1.5, 0.001),
    "anchoring": (1.0, 1.0),
    "both": (1.5, 1.0),
    "neither": (1.0, 0.001),
}
EXPECTED = {"mismatch": MISMATCH, "anchoring": SCALE_ANCHORING, "both": BOTH, "neither": NEITHER}


def _metrics(resolution: int, base: np.ndarray, seen_growth: float, unseen_share: float,
             pad: bool) -> ResolutionMetrics:  # fmt: skip
    """Metrics at ``resolution`` from per-trajectory ρ0 MSEs ``base``."""
    grow = resolution > RHO0
    seen = base * (seen_growth**2 if grow else 1.0)
    unseen = seen * unseen_share if grow else 0 * seen
    total = seen + unseen
    return ResolutionMetrics(
        resolution=resolution,
        rmse=float(math.sqrt(total.mean())),
        rel_l2=0.1,
        mse_seen=float(seen.mean()),
        mse_unseen=float(unseen.mean()),
        rmse_per_trajectory=list(np.sqrt(total)),
        mse_seen_per_trajectory=list(seen) if pad else [],
        mse_unseen_per_trajectory=list(unseen) if pad else [],
        rho0_pad_rmse=float(math.sqrt(total.mean()) * 1.2) if pad else math.nan,
        rho0_pad_rmse_per_trajectory=list(np.sqrt(total) * 1.2) if pad else [],
    )


def _records(per_trajectory: bool = True):
    rng = np.random.default_rng(0)
    records = []
    for baseline, (growth, share) in CASES.items():
        for seed in range(3):
            base = 0.01 * (1 + 0.05 * rng.standard_normal(TRAJECTORIES))
            metrics = [
                _metrics(r, base * (1 + 0.02 * rng.standard_normal(TRAJECTORIES)) if r > RHO0
                         else base, growth, share, per_trajectory)
                for r in (RHO0, 16, FINEST)
            ]  # fmt: skip
            records.append(
                new_record(
                    run_id=f"{baseline}-{seed}",
                    kind="model",
                    task="toy",
                    baseline=baseline,
                    profile="quick",
                    seed=seed,
                    train_resolution=RHO0,
                    metrics=metrics,
                )
            )
    persistence = [ResolutionMetrics(resolution=r, rmse=1.0, rel_l2=1.0) for r in (RHO0, 16, 32)]
    records.append(
        new_record(
            run_id="p",
            kind="reference",
            task="toy",
            baseline="persistence",
            profile="quick",
            train_resolution=RHO0,
            metrics=persistence,
        )
    )
    return records


def test_the_label_rule_on_hand_made_records():
    board = build_leaderboard(_records())
    rows = {r["baseline"]: r for r in board.summary.to_dict("records") if r["kind"] == "model"}
    for baseline, expected in EXPECTED.items():
        row = rows[baseline]
        assert row["mechanism"] == expected, (baseline, row)
        assert row["band_trajectories"] == TRAJECTORIES
        growth, share = CASES[baseline]
        assert row["seen_ratio_low"] < row["seen_ratio_mean"] < row["seen_ratio_high"]
        assert row["seen_ratio_mean"] == pytest.approx(growth, rel=0.05)
        assert row["unseen_factor_mean"] == pytest.approx(math.sqrt(1 + share), rel=1e-6)
        assert row["native_over_pad_high"] < 1  # native beats ρ0-then-pad by 1.2×
    assert rows["both"]["label"] == DEGRADES
    assert fmt_label(rows["both"]).endswith(f"{MISMATCH} and {SCALE_ANCHORING}")
    assert fmt_label(rows["neither"]) == rows["neither"]["label"]


def test_no_interval_and_no_mechanism_with_two_seeds():
    board = build_leaderboard([r for r in _records() if r.seed != 2])
    rows = [r for r in board.summary.to_dict("records") if r["kind"] == "model"]
    assert all(r["mechanism"] == "" and math.isnan(r["seen_ratio_low"]) for r in rows)


def test_old_records_without_band_intervals_still_report(tmp_path):
    board = build_leaderboard(_records(per_trajectory=False))
    rows = [r for r in board.summary.to_dict("records") if r["kind"] == "model"]
    assert all(r["mechanism"] == "" for r in rows)
    assert all(math.isnan(r["seen_ratio_low"]) for r in rows)
    assert all(math.isfinite(r["seen_ratio_mean"]) for r in rows)  # from the per-grid bands
    for rec in _records(per_trajectory=False):
        path = tmp_path / "runs" / rec.run_id / "record.json"
        write_record(path, rec)
        data = json.loads(path.read_text())
        data.pop("selection")  # written before the field existed
        for m in data["metrics"]:
            for key in ("mse_seen_per_trajectory", "rho0_pad_rmse", "target_energy_above_nyquist"):
                m.pop(key)
        path.write_text(json.dumps(data))
    render_report(tmp_path, figures=False)
    text = (tmp_path / "leaderboard.md").read_text()
    assert "Mechanism and ρ0-then-pad @32" in text and "Built from 13 finished runs" in text


def test_the_leaderboard_states_the_mechanisms_and_their_counts(tmp_path):
    for rec in _records():
        write_record(tmp_path / "runs" / rec.run_id / "record.json", rec)
    render_report(tmp_path, figures=True)
    assert (tmp_path / "figures" / "seen_band_ratio_toy_quick.png").stat().st_size > 0
    text = (tmp_path / "leaderboard.md").read_text()
    assert "1 discretization mismatch, 1 scale anchoring, 1 both, 1 neither" in text
    assert "2000 resamples of the seeds (3), then of the test trajectories" in text
    assert "(4 per seed)" in text


def test_mechanism_needs_both_intervals_and_the_tolerance():
    tol = tolerance_factor(64, 16)
    assert tol == pytest.approx(2 ** (0.05 * 2))
    inside, above = Interval(1.0, 0.99, 1.05, 3), Interval(1.3, 1.2, 1.4, 3)
    assert mechanism(above, inside, tol) == MISMATCH
    assert mechanism(inside, above, tol) == SCALE_ANCHORING
    assert mechanism(above, above, tol) == BOTH
    assert mechanism(inside, inside, tol) == NEITHER
    assert mechanism(Interval(1.3, math.nan, math.nan, 3), above, tol) == ""


def test_nested_bootstrap_ratio_pairs_trajectories():
    rng = np.random.default_rng(1)
    den = rng.uniform(0.5, 2.0, size=(3, 5))
    same = nested_bootstrap_ratio(4 * den, den)  # every trajectory's ratio is 2 exactly
    assert same.mean == pytest.approx(2.0) and same.low == pytest.approx(2.0)
    assert same.high == pytest.approx(2.0)
    noisy = nested_bootstrap_ratio(den * rng.uniform(1, 3, size=den.shape), den)
    assert noisy.low < noisy.mean < noisy.high
    with pytest.raises(ValueError, match="seeds, trajectories"):
        nested_bootstrap_ratio(den, den[:, :2])
