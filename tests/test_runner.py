"""End-to-end grid runs on a tiny synthetic task: resumption, failures, divergence, records."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from frlbench.cli import app
from frlbench.records import load_records, read_record
from tests.conftest import ADVECTION_TASK as TASK
from tests.conftest import PROBE_BASELINE, PROBES


def make_project(root: Path, backbones=("probe_conv",)) -> Path:
    (root / "tasks").mkdir(parents=True)
    (root / "baselines").mkdir()
    (root / "tasks" / "adv.toml").write_text(textwrap.dedent(TASK))
    shutil.copy(PROBES, root / "baselines" / "probe_backbones.py")
    for name in backbones:
        (root / "baselines" / f"{name}.toml").write_text(
            PROBE_BASELINE.format(epochs=2, backbone=name)
        )
    return root


def cli(project: Path, *args: str):
    """Run the CLI on the project's catalog; ``run`` uses the in-process backend (fast)."""
    env = {"FRLBENCH_CACHE": str(project / "cache")}
    common = ["--tasks-dir", str(project / "tasks"), "--baselines-dir", str(project / "baselines")]
    if args[0] == "run" and "--backend" not in args:
        common += ["--backend", "inprocess"]
    result = CliRunner().invoke(app, [*args, *common], env=env)
    return result


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "proj", ("probe_conv", "probe_raise", "probe_nan"))


def test_grid_records_ok_failed_and_diverged_and_resumes(project: Path):
    out = project / "results"
    args = ["run", "--task", "adv", "--backbone", "probe_conv,probe_raise",
            "--baseline", "probe_nan", "--profile", "smoke", "--frl", "off,full",
            "--out", str(out), "--no-progress", "--no-report"]  # fmt: skip
    result = cli(project, *args)
    assert result.exit_code == 1, result.output  # a failed run makes the exit code non-zero
    records, bad = load_records(out / "runs")
    assert not bad
    status = {(r.baseline, r.frl): r.status for r in records}
    assert status[("probe_conv", "off")] == "ok"
    assert status[("probe_conv", "full")] == "ok"
    assert status[("probe_raise", "off")] == "failed"
    assert status[("probe_nan", "off")] == "diverged"
    failed = next(r for r in records if r.status == "failed")
    assert "probe backbone failure" in failed.reason
    assert "runs that did not finish" in result.output
    refs = {r.baseline: r for r in records if r.kind == "reference"}
    assert refs["solver"].status == refs["persistence"].status == "ok"

    ok = next(r for r in records if r.baseline == "probe_conv" and r.frl == "off")
    assert [m.resolution for m in ok.metrics] == [16, 32]
    assert ok.metric(16).rmse_ratio == pytest.approx(1.0)
    fine = ok.metric(32)
    assert fine.mse_seen + fine.mse_unseen == pytest.approx(fine.rmse**2, rel=1e-9)
    assert fine.mse_unseen > 0
    assert ok.params > 0 and ok.steps == 4 and ok.time_per_step_s > 0
    assert ok.peak_memory_mb > 0 and ok.env["torch"].startswith("2.13")
    assert (out / "runs" / ok.run_id / "weights.pt").exists()

    # Second call: finished runs (ok, diverged) are skipped; failed ones are retried.
    mtime = (out / "runs" / ok.run_id / "record.json").stat().st_mtime_ns
    result = cli(project, *args)
    assert "4 already finished" in result.output, result.output
    assert (out / "runs" / ok.run_id / "record.json").stat().st_mtime_ns == mtime


def test_corrupted_record_is_reported_and_rerun(project: Path):
    out = project / "results"
    args = ["run", "--task", "adv", "--backbone", "probe_conv", "--profile", "smoke",
            "--frl", "off", "--out", str(out), "--no-progress", "--no-report",
            "--no-references"]  # fmt: skip
    assert cli(project, *args).exit_code == 0
    (record,) = list((out / "runs").glob("*/record.json"))
    record.write_text(record.read_text()[:50])  # truncated, as by a disk failure
    result = cli(project, *args)
    assert result.exit_code == 0, result.output
    assert "1 corrupt records redone" in result.output
    assert read_record(record).status == "ok"
    assert list(record.parent.glob("record.json.corrupt-*"))


def test_unknown_names_fail_before_any_work(project: Path):
    out = project / "results"
    result = cli(project, "run", "--backbone", "probe_cnv", "--out", str(out), "--profile", "smoke")
    assert result.exit_code == 2
    assert "Did you mean 'probe_conv'" in result.output
    result = cli(project, "run", "--all", "--frl", "fulll", "--out", str(out))
    assert "Did you mean 'full'" in result.output
    result = cli(project, "run", "--all", "--profile", "quik", "--out", str(out))
    assert "Did you mean 'quick'" in result.output
    assert not out.exists()


def test_eval_reevaluates_stored_weights_at_new_resolutions(project: Path):
    task = project / "tasks" / "adv.toml"
    task.write_text(
        task.read_text().replace("reference_resolution = 32", "reference_resolution = 64")
    )
    out = project / "results"
    args = ["run", "--task", "adv", "--backbone", "probe_conv", "--profile", "smoke",
            "--frl", "off", "--out", str(out), "--no-progress", "--no-report",
            "--no-references"]  # fmt: skip
    assert cli(project, *args).exit_code == 0
    (path,) = list((out / "runs").glob("*/record.json"))
    before = read_record(path)
    result = cli(project, "eval", "--out", str(out), "--resolutions", "16,32,64", "--no-report")
    assert result.exit_code == 0, result.output
    after = read_record(path)
    assert [m.resolution for m in after.metrics] == [16, 32, 64]
    # Same weights, same data at the training resolution: the same numbers.
    assert after.metric(16).rmse == pytest.approx(before.metric(16).rmse, rel=1e-6)


def test_rollout_longer_than_the_data_fails_before_any_run(project: Path):
    task = project / "tasks" / "adv.toml"
    task.write_text(task.read_text().replace("n_test = 2", "n_test = 2\nrollout_steps = 2"))
    out = project / "results"
    args = ["run", "--task", "adv", "--backbone", "probe_conv", "--profile", "smoke",
            "--frl", "off", "--out", str(out), "--no-progress"]  # fmt: skip
    result = cli(project, *args)
    assert result.exit_code == 2, result.output
    assert "profiles.smoke.rollout_steps = 2" in result.output
    assert "valid: 0 to 1" in result.output
    assert "Traceback" not in result.output
    assert not list(out.glob("runs/*/record.json"))


def test_eval_adds_a_rollout_to_stored_runs(project: Path):
    task = project / "tasks" / "adv.toml"
    task.write_text(task.read_text().replace("dt = 0.3", "dt = 0.3\npairs_per_trajectory = 3"))
    out = project / "results"
    args = ["run", "--task", "adv", "--backbone", "probe_conv", "--profile", "smoke",
            "--frl", "off", "--out", str(out), "--no-progress", "--no-report",
            "--no-references"]  # fmt: skip
    assert cli(project, *args).exit_code == 0
    (path,) = list((out / "runs").glob("*/record.json"))
    assert all(m.rollout_rmse == [] for m in read_record(path).metrics)
    result = cli(project, "eval", "--out", str(out), "--rollout-steps", "3", "--no-report")
    assert result.exit_code == 0, result.output
    after = read_record(path)
    assert [len(m.rollout_rmse) for m in after.metrics] == [3, 3]
    result = cli(project, "eval", "--out", str(out), "--rollout-steps", "4", "--no-report")
    assert result.exit_code == 2 and "valid: 0 to 3" in result.output


@pytest.mark.slow
@pytest.mark.ci
def test_sigkill_mid_grid_then_resume_matches_uninterrupted(tmp_path: Path):
    project = make_project(tmp_path / "proj")
    out = project / "results"
    env = {**os.environ, "FRLBENCH_CACHE": str(project / "cache")}
    cmd = [sys.executable, "-m", "frlbench.cli", "run", "--task", "adv", "--backbone",
           "probe_conv", "--profile", "smoke", "--backend", "local",
           "--frl", "off", "--frl", "full", "--seeds", "0,1,2", "--out", str(out),
           "--no-progress", "--no-report", "--no-references", "--tasks-dir", str(project / "tasks"),
           "--baselines-dir", str(project / "baselines")]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 240
    while not list(out.glob("runs/*/record.json")):
        assert proc.poll() is None, "runner ended before the first record"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the runner and its workers, mid-grid
    proc.wait()
    first = {p.parent.name: p.stat().st_mtime_ns for p in out.glob("runs/*/record.json")}
    for path in out.glob("runs/*/record.json"):
        json.loads(path.read_text())  # no partial record
    assert 1 <= len(first) < 6

    subprocess.run(cmd, env=env, check=True, capture_output=True)
    records, bad = load_records(out / "runs")
    assert not bad and len(records) == 6 and all(r.status == "ok" for r in records)
    for run_id, mtime in first.items():
        assert (out / "runs" / run_id / "record.json").stat().st_mtime_ns == mtime

    clean = project / "clean"
    cmd_clean = [*cmd]
    cmd_clean[cmd_clean.index(str(out))] = str(clean)
    subprocess.run(cmd_clean, env=env, check=True, capture_output=True)
    assert {r.run_id for r in load_records(clean / "runs")[0]} == {r.run_id for r in records}


@pytest.mark.slow
def test_sigterm_to_the_runner_stops_its_workers_and_says_one_line(tmp_path: Path):
    """``kill <pid>`` of a running grid: the runner stops its workers before it exits (no
    worker finishes a run afterwards), prints the interrupt line, no traceback; a rerun resumes."""
    project = make_project(tmp_path / "proj")
    out = project / "results"
    env = {**os.environ, "FRLBENCH_CACHE": str(project / "cache")}
    cmd = [sys.executable, "-m", "frlbench.cli", "run", "--task", "adv", "--backbone",
           "probe_conv", "--profile", "smoke", "--backend", "local", "--jobs", "2",
           "--frl", "off", "--seeds", "0,1,2,3", "--out", str(out), "--no-progress",
           "--no-report", "--no-references", "--tasks-dir", str(project / "tasks"),
           "--baselines-dir", str(project / "baselines")]  # fmt: skip
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 240
    while not list(out.glob("runs/*/spec.json")):
        assert proc.poll() is None, "runner ended before the first run started"
        assert time.monotonic() < deadline
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)  # the runner only, not its process group
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stdout + stderr
    after_exit = sorted(p.parent.name for p in out.glob("runs/*/record.json"))
    time.sleep(3)  # a worker left running would write its record now
    assert sorted(p.parent.name for p in out.glob("runs/*/record.json")) == after_exit
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    records, bad = load_records(out / "runs")
    assert not bad and len(records) == 4 and all(r.status == "ok" for r in records)


def test_changing_only_evaluation_settings_reevaluates_without_retraining(project: Path):
    """Rollout steps and test resolutions are not part of the run id: `run` re-evaluates the
    stored weights (weights untouched), and the old evaluation is kept in the history."""
    task = project / "tasks" / "adv.toml"
    task.write_text(
        task.read_text()
        .replace("dt = 0.3", "dt = 0.3\npairs_per_trajectory = 3")
        .replace("test_resolutions = [16, 32]", "test_resolutions = [16]")
    )
    out = project / "results"
    args = ["run", "--task", "adv", "--backbone", "probe_conv", "--profile", "smoke",
            "--frl", "off", "--out", str(out), "--no-progress", "--no-report"]  # fmt: skip
    assert cli(project, *args).exit_code == 0
    (path,) = [p for p in (out / "runs").glob("adv-probe_conv-*/record.json")]
    weights = path.parent / "weights.pt"
    mtime = weights.stat().st_mtime_ns
    before = read_record(path)
    assert before.evaluation["rollout_steps"] == 0 and [m.resolution for m in before.metrics] == [
        16
    ]

    task.write_text(
        task.read_text()
        .replace("n_test = 2", "n_test = 2\nrollout_steps = 2")
        .replace("test_resolutions = [16]", "test_resolutions = [16, 32]")
    )
    result = cli(project, *args)
    assert result.exit_code == 0, result.output
    assert "1 already finished" in result.output and "1 re-evaluated" in result.output
    after = read_record(path)  # same run id: same directory
    assert weights.stat().st_mtime_ns == mtime  # not retrained
    assert after.history == before.history and after.steps == before.steps
    assert after.evaluation["rollout_steps"] == 2
    assert [m.resolution for m in after.metrics] == [16, 32]
    assert [len(m.rollout_rmse) for m in after.metrics] == [2, 2]
    assert after.metric(16).rmse == pytest.approx(before.metric(16).rmse, rel=1e-6)
    (old,) = after.evaluation_history
    assert old["evaluation"] == before.evaluation
    assert old["metrics"][0]["rmse"] == before.metric(16).rmse
    # The references follow the new protocol too (the solver is not scored at its own grid).
    refs = {r.baseline: r for r in load_records(out / "runs")[0] if r.kind == "reference"}
    assert [m.resolution for m in refs["persistence"].metrics] == [16, 32]
    assert [m.resolution for m in refs["solver"].metrics] == [16]
    assert len(refs["persistence"].evaluation_history) == 1

    # `frlbench eval` replaces the evaluation again and keeps both earlier ones.
    result = cli(project, "eval", "--out", str(out), "--rollout-steps", "1", "--no-report")
    assert result.exit_code == 0, result.output
    final = read_record(path)
    assert final.evaluation["rollout_steps"] == 1 and len(final.evaluation_history) == 2
    assert weights.stat().st_mtime_ns == mtime


def test_a_schema_1_store_is_refused_until_migrate_adopts_its_runs(project: Path):
    from frlbench.catalog import Catalog
    from frlbench.runner import RunStore, expand_grid
    from frlbench.runner.migrate import legacy_run_id

    out = project / "results"
    args = ["run", "--task", "adv", "--backbone", "probe_conv", "--profile", "smoke",
            "--frl", "off", "--out", str(out), "--no-progress", "--no-report",
            "--no-references"]  # fmt: skip
    assert cli(project, *args).exit_code == 0
    Catalog(project / "tasks", project / "baselines").load()
    (spec,) = expand_grid(profile="smoke", tasks=["adv"], baselines=["probe_conv"], frl=["off"])
    store = RunStore(out)
    # Make it look like a record of the previous version: schema 1 under the legacy id.
    old_id = legacy_run_id(spec)
    assert old_id != spec.run_id
    legacy = store.run_dir(old_id)
    store.run_dir(spec.run_id).rename(legacy)
    (legacy / "spec.json").unlink()
    data = json.loads((legacy / "record.json").read_text())
    for key in ("reference_resolution", "evaluation", "evaluation_history"):
        data.pop(key)
    data.update(schema=1, run_id=old_id)
    for m in data["metrics"]:
        for key in ("rmse_per_trajectory", "per_variable", "extra"):
            m.pop(key)
    (legacy / "record.json").write_text(json.dumps(data))
    mtime = (legacy / "weights.pt").stat().st_mtime_ns

    # run, eval and report refuse the store with one line naming it and the command.
    for command in (args, ["eval", "--out", str(out), "--no-report"]):
        result = cli(project, *command)
        assert result.exit_code == 2, result.output
        assert f"frlbench migrate --out {out}" in result.output and old_id in result.output
    result = CliRunner().invoke(app, ["report", "--out", str(out)])
    assert result.exit_code == 2 and "record schema 1" in result.output
    assert legacy.exists() and not store.run_dir(spec.run_id).exists()  # nothing was touched

    result = cli(project, "migrate", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"adopted: {old_id} -> {spec.run_id}" in result.output
    record = store.read(spec.run_id)
    assert record.schema == 2 and record.run_id == spec.run_id
    assert record.env["legacy_run_id"] == old_id and not legacy.exists()
    assert record.evaluation  # the settings the schema-1 id hashed
    assert store.spec_path(spec.run_id).exists()
    assert store.weights_path(spec.run_id).stat().st_mtime_ns == mtime

    result = cli(project, *args)  # a schema-2 store: finished, nothing retrained
    assert result.exit_code == 0, result.output
    assert "1 already finished" in result.output and "0 re-evaluated" in result.output
    assert store.weights_path(spec.run_id).stat().st_mtime_ns == mtime
    again = cli(project, "migrate", "--out", str(out))
    assert again.exit_code == 0 and "0 run(s) adopted, 0 left" in again.output


def test_migrate_leaves_a_schema_1_run_no_current_spec_matches(project: Path):
    out = project / "results"
    folder = out / "runs" / "adv-gone-off-s0-0123456789"
    folder.mkdir(parents=True)
    record = {"schema": 1, "run_id": folder.name, "kind": "model", "task": "adv",
              "baseline": "gone", "frl": "off", "seed": 0, "profile": "smoke"}  # fmt: skip
    (folder / "record.json").write_text(json.dumps(record))
    result = cli(project, "migrate", "--out", str(out))
    assert result.exit_code == 1
    assert "not adopted" in result.output and folder.name in result.output
    assert (folder / "record.json").exists()
    refused = cli(project, "eval", "--out", str(out))
    assert refused.exit_code == 2 and "frlbench migrate" in refused.output
