"""Both plugin paths register a backbone without editing frlbench: a ``*.py`` file in a
baselines directory, and an installed package exposing the ``frlbench.backbones`` entry point.
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from frlbench import catalog, registry
from frlbench.cli import app
from frlbench.models import create_backbone
from frlbench.registry import BACKBONES
from tests.conftest import make_task

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "example_plugin.py"


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch):
    """Plugins registered by a test disappear after it (and may be loaded again)."""
    for reg in (registry.BACKBONES, registry.BASELINES, registry.TASKS):
        monkeypatch.setattr(reg, "_entries", dict(reg._entries))
    monkeypatch.setattr(catalog, "_loaded_plugin_files", set(catalog._loaded_plugin_files))
    monkeypatch.setattr(catalog, "_loaded_entry_points", False)


def list_names(args: list[str]) -> str:
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_example_plugin_is_not_registered_by_default():
    assert "my_cnn" not in BACKBONES


def test_plugin_file_in_baselines_dir_is_listed_and_builds(tmp_path: Path):
    baselines, tasks = tmp_path / "baselines", tmp_path / "tasks"
    baselines.mkdir()
    tasks.mkdir()
    shutil.copy(EXAMPLE, baselines / "my_cnn.py")
    (baselines / "my_cnn.toml").write_text(
        textwrap.dedent(
            """
            backbone = "my_cnn"
            description = "a user's own CNN"

            [profiles.smoke]
            size = "tiny"
            """
        )
    )
    dirs = ["--baselines-dir", str(baselines), "--tasks-dir", str(tasks)]
    assert "my_cnn" in list_names(["list", "backbones", *dirs])
    assert "a user's own CNN" in list_names(["list", "baselines", *dirs])

    model = create_backbone("my_cnn", make_task(ndim=3, channels=2), 2, 2, size="tiny")
    x = torch.randn(1, 2, 8, 8, 8)
    assert model(x).shape == x.shape
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, 2, n, n, n\)"):
        model(torch.randn(1, 3, 8, 8, 8))


def test_entry_point_of_an_installed_package_registers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A real distribution on sys.path: a package plus a dist-info with entry_points.txt."""
    package = tmp_path / "frlbench_demo_backbones"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            """
            from torch import nn

            from frlbench.models.common import with_input_check
            from frlbench.registry import register_backbone


            @register_backbone("demo_pointwise", family="demo", sizes=("tiny",))
            def build(spec, task, in_channels, out_channels):
                conv = {2: nn.Conv2d, 3: nn.Conv3d}[task.ndim]
                net = conv(in_channels, out_channels, 1)
                return with_input_check(net, "demo_pointwise", in_channels, out_channels, task.ndim)
            """
        )
    )
    dist_info = tmp_path / "frlbench_demo_backbones-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: frlbench-demo-backbones\nVersion: 0.1\n"
    )
    (dist_info / "entry_points.txt").write_text(
        "[frlbench.backbones]\ndemo = frlbench_demo_backbones\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "frlbench_demo_backbones", raising=False)

    assert "demo_pointwise" not in BACKBONES
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    args = ["list", "backbones", "--baselines-dir", str(tmp_path), "--tasks-dir", str(tasks)]
    assert "demo_pointwise" in list_names(args)
    assert BACKBONES.entry("demo_pointwise").info.family == "demo"
    model = create_backbone("demo_pointwise", make_task(ndim=2, channels=1), 1, 1)
    assert model(torch.randn(1, 1, 8, 8)).shape == (1, 1, 8, 8)
    sys.modules.pop("frlbench_demo_backbones", None)


def test_broken_entry_point_names_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    dist_info = tmp_path / "broken_demo-0.1.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: broken-demo\nVersion: 0.1\n")
    (dist_info / "entry_points.txt").write_text(
        "[frlbench.backbones]\nbroken = frlbench_no_such_module_xyz\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(registry.PluginError, match=r"'broken'.*frlbench_no_such_module_xyz"):
        catalog.load_entry_points()
