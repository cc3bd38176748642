"""A data build interrupted part-way keeps its finished trajectories and resumes from them,
with the same dataset (fingerprint) as an uninterrupted build; a half-built cache is never
served as complete."""

from __future__ import annotations

import pytest
import torch

from frlbench.data import fluid3d
from frlbench.data.cache import dataset_path, load_dataset, pieces_dir, resumable
from frlbench.data.fingerprint import dataset_fingerprint
from frlbench.spec import resolve_task


def _interrupt_and_resume(task, uninterrupted, tmp_path, monkeypatch, original) -> None:
    calls = []

    def interrupted(*args, **kwargs):
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C during the third trajectory
        calls.append(args[3])
        return original(*args, **kwargs)

    monkeypatch.setattr(fluid3d, "_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load_dataset(task, cache_dir=tmp_path, progress=False)
    path = dataset_path(task, tmp_path)
    assert not path.exists() and not path.with_suffix(".sha256").exists()  # nothing served
    assert sorted(p.name for p in pieces_dir(path).iterdir()) == sorted(
        f"trajectory-{seed}.pt" for seed in calls
    )

    resumed_calls = []

    def counting(*args, **kwargs):
        resumed_calls.append(args[3])
        return original(*args, **kwargs)

    monkeypatch.setattr(fluid3d, "_run", counting)
    resumed = load_dataset(task, cache_dir=tmp_path, progress=False)
    total = task.sizes.n_train + task.sizes.n_val + task.sizes.n_test
    assert len(resumed_calls) == total - 2 and not set(resumed_calls) & set(calls)
    assert dataset_fingerprint(resumed).matches(dataset_fingerprint(uninterrupted))
    assert resumed.metadata == uninterrupted.metadata
    assert not pieces_dir(path).exists()  # removed once the dataset is saved


def _fake_run(task, opts, solvers, seed, on_step):
    """A deterministic stand-in for the solver (seconds instead of a minute of CPU)."""
    n = task.sizes.reference_resolution
    generator = torch.Generator().manual_seed(seed)
    shape = (opts.pairs_per_trajectory + 1, 3, n, n, n)
    return torch.randn(shape, generator=generator, dtype=torch.float64) * 0.1


def test_interrupted_build_resumes_with_the_uninterrupted_result(tmp_path, monkeypatch):
    from frlbench.catalog import builtin_task_file
    from frlbench.spec import load_task

    task = resolve_task(load_task(builtin_task_file("fluid3d")), "smoke")
    monkeypatch.setattr(fluid3d, "_run", _fake_run)
    uninterrupted = load_dataset(task, cache_dir=tmp_path / "once", progress=False)
    _interrupt_and_resume(task, uninterrupted, tmp_path / "twice", monkeypatch, _fake_run)


@pytest.mark.slow
def test_interrupted_solver_build_resumes_with_the_uninterrupted_result(
    fluid3d_smoke, tmp_path, monkeypatch
):
    spec, uninterrupted, _ = fluid3d_smoke
    task = resolve_task(spec, "smoke")
    _interrupt_and_resume(task, uninterrupted, tmp_path, monkeypatch, fluid3d._run)


def test_outside_a_build_a_piece_is_just_computed():
    value, loaded = resumable("anything", lambda: 3)
    assert (value, loaded) == (3, False)
