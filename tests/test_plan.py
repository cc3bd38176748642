"""The resolved RunPlan: resolved once at grid expansion, read downstream, ids unchanged."""

from __future__ import annotations

import dataclasses
import math
import pickle

import pytest
import torch

from frlbench import metrics
from frlbench.evaluation.evaluate import EvalProtocol, same_settings
from frlbench.registry import FRL_VARIANTS, METRICS
from frlbench.spec import (
    BackboneSpec,
    ConfigError,
    EvalSettings,
    ResolvedTask,
    RunSpec,
    TrainSettings,
    resolve_task,
)
from tests.conftest import make_task


def _spec(**defaults) -> RunSpec:
    baseline = BackboneSpec(
        "b",
        "cnn",
        defaults=TrainSettings(size="tiny", **defaults),
        options={"width": 4},
        profiles={"smoke": {"steps": 3, "options": {"width": 6}}},
    )
    return RunSpec(make_task(), baseline, FRL_VARIANTS.get("full"), 1, "smoke")


def test_a_plan_holds_the_task_at_its_profile_and_the_resolved_settings():
    plan = _spec().resolve()
    task = plan.task
    assert isinstance(task, ResolvedTask) and task.profile == "smoke" == plan.profile
    assert (task.train_resolution, task.test_resolutions, task.reference_resolution) == (
        8,
        (8, 16),
        16,
    )
    assert (task.n_train, task.n_val, task.n_test) == (4, 2, 2)
    # Data options come typed, from the options dataclass the builder registered.
    assert type(task.options).__name__ == "AdvectionOptions" and task.options.dt == 0.3
    assert plan.settings.steps == 3 and plan.size == "tiny" and plan.options == {"width": 6}
    assert plan.evaluation.test_resolutions == (8, 16) and plan.evaluation.n_test == 2
    assert set(plan.evaluation.metrics) == set(METRICS)
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.seed = 2  # type: ignore[misc]


def test_the_run_id_hashes_the_training_part_only():
    plan = _spec().resolve()
    assert plan.run_id.startswith("advection2d-b-full-s1-")
    assert plan.run_id == _spec().resolve().run_id
    fewer_metrics = dataclasses.replace(
        plan, evaluation=dataclasses.replace(plan.evaluation, metrics=("rmse",))
    )
    assert fewer_metrics.run_id == plan.run_id
    other_tests = plan.with_sizes(test_resolutions=(8,), n_test=1, rollout_steps=0)
    assert other_tests.run_id == plan.run_id and other_tests.evaluation.test_resolutions == (8,)
    assert dataclasses.replace(plan, seed=2).run_id != plan.run_id
    assert plan.request().resolve() == plan


def test_resolving_names_the_file_and_the_missing_profile():
    with pytest.raises(ConfigError, match=r"profiles\.paper.*defined: smoke"):
        resolve_task(make_task(), "paper")
    bad = dataclasses.replace(
        make_task(),
        profiles={"smoke": dataclasses.replace(make_task().profiles["smoke"], data={"dt": -1})},
    )
    with pytest.raises(ConfigError, match=r"profiles\.smoke\.data.*dt"):
        resolve_task(bad, "smoke")


def test_the_evaluation_names_its_metrics_and_computes_only_those():
    task = resolve_task(make_task(), "smoke")
    protocol = EvalProtocol.of(task, dataclasses.replace(EvalSettings.of_task(task), metrics=()))
    assert protocol.to_dict()["metrics"] == list(METRICS)
    only_rmse = EvalProtocol.of(task, EvalSettings.of_task(task, ("rmse",)))
    assert only_rmse.to_dict()["metrics"] == ["rmse"]
    # Stored evaluations from before metric names were written still count as the same.
    stored = {k: v for k, v in protocol.to_dict().items() if k != "metrics"}
    assert same_settings(stored, only_rmse) and same_settings(protocol.to_dict(), only_rmse)
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        EvalProtocol.of(task, EvalSettings.of_task(task, ("nope",)))
    pred, truth = torch.zeros(2, 1, 8, 8), torch.ones(2, 1, 8, 8)
    m = metrics.evaluate_fields(pred, truth, task, 8, 8, names=("rmse",))
    assert m.rmse == pytest.approx(1.0) and math.isnan(m.mse_seen) and not m.extra


def test_a_plan_crosses_process_boundaries_without_its_parsed_options():
    """Workers import plugins before options are parsed again (a plugin builder's options
    class need not be importable when the plan is unpickled)."""
    plan = _spec().resolve()
    assert "options" in vars(plan.task)  # parsed (and validated) at resolution
    again = pickle.loads(pickle.dumps(plan))
    assert "options" not in vars(again.task)
    assert again == plan and again.run_id == plan.run_id
    assert again.task.options == plan.task.options


def _with_full_table(table: dict) -> RunSpec:
    spec = _spec()
    profiles = {"smoke": {**spec.baseline.profiles["smoke"], "frl": {"full": table}}}
    return dataclasses.replace(spec, baseline=dataclasses.replace(spec.baseline, profiles=profiles))


def test_a_baseline_may_set_a_variants_frl_settings_and_say_how_they_were_chosen():
    plain = _spec().resolve()
    assert plain.frl is FRL_VARIANTS.get("full") and plain.selection == "rho0"
    chosen = _with_full_table(
        {"lr": 0.01, "frl_settings": {"encoding_frequencies": 8}, "selected_by": "hop"}
    ).resolve()
    assert chosen.frl.name == "full" and chosen.frl.encoding_frequencies == 8
    assert chosen.settings.lr == 0.01 and chosen.selection == "hop"
    assert chosen.run_id != plain.run_id  # other FRL settings train other weights
    # how the settings were chosen is not part of the id
    hop_only = _with_full_table({"selected_by": "hop"}).resolve()
    assert hop_only.run_id == plain.run_id and hop_only.selection == "hop"
    # the resolved plan's request resolves to the same plan (spec.json round trip)
    assert chosen.request().resolve().run_id == chosen.run_id


@pytest.mark.parametrize(
    ("table", "needle"),
    [
        ({"frl_settings": {"encoding_frequency": 8}}, "profiles.smoke.frl.full.frl_settings"),
        ({"frl_settings": {"name": "x"}}, "other than 'name'"),
        ({"selected_by": "test"}, "profiles.smoke.frl.full.selected_by"),
    ],
)
def test_bad_frl_tables_name_their_key(table, needle):
    with pytest.raises(ConfigError, match=needle):
        _with_full_table(table).resolve()
