"""The protocol audit: truth constructions, their diagnostics, and ``frlbench audit``."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
import pytest
import torch

from frlbench import spectral
from frlbench.evaluation import truth as protocols
from frlbench.evaluation.evaluate import EvalProtocol
from frlbench.records import load_records
from frlbench.runner.audit import run_audit
from frlbench.runner.store import RunStore
from frlbench.spec import resolve_task
from tests.conftest import make_task
from tests.test_runner import cli, make_project


def _grid(n: int) -> torch.Tensor:
    return torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)


def test_subsampling_aliases_exactly_the_predicted_energy():
    """cos(3x) is resolved on 8 points; cos(6x + 5y) folds onto (-2, -3): its energy is
    exactly what subsampling 32² -> 8² aliases, and exactly the energy above Nyquist 4."""
    task = make_task(ndim=2, train=8, tests=(8, 16, 32), ref=32)
    x, y = torch.meshgrid(_grid(32), _grid(32), indexing="ij")
    a1, a2 = 1.3, 0.4
    field = (a1 * torch.cos(3 * x) + a2 * torch.cos(6 * x + 5 * y)).reshape(1, 1, 32, 32)
    predicted = a2**2 / (a1**2 + a2**2)
    assert protocols.aliased_energy(field, task, 8, 32) == pytest.approx(predicted, rel=1e-12)
    assert protocols.aliased_energy(field, task, 16, 32) == pytest.approx(0.0, abs=1e-24)
    assert protocols.energy_above_nyquist(field, task, 8) == pytest.approx(predicted, rel=1e-12)
    coarse = protocols.coarsen(field, task, "subsample", 8, 32)
    x8, y8 = torch.meshgrid(_grid(8), _grid(8), indexing="ij")
    alias = a1 * torch.cos(3 * x8) + a2 * torch.cos(-2 * x8 - 3 * y8)
    torch.testing.assert_close(coarse[0, 0], alias, rtol=0, atol=1e-12)


def test_truncation_and_subsampling_agree_on_band_limited_fields():
    task = make_task(ndim=3, channels=3, train=8, tests=(8, 16, 32), ref=32)
    torch.manual_seed(0)
    coarse = spectral.truncate(torch.randn(2, 3, 8, 8, 8, dtype=torch.float64), (7, 7, 7))
    field = spectral.zero_pad(coarse, (32, 32, 32))  # modes |k| <= 3 < Nyquist 4 of 8³
    for r in (8, 16):
        torch.testing.assert_close(
            protocols.coarsen(field, task, "subsample", r, 32),
            protocols.coarsen(field, task, "truncation", r, 32),
            rtol=0,
            atol=1e-12,
        )
    assert protocols.aliased_energy(field, task, 8, 32) < 1e-28
    # The cell average is another operator: it damps every nonzero mode.
    box = protocols.coarsen(field, task, "box", 8, 32)
    assert (box - protocols.coarsen(field, task, "truncation", 8, 32)).abs().max() > 1e-3


def test_paper_grid_family_and_ratio_grid():
    task = make_task(ndim=3, channels=3, train=16, tests=(16, 32, 64), ref=64)
    grids = protocols.truth_resolutions(task, "paper-grid", (16, 32, 64), 64)
    assert grids == (17, 22, 33, 65)
    assert protocols.ratio_resolution("paper-grid", grids, 16) == 17
    field = torch.randn(1, 3, 64, 64, 64, dtype=torch.float64)
    g22 = protocols.paper_grid(field, 22, 3)
    assert g22.shape[-3:] == (22, 22, 22)
    assert torch.equal(g22[..., 21, 0, 0], field[..., 63, 0, 0])  # stride 3: last point 63
    g17 = protocols.paper_grid(field, 17, 3)
    assert torch.equal(g17[..., 16, 16, 16], field[..., 0, 0, 0])  # the periodic endpoint
    with pytest.raises(ValueError, match="30 is not one of 65, 33, 22, 17"):
        protocols.paper_grid(field, 30, 3)


def test_latlon_operators():
    task = dataclasses.replace(make_task(ndim=2, train=8, tests=(8, 16), ref=16), grid="latlon")
    const = torch.full((1, 1, 8, 16), 2.5, dtype=torch.float64)
    for truth in protocols.truths_for(task):
        out = protocols.coarsen(const, task, truth, 8, 16)
        assert out.shape == (1, 1, 4, 8)
        torch.testing.assert_close(out, torch.full_like(out, 2.5))
    ramp = torch.arange(16, dtype=torch.float64).repeat(8, 1).reshape(1, 1, 8, 16)
    assert torch.equal(
        protocols.coarsen(ramp, task, "subsample", 8, 16)[0, 0, 0], ramp[0, 0, 0, ::2]
    )
    # Zonal aliasing: m = 6 folds onto m = 2 of 8 longitudes (Nyquist 4); m = 3 is resolved.
    lon = _grid(16).reshape(1, 1, 1, 16)
    field = (torch.cos(3 * lon) + 0.5 * torch.sin(6 * lon)).expand(1, 1, 8, 16)
    predicted = 0.5**2 / (1 + 0.5**2)
    assert protocols.aliased_energy(field, task, 8, 16) == pytest.approx(predicted, rel=1e-12)


def test_bad_names_and_grids_give_clear_errors():
    task = make_task(ndim=2, train=8, tests=(8, 12, 16), ref=16)
    with pytest.raises(ValueError, match="valid: truncation, subsample, box, paper-grid"):
        EvalProtocol((8, 16), 2, 0, 0, 16, 8, task=task, truth="conservative")
    with pytest.raises(ValueError, match="valid: train, per-resolution"):
        EvalProtocol((8, 16), 2, 0, 0, 16, 8, task=task, normalization="test")
    with pytest.raises(ValueError, match="resolution 12 is not the reference resolution 16"):
        protocols.truth_resolutions(task, "subsample", (8, 12, 16), 16)
    # Default options are not written into records: stored evaluations stay equal.
    default = EvalProtocol((8, 16), 2, 0, 0, 16, 8, task=task)
    assert "truth" not in default.to_dict()
    assert EvalProtocol((8, 16), 2, 0, 0, 16, 8, task=task, truth="box").to_dict()["truth"] == "box"


ROLLOUT = "dt = 0.3\npairs_per_trajectory = 3"


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A smoke grid (probe_conv off/full, persistence, solver) with rollouts, then audited."""
    project = make_project(tmp_path_factory.mktemp("audit") / "proj")
    task = project / "tasks" / "adv.toml"
    task.write_text(task.read_text().replace("dt = 0.3", ROLLOUT).replace(
        "n_test = 2", "n_test = 2\nrollout_steps = 2"))  # fmt: skip
    out = project / "results"
    args = ["run", "--task", "adv", "--backbone", "probe_conv", "--profile", "smoke",
            "--frl", "off,full", "--seeds", "0,1", "--out", str(out), "--no-progress",
            "--no-report"]  # fmt: skip
    result = cli(project, *args)
    assert result.exit_code == 0, result.output
    missing = next(r for r in load_records(out / "runs")[0] if r.frl == "full" and r.seed == 1)
    (out / "runs" / missing.run_id / "weights.pt").unlink()
    result = cli(project, "audit", "--out", str(out), "--no-progress")
    assert result.exit_code == 0, result.output
    return project


def test_audit_writes_every_protocol_and_reports_runs_without_weights(audited: Path):
    out = audited / "results"
    frame = pd.read_csv(out / "protocol_audit.csv")
    assert set(frame["protocol"]) == {"truncation", "subsample", "box", "paper-grid"}
    models = frame[frame["kind"] == "model"]
    assert set(models["normalization"]) == {"train", "per-resolution"}
    assert set(frame.loc[frame["kind"] == "reference", "normalization"]) == {"physical"}
    assert set(models["lead"]) == {1, 2}
    assert set(frame.loc[frame["protocol"] == "paper-grid", "resolution"]) == {9, 11, 17, 33}
    assert "solver" not in set(frame.loc[frame["protocol"] == "paper-grid", "baseline"])
    text = (out / "protocol_audit.md").read_text()
    assert "Skipped runs" in text and "weights" in text and "seed=1" in text
    assert "FINDINGS PLACEHOLDER" in text and "energy above training nyquist" in text.lower()
    assert (out / "figures" / "protocol_audit.png").is_file()
    # Subsampling aliases energy the truncated truth does not hold.
    diag = text.split("what the truth holds")[1]
    assert "subsample" in diag


def test_default_audit_reproduces_stored_metrics_exactly(audited: Path):
    out = audited / "results"
    records = [r for r in load_records(out / "runs")[0] if r.status == "ok"]
    result = run_audit(RunStore(out), truths=("truncation",), progress=False)
    rows = {(r.run_id, r.resolution, r.lead): r for r in result.rows if r.normalization in
            ("train", "physical")}  # fmt: skip
    solver = next(r for r in records if r.baseline == "solver")
    checked = 0
    for rec in records:
        if rec.baseline == "band-oracle":  # not audited: it forecasts only the stored pairs
            assert not any(r.run_id == rec.run_id for r in result.rows)
        elif (out / "runs" / rec.run_id / "weights.pt").exists() or rec.kind == "reference":
            for m in rec.metrics:
                assert rows[(rec.run_id, m.resolution, 1)].rmse == m.rmse
                assert rows[(rec.run_id, m.resolution, 1)].rmse_ratio == m.rmse_ratio
                assert rows[(rec.run_id, m.resolution, 2)].rmse == m.rollout_rmse[1]
                checked += 1
    assert checked >= 7 and any(r.run_id == solver.run_id for r in result.rows)
    assert [s.run_id for s in result.skipped] == [
        r.run_id for r in records if r.kind == "model" and not
        (out / "runs" / r.run_id / "weights.pt").exists()
    ]  # fmt: skip
    # One lead needs no rollout: lead 1 is the one-step score, equal to the stored one.
    one = run_audit(RunStore(out), truths=("truncation",), max_rollout=1, progress=False)
    assert {r.lead for r in one.rows} == {1}
    lead1 = {k: r.rmse for k, r in rows.items() if k[2] == 1}
    assert {
        (r.run_id, r.resolution, 1): r.rmse for r in one.rows if r.normalization != "per-resolution"
    } == lead1


def test_latlon_protocols_score_persistence(tmp_path: Path):
    from frlbench.data.era5 import build_era5
    from frlbench.evaluation.evaluate import PersistenceForecaster, evaluate
    from tests.test_era5 import era5_task, make_wb2

    task = era5_task(tmp_path, make_wb2(tmp_path / "era5.nc"))
    data = build_era5(resolve_task(task, "smoke"), progress=False)
    default = EvalProtocol.from_task(resolve_task(task, "smoke"))
    stored = evaluate(PersistenceForecaster(), data, default)
    scores = {}
    for truth in protocols.truths_for(task):
        for norm in protocols.NORMALIZATIONS:
            p = dataclasses.replace(default, truth=truth, normalization=norm)
            scores[truth, norm] = evaluate(PersistenceForecaster(), data, p).metrics
    # Persistence works in physical units: the normalization moves its error only by the
    # float32 rounding of the normalized fields. The default protocol is the stored one.
    for (truth, _), m in scores.items():
        assert m[0].rmse == pytest.approx(scores[truth, "train"][0].rmse, rel=1e-5)
        assert m[-1].acc is not None and math.isfinite(m[-1].acc)
    assert [m.rmse for m in scores["conservative", "train"]] == [m.rmse for m in stored.metrics]
    assert scores["subsample", "train"][0].rmse != pytest.approx(stored.metrics[0].rmse, rel=1e-3)


def test_reference_grid_forecasts_are_made_once_and_change_no_number(audited, monkeypatch):
    from frlbench.runner import audit

    out = audited / "results"
    truths = ("truncation", "subsample", "box")
    remembered = audit.MemoForecaster.forecast
    hits = []

    def counted(self, states, resolution):
        before = self.hits
        result = remembered(self, states, resolution)
        hits.append((self.name, resolution, self.hits > before))
        return result

    monkeypatch.setattr(audit.MemoForecaster, "forecast", counted)
    memo = run_audit(RunStore(out), truths=truths, progress=False)
    reference = max(r.resolution for r in memo.rows)
    assert any(hit for _, res, hit in hits if res == reference)
    assert not any(hit for _, res, hit in hits if res != reference)
    monkeypatch.setattr(
        audit.MemoForecaster, "forecast", lambda self, states, res: self.inner.forecast(states, res)
    )
    plain = run_audit(RunStore(out), truths=truths, progress=False)

    def key(row):
        return row.run_id, row.protocol, row.normalization, row.resolution, row.lead

    assert {key(r): r.rmse for r in memo.rows} == {key(r): r.rmse for r in plain.rows}


def test_audit_frl_filter_keeps_references(audited: Path):
    out = audited / "results"
    result = run_audit(RunStore(out), frl=("off",), truths=("truncation",), max_rollout=1,
                       progress=False)  # fmt: skip
    models = {r.frl for r in result.rows if r.kind == "model"}
    assert models == {"off"}
    assert {"persistence", "solver"} <= {r.baseline for r in result.rows if r.kind == "reference"}
    # The full run without weights is filtered out, not reported as skipped.
    assert result.skipped == []
