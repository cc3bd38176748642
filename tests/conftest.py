"""Shared fixtures: small synthetic task specs, and skipping of GPU tests without CUDA."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from frlbench.catalog import discover_plugins
from frlbench.spec import TaskProfile, TaskSpec, resolve_task

discover_plugins()

#: The built-in ablation variants (fixed here, not read from the registry, so that a test of
#: what is registered can fail).
ABLATION_VARIANTS = (
    "off",
    "full",
    "full-sched",
    "encoding-only",
    "multires-only",
    "loss-only",
    "no-encoding",
)

#: Backbones that succeed, raise, diverge or return a wrong shape (runner and bad-input tests).
PROBES = Path(__file__).parent / "data" / "probe_backbones.py"

#: A user's task file: tiny 2D advection, smoke profile only (docs/contributing.md's example).
ADVECTION_TASK = (Path(__file__).parent / "data" / "tasks" / "advection.toml").read_text()


def real_backbones() -> list[str]:
    """Registered backbones without the test probes (family ``"test"``) that some test modules
    register on import and that fail on purpose: registry-wide tests parametrize over these,
    whatever order the modules were collected in."""
    from frlbench.registry import BACKBONES

    return [n for n in BACKBONES.list() if BACKBONES.entry(n).info.family != "test"]


#: A user's baseline file for one probe backbone (``.format(backbone=..., epochs=...)``).
PROBE_BASELINE = """
backbone = "{backbone}"
[defaults]
size = "tiny"
epochs = {epochs}
batch_size = 2
"""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def make_task(ndim: int = 2, channels: int = 1, train: int = 8, tests=(8, 16), ref: int = 16):
    """A tiny advection task spec with one 'smoke' profile."""
    return TaskSpec(
        name=f"advection{ndim}d",
        builder="advection",
        ndim=ndim,
        channels=tuple(f"c{i}" for i in range(channels)),
        profiles={
            "smoke": TaskProfile(
                train_resolution=train,
                test_resolutions=tuple(tests),
                reference_resolution=ref,
                n_train=4,
                n_val=2,
                n_test=2,
                data={"viscosity": 0.01, "dt": 0.3},
            )
        },
        description="tiny synthetic task for tests",
    )


@pytest.fixture(scope="session")
def fluid3d_smoke(tmp_path_factory: pytest.TempPathFactory):
    """``(task, dataset, cache dir)`` of the shipped fluid3d smoke profile, built once per session.

    Several modules read it; none may change the dataset object (the cache file may be
    rebuilt: its tests load from it again).
    """
    from frlbench.catalog import builtin_task_file
    from frlbench.data import load_dataset
    from frlbench.spec import load_task

    task = load_task(builtin_task_file("fluid3d"))
    cache = tmp_path_factory.mktemp("fluid3d-smoke-cache")
    return task, load_dataset(resolve_task(task, "smoke"), cache_dir=cache, progress=False), cache


@pytest.fixture
def task2d() -> TaskSpec:
    return make_task(ndim=2)


@pytest.fixture
def task3d() -> TaskSpec:
    return make_task(ndim=3, channels=3)
