"""The CI ratio check: baselines, the 25% limit, and a step slowed by 30% that must fail it."""

from __future__ import annotations

import json

import pytest

from benchmarks import ratio_check

# Deterministic stand-ins for the real measurements: (numerator s, denominator s).
FAKE = {
    "frl_full_over_off": lambda: (1.26, 1.0),
    "frl_full_over_off_unet": lambda: (1.4, 1.0),
    "harness_over_plain": lambda: (1.01, 1.0),
    "solver_step_over_fft_32": lambda: (0.031, 0.01),
    "eval_per_sample_over_forward": lambda: (0.5, 0.25),
}


@pytest.fixture
def baselines(tmp_path, monkeypatch):
    monkeypatch.setattr(ratio_check, "CHECKS", dict(FAKE))
    monkeypatch.delenv(ratio_check.SLOWDOWN_ENV, raising=False)
    path = tmp_path / "baselines.json"
    assert ratio_check.main(["--write-baselines", "--baselines", str(path)]) == 0
    return path


def test_baselines_are_the_measured_ratios_rounded_up_by_under_5_percent(baselines):
    written = json.loads(baselines.read_text())
    assert set(written) == set(FAKE)
    for name, measure in FAKE.items():
        numerator, denominator = measure()
        ratio = numerator / denominator
        assert ratio <= written[name] <= 1.05 * ratio


def test_unchanged_ratios_pass_and_print_each_with_its_baseline(baselines, capsys):
    assert ratio_check.main(["--baselines", str(baselines)]) == 0
    out = capsys.readouterr().out
    for name in FAKE:
        assert f"ok   {name}: " in out and "baseline" in out


def test_a_step_slowed_by_30_percent_fails_the_check(baselines, monkeypatch, capsys):
    monkeypatch.setenv(ratio_check.SLOWDOWN_ENV, "frl_full_over_off=1.3")
    assert ratio_check.main(["--baselines", str(baselines)]) == 1
    out = capsys.readouterr().out
    assert "FAIL frl_full_over_off" in out
    assert "ok   harness_over_plain" in out


def test_a_step_slowed_by_20_percent_is_within_tolerance(baselines, monkeypatch):
    monkeypatch.setenv(ratio_check.SLOWDOWN_ENV, "solver_step_over_fft_32=1.2")
    assert ratio_check.main(["--baselines", str(baselines)]) == 0


def test_a_missing_baseline_fails(baselines):
    data = json.loads(baselines.read_text())
    del data["harness_over_plain"]
    baselines.write_text(json.dumps(data))
    assert ratio_check.main(["--baselines", str(baselines)]) == 1


def test_bad_slowdown_names_the_valid_checks():
    with pytest.raises(SystemExit, match="frl_full_over_off"):
        ratio_check.parse_slowdown("frl=1.3")


def test_committed_baselines_cover_every_check():
    committed = json.loads(ratio_check.BASELINES.read_text())
    assert set(committed) == set(ratio_check.CHECKS)
    assert all(value > 0 for value in committed.values())
