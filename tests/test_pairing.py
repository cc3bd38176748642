"""The paired comparison with the published runs: its bootstrap, and when rows are paired."""

from __future__ import annotations

import math

import numpy as np
import pytest

from frlbench.records import ResolutionMetrics, new_record
from frlbench.report.pairing import PUBLISHED, UNPAIRED, combine, paired_bootstrap

FINGERPRINT = {
    "digest": "a" * 64,
    "version": 1,
    "grids": [{"resolution": 8, "samples": 4, "mean": 0.0, "rms": 1.0, "min": -2.0, "max": 2.0}],
}


def test_identical_errors_differ_by_exactly_zero():
    errors = np.random.default_rng(0).uniform(0.5, 1.5, size=(3, 8))
    difference, ratio = paired_bootstrap(errors, errors.copy())
    assert difference.mean == 0 and ratio.mean == 1
    assert difference.low <= 0 <= difference.high and ratio.low <= 1 <= ratio.high


def test_a_uniformly_better_model_has_an_interval_below_zero():
    rng = np.random.default_rng(1)
    theirs = rng.uniform(0.5, 1.5, size=(3, 8))
    mine = 0.8 * theirs + rng.normal(0, 0.01, size=theirs.shape)
    difference, ratio = paired_bootstrap(mine, theirs)
    assert difference.high < 0 and ratio.high < 1
    assert ratio.mean == pytest.approx(0.8, abs=0.02)


def test_pairing_over_trajectories_is_tighter_than_ignoring_it():
    """Trajectories differ in difficulty far more than the two models differ: resampling them
    once for both sides cancels that spread."""
    rng = np.random.default_rng(2)
    difficulty = rng.uniform(0.2, 3.0, size=8)
    theirs = difficulty * rng.uniform(0.98, 1.02, size=(3, 8))
    mine = 0.95 * difficulty * rng.uniform(0.98, 1.02, size=(2, 8))
    difference, _ = paired_bootstrap(mine, theirs)
    assert difference.high < 0  # found despite the trajectories' 15x spread
    with pytest.raises(ValueError, match="trajectories differ"):
        paired_bootstrap(mine[:, :4], theirs)


def _record(run_id, baseline, *, kind="model", digest="a", version=1, seed=0, scale=1.0):
    fingerprint = {**FINGERPRINT, "digest": digest * 64}
    metrics = [ResolutionMetrics(8, scale, 0.1, rmse_per_trajectory=[scale] * 4)]
    record = new_record(run_id=run_id, kind=kind, task="t", baseline=baseline, profile="quick",
                        seed=seed, evaluation={"test_resolutions": [8]}, metrics=metrics,
                        dataset_fingerprint=fingerprint)  # fmt: skip
    record.benchmark_version = version
    return record


def test_same_fingerprint_pairs_other_data_or_version_does_not():
    local = [_record("mine-0", "mine"), _record("persistence-ref", "persistence", kind="reference")]
    published = [
        _record("cnn-0", "cnn", scale=2.0),
        _record("cnn-1", "cnn", seed=1, scale=2.0),
        _record("persistence-ref", "persistence", kind="reference"),  # the same run: left out
        _record("solver-ref", "solver", kind="reference"),
    ]
    pairing = combine(local, published)
    info = pairing.sections[("t", "quick")]
    assert info.paired and info.reason == "" and info.n_published == 3
    baselines = sorted(r.baseline for r in pairing.records)
    assert baselines == ["cnn" + PUBLISHED] * 2 + ["mine", "persistence", "solver"]
    (row,) = pairing.differences[("t", "quick")]
    assert row["mine"] == "mine (off)" and row["theirs"] == "cnn (off)"
    assert row["ratio"].mean == pytest.approx(0.5) and row["difference"].mean == -1.0

    other = combine(local, [_record("cnn-0", "cnn", digest="b")])
    info = other.sections[("t", "quick")]
    assert not info.paired and "test data differ" in info.reason
    assert {r.profile for r in other.records} == {"quick", "quick" + UNPAIRED}
    assert not other.differences

    older = combine(local, [_record("cnn-0", "cnn", version=0)])
    assert "benchmark version 1 here, 0 published" in older.sections[("t", "quick")].reason

    legacy = [_record("mine-0", "mine")]
    legacy[0].dataset_fingerprint = None
    reason = combine(legacy, published).sections[("t", "quick")].reason
    assert "carry no dataset fingerprint" in reason
    assert math.isfinite(row["difference"].low)
