"""Labels that need evidence, the solver's true target, skill and readable figures.

Hand-made records and arrays only (nothing here was measured).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from frlbench.report.aggregate import build_leaderboard
from frlbench.report.evidence import drop_reference_rows, nested_slope_intervals
from frlbench.report.tables import main_table, verdict
from frlbench.stats import (
    ANCHORED,
    BOOTSTRAP_DRAWS,
    DEGRADES,
    EQUIVALENCE_MARGIN,
    IMPROVES,
    NESTED,
    NO_SKILL,
    SEEDS_ONLY,
    UNDETERMINED,
    Interval,
    anchoring_label,
    nested_bootstrap_slope,
    seed_bootstrap_slope,
    t_quantile_975,
)
from tests.test_report import RESOLUTIONS, TRAIN, fake_record

DELTA = EQUIVALENCE_MARGIN


@pytest.mark.parametrize(
    ("low", "high", "label"),
    [
        (-0.04, 0.04, ANCHORED),  # inside (−δ, δ)
        (-0.01, 0.01, ANCHORED),
        (-0.30, -0.06, IMPROVES),  # upper end below −δ
        (0.06, 0.30, DEGRADES),  # lower end above δ
        (-0.04, 0.06, UNDETERMINED),  # straddles δ
        (-0.06, 0.04, UNDETERMINED),  # straddles −δ
        (-0.30, 0.30, UNDETERMINED),  # contains 0 but is wide: no evidence of anchoring
        (-0.30, -0.04, UNDETERMINED),  # below 0, not below −δ
        (-0.04, DELTA, UNDETERMINED),  # touching δ is not inside
        (math.nan, math.nan, UNDETERMINED),  # no interval
    ],
)
def test_every_label_branch(low, high, label):
    assert anchoring_label(Interval((low + high) / 2, low, high, 3)) == label


def test_margin_is_one_constant():
    assert EQUIVALENCE_MARGIN == 0.05
    # A margin passed in moves the branches with it.
    assert anchoring_label(Interval(0.0, -0.08, 0.08, 3), margin=0.1) == ANCHORED


@pytest.mark.parametrize("dof", [1, 2, 5, 30, 31, 40, 100, 1000])
def test_t_quantile_comes_from_scipy_for_every_dof(dof):
    assert t_quantile_975(dof) == pytest.approx(scipy_stats.t.ppf(0.975, dof))
    assert t_quantile_975(dof) > 1.96  # never the normal approximation
    assert math.isnan(t_quantile_975(0))


def power_law(slope: float, scales: list[float], seeds: int = 3) -> np.ndarray:
    """(seeds, resolutions, trajectories) per-trajectory RMSE, each exactly ∝ ρ^slope."""
    res = np.asarray(RESOLUTIONS, dtype=float)
    one = np.stack([c * (res / TRAIN) ** slope for c in scales], axis=-1)
    return np.stack([one] * seeds)


def test_identical_seeds_and_trajectories_give_zero_width():
    interval = nested_bootstrap_slope(RESOLUTIONS, power_law(0.02, [0.1] * 8))
    assert interval.method == NESTED and interval.n == 3
    assert interval.mean == pytest.approx(0.02)
    assert interval.high - interval.low == pytest.approx(0.0, abs=1e-12)
    assert anchoring_label(interval) == ANCHORED


@pytest.mark.parametrize("slope", [-1.0, -0.3, 0.0, 0.2])
def test_known_slope_is_recovered_whatever_trajectories_are_drawn(slope):
    # Trajectories differ in level but share the slope: every draw fits exactly that slope.
    errors = power_law(slope, [0.05, 0.1, 0.2, 0.4, 0.08])
    interval = nested_bootstrap_slope(RESOLUTIONS, errors)
    assert (interval.low, interval.mean, interval.high) == pytest.approx((slope,) * 3, abs=1e-9)


def test_nested_bootstrap_covers_seed_and_trajectory_spread():
    rng = np.random.default_rng(3)
    errors = power_law(-0.3, [0.1] * 8) * np.exp(0.2 * rng.standard_normal((3, 3, 8)))
    interval = nested_bootstrap_slope(RESOLUTIONS, errors)
    assert interval.low < interval.mean < interval.high
    assert interval.low < -0.3 < interval.high
    # The point estimate is the mean of the per-seed slopes on all trajectories, with RMSE
    # recomputed from squared per-trajectory RMSEs.
    log_rmse = 0.5 * np.log((errors**2).mean(axis=2))
    per_seed = [np.polyfit(np.log(RESOLUTIONS), row, 1)[0] for row in log_rmse]
    assert interval.mean == pytest.approx(np.mean(per_seed))
    # The resampling seed is fixed: the same records give the same interval.
    assert nested_bootstrap_slope(RESOLUTIONS, errors) == interval
    other = nested_bootstrap_slope(RESOLUTIONS, errors, seed=1)
    assert other.low != interval.low


def test_nested_bootstrap_resamples_trajectories_within_one_seed():
    rng = np.random.default_rng(0)
    errors = power_law(0.0, [0.1] * 8, seeds=1) * np.exp(0.3 * rng.standard_normal((1, 3, 8)))
    interval = nested_bootstrap_slope(RESOLUTIONS, errors)
    assert interval.high - interval.low > 0.01  # test-set spread, even with one seed


def test_nested_bootstrap_is_fast():
    import time

    errors = np.random.default_rng(0).uniform(0.05, 0.2, size=(5, 4, 16))
    start = time.perf_counter()
    nested_bootstrap_slope([16, 32, 64, 128], errors, draws=BOOTSTRAP_DRAWS)
    assert time.perf_counter() - start < 2.0


def test_nested_bootstrap_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="does not match 3 resolutions"):
        nested_bootstrap_slope(RESOLUTIONS, np.ones((2, 2, 4)))


def test_seed_bootstrap():
    same = seed_bootstrap_slope([0.1, 0.1, 0.1])
    assert same.method == SEEDS_ONLY
    assert (same.low, same.high) == pytest.approx((0.1, 0.1))
    spread = seed_bootstrap_slope([-0.2, 0.0, 0.2, 0.1])
    assert spread.low < spread.mean < spread.high
    assert math.isnan(seed_bootstrap_slope([0.1, 0.2]).low)  # two seeds: their range only


def with_trajectories(record, scales: list[float]):
    """Attach per-trajectory RMSEs (∝ the record's RMSE) to every metric of ``record``."""
    norm = math.sqrt(np.mean(np.square(scales)))
    for m in record.metrics:
        m.rmse_per_trajectory = [m.rmse * s / norm for s in scales]
    return record


def test_leaderboard_uses_the_nested_bootstrap_where_records_allow():
    nested = [
        with_trajectories(fake_record("t", "cnn", "off", s, slope=-0.3, rmse0=0.1), [1, 2, 3])
        for s in range(2)
    ]
    seeds_only = [fake_record("t", "fno", "off", s, slope=-0.3, rmse0=0.1) for s in range(2)]
    mixed = [
        with_trajectories(fake_record("t", "gnn", "off", 0, slope=-0.3, rmse0=0.1), [1, 2]),
        fake_record("t", "gnn", "off", 1, slope=-0.3, rmse0=0.1),
    ]
    records = [*nested, *seeds_only, *mixed]
    assert set(nested_slope_intervals(records)) == {("t", "quick", "model", "cnn", "off")}
    summary = build_leaderboard(records).summary.set_index("baseline")
    assert summary.loc["cnn", "slope_interval"] == NESTED
    assert summary.loc["cnn", "label"] == IMPROVES  # exact power law: zero-width interval
    for baseline in ("fno", "gnn"):  # two seeds, seeds only: no interval
        assert summary.loc[baseline, "slope_interval"] == SEEDS_ONLY
        assert summary.loc[baseline, "label"] == UNDETERMINED


def solver_with_truth_row(reference_attr: bool):
    """A solver record scored on its own reference grid (64): RMSE 1e-9 there."""
    rec = fake_record("t", "solver", "off", 0, kind="reference", slope=-2.0, rmse0=0.05)
    rec.metrics[-1].rmse = 1e-9
    rec.anchoring_slope = float("nan")
    if reference_attr:
        rec.reference_resolution = 64
    return rec


@pytest.mark.parametrize("reference_attr", [False, True])
def test_solver_target_is_fitted_below_the_reference_grid(reference_attr):
    records = [
        fake_record("t", "persistence", "off", 0, kind="reference", rmse0=0.2),
        solver_with_truth_row(reference_attr),
        *(fake_record("t", "cnn", frl, s, rmse0=0.1) for frl in ("off", "full") for s in range(3)),
    ]
    scored, references = drop_reference_rows(records)
    assert references == {("t", "quick"): 64}
    assert [m.resolution for m in scored[1].metrics] == [16, 32]
    assert records[1].metrics[-1].resolution == 64  # the input is left as it was
    board = build_leaderboard(records)
    section = board.sections[0]
    assert section.reference_resolution == 64
    solver = board.summary[board.summary["baseline"] == "solver"].iloc[0]
    assert solver["slope_mean"] == pytest.approx(-2.0)  # not the fake −10 from 1e-9 at 64
    table = main_table(board, section)
    row = next(r for r in table.rows if r[0] == "solver (reference)")
    assert row[table.columns.index("RMSE @64")] == "= truth"
    assert row[table.columns.index("RMSE_Ratio @64")] == "= truth"
    assert row[table.columns.index("Slope")] == "-2.00 (target)"
    assert "solver slope -2.00 (below its reference grid 64)" in verdict(board, section)


def test_solver_close_to_but_not_at_the_truth_keeps_its_row():
    records = [
        fake_record("t", "persistence", "off", 0, kind="reference", rmse0=0.2),
        fake_record("t", "solver", "off", 0, kind="reference", slope=-2.0, rmse0=0.05),
    ]
    scored, references = drop_reference_rows(records)
    assert references == {} and scored == records


def test_no_skill_rows_are_shown_and_left_out_of_the_counts():
    persistence = fake_record("t", "persistence", "off", 0, kind="reference", rmse0=0.2)
    runs = {  # baseline -> (off rmse0, full rmse0); slopes: off anchored, full improves
        "cnn": (0.10, 0.30),  # FRL loses the skill
        "fno": (0.25, 0.10),  # baseline had none
        "gnn": (0.10, 0.10),
    }
    records = [persistence]
    for baseline, (off, full) in runs.items():
        for seed in range(3):
            jitter = 0.01 * (seed - 1)
            records.append(fake_record("t", baseline, "off", seed, slope=jitter, rmse0=off))
            records.append(fake_record("t", baseline, "full", seed, slope=-0.5, rmse0=full))
    board = build_leaderboard(records)
    summary = board.summary.set_index(["baseline", "frl"])
    assert summary.loc[("cnn", "full"), "skill"] == pytest.approx(1 - 0.30 / 0.2)
    assert summary.loc[("cnn", "full"), "label"] == NO_SKILL
    assert summary.loc[("fno", "off"), "label"] == NO_SKILL
    assert summary.loc[("cnn", "off"), "label"] == ANCHORED
    assert summary.loc[("gnn", "full"), "label"] == IMPROVES
    text = verdict(board, board.sections[0])
    assert "Under FRL 2 of 2 backbones with skill improve with resolution" in text
    assert "without FRL 0 of 2" in text
    assert "4 of 6 model rows have skill at ρ0 = 16" in text
    assert "FRL lost the skill of its baseline for 1 of 2 backbones" in text
    table = main_table(board, board.sections[0])
    cnn = next(r for r in table.rows if r[0] == "cnn")
    assert cnn[table.columns.index("Label")] == "anchored (seeds only) → no skill"
    assert cnn[table.columns.index("Skill @16")] == "+0.50 → -0.50"


def _legend_texts(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


@pytest.mark.parametrize("with_truth", [False, True])
def test_frequency_response_is_on_a_log_axis_with_the_truth_spectrum(with_truth):
    from frlbench.report.figures import plot_frequency_response

    records = [fake_record("t", "cnn", frl, 0, rmse0=0.1) for frl in ("off", "full")]
    if with_truth:
        for rec in records:
            for m in rec.metrics:
                m.freq_truth_energy = [k ** (-5 / 3) for k in m.freq_k]
    board = build_leaderboard(records)
    section = board.sections[0]
    frequency = section.select(board.frequency)
    fig = plot_frequency_response(frequency[frequency["resolution"] == 64], section)
    assert fig.axes[0].get_yscale() == "log"
    texts = _legend_texts(fig)
    assert "training Nyquist (ρ0/2 = 8)" in texts
    if with_truth:
        assert "truth spectrum (right)" in texts
        assert len(fig.axes) == 2 and fig.axes[1].get_yscale() == "log"
    else:
        assert "truth spectrum: not in the records" in texts


def test_rmse_vs_resolution_shows_persistence_and_solver():
    from frlbench.report.figures import plot_rmse_vs_resolution

    records = [
        fake_record("t", "persistence", "off", 0, kind="reference", rmse0=0.2),
        solver_with_truth_row(reference_attr=False),
        *(fake_record("t", "cnn", frl, 0, rmse0=0.1) for frl in ("off", "full")),
    ]
    board = build_leaderboard(records)
    section = board.sections[0]
    fig = plot_rmse_vs_resolution(
        section.select(board.per_resolution), section.select(board.seeds), section
    )
    texts = _legend_texts(fig)
    assert "persistence (reference)" in texts and "solver (reference)" in texts
    assert "solver at 64 = truth (not scored)" in texts
    solver = next(line for line in fig.axes[0].lines if line.get_label() == "solver (reference)")
    assert list(solver.get_xdata()) == [16, 32]


def test_rmse_ratio_bars_of_rows_without_skill_are_hatched():
    from frlbench.report.figures import plot_rmse_ratio

    records = [
        fake_record("t", "persistence", "off", 0, kind="reference", rmse0=0.2),
        fake_record("t", "cnn", "off", 0, rmse0=0.1),
        fake_record("t", "cnn", "full", 0, rmse0=0.3),
    ]
    board = build_leaderboard(records)
    section = board.sections[0]
    fig = plot_rmse_ratio(section.select(board.summary), section)
    bars = [p for p in fig.axes[0].patches if p.get_width() > 0]
    assert [bool(b.get_hatch()) for b in bars] == [False, True]  # off has skill, full not
    assert "no skill at ρ0 (hatched)" in [t.get_text() for t in fig.axes[0].get_legend().texts]


def test_a_solver_scored_at_its_reference_grid_that_is_not_the_truth_keeps_that_row():
    """era5's stand-in solver is scored on every grid: its reference-grid row is a result."""
    solver = fake_record("t", "solver", "off", 0, kind="reference", slope=-2.0, rmse0=0.05)
    solver.reference_resolution = 64
    records = [fake_record("t", "persistence", "off", 0, kind="reference", rmse0=0.2), solver]
    scored, references = drop_reference_rows(records)
    assert references == {}
    assert [m.resolution for m in scored[1].metrics] == [16, 32, 64]
