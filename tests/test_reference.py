"""Reference rows: persistence and the task's solver, evaluated like models."""

from __future__ import annotations

import pytest

from frlbench.data import load_dataset
from frlbench.runner.reference import reference_run_id, run_reference, solver_for
from frlbench.spec import resolve_task


def test_solver_at_reference_resolution_reproduces_truth(task2d, tmp_path):
    """Pairing sanity: the solver run on the reference grid gives the stored truth."""
    data = load_dataset(resolve_task(task2d, "smoke"), cache_dir=tmp_path)
    sizes = task2d.profiles["smoke"]
    ref = sizes.reference_resolution
    test = data.splits["test"]
    inputs = data.denormalize(test.inputs[ref].double())
    truth = data.denormalize(test.targets[ref].double())
    pred = solver_for(task2d)(resolve_task(task2d, "smoke"), inputs, ref)
    scale = truth.abs().max()
    assert (pred - truth).abs().max() / scale < 1e-6  # float32 storage round-off


def test_reference_records(task2d, tmp_path):
    persistence = run_reference("persistence", resolve_task(task2d, "smoke"), cache_dir=tmp_path)
    solver = run_reference("solver", resolve_task(task2d, "smoke"), cache_dir=tmp_path)
    assert persistence.kind == solver.kind == "reference"
    assert persistence.status == solver.status == "ok"
    sizes = task2d.profiles["smoke"]
    res = [m.resolution for m in solver.metrics]
    # The solver is the truth on the reference grid: scored only on coarser ones.
    assert res == [r for r in sizes.test_resolutions if r < sizes.reference_resolution]
    assert solver.reference_resolution == sizes.reference_resolution
    assert [m.resolution for m in persistence.metrics] == list(sizes.test_resolutions)
    # The exact solver beats doing nothing at every resolution.
    for p, s in zip(persistence.metrics, solver.metrics, strict=False):
        assert s.rmse < p.rmse
        assert s.inference_s_per_sample > 0
    assert persistence.run_id == reference_run_id(resolve_task(task2d, "smoke"), "persistence")
    assert persistence.data_source == solver.data_source == ADVECTION_SOURCE


ADVECTION_SOURCE = "frlbench's exact advection-diffusion solution (synthetic test data)"


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        ({"builder": "era5", "data_source": "ERA5 (WeatherBench2-layout zarr store at /d)"},
         "ERA5 (WeatherBench2-layout zarr store at /d)"),
        # fluid3d's caches predate the field: its builder's registered description applies.
        ({"builder": "fluid3d"}, "frlbench's pseudo-spectral Navier-Stokes solver"),
        ({"builder": "advection"}, ADVECTION_SOURCE),
        ({"builder": "nonesuch"}, "task builder 'nonesuch'"),
        ({}, "unknown"),
    ],
)  # fmt: skip
def test_data_source_in_plain_words(metadata, expected):
    import torch

    from frlbench.data import PairedDataset

    ds = PairedDataset("t", "smoke", 8, {}, torch.zeros(1), torch.ones(1), metadata=metadata)
    assert ds.data_source.startswith(expected)


def test_reference_not_applicable_is_recorded_with_reason(task2d, tmp_path, monkeypatch):
    import frlbench.runner.reference as reference

    monkeypatch.setattr(reference, "solver_for", lambda task: None)
    rec = run_reference("solver", resolve_task(task2d, "smoke"), cache_dir=tmp_path)
    assert rec.status == "not_applicable"
    assert rec.reason == "task builder 'advection' has no numerical solver"
    assert rec.metrics == []
    with pytest.raises(ValueError, match="persistence, solver"):
        run_reference("oracle", resolve_task(task2d, "smoke"), cache_dir=tmp_path)
