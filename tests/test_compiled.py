"""Compiled steps: the runtime choice, its record field, and (slow) a compiled run's numbers."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

from frlbench.compiled import (
    COMPILE_ENV,
    COMPILED_BY_DEFAULT,
    compile_mode_from_env,
    compile_model,
    should_compile,
)
from frlbench.records import RunRecord
from tests.conftest import make_task


class Plain(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 3, padding=1, padding_mode="circular")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class OwnLoss(Plain):
    def training_loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((self(x) - y) ** 2).mean()


def test_env_mode_default_and_bad_value(monkeypatch):
    monkeypatch.delenv(COMPILE_ENV, raising=False)
    assert compile_mode_from_env() == "auto"
    monkeypatch.setenv(COMPILE_ENV, " ON ")
    assert compile_mode_from_env() == "on"
    monkeypatch.setenv(COMPILE_ENV, "yes")
    with pytest.raises(ValueError, match=rf"{COMPILE_ENV}='yes'.*on, off, auto"):
        compile_mode_from_env()


def test_choice_explicit_then_env_then_family_default(monkeypatch):
    monkeypatch.delenv(COMPILE_ENV, raising=False)
    model = Plain()
    assert should_compile("cnn", model) is ("cnn" in COMPILED_BY_DEFAULT)
    assert should_compile("cnn", model, True) is True
    monkeypatch.setenv(COMPILE_ENV, "on")
    assert should_compile("cnn", model) is True
    assert should_compile("cnn", model, False) is False
    monkeypatch.setenv(COMPILE_ENV, "off")
    assert should_compile("cnn", model) is False


def test_a_model_with_its_own_training_loss_stays_eager():
    assert should_compile("diffusion", OwnLoss(), True) is False


def test_compiled_is_recorded_and_old_records_read_as_eager():
    record = RunRecord("r", "model", "t", "b", "cnn", "tiny", "off", 0, "smoke", "ok")
    record.compiled = True
    data = record.to_dict()
    assert RunRecord.from_dict(data).compiled is True
    del data["compiled"]
    assert RunRecord.from_dict(data).compiled is False


@pytest.mark.slow
def test_compiled_forward_matches_eager_on_two_grid_sizes():
    torch.manual_seed(0)
    model = Plain()
    compiled = compile_model(model)
    for n in (8, 16, 8):
        x = torch.randn(2, 1, n, n)
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-5, atol=1e-6)
    # One shared set of parameters: the state dict stays the model's own.
    assert set(model.state_dict()) == {"conv.weight", "conv.bias"}


@pytest.mark.slow
def test_compiled_run_matches_eager_and_keeps_its_id(tmp_path):
    from frlbench.registry import FRL_VARIANTS
    from frlbench.spec import BackboneSpec, RunSpec, TrainSettings
    from frlbench.train import train_and_evaluate

    task = make_task(ndim=2, channels=1, train=8, tests=(8, 16), ref=16)
    settings = TrainSettings(size="tiny", steps=4, batch_size=2)
    baseline = BackboneSpec("cnn", "cnn", defaults=settings)
    spec = RunSpec(task, baseline, FRL_VARIANTS.get("full"), 0, "smoke").resolve()
    eager, _ = train_and_evaluate(spec, device="cpu", cache_dir=tmp_path, compile=False)
    compiled, _ = train_and_evaluate(spec, device="cpu", cache_dir=tmp_path, compile=True)
    assert (eager.compiled, compiled.compiled) == (False, True)
    assert compiled.run_id == eager.run_id
    assert compiled.history == pytest.approx(eager.history, rel=1e-4)
    for e, c in zip(eager.metrics, compiled.metrics, strict=True):
        assert math.isclose(c.rmse, e.rmse, rel_tol=1e-4)
    assert dataclasses.asdict(compiled)["settings"] == dataclasses.asdict(eager)["settings"]
