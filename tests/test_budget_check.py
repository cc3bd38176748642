"""The longer-budget check (``frlbench tune --budget-check``)."""

from __future__ import annotations

import dataclasses
import json

from typer.testing import CliRunner

from frlbench.cli import app
from frlbench.runner.budget_check import candidates, check
from frlbench.runner.store import RunStore
from frlbench.safeio import write_atomic


def test_runs_keeping_their_last_step_are_retrained_longer(tmp_path):
    out, cache = tmp_path / "results", tmp_path / "cache"
    args = ["run", "--task", "era5", "--backbone", "cnn", "--frl", "off", "--profile", "smoke",
            "--seeds", "0", "--out", str(out), "--cache-dir", str(cache), "--no-progress",
            "--no-report", "--no-references"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    store = RunStore(out)
    (path,) = store.runs_dir.glob("*/record.json")
    record = store.read(path.parent.name)
    # make the kept state the last step, as the check looks for
    data = json.loads(path.read_text())
    data["best_step"] = data["steps"]
    write_atomic(path, json.dumps(data))
    (found, plan), *rest = candidates(store)
    assert not rest and found.run_id == record.run_id
    result = check(found, plan, cache_dir=cache)
    assert result.longer_steps == 6 and result.steps == 4  # smoke: 4 steps, 1.5x
    assert result.raise_budget == (result.longer_val_rmse < record.val_rmse)
    # a run whose best state is earlier is not a candidate
    data["best_step"] = 2
    write_atomic(path, json.dumps(data))
    assert candidates(store) == []
    assert dataclasses.asdict(result)["run_id"] == record.run_id
