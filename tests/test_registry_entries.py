"""Typed registry entries, the grid geometry type and the open set of symmetry groups."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from frlbench import registry
from frlbench.augment import augment_batch
from frlbench.catalog import validate_task
from frlbench.data.fluid3d import Fluid3DOptions, forecast
from frlbench.geometry import LATLON, PERIODIC, geometry
from frlbench.models.cnn import PRESETS
from frlbench.registry import BACKBONES, SYMMETRIES, TASK_BUILDERS, BackboneInfo
from frlbench.spec import ConfigError, load_task, resolve_task
from tests.conftest import make_task


def test_entries_are_typed_per_registry_kind():
    cnn = BACKBONES.entry("cnn").info
    assert isinstance(cnn, BackboneInfo) and cnn.family == "CNN" and cnn.version == "1"
    assert cnn.sizes == tuple(PRESETS) and cnn.presets is PRESETS  # sizes written once
    fluid = TASK_BUILDERS.entry("fluid3d").info
    assert fluid.options is Fluid3DOptions and fluid.solver is forecast and fluid.solver_is_truth
    assert not TASK_BUILDERS.entry("era5").info.solver_is_truth
    with pytest.raises(ValueError, match=r"presets"):
        BackboneInfo(sizes=("tiny",), presets={"tiny": 1, "small": 2})


def test_an_unknown_registration_field_names_the_valid_ones(monkeypatch):
    monkeypatch.setattr(BACKBONES, "_entries", dict(BACKBONES._entries))
    with pytest.raises(ValueError, match=r"unknown registration field 'sise'; valid: family, siz"):
        registry.register_backbone("typo_net", sise=("tiny",))(lambda *a: None)
    assert "typo_net" not in BACKBONES


def test_geometry_is_a_type_not_a_string():
    assert make_task().geometry is PERIODIC and geometry("latlon") is LATLON
    assert LATLON.grid_shape(16, 2) == (8, 16) and PERIODIC.grid_shape(8, 3) == (8, 8, 8)
    assert LATLON.periodic_axes(2) == (False, True) and LATLON.default_truth == "conservative"
    with pytest.raises(ValueError, match="valid: periodic, latlon"):
        geometry("cubed-sphere")


def test_a_plugin_symmetry_group_is_used_by_augmentation(monkeypatch):
    monkeypatch.setattr(SYMMETRIES, "_entries", dict(SYMMETRIES._entries))

    @registry.register_symmetry("negate", description="u -> -u")
    def negate(task, x, y, generator, mean=None, std=None):
        return -x, -y

    task = resolve_task(dataclasses.replace(make_task(), symmetry="negate"), "smoke")
    validate_task(task.spec)
    x = torch.ones(1, 1, 8, 8)
    assert torch.equal(augment_batch(task, x, x, torch.Generator())[0], -x)
    unknown = dataclasses.replace(make_task(), symmetry="mirror")
    with pytest.raises(ConfigError, match=r"key 'symmetry': unknown symmetry 'mirror'.*negate"):
        validate_task(unknown)


def test_builtin_tasks_resolve_with_typed_options():
    from frlbench.catalog import builtin_task_file

    task = resolve_task(load_task(builtin_task_file("fluid3d")), "smoke")
    assert isinstance(task.options, Fluid3DOptions) and task.geometry is PERIODIC


def test_a_task_builder_declares_its_geometry_and_symmetries(monkeypatch):
    fluid = TASK_BUILDERS.entry("fluid3d").info
    assert fluid.geometry is PERIODIC and fluid.symmetries == ("cube",)
    era5 = TASK_BUILDERS.entry("era5").info
    assert era5.geometry is LATLON and era5.symmetries == ("equator",)
    task = dataclasses.replace(
        make_task(ndim=3, channels=3), builder="fluid3d", grid="latlon", ndim=2
    )
    with pytest.raises(ConfigError, match=r"key 'grid': got 'latlon'; builder 'fluid3d'"):
        validate_task(task)
    monkeypatch.setattr(SYMMETRIES, "_entries", dict(SYMMETRIES._entries))
    registry.register_symmetry("negate", description="u -> -u")(lambda task, x, y, *a: (-x, -y))
    task = dataclasses.replace(make_task(ndim=2), builder="era5", grid="latlon", symmetry="negate")
    with pytest.raises(ConfigError, match=r"key 'symmetry': got 'negate'.*none, equator"):
        validate_task(task)
