"""Static input channels (sin/cos latitude on lat-lon tasks): values, wiring, validation, ids."""

from __future__ import annotations

import dataclasses
import inspect

import numpy as np
import pytest
import torch

from frlbench.data.latlon import model_latitudes
from frlbench.frl import encoding_channels
from frlbench.frl.wrap import returns_estimate, training_loss_of
from frlbench.models.static import FIELDS, StaticInputs, static_fields
from frlbench.registry import FRL_VARIANTS
from frlbench.spec import (
    BackboneSpec,
    ConfigError,
    RunSpec,
    TrainSettings,
    resolve_task,
    task_identity,
)
from frlbench.static_inputs import STATIC_INPUTS
from frlbench.train import build_model
from tests.conftest import make_task

LAT = ("sin_latitude", "cos_latitude")


def latlon(static=LAT):
    task = dataclasses.replace(make_task(ndim=2, channels=2), name="latlon", grid="latlon")
    return dataclasses.replace(task, static_inputs=static)


def spec(task, backbone="cnn", frl="off", **settings) -> RunSpec:
    defaults = TrainSettings(size="tiny", batch_size=2, **settings)
    return RunSpec(task, BackboneSpec(backbone, backbone, defaults=defaults),
                   FRL_VARIANTS.get(frl), 0, "smoke").resolve()  # fmt: skip


def test_fields_are_sin_and_cos_of_the_model_grid_latitudes():
    fields = static_fields(LAT, (4, 8))
    lat = np.deg2rad(model_latitudes(4))
    assert fields.shape == (2, 4, 8)
    np.testing.assert_allclose(fields[0, :, 3].numpy(), np.sin(lat), atol=1e-12)
    np.testing.assert_allclose(fields[1, :, 0].numpy(), np.cos(lat), atol=1e-12)
    assert torch.equal(fields[:, :, 0], fields[:, :, 5])  # constant along longitude
    assert fields[0, 0, 0] == -fields[0, -1, 0] and abs(fields[0, 0, 0]) < 1  # cell centres


@pytest.mark.parametrize("frl", ["off", "full"])
def test_models_read_the_fields_on_every_grid(frl):
    task = latlon()
    model = build_model(spec(task, frl=frl, residual=True), torch.device("cpu"))
    for res in (8, 16):
        x = torch.randn(3, 2, res // 2, res)
        assert model(x).shape == x.shape
    inner = next(m for m in model.modules() if isinstance(m, StaticInputs))
    first = next(m for m in inner.net.modules() if isinstance(m, torch.nn.Conv2d))
    assert first.in_channels == 2 + 2 + encoding_channels(FRL_VARIANTS.get(frl), task)
    # The fields change the forecast: the model is not blind to latitude.
    x = torch.zeros(1, 2, 4, 8)
    out = model(x)
    assert not torch.allclose(out[..., 0, :], out[..., -1, :])


def test_a_backbones_own_training_loss_gets_the_fields_too():
    task = latlon()
    model = build_model(spec(task, "diffusion", "full"), torch.device("cpu"))
    loss_fn = training_loss_of(model)
    assert loss_fn is not None and returns_estimate(model)
    inner = next(m for m in model.modules() if isinstance(m, StaticInputs))
    assert "return_estimate" in inspect.signature(inner.training_loss).parameters
    out = loss_fn(torch.randn(2, 2, 4, 8), torch.randn(2, 2, 4, 8))
    assert torch.isfinite(out[0] if isinstance(out, tuple) else out)


@pytest.mark.parametrize(
    ("static", "grid", "message"),
    [
        (("sin_lat",), "latlon", "'sin_lat' is not one"),
        (("sin_latitude", "sin_latitude"), "latlon", "listed twice"),
        (("cos_latitude",), "periodic", "needs a latlon grid"),
    ],
)
def test_bad_static_inputs_name_the_key_and_the_choices(static, grid, message):
    task = make_task(ndim=2)
    with pytest.raises(ConfigError, match="static_inputs") as info:
        dataclasses.replace(task, grid=grid, static_inputs=static)
    assert message in str(info.value)
    if "not one" in message:
        assert "sin_latitude, cos_latitude" in str(info.value)


def test_run_ids_change_only_for_tasks_that_list_static_inputs():
    plain = latlon(())
    assert "static_inputs" not in task_identity(resolve_task(plain, "smoke"))
    assert task_identity(resolve_task(latlon(), "smoke"))["static_inputs"] == LAT
    assert spec(plain).run_id != spec(latlon()).run_id


def test_every_static_input_name_has_a_field():
    assert set(FIELDS) == set(STATIC_INPUTS)
