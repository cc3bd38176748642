"""docs/contributing.md's three errands, run as written: a backbone, a metric and a task added
through the public plugin route (a user's ``baselines/`` and ``tasks/``), no frlbench edit.

The commands run in subprocesses, so the example's registrations never reach the registries of
this test process (other tests enumerate them).
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ADVECTION_TASK

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "contributing.md"
BLOCK = re.compile(r"<!-- file: (?P<path>[^ ]+) -->\n```[a-z]*\n(?P<body>.*?)```", re.DOTALL)


def guide_files() -> dict[str, str]:
    """Every ``<!-- file: path -->`` block of the guide, by path."""
    return {m["path"]: m["body"] for m in BLOCK.finditer(GUIDE.read_text())}


def frlbench(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FRLBENCH_CACHE": str(cwd / "cache"), "PYTHONPATH": str(ROOT)}
    env.pop("FRLBENCH_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "frlbench.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("contrib")
    for path, body in guide_files().items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(body)
    return root


def test_the_guide_names_at_most_the_promised_files():
    files = guide_files()
    assert sorted(files) == [
        "baselines/max_error.py",
        "baselines/mini_conv.py",
        "baselines/mini_conv.toml",
        "tasks/advection.toml",
    ]
    # the task example is the test suite's own advection task, not a copy that can drift
    assert files["tasks/advection.toml"] == ADVECTION_TASK


def test_the_task_is_listed_only_with_its_tasks_dir(project: Path, tmp_path: Path):
    alone = frlbench(tmp_path, "list", "tasks")  # an empty folder: built-in tasks only
    assert alone.returncode == 0, alone.stderr
    assert "advection" not in alone.stdout and "fluid3d" in alone.stdout
    added = frlbench(project, "list", "tasks")  # ./tasks of the project
    assert added.returncode == 0, added.stderr
    assert "advection" in added.stdout


def test_backbone_metric_and_task_run_through_the_plugin_route(project: Path):
    args = ["run", "--task", "advection", "--backbone", "mini_conv", "--profile", "smoke",
            "--frl", "off", "--backend", "inprocess", "--tasks-dir", "tasks",
            "--baselines-dir", "baselines", "--no-progress",
            "--no-report", "--no-references"]  # fmt: skip
    done = frlbench(project, *args)
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = (project / "frlbench-results" / "smoke" / "runs").glob("*/record.json")
    record = json.loads(path.read_text())
    assert record["status"] == "ok" and record["backbone"] == "mini_conv"
    assert [m["resolution"] for m in record["metrics"]] == [16, 32]
    for m in record["metrics"]:
        value = m["extra"]["max_abs_error"]
        assert math.isfinite(value) and value >= m["rmse"] > 0
