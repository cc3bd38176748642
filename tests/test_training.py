"""Training mechanics: step budget, warm-up + cosine schedule, best-checkpoint restore,
residual forecasts, per-FRL-variant settings and the learning-rate tuning procedure."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
import torch

from frlbench.data import load_dataset
from frlbench.frl import FRLObjective
from frlbench.registry import FRL_VARIANTS
from frlbench.spec import BackboneSpec, ConfigError, RunSpec, TrainSettings, resolve_task
from frlbench.tools.tune import best, format_table, parse_overrides, tune, with_frl_overrides
from frlbench.train import (
    Residual,
    build_model,
    fit,
    seed_everything,
    validation_rmse,
    warmup_cosine,
)


def _setup(task, tmp_path, backbone="cnn", **settings):
    settings = TrainSettings(**{"size": "tiny", "batch_size": 2, **settings})
    spec = RunSpec(
        task,
        BackboneSpec(backbone, backbone, defaults=settings),
        FRL_VARIANTS.get("off"),
        0,
        "smoke",
    ).resolve()
    data = load_dataset(resolve_task(task, "smoke"), cache_dir=tmp_path, progress=False)
    seed_everything(0)
    model = build_model(spec, torch.device("cpu"))
    objective = FRLObjective(spec.frl, task, data.train_resolution)
    return spec, data, model, objective, settings


def test_warmup_rises_linearly_then_cosine_decays_without_reaching_zero():
    factors = [warmup_cosine(s, 4, 20) for s in range(20)]
    assert factors[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert factors[4] == pytest.approx(1.0)
    decay = factors[4:]
    assert all(a > b for a, b in itertools.pairwise(decay))
    assert 0 < factors[-1] < 0.02
    assert warmup_cosine(10, 0, 20) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))


def test_budget_is_counted_in_steps_and_old_epochs_convert(task2d, tmp_path):
    _spec, data, model, objective, settings = _setup(task2d, tmp_path, steps=7)
    result = fit(model, data, objective, settings, torch.device("cpu"), seed=0)
    assert result.steps == 7 and len(result.step_times) == 7
    assert result.best_step == 7 and math.isnan(result.best_val_rmse)  # no validation asked
    n_train = len(data.splits["train"].inputs[data.train_resolution])
    old = TrainSettings(epochs=3, batch_size=3, steps=999)
    assert old.total_steps(n_train) == 3 * math.ceil(n_train / 3)
    assert TrainSettings(steps=5).total_steps(n_train) == 5
    with pytest.raises(ConfigError, match="steps"):
        TrainSettings(steps=0)


def test_learning_rate_follows_warmup_and_cosine(task2d, tmp_path):
    _spec, data, model, objective, settings = _setup(
        task2d, tmp_path, steps=6, warmup_steps=2, lr=0.01
    )
    seen: list[float] = []
    original = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    torch.optim.Adam.step = spy  # type: ignore[method-assign]
    try:
        fit(model, data, objective, settings, torch.device("cpu"), seed=0)
    finally:
        torch.optim.Adam.step = original  # type: ignore[method-assign]
    expected = [0.01 * warmup_cosine(s, 2, 6) for s in range(6)]
    assert seen == pytest.approx(expected)


@pytest.mark.parametrize("backbone", ["cnn", "fno"])  # fno: a state dict with non-tensors
def test_best_validation_checkpoint_is_restored(task2d, tmp_path, backbone):
    # An objective that climbs the error (gradient ascent on the MSE) makes every step worse
    # on validation too, so the best state is an early one and the model must come back to it.
    _spec, data, model, _objective, settings = _setup(
        task2d, tmp_path, backbone, steps=8, eval_every=2
    )

    def ascent(model, x, y):
        loss = -torch.nn.functional.mse_loss(model(x), y)
        return loss, {"data": loss.item()}

    result = fit(model, data, ascent, settings, torch.device("cpu"), seed=0)
    assert result.val_steps == [2, 4, 6, 8]
    best_index = min(range(4), key=lambda i: result.val_rmse[i])
    assert result.best_step == result.val_steps[best_index] < 8
    assert result.best_val_rmse == min(result.val_rmse) < result.val_rmse[-1]
    assert validation_rmse(model, data, torch.device("cpu")) == pytest.approx(
        result.best_val_rmse, rel=1e-5
    )


def test_validation_without_validation_pairs_is_a_clear_error(task2d, tmp_path):
    _spec, data, model, objective, settings = _setup(task2d, tmp_path, steps=2, eval_every=1)
    data.splits["val"] = dataclasses.replace(
        data.splits["val"],
        inputs={r: v[:0] for r, v in data.splits["val"].inputs.items()},
        targets={r: v[:0] for r, v in data.splits["val"].targets.items()},
    )
    with pytest.raises(ValueError, match="n_val"):
        fit(model, data, objective, settings, torch.device("cpu"), seed=0)


def test_residual_forecast_adds_the_input(task2d, tmp_path):
    spec, _data, model, _objective, _settings = _setup(task2d, tmp_path, residual=True)
    assert isinstance(model, Residual)
    for p in model.parameters():
        torch.nn.init.zeros_(p)
    x = torch.randn(2, 1, 8, 8)
    assert torch.equal(model(x), x)  # a zero increment is persistence
    no_residual = dataclasses.replace(spec.settings, residual=False)
    plain = build_model(dataclasses.replace(spec, settings=no_residual), torch.device("cpu"))
    assert not isinstance(plain, Residual)


def test_frl_variant_overrides_profile_settings_and_changes_the_run_id(task2d):
    baseline = BackboneSpec(
        "b",
        "cnn",
        defaults=TrainSettings(size="tiny", lr=1e-3, steps=10),
        profiles={"smoke": {"steps": 20, "frl": {"full": {"lr": 3e-3}}}},
    )
    assert baseline.settings("smoke") == TrainSettings(size="tiny", lr=1e-3, steps=20)
    assert baseline.settings("smoke", "off").lr == 1e-3
    assert baseline.settings("smoke", "full") == TrainSettings(size="tiny", lr=3e-3, steps=20)
    assert baseline.frl_overrides("smoke") == ["full"]
    off = RunSpec(task2d, baseline, FRL_VARIANTS.get("off"), 0, "smoke").resolve()
    full = RunSpec(task2d, baseline, FRL_VARIANTS.get("full"), 0, "smoke").resolve()
    assert full.settings.lr == 3e-3 and off.settings.lr == 1e-3
    assert full.fingerprint()["baseline"]["settings"]["lr"] == 3e-3
    bad = BackboneSpec("b", "cnn", profiles={"smoke": {"frl": {"full": {"lr": -1.0}}}})
    with pytest.raises(ConfigError, match=r"profiles\.smoke\.frl\.full"):
        bad.settings("smoke", "full")
    with pytest.raises(ConfigError, match=r"profiles\.smoke\.frl"):
        BackboneSpec("b", "cnn", profiles={"smoke": {"frl": {"full": 3}}}).settings("smoke")


def test_task_tables_override_settings_for_that_task_only_and_change_only_its_run_ids(task2d):
    plain = BackboneSpec("b", "cnn", defaults=TrainSettings(size="tiny", lr=1e-3, steps=10))
    profiles = {
        "smoke": {
            "steps": 20,
            "frl": {"full": {"lr": 3e-3}},
            "tasks": {
                task2d.name: {"steps": 40, "options": {"width": 4}, "frl": {"full": {"lr": 5e-3}}}
            },
        }
    }
    baseline = dataclasses.replace(plain, profiles=profiles)
    assert baseline.settings("smoke", "off", "other") == TrainSettings(
        size="tiny", lr=1e-3, steps=20
    )
    assert baseline.settings("smoke", "off", task2d.name).steps == 40
    assert baseline.settings("smoke", "full", task2d.name).lr == 5e-3
    assert baseline.settings("smoke", "full").lr == 3e-3  # no task: the profile's own
    assert baseline.profile_options("smoke", task2d.name) == {"width": 4}
    assert baseline.profile_options("smoke", "other") == {}
    assert baseline.task_overrides("smoke") == [task2d.name]
    spec = RunSpec(task2d, baseline, FRL_VARIANTS.get("full"), 0, "smoke").resolve()
    assert spec.settings.steps == 40 and spec.settings.lr == 5e-3
    assert spec.fingerprint()["baseline"]["options"] == {"width": 4}
    # A task table for another task leaves this task's run ids as they were.
    elsewhere = dataclasses.replace(
        plain, profiles={"smoke": {"steps": 20, "tasks": {"other": {"steps": 99}}}}
    )
    without = dataclasses.replace(plain, profiles={"smoke": {"steps": 20}})
    off = FRL_VARIANTS.get("off")
    assert (
        RunSpec(task2d, elsewhere, off, 0, "smoke").resolve().run_id
        == RunSpec(task2d, without, off, 0, "smoke").resolve().run_id
    )
    bad = dataclasses.replace(plain, profiles={"smoke": {"tasks": {task2d.name: {"lr": -1.0}}}})
    with pytest.raises(ConfigError, match=rf"profiles\.smoke\.tasks\.{task2d.name}"):
        bad.settings("smoke", task=task2d.name)
    with pytest.raises(ConfigError, match=r"profiles\.smoke\.tasks"):
        no_table = dataclasses.replace(plain, profiles={"smoke": {"tasks": {"x": 3}}})
        no_table.settings("smoke", task="x")


def test_tune_trains_each_rate_and_picks_the_lowest_validation_rmse(task2d, tmp_path):
    baseline = BackboneSpec("cnn", "cnn", defaults=TrainSettings(size="tiny", batch_size=2))
    rows = tune(
        task2d,
        baseline,
        "off",
        "smoke",
        [1e-3, 1e-2],
        overrides=parse_overrides(["steps=3", "eval_every=1"]),
        run_evaluation=True,
        cache_dir=tmp_path,
    )
    assert [r.lr for r in rows] == [1e-3, 1e-2]
    assert all(r.steps == 3 and r.val_rmse > 0 for r in rows)
    chosen = best(rows)
    assert chosen is not None and chosen.val_rmse == min(r.val_rmse for r in rows)
    assert set(rows[0].test_ratio) == {8, 16}
    table = format_table(rows)
    assert f"{chosen.lr:g}*" in table and "RMSE@16" in table
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_overrides(["steps"])


def test_tune_frl_overrides_change_the_variant_and_name_it(task2d, tmp_path):
    baseline = BackboneSpec("cnn", "cnn", defaults=TrainSettings(size="tiny", batch_size=2))
    rows = tune(
        task2d,
        baseline,
        "full",
        "smoke",
        [1e-3],
        overrides={"steps": 2, "eval_every": 1},
        frl_overrides={"lambda_spec": 0.01},
        cache_dir=tmp_path,
    )
    assert rows[0].frl == "full[lambda_spec=0.01]"
    assert with_frl_overrides(FRL_VARIANTS.get("full"), {"lambda_spec": 0.5}).lambda_spec == 0.5
    with pytest.raises(ConfigError, match=r"valid keys: .*lambda_cons"):
        with_frl_overrides(FRL_VARIANTS.get("full"), {"lamda_spec": 0.5})
