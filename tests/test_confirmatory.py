"""The confirmatory test (docs/frl_selection.md): paired bootstrap of FRL full against off at
the finest grid, Holm across families, and the smallest detectable effect."""

from __future__ import annotations

import numpy as np
import pytest

from frlbench.report.confirmatory import confirmatory_frame, holm, paired_effect
from tests.test_evidence import with_trajectories
from tests.test_report import fake_record

TRAJ = [0.8, 1.0, 1.2, 0.9, 1.1, 1.0]


def _arms(rng, full_scale, seeds=3, noise=0.01):
    base = rng.uniform(0.5, 1.5, size=len(TRAJ))  # trajectories differ: the pairing matters
    off = base * (1 + noise * rng.standard_normal((seeds, len(TRAJ))))
    full = full_scale * base * (1 + noise * rng.standard_normal((seeds, len(TRAJ))))
    return off, full


def test_a_clear_reduction_is_found_and_none_is_not():
    rng = np.random.default_rng(0)
    better = paired_effect(*_arms(rng, 0.9))
    assert better.effect == pytest.approx(0.1, abs=0.01)
    assert better.p < 0.01 and better.lower > 0.05 and better.detectable < 0.05
    same = paired_effect(*_arms(rng, 1.0))
    assert abs(same.effect) < 0.02 and same.p > 0.05
    worse = paired_effect(*_arms(rng, 1.1))
    assert worse.effect < 0 and worse.p > 0.95
    assert (better.seeds, better.trajectories) == ((3, 3), len(TRAJ))


def test_pairing_by_trajectory_makes_the_test_sharper():
    rng = np.random.default_rng(1)
    off, full = _arms(rng, 0.97)
    paired = paired_effect(off, full)
    shuffled = paired_effect(off, full[:, rng.permutation(len(TRAJ))])
    assert paired.detectable < shuffled.detectable


def test_holm():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_the_frame_tests_every_family_with_both_arms():
    records = []
    for baseline, full_rmse in (("cnn", 0.08), ("fno", 0.1)):
        for frl, rmse0 in (("off", 0.1), ("full", full_rmse)):
            for seed in range(3):
                rec = fake_record("fluid3d", baseline, frl, seed, rmse0=rmse0 * (1 + 0.01 * seed))
                records.append(with_trajectories(rec, TRAJ))
    only_off = with_trajectories(fake_record("fluid3d", "unet", "off", 0), TRAJ)
    frame = confirmatory_frame([*records, only_off]).set_index("baseline")
    assert list(frame.index) == ["cnn", "fno"]  # unet has no full arm
    assert frame.loc["cnn", "effect"] == pytest.approx(0.2, abs=0.01)
    assert bool(frame.loc["cnn", "significant"]) and not bool(frame.loc["fno", "significant"])
    assert frame.loc["cnn", "p_holm"] >= frame.loc["cnn", "p"]
    assert frame.loc["cnn", "resolution"] == 64 and frame.loc["cnn", "selection"] == "rho0"


def test_the_leaderboard_shows_the_test_beside_the_main_table():
    from frlbench.report.aggregate import build_leaderboard
    from frlbench.report.document import to_markdown
    from frlbench.report.tables import build_document

    records = [
        with_trajectories(fake_record("fluid3d", "cnn", frl, s, rmse0=r * (1 + 0.01 * s)), TRAJ)
        for frl, r in (("off", 0.1), ("full", 0.08))
        for s in range(3)
    ]
    text = to_markdown(build_document(build_leaderboard(records, [])))
    assert "Confirmatory test — does FRL full lower the RMSE @64?" in text
    assert "validation at ρ0" in text and "+20.0%" in text
