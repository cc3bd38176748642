"""Autoregressive rollout: chaining of test pairs, errors per step, configuration errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from frlbench import metrics
from frlbench.data import PairedSplit, load_dataset
from frlbench.evaluation.evaluate import SolverForecaster, rollout_rmse, solver_for
from frlbench.evaluation.rollout import chains, check_rollout, windows
from frlbench.runner.reference import run_reference
from frlbench.spec import ConfigError, TaskProfile, resolve_task
from tests.conftest import make_task


def _split(states: list[torch.Tensor], seeds: list[int]) -> PairedSplit:
    """Pairs (s[i], s[i+1]) of each trajectory; ``states`` is a list of (T, C, n) tensors."""
    inputs = torch.cat([s[:-1] for s in states])
    targets = torch.cat([s[1:] for s in states])
    pair_seeds = [seed for s, seed in zip(states, seeds, strict=True) for _ in range(len(s) - 1)]
    return PairedSplit({4: inputs}, {4: targets}, pair_seeds)


def test_chains_follow_trajectories_and_break_where_pairs_do_not_connect():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 1, 4, generator=gen), torch.randn(3, 1, 4, generator=gen)
    split = _split([a, b], [7, 8])
    assert chains(split) == [[0, 1, 2], [3, 4]]
    assert windows(split, 2) == [[0, 1], [1, 2], [3, 4]]
    assert windows(split, 3) == [[0, 1, 2]]
    assert windows(split, 4) == []
    # Same seed, but the next pair does not start where the previous one ended: no chain.
    split.inputs[4][1] += 1.0
    assert chains(split) == [[0], [1, 2], [3, 4]]


def _task(pairs: int, rollout: int):
    task = make_task(ndim=2)
    sizes = task.profiles["smoke"]
    data = {**sizes.data, "pairs_per_trajectory": pairs}
    profile = dataclasses.replace(sizes, rollout_steps=rollout, data=data)
    return dataclasses.replace(task, profiles={"smoke": profile})


class Step:
    """A forecaster of normalized states from a plain function (what a model is to evaluate)."""

    name, units, exact_at_reference = "step", "normalized", False

    def __init__(self, fn):
        self.fn = fn

    def forecast(self, states, resolution):
        return self.fn(states)


def test_exact_step_has_zero_error_and_identity_matches_hand_computation(tmp_path):
    task = _task(pairs=3, rollout=3)
    data = load_dataset(resolve_task(task, "smoke"), cache_dir=tmp_path, progress=False)
    test = data.splits["test"]
    assert chains(test) == [[0, 1, 2], [3, 4, 5]]
    for res in test.resolutions:
        # Stepping along the stored trajectory exactly: zero error at every step.
        targets = test.targets[res]
        calls = iter([[0, 3], [1, 4], [2, 5]])

        def along_trajectory(x, calls=calls, targets=targets):
            return targets[next(calls)]

        exact = rollout_rmse(Step(along_trajectory), data, task, res, 3)
        assert exact == [0.0, 0.0, 0.0]
        # Persistence: the start state against the truth after j steps.
        kept = rollout_rmse(Step(lambda x: x), data, task, res, 3)
        start = data.denormalize(test.inputs[res][[0, 3]].double())
        for j, value in enumerate(kept):
            truth = data.denormalize(test.targets[res][[j, 3 + j]].double())
            assert value == pytest.approx(metrics.rmse(start, truth), rel=1e-12)
        assert kept[0] < kept[1] < kept[2]  # the field drifts further from its start


def test_rollout_on_a_subset_of_trajectories_scores_only_their_windows(tmp_path):
    task = _task(pairs=3, rollout=3)
    data = load_dataset(resolve_task(task, "smoke"), cache_dir=tmp_path, progress=False)
    test = data.splits["test"]
    res = test.resolutions[0]
    first = rollout_rmse(Step(lambda x: x), data, task, res, 3, n_trajectories=1)
    start = data.denormalize(test.inputs[res][[0]].double())
    for j, value in enumerate(first):
        truth = data.denormalize(test.targets[res][[j]].double())
        assert value == pytest.approx(metrics.rmse(start, truth), rel=1e-12)
    every = rollout_rmse(Step(lambda x: x), data, task, res, 3)
    assert rollout_rmse(Step(lambda x: x), data, task, res, 3, n_trajectories=2) == every
    assert first != every


def test_rollout_trajectories_beyond_n_test_is_a_clear_error():
    sizes = make_task(ndim=2).profiles["smoke"]
    with pytest.raises(ValueError, match=r"rollout_trajectories.*0 \(all\) to n_test"):
        dataclasses.replace(sizes, rollout_trajectories=sizes.n_test + 1)


def test_no_rollout_is_an_empty_list(tmp_path):
    task = _task(pairs=1, rollout=0)
    data = load_dataset(resolve_task(task, "smoke"), cache_dir=tmp_path, progress=False)
    assert rollout_rmse(Step(lambda x: x), data, task, 8, 0) == []
    check_rollout(resolve_task(task, "smoke"), data)  # nothing to check


def test_longer_rollout_than_the_data_holds_is_a_clear_error(tmp_path):
    task = _task(pairs=2, rollout=3)
    data = load_dataset(resolve_task(task, "smoke"), cache_dir=tmp_path, progress=False)
    with pytest.raises(ConfigError, match=r"profiles\.smoke\.rollout_steps = 3.*valid: 0 to 2"):
        check_rollout(resolve_task(task, "smoke"), data)


def test_negative_rollout_is_rejected():
    with pytest.raises(ConfigError, match="rollout_steps"):
        TaskProfile(8, (8, 16), 16, 1, 1, 1, rollout_steps=-1)


def test_solver_rollout_stays_exact_and_persistence_grows(tmp_path):
    task = _task(pairs=3, rollout=3)
    solver = run_reference("solver", resolve_task(task, "smoke"), cache_dir=tmp_path)
    persistence = run_reference("persistence", resolve_task(task, "smoke"), cache_dir=tmp_path)
    reference = task.profiles["smoke"].reference_resolution
    # The solver is not scored on the grid its truth comes from; persistence is.
    assert [m.resolution for m in solver.metrics] == [
        r for r in task.profiles["smoke"].test_resolutions if r < reference
    ]
    assert solver.reference_resolution == reference
    assert persistence.metrics[-1].resolution == reference
    for p in persistence.metrics:
        assert len(p.rollout_rmse) == 3
        assert p.rollout_rmse == sorted(p.rollout_rmse)
    for s in solver.metrics:
        assert len(s.rollout_rmse) == 3
    # At the reference resolution the exact solver stays on the stored trajectory (float32
    # storage round-off only); coarser grids lose the Nyquist modes' phase, as in one step.
    data = load_dataset(resolve_task(task, "smoke"), cache_dir=tmp_path, progress=False)
    exact = rollout_rmse(
        SolverForecaster(solver_for(task), resolve_task(task, "smoke")), data, task, reference, 3
    )
    assert max(exact) < 1e-6 * persistence.metrics[-1].rollout_rmse[0]


def test_trained_run_records_a_rollout_per_resolution(tmp_path):
    from frlbench.registry import FRL_VARIANTS
    from frlbench.spec import BackboneSpec, RunSpec, TrainSettings
    from frlbench.train import train_and_evaluate

    task = _task(pairs=2, rollout=2)
    settings = TrainSettings(size="tiny", epochs=1, batch_size=4)
    spec = RunSpec(
        task, BackboneSpec("cnn", "cnn", defaults=settings), FRL_VARIANTS.get("off"), 0, "smoke"
    ).resolve()
    record, _ = train_and_evaluate(spec, device="cpu", cache_dir=tmp_path)
    assert record.status == "ok"
    assert record.data_source.startswith("frlbench's exact advection-diffusion solution")
    assert float(record.env["evaluation_wall_s"]) > 0
    for m in record.metrics:
        assert len(m.rollout_rmse) == 2
        assert all(v > 0 and v == v for v in m.rollout_rmse)
